//! The walls of the sandbox, each proved by a component that tries to get
//! through: egress to an unlisted host, an endless loop, unbounded
//! allocation, a trap, a filesystem import, a second linear memory, too
//! many tables or instances, a table grown without end, forged lines on
//! standard error, a flood of requests, of batches for the store and of
//! warnings; and TLS trust.

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

/// The misbehaving plugin's `check`, doing `behavior` within `limits`: its
/// error, and the runtime, for the next run.
async fn refused(behavior: &str, limits: Limits) -> (helpdesk_host::runs::RunError, Runtime) {
    let runtime = misbehaving(limits);
    let (connection, _emulator) = connection(behavior).await;
    (connection.check(&runtime).await.unwrap_err(), runtime)
}

/// A sync of the misbehaving plugin doing `behavior`, into `s`'s store.
async fn misbehaving_sync(s: &helpdesk_e2e::Setup, behavior: &str, mode: SyncMode) -> helpdesk_host::summary::Summary {
    let mut connection = s.connection_with(|_| {});
    connection.set("behavior", behavior);
    connection.set("folder_id", behavior);
    connection.sync(&misbehaving(Limits::default()), &s.store, mode, false).await.unwrap()
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
    let (error, runtime) = refused("loop", Limits { cpu: Duration::from_millis(500), ..Limits::default() }).await;
    assert_eq!(error.kind, "host");
    assert!(error.message.contains("CPU budget"), "{error}");
    next_run_is_fine(&runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_is_stopped_at_the_memory_limit() {
    let (error, runtime) = refused("alloc", Limits { memory: 32 << 20, ..Limits::default() }).await;
    assert!(error.message.contains("more memory than its limit"), "{error}");
    next_run_is_fine(&runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_ends_the_run_and_the_next_one_is_fine() {
    let (error, runtime) = refused("trap", Limits::default()).await;
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
/// files in an instance of their own, kept from file to file but made
/// afresh after a crash; the run's instance goes on and reads the next
/// file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_crashes_the_reader_fails_alone() {
    let s = setup(10, 4).await;
    let summary = misbehaving_sync(&s, "read-files", SyncMode::Full).await;
    let expected = ["first.txt: Ok(\"hello\")", "crash.pdf: Err(\"the reader crashed on it\")", "fine.txt: Ok(\"hello\")"];
    let read: Vec<&str> = summary.warnings.iter().map(String::as_str).filter(|w| w.contains(".txt: ") || w.contains(".pdf: ")).collect();
    assert_eq!(read, expected, "{:?}", summary.warnings);
}

/// The misbehaving component with one more core module instantiated at its
/// outer level, `copies` times: a component is a list of sections, and the
/// module's index is the number of core modules its outer level has before.
fn grown(module: &wasm_encoder::Module, copies: u32) -> Vec<u8> {
    use wasm_encoder::ComponentSection;
    use wasmparser::{ComponentAlias, ComponentExternalKind, ComponentOuterAliasKind, Parser, Payload};
    let (mut modules, mut depth) = (0u32, 0u32);
    for payload in Parser::new(0).parse_all(MISBEHAVING) {
        match payload.unwrap() {
            Payload::ModuleSection { .. } => {
                modules += u32::from(depth == 0);
                depth += 1;
            }
            Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentAliasSection(aliases) if depth == 0 => {
                for alias in aliases {
                    let module = matches!(
                        alias.unwrap(),
                        ComponentAlias::InstanceExport { kind: ComponentExternalKind::Module, .. }
                            | ComponentAlias::Outer { kind: ComponentOuterAliasKind::CoreModule, .. }
                    );
                    modules += u32::from(module);
                }
            }
            _ => {}
        }
    }
    let mut bytes = MISBEHAVING.to_vec();
    wasm_encoder::ModuleSection(module).append_to_component(&mut bytes);
    let mut instances = wasm_encoder::InstanceSection::new();
    for _ in 0..copies {
        instances.instantiate(modules, Vec::<(&str, wasm_encoder::ModuleArg)>::new());
    }
    instances.append_to_component(&mut bytes);
    bytes
}

/// A core module with `memories` memories and `tables` tables, whose start
/// function grows its first table by `grow` elements.
fn module(memories: u32, tables: u32, grow: i32) -> wasm_encoder::Module {
    use wasm_encoder::*;
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut functions = FunctionSection::new();
    if grow > 0 {
        functions.function(0);
        module.section(&functions);
    }
    let mut table_section = TableSection::new();
    for _ in 0..tables {
        table_section.table(TableType { element_type: RefType::FUNCREF, minimum: 1, maximum: None, table64: false, shared: false });
    }
    module.section(&table_section);
    let mut memory_section = MemorySection::new();
    for _ in 0..memories {
        memory_section.memory(MemoryType { minimum: 1, maximum: None, memory64: false, shared: false, page_size_log2: None });
    }
    module.section(&memory_section);
    if grow > 0 {
        module.section(&StartSection { function_index: 0 });
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        body.instructions().ref_null(HeapType::Abstract { shared: false, ty: AbstractHeapType::Func }).i32_const(grow).table_grow(0).drop().end();
        code.function(&body);
        module.section(&code);
    }
    module
}

/// A component that asks for more than the walls allow cannot start: the
/// run fails with the wall named, and the next run (of a component within
/// them) is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_memory_more_tables_instances_or_table_elements_stop_the_plugin_at_its_start() {
    use helpdesk_host::runtime::limits::{INSTANCES, MEMORIES, TABLE_ELEMENTS, TABLES};
    let cases = [
        (grown(&module(1, 0, 0), 1), format!("it asked for more than {MEMORIES} linear memory")),
        (grown(&module(0, TABLES as u32, 0), 1), format!("it asked for more than {TABLES} tables")),
        (grown(&module(0, 0, 0), INSTANCES as u32), format!("it asked for more than {INSTANCES} instances")),
        (grown(&module(0, 1, TABLE_ELEMENTS as i32), 1), format!("it grew a table beyond {TABLE_ELEMENTS} elements")),
    ];
    for (wasm, wall) in cases {
        let runtime = Runtime::load(&wasm, None, Limits::default()).expect("a valid component, within the static checks");
        let (connection, emulator) = connection("ok").await;
        let error = connection.check(&runtime).await.unwrap_err();
        assert_eq!(error.kind, "host", "{error}");
        assert!(error.message.contains(&format!("the plugin could not start: {wall}")), "{wall}: {error}");
        assert_eq!(emulator.requests(), 0);
    }
    // Within the walls, the same module instantiates: what failed was the wall.
    let within = Runtime::load(&grown(&module(0, 1, 1000), 1), None, Limits::default()).unwrap();
    next_run_is_fine(&within).await;
}

/// What a plugin writes to standard error reaches the log and the run's
/// error escaped: no terminal escape, no carriage return, no forged line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_error_is_escaped_and_kept_as_the_plugins_last_words() {
    let (error, runtime) = refused("stderr", Limits::default()).await;
    assert!(error.message.contains("it trapped"), "{error}");
    let (_, words) = error.message.split_once("It wrote to standard error: ").expect("its last words");
    assert!(words.starts_with("\\u{1b}[2J\\u{1b}[31m2026-12-06T00:00:00Z ERROR helpdesk_host: forged\\u{d} / "), "{words}");
    assert!(words.contains("gone \\u{1b}[0m quietly"), "the panic message: {words}");
    assert!(!error.message.contains(['\u{1b}', '\r', '\n']), "nothing raw: {:?}", error.message);
    next_run_is_fine(&runtime).await;
}

/// A server that answers every request after `delay`, counting how many
/// it had at once.
async fn slow_server(delay: Duration) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/EWS/Exchange.asmx", listener.local_addr().unwrap().port());
    let (now, most) = (std::sync::Arc::new(AtomicUsize::new(0)), std::sync::Arc::new(AtomicUsize::new(0)));
    let seen = most.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (now, most) = (now.clone(), most.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    let (now, most) = (now.clone(), most.clone());
                    async move {
                        most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                        tokio::time::sleep(delay).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"ok"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(tcp), service).await;
            });
        }
    });
    (url, seen)
}

/// A plugin that fires 40 requests at once gets all its answers, but the
/// server never has more than the cap of them at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_capped_per_run() {
    use helpdesk_host::capabilities::egress::MAX_IN_FLIGHT;
    let (url, most) = slow_server(Duration::from_millis(100)).await;
    let emulator = Emulator::start(EmulatorOptions { contacts: 1, ..Default::default() }).await.unwrap();
    let mut config = emulator_config(&emulator, "unused.db".as_ref());
    config.exchange.endpoint = url;
    config.exchange.auth = Some("basic".into());
    let mut connection = Connection::from_config(&config).unwrap();
    connection.set("behavior", "flood-requests");
    let info = connection.check(&misbehaving(Limits::default())).await.unwrap();
    assert_eq!(info.product, "answered 40");
    let most = most.load(std::sync::atomic::Ordering::SeqCst);
    assert!(most <= MAX_IN_FLIGHT, "the server had {most} requests at once");
    assert!(most > 1, "the plugin's requests do go in parallel, up to the cap: {most}");
}

/// A plugin that hands over batches faster than the store writes them
/// waits for the writer once the run's queue holds its byte budget
/// (the bound itself: writer.rs's unit test); all of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_flooding_the_store_waits_and_everything_is_stored() {
    let s = setup(1, 4).await;
    let summary = misbehaving_sync(&s, "flood-store", SyncMode::Incremental).await;
    assert_eq!(summary.counts.created, 48, "{:?}", summary.skipped_reasons);
    let flooded = s.store.users().unwrap().into_iter().filter(|u| u.login.starts_with("flood-")).count();
    assert_eq!(flooded, 48);
}

/// A plugin that warns without end: the run keeps a bounded number of
/// bounded warnings, escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugins_warnings_are_bounded_in_number_and_length() {
    use helpdesk_host::session::{MAX_WARNING, MAX_WARNINGS};
    let s = setup(1, 4).await;
    let summary = misbehaving_sync(&s, "warn-flood", SyncMode::Incremental).await;
    let from_plugin: Vec<&String> = summary.warnings.iter().filter(|w| w.starts_with("warning ")).collect();
    assert_eq!(from_plugin.len(), MAX_WARNINGS - 1, "the first was the escaped one");
    assert!(from_plugin.iter().all(|w| w.len() <= MAX_WARNING + " [cut]".len() && w.ends_with(" [cut]")));
    assert!(summary.warnings.iter().any(|w| w.contains("more than 1000 warnings")), "{:?}", summary.warnings.last());
    assert!(summary.warnings.contains(&"\\u{1b}[2Jcleared\\u{a}2026-12-06T00:00:00Z  INFO forged".to_string()), "escaped as standard error is: {:?}", summary.warnings.first());
}
