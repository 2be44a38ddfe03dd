//! GetItem for tasks: status, percent complete, start, due and completion
//! dates, owner and recurrence besides what every item has
//! (reference/mailbox-content.md 1.5).

use super::get_message::{read_item, request_of};
use super::recurrence;
use super::response::Object;
use super::xml::{Tag, XmlError, XmlStream};
pub use crate::documents::calendar::TaskItem;
use std::io::BufRead;

pub const MAX_BATCH: usize = 25;

const TASK_PROPERTIES: &[&str] = &[
    "task:Status",
    "task:PercentComplete",
    "task:StartDate",
    "task:DueDate",
    "task:CompleteDate",
    "task:Owner",
    "task:Recurrence",
];

pub fn request(ids: &[String]) -> String {
    request_of(TASK_PROPERTIES, ids)
}

impl Object for TaskItem {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Self, XmlError> {
        read_item(stream, tag, |task: &mut TaskItem| &mut task.head, |item, child| {
            let text = || Some(child.text.trim().to_string()).filter(|t| !t.is_empty());
            match child.name.as_str() {
                "Status" => item.status = child.text.trim().to_string(),
                "PercentComplete" => item.percent_complete = child.text.trim().parse().unwrap_or(0.0),
                "StartDate" => item.start = text(),
                "DueDate" => item.due = text(),
                "CompleteDate" => item.completed = text(),
                "Owner" => item.owner = text(),
                "Recurrence" => item.recurrence = recurrence::read(child),
                _ => {}
            }
        })
    }
}
