//! Sync orchestration: which address books, in what order, the mapping and
//! the batches. A protocol (EWS, Graph) is a [`Source`]; nothing here knows
//! XML or JSON.

use crate::address_books::{AddressBook, select};
use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::{
    Batch, Change, FieldMapping, NotApplied, SyncMode, SyncReport, SyncRequest, Upsert,
};
use crate::error::{Error, Kind, Result};
use crate::flatten::Attributes;
use crate::{mapping, report};
use std::collections::HashMap;

/// The address books of a directory, and what could not be listed.
pub struct Listing {
    pub books: Vec<AddressBook>,
    pub warnings: Vec<String>,
    /// display paths of the parts of the tree that could not be walked
    /// (whatever lies below them is unknown); "" for the whole tree
    pub unlisted: Vec<String>,
}

/// A directory protocol.
pub trait Source {
    fn address_books(&mut self) -> Result<Listing>;

    /// Sync one address book into `sink`: in full (`checkpoint` None), or
    /// the changes since `checkpoint`, falling back to full when the
    /// directory no longer accepts it.
    fn sync_book(&mut self, book: &AddressBook, checkpoint: Option<&str>, compare: bool, sink: &mut Sink) -> Result<()>;

    /// The attributes of up to `count` contacts of a book.
    fn sample(&mut self, book: &AddressBook, count: usize) -> Result<Vec<Attributes>>;

    /// Mailbox content as documents, as the request asks; the documents
    /// handed over.
    fn sync_documents(&mut self, request: &SyncRequest) -> Result<u64>;
}

/// Where a source's contacts go: mapped to users, in batches, to the host.
pub struct Sink {
    mapping: Vec<FieldMapping>,
    pub report: SyncReport,
}

impl Sink {
    /// A contact read from the directory, mapped.
    pub fn contact(&mut self, external_id: String, version: String, attributes: &Attributes) -> Change {
        self.report.contacts += 1;
        match mapping::map_contact(&external_id, attributes, &self.mapping) {
            Ok(user) => Change::Upsert(Upsert { external_id, version, user }),
            Err(reason) => {
                let reason = format!("{reason} (contact {})", mapping::describe(attributes));
                Change::Failed(NotApplied { external_id, reason })
            }
        }
    }

    /// A contact that could not be read.
    pub fn failed(&mut self, external_id: String, reason: String) -> Change {
        self.report.contacts += 1;
        Change::Failed(NotApplied { external_id, reason })
    }

    pub fn apply(&mut self, book: &AddressBook, changes: Vec<Change>, checkpoint: Option<String>, listing_complete: bool) -> Result<()> {
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

/// The address books named in `folders` (all when empty), warnings
/// logged, and the parts of the tree that could not be walked.
pub fn chosen_books(source: &mut dyn Source, folders: &[String]) -> Result<(Vec<AddressBook>, Vec<String>)> {
    let listing = source.address_books()?;
    for warning in &listing.warnings {
        report::warn(warning);
    }
    Ok((select(listing.books, folders)?, listing.unlisted))
}

/// Tell the host which address books this run syncs: a batch without a
/// folder id whose changes name each book as `unchanged`, and each part of
/// the tree that could not be walked as `skipped` with its display path as
/// the reason. The host then deactivates the users of books that are gone
/// (deleted, or no longer chosen) and do not lie in such a part, under its
/// safety valve.
fn declare_books(books: &[AddressBook], unlisted: &[String]) -> Result<()> {
    let unknown = unlisted.iter().map(|path| Change::Skipped(NotApplied { external_id: String::new(), reason: path.clone() }));
    let batch = Batch {
        folder_id: String::new(),
        folder_path: String::new(),
        changes: books.iter().map(|b| Change::Unchanged(b.id.clone())).chain(unknown).collect(),
        checkpoint: None,
        listing_complete: true,
    };
    host::apply_batch(&batch).map_err(|e| Error::new(Kind::Host, format!("the host refused the list of address books: {e}")))
}

pub fn run(source: &mut dyn Source, folders: &[String], request: &SyncRequest) -> Result<SyncReport> {
    let mapping = if request.mapping.is_empty() { mapping::default_mapping() } else { request.mapping.clone() };
    mapping::validate(&mapping, &host::user_fields())?;
    let (books, unlisted) = chosen_books(source, folders)?;
    // With folders chosen by name, what is not chosen is out, listed or not.
    let unlisted = if folders.is_empty() { unlisted } else { Vec::new() };
    if !unlisted.iter().any(String::is_empty) {
        declare_books(&books, &unlisted)?;
    }
    let states: HashMap<&str, &str> =
        request.checkpoints.iter().map(|c| (c.folder_id.as_str(), c.state.as_str())).collect();
    let incremental = request.mode == SyncMode::Incremental;
    let mut sink = Sink { mapping, report: SyncReport { folders: 0, contacts: 0, batches: 0, documents: 0 } };
    for book in &books {
        let checkpoint = if incremental { states.get(book.id.as_str()).copied() } else { None };
        match source.sync_book(book, checkpoint, incremental, &mut sink) {
            Ok(()) => sink.report.folders += 1,
            // A failure of this folder alone: the others go on, and this
            // one keeps its last good checkpoint for the next run.
            Err(e) if folder_local(e.kind) => {
                report::warn(&format!("the address book '{}' was skipped: {}", book.path, e.message));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sink.report)
}

/// Failures that concern one folder (it may not be read, or the server
/// answers nonsense about it) rather than the connection or the account.
pub fn folder_local(kind: Kind) -> bool {
    matches!(kind, Kind::AccessDenied | Kind::Protocol | Kind::Unreadable | Kind::StaleState)
}
