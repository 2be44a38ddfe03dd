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
    /// mailbox content, when the run read any
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<crate::documents::DocumentSummary>,
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
        if let Some(documents) = other.documents {
            self.documents.get_or_insert_default().absorb(documents);
        }
    }

    /// Make sure a folder appears even when it had nothing to report.
    pub fn touch_folder(&mut self, folder_id: &str, folder_path: &str) {
        if !self.folders.iter().any(|f| f.id == folder_id) {
            self.folders.push(FolderSummary { id: folder_id.into(), path: folder_path.into(), ..Default::default() });
        }
    }
}

/// Examples shown per kind of reason in the plain-text summary.
const EXAMPLES: usize = 10;

impl Summary {
    /// The summary for a person: the counts, per address book, then the
    /// reasons grouped by kind with at most ten examples each (all with
    /// `verbose`), then the warnings. Readable for 100,000 contacts.
    pub fn text(&self, verbose: bool) -> String {
        let line = |c: &Counts| {
            format!(
                "created {}, updated {}, unchanged {}, skipped {}, failed {}, deactivated {}",
                c.created, c.updated, c.unchanged, c.skipped, c.failed, c.deactivated
            )
        };
        let mut text = format!(
            "{} ({} requests, {} ms{})\n",
            line(&self.counts),
            self.requests,
            self.elapsed_ms,
            if self.dry_run { ", dry run: nothing written" } else { "" }
        );
        for folder in &self.folders {
            text += &format!("  {}: {}\n", folder.path, line(&folder.counts));
        }
        let mut cut = false;
        for (what, reasons) in [("skipped", &self.skipped_reasons), ("failed", &self.failed_reasons)] {
            let mut kinds: Vec<(String, Vec<&Reason>)> = Vec::new();
            for reason in reasons {
                let kind = reason_kind(&reason.reason);
                match kinds.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, list)) => list.push(reason),
                    None => kinds.push((kind, vec![reason])),
                }
            }
            kinds.sort_by_key(|(_, list)| std::cmp::Reverse(list.len()));
            if !kinds.is_empty() {
                let counts: Vec<String> = kinds.iter().map(|(kind, list)| format!("{} {kind}", list.len())).collect();
                text += &format!("{what}: {}\n", counts.join(", "));
            }
            for (kind, list) in &kinds {
                let shown = if verbose { list.len() } else { list.len().min(EXAMPLES) };
                text += &format!("  {kind}:\n");
                for reason in &list[..shown] {
                    let who = match (&reason.name, &reason.email) {
                        (name, Some(email)) if !name.is_empty() => format!("{name} <{email}>"),
                        (_, Some(email)) => format!("<{email}>"),
                        (name, None) if !name.is_empty() => name.clone(),
                        _ => "(unnamed)".into(),
                    };
                    text += &format!("    {who} [{}] in {}: {}\n", reason.contact, reason.folder, reason.reason);
                }
                if shown < list.len() {
                    text += &format!("    ... and {} more\n", list.len() - shown);
                    cut = true;
                }
            }
        }
        if cut {
            text += "  (all of them: --verbose, or `helpdesk-host runs --json`)\n";
        }
        if let Some(documents) = &self.documents {
            text += &documents.text(verbose);
        }
        for warning in &self.warnings {
            text += &format!("  warning: {warning}\n");
        }
        text
    }
}

/// What a reason is about, without the contact's particulars: the words
/// before its first colon when they are few ("duplicate email"), else the
/// reason without quoted values and the trailing note in parentheses.
pub fn reason_kind(reason: &str) -> String {
    if let Some((head, _)) = reason.split_once(": ")
        && head.len() <= 40
    {
        return head.to_string();
    }
    let mut kind = String::new();
    let mut quoted = false;
    for c in reason.split(" (").next().unwrap_or(reason).chars() {
        match c {
            '\'' => quoted = !quoted,
            _ if !quoted => kind.push(c),
            _ => {}
        }
    }
    kind.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reasons_group_by_what_they_are_about() {
        use super::reason_kind;
        assert_eq!(reason_kind("duplicate email: the email address a@b.org is already used by user x"), "duplicate email");
        assert_eq!(reason_kind("'Acme Ltd' is not an email address (contact Ana <ana@x.org>)"), "is not an email address");
        assert_eq!(reason_kind("reading the contact failed: ErrorItemCorrupt: broken"), "reading the contact failed");
    }

    #[test]
    fn the_text_of_a_large_run_stays_short_and_names_each_example() {
        use super::*;
        let mut summary = Summary::default();
        for n in 0..510 {
            let contact = Named { id: format!("AAMk{n}"), name: format!("Person {n}"), email: Some(format!("p{n}@example.org")) };
            summary.record("f", "Contacts", &contact, Outcome::Skipped(format!("duplicate email: p{n}@example.org is already used")));
        }
        for n in 0..3 {
            summary.record("f", "Contacts", &Named::id(&format!("L{n}")), Outcome::Skipped("LDAP user: held by jdoe".into()));
        }
        let text = summary.text(false);
        assert!(text.contains("skipped: 510 duplicate email, 3 LDAP user"), "{text}");
        assert!(text.contains("Person 0 <p0@example.org> [AAMk0] in Contacts"), "{text}");
        assert!(text.contains("... and 500 more") && text.contains("--verbose"), "{text}");
        assert!(text.lines().count() < 30, "{text}");
        assert!(summary.text(true).lines().count() > 513);
    }
}
