//! Mailbox content as searchable documents: what a protocol's items
//! become (mail.rs), the text of attachments (extract.rs), and the
//! batches that carry them to the host. Nothing here knows XML or JSON.

pub mod calendar;
pub mod extract;
pub mod folders;
pub mod hierarchy;
pub mod mail;
pub mod recurrence;
pub mod zones;

use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::{DocumentBatch, DocumentChange};
use crate::error::{Error, Kind, Result};

/// The principals that may read a mailbox's documents: its owner.
pub fn owner_acl(mailbox: &str) -> Vec<String> {
    vec![["email:", &mailbox.trim().to_lowercase()].concat()]
}

/// Where one folder's documents go.
pub struct Folder<'a> {
    pub mailbox: &'a str,
    pub id: &'a str,
    pub path: &'a str,
    /// who may read the folder's items besides the owner
    pub readers: &'a [String],
}

impl Folder<'_> {
    /// Hand changes to the host; `checkpoint` None keeps the stored one.
    pub fn apply(&self, changes: Vec<DocumentChange>, checkpoint: Option<String>, listing_complete: bool) -> Result<()> {
        self.hand_over(changes, checkpoint, listing_complete, false)
    }

    /// The folder is gone from what the sync reads: the host forgets its
    /// documents and checkpoint.
    pub fn gone(&self) -> Result<()> {
        self.hand_over(Vec::new(), None, false, true)
    }

    fn hand_over(&self, changes: Vec<DocumentChange>, checkpoint: Option<String>, listing_complete: bool, folder_gone: bool) -> Result<()> {
        let batch = DocumentBatch {
            mailbox: self.mailbox.to_string(),
            folder_id: self.id.to_string(),
            folder_path: self.path.to_string(),
            changes,
            checkpoint,
            listing_complete,
            folder_readers: self.readers.to_vec(),
            folder_gone,
        };
        host::apply_documents(&batch).map_err(|e| Error::new(Kind::Host, format!("the host refused a batch of documents: {e}")))
    }
}
