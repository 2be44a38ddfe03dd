//! A connector built against the released `helpdesk:connector@0.1.0`, as a
//! third party's plugin of that time would be. Its directory is one address
//! book of `contacts` people (a setting), made up from their number; a
//! full sync lists them all (and one skipped contact), an incremental one
//! after it removes the first, renames the second and fails on a third.
//! Every host import and every change variant of 0.1.0 goes through.

wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "helpdesk:connector/connector", generate_all });
include!("../../stubs.rs");

use helpdesk::connector::host;

connector_with_check!(ContactsV01, check, run, folders);

const BOOK: &str = "book";

fn check(_: Config) -> Result<ServerInfo, ConnectorError> {
    Ok(ServerInfo { product: "a 0.1.0 connector".into(), version: "0.1.0".into(), endpoint: String::new() })
}

/// The user of person `n` at `version` ("1" as listed first, "2" after the
/// incremental change); `department` when the host has that custom field.
fn person(n: usize, version: u32, department: bool) -> Upsert {
    let lastname = if version == 1 { format!("Number {n}") } else { format!("Renamed {n}") };
    let extra = if department { vec![Attribute { key: "department".into(), value: format!("Team {}", n % 3) }] } else { Vec::new() };
    Upsert {
        external_id: format!("person-{n}"),
        version: format!("v{version}"),
        user: User {
            login: format!("person{n}@example.org"),
            email: Some(format!("person{n}@example.org")),
            firstname: "Person".into(),
            lastname,
            phone: format!("+49 30 {n:04}"),
            extra,
        },
    }
}

fn folders(config: Config) -> Result<Vec<Folder>, ConnectorError> {
    Ok(vec![Folder { id: BOOK.into(), path: "Address Book".into(), item_count: count(&config) as u64 }])
}

fn count(config: &Config) -> usize {
    config.iter().find(|v| v.key == "contacts").and_then(|v| v.value.parse().ok()).unwrap_or(3)
}

fn run(config: Config, request: SyncRequest) -> Result<SyncReport, ConnectorError> {
    let count = count(&config);
    let department = host::user_fields().iter().any(|f| f.custom && f.name == "department");
    let since = request.checkpoints.iter().find(|c| c.folder_id == BOOK).map(|c| c.state.clone());
    let batch = match (request.mode, since.as_deref()) {
        (SyncMode::Incremental, Some("state-1")) => Batch {
            folder_id: BOOK.into(),
            folder_path: "Address Book".into(),
            changes: vec![
                Change::Remove("person-0".into()),
                Change::Upsert(person(1, 2, department)),
                Change::Failed(NotApplied { external_id: "unreadable".into(), reason: "could not be read".into() }),
            ],
            checkpoint: Some("state-2".into()),
            listing_complete: false,
        },
        _ => {
            let ids: Vec<String> = (0..count).map(|n| format!("person-{n}")).collect();
            let stored = host::stored_versions(BOOK, &ids);
            let mut changes: Vec<Change> = (0..count)
                .map(|n| match stored[n].as_deref() {
                    Some("v1") => Change::Unchanged(ids[n].clone()),
                    _ => Change::Upsert(person(n, 1, department)),
                })
                .collect();
            changes.push(Change::Skipped(NotApplied { external_id: "no-email".into(), reason: "no email address".into() }));
            Batch { folder_id: BOOK.into(), folder_path: "Address Book".into(), changes, checkpoint: Some("state-1".into()), listing_complete: true }
        }
    };
    host::log(host::LogLevel::Info, &format!("{} changes for the address book", batch.changes.len()));
    host::progress(BOOK, count as u64, count as u64);
    host::apply_batch(&batch).map_err(|message| ConnectorError { kind: ErrorKind::Host, message })?;
    Ok(SyncReport { folders: 1, contacts: count as u64, batches: 1 })
}
