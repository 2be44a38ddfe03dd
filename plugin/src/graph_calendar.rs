//! Graph calendars as documents: every calendar of a mailbox, read with
//! the events API rather than `calendarView/delta` (README, "Calendars
//! over Graph"): each run lists a calendar's single events and series
//! masters with their change keys, reads those whose key differs from
//! the stored one, and hands the rest over unchanged; the listing is
//! complete, so an event no longer listed goes. A series master is one
//! document; its exceptions come from its instances, documents of their
//! own under it, and its deleted occurrences are the days its pattern has
//! and its instances lack.

use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::{ContentKind, DocumentChange, DocumentIssue, EventType, SyncRequest};
use crate::documents::Folder;
use crate::documents::calendar::{self, EventItem};
use crate::error::Result;
use crate::documents::folders::MailFolder;
use crate::graph::{Graph, events, segment};
use crate::graph_mail::item_attachments;

/// Changes handed over at a time.
const BATCH: usize = 100;
/// How far a series without an end is expanded, in days.
const OPEN_SERIES_DAYS: i64 = 2 * 366;

/// One calendar of the mailbox `address` (`user` in paths), with its
/// readers as its permissions say; how many documents were handed over.
pub fn sync_calendar(graph: &mut Graph, address: &str, user: &str, calendar: &MailFolder, request: &SyncRequest) -> Result<u64> {
    let folder = Folder { mailbox: address, id: &calendar.id, path: &calendar.path, readers: &calendar.readers };
    let mut changes = Vec::new();
    let mut documents = 0;
    events::versions(graph, user, &calendar.id, |graph, listed| {
        let ids: Vec<String> = listed.iter().map(|(id, _)| id.clone()).collect();
        let stored = host::stored_document_versions(address, &ids);
        for ((id, version), stored) in listed.into_iter().zip(stored) {
            if stored.is_some_and(|s| s == version && !s.is_empty()) {
                changes.push(DocumentChange::Unchanged(id));
                continue;
            }
            match read_event(graph, address, user, &id, request, &mut changes) {
                Ok(count) => documents += count,
                Err(e) if e.kind == crate::error::Kind::Host => return Err(e),
                Err(e) => changes.push(DocumentChange::Failed(DocumentIssue { id, kind: ContentKind::Event, title: String::new(), reason: e.message })),
            }
            if changes.len() >= BATCH {
                folder.apply(std::mem::take(&mut changes), None, false)?;
            }
        }
        Ok(())
    })?;
    folder.apply(changes, None, true)?;
    Ok(documents)
}

/// An event, and for a series its exceptions, with their attachments.
fn read_event(graph: &mut Graph, address: &str, user: &str, id: &str, request: &SyncRequest, changes: &mut Vec<DocumentChange>) -> Result<u64> {
    // Gone since it was listed: the complete listing removes it.
    let Some(json) = events::get(graph, user, id)? else { return Ok(0) };
    let mut item = events::item(&json);
    let mut exceptions = Vec::new();
    if item.event_type == EventType::SeriesMaster {
        exceptions = series(graph, user, &mut item)?;
    }
    let mut documents = upsert(graph, address, user, item, None, request, changes)?;
    for exception in exceptions {
        documents += upsert(graph, address, user, exception, Some(id), request, changes)?;
    }
    Ok(documents)
}

fn upsert(graph: &mut Graph, address: &str, user: &str, mut item: EventItem, master: Option<&str>, request: &SyncRequest, changes: &mut Vec<DocumentChange>) -> Result<u64> {
    let path = format!("events/{}", segment(&item.head.id));
    let listed = item.head.has_attachments;
    let attached = item_attachments(graph, user, &path, &mut item.head, listed, address, request)?;
    changes.push(DocumentChange::Upsert(calendar::event_document(&item, address, master)));
    let documents = 1 + attached.len() as u64;
    changes.extend(attached);
    Ok(documents)
}

/// A master's offset on its first day (for its hours in words), its
/// exceptions, and its deleted occurrences: the days its pattern has that
/// no instance has, at the time of day of the nearest instance (summer
/// time moves it in UTC). Patterns other than daily and weekly are not
/// expanded: their deleted occurrences stay unknown.
fn series(graph: &mut Graph, user: &str, master: &mut EventItem) -> Result<Vec<EventItem>> {
    let Some(pattern) = master.recurrence.clone() else { return Ok(Vec::new()) };
    if let Some(local) = events::local_start(graph, user, &master.head.id, &master.time_zone)? {
        master.recurrence.as_mut().expect("checked above").offset_minutes = minutes_between(&events::utc(&local), &master.start);
    }
    let from = format!("{}T00:00:00", day_before(&pattern.start));
    let until = match &pattern.end {
        crate::documents::recurrence::End::Date(end) => end.clone(),
        _ => days_after(&pattern.start, OPEN_SERIES_DAYS),
    };
    let instances: Vec<EventItem> = events::instances(graph, user, &master.head.id, &from, &format!("{}T00:00:00", days_after(&until, 2)))?
        .iter()
        .map(events::item)
        .collect();
    let seen: Vec<(&str, &str)> = instances
        .iter()
        .map(|i| i.original_start.as_deref().unwrap_or(&i.start))
        .filter_map(|start| start.split_once('T'))
        .collect();
    if let Some(days) = pattern.days(&until) {
        for day in days.iter().filter(|d| !seen.iter().any(|(seen_day, _)| seen_day == d)) {
            let nearest = seen.iter().min_by_key(|(seen_day, _)| distance(seen_day, day)).map_or("00:00:00Z", |(_, time)| *time);
            master.deleted.push(format!("{day}T{nearest}"));
        }
    }
    Ok(instances.into_iter().filter(|i| i.event_type == EventType::Exception).collect())
}

fn date(day: &str) -> Option<time::Date> {
    time::Date::parse(day.get(..10)?, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

fn shifted(day: &str, days: i64) -> String {
    date(day)
        .and_then(|d| d.checked_add(time::Duration::days(days)))
        .and_then(|d| d.format(time::macros::format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or_else(|| day.to_string())
}

fn day_before(day: &str) -> String {
    shifted(day, -1)
}

fn days_after(day: &str, days: i64) -> String {
    shifted(day, days)
}

fn distance(a: &str, b: &str) -> i32 {
    match (date(a), date(b)) {
        (Some(a), Some(b)) => (a.to_julian_day() - b.to_julian_day()).abs(),
        _ => i32::MAX,
    }
}

/// `local` (a wall-clock time written as if UTC) minus the instant `utc`.
fn minutes_between(local: &str, utc: &str) -> Option<i32> {
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let (local, utc) = (time::OffsetDateTime::parse(local, rfc3339).ok()?, time::OffsetDateTime::parse(utc, rfc3339).ok()?);
    Some((local - utc).whole_minutes() as i32)
}
