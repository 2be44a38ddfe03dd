//! EWS mailbox content as documents: for each mailbox (impersonated, with
//! X-AnchorMailbox), every mail folder, calendar and task folder below the
//! message root, found by element and class and never by name (names are
//! localised), without search folders and without the system folders'
//! subtrees; Deleted Items only when named. Mail is read here, events and
//! tasks in ews_calendar.rs. Each folder is read with SyncFolderItems from its
//! checkpoint; an item whose change key is the stored version is not read
//! again; attachments are read only when small enough and of a type whose
//! text we extract (reference/mailbox-content.md 1.1 to 1.7).

use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::{ContentKind, DocumentChange, DocumentIssue, ReadFlag, SyncMode, SyncRequest};
use crate::documents::folders::{self, MailFolder, TreeFolder};
use crate::documents::hierarchy::{self, FolderDelta, Listing};
use crate::documents::{Folder, mail};
use crate::ews_attachments as attachments;
use crate::error::{Error, Kind, Result};
use crate::ews::Ews;
use crate::ews::envelope::FolderRef;
use crate::ews::find_folder::{FolderInfo, Traversal};
use crate::ews::sync_folder_hierarchy::{self, FolderChange};
use crate::ews::get_message;
use crate::ews::pipeline::{Messages, Pipeline, Read};
use crate::ews::sync_folder_items::{ItemChange, STALE_STATE};
use crate::report;
use std::collections::HashMap;

/// Read the mail of every mailbox the request names; the documents handed
/// over. A mailbox that cannot be opened is a warning, and keeps what it
/// had.
pub fn sync(ews: &mut Ews, request: &SyncRequest) -> Result<u64> {
    let mut documents = 0;
    let states: HashMap<(&str, &str), &str> =
        request.document_checkpoints.iter().map(|c| ((c.mailbox.as_str(), c.folder_id.as_str()), c.state.as_str())).collect();
    for (mailbox, _) in &crate::mailboxes::to_read(ews, request)? {
        let mailbox = mailbox.as_str();
        let own = ews.own_address().is_some_and(|a| a.eq_ignore_ascii_case(mailbox));
        ews.act_for(if own { None } else { Some(mailbox) });
        let mut result = sync_mailbox(ews, mailbox, None, request, &states);
        // Without the ApplicationImpersonation role: as a delegate, which
        // FullAccess allows.
        if let Err(e) = &result
            && IMPERSONATION_DENIED.iter().any(|code| e.message.contains(code))
        {
            report::warn(&format!("the account may not impersonate {mailbox}; its mail is read as a delegate (FullAccess) instead"));
            ews.delegate_for(mailbox);
            result = sync_mailbox(ews, mailbox, Some(mailbox), request, &states);
        }
        ews.act_for(None);
        match result {
            Ok(count) => documents += count,
            Err(e) if mailbox_local(&e) => report::warn(&format!("the mailbox {mailbox} was skipped: {}", e.message)),
            Err(e) => return Err(e),
        }
    }
    Ok(documents)
}

impl crate::mailboxes::Directory for Ews {
    fn mailboxes(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self.searchable_mailboxes()?.into_iter().map(|a| (a.clone(), a)).collect())
    }

    fn rooms(&mut self) -> Result<Vec<String>> {
        Ews::rooms(self)
    }

    fn named(&self, address: &str) -> String {
        address.to_string()
    }
}

/// What Exchange answers an impersonation the account may not do
/// (reference/ews-and-graph-protocol.md 2.1).
const IMPERSONATION_DENIED: &[&str] = &["ErrorImpersonateUserDenied", "ErrorImpersonationDenied"];

/// Failures of one mailbox rather than of the connection.
fn mailbox_local(e: &Error) -> bool {
    matches!(e.kind, Kind::AccessDenied) || e.message.contains("ErrorNonExistentMailbox") || IMPERSONATION_DENIED.iter().any(|c| e.message.contains(c))
}

/// `delegate`: the mailbox is opened as a delegate, named in well-known
/// folder ids.
fn sync_mailbox(ews: &mut Ews, mailbox: &str, delegate: Option<&str>, request: &SyncRequest, states: &HashMap<(&str, &str), &str>) -> Result<u64> {
    let folders = folders_to_read(ews, mailbox, request, delegate)?;
    let incremental = request.mode == SyncMode::Incremental;
    let mut documents = 0;
    for folder in &folders {
        let checkpoint = if incremental { states.get(&(mailbox, folder.id.as_str())).copied() } else { None };
        match sync_folder(ews, mailbox, folder, checkpoint, request) {
            Ok(count) => documents += count,
            Err(e) if crate::sync::folder_local(e.kind) => {
                report::warn(&format!("the folder '{}' of {mailbox} was skipped: {}", folder.path, e.message));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(documents)
}

/// The folders to read (documents/hierarchy.rs): those of the last run
/// when SyncFolderHierarchy reports no change that matters since; the
/// stored tree with the changes made, when it reports some; else the whole
/// tree, from SyncFolderHierarchy without a state (or FindFolder, on a
/// server without hierarchy sync). The hierarchy state is taken before the
/// folders' permissions are read, so a change made meanwhile shows next
/// time.
fn folders_to_read(ews: &mut Ews, mailbox: &str, request: &SyncRequest, delegate: Option<&str>) -> Result<Vec<MailFolder>> {
    let at = |name: &'static str| match delegate {
        Some(mailbox) => FolderRef::DistinguishedOf(name, mailbox.to_string()),
        None => FolderRef::Distinguished(name),
    };
    let known = hierarchy::Known::stored(request, mailbox);
    if request.mode == SyncMode::Incremental
        && let Some(stored) = &known
    {
        match hierarchy_sync(ews, &at("msgfolderroot"), Some(&stored.state))? {
            Err(why) => report::debug(&format!("the folder changes of {mailbox} could not be read ({why}); its folders are listed")),
            Ok(page) => {
                let deltas: Vec<FolderDelta> = page.changes.into_iter().map(delta).collect();
                if !stored.changed_by(&deltas) {
                    return Ok(known.expect("matched above").keep_at(mailbox, page.state)?.folders);
                }
                let listing = read_listing(ews, request, stored.tree_after(deltas), Some(&stored.listing), at)?;
                return Ok(hierarchy::settle(mailbox, request, known.as_ref(), Some(page.state), listing)?.folders);
            }
        }
    }
    let (tree, state) = match hierarchy_sync(ews, &at("msgfolderroot"), None)? {
        Err(why) => {
            report::debug(&format!("no hierarchy sync for {mailbox} ({why}): its folders are listed each run"));
            (ews.folder_tree(&at("msgfolderroot"), Traversal::Deep)?.iter().map(tree_folder).collect(), None)
        }
        Ok(page) => {
            let tree = page.changes.into_iter().filter_map(|c| if let FolderChange::Changed(f) = c { Some(tree_folder(&f)) } else { None }).collect();
            (tree, Some(page.state))
        }
    };
    let listing = read_listing(ews, request, tree, None, at)?;
    Ok(hierarchy::settle(mailbox, request, known.as_ref(), state, listing)?.folders)
}

/// SyncFolderHierarchy's answer; inside, why not, when the server refuses
/// the state or the operation (a SOAP fault) rather than the mailbox or
/// the account, which fail the call.
fn hierarchy_sync(ews: &mut Ews, root: &FolderRef, state: Option<&str>) -> Result<std::result::Result<sync_folder_hierarchy::Page, String>> {
    let refused = match ews.folder_changes(root, state) {
        Ok(page) if !page.status.is_error() => return Ok(Ok(page)),
        Ok(page) => ews.message_error("listing folder changes", &page.status),
        Err(e) if e.kind == Kind::Protocol => e,
        Err(e) => return Err(e),
    };
    if mailbox_local(&refused) { Err(refused) } else { Ok(Err(refused.message)) }
}

fn delta(change: FolderChange) -> FolderDelta {
    match change {
        FolderChange::Changed(f) => FolderDelta::Changed(tree_folder(&f)),
        FolderChange::Deleted(id) => FolderDelta::Removed(id),
    }
}

/// A folder of the tree, with its change key (a permission given or taken
/// changes it), and what it holds that may be read: mail
/// (IPF.Note, a `Folder` element, not a search folder), events
/// (`CalendarFolder`) or tasks (`TasksFolder`), when it is not hidden.
fn tree_folder(f: &FolderInfo) -> TreeFolder {
    TreeFolder {
        id: f.id.clone(),
        parent_id: f.parent_id.clone(),
        name: f.name.clone(),
        holds: match f.element.as_str() {
            _ if f.hidden => None,
            "Folder" if f.class == "IPF.Note" || f.class.starts_with("IPF.Note.") => Some(ContentKind::Mail),
            "CalendarFolder" => Some(ContentKind::Event),
            "TasksFolder" => Some(ContentKind::Task),
            _ => None,
        },
        version: f.change_key.clone(),
    }
}

/// The folders of `tree` the request reads, outside the system folders;
/// for mail, with `mail_folders`, those named by id, path or distinguished
/// id; each with the readers its permissions name. One GetFolder, which
/// also finds the well-known folders' ids when `known` has none.
fn read_listing(ews: &mut Ews, request: &SyncRequest, tree: Vec<TreeFolder>, known: Option<&Listing>, at: impl Fn(&'static str) -> FolderRef) -> Result<Listing> {
    let mut names: Vec<&'static str> = Vec::new();
    if known.is_none() {
        names.extend(["msgfolderroot", folders::DELETED_ITEMS]);
        names.extend(folders::SYSTEM_FOLDERS);
    }
    let candidates: Vec<&TreeFolder> = tree.iter().filter(|f| f.holds.is_some_and(|k| request.content.contains(&k))).collect();
    let refs: Vec<FolderRef> = names.iter().map(|n| at(n)).chain(candidates.iter().map(|f| FolderRef::Id(f.id.clone()))).collect();
    let answers = if refs.is_empty() { Vec::new() } else { ews.get_folders_with_readers(&refs)? };
    let (well_known, root) = match known {
        Some(known) => (known.well_known.clone(), known.root.clone()),
        None => {
            // A distinguished folder this server lacks answers an error:
            // skip it.
            let found: Vec<Option<String>> = answers.iter().take(names.len()).map(|r| r.as_ref().ok().map(|f| f.id.clone())).collect();
            let well_known = found.iter().zip(&names).filter_map(|(id, name)| id.clone().map(|id| (id, name.to_string()))).collect();
            (well_known, found.first().cloned().flatten())
        }
    };
    // Permissions that cannot be read (a delegate may not) leave the
    // owner the only reader.
    let readers: HashMap<String, Vec<String>> = answers.into_iter().skip(names.len()).flatten().map(|f| (f.id, f.readers)).collect();
    let mut listing = Listing { tree, well_known, root, folders: Vec::new() };
    listing.folders = folders::choose(&listing.tree, listing.root.as_deref(), &listing.well_known_names(), &request.mail_folders, &request.content);
    for folder in &mut listing.folders {
        folder.readers = readers.get(&folder.id).cloned().unwrap_or_default();
    }
    Ok(listing)
}

/// One folder, from its checkpoint (None: in full, every item compared
/// with what is stored); the documents handed over.
fn sync_folder(ews: &mut Ews, mailbox: &str, folder: &MailFolder, checkpoint: Option<&str>, request: &SyncRequest) -> Result<u64> {
    let target = Folder { mailbox, id: &folder.id, path: &folder.path, readers: &folder.readers };
    let mut state = checkpoint.map(str::to_string);
    let mut full = state.is_none();
    let mut documents = 0;
    // Items that failed before: the checkpoint has moved past them. (A
    // full listing shows them anyway.)
    if !full {
        let again: Vec<String> =
            request.document_retries.iter().filter(|r| r.mailbox.eq_ignore_ascii_case(mailbox) && r.folder_id == folder.id).map(|r| r.id.clone()).collect();
        documents += read(ews, &target, folder.holds, again, request)?;
    }
    loop {
        let page = ews.sync_items(&folder.id, state.as_deref())?;
        if page.status.is_error() {
            if STALE_STATE.contains(&page.status.code.as_str()) && state.is_some() {
                report::warn(&format!("the sync state of the mail folder '{}' of {mailbox} was refused ({}); it is read again in full", folder.path, page.status.code));
                (state, full) = (None, true);
                continue;
            }
            return Err(ews.message_error("listing the mail of a folder", &page.status));
        }
        let mut changes = Vec::new();
        let mut listed = Vec::new();
        for change in page.changes {
            match change {
                ItemChange::Upsert(item) => listed.push(item),
                ItemChange::Delete(id) => changes.push(DocumentChange::Remove(id)),
                ItemChange::ReadFlag { id, is_read } => changes.push(DocumentChange::ReadFlag(ReadFlag { id, is_read })),
            }
        }
        let ids: Vec<String> = listed.iter().map(|i| i.id.clone()).collect();
        let stored = host::stored_document_versions(mailbox, &ids);
        let mut to_read = Vec::new();
        for (item, stored) in listed.into_iter().zip(stored) {
            match stored {
                Some(version) if version == item.change_key && !item.change_key.is_empty() => changes.push(DocumentChange::Unchanged(item.id)),
                _ => to_read.push(item.id),
            }
        }
        target.apply(changes, None, false)?;
        documents += read(ews, &target, folder.holds, to_read, request)?;
        target.apply(Vec::new(), Some(page.state.clone()), full && page.last)?;
        if page.last {
            return Ok(documents);
        }
        state = Some(page.state);
    }
}

/// Read the items of a folder by id and hand them over, as what the
/// folder holds.
fn read(ews: &mut Ews, target: &Folder, holds: ContentKind, ids: Vec<String>, request: &SyncRequest) -> Result<u64> {
    match holds {
        ContentKind::Event => crate::ews_calendar::read_events(ews, target, ids, request),
        ContentKind::Task => crate::ews_calendar::read_tasks(ews, target, ids, request),
        _ => read_items::<Messages>(ews, target, ids, get_message::MAX_BATCH, ContentKind::Mail, request, |_, item, batch| {
            batch.documents.push(DocumentChange::Upsert(mail::mail_document(&item, target.mailbox)));
            Ok(1 + batch.attachments(&item, target.mailbox, request))
        }),
    }
}

/// Read items by id and hand them over: GetItem batches on the wire while
/// earlier ones are read, one batch of documents per GetItem (a page of
/// bodies is never held at once); `document` makes an item's changes and
/// says how many documents they hold. A batch's files are asked for when
/// it is parsed and read once the next one is. An item gone meanwhile is
/// a removal; one that cannot be read fails, and the host has it read
/// again next time. The documents handed over.
pub fn read_items<R: Read<Id = String>>(
    ews: &mut Ews,
    target: &Folder,
    ids: Vec<String>,
    batch: usize,
    kind: ContentKind,
    request: &SyncRequest,
    mut document: impl FnMut(&mut Ews, R::Item, &mut attachments::Batch) -> Result<u64>,
) -> Result<u64> {
    let mut documents = 0;
    let mut pipeline = Pipeline::<R>::default();
    for chunk in ids.chunks(batch) {
        pipeline.push(ews, chunk.to_vec());
    }
    let mut held: Option<attachments::Sent> = None;
    let failed = loop {
        let Some(next) = pipeline.next(ews) else { break None };
        let mut changes = attachments::Batch::default();
        let read = next.and_then(|(chunk, results)| {
            for (id, result) in chunk.iter().zip(results) {
                match result {
                    Ok(item) => documents += document(ews, item, &mut changes)?,
                    Err(status) if status.code == "ErrorItemNotFound" => changes.documents.push(DocumentChange::Remove(id.clone())),
                    Err(status) => changes.documents.push(DocumentChange::Failed(DocumentIssue {
                        id: id.clone(),
                        kind,
                        title: String::new(),
                        reason: format!("{}: {}", status.code, status.text),
                    })),
                }
            }
            Ok(())
        });
        if let Err(e) = read {
            break Some(e);
        }
        let sent = changes.send(ews, request.max_attachment_bytes);
        if let Some(earlier) = held.replace(sent) {
            target.apply(earlier.finish(ews, target.mailbox, request.max_attachment_bytes)?, None, false)?;
        }
    };
    // The batch read before a failure is handed over all the same.
    if let Some(last) = held {
        target.apply(last.finish(ews, target.mailbox, request.max_attachment_bytes)?, None, false)?;
    }
    failed.map_or(Ok(documents), Err)
}
