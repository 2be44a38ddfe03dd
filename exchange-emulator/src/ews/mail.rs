//! Mail over EWS: messages as GetItem and SyncFolderItems write them
//! (element order of ItemType and MessageType in types.xsd; a meeting
//! request is a `t:MeetingRequest`), attachments listed without content
//! and downloaded with GetAttachment (reference/mailbox-content.md 1.3,
//! 1.6). HTML bodies are entity-escaped, as real servers send them; with
//! `BodyType` Text the server converts HTML to text.

use super::shape::Shape;
use super::{error, response, success};
use crate::data::Mailbox;
use crate::data::mail::{Attachment, Body, Content, MailChange, Message, Person};
use crate::data::Folder;
use base64::Engine as _;
use crate::escape::escape;
use std::fmt::Write;

/// The element a message is written as.
fn element(m: &Message) -> &'static str {
    match m.class {
        "IPM.Schedule.Meeting.Request" => "MeetingRequest",
        _ => "Message",
    }
}

pub(super) fn mailbox_xml(p: &Person) -> String {
    format!(
        "<t:Mailbox><t:Name>{}</t:Name><t:EmailAddress>{}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>",
        escape(&p.name),
        escape(&p.address)
    )
}

/// The body as the shape asks for it: HTML stays HTML unless Text is
/// asked for; text is text whatever is asked.
fn body_xml(body: &Body, shape: &Shape) -> String {
    let text_wanted = shape.body_type.as_deref() == Some("Text");
    let (kind, content) = match body {
        Body::Html(html) if text_wanted => ("Text", html_to_text(html)),
        Body::Html(html) => ("HTML", html.clone()),
        Body::Text(text) => ("Text", text.clone()),
    };
    format!(r#"<t:Body BodyType="{kind}" IsTruncated="false">{}</t:Body>"#, escape(&content))
}

pub use crate::data::text::html_to_text;

/// ContentType, left out where the attachment has none (an attached item).
fn content_type_xml(a: &Attachment) -> String {
    if a.content_type.is_empty() {
        String::new()
    } else {
        format!("<t:ContentType>{}</t:ContentType>", escape(&a.content_type))
    }
}

/// An item's attachments as GetItem lists them, without content.
pub(super) fn attachments_xml(attachments: &[Attachment], last_modified: &str) -> String {
    let mut xml = String::from("<t:Attachments>");
    for a in attachments {
        let (element, photo) = match a.content {
            Content::Item { .. } => ("ItemAttachment", ""),
            _ => ("FileAttachment", "<t:IsContactPhoto>false</t:IsContactPhoto>"),
        };
        let content_id = a.content_id.as_ref().map(|c| format!("<t:ContentId>{}</t:ContentId>", escape(c))).unwrap_or_default();
        let content_type = content_type_xml(a);
        // LastModifiedTime of an attachment has no zone (1.3's gotchas).
        let _ = write!(
            xml,
            r#"<t:{element}><t:AttachmentId Id="{}"/><t:Name>{}</t:Name>{content_type}{content_id}<t:Size>{}</t:Size><t:LastModifiedTime>{}</t:LastModifiedTime><t:IsInline>{}</t:IsInline>{photo}</t:{element}>"#,
            escape(&a.id),
            escape(&a.name),
            a.size(),
            last_modified.trim_end_matches('Z'),
            a.inline
        );
    }
    xml.push_str("</t:Attachments>");
    xml
}

/// A message with what the shape asks for, in the schema's order.
pub fn message_xml(m: &Message, shape: &Shape) -> String {
    let mut xml = format!(r#"<t:{}><t:ItemId Id="{}" ChangeKey="{}"/>"#, element(m), escape(&m.id), m.change_key);
    // Made only when the shape asks for it.
    let mut put = |name: &str, value: &dyn Fn() -> String| {
        if shape.wants(name) {
            xml.push_str(&value());
        }
    };
    put("ParentFolderId", &|| format!(r#"<t:ParentFolderId Id="{}" ChangeKey="AQAAAA=="/>"#, escape(&m.folder_id)));
    put("ItemClass", &|| format!("<t:ItemClass>{}</t:ItemClass>", m.class));
    put("Subject", &|| format!("<t:Subject>{}</t:Subject>", escape(&m.subject)));
    put("Body", &|| body_xml(&m.body, shape));
    if !m.attachments.is_empty() {
        put("Attachments", &|| attachments_xml(&m.attachments, &m.last_modified));
    }
    put("DateTimeReceived", &|| format!("<t:DateTimeReceived>{}</t:DateTimeReceived>", m.received));
    if !m.categories.is_empty() {
        let categories: String = m.categories.iter().map(|c| format!("<t:String>{}</t:String>", escape(c))).collect();
        put("Categories", &|| format!("<t:Categories>{categories}</t:Categories>"));
    }
    put("Importance", &|| format!("<t:Importance>{}</t:Importance>", m.importance));
    put("DateTimeSent", &|| format!("<t:DateTimeSent>{}</t:DateTimeSent>", m.sent));
    // False when every attachment is inline: documented for Graph
    // (reference/mailbox-content.md 2, resources/message.md); that EWS
    // does the same is our inference (../shared has no EWS trace of it).
    put("HasAttachments", &|| format!("<t:HasAttachments>{}</t:HasAttachments>", m.attachments.iter().any(|a| !a.inline)));
    put("LastModifiedTime", &|| format!("<t:LastModifiedTime>{}</t:LastModifiedTime>", m.last_modified));
    put("ConversationId", &|| format!(r#"<t:ConversationId Id="{}"/>"#, escape(&m.conversation_id)));
    put("Sender", &|| format!("<t:Sender>{}</t:Sender>", mailbox_xml(&m.from)));
    let list = |people: &[Person]| people.iter().map(mailbox_xml).collect::<String>();
    if !m.to.is_empty() {
        put("ToRecipients", &|| format!("<t:ToRecipients>{}</t:ToRecipients>", list(&m.to)));
    }
    if !m.cc.is_empty() {
        put("CcRecipients", &|| format!("<t:CcRecipients>{}</t:CcRecipients>", list(&m.cc)));
    }
    put("ConversationTopic", &|| format!("<t:ConversationTopic>{}</t:ConversationTopic>", escape(m.subject.trim_start_matches("RE: "))));
    put("From", &|| format!("<t:From>{}</t:From>", mailbox_xml(&m.from)));
    put("InternetMessageId", &|| format!("<t:InternetMessageId>{}</t:InternetMessageId>", escape(&m.internet_message_id)));
    put("IsRead", &|| format!("<t:IsRead>{}</t:IsRead>", m.is_read));
    let _ = write!(xml, "</t:{}>", element(m));
    xml
}

/// The `Changes` of a SyncFolderItems page of a mail folder.
pub fn changes_xml(mailbox: &Mailbox, folder: &Folder, since: u64, max: usize, shape: &Shape) -> (String, u64, bool) {
    let (page, seq, last) = mailbox.mail_changes(folder, since, max);
    let mut xml = String::new();
    for change in &page {
        match change {
            MailChange::Create(m) => {
                let _ = write!(xml, "<t:Create>{}</t:Create>", message_xml(m, shape));
            }
            MailChange::Update(m) => {
                let _ = write!(xml, "<t:Update>{}</t:Update>", message_xml(m, shape));
            }
            MailChange::ReadFlag(m) => {
                let _ = write!(
                    xml,
                    r#"<t:ReadFlagChange><t:ItemId Id="{}" ChangeKey="{}"/><t:IsRead>{}</t:IsRead></t:ReadFlagChange>"#,
                    escape(&m.id),
                    m.change_key,
                    m.is_read
                );
            }
            MailChange::Delete(t) => {
                let _ = write!(xml, r#"<t:Delete><t:ItemId Id="{}" ChangeKey="{}"/></t:Delete>"#, escape(&t.id), t.change_key);
            }
        }
    }
    (xml, seq, last)
}

/// GetAttachment: each file with its content as one base64 text, an item
/// attachment as the item it holds; the names of the files sent, for
/// the emulator's log.
pub fn get_attachment(mailbox: &Mailbox, ids: &[String]) -> (String, Vec<String>) {
    const OP: &str = "GetAttachment";
    let mut sent = Vec::new();
    let messages: String = ids
        .iter()
        .map(|id| match mailbox.attachment(id).map(|(_, a)| a).or_else(|| mailbox.item_attachment(id).map(|(_, a)| a)) {
            Some(a) => {
                sent.push(a.name.clone());
                success(OP, &format!("<m:Attachments>{}</m:Attachments>", attachment_content(a)))
            }
            // A code of messages.xsd's ResponseCodeType; the text is ours
            // (../shared has no trace of it).
            None => error(OP, "ErrorInvalidAttachmentId", "The attachment id is not valid.", "<m:Attachments/>"),
        })
        .collect();
    (response(OP, &messages), sent)
}

fn attachment_content(a: &Attachment) -> String {
    let head = format!(r#"<t:AttachmentId Id="{}"/><t:Name>{}</t:Name>{}"#, escape(&a.id), escape(&a.name), content_type_xml(a));
    match &a.content {
        Content::Item { subject, body } => format!(
            r#"<t:ItemAttachment>{head}<t:Message><t:ItemClass>IPM.Note</t:ItemClass><t:Subject>{}</t:Subject><t:Body BodyType="Text">{}</t:Body></t:Message></t:ItemAttachment>"#,
            escape(subject),
            escape(body)
        ),
        _ => format!(
            "<t:FileAttachment>{head}<t:Content>{}</t:Content></t:FileAttachment>",
            base64::engine::general_purpose::STANDARD.encode(a.bytes())
        ),
    }
}

/// Whose mailbox a request reads: the impersonated one
/// (`ExchangeImpersonation`, how-to-identify-the-account-to-impersonate.md),
/// else one named in a `DistinguishedFolderId`'s `Mailbox` (delegate
/// access, how-to-access-contacts-as-a-delegate-by-using-ews-in-exchange.md,
/// reference/mailbox-content.md 1.7), else none named; and the ids the
/// request names (folders, items, attachments), to find the mailbox of a
/// request that names none. One parse for both.
pub fn addressed(request: &[u8]) -> Addressed {
    let Ok(parsed) = super::request::parse(request) else { return Addressed::default() };
    if let Some(sid) = parsed.header("ExchangeImpersonation").and_then(|h| h.child("ConnectingSID")) {
        let named = ["PrimarySmtpAddress", "SmtpAddress", "PrincipalName"].iter().find_map(|n| sid.child_text(n));
        let named = named.map(|a| Named { address: a.trim().to_lowercase(), impersonated: true });
        return Addressed { named, ids: Vec::new() };
    }
    fn find(node: &super::request::Node) -> Option<String> {
        if node.name == "DistinguishedFolderId"
            && let Some(address) = node.child("Mailbox").and_then(|m| m.child_text("EmailAddress"))
        {
            return Some(address.trim().to_lowercase());
        }
        node.children.iter().find_map(find)
    }
    if let Some(address) = find(&parsed.operation) {
        return Addressed { named: Some(Named { address, impersonated: false }), ids: Vec::new() };
    }
    fn collect(node: &super::request::Node, ids: &mut Vec<String>) {
        if matches!(node.name.as_str(), "FolderId" | "ItemId" | "AttachmentId")
            && let Some(id) = node.attr("Id")
        {
            ids.push(id.to_string());
        }
        node.children.iter().for_each(|c| collect(c, ids));
    }
    let mut ids = Vec::new();
    collect(&parsed.operation, &mut ids);
    Addressed { named: None, ids }
}

#[derive(Default)]
pub struct Addressed {
    pub named: Option<Named>,
    /// when no mailbox is named
    pub ids: Vec<String>,
}

/// A mailbox a request names, and how.
pub struct Named {
    pub address: String,
    /// through ExchangeImpersonation (else as a delegate)
    pub impersonated: bool,
}

/// Whether an id names something in this mailbox.
pub fn holds(mailbox: &Mailbox, id: &str) -> bool {
    mailbox.folder(id).is_some()
        || mailbox.message(id).is_some()
        || mailbox.attachment(id).is_some()
        || mailbox.contact(id).is_some()
        || mailbox.event(id).is_some()
        || mailbox.task(id).is_some()
        || mailbox.item_attachment(id).is_some()
}
