//! Writes SOAP request envelopes for EWS.

use super::xml::{MESSAGES, SOAP, TYPES};
use std::borrow::Cow;

/// The oldest schema that has everything we ask for; Exchange 2013 and
/// newer answer it, and Exchange 2016/2019/SE have no newer value.
const SERVER_VERSION: &str = "Exchange2013_SP1";

/// Wrap an operation element (written with the `m:` and `t:` prefixes) in a
/// SOAP envelope.
pub fn envelope(operation: &str) -> String {
    envelope_as(operation, None)
}

/// The same, acting as the owner of `mailbox` through
/// ExchangeImpersonation (how-to-identify-the-account-to-impersonate.md).
pub fn envelope_as(operation: &str, mailbox: Option<&str>) -> String {
    let impersonation = match mailbox {
        Some(address) => format!(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>",
            escape(address)
        ),
        None => String::new(),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP}" xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><soap:Header><t:RequestServerVersion Version="{SERVER_VERSION}"/>{impersonation}</soap:Header><soap:Body>{operation}</soap:Body></soap:Envelope>"#
    )
}

pub fn escape(text: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// A folder as a request names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FolderRef {
    /// a well-known folder such as `msgfolderroot` or `contacts`
    Distinguished(&'static str),
    /// a well-known folder of another mailbox, opened as a delegate
    /// (how-to-access-contacts-as-a-delegate-by-using-ews-in-exchange.md)
    DistinguishedOf(&'static str, String),
    Id(String),
}

impl FolderRef {
    pub fn to_xml(&self) -> String {
        match self {
            FolderRef::Distinguished(name) => format!(r#"<t:DistinguishedFolderId Id="{name}"/>"#),
            FolderRef::DistinguishedOf(name, mailbox) => format!(
                r#"<t:DistinguishedFolderId Id="{name}"><t:Mailbox><t:EmailAddress>{}</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"#,
                escape(mailbox)
            ),
            FolderRef::Id(id) => format!(r#"<t:FolderId Id="{}"/>"#, escape(id)),
        }
    }
}
