//! Independent parties judge both sides. exchangelib 5.6.0 (from PyPI, in a
//! virtual environment this test makes) reads the folders and contacts of
//! the mailbox and the public folders, and finds exactly what the plugin
//! synced, names and emails included; lxml (which comes with it) validates
//! every EWS request the plugin sent and every answer the emulator gave
//! against the published schema in ../shared/fixtures/ews/schema.

use helpdesk_e2e::{by_external_id, full_sync, setup_with};
use helpdesk_host::emulator::EmulatorOptions;
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<PathBuf> {
    helpdesk_e2e::exchangelib_python(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchangelib_reads_what_the_plugin_synced() {
    let Some(python) = python() else { return };
    // exchangelib sends no public folder routing headers: the easy setup.
    let s = setup_with(EmulatorOptions { contacts: 500, seed: 31, public_folder_routing: false, ..Default::default() }).await;
    let summary = full_sync(&s).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("exchangelib_read.py");
    let endpoint = s.emulator.endpoint();
    let (user, password) = (s.emulator.user().to_string(), s.emulator.password().to_string());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).args([endpoint.as_str(), user.as_str(), password.as_str()]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "exchangelib failed: {}", String::from_utf8_lossy(&output.stderr));
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(read["version"], "15.1.2507.6", "exchangelib read the version from ServerVersionInfo");

    // Each contact exchangelib read is a user of that folder with its name
    // and email, or a contact the plugin skipped (with the reason).
    let users = by_external_id(s.store.users().unwrap());
    let skipped: BTreeSet<&str> = summary.skipped_reasons.iter().map(|r| r.contact.as_str()).collect();
    let folders = read["folders"].as_object().unwrap();
    let public = folders.values().filter(|f| f["public"] == true).count();
    // exchangelib walks every folder below Contacts, Exchange's hidden ones
    // too; a sync reads the default ones only.
    let books: BTreeSet<String> = helpdesk_e2e::address_books(&s.emulator.mailbox()).iter().map(|f| f.id.clone()).collect();
    let internal: Vec<&String> = folders.keys().filter(|id| !books.contains(*id) && folders[*id]["public"] == false).collect();
    assert_eq!(folders.len() - public, 14, "Contacts and its thirteen subfolders: {:?}", folders.keys());
    assert_eq!(internal.len(), 7, "Exchange's seven hidden folders below Contacts");
    assert!(public >= 1, "exchangelib read the public contact folders too");
    let (mut total, mut compared) = (0, 0);
    for (id, folder) in folders {
        if internal.contains(&id) {
            assert!(users.values().all(|u| u.folder_id.as_deref() != Some(id.as_str())), "no user from {}", folder["name"]);
            continue;
        }
        let contacts = folder["contacts"].as_array().unwrap_or_else(|| panic!("{}: {}", folder["name"], folder["error"]));
        for contact in contacts {
            let contact_id = contact["id"].as_str().unwrap();
            total += 1;
            let Some(user) = users.get(contact_id) else {
                assert!(skipped.contains(contact_id), "{contact_id} in {} is neither a user nor skipped", folder["name"]);
                continue;
            };
            compared += 1;
            assert_eq!(user.folder_id.as_deref(), Some(id.as_str()), "{contact_id}");
            assert_eq!(user.firstname, contact["given_name"].as_str().unwrap(), "{contact_id}");
            assert_eq!(user.lastname, contact["surname"].as_str().unwrap(), "{contact_id}");
            // A GAL-made contact's legacy DN is its user's SMTP address.
            let email = contact["email"].as_str().map(|e| s.emulator.mailbox().smtp_of(e).to_string());
            assert_eq!(user.email, email, "{contact_id}");
        }
        let counted = summary.folders.iter().find(|f| &f.id == id).map(|f| f.counts.created + f.counts.skipped);
        assert_eq!(counted.unwrap_or(0), contacts.len() as u64, "folder {}", folder["name"]);
    }
    let synced: u64 = summary.folders.iter().map(|f| f.counts.created + f.counts.skipped).sum();
    assert_eq!(total, synced, "exchangelib read exactly the contacts the plugin synced, public ones included");
    assert_eq!(compared, users.len(), "every user was compared, field by field");
    assert!(total > 400);
}

/// What the schema judge said of a set of SOAP messages.
fn validate(python: &Path, files: &[PathBuf]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ews_schema_check.py");
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/ews/schema");
    assert!(schema.join("messages.xsd").exists(), "../shared/fixtures/ews/schema beside the project");
    let output = Command::new(python).arg(script).arg(schema).args(files).output().unwrap();
    assert!(output.status.success(), "the schema check failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_and_answer_validates_against_the_ews_schema() {
    let Some(python) = python() else { return };
    let s = setup_with(EmulatorOptions { contacts: 150, seed: 32, record: true, ..Default::default() }).await;
    let runtime = Runtime::shared().unwrap();
    // Everything an admin and the scheduler do: check, folders, attributes,
    // a full sync, an incremental one after changes; with the mail of two
    // mailboxes, one of them impersonated.
    s.connection.check(&runtime).await.unwrap();
    s.connection.folders(&runtime).await.unwrap();
    s.connection.attributes(&runtime, 20).await.unwrap();
    let with_mail = s.connection_with(|c| {
        c.documents = Some(Default::default());
        c.exchange.mailboxes = vec![s.emulator.user().into(), helpdesk_host::emulator::COLLEAGUE.into()];
    });
    with_mail.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap();
    s.emulator.mailbox_mut().scripted_change(3);
    s.emulator.mailbox_mut().scripted_mail_change();
    with_mail.sync(&runtime, &s.store, SyncMode::Incremental, false).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut requests = Vec::new();
    let mut answers = Vec::new();
    for (n, exchange) in s.emulator.exchanges().iter().enumerate() {
        let request = dir.path().join(format!("{n:04}-{}-request.xml", exchange.operation));
        let answer = dir.path().join(format!("{n:04}-{}-response.xml", exchange.operation));
        std::fs::write(&request, &exchange.request).unwrap();
        std::fs::write(&answer, &exchange.response).unwrap();
        requests.push(request);
        answers.push(answer);
    }
    let judged = tokio::task::spawn_blocking(move || (validate(&python, &requests), validate(&python, &answers), python)).await.unwrap();
    let (sent, answered, python) = judged;
    assert_eq!(sent["errors"], serde_json::json!([]), "requests the plugin sent that Exchange would refuse");
    assert_eq!(answered["errors"], serde_json::json!([]), "answers the emulator gave that Exchange would not");
    assert_eq!(sent["faults"], 0);
    for operation in ["GetFolder", "FindFolder", "SyncFolderItems", "GetItem", "GetAttachment", "FindItem", "ResolveNames", "RequestServerVersion", "ExchangeImpersonation"] {
        assert!(sent["validated"][operation].as_u64().is_some_and(|n| n > 0), "no {operation} was validated: {sent}");
    }
    for answer in ["GetFolderResponse", "FindFolderResponse", "SyncFolderItemsResponse", "GetItemResponse", "GetAttachmentResponse", "FindItemResponse", "ResolveNamesResponse", "ServerVersionInfo"] {
        assert!(answered["validated"][answer].as_u64().is_some_and(|n| n > 0), "no {answer} was validated: {answered}");
    }

    // The judge can say no: a request with two elements swapped.
    let swapped = dir.path().join("swapped.xml");
    let exchange = s.emulator.exchanges().into_iter().find(|e| e.operation == "GetItem").unwrap();
    let text = String::from_utf8(exchange.request).unwrap();
    let (shape, ids) = (text.find("<m:ItemShape>").unwrap(), text.find("<m:ItemIds>").unwrap());
    let end = text.find("</m:ItemIds>").unwrap() + "</m:ItemIds>".len();
    let reordered = format!("{}{}{}{}", &text[..shape], &text[ids..end], &text[shape..ids], &text[end..]);
    std::fs::write(&swapped, reordered).unwrap();
    let judged = tokio::task::spawn_blocking(move || validate(&python, &[swapped])).await.unwrap();
    assert!(judged["errors"].as_array().is_some_and(|e| !e.is_empty()), "{judged}");
}
