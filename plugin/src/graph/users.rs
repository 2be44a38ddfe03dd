//! `/users`: the mailboxes to read, when the configuration names none.

use super::{Graph, segment};
use crate::error::Result;

pub struct Mailbox {
    pub id: String,
    pub mail: String,
}

/// The configured mailboxes, or every user the organisation has.
pub fn mailboxes(graph: &mut Graph) -> Result<Vec<Mailbox>> {
    if !graph.config.mailboxes.is_empty() {
        let configured = graph.config.mailboxes.clone();
        return Ok(configured.into_iter().map(|mail| Mailbox { id: segment(&mail), mail }).collect());
    }
    organisation(graph)
}

/// Every user with a mail address, all pages. Disabled accounts are kept:
/// Microsoft 365 makes shared mailboxes (and rooms) as accounts with
/// sign-in disabled. Guests are left out: a guest's mailbox is in its
/// own organisation. Other users without a mailbox are found out when
/// their folders are listed.
pub fn organisation(graph: &mut Graph) -> Result<Vec<Mailbox>> {
    let mut url = Some(graph.url("users?$select=id,mail,userPrincipalName,accountEnabled,userType&$top=999"));
    let mut found = Vec::new();
    while let Some(page_url) = url {
        let page = graph.get(&page_url)?;
        for user in page["value"].as_array().into_iter().flatten() {
            let (Some(id), Some(mail)) = (user["id"].as_str(), user["mail"].as_str()) else { continue };
            if user["userType"].as_str() == Some("Guest") {
                continue;
            }
            found.push(Mailbox { id: segment(id), mail: mail.to_string() });
        }
        url = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    Ok(found)
}

/// The room mailboxes' addresses (`/places/microsoft.graph.room`, all
/// pages), lower case.
pub fn rooms(graph: &mut Graph) -> Result<Vec<String>> {
    let listed = graph.list_all(graph.url("places/microsoft.graph.room?$select=emailAddress&$top=100"))?;
    Ok(listed.iter().filter_map(|p| p["emailAddress"].as_str()).map(str::to_lowercase).collect())
}
