//! Walks the folder trees: the mailbox from `msgfolderroot` (one Deep
//! FindFolder), and the public folders from `publicfoldersroot`, which
//! Exchange only lets us walk one level (Shallow) at a time.

use crate::address_books::address_books;
use crate::error::{Kind, Result};
use crate::ews::Ews;
use crate::ews::envelope::FolderRef;
use crate::ews::find_folder::{FolderInfo, Traversal};
use crate::sync::Listing;


/// Public folder trees can be deep and wide; this bounds the walk.
const MAX_PUBLIC_FOLDERS: usize = 10_000;

pub fn list(ews: &mut Ews) -> Result<Listing> {
    let tree = ews.folder_tree(&FolderRef::Distinguished("msgfolderroot"), Traversal::Deep)?;
    let mut books = address_books(&tree, false);
    let mut warnings = Vec::new();
    let public = public_tree(ews, &mut warnings)?;
    books.extend(address_books(&public, true));
    Ok(Listing { books, warnings })
}

fn public_tree(ews: &mut Ews, warnings: &mut Vec<String>) -> Result<Vec<FolderInfo>> {
    let top = match ews.folder_tree(&FolderRef::Distinguished("publicfoldersroot"), Traversal::Shallow) {
        Ok(top) => top,
        // Many organisations have no public folders at all.
        Err(e) if e.kind != Kind::Authentication && e.kind != Kind::Unreachable => {
            crate::report::debug(&format!("no public folders: {}", e.message));
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let mut tree = Vec::new();
    let mut queue: std::collections::VecDeque<FolderInfo> = top.into();
    while let Some(folder) = queue.pop_front() {
        if folder.child_count > 0 && tree.len() < MAX_PUBLIC_FOLDERS {
            match ews.folder_tree(&FolderRef::Id(folder.id.clone()), Traversal::Shallow) {
                Ok(children) => queue.extend(children),
                Err(e) if e.kind == Kind::AccessDenied => warnings.push(format!(
                    "the public folder '{}' denies access; its subfolders are not listed ({})",
                    folder.name.trim(),
                    e.message
                )),
                Err(e) => return Err(e),
            }
        }
        tree.push(folder);
    }
    Ok(tree)
}
