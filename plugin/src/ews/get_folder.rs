//! GetFolder: folders by id; the connection check reads the mailbox root.

use super::envelope::FolderRef;
use super::find_folder::{FOLDER_PROPERTIES, FolderInfo};
use super::response::PerObject;
use super::xml::Element;

pub fn request(folders: &[FolderRef]) -> String {
    let ids: String = folders.iter().map(FolderRef::to_xml).collect();
    format!(
        concat!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>"#,
            r#"<t:AdditionalProperties>{}</t:AdditionalProperties></m:FolderShape>"#,
            r#"<m:FolderIds>{}</m:FolderIds></m:GetFolder>"#
        ),
        FOLDER_PROPERTIES, ids
    )
}

/// One result per requested folder, in request order.
pub fn parser() -> PerObject<FolderInfo> {
    PerObject::new("Folders")
}

/// The same folders with their permission sets too, which only GetFolder
/// returns (FindFolder cannot): see [`readers_of`].
pub fn request_with_permissions(folders: &[FolderRef]) -> String {
    request(folders).replacen("</t:AdditionalProperties>", r#"<t:FieldURI FieldURI="folder:PermissionSet"/></t:AdditionalProperties>"#, 1)
}

/// Who may read a folder's items, by its permission set: users whose
/// `ReadItems` is `FullDetails` (on a calendar, less shows free/busy
/// times only), as `email:<address>`; `everyone` when the Default user
/// may (everyone in the organisation). Anonymous (people outside) and
/// entries without an address (a deleted account's SID) grant no one here.
pub fn readers_of(folder: &Element) -> Vec<String> {
    let entries = folder.child("PermissionSet").and_then(|set| set.child("Permissions").or_else(|| set.child("CalendarPermissions")));
    let mut readers: Vec<String> = entries
        .map(|e| e.children.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|entry| reads_items(entry))
        .filter_map(|entry| {
            let user = entry.child("UserId")?;
            match user.child_text("DistinguishedUser").map(str::trim) {
                Some("Default") => Some("everyone".to_string()),
                Some(_) => None,
                None => user.child_text("PrimarySmtpAddress").map(|a| format!("email:{}", a.trim().to_lowercase())),
            }
        })
        .collect();
    readers.sort();
    readers.dedup();
    readers
}

/// `ReadItems` says FullDetails; without it, the level implies it.
fn reads_items(entry: &Element) -> bool {
    match entry.child_text("ReadItems").map(str::trim) {
        Some(read) => read == "FullDetails",
        None => {
            let level = entry.child_text("PermissionLevel").or_else(|| entry.child_text("CalendarPermissionLevel")).unwrap_or_default();
            matches!(level.trim(), "Owner" | "PublishingEditor" | "Editor" | "PublishingAuthor" | "Author" | "NoneditingAuthor" | "Reviewer")
        }
    }
}
