//! Sync orchestration: which folders, in what order, in which batches. It
//! knows the directory only through the EWS client's typed operations and
//! the host only through `apply-batch`; no XML here.

use crate::address_books::{AddressBook, address_books, select};
use crate::bindings::helpdesk::connector::host::{self, LogLevel};
use crate::bindings::helpdesk::connector::types::{
    Batch, Change, FieldMapping, NotApplied, SyncMode, SyncReport, SyncRequest, Upsert,
};
use crate::config::Config;
use crate::error::{Error, Kind, Result};
use crate::ews::Ews;
use crate::ews::envelope::FolderRef;
use crate::ews::find_folder::Traversal;
use crate::ews::find_item::ItemRef;
use crate::ews::get_item::{self, FetchedItem};
use crate::ews::response::Status;
use crate::mapping;

pub fn contact_folders(ews: &mut Ews) -> Result<Vec<AddressBook>> {
    let tree = ews.folder_tree(&FolderRef::Distinguished("msgfolderroot"), Traversal::Deep)?;
    Ok(address_books(&tree))
}

pub fn run(config: &Config, request: &SyncRequest) -> Result<SyncReport> {
    let mapping = if request.mapping.is_empty() { mapping::default_mapping() } else { request.mapping.clone() };
    mapping::validate(&mapping, &host::user_fields())?;
    if request.mode == SyncMode::Incremental {
        host::log(LogLevel::Info, "incremental sync is not available yet: running a full sync");
    }
    let mut ews = Ews::new(&config.endpoint, &config.username, &config.password);
    let books = select(contact_folders(&mut ews)?, &config.folders)?;
    let mut report = SyncReport { folders: 0, contacts: 0, batches: 0 };
    for book in &books {
        full_listing(&mut ews, book, &mapping, &mut report)?;
        report.folders += 1;
    }
    Ok(report)
}

/// List every contact of a folder, page by page, and hand them over in
/// batches of at most one GetItem each. Only one page of ids is held.
fn full_listing(ews: &mut Ews, book: &AddressBook, mapping: &[FieldMapping], report: &mut SyncReport) -> Result<()> {
    let mut offset = 0;
    let mut done = 0u64;
    loop {
        let page = ews.find_items(&book.id, offset)?;
        let (contacts, others): (Vec<ItemRef>, Vec<ItemRef>) =
            page.items.into_iter().partition(|item| item.kind == "Contact");
        if !others.is_empty() {
            host::log(
                LogLevel::Debug,
                &format!("{}: {} items that are not contacts (contact groups) left out", book.path, others.len()),
            );
        }
        for chunk in contacts.chunks(get_item::MAX_BATCH) {
            let fetched = ews.get_items(chunk)?;
            let changes = chunk.iter().zip(fetched).filter_map(|(item, result)| change_for(item, result, mapping));
            let changes: Vec<Change> = changes.collect();
            report.contacts += changes.len() as u64;
            apply(book, changes, false, report)?;
            done += chunk.len() as u64;
            host::progress(&book.id, done, page.paging.total.unwrap_or(book.count).max(done));
        }
        if page.paging.last {
            break;
        }
        offset = ews.advance(offset, page.paging.next_offset)?;
    }
    apply(book, Vec::new(), true, report)
}

fn change_for(item: &ItemRef, result: std::result::Result<FetchedItem, Status>, mapping: &[FieldMapping]) -> Option<Change> {
    match result {
        Ok(fetched) => Some(match mapping::map_contact(&fetched.id, &fetched.attributes, mapping) {
            Ok(user) => Change::Upsert(Upsert { external_id: fetched.id, user }),
            Err(reason) => Change::Failed(NotApplied { external_id: fetched.id, reason }),
        }),
        // Deleted between FindItem and GetItem: it is simply gone.
        Err(status) if status.code == "ErrorItemNotFound" => None,
        Err(status) => Some(Change::Failed(NotApplied {
            external_id: item.id.clone(),
            reason: format!("reading the contact failed: {}: {}", status.code, status.text),
        })),
    }
}

fn apply(book: &AddressBook, changes: Vec<Change>, listing_complete: bool, report: &mut SyncReport) -> Result<()> {
    let batch = Batch {
        folder_id: book.id.clone(),
        folder_path: book.path.clone(),
        changes,
        checkpoint: None,
        listing_complete,
    };
    host::apply_batch(&batch).map_err(|e| Error::new(Kind::Host, format!("the host refused a batch: {e}")))?;
    report.batches += 1;
    Ok(())
}
