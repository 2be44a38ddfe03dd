//! What a mailbox's folder listing was at the last run, kept as the
//! checkpoint of the mailbox itself (folder id `""`): the state of the
//! server's hierarchy sync (EWS SyncFolderHierarchy, Graph
//! `mailFolders/delta`), what the request chose, the folder tree, the
//! well-known folders' ids, and the folders read with their readers.
//!
//! An incremental run asks the server what changed since that state. When
//! nothing changed that decides what is read, where or by whom (a folder's
//! name, place, kind, or its change key, which permissions change too),
//! the folders are those of the last run, and an unchanged run costs one
//! request per mailbox and one per folder. Otherwise the changes are
//! applied to the stored tree and the folders chosen again, their readers
//! read again (over EWS, one GetFolder). A full run, a different choice or
//! a refused state lists the tree again. Folders read before that the new
//! choice lacks are gone, and the host forgets their documents.

use super::Folder;
use super::folders::{MailFolder, TreeFolder};
use crate::bindings::helpdesk::connector::types::{ContentKind, SyncRequest};
use crate::error::Result;
use crate::report;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The folder id of a mailbox's own checkpoint.
pub const MAILBOX: &str = "";

/// A change the server's hierarchy sync reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FolderDelta {
    /// made or changed: the folder as it is now
    Changed(TreeFolder),
    Removed(String),
}

/// A mailbox's folders as listed, and what the sync reads of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub tree: Vec<TreeFolder>,
    /// well-known name by folder id, of those the mailbox has
    pub well_known: BTreeMap<String, String>,
    /// the message root's id
    pub root: Option<String>,
    /// the folders to read, with their readers
    pub folders: Vec<MailFolder>,
}

impl Listing {
    pub fn well_known_names(&self) -> HashMap<String, &str> {
        self.well_known.iter().map(|(id, name)| (id.clone(), name.as_str())).collect()
    }
}

/// The listing kept from the last run.
pub struct Known {
    /// the server's hierarchy sync state, or Graph's delta link
    pub state: String,
    choice: String,
    pub listing: Listing,
}

impl Known {
    /// The listing stored for `mailbox`, if it was made for what this
    /// request chooses.
    pub fn stored(request: &SyncRequest, mailbox: &str) -> Option<Known> {
        let text = &request.document_checkpoints.iter().find(|c| c.folder_id == MAILBOX && c.mailbox.eq_ignore_ascii_case(mailbox))?.state;
        let json: Value = serde_json::from_str(text).ok()?;
        let text = |v: &Value| v.as_str().map(str::to_string);
        let tree = json["tree"]
            .as_array()?
            .iter()
            .map(|f| {
                let holds = match &f["holds"] {
                    Value::Null => None,
                    kind => Some(kind_named(kind.as_str()?)?),
                };
                Some(TreeFolder { id: text(&f["id"])?, parent_id: text(&f["parent"]), name: text(&f["name"])?, holds, version: text(&f["version"]).unwrap_or_default() })
            })
            .collect::<Option<Vec<_>>>()?;
        let folders = json["folders"]
            .as_array()?
            .iter()
            .map(|f| {
                Some(MailFolder {
                    id: text(&f["id"])?,
                    holds: kind_named(f["holds"].as_str()?)?,
                    path: text(&f["path"])?,
                    readers: f["readers"].as_array()?.iter().filter_map(text).collect(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let well_known = json["well_known"].as_object()?.iter().filter_map(|(id, name)| Some((id.clone(), text(name)?))).collect();
        let listing = Listing { tree, well_known, root: text(&json["root"]), folders };
        let known = Known { state: text(&json["state"])?, choice: text(&json["choice"])?, listing };
        (known.choice == choice(request)).then_some(known)
    }

    fn to_json(&self) -> String {
        let l = &self.listing;
        let tree: Vec<Value> =
            l.tree.iter().map(|f| json!({ "id": f.id, "parent": f.parent_id, "name": f.name, "holds": f.holds.map(kind_name), "version": f.version })).collect();
        let folders: Vec<Value> =
            l.folders.iter().map(|f| json!({ "id": f.id, "holds": kind_name(f.holds), "path": f.path, "readers": f.readers })).collect();
        json!({ "state": self.state, "choice": self.choice, "tree": tree, "well_known": l.well_known, "root": l.root, "folders": folders }).to_string()
    }

    /// Whether any of these changes decides what is read, where, or by
    /// whom: a folder made, removed, renamed, moved, of another kind, or
    /// with another change key (its permissions may have changed; a count
    /// alone changes no key over Graph, which gives none).
    pub fn changed_by(&self, deltas: &[FolderDelta]) -> bool {
        let by_id: HashMap<&str, &TreeFolder> = self.listing.tree.iter().map(|f| (f.id.as_str(), f)).collect();
        deltas.iter().any(|delta| match delta {
            FolderDelta::Changed(now) => by_id.get(now.id.as_str()) != Some(&now),
            FolderDelta::Removed(id) => by_id.contains_key(id.as_str()),
        })
    }

    /// The stored tree with these changes made.
    pub fn tree_after(&self, deltas: Vec<FolderDelta>) -> Vec<TreeFolder> {
        let mut tree: BTreeMap<String, TreeFolder> = self.listing.tree.iter().map(|f| (f.id.clone(), f.clone())).collect();
        for delta in deltas {
            match delta {
                FolderDelta::Changed(folder) => {
                    tree.insert(folder.id.clone(), folder);
                }
                FolderDelta::Removed(id) => {
                    tree.remove(&id);
                }
            }
        }
        tree.into_values().collect()
    }

    /// The same listing at a newer state (the server may move the state on
    /// although nothing that matters changed).
    pub fn keep_at(self, mailbox: &str, state: String) -> Result<Listing> {
        if state != self.state {
            let known = Known { state, ..self };
            save(mailbox, &known)?;
            return Ok(known.listing);
        }
        Ok(self.listing)
    }
}

/// After a new listing: forget the folders read before (those of the
/// previous listing, and any with a checkpoint) that it lacks, and keep
/// it, when the server gave a hierarchy state, for the next run. A listing
/// with no folder to read forgets nothing: that is a server's mistake
/// sooner than a mailbox emptied of every folder.
pub fn settle(mailbox: &str, request: &SyncRequest, previous: Option<&Known>, state: Option<String>, listing: Listing) -> Result<Listing> {
    let mut before: BTreeMap<&str, &str> = request
        .document_checkpoints
        .iter()
        .filter(|c| c.folder_id != MAILBOX && c.mailbox.eq_ignore_ascii_case(mailbox))
        .map(|c| (c.folder_id.as_str(), ""))
        .collect();
    before.extend(previous.iter().flat_map(|p| &p.listing.folders).map(|f| (f.id.as_str(), f.path.as_str())));
    before.retain(|id, _| !listing.folders.iter().any(|f| f.id == *id));
    if listing.folders.is_empty() && !before.is_empty() {
        report::warn(&format!("the folder listing of {mailbox} has no folder to read; the documents of the {} folders read before are kept", before.len()));
    } else {
        for (id, path) in before {
            report::info(&format!("the folder '{path}' ({id}) of {mailbox} is no longer read; its documents go"));
            Folder { mailbox, id, path, readers: &[] }.gone()?;
        }
    }
    match state {
        // Kept already as it is (Graph lists calendars each run).
        Some(state) if previous.is_some_and(|p| p.state == state && p.listing == listing) => Ok(listing),
        Some(state) => {
            let known = Known { state, choice: choice(request), listing };
            save(mailbox, &known)?;
            Ok(known.listing)
        }
        None => Ok(listing),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: &str, parent: &str, name: &str) -> TreeFolder {
        TreeFolder { id: id.into(), parent_id: Some(parent.into()), name: name.into(), holds: Some(ContentKind::Mail), version: "k1".into() }
    }

    fn known() -> Known {
        let tree = vec![folder("inbox", "root", "Inbox"), folder("projects", "root", "Projects"), folder("2026", "projects", "2026")];
        Known { state: "s1".into(), choice: String::new(), listing: Listing { tree, ..Default::default() } }
    }

    /// A folder listed again as it was changes nothing; a new, renamed,
    /// moved, removed one does, and one with a new change key.
    #[test]
    fn only_changes_that_decide_the_choice_count() {
        let k = known();
        assert!(!k.changed_by(&[FolderDelta::Changed(folder("inbox", "root", "Inbox")), FolderDelta::Removed("never-seen".into())]));
        assert!(k.changed_by(&[FolderDelta::Changed(folder("new", "inbox", "Escalations"))]));
        assert!(k.changed_by(&[FolderDelta::Changed(folder("projects", "root", "Projects (renamed)"))]));
        assert!(k.changed_by(&[FolderDelta::Changed(folder("2026", "inbox", "2026"))]));
        assert!(k.changed_by(&[FolderDelta::Removed("2026".into())]));
        let hidden = TreeFolder { holds: None, ..folder("inbox", "root", "Inbox") };
        assert!(k.changed_by(&[FolderDelta::Changed(hidden)]));
        let permissions = TreeFolder { version: "k2".into(), ..folder("inbox", "root", "Inbox") };
        assert!(k.changed_by(&[FolderDelta::Changed(permissions)]));
        let tree = k.tree_after(vec![FolderDelta::Removed("2026".into()), FolderDelta::Changed(folder("projects", "root", "Old projects"))]);
        assert_eq!(tree, [folder("inbox", "root", "Inbox"), folder("projects", "root", "Old projects")]);
    }

    #[test]
    fn a_listing_reads_back_as_it_was_kept() {
        let mut k = known();
        k.listing.well_known = BTreeMap::from([("inbox".to_string(), "inbox".to_string())]);
        k.listing.root = Some("root".into());
        k.listing.folders = vec![MailFolder { id: "inbox".into(), holds: ContentKind::Mail, path: "Inbox".into(), readers: vec!["email:bob@example.com".into()] }];
        k.listing.tree.push(TreeFolder { holds: None, parent_id: None, ..folder("hidden", "root", "Hidden") });
        let json: Value = serde_json::from_str(&k.to_json()).unwrap();
        assert_eq!(json["tree"][3], json!({ "id": "hidden", "parent": null, "name": "Hidden", "holds": null, "version": "k1" }));
        assert_eq!(json["folders"][0]["readers"], json!(["email:bob@example.com"]));
        assert_eq!(json["well_known"], json!({ "inbox": "inbox" }));
    }
}
