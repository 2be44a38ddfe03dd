//! SyncFolderHierarchy: the folders below a folder made, changed or deleted
//! since a sync state, and the new state (how-to-synchronize-folders-by-
//! using-ews-in-exchange). The first call, without a state, reports every
//! folder as made: the whole tree in one answer.

use super::envelope::{FolderRef, escape};
use super::find_folder::{FOLDER_PROPERTIES, FolderInfo};
use super::response::ResponseError;
use super::sync_answer::Change;
use super::xml::{Tag, XmlStream};
use std::io::BufRead;

pub fn request(root: &FolderRef, state: Option<&str>) -> String {
    let state = state.map(|s| format!("<m:SyncState>{}</m:SyncState>", escape(s))).unwrap_or_default();
    format!(
        concat!(
            r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>"#,
            r#"<t:AdditionalProperties>{}</t:AdditionalProperties></m:FolderShape>"#,
            r#"<m:SyncFolderId>{}</m:SyncFolderId>{}</m:SyncFolderHierarchy>"#
        ),
        FOLDER_PROPERTIES,
        root.to_xml(),
        state
    )
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FolderChange {
    /// made or changed: the folder as it is now
    Changed(FolderInfo),
    Deleted(String),
}

pub type Page = super::sync_answer::Page<FolderChange>;
pub type Parser = super::sync_answer::Parser<FolderChange>;

impl Change for FolderChange {
    /// Create and Update hold the folder; Delete its id.
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Option<Self>, ResponseError> {
        let change = stream.read_element(tag)?;
        Ok(match change.name.as_str() {
            "Create" | "Update" => change.children.first().map(FolderInfo::from_element).filter(|f| !f.id.is_empty()).map(FolderChange::Changed),
            "Delete" => change.child("FolderId").and_then(|f| f.attr("Id")).map(|id| FolderChange::Deleted(id.to_string())),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::response::read_response;

    fn documented(n: &str) -> Page {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/ews/msdocs/how-to-synchronize-folders-by-using-ews-in-exchange__");
        // The first answer elides folders with "...", and the page writes
        // the SOAP namespace with https, which no server sends.
        let xml = std::fs::read_to_string(format!("{dir}{n}_response.xml"))
            .expect("the fixture")
            .replace("...", "")
            .replace("https://schemas.xmlsoap.org", "http://schemas.xmlsoap.org");
        let mut parser = Parser::default();
        read_response(xml.as_bytes(), &mut parser).unwrap_or_else(|e| panic!("{n}: {e:?}"));
        parser.page
    }

    /// Microsoft's documented answers (../shared/fixtures): every folder
    /// made at first, then an update, a creation and a deletion.
    #[test]
    fn reads_the_documented_answers() {
        let first = documented("02");
        assert_eq!((first.state.as_str(), first.last, first.changes.len()), ("H4sIAA==", true, 4));
        assert!(!first.status.is_error());
        let next = documented("04");
        assert_eq!((next.state.as_str(), next.last), ("H4sIAAA", true));
        let [FolderChange::Changed(updated), FolderChange::Changed(made), FolderChange::Deleted(gone)] = next.changes.as_slice() else { panic!("{:?}", next.changes) };
        assert_eq!((updated.id.as_str(), updated.parent_id.as_deref(), updated.name.as_str(), updated.class.as_str()), ("AAMkADM=", Some("AQMkADMzADI1=="), "Meeting Notes", "IPF.Note"));
        assert_eq!((made.name.as_str(), made.element.as_str()), ("Schedules", "Folder"));
        assert_eq!(gone, "AAMkAD/AAA=");
    }

    #[test]
    fn asks_from_the_state_for_the_root_named() {
        let xml = request(&FolderRef::Distinguished("msgfolderroot"), Some("S&1"));
        assert!(xml.contains(r#"<m:SyncFolderId><t:DistinguishedFolderId Id="msgfolderroot"/></m:SyncFolderId><m:SyncState>S&amp;1</m:SyncState>"#), "{xml}");
    }
}
