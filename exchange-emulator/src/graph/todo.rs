//! Microsoft To Do over Graph v1.0, over the mailbox's task folders (To Do
//! keeps its lists there): `todo/lists` names each one, the default one
//! `defaultList`, and the flagged-mail list To Do always has
//! (todo-list-lists: `wellknownListName` none, defaultList, flaggedEmails);
//! a list's `tasks/delta` pages its tasks, `@removed` for those deleted,
//! and ends with a delta link (todotask-delta); a task's attachments
//! without content in the listing, the bytes at `$value`
//! (todotask-list-attachments, taskfileattachment-get). To Do has no
//! percent complete and no owner: a task says `status` alone.

use super::mail::{Preferences, counted, not_found};
use super::{Answer, answer, delta_link, delta_since, escape_segment, graph_error, max_page_size, select};
use crate::data::Mailbox;
use crate::data::calendar::{ItemChange, Item, Task};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The flagged-mail list's id: it is no task folder of EWS.
const FLAGGED: &str = "flagged-emails";

pub fn get(mailbox: &Mailbox, base: &str, uid: &str, segments: &[&str], query: &HashMap<String, String>, prefer: Option<&str>) -> Answer {
    let user = format!("{base}/v1.0/users/{}", escape_segment(uid));
    match segments {
        ["todo", "lists"] => counted("Graph todo lists", answer(200, json!({ "value": lists(mailbox) }))),
        ["todo", "lists", FLAGGED, "tasks", "delta"] => {
            // No mail is flagged in the emulator's mailboxes.
            let link = format!("{user}/todo/lists/{FLAGGED}/tasks/delta?$deltatoken=flagged");
            counted("Graph tasks delta", answer(200, json!({ "value": [], "@odata.deltaLink": link })))
        }
        ["todo", "lists", list, "tasks", rest @ ..] => {
            let Some(folder) = mailbox.folder(list).filter(|f| f.element == "TasksFolder") else { return not_found() };
            match rest {
                ["delta"] => {
                    let Some(since) = delta_since(folder, query) else {
                        return graph_error(400, "BadRequest", "Badly formed token.");
                    };
                    let (changes, next, last) = mailbox.item_changes(folder, since, max_page_size(prefer));
                    let value: Vec<Value> = changes
                        .iter()
                        .filter_map(|change| match change {
                            ItemChange::Create(Item::Task(t)) | ItemChange::Update(Item::Task(t)) => Some(select(task_json(t), query)),
                            ItemChange::Delete(gone) => Some(json!({ "@odata.type": "#microsoft.graph.todoTask", "id": gone.id, "@removed": { "reason": "deleted" } })),
                            _ => None,
                        })
                        .collect();
                    let link = format!("{user}/todo/lists/{}/tasks/delta", escape_segment(&folder.id));
                    let mut body = json!({ "value": value });
                    let (key, url) = delta_link(&link, folder, next, last);
                    body[key] = json!(url);
                    counted("Graph tasks delta", answer(200, body))
                }
                [task, "attachments", rest @ ..] => {
                    let Some(task) = mailbox.task(task).filter(|t| t.folder_id == folder.id) else { return not_found() };
                    match rest {
                        [] => {
                            let value: Vec<Value> = task
                                .attachments
                                .iter()
                                .map(|a| {
                                    json!({
                                        "@odata.type": "#microsoft.graph.taskFileAttachment", "id": Preferences::of(prefer).attachment_id(a), "name": a.name,
                                        "size": a.size(), "lastModifiedDateTime": task.last_modified, "contentType": a.content_type,
                                    })
                                })
                                .collect();
                            counted("Graph attachments", answer(200, json!({ "value": value })))
                        }
                        [id, "$value"] => match task.attachments.iter().find(|a| a.id == *id || a.immutable_id == *id) {
                            Some(a) => counted("Graph attachment $value", super::mail::value(a)),
                            None => not_found(),
                        },
                        _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
                    }
                }
                _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
            }
        }
        _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
    }
}

fn lists(mailbox: &Mailbox) -> Vec<Value> {
    let list = |id: &str, name: &str, known: &str| {
        json!({ "@odata.type": "#microsoft.graph.todoTaskList", "id": id, "displayName": name, "isOwner": true, "isShared": false, "wellknownListName": known })
    };
    let mut lists: Vec<Value> = mailbox
        .folders
        .iter()
        .filter(|f| f.element == "TasksFolder")
        .map(|f| list(&f.id, &f.name, if f.distinguished == Some("tasks") { "defaultList" } else { "none" }))
        .collect();
    lists.push(list(FLAGGED, "Flagged email", "flaggedEmails"));
    lists
}

/// `{dateTime, timeZone}` in UTC, as To Do writes its dates.
fn date_time(instant: &Option<String>) -> Value {
    match instant {
        Some(t) => json!({ "dateTime": format!("{}.0000000", t.trim_end_matches('Z')), "timeZone": "UTC" }),
        None => Value::Null,
    }
}

/// A task as todotask-get shows it.
fn task_json(t: &Task) -> Value {
    let status = match t.status {
        "NotStarted" => "notStarted",
        "InProgress" => "inProgress",
        "Completed" => "completed",
        "WaitingOnOthers" => "waitingOnOthers",
        "Deferred" => "deferred",
        other => other,
    };
    let recurrence = t.recurrence.as_ref().map(|w| {
        json!({
            "pattern": { "type": "weekly", "interval": w.interval, "month": 0, "dayOfMonth": 0, "daysOfWeek": w.days.iter().map(|d| d.to_lowercase()).collect::<Vec<_>>(), "firstDayOfWeek": "sunday", "index": "first" },
            "range": { "type": "endDate", "startDate": w.start_date, "endDate": w.end_date, "recurrenceTimeZone": "UTC", "numberOfOccurrences": 0 },
        })
    });
    json!({
        "@odata.etag": format!("W/\"{}\"", t.change_key),
        "id": t.id,
        "title": t.subject,
        "body": { "content": t.body, "contentType": "text" },
        "importance": t.importance.to_ascii_lowercase(),
        "isReminderOn": false,
        "status": status,
        "categories": t.categories,
        "hasAttachments": !t.attachments.is_empty(),
        "createdDateTime": t.last_modified,
        "lastModifiedDateTime": t.last_modified,
        "startDateTime": date_time(&t.start),
        "dueDateTime": date_time(&t.due),
        "completedDateTime": date_time(&t.completed),
        "recurrence": recurrence,
    })
}
