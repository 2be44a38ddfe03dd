//! FindItem: the ids of a folder's items, one indexed page at a time.
//! Only ids: Exchange returns no indexed properties (email addresses, phone
//! numbers) from FindItem, so the contacts themselves come from GetItem.

use super::envelope::FolderRef;
use super::response::{MessageHandler, Paging, ResponseError, Status, read_root_folder};
use super::xml::{Ns, Tag, XmlStream};
use std::io::BufRead;

/// Exchange's EWSFindCountLimit: larger pages have no effect.
pub const MAX_PAGE: u32 = 1000;

pub fn request(folder: &FolderRef, offset: u32, page_size: u32) -> String {
    format!(
        concat!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"#,
            r#"<m:IndexedPageItemView MaxEntriesReturned="{}" Offset="{}" BasePoint="Beginning"/>"#,
            r#"<m:ParentFolderIds>{}</m:ParentFolderIds></m:FindItem>"#
        ),
        page_size.min(MAX_PAGE),
        offset,
        folder.to_xml(),
    )
}

/// An item as listed: its id, change key and kind (`Contact`,
/// `DistributionList`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ItemRef {
    pub id: String,
    pub change_key: String,
    pub kind: String,
}

#[derive(Debug, Default)]
pub struct Page {
    pub items: Vec<ItemRef>,
    pub paging: Paging,
    pub status: Status,
}

pub struct Parser {
    offset: u32,
    pub page: Page,
}

impl Parser {
    pub fn new(offset: u32) -> Self {
        Parser { offset, page: Page::default() }
    }
}

impl<R: BufRead> MessageHandler<R> for Parser {
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError> {
        if !tag.is(Ns::Messages, "RootFolder") {
            return Ok(stream.skip_element()?);
        }
        let items = &mut self.page.items;
        self.page.paging = read_root_folder(stream, tag, "Items", self.offset, |element| {
            if let Some(id) = element.child("ItemId") {
                items.push(ItemRef {
                    id: id.attr("Id").unwrap_or_default().to_string(),
                    change_key: id.attr("ChangeKey").unwrap_or_default().to_string(),
                    kind: element.name.to_string(),
                });
            }
        })?;
        Ok(())
    }

    fn message(&mut self, status: Status) -> Result<(), ResponseError> {
        self.page.status = status;
        Ok(())
    }
}
