//! Sync orchestration: which folders, how (full listing, incremental
//! changes, or a listing compared with what is stored), and in which
//! batches. It knows the directory only through the EWS client's typed
//! operations and the host only through its interface; no XML here.

use crate::address_books::{AddressBook, select};
use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::{
    Batch, Change, FieldMapping, NotApplied, SyncMode, SyncReport, SyncRequest, Upsert,
};
use crate::config::Config;
use crate::error::{Error, Kind, Result};
use crate::ews::Ews;
use crate::ews::find_item::ItemRef;
use crate::ews::get_item::{self, FetchedItem};
use crate::ews::response::Status;
use crate::ews::sync_folder_items::ItemChange;
use crate::{folders, mapping, report};
use std::collections::HashMap;

/// Sync states Exchange no longer accepts: start the folder over.
const STALE_STATE: &[&str] = &["ErrorInvalidSyncStateData", "ErrorInvalidSyncStateDataSyncState"];

pub fn run(config: &Config, request: &SyncRequest) -> Result<SyncReport> {
    let mapping = if request.mapping.is_empty() { mapping::default_mapping() } else { request.mapping.clone() };
    mapping::validate(&mapping, &host::user_fields())?;
    let mut ews = Ews::new(&config.endpoint, &config.username, &config.password);
    let listing = folders::list(&mut ews)?;
    for warning in &listing.warnings {
        report::warn(warning);
    }
    let books = select(listing.books, &config.folders)?;
    let states: HashMap<&str, &str> =
        request.checkpoints.iter().map(|c| (c.folder_id.as_str(), c.state.as_str())).collect();
    let mut run = Run { ews, mapping, report: SyncReport { folders: 0, contacts: 0, batches: 0 } };
    for book in &books {
        let outcome = match (request.mode, states.get(book.id.as_str())) {
            // SyncFolderItems does not serve public folders.
            (mode, _) if book.public => run.listing(book, None, mode == SyncMode::Incremental),
            (SyncMode::Incremental, Some(state)) => run.incremental(book, state),
            _ => run.full(book),
        };
        match outcome {
            Ok(()) => run.report.folders += 1,
            Err(e) if e.kind == Kind::AccessDenied => {
                report::warn(&format!("the address book '{}' was skipped: {}", book.path, e.message));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(run.report)
}

struct Run {
    ews: Ews,
    mapping: Vec<FieldMapping>,
    report: SyncReport,
}

impl Run {
    /// Every contact of the folder, and a sync state for the next
    /// incremental run. The state is taken first, so that a change made
    /// while we list is seen again next time rather than lost.
    fn full(&mut self, book: &AddressBook) -> Result<()> {
        let mut state: Option<String> = None;
        let state = loop {
            let page = self.ews.sync_items(&book.id, state.as_deref())?;
            if page.status.is_error() {
                return Err(self.ews.message_error("starting a sync state", &page.status));
            }
            if page.last {
                break page.state;
            }
            state = Some(page.state);
        };
        self.listing(book, Some(state), false)
    }

    /// List the folder page by page. With `compare`, contacts whose change
    /// key is the stored one are not read again. Only one page of ids is
    /// held at a time.
    fn listing(&mut self, book: &AddressBook, checkpoint: Option<String>, compare: bool) -> Result<()> {
        let mut offset = 0;
        let mut done = 0u64;
        loop {
            let page = self.ews.find_items(&book.id, offset)?;
            let contacts: Vec<ItemRef> = page.items.into_iter().filter(|item| item.kind == "Contact").collect();
            let mut unchanged = Vec::new();
            let mut to_read = Vec::new();
            if compare && !contacts.is_empty() {
                let ids: Vec<String> = contacts.iter().map(|c| c.id.clone()).collect();
                let stored = host::stored_versions(&book.id, &ids);
                for (contact, version) in contacts.into_iter().zip(stored) {
                    if version.as_deref() == Some(contact.change_key.as_str()) && !contact.change_key.is_empty() {
                        unchanged.push(Change::Unchanged(contact.id));
                    } else {
                        to_read.push(contact);
                    }
                }
            } else {
                to_read = contacts;
            }
            done += unchanged.len() as u64;
            if !unchanged.is_empty() {
                self.apply(book, unchanged, None, false)?;
            }
            for chunk in to_read.chunks(get_item::MAX_BATCH) {
                let changes = self.read(chunk)?;
                self.apply(book, changes, None, false)?;
                done += chunk.len() as u64;
                host::progress(&book.id, done, page.paging.total.unwrap_or(book.count).max(done));
            }
            if page.paging.last {
                break;
            }
            offset = self.ews.advance(offset, page.paging.next_offset)?;
        }
        self.apply(book, Vec::new(), checkpoint, true)
    }

    /// The changes since `state`, 512 at a time; each page's new state is
    /// stored with the last batch of that page.
    fn incremental(&mut self, book: &AddressBook, state: &str) -> Result<()> {
        let mut state = state.to_string();
        loop {
            let page = self.ews.sync_items(&book.id, Some(&state))?;
            if page.status.is_error() {
                if STALE_STATE.contains(&page.status.code.as_str()) {
                    report::warn(&format!(
                        "Exchange no longer accepts the sync state of '{}' ({}): resyncing that folder in full",
                        book.path, page.status.code
                    ));
                    return self.full(book);
                }
                return Err(self.ews.message_error("reading changes", &page.status));
            }
            let mut removed = Vec::new();
            let mut to_read = Vec::new();
            for change in page.changes {
                match change {
                    ItemChange::Upsert(item) if item.kind == "Contact" => to_read.push(item),
                    ItemChange::Upsert(_) => {}
                    ItemChange::Delete(id) => removed.push(Change::Remove(id)),
                }
            }
            let chunks: Vec<&[ItemRef]> = to_read.chunks(get_item::MAX_BATCH).collect();
            let mut batches = vec![removed];
            for chunk in chunks {
                batches.push(self.read(chunk)?);
            }
            let last = batches.len() - 1;
            for (i, changes) in batches.into_iter().enumerate() {
                if i == last || !changes.is_empty() {
                    let checkpoint = (i == last).then(|| page.state.clone());
                    self.apply(book, changes, checkpoint, false)?;
                }
            }
            if page.last {
                return Ok(());
            }
            state = page.state;
        }
    }

    /// Read contacts with GetItem and map them.
    fn read(&mut self, items: &[ItemRef]) -> Result<Vec<Change>> {
        let fetched = self.ews.get_items(items)?;
        let changes = items.iter().zip(fetched).filter_map(|(item, result)| self.change_for(item, result));
        let changes: Vec<Change> = changes.collect();
        self.report.contacts += changes.len() as u64;
        Ok(changes)
    }

    fn change_for(&self, item: &ItemRef, result: std::result::Result<FetchedItem, Status>) -> Option<Change> {
        match result {
            Ok(fetched) => Some(match mapping::map_contact(&fetched.id, &fetched.attributes, &self.mapping) {
                Ok(user) => Change::Upsert(Upsert { external_id: fetched.id, version: fetched.change_key, user }),
                Err(reason) => Change::Failed(NotApplied { external_id: fetched.id, reason }),
            }),
            // Deleted between listing and reading: it is simply gone.
            Err(status) if status.code == "ErrorItemNotFound" => None,
            Err(status) => Some(Change::Failed(NotApplied {
                external_id: item.id.clone(),
                reason: format!("reading the contact failed: {}: {}", status.code, status.text),
            })),
        }
    }

    fn apply(&mut self, book: &AddressBook, changes: Vec<Change>, checkpoint: Option<String>, listing_complete: bool) -> Result<()> {
        let batch = Batch {
            folder_id: book.id.clone(),
            folder_path: book.path.clone(),
            changes,
            checkpoint,
            listing_complete,
        };
        host::apply_batch(&batch).map_err(|e| Error::new(Kind::Host, format!("the host refused a batch: {e}")))?;
        self.report.batches += 1;
        Ok(())
    }
}
