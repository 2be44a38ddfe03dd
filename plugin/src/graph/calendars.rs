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
