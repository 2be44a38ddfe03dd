//! `/users/{id}/mailFolders` and `/mailFolders/{id}/childFolders`: the
//! mailbox's folder tree, walked level by level since a listing holds only
//! the folders right below (user-list-mailfolders); hidden folders are not
//! listed without `includeHiddenFolders`, and search folders come marked
//! `#microsoft.graph.mailSearchFolder`. Well-known names stand for ids
//! (resources/mailfolder).

use super::{Graph, not_found, segment};
use crate::documents::folders::TreeFolder;
use crate::error::Result;
use std::collections::HashMap;

/// Graph's well-known folder names (resources/mailfolder).
pub const WELL_KNOWN: &[&str] = &[
    "archive", "clutter", "conflicts", "conversationhistory", "deleteditems", "drafts", "inbox", "junkemail", "localfailures", "msgfolderroot",
    "outbox", "recoverableitemsdeletions", "scheduled", "searchfolders", "sentitems", "serverfailures", "syncissues",
];

/// Every folder below the message root, and the root's id.
pub fn tree(graph: &mut Graph, user: &str) -> Result<(Vec<TreeFolder>, Option<String>)> {
    let mut folders = Vec::new();
    let mut root = None;
    let mut pending = vec![graph.url(&format!("users/{user}/mailFolders?$top=100"))];
    while let Some(mut url) = pending.pop() {
        loop {
            let page = graph.get(&url)?;
            for entry in page["value"].as_array().into_iter().flatten() {
                let Some(id) = entry["id"].as_str() else { continue };
                let parent_id = entry["parentFolderId"].as_str().map(str::to_string);
                if root.is_none() && folders.is_empty() {
                    root = parent_id.clone();
                }
                let search = entry["@odata.type"].as_str().is_some_and(|t| t.ends_with("mailSearchFolder"));
                let hidden = entry["isHidden"].as_bool().unwrap_or(false);
                if entry["childFolderCount"].as_u64().unwrap_or(0) > 0 {
                    pending.push(graph.url(&format!("users/{user}/mailFolders/{}/childFolders?$top=100", segment(id))));
                }
                let name = entry["displayName"].as_str().unwrap_or_default().to_string();
                // Graph's mail folders hold mail only: calendars and task lists
                // are resources of their own.
                let holds = (!search && !hidden).then_some(crate::bindings::helpdesk::connector::types::ContentKind::Mail);
                folders.push(TreeFolder { id: id.to_string(), parent_id, name, holds });
            }
            match page["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_string(),
                None => break,
            }
        }
    }
    Ok((folders, root))
}

/// The ids of the well-known folders named, by id; those the mailbox
/// lacks are left out.
pub fn well_known<'a>(graph: &mut Graph, user: &str, names: &[&'a str]) -> Result<HashMap<String, &'a str>> {
    let mut found = HashMap::new();
    for name in names {
        match graph.get(&graph.url(&format!("users/{user}/mailFolders/{name}?$select=id"))) {
            Ok(folder) => {
                if let Some(id) = folder["id"].as_str() {
                    found.insert(id.to_string(), *name);
                }
            }
            Err(e) if not_found(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}
