//! GetItem requests kept on the wire: up to [`super::IN_FLIGHT`] at once,
//! answered in the order they were queued, so that the server works on the
//! next batches while we map and store this one. Batches can be queued
//! while earlier ones are read, across listing pages. Contacts and mail
//! are read alike; [`Read`] says what a batch asks for.

use super::Ews;
use super::find_item::ItemRef;
use super::get_item::{self, FetchedItem};
use super::get_message::{self, MailItem};
use super::response::{Object, PerObject, Status};
use crate::error::{Kind, Result};
use crate::http;
use std::collections::VecDeque;
use std::marker::PhantomData;

/// What a pipeline reads: the GetItem request for a batch of ids, and
/// what each answer holds.
pub trait Read {
    type Id: Clone;
    type Item: Object;
    fn request(ids: &[Self::Id]) -> String;
}

/// Contacts, by their listed ids.
pub struct Contacts;

impl Read for Contacts {
    type Id = ItemRef;
    type Item = FetchedItem;
    fn request(ids: &[ItemRef]) -> String {
        get_item::request(ids)
    }
}

/// Messages, with their bodies and attachment lists.
pub struct Messages;

impl Read for Messages {
    type Id = String;
    type Item = MailItem;
    fn request(ids: &[String]) -> String {
        get_message::request(ids)
    }
}

/// Events, with their series.
pub struct Events;

impl Read for Events {
    type Id = String;
    type Item = super::get_event::EventItem;
    fn request(ids: &[String]) -> String {
        super::get_event::request(ids)
    }
}

pub struct Tasks;

impl Read for Tasks {
    type Id = String;
    type Item = super::get_task::TaskItem;
    fn request(ids: &[String]) -> String {
        super::get_task::request(ids)
    }
}

struct Batch<Id> {
    items: Vec<Id>,
    /// None until sent; Some(None) when sending failed
    sent: Option<Option<http::Pending>>,
}

pub struct Pipeline<R: Read = Contacts> {
    queue: VecDeque<Batch<R::Id>>,
    read: PhantomData<R>,
}

impl<R: Read> Default for Pipeline<R> {
    fn default() -> Self {
        Pipeline { queue: VecDeque::new(), read: PhantomData }
    }
}

/// One result per id of a batch, in order.
pub type Results<T = FetchedItem> = Vec<std::result::Result<T, Status>>;

impl<R: Read> Pipeline<R> {
    /// Queue a batch of ids; it is sent as soon as a slot is free.
    pub fn push(&mut self, ews: &mut Ews, items: Vec<R::Id>) {
        self.queue.push_back(Batch { items, sent: None });
        self.fill(ews);
    }

    /// The oldest batch and its results. A batch that fails here is read
    /// again alone, with the retries and splitting of `Ews::read_split`; when the server said
    /// it is busy, the rest of the run sends one request at a time: a busy
    /// server is not pressed.
    pub fn next(&mut self, ews: &mut Ews) -> Option<Result<(Vec<R::Id>, Results<R::Item>)>> {
        self.fill(ews);
        let batch = self.queue.pop_front()?;
        let mut parser = PerObject::<R::Item>::new("Items");
        let fast = ews.read_early(batch.sent.flatten(), &mut parser).and_then(|()| ews.check_count(parser.results, batch.items.len()));
        let results = match fast {
            Ok(results) => Ok(results),
            Err(e) => {
                if e.kind == Kind::Throttled {
                    ews.in_flight = 1;
                }
                ews.read_split::<R>(&batch.items)
            }
        };
        self.fill(ews);
        Some(results.map(|results| (batch.items, results)))
    }

    fn fill(&mut self, ews: &mut Ews) {
        let mut on_the_wire = self.queue.iter().filter(|b| matches!(b.sent, Some(Some(_)))).count();
        for batch in self.queue.iter_mut().filter(|b| b.sent.is_none()) {
            if on_the_wire >= ews.in_flight {
                break;
            }
            batch.sent = Some(ews.send_early(&R::request(&batch.items)));
            on_the_wire += 1;
        }
    }
}
