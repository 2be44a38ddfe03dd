//! Attribute discovery: the flattened keys found on a sample of contacts
//! of the chosen address books, each with an example value.

use crate::address_books::select;
use crate::bindings::helpdesk::connector::types::AttributeSample;
use crate::config::Config;
use crate::error::{Kind, Result};
use crate::ews::Ews;
use crate::ews::find_item::ItemRef;
use crate::ews::get_item;
use crate::{folders, report};

pub fn sample(config: &Config, sample_size: u32) -> Result<Vec<AttributeSample>> {
    let mut ews = Ews::new(&config.endpoint, &config.username, &config.password);
    let listing = folders::list(&mut ews)?;
    for warning in &listing.warnings {
        report::warn(warning);
    }
    let books = select(listing.books, &config.folders)?;
    let per_book = (sample_size.max(1) as usize).div_ceil(books.len().max(1));
    let mut found: Vec<AttributeSample> = Vec::new();
    for book in &books {
        let page = match ews.find_items(&book.id, 0) {
            Ok(page) => page,
            Err(e) if e.kind == Kind::AccessDenied => {
                report::warn(&format!("the address book '{}' was skipped: {}", book.path, e.message));
                continue;
            }
            Err(e) => return Err(e),
        };
        let contacts: Vec<ItemRef> = page.items.into_iter().filter(|i| i.kind == "Contact").take(per_book).collect();
        for chunk in contacts.chunks(get_item::MAX_BATCH) {
            for item in ews.get_items(chunk)?.into_iter().flatten() {
                for (key, value) in item.attributes {
                    if !found.iter().any(|a| a.key == key) {
                        found.push(AttributeSample { key, example: value });
                    }
                }
            }
        }
    }
    Ok(found)
}
