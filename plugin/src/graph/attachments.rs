//! An item's attachments (`/users/{id}/messages/{id}/attachments`, and an
//! event's at `events/{id}`): the list without content (`$select` keeps
//! `contentBytes` out), and one file's bytes at `$value`
//! (message-list-attachments, attachment-get; reference/mailbox-content.md 2).
//! `item`: `messages/{id}` or `events/{id}`, the id escaped.

use super::{Graph, segment};
use crate::documents::mail::AttachmentRef;
use crate::error::Result;

pub fn list(graph: &mut Graph, user: &str, item: &str) -> Result<Vec<AttachmentRef>> {
    // A To Do task's attachments (taskFileAttachment) have no isInline.
    let select = if item.starts_with("todo/") { "id,name,contentType,size" } else { "id,name,contentType,size,isInline" };
    let mut url = Some(graph.url(&format!("users/{user}/{item}/attachments?$select={select}")));
    let mut found = Vec::new();
    while let Some(page_url) = url {
        let page = graph.get(&page_url)?;
        for a in page["value"].as_array().into_iter().flatten() {
            let kind = a["@odata.type"].as_str().unwrap_or_default();
            found.push(AttachmentRef {
                id: a["id"].as_str().unwrap_or_default().to_string(),
                name: a["name"].as_str().unwrap_or_default().to_string(),
                // An item attachment has none (attachment-get).
                content_type: a["contentType"].as_str().unwrap_or_default().to_string(),
                size: a["size"].as_u64().unwrap_or(0),
                inline: a["isInline"].as_bool().unwrap_or(false),
                item: kind.ends_with("itemAttachment"),
            });
        }
        url = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    Ok(found)
}

/// A file attachment's bytes, at most `max` of them.
pub fn content(graph: &mut Graph, user: &str, item: &str, attachment: &str, max: u64) -> Result<Vec<u8>> {
    let url = graph.url(&format!("users/{user}/{item}/attachments/{}/$value", segment(attachment)));
    graph.get_bytes(&url, max)
}
