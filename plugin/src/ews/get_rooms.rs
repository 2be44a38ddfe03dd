//! GetRoomLists and GetRooms: the organisation's room lists, and the rooms
//! in one, for telling room mailboxes from people's (equipment has no
//! such list).

use super::response::Entries;
use super::xml::Element;
use quick_xml::escape::escape;

pub fn lists_request() -> String {
    "<m:GetRoomLists/>".into()
}

pub fn rooms_request(list: &str) -> String {
    format!("<m:GetRooms><m:RoomList><t:EmailAddress>{}</t:EmailAddress></m:RoomList></m:GetRooms>", escape(list))
}

/// The room lists' addresses (each an `Address`), lower case.
pub fn lists_parser() -> Entries<String> {
    Entries::new("RoomLists", |list| address(list))
}

/// The rooms' addresses (each a `Room` with an `Id`), lower case.
pub fn rooms_parser() -> Entries<String> {
    Entries::new("Rooms", |room| room.child("Id").and_then(address))
}

fn address(entry: &Element) -> Option<String> {
    entry.child_text("EmailAddress").map(|a| a.trim().to_lowercase()).filter(|a| a.contains('@'))
}
