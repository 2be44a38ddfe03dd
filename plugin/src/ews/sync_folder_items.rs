//! SyncFolderItems: the changes to a folder since a sync state, at most 512
//! per call. Ids only: the contacts themselves come from GetItem.

use super::envelope::{FolderRef, escape};
use super::find_item::ItemRef;
use super::response::ResponseError;
use super::sync_answer::Change;
use super::xml::{Item, Tag, XmlError, XmlStream};
use std::io::BufRead;

/// Sync states Exchange no longer accepts: start the folder over.
pub const STALE_STATE: &[&str] = &["ErrorInvalidSyncStateData", "ErrorInvalidSyncStateDataSyncState"];

/// The most changes Exchange returns per call.
pub const MAX_CHANGES: u32 = 512;

pub fn request(folder: &FolderRef, state: Option<&str>, max_changes: u32) -> String {
    let state = match state {
        Some(state) => format!("<m:SyncState>{}</m:SyncState>", escape(state)),
        None => String::new(),
    };
    format!(
        concat!(
            r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"#,
            r#"<m:SyncFolderId>{}</m:SyncFolderId>{}<m:MaxChangesReturned>{}</m:MaxChangesReturned>"#,
            r#"<m:SyncScope>NormalItems</m:SyncScope></m:SyncFolderItems>"#
        ),
        folder.to_xml(),
        state,
        max_changes.clamp(1, MAX_CHANGES)
    )
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemChange {
    /// created or changed: read it again
    Upsert(ItemRef),
    Delete(String),
    /// mail: only the read flag changed, and here is its value
    ReadFlag { id: String, is_read: bool },
}

pub type Page = super::sync_answer::Page<ItemChange>;
pub type Parser = super::sync_answer::Parser<ItemChange>;

impl Change for ItemChange {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Option<Self>, ResponseError> {
        Ok(read_change(stream, &tag.name)?)
    }
}

/// The rest of one change, read as it streams (a full sync reads one per
/// contact): `Create`/`Update` hold the item, whose `ItemId` is a child of
/// it; `Delete` holds the `ItemId` itself; `ReadFlagChange` (mail only) is
/// no change to a contact.
fn read_change<R: BufRead>(stream: &mut XmlStream<R>, change: &str) -> Result<Option<ItemChange>, XmlError> {
    let delete = change == "Delete";
    let read_flag = change == "ReadFlagChange";
    let mut is_read = None;
    let holds_item = matches!(change, "Create" | "Update");
    // The first child (the item, for Create/Update), and the id found.
    let mut item: Option<String> = None;
    let mut in_first_child = false;
    let mut id: Option<(String, String)> = None;
    let mut depth = 1;
    loop {
        match stream.next()? {
            Item::Start(tag) => {
                depth += 1;
                if depth == 2 && item.is_none() {
                    item = Some(tag.name.to_string());
                    in_first_child = true;
                }
                let wanted = ((delete || read_flag) && depth == 2) || (holds_item && depth == 3 && in_first_child);
                if wanted && id.is_none() && tag.name == "ItemId" {
                    id = tag.attr("Id").map(|i| (i.to_string(), tag.attr("ChangeKey").unwrap_or_default().to_string()));
                }
                if read_flag && depth == 2 && tag.name == "IsRead" {
                    is_read = Some(stream.read_element(tag)?.text.trim() == "true");
                    depth -= 1;
                }
            }
            Item::End => {
                depth -= 1;
                if depth == 1 {
                    in_first_child = false;
                }
                if depth == 0 {
                    break;
                }
            }
            Item::Text(_) => {}
            Item::Eof => return Err(XmlError("document ends inside a change".into())),
        }
    }
    Ok(match (id, item) {
        (Some((id, _)), _) if delete => Some(ItemChange::Delete(id)),
        (Some((id, _)), _) if read_flag => is_read.map(|is_read| ItemChange::ReadFlag { id, is_read }),
        (Some((id, change_key)), Some(kind)) if holds_item => Some(ItemChange::Upsert(ItemRef { id, change_key, kind })),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::response::read_response;

    #[test]
    fn reads_creates_updates_read_flags_and_deletes() {
        let xml = concat!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#,
            r#"<m:SyncFolderItemsResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">"#,
            r#"<m:ResponseMessages><m:SyncFolderItemsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>"#,
            r#"<m:SyncState>S2</m:SyncState><m:IncludesLastItemInRange>false</m:IncludesLastItemInRange><m:Changes>"#,
            r#"<t:Create><t:Contact><t:ItemId Id="a" ChangeKey="ka"/><t:Subject>A</t:Subject></t:Contact></t:Create>"#,
            r#"<t:Update><t:DistributionList><t:ItemId Id="b" ChangeKey="kb"/></t:DistributionList></t:Update>"#,
            r#"<t:ReadFlagChange><t:ItemId Id="c"/><t:IsRead>true</t:IsRead></t:ReadFlagChange>"#,
            r#"<t:Delete><t:ItemId Id="d" ChangeKey="kd"/></t:Delete>"#,
            r#"<t:Create><t:Contact><t:Subject>no id</t:Subject></t:Contact><t:Contact><t:ItemId Id="e"/></t:Contact></t:Create>"#,
            r#"</m:Changes></m:SyncFolderItemsResponseMessage></m:ResponseMessages></m:SyncFolderItemsResponse></s:Body></s:Envelope>"#
        );
        let mut parser = Parser::default();
        read_response(xml.as_bytes(), &mut parser).unwrap();
        assert_eq!((parser.page.state.as_str(), parser.page.last), ("S2", false));
        let item = |id: &str, change_key: &str, kind: &str| {
            ItemChange::Upsert(ItemRef { id: id.into(), change_key: change_key.into(), kind: kind.into() })
        };
        // The last Create has no id in its item: only the first child counts.
        assert_eq!(
            parser.page.changes,
            vec![
                item("a", "ka", "Contact"),
                item("b", "kb", "DistributionList"),
                ItemChange::ReadFlag { id: "c".into(), is_read: true },
                ItemChange::Delete("d".into())
            ]
        );
    }
}
