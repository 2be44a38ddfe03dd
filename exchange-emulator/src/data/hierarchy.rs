//! Changes to a mailbox's folders, as hierarchy sync reports them (EWS
//! SyncFolderHierarchy, fixtures/ews/msdocs/how-to-synchronize-folders-
//! by-using-ews-in-exchange, whose second answer has a Create, an Update
//! and a Delete; Graph fixtures/graph/msdocs/mailfolder-delta): a folder
//! made, and a folder renamed, moved or given other permissions, each
//! with a new change key. Not in ../shared, and ours: that Outlook
//! deletes a folder by moving it into Deleted Items (the script does so,
//! and makes no hard delete), and that a permission change is a folder
//! change.

use super::Mailbox;
use super::Folder;
use super::mail::{Body, OLD_TICKETS, PROJECTS, person};

/// A folder's place in a hierarchy sync after some state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderChange<'a> {
    Create(&'a Folder),
    Update(&'a Folder),
}

/// What [`Mailbox::scripted_folder_change`] did, by folder id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderScript {
    /// made below the Inbox, with one message in it
    pub created: String,
    pub message: String,
    /// Projects renamed, which moves the path of its subfolder 2026
    pub renamed: String,
    /// Old tickets moved into Deleted Items, as Outlook deletes
    pub deleted: String,
}

impl Mailbox {
    /// Every folder below `root` (the root itself not), as a sync from
    /// `since` sees them: all of them as made when there is no state yet.
    pub fn folder_changes(&self, root: &str, since: Option<u64>) -> Vec<FolderChange<'_>> {
        self.subfolders(root, true)
            .into_iter()
            .filter_map(|f| match since {
                None => Some(FolderChange::Create(f)),
                Some(since) if f.created > since => Some(FolderChange::Create(f)),
                Some(since) if f.changed > since => Some(FolderChange::Update(f)),
                Some(_) => None,
            })
            .collect()
    }

    /// A mail folder made by the user below `parent`.
    pub fn create_folder(&mut self, parent: &str, name: &str) -> String {
        self.seq += 1;
        self.new_folder(Some(parent), name, "IPF.Note", "Folder", None)
    }

    /// Rename a folder; false if there is none.
    pub fn rename_folder(&mut self, id: &str, name: &str) -> bool {
        self.change_folder(id, |f| f.name = name.to_string())
    }

    /// Move a folder below `parent`; false if there is none.
    pub fn move_folder(&mut self, id: &str, parent: &str) -> bool {
        self.change_folder(id, |f| f.parent = Some(parent.to_string()))
    }

    fn change_folder(&mut self, id: &str, edit: impl FnOnce(&mut Folder)) -> bool {
        self.seq += 1;
        let seq = self.seq;
        let Some(folder) = self.folders.iter_mut().find(|f| f.id == id) else { return false };
        edit(folder);
        folder.changed_at(seq);
        true
    }

    /// What a user does with folders between two syncs, in the service
    /// account's mailbox: a folder made below the Inbox and a message
    /// filed in it, Projects renamed (its subfolder's path changes with
    /// it), Old tickets deleted (moved into Deleted Items).
    pub fn scripted_folder_change(&mut self) -> FolderScript {
        let inbox = self.distinguished("inbox").expect("an Inbox").id.clone();
        let deleted_items = self.distinguished("deleteditems").expect("Deleted Items").id.clone();
        let named = |name: &str| self.folders.iter().find(|f| f.name == name && f.element == "Folder").map(|f| f.id.clone());
        let (Some(renamed), Some(deleted)) = (named(PROJECTS), named(OLD_TICKETS)) else { panic!("the service account's mailbox has the folders {PROJECTS} and {OLD_TICKETS}") };
        let created = self.create_folder(&inbox, "Escalations");
        let owner = person("Helpdesk Service", &self.address.clone());
        let message = self.new_message(&created, "Escalated: server room", Body::Text("The server room is too warm.".into()), &person("Alice", "alice@example.com"), &[owner]);
        self.rename_folder(&renamed, &format!("{PROJECTS} (renamed)"));
        self.move_folder(&deleted, &deleted_items);
        FolderScript { created, message, renamed, deleted }
    }
}

impl Folder {
    /// The folder changed at `seq`: hierarchy sync reports it, with a new
    /// change key.
    pub(super) fn changed_at(&mut self, seq: u64) {
        self.changed = seq;
        self.change_key = format!("AQAAABYAAAC{seq:08}");
    }
}
