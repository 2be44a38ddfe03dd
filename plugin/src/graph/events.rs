//! A calendar's events over Graph v1.0: the listing (single events and
//! series masters, event-list: occurrences are not listed), one event
//! (event-get), and a series' instances in a window (event-list-instances:
//! occurrences and exceptions; a deleted occurrence is absent). Times come
//! in UTC; `originalStartTimeZone` names the event's own zone.

use super::{Graph, not_found, segment};
use crate::bindings::helpdesk::connector::types::EventType;
use crate::documents::calendar::EventItem;
use crate::documents::mail::{MailItem, person};
use crate::documents::recurrence::{End, MONTHS, Pattern, Repeat};
use crate::error::Result;
use serde_json::Value;

/// What an event document needs.
pub const SELECT: &str = "subject,body,importance,categories,hasAttachments,lastModifiedDateTime,changeKey,type,start,end,isAllDay,location,\
                          organizer,attendees,recurrence,seriesMasterId,originalStart,originalStartTimeZone";

/// Events per listing page: the listing carries ids and change keys only.
const PAGE: u32 = 500;

/// The calendar's events as (id, change key), a page at a time.
pub fn versions(graph: &mut Graph, user: &str, calendar: &str, mut each: impl FnMut(&mut Graph, Vec<(String, String)>) -> Result<()>) -> Result<()> {
    let mut url = Some(graph.url(&format!("users/{user}/calendars/{}/events?$select=id,changeKey&$top={PAGE}", segment(calendar))));
    while let Some(page_url) = url {
        let page = graph.get(&page_url)?;
        let listed = page["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e["id"].as_str()?.to_string(), e["changeKey"].as_str().unwrap_or_default().to_string())))
            .collect();
        url = page["@odata.nextLink"].as_str().map(str::to_string);
        each(graph, listed)?;
    }
    Ok(())
}

/// One event, or None when it is gone.
pub fn get(graph: &mut Graph, user: &str, id: &str) -> Result<Option<Value>> {
    match graph.get(&graph.url(&format!("users/{user}/events/{}?$select={SELECT}", segment(id)))) {
        Ok(event) => Ok(Some(event)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The event's start in `zone`, as Graph writes it there (no offset).
pub fn local_start(graph: &mut Graph, user: &str, id: &str, zone: &str) -> Result<Option<String>> {
    let url = graph.url(&format!("users/{user}/events/{}?$select=start", segment(id)));
    Ok(graph.get_in_zone(&url, zone)?["start"]["dateTime"].as_str().map(str::to_string))
}

/// A series' occurrences and exceptions starting from `from` until `to`
/// (UTC, `YYYY-MM-DDTHH:MM:SS`), all pages.
pub fn instances(graph: &mut Graph, user: &str, master: &str, from: &str, to: &str) -> Result<Vec<Value>> {
    let path = format!("users/{user}/events/{}/instances?startDateTime={from}&endDateTime={to}&$select={SELECT}&$top=100", segment(master));
    graph.list_all(graph.url(&path))
}

/// `2026-01-05T09:00:00.0000000` in UTC (or with a `Z`) as RFC 3339.
pub fn utc(value: &str) -> String {
    let trimmed = value.trim().trim_end_matches('Z');
    let seconds = trimmed.split('.').next().unwrap_or(trimmed);
    format!("{seconds}Z")
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)
}

/// An event's JSON as an event item; its exceptions and deleted
/// occurrences are found from its instances, apart.
pub fn item(event: &Value) -> EventItem {
    let attendees = |kind: &str| -> Vec<String> {
        event["attendees"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["type"].as_str() == Some(kind))
            .filter_map(|a| person(a["emailAddress"]["name"].as_str(), a["emailAddress"]["address"].as_str()))
            .collect()
    };
    let organizer = &event["organizer"]["emailAddress"];
    let organizer = person(organizer["name"].as_str(), organizer["address"].as_str());
    // An event's sender is its organizer, its recipients its attendees:
    // its attachments say so too.
    let (required, optional) = (attendees("required"), attendees("optional"));
    let recipients = required.iter().chain(&optional).cloned().collect();
    let head = MailItem { from: organizer.clone(), recipients, ..super::message::item(event) };
    EventItem {
        head,
        event_type: match event["type"].as_str() {
            Some("seriesMaster") => EventType::SeriesMaster,
            Some("exception") => EventType::Exception,
            _ => EventType::Single,
        },
        start: event["start"]["dateTime"].as_str().map(utc).unwrap_or_default(),
        end: event["end"]["dateTime"].as_str().map(utc).unwrap_or_default(),
        time_zone: text(&event["originalStartTimeZone"]).unwrap_or_else(|| "UTC".into()),
        all_day: event["isAllDay"].as_bool().unwrap_or(false),
        location: text(&event["location"]["displayName"]),
        organizer,
        required,
        optional,
        recurrence: pattern(&event["recurrence"]),
        deleted: Vec::new(),
        original_start: event["originalStart"].as_str().map(utc),
        exceptions: Vec::new(),
    }
}

/// patternedRecurrence: `{pattern: {type, interval, daysOfWeek, dayOfMonth,
/// month, index}, range: {type, startDate, endDate, numberOfOccurrences}}`.
pub fn pattern(recurrence: &Value) -> Option<Pattern> {
    let pattern = &recurrence["pattern"];
    let range = &recurrence["range"];
    let word = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let days: Vec<String> = pattern["daysOfWeek"].as_array().into_iter().flatten().map(word).collect();
    let first_day = days.first().cloned().unwrap_or_default();
    let month = pattern["month"].as_u64().and_then(|m| MONTHS.get((m as usize).wrapping_sub(1))).map(|m| m.to_string()).unwrap_or_default();
    let day = pattern["dayOfMonth"].as_u64().unwrap_or(1) as u8;
    let repeat = match pattern["type"].as_str()? {
        "daily" => Repeat::Daily,
        "weekly" => Repeat::Weekly(days),
        "absoluteMonthly" => Repeat::Monthly(day),
        "relativeMonthly" => Repeat::MonthlyOn { index: word(&pattern["index"]), day: first_day },
        "absoluteYearly" => Repeat::Yearly { month, day },
        "relativeYearly" => Repeat::YearlyOn { index: word(&pattern["index"]), day: first_day, month },
        _ => return None,
    };
    let end = match range["type"].as_str() {
        Some("endDate") => End::Date(word(&range["endDate"])),
        Some("numbered") => End::Count(range["numberOfOccurrences"].as_u64().unwrap_or(0) as u32),
        _ => End::Never,
    };
    Some(Pattern { repeat, interval: pattern["interval"].as_u64().unwrap_or(1) as u32, start: word(&range["startDate"]), end, offset_minutes: None })
}
