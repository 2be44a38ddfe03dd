//! EWS as a [`Source`]: mailbox folders read through SyncFolderItems (from
//! the beginning for a full sync, from the stored state for an incremental
//! one) and GetItem; public folders, which SyncFolderItems does not serve,
//! listed with FindItem and compared with stored change keys.

use crate::address_books::AddressBook;
use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::Change;
use crate::error::Result;
use crate::ews::Ews;
use crate::ews::find_item::ItemRef;
use crate::ews::get_item::{self, FetchedItem};
use crate::ews::response::Status;
use crate::ews::pipeline::{Contacts, Pipeline};
use crate::ews::sync_folder_items::{ItemChange, STALE_STATE};
use crate::flatten::Attributes;
use crate::report;
use crate::sync::{Listing, Sink, Source};
use std::collections::VecDeque;

/// A page of changes whose contacts are on the wire.
struct Listed {
    removed: Vec<Change>,
    /// GetItem batches queued for it
    batches: usize,
    state: String,
    last: bool,
}

pub struct EwsSource {
    pub ews: Ews,
    /// legacy DNs among contacts' addresses, to SMTP
    pub names: crate::ex_addresses::Resolver,
}

impl Source for EwsSource {
    fn address_books(&mut self) -> Result<Listing> {
        crate::folders::list(&mut self.ews)
    }

    fn sync_book(&mut self, book: &AddressBook, checkpoint: Option<&str>, compare: bool, sink: &mut Sink) -> Result<()> {
        match checkpoint {
            // SyncFolderItems does not serve public folders.
            _ if book.public => {
                if let Some(warning) = self.ews.start_public() {
                    crate::report::warn(&warning);
                }
                let listed = self.listing(book, compare, sink);
                self.ews.end_public();
                listed
            }
            Some(state) => self.changes(book, Some(state.to_string()), sink),
            None => self.changes(book, None, sink),
        }
    }

    fn sync_documents(&mut self, request: &crate::bindings::helpdesk::connector::types::SyncRequest) -> Result<u64> {
        crate::ews_mail::sync(&mut self.ews, request)
    }

    fn sample(&mut self, book: &AddressBook, count: usize) -> Result<Vec<Attributes>> {
        if book.public {
            self.ews.start_public();
        }
        let found = self.sample_of(book, count);
        self.ews.end_public();
        found
    }
}

impl EwsSource {
    fn sample_of(&mut self, book: &AddressBook, count: usize) -> Result<Vec<Attributes>> {
        let page = self.ews.find_items(&book.id, 0)?;
        let contacts: Vec<ItemRef> = page.items.into_iter().filter(|i| i.kind == "Contact").take(count).collect();
        let mut found = Vec::new();
        for chunk in contacts.chunks(get_item::MAX_BATCH) {
            found.extend(self.ews.get_items(chunk)?.into_iter().flatten().map(|item| item.attributes));
        }
        Ok(found)
    }

    /// List the folder page by page. With `compare`, contacts whose change
    /// key is the stored one are not read again. Only one page of ids is
    /// held at a time.
    fn listing(&mut self, book: &AddressBook, compare: bool, sink: &mut Sink) -> Result<()> {
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
        sink.apply(book, Vec::new(), None, true)
    }

    /// The changes since `state`, a page at a time, each page's contacts
    /// read with GetItem; each page's new state is stored with its batch.
    /// Without a state this is a full read: the changes from the beginning
    /// list the whole folder (a change made meanwhile comes in a later page,
    /// so none falls between listing and state), and its state is stored
    /// once, at the end, with the news that the listing is complete.
    ///
    /// The server is kept busy: the next page is asked for as soon as this
    /// one arrives, and its contacts are queued on the wire before the
    /// contacts of this page are read, mapped and stored.
    fn changes(&mut self, book: &AddressBook, mut state: Option<String>, sink: &mut Sink) -> Result<()> {
        let full = state.is_none();
        let mut restarts = 0;
        let mut done = 0u64;
        let mut early = None;
        let mut pipeline = Pipeline::<Contacts>::default();
        // Pages whose contacts are queued but not read yet, oldest first.
        let mut listed: VecDeque<Listed> = VecDeque::new();
        let mut more = true;
        while more || !listed.is_empty() {
            if more {
                let page = match (early.take(), &state) {
                    (Some(sent), Some(state)) => self.ews.sync_items_sent(sent, &book.id, state)?,
                    _ => self.ews.sync_items(&book.id, state.as_deref())?,
                };
                if page.status.is_error() {
                    if STALE_STATE.contains(&page.status.code.as_str()) {
                        if !full {
                            report::warn(&format!(
                                "Exchange no longer accepts the sync state of '{}' ({}): resyncing that folder in full",
                                book.path, page.status.code
                            ));
                            return self.changes(book, None, sink);
                        }
                        // A state refused while we are still catching up:
                        // start over (what was stored is read again).
                        if restarts < 3 {
                            restarts += 1;
                            state = None;
                            listed.clear();
                            pipeline = Pipeline::<Contacts>::default();
                            continue;
                        }
                    }
                    let doing = if full { "listing the items of a folder" } else { "reading changes" };
                    return Err(self.ews.message_error(doing, &page.status));
                }
                if !page.last {
                    early = Some(self.ews.sync_items_early(&book.id, &page.state));
                }
                let mut removed = Vec::new();
                let mut batches = 0;
                let mut to_read = Vec::new();
                for change in page.changes {
                    match change {
                        ItemChange::Upsert(item) if item.kind == "Contact" => to_read.push(item),
                        ItemChange::Upsert(_) => {}
                        ItemChange::Delete(id) => removed.push(Change::Remove(id)),
                        // Mail only: no contact changes its read flag.
                        ItemChange::ReadFlag { .. } => {}
                    }
                }
                for batch in to_read.chunks(get_item::MAX_BATCH) {
                    pipeline.push(&mut self.ews, batch.to_vec());
                    batches += 1;
                }
                listed.push_back(Listed { removed, batches, state: page.state.clone(), last: page.last });
                more = !page.last;
                state = Some(page.state);
                if more && listed.len() < 2 {
                    continue;
                }
            }
            let Some(page) = listed.pop_front() else { break };
            // The page in one batch: removals first, then what was read.
            let mut changes = page.removed;
            let mut read = Vec::with_capacity(page.batches);
            for _ in 0..page.batches {
                let (items, fetched) = pipeline.next(&mut self.ews).expect("a batch queued for this page")?;
                done += items.len() as u64;
                self.names.ask_for(&fetched);
                read.push((items, fetched));
            }
            for (items, fetched) in read {
                changes.extend(Self::mapped(&items, fetched, sink, &mut self.names));
            }
            if page.batches > 0 {
                host::progress(&book.id, done, book.count.max(done));
            }
            let checkpoint = (!full).then(|| page.state.clone());
            if !changes.is_empty() || checkpoint.is_some() {
                sink.apply(book, changes, checkpoint, false)?;
            }
            if page.last && full {
                sink.apply(book, Vec::new(), Some(page.state), true)?;
            }
        }
        Ok(())
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
        let mut read = Vec::with_capacity(requests.len());
        self.ews.get_items_each(&requests, |i, fetched| {
            self.names.ask_for(&fetched);
            read.push(fetched);
            progress(requests[i].len() as u64);
            Ok(())
        })?;
        let mut changes = Vec::with_capacity(items.len());
        for (items, fetched) in requests.into_iter().zip(read) {
            changes.extend(Self::mapped(items, fetched, sink, &mut self.names));
        }
        sink.apply(book, changes, checkpoint, false)
    }

    /// GetItem's results as changes for the host. The directory has been
    /// asked about their legacy DNs (`Resolver::ask_for`) as they came in:
    /// its answers are read here.
    fn mapped(
        items: &[ItemRef],
        fetched: Vec<std::result::Result<FetchedItem, Status>>,
        sink: &mut Sink,
        names: &mut crate::ex_addresses::Resolver,
    ) -> Vec<Change> {
        let mut changes = Vec::with_capacity(items.len());
        for (item, result) in items.iter().zip(fetched) {
            match result {
                Ok(mut contact) => {
                    names.fix(&mut contact.attributes);
                    changes.push(sink.contact(contact.id, contact.change_key, &contact.attributes))
                }
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
