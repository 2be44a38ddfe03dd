//! Microsoft To Do: `todo/lists` (every list, the flagged-mail one
//! included), a list's `tasks/delta` a page at a time until the delta
//! link (todo-list-lists, todotask-delta). Entries come whole; `@removed`
//! marks a deleted task. To Do has no percent complete and no owner.

use super::{Graph, segment};
use crate::documents::calendar::TaskItem;
use crate::documents::mail::MailItem;
use crate::error::Result;
use serde_json::Value;

pub struct List {
    pub id: String,
    pub name: String,
}

pub fn lists_url(graph: &Graph, user: &str) -> String {
    graph.url(&format!("users/{user}/todo/lists"))
}

/// The lists of a listing's entries (all its pages).
pub fn lists_from(entries: &[Value]) -> Vec<List> {
    entries.iter().filter_map(|l| Some(List { id: l["id"].as_str()?.to_string(), name: l["displayName"].as_str()?.to_string() })).collect()
}

pub enum Entry {
    Task(TaskItem),
    Removed(String),
}

pub struct Page {
    pub entries: Vec<Entry>,
    pub next_link: Option<String>,
    pub delta_link: Option<String>,
}

pub fn start_url(graph: &Graph, user: &str, list: &str) -> String {
    graph.url(&format!("users/{user}/todo/lists/{}/tasks/delta", segment(list)))
}

pub fn page(graph: &mut Graph, url: &str) -> Result<Page> {
    let document = graph.get(url)?;
    let entries = document["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let id = entry["id"].as_str()?.to_string();
            Some(if entry.get("@removed").is_some() { Entry::Removed(id) } else { Entry::Task(task(entry)) })
        })
        .collect();
    let link = |key: &str| document[key].as_str().map(str::to_string);
    Ok(Page { entries, next_link: link("@odata.nextLink"), delta_link: link("@odata.deltaLink") })
}

/// `{dateTime, timeZone}` in UTC (as requested) as RFC 3339.
fn instant(value: &Value) -> Option<String> {
    value["dateTime"].as_str().map(super::events::utc)
}

/// A todoTask as a task item. Its version is its etag (`W/"..."`), which
/// is the item's change key; a completed task is 100 % done.
pub fn task(entry: &Value) -> TaskItem {
    let etag = entry["@odata.etag"].as_str().unwrap_or_default();
    let version = etag.trim_start_matches("W/").trim_matches('"').to_string();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let status = text(&entry["status"]);
    TaskItem {
        head: MailItem {
            id: text(&entry["id"]),
            change_key: version,
            subject: text(&entry["title"]),
            body: text(&entry["body"]["content"]).trim().to_string(),
            modified: entry["lastModifiedDateTime"].as_str().map(str::to_string),
            importance: entry["importance"].as_str().map(str::to_ascii_lowercase),
            categories: entry["categories"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect(),
            has_attachments: entry["hasAttachments"].as_bool().unwrap_or(false),
            ..Default::default()
        },
        percent_complete: if status == "completed" { 100.0 } else { 0.0 },
        status,
        start: instant(&entry["startDateTime"]),
        due: instant(&entry["dueDateTime"]),
        completed: instant(&entry["completedDateTime"]),
        owner: None,
        recurrence: super::events::pattern(&entry["recurrence"]),
    }
}
