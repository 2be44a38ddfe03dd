//! The summary of a sync run, in the JSON shape scripts rely on.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub failed: u64,
    pub deactivated: u64,
}

/// What happened to one contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped(String),
    Failed(String),
    Deactivated,
}

impl Counts {
    fn plus(&mut self, other: &Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.deactivated += other.deactivated;
    }

    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Deactivated => self.deactivated += 1,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderSummary {
    pub id: String,
    pub path: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Why a contact was skipped or failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// the directory's id of the contact
    pub contact: String,
    /// its display name, where known
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub folder: String,
    pub reason: String,
}

/// A contact as a summary names it: by id, and by name and email where
/// they are known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Named {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
}

impl Named {
    pub fn id(id: &str) -> Named {
        Named { id: id.to_string(), ..Default::default() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    #[serde(flatten)]
    pub counts: Counts,
    pub requests: u64,
    /// response bytes (bodies) the plugin received
    #[serde(default)]
    pub bytes_received: u64,
    pub elapsed_ms: u64,
    pub dry_run: bool,
    pub folders: Vec<FolderSummary>,
    pub skipped_reasons: Vec<Reason>,
    pub failed_reasons: Vec<Reason>,
    /// what the admin should know: folders that could not be read, states
    /// that had to be started over
    pub warnings: Vec<String>,
}

impl Summary {
    pub fn record(&mut self, folder_id: &str, folder_path: &str, contact: &Named, outcome: Outcome) {
        self.counts.add(&outcome);
        let folder = match self.folders.iter().position(|f| f.id == folder_id) {
            Some(i) => &mut self.folders[i],
            None => {
                self.folders.push(FolderSummary { id: folder_id.into(), path: folder_path.into(), ..Default::default() });
                self.folders.last_mut().unwrap()
            }
        };
        folder.counts.add(&outcome);
        let reason = |reason: String| Reason {
            contact: contact.id.clone(),
            name: contact.name.clone(),
            email: contact.email.clone(),
            folder: folder_path.into(),
            reason,
        };
        match outcome {
            Outcome::Skipped(why) => self.skipped_reasons.push(reason(why)),
            Outcome::Failed(why) => self.failed_reasons.push(reason(why)),
            _ => {}
        }
    }

    /// Add what `other` recorded (batches written after these).
    pub fn absorb(&mut self, other: Summary) {
        self.counts.plus(&other.counts);
        for folder in other.folders {
            match self.folders.iter_mut().find(|f| f.id == folder.id) {
                Some(mine) => mine.counts.plus(&folder.counts),
                None => self.folders.push(folder),
            }
        }
        self.skipped_reasons.extend(other.skipped_reasons);
        self.failed_reasons.extend(other.failed_reasons);
        self.warnings.extend(other.warnings);
    }

    /// Make sure a folder appears even when it had nothing to report.
    pub fn touch_folder(&mut self, folder_id: &str, folder_path: &str) {
        if !self.folders.iter().any(|f| f.id == folder_id) {
            self.folders.push(FolderSummary { id: folder_id.into(), path: folder_path.into(), ..Default::default() });
        }
    }
}
