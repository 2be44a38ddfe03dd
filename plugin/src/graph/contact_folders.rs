//! `/users/{id}/contactFolders` and `childFolders`: a mailbox's address
//! books, depth first, with paths like EWS mode's.

use super::users::Mailbox;
use super::{Graph, segment};
use crate::address_books::{AddressBook, PATH_SEPARATOR};
use crate::error::{Kind, Result};

/// A contact folder and the mailbox it lives in.
pub struct GraphBook {
    pub book: AddressBook,
    pub mailbox_id: String,
}

/// Folders per mailbox are few; the depth bound guards a broken tree.
const MAX_DEPTH: usize = 32;

/// What Graph answers for a user whose mailbox it cannot reach (guest,
/// unlicensed, hosted on premises).
const NO_MAILBOX: &[&str] = &["MailboxNotEnabledForRESTAPI", "ErrorInvalidUser", "ErrorNonExistentMailbox"];

pub fn list(graph: &mut Graph, mailbox: &Mailbox, warnings: &mut Vec<String>) -> Result<Vec<GraphBook>> {
    let mut books = Vec::new();
    let top = graph.url(&format!("users/{}/contactFolders", mailbox.id));
    match walk(graph, mailbox, &top, &mailbox.mail, 0, &mut books, warnings) {
        // One such user is a warning, never a failed run.
        Err(e) if books.is_empty() && NO_MAILBOX.iter().any(|code| e.message.contains(code)) => {
            warnings.push(format!("{} has no mailbox Graph can read; skipped ({})", mailbox.mail, e.message));
        }
        other => other?,
    }
    Ok(books)
}

fn walk(
    graph: &mut Graph,
    mailbox: &Mailbox,
    url: &str,
    parent_path: &str,
    depth: usize,
    books: &mut Vec<GraphBook>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut next = Some(url.to_string());
    while let Some(page_url) = next {
        let page = match graph.get(&page_url) {
            Ok(page) => page,
            Err(e) if e.kind == Kind::AccessDenied => {
                warnings.push(format!("'{parent_path}' denies access; its folders are not listed ({})", e.message));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        for folder in page["value"].as_array().into_iter().flatten() {
            let Some(id) = folder["id"].as_str() else { continue };
            // Control characters in a name are dropped, as in EWS mode.
            let name: String = folder["displayName"].as_str().unwrap_or("").chars().filter(|c| !c.is_control()).collect();
            let name = name.trim();
            let path = format!("{parent_path}{PATH_SEPARATOR}{name}");
            books.push(GraphBook {
                book: AddressBook { id: id.to_string(), path: path.clone(), count: 0, public: false },
                mailbox_id: mailbox.id.clone(),
            });
            if depth < MAX_DEPTH {
                let children = graph.url(&format!("users/{}/contactFolders/{}/childFolders", mailbox.id, segment(id)));
                walk(graph, mailbox, &children, &path, depth + 1, books, warnings)?;
            }
        }
        next = page["@odata.nextLink"].as_str().map(str::to_string);
    }
    Ok(())
}
