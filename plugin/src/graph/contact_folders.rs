//! `/users/{id}/contactFolders` and `childFolders`: a mailbox's address
//! books, depth first, with paths like EWS mode's.

use super::users::Mailbox;
use super::{Graph, segment};
use crate::address_books::{AddressBook, PATH_SEPARATOR};
use crate::error::{Kind, Result};
use serde_json::Value;

/// A contact folder and the mailbox it lives in.
pub struct GraphBook {
    pub book: AddressBook,
    pub mailbox_id: String,
}

/// Folders per mailbox are few; the depth bound guards a broken tree.
const MAX_DEPTH: usize = 32;

/// What Graph answers for a user whose mailbox it cannot reach (guest,
/// unlicensed, hosted on premises).
pub const NO_MAILBOX: &[&str] = &[
    "MailboxNotEnabledForRESTAPI",
    "ErrorInvalidUser",
    "ErrorNonExistentMailbox",
];

pub fn list(
    graph: &mut Graph,
    mailbox: &Mailbox,
    warnings: &mut Vec<String>,
) -> Result<Vec<GraphBook>> {
    let mut books = Vec::new();
    match list_mailbox(graph, mailbox, &mut books, warnings) {
        // One such user is a warning, never a failed run.
        Err(e) if books.is_empty() && NO_MAILBOX.iter().any(|code| e.message.contains(code)) => {
            graph.without_mailbox.push(mailbox.mail.to_lowercase());
            warnings.push(format!(
                "{} has no mailbox Graph can read; skipped ({})",
                mailbox.mail, e.message
            ));
        }
        Err(e) if books.is_empty() && e.kind == Kind::AccessDenied => {
            warnings.push(format!(
                "the contact folders of {} deny access; they are not listed ({})",
                mailbox.mail, e.message
            ));
        }
        other => other?,
    }
    Ok(books)
}

/// The default Contacts folder, then the folders in it. `/contactFolders`
/// is "the contact folder collection in the default Contacts folder"
/// (user-list-contactfolders): the folder holding most contacts is not in
/// it, or, as the page's own sample has it, may be; it is read once either
/// way.
fn list_mailbox(
    graph: &mut Graph,
    mailbox: &Mailbox,
    books: &mut Vec<GraphBook>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let top = graph.get(&graph.url(&format!("users/{}/contactFolders", mailbox.id)))?;
    let default = default_folder(graph, mailbox, &top)?;
    let parent_path = match &default {
        Some((id, name)) => {
            let path = format!("{}{PATH_SEPARATOR}{name}", mailbox.mail);
            let book = AddressBook {
                id: id.clone(),
                path: path.clone(),
                is_contacts: true,
                ..Default::default()
            };
            books.push(GraphBook {
                book,
                mailbox_id: mailbox.id.clone(),
            });
            path
        }
        None => mailbox.mail.clone(),
    };
    let skip = default.map(|(id, _)| id);
    walk_page(
        graph,
        mailbox,
        top,
        &parent_path,
        0,
        skip.as_deref(),
        books,
        warnings,
    )
}

/// The default Contacts folder's id and name: the folder of its contacts
/// (`/users/{id}/contacts` reads that folder), or, when it has none, the
/// parent of the folders in it; None when it holds neither (then there is
/// nothing in it to sync).
fn default_folder(
    graph: &mut Graph,
    mailbox: &Mailbox,
    top: &Value,
) -> Result<Option<(String, String)>> {
    let contacts = graph.get(&graph.url(&format!(
        "users/{}/contacts?$top=1&$select=parentFolderId",
        mailbox.id
    )))?;
    let mut id = contacts["value"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|c| c["parentFolderId"].as_str())
        .map(str::to_string);
    if id.is_none() {
        id = top["value"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|f| f["parentFolderId"].as_str())
            .map(str::to_string);
    }
    let Some(id) = id else { return Ok(None) };
    let folder = graph.get(&graph.url(&format!(
        "users/{}/contactFolders/{}",
        mailbox.id,
        segment(&id)
    )))?;
    Ok(Some((id, clean_name(&folder))))
}

/// A folder's display name; control characters are dropped, as in EWS mode.
fn clean_name(folder: &Value) -> String {
    let name: String = folder["displayName"]
        .as_str()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    name.trim().to_string()
}

/// The folders of a listing's pages and, depth first, their children.
/// `skip` is a folder already listed (the default one).
#[allow(clippy::too_many_arguments)]
fn walk_page(
    graph: &mut Graph,
    mailbox: &Mailbox,
    mut page: Value,
    parent_path: &str,
    depth: usize,
    skip: Option<&str>,
    books: &mut Vec<GraphBook>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    loop {
        for folder in page["value"].as_array().into_iter().flatten() {
            let Some(id) = folder["id"].as_str() else {
                continue;
            };
            // The default folder listed among its own children: listed
            // already, its children go below it.
            let path = if Some(id) == skip {
                parent_path.to_string()
            } else {
                let path = format!("{parent_path}{PATH_SEPARATOR}{}", clean_name(folder));
                books.push(GraphBook {
                    book: AddressBook {
                        id: id.to_string(),
                        path: path.clone(),
                        ..Default::default()
                    },
                    mailbox_id: mailbox.id.clone(),
                });
                path
            };
            if depth < MAX_DEPTH {
                let children = graph.url(&format!(
                    "users/{}/contactFolders/{}/childFolders",
                    mailbox.id,
                    segment(id)
                ));
                match graph.get(&children) {
                    Ok(children) => walk_page(
                        graph,
                        mailbox,
                        children,
                        &path,
                        depth + 1,
                        skip,
                        books,
                        warnings,
                    )?,
                    Err(e) if e.kind == Kind::AccessDenied => {
                        warnings.push(format!(
                            "'{path}' denies access; its folders are not listed ({})",
                            e.message
                        ));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => page = graph.get(&next.to_string())?,
            None => return Ok(()),
        }
    }
}
