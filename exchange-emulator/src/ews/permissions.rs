//! A folder's permission set, as GetFolder writes it when `folder:PermissionSet`
//! is asked for: the elements, their order and enumerations follow
//! PermissionSetType, CalendarPermissionSetType and BasePermissionType of
//! ../shared/fixtures/ews/schema/types.xsd. Not in ../shared, and so our
//! choice from Exchange's behaviour as admins know it: the owner is not
//! listed, Default and Anonymous always are (Default None, on a calendar
//! FreeBusyTimeOnly), and the rights each level stands for.

use crate::data::{Folder, Grant};
use crate::escape::escape;
use std::fmt::Write;

/// The `<t:PermissionSet>` of `folder`.
pub fn permission_set(folder: &Folder) -> String {
    let calendar = folder.element == "CalendarFolder";
    // Exchange's defaults: a calendar shows free/busy times to the
    // organisation; other folders show nothing.
    let default_level = if calendar { "FreeBusyTimeOnly" } else { "None" };
    let default = Grant { address: String::new(), name: String::new(), level: default_level };
    let anonymous = Grant { address: String::new(), name: String::new(), level: "None" };
    let mut entries = entry(&user_id(None, "Default"), &default, calendar);
    entries += &entry(&user_id(None, "Anonymous"), &anonymous, calendar);
    for grant in &folder.grants {
        entries += &entry(&user_id(Some(grant), ""), grant, calendar);
    }
    match calendar {
        true => format!("<t:PermissionSet><t:CalendarPermissions>{entries}</t:CalendarPermissions></t:PermissionSet>"),
        false => format!("<t:PermissionSet><t:Permissions>{entries}</t:Permissions></t:PermissionSet>"),
    }
}

/// UserIdType: a user by SID, address and name, or a distinguished user.
fn user_id(grant: Option<&Grant>, distinguished: &str) -> String {
    match grant {
        Some(g) => format!(
            "<t:UserId><t:SID>S-1-5-21-3623811015-3361044348-30300820-{}</t:SID><t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress><t:DisplayName>{}</t:DisplayName></t:UserId>",
            1100 + g.address.len(),
            escape(&g.address),
            escape(&g.name)
        ),
        None => format!("<t:UserId><t:DistinguishedUser>{distinguished}</t:DistinguishedUser></t:UserId>"),
    }
}

/// One entry in BasePermissionType's order, with the rights its level
/// stands for.
fn entry(user: &str, grant: &Grant, calendar: bool) -> String {
    let level = grant.level;
    let owner = level == "Owner";
    let creates = matches!(level, "Owner" | "PublishingEditor" | "Editor" | "PublishingAuthor" | "Author" | "NoneditingAuthor" | "Contributor");
    let (edit, delete) = match level {
        "Owner" | "PublishingEditor" | "Editor" => ("All", "All"),
        "PublishingAuthor" | "Author" => ("Owned", "Owned"),
        "NoneditingAuthor" => ("None", "Owned"),
        _ => ("None", "None"),
    };
    let read = grant.read_items(calendar);
    let visible = read != "None" || creates;
    let (element, level_element) = if calendar { ("CalendarPermission", "CalendarPermissionLevel") } else { ("Permission", "PermissionLevel") };
    let mut xml = format!("<t:{element}>{user}");
    let _ = write!(
        xml,
        "<t:CanCreateItems>{creates}</t:CanCreateItems><t:CanCreateSubFolders>{}</t:CanCreateSubFolders><t:IsFolderOwner>{owner}</t:IsFolderOwner>\
         <t:IsFolderVisible>{visible}</t:IsFolderVisible><t:IsFolderContact>{owner}</t:IsFolderContact><t:EditItems>{edit}</t:EditItems>\
         <t:DeleteItems>{delete}</t:DeleteItems><t:ReadItems>{read}</t:ReadItems><t:{level_element}>{level}</t:{level_element}></t:{element}>",
        matches!(level, "Owner" | "PublishingEditor" | "PublishingAuthor"),
    );
    xml
}
