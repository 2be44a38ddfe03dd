//! GetSearchableMailboxes: every mailbox of the organisation an eDiscovery
//! search may cover, in one answer (it needs the Mailbox Search role).
//! EWS has no other enumeration of mailboxes: FindPeople over the
//! directory is a query, ResolveNames stops at 100 (reference/
//! mailbox-content.md 1.7; ews-and-graph-protocol.md 1.6).

use super::response::Entries;
use super::xml::Element;

pub fn request() -> String {
    "<m:GetSearchableMailboxes><m:ExpandGroupMembership>false</m:ExpandGroupMembership></m:GetSearchableMailboxes>".into()
}

/// The mailboxes' primary addresses, in lower case; groups and mailboxes
/// of other organisations are left out.
pub fn parser() -> Entries<String> {
    Entries::new("SearchableMailboxes", address)
}

fn address(mailbox: &Element) -> Option<String> {
    let flag = |name: &str| mailbox.child_text(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let address = mailbox.child_text("PrimarySmtpAddress")?.trim().to_lowercase();
    (!flag("IsMembershipGroup") && !flag("IsExternalMailbox") && address.contains('@')).then_some(address)
}
