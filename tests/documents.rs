//! Mail and attachments as searchable documents, over EWS against the
//! emulator's two mailboxes: the documents table equals the emulator's
//! mail field by field, in the folders a sync should read; searches admit
//! only the owner; an unchanged rerun reads no body; the scripted changes
//! come back as exactly those changes.

use helpdesk_host::config::DocumentsConfig;
use helpdesk_host::emulator::data::Mailbox;
use helpdesk_host::emulator::data::mail::{
    Body, Content, DOCX_MARKER, HTML_ATTACHMENT_MARKER, JAPANESE_PHRASE, LARGE_ATTACHMENT_NAME, PDF_MARKER, TEXT_ATTACHMENT_MARKER, XLSX_MARKER,
};
use helpdesk_host::emulator::{COLLEAGUE, EmulatorOptions};
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;
use helpdesk_host::documents::search;
use helpdesk_host::summary::Summary;
use helpdesk_e2e::Setup;
use std::collections::BTreeMap;

const OWNER: &str = "svc-helpdesk@example.com";

async fn setup() -> (Setup, helpdesk_host::runs::Connection) {
    let s = helpdesk_e2e::setup_with(EmulatorOptions { contacts: 20, seed: 51, messages: 12, record: true, ..Default::default() }).await;
    let connection = s.connection_with(|c| {
        c.documents = Some(DocumentsConfig::default());
        c.exchange.mailboxes = vec![OWNER.into(), COLLEAGUE.into()];
    });
    (s, connection)
}

async fn sync(s: &Setup, connection: &helpdesk_host::runs::Connection, mode: SyncMode) -> Summary {
    connection.sync(&Runtime::shared().unwrap(), &s.store, mode, false).await.unwrap_or_else(|e| panic!("{e}"))
}

/// What a document row says, as the emulator would have it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    id: String,
    version: String,
    kind: String,
    mailbox: String,
    folder_path: String,
    parent_id: Option<String>,
    thread_id: Option<String>,
    title: String,
    body: String,
    received: Option<String>,
    sender: Option<String>,
    is_read: Option<bool>,
    extraction: Option<String>,
}

fn stored(s: &Setup) -> Vec<Row> {
    stored_in(&s.store)
}

fn stored_in(store: &helpdesk_host::store::Store) -> Vec<Row> {
    let conn = store.lock();
    let mut statement = conn
        .prepare(
            "SELECT id, version, kind, mailbox, folder_path, parent_id, thread_id, title, body, received, sender, is_read,
                    json_extract(attachment, '$.extraction') FROM documents ORDER BY id",
        )
        .unwrap();
    let rows = statement
        .query_map([], |r| {
            Ok(Row {
                id: r.get(0)?,
                version: r.get(1)?,
                kind: r.get(2)?,
                mailbox: r.get(3)?,
                folder_path: r.get(4)?,
                parent_id: r.get(5)?,
                thread_id: r.get(6)?,
                title: r.get(7)?,
                body: r.get(8)?,
                received: r.get(9)?,
                sender: r.get(10)?,
                is_read: r.get(11)?,
                extraction: r.get(12)?,
            })
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

/// The folders a default sync reads, by id, with their paths: IPF.Note
/// folders (with `calendars`, calendar and task folders too) below the
/// message root, not search folders, outside Deleted Items and Drafts.
fn read_folders(mailbox: &Mailbox, calendars: bool) -> BTreeMap<String, String> {
    let root = mailbox.distinguished("msgfolderroot").unwrap().id.clone();
    let mut folders = BTreeMap::new();
    for folder in &mailbox.folders {
        let mail = folder.element == "Folder" && folder.class == "IPF.Note";
        let calendar = matches!(folder.element, "CalendarFolder" | "TasksFolder");
        if !(mail || calendars && calendar) {
            continue;
        }
        let mut parts = vec![folder.name.clone()];
        let mut parent = folder.parent.clone();
        let mut inside_root = false;
        let mut excluded = matches!(folder.distinguished, Some("deleteditems" | "drafts"));
        while let Some(p) = parent {
            if p == root {
                inside_root = true;
                break;
            }
            let above = mailbox.folder(&p).unwrap();
            excluded |= matches!(above.distinguished, Some("deleteditems" | "drafts"));
            parts.push(above.name.clone());
            parent = above.parent.clone();
        }
        if inside_root && !excluded {
            parts.reverse();
            folders.insert(folder.id.clone(), parts.join(" -> "));
        }
    }
    folders
}

/// Which ids the documents carry: EWS ids, or Graph's immutable ones.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ids {
    Ews,
    Immutable,
}

/// The emulator's truth: every message of the folders read, and its
/// attachments, as documents; every event and task with theirs.
fn truth(mailboxes: &[&Mailbox], max_bytes: u64, ids: Ids) -> Vec<Row> {
    let id = |ews: &String, immutable: &String| if ids == Ids::Ews { ews.clone() } else { immutable.clone() };
    let mut rows = Vec::new();
    // Graph's calendars and task lists are flat (by name).
    let graph = ids == Ids::Immutable;
    for mailbox in mailboxes {
        let folders = read_folders(mailbox, true);
        let calendar_path = |folder: &String| if graph { mailbox.folder(folder).unwrap().name.clone() } else { folders[folder].clone() };
        for m in mailbox.messages.iter().filter(|m| folders.contains_key(&m.folder_id)) {
            let body = match &m.body {
                Body::Html(html) => helpdesk_host::emulator::ews::mail::html_to_text(html),
                Body::Text(text) => text.trim().to_string(),
            };
            let sender = Some(format!("{} <{}>", m.from.name, m.from.address));
            rows.push(Row {
                id: id(&m.id, &m.immutable_id),
                version: m.change_key.clone(),
                kind: "mail".into(),
                mailbox: mailbox.address.clone(),
                folder_path: folders[&m.folder_id].clone(),
                parent_id: None,
                thread_id: Some(m.conversation_id.clone()),
                title: m.subject.clone(),
                body,
                received: Some(m.received.clone()),
                sender: sender.clone(),
                is_read: Some(m.is_read),
                extraction: None,
            });
            let parent = rows.last().cloned().unwrap();
            for a in &m.attachments {
                rows.push(attachment_row(a, &parent, id(&a.id, &a.immutable_id), max_bytes));
            }
        }
        let events = mailbox.events.iter().filter(|e| folders.contains_key(&e.folder_id)).map(|e| {
            let sender = Some(format!("{} <{}>", e.organizer.name, e.organizer.address));
            (e.id.clone(), e.change_key.clone(), "event", calendar_path(&e.folder_id), e.master_id.clone(), e.subject.clone(), e.body.clone(), sender, &e.attachments)
        });
        let tasks = mailbox.tasks.iter().filter(|t| folders.contains_key(&t.folder_id)).map(|t| {
            (t.id.clone(), t.change_key.clone(), "task", calendar_path(&t.folder_id), None, t.subject.clone(), t.body.clone(), None, &t.attachments)
        });
        for (item_id, version, kind, folder, parent_id, title, body, sender, attachments) in events.chain(tasks) {
            let row = Row {
                id: item_id,
                version,
                kind: kind.into(),
                mailbox: mailbox.address.clone(),
                folder_path: folder,
                parent_id,
                thread_id: None,
                title,
                body: body.trim().to_string(),
                received: None,
                sender,
                is_read: None,
                extraction: None,
            };
            for a in attachments {
                rows.push(attachment_row(a, &row, id(&a.id, &a.immutable_id), max_bytes));
            }
            rows.push(row);
        }
    }
    rows.sort();
    rows
}

/// An attachment's row below its item's.
fn attachment_row(a: &helpdesk_host::emulator::data::mail::Attachment, parent: &Row, id: String, max_bytes: u64) -> Row {
    let (extraction, body) = match &a.content {
        Content::Item { .. } => ("item", String::new()),
        _ if a.size() > max_bytes => ("too_large", String::new()),
        Content::Bytes(bytes) if a.content_type == "text/plain" => ("extracted", String::from_utf8(bytes.clone()).unwrap().trim().to_string()),
        // A PDF cut short: its reading fails, alone.
        Content::Bytes(_) if a.name == "scan.pdf" => ("failed", String::new()),
        // Their text is the plugin's reading, checked by its words.
        Content::Bytes(_) if [".html", ".pdf", ".docx", ".xlsx"].iter().any(|e| a.name.ends_with(e)) => ("extracted", String::new()),
        _ => ("unsupported_type", String::new()),
    };
    Row {
        id,
        kind: "attachment".into(),
        parent_id: Some(parent.id.clone()),
        title: a.name.clone(),
        body,
        is_read: None,
        extraction: Some(extraction.into()),
        ..parent.clone()
    }
}

/// The word each read file hides.
const MARKERS: &[(&str, &str)] = &[(".html", HTML_ATTACHMENT_MARKER), (".pdf", PDF_MARKER), (".docx", DOCX_MARKER), (".xlsx", XLSX_MARKER)];

/// The stored rows against the truth; the text of an HTML, PDF, DOCX or
/// XLSX file is the plugin's own reading, checked by its word.
fn assert_documents_match(s: &Setup) {
    assert_documents_match_in(s, &s.store, Ids::Ews);
}

fn assert_documents_match_in(s: &Setup, store: &helpdesk_host::store::Store, ids: Ids) {
    let primary = s.emulator.mailbox();
    let colleagues = s.emulator.colleagues();
    assert_rows_match(store, &[&primary, &colleagues[0]], ids);
}

/// The stored rows against the truth of `mailboxes`.
fn assert_rows_match(store: &helpdesk_host::store::Store, mailboxes: &[&Mailbox], ids: Ids) {
    let mut expected = truth(mailboxes, 10 << 20, ids);
    let mut got = stored_in(store);
    for (rows, read) in [(&mut expected, false), (&mut got, true)] {
        for row in rows.iter_mut().filter(|r| r.kind == "attachment" && r.title != "scan.pdf") {
            let Some((_, marker)) = MARKERS.iter().find(|(e, _)| row.title.ends_with(e)) else { continue };
            if read {
                assert!(row.body.contains(marker) && !row.body.contains('<'), "{}: {}", row.title, row.body);
            }
            row.body.clear();
        }
    }
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_and_attachments_become_documents_only_their_owner_finds() {
    let (s, connection) = setup().await;
    let full = sync(&s, &connection, SyncMode::Full).await;
    assert_documents_match(&s);
    let documents = full.documents.clone().expect("a documents summary");
    assert!(documents.by_kind["mail"].created > 20 && documents.by_kind["attachment"].created >= 5, "{documents:?}");
    assert!(
        documents.skipped_reasons.iter().any(|r| r.title == LARGE_ATTACHMENT_NAME && r.reason.contains("too large")),
        "{:?}",
        documents.skipped_reasons
    );
    assert!(!s.emulator.downloads().iter().any(|d| d == LARGE_ATTACHMENT_NAME), "the large file is never downloaded");
    assert!(!s.emulator.downloads().iter().any(|d| d.ends_with(".png")), "nor a type whose text is not read");
    // The files of a GetItem batch come in one GetAttachment, whichever
    // message they belong to.
    let mailbox = s.emulator.mailbox();
    let messages_per_request: Vec<usize> = s
        .emulator
        .exchanges()
        .iter()
        .filter(|e| e.operation == "GetAttachment")
        .map(|e| {
            let named = |id: &str| e.request.windows(id.len() + 2).any(|w| w == format!("\"{id}\"").as_bytes());
            mailbox.messages.iter().filter(|m| m.attachments.iter().any(|a| named(&a.id))).count()
        })
        .collect();
    assert!(messages_per_request.iter().any(|&n| n >= 2), "one request for several messages' files: {messages_per_request:?}");
    drop(mailbox);
    // No document of Deleted Items, Drafts or the search folder.
    let paths: std::collections::BTreeSet<String> = stored(&s).into_iter().map(|r| r.folder_path).collect();
    assert!(paths.contains("Projects -> 2026") && paths.contains("Archive") && paths.contains("Posteingang"), "{paths:?}");
    assert!(!paths.iter().any(|p| p.contains("Deleted") || p.contains("Gelöschte") || p == "Drafts" || p.contains("Unread from")), "{paths:?}");

    let broken = documents.failed_reasons.iter().find(|r| r.title == "scan.pdf").expect("the broken PDF failed");
    assert!(broken.reason.contains("PDF"), "{broken:?}");
    assert_eq!(documents.failed_reasons.len(), 1, "{:?}", documents.failed_reasons);

    let conn = s.store.lock();
    for marker in [PDF_MARKER, DOCX_MARKER, XLSX_MARKER] {
        let hits = search(&conn, OWNER, marker, None, 10).unwrap();
        assert_eq!((hits.len(), hits[0].kind.as_str()), (1, "attachment"), "{marker}: {hits:?}");
        assert!(hits[0].parent_id.is_some() && hits[0].snippet.contains(&format!("[{marker}]")), "{hits:?}");
        assert!(search(&conn, COLLEAGUE, marker, None, 10).unwrap().is_empty());
    }
    let hits = search(&conn, OWNER, TEXT_ATTACHMENT_MARKER, None, 10).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let parent = s.emulator.mailbox().messages.iter().find(|m| m.attachments.iter().any(|a| a.id == hits[0].id)).unwrap().id.clone();
    assert_eq!((hits[0].kind.as_str(), hits[0].parent_id.as_deref()), ("attachment", Some(parent.as_str())));
    assert_eq!(search(&conn, OWNER, JAPANESE_PHRASE, Some("mail"), 10).unwrap().len(), 1);
    for word in [TEXT_ATTACHMENT_MARKER, HTML_ATTACHMENT_MARKER, JAPANESE_PHRASE] {
        assert!(search(&conn, COLLEAGUE, word, None, 10).unwrap().is_empty(), "{word} is not bob's");
    }
    assert!(!search(&conn, COLLEAGUE, "Mittagessen", None, 10).unwrap().is_empty(), "bob finds his own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_rerun_reads_no_body_and_changes_come_back_as_themselves() {
    let (s, connection) = setup().await;
    sync(&s, &connection, SyncMode::Full).await;
    // Messages read: GetItem requests naming a message (contacts are read
    // by the contacts' sync, whose full runs read them all).
    let mail_reads = || {
        let primary = s.emulator.mailbox();
        let colleagues = s.emulator.colleagues();
        let ids: Vec<String> = primary.messages.iter().chain(colleagues[0].messages.iter()).map(|m| format!("\"{}\"", m.id)).collect();
        s.emulator
            .exchanges()
            .iter()
            .filter(|e| e.operation == "GetItem" && ids.iter().any(|id| e.request.windows(id.len()).any(|w| w == id.as_bytes())))
            .count()
    };
    let count = |op: &str| s.emulator.stats().operations().get(op).copied().unwrap_or(0);
    let (items, attachments) = (mail_reads(), count("GetAttachment"));
    let again = sync(&s, &connection, SyncMode::Incremental).await;
    assert_eq!((mail_reads(), count("GetAttachment")), (items, attachments), "no body read again");
    let d = again.documents.unwrap_or_default();
    assert_eq!((d.counts.created, d.counts.updated, d.counts.removed), (0, 0, 0));
    // A full rerun compares change keys: still no body.
    sync(&s, &connection, SyncMode::Full).await;
    assert_eq!((mail_reads(), count("GetAttachment")), (items, attachments), "a full rerun reads no unchanged body");
    assert_documents_match(&s);

    let script = s.emulator.mailbox_mut().scripted_mail_change();
    assert_eq!((script.added.len(), script.moved.len(), script.deleted.len(), script.read.len(), script.edited.len()), (1, 1, 1, 1, 1));
    let changed = sync(&s, &connection, SyncMode::Incremental).await.documents.unwrap();
    let mail = changed.by_kind["mail"];
    // Added and moved in (a new id); moved out and deleted; read and edited.
    assert_eq!((mail.created, mail.removed, mail.updated), (2, 2, 2), "{changed:?}");
    assert_eq!(mail_reads() - items, 2, "one GetItem per folder with messages to read: the Inbox (added, edited), the Archive (moved in)");
    assert_documents_match(&s);
}

/// A run's document summary, its EWS operations (a GetFolder asking for
/// permissions, and a FindFolder in bob's mailbox, told apart: only a
/// document listing sends them), and how many SyncFolderItems named each
/// document folder of the two mailboxes.
async fn counted_run(s: &Setup, connection: &helpdesk_host::runs::Connection, mode: SyncMode) -> (helpdesk_host::documents::DocumentSummary, BTreeMap<String, usize>, Vec<usize>) {
    let before = s.emulator.exchanges().len();
    let summary = sync(s, connection, mode).await;
    let exchanges = s.emulator.exchanges();
    let mut operations: BTreeMap<String, usize> = BTreeMap::new();
    for e in &exchanges[before..] {
        let request = String::from_utf8_lossy(&e.request);
        let op = match e.operation.as_str() {
            "GetFolder" if request.contains("PermissionSet") => "GetFolder with permissions".to_string(),
            "FindFolder" if request.contains(COLLEAGUE) => "FindFolder in bob's mailbox".to_string(),
            other => other.to_string(),
        };
        *operations.entry(op).or_default() += 1;
    }
    let folders: Vec<String> = {
        let primary = s.emulator.mailbox();
        let colleagues = s.emulator.colleagues();
        read_folders(&primary, true).into_keys().chain(read_folders(&colleagues[0], true).into_keys()).collect()
    };
    let syncs = folders
        .iter()
        .map(|id| {
            let id = format!("\"{id}\"");
            exchanges[before..].iter().filter(|e| e.operation == "SyncFolderItems" && e.request.windows(id.len()).any(|w| w == id.as_bytes())).count()
        })
        .collect();
    (summary.documents.unwrap_or_default(), operations, syncs)
}

/// An unchanged incremental run asks each mailbox once whether its
/// folders changed (SyncFolderHierarchy) and each folder once for its
/// items, and lists no folder tree; a folder made, renamed or deleted
/// (moved into Deleted Items, as Outlook does) is followed on the next
/// run: its message found, its documents' paths moved, its documents gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_changes_are_followed_and_an_unchanged_run_lists_no_folders() {
    let (s, connection) = setup().await;
    sync(&s, &connection, SyncMode::Full).await;
    let (unchanged, operations, syncs) = counted_run(&s, &connection, SyncMode::Incremental).await;
    assert_eq!((unchanged.counts.created, unchanged.counts.updated, unchanged.counts.removed), (0, 0, 0), "{unchanged:?}");
    println!("an unchanged run: {operations:?}");
    assert_eq!(operations.get("SyncFolderHierarchy"), Some(&2), "one per mailbox: {operations:?}");
    assert_eq!(operations.get("GetFolder with permissions"), None, "no folder listed: {operations:?}");
    assert_eq!(operations.get("FindFolder in bob's mailbox"), None, "no folder listed: {operations:?}");
    assert!(syncs.iter().all(|n| *n == 1), "one SyncFolderItems per folder: {syncs:?}");

    // The same over Graph: after a full run, an unchanged one sends one
    // $batch per mailbox (its folders' delta, calendars, lists, calendar
    // permissions) and walks no folder tree.
    let (graph, graph_store) = graph_side(&s, "graph-folders.db", &[OWNER, COLLEAGUE]);
    let graph_run = |mode| {
        let (s, graph, graph_store) = (&s, &graph, &graph_store);
        async move {
            let before = s.emulator.stats().operations();
            graph.sync(&Runtime::shared().unwrap(), graph_store, mode, false).await.unwrap_or_else(|e| panic!("{e}"));
            let after = s.emulator.stats().operations();
            after.into_iter().map(|(op, n)| (op.clone(), n - before.get(&op).copied().unwrap_or(0))).filter(|(_, n)| *n > 0).collect::<BTreeMap<String, u64>>()
        }
    };
    graph_run(SyncMode::Full).await;
    let ops = graph_run(SyncMode::Incremental).await;
    assert_eq!(ops.get("Graph $batch"), Some(&2), "one batch per mailbox: {ops:?}");
    for walk in ["Graph mailFolders", "Graph mailFolder", "Graph message"] {
        assert!(!ops.contains_key(walk), "an unchanged Graph run sends no {walk}: {ops:?}");
    }
    assert_documents_match_in(&s, &graph_store, Ids::Immutable);

    let in_path = |prefix: &str| stored(&s).into_iter().filter(|r| r.mailbox == OWNER && r.folder_path.starts_with(prefix)).collect::<Vec<_>>();
    let (moved_docs, gone_docs) = (in_path("Projects -> ").len(), in_path("Old tickets").into_iter().map(|r| r.id).collect::<Vec<_>>());
    assert!(moved_docs > 0 && !gone_docs.is_empty(), "{moved_docs} documents below Projects, {gone_docs:?} in Old tickets");
    let script = s.emulator.mailbox_mut().scripted_folder_change();
    let (changed, operations, syncs) = counted_run(&s, &connection, SyncMode::Incremental).await;
    assert_eq!(operations.get("GetFolder with permissions"), Some(&1), "the service account's folders listed again, bob's not: {operations:?}");
    assert_eq!(operations.get("FindFolder in bob's mailbox"), None, "{operations:?}");
    assert!(syncs.iter().all(|n| *n == 1), "one SyncFolderItems per folder: {syncs:?}");
    assert_eq!((changed.counts.created, changed.counts.updated, changed.counts.removed), (1, 0, gone_docs.len() as u64), "{changed:?}");
    assert_documents_match(&s);
    let rows = stored(&s);
    assert!(rows.iter().any(|r| r.id == script.message && r.folder_path == "Inbox -> Escalations"), "the new folder's message");
    assert_eq!(rows.iter().filter(|r| r.folder_path.starts_with("Projects (renamed) -> ")).count(), moved_docs, "the renamed folder's subfolder moved along");
    assert!(!rows.iter().any(|r| gone_docs.contains(&r.id)), "the deleted folder's documents are gone");
    {
        let conn = s.store.lock();
        let left: i64 = conn.query_row("SELECT count(*) FROM document_checkpoints WHERE folder_id = ?1", [&script.deleted], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "the deleted folder's checkpoint is gone");
    }

    // Graph follows the same changes from its folders' delta.
    graph_run(SyncMode::Incremental).await;
    assert_documents_match_in(&s, &graph_store, Ids::Immutable);
    assert!(stored_in(&graph_store).iter().any(|r| r.folder_path == "Inbox -> Escalations"), "the new folder's message over Graph");
    assert_eq!(graph_run(SyncMode::Incremental).await.get("Graph $batch"), Some(&2));

    let (again, operations, _) = counted_run(&s, &connection, SyncMode::Incremental).await;
    assert_eq!((again.counts.created, again.counts.updated, again.counts.removed), (0, 0, 0), "{again:?}");
    assert_eq!((operations.get("SyncFolderHierarchy"), operations.get("GetFolder with permissions")), (Some(&2), None), "{operations:?}");

    // A hierarchy state the server refuses (over EWS) or a folder delta
    // link Graph refuses: the folders are listed again, nothing is lost,
    // and the next run goes on from the new state.
    let spoil = |store: &helpdesk_host::store::Store, spoilt: &str| {
        let changed = store
            .lock()
            .execute("UPDATE document_checkpoints SET state = json_set(state, '$.state', ?2) WHERE folder_id = '' AND mailbox = ?1", [OWNER, spoilt])
            .unwrap();
        assert_eq!(changed, 1, "the mailbox's own checkpoint");
    };
    spoil(&s.store, "bogus");
    let (refused, operations, _) = counted_run(&s, &connection, SyncMode::Incremental).await;
    assert_eq!((refused.counts.created, refused.counts.updated, refused.counts.removed), (0, 0, 0), "{refused:?}");
    assert_eq!(operations.get("GetFolder with permissions"), Some(&1), "listed again: {operations:?}");
    assert_eq!(counted_run(&s, &connection, SyncMode::Incremental).await.1.get("GetFolder with permissions"), None);
    let link: String = graph_store.lock().query_row("SELECT json_extract(state, '$.state') FROM document_checkpoints WHERE folder_id = '' AND mailbox = ?1", [OWNER], |r| r.get(0)).unwrap();
    spoil(&graph_store, &format!("{}bogus", &link[..link.find("$deltatoken=").unwrap() + 12]));
    let ops = graph_run(SyncMode::Incremental).await;
    assert_eq!(ops.get("Graph mailFolders delta"), Some(&3), "the refused link, then a fresh round, and bob's: {ops:?}");
    assert_documents_match_in(&s, &graph_store, Ids::Immutable);
    assert_eq!(graph_run(SyncMode::Incremental).await.get("Graph mailFolders delta"), Some(&2));

    // A permission given between runs changes the folders (their change
    // keys): their readers are read again, and the new reader finds the
    // mail without any document written again.
    s.emulator.mailbox_mut().grant("carol@example.com", "Carol", "Reviewer");
    let (granted, operations, _) = counted_run(&s, &connection, SyncMode::Incremental).await;
    assert_eq!(operations.get("GetFolder with permissions"), Some(&1), "{operations:?}");
    assert_eq!((granted.counts.created, granted.counts.updated, granted.counts.removed), (0, 0, 0), "{granted:?}");
    assert!(!search(&s.store.lock(), "carol@example.com", "Escalated", None, 10).unwrap().is_empty(), "carol reads the Inbox now");
    let (again, operations, _) = counted_run(&s, &connection, SyncMode::Incremental).await;
    assert_eq!((again.counts.created, again.counts.updated, again.counts.removed), (0, 0, 0), "{again:?}");
    assert_eq!((operations.get("SyncFolderHierarchy"), operations.get("GetFolder with permissions")), (Some(&2), None), "{operations:?}");
}

/// A server that does not know SyncFolderHierarchy: the folders are
/// listed with FindFolder on each run, and the documents are the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_hierarchy_sync_the_folders_are_listed_each_run() {
    let s = helpdesk_e2e::setup_with(EmulatorOptions { contacts: 20, seed: 51, messages: 12, record: true, hierarchy_sync: false, ..Default::default() }).await;
    let connection = s.connection_with(|c| {
        c.documents = Some(DocumentsConfig::default());
        c.exchange.mailboxes = vec![OWNER.into(), COLLEAGUE.into()];
    });
    sync(&s, &connection, SyncMode::Full).await;
    assert_documents_match(&s);
    let (unchanged, operations, syncs) = counted_run(&s, &connection, SyncMode::Incremental).await;
    assert_eq!((unchanged.counts.created, unchanged.counts.updated, unchanged.counts.removed), (0, 0, 0), "{unchanged:?}");
    assert_eq!(operations.get("FindFolder in bob's mailbox"), Some(&1), "listed again: {operations:?}");
    assert!(syncs.iter().all(|n| *n == 1), "{syncs:?}");
    s.emulator.mailbox_mut().scripted_folder_change();
    sync(&s, &connection, SyncMode::Incremental).await;
    assert_documents_match(&s);
}

/// A mailbox the organisation does not have is a warning, and the others
/// are read; over Graph, a user without a mailbox is one too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_mailbox_is_skipped_with_a_warning() {
    let (s, _) = setup().await;
    let connection = s.connection_with(|c| {
        c.documents = Some(DocumentsConfig::default());
        c.exchange.mailboxes = vec!["nobody@example.com".into(), OWNER.into()];
    });
    let summary = sync(&s, &connection, SyncMode::Full).await;
    assert!(
        summary.warnings.iter().any(|w| w.contains("the mailbox nobody@example.com was skipped") && w.contains("ErrorNonExistentMailbox")),
        "{:?}",
        summary.warnings
    );
    let documents = summary.documents.unwrap();
    assert!(documents.by_kind["mail"].created > 10, "{documents:?}");

    let mailboxless = helpdesk_host::emulator::graph::MAILBOXLESS_USER;
    let (graph, store) = graph_side(&s, "graph-unknown.db", &[mailboxless, OWNER]);
    let summary = graph.sync(&Runtime::shared().unwrap(), &store, SyncMode::Full, false).await.unwrap_or_else(|e| panic!("{e}"));
    // Once a run, though both its contacts and its mail were asked for.
    let warned: Vec<&String> = summary.warnings.iter().filter(|w| w.contains(mailboxless)).collect();
    assert!(warned.len() == 1 && warned[0].contains("MailboxNotEnabledForRESTAPI"), "{:?}", summary.warnings);
    assert!(summary.documents.unwrap().by_kind["mail"].created > 10);
}

/// A Graph connection to the emulator of `s`, with its own database,
/// reading the mail of `mailboxes`.
fn graph_side(s: &Setup, db: &str, mailboxes: &[&str]) -> (helpdesk_host::runs::Connection, helpdesk_host::store::Store) {
    let db = s.db.with_file_name(db);
    let mut config = helpdesk_host::cli::emulator_config_for(&s.emulator, &db, helpdesk_host::cli::Mode::Graph);
    config.documents = Some(DocumentsConfig::default());
    config.exchange.mailboxes = mailboxes.iter().map(|m| m.to_string()).collect();
    (helpdesk_host::runs::Connection::from_config(&config).unwrap(), helpdesk_host::store::Store::open(&db).unwrap())
}

/// What a document says whichever protocol read it: ids left out (EWS
/// and Graph ids differ), an attachment's item and an exception's master
/// named by their titles, an event's calendar and a task's list left out
/// (Graph's are flat, EWS's a tree), an event's details (times, zone,
/// attendees, the series in words, deleted occurrences) and a task's in,
/// but for what To Do does not have: percent complete and owner.
fn neutral(store: &helpdesk_host::store::Store) -> Vec<Vec<String>> {
    let conn = store.lock();
    let mut statement = conn
        .prepare(
            "SELECT d.kind, d.mailbox, CASE WHEN d.kind IN ('event', 'task') OR p.kind IN ('event', 'task') THEN '' ELSE d.folder_path END, d.title, d.body,
                    IFNULL(d.received, ''), IFNULL(d.sender, ''), d.recipients, IFNULL(d.importance, ''), d.categories, d.has_attachments,
                    IFNULL(d.is_read, -1), IFNULL(d.attachment, ''), IFNULL(p.title, ''), d.version, IFNULL(d.event, ''),
                    IFNULL(json_remove(d.task, '$.percent_complete', '$.owner', '$.list'), '')
             FROM documents d LEFT JOIN documents p ON p.source = d.source AND p.id = d.parent_id
             ORDER BY 1, 2, 3, 4, 5, 14, 16, 17",
        )
        .unwrap();
    let rows = statement
        .query_map([], |r| (0..17).map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}"))).collect::<Result<Vec<_>, _>>())
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    rows
}

/// Fails naming only the rows one side has and the other lacks.
fn assert_same_rows(ews: Vec<Vec<String>>, graph: Vec<Vec<String>>) {
    let only_ews: Vec<_> = ews.iter().filter(|r| !graph.contains(r)).collect();
    let only_graph: Vec<_> = graph.iter().filter(|r| !ews.contains(r)).collect();
    assert!(only_ews.is_empty() && only_graph.is_empty() && ews.len() == graph.len(), "only over EWS: {only_ews:#?}\nonly over Graph: {only_graph:#?}");
}

/// The same mailboxes over EWS and over Graph: the same documents, each
/// equal to the emulator's truth (with Graph's immutable ids); an
/// unchanged rerun reads no message; the scripted changes come back as
/// themselves, a moved message as one document that changed folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_and_ews_give_the_same_documents() {
    let (s, connection) = setup().await;
    let (graph, graph_store) = graph_side(&s, "graph.db", &[OWNER, COLLEAGUE]);
    sync(&s, &connection, SyncMode::Full).await;
    let full = graph.sync(&Runtime::shared().unwrap(), &graph_store, SyncMode::Full, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_documents_match(&s);
    assert_documents_match_in(&s, &graph_store, Ids::Immutable);
    assert_same_rows(neutral(&s.store), neutral(&graph_store));
    let documents = full.documents.unwrap();
    assert!(documents.skipped_reasons.iter().any(|r| r.title == LARGE_ATTACHMENT_NAME && r.reason.contains("too large")), "{documents:?}");
    assert!(!s.emulator.downloads().iter().any(|d| d == LARGE_ATTACHMENT_NAME), "the large file is never downloaded");
    {
        let conn = graph_store.lock();
        for marker in [PDF_MARKER, DOCX_MARKER, XLSX_MARKER, JAPANESE_PHRASE] {
            assert_eq!(search(&conn, OWNER, marker, None, 10).unwrap().len(), 1, "{marker}");
            assert!(search(&conn, COLLEAGUE, marker, None, 10).unwrap().is_empty(), "{marker}");
        }
    }

    let count = |op: &str| s.emulator.stats().operations().get(op).copied().unwrap_or(0);
    let reads = || (count("Graph message"), count("Graph attachments"), count("Graph attachment $value"));
    let before = reads();
    let again = graph.sync(&Runtime::shared().unwrap(), &graph_store, SyncMode::Incremental, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reads(), before, "an unchanged rerun reads no message and no attachment");
    let d = again.documents.unwrap_or_default();
    assert_eq!((d.counts.created, d.counts.updated, d.counts.removed), (0, 0, 0), "{d:?}");

    let script = s.emulator.mailbox_mut().scripted_mail_change();
    let (moved_immutable, moved_new) = {
        let mailbox = s.emulator.mailbox();
        let m = mailbox.message(&script.moved[0].1).unwrap();
        (m.immutable_id.clone(), m.id.clone())
    };
    assert_ne!(moved_new, script.moved[0].0, "EWS gives the moved message a new id");
    sync(&s, &connection, SyncMode::Incremental).await;
    let changed = graph.sync(&Runtime::shared().unwrap(), &graph_store, SyncMode::Incremental, false).await.unwrap_or_else(|e| panic!("{e}"));
    let mail = changed.documents.unwrap().by_kind["mail"];
    // Added; deleted; moved (the same immutable id in another folder),
    // read and edited.
    assert_eq!((mail.created, mail.removed, mail.updated), (1, 1, 3), "{mail:?}");
    let moved = stored_in(&graph_store).into_iter().find(|r| r.id == moved_immutable).expect("the moved message kept its id");
    assert_eq!(moved.folder_path, "Archive");
    // Messages read: the edited one again (its change came partial); of
    // the two the Inbox reported removed, both looked up (the deleted one
    // a 404, which the emulator does not count) and the moved one, found
    // in the Archive, read there; the Archive's own delta then names it
    // unchanged. The read flag came whole, read by no one.
    assert_eq!(reads().0 - before.0, 3);
    assert_documents_match(&s);
    assert_documents_match_in(&s, &graph_store, Ids::Immutable);
    assert_same_rows(neutral(&s.store), neutral(&graph_store));

    // Calendars: unchanged, one listing per calendar and no event read;
    // the series' occurrence moved, its master and occurrence come back.
    let events = || (count("Graph event"), count("Graph instances"));
    let (listings, deltas, read) = (count("Graph events"), count("Graph tasks delta"), events());
    graph.sync(&Runtime::shared().unwrap(), &graph_store, SyncMode::Incremental, false).await.unwrap_or_else(|e| panic!("{e}"));
    let folders = |element: &str| -> u64 {
        [&*s.emulator.mailbox(), &s.emulator.colleagues()[0]].iter().map(|m| m.folders.iter().filter(|f| f.element == element).count() as u64).sum()
    };
    assert_eq!((count("Graph events") - listings, events()), (folders("CalendarFolder"), read), "one listing per calendar, nothing read");
    // Each mailbox's task folders and its flagged-mail list: one delta each.
    assert_eq!(count("Graph tasks delta") - deltas, folders("TasksFolder") + 2, "one delta request per task list");
    s.emulator.mailbox_mut().scripted_calendar_change();
    sync(&s, &connection, SyncMode::Incremental).await;
    let moved = graph.sync(&Runtime::shared().unwrap(), &graph_store, SyncMode::Incremental, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved.documents.unwrap().by_kind["event"].updated, 2, "the master and its moved occurrence");
    assert_documents_match_in(&s, &graph_store, Ids::Immutable);
    assert_same_rows(neutral(&s.store), neutral(&graph_store));
}

/// Scripts change the emulator between runs over HTTP: contacts and mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulators_change_endpoint_changes_mail_too() {
    let (s, connection) = setup().await;
    sync(&s, &connection, SyncMode::Full).await;
    let url = format!("http://{}/emulator/change?n=2", s.emulator.addr);
    let out = tokio::task::block_in_place(|| std::process::Command::new("curl").args(["-sS", "-X", "POST", &url]).output().expect("curl runs (CI installs it)"));
    let change: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(change["added"].as_array().unwrap().len(), 2, "{change}");
    assert_eq!(change["mail"]["moved"].as_array().unwrap().len(), 1, "{change}");
    let mail = sync(&s, &connection, SyncMode::Incremental).await.documents.unwrap().by_kind["mail"];
    assert_eq!((mail.created, mail.removed, mail.updated), (2, 2, 2));
    assert_documents_match(&s);
}

/// A message that cannot be read fails alone; its folder's checkpoint
/// moves on, and the next incremental run reads it again (and stores it
/// once it reads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_could_not_be_read_is_read_again_on_the_next_run() {
    let options = EmulatorOptions { contacts: 20, seed: 52, messages: 12, faults: Some("broken-message".into()), ..Default::default() };
    let s = helpdesk_e2e::setup_with(options).await;
    let connection = s.connection_with(|c| {
        c.documents = Some(DocumentsConfig::default());
        c.exchange.mailboxes = vec![OWNER.into(), COLLEAGUE.into()];
    });
    // The first ordinary message of each mailbox's Inbox.
    let mut broken = vec![s.emulator.mailbox().first_ordinary_message().unwrap().to_string()];
    broken.push(s.emulator.colleagues()[0].first_ordinary_message().unwrap().to_string());
    broken.sort();
    let failed_mail = |d: &helpdesk_host::documents::DocumentSummary| {
        let mut ids: Vec<String> = d.failed_reasons.iter().filter(|r| r.kind == "mail").map(|r| r.id.clone()).collect();
        ids.sort();
        ids
    };
    let full = sync(&s, &connection, SyncMode::Full).await.documents.unwrap();
    assert_eq!(failed_mail(&full), broken, "{:?}", full.failed_reasons);
    assert!(!stored(&s).iter().any(|r| broken.contains(&r.id)));
    // Still broken: they fail again, and nothing else is read.
    let again = sync(&s, &connection, SyncMode::Incremental).await.documents.unwrap();
    assert_eq!((failed_mail(&again), again.counts.created), (broken.clone(), 0), "{again:?}");
    s.emulator.mend_message();
    let mended = sync(&s, &connection, SyncMode::Incremental).await.documents.unwrap();
    assert_eq!((mended.counts.failed, mended.by_kind["mail"].created), (0, 2), "{mended:?}");
    assert_documents_match(&s);
    let last = sync(&s, &connection, SyncMode::Incremental).await.documents.unwrap_or_default();
    assert_eq!(last.counts.created + last.counts.failed, 0, "read once, not again: {last:?}");
}

/// Without the ApplicationImpersonation role, impersonating bob is
/// refused as Exchange refuses it; his mail is read as a delegate instead,
/// and comes out the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_impersonation_the_other_mailbox_is_read_as_a_delegate() {
    let options = EmulatorOptions { contacts: 20, seed: 51, messages: 12, impersonation: false, record: true, ..Default::default() };
    let s = helpdesk_e2e::setup_with(options).await;
    let connection = s.connection_with(|c| {
        c.documents = Some(DocumentsConfig::default());
        c.exchange.mailboxes = vec![OWNER.into(), COLLEAGUE.into()];
    });
    let summary = sync(&s, &connection, SyncMode::Full).await;
    assert!(summary.warnings.iter().any(|w| w.contains("may not impersonate bob@example.com") && w.contains("delegate")), "{:?}", summary.warnings);
    assert_documents_match(&s);
    let refused = s.emulator.exchanges().iter().filter(|e| String::from_utf8_lossy(&e.response).contains("ErrorImpersonateUserDenied")).count();
    assert_eq!(refused, 1, "one refusal, then delegate access");
}

/// The `event` and `task` columns of a store, by document id.
fn details(s: &Setup) -> BTreeMap<String, serde_json::Value> {
    let conn = s.store.lock();
    let mut statement = conn.prepare("SELECT id, COALESCE(event, task) FROM documents WHERE kind IN ('event', 'task')").unwrap();
    let rows = statement
        .query_map([], |r| Ok((r.get::<_, String>(0)?, serde_json::from_str(&r.get::<_, String>(1)?).unwrap())))
        .unwrap()
        .collect::<Result<BTreeMap<_, _>, _>>()
        .unwrap();
    rows
}

/// Each event's and task's details equal the emulator's: times, zone
/// (as IANA names), all-day, location, attendees, the series' pattern in
/// words, its deleted occurrence, the modified occurrence's original
/// start; a task's status, percent, dates, owner and list.
fn assert_details_match(s: &Setup) {
    use helpdesk_host::emulator::data::calendar::EventKind;
    let stored = details(s);
    let mailbox = s.emulator.mailbox();
    let iana = |zone: &str| match zone {
        "W. Europe Standard Time" => "Europe/Berlin",
        "Tokyo Standard Time" => "Asia/Tokyo",
        other => panic!("a zone the test does not know: {other}"),
    };
    assert_eq!(stored.len(), mailbox.events.len() + mailbox.tasks.len(), "every event and task of the service mailbox, bob has none");
    for e in &mailbox.events {
        let d = &stored[&e.id];
        let what = &e.subject;
        let kind = match e.kind {
            EventKind::Single => "single",
            EventKind::RecurringMaster => "series_master",
            EventKind::Exception => "exception",
        };
        assert_eq!(d["type"], kind, "{what}");
        assert_eq!((d["start"].as_str(), d["end"].as_str()), (Some(e.start.as_str()), Some(e.end.as_str())), "{what}");
        assert_eq!(d["time_zone"], iana(e.time_zone), "{what}");
        assert_eq!(d["all_day"], e.all_day, "{what}");
        assert_eq!(d["location"].as_str(), Some(e.location.as_str()).filter(|l| !l.is_empty()), "{what}");
        let people = |list: &[helpdesk_host::emulator::data::mail::Person]| -> Vec<String> { list.iter().map(|p| format!("{} <{}>", p.name, p.address)).collect() };
        assert_eq!(d["required"], serde_json::json!(people(&e.required)), "{what}");
        assert_eq!(d["optional"], serde_json::json!(people(&e.optional)), "{what}");
        assert_eq!(d["deleted_occurrences"], serde_json::json!(e.deleted_occurrences), "{what}");
        assert_eq!(d["original_start"].as_str(), e.original_start.as_deref(), "{what}");
        match &e.recurrence {
            // The seeded series, as the issue words it.
            Some(_) => assert_eq!(d["recurrence"], "every Monday 10:00-11:00 Europe/Berlin, from 5 Jan 2026 until 30 Mar 2026", "{what}"),
            None => assert!(d["recurrence"].is_null(), "{what}"),
        }
    }
    for t in &mailbox.tasks {
        let d = &stored[&t.id];
        let what = &t.subject;
        let status = match t.status {
            "NotStarted" => "not-started",
            "InProgress" => "in-progress",
            "Completed" => "completed",
            other => panic!("{other}"),
        };
        assert_eq!(d["status"], status, "{what}");
        assert_eq!(d["percent_complete"], t.percent_complete, "{what}");
        assert_eq!((d["start"].as_str(), d["due"].as_str(), d["completed"].as_str()), (t.start.as_deref(), t.due.as_deref(), t.completed.as_deref()), "{what}");
        assert_eq!(d["owner"], t.owner.as_str(), "{what}");
        assert_eq!(d["recurrence"].is_null(), t.recurrence.is_none(), "{what}");
        assert_eq!(d["list"], read_folders(&mailbox, true)[&t.folder_id].as_str(), "{what}: the folder's path");
    }
}

/// Calendars and task lists become documents: one per single event and
/// per series (not per occurrence), its modified occurrence a document
/// of its own under it, every calendar and task list, attachments
/// included; an unchanged rerun makes one SyncFolderItems per folder and
/// reads nothing; a moved occurrence and a completed task come back as
/// themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendars_and_tasks_become_documents_a_series_once() {
    use helpdesk_host::emulator::data::calendar::SERIES_MARKER;
    let (s, connection) = setup().await;
    let full = sync(&s, &connection, SyncMode::Full).await.documents.unwrap();
    assert_documents_match(&s);
    assert_details_match(&s);
    let (events, tasks) = (s.emulator.mailbox().events.len() as u64, s.emulator.mailbox().tasks.len() as u64);
    assert_eq!((full.by_kind["event"].created, full.by_kind["task"].created), (events, tasks), "{full:?}");
    let paths: std::collections::BTreeSet<String> = stored(&s).into_iter().filter(|r| r.kind != "mail" && r.kind != "attachment").map(|r| r.folder_path).collect();
    assert!(paths.contains("Calendar -> Team calendar") && paths.contains("Tasks -> Project tasks"), "{paths:?}");
    {
        let conn = s.store.lock();
        let mailbox = s.emulator.mailbox();
        let master = mailbox.events.iter().find(|e| e.recurrence.is_some()).unwrap();
        let mut hits = search(&conn, OWNER, SERIES_MARKER, None, 10).unwrap();
        hits.sort_by_key(|h| h.parent_id.is_some());
        let found: Vec<(&str, Option<&str>)> = hits.iter().map(|h| (h.id.as_str(), h.parent_id.as_deref())).collect();
        let exception = mailbox.exceptions_of(&master.id).next().unwrap();
        assert_eq!(found, [(master.id.as_str(), None), (exception.id.as_str(), Some(master.id.as_str()))], "the master and its moved occurrence, no other occurrence");
        assert!(search(&conn, COLLEAGUE, SERIES_MARKER, None, 10).unwrap().is_empty());
        let agenda = search(&conn, OWNER, "Hardware", Some("attachment"), 10).unwrap();
        assert_eq!(agenda.len(), 1, "the event's attachment: {agenda:?}");
    }

    let before = s.emulator.exchanges().len();
    let again = sync(&s, &connection, SyncMode::Incremental).await;
    let folders: Vec<String> = {
        let primary = s.emulator.mailbox();
        let colleagues = s.emulator.colleagues();
        read_folders(&primary, true).into_keys().chain(read_folders(&colleagues[0], true).into_keys()).collect()
    };
    let exchanges = s.emulator.exchanges();
    let naming = |op: &str, id: &str| {
        let id = format!("\"{id}\"");
        exchanges[before..].iter().filter(|e| e.operation == op && e.request.windows(id.len()).any(|w| w == id.as_bytes())).count()
    };
    for folder in &folders {
        assert_eq!(naming("SyncFolderItems", folder), 1, "one SyncFolderItems for the folder {folder}");
    }
    let items: Vec<String> = {
        let mailbox = s.emulator.mailbox();
        mailbox.events.iter().map(|e| e.id.clone()).chain(mailbox.tasks.iter().map(|t| t.id.clone())).collect()
    };
    assert!(items.iter().all(|id| naming("GetItem", id) == 0), "no event or task read again");
    let d = again.documents.unwrap();
    assert_eq!((d.counts.created, d.counts.updated, d.counts.removed), (0, 0, 0), "{d:?}");

    let changed_ids = s.emulator.mailbox_mut().scripted_calendar_change();
    assert_eq!(changed_ids.len(), 2);
    let changed = sync(&s, &connection, SyncMode::Incremental).await.documents.unwrap();
    // The master read again with its occurrence; the task completed.
    assert_eq!((changed.by_kind["event"].updated, changed.by_kind["task"].updated), (2, 1), "{changed:?}");
    assert_eq!(changed.counts.created + changed.counts.removed, 0, "{changed:?}");
    assert_documents_match(&s);
    assert_details_match(&s);
}

/// The mailboxes that have documents in `store`.
fn mailboxes_in(store: &helpdesk_host::store::Store) -> Vec<String> {
    store.document_mailboxes().unwrap()
}

/// `[exchange] mailboxes = "all"`: every mailbox of the organisation is
/// read, the shared support@ included although its account is disabled,
/// the room only with `resource_mailboxes`, no guest; EWS (GetSearchable-
/// Mailboxes) and Graph (`/users`) give the same mailboxes and documents;
/// Bob finds the shared mailbox's mail through its folders' permissions
/// (EWS) or `[documents.shared]` (Graph), the service account does not;
/// an unchanged rerun makes one request per folder and per listing; a
/// mailbox the organisation removes takes its documents along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mailbox_of_the_organisation_is_read_and_only_its_readers_find_it() {
    use helpdesk_host::emulator::data::mail::SUPPORT_MARKER;
    use helpdesk_host::emulator::graph::{GUEST_USER, MAILBOXLESS_USER};
    use helpdesk_host::emulator::{ROOM_MAILBOX, SHARED_MAILBOX};
    let s = helpdesk_e2e::setup_with(EmulatorOptions { contacts: 20, seed: 52, messages: 12, record: true, ..Default::default() }).await;
    let all = |c: &mut helpdesk_host::config::HostConfig| {
        c.documents = Some(DocumentsConfig::default());
        c.exchange.mailboxes = vec!["all".into()];
    };
    let connection = s.connection_with(all);
    sync(&s, &connection, SyncMode::Full).await;
    let mut expected_mailboxes = vec![COLLEAGUE.to_string(), SHARED_MAILBOX.to_string(), OWNER.to_string()];
    expected_mailboxes.sort();
    assert_eq!(mailboxes_in(&s.store), expected_mailboxes, "no room, no guest");
    {
        let primary = s.emulator.mailbox();
        let colleagues = s.emulator.colleagues();
        let support = colleagues.iter().find(|m| m.address == SHARED_MAILBOX).unwrap();
        assert_rows_match(&s.store, &[&primary, &colleagues[0], support], Ids::Ews);
        let conn = s.store.lock();
        let hits = search(&conn, COLLEAGUE, SUPPORT_MARKER, None, 10).unwrap();
        assert_eq!(hits.iter().map(|h| (h.kind.as_str(), h.mailbox.as_str())).collect::<Vec<_>>(), [("mail", SHARED_MAILBOX)], "{hits:?}");
        assert!(search(&conn, OWNER, SUPPORT_MARKER, None, 10).unwrap().is_empty(), "the service account may not read support@");
        // Bob reads the shared mailbox, not the service account's.
        assert!(search(&conn, COLLEAGUE, PDF_MARKER, None, 10).unwrap().is_empty());
    }

    // Over Graph, Bob is support@'s member by configuration.
    let db = s.db.with_file_name("graph-all.db");
    let mut config = helpdesk_host::cli::emulator_config_for(&s.emulator, &db, helpdesk_host::cli::Mode::Graph);
    all(&mut config);
    config.documents.as_mut().unwrap().shared = BTreeMap::from([(SHARED_MAILBOX.to_string(), vec![COLLEAGUE.to_string()])]);
    let graph = helpdesk_host::runs::Connection::from_config(&config).unwrap();
    let graph_store = helpdesk_host::store::Store::open(&db).unwrap();
    let full = graph.sync(&Runtime::shared().unwrap(), &graph_store, SyncMode::Full, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mailboxes_in(&graph_store), expected_mailboxes);
    assert_same_rows(neutral(&s.store), neutral(&graph_store));
    let warned: Vec<&String> = full.warnings.iter().filter(|w| w.contains(MAILBOXLESS_USER)).collect();
    assert!(warned.len() == 1 && warned[0].contains("MailboxNotEnabledForRESTAPI"), "one warning for the user without a mailbox: {:?}", full.warnings);
    assert!(!full.warnings.iter().any(|w| w.contains(GUEST_USER)), "a guest is not probed: {:?}", full.warnings);
    {
        let conn = graph_store.lock();
        assert_eq!(search(&conn, COLLEAGUE, SUPPORT_MARKER, None, 10).unwrap().len(), 1);
        assert!(search(&conn, OWNER, SUPPORT_MARKER, None, 10).unwrap().is_empty());
    }
    // Bob reads support@'s calendar by its permissions, over both (EWS
    // folder permissions, Graph calendarPermissions).
    let calendar = s.emulator.colleagues().iter().find(|m| m.address == SHARED_MAILBOX).unwrap().distinguished("calendar").unwrap().id.clone();
    let readers = |store: &helpdesk_host::store::Store| -> Vec<String> {
        let conn = store.lock();
        let mut statement = conn.prepare("SELECT principal FROM folder_readers WHERE mailbox = ?1 AND folder_id = ?2 ORDER BY 1").unwrap();
        statement.query_map([SHARED_MAILBOX, calendar.as_str()], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(readers(&s.store), ["email:bob@example.com"]);
    assert_eq!(readers(&graph_store), readers(&s.store));

    let before: BTreeMap<String, u64> = s.emulator.stats().operations();
    graph.sync(&Runtime::shared().unwrap(), &graph_store, SyncMode::Incremental, false).await.unwrap_or_else(|e| panic!("{e}"));
    let graph_ops: BTreeMap<String, u64> =
        s.emulator.stats().operations().into_iter().filter(|(op, _)| op.starts_with("Graph")).map(|(op, n)| (op.clone(), n - before.get(&op).copied().unwrap_or(0))).filter(|(_, n)| *n > 0).collect();
    println!("an unchanged Graph run: {graph_ops:?}");
    // One batch per user with a mailbox to open: the three, and the user
    // without one, who is probed and skipped.
    assert_eq!(graph_ops.get("Graph $batch"), Some(&4), "{graph_ops:?}");
    assert!(!graph_ops.contains_key("Graph mailFolders") && !graph_ops.contains_key("Graph mailFolder"), "no folder tree walked: {graph_ops:?}");
    for read in ["Graph message", "Graph event", "Graph instances", "Graph attachments"] {
        assert!(!graph_ops.contains_key(read), "an unchanged Graph run reads nothing: {graph_ops:?}");
    }

    // Unchanged: the listing once, then one SyncFolderItems per folder.
    let folders: usize = {
        let primary = s.emulator.mailbox();
        let colleagues = s.emulator.colleagues();
        [&*primary, &colleagues[0], colleagues.iter().find(|m| m.address == SHARED_MAILBOX).unwrap()].iter().map(|m| read_folders(m, true).len()).sum()
    };
    let before = s.emulator.exchanges().len();
    let again = sync(&s, &connection, SyncMode::Incremental).await.documents.unwrap_or_default();
    assert_eq!((again.counts.created, again.counts.updated, again.counts.removed), (0, 0, 0), "{again:?}");
    let mut operations: BTreeMap<String, usize> = BTreeMap::new();
    let exchanges = s.emulator.exchanges();
    for e in &exchanges[before..] {
        *operations.entry(e.operation.clone()).or_default() += 1;
    }
    for op in ["GetSearchableMailboxes", "GetRoomLists", "GetRooms"] {
        assert_eq!(operations.get(op), Some(&1), "{op}: {operations:?}");
    }
    let document_syncs = exchanges[before..]
        .iter()
        .filter(|e| e.operation == "SyncFolderItems" && !String::from_utf8_lossy(&e.request).contains("contacts"))
        .count();
    assert!(operations.get("GetItem").is_none() && operations.get("GetAttachment").is_none(), "{operations:?}");
    println!("an unchanged run over {folders} folders of 3 mailboxes: {operations:?}");
    assert!(document_syncs >= folders, "{document_syncs} of {folders}");

    // With resource mailboxes, the room's calendar too.
    let rooms_db = s.db.with_file_name("rooms.db");
    let rooms = s.connection_with(|c| {
        all(c);
        c.documents.as_mut().unwrap().resource_mailboxes = true;
        c.store.database = rooms_db.clone();
    });
    let rooms_store = helpdesk_host::store::Store::open(&rooms_db).unwrap();
    rooms.sync(&Runtime::shared().unwrap(), &rooms_store, SyncMode::Full, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(mailboxes_in(&rooms_store).contains(&ROOM_MAILBOX.to_string()));
    assert_eq!(search(&rooms_store.lock(), ROOM_MAILBOX, "Quarterly planning", Some("event"), 10).unwrap().len(), 1);

    // The organisation removes the shared mailbox.
    let stored_support = stored(&s).iter().filter(|r| r.mailbox == SHARED_MAILBOX).count() as u64;
    assert!(s.emulator.remove_mailbox(SHARED_MAILBOX));
    let after = sync(&s, &connection, SyncMode::Incremental).await.documents.unwrap_or_default();
    assert_eq!(after.counts.removed, stored_support, "{after:?}");
    assert!(!mailboxes_in(&s.store).contains(&SHARED_MAILBOX.to_string()));
    assert!(search(&s.store.lock(), COLLEAGUE, SUPPORT_MARKER, None, 10).unwrap().is_empty());
    assert_eq!(s.count("SELECT count(*) FROM document_checkpoints WHERE mailbox = 'support@example.com'"), 0);
}

/// On premises, listing every mailbox needs the Mailbox Search role: without
/// it the run fails with what to do, and keeps what was stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mailbox_without_the_mailbox_search_role_is_a_clear_error() {
    let s = helpdesk_e2e::setup_with(EmulatorOptions { contacts: 20, seed: 53, messages: 4, mailbox_search: false, ..Default::default() }).await;
    let named = s.connection_with(|c| {
        c.documents = Some(DocumentsConfig::default());
        c.exchange.mailboxes = vec![OWNER.into()];
    });
    sync(&s, &named, SyncMode::Full).await;
    let before = stored(&s);
    let all = s.connection_with(|c| {
        c.documents = Some(DocumentsConfig::default());
        c.exchange.mailboxes = vec!["all".into()];
    });
    let error = all.sync(&Runtime::shared().unwrap(), &s.store, SyncMode::Incremental, false).await.unwrap_err();
    assert!(error.message.contains("ErrorAccessDenied") && error.message.contains("Mailbox Search"), "{error}");
    assert_eq!(stored(&s), before, "nothing stored is lost");
}
