//! SyncFolderItems: the changes to a folder since a sync state, at most 512
//! per call. Ids only: the contacts themselves come from GetItem.

use super::envelope::{FolderRef, escape};
use super::find_item::ItemRef;
use super::response::{MessageHandler, ResponseError, Status};
use super::xml::{Item, Ns, Tag, XmlStream};
use std::io::BufRead;

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
}

#[derive(Debug, Default)]
pub struct Page {
    pub state: String,
    pub last: bool,
    /// in the order they happened
    pub changes: Vec<ItemChange>,
    pub status: Status,
}

#[derive(Default)]
pub struct Parser {
    pub page: Page,
}

impl<R: BufRead> MessageHandler<R> for Parser {
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError> {
        match (tag.ns, tag.name.as_str()) {
            (Ns::Messages, "SyncState") => self.page.state = stream.read_element(tag)?.text.trim().to_string(),
            (Ns::Messages, "IncludesLastItemInRange") => {
                self.page.last = stream.read_element(tag)?.text.trim() != "false";
            }
            (Ns::Messages, "Changes") => loop {
                match stream.next()? {
                    Item::Start(change) => {
                        let element = stream.read_element(change)?;
                        self.page.changes.extend(change_of(&element));
                    }
                    Item::End => break,
                    Item::Text(_) => {}
                    Item::Eof => return Err(ResponseError::Malformed("truncated Changes".into())),
                }
            },
            _ => stream.skip_element()?,
        }
        Ok(())
    }

    fn message(&mut self, status: Status) -> Result<(), ResponseError> {
        self.page.status = status;
        Ok(())
    }
}

/// `Create`/`Update` hold the item, `Delete` its id; `ReadFlagChange`
/// (mail only) is no change to a contact.
fn change_of(element: &super::xml::Element) -> Option<ItemChange> {
    match element.name.as_str() {
        "Create" | "Update" => {
            let item = element.children.first()?;
            let id = item.child("ItemId")?;
            Some(ItemChange::Upsert(ItemRef {
                id: id.attr("Id")?.to_string(),
                change_key: id.attr("ChangeKey").unwrap_or_default().to_string(),
                kind: item.name.clone(),
            }))
        }
        "Delete" => Some(ItemChange::Delete(element.child("ItemId")?.attr("Id")?.to_string())),
        _ => None,
    }
}
