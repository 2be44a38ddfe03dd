//! `/users/{id}/mailFolders/delta`: the mailbox's mail folders, the whole
//! tree flat with each folder's parent, and later what changed
//! (mailfolder-delta), where a listing holds only the folders right below
//! (user-list-mailfolders); search folders come marked
//! `#microsoft.graph.mailSearchFolder`. Well-known names stand for ids
//! (resources/mailfolder).

use super::Graph;
use crate::bindings::helpdesk::connector::types::ContentKind;
use crate::documents::folders::{DELETED_ITEMS, SYSTEM_FOLDERS, TreeFolder};
use crate::documents::hierarchy::FolderDelta;
use serde_json::Value;

/// Graph's well-known folder names (resources/mailfolder).
pub const WELL_KNOWN: &[&str] = &[
    "archive", "clutter", "conflicts", "conversationhistory", "deleteditems", "drafts", "inbox", "junkemail", "localfailures", "msgfolderroot",
    "outbox", "recoverableitemsdeletions", "scheduled", "searchfolders", "sentitems", "serverfailures", "syncissues",
];

pub fn delta_url(graph: &Graph, user: &str) -> String {
    graph.url(&format!("users/{user}/mailFolders/delta"))
}

/// An entry of `mailFolders/delta` (mailfolder-delta): a folder made or
/// changed, or one `@removed`. Graph's mail folders hold mail only
/// (calendars and task lists are resources of their own); a search folder
/// or a hidden one holds nothing to read.
pub fn delta_entry(entry: &Value) -> Option<FolderDelta> {
    let id = entry["id"].as_str()?.to_string();
    if entry.get("@removed").is_some() {
        return Some(FolderDelta::Removed(id));
    }
    let search = entry["@odata.type"].as_str().is_some_and(|t| t.ends_with("mailSearchFolder"));
    let hidden = entry["isHidden"].as_bool().unwrap_or(false);
    Some(FolderDelta::Changed(TreeFolder {
        id,
        parent_id: entry["parentFolderId"].as_str().map(str::to_string),
        name: entry["displayName"].as_str().unwrap_or_default().to_string(),
        holds: (!search && !hidden).then_some(ContentKind::Mail),
        // Mail folders have no readers of their own over Graph.
        version: String::new(),
    }))
}

/// The well-known folders whose ids a listing needs: the message root,
/// Deleted Items and the system folders, and those `chosen` names.
pub fn well_known_names(chosen: &[String]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = vec!["msgfolderroot", DELETED_ITEMS];
    names.extend(SYSTEM_FOLDERS.iter().filter(|n| **n != "searchfolders"));
    for name in WELL_KNOWN {
        if chosen.iter().any(|c| c.trim().eq_ignore_ascii_case(name)) && !names.contains(name) {
            names.push(name);
        }
    }
    names
}

pub fn well_known_url(graph: &Graph, user: &str, name: &str) -> String {
    graph.url(&format!("users/{user}/mailFolders/{name}?$select=id"))
}
