//! `/users/{id}/mailFolders/{id}/messages/delta`: a folder's messages and
//! their changes, a page at a time, until a page carries the delta link.
//! A later round's changed message may come partial, "with at least the
//! properties that have been updated" (delta-query-overview): one with
//! only its read flag is a read-flag change, any other is read again.

use super::message::{self, SELECT};
use super::{Graph, segment};
use crate::documents::mail::MailItem;
use crate::error::Result;
use serde_json::Value;

pub enum Entry {
    Full(MailItem),
    ReadFlag { id: String, is_read: bool },
    /// changed, but not all of it came: read it again
    Partial(String),
    Removed(String),
    /// an entry without an id: why
    Broken(String),
}

pub struct Page {
    pub entries: Vec<Entry>,
    pub next_link: Option<String>,
    pub delta_link: Option<String>,
}

pub fn start_url(graph: &Graph, user: &str, folder: &str) -> String {
    graph.url(&format!("users/{user}/mailFolders/{}/messages/delta?$select={SELECT}", segment(folder)))
}

pub fn page(graph: &mut Graph, url: &str) -> Result<Page> {
    Ok(parse(&graph.get(url)?))
}

/// Properties of an entry that say nothing about what changed.
const ALWAYS: &[&str] = &["@odata.type", "@odata.etag", "id", "parentFolderId"];

pub fn parse(document: &Value) -> Page {
    let entries = document["value"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| {
            let Some(id) = entry["id"].as_str().map(str::to_string) else {
                let subject = entry["subject"].as_str().unwrap_or_default();
                return Entry::Broken(format!("Graph sent a message without an id (subject '{subject}')"));
            };
            if entry.get("@removed").is_some() {
                return Entry::Removed(id);
            }
            if entry.get("body").is_some() && entry.get("receivedDateTime").is_some() {
                return Entry::Full(message::item(entry));
            }
            let keys = entry.as_object().map(|o| o.keys().filter(|k| !ALWAYS.contains(&k.as_str())).collect::<Vec<_>>()).unwrap_or_default();
            match (keys.as_slice(), entry["isRead"].as_bool()) {
                ([only], Some(is_read)) if only.as_str() == "isRead" => Entry::ReadFlag { id, is_read },
                _ => Entry::Partial(id),
            }
        })
        .collect();
    Page {
        entries,
        next_link: document["@odata.nextLink"].as_str().map(str::to_string),
        delta_link: document["@odata.deltaLink"].as_str().map(str::to_string),
    }
}
