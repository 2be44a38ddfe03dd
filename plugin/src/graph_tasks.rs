//! To Do tasks as documents: every list of a mailbox (flagged mail's
//! included), each read with `tasks/delta`, its delta link the list's
//! checkpoint; a first round compares versions with the stored ones, so
//! an unchanged task is handed over unchanged; task attachments as a
//! message's (reference/mailbox-content.md 2, "Tasks").

use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::{DocumentChange, SyncRequest};
use crate::documents::Folder;
use crate::documents::calendar::task_document;
use crate::error::{Kind, Result};
use crate::graph::todo::{self, Entry};
use crate::documents::folders::MailFolder;
use crate::graph::{Graph, segment};
use crate::graph_mail::item_attachments;
use crate::report;

/// One list of the mailbox `address` (`user` in paths), from its delta
/// link (None: in full); the documents handed over.
pub fn sync_list(graph: &mut Graph, address: &str, user: &str, list: &MailFolder, checkpoint: Option<&str>, request: &SyncRequest) -> Result<u64> {
    let folder = Folder { mailbox: address, id: &list.id, path: &list.path, readers: &[] };
    let full = checkpoint.is_none();
    let mut url = checkpoint.map_or_else(|| todo::start_url(graph, user, &list.id), str::to_string);
    let mut documents = 0;
    loop {
        let page = match todo::page(graph, &url) {
            Ok(page) => page,
            Err(e) if e.kind == Kind::StaleState && !full => {
                report::warn(&format!("Graph no longer accepts the delta link of the task list '{}' of {address} ({}): it is read again in full", list.path, e.message));
                return Ok(documents + sync_list(graph, address, user, list, None, request)?);
            }
            Err(e) => return Err(e),
        };
        let last = crate::graph::round_ends(&page.next_link, &page.delta_link, &format!("the task list '{}'", list.path))?;
        let ids: Vec<String> = page.entries.iter().filter_map(|e| if let Entry::Task(t) = e { Some(t.head.id.clone()) } else { None }).collect();
        let mut stored = host::stored_document_versions(address, &ids).into_iter();
        let mut changes = Vec::new();
        for entry in page.entries {
            let mut task = match entry {
                Entry::Removed(id) => {
                    changes.push(DocumentChange::Remove(id));
                    continue;
                }
                Entry::Task(task) => task,
            };
            if stored.next().flatten().is_some_and(|v| v == task.head.change_key && !v.is_empty()) {
                changes.push(DocumentChange::Unchanged(task.head.id));
                continue;
            }
            let path = format!("todo/lists/{}/tasks/{}", segment(&list.id), segment(&task.head.id));
            let listed = task.head.has_attachments;
            let attached = item_attachments(graph, user, &path, &mut task.head, listed, address, request)?;
            changes.push(DocumentChange::Upsert(task_document(&task, address, &list.path)));
            documents += 1 + attached.len() as u64;
            changes.extend(attached);
        }
        folder.apply(changes, page.delta_link.filter(|_| last), full && last)?;
        match page.next_link {
            Some(next) => url = next,
            None => return Ok(documents),
        }
    }
}
