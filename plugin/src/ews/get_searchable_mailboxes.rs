//! GetSearchableMailboxes: every mailbox of the organisation an eDiscovery
//! search may cover, in one answer (it needs the Mailbox Search role).
//! EWS has no other enumeration of mailboxes: FindPeople over the
//! directory is a query, ResolveNames stops at 100 (reference/
//! mailbox-content.md 1.7; ews-and-graph-protocol.md 1.6).

use super::response::{MessageHandler, ResponseError, Status};
use super::xml::{Item, Ns, Tag, XmlStream};
use std::io::BufRead;

pub fn request() -> String {
    "<m:GetSearchableMailboxes><m:ExpandGroupMembership>false</m:ExpandGroupMembership></m:GetSearchableMailboxes>".into()
}

/// The mailboxes' primary addresses, in lower case, read as they stream
/// in; groups and mailboxes of other organisations are left out.
#[derive(Default)]
pub struct Parser {
    pub addresses: Vec<String>,
    pub status: Status,
}

impl<R: BufRead> MessageHandler<R> for Parser {
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError> {
        if !tag.is(Ns::Messages, "SearchableMailboxes") {
            return Ok(stream.skip_element()?);
        }
        loop {
            match stream.next()? {
                Item::Start(entry) => {
                    let mailbox = stream.read_element(entry)?;
                    let flag = |name: &str| mailbox.child_text(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
                    let address = mailbox.child_text("PrimarySmtpAddress").map(|a| a.trim().to_lowercase()).unwrap_or_default();
                    if !flag("IsMembershipGroup") && !flag("IsExternalMailbox") && address.contains('@') {
                        self.addresses.push(address);
                    }
                }
                Item::End => return Ok(()),
                Item::Text(_) => {}
                Item::Eof => return Err(ResponseError::Malformed("truncated SearchableMailboxes".into())),
            }
        }
    }

    fn message(&mut self, status: Status) -> Result<(), ResponseError> {
        self.status = status;
        Ok(())
    }
}
