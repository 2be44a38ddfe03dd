//! Microsoft Graph as a [`Source`]: contacts delta per folder, the delta
//! link as the folder's checkpoint; mail in graph_mail.rs.

use crate::address_books::AddressBook;
use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::Change;
use crate::error::{Kind, Result};
use crate::flatten::Attributes;
use crate::graph::contact_folders::GraphBook;
use crate::graph::{Graph, contact_folders, contacts_delta, users};
use crate::report;
use crate::sync::{Listing, Sink, Source};
use std::collections::HashMap;

pub struct GraphSource {
    pub graph: Graph,
    /// folder id -> mailbox id, from the last listing
    mailbox_of: HashMap<String, String>,
}

impl GraphSource {
    pub fn new(graph: Graph) -> Self {
        GraphSource { graph, mailbox_of: HashMap::new() }
    }

    fn start_url(&self, book: &AddressBook) -> String {
        let mailbox = self.mailbox_of.get(&book.id).map(String::as_str).unwrap_or_default();
        contacts_delta::start_url(&self.graph, mailbox, &book.id)
    }
}

impl Source for GraphSource {
    fn sync_documents(&mut self, request: &crate::bindings::helpdesk::connector::types::SyncRequest) -> Result<u64> {
        crate::graph_mail::sync(&mut self.graph, request)
    }

    fn address_books(&mut self) -> Result<Listing> {
        let mut warnings = Vec::new();
        let mut books = Vec::new();
        for mailbox in users::mailboxes(&mut self.graph)? {
            for GraphBook { book, mailbox_id } in contact_folders::list(&mut self.graph, &mailbox, &mut warnings)? {
                self.mailbox_of.insert(book.id.clone(), mailbox_id);
                books.push(book);
            }
        }
        // A mailbox or folder Graph would not list leaves the whole set unknown.
        let unlisted = if warnings.is_empty() { Vec::new() } else { vec![String::new()] };
        Ok(Listing { books, warnings, unlisted })
    }

    fn sync_book(&mut self, book: &AddressBook, checkpoint: Option<&str>, _compare: bool, sink: &mut Sink) -> Result<()> {
        let full = checkpoint.is_none();
        let mut url = checkpoint.map(str::to_string).unwrap_or_else(|| self.start_url(book));
        let mut done = 0u64;
        // An entry without an id: the host keeps the user with its email
        // (if any) as seen, so the listing still tells who is gone.
        loop {
            let page = match contacts_delta::page(&mut self.graph, &url) {
                Ok(page) => page,
                Err(e) if e.kind == Kind::StaleState && !full => {
                    report::warn(&format!(
                        "Graph no longer accepts the delta link of '{}' ({}): resyncing that folder in full",
                        book.path, e.message
                    ));
                    return self.sync_book(book, None, false, sink);
                }
                Err(e) => return Err(e),
            };
            let mut changes: Vec<Change> = page.removed.into_iter().map(Change::Remove).collect();
            for (what, why) in page.broken {
                changes.push(sink.failed(what, why));
            }
            done += page.contacts.len() as u64;
            for (id, change_key, attributes) in page.contacts {
                changes.push(sink.contact(id, change_key, &attributes));
            }
            let last = crate::graph::round_ends(&page.next_link, &page.delta_link, &format!("'{}'", book.path))?;
            // The delta link is valid once the last page is applied; a full
            // listing then also tells which users are gone.
            sink.apply(book, changes, page.delta_link.filter(|_| last), full && last)?;
            host::progress(&book.id, done, done);
            match page.next_link {
                Some(next) => url = next,
                None => return Ok(()),
            }
        }
    }

    fn sample(&mut self, book: &AddressBook, count: usize) -> Result<Vec<Attributes>> {
        let url = self.start_url(book);
        let page = contacts_delta::page(&mut self.graph, &url)?;
        Ok(page.contacts.into_iter().take(count).map(|(_, _, attributes)| attributes).collect())
    }
}
