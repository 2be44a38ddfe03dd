//! Which folders of a mailbox a sync reads, whichever protocol listed
//! them: every mail, calendar and task folder below the message root, by
//! what it is and never by name (names are localised), outside the system
//! folders' subtrees and Deleted Items; for mail, those named by id, path
//! or well-known name instead when some are (reference/mailbox-content.md
//! 1.1, 1.4, 1.5 and 2).

use crate::bindings::helpdesk::connector::types::ContentKind;
use std::collections::{HashMap, HashSet};

/// Folders whose subtrees hold no mail a helpdesk searches (drafts, the
/// outbox, sync conflicts, Teams' conversation history), by well-known
/// name; Deleted Items unless named.
pub const SYSTEM_FOLDERS: &[&str] =
    &["drafts", "outbox", "syncissues", "conflicts", "localfailures", "serverfailures", "conversationhistory", "searchfolders"];
pub const DELETED_ITEMS: &str = "deleteditems";

/// A folder of the mailbox's tree as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeFolder {
    pub id: String,
    pub parent_id: Option<String>,
    pub name: String,
    /// what it holds, for a folder that may be read (not a search
    /// folder, not hidden): mail, events or tasks
    pub holds: Option<ContentKind>,
    /// its change key where the server gives one (EWS): it changes with
    /// the folder's permissions too
    pub version: String,
}

/// A folder to read, with its display path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailFolder {
    pub id: String,
    pub holds: ContentKind,
    /// `Parent -> Child`, from below the message root
    pub path: String,
    /// principals its permissions let read its items, besides the owner
    pub readers: Vec<String>,
}

/// `well_known`: well-known name by folder id, of those the server has;
/// `root`: the message root's id; `chosen`: the configured folders, empty
/// for the default; `kinds`: what the sync reads.
pub fn choose(tree: &[TreeFolder], root: Option<&str>, well_known: &HashMap<String, &str>, chosen: &[String], kinds: &[ContentKind]) -> Vec<MailFolder> {
    let by_id: HashMap<&str, &TreeFolder> = tree.iter().map(|f| (f.id.as_str(), f)).collect();
    let path = |folder: &TreeFolder| {
        let mut parts = vec![folder.name.clone()];
        let mut parent = folder.parent_id.as_deref();
        while let Some(p) = parent.filter(|p| Some(*p) != root) {
            let Some(above) = by_id.get(p) else { break };
            parts.push(above.name.clone());
            parent = above.parent_id.as_deref();
        }
        parts.reverse();
        parts.join(" -> ")
    };
    // The well-known folder a folder lies in (itself included), if any.
    let within = |folder: &TreeFolder| {
        let mut at = Some(folder);
        while let Some(f) = at {
            if let Some(name) = well_known.get(&f.id) {
                return Some(*name);
            }
            at = f.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
        }
        None
    };
    let wanted: HashSet<String> = chosen.iter().map(|c| c.trim().to_lowercase()).collect();
    let mut folders = Vec::new();
    for folder in tree.iter() {
        let Some(holds) = folder.holds.filter(|k| kinds.contains(k)) else { continue };
        let path = path(folder);
        let system = within(folder).filter(|n| *n != "msgfolderroot");
        // Every calendar and task list: the choice of folders is mail's.
        let keep = if wanted.is_empty() || holds != ContentKind::Mail {
            system.is_none()
        } else {
            let well_known = well_known.get(&folder.id).copied().unwrap_or_default();
            [folder.id.to_lowercase(), path.to_lowercase(), well_known.to_string()].iter().any(|k| wanted.contains(k))
        };
        if keep {
            folders.push(MailFolder { id: folder.id.clone(), holds, path, readers: Vec::new() });
        }
    }
    folders
}
