//! Address books: the contact folders of a folder tree, with the paths an
//! admin recognises (`Contacts -> Suppliers`).

use crate::error::{Error, Result};
use crate::ews::find_folder::FolderInfo;
use std::collections::HashMap;

pub const PATH_SEPARATOR: &str = " -> ";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressBook {
    pub id: String,
    pub path: String,
    pub count: u64,
    /// a public folder: no SyncFolderItems there
    pub public: bool,
}

/// The contact folders of `tree`, in listing order. Search folders are
/// skipped: they show contacts that live in another folder, and importing
/// them would import those contacts twice.
/// Public folders are shown under this name, as Outlook does.
pub const PUBLIC_ROOT: &str = "Public Folders";

pub fn address_books(tree: &[FolderInfo], public: bool) -> Vec<AddressBook> {
    let by_id: HashMap<&str, &FolderInfo> = tree.iter().map(|f| (f.id.as_str(), f)).collect();
    tree.iter()
        .filter(|f| f.is_contact_folder() && !f.is_search_folder())
        .map(|f| {
            let path = path_of(f, &by_id);
            let path = if public { format!("{PUBLIC_ROOT}{PATH_SEPARATOR}{path}") } else { path };
            AddressBook { id: f.id.clone(), path, count: f.total_count, public }
        })
        .collect()
}

/// The display path of the public folder `id` of `tree`.
pub fn public_path(tree: &[FolderInfo], id: &str) -> Option<String> {
    let by_id: HashMap<&str, &FolderInfo> = tree.iter().map(|f| (f.id.as_str(), f)).collect();
    let folder = by_id.get(id)?;
    Some(format!("{PUBLIC_ROOT}{PATH_SEPARATOR}{}", path_of(folder, &by_id)))
}

fn path_of(folder: &FolderInfo, by_id: &HashMap<&str, &FolderInfo>) -> String {
    let mut names = vec![display_name(folder)];
    let mut current = folder;
    // The depth bound guards against a parent cycle in a broken listing.
    for _ in 0..64 {
        match current.parent_id.as_deref().and_then(|p| by_id.get(p)) {
            Some(parent) => {
                names.push(display_name(parent));
                current = parent;
            }
            None => break,
        }
    }
    names.reverse();
    names.join(PATH_SEPARATOR)
}

fn display_name(folder: &FolderInfo) -> String {
    let name = folder.name.trim();
    if name.is_empty() { format!("(unnamed {})", folder.id) } else { name.to_string() }
}

/// The books named in `wanted` (ids, or paths written with ` -> ` or `/`),
/// or all of them when `wanted` is empty.
pub fn select(books: Vec<AddressBook>, wanted: &[String]) -> Result<Vec<AddressBook>> {
    if wanted.is_empty() {
        return Ok(books);
    }
    let normal = |path: &str| {
        path.split(['/', '>'])
            .map(|part| part.trim().trim_end_matches('-').trim().to_lowercase())
            .collect::<Vec<_>>()
    };
    let mut chosen = Vec::new();
    for want in wanted {
        let found = books.iter().find(|b| &b.id == want || normal(&b.path) == normal(want));
        match found {
            Some(book) if !chosen.contains(book) => chosen.push(book.clone()),
            Some(_) => {}
            None => {
                let known: Vec<&str> = books.iter().map(|b| b.path.as_str()).collect();
                return Err(Error::config(format!(
                    "no contact folder '{want}' (the mailbox has: {})",
                    known.join("; ")
                )));
            }
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: &str, parent: &str, name: &str, class: &str, element: &str) -> FolderInfo {
        FolderInfo {
            id: id.into(),
            parent_id: Some(parent.into()),
            name: name.into(),
            class: class.into(),
            element: element.into(),
            total_count: 1,
            child_count: 0,
        }
    }

    #[test]
    fn paths_follow_parents_and_search_folders_are_skipped() {
        let tree = vec![
            folder("c", "root", "Contacts", "IPF.Contact", "ContactsFolder"),
            folder("s", "c", "Suppliers", "IPF.Contact", "ContactsFolder"),
            folder("e", "s", "Europe", "IPF.Contact", "ContactsFolder"),
            folder("i", "root", "Inbox", "IPF.Note", "Folder"),
            folder("a", "root", "AllContacts", "IPF.Contact", "SearchFolder"),
        ];
        let books = address_books(&tree, false);
        let paths: Vec<&str> = books.iter().map(|b| b.path.as_str()).collect();
        assert_eq!(paths, ["Contacts", "Contacts -> Suppliers", "Contacts -> Suppliers -> Europe"]);
        let chosen = select(books.clone(), &["contacts/suppliers".into(), "e".into()]).unwrap();
        assert_eq!(chosen.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(), ["s", "e"]);
        let err = select(books, &["Nowhere".into()]).unwrap_err();
        assert!(err.message.contains("no contact folder 'Nowhere'"));
    }
}
