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
    let shared = helpdesk_host::emulator::SHARED_MAILBOX;
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

/// One request with curl, an independent client: status and JSON body.
fn curl(url: &str, extra: &[&str]) -> (u16, serde_json::Value) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl runs (CI installs it)");
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.trim().parse().unwrap(), serde_json::from_str(body).unwrap_or_else(|e| panic!("{url}: {e}: {body}")))
}

fn documented(name: &str) -> serde_json::Value {
    let dir = helpdesk_e2e::fixtures_of("graph").expect("../shared/fixtures/graph");
    let path = dir.join("msdocs").join(format!("{name}_response.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Where `ours` differs in shape from Microsoft's samples of the same
/// thing: a name no sample has, a type no sample gives it, and with
/// `exact`, a name of the first sample that we leave out. Values are
/// not compared: the samples' are placeholders.
fn shape_differences(ours: &serde_json::Value, samples: &[&serde_json::Value], exact: bool, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match ours {
        Value::Object(object) => {
            let objects: Vec<&serde_json::Map<String, Value>> = samples.iter().filter_map(|s| s.as_object()).collect();
            for (key, value) in object {
                let theirs: Vec<&Value> = objects.iter().filter_map(|o| o.get(key)).collect();
                if theirs.is_empty() {
                    out.push(format!("{at}.{key}: not in the documented samples"));
                    continue;
                }
                let typed: Vec<&Value> = theirs.iter().copied().filter(|v| !v.is_null()).collect();
                if !value.is_null() && !typed.is_empty() && !typed.iter().any(|v| kind(v) == kind(value)) {
                    out.push(format!("{at}.{key}: {} where the samples have {}", kind(value), kind(typed[0])));
                }
                shape_differences(value, &typed, false, &format!("{at}.{key}"), out);
            }
            if let (true, Some(first)) = (exact, objects.first()) {
                out.extend(first.keys().filter(|k| !object.contains_key(*k)).map(|k| format!("{at}.{k}: documented, missing")));
            }
        }
        Value::Array(items) => {
            let elements: Vec<&Value> = samples.iter().filter_map(|s| s.as_array()).flatten().collect();
            if !elements.is_empty() {
                for (i, item) in items.iter().enumerate() {
                    shape_differences(item, &elements, exact, &format!("{at}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[track_caller]
fn assert_documented_shape(what: &str, ours: &serde_json::Value, samples: &[&serde_json::Value], exact: bool) {
    let mut out = Vec::new();
    shape_differences(ours, samples, exact, what, &mut out);
    assert!(out.is_empty(), "{what} differs from Microsoft's documented samples:\n{}", out.join("\n"));
}

/// The emulator's Graph answers have the shapes of Microsoft's documented
/// responses in ../shared/fixtures/graph: field names, their types, the
/// link names of pages and delta rounds, `@removed`, the error envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulators_graph_answers_have_the_documented_shapes() {
    use helpdesk_host::emulator::graph::{CLIENT_ID, CLIENT_SECRET, MAILBOXLESS_USER, TENANT};
    let emulator = emulator(EmulatorOptions { contacts: 40, ..EmulatorOptions::default() }).await;
    let base = emulator.graph_base();
    let (status, token) = curl(
        &format!("{base}/{TENANT}/oauth2/v2.0/token"),
        &[
            "--data-urlencode", "grant_type=client_credentials",
            "--data-urlencode", &format!("client_id={CLIENT_ID}"),
            "--data-urlencode", &format!("client_secret={CLIENT_SECRET}"),
            "--data-urlencode", &format!("scope={base}/.default"),
        ],
    );
    assert_eq!(status, 200, "{token}");
    let bearer = format!("Authorization: Bearer {}", token["access_token"].as_str().unwrap());
    let get = |path: &str, prefer: Option<&str>| {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{base}/v1.0/{path}") };
        let prefer = prefer.map(|p| format!("Prefer: {p}"));
        let mut args = vec!["-H", bearer.as_str()];
        if let Some(p) = &prefer {
            args.extend(["-H", p.as_str()]);
        }
        curl(&url, &args)
    };
    let page_keys = ["@odata.context", "value", "@odata.nextLink", "@odata.deltaLink"];
    let assert_page = |what: &str, page: &serde_json::Value| {
        let keys: Vec<&String> = page.as_object().unwrap().keys().collect();
        assert!(keys.iter().all(|k| page_keys.contains(&k.as_str())), "{what}: {keys:?}");
        assert!(page["value"].is_array(), "{what}");
    };

    // Users: the default property set, pages behind @odata.nextLink.
    let (status, users) = get("users?$top=2", None);
    assert_eq!(status, 200);
    assert_page("users", &users);
    assert_documented_shape("users", &users["value"], &[&documented("user-list__01")["value"]], true);
    assert!(users["@odata.nextLink"].is_string(), "a page of two of three users links to the next");
    let (_, rest) = get(users["@odata.nextLink"].as_str().unwrap(), None);
    assert_documented_shape("users page 2", &rest["value"], &[&documented("user-list__01")["value"]], true);
    let (_, selected) = get("users?$select=id,mail", None);
    for user in selected["value"].as_array().unwrap() {
        let mut keys: Vec<&String> = user.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["id", "mail"], "$select returns what it names");
    }

    // Contact folders and a folder, as documented.
    let me = users["value"][0]["id"].as_str().unwrap().to_string();
    let (_, folders) = get(&format!("users/{me}/contactFolders"), None);
    assert_page("contactFolders", &folders);
    let folder_samples = documented("user-list-contactfolders__01");
    let child_samples = documented("contactfolder-list-childfolders__01");
    let one_sample = documented("contactfolder-get__01");
    assert_documented_shape("contactFolders", &folders["value"], &[&folder_samples["value"]], true);
    let listed = folders["value"].as_array().unwrap();
    assert!(!listed.is_empty());
    // Ids are base64: `/` and `+` escaped in a path, as clients do.
    let escape = |id: &str| id.replace('%', "%25").replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
    for folder in listed {
        let id = escape(folder["id"].as_str().unwrap());
        let (_, one) = get(&format!("users/{me}/contactFolders/{id}"), None);
        assert_documented_shape("contactFolder", &one, &[&one_sample], true);
        let (_, children) = get(&format!("users/{me}/contactFolders/{id}/childFolders"), None);
        assert_page("childFolders", &children);
        assert_documented_shape("childFolders", &children["value"], &[&child_samples["value"]], true);
    }

    // Contacts: every property contact-get documents, and no other.
    let contact_sample = documented("contact-get__01");
    let (_, contacts) = get(&format!("users/{me}/contacts?$top=3"), None);
    assert_page("contacts", &contacts);
    assert!(contacts["@odata.nextLink"].is_string());
    let mut one_contact = contact_sample.clone();
    one_contact.as_object_mut().unwrap().remove("@odata.context");
    // contact-get leaves its addresses empty (`{}`); a physicalAddress as
    // Graph fills one is in an event's location (delta-query-events).
    let address = documented("delta-query-events__04")["value"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|event| event.pointer("/location/address").cloned())
        .expect("an event with an address");
    for kind in ["businessAddress", "homeAddress", "otherAddress"] {
        one_contact[kind] = address.clone();
    }
    assert_documented_shape("contacts", &contacts["value"], &[&serde_json::json!([one_contact])], true);
    let (_, parent) = get(&format!("users/{me}/contacts?$top=1&$select=parentFolderId"), None);
    let mut keys: Vec<&String> = parent["value"][0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["@odata.etag", "id", "parentFolderId"]);

    // A delta round: nextLinks, then a deltaLink; the next round brings
    // a deleted contact as `@removed`.
    let default_folder = parent["value"][0]["parentFolderId"].as_str().unwrap().to_string();
    let delta_sample = documented("contact-delta__01");
    let mut link = format!("users/{me}/contactFolders/{}/contacts/delta", escape(&default_folder));
    let mut pages = 0;
    let delta_link = loop {
        let (status, page) = get(&link, Some("odata.maxpagesize=5"));
        assert_eq!(status, 200, "{page}");
        assert_page("delta", &page);
        pages += 1;
        assert_documented_shape("delta", &page["value"], &[&serde_json::json!([one_contact.clone()]), &delta_sample["value"]], false);
        match (page["@odata.nextLink"].as_str(), page["@odata.deltaLink"].as_str()) {
            (Some(next), None) => link = next.to_string(),
            (None, Some(delta)) => break delta.to_string(),
            other => panic!("a delta page has exactly one of nextLink and deltaLink: {other:?}"),
        }
    };
    assert!(pages > 1, "pages of five");
    let gone = emulator.mailbox().items_in(emulator.mailbox().folder(&default_folder).unwrap()).next().unwrap().id.clone();
    emulator.mailbox_mut().remove(&gone).unwrap();
    let (_, round) = get(&delta_link, None);
    assert!(round["@odata.deltaLink"].is_string(), "{round}");
    let removed_sample = documented("delta-query-messages__04");
    let removed: Vec<&serde_json::Value> = round["value"].as_array().unwrap().iter().filter(|v| v.get("@removed").is_some()).collect();
    assert_eq!(removed.len(), 1, "{round}");
    assert_eq!(removed[0]["id"], gone.as_str());
    assert_eq!(removed[0]["@odata.type"], "#microsoft.graph.contact");
    assert_documented_shape("@removed", &serde_json::json!(removed), &[&removed_sample["value"]], true);

    // Errors: Graph's envelope, for a user without a mailbox and a bad token.
    let error_sample = documented("errors__01");
    let (status, no_mailbox) = get(&format!("users/{MAILBOXLESS_USER}/contacts"), None);
    assert_eq!(status, 404);
    assert_eq!(no_mailbox["error"]["code"], "MailboxNotEnabledForRESTAPI");
    assert_documented_shape("no mailbox", &no_mailbox, &[&error_sample], true);
    let (status, unauthorized) = curl(&format!("{base}/v1.0/users"), &["-H", "Authorization: Bearer nope"]);
    assert_eq!(status, 401);
    assert_documented_shape("bad token", &unauthorized, &[&error_sample], true);
}

/// 429 as concepts/throttling documents it: the envelope, and Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_graph_answer_has_the_documented_shape() {
    let emulator = emulator(EmulatorOptions { throttle_every: Some(1), ..EmulatorOptions::default() }).await;
    let out = std::process::Command::new("curl")
        .args(["-sS", "-D", "-", "-H", "Authorization: Bearer any"])
        .arg(format!("{}/v1.0/users", emulator.graph_base()))
        .output()
        .expect("curl runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    let retry = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().to_string()));
    assert!(retry.is_some_and(|v| v.parse::<f64>().is_ok()), "{head}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_documented_shape("429", &body, &[&documented("throttling__01")], true);
}
