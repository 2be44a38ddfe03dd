//! GetItem: full contacts for a batch of ids, flattened as they stream in.

use super::envelope::escape;
use super::find_item::ItemRef;
use super::response::{Object, PerObject};
use super::xml::{Tag, XmlError, XmlStream};
use crate::flatten::{Attributes, KNOWN_EXTENDED, read_item};
use std::io::BufRead;

/// Exchange checks its throttling budget after every item of a batch, and
/// clients (exchangelib, Outlook) ask for about 100 at a time.
pub const MAX_BATCH: usize = 100;

/// The contact properties we read. Whole dictionaries (`EmailAddresses`,
/// `PhoneNumbers`, ...) rather than single entries, so that every entry
/// can be mapped. Not `item:ParentFolderId`: contacts are read folder by
/// folder, and their attributes leave it out.
pub const CONTACT_PROPERTIES: &[&str] = &[
    "item:ItemClass",
    "item:Categories",
    "item:LastModifiedTime",
    "contacts:FileAs",
    "contacts:DisplayName",
    "contacts:GivenName",
    "contacts:Initials",
    "contacts:MiddleName",
    "contacts:Nickname",
    "contacts:CompleteName",
    "contacts:CompanyName",
    "contacts:EmailAddresses",
    "contacts:PhysicalAddresses",
    "contacts:PhoneNumbers",
    "contacts:AssistantName",
    "contacts:Birthday",
    "contacts:BusinessHomePage",
    "contacts:Department",
    "contacts:Generation",
    "contacts:ImAddresses",
    "contacts:JobTitle",
    "contacts:Manager",
    "contacts:OfficeLocation",
    "contacts:Profession",
    "contacts:SpouseName",
    "contacts:Surname",
];

pub fn request(ids: &[ItemRef]) -> String {
    let props: String = CONTACT_PROPERTIES
        .iter()
        .map(|uri| format!(r#"<t:FieldURI FieldURI="{uri}"/>"#))
        .chain(
            KNOWN_EXTENDED
                .iter()
                .map(|(tag, _)| format!(r#"<t:ExtendedFieldURI PropertyTag="{tag}" PropertyType="String"/>"#)),
        )
        .collect();
    // No ChangeKey: we want the current version, whatever it is.
    let ids: String = ids
        .iter()
        .map(|item| format!(r#"<t:ItemId Id="{}"/>"#, escape(&item.id)))
        .collect();
    format!(
        concat!(
            r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"#,
            r#"<t:AdditionalProperties>{}</t:AdditionalProperties></m:ItemShape>"#,
            r#"<m:ItemIds>{}</m:ItemIds></m:GetItem>"#
        ),
        props, ids
    )
}

/// One item as read: its ids and flattened attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchedItem {
    pub id: String,
    pub change_key: String,
    /// `Contact`, `DistributionList`, ...
    pub kind: String,
    pub attributes: Attributes,
}

impl Object for FetchedItem {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Self, XmlError> {
        let item = read_item(stream)?;
        Ok(FetchedItem { id: item.id, change_key: item.change_key, kind: tag.name.into_string(), attributes: item.attributes })
    }
}

/// One result per requested id, in request order.
pub fn parser() -> PerObject<FetchedItem> {
    PerObject::new("Items")
}
