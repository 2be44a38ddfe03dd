//! Address books: the contact folders of a folder tree, with the paths an
//! admin recognises (`Contacts -> Suppliers`).

use crate::error::{Error, Result};
use crate::ews::find_folder::FolderInfo;
use std::collections::HashMap;

pub const PATH_SEPARATOR: &str = " -> ";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressBook {
    pub id: String,
    pub path: String,
    pub count: u64,
    /// a public folder: no SyncFolderItems there
    pub public: bool,
    /// why `folders = []` leaves it out; None for a default address book
    pub excluded: Option<String>,
    /// the mailbox's own Contacts folder, which `folders` may name as
    /// `contacts` whatever its localised name
    pub is_contacts: bool,
}

/// Public folders are shown under this name, as Outlook does.
pub const PUBLIC_ROOT: &str = "Public Folders";

/// The well-known folders that decide a mailbox's default address books.
#[derive(Default)]
pub struct WellKnown {
    pub contacts: Option<String>,
    pub deleted_items: Option<String>,
}

/// The contact folders of `tree`, in listing order, each with why it is
/// not a default address book, if it is not. By default a mailbox syncs
/// its Contacts folder and the visible folders below it: not Exchange's
/// hidden internal folders (Recipient Cache, Quick Contacts, GAL Contacts,
/// ...: everyone the mailbox wrote to), not folders in Deleted Items, and
/// never search folders, which show contacts living in another folder.
/// Public folders (`well_known` None) are address books unless they are
/// search folders.
pub fn address_books(tree: &[FolderInfo], well_known: Option<&WellKnown>) -> Vec<AddressBook> {
    let by_id: HashMap<&str, &FolderInfo> = tree.iter().map(|f| (f.id.as_str(), f)).collect();
    tree.iter()
        .filter(|f| f.is_contact_folder())
        .map(|f| {
            let path = path_of(f, &by_id);
            let public = well_known.is_none();
            let path = if public {
                format!("{PUBLIC_ROOT}{PATH_SEPARATOR}{path}")
            } else {
                path
            };
            let is_contacts =
                well_known.is_some_and(|w| w.contacts.as_deref() == Some(f.id.as_str()));
            let excluded = exclusion(f, &by_id, well_known);
            AddressBook {
                id: f.id.clone(),
                path,
                count: f.total_count,
                public,
                excluded,
                is_contacts,
            }
        })
        .collect()
}

/// Why `folder` is no default address book, from it and its ancestors.
fn exclusion(
    folder: &FolderInfo,
    by_id: &HashMap<&str, &FolderInfo>,
    well_known: Option<&WellKnown>,
) -> Option<String> {
    if folder.is_search_folder() {
        return Some("a search folder: its contacts live in other folders".into());
    }
    let mut in_contacts = false;
    let mut current = Some(folder);
    // The depth bound guards against a parent cycle in a broken listing.
    for _ in 0..64 {
        let Some(f) = current else { break };
        if f.hidden {
            return Some(format!(
                "hidden by Exchange (PidTagAttributeHidden): an internal folder ({})",
                if f.class.is_empty() {
                    "no class"
                } else {
                    &f.class
                }
            ));
        }
        if let Some(w) = well_known {
            if w.deleted_items.as_deref() == Some(f.id.as_str()) {
                return Some("in Deleted Items".into());
            }
            in_contacts |= w.contacts.as_deref() == Some(f.id.as_str());
        }
        current = f.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
    }
    match well_known {
        Some(_) if !in_contacts => Some("outside the Contacts folder".into()),
        _ => None,
    }
}

/// The display path of the public folder `id` of `tree`.
pub fn public_path(tree: &[FolderInfo], id: &str) -> Option<String> {
    let by_id: HashMap<&str, &FolderInfo> = tree.iter().map(|f| (f.id.as_str(), f)).collect();
    let folder = by_id.get(id)?;
    Some(format!(
        "{PUBLIC_ROOT}{PATH_SEPARATOR}{}",
        path_of(folder, &by_id)
    ))
}

fn path_of(folder: &FolderInfo, by_id: &HashMap<&str, &FolderInfo>) -> String {
    let mut names = vec![display_name(folder)];
    let mut current = folder;
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
    if name.is_empty() {
        format!("(unnamed {})", folder.id)
    } else {
        name.to_string()
    }
}

/// The books named in `wanted`, or the default ones when `wanted` is empty.
/// An entry is an id, a display path written with ` -> ` or `/` (in the
/// mailbox's language: `Kontakte/Lieferanten`), or a path starting at the
/// distinguished name `contacts`, which names the Contacts folder in any
/// language. A folder left out by default may still be named.
pub fn select(books: Vec<AddressBook>, wanted: &[String]) -> Result<Vec<AddressBook>> {
    if wanted.is_empty() {
        return Ok(books.into_iter().filter(|b| b.excluded.is_none()).collect());
    }
    let normal = |path: &str| {
        path.split(['/', '>'])
            .map(|part| part.trim().trim_end_matches('-').trim().to_lowercase())
            .collect::<Vec<_>>()
    };
    let contacts = books
        .iter()
        .find(|b| b.is_contacts)
        .map(|b| normal(&b.path));
    // `contacts/Suppliers` is the Contacts folder's path and `Suppliers`.
    let resolve = |want: &str| {
        let mut parts = normal(want);
        if let Some(root) = contacts
            .as_ref()
            .filter(|_| parts.first().is_some_and(|p| p == "contacts"))
        {
            parts.splice(0..1, root.iter().cloned());
        }
        parts
    };
    let mut chosen = Vec::new();
    for want in wanted {
        let found = books
            .iter()
            .find(|b| &b.id == want || normal(&b.path) == normal(want))
            .or_else(|| books.iter().find(|b| normal(&b.path) == resolve(want)));
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
            hidden: false,
            ..Default::default()
        }
    }

    fn well_known() -> WellKnown {
        WellKnown {
            contacts: Some("c".into()),
            deleted_items: Some("d".into()),
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
        let books = select(address_books(&tree, Some(&well_known())), &[]).unwrap();
        let paths: Vec<&str> = books.iter().map(|b| b.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "Contacts",
                "Contacts -> Suppliers",
                "Contacts -> Suppliers -> Europe"
            ]
        );
        let chosen = select(books.clone(), &["contacts/suppliers".into(), "e".into()]).unwrap();
        assert_eq!(
            chosen.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
            ["s", "e"]
        );
        let err = select(books, &["Nowhere".into()]).unwrap_err();
        assert!(err.message.contains("no contact folder 'Nowhere'"));
    }

    #[test]
    fn hidden_deleted_and_outside_folders_are_not_defaults() {
        let mut cache = folder(
            "r",
            "c",
            "Recipient Cache",
            "IPF.Contact.RecipientCache",
            "ContactsFolder",
        );
        cache.hidden = true;
        let tree = vec![
            folder("c", "root", "Kontakte", "IPF.Contact", "ContactsFolder"),
            cache,
            folder("rc", "r", "Below", "IPF.Contact", "ContactsFolder"),
            folder("p", "c", "Partner", "", "ContactsFolder"),
            folder("d", "root", "Gelöschte Elemente", "IPF.Note", "Folder"),
            folder("o", "d", "Alt", "IPF.Contact", "ContactsFolder"),
            folder("x", "root", "Elsewhere", "IPF.Contact", "ContactsFolder"),
        ];
        let books = address_books(&tree, Some(&well_known()));
        let why: Vec<(&str, Option<&str>)> = books
            .iter()
            .map(|b| (b.id.as_str(), b.excluded.as_deref()))
            .collect();
        assert_eq!(why[0], ("c", None));
        assert!(
            why[1].1.unwrap().contains("hidden by Exchange")
                && why[2].1.unwrap().contains("hidden by Exchange")
        );
        assert_eq!(
            why[3],
            ("p", None),
            "a ContactsFolder without a class is an address book"
        );
        assert_eq!(why[4], ("o", Some("in Deleted Items")));
        assert_eq!(why[5], ("x", Some("outside the Contacts folder")));
        let chosen = select(books.clone(), &[]).unwrap();
        assert_eq!(
            chosen.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
            ["c", "p"]
        );
        // `contacts` names the Contacts folder in any language; a hidden
        // folder may be named on purpose.
        let chosen = select(
            books,
            &[
                "contacts".into(),
                "Contacts/Partner".into(),
                "Kontakte -> Recipient Cache".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            chosen.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
            ["c", "p", "r"]
        );
    }
}
