//! What SyncFolderItems and SyncFolderHierarchy answer alike: a sync state,
//! whether the changes end here (`IncludesLastItemInRange`,
//! `IncludesLastFolderInRange`), and the changes, each read as it streams
//! by the operation's own reader.

use super::response::{MessageHandler, ResponseError, Status, each_child};
use super::xml::{Ns, Tag, XmlStream};
use std::io::BufRead;

/// A change of one operation, read from its element (`Create`, `Update`,
/// `Delete`, ...), which the reader consumes whole; None for one that is
/// no change to us.
pub trait Change: Sized {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Option<Self>, ResponseError>;
}

#[derive(Debug)]
pub struct Page<C> {
    pub state: String,
    /// no more changes to ask for
    pub last: bool,
    /// in the order they happened
    pub changes: Vec<C>,
    pub status: Status,
}

impl<C> Default for Page<C> {
    fn default() -> Self {
        Page { state: String::new(), last: false, changes: Vec::new(), status: Status::default() }
    }
}

pub struct Parser<C> {
    pub page: Page<C>,
}

impl<C> Default for Parser<C> {
    fn default() -> Self {
        Parser { page: Page::default() }
    }
}

impl<R: BufRead, C: Change> MessageHandler<R> for Parser<C> {
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError> {
        match (tag.ns, tag.name.as_str()) {
            (Ns::Messages, "SyncState") => self.page.state = stream.read_element(tag)?.text.trim().to_string(),
            (Ns::Messages, "IncludesLastItemInRange" | "IncludesLastFolderInRange") => {
                self.page.last = stream.read_element(tag)?.text.trim() != "false";
            }
            (Ns::Messages, "Changes") => each_child(stream, "Changes", |stream, change| {
                self.page.changes.extend(C::read(stream, change)?);
                Ok(())
            })?,
            _ => stream.skip_element()?,
        }
        Ok(())
    }

    fn message(&mut self, status: Status) -> Result<(), ResponseError> {
        self.page.status = status;
        Ok(())
    }
}
