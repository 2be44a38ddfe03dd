//! Graph mail as documents: for each mailbox (`/users/{address}`), every
//! mail folder of its tree but search folders, hidden ones and the system
//! folders' subtrees (as over EWS), each read with `messages/delta` from
//! its delta link. A message whose version is the stored one is not
//! handed over again; a partial change is read again, a read flag alone
//! is only that; a message a folder reports removed is looked up by its
//! immutable id, since it may have moved to another folder, where it is
//! one document that changed folder (reference/mailbox-content.md 2).

use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::{ContentKind, DocumentChange, DocumentIssue, ReadFlag, SyncMode, SyncRequest};
use crate::documents::folders::MailFolder;
use crate::documents::mail::{self, MailItem};
use crate::documents::Folder;
use crate::error::{Error, Kind, Result};
use crate::graph::messages_delta::{self, Entry};
use crate::graph::{Graph, attachments, contact_folders, message, segment, users};
use crate::report;
use std::collections::HashMap;

/// One mailbox's run: where it is, and what the request asks.
struct Mailbox<'a> {
    address: &'a str,
    /// the address as a path segment
    user: String,
    request: &'a SyncRequest,
    /// the folders read, by id
    folders: HashMap<String, String>,
}

pub fn sync(graph: &mut Graph, request: &SyncRequest) -> Result<u64> {
    let states: HashMap<(&str, &str), &str> =
        request.document_checkpoints.iter().map(|c| ((c.mailbox.as_str(), c.folder_id.as_str()), c.state.as_str())).collect();
    let mut documents = 0;
    for (address, user) in crate::mailboxes::to_read(graph, request)? {
        let address = address.as_str();
        let mut mailbox = Mailbox { address, user, request, folders: HashMap::new() };
        let result = sync_mailbox(graph, &mut mailbox, &states);
        match result {
            Ok(count) => documents += count,
            // Said once a run: the contacts' listing may have found it.
            Err(e) if graph.without_mailbox.iter().any(|a| a == address) && contact_folders::NO_MAILBOX.iter().any(|c| e.message.contains(c)) => {
                report::debug(&format!("the mailbox {address} was skipped: {}", e.message))
            }
            Err(e) if mailbox_local(&e) => report::warn(&format!("the mailbox {address} was skipped: {}", e.message)),
            Err(e) => return Err(e),
        }
    }
    Ok(documents)
}

impl crate::mailboxes::Directory for Graph {
    fn mailboxes(&mut self) -> Result<Vec<(String, String)>> {
        Ok(users::organisation(self)?.into_iter().map(|m| (m.mail.to_lowercase(), m.id)).collect())
    }

    fn rooms(&mut self) -> Result<Vec<String>> {
        users::rooms(self)
    }

    fn named(&self, address: &str) -> String {
        segment(address)
    }
}

/// Failures of one mailbox: a user without one Graph can reach, or one
/// the app may not read (reference/mailbox-content.md 2, "Users/mailboxes").
fn mailbox_local(e: &Error) -> bool {
    matches!(e.kind, Kind::AccessDenied) || e.message.contains("ResourceNotFound") || contact_folders::NO_MAILBOX.iter().any(|c| e.message.contains(c))
}

/// Every folder the listing chooses (graph_listing.rs): mail folders, then
/// calendars, then task lists. A folder that cannot be read is a warning.
fn sync_mailbox(graph: &mut Graph, mailbox: &mut Mailbox, states: &HashMap<(&str, &str), &str>) -> Result<u64> {
    let chosen = crate::graph_listing::folders_to_read(graph, mailbox.address, &mailbox.user, mailbox.request)?;
    mailbox.folders = chosen.iter().filter(|f| f.holds == ContentKind::Mail).map(|f| (f.id.clone(), f.path.clone())).collect();
    let incremental = mailbox.request.mode == SyncMode::Incremental;
    let mut documents = 0;
    for folder in &chosen {
        let checkpoint = if incremental { states.get(&(mailbox.address, folder.id.as_str())).copied() } else { None };
        let (result, what) = match folder.holds {
            ContentKind::Event => (crate::graph_calendar::sync_calendar(graph, mailbox.address, &mailbox.user, folder, mailbox.request), "calendar"),
            ContentKind::Task => (crate::graph_tasks::sync_list(graph, mailbox.address, &mailbox.user, folder, checkpoint, mailbox.request), "task list"),
            _ => (sync_folder(graph, mailbox, folder, checkpoint), "mail folder"),
        };
        match result {
            Ok(count) => documents += count,
            Err(e) if crate::sync::folder_local(e.kind) => {
                report::warn(&format!("the {what} '{}' of {} was skipped: {}", folder.path, mailbox.address, e.message));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(documents)
}

fn sync_folder(graph: &mut Graph, mailbox: &Mailbox, folder: &MailFolder, checkpoint: Option<&str>) -> Result<u64> {
    let target = Folder { mailbox: mailbox.address, id: &folder.id, path: &folder.path, readers: &folder.readers };
    let full = checkpoint.is_none();
    let mut documents = 0;
    // Items that failed before: the delta link has moved past them.
    if !full {
        let request = mailbox.request;
        let again = request.document_retries.iter().filter(|r| r.mailbox.eq_ignore_ascii_case(mailbox.address) && r.folder_id == folder.id);
        let mut changes = Vec::new();
        for retry in again {
            documents += reread(graph, mailbox, &retry.id, &mut changes)?;
        }
        target.apply(changes, None, false)?;
    }
    let mut url = checkpoint.map(str::to_string).unwrap_or_else(|| messages_delta::start_url(graph, &mailbox.user, &folder.id));
    loop {
        let page = match messages_delta::page(graph, &url) {
            Ok(page) => page,
            Err(e) if e.kind == Kind::StaleState && !full => {
                report::warn(&format!(
                    "Graph no longer accepts the delta link of the mail folder '{}' of {} ({}): it is read again in full",
                    folder.path, mailbox.address, e.message
                ));
                return Ok(documents + sync_folder(graph, mailbox, folder, None)?);
            }
            Err(e) => return Err(e),
        };
        let last = crate::graph::round_ends(&page.next_link, &page.delta_link, &format!("the mail folder '{}'", folder.path))?;
        let mut changes = Vec::new();
        let mut full_items = Vec::new();
        for entry in page.entries {
            match entry {
                Entry::Full(item) => full_items.push(item),
                Entry::ReadFlag { id, is_read } => changes.push(DocumentChange::ReadFlag(ReadFlag { id, is_read })),
                Entry::Partial(id) => documents += reread(graph, mailbox, &id, &mut changes)?,
                Entry::Removed(id) => documents += removed(graph, mailbox, folder, id, &mut changes)?,
                Entry::Broken(why) => changes.push(failed(String::new(), why)),
            }
        }
        let ids: Vec<String> = full_items.iter().map(|i| i.id.clone()).collect();
        for (item, stored) in full_items.into_iter().zip(host::stored_document_versions(mailbox.address, &ids)) {
            match stored {
                Some(version) if version == item.change_key && !item.change_key.is_empty() => changes.push(DocumentChange::Unchanged(item.id)),
                _ => documents += upsert(graph, mailbox, item, &mut changes)?,
            }
        }
        target.apply(changes, page.delta_link.filter(|_| last), full && last)?;
        match page.next_link {
            Some(next) => url = next,
            None => return Ok(documents),
        }
    }
}

fn failed(id: String, reason: String) -> DocumentChange {
    DocumentChange::Failed(DocumentIssue { id, kind: ContentKind::Mail, title: String::new(), reason })
}

/// Read a message again: it changed, or failed before. Gone: removed. The
/// documents handed over.
fn reread(graph: &mut Graph, mailbox: &Mailbox, id: &str, changes: &mut Vec<DocumentChange>) -> Result<u64> {
    match message::get(graph, &mailbox.user, id) {
        Ok(Some(item)) => upsert(graph, mailbox, item, changes),
        Ok(None) => {
            changes.push(DocumentChange::Remove(id.to_string()));
            Ok(0)
        }
        Err(e) if crate::sync::folder_local(e.kind) || e.kind == Kind::Protocol => {
            changes.push(failed(id.to_string(), e.message));
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

/// A message its folder no longer has: deleted, or moved. Moved within the
/// folders read, it is handed over there (once: the other folder's delta
/// then finds its version stored); moved elsewhere, it is gone here.
fn removed(graph: &mut Graph, mailbox: &Mailbox, folder: &MailFolder, id: String, changes: &mut Vec<DocumentChange>) -> Result<u64> {
    let Some((now_in, version)) = message::located(graph, &mailbox.user, &id)? else {
        changes.push(DocumentChange::Remove(id));
        return Ok(0);
    };
    if now_in == folder.id {
        return Ok(0);
    }
    let Some(path) = mailbox.folders.get(&now_in) else {
        changes.push(DocumentChange::Remove(id));
        return Ok(0);
    };
    let stored = host::stored_document_versions(mailbox.address, std::slice::from_ref(&id));
    if stored.first().cloned().flatten().is_some_and(|v| v == version && !v.is_empty()) {
        return Ok(0);
    }
    let mut moved = Vec::new();
    let documents = reread(graph, mailbox, &id, &mut moved)?;
    Folder { mailbox: mailbox.address, id: &now_in, path, readers: &[] }.apply(moved, None, false)?;
    Ok(documents)
}

/// A message and its attachments as documents. Graph's `hasAttachments`
/// is false when all attachments are inline (resources/message), so a
/// body that shows an inline image (`[cid:...]` in the server's text)
/// has its attachments listed too.
fn upsert(graph: &mut Graph, mailbox: &Mailbox, mut item: MailItem, changes: &mut Vec<DocumentChange>) -> Result<u64> {
    let listed = item.has_attachments || item.body.contains("[cid:");
    let path = format!("messages/{}", segment(&item.id));
    let attached = item_attachments(graph, &mailbox.user, &path, &mut item, listed, mailbox.address, mailbox.request)?;
    changes.push(DocumentChange::Upsert(mail::mail_document(&item, mailbox.address)));
    let documents = 1 + attached.len() as u64;
    changes.extend(attached);
    Ok(documents)
}

/// The attachments of an item (a message, an event) at `path`, listed
/// into it when the request reads them and `listed` says it has any, and
/// their documents.
pub fn item_attachments(graph: &mut Graph, user: &str, path: &str, item: &mut MailItem, listed: bool, mailbox: &str, request: &SyncRequest) -> Result<Vec<DocumentChange>> {
    if !request.content.contains(&ContentKind::Attachment) || !listed {
        return Ok(Vec::new());
    }
    item.attachments = attachments::list(graph, user, path)?;
    let mut changes = Vec::new();
    for a in &item.attachments {
        if let Some(change) = mail::not_downloaded(a, item, mailbox, request.max_attachment_bytes) {
            changes.push(change);
            continue;
        }
        let content = attachments::content(graph, user, path, &a.id, request.max_attachment_bytes).map_err(|e| e.message);
        changes.push(mail::downloaded(a, item, mailbox, content, request.max_attachment_bytes));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use crate::graph::messages_delta::{Entry, parse};

    /// The documented delta round (delta-query-messages 01 to 04): full
    /// entries first; later a removal, and an update whose `isRead` is the
    /// string "true" (a docs typo), which is read again rather than trusted.
    #[test]
    fn the_documented_delta_pages_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/graph/msdocs");
        let read = |name: &str| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap() };
        let first = parse(&read("delta-query-messages__01_response.json"));
        assert!(first.next_link.is_some() && first.delta_link.is_none());
        let fourth = parse(&read("delta-query-messages__04_response.json"));
        assert!(fourth.delta_link.is_some());
        assert!(matches!(fourth.entries[0], Entry::Removed(_)));
        assert!(fourth.entries[1..].iter().all(|e| matches!(e, Entry::Partial(_))));
    }
}
