//! A mailbox's folders over Graph, kept as documents/hierarchy.rs keeps
//! them. One `$batch` asks for the mail folders' changes
//! (`mailFolders/delta` from the stored delta link, or all of them), the
//! calendars, the To Do lists, and the permissions of the calendars read
//! before; a first listing also asks for the well-known folders' ids.
//! Calendars and lists have no delta, so they are listed each time, inside
//! that one request. An unchanged run costs it and one request per folder.

use crate::bindings::helpdesk::connector::types::{ContentKind, SyncMode, SyncRequest};
use crate::documents::folders::{self, MailFolder};
use crate::documents::hierarchy::{self, FolderDelta, Known, Listing};
use crate::error::{Error, Kind, Result};
use crate::graph::{Graph, calendars, mail_folders, not_found, todo};
use crate::report;
use serde_json::Value;
use std::collections::BTreeMap;

/// The folders to read of the mailbox `address` (`user` in paths): mail
/// folders, then calendars, then task lists, as the request asks.
pub fn folders_to_read(graph: &mut Graph, address: &str, user: &str, request: &SyncRequest) -> Result<Vec<MailFolder>> {
    let known = Known::stored(request, address);
    let from = known.as_ref().filter(|_| request.mode == SyncMode::Incremental);
    let wants = |kind| request.content.contains(&kind);
    let mut asked = Asked::default();
    asked.folders = asked.push(from.map_or_else(|| mail_folders::delta_url(graph, user), |k| k.state.clone()));
    if wants(ContentKind::Event) {
        asked.calendars = Some(asked.push(calendars::list_url(graph, user)));
    }
    if wants(ContentKind::Task) {
        asked.lists = Some(asked.push(todo::lists_url(graph, user)));
    }
    let calendars_before: Vec<&MailFolder> = from.iter().flat_map(|k| &k.listing.folders).filter(|f| f.holds == ContentKind::Event).collect();
    for calendar in &calendars_before {
        let at = asked.push(calendars::permissions_url(graph, user, &calendar.id));
        asked.permissions.push((calendar.id.clone(), at));
    }
    let names = if from.is_some() { Vec::new() } else { mail_folders::well_known_names(&request.mail_folders) };
    for name in &names {
        let at = asked.push(mail_folders::well_known_url(graph, user, name));
        asked.names.push((name.to_string(), at));
    }
    let mut answers: Vec<Option<Result<Value>>> = graph.get_each(&asked.urls)?.into_iter().map(Some).collect();
    let mut take = |at: usize| answers[at].take().expect("each answer taken once");

    // The mail folders: the stored tree, changed as the delta says.
    let (tree, state) = match (from, delta_round(graph, take(asked.folders))) {
        (Some(k), Ok((deltas, link))) if !k.changed_by(&deltas) => (k.listing.tree.clone(), link),
        (Some(k), Ok((deltas, link))) => (k.tree_after(deltas), link),
        (None, Ok((deltas, link))) => (made(deltas), link),
        (Some(_), Err(e)) if e.kind == Kind::StaleState => {
            report::warn(&format!("Graph no longer accepts the folder delta link of {address} ({}): its folders are listed again", e.message));
            let first = graph.get(&mail_folders::delta_url(graph, user));
            let (deltas, link) = delta_round(graph, first)?;
            (made(deltas), link)
        }
        (_, Err(e)) => return Err(e),
    };
    let (well_known, root) = match from {
        Some(k) => (k.listing.well_known.clone(), k.listing.root.clone()),
        None => {
            let mut well_known = BTreeMap::new();
            for (name, at) in &asked.names {
                match take(*at) {
                    Ok(folder) => {
                        if let Some(id) = folder["id"].as_str() {
                            well_known.insert(id.to_string(), name.clone());
                        }
                    }
                    // A well-known folder this mailbox lacks.
                    Err(e) if not_found(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            let root = well_known.iter().find(|(_, name)| *name == "msgfolderroot").map(|(id, _)| id.clone());
            (well_known, root)
        }
    };
    let mut listing = Listing { tree, well_known, root, folders: Vec::new() };
    listing.folders = folders::choose(&listing.tree, listing.root.as_deref(), &listing.well_known_names(), &request.mail_folders, &request.content);

    if let Some(at) = asked.calendars {
        let permissions: BTreeMap<String, usize> = asked.permissions.iter().cloned().collect();
        for calendar in calendars::from_entries(&graph.all_from(take(at)?)?) {
            let readers = match permissions.get(&calendar.id) {
                Some(at) => take(*at).map(|page| calendars::readers_in(&page)),
                None => calendars::readers(graph, user, &calendar.id),
            };
            // Permissions that cannot be read leave the owner the only
            // reader.
            let readers = readers.unwrap_or_else(|e| {
                report::debug(&format!("the permissions of the calendar '{}' of {address} were not read: {}", calendar.name, e.message));
                Vec::new()
            });
            listing.folders.push(MailFolder { id: calendar.id, holds: ContentKind::Event, path: calendar.name, readers });
        }
    }
    if let Some(at) = asked.lists {
        for list in todo::lists_from(&graph.all_from(take(at)?)?) {
            listing.folders.push(MailFolder { id: list.id, holds: ContentKind::Task, path: list.name, readers: Vec::new() });
        }
    }
    Ok(hierarchy::settle(address, request, known.as_ref(), Some(state), listing)?.folders)
}

/// What one listing asks in its batch, by place.
#[derive(Default)]
struct Asked {
    urls: Vec<String>,
    folders: usize,
    calendars: Option<usize>,
    lists: Option<usize>,
    /// (calendar id, place)
    permissions: Vec<(String, usize)>,
    /// (well-known name, place)
    names: Vec<(String, usize)>,
}

impl Asked {
    fn push(&mut self, url: String) -> usize {
        self.urls.push(url);
        self.urls.len() - 1
    }
}

/// A round of `mailFolders/delta` from its first page: its changes, and
/// the delta link that ends it.
fn delta_round(graph: &mut Graph, first: Result<Value>) -> Result<(Vec<FolderDelta>, String)> {
    let mut page = first?;
    let mut deltas = Vec::new();
    loop {
        deltas.extend(page["value"].as_array().into_iter().flatten().filter_map(mail_folders::delta_entry));
        if let Some(next) = page["@odata.nextLink"].as_str() {
            page = graph.get(&next.to_string())?;
            continue;
        }
        return match page["@odata.deltaLink"].as_str() {
            Some(link) => Ok((deltas, link.to_string())),
            None => Err(Error::new(Kind::Protocol, "Graph sent a page of mail folders with neither @odata.nextLink nor @odata.deltaLink".to_string())),
        };
    }
}

/// The folders of a first round: all of them, as made.
fn made(deltas: Vec<FolderDelta>) -> Vec<folders::TreeFolder> {
    deltas.into_iter().filter_map(|d| if let FolderDelta::Changed(f) = d { Some(f) } else { None }).collect()
}
