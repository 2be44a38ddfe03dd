//! SyncFolderHierarchy: whether the folders below a folder changed since a
//! sync state, and the new state (how-to-synchronize-folders-by-using-ews-
//! in-exchange). Ids only: what changed is listed again with FindFolder,
//! so the changes are counted, not kept (the first call, without a
//! state, reports every folder of the mailbox as made).

use super::envelope::{FolderRef, escape};
use super::response::{MessageHandler, ResponseError, Status};
use super::xml::{Item, Ns, Tag, XmlStream};
use std::io::BufRead;

pub fn request(root: &FolderRef, state: Option<&str>) -> String {
    let state = state.map(|s| format!("<m:SyncState>{}</m:SyncState>", escape(s))).unwrap_or_default();
    format!(
        concat!(
            r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>"#,
            r#"<m:SyncFolderId>{}</m:SyncFolderId>{}</m:SyncFolderHierarchy>"#
        ),
        root.to_xml(),
        state
    )
}

#[derive(Debug, Default)]
pub struct Page {
    pub state: String,
    /// IncludesLastFolderInRange: no more changes to ask for
    pub last: bool,
    /// folders made, changed or deleted
    pub changes: usize,
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
            (Ns::Messages, "IncludesLastFolderInRange") => self.page.last = stream.read_element(tag)?.text.trim() != "false",
            (Ns::Messages, "Changes") => loop {
                match stream.next()? {
                    Item::Start(change) => {
                        if matches!(change.name.as_str(), "Create" | "Update" | "Delete") {
                            self.page.changes += 1;
                        }
                        stream.skip_element()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::response::read_response;

    /// Microsoft's documented answers (../shared/fixtures): every folder
    /// made at first, then an update, a creation and a deletion.
    #[test]
    fn counts_the_changes_of_the_documented_answers() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/ews/msdocs/how-to-synchronize-folders-by-using-ews-in-exchange__");
        let read = |n: &str| {
            // The first answer elides folders with "...": cut it out.
            // The page writes the SOAP namespace with https, which no server
            // sends.
            let xml = std::fs::read_to_string(format!("{dir}{n}_response.xml")).expect("the fixture").replace("...", "").replace("https://schemas.xmlsoap.org", "http://schemas.xmlsoap.org");
            let mut parser = Parser::default();
            read_response(xml.as_bytes(), &mut parser).unwrap_or_else(|e| panic!("{n}: {e:?}"));
            parser.page
        };
        let first = read("02");
        assert_eq!((first.state.as_str(), first.last, first.changes), ("H4sIAA==", true, 4));
        assert!(!first.status.is_error());
        let next = read("04");
        assert_eq!((next.state.as_str(), next.last, next.changes), ("H4sIAAA", true, 3));
    }

    #[test]
    fn asks_from_the_state_for_the_root_named() {
        let xml = request(&FolderRef::Distinguished("msgfolderroot"), Some("S&1"));
        assert!(xml.contains(r#"<m:SyncFolderId><t:DistinguishedFolderId Id="msgfolderroot"/></m:SyncFolderId><m:SyncState>S&amp;1</m:SyncState>"#), "{xml}");
    }
}
