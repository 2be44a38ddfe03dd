//! EWS events and tasks as documents. SyncFolderItems lists a calendar's
//! singles and series masters, never occurrences (it does not expand
//! series); a master lists its modified occurrences by id, and each is
//! read as an item of its own and handed over in its master's batch, so
//! that an occurrence the master no longer lists goes with it
//! (reference/mailbox-content.md 1.4, 1.5).

use crate::bindings::helpdesk::connector::types::{ContentKind, DocumentChange, DocumentIssue, SyncRequest};
use crate::documents::Folder;
use crate::documents::calendar::{self, EventItem};
use crate::error::Result;
use crate::ews::Ews;
use crate::ews::pipeline::{Events, Pipeline, Tasks};
use crate::ews::{get_event, get_task};
use crate::ews_attachments::Batch;
use crate::ews_mail::read_items;

pub fn read_events(ews: &mut Ews, target: &Folder, ids: Vec<String>, request: &SyncRequest) -> Result<u64> {
    read_items::<Events>(ews, target, ids, get_event::MAX_BATCH, ContentKind::Event, request, |ews, event, batch| {
        // The series is handed over whole or not at all.
        let mut series = Batch::default();
        let mut documents = event_changes(&event, None, target, request, &mut series);
        for (id, occurrence) in occurrences(ews, &event.exceptions)? {
            match occurrence {
                Ok(occurrence) => documents += event_changes(&occurrence, Some(&event.head.id), target, request, &mut series),
                // Gone since the master was read: the master no longer has it.
                Err(status) if status.code == "ErrorItemNotFound" => {}
                // The series is read again, whole, next time; what is
                // stored of it stays.
                Err(status) => {
                    batch.documents.push(DocumentChange::Failed(DocumentIssue {
                        id: event.head.id.clone(),
                        kind: ContentKind::Event,
                        title: event.head.subject.clone(),
                        reason: format!("its modified occurrence {id} could not be read: {}: {}", status.code, status.text),
                    }));
                    return Ok(0);
                }
            }
        }
        batch.extend(series);
        Ok(documents)
    })
}

fn event_changes(event: &EventItem, master: Option<&str>, target: &Folder, request: &SyncRequest, series: &mut Batch) -> u64 {
    series.documents.push(DocumentChange::Upsert(calendar::event_document(event, target.mailbox, master)));
    1 + series.attachments(&event.head, target.mailbox, request)
}

type Occurrence = (String, std::result::Result<EventItem, crate::ews::response::Status>);

/// A master's modified occurrences, read by the ids it lists.
fn occurrences(ews: &mut Ews, ids: &[String]) -> Result<Vec<Occurrence>> {
    let mut pipeline = Pipeline::<Events>::default();
    for chunk in ids.chunks(get_event::MAX_BATCH) {
        pipeline.push(ews, chunk.to_vec());
    }
    let mut read = Vec::new();
    while let Some(next) = pipeline.next(ews) {
        let (chunk, results) = next?;
        read.extend(chunk.into_iter().zip(results));
    }
    Ok(read)
}

pub fn read_tasks(ews: &mut Ews, target: &Folder, ids: Vec<String>, request: &SyncRequest) -> Result<u64> {
    read_items::<Tasks>(ews, target, ids, get_task::MAX_BATCH, ContentKind::Task, request, |_, task, batch| {
        batch.documents.push(DocumentChange::Upsert(calendar::task_document(&task, target.mailbox, target.path)));
        Ok(1 + batch.attachments(&task.head, target.mailbox, request))
    })
}
