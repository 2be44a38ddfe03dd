//! `/users/{id}/calendars`: every calendar of the user, flat, the default
//! one and those Outlook shows below it alike (user-list-calendars).

use super::Graph;
use crate::error::Result;
use serde_json::Value;

pub struct Calendar {
    pub id: String,
    pub name: String,
}

pub fn list_url(graph: &Graph, user: &str) -> String {
    graph.url(&format!("users/{user}/calendars?$select=id,name&$top=100"))
}

/// The calendars of a listing's entries (all its pages).
pub fn from_entries(entries: &[Value]) -> Vec<Calendar> {
    entries.iter().filter_map(|c| Some(Calendar { id: c["id"].as_str()?.to_string(), name: c["name"].as_str()?.to_string() })).collect()
}

pub fn permissions_url(graph: &Graph, user: &str, calendar: &str) -> String {
    graph.url(&format!("users/{user}/calendars/{}/calendarPermissions", super::segment(calendar)))
}

pub fn readers(graph: &mut Graph, user: &str, calendar: &str) -> Result<Vec<String>> {
    Ok(readers_in(&graph.get(&permissions_url(graph, user, calendar))?))
}

/// Who may read a calendar's events, by its permissions
/// (`calendarPermissions`): those whose role is `read`, `write` or a
/// delegate's, as `email:<address>`; `everyone` when the organisation's
/// entry (no address) has such a role. Free/busy and limited roles do not
/// show the events.
pub fn readers_in(page: &Value) -> Vec<String> {
    let mut readers: Vec<String> = page["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| matches!(p["role"].as_str(), Some("read" | "write" | "delegateWithoutPrivateEventAccess" | "delegateWithPrivateEventAccess")))
        .map(|p| match p["emailAddress"]["address"].as_str().map(str::trim).filter(|a| !a.is_empty()) {
            Some(address) => format!("email:{}", address.to_lowercase()),
            None => "everyone".to_string(),
        })
        .collect();
    readers.sort();
    readers.dedup();
    readers
}
