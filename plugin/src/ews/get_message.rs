//! GetItem for mail: messages with their body as text (the server converts
//! HTML, `BodyType` Text), recipients, conversation and the list of their
//! attachments without content (reference/mailbox-content.md 1.3).

use super::envelope::escape;
use super::response::Object;
use super::xml::{Element, Tag, XmlError, XmlStream};
use std::io::BufRead;

/// Messages per GetItem: half the 100 that contacts and Elastic's
/// connector use (reference/anchor-elastic-outlook.md), as bodies are
/// larger. A batch's attachments go in one GetAttachment, so a larger
/// batch means fewer of those too: 20,018 messages took 1,281 requests
/// at 25, and take 679 at 50.
pub const MAX_BATCH: usize = 50;

/// What every item document has (its head: read_item below).
const ITEM_PROPERTIES: &[&str] = &[
    "item:Subject",
    "item:Body",
    "item:Attachments",
    "item:Categories",
    "item:Importance",
    "item:HasAttachments",
    "item:LastModifiedTime",
];

/// Not `item:ParentFolderId`: messages are read folder by folder, and its
/// id would be read for nothing.
const MESSAGE_PROPERTIES: &[&str] = &[
    "item:ItemClass",
    "item:DateTimeReceived",
    "item:ConversationId",
    "message:From",
    "message:ToRecipients",
    "message:CcRecipients",
    "message:IsRead",
];

pub fn request(ids: &[String]) -> String {
    request_of(MESSAGE_PROPERTIES, ids)
}

/// A GetItem of an item's head and these properties for these ids, the
/// body as text (events and tasks are read with it too).
pub fn request_of(properties: &[&str], ids: &[String]) -> String {
    let props: String = ITEM_PROPERTIES.iter().chain(properties).map(|uri| format!(r#"<t:FieldURI FieldURI="{uri}"/>"#)).collect();
    let ids: String = ids.iter().map(|id| format!(r#"<t:ItemId Id="{}"/>"#, escape(id))).collect();
    format!(
        concat!(
            r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:BodyType>Text</t:BodyType>"#,
            r#"<t:AdditionalProperties>{}</t:AdditionalProperties></m:ItemShape>"#,
            r#"<m:ItemIds>{}</m:ItemIds></m:GetItem>"#
        ),
        props, ids
    )
}

pub use crate::documents::mail::{AttachmentRef, MailItem};

pub fn person(mailbox: &Element) -> Option<String> {
    crate::documents::mail::person(mailbox.child_text("Name"), mailbox.child_text("EmailAddress"))
}

impl Object for MailItem {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Self, XmlError> {
        read_item(stream, tag, |item: &mut MailItem| item, |item, child| match child.name.as_str() {
            "DateTimeReceived" => item.received = Some(child.take_text()),
            "ConversationId" => item.conversation_id = child.attr("Id").map(str::to_string),
            "IsRead" => item.is_read = Some(child.text.trim() == "true"),
            "From" => item.from = child.child("Mailbox").and_then(person),
            "ToRecipients" | "CcRecipients" => item.recipients.extend(child.children.iter().filter_map(person)),
            _ => {}
        })
    }
}

/// One item element: what every item has into its `head`, each other
/// child through `rest`.
pub fn read_item<R: BufRead, T: Default>(
    stream: &mut XmlStream<R>,
    tag: Tag,
    head: fn(&mut T) -> &mut MailItem,
    mut rest: impl FnMut(&mut T, &mut Element),
) -> Result<T, XmlError> {
    let mut element = stream.read_element(tag)?;
    let mut item = T::default();
    head(&mut item).element = element.name.to_string();
    // Texts and ids are taken out of the elements, not copied.
    for child in &mut element.children {
        if !item_part(head(&mut item), child) {
            rest(&mut item, child);
        }
    }
    Ok(item)
}

/// What every ItemType has (id, class, subject, body, dates, importance,
/// categories, attachments), read into `item`: whether `child` was one.
/// Events and tasks read theirs with it.
pub fn item_part(item: &mut MailItem, child: &mut Element) -> bool {
    match child.name.as_str() {
        "ItemId" => {
            item.id = child.take_attr("Id").unwrap_or_default();
            item.change_key = child.take_attr("ChangeKey").unwrap_or_default();
        }
        "ItemClass" => item.class = child.take_text(),
        "Subject" => item.subject = child.take_text(),
        "Body" => item.body = std::mem::take(&mut child.text),
        "LastModifiedTime" => item.modified = Some(child.take_text()),
        "Importance" => item.importance = Some(child.take_text().to_ascii_lowercase()),
        "HasAttachments" => item.has_attachments = child.text.trim() == "true",
        "Categories" => item.categories = child.children.iter_mut().map(Element::take_text).collect(),
        "Attachments" => {
            item.attachments = child
                .children
                .iter()
                .map(|a| AttachmentRef {
                    id: a.child("AttachmentId").and_then(|i| i.attr("Id")).unwrap_or_default().to_string(),
                    name: a.child_text("Name").unwrap_or_default().trim().to_string(),
                    content_type: a.child_text("ContentType").unwrap_or_default().trim().to_string(),
                    size: a.child_text("Size").and_then(|s| s.trim().parse().ok()).unwrap_or(0),
                    inline: a.child_text("IsInline").is_some_and(|i| i.trim() == "true"),
                    item: a.name == "ItemAttachment",
                })
                .collect();
        }
        _ => return false,
    }
    true
}
