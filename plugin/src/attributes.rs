//! Attribute discovery: the flattened keys found on a sample of contacts
//! of the chosen address books, each with an example value.

use crate::bindings::helpdesk::connector::types::AttributeSample;
use crate::error::Result;
use crate::report;
use crate::sync::{Source, chosen_books, folder_local};

pub fn sample(source: &mut dyn Source, folders: &[String], sample_size: u32) -> Result<Vec<AttributeSample>> {
    let (books, _) = chosen_books(source, folders)?;
    let per_book = (sample_size.max(1) as usize).div_ceil(books.len().max(1));
    let mut found: Vec<AttributeSample> = Vec::new();
    for book in &books {
        let contacts = match source.sample(book, per_book) {
            Ok(contacts) => contacts,
            Err(e) if folder_local(e.kind) => {
                report::warn(&format!("the address book '{}' was skipped: {}", book.path, e.message));
                continue;
            }
            Err(e) => return Err(e),
        };
        for (key, value) in contacts.into_iter().flatten() {
            if !found.iter().any(|a| a.key == key) {
                found.push(AttributeSample { key, example: value });
            }
        }
    }
    Ok(found)
}
