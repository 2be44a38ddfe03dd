//! EWS as a [`Source`]: FindItem listings, SyncFolderItems changes, GetItem
//! reads; public folders listed and compared with stored change keys.

use crate::address_books::AddressBook;
use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::Change;
use crate::error::Result;
use crate::ews::Ews;
use crate::ews::find_item::ItemRef;
use crate::ews::get_item::{self, FetchedItem};
use crate::ews::response::Status;
use crate::ews::sync_folder_items::ItemChange;
use crate::flatten::Attributes;
use crate::report;
use crate::sync::{Listing, Sink, Source};

/// Sync states Exchange no longer accepts: start the folder over.
const STALE_STATE: &[&str] = &["ErrorInvalidSyncStateData", "ErrorInvalidSyncStateDataSyncState"];

pub struct EwsSource {
    pub ews: Ews,
}

impl Source for EwsSource {
    fn address_books(&mut self) -> Result<Listing> {
        crate::folders::list(&mut self.ews)
    }

    fn sync_book(&mut self, book: &AddressBook, checkpoint: Option<&str>, compare: bool, sink: &mut Sink) -> Result<()> {
        match checkpoint {
            // SyncFolderItems does not serve public folders.
            _ if book.public => self.listing(book, None, compare, sink),
            Some(state) => self.incremental(book, state, sink),
            None => self.full(book, sink),
        }
    }

    fn sample(&mut self, book: &AddressBook, count: usize) -> Result<Vec<Attributes>> {
        let page = self.ews.find_items(&book.id, 0)?;
        let contacts: Vec<ItemRef> = page.items.into_iter().filter(|i| i.kind == "Contact").take(count).collect();
        let mut found = Vec::new();
        for chunk in contacts.chunks(get_item::MAX_BATCH) {
            found.extend(self.ews.get_items(chunk)?.into_iter().flatten().map(|item| item.attributes));
        }
        Ok(found)
    }
}

impl EwsSource {
    /// Every contact of the folder, and a sync state for the next
    /// incremental run. The state is taken first, so that a change made
    /// while we list is seen again next time rather than lost.
    fn full(&mut self, book: &AddressBook, sink: &mut Sink) -> Result<()> {
        let mut state: Option<String> = None;
        let mut restarts = 0;
        let state = loop {
            let page = self.ews.sync_items(&book.id, state.as_deref())?;
            // A state refused while we are still catching up: start over.
            if state.is_some() && STALE_STATE.contains(&page.status.code.as_str()) && restarts < 3 {
                restarts += 1;
                state = None;
                continue;
            }
            if page.status.is_error() {
                return Err(self.ews.message_error("starting a sync state", &page.status));
            }
            if page.last {
                break page.state;
            }
            state = Some(page.state);
        };
        self.listing(book, Some(state), false, sink)
    }

    /// List the folder page by page. With `compare`, contacts whose change
    /// key is the stored one are not read again. Only one page of ids is
    /// held at a time.
    fn listing(&mut self, book: &AddressBook, checkpoint: Option<String>, compare: bool, sink: &mut Sink) -> Result<()> {
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
                sink.apply(book, unchanged, None, false)?;
            }
            let total = page.paging.total.unwrap_or(book.count);
            self.read_into(book, &to_read, None, sink, &mut |read| {
                done += read;
                host::progress(&book.id, done, total.max(done));
            })?;
            if page.paging.last {
                break;
            }
            offset = self.ews.advance(offset, page.paging.next_offset)?;
        }
        sink.apply(book, Vec::new(), checkpoint, true)
    }

    /// The changes since `state`, 512 at a time; each page's new state is
    /// stored with the last batch of that page.
    fn incremental(&mut self, book: &AddressBook, state: &str, sink: &mut Sink) -> Result<()> {
        let mut state = state.to_string();
        loop {
            let page = self.ews.sync_items(&book.id, Some(&state))?;
            if page.status.is_error() {
                if STALE_STATE.contains(&page.status.code.as_str()) {
                    report::warn(&format!(
                        "Exchange no longer accepts the sync state of '{}' ({}): resyncing that folder in full",
                        book.path, page.status.code
                    ));
                    return self.full(book, sink);
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
            if !removed.is_empty() || to_read.is_empty() {
                let checkpoint = to_read.is_empty().then(|| page.state.clone());
                sink.apply(book, removed, checkpoint, false)?;
            }
            self.read_into(book, &to_read, Some(page.state.clone()), sink, &mut |_| {})?;
            if page.last {
                return Ok(());
            }
            state = page.state;
        }
    }

    /// Read contacts with GetItem, several requests at once, and hand them
    /// to the host mapped, in one batch (a page of the listing: one
    /// transaction rather than one per request) that carries `checkpoint`.
    /// `progress` hears how many were read.
    fn read_into(
        &mut self,
        book: &AddressBook,
        items: &[ItemRef],
        checkpoint: Option<String>,
        sink: &mut Sink,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let requests: Vec<&[ItemRef]> = items.chunks(get_item::MAX_BATCH).collect();
        let mut changes = Vec::with_capacity(items.len());
        self.ews.get_items_each(&requests, |i, fetched| {
            changes.extend(Self::mapped(requests[i], fetched, sink));
            progress(requests[i].len() as u64);
            Ok(())
        })?;
        sink.apply(book, changes, checkpoint, false)
    }

    /// GetItem's results as changes for the host.
    fn mapped(items: &[ItemRef], fetched: Vec<std::result::Result<FetchedItem, Status>>, sink: &mut Sink) -> Vec<Change> {
        let mut changes = Vec::with_capacity(items.len());
        for (item, result) in items.iter().zip(fetched) {
            match result {
                Ok(contact) => changes.push(sink.contact(contact.id, contact.change_key, &contact.attributes)),
                // Deleted between listing and reading: it is simply gone.
                Err(status) if status.code == "ErrorItemNotFound" => {}
                Err(status) => changes.push(sink.failed(
                    item.id.clone(),
                    format!("reading the contact failed: {}: {}", status.code, status.text),
                )),
            }
        }
        changes
    }
}
