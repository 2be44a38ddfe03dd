//! `/users/{id}/contactFolders/{id}/contacts/delta`: contacts and their
//! changes, a page at a time, until a page carries the delta link.

use super::Graph;
use super::contact::flatten;
use crate::error::Result;
use crate::flatten::Attributes;
use serde_json::Value;

pub struct Page {
    /// (id, change key, attributes)
    pub contacts: Vec<(String, String, Attributes)>,
    /// ids of `@removed` entries
    pub removed: Vec<String>,
    /// entries that cannot be read, as (their id, or "" when they have
    /// none, why)
    pub broken: Vec<(String, String)>,
    pub next_link: Option<String>,
    /// on the last page: where the next sync starts
    pub delta_link: Option<String>,
}

pub fn start_url(graph: &Graph, mailbox_id: &str, folder_id: &str) -> String {
    graph.url(&format!("users/{mailbox_id}/contactFolders/{}/contacts/delta", super::segment(folder_id)))
}

pub fn page(graph: &mut Graph, url: &str) -> Result<Page> {
    Ok(parse(&graph.get(url)?))
}

/// A delta page from its JSON document.
pub fn parse(document: &Value) -> Page {
    let mut page = Page {
        contacts: Vec::new(),
        removed: Vec::new(),
        broken: Vec::new(),
        next_link: document["@odata.nextLink"].as_str().map(str::to_string),
        delta_link: document["@odata.deltaLink"].as_str().map(str::to_string),
    };
    for entry in document["value"].as_array().into_iter().flatten() {
        let Some(id) = entry["id"].as_str() else {
            // No id to name it by, or to ask for it again: the reason names
            // it, as `(contact Name <email>)`, so that the host can keep the
            // user it may be (README, "Who wins").
            let who = crate::mapping::describe(&flatten(entry));
            page.broken.push((String::new(), format!("Graph sent a contact without an id (contact {who})")));
            continue;
        };
        if entry.get("@removed").is_some() {
            page.removed.push(id.to_string());
        } else {
            let change_key = entry["changeKey"].as_str().unwrap_or("").to_string();
            page.contacts.push((id.to_string(), change_key, flatten(entry)));
        }
    }
    page
}
