//! Applies a batch of changes to the user store, deciding for each contact
//! whether its user is created, updated, unchanged, skipped or failed.
//!
//! Rules:
//! - A user is found by (source, external id); failing that, a user with
//!   the same login or email is a conflict.
//! - Users that came from LDAP are never touched: LDAP takes precedence.
//! - A user made in the helpdesk itself with the same email is adopted.
//! - Contacts sharing an email: the first one met in sync order (folders in
//!   listing order, contacts in the folder's order) keeps the user; the
//!   others are skipped with the reason.
//! - A contact that is gone deactivates its user; nothing is deleted.

use crate::runtime::types::{Batch, Change, Upsert};
use crate::summary::{Outcome, Summary};
use rusqlite::{Connection, params};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

pub struct RunContext<'a> {
    pub source: &'a str,
    pub run_id: i64,
    /// the external ids that have a row in skipped_contacts, kept beside
    /// the table: most contacts have none, and then cost no statement
    skipped: RefCell<HashSet<String>>,
}

impl<'a> RunContext<'a> {
    pub fn new(conn: &Connection, source: &'a str, run_id: i64) -> rusqlite::Result<Self> {
        let mut statement = conn.prepare("SELECT external_id FROM skipped_contacts WHERE source = ?1")?;
        let skipped = statement.query_map([source], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(RunContext { source, run_id, skipped: RefCell::new(skipped) })
    }
}

/// Apply `batch` and its checkpoint in one transaction (a savepoint, so
/// that a dry run can hold everything in one outer transaction).
pub fn apply_batch(conn: &mut Connection, run: &RunContext, batch: &Batch, summary: &mut Summary) -> rusqlite::Result<()> {
    let tx = conn.savepoint()?;
    let mut outcomes = Vec::with_capacity(batch.changes.len());
    for change in &batch.changes {
        let outcome = match change {
            Change::Upsert(upsert) => {
                let outcome = apply_upsert(&tx, run, &batch.folder_id, upsert)?;
                remember_skip(&tx, run, &batch.folder_id, &upsert.external_id, &upsert.version, &outcome)?;
                Some((upsert.external_id.clone(), outcome))
            }
            Change::Remove(external_id) => {
                forget_skip(&tx, run, external_id)?;
                deactivate(&tx, run, external_id)?.then(|| (external_id.clone(), Outcome::Deactivated))
            }
            Change::Unchanged(external_id) => confirm(&tx, run, external_id)?.map(|o| (external_id.clone(), o)),
            Change::Skipped(n) => Some((n.external_id.clone(), Outcome::Skipped(n.reason.clone()))),
            Change::Failed(n) => Some((n.external_id.clone(), Outcome::Failed(n.reason.clone()))),
        };
        outcomes.extend(outcome);
    }
    if batch.listing_complete {
        for external_id in deactivate_unseen(&tx, run, &batch.folder_id)? {
            outcomes.push((external_id, Outcome::Deactivated));
        }
    }
    if let Some(state) = &batch.checkpoint {
        execute(
            &tx,
            &format!(
                "INSERT INTO checkpoints (source, folder_id, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source, folder_id) DO UPDATE SET state = excluded.state, updated_at = {NOW}"
            ),
            params![run.source, batch.folder_id, state],
        )?;
    }
    tx.commit()?;
    // Count only what was committed.
    summary.touch_folder(&batch.folder_id, &batch.folder_path);
    for (contact, outcome) in outcomes {
        summary.record(&batch.folder_id, &batch.folder_path, &contact, outcome);
    }
    Ok(())
}

/// A user the contact's login or email would clash with: id, source,
/// external id.
type Clash = (i64, String, Option<String>);

/// The contact's own user, and a user its login or email would clash with
/// (one from LDAP first: it takes precedence), in one statement: SQLite
/// answers it with one index probe per condition. Login and email compare
/// without case (COLLATE NOCASE).
fn lookup(tx: &Connection, run: &RunContext, upsert: &Upsert) -> rusqlite::Result<(Option<Existing>, Option<Clash>)> {
    let mut statement = tx.prepare_cached(
        "SELECT id, source, external_id, email, firstname, lastname, phone, extra, active, folder_id FROM users
         WHERE (source = ?1 AND external_id = ?2) OR login = ?3 OR (?4 IS NOT NULL AND email = ?4)",
    )?;
    let mut rows = statement.query(params![run.source, upsert.external_id, upsert.user.login, upsert.user.email])?;
    let mut existing = None;
    let mut clashes: Vec<Clash> = Vec::new();
    while let Some(row) = rows.next()? {
        let (id, source, external_id): Clash = (row.get(0)?, row.get(1)?, row.get(2)?);
        if source == run.source && external_id.as_deref() == Some(upsert.external_id.as_str()) {
            existing = Some(Existing {
                id,
                email: row.get(3)?,
                firstname: row.get(4)?,
                lastname: row.get(5)?,
                phone: row.get(6)?,
                extra: row.get(7)?,
                active: row.get(8)?,
                folder_id: row.get(9)?,
            });
        } else {
            clashes.push((id, source, external_id));
        }
    }
    let first = clashes.iter().position(|(_, source, _)| source == "ldap").unwrap_or(0);
    let conflict = (first < clashes.len()).then(|| clashes.swap_remove(first));
    Ok((existing, conflict))
}

struct Existing {
    id: i64,
    email: Option<String>,
    firstname: String,
    lastname: String,
    phone: String,
    extra: String,
    active: bool,
    folder_id: Option<String>,
}

fn apply_upsert(tx: &Connection, run: &RunContext, folder_id: &str, upsert: &Upsert) -> rusqlite::Result<Outcome> {
    let user = &upsert.user;
    let extra: BTreeMap<&str, &str> = user.extra.iter().map(|a| (a.key.as_str(), a.value.as_str())).collect();
    let extra = serde_json::to_string(&extra).expect("a map of strings serialises");
    let (existing, conflict) = lookup(tx, run, upsert)?;
    let what = match &user.email {
        Some(email) => format!("the email address {email}"),
        None => format!("the login {}", user.login),
    };
    let adopt = match conflict {
        Some((_, source, _)) if source == "ldap" => {
            return Ok(Outcome::Skipped(format!("{what} belongs to a user from LDAP, which takes precedence")));
        }
        Some((_, source, other)) if source == run.source => {
            return Ok(Outcome::Skipped(format!(
                "duplicate email: {what} is already used by contact {}; the first contact met keeps it",
                other.unwrap_or_default()
            )));
        }
        Some((id, _, _)) if existing.is_none() => Some(id),
        Some((_, source, _)) => {
            return Ok(Outcome::Skipped(format!("{what} belongs to another helpdesk user (source {source})")));
        }
        None => None,
    };

    let values = params![
        user.login, user.email, user.firstname, user.lastname, user.phone, extra, run.source, upsert.external_id,
        folder_id, run.run_id, upsert.version
    ];
    match (existing, adopt) {
        (None, None) => {
            execute(
                tx,
                "INSERT INTO users (login, email, firstname, lastname, phone, extra, source, external_id, folder_id, last_seen_run, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                values,
            )?;
            Ok(Outcome::Created)
        }
        (existing, adopt) => {
            let id = adopt.or(existing.as_ref().map(|e| e.id)).expect("one of them is set");
            let unchanged = existing.as_ref().is_some_and(|e| {
                e.active
                    && e.email == user.email
                    && e.firstname == user.firstname
                    && e.lastname == user.lastname
                    && e.phone == user.phone
                    && e.extra == extra
                    && e.folder_id.as_deref() == Some(folder_id)
            });
            if unchanged {
                // A new change key with the same mapped fields is no change
                // to the user; remember it so the next listing can skip it.
                execute(
                    tx,
                    "UPDATE users SET last_seen_run = ?2, version = ?3 WHERE id = ?1",
                    params![id, run.run_id, upsert.version],
                )?;
                return Ok(Outcome::Unchanged);
            }
            execute(
                tx,
                &format!(
                    "UPDATE users SET login = ?1, email = ?2, firstname = ?3, lastname = ?4, phone = ?5, extra = ?6,
                     source = ?7, external_id = ?8, folder_id = ?9, last_seen_run = ?10, version = ?11, active = 1,
                     updated_at = {NOW}
                     WHERE id = ?12"
                ),
                rusqlite::params_from_iter(values.iter().copied().chain([&id as &dyn rusqlite::ToSql])),
            )?;
            Ok(Outcome::Updated)
        }
    }
}

/// Statements run once per contact are prepared once per connection.
fn execute(tx: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params)
}

/// Keep the version of a contact skipped on purpose; forget it once the
/// contact makes a user.
fn remember_skip(tx: &Connection, run: &RunContext, folder_id: &str, external_id: &str, version: &str, outcome: &Outcome) -> rusqlite::Result<()> {
    match outcome {
        Outcome::Skipped(reason) => {
            execute(
                tx,
                "INSERT INTO skipped_contacts (source, external_id, folder_id, version, reason) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source, external_id) DO UPDATE SET folder_id = excluded.folder_id, version = excluded.version,
                 reason = excluded.reason",
                params![run.source, external_id, folder_id, version, reason],
            )?;
            run.skipped.borrow_mut().insert(external_id.to_string());
        }
        _ => forget_skip(tx, run, external_id)?,
    };
    Ok(())
}

fn forget_skip(tx: &Connection, run: &RunContext, external_id: &str) -> rusqlite::Result<()> {
    if run.skipped.borrow_mut().remove(external_id) {
        execute(tx, "DELETE FROM skipped_contacts WHERE source = ?1 AND external_id = ?2", params![run.source, external_id])?;
    }
    Ok(())
}

/// A contact listed with its stored version: nothing changed, so nothing
/// is counted (as with a change-based sync); its user is marked seen.
fn confirm(tx: &Connection, run: &RunContext, external_id: &str) -> rusqlite::Result<Option<Outcome>> {
    let seen = execute(
        tx,
        "UPDATE users SET last_seen_run = ?3 WHERE source = ?1 AND external_id = ?2 AND active = 1",
        params![run.source, external_id, run.run_id],
    )?;
    let skipped = run.skipped.borrow().contains(external_id);
    Ok((seen == 0 && !skipped).then(|| Outcome::Failed("listed as unchanged, but the helpdesk has no active user for it".into())))
}

/// Deactivate the user of a removed contact; true if it was active.
fn deactivate(tx: &Connection, run: &RunContext, external_id: &str) -> rusqlite::Result<bool> {
    let changed = execute(
        tx,
        &format!("UPDATE users SET active = 0, updated_at = {NOW} WHERE source = ?1 AND external_id = ?2 AND active = 1"),
        params![run.source, external_id],
    )?;
    Ok(changed > 0)
}

/// After a complete listing of a folder: its users that the listing did
/// not mention are gone from Exchange.
fn deactivate_unseen(tx: &Connection, run: &RunContext, folder_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = tx.prepare(&format!(
        "UPDATE users SET active = 0, updated_at = {NOW}
         WHERE source = ?1 AND folder_id = ?2 AND active = 1 AND last_seen_run IS NOT ?3
         RETURNING external_id"
    ))?;
    let ids = statement.query_map(params![run.source, folder_id, run.run_id], |row| row.get(0))?;
    ids.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::User;
    use crate::store::Store;

    #[test]
    fn a_contact_clashing_with_a_local_and_an_ldap_user_is_left_to_ldap() {
        let dir = std::env::temp_dir().join(format!("apply-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("users.db")).unwrap();
        // The contact's login is a local user's, its email an LDAP user's.
        store.add_user("local", "ana@example.org", None, "Ana", "Local").unwrap();
        store.add_user("ldap", "asilva", Some("ANA@example.org"), "Ana", "Ldap").unwrap();
        let run_id = store.start_run("exchange", "full", false).unwrap();
        let user = User {
            login: "ana@example.org".into(),
            email: Some("ana@example.org".into()),
            firstname: "Ana".into(),
            lastname: "Silva".into(),
            phone: String::new(),
            extra: Vec::new(),
        };
        let upsert = Upsert { external_id: "AAMk1".into(), version: "v1".into(), user };
        let conn = store.lock();
        let run = RunContext::new(&conn, "exchange", run_id).unwrap();
        let outcome = apply_upsert(&conn, &run, "f", &upsert).unwrap();
        assert!(matches!(&outcome, Outcome::Skipped(why) if why.contains("LDAP")), "{outcome:?}");
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
