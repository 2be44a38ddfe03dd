//! Calendar items and tasks over EWS, in the element order of types.xsd's
//! ItemType, CalendarItemType and TaskType: a series master with its
//! `Recurrence`, `ModifiedOccurrences` and `DeletedOccurrences`, an
//! exception as an item of its own (GetItem by the id the master lists),
//! zones as `StartTimeZoneId`/`EndTimeZoneId` beside UTC instants
//! (reference/mailbox-content.md 1.4, 1.5).

use super::mail::{attachments_xml, mailbox_xml};
use super::shape::Shape;
use crate::data::Folder;
use crate::data::Mailbox;
use crate::data::calendar::{Event, EventKind, Item, ItemChange, Task, Weekly};
use crate::data::mail::Person;
use crate::escape::escape;
use std::fmt::Write;

/// What an ItemType starts with, as the shape asks.
struct Head<'a> {
    id: &'a str,
    change_key: &'a str,
    folder_id: &'a str,
    class: &'a str,
    subject: &'a str,
    body: &'a str,
    attachments: &'a [crate::data::mail::Attachment],
    categories: &'a [String],
    importance: &'a str,
    last_modified: &'a str,
}

fn head_xml(xml: &mut String, h: &Head, shape: &Shape) {
    let _ = write!(xml, r#"<t:ItemId Id="{}" ChangeKey="{}"/>"#, escape(h.id), h.change_key);
    let mut put = |name: &str, value: String| {
        if shape.wants(name) {
            xml.push_str(&value);
        }
    };
    put("ParentFolderId", format!(r#"<t:ParentFolderId Id="{}" ChangeKey="AQAAAA=="/>"#, escape(h.folder_id)));
    put("ItemClass", format!("<t:ItemClass>{}</t:ItemClass>", h.class));
    put("Subject", format!("<t:Subject>{}</t:Subject>", escape(h.subject)));
    put("Body", format!(r#"<t:Body BodyType="Text" IsTruncated="false">{}</t:Body>"#, escape(h.body)));
    if !h.attachments.is_empty() {
        put("Attachments", attachments_xml(h.attachments, h.last_modified));
    }
    if !h.categories.is_empty() {
        let categories: String = h.categories.iter().map(|c| format!("<t:String>{}</t:String>", escape(c))).collect();
        put("Categories", format!("<t:Categories>{categories}</t:Categories>"));
    }
    put("Importance", format!("<t:Importance>{}</t:Importance>", h.importance));
    put("HasAttachments", format!("<t:HasAttachments>{}</t:HasAttachments>", !h.attachments.is_empty()));
    put("LastModifiedTime", format!("<t:LastModifiedTime>{}</t:LastModifiedTime>", h.last_modified));
}

/// A day of a recurrence as EWS writes it: the date with the zone's
/// offset on that day (`2014-03-08-08:00`, reference 1.4).
fn recurrence_date(date: &str, zone: &str) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let offset = time::Date::parse(date, format)
        .ok()
        .and_then(|d| crate::zones::offset_at(zone, d.midnight().assume_utc() + time::Duration::hours(12)))
        .map(|o| format!("{:+03}:{:02}", o.whole_hours(), o.minutes_past_hour().abs()))
        .unwrap_or_else(|| "Z".into());
    format!("{date}{}", if offset == "+00:00" { "Z".into() } else { offset })
}

fn recurrence_xml(r: &Weekly, zone: &str) -> String {
    format!(
        "<t:Recurrence><t:WeeklyRecurrence><t:Interval>{}</t:Interval><t:DaysOfWeek>{}</t:DaysOfWeek></t:WeeklyRecurrence>\
         <t:EndDateRecurrence><t:StartDate>{}</t:StartDate><t:EndDate>{}</t:EndDate></t:EndDateRecurrence></t:Recurrence>",
        r.interval,
        r.days.join(" "),
        recurrence_date(&r.start_date, zone),
        recurrence_date(&r.end_date, zone)
    )
}

fn attendees_xml(element: &str, people: &[Person]) -> String {
    if people.is_empty() {
        return String::new();
    }
    let attendees: String = people.iter().map(|p| format!("<t:Attendee>{}<t:ResponseType>Unknown</t:ResponseType></t:Attendee>", mailbox_xml(p))).collect();
    format!("<t:{element}>{attendees}</t:{element}>")
}

pub fn event_xml(mailbox: &Mailbox, e: &Event, shape: &Shape) -> String {
    let mut xml = String::from("<t:CalendarItem>");
    let class = "IPM.Appointment";
    let head = Head {
        id: &e.id,
        change_key: &e.change_key,
        folder_id: &e.folder_id,
        class,
        subject: &e.subject,
        body: &e.body,
        attachments: &e.attachments,
        categories: &e.categories,
        importance: e.importance,
        last_modified: &e.last_modified,
    };
    head_xml(&mut xml, &head, shape);
    let mut put = |name: &str, value: String| {
        if shape.wants(name) && !value.is_empty() {
            xml.push_str(&value);
        }
    };
    put("UID", format!("<t:UID>{}</t:UID>", e.uid));
    put("Start", format!("<t:Start>{}</t:Start>", e.start));
    put("End", format!("<t:End>{}</t:End>", e.end));
    if let Some(original) = &e.original_start {
        put("OriginalStart", format!("<t:OriginalStart>{original}</t:OriginalStart>"));
    }
    put("IsAllDayEvent", format!("<t:IsAllDayEvent>{}</t:IsAllDayEvent>", e.all_day));
    put("Location", if e.location.is_empty() { "<t:Location/>".into() } else { format!("<t:Location>{}</t:Location>", escape(&e.location)) });
    put("IsMeeting", format!("<t:IsMeeting>{}</t:IsMeeting>", !e.required.is_empty() || !e.optional.is_empty()));
    put("IsRecurring", format!("<t:IsRecurring>{}</t:IsRecurring>", e.kind != EventKind::Single));
    put("CalendarItemType", format!("<t:CalendarItemType>{}</t:CalendarItemType>", e.kind.ews()));
    put("Organizer", format!("<t:Organizer>{}</t:Organizer>", mailbox_xml(&e.organizer)));
    put("RequiredAttendees", attendees_xml("RequiredAttendees", &e.required));
    put("OptionalAttendees", attendees_xml("OptionalAttendees", &e.optional));
    if let Some(r) = &e.recurrence {
        put("Recurrence", recurrence_xml(r, e.time_zone));
    }
    let exceptions: String = mailbox
        .exceptions_of(&e.id)
        .map(|x| {
            format!(
                r#"<t:Occurrence><t:ItemId Id="{}" ChangeKey="{}"/><t:Start>{}</t:Start><t:End>{}</t:End><t:OriginalStart>{}</t:OriginalStart></t:Occurrence>"#,
                escape(&x.id),
                x.change_key,
                x.start,
                x.end,
                x.original_start.as_deref().unwrap_or(&x.start)
            )
        })
        .collect();
    if !exceptions.is_empty() {
        put("ModifiedOccurrences", format!("<t:ModifiedOccurrences>{exceptions}</t:ModifiedOccurrences>"));
    }
    if !e.deleted_occurrences.is_empty() {
        let deleted: String = e.deleted_occurrences.iter().map(|s| format!("<t:DeletedOccurrence><t:Start>{s}</t:Start></t:DeletedOccurrence>")).collect();
        put("DeletedOccurrences", format!("<t:DeletedOccurrences>{deleted}</t:DeletedOccurrences>"));
    }
    // The definition's periods and transitions are left out: the schema
    // allows it, and clients read the zone by its Id.
    put("StartTimeZone", format!(r#"<t:StartTimeZone Id="{0}" Name="{0}"/>"#, e.time_zone));
    put("EndTimeZone", format!(r#"<t:EndTimeZone Id="{0}" Name="{0}"/>"#, e.time_zone));
    put("StartTimeZoneId", format!("<t:StartTimeZoneId>{}</t:StartTimeZoneId>", e.time_zone));
    put("EndTimeZoneId", format!("<t:EndTimeZoneId>{}</t:EndTimeZoneId>", e.time_zone));
    xml.push_str("</t:CalendarItem>");
    xml
}

/// `StatusDescription` as Outlook words the status.
fn status_description(status: &str) -> &'static str {
    match status {
        "InProgress" => "In Progress",
        "Completed" => "Completed",
        "WaitingOnOthers" => "Waiting on someone else",
        "Deferred" => "Deferred",
        _ => "Not Started",
    }
}

pub fn task_xml(t: &Task, shape: &Shape) -> String {
    let mut xml = String::from("<t:Task>");
    let head = Head {
        id: &t.id,
        change_key: &t.change_key,
        folder_id: &t.folder_id,
        class: "IPM.Task",
        subject: &t.subject,
        body: &t.body,
        attachments: &t.attachments,
        categories: &t.categories,
        importance: t.importance,
        last_modified: &t.last_modified,
    };
    head_xml(&mut xml, &head, shape);
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value.filter(|_| shape.wants(name)) {
            xml.push_str(&value);
        }
    };
    put("CompleteDate", t.completed.as_ref().map(|d| format!("<t:CompleteDate>{d}</t:CompleteDate>")));
    put("DueDate", t.due.as_ref().map(|d| format!("<t:DueDate>{d}</t:DueDate>")));
    put("IsComplete", Some(format!("<t:IsComplete>{}</t:IsComplete>", t.status == "Completed")));
    put("IsRecurring", Some(format!("<t:IsRecurring>{}</t:IsRecurring>", t.recurrence.is_some())));
    put("Owner", Some(format!("<t:Owner>{}</t:Owner>", escape(&t.owner))));
    put("PercentComplete", Some(format!("<t:PercentComplete>{}</t:PercentComplete>", t.percent_complete)));
    put("Recurrence", t.recurrence.as_ref().map(|r| recurrence_xml(r, "UTC")));
    put("StartDate", t.start.as_ref().map(|d| format!("<t:StartDate>{d}</t:StartDate>")));
    put("Status", Some(format!("<t:Status>{}</t:Status>", t.status)));
    put("StatusDescription", Some(format!("<t:StatusDescription>{}</t:StatusDescription>", status_description(t.status))));
    xml.push_str("</t:Task>");
    xml
}

pub fn item_xml(mailbox: &Mailbox, item: Item, shape: &Shape) -> String {
    match item {
        Item::Event(e) => event_xml(mailbox, e, shape),
        Item::Task(t) => task_xml(t, shape),
    }
}

/// The `Changes` of a SyncFolderItems page of a calendar or task folder.
pub fn changes_xml(mailbox: &Mailbox, folder: &Folder, since: u64, max: usize, shape: &Shape) -> (String, u64, bool) {
    let (page, seq, last) = mailbox.item_changes(folder, since, max);
    let mut xml = String::new();
    for change in &page {
        let _ = match change {
            ItemChange::Create(i) => write!(xml, "<t:Create>{}</t:Create>", item_xml(mailbox, *i, shape)),
            ItemChange::Update(i) => write!(xml, "<t:Update>{}</t:Update>", item_xml(mailbox, *i, shape)),
            ItemChange::Delete(t) => write!(xml, r#"<t:Delete><t:ItemId Id="{}" ChangeKey="{}"/></t:Delete>"#, escape(&t.id), t.change_key),
        };
    }
    (xml, seq, last)
}
