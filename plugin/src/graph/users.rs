//! `/users`: the mailboxes to read, when the configuration names none.

use super::{Graph, segment};
use crate::error::Result;

pub struct Mailbox {
    pub id: String,
    pub mail: String,
}

/// Every user with a mail address, all pages; or the configured ones.
/// Disabled accounts are kept: Microsoft 365 makes shared mailboxes as
/// accounts with sign-in disabled. Users without a mailbox are found out
/// when their folders are listed.
pub fn mailboxes(graph: &mut Graph) -> Result<Vec<Mailbox>> {
    if !graph.config.mailboxes.is_empty() {
        let configured = graph.config.mailboxes.clone();
        return Ok(configured.into_iter().map(|mail| Mailbox { id: segment(&mail), mail }).collect());
    }
    let mut url = Some(graph.url("users?$select=id,mail,userPrincipalName&$top=999"));
    let mut found = Vec::new();
    while let Some(page_url) = url {
        let page = graph.get(&page_url)?;
        for user in page["value"].as_array().into_iter().flatten() {
            let (Some(id), Some(mail)) = (user["id"].as_str(), user["mail"].as_str()) else { continue };
            found.push(Mailbox { id: segment(id), mail: mail.to_string() });
        }
        url = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    Ok(found)
}
