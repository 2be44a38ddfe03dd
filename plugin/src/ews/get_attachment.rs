//! GetAttachment: one attachment's content. A file comes as one base64
//! text; an item attachment as the item (reference/mailbox-content.md
//! 1.6). The caller checks the size first: EWS has no partial download.

use super::envelope::escape;
use super::response::{Object, PerObject};
use super::xml::{Tag, XmlError, XmlStream};
use base64::Engine as _;
use std::io::BufRead;

/// One request for several attachments: the caller keeps their sizes
/// together under its limit.
pub fn request(ids: &[&str]) -> String {
    let ids: String = ids.iter().map(|id| format!(r#"<t:AttachmentId Id="{}"/>"#, escape(id))).collect();
    format!(r#"<m:GetAttachment><m:AttachmentIds>{ids}</m:AttachmentIds></m:GetAttachment>"#)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    File(Vec<u8>),
    /// an item attachment's subject and body
    Item { subject: String, body: String },
    /// base64 that does not decode
    Broken(String),
}

impl Object for Content {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Self, XmlError> {
        let element = stream.read_element(tag)?;
        if element.name == "ItemAttachment" {
            let item = element.children.iter().find(|c| c.child("Subject").is_some() || c.child("Body").is_some());
            return Ok(Content::Item {
                subject: item.and_then(|i| i.child_text("Subject")).unwrap_or_default().trim().to_string(),
                body: item.and_then(|i| i.child_text("Body")).unwrap_or_default().to_string(),
            });
        }
        let text: String = element.child_text("Content").unwrap_or_default().split_whitespace().collect();
        Ok(match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
            Ok(bytes) => Content::File(bytes),
            Err(e) => Content::Broken(format!("its content is not base64: {e}")),
        })
    }
}

pub fn parser() -> PerObject<Content> {
    PerObject::new("Attachments")
}
