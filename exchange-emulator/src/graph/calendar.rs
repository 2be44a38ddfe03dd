//! Calendars over Graph v1.0, as Microsoft documents them: `calendars`
//! lists every calendar of the user, flat (user-list-calendars); a
//! calendar's `events` are its single events and series masters, ten a
//! page unless `$top` says more (event-list: occurrences and exceptions
//! are not listed); an event by id (event-get), in UTC unless `Prefer:
//! outlook.timezone` names another zone; a series' `instances` in a window
//! that `startDateTime` and `endDateTime` must give, occurrences and
//! exceptions, deleted occurrences absent (event-list-instances); an
//! event's attachments as a message's.

use super::mail::{Preferences, attachments, counted, not_found, recipient, value};
use super::{Answer, answer, escape_segment, graph_error, select};
use crate::data::Mailbox;
use crate::data::calendar::{Event, EventKind};
use serde_json::{Value, json};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const PAGE: usize = 10;
const MAX_PAGE: usize = 1000;

/// `segments`: the path after `/users/{uid}/`.
pub fn get(mailbox: &Mailbox, base: &str, uid: &str, segments: &[&str], query: &HashMap<String, String>, prefer: Option<&str>) -> Answer {
    let user = format!("{base}/v1.0/users/{}", escape_segment(uid));
    let zone = preferred_zone(prefer);
    match segments {
        ["calendars"] => counted("Graph calendars", answer(200, json!({ "value": calendars(mailbox) }))),
        ["calendars", id, "calendarPermissions"] => {
            let Some(calendar) = mailbox.folder(id).filter(|f| f.element == "CalendarFolder") else { return not_found() };
            counted("Graph calendarPermissions", answer(200, json!({ "value": permissions(calendar) })))
        }
        ["calendars", id, "events"] => {
            let Some(calendar) = mailbox.folder(id).filter(|f| f.element == "CalendarFolder") else { return not_found() };
            let top = query.get("$top").and_then(|t| t.parse().ok()).unwrap_or(PAGE).clamp(1, MAX_PAGE);
            let skip: usize = query.get("$skip").and_then(|s| s.parse().ok()).unwrap_or(0);
            let listed: Vec<&Event> = mailbox.events.iter().filter(|e| e.folder_id == calendar.id && e.kind != EventKind::Exception).collect();
            let value: Vec<Value> = listed.iter().skip(skip).take(top).map(|e| select(event_json(mailbox, e, zone), query)).collect();
            let mut body = json!({ "value": value });
            if skip + top < listed.len() {
                let mut next = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in query.iter().filter(|(k, _)| !matches!(k.as_str(), "$skip" | "$top")) {
                    next.append_pair(k, v);
                }
                next.append_pair("$top", &top.to_string()).append_pair("$skip", &(skip + top).to_string());
                body["@odata.nextLink"] = json!(format!("{user}/calendars/{}/events?{}", escape_segment(&calendar.id), next.finish()));
            }
            counted("Graph events", answer(200, body))
        }
        ["events", id, rest @ ..] | ["calendars", _, "events", id, rest @ ..] => {
            let Some(event) = mailbox.event(id) else { return not_found() };
            match rest {
                [] => counted("Graph event", answer(200, select(event_json(mailbox, event, zone), query))),
                ["instances"] => counted("Graph instances", instances(mailbox, event, query, zone)),
                ["attachments"] => counted("Graph attachments", attachments(&event.last_modified, &event.attachments, query, Preferences::of(prefer))),
                ["attachments", aid, "$value"] => match event.attachments.iter().find(|a| a.id == *aid || a.immutable_id == *aid) {
                    Some(a) => counted("Graph attachment $value", value(a)),
                    None => not_found(),
                },
                _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
            }
        }
        _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
    }
}

/// Every calendar folder, whatever its place in the EWS tree.
fn calendars(mailbox: &Mailbox) -> Vec<Value> {
    let default = mailbox.distinguished("calendar").map(|f| f.id.clone());
    mailbox
        .folders
        .iter()
        .filter(|f| f.element == "CalendarFolder")
        .map(|f| {
            json!({
                "id": f.id, "name": f.name, "color": "auto", "hexColor": "", "changeKey": f.change_key,
                "isDefaultCalendar": Some(&f.id) == default.as_ref(), "canShare": true, "canViewPrivateItems": true, "canEdit": true,
                "isRemovable": Some(&f.id) != default.as_ref(), "owner": { "name": mailbox.display_name, "address": mailbox.address },
            })
        })
        .collect()
}

/// calendarPermission entries: the organisation's ("My Organization",
/// free/busy by default), and each grant's, its EWS level as a Graph role.
/// Not in ../shared (no calendarPermission fixture): the shape and roles
/// are Graph's calendarPermission resource as Microsoft documents it, the
/// level-to-role mapping ours.
fn permissions(calendar: &crate::data::Folder) -> Vec<Value> {
    let role = |level: &str| match level {
        "Owner" | "PublishingEditor" | "Editor" | "PublishingAuthor" | "Author" | "NoneditingAuthor" | "Contributor" => "write",
        "Reviewer" => "read",
        "FreeBusyTimeAndSubjectAndLocation" => "limitedRead",
        "FreeBusyTimeOnly" => "freeBusyRead",
        _ => "none",
    };
    let allowed = json!(["none", "freeBusyRead", "limitedRead", "read", "write"]);
    let mut entries = vec![json!({
        "id": "RGVmYXVsdA==", "isRemovable": false, "isInsideOrganization": true, "role": "freeBusyRead",
        "allowedRoles": allowed, "emailAddress": { "name": "My Organization" },
    })];
    for grant in &calendar.grants {
        entries.push(json!({
            "id": format!("{:x}", grant.address.len() * 7919), "isRemovable": true, "isInsideOrganization": true, "role": role(grant.level),
            "allowedRoles": allowed, "emailAddress": { "name": grant.name, "address": grant.address },
        }));
    }
    entries
}

/// `Prefer: outlook.timezone="..."`: a zone this emulator knows, else UTC.
fn preferred_zone(prefer: Option<&str>) -> &'static str {
    let prefer = prefer.unwrap_or_default();
    let named = prefer.split("outlook.timezone=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("UTC");
    match named {
        crate::zones::MAILBOX_ZONE => crate::zones::MAILBOX_ZONE,
        "Tokyo Standard Time" => "Tokyo Standard Time",
        _ => "UTC",
    }
}

/// `{dateTime, timeZone}` of an instant, in `zone`, as Graph writes it
/// (seven decimals, no offset).
fn date_time(instant: &str, zone: &'static str) -> Value {
    let Ok(at) = OffsetDateTime::parse(instant, &Rfc3339) else { return json!({ "dateTime": instant, "timeZone": "UTC" }) };
    let offset = crate::zones::offset_at(zone, at).unwrap_or(time::UtcOffset::UTC);
    let local = at.to_offset(offset);
    let text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.0000000",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    );
    json!({ "dateTime": text, "timeZone": zone })
}

/// An event as event-get shows it (singleInstance, seriesMaster or
/// exception), text bodies.
fn event_json(mailbox: &Mailbox, e: &Event, zone: &'static str) -> Value {
    let attendee = |kind: &str, p: &crate::data::mail::Person| {
        let mut a = recipient(p);
        a["type"] = json!(kind);
        a["status"] = json!({ "response": "none", "time": "0001-01-01T00:00:00Z" });
        a
    };
    let attendees: Vec<Value> = e.required.iter().map(|p| attendee("required", p)).chain(e.optional.iter().map(|p| attendee("optional", p))).collect();
    let kind = match e.kind {
        EventKind::Single => "singleInstance",
        EventKind::RecurringMaster => "seriesMaster",
        EventKind::Exception => "exception",
    };
    let recurrence = e.recurrence.as_ref().map(|w| {
        json!({
            "pattern": {
                "type": "weekly", "interval": w.interval, "month": 0, "dayOfMonth": 0,
                "daysOfWeek": w.days.iter().map(|d| d.to_lowercase()).collect::<Vec<_>>(), "firstDayOfWeek": "sunday", "index": "first",
            },
            "range": { "type": "endDate", "startDate": w.start_date, "endDate": w.end_date, "recurrenceTimeZone": e.time_zone, "numberOfOccurrences": 0 },
        })
    });
    json!({
        "@odata.etag": format!("W/\"{}\"", e.change_key),
        "id": e.id,
        "createdDateTime": e.last_modified,
        "lastModifiedDateTime": e.last_modified,
        "changeKey": e.change_key,
        "categories": e.categories,
        "originalStartTimeZone": e.time_zone,
        "originalEndTimeZone": e.time_zone,
        "iCalUId": e.uid,
        "subject": e.subject,
        "bodyPreview": e.body.chars().take(255).collect::<String>(),
        "importance": e.importance.to_ascii_lowercase(),
        "sensitivity": "normal",
        "isAllDay": e.all_day,
        "isCancelled": false,
        "isOrganizer": e.organizer.address.eq_ignore_ascii_case(&mailbox.address),
        "showAs": "busy",
        "type": kind,
        "seriesMasterId": e.master_id,
        "originalStart": e.original_start,
        "hasAttachments": !e.attachments.is_empty(),
        "body": { "contentType": "text", "content": e.body },
        "start": date_time(&e.start, zone),
        "end": date_time(&e.end, zone),
        "location": { "displayName": e.location, "locationType": "default", "uniqueIdType": "private" },
        "recurrence": recurrence,
        "attendees": attendees,
        "organizer": recipient(&e.organizer),
    })
}

/// A series' occurrences and exceptions that start in the window, in
/// order; a deleted occurrence is absent. An occurrence is its master's
/// copy at its own times, with an id of its own.
fn instances(mailbox: &Mailbox, master: &Event, query: &HashMap<String, String>, zone: &'static str) -> Answer {
    let window = |name: &str| query.get(name).and_then(|t| time::PrimitiveDateTime::parse(t.trim_end_matches('Z'), &time::format_description::well_known::Iso8601::DEFAULT).ok()).map(|t| t.assume_utc());
    let (Some(from), Some(to)) = (window("startDateTime"), window("endDateTime")) else {
        // event-list-instances makes both required; the code and words
        // of the refusal are ours (no fixture has them).
        return graph_error(400, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.");
    };
    if master.kind != EventKind::RecurringMaster {
        return answer(200, json!({ "value": [] }));
    }
    let mut value = Vec::new();
    for (n, (start, end)) in Mailbox::pattern_occurrences(master).into_iter().enumerate() {
        let Ok(at) = OffsetDateTime::parse(&start, &Rfc3339) else { continue };
        if at < from || at >= to || master.deleted_occurrences.contains(&start) {
            continue;
        }
        let json = match mailbox.exceptions_of(&master.id).find(|x| x.original_start.as_deref() == Some(start.as_str())) {
            Some(exception) => event_json(mailbox, exception, zone),
            None => {
                let mut occurrence = event_json(mailbox, master, zone);
                occurrence["id"] = json!(format!("{}_{n}", master.id));
                occurrence["type"] = json!("occurrence");
                occurrence["seriesMasterId"] = json!(master.id);
                occurrence["recurrence"] = Value::Null;
                occurrence["originalStart"] = json!(start);
                occurrence["start"] = date_time(&start, zone);
                occurrence["end"] = date_time(&end, zone);
                occurrence
            }
        };
        value.push(select(json, query));
    }
    answer(200, json!({ "value": value }))
}
