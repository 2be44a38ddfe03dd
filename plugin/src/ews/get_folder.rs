//! GetFolder: folders by id; the connection check reads the mailbox root.

use super::envelope::FolderRef;
use super::find_folder::{FOLDER_PROPERTIES, FolderInfo};
use super::response::PerObject;

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
