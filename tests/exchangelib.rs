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
    // a full sync, an incremental one after changes; with the content of
    // every mailbox (listed, rooms told apart, folders' permissions read),
    // the others impersonated.
    s.connection.check(&runtime).await.unwrap();
    s.connection.folders(&runtime).await.unwrap();
    s.connection.attributes(&runtime, 20).await.unwrap();
    let with_mail = s.connection_with(|c| {
        c.documents = Some(Default::default());
        c.exchange.mailboxes = vec!["all".into()];
    });
    with_mail.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap();
    s.emulator.mailbox_mut().scripted_change(3);
    s.emulator.mailbox_mut().scripted_mail_change();
    s.emulator.mailbox_mut().scripted_folder_change();
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
    for operation in [
        "GetFolder", "FindFolder", "SyncFolderItems", "GetItem", "GetAttachment", "FindItem", "ResolveNames", "RequestServerVersion", "ExchangeImpersonation",
        "GetSearchableMailboxes", "GetRoomLists", "GetRooms", "SyncFolderHierarchy",
    ] {
        assert!(sent["validated"][operation].as_u64().is_some_and(|n| n > 0), "no {operation} was validated: {sent}");
    }
    for answer in [
        "GetFolderResponse", "FindFolderResponse", "SyncFolderItemsResponse", "GetItemResponse", "GetAttachmentResponse", "FindItemResponse", "ResolveNamesResponse", "ServerVersionInfo",
        "GetSearchableMailboxesResponse", "GetRoomListsResponse", "GetRoomsResponse", "SyncFolderHierarchyResponse",
    ] {
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

fn instant(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The day an instant falls on in a Windows time zone.
fn local_day(at: time::OffsetDateTime, zone: &str) -> String {
    let offset = helpdesk_host::emulator::zones::offset_at(zone, at).unwrap_or_else(|| panic!("zone {zone}"));
    at.to_offset(offset).date().to_string()
}

fn same_instant(read: &serde_json::Value, truth: Option<&str>, what: &str) {
    match truth {
        Some(truth) => assert_eq!(read.as_str().map(instant), Some(instant(truth)), "{what}"),
        None => assert!(read.is_null(), "{what}: {read}"),
    }
}

/// exchangelib's reading of every calendar and task folder of the service
/// mailbox.
async fn exchangelib_calendars(python: &Path, emulator: &helpdesk_host::emulator::Emulator) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("exchangelib_calendar.py");
    let (python, endpoint) = (python.to_path_buf(), emulator.endpoint());
    let (user, password) = (emulator.user().to_string(), emulator.password().to_string());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).args([endpoint.as_str(), user.as_str(), password.as_str()]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "exchangelib failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Each event and task exchangelib read equals the emulator's, field by
/// field, and it read all of them.
fn assert_calendars_match(read: &serde_json::Value, mailbox: &helpdesk_host::emulator::data::Mailbox) {
    use helpdesk_host::emulator::data::calendar::EventKind;
    let folder_name = |id: &str| mailbox.folder(id).map(|f| f.name.clone()).unwrap();
    let names = |list: &serde_json::Value| -> Vec<String> { list.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect() };
    let events = read["events"].as_array().unwrap();
    assert_eq!(events.len(), mailbox.events.len(), "every event, each exception by the id its master lists");
    for e in &mailbox.events {
        let r = events.iter().find(|r| r["id"] == e.id.as_str()).unwrap_or_else(|| panic!("{} not read", e.subject));
        let what = &e.subject;
        assert_eq!(r["folder"], folder_name(&e.folder_id).as_str(), "{what}");
        assert_eq!(r["subject"], e.subject.as_str());
        assert_eq!(r["body"], e.body.as_str(), "{what}");
        assert_eq!(r["all_day"], e.all_day, "{what}");
        if e.all_day {
            // exchangelib gives an all-day event's first and last day, in its zone.
            assert_eq!(r["start"], local_day(instant(&e.start), e.time_zone).as_str(), "{what}");
            assert_eq!(r["end"], local_day(instant(&e.end) - time::Duration::SECOND, e.time_zone).as_str(), "{what}");
        } else {
            same_instant(&r["start"], Some(&e.start), what);
            same_instant(&r["end"], Some(&e.end), what);
        }
        let location = (!e.location.is_empty()).then_some(e.location.as_str());
        assert_eq!(r["location"].as_str(), location, "{what}");
        assert_eq!(r["type"], e.kind.ews(), "{what}");
        assert_eq!(r["organizer"], e.organizer.address.as_str(), "{what}");
        assert_eq!(names(&r["required"]), e.required.iter().map(|p| p.address.clone()).collect::<Vec<_>>(), "{what}");
        assert_eq!(names(&r["optional"]), e.optional.iter().map(|p| p.address.clone()).collect::<Vec<_>>(), "{what}");
        assert_eq!(names(&r["attachments"]), e.attachments.iter().map(|a| a.name.clone()).collect::<Vec<_>>(), "{what}");
        same_instant(&r["original_start"], e.original_start.as_deref(), what);
        let deleted: Vec<_> = r["deleted"].as_array().unwrap().iter().map(|d| instant(d.as_str().unwrap())).collect();
        assert_eq!(deleted, e.deleted_occurrences.iter().map(|d| instant(d)).collect::<Vec<_>>(), "{what}");
        let modified = r["modified"].as_array().unwrap();
        let exceptions: Vec<_> = mailbox.exceptions_of(&e.id).collect();
        assert_eq!(modified.len(), exceptions.len(), "{what}");
        for (m, x) in modified.iter().zip(&exceptions) {
            assert_eq!(m["id"], x.id.as_str());
            same_instant(&m["start"], Some(&x.start), what);
            same_instant(&m["original_start"], x.original_start.as_deref(), what);
        }
        match &e.recurrence {
            None => assert!(r["recurrence"].is_null(), "{what}"),
            Some(w) => {
                assert_eq!(e.kind, EventKind::RecurringMaster);
                let days: Vec<String> = w.days.iter().map(|d| (["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"].iter().position(|x| x == d).unwrap() + 1).to_string()).collect();
                assert_eq!(r["recurrence"]["interval"], w.interval, "{what}");
                assert_eq!(names(&r["recurrence"]["weekdays"]), days, "{what}");
                assert_eq!(r["recurrence"]["start"], w.start_date.as_str(), "{what}");
                assert_eq!(r["recurrence"]["end"], w.end_date.as_str(), "{what}");
            }
        }
    }
    let tasks = read["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), mailbox.tasks.len(), "every task");
    for t in &mailbox.tasks {
        let r = tasks.iter().find(|r| r["id"] == t.id.as_str()).unwrap_or_else(|| panic!("{} not read", t.subject));
        let what = &t.subject;
        assert_eq!(r["folder"], folder_name(&t.folder_id).as_str(), "{what}");
        assert_eq!(r["subject"], t.subject.as_str());
        assert_eq!(r["status"], t.status, "{what}");
        assert_eq!(r["percent_complete"].as_f64(), Some(f64::from(t.percent_complete)), "{what}");
        // A due date is a day: exchangelib reads it as a date.
        assert_eq!(r["due"].as_str(), t.due.as_deref().map(|d| &d[..10]), "{what}");
        same_instant(&r["completed"], t.completed.as_deref(), what);
        assert_eq!(r["owner"], t.owner.as_str(), "{what}");
        assert_eq!(r["recurring"], t.recurrence.is_some(), "{what}");
        assert_eq!(names(&r["attachments"]), t.attachments.iter().map(|a| a.name.clone()).collect::<Vec<_>>(), "{what}");
    }
}

/// exchangelib reads the calendars and tasks as the emulator keeps them:
/// the series master with its pattern, its exception by the id the master
/// lists, its deleted occurrence, the all-day event, the event in another
/// zone, attachments, task states; again after the series and a task
/// changed; and every answer the emulator gave passes the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchangelib_reads_calendars_and_tasks_as_the_emulator_keeps_them() {
    let Some(python) = python() else { return };
    let emulator = helpdesk_host::emulator::Emulator::start(EmulatorOptions { contacts: 20, seed: 33, record: true, ..Default::default() }).await.unwrap();
    {
        let mailbox = emulator.mailbox();
        assert!(mailbox.events.iter().any(|e| e.kind == helpdesk_host::emulator::data::calendar::EventKind::Exception));
        assert!(mailbox.events.iter().any(|e| e.all_day) && mailbox.tasks.iter().any(|t| t.status == "Completed"));
    }
    let read = exchangelib_calendars(&python, &emulator).await;
    assert_calendars_match(&read, &emulator.mailbox());

    let changed = emulator.mailbox_mut().scripted_calendar_change();
    assert!(!changed.is_empty());
    let again = exchangelib_calendars(&python, &emulator).await;
    assert_ne!(again, read, "the change was read");
    assert_calendars_match(&again, &emulator.mailbox());

    let dir = tempfile::tempdir().unwrap();
    let answers: Vec<PathBuf> = emulator
        .exchanges()
        .iter()
        .enumerate()
        .map(|(n, exchange)| {
            let answer = dir.path().join(format!("{n:04}-{}-response.xml", exchange.operation));
            std::fs::write(&answer, &exchange.response).unwrap();
            answer
        })
        .collect();
    let answered = tokio::task::spawn_blocking(move || validate(&python, &answers)).await.unwrap();
    assert_eq!(answered["errors"], serde_json::json!([]), "answers the emulator gave that Exchange would not");
    for answer in ["SyncFolderItemsResponse", "GetItemResponse", "FindFolderResponse"] {
        assert!(answered["validated"][answer].as_u64().is_some_and(|n| n > 0), "no {answer} was validated: {answered}");
    }
}
