//! GetRoomLists and GetRooms: the organisation's room lists, and the rooms
//! in one, for telling room mailboxes from people's (equipment has no
//! such list).

use super::response::{MessageHandler, ResponseError, Status};
use super::xml::{Item, Ns, Tag, XmlStream};
use quick_xml::escape::escape;
use std::io::BufRead;

pub fn lists_request() -> String {
    "<m:GetRoomLists/>".into()
}

pub fn rooms_request(list: &str) -> String {
    format!("<m:GetRooms><m:RoomList><t:EmailAddress>{}</t:EmailAddress></m:RoomList></m:GetRooms>", escape(list))
}

/// The addresses in a `RoomLists` (each an `Address`) or `Rooms` (each a
/// `Room` with an `Id`) payload, in lower case.
#[derive(Default)]
pub struct Parser {
    pub addresses: Vec<String>,
    pub status: Status,
}

impl<R: BufRead> MessageHandler<R> for Parser {
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError> {
        if !(tag.is(Ns::Messages, "RoomLists") || tag.is(Ns::Messages, "Rooms")) {
            return Ok(stream.skip_element()?);
        }
        loop {
            match stream.next()? {
                Item::Start(entry) => {
                    let entry = stream.read_element(entry)?;
                    let address = entry.child("Id").unwrap_or(&entry).child_text("EmailAddress").map(|a| a.trim().to_lowercase());
                    self.addresses.extend(address.filter(|a| a.contains('@')));
                }
                Item::End => return Ok(()),
                Item::Text(_) => {}
                Item::Eof => return Err(ResponseError::Malformed("truncated room list".into())),
            }
        }
    }

    fn message(&mut self, status: Status) -> Result<(), ResponseError> {
        self.status = status;
        Ok(())
    }
}
