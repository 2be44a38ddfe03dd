//! GetItem requests kept on the wire: up to [`super::IN_FLIGHT`] at once,
//! answered in the order they were queued, so that the server works on the
//! next batches while we map and store this one. Batches can be queued
//! while earlier ones are read, across listing pages.

use super::Ews;
use super::find_item::ItemRef;
use super::get_item::{self, FetchedItem};
use super::response::Status;
use crate::error::{Kind, Result};
use crate::http;
use std::collections::VecDeque;

struct Batch {
    items: Vec<ItemRef>,
    /// None until sent; Some(None) when sending failed
    sent: Option<Option<http::Pending>>,
}

#[derive(Default)]
pub struct Pipeline {
    queue: VecDeque<Batch>,
}

/// One result per id of a batch, in order.
pub type Results = Vec<std::result::Result<FetchedItem, Status>>;

impl Pipeline {
    /// Queue a batch of ids; it is sent as soon as a slot is free.
    pub fn push(&mut self, ews: &mut Ews, items: Vec<ItemRef>) {
        self.queue.push_back(Batch { items, sent: None });
        self.fill(ews);
    }

    /// The oldest batch and its results. A batch that fails here is read
    /// again alone through [`Ews::get_items`] (with its retries and
    /// splitting); when the server said it is busy, the rest of the run
    /// sends one request at a time: a busy server is not pressed.
    pub fn next(&mut self, ews: &mut Ews) -> Option<Result<(Vec<ItemRef>, Results)>> {
        self.fill(ews);
        let batch = self.queue.pop_front()?;
        let mut parser = get_item::parser();
        let fast = ews.read_early(batch.sent.flatten(), &mut parser).and_then(|()| ews.check_count(parser.results, &batch.items));
        let results = match fast {
            Ok(results) => Ok(results),
            Err(e) => {
                if e.kind == Kind::Throttled {
                    ews.in_flight = 1;
                }
                ews.get_items(&batch.items)
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
            batch.sent = Some(ews.send_early(&get_item::request(&batch.items)));
            on_the_wire += 1;
        }
    }
}
