//! GetItem for calendar items: an event with its times and zone, its
//! attendees, and for a series master its pattern, its modified
//! occurrences (by id: each is read as an item of its own) and its deleted
//! ones (reference/mailbox-content.md 1.4).

use super::get_message::{person, read_item, request_of};
use super::recurrence;
use super::response::Object;
use super::xml::{Tag, XmlError, XmlStream};
use crate::bindings::helpdesk::connector::types::EventType;
pub use crate::documents::calendar::EventItem;
use std::io::BufRead;

/// Events per GetItem: like messages, they carry bodies.
pub const MAX_BATCH: usize = 25;

const EVENT_PROPERTIES: &[&str] = &[
    "calendar:Start",
    "calendar:End",
    "calendar:OriginalStart",
    "calendar:IsAllDayEvent",
    "calendar:Location",
    "calendar:CalendarItemType",
    "calendar:Organizer",
    "calendar:RequiredAttendees",
    "calendar:OptionalAttendees",
    "calendar:Recurrence",
    "calendar:ModifiedOccurrences",
    "calendar:DeletedOccurrences",
    "calendar:StartTimeZoneId",
];

pub fn request(ids: &[String]) -> String {
    request_of(EVENT_PROPERTIES, ids)
}

impl Object for EventItem {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Self, XmlError> {
        let attendees = |list: &super::xml::Element| -> Vec<String> { list.children.iter().filter_map(|a| a.child("Mailbox")).filter_map(person).collect() };
        let mut item = read_item(stream, tag, |event: &mut EventItem| &mut event.head, |item, child| {
            let text = child.text.trim();
            match child.name.as_str() {
                "Start" => item.start = text.to_string(),
                "End" => item.end = text.to_string(),
                "OriginalStart" => item.original_start = Some(text.to_string()),
                "IsAllDayEvent" => item.all_day = text == "true",
                "Location" => item.location = Some(text.to_string()).filter(|l| !l.is_empty()),
                "CalendarItemType" => {
                    item.event_type = match text {
                        "RecurringMaster" => EventType::SeriesMaster,
                        "Exception" | "Occurrence" => EventType::Exception,
                        _ => EventType::Single,
                    }
                }
                "Organizer" => item.organizer = child.child("Mailbox").and_then(person),
                "RequiredAttendees" => item.required = attendees(child),
                "OptionalAttendees" => item.optional = attendees(child),
                "Recurrence" => item.recurrence = recurrence::read(child),
                "ModifiedOccurrences" => {
                    item.exceptions = child.children.iter().filter_map(|o| o.child("ItemId")?.attr("Id").map(str::to_string)).collect();
                }
                "DeletedOccurrences" => item.deleted = child.children.iter().filter_map(|d| d.child_text("Start")).map(|s| s.trim().to_string()).collect(),
                "StartTimeZoneId" => item.time_zone = text.to_string(),
                _ => {}
            }
        })?;
        // The organizer sends, the attendees receive: as a mail's parts,
        // for the event's attachments.
        item.head.from = item.organizer.clone();
        item.head.recipients = item.required.iter().chain(&item.optional).cloned().collect();
        Ok(item)
    }
}
