//! Microsoft 365 over Graph, against the emulator's Graph side, which
//! serves the same people as its EWS side.

use helpdesk_e2e::assert_users_match;
use helpdesk_host::cli::{Mode, emulator_config_for};
use helpdesk_host::emulator::{Emulator, EmulatorOptions};
use helpdesk_host::runs::{Connection, RunError};
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;
use helpdesk_host::store::Store;
use helpdesk_host::summary::Summary;
use std::path::Path;

struct Side {
    store: Store,
    connection: Connection,
}

fn side(emulator: &Emulator, dir: &Path, mode: Mode) -> Side {
    let db = dir.join(format!("{mode:?}.db"));
    Side { store: Store::open(&db).unwrap(), connection: Connection::from_config(&emulator_config_for(emulator, &db, mode)).unwrap() }
}

async fn sync(side: &Side, mode: SyncMode) -> Result<Summary, RunError> {
    side.connection.sync(&Runtime::shared().unwrap(), &side.store, mode, false).await
}

/// What both modes must agree on, user by user.
fn users(store: &Store) -> Vec<(Option<String>, String, Option<String>, String, String, String, bool)> {
    let mut users: Vec<_> = store
        .users()
        .unwrap()
        .into_iter()
        .map(|u| (u.external_id, u.login, u.email, u.firstname, u.lastname, u.phone, u.active))
        .collect();
    users.sort();
    users
}

async fn emulator(options: EmulatorOptions) -> Emulator {
    Emulator::start(options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_and_ews_give_the_same_counts_and_the_same_users() {
    let emulator = emulator(EmulatorOptions { contacts: 800, seed: 41, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let (ews, graph) = (side(&emulator, dir.path(), Mode::Ews), side(&emulator, dir.path(), Mode::Graph));
    let (e, g) = (sync(&ews, SyncMode::Full).await.unwrap(), sync(&graph, SyncMode::Full).await.unwrap());
    assert_eq!(e.counts, g.counts);
    assert_eq!(e.counts.created + e.counts.skipped, 800);
    assert_eq!(users(&ews.store), users(&graph.store));
    assert_users_match(&graph.store, &emulator.mailbox());
    // The shared mailbox (its account disabled, as Microsoft 365 makes
    // them) is synced; the user without a mailbox is one warning.
    let shared = helpdesk_host::emulator::graph::PUBLIC_MAILBOX;
    assert!(g.folders.iter().any(|f| f.path.starts_with(shared) && f.counts.created > 0), "{:?}", g.folders);
    let mailboxless = helpdesk_host::emulator::graph::MAILBOXLESS_USER;
    let warned: Vec<&String> = g.warnings.iter().filter(|w| w.contains(mailboxless)).collect();
    assert_eq!(warned.len(), 1, "{:?}", g.warnings);
    assert!(warned[0].contains("no mailbox") && warned[0].contains("MailboxNotEnabledForRESTAPI"), "{}", warned[0]);

    emulator.mailbox_mut().scripted_change(10);
    let (e, g) = (sync(&ews, SyncMode::Incremental).await.unwrap(), sync(&graph, SyncMode::Incremental).await.unwrap());
    assert_eq!(e.counts, g.counts);
    assert_eq!((g.counts.created, g.counts.updated, g.counts.deactivated), (10, 10, 10));
    assert_eq!(users(&ews.store), users(&graph.store));
    assert_users_match(&graph.store, &emulator.mailbox());
    // The board's mailbox folder denies access: a warning, as over EWS.
    assert!(g.warnings.iter().any(|w| w.contains("Board") && w.contains("ErrorAccessDenied")), "{:?}", g.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_mid_sync_is_renewed_and_the_sync_goes_on() {
    let emulator = emulator(EmulatorOptions { contacts: 300, seed: 42, expire_every: Some(4), ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let graph = side(&emulator, dir.path(), Mode::Graph);
    let summary = sync(&graph, SyncMode::Full).await.unwrap();
    assert_eq!(summary.counts.created + summary.counts.skipped, 300);
    assert!(emulator.stats().operations()["Graph token"] > 1, "a new token was fetched");
    assert_users_match(&graph.store, &emulator.mailbox());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_an_authentication_error_and_writes_nothing() {
    let emulator = emulator(EmulatorOptions { contacts: 30, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wrong.db");
    let mut config = emulator_config_for(&emulator, &db, Mode::Graph);
    config.exchange.client_secret = Some("not-the-secret".into());
    let store = Store::open(&db).unwrap();
    let error = Connection::from_config(&config)
        .unwrap()
        .sync(&Runtime::shared().unwrap(), &store, SyncMode::Full, false)
        .await
        .unwrap_err();
    assert_eq!(error.kind, "authentication", "{error}");
    assert!(error.message.contains("client secret") && error.message.contains("AADSTS7000215"), "{error}");
    assert!(!error.message.contains("not-the-secret"));
    assert_eq!(store.user_count().unwrap(), 0);
    assert!(!emulator.stats().operations().contains_key("Graph GET"));

    config.exchange.client_secret = Some(helpdesk_host::emulator::graph::CLIENT_SECRET.into());
    config.exchange.tenant_id = Some("00000000-0000-0000-0000-000000000000".into());
    let error = Connection::from_config(&config).unwrap().check(&Runtime::shared().unwrap()).await.unwrap_err();
    assert_eq!(error.kind, "configuration", "{error}");
    assert!(error.message.contains("there is no tenant"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_delta_token_resyncs_that_folder_only() {
    let emulator = emulator(EmulatorOptions { contacts: 400, seed: 43, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let graph = side(&emulator, dir.path(), Mode::Graph);
    sync(&graph, SyncMode::Full).await.unwrap();
    let (stale, name) = {
        let mailbox = emulator.mailbox();
        let folder = mailbox.subfolders(&mailbox.distinguished("contacts").unwrap().id, false).into_iter().find(|f| !f.hidden).unwrap();
        (folder.id.clone(), folder.name.clone())
    };
    graph
        .store
        .lock()
        .execute(
            "UPDATE checkpoints SET state = substr(state, 1, instr(state, '$deltatoken=') + 11) || 'bogus' WHERE folder_id = ?1",
            [&stale],
        )
        .unwrap();
    emulator.mailbox_mut().scripted_change(3);
    let summary = sync(&graph, SyncMode::Incremental).await.unwrap();
    assert_eq!((summary.counts.created, summary.counts.updated, summary.counts.deactivated), (3, 3, 3));
    assert!(summary.warnings.iter().any(|w| w.contains(&name) && w.contains("Badly formed token")), "{:?}", summary.warnings);
    let mailbox = emulator.mailbox();
    for folder in &summary.folders {
        let relisted = folder.counts.unchanged + folder.counts.skipped;
        if folder.id == stale {
            let in_folder = mailbox.contacts.iter().filter(|c| c.folder_id == stale).count() as u64;
            assert_eq!(relisted, in_folder, "{}", folder.path);
        } else {
            assert_eq!(relisted, 0, "{} was not listed again", folder.path);
        }
    }
    drop(mailbox);
    assert_users_match(&graph.store, &emulator.mailbox());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_with_retry_after_is_waited_out() {
    let emulator = emulator(EmulatorOptions { contacts: 200, seed: 44, throttle_every: Some(5), ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let graph = side(&emulator, dir.path(), Mode::Graph);
    let summary = sync(&graph, SyncMode::Full).await.unwrap();
    assert!(emulator.stats().operations().get("Graph throttled").copied().unwrap_or(0) > 0);
    assert_eq!(summary.counts.created + summary.counts.skipped, 200);
    assert_users_match(&graph.store, &emulator.mailbox());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_refresh_token_is_rotated_and_kept_for_the_next_run() {
    let emulator = emulator(EmulatorOptions { contacts: 60, seed: 45, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("delegated.db");
    let mut config = emulator_config_for(&emulator, &db, Mode::Graph);
    let original = emulator.grant_refresh_token();
    config.exchange.client_secret = None;
    config.exchange.refresh_token = Some(original.clone());
    let store = Store::open(&db).unwrap();
    let runtime = Runtime::shared().unwrap();
    let first = Connection::from_config(&config).unwrap().sync(&runtime, &store, SyncMode::Full, false).await.unwrap();
    assert_eq!(first.counts.created + first.counts.skipped, 60);
    let saved = helpdesk_host::secrets::load(&db).unwrap();
    assert_ne!(saved["refresh_token"], original, "the rotated token is kept");
    // The original was used up: only the kept one lets the next run in.
    let second = Connection::from_config(&config).unwrap().sync(&runtime, &store, SyncMode::Incremental, false).await.unwrap();
    assert_eq!(second.counts.created, 0);
    let bytes = std::fs::read(&db).unwrap();
    assert!(!bytes.windows(original.len()).any(|w| w == original.as_bytes()), "no token in the database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_mailboxes_only() {
    let emulator = emulator(EmulatorOptions { contacts: 200, seed: 46, ..Default::default() }).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("one.db");
    let mut config = emulator_config_for(&emulator, &db, Mode::Graph);
    config.exchange.mailboxes = vec![helpdesk_host::emulator::DEFAULT_USER.to_string()];
    let connection = Connection::from_config(&config).unwrap();
    let runtime = Runtime::shared().unwrap();
    let folders = connection.folders(&runtime).await.unwrap();
    assert!(!folders.is_empty());
    assert!(folders.iter().all(|f| f.path.starts_with("svc-helpdesk@example.com -> Contacts")), "{:?}", folders.iter().map(|f| &f.path).collect::<Vec<_>>());
    let store = Store::open(&db).unwrap();
    let summary = connection.sync(&runtime, &store, SyncMode::Full, false).await.unwrap();
    let mailbox = emulator.mailbox();
    let books: Vec<String> = helpdesk_e2e::address_books(&mailbox).iter().filter(|f| !f.public).map(|f| f.id.clone()).collect();
    let in_mailbox = mailbox.contacts.iter().filter(|c| c.kind == "Contact" && books.contains(&c.folder_id)).count() as u64;
    assert_eq!(summary.counts.created + summary.counts.skipped, in_mailbox);
    drop(mailbox);
    // check probes the named mailboxes, not the directory.
    connection.check(&runtime).await.unwrap();
    let mut config = emulator_config_for(&emulator, &db, Mode::Graph);
    config.exchange.mailboxes = vec![helpdesk_host::emulator::graph::MAILBOXLESS_USER.to_string()];
    let error = Connection::from_config(&config).unwrap().check(&runtime).await.unwrap_err();
    assert!(error.message.contains(helpdesk_host::emulator::graph::MAILBOXLESS_USER) && error.message.contains("MailboxNotEnabledForRESTAPI"), "{error}");
}
