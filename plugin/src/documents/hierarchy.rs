//! What a mailbox's folder listing was at the last run, kept as the
//! checkpoint of the mailbox itself (folder id `""`): the state of the
//! server's hierarchy sync (EWS SyncFolderHierarchy, Graph
//! `mailFolders/delta`), what the request chose, and the folders read. An
//! incremental run whose hierarchy sync reports no change reads those
//! folders without listing the tree again, which makes an unchanged run
//! one request per mailbox and one per folder. Any change, a different
//! choice or a full run lists the tree again; folders read before that
//! the new listing lacks are gone, and the host forgets their documents.

use super::Folder;
use super::folders::MailFolder;
use crate::bindings::helpdesk::connector::types::{ContentKind, SyncRequest};
use crate::error::Result;
use crate::report;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The folder id of a mailbox's own checkpoint.
pub const MAILBOX: &str = "";

/// The listing kept from the last run.
pub struct Known {
    /// the server's hierarchy sync state, or Graph's delta link
    pub state: String,
    choice: String,
    pub folders: Vec<MailFolder>,
}

impl Known {
    /// The listing stored for `mailbox`, if it was made for what this
    /// request chooses.
    pub fn stored(request: &SyncRequest, mailbox: &str) -> Option<Known> {
        let text = &request.document_checkpoints.iter().find(|c| c.folder_id == MAILBOX && c.mailbox.eq_ignore_ascii_case(mailbox))?.state;
        let json: Value = serde_json::from_str(text).ok()?;
        let folders = json["folders"]
            .as_array()?
            .iter()
            .map(|f| {
                Some(MailFolder {
                    id: f["id"].as_str()?.to_string(),
                    holds: kind_named(f["holds"].as_str()?)?,
                    path: f["path"].as_str()?.to_string(),
                    readers: f["readers"].as_array()?.iter().filter_map(|r| r.as_str().map(str::to_string)).collect(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let known = Known { state: json["state"].as_str()?.to_string(), choice: json["choice"].as_str()?.to_string(), folders };
        (known.choice == choice(request)).then_some(known)
    }

    fn to_json(&self) -> String {
        let folders: Vec<Value> =
            self.folders.iter().map(|f| json!({ "id": f.id, "holds": kind_name(f.holds), "path": f.path, "readers": f.readers })).collect();
        json!({ "state": self.state, "choice": self.choice, "folders": folders }).to_string()
    }

    /// The same listing at a newer state (the server may move the state on
    /// although nothing changed).
    pub fn keep_at(self, mailbox: &str, state: String) -> Result<Vec<MailFolder>> {
        if state != self.state {
            let known = Known { state, ..self };
            save(mailbox, &known)?;
            return Ok(known.folders);
        }
        Ok(self.folders)
    }
}

/// After a new listing: forget the folders read before (those of the
/// previous listing, and any with a checkpoint) that it lacks, and keep
/// it, when the server gave a hierarchy state, for the next run. A listing
/// with no folder at all forgets nothing: that is a server's mistake
/// sooner than a mailbox emptied of every folder.
pub fn settle(mailbox: &str, request: &SyncRequest, previous: Option<&Known>, state: Option<String>, folders: &[MailFolder]) -> Result<()> {
    let mut before: BTreeMap<&str, &str> = request
        .document_checkpoints
        .iter()
        .filter(|c| c.folder_id != MAILBOX && c.mailbox.eq_ignore_ascii_case(mailbox))
        .map(|c| (c.folder_id.as_str(), ""))
        .collect();
    before.extend(previous.iter().flat_map(|p| &p.folders).map(|f| (f.id.as_str(), f.path.as_str())));
    before.retain(|id, _| !folders.iter().any(|f| f.id == *id));
    if folders.is_empty() && !before.is_empty() {
        report::warn(&format!("the folder listing of {mailbox} has no folder to read; the documents of the {} folders read before are kept", before.len()));
    } else {
        for (id, path) in before {
            report::info(&format!("the folder '{path}' ({id}) of {mailbox} is no longer read; its documents go"));
            Folder { mailbox, id, path, readers: &[] }.gone()?;
        }
    }
    match state {
        Some(state) => save(mailbox, &Known { state, choice: choice(request), folders: folders.to_vec() }),
        None => Ok(()),
    }
}

fn save(mailbox: &str, known: &Known) -> Result<()> {
    Folder { mailbox, id: MAILBOX, path: "", readers: &[] }.apply(Vec::new(), Some(known.to_json()), false)
}

/// What decides which folders a mailbox's listing chooses.
fn choice(request: &SyncRequest) -> String {
    let kinds: Vec<&str> = request.content.iter().map(|k| kind_name(*k)).collect();
    let mut folders: Vec<String> = request.mail_folders.iter().map(|f| f.trim().to_lowercase()).collect();
    folders.sort();
    json!({ "content": kinds, "mail_folders": folders }).to_string()
}

fn kind_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Mail => "mail",
        ContentKind::Attachment => "attachment",
        ContentKind::Event => "event",
        ContentKind::Task => "task",
    }
}

fn kind_named(name: &str) -> Option<ContentKind> {
    [ContentKind::Mail, ContentKind::Attachment, ContentKind::Event, ContentKind::Task].into_iter().find(|k| kind_name(*k) == name)
}
