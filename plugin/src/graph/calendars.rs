//! `/users/{id}/calendars`: every calendar of the user, flat, the default
//! one and those Outlook shows below it alike (user-list-calendars).

use super::Graph;
use crate::error::Result;

pub struct Calendar {
    pub id: String,
    pub name: String,
}

pub fn list(graph: &mut Graph, user: &str) -> Result<Vec<Calendar>> {
    let mut url = Some(graph.url(&format!("users/{user}/calendars?$select=id,name&$top=100")));
    let mut found = Vec::new();
    while let Some(page_url) = url {
        let page = graph.get(&page_url)?;
        for calendar in page["value"].as_array().into_iter().flatten() {
            let (Some(id), Some(name)) = (calendar["id"].as_str(), calendar["name"].as_str()) else { continue };
            found.push(Calendar { id: id.to_string(), name: name.to_string() });
        }
        url = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    Ok(found)
}

/// Who may read a calendar's events, by its permissions
/// (`calendarPermissions`): those whose role is `read`, `write` or a
/// delegate's, as `email:<address>`; `everyone` when the organisation's
/// entry (no address) has such a role. Free/busy and limited roles do not
/// show the events.
pub fn readers(graph: &mut Graph, user: &str, calendar: &str) -> Result<Vec<String>> {
    let page = graph.get(&graph.url(&format!("users/{user}/calendars/{}/calendarPermissions", super::segment(calendar))))?;
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
    Ok(readers)
}
