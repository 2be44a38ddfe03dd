//! The `helpdesk-host` binary as scripts use it: the demo's JSON shape, the
//! second run over the same database, `users --json`, and errors as JSON.
//! (Built as a test of the helpdesk-host package to reach its binary.)

use serde_json::Value;
use std::process::Command;

fn host(args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_helpdesk-host")).args(args).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let document = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {stdout}\n{stderr}"));
    (output.status.success(), document, stderr)
}

#[test]
fn demo_json_twice_then_users() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let (ok, first, stderr) = host(&["demo", "--contacts", "400", "--seed", "3", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    assert!(!stderr.contains(" contacts, "), "no progress bar when standard error is no terminal: {stderr}");
    assert_eq!(first["check"]["product"], "Exchange Server 2016");
    assert_eq!(first["check"]["auth"], "NTLM", "the emulator's default, as Exchange's");
    let paths: Vec<&str> = first["folders"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(paths.starts_with(&["Contacts", "Contacts -> Recipient Cache"]), "{paths:?}");
    assert!(paths.contains(&"Public Folders -> Company Contacts"));
    // Every contact folder is listed; a sync reads the default ones: no
    // search folder, none of Exchange's hidden ones, nothing deleted.
    let read: Vec<&str> = first["full"]["folders"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"AllContacts") && paths.contains(&"Contacts -> Recipient Cache"), "{paths:?}");
    assert!(read.starts_with(&["Contacts", "Contacts -> Partners", "Contacts -> Suppliers"]), "{read:?}");
    assert!(!read.iter().any(|p| p.contains("AllContacts") || p.contains("Recipient Cache") || p.contains("Deleted Items")), "{read:?}");
    // `"default"` says which ones: exactly those read, but for the public
    // folder that denies access (tried, with a warning); the others say why.
    let listed = first["folders"].as_array().unwrap();
    let defaults: Vec<&str> = listed
        .iter()
        .filter(|f| f["default"] == true && !f["path"].as_str().unwrap().ends_with("Board"))
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(defaults, read);
    for f in listed {
        assert_eq!(f["default"] == false, f["why"].as_str().is_some_and(|why| !why.is_empty()), "{f}");
    }
    let recipient_cache = listed.iter().find(|f| f["path"] == "Contacts -> Recipient Cache").unwrap();
    assert!(recipient_cache["why"].as_str().unwrap().contains("hidden"), "{recipient_cache}");
    let full = &first["full"];
    for key in ["created", "updated", "unchanged", "skipped", "failed", "deactivated", "requests", "elapsed_ms"] {
        assert!(full[key].is_u64(), "full.{key} in {full}");
    }
    assert_eq!(full["created"].as_u64().unwrap() + full["skipped"].as_u64().unwrap(), 400);
    assert_eq!(full["failed"], 0);
    let reasons = full["skipped_reasons"].as_array().unwrap();
    assert_eq!(reasons.len() as u64, full["skipped"].as_u64().unwrap());
    assert!(reasons.iter().all(|r| r["reason"].as_str().unwrap().contains("duplicate email")));
    assert!(full["folders"].as_array().unwrap().iter().all(|f| f["path"].is_string() && f["created"].is_u64()));

    // The dry run counts what the full run then does; the incremental run
    // picks up the emulator's scripted change.
    assert_eq!(first["dry_run"]["created"], full["created"]);
    assert_eq!(first["dry_run"]["skipped"], full["skipped"]);
    assert_eq!(first["dry_run"]["folders"], full["folders"]);
    let incremental = &first["incremental"];
    assert_eq!((&incremental["created"], &incremental["updated"], &incremental["deactivated"]), (&10.into(), &10.into(), &10.into()));
    assert!(incremental["requests"].as_u64().unwrap() < full["requests"].as_u64().unwrap());

    let (ok, second, stderr) = host(&["demo", "--contacts", "400", "--seed", "3", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    // Same seed, same data: a fresh emulator has undone the first run's
    // scripted change, and the second full run follows: the changed and the
    // removed contacts' users are updated (reactivated), the added ones'
    // deactivated, nothing made anew.
    assert_eq!(second["full"]["created"], 0);
    assert_eq!(second["full"]["updated"], 20);
    assert_eq!(second["full"]["deactivated"], 10);
    assert_eq!(second["full"]["unchanged"].as_u64().unwrap(), full["created"].as_u64().unwrap() - 20);

    let (ok, users, stderr) = host(&["users", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    let users = users.as_array().unwrap();
    // Every contact ever seen is a user; removed ones are inactive.
    assert_eq!(users.len() as u64, full["created"].as_u64().unwrap() + 10);
    for key in ["login", "email", "firstname", "lastname", "active", "source"] {
        assert!(users.iter().all(|u| u.get(key).is_some()), "every user has {key}");
    }
}

#[test]
fn a_configuration_error_is_one_json_document_and_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("helpdesk.toml");
    std::fs::write(
        &config,
        "[exchange]\nendpoint = \"http://127.0.0.1:9/EWS/Exchange.asmx\"\nusername = \"u\"\npassword_env = \"HELPDESK_TEST_UNSET_PASSWORD\"\n",
    )
    .unwrap();
    let (ok, document, stderr) = host(&["check", "--config", config.to_str().unwrap(), "--json"]);
    assert!(!ok);
    let message = document["error"]["message"].as_str().unwrap();
    assert!(message.contains("HELPDESK_TEST_UNSET_PASSWORD"), "{message}");
    assert!(stderr.contains("error:"));
}

fn config_file(dir: &std::path::Path, endpoint: &str, password: &str, interval: &str) -> std::path::PathBuf {
    let config = dir.join("helpdesk.toml");
    std::fs::write(
        &config,
        format!(
            "[exchange]\nendpoint = \"{endpoint}\"\nusername = \"{}\"\npassword = \"{password}\"\n\n[store]\ndatabase = \"helpdesk.db\"\n\n[schedule]\ninterval = \"{interval}\"\n",
            helpdesk_host::emulator::DEFAULT_USER
        ),
    )
    .unwrap();
    config
}

/// A Graph configuration for the emulator in `dir`, with `extra` lines of
/// [exchange] (a token, the authority); every second a run when served.
fn graph_config_file(dir: &std::path::Path, emulator: &helpdesk_host::emulator::Emulator, extra: &str) -> String {
    use helpdesk_host::emulator::graph::{CLIENT_ID, TENANT};
    let config = dir.join("helpdesk.toml");
    let base = emulator.graph_base();
    std::fs::write(
        &config,
        format!(
            "[exchange]\nmode = \"graph\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT_ID}\"\ngraph_endpoint = \"{base}\"\n{extra}\n\
             [store]\ndatabase = \"helpdesk.db\"\n\n[schedule]\ninterval = \"1s\"\n"
        ),
    )
    .unwrap();
    config.to_str().unwrap().to_string()
}

/// An emulator, a temporary directory, and a configuration file for it
/// there (its database `helpdesk.db` beside it).
async fn emulator_with_config(
    options: helpdesk_host::emulator::EmulatorOptions,
    interval: &str,
) -> (helpdesk_host::emulator::Emulator, tempfile::TempDir, String) {
    let emulator = helpdesk_host::emulator::Emulator::start(options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), &emulator.endpoint(), emulator.password(), interval);
    let config = config.to_str().unwrap().to_string();
    (emulator, dir, config)
}

/// `serve --runs N` to its end, then the runs it kept (`runs --json`).
async fn serve_runs(config: &str, runs: u32) -> Value {
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-host"))
        .args(["serve", "--config", config, "--runs", &runs.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let (ok, runs, stderr) = host(&["runs", "--config", config, "--json"]);
    assert!(ok, "{stderr}");
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_syncs_on_schedule_and_keeps_every_run() {
    use helpdesk_host::emulator::EmulatorOptions;
    let (_emulator, dir, config) = emulator_with_config(EmulatorOptions { contacts: 120, seed: 8, ..Default::default() }, "1s").await;
    let runs = serve_runs(&config, 2).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r["status"] == "succeeded" && r["mode"] == "incremental"));
    // Newest first: the first run made the users, the second had nothing to do.
    assert_eq!(runs[0]["summary"]["created"], 0);
    assert!(runs[1]["summary"]["created"].as_u64().unwrap() > 100);
    assert!(runs[0]["started_at"].as_str().unwrap() >= runs[1]["finished_at"].as_str().unwrap(), "runs never overlap");

    // While a run holds the database, another is refused, not started.
    let store = helpdesk_host::store::Store::open(&dir.path().join("helpdesk.db")).unwrap();
    let lock = store.run_lock().unwrap();
    let (ok, document, _) = host(&["sync", "--config", &config, "--json"]);
    assert!(!ok);
    assert_eq!(document["error"]["kind"], "busy");
    drop(lock);
    let (ok, _, stderr) = host(&["sync", "--config", &config, "--json"]);
    assert!(ok, "{stderr}");
}

#[test]
fn no_secret_in_any_output_log_or_database_of_a_demo_run() {
    use base64::Engine as _;
    for mode in ["ews", "graph"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("secrets.db");
        let output = Command::new(env!("CARGO_BIN_EXE_helpdesk-host"))
            .args(["demo", "--mode", mode, "--contacts", "150", "--db", db.to_str().unwrap(), "--json"])
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        assert!(output.status.success());
        let password = helpdesk_host::emulator::DEFAULT_PASSWORD;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{password}", helpdesk_host::emulator::DEFAULT_USER));
        let client_secret = helpdesk_host::emulator::graph::CLIENT_SECRET;
        // The emulator's access tokens all start so.
        let secrets = [password, basic.as_str(), client_secret, "emu-access-"];
        assert_no_secret(&output, dir.path(), &secrets);
    }
}

fn assert_no_secret(output: &std::process::Output, dir: &std::path::Path, secrets: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("authorization=<redacted>"), "the request log is there, redacted");
    for &secret in secrets {
        assert!(!String::from_utf8_lossy(&output.stdout).contains(secret), "{secret} in standard output");
        assert!(!stderr.contains(secret), "{secret} in the log");
        for file in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} in the database");
        }
    }
}

#[test]
fn demo_over_graph_counts_what_demo_over_ews_counts() {
    let run = |mode: &str| {
        let (ok, document, stderr) = host(&["demo", "--mode", mode, "--contacts", "600", "--seed", "9", "--json"]);
        assert!(ok, "{stderr}");
        document
    };
    let (ews, graph) = (run("ews"), run("graph"));
    assert_eq!(graph["mode"], "graph");
    assert!(graph["check"]["product"].as_str().unwrap().contains("Microsoft 365"));
    assert_eq!(graph["check"]["auth"], "OAuth2");
    for phase in ["dry_run", "full", "incremental"] {
        for count in ["created", "updated", "unchanged", "skipped", "failed", "deactivated"] {
            assert_eq!(ews[phase][count], graph[phase][count], "{phase}.{count}");
        }
    }
    assert_eq!(graph["incremental"]["created"], 10);
    // The same documents, and the scripted mail changes: over Graph a
    // moved message keeps its (immutable) id and is one update.
    let at = |demo: &serde_json::Value, kind: &str, count: &str| demo["documents"]["full"]["by_kind"][kind][count].as_u64().unwrap_or(0);
    for kind in ["mail", "attachment", "event", "task"] {
        for count in ["created", "skipped", "failed"] {
            assert_eq!(at(&ews, kind, count), at(&graph, kind, count), "documents.full.{kind}.{count}");
        }
    }
    assert!(at(&ews, "event", "created") > 0 && at(&ews, "task", "created") > 0, "{}", ews["documents"]);
    // Between the runs the series' occurrence moved (its master and
    // itself) and a task was completed, over both.
    let updates = |demo: &serde_json::Value, kind: &str| demo["documents"]["incremental"]["by_kind"][kind]["updated"].as_u64();
    assert_eq!((updates(&ews, "event"), updates(&ews, "task")), (updates(&graph, "event"), updates(&graph, "task")));
    let mail = &graph["documents"]["incremental"]["by_kind"]["mail"];
    let left = graph["mailbox_change"]["documents"]["mail"].as_u64().unwrap();
    assert_eq!((mail["created"].as_u64(), mail["removed"].as_u64(), mail["updated"].as_u64()), (Some(1), Some(1 + left), Some(3)), "{mail}");
    assert_eq!(ews["mailbox_change"], graph["mailbox_change"]);
    // The same mailboxes (the shared one among them); the user without a
    // mailbox is one warning, and no failure.
    assert_eq!(ews["documents"]["mailboxes"], graph["documents"]["mailboxes"]);
    let warnings = graph["full"]["warnings"].as_array().unwrap();
    let mailboxless: Vec<_> = warnings.iter().filter(|w| w.as_str().unwrap().contains("former.employee@example.com")).collect();
    assert_eq!(mailboxless.len(), 1, "{warnings:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_from_the_environment_is_used_and_never_shown() {
    use helpdesk_host::emulator::{Emulator, EmulatorOptions};
    let emulator = Emulator::start(EmulatorOptions { contacts: 20, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("env.toml");
    std::fs::write(
        &config,
        format!(
            "[exchange]\nendpoint = \"{}\"\nusername = \"{}\"\npassword_env = \"HELPDESK_TEST_PASSWORD\"\n",
            emulator.endpoint(),
            emulator.user()
        ),
    )
    .unwrap();
    for (password, ok) in [(emulator.password(), true), ("Wr0ng-but-secret", false)] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-host"))
            .args(["check", "--config", config.to_str().unwrap(), "--json"])
            .env("HELPDESK_TEST_PASSWORD", password)
            .env("RUST_LOG", "trace")
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.success(), ok);
        let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!all.contains(password), "the password shows in: {all}");
        if !ok {
            assert!(all.contains("authentication"), "{all}");
        }
    }
}

/// The users as `users --json` shows them, without timestamps.
fn user_table(db: &str) -> Vec<Value> {
    let (ok, users, stderr) = host(&["users", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    let mut rows: Vec<Value> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let mut u = u.clone();
            let object = u.as_object_mut().unwrap();
            object.remove("created_at");
            object.remove("updated_at");
            u
        })
        .collect();
    rows.sort_by_key(|u| u["login"].as_str().unwrap().to_string());
    rows
}

#[test]
fn demo_with_all_faults_ends_with_the_same_users_as_without() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    let faulty = dir.path().join("faulty.db");
    let (ok, _, stderr) = host(&["demo", "--contacts", "1500", "--seed", "23", "--db", clean.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let (ok, document, stderr) =
        host(&["demo", "--contacts", "1500", "--seed", "23", "--faults", "all", "--db", faulty.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(document["faults_not_fired"], serde_json::json!([]), "every fault fired");
    assert_eq!(document["full"]["failed"], 1, "the one broken item");
    assert!(stderr.contains("trying again"), "transient faults were retried");
    assert_eq!(user_table(clean.to_str().unwrap()), user_table(faulty.to_str().unwrap()));
}

/// A sync killed between two of its commits: some folders are stored with
/// their checkpoints, the rest not; the next run converges with no
/// duplicate and no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_after_its_first_commit_converges_on_the_next_run() {
    use helpdesk_host::emulator::EmulatorOptions;
    use helpdesk_host::emulator::data::Layout;
    // Big enough that the run commits several times (at most every 2 s),
    // in ten folders, so that the first commit holds whole folders.
    let options = EmulatorOptions { contacts: 60_000, seed: 29, layout: Layout::Flat(10), ..Default::default() };
    let (emulator, dir, config) = emulator_with_config(options, "1h").await;
    let db = dir.path().join("helpdesk.db");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-host"))
        .args(["sync", "--config", &config, "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Watch the database from outside, as a helpdesk would, and kill the
    // run (SIGKILL) as soon as its first commit shows.
    let count = |sql: &str| -> i64 {
        let Ok(conn) = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else { return 0 };
        conn.query_row(sql, [], |row| row.get(0)).unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while count("SELECT count(*) FROM checkpoints") == 0 {
        assert!(std::time::Instant::now() < deadline, "no commit within two minutes");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it was killed");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    child.kill().await.unwrap();
    let (users, checkpoints) = (count("SELECT count(*) FROM users"), count("SELECT count(*) FROM checkpoints"));
    assert!(users > 0 && users < 59_000, "a partial state: {users} users");
    assert!((1..10).contains(&checkpoints), "some folders are done: {checkpoints} checkpoints");
    assert_eq!(count("SELECT count(*) FROM sync_runs WHERE status = 'running'"), 1);

    emulator.mailbox_mut().scripted_change(5);
    let (ok, _, stderr) = host(&["sync", "--config", &config, "--json"]);
    assert!(ok, "the run after the kill: {stderr}");

    // The truth: a clean sync of the same mailbox into a fresh database.
    let clean_db = dir.path().join("clean.db");
    let clean = helpdesk_host::store::Store::open(&clean_db).unwrap();
    let connection = helpdesk_host::runs::Connection::from_config(&helpdesk_host::cli::emulator_config(&emulator, &clean_db)).unwrap();
    let runtime = helpdesk_host::runtime::Runtime::shared().unwrap();
    connection.sync(&runtime, &clean, helpdesk_host::runtime::types::SyncMode::Full, false).await.unwrap();

    let rows = |store: &helpdesk_host::store::Store| {
        let mut rows: Vec<_> = store
            .users()
            .unwrap()
            .into_iter()
            .filter(|u| u.active)
            .map(|u| (u.external_id, u.login, u.email, u.firstname, u.lastname, u.phone))
            .collect();
        rows.sort();
        rows
    };
    let survived = helpdesk_host::store::Store::open(&db).unwrap();
    let active = rows(&survived);
    let logins: std::collections::HashSet<&String> = active.iter().map(|r| &r.1).collect();
    assert_eq!(logins.len(), active.len(), "no duplicates");
    assert_eq!(active, rows(&clean), "the killed run converged to the truth: no gap");
    let (ok, runs, _) = host(&["runs", "--db", db.to_str().unwrap(), "--json"]);
    assert!(ok);
    let statuses: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["succeeded", "interrupted"], "the killed run is marked interrupted");
}

/// `bench` on a small mailbox: every figure is there and agrees with the
/// emulator (speed is for the benchmark to report, not for a test to judge).
#[test]
fn bench_reports_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("exchangelib-venv");
    // The peer comes from PyPI: outside CI, a machine without it skips it.
    let peer = match helpdesk_host::bench::peer::python_with_exchangelib(&venv) {
        Ok(_) => "150",
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("peer left out: {e:#}");
            "0"
        }
        Err(e) => panic!("{e:#}"),
    };
    let work = dir.path().to_str().unwrap();
    let (ok, f, stderr) = host(&[
        "bench", "--contacts", "1500", "--folders", "10", "--runs", "1", "--peer-contacts", peer, "--messages", "300", "--mailboxes", "50",
        "--venv", venv.to_str().unwrap(), "--work-dir", work, "--json",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(f["contacts"], 1500);
    assert_eq!(f["folders"], 10);
    // Every seeded person became a user or was skipped as a duplicate.
    assert_eq!(f["contacts_synced"], 1500);
    for key in ["full_ms", "full_basic_ms", "ntlm_over_basic", "contacts_per_s", "peak_rss_mib", "peak_rss_mib_1k", "compile_ms", "load_cached_ms", "instantiate_ms"] {
        assert!(f[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {f}");
    }
    assert!(f["bytes_received"].as_u64().unwrap() > 1500 * 500, "{f}");
    // A full read: listing and GetItem batches of 100 for each folder.
    assert!(f["requests"].as_u64().unwrap() >= 1500 / 100 + 10, "{f}");
    // Nothing changed: one SyncFolderItems per folder, the folder listing
    // (the tree, Contacts and Deleted Items, the public root) and the
    // public folder routing from Autodiscover (POX, GetUserSettings).
    assert!(f["incremental_nochange_requests"].as_u64().unwrap() <= 10 + 3 + 2, "{f}");
    assert!(f["incremental_100_requests"].as_u64().unwrap() > f["incremental_nochange_requests"].as_u64().unwrap(), "{f}");
    assert!(f["compile_ms"].as_f64().unwrap() > f["load_cached_ms"].as_f64().unwrap());
    assert_eq!(f["peer"], "exchangelib 5.6.0");
    if peer != "0" {
        assert!(f["peer_contacts"].as_u64().unwrap() >= 150, "{f}");
        assert!(f["ratio"].as_f64().is_some_and(|r| r > 0.0), "{f}");
    }
    // Mail: both mailboxes' 300 ordinary messages and more, with their
    // attachments, by us and by exchangelib.
    assert!(f["mail_documents"].as_u64().unwrap() > 600, "{f}");
    assert!(f["attachment_documents"].as_u64().unwrap() >= 30, "every tenth of one mailbox's messages has a file: {f}");
    for key in ["mail_full_ms", "mail_documents_per_s", "mail_peak_rss_mib", "mail_peak_rss_mib_1k"] {
        assert!(f[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {f}");
    }
    // Unchanged, beyond the contacts: per mailbox one SyncFolderHierarchy
    // (no folder tree, no GetFolder), and one SyncFolderItems per mail
    // folder.
    let mail_folders = f["mail_folders"].as_u64().unwrap();
    let extra = f["mail_incremental_nochange_requests"].as_u64().unwrap();
    assert!(extra >= mail_folders && extra <= mail_folders + 2, "{f}");
    // Calendars and tasks: the series once, every calendar and task list;
    // unchanged, one SyncFolderItems per folder and the listing per mailbox.
    assert!(f["event_documents"].as_u64().unwrap() >= 6 && f["task_documents"].as_u64().unwrap() >= 5, "{f}");
    assert!(f["calendar_nochange_requests"].as_u64().unwrap() > 0, "{f}");
    // The organisation: the 50 staff, Bob, the service account and the
    // shared mailbox; unchanged, per mailbox one SyncFolderHierarchy and
    // one SyncFolderItems per folder (a staff mailbox reads five: Inbox,
    // Sent Items, Junk Email, Calendar, Tasks), and the organisation's
    // listing once.
    assert_eq!(f["org_mailboxes"], 53, "{f}");
    assert!(f["org_nochange_ms_per_mailbox"].as_f64().is_some_and(|v| v > 0.0), "{f}");
    let per_mailbox = f["org_nochange_requests_per_mailbox"].as_f64().unwrap();
    assert!((2.0..=7.0).contains(&per_mailbox), "{f}");
    if peer != "0" {
        assert!(f["peer_messages"].as_u64().unwrap() > 600, "{f}");
        assert!(f["mail_ratio"].as_f64().is_some_and(|r| r > 0.0), "{f}");
    }
}

/// `serve` with a delegated Graph token the server rotates and accepts once
/// (as the emulator models it): each run uses the token the last one kept,
/// in one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_uses_the_rotated_token_run_after_run() {
    use helpdesk_host::emulator::{Emulator, EmulatorOptions};
    let emulator = Emulator::start(EmulatorOptions { contacts: 60, seed: 9, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The old name of `authority` still works.
    let token = format!("refresh_token = \"{}\"\ntoken_endpoint = \"{}\"\n", emulator.grant_refresh_token(), emulator.graph_base());
    let config = graph_config_file(dir.path(), &emulator, &token);
    let runs = serve_runs(&config, 3).await;
    let statuses: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["succeeded"; 3], "{runs}");
}

/// `login` signs in by the device code: it shows where to go and the code,
/// waits until the user approves, keeps the refresh token; the next sync,
/// configured with neither a secret nor a token, uses it. A declined
/// sign-in is an error that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_device_code_then_sync_uses_the_token() {
    use helpdesk_host::emulator::{Emulator, EmulatorOptions};
    use tokio::io::AsyncBufReadExt;
    let emulator = Emulator::start(EmulatorOptions { contacts: 50, seed: 12, device_interval: 1, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = emulator.graph_base();
    let config = graph_config_file(dir.path(), &emulator, &format!("authority = \"{base}\"\n"));
    let sign_in = |approve: bool| {
        let (config, base) = (config.clone(), base.clone());
        let emulator = &emulator;
        async move {
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-host"))
                .args(["login", "--config", &config])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
            let prompt = lines.next_line().await.unwrap().expect("login prints where to sign in");
            assert!(prompt.contains(&format!("{base}/emulator/devicelogin")), "{prompt}");
            let code = prompt.split("enter the code ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("a code");
            assert!(emulator.answer_device_code(code, approve), "{code}");
            let mut rest = String::new();
            while let Some(line) = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await.unwrap().unwrap() {
                rest.push_str(&line);
            }
            let output = child.wait_with_output().await.unwrap();
            (output.status.success(), rest, String::from_utf8_lossy(&output.stderr).to_string())
        }
    };
    let (ok, _, stderr) = sign_in(false).await;
    assert!(!ok && stderr.contains("declined"), "{stderr}");
    let (ok, said, stderr) = sign_in(true).await;
    assert!(ok, "{stderr}");
    assert!(said.contains("Signed in") && said.contains("secrets.json"), "{said}");
    let (ok, summary, stderr) = host(&["sync", "--config", &config, "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(summary["created"].as_u64().unwrap() + summary["skipped"].as_u64().unwrap(), 50, "{summary}");
    // The token was rotated by that sync and is kept for the next one.
    let (ok, _, stderr) = host(&["sync", "--config", &config, "--json"]);
    assert!(ok, "{stderr}");
}

/// SIGTERM stops `serve` cleanly, also in the middle of a run, and leaves
/// the database free for the next sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_on_sigterm_and_releases_the_lock() {
    use helpdesk_host::emulator::EmulatorOptions;
    let (_emulator, dir, config) = emulator_with_config(EmulatorOptions { contacts: 30_000, seed: 10, ..Default::default() }, "1h").await;
    let db = dir.path().join("helpdesk.db");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_helpdesk-host"))
        .args(["serve", "--config", &config])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The first run starts at once; stop it while it writes.
    let started = std::time::Instant::now();
    let running = || -> bool {
        let Ok(conn) = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else { return false };
        conn.query_row("SELECT count(*) FROM users", [], |row| row.get::<_, i64>(0)).unwrap_or(0) > 0
    };
    while !running() {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "serve did not start a run");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait()).await.expect("serve stopped").unwrap();
    assert!(status.success(), "{status}");
    let (ok, _, stderr) = host(&["sync", "--config", &config, "--json"]);
    assert!(ok, "the lock was released: {stderr}");
}

/// Configuration mistakes are named, and a URL with a password in it is
/// refused without showing it.
#[test]
fn bad_configurations_get_clear_errors_and_no_secret_is_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("helpdesk.toml");
    let cases = [
        ("mode = \"graf\"\nendpoint = \"http://127.0.0.1:9/EWS/Exchange.asmx\"\n", "", "mode = \"graf\" is not one of ews, graph"),
        ("endpoint = \"http://127.0.0.1:9/EWS/Exchange.asmx\"\n", "[schedule]\ninterval = \"99999999999999999d\"\n", "longer than a year"),
        ("endpoint = \"https://svc:hunter2@mail.example.com/EWS/Exchange.asmx\"\n", "", "holds a user name or password"),
    ];
    for (exchange, rest, expected) in cases {
        std::fs::write(&config, format!("[exchange]\n{exchange}username = \"u\"\npassword = \"p\"\n{rest}")).unwrap();
        for command in ["check", "sync", "serve"] {
            let args = if command == "serve" { vec![command, "--config", config.to_str().unwrap()] } else { vec![command, "--config", config.to_str().unwrap(), "--json"] };
            let output = Command::new(env!("CARGO_BIN_EXE_helpdesk-host")).args(&args).output().unwrap();
            let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            assert!(!output.status.success(), "{command}: {all}");
            assert!(all.contains(expected), "{command}: {all}");
            assert!(!all.contains("hunter2"), "{command}: {all}");
        }
    }
}

/// The demo syncs both mailboxes' mail; `search` then finds what each
/// reader may read, and only that.
#[test]
fn demo_documents_then_search_as_each_reader() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let (ok, demo, stderr) = host(&["demo", "--contacts", "100", "--seed", "5", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    let full = &demo["documents"]["full"];
    assert!(full["by_kind"]["mail"]["created"].as_u64().unwrap() > 20, "{full}");
    assert!(full["by_kind"]["attachment"]["created"].as_u64().unwrap() >= 2, "{full}");
    let too_large = full["skipped_reasons"].as_array().unwrap().iter().find(|r| r["title"] == "mailbox-export.zip").expect("the large file is skipped");
    assert!(too_large["reason"].as_str().unwrap().contains("too large"), "{too_large}");
    // The scripted changes, and the mail of the person who left.
    let left = demo["mailbox_change"]["documents"]["mail"].as_u64().unwrap();
    assert!(left > 0, "{demo}");
    let mail = &demo["documents"]["incremental"]["by_kind"]["mail"];
    assert_eq!((mail["created"].as_u64(), mail["removed"].as_u64(), mail["updated"].as_u64()), (Some(2), Some(2 + left), Some(2)), "{mail}");
    assert_eq!(demo["mail_change"]["moved"], 1);
    // Calendars and tasks: the series, its moved occurrence and the other
    // events; between the runs the occurrence moves again (its master
    // with it) and a task is completed.
    assert!(full["by_kind"]["event"]["created"].as_u64().unwrap() >= 6 && full["by_kind"]["task"]["created"].as_u64().unwrap() >= 5, "{full}");
    let incremental = &demo["documents"]["incremental"]["by_kind"];
    assert_eq!((incremental["event"]["updated"].as_u64(), incremental["task"]["updated"].as_u64()), (Some(2), Some(1)), "{incremental}");
    let (ok, series, stderr) = host(&["search", "--db", db, "--as", "svc-helpdesk@example.com", "--json", "seriesmarker7731"]);
    assert!(ok, "{stderr}");
    let series = series.as_array().unwrap();
    assert_eq!(series.len(), 2, "the master and its modified occurrence, not each occurrence: {series:?}");
    assert!(series.iter().all(|h| h["kind"] == "event") && series.iter().filter(|h| h["parent_id"].is_string()).count() == 1, "{series:?}");

    let (ok, hits, stderr) = host(&["search", "--db", db, "--as", "SVC-Helpdesk@example.com", "--json", "textmarker7731"]);
    assert!(ok, "{stderr}");
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["kind"], "attachment");
    assert!(hits[0]["parent_id"].is_string() && hits[0]["snippet"].as_str().unwrap().contains("[textmarker7731]"), "{hits:?}");
    let (_, japanese, _) = host(&["search", "--db", db, "--as", "svc-helpdesk@example.com", "--kind", "mail", "--json", "請求書の確認"]);
    assert_eq!(japanese.as_array().unwrap().len(), 1, "{japanese}");
    let (ok, none, _) = host(&["search", "--db", db, "--as", "bob@example.com", "--json", "textmarker7731"]);
    assert!(ok);
    assert_eq!(none, serde_json::json!([]), "not bob's");
    // Every mailbox of the organisation: the shared one too (the room
    // is not read without resource_mailboxes), and Bob, its member, finds
    // its mail; the service account does not. The person who left between
    // the runs took their mailbox's documents along.
    assert_eq!(demo["mailbox_change"]["removed"][0], "staff-001@example.com");
    let mailboxes: Vec<&str> = demo["documents"]["mailboxes"].as_array().unwrap().iter().filter_map(|m| m.as_str()).collect();
    assert_eq!(mailboxes, ["bob@example.com", "support@example.com", "svc-helpdesk@example.com"], "{demo}");
    let (ok, support, stderr) = host(&["search", "--db", db, "--as", "bob@example.com", "--json", "supportmarker7731"]);
    assert!(ok, "{stderr}");
    let support = support.as_array().unwrap();
    assert!(support.len() == 1 && support[0]["mailbox"] == "support@example.com" && support[0]["kind"] == "mail", "{support:?}");
    let (ok, none, _) = host(&["search", "--db", db, "--as", "svc-helpdesk@example.com", "--json", "supportmarker7731"]);
    assert!(ok && none == serde_json::json!([]), "{none}");
    let (ok, refused, _) = host(&["search", "--db", db, "--as", "bob@example.com", "--kind", "meeting", "--json", "x"]);
    assert!(!ok && refused["error"]["message"].as_str().unwrap().contains("not a kind"), "{refused}");
}

/// A publisher's keys, the host's trust, a signed package of the connector
/// the host was built with, and the checks an install makes: a package
/// with one flipped byte and one signed by a key the host does not trust
/// are refused, each with what to do; `--allow-unsigned` lets the latter
/// through, loudly.
#[test]
fn plugin_keys_trust_pack_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_helpdesk-host")).args(args).env("HELPDESK_HOST_HOME", &home).output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let document: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        (output.status.success(), document, String::from_utf8(output.stderr).unwrap())
    };
    let (ok, key, stderr) = run(&["plugin", "keygen", "-o", &at("team.key"), "--name", "Helpdesk team", "--json"]);
    assert!(ok, "{stderr}");
    let id = key["id"].as_str().unwrap().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(at("team.key")).unwrap().permissions().mode() & 0o777, 0o600, "the private key is the user's alone");
    }
    let (ok, again, _) = run(&["plugin", "keygen", "-o", &at("team.key"), "--json"]);
    assert!(!ok && again["error"]["message"].as_str().unwrap().contains("never overwritten"), "{again}");
    let (ok, _, stderr) = run(&["plugin", "trust", "add", &at("team.key.pub"), "--json"]);
    assert!(ok, "{stderr}");
    let (_, trusted, _) = run(&["plugin", "trust", "list", "--json"]);
    assert_eq!(trusted, serde_json::json!([{ "id": id, "name": "Helpdesk team" }]));

    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin/plugin.toml");
    let (ok, packed, stderr) = run(&["plugin", "pack", "--manifest", manifest, "--key", &at("team.key"), "-o", &at("connector.wasm"), "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!((packed["id"].as_str(), packed["api"].as_str(), packed["key"].as_str()), (Some("exchange-connector"), Some("0.2.0"), Some(id.as_str())), "{packed}");
    let (ok, verified, stderr) = run(&["plugin", "verify", &at("connector.wasm"), "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(verified["key"], serde_json::json!([id, "Helpdesk team"]));
    assert_eq!(verified["digest"], packed["sha256"]);

    let mut bytes = std::fs::read(at("connector.wasm")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(at("flipped.wasm"), &bytes).unwrap();
    let (ok, refused, _) = run(&["plugin", "verify", &at("flipped.wasm"), "--json"]);
    assert!(!ok && refused["error"]["message"].as_str().unwrap().contains("changed after it was signed"), "{refused}");

    run(&["plugin", "keygen", "-o", &at("stranger.key"), "--json"]);
    run(&["plugin", "pack", "--manifest", manifest, "--key", &at("stranger.key"), "-o", &at("stranger.wasm"), "--json"]);
    let (ok, refused, _) = run(&["plugin", "verify", &at("stranger.wasm"), "--json"]);
    assert!(!ok && refused["error"]["message"].as_str().unwrap().contains("does not trust"), "{refused}");
    let (ok, _, stderr) = run(&["plugin", "verify", &at("stranger.wasm"), "--allow-unsigned", "--json"]);
    assert!(ok && stderr.contains("WARNING"), "{stderr}");

    let (ok, _, _) = run(&["plugin", "trust", "remove", &id, "--json"]);
    assert!(ok);
    let (ok, refused, _) = run(&["plugin", "verify", &at("connector.wasm"), "--json"]);
    assert!(!ok && refused["error"]["message"].as_str().unwrap().contains("does not trust"), "no longer trusted: {refused}");
}
