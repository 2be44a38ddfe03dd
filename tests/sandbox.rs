//! The walls of the sandbox, each proved by a component that tries to get
//! through: egress to an unlisted host, an endless loop, unbounded
//! allocation, a trap, a filesystem import; and TLS trust.

use helpdesk_e2e::setup;
use helpdesk_host::cli::emulator_config;
use helpdesk_host::emulator::{Emulator, EmulatorOptions};
use helpdesk_host::runs::Connection;
use helpdesk_host::runtime::{Limits, Runtime};
use helpdesk_host::runtime::types::SyncMode;
use std::time::Duration;

const MISBEHAVING: &[u8] = include_bytes!(env!("MISBEHAVING_WASM"));
const READS_FILES: &[u8] = include_bytes!(env!("READS_FILES_WASM"));

fn misbehaving(limits: Limits) -> Runtime {
    Runtime::load(MISBEHAVING, None, limits).unwrap()
}

async fn connection(behavior: &str) -> (Connection, Emulator) {
    let emulator = Emulator::start(EmulatorOptions { contacts: 5, ..Default::default() }).await.unwrap();
    let mut connection = Connection::from_config(&emulator_config(&emulator, "unused.db".as_ref())).unwrap();
    connection.set("behavior", behavior);
    (connection, emulator)
}

/// After any failure the next run gets a fresh instance and works.
async fn next_run_is_fine(runtime: &Runtime) {
    let (connection, _emulator) = connection("ok").await;
    assert_eq!(connection.check(runtime).await.unwrap().product, "fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_to_an_unlisted_host_is_refused_before_connecting_and_logged() {
    let runtime = misbehaving(Limits::default());
    let (connection, emulator) = connection("egress").await;
    let error = connection.check(&runtime).await.unwrap_err();
    assert_eq!(error.kind, "access-denied", "{error}");
    assert!(error.message.contains("HttpRequestDenied"), "the guest saw the refusal: {error}");
    assert!(error.message.contains("exfiltrate.example.net/stolen is not an allowed origin"), "{error}");
    assert_eq!(emulator.requests(), 0);
    next_run_is_fine(&runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_by_its_cpu_budget() {
    let runtime = misbehaving(Limits { cpu: Duration::from_millis(500), ..Limits::default() });
    let (connection, _emulator) = connection("loop").await;
    let error = connection.check(&runtime).await.unwrap_err();
    assert_eq!(error.kind, "host");
    assert!(error.message.contains("CPU budget"), "{error}");
    next_run_is_fine(&runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_is_stopped_at_the_memory_limit() {
    let runtime = misbehaving(Limits { memory: 32 << 20, ..Limits::default() });
    let (connection, _emulator) = connection("alloc").await;
    let error = connection.check(&runtime).await.unwrap_err();
    assert!(error.message.contains("more memory than its limit"), "{error}");
    next_run_is_fine(&runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_ends_the_run_and_the_next_one_is_fine() {
    let runtime = misbehaving(Limits::default());
    let (connection, _emulator) = connection("trap").await;
    let error = connection.check(&runtime).await.unwrap_err();
    assert!(error.message.contains("it trapped"), "{error}");
    next_run_is_fine(&runtime).await;
}

#[test]
fn a_component_importing_the_filesystem_is_refused_at_load() {
    let error = Runtime::load(READS_FILES, None, Limits::default()).err().expect("refused");
    let message = format!("{error:#}");
    assert!(message.contains("wasi:filesystem/"), "names the import: {message}");
    assert!(message.contains("does not grant"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_needs_the_ca_or_an_explicit_verify_off() {
    let emulator = Emulator::start(EmulatorOptions { contacts: 40, tls: true, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::shared().unwrap();
    let mut config = emulator_config(&emulator, &dir.path().join("tls.db"));
    assert!(config.exchange.endpoint.starts_with("https://localhost:"));

    let error = Connection::from_config(&config).unwrap().check(&runtime).await.unwrap_err();
    assert_eq!(error.kind, "tls", "{error}");
    let port = emulator.addr.port();
    assert!(error.message.contains(&format!("certificate of localhost:{port} is not trusted")), "{error}");
    assert!(error.message.contains("ca_file") && error.message.contains("verify = false"), "{error}");

    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem.as_ref().unwrap()).unwrap();
    config.exchange.tls.ca_file = Some(ca);
    let trusted = Connection::from_config(&config).unwrap();
    assert_eq!(trusted.check(&runtime).await.unwrap().product, "Exchange Server 2016");
    let store = helpdesk_host::store::Store::open(&dir.path().join("tls.db")).unwrap();
    let summary = trusted.sync(&runtime, &store, SyncMode::Full, false).await.unwrap();
    assert_eq!(summary.counts.created + summary.counts.skipped, 40);
    assert!(!summary.warnings.iter().any(|w| w.contains("verification is OFF")));

    config.exchange.tls.ca_file = None;
    config.exchange.tls.verify = false;
    let insecure = Connection::from_config(&config).unwrap();
    insecure.check(&runtime).await.unwrap();
    let summary = insecure.sync(&runtime, &store, SyncMode::Incremental, false).await.unwrap();
    assert!(summary.warnings.iter().any(|w| w.contains("verification is OFF")), "{:?}", summary.warnings);
}

/// A plugin that proposes the login `admin` and other users' emails: the
/// host changes none of theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_proposing_other_users_logins_and_emails_changes_nothing_of_theirs() {
    let s = setup(60, 4).await;
    let runtime = Runtime::shared().unwrap();
    s.connection.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap();
    s.store.add_user("local", "admin", Some("admin@helpdesk.example"), "Ada", "Admin").unwrap();
    s.store.add_user("ldap", "bob", Some("bob@corp.example"), "Bob", "Ldap").unwrap();
    let synced = s.store.users().unwrap().into_iter().find(|u| u.source == "exchange" && u.email.is_some()).unwrap();
    let before = s.store.users().unwrap();
    let plugin = misbehaving(Limits::default());
    for (login, email) in [("bob", "bob@corp.example"), (synced.login.as_str(), synced.email.as_deref().unwrap())] {
        let mut connection = s.connection_with(|_| {});
        connection.set("behavior", "takeover");
        connection.set("victim_login", login);
        connection.set("victim_email", email);
        connection.set("folder_id", synced.folder_id.as_deref().unwrap());
        let summary = connection.sync(&plugin, &s.store, SyncMode::Incremental, false).await.unwrap();
        assert_eq!((summary.counts.created, summary.counts.updated), (0, 0), "{:?}", summary.skipped_reasons);
        assert_eq!(summary.counts.skipped, 3, "{:?}", summary.skipped_reasons);
        assert!(summary.skipped_reasons.iter().any(|r| r.reason.contains("the login admin belongs to user admin")));
        assert_eq!(s.store.users().unwrap(), before, "nothing of theirs changed: login, email, names, source");
    }
}

/// A plugin that traps in the middle of a real sync, on the same database:
/// the run fails with a plain message (no wasm backtrace), what it had
/// handed over is kept as a batch is, and the next real run converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_trapping_in_the_middle_of_a_sync_leaves_a_store_the_next_run_repairs() {
    let s = setup(80, 3).await;
    let runtime = Runtime::shared().unwrap();
    s.connection.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap();
    let victim = s.store.users().unwrap().into_iter().find(|u| u.source == "exchange").unwrap();
    let mut connection = s.connection_with(|_| {});
    connection.set("behavior", "trap");
    connection.set("victim_id", victim.external_id.as_deref().unwrap());
    connection.set("folder_id", victim.folder_id.as_deref().unwrap());
    let trapping = misbehaving(Limits::default());
    let error = connection.sync(&trapping, &s.store, SyncMode::Incremental, false).await.unwrap_err();
    assert!(error.message.contains("it trapped"), "{error}");
    assert!(!error.message.contains("wasm backtrace") && !error.message.contains("0x"), "no backtrace: {error}");
    let runs = s.store.runs(1).unwrap();
    assert_eq!(runs[0].status, "failed");
    let changed = s.store.users().unwrap().into_iter().find(|u| u.external_id == victim.external_id).unwrap();
    assert_eq!(changed.firstname, "Mallory", "the batch before the trap was applied, as any batch is");
    // Exchange's contact did not change, so a full run rewrites it.
    s.connection.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap();
    helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());
}

/// A file that crashes the plugin's reader fails alone: the host reads
/// each file in an instance of its own, the run's instance goes on and
/// reads the next file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_crashes_the_reader_fails_alone() {
    let s = setup(10, 4).await;
    let mut connection = s.connection_with(|_| {});
    connection.set("behavior", "read-files");
    let summary = connection.sync(&misbehaving(Limits::default()), &s.store, SyncMode::Full, false).await.unwrap();
    assert!(summary.warnings.iter().any(|w| w == "crash.pdf: Err(\"the reader crashed on it\")"), "{:?}", summary.warnings);
    assert!(summary.warnings.iter().any(|w| w == "fine.txt: Ok(\"hello\")"), "{:?}", summary.warnings);
}
