//! The organisation's operations, answered over every mailbox rather than
//! one: GetSearchableMailboxes (eDiscovery: the mailboxes a search may
//! cover, which needs the Mailbox Search role), GetRoomLists and GetRooms
//! (their request and response types in ../shared/fixtures/ews/schema/
//! messages.xsd, SearchableMailboxType and RoomType in types.xsd; the
//! role from reference/mailbox-content.md 1.7). Their responses are single
//! response messages, without a `ResponseMessages` wrapper, as the schema
//! types them. No fixture has an answer of theirs: the values (guids,
//! reference ids, the room list's name) are made up in the shapes above.

use super::request::{MESSAGES, TYPES};
use super::{Answer, envelope, wire};
use crate::data::{Mailbox, MailboxKind};
use crate::escape::escape;

pub const OPERATIONS: &[&str] = &["GetSearchableMailboxes", "GetRoomLists", "GetRooms"];

/// The answer to one of [`OPERATIONS`]; `may_search`: the account holds
/// the Mailbox Search role.
pub fn handle(org: &[&Mailbox], request: &[u8], room_list: &str, may_search: bool) -> Answer {
    let parsed = match super::request::parse(request) {
        Ok(parsed) => parsed,
        Err(why) => return Answer::fault("ErrorSchemaValidation", &why, "Invalid".into()),
    };
    if let Err(refusal) = super::schema::check(&parsed) {
        return Answer::fault(refusal.code, &refusal.text, "Invalid".into());
    }
    let op = parsed.operation;
    let name = op.name.clone();
    let body = match name.as_str() {
        // The role's absence: the code is Exchange's for a refused
        // operation; the text is ours (../shared does not quote one).
        "GetSearchableMailboxes" if !may_search => message(
            &name,
            Err(("ErrorAccessDenied", "The caller does not have the Mailbox Search role required to list searchable mailboxes.")),
        ),
        "GetSearchableMailboxes" => {
            let filter = op.child_text("SearchFilter").map(str::trim).unwrap_or_default().to_lowercase();
            let listed: String = org
                .iter()
                .filter(|m| filter.is_empty() || m.address.contains(&filter) || m.display_name.to_lowercase().contains(&filter))
                .map(|m| searchable(m))
                .collect();
            message(&name, Ok(&format!("<m:SearchableMailboxes>{listed}</m:SearchableMailboxes>")))
        }
        "GetRoomLists" => {
            let list = address("Rooms", room_list, "PublicDL");
            message(&name, Ok(&format!("<m:RoomLists>{list}</m:RoomLists>")))
        }
        _ => {
            let asked = op.child("RoomList").and_then(|l| l.child_text("EmailAddress")).unwrap_or_default().trim().to_lowercase();
            if asked != room_list {
                message(&name, Err(("ErrorNameResolutionNoResults", "No results were found.")))
            } else {
                let rooms: String = org
                    .iter()
                    .filter(|m| m.kind == MailboxKind::Room)
                    .map(|m| format!("<t:Room><t:Id>{}</t:Id></t:Room>", address_fields(&m.display_name, &m.address, "Mailbox")))
                    .collect();
                message(&name, Ok(&format!("<m:Rooms>{rooms}</m:Rooms>")))
            }
        }
    };
    Answer { status: 200, body: wire(envelope(&body)), vanished: None, operation: name, downloads: Vec::new() }
}

fn message(operation: &str, content: Result<&str, (&str, &str)>) -> String {
    let (class, inner) = match content {
        Ok(content) => ("Success", format!("<m:ResponseCode>NoError</m:ResponseCode>{content}")),
        Err((code, text)) => (
            "Error",
            format!("<m:MessageText>{}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>", escape(text)),
        ),
    };
    format!(r#"<m:{operation}Response ResponseClass="{class}" xmlns:m="{MESSAGES}" xmlns:t="{TYPES}">{inner}</m:{operation}Response>"#)
}

/// SearchableMailboxType, in its order.
fn searchable(m: &Mailbox) -> String {
    format!(
        "<t:SearchableMailbox><t:Guid>{}</t:Guid><t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress><t:IsExternalMailbox>false</t:IsExternalMailbox>\
         <t:ExternalEmailAddress/><t:DisplayName>{}</t:DisplayName><t:IsMembershipGroup>false</t:IsMembershipGroup>\
         <t:ReferenceId>/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}</t:ReferenceId></t:SearchableMailbox>",
        guid(&m.address),
        escape(&m.address),
        escape(&m.display_name),
        escape(m.address.split('@').next().unwrap_or_default()),
    )
}

fn address(name: &str, email: &str, kind: &str) -> String {
    format!("<t:Address>{}</t:Address>", address_fields(name, email, kind))
}

/// EmailAddressType's elements.
fn address_fields(name: &str, email: &str, kind: &str) -> String {
    format!(
        "<t:Name>{}</t:Name><t:EmailAddress>{}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>{kind}</t:MailboxType>",
        escape(name),
        escape(email)
    )
}

/// A stable mailbox guid from its address (FNV-1a, twice).
fn guid(address: &str) -> String {
    let hash = |seed: u64| address.bytes().fold(seed, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let (a, b) = (hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4));
    format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48, b & 0xffff_ffff_ffff)
}
