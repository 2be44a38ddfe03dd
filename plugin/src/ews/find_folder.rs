//! FindFolder: the folder tree below a folder, one page at a time.

use super::envelope::FolderRef;
use super::response::{MessageHandler, Object, Paging, ResponseError, Status, read_root_folder};
use super::xml::{Element, Ns, Tag, XmlError, XmlStream};
use std::io::BufRead;

/// Folder properties every listing asks for.
pub const FOLDER_PROPERTIES: &str = concat!(
    r#"<t:FieldURI FieldURI="folder:ParentFolderId"/>"#,
    r#"<t:FieldURI FieldURI="folder:DisplayName"/>"#,
    r#"<t:FieldURI FieldURI="folder:FolderClass"/>"#,
    r#"<t:FieldURI FieldURI="folder:TotalCount"/>"#,
    r#"<t:FieldURI FieldURI="folder:ChildFolderCount"/>"#,
    // PidTagAttributeHidden: Exchange hides its internal folders with it.
    r#"<t:ExtendedFieldURI PropertyTag="0x10F4" PropertyType="Boolean"/>"#,
);

/// PidTagAttributeHidden's tag.
const HIDDEN_TAG: u32 = 0x10F4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traversal {
    Shallow,
    Deep,
}

pub fn request(parent: &FolderRef, traversal: Traversal, offset: u32, page_size: u32) -> String {
    format!(
        concat!(
            r#"<m:FindFolder Traversal="{traversal:?}"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>"#,
            r#"<t:AdditionalProperties>{props}</t:AdditionalProperties></m:FolderShape>"#,
            r#"<m:IndexedPageFolderView MaxEntriesReturned="{page_size}" Offset="{offset}" BasePoint="Beginning"/>"#,
            r#"<m:ParentFolderIds>{parent}</m:ParentFolderIds></m:FindFolder>"#
        ),
        traversal = traversal,
        props = FOLDER_PROPERTIES,
        page_size = page_size,
        offset = offset,
        parent = parent.to_xml(),
    )
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderInfo {
    pub id: String,
    pub change_key: String,
    pub parent_id: Option<String>,
    pub name: String,
    /// `IPF.Contact` for address books
    pub class: String,
    /// the element name: `ContactsFolder`, `SearchFolder`, `Folder`, ...
    pub element: String,
    pub total_count: u64,
    pub child_count: u64,
    /// PidTagAttributeHidden is set: one of Exchange's internal folders
    pub hidden: bool,
    /// who its permissions let read its items, when GetFolder was asked
    /// for them (get_folder.rs)
    pub readers: Vec<String>,
}

impl Object for FolderInfo {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Self, XmlError> {
        Ok(FolderInfo::from_element(&stream.read_element(tag)?))
    }
}

impl FolderInfo {
    pub fn from_element(element: &Element) -> Self {
        let number = |name: &str| {
            element
                .child_text(name)
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0)
        };
        FolderInfo {
            id: element
                .child("FolderId")
                .and_then(|f| f.attr("Id"))
                .unwrap_or_default()
                .to_string(),
            change_key: element.child("FolderId").and_then(|f| f.attr("ChangeKey")).unwrap_or_default().to_string(),
            parent_id: element
                .child("ParentFolderId")
                .and_then(|f| f.attr("Id"))
                .map(str::to_string),
            name: element
                .child_text("DisplayName")
                .unwrap_or_default()
                .to_string(),
            class: element
                .child_text("FolderClass")
                .unwrap_or_default()
                .to_string(),
            element: element.name.to_string(),
            total_count: number("TotalCount"),
            child_count: number("ChildFolderCount"),
            hidden: element.children.iter().any(is_hidden_flag),
            readers: super::get_folder::readers_of(element),
        }
    }

    pub fn is_search_folder(&self) -> bool {
        self.element == "SearchFolder"
    }

    /// Address books: a `ContactsFolder` whatever its class says or omits,
    /// and any folder of class `IPF.Contact` or one of its subclasses.
    pub fn is_contact_folder(&self) -> bool {
        self.element == "ContactsFolder"
            || self.class == "IPF.Contact"
            || self.class.starts_with("IPF.Contact.")
    }
}

/// An `ExtendedProperty` saying PidTagAttributeHidden is true. The tag may
/// come back as hex in any case or as a decimal number.
fn is_hidden_flag(property: &Element) -> bool {
    let tag = property
        .child("ExtendedFieldURI")
        .and_then(|uri| uri.attr("PropertyTag"))
        .unwrap_or_default();
    let tag = match tag.strip_prefix("0x").or_else(|| tag.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => tag.parse().ok(),
    };
    property.name == "ExtendedProperty"
        && tag == Some(HIDDEN_TAG)
        && property
            .child_text("Value")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

#[derive(Debug, Default)]
pub struct Page {
    pub folders: Vec<FolderInfo>,
    pub paging: Paging,
    pub status: Status,
}

pub struct Parser {
    offset: u32,
    pub page: Page,
}

impl Parser {
    pub fn new(offset: u32) -> Self {
        Parser {
            offset,
            page: Page::default(),
        }
    }
}

impl<R: BufRead> MessageHandler<R> for Parser {
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError> {
        if !tag.is(Ns::Messages, "RootFolder") {
            return Ok(stream.skip_element()?);
        }
        let folders = &mut self.page.folders;
        self.page.paging = read_root_folder(stream, tag, "Folders", self.offset, |element| {
            folders.push(FolderInfo::from_element(&element))
        })?;
        Ok(())
    }

    fn message(&mut self, status: Status) -> Result<(), ResponseError> {
        self.page.status = status;
        Ok(())
    }
}
