//! Walks the folder trees: the mailbox from `msgfolderroot` (one Deep
//! FindFolder), and the public folders from `publicfoldersroot`, which
//! Exchange only lets us walk one level (Shallow) at a time.

use crate::address_books::{PUBLIC_ROOT, WellKnown, address_books, public_path};
use crate::error::{Kind, Result};
use crate::ews::Ews;
use crate::ews::envelope::FolderRef;
use crate::ews::find_folder::{FolderInfo, Traversal};
use crate::sync::Listing;

/// Public folder trees can be deep and wide; this bounds the walk.
const MAX_PUBLIC_FOLDERS: usize = 10_000;

pub fn list(ews: &mut Ews) -> Result<Listing> {
    let tree = ews.folder_tree(&FolderRef::Distinguished("msgfolderroot"), Traversal::Deep)?;
    let mut warnings = Vec::new();
    let well_known = well_known(ews, &mut warnings)?;
    let mut books = address_books(&tree, Some(&well_known));
    warnings.extend(ews.start_public());
    let public = public_tree(ews, &mut warnings);
    ews.end_public();
    let (public, unlisted) = public?;
    books.extend(address_books(&public, None));
    Ok(Listing {
        books,
        warnings,
        unlisted,
    })
}

/// The ids of Contacts and Deleted Items, whatever their names in the
/// mailbox's language.
fn well_known(ews: &mut Ews, warnings: &mut Vec<String>) -> Result<WellKnown> {
    let names = ["contacts", "deleteditems"];
    let found = ews.get_folders(&names.map(FolderRef::Distinguished))?;
    let mut ids = found
        .into_iter()
        .zip(names)
        .map(|(result, name)| match result {
            Ok(folder) => Some(folder.id),
            Err(status) => {
                warnings.push(format!(
                    "the mailbox's '{name}' folder could not be read ({}: {})",
                    status.code, status.text
                ));
                None
            }
        });
    Ok(WellKnown {
        contacts: ids.next().flatten(),
        deleted_items: ids.next().flatten(),
    })
}

/// What Exchange answers for an organisation without public folders.
const NO_PUBLIC_FOLDERS: &[&str] = &["ErrorNoPublicFolderReplicaAvailable", "ErrorFolderNotFound"];

/// The public folders, and the display paths of the parts of the tree that
/// could not be walked (nothing is known of folders gone from there).
fn public_tree(
    ews: &mut Ews,
    warnings: &mut Vec<String>,
) -> Result<(Vec<FolderInfo>, Vec<String>)> {
    let top = match ews.folder_tree(
        &FolderRef::Distinguished("publicfoldersroot"),
        Traversal::Shallow,
    ) {
        Ok(top) => top,
        // Many organisations have no public folders at all; but one whose
        // Autodiscover names a public folder mailbox has them.
        Err(e) if NO_PUBLIC_FOLDERS.iter().any(|code| e.message.contains(code)) && !ews.has_public_route() => {
            crate::report::debug(&format!("no public folders: {}", e.message));
            return Ok((Vec::new(), Vec::new()));
        }
        Err(e) if e.kind != Kind::Authentication && e.kind != Kind::Unreachable => {
            warnings.push(format!(
                "the public folders could not be listed, so their address books are not synced: {}",
                e.message
            ));
            return Ok((Vec::new(), vec![PUBLIC_ROOT.to_string()]));
        }
        Err(e) => return Err(e),
    };
    let mut unwalked = Vec::new();
    let mut tree = Vec::new();
    let mut queue: std::collections::VecDeque<FolderInfo> = top.into();
    while let Some(folder) = queue.pop_front() {
        if folder.child_count > 0 && tree.len() < MAX_PUBLIC_FOLDERS {
            match ews.folder_tree(&FolderRef::Id(folder.id.clone()), Traversal::Shallow) {
                Ok(children) => queue.extend(children),
                Err(e) if e.kind == Kind::AccessDenied => {
                    unwalked.push(folder.id.clone());
                    warnings.push(format!(
                        "the public folder '{}' denies access; its subfolders are not listed ({})",
                        folder.name.trim(),
                        e.message
                    ));
                }
                Err(e) => return Err(e),
            }
        } else if folder.child_count > 0 {
            unwalked.push(folder.id.clone());
        }
        tree.push(folder);
    }
    if tree.len() >= MAX_PUBLIC_FOLDERS {
        warnings.push(format!("the public folder tree has more than {MAX_PUBLIC_FOLDERS} folders; the rest is not listed"));
    }
    let unlisted = unwalked
        .iter()
        .filter_map(|id| public_path(&tree, id))
        .collect();
    Ok((tree, unlisted))
}
