//! Calendar events and tasks as documents, whichever protocol read them:
//! one document per single event and per series master (its pattern in
//! words, its deleted occurrences), one per modified occurrence with the
//! master as its parent; a task with its status and dates. What an item
//! has in common with a mail (subject, body, attachments, importance,
//! categories) is read as a [`MailItem`], so that attachments go the way
//! mail's do (reference/mailbox-content.md 1.4 and 1.5).

use super::mail::{MailItem, item_document};
use super::recurrence::Pattern;
use super::zones;
use crate::bindings::helpdesk::connector::types::{ContentKind, Document, EventInfo, EventType, TaskInfo};

/// An event as read.
#[derive(Clone, Debug, PartialEq)]
pub struct EventItem {
    pub head: MailItem,
    pub event_type: EventType,
    /// RFC 3339, UTC
    pub start: String,
    pub end: String,
    /// as the server names it (a Windows id on EWS)
    pub time_zone: String,
    pub all_day: bool,
    pub location: Option<String>,
    /// `Name <address>`
    pub organizer: Option<String>,
    pub required: Vec<String>,
    pub optional: Vec<String>,
    pub recurrence: Option<Pattern>,
    pub deleted: Vec<String>,
    pub original_start: Option<String>,
    /// a master's modified occurrences, by id: items of their own
    pub exceptions: Vec<String>,
}

impl Default for EventItem {
    fn default() -> Self {
        EventItem {
            head: MailItem::default(),
            event_type: EventType::Single,
            start: String::new(),
            end: String::new(),
            time_zone: String::new(),
            all_day: false,
            location: None,
            organizer: None,
            required: Vec::new(),
            optional: Vec::new(),
            recurrence: None,
            deleted: Vec::new(),
            original_start: None,
            exceptions: Vec::new(),
        }
    }
}

/// A task as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskItem {
    pub head: MailItem,
    /// as the server writes it: `InProgress` (EWS), `inProgress` (Graph)
    pub status: String,
    pub percent_complete: f64,
    pub start: Option<String>,
    pub due: Option<String>,
    pub completed: Option<String>,
    pub owner: Option<String>,
    pub recurrence: Option<Pattern>,
}

/// `InProgress` and `inProgress` as `in-progress`.
fn kebab(word: &str) -> String {
    let mut out = String::new();
    for (i, c) in word.trim().chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `10:00-11:00` in the series' own offset, where the server gave it.
fn local_hours(start: &str, end: &str, offset_minutes: i32) -> Option<String> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let offset = time::UtcOffset::from_whole_seconds(offset_minutes * 60).ok()?;
    let at = |t: &str| time::OffsetDateTime::parse(t, rfc3339).ok().map(|t| t.to_offset(offset));
    let (start, end) = (at(start)?, at(end)?);
    Some(format!("{:02}:{:02}-{:02}:{:02}", start.hour(), start.minute(), end.hour(), end.minute()))
}

/// The document of an event; `master` the series of a modified occurrence.
pub fn event_document(item: &EventItem, mailbox: &str, master: Option<&str>) -> Document {
    let zone = zones::iana(&item.time_zone);
    let recurrence = item.recurrence.as_ref().map(|pattern| {
        let hours = pattern.offset_minutes.filter(|_| !item.all_day).and_then(|offset| local_hours(&item.start, &item.end, offset));
        pattern.words(hours.as_deref().map(|h| (h, zone.as_str())))
    });
    let mut attendees = item.required.clone();
    attendees.extend(item.optional.iter().cloned());
    Document {
        kind: ContentKind::Event,
        parent_id: master.map(str::to_string),
        sender: item.organizer.clone(),
        recipients: attendees,
        received: None,
        is_read: None,
        event: Some(EventInfo {
            event_type: if master.is_some() { EventType::Exception } else { item.event_type },
            start: item.start.clone(),
            end: item.end.clone(),
            time_zone: zone,
            all_day: item.all_day,
            location: item.location.clone().filter(|l| !l.trim().is_empty()),
            organizer: item.organizer.clone(),
            required_attendees: item.required.clone(),
            optional_attendees: item.optional.clone(),
            recurrence,
            deleted_occurrences: item.deleted.clone(),
            original_start: item.original_start.clone(),
        }),
        ..item_document(&item.head, mailbox)
    }
}

/// The document of a task in the list (folder) `list`.
pub fn task_document(item: &TaskItem, mailbox: &str, list: &str) -> Document {
    Document {
        kind: ContentKind::Task,
        received: None,
        is_read: None,
        task: Some(TaskInfo {
            status: kebab(if item.status.is_empty() { "NotStarted" } else { &item.status }),
            percent_complete: item.percent_complete.clamp(0.0, 100.0).round() as u8,
            start: item.start.clone(),
            due: item.due.clone(),
            completed: item.completed.clone(),
            owner: item.owner.clone().filter(|o| !o.trim().is_empty()),
            recurrence: item.recurrence.as_ref().map(|p| p.words(None)),
            list_name: list.to_string(),
        }),
        ..item_document(&item.head, mailbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::recurrence::{End, Repeat};

    #[test]
    fn a_series_in_words_in_its_own_zone() {
        let item = EventItem {
            head: MailItem { id: "m".into(), subject: "Weekly support sync".into(), ..Default::default() },
            event_type: EventType::SeriesMaster,
            start: "2026-01-05T09:00:00Z".into(),
            end: "2026-01-05T10:00:00Z".into(),
            time_zone: "W. Europe Standard Time".into(),
            recurrence: Some(Pattern {
                repeat: Repeat::Weekly(vec!["Monday".into()]),
                interval: 1,
                start: "2026-01-05".into(),
                end: End::Date("2026-03-30".into()),
                offset_minutes: Some(60),
            }),
            ..Default::default()
        };
        let doc = event_document(&item, "svc@example.com", None);
        let event = doc.event.unwrap();
        assert_eq!(event.recurrence.as_deref(), Some("every Monday 10:00-11:00 Europe/Berlin, from 5 Jan 2026 until 30 Mar 2026"));
        assert_eq!((doc.kind, event.time_zone.as_str()), (ContentKind::Event, "Europe/Berlin"));
        assert_eq!(kebab("WaitingOnOthers"), "waiting-on-others");
        assert_eq!(kebab("inProgress"), "in-progress");
    }
}
