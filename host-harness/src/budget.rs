//! How much a run may queue for the store, in bytes. The writer's queue
//! holds a few batches, but a batch is as large as the plugin makes it:
//! sixteen batches of 200 MiB each would be gigabytes of the host's
//! memory. So the plugin waits while what is queued would pass the budget.
//! A batch larger than the whole budget waits for an empty queue and then
//! goes alone: it fitted in the plugin's own memory, so it is bounded too.

use crate::runtime::types::{
    AttachmentInfo, Attribute, Batch, Change, ContentKind, Document, DocumentBatch, DocumentChange, DocumentIssue, EventInfo, EventType,
    Extraction, NotApplied, ReadFlag, TaskInfo, Upsert, User,
};
use std::sync::{Arc, Condvar, Mutex};

/// What one run may have queued for the store.
pub const QUEUE_BYTES: usize = 64 << 20;

pub struct Budget {
    limit: usize,
    queued: Mutex<Queued>,
    freed: Condvar,
}

#[derive(Default)]
struct Queued {
    bytes: usize,
    peak: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget { limit, queued: Mutex::new(Queued::default()), freed: Condvar::new() }
    }

    /// Wait until `bytes` more fit (or, for a batch larger than the
    /// budget, until nothing else is queued), then count them until the
    /// [`Taken`] is dropped.
    pub fn take(self: &Arc<Self>, bytes: usize) -> Taken {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        while queued.bytes > 0 && queued.bytes + bytes > self.limit {
            queued = self.freed.wait(queued).unwrap_or_else(|p| p.into_inner());
        }
        queued.bytes += bytes;
        queued.peak = queued.peak.max(queued.bytes);
        Taken { budget: self.clone(), bytes }
    }

    fn give_back(&self, bytes: usize) {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        queued.bytes = queued.bytes.saturating_sub(bytes);
        self.freed.notify_all();
    }

    /// The most that was queued at once.
    pub fn peak(&self) -> usize {
        self.queued.lock().unwrap_or_else(|p| p.into_inner()).peak
    }
}

/// Bytes of the budget a queued batch holds, given back when it is
/// dropped: written, skipped, or dropped with the queue of a writer that
/// stopped (a writer that panicked must not leave the plugin waiting).
pub struct Taken {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// About the bytes a value holds in the host: its text, and a word or so
/// for each element.
pub trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for String {
    fn weight(&self) -> usize {
        self.len() + size_of::<String>()
    }
}

/// Values of a fixed size: their size.
macro_rules! fixed {
    ($($t:ty),*) => {
        $(impl Weight for $t {
            fn weight(&self) -> usize {
                size_of::<$t>()
            }
        })*
    };
}

fixed!(bool, u8, u64, ContentKind, EventType, Extraction);

impl<T: Weight> Weight for Option<T> {
    fn weight(&self) -> usize {
        self.as_ref().map_or(0, Weight::weight) + 8
    }
}

impl<T: Weight> Weight for Vec<T> {
    fn weight(&self) -> usize {
        self.iter().map(Weight::weight).sum::<usize>() + size_of::<Vec<T>>()
    }
}

/// `Weight` of a record: the sum of its fields'. Every field is named (a
/// field added to the WIT and not here fails to compile).
macro_rules! weigh {
    ($($record:ident { $($field:ident),* })*) => {
        $(impl Weight for $record {
            fn weight(&self) -> usize {
                let $record { $($field),* } = self;
                0 $(+ $field.weight())*
            }
        })*
    };
}

weigh! {
    Batch { folder_id, folder_path, changes, checkpoint, listing_complete }
    Upsert { external_id, version, user }
    User { login, email, firstname, lastname, phone, extra }
    Attribute { key, value }
    NotApplied { external_id, reason }
    DocumentBatch { mailbox, folder_id, folder_path, changes, checkpoint, listing_complete, folder_readers, folder_gone }
    Document {
        id, version, kind, parent_id, thread_id, title, body, received, modified, sender, recipients, importance, categories,
        has_attachments, is_read, acl, attachment, event, task
    }
    AttachmentInfo { name, content_type, size, is_inline, extraction, note }
    EventInfo {
        event_type, start, end, time_zone, all_day, location, organizer, required_attendees, optional_attendees, recurrence,
        deleted_occurrences, original_start
    }
    TaskInfo { status, percent_complete, start, due, completed, owner, recurrence, list_name }
    ReadFlag { id, is_read }
    DocumentIssue { id, kind, title, reason }
}

impl Weight for Change {
    fn weight(&self) -> usize {
        16 + match self {
            Change::Upsert(upsert) => upsert.weight(),
            Change::Remove(id) | Change::Unchanged(id) => id.weight(),
            Change::Skipped(issue) | Change::Failed(issue) => issue.weight(),
        }
    }
}

impl Weight for DocumentChange {
    fn weight(&self) -> usize {
        16 + match self {
            DocumentChange::Upsert(document) => document.weight(),
            DocumentChange::Remove(id) | DocumentChange::Unchanged(id) => id.weight(),
            DocumentChange::ReadFlag(flag) => flag.weight(),
            DocumentChange::Skipped(issue) | DocumentChange::Failed(issue) => issue.weight(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn what_is_queued_stays_within_the_budget_and_a_large_batch_goes_alone() {
        let budget = Arc::new(Budget::new(10));
        let taken = Arc::new(AtomicUsize::new(0));
        let (held, queue) = std::sync::mpsc::channel();
        let producer = std::thread::spawn({
            let (budget, taken) = (budget.clone(), taken.clone());
            move || {
                for bytes in [4, 4, 4, 4, 25, 3] {
                    held.send(budget.take(bytes)).unwrap();
                    taken.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        // The writer's side: what it has written goes back, oldest first.
        let give_back = || drop(queue.recv().unwrap());
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(taken.load(Ordering::SeqCst), 2, "a third 4 would pass 10: the producer waits");
        give_back();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(taken.load(Ordering::SeqCst), 3);
        give_back();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(taken.load(Ordering::SeqCst), 4);
        give_back();
        give_back();
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(taken.load(Ordering::SeqCst), 5, "25 is more than the budget: it went once the queue was empty");
        assert_eq!(budget.peak(), 25);
        give_back();
        producer.join().unwrap();
        assert_eq!(taken.load(Ordering::SeqCst), 6);
    }
}
