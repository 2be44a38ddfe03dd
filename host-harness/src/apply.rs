//! Applies a batch of changes to the user store, deciding for each contact
//! whether its user is created, updated, unchanged, skipped or failed. The
//! plugin proposes logins and emails; these rules, not the plugin, decide
//! which user a contact may change (README, "Who wins"):
//!
//! - A contact's own user is found by (source, external id).
//! - Users of other sources are never changed: LDAP users take precedence
//!   (a contact clashing with one is skipped, and its own user, if it had
//!   one, deactivated); users of other connectors block what they hold.
//! - A user made in the helpdesk (`local`) with exactly the contact's email
//!   is adopted when `[store] adopt_local_users` (the default); its login
//!   and email are never changed by a sync afterwards.
//! - A login or email held by a user this source does not own skips the
//!   contact with the reason; two different such users name both.
//! - Contacts sharing an email: the one whose user is stored first keeps
//!   it; the others are skipped and looked at again once that user no
//!   longer holds the email (deactivated, or changed).
//! - An inactive user blocks no email: the next contact with that email
//!   takes the user over.
//! - A contact that cannot be read, mapped or stored fails: its user stays
//!   as it is, and it is read again on the next run.
//! - A contact removed from a folder deactivates its user if the user
//!   belongs to that folder; nothing is ever deleted.

use crate::runtime::types::{Batch, Change, NotApplied, Upsert};
use crate::summary::{Named, Outcome, Summary};
use rusqlite::{Connection, OptionalExtension, params};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// What the admin configured for the store's rules.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `[store] adopt_local_users`
    pub adopt_local_users: bool,
    /// `[sync] max_deactivate_percent`
    pub max_deactivate_percent: u32,
    /// `--force`: the admin confirmed a large deactivation
    pub force: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { adopt_local_users: true, max_deactivate_percent: 30, force: false }
    }
}

/// Deactivations a run may always make, whatever their share.
pub const ALWAYS_ALLOWED: u64 = 10;

pub struct RunContext<'a> {
    pub source: &'a str,
    pub run_id: i64,
    pub policy: Policy,
    /// the external ids that have a row in skipped_contacts (and in
    /// retry_contacts), kept beside the tables: most contacts have none,
    /// and then cost no statement
    skipped: RefCell<HashSet<String>>,
    retry: RefCell<HashSet<String>>,
    /// users this run deactivated, for the safety valve
    deactivated: Cell<u64>,
}

impl<'a> RunContext<'a> {
    pub fn new(conn: &Connection, source: &'a str, run_id: i64, policy: Policy) -> rusqlite::Result<Self> {
        let ids = |sql: &str| -> rusqlite::Result<HashSet<String>> {
            let mut statement = conn.prepare(sql)?;
            let ids = statement.query_map([source], |row| row.get(0))?.collect();
            ids
        };
        let skipped = ids("SELECT external_id FROM skipped_contacts WHERE source = ?1")?;
        let retry = ids("SELECT external_id FROM retry_contacts WHERE source = ?1")?;
        Ok(RunContext {
            source,
            run_id,
            policy,
            skipped: RefCell::new(skipped),
            retry: RefCell::new(retry),
            deactivated: Cell::new(0),
        })
    }

    /// Refuse to deactivate `more` users (`applied` of them already, in
    /// the open transaction, which the refusal undoes) if the run would
    /// then have deactivated more than the configured share of the
    /// source's users (those active now, plus those this run deactivated).
    fn allow_deactivating(&self, conn: &Connection, more: u64, applied: u64) -> Result<(), ApplyError> {
        let before = self.deactivated.get();
        let total = before + more;
        self.deactivated.set(total);
        let limit = u64::from(self.policy.max_deactivate_percent);
        // A handful is never stopped: removing one of three contacts is a
        // third of a tiny book, and no accident.
        if more == 0 || self.policy.force || total <= ALWAYS_ALLOWED {
            return Ok(());
        }
        // The share is kept if at least `needed` users were active before
        // this run deactivated any; count only that far (a large directory
        // is not counted whole for a few removals).
        let needed = if limit == 0 { u64::MAX } else { (total * 100).div_ceil(limit) };
        let gone_already = before + applied;
        let wanted = needed.saturating_sub(gone_already).min(i64::MAX as u64) as i64;
        let active: i64 = conn.query_row(
            "SELECT count(*) FROM (SELECT 1 FROM users WHERE source = ?1 AND active = 1 LIMIT ?2)",
            params![self.source, wanted],
            |row| row.get(0),
        )?;
        let base = active as u64 + gone_already;
        if base >= needed {
            return Ok(());
        }
        Err(ApplyError::Refused(format!(
            "this run would deactivate {total} of the {base} active users of this source ({} %), more than \
             [sync] max_deactivate_percent = {limit}; nothing was deactivated. If that is what you want, \
             run the sync once with --force, or raise the setting",
            total * 100 / base.max(1),
        )))
    }
}

/// Why a batch was not applied.
#[derive(Debug)]
pub enum ApplyError {
    Store(rusqlite::Error),
    /// a rule of the store refused it (the safety valve)
    Refused(String),
}

impl From<rusqlite::Error> for ApplyError {
    fn from(e: rusqlite::Error) -> Self {
        ApplyError::Store(e)
    }
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::Store(e) => write!(f, "{e}"),
            ApplyError::Refused(why) => f.write_str(why),
        }
    }
}

/// What a change did, to be counted once the batch is committed.
type Outcomes = Vec<(Named, Outcome)>;

/// Apply `batch` and its checkpoint in one transaction (a savepoint, so
/// that a dry run can hold everything in one outer transaction). A batch
/// without a folder id is the plugin's complete list of address books.
pub fn apply_batch(conn: &mut Connection, run: &RunContext, batch: &Batch, summary: &mut Summary) -> Result<(), ApplyError> {
    if batch.folder_id.is_empty() {
        return apply_folder_set(conn, run, batch, summary);
    }
    let tx = conn.savepoint()?;
    execute(
        &tx,
        "INSERT INTO folders (source, folder_id, path) VALUES (?1, ?2, ?3)
         ON CONFLICT (source, folder_id) DO UPDATE SET path = excluded.path WHERE path IS NOT excluded.path",
        params![run.source, batch.folder_id, batch.folder_path],
    )?;
    let folder = batch.folder_id.as_str();
    let mut outcomes: Outcomes = Vec::with_capacity(batch.changes.len());
    for change in &batch.changes {
        match change {
            Change::Upsert(upsert) => outcomes.extend(guarded_upsert(&tx, run, folder, upsert)?),
            Change::Remove(external_id) => {
                forget(&tx, run, Some(folder), external_id)?;
                if let Some(named) = deactivate(&tx, run, folder, external_id)? {
                    run.allow_deactivating(&tx, 1, 1)?;
                    outcomes.push((named, Outcome::Deactivated));
                }
            }
            Change::Unchanged(external_id) => {
                if let Some(outcome) = confirm(&tx, run, external_id)? {
                    outcomes.push((Named::id(external_id), outcome));
                }
            }
            Change::Skipped(n) => outcomes.push((Named::id(&n.external_id), Outcome::Skipped(n.reason.clone()))),
            Change::Failed(n) => outcomes.push(failed(&tx, run, folder, n)?),
        }
    }
    if batch.listing_complete {
        let gone = unseen(&tx, run, folder)?;
        run.allow_deactivating(&tx, gone.len() as u64, 0)?;
        for named in gone {
            execute(&tx, &format!("UPDATE users SET active = 0, updated_at = {NOW} WHERE source = ?1 AND external_id = ?2"), params![run.source, named.id])?;
            outcomes.push((named, Outcome::Deactivated));
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

/// The plugin listed the address books it syncs (`unchanged`), and the
/// parts of the tree it could not walk (`skipped`, the display path as the
/// reason): the users of the other folders the store knows (deleted in
/// Exchange, or no longer chosen in `folders`) are deactivated, unless they
/// lie in such a part, and those folders' checkpoints forgotten.
fn apply_folder_set(conn: &mut Connection, run: &RunContext, batch: &Batch, summary: &mut Summary) -> Result<(), ApplyError> {
    let mut present: HashSet<&str> = HashSet::new();
    let mut unlisted: Vec<&str> = Vec::new();
    for change in &batch.changes {
        match change {
            Change::Unchanged(id) => {
                present.insert(id.as_str());
            }
            Change::Skipped(part) => unlisted.push(part.reason.as_str()),
            _ => {}
        }
    }
    let unknown = |path: &str| {
        unlisted.iter().any(|part| path == *part || path.strip_prefix(part).is_some_and(|rest| rest.starts_with(" -> ")))
    };
    let tx = conn.savepoint()?;
    let known: Vec<(String, String)> = {
        let mut statement = tx.prepare(
            // Every folder a batch was written for is in `folders`.
            "SELECT f.folder_id, coalesce(p.path, f.folder_id) FROM
               (SELECT folder_id FROM checkpoints WHERE source = ?1
                UNION SELECT folder_id FROM folders WHERE source = ?1) f
             LEFT JOIN folders p ON p.source = ?1 AND p.folder_id = f.folder_id",
        )?;
        let rows = statement.query_map([run.source], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let gone: Vec<(String, String)> =
        known.into_iter().filter(|(id, path)| !present.contains(id.as_str()) && !unknown(path)).collect();
    let mut deactivated = Vec::new();
    for (folder_id, path) in &gone {
        let users = {
            let mut statement = tx.prepare(&format!(
                "UPDATE users SET active = 0, updated_at = {NOW} WHERE source = ?1 AND folder_id = ?2 AND active = 1
                 RETURNING external_id, trim(firstname || ' ' || lastname), email"
            ))?;
            let rows = statement.query_map(params![run.source, folder_id], named_row)?;
            rows.collect::<rusqlite::Result<Vec<Named>>>()?
        };
        for table in ["checkpoints", "skipped_contacts", "retry_contacts", "folders"] {
            tx.execute(&format!("DELETE FROM {table} WHERE source = ?1 AND folder_id = ?2"), params![run.source, folder_id])?;
        }
        deactivated.push((folder_id, path, users));
    }
    // The valve counts them all at once, before any of it is kept.
    let count = deactivated.iter().map(|(_, _, users)| users.len() as u64).sum();
    run.allow_deactivating(&tx, count, count)?;
    tx.commit()?;
    for (folder_id, path, users) in deactivated {
        summary.warnings.push(format!(
            "the address book '{path}' is gone (deleted in Exchange, or no longer chosen in [exchange] folders): \
             {} of its users deactivated",
            users.len()
        ));
        summary.touch_folder(folder_id, path);
        for named in users {
            summary.record(folder_id, path, &named, Outcome::Deactivated);
        }
    }
    Ok(())
}

fn named_row(row: &rusqlite::Row) -> rusqlite::Result<Named> {
    Ok(Named { id: row.get(0)?, name: row.get(1)?, email: row.get(2)? })
}

/// A user row as the rules look at it.
struct Row {
    id: i64,
    login: String,
    source: String,
    external_id: Option<String>,
    email: Option<String>,
    firstname: String,
    lastname: String,
    phone: String,
    extra: String,
    active: bool,
    adopted: bool,
    folder_id: Option<String>,
}

impl Row {
    fn describe(&self) -> String {
        let name = format!("{} {}", self.firstname, self.lastname);
        let name = name.trim();
        match (&self.external_id, self.source.as_str()) {
            (Some(id), source) if source != "local" && source != "ldap" => {
                format!("user {} of contact {id} ({name}, source {source})", self.login)
            }
            (_, source) => format!("user {} ({name}, source {source})", self.login),
        }
    }
}

/// The contact's own user, and the other users with its login or email,
/// in one statement (one index probe per condition). Login and email
/// compare without case (COLLATE NOCASE).
fn lookup(tx: &Connection, run: &RunContext, upsert: &Upsert) -> rusqlite::Result<(Option<Row>, Vec<Row>)> {
    let mut statement = tx.prepare_cached(
        "SELECT id, login, source, external_id, email, firstname, lastname, phone, extra, active, adopted, folder_id
         FROM users WHERE (source = ?1 AND external_id = ?2) OR login = ?3 OR (?4 IS NOT NULL AND email = ?4)",
    )?;
    let mut rows = statement.query(params![run.source, upsert.external_id, upsert.user.login, upsert.user.email])?;
    let (mut own, mut others) = (None, Vec::new());
    while let Some(row) = rows.next()? {
        let found = Row {
            id: row.get(0)?,
            login: row.get(1)?,
            source: row.get(2)?,
            external_id: row.get(3)?,
            email: row.get(4)?,
            firstname: row.get(5)?,
            lastname: row.get(6)?,
            phone: row.get(7)?,
            extra: row.get(8)?,
            active: row.get(9)?,
            adopted: row.get(10)?,
            folder_id: row.get(11)?,
        };
        if found.source == run.source && found.external_id.as_deref() == Some(upsert.external_id.as_str()) {
            own = Some(found);
        } else {
            others.push(found);
        }
    }
    Ok((own, others))
}

/// Apply one upsert in a savepoint of its own: a constraint the store
/// enforces (a unique login, say) fails this contact, not the run.
fn guarded_upsert(tx: &Connection, run: &RunContext, folder_id: &str, upsert: &Upsert) -> rusqlite::Result<Outcomes> {
    match in_savepoint(tx, "contact", || apply_upsert(tx, run, folder_id, upsert)) {
        Err(e) if refused_contact(&e) => {
            let failure = NotApplied {
                external_id: upsert.external_id.clone(),
                reason: format!("refused by the store: {e}"),
            };
            let (mut named, outcome) = failed(tx, run, folder_id, &failure)?;
            named.name = display_name(&upsert.user.firstname, &upsert.user.lastname);
            named.email = upsert.user.email.clone();
            Ok(vec![(named, outcome)])
        }
        other => other,
    }
}

/// Run `body` in a savepoint: kept whole when it succeeds, undone whole
/// when it fails (savepoints nest in any transaction around them).
fn in_savepoint<T>(conn: &Connection, name: &str, body: impl FnOnce() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    execute(conn, &format!("SAVEPOINT {name}"), [])?;
    match body() {
        Ok(value) => {
            execute(conn, &format!("RELEASE {name}"), [])?;
            Ok(value)
        }
        Err(e) => {
            execute(conn, &format!("ROLLBACK TO {name}"), [])?;
            execute(conn, &format!("RELEASE {name}"), [])?;
            Err(e)
        }
    }
}

/// A constraint on the user table (not a trigger: those stand for the
/// store as a whole refusing, as a full disk would).
fn refused_contact(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == rusqlite::ErrorCode::ConstraintViolation && f.extended_code != rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER)
}

fn display_name(firstname: &str, lastname: &str) -> String {
    format!("{firstname} {lastname}").trim().to_string()
}

/// How a user the contact clashes with stands to it.
enum Clash<'r> {
    Ldap(&'r Row),
    /// another contact of this source holds it
    Duplicate(&'r Row),
    /// an inactive user of this source with the contact's email: the
    /// contact takes it over
    Vacant(&'r Row),
    /// a local user with the contact's email
    Adoptable(&'r Row),
    /// a user this source does not own, or may not take
    Foreign(&'r Row),
}

fn apply_upsert(tx: &Connection, run: &RunContext, folder_id: &str, upsert: &Upsert) -> rusqlite::Result<Outcomes> {
    let user = &upsert.user;
    let (own, others) = lookup(tx, run, upsert)?;
    let named = Named {
        id: upsert.external_id.clone(),
        name: display_name(&user.firstname, &user.lastname),
        email: user.email.clone(),
    };
    let same_email = |row: &Row| match (&user.email, &row.email) {
        (Some(mine), Some(theirs)) => mine.eq_ignore_ascii_case(theirs),
        _ => false,
    };
    // An inactive user holds its login (the store keeps logins unique)
    // but not its email.
    let clashes: Vec<Clash> = others
        .iter()
        .filter(|row| row.login.eq_ignore_ascii_case(&user.login) || (row.active && same_email(row)))
        .map(|row| match row.source.as_str() {
            "ldap" => Clash::Ldap(row),
            source if source == run.source && row.active => Clash::Duplicate(row),
            source if source == run.source && own.is_none() && same_email(row) => Clash::Vacant(row),
            "local" if row.active && same_email(row) && own.is_none() => Clash::Adoptable(row),
            _ => Clash::Foreign(row),
        })
        .collect();

    let skip = |why: String, blocker: &Row, on: String| -> rusqlite::Result<Outcomes> {
        remember_skip(tx, run, folder_id, upsert, &why, Some((blocker.id, &on)))?;
        // Its own user, if it has one, stays as it is.
        if let Some(own) = &own {
            execute(tx, "UPDATE users SET last_seen_run = ?2 WHERE id = ?1", params![own.id, run.run_id])?;
        }
        Ok(vec![(named.clone(), Outcome::Skipped(why))])
    };
    let held = |row: &Row| -> String {
        if same_email(row) && row.active {
            format!("the email address {}", user.email.as_deref().unwrap_or_default())
        } else {
            format!("the login {}", user.login)
        }
    };
    let key = |row: &Row| if same_email(row) && row.active { user.email.clone().unwrap_or_default() } else { user.login.clone() };

    let target = match clashes.as_slice() {
        [] => own.as_ref(),
        [first, second, ..] => {
            let (a, b) = (clash_row(first), clash_row(second));
            let why = format!(
                "held by other users: {} belongs to {}, and {} to {}; this source owns neither",
                held(a),
                a.describe(),
                held(b),
                b.describe()
            );
            return skip(why, a, key(a));
        }
        [Clash::Ldap(row)] => {
            let why = format!("LDAP user: {} belongs to {}, which takes precedence", held(row), row.describe());
            let mut outcomes = skip(why, row, key(row))?;
            if let Some(own) = own.as_ref().filter(|own| own.active) {
                execute(tx, &format!("UPDATE users SET active = 0, updated_at = {NOW} WHERE id = ?1"), [own.id])?;
                outcomes.push((named.clone(), Outcome::Deactivated));
            }
            return Ok(outcomes);
        }
        [Clash::Duplicate(row)] => {
            let why = format!(
                "duplicate email: {} is already used by {}; the contact stored first keeps it",
                held(row),
                row.describe()
            );
            return skip(why, row, key(row));
        }
        [Clash::Adoptable(row)] if !run.policy.adopt_local_users => {
            let why = format!(
                "helpdesk user, not adopted: {} belongs to {}, made in the helpdesk; [store] adopt_local_users = false keeps it apart",
                held(row),
                row.describe()
            );
            return skip(why, row, key(row));
        }
        [Clash::Adoptable(row)] => {
            execute(tx, "UPDATE users SET adopted = 1 WHERE id = ?1", [row.id])?;
            Some(*row)
        }
        [Clash::Vacant(row)] => Some(*row),
        [Clash::Foreign(row)] => {
            let whose = if row.source == run.source { "an inactive user this contact may not take" } else { "a user this source does not own" };
            let why = format!("held by another user: {} belongs to {}, {whose}", held(row), row.describe());
            return skip(why, row, key(row));
        }
    };

    forget(tx, run, None, &upsert.external_id)?;
    let extra: BTreeMap<&str, &str> = user.extra.iter().map(|a| (a.key.as_str(), a.value.as_str())).collect();
    let extra = serde_json::to_string(&extra).expect("a map of strings serialises");
    let Some(target) = target else {
        execute(
            tx,
            "INSERT INTO users (login, email, firstname, lastname, phone, extra, source, external_id, folder_id, last_seen_run, version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                user.login, user.email, user.firstname, user.lastname, user.phone, extra, run.source,
                upsert.external_id, folder_id, run.run_id, upsert.version
            ],
        )?;
        return Ok(vec![(named, Outcome::Created)]);
    };
    // An adopted user keeps the login and email it was made with.
    let adopted = target.adopted || matches!(clashes.as_slice(), [Clash::Adoptable(_)]);
    let (login, email) = if adopted { (target.login.as_str(), target.email.clone()) } else { (user.login.as_str(), user.email.clone()) };
    let is_own = own.as_ref().is_some_and(|o| o.id == target.id);
    let unchanged = is_own
        && target.active
        && target.login == login
        && target.email == email
        && target.firstname == user.firstname
        && target.lastname == user.lastname
        && target.phone == user.phone
        && target.extra == extra
        && target.folder_id.as_deref() == Some(folder_id);
    if unchanged {
        // A new change key with the same mapped fields is no change to the
        // user; remember it so the next listing can skip it.
        execute(tx, "UPDATE users SET last_seen_run = ?2, version = ?3 WHERE id = ?1", params![target.id, run.run_id, upsert.version])?;
        return Ok(vec![(named, Outcome::Unchanged)]);
    }
    execute(
        tx,
        &format!(
            "UPDATE users SET login = ?1, email = ?2, firstname = ?3, lastname = ?4, phone = ?5, extra = ?6,
             source = ?7, external_id = ?8, folder_id = ?9, last_seen_run = ?10, version = ?11, active = 1,
             updated_at = {NOW}
             WHERE id = ?12"
        ),
        params![
            login, email, user.firstname, user.lastname, user.phone, extra, run.source, upsert.external_id, folder_id,
            run.run_id, upsert.version, target.id
        ],
    )?;
    // A user taken over (an inactive one, or adopted) counts as updated.
    Ok(vec![(named, Outcome::Updated)])
}

fn clash_row<'r>(clash: &Clash<'r>) -> &'r Row {
    match clash {
        Clash::Ldap(row) | Clash::Duplicate(row) | Clash::Vacant(row) | Clash::Adoptable(row) | Clash::Foreign(row) => row,
    }
}

/// Statements run once per contact are prepared once per connection.
fn execute(tx: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params)
}

/// Keep the version of a contact skipped on purpose, and what blocked it
/// (a user, on an email or a login), so that it is read again once that
/// user no longer blocks it.
fn remember_skip(
    tx: &Connection,
    run: &RunContext,
    folder_id: &str,
    upsert: &Upsert,
    reason: &str,
    blocker: Option<(i64, &str)>,
) -> rusqlite::Result<()> {
    execute(
        tx,
        "INSERT INTO skipped_contacts (source, external_id, folder_id, version, reason, blocker_id, blocked_on)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (source, external_id) DO UPDATE SET folder_id = excluded.folder_id, version = excluded.version,
         reason = excluded.reason, blocker_id = excluded.blocker_id, blocked_on = excluded.blocked_on",
        params![run.source, upsert.external_id, folder_id, upsert.version, reason, blocker.map(|b| b.0), blocker.map(|b| b.1)],
    )?;
    run.skipped.borrow_mut().insert(upsert.external_id.clone());
    if run.retry.borrow_mut().remove(&upsert.external_id) {
        execute(tx, "DELETE FROM retry_contacts WHERE source = ?1 AND external_id = ?2", params![run.source, upsert.external_id])?;
    }
    Ok(())
}

/// The contact made a user (`folder_id` None: wherever its rows are, it
/// may have moved), or was removed from `folder_id`: it is neither skipped
/// nor waiting for a retry there any more.
fn forget(tx: &Connection, run: &RunContext, folder_id: Option<&str>, external_id: &str) -> rusqlite::Result<()> {
    for (ids, table) in [(&run.skipped, "skipped_contacts"), (&run.retry, "retry_contacts")] {
        if ids.borrow().contains(external_id) {
            let removed = execute(
                tx,
                &format!("DELETE FROM {table} WHERE source = ?1 AND external_id = ?2 AND (?3 IS NULL OR folder_id = ?3)"),
                params![run.source, external_id, folder_id],
            )?;
            if removed > 0 {
                ids.borrow_mut().remove(external_id);
            }
        }
    }
    Ok(())
}

/// A contact that could not be read, mapped or stored: its user, if it has
/// one, stays as it is and counts as seen (a failure is no removal), and
/// the contact is kept for the next run to read again.
fn failed(tx: &Connection, run: &RunContext, folder_id: &str, failure: &NotApplied) -> rusqlite::Result<(Named, Outcome)> {
    // An entry without an id cannot be asked for again. Its reason names it
    // as `(contact Name <email>)`: a user of this folder with that email
    // may be it, and counts as seen (a failure is no removal).
    if failure.external_id.is_empty() {
        let email = failure.reason.rsplit_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(email, _)| email);
        if let Some(email) = email {
            execute(
                tx,
                "UPDATE users SET last_seen_run = ?3 WHERE source = ?1 AND folder_id = ?2 AND email = ?4 AND active = 1",
                params![run.source, folder_id, run.run_id, email],
            )?;
        }
        let named = Named { email: email.map(str::to_string), ..Named::id("") };
        return Ok((named, Outcome::Failed(failure.reason.clone())));
    }
    let user = tx
        .prepare_cached(
            "UPDATE users SET last_seen_run = ?3 WHERE source = ?1 AND external_id = ?2
             RETURNING external_id, trim(firstname || ' ' || lastname), email",
        )?
        .query_row(params![run.source, failure.external_id, run.run_id], named_row)
        .optional()?;
    execute(
        tx,
        "INSERT INTO retry_contacts (source, external_id, folder_id, reason) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (source, external_id) DO UPDATE SET folder_id = excluded.folder_id, reason = excluded.reason",
        params![run.source, failure.external_id, folder_id, failure.reason],
    )?;
    run.retry.borrow_mut().insert(failure.external_id.clone());
    Ok((user.unwrap_or_else(|| Named::id(&failure.external_id)), Outcome::Failed(failure.reason.clone())))
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

/// Deactivate the user of a contact removed from `folder_id`, if the user
/// belongs to that folder (a contact moved elsewhere keeps its user).
fn deactivate(tx: &Connection, run: &RunContext, folder_id: &str, external_id: &str) -> rusqlite::Result<Option<Named>> {
    tx.prepare_cached(&format!(
        "UPDATE users SET active = 0, updated_at = {NOW}
         WHERE source = ?1 AND external_id = ?2 AND folder_id = ?3 AND active = 1
         RETURNING external_id, trim(firstname || ' ' || lastname), email"
    ))?
    .query_row(params![run.source, external_id, folder_id], named_row)
    .optional()
}

/// After a complete listing of a folder: its active users that the listing
/// did not mention are gone from Exchange.
fn unseen(tx: &Connection, run: &RunContext, folder_id: &str) -> rusqlite::Result<Vec<Named>> {
    let mut statement = tx.prepare(
        "SELECT external_id, trim(firstname || ' ' || lastname), email FROM users
         WHERE source = ?1 AND folder_id = ?2 AND active = 1 AND last_seen_run IS NOT ?3",
    )?;
    let rows = statement.query_map(params![run.source, folder_id, run.run_id], named_row)?;
    rows.collect()
}

/// Before a run reads anything: contacts skipped because of a user that
/// no longer blocks them (deactivated, or its email or login changed) are
/// read again; users of this source whose email or login an active LDAP
/// user now has are deactivated, LDAP taking precedence.
pub fn reconsider(conn: &Connection, source: &str) -> rusqlite::Result<Summary> {
    // All of it or nothing.
    in_savepoint(conn, "reconsider", || reconsider_in(conn, source))
}

fn reconsider_in(conn: &Connection, source: &str) -> rusqlite::Result<Summary> {
    let mut summary = Summary::default();
    conn.execute(
        "INSERT INTO retry_contacts (source, external_id, folder_id, reason)
         SELECT source, external_id, folder_id, 'looked at again: ' || reason FROM skipped_contacts s
         WHERE s.source = ?1 AND NOT EXISTS (
             SELECT 1 FROM users u WHERE u.id = s.blocker_id AND u.active = 1
             AND (u.email = s.blocked_on OR u.login = s.blocked_on))
         ON CONFLICT (source, external_id) DO NOTHING",
        [source],
    )?;
    conn.execute(
        "DELETE FROM skipped_contacts WHERE source = ?1
         AND external_id IN (SELECT external_id FROM retry_contacts WHERE source = ?1)",
        [source],
    )?;
    let taken: Vec<(Named, String, String, i64, String, Option<String>, i64)> = {
        // From the LDAP side (few users, often none), one index probe each
        // on login and on email.
        let mut statement = conn.prepare(
            "SELECT u.external_id, trim(u.firstname || ' ' || u.lastname), u.email, coalesce(u.folder_id, ''),
                    l.login, l.id, u.login, u.version, u.id
             FROM users l JOIN users u ON u.login = l.login
             WHERE l.source = 'ldap' AND l.active = 1 AND u.source = ?1 AND u.active = 1
             UNION
             SELECT u.external_id, trim(u.firstname || ' ' || u.lastname), u.email, coalesce(u.folder_id, ''),
                    l.login, l.id, u.login, u.version, u.id
             FROM users l JOIN users u ON u.email = l.email
             WHERE l.source = 'ldap' AND l.active = 1 AND l.email IS NOT NULL AND u.source = ?1 AND u.active = 1",
        )?;
        let rows = statement.query_map([source], |row| {
            Ok((named_row(row)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?, row.get(8)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (named, folder_id, ldap_login, ldap_id, login, version, id) in taken {
        conn.execute(&format!("UPDATE users SET active = 0, updated_at = {NOW} WHERE id = ?1 AND active = 1"), [id])?;
        let on = named.email.clone().unwrap_or(login);
        let why = format!("LDAP user: an LDAP user ({ldap_login}) now has {on}, and LDAP takes precedence");
        conn.execute(
            "INSERT INTO skipped_contacts (source, external_id, folder_id, version, reason, blocker_id, blocked_on)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (source, external_id) DO UPDATE SET version = excluded.version, reason = excluded.reason,
             blocker_id = excluded.blocker_id, blocked_on = excluded.blocked_on",
            params![source, named.id, folder_id, version, why, ldap_id, on],
        )?;
        let path: String = conn
            .query_row("SELECT path FROM folders WHERE source = ?1 AND folder_id = ?2", params![source, folder_id], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| folder_id.clone());
        summary.record(&folder_id, &path, &named, Outcome::Skipped(why));
        summary.record(&folder_id, &path, &named, Outcome::Deactivated);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::User;
    use crate::store::Store;

    fn upsert(id: &str, login: &str, email: Option<&str>) -> Upsert {
        let user = User {
            login: login.into(),
            email: email.map(str::to_string),
            firstname: "Ana".into(),
            lastname: "Silva".into(),
            phone: String::new(),
            extra: Vec::new(),
        };
        Upsert { external_id: id.into(), version: "v1".into(), user }
    }

    fn with_store(test: impl FnOnce(&Store, i64)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("users.db")).unwrap();
        let run_id = store.start_run("exchange", "full", false).unwrap();
        test(&store, run_id);
    }

    #[test]
    fn a_contact_clashing_with_a_local_and_an_ldap_user_names_both_and_changes_neither() {
        with_store(|store, run_id| {
            // The contact's login is a local user's, its email an LDAP user's.
            store.add_user("local", "ana@example.org", None, "Ana", "Local").unwrap();
            store.add_user("ldap", "asilva", Some("ANA@example.org"), "Ana", "Ldap").unwrap();
            let before = store.users().unwrap();
            let conn = store.lock();
            let run = RunContext::new(&conn, "exchange", run_id, Policy::default()).unwrap();
            let outcomes = guarded_upsert(&conn, &run, "f", &upsert("AAMk1", "ana@example.org", Some("ana@example.org"))).unwrap();
            let [(_, Outcome::Skipped(why))] = outcomes.as_slice() else { panic!("{outcomes:?}") };
            assert!(why.contains("asilva") && why.contains("source local"), "{why}");
            drop(conn);
            assert_eq!(store.users().unwrap(), before);
        });
    }

    #[test]
    fn a_store_constraint_fails_the_contact_not_the_batch() {
        with_store(|store, run_id| {
            store.lock().execute_batch("CREATE UNIQUE INDEX odd ON users (phone) WHERE phone <> ''").unwrap();
            let conn = store.lock();
            let run = RunContext::new(&conn, "exchange", run_id, Policy::default()).unwrap();
            let mut a = upsert("A", "a@example.org", Some("a@example.org"));
            a.user.phone = "+1".into();
            let mut b = upsert("B", "b@example.org", Some("b@example.org"));
            b.user.phone = "+1".into();
            assert!(matches!(guarded_upsert(&conn, &run, "f", &a).unwrap()[0].1, Outcome::Created));
            let outcomes = guarded_upsert(&conn, &run, "f", &b).unwrap();
            assert!(matches!(&outcomes[0].1, Outcome::Failed(why) if why.contains("UNIQUE")), "{outcomes:?}");
            let retry: i64 = conn.query_row("SELECT count(*) FROM retry_contacts WHERE external_id = 'B'", [], |r| r.get(0)).unwrap();
            assert_eq!(retry, 1, "kept to be read again");
        });
    }

    #[test]
    fn a_removal_from_another_folder_leaves_a_moved_contacts_user_active() {
        with_store(|store, run_id| {
            let mut conn = store.lock();
            let run = RunContext::new(&conn, "exchange", run_id, Policy::default()).unwrap();
            let batch = |folder: &str, changes: Vec<Change>| Batch {
                folder_id: folder.into(),
                folder_path: folder.into(),
                changes,
                checkpoint: None,
                listing_complete: false,
            };
            let mut summary = Summary::default();
            // The contact moved from A to B with its immutable id; B syncs first.
            let moved = Change::Upsert(upsert("AAMk1", "ana@example.org", Some("ana@example.org")));
            apply_batch(&mut conn, &run, &batch("A", vec![moved.clone()]), &mut summary).unwrap();
            apply_batch(&mut conn, &run, &batch("B", vec![moved]), &mut summary).unwrap();
            apply_batch(&mut conn, &run, &batch("A", vec![Change::Remove("AAMk1".into())]), &mut summary).unwrap();
            assert_eq!(summary.counts.deactivated, 0);
            let (active, folder): (bool, String) =
                conn.query_row("SELECT active, folder_id FROM users WHERE external_id = 'AAMk1'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            assert_eq!((active, folder.as_str()), (true, "B"));
            // Removed from its own folder, it is deactivated.
            apply_batch(&mut conn, &run, &batch("B", vec![Change::Remove("AAMk1".into())]), &mut summary).unwrap();
            assert_eq!(summary.counts.deactivated, 1);
        });
    }
}
