//! The attachments of one GetItem batch (mail, events, tasks) over EWS:
//! every one described at once; the files worth reading downloaded
//! together, in GetAttachment requests of at most the size limit each
//! (one request can carry several ids, reference/mailbox-content.md 1.6).
//! The requests are sent as soon as their batch is parsed and read after
//! the next batch is, so that the server gathers them meanwhile.

use crate::bindings::helpdesk::connector::types::{ContentKind, DocumentChange, SyncRequest};
use crate::documents::mail::{self, AttachmentRef, MailItem};
use crate::error::Result;
use crate::ews::Ews;
use crate::ews::get_attachment::Content;
use crate::http;

/// One batch's documents, and the files they still wait for.
#[derive(Default)]
pub struct Batch {
    pub documents: Vec<DocumentChange>,
    files: Vec<File>,
}

/// A file to download, with what its document takes from its item.
struct File {
    attachment: AttachmentRef,
    parent: MailItem,
}

impl Batch {
    /// An item's attachments, when the request reads attachments: those
    /// not downloaded are documents now, the others wait for their
    /// content. How many documents they make.
    pub fn attachments(&mut self, item: &MailItem, mailbox: &str, request: &SyncRequest) -> u64 {
        if !request.content.contains(&ContentKind::Attachment) {
            return 0;
        }
        for a in &item.attachments {
            match mail::not_downloaded(a, item, mailbox, request.max_attachment_bytes) {
                Some(change) => self.documents.push(change),
                None => self.files.push(File { attachment: a.clone(), parent: item.head() }),
            }
        }
        item.attachments.len() as u64
    }

    /// Take in another batch's documents and files.
    pub fn extend(&mut self, other: Batch) {
        self.documents.extend(other.documents);
        self.files.extend(other.files);
    }

    /// Ask for the files now, in requests of at most `max_bytes` of files
    /// each; [`Sent::finish`] reads the answers.
    pub fn send(self, ews: &mut Ews, max_bytes: u64) -> Sent {
        let mut groups: Vec<(Vec<File>, Option<http::Pending>)> = Vec::new();
        let mut size = 0;
        for file in self.files {
            if groups.is_empty() || size + file.attachment.size > max_bytes {
                groups.push((Vec::new(), None));
                size = 0;
            }
            size += file.attachment.size;
            groups.last_mut().expect("pushed above").0.push(file);
        }
        for (files, sent) in &mut groups {
            *sent = ews.attachments_early(&ids(files));
        }
        Sent { documents: self.documents, groups }
    }
}

fn ids(files: &[File]) -> Vec<&str> {
    files.iter().map(|f| f.attachment.id.as_str()).collect()
}

/// A batch whose files are asked for.
pub struct Sent {
    documents: Vec<DocumentChange>,
    groups: Vec<(Vec<File>, Option<http::Pending>)>,
}

impl Sent {
    /// The batch's documents, the files' among them with their text (read
    /// each in the host's reader: a broken file fails alone).
    pub fn finish(self, ews: &mut Ews, mailbox: &str, max_bytes: u64) -> Result<Vec<DocumentChange>> {
        let mut documents = self.documents;
        for (files, sent) in self.groups {
            let answers = ews.attachments_sent(sent, &ids(&files))?;
            for (file, answer) in files.into_iter().zip(answers) {
                let content = match answer {
                    Ok(Content::File(bytes)) => Ok(bytes),
                    Ok(Content::Item { .. }) => Err("an item attachment: described, not expanded".to_string()),
                    Ok(Content::Broken(why)) => Err(why),
                    Err(status) => Err(format!("{}: {}", status.code, status.text)),
                };
                documents.push(mail::downloaded(&file.attachment, &file.parent, mailbox, content, max_bytes));
            }
        }
        Ok(documents)
    }
}
