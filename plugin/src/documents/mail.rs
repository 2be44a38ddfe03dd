//! A mail item and its attachments as documents, whichever protocol read
//! them. The body arrives as text (the server converts HTML); times come
//! in UTC; the ACL is the mailbox's owner.

use super::owner_acl;
use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::{AttachmentInfo, ContentKind, Document, DocumentChange, Extraction};

/// An attachment as the message lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachmentRef {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub inline: bool,
    /// an `ItemAttachment`: a mail or an event inside the mail
    pub item: bool,
}

/// A mail item as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailItem {
    pub id: String,
    pub change_key: String,
    /// `Message`, `MeetingRequest`, ...
    pub element: String,
    pub class: String,
    pub subject: String,
    pub body: String,
    pub received: Option<String>,
    pub modified: Option<String>,
    pub conversation_id: Option<String>,
    /// `Name <address>`
    pub from: Option<String>,
    pub recipients: Vec<String>,
    pub importance: Option<String>,
    pub categories: Vec<String>,
    pub has_attachments: bool,
    pub is_read: Option<bool>,
    pub attachments: Vec<AttachmentRef>,
}

impl MailItem {
    /// The item without its body and attachment list: what its
    /// attachments' documents take from it.
    pub fn head(&self) -> MailItem {
        MailItem {
            id: self.id.clone(),
            change_key: self.change_key.clone(),
            element: self.element.clone(),
            class: self.class.clone(),
            subject: self.subject.clone(),
            body: String::new(),
            received: self.received.clone(),
            modified: self.modified.clone(),
            conversation_id: self.conversation_id.clone(),
            from: self.from.clone(),
            recipients: self.recipients.clone(),
            importance: self.importance.clone(),
            categories: self.categories.clone(),
            has_attachments: self.has_attachments,
            is_read: self.is_read,
            attachments: Vec::new(),
        }
    }
}

/// A sender or recipient as documents write it: `Name <address>`, or
/// whichever of the two there is.
pub fn person(name: Option<&str>, address: Option<&str>) -> Option<String> {
    let address = address.map(str::trim).filter(|a| !a.is_empty());
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    match (name, address) {
        (Some(name), Some(address)) if name != address => Some([name, " <", address, ">"].concat()),
        (_, Some(address)) => Some(address.to_string()),
        (Some(name), None) => Some(name.to_string()),
        (None, None) => None,
    }
}

/// Why an attachment's content is not downloaded, as its document: an
/// item attachment, one larger than the limit, or a type whose text we do
/// not read. None: download it.
pub fn not_downloaded(a: &AttachmentRef, item: &MailItem, mailbox: &str, max_bytes: u64) -> Option<DocumentChange> {
    let describe = |extraction, note: String| Some(DocumentChange::Upsert(attachment_document(a, item, mailbox, extraction, String::new(), Some(note))));
    if a.item {
        return describe(Extraction::Item, "an item attachment: described, not expanded".into());
    }
    if a.size > max_bytes {
        let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64);
        return describe(Extraction::TooLarge, format!("too large: {}, the limit is {}", mib(a.size), mib(max_bytes)));
    }
    if super::extract::reader(&a.content_type, &a.name).is_none() {
        return describe(Extraction::UnsupportedType, format!("no text is read from {}", a.content_type));
    }
    None
}

/// A downloaded attachment's document: its text read by the host's
/// reader instance (a file that crashes the reader fails alone), or why
/// there is none.
pub fn downloaded(a: &AttachmentRef, item: &MailItem, mailbox: &str, content: Result<Vec<u8>, String>, max_bytes: u64) -> DocumentChange {
    let read = match content {
        Ok(bytes) if bytes.len() as u64 > max_bytes => Err("larger than it said".to_string()),
        Ok(bytes) => host::extract_text(&a.content_type, &a.name, &bytes),
        Err(why) => Err(why),
    };
    DocumentChange::Upsert(match read {
        Ok(text) => attachment_document(a, item, mailbox, Extraction::Extracted, text, None),
        Err(why) => attachment_document(a, item, mailbox, Extraction::Failed, String::new(), Some(why)),
    })
}

pub fn mail_document(item: &MailItem, mailbox: &str) -> Document {
    Document { thread_id: item.conversation_id.clone(), ..item_document(item, mailbox) }
}

/// What every item's document has, read as a mail: an event's and a
/// task's start from it.
pub fn item_document(item: &MailItem, mailbox: &str) -> Document {
    Document {
        id: item.id.clone(),
        version: item.change_key.clone(),
        kind: ContentKind::Mail,
        parent_id: None,
        thread_id: None,
        title: item.subject.clone(),
        body: clean(&item.body),
        received: item.received.clone(),
        modified: item.modified.clone(),
        sender: item.from.clone(),
        recipients: item.recipients.clone(),
        importance: item.importance.clone(),
        categories: item.categories.clone(),
        has_attachments: item.has_attachments || !item.attachments.is_empty(),
        is_read: item.is_read,
        acl: owner_acl(mailbox),
        attachment: None,
        event: None,
        task: None,
    }
}

/// An attachment's document: `text` where it was read, `extraction` says
/// what became of its content and `note` why there is none.
pub fn attachment_document(a: &AttachmentRef, parent: &MailItem, mailbox: &str, extraction: Extraction, text: String, note: Option<String>) -> Document {
    Document {
        id: a.id.clone(),
        // Attachments change only with their message.
        version: parent.change_key.clone(),
        kind: ContentKind::Attachment,
        parent_id: Some(parent.id.clone()),
        thread_id: parent.conversation_id.clone(),
        title: a.name.clone(),
        body: clean(&text),
        received: parent.received.clone(),
        modified: parent.modified.clone(),
        sender: parent.from.clone(),
        recipients: parent.recipients.clone(),
        importance: parent.importance.clone(),
        categories: parent.categories.clone(),
        has_attachments: false,
        is_read: None,
        acl: owner_acl(mailbox),
        attachment: Some(AttachmentInfo {
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            is_inline: a.inline,
            extraction,
            note,
        }),
        event: None,
        task: None,
    }
}

/// Text without the control characters some mail carries (XML 1.0
/// forbids them, and a search index has no use for them).
pub(super) fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')).collect::<String>().trim().to_string()
}

/// The text of an HTML document: markup, styles and scripts out, line
/// breaks where blocks end, character references decoded.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut chars = html.char_indices().peekable();
    let mut skip_until: Option<&str> = None;
    while let Some((at, c)) = chars.next() {
        if c != '<' {
            if skip_until.is_none() {
                out.push(c);
            }
            continue;
        }
        let end = html[at..].find('>').map_or(html.len(), |e| at + e);
        let closing = html[at + 1..end].trim_start().starts_with('/');
        let name = html[at + 1..end].trim_start().trim_start_matches('/').split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default().to_ascii_lowercase();
        match (closing, name.as_str()) {
            (false, "style" | "script") => skip_until = Some(if name == "style" { "style" } else { "script" }),
            (true, n) if Some(n) == skip_until => skip_until = None,
            (_, "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "table") if skip_until.is_none() => out.push('\n'),
            _ => {}
        }
        while chars.peek().is_some_and(|(i, _)| *i <= end) {
            chars.next();
        }
    }
    let text = quick_xml::escape::unescape_with(&out, |entity| match entity {
        "amp" | "lt" | "gt" | "quot" | "apos" => quick_xml::escape::resolve_predefined_entity(entity),
        "nbsp" => Some("\u{a0}"),
        "eacute" => Some("é"),
        "egrave" => Some("è"),
        "agrave" => Some("à"),
        "uuml" => Some("ü"),
        "ouml" => Some("ö"),
        "auml" => Some("ä"),
        "szlig" => Some("ß"),
        "mdash" => Some("—"),
        "ndash" => Some("–"),
        "hellip" => Some("…"),
        "copy" => Some("©"),
        _ => None,
    })
    .map(|t| t.into_owned())
    .unwrap_or(out);
    // Collapse the blank lines markup leaves.
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_text_keeps_the_words_and_drops_the_markup() {
        let html = "<html><head><style>p { color: red }</style></head><body><h1>Minutes</h1><p>Decided: x &amp; y&nbsp;z &#x1F381;</p><br/>end</body></html>";
        assert_eq!(html_text(html), "Minutes\nDecided: x & y\u{a0}z \u{1F381}\nend");
    }
}
