//! `/users/{id}/messages/{id}`: one message, as a mail item; also what a
//! messages delta page holds (message-get, delta-query-messages).

use super::{Graph, not_found, segment};
use crate::documents::mail::{MailItem, html_text, person};
use crate::error::Result;
use serde_json::Value;

/// The properties a mail document needs.
pub const SELECT: &str =
    "subject,from,toRecipients,ccRecipients,receivedDateTime,lastModifiedDateTime,conversationId,parentFolderId,body,hasAttachments,importance,categories,isRead,changeKey";

/// The message, or None when it is gone.
pub fn get(graph: &mut Graph, user: &str, id: &str) -> Result<Option<MailItem>> {
    let url = graph.url(&format!("users/{user}/messages/{}?$select={SELECT}", segment(id)));
    match graph.get(&url) {
        Ok(message) => Ok(Some(item(&message))),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Where the message is now and its version, or None when it is gone: a
/// message a folder's delta reports removed may have moved to another.
pub fn located(graph: &mut Graph, user: &str, id: &str) -> Result<Option<(String, String)>> {
    let url = graph.url(&format!("users/{user}/messages/{}?$select=parentFolderId,changeKey", segment(id)));
    match graph.get(&url) {
        Ok(message) => Ok(Some((text(&message["parentFolderId"]), text(&message["changeKey"])))),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn recipient(value: &Value) -> Option<String> {
    let address = &value["emailAddress"];
    person(address["name"].as_str(), address["address"].as_str())
}

/// A message's JSON as a mail item; its attachments are listed apart.
pub fn item(message: &Value) -> MailItem {
    let body = &message["body"];
    let content = text(&body["content"]);
    let optional = |key: &str| message[key].as_str().map(str::to_string);
    MailItem {
        id: text(&message["id"]),
        change_key: text(&message["changeKey"]),
        element: text(&message["@odata.type"]),
        class: String::new(),
        subject: text(&message["subject"]),
        // We ask for text; a server that sends HTML anyway is read too.
        body: if body["contentType"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("html")) { html_text(&content) } else { content },
        received: optional("receivedDateTime"),
        modified: optional("lastModifiedDateTime"),
        conversation_id: optional("conversationId"),
        from: recipient(&message["from"]),
        recipients: ["toRecipients", "ccRecipients"].iter().flat_map(|k| message[*k].as_array().into_iter().flatten()).filter_map(recipient).collect(),
        importance: message["importance"].as_str().map(str::to_ascii_lowercase),
        categories: message["categories"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect(),
        has_attachments: message["hasAttachments"].as_bool().unwrap_or(false),
        is_read: message["isRead"].as_bool(),
        attachments: Vec::new(),
    }
}
