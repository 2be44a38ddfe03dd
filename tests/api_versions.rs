//! The released API stays loadable: a connector built against
//! `helpdesk:connector@0.1.0` (tests/components/contacts-v0-1) checks,
//! lists its folder and syncs its contacts through today's host, which
//! works with 0.2.0's types.

use helpdesk_host::cli::emulator_config;
use helpdesk_host::emulator::{Emulator, EmulatorOptions};
use helpdesk_host::runs::{Connection, SOURCE};
use helpdesk_host::runtime::types::SyncMode;
use helpdesk_host::runtime::{Limits, Runtime};
use helpdesk_host::store::Store;

const CONTACTS_V0_1: &[u8] = include_bytes!(env!("CONTACTS_V0_1_WASM"));
const PEOPLE: usize = 25;

/// What the component says person `n` is (see its source).
fn expected(n: usize, renamed: bool) -> (String, Option<String>, String, String, String, serde_json::Value) {
    let email = format!("person{n}@example.org");
    let lastname = if renamed { format!("Renamed {n}") } else { format!("Number {n}") };
    let extra = serde_json::json!({ "department": format!("Team {}", n % 3) });
    (email.clone(), Some(email), "Person".into(), lastname, format!("+49 30 {n:04}"), extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_of_api_0_1_0_syncs_through_todays_host() {
    let runtime = Runtime::load(CONTACTS_V0_1, None, Limits::default()).unwrap();
    // The component makes no requests; the emulator only gives it a
    // configuration to run with.
    let emulator = Emulator::start(EmulatorOptions { contacts: 1, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v0_1.db");
    let mut connection = Connection::from_config(&emulator_config(&emulator, &db)).unwrap();
    connection.set("contacts", &PEOPLE.to_string());
    let store = Store::open(&db).unwrap();
    store.declare_field("department", "Department").unwrap();

    assert_eq!(connection.check(&runtime).await.unwrap().product, "a 0.1.0 connector");
    let folders = connection.folders(&runtime).await.unwrap();
    assert_eq!(folders.len(), 1);
    assert_eq!((folders[0].id.as_str(), folders[0].path.as_str()), ("book", "Address Book"));
    assert_eq!(folders[0].excluded, None, "0.1.0 listed the address books a sync reads");

    let summary = connection.sync(&runtime, &store, SyncMode::Full, false).await.unwrap();
    let c = &summary.counts;
    assert_eq!((c.created, c.skipped, c.failed, c.updated, c.deactivated), (PEOPLE as u64, 1, 0, 0, 0), "{summary:?}");
    let users = store.users().unwrap();
    // After the incremental run person 0 is deactivated and person 1 renamed.
    let compare = |users: &[helpdesk_host::store::UserRow], after_incremental: bool| {
        let mut seen = 0;
        for user in users {
            let n: usize = user.external_id.as_deref().unwrap().strip_prefix("person-").unwrap().parse().unwrap();
            let (login, email, firstname, lastname, phone, extra) = expected(n, after_incremental && n == 1);
            assert_eq!(
                (&user.login, &user.email, &user.firstname, &user.lastname, &user.phone, &user.extra),
                (&login, &email, &firstname, &lastname, &phone, &extra),
                "person-{n}"
            );
            assert_eq!((user.source.as_str(), user.folder_id.as_deref()), (SOURCE, Some("book")));
            assert_eq!(user.active, !(after_incremental && n == 0), "person-{n}");
            seen += 1;
        }
        assert_eq!(seen, PEOPLE);
    };
    compare(&users, false);
    let ids: Vec<String> = (0..PEOPLE).map(|n| format!("person-{n}")).collect();
    assert!(store.stored_versions(SOURCE, "book", &ids).unwrap().iter().all(|v| v.as_deref() == Some("v1")));
    assert_eq!(store.checkpoints(SOURCE).unwrap(), [("book".to_string(), "state-1".to_string())]);

    // Incremental: the first person is gone, the second renamed, a third
    // contact unreadable.
    let summary = connection.sync(&runtime, &store, SyncMode::Incremental, false).await.unwrap();
    let c = &summary.counts;
    assert_eq!((c.deactivated, c.updated, c.failed, c.created), (1, 1, 1, 0), "{summary:?}");
    compare(&store.users().unwrap(), true);
    let stored: (String, String) = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT folder_id, state FROM checkpoints WHERE source = ?1", [SOURCE], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap();
    assert_eq!(stored, ("book".to_string(), "state-2".to_string()));
    // The failed contact is read again: the next run lists the folder.
    assert_eq!(store.checkpoints(SOURCE).unwrap(), []);
}
