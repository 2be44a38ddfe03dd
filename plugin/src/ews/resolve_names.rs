//! ResolveNames: the SMTP address behind an Exchange legacy DN (an `EX`
//! address, as contacts made from the directory hold), from the directory.

use super::envelope::escape;
use super::response::{Object, PerObject};
use super::xml::{Tag, XmlError, XmlStream};
use std::io::BufRead;

pub fn request(entry: &str) -> String {
    format!(
        r#"<m:ResolveNames ReturnFullContactData="false" SearchScope="ActiveDirectory"><m:UnresolvedEntry>{}</m:UnresolvedEntry></m:ResolveNames>"#,
        escape(entry)
    )
}

/// A resolution's mailbox address, when it is an SMTP one.
pub struct Resolution(pub Option<String>);

impl Object for Resolution {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Self, XmlError> {
        let element = stream.read_element(tag)?;
        let mailbox = element.child("Mailbox");
        let smtp = mailbox.filter(|m| m.child_text("RoutingType").is_none_or(|t| t.trim().eq_ignore_ascii_case("SMTP")));
        Ok(Resolution(smtp.and_then(|m| m.child_text("EmailAddress")).map(|a| a.trim().to_string()).filter(|a| !a.is_empty())))
    }
}

pub fn parser() -> PerObject<Resolution> {
    PerObject::new("ResolutionSet")
}

/// The mailbox address of the one resolution, if there is one.
pub fn found(mut parser: PerObject<Resolution>) -> Option<String> {
    match parser.results.pop() {
        Some(Ok(Resolution(found))) => found,
        _ => None,
    }
}
