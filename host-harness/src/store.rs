//! The helpdesk's user store in SQLite: users, sync runs and per-folder
//! checkpoints.

use anyhow::{Context, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    login         TEXT NOT NULL COLLATE NOCASE UNIQUE,
    email         TEXT COLLATE NOCASE,
    firstname     TEXT NOT NULL DEFAULT '',
    lastname      TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    extra         TEXT NOT NULL DEFAULT '{}',
    -- where the user comes from: 'exchange', 'ldap', 'local', ...
    source        TEXT NOT NULL,
    -- the source's id of the user (an Exchange item id: case-sensitive)
    external_id   TEXT,
    folder_id     TEXT,
    -- the source's version of the record (an EWS change key)
    version       TEXT,
    active        INTEGER NOT NULL DEFAULT 1,
    -- a user made in the helpdesk that a contact adopted: the source never
    -- changes its login or email
    adopted       INTEGER NOT NULL DEFAULT 0,
    last_seen_run INTEGER,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (source, external_id)
);
CREATE INDEX IF NOT EXISTS users_email ON users (email);
CREATE INDEX IF NOT EXISTS users_folder ON users (source, folder_id);

-- contacts skipped on purpose (duplicate email, LDAP user), with their
-- version, so that a listing compared with what is stored skips them too,
-- and the user that blocked them and on what (an email or a login), so
-- that they are read again once that user no longer blocks it
CREATE TABLE IF NOT EXISTS skipped_contacts (
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    folder_id   TEXT NOT NULL,
    version     TEXT,
    reason      TEXT NOT NULL,
    PRIMARY KEY (source, external_id)
);

-- contacts that could not be read, mapped or stored: read again on the
-- next run, whatever the folder's checkpoint says, until they succeed or
-- the directory reports them deleted
CREATE TABLE IF NOT EXISTS retry_contacts (
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    folder_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (source, external_id)
);

-- the address books a source has synced, with their last display path
CREATE TABLE IF NOT EXISTS folders (
    source    TEXT NOT NULL,
    folder_id TEXT NOT NULL,
    path      TEXT NOT NULL,
    PRIMARY KEY (source, folder_id)
);

CREATE TABLE IF NOT EXISTS sync_runs (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    mode        TEXT NOT NULL,
    dry_run     INTEGER NOT NULL,
    started_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at TEXT,
    status      TEXT NOT NULL DEFAULT 'running',
    summary     TEXT,
    error       TEXT
);

CREATE TABLE IF NOT EXISTS checkpoints (
    source     TEXT NOT NULL,
    folder_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (source, folder_id)
);

-- custom user fields the helpdesk declares, besides the standard ones
CREATE TABLE IF NOT EXISTS user_fields (
    name  TEXT PRIMARY KEY,
    label TEXT NOT NULL
);
"#;

/// The standard user fields, as (name, label).
pub const STANDARD_FIELDS: &[(&str, &str)] =
    &[("login", "Login"), ("email", "Email"), ("firstname", "First name"), ("lastname", "Last name"), ("phone", "Phone")];

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// the database file; None in memory
    path: Option<PathBuf>,
}

/// Held while a sync runs; dropping it lets the next run in.
pub struct RunLock {
    file: Option<std::fs::File>,
}

impl Drop for RunLock {
    /// Unlock before closing: a child process spawned meanwhile by another
    /// thread (curl, python) shares the open file until it execs, and a
    /// close alone would leave the lock held by that copy for that moment.
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            let _ = file.unlock();
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserRow {
    pub login: String,
    pub email: Option<String>,
    pub firstname: String,
    pub lastname: String,
    pub phone: String,
    pub extra: serde_json::Value,
    pub active: bool,
    pub source: String,
    pub external_id: Option<String>,
    pub folder_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub mode: String,
    pub dry_run: bool,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub summary: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// Columns added after a database may have been made: (table, column,
/// definition).
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("users", "adopted", "INTEGER NOT NULL DEFAULT 0"),
    ("skipped_contacts", "blocker_id", "INTEGER"),
    ("skipped_contacts", "blocked_on", "TEXT"),
    ("documents", "event", "TEXT"),
    ("documents", "task", "TEXT"),
];

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    // Databases from before the folders table: their users' folders.
    let empty: bool = conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM folders)", [], |row| row.get(0))?;
    if empty {
        conn.execute_batch(
            "INSERT OR IGNORE INTO folders (source, folder_id, path)
             SELECT DISTINCT source, folder_id, folder_id FROM users WHERE folder_id IS NOT NULL",
        )?;
    }
    for (table, column, definition) in ADDED_COLUMNS {
        let exists: bool = conn.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
            params![table, column],
            |row| row.get(0),
        )?;
        if !exists {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition}"))?;
        }
    }
    Ok(())
}

/// What [`Store::purge`] removed from a database.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub database: PathBuf,
    pub documents: u64,
    pub checkpoints: u64,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).with_context(|| format!("opening the database {}", path.display()))?;
        Store::with(conn, Some(path.to_path_buf()))
    }

    pub fn in_memory() -> Result<Store> {
        Store::with(Connection::open_in_memory()?, None)
    }

    /// Take the database's sync lock, or fail at once if a run holds it.
    /// A lock file beside the database, so that the OS releases it when a
    /// process dies.
    pub fn run_lock(&self) -> Result<RunLock> {
        let Some(path) = &self.path else { return Ok(RunLock { file: None }) };
        let lock_path = PathBuf::from(format!("{}.sync-lock", path.display()));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock { file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => {
                anyhow::bail!("another sync of {} is running; this one was not started", path.display())
            }
            Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", lock_path.display())),
        }
    }

    fn with(conn: Connection, path: Option<PathBuf>) -> Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // With WAL, NORMAL cannot corrupt the database; a power cut may
        // lose the last batches, and their checkpoint with them, so the
        // next run reads them again.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoint the WAL into the database every 16 MiB rather than
        // every 4: a sync of many contacts rewrites the same index pages.
        conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
        // 16 MiB of page cache (the default is 2): the indexes of a large
        // directory are written in random order.
        conn.pragma_update(None, "cache_size", -32768)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        crate::documents::register_functions(&conn).context("registering the index functions")?;
        conn.execute_batch(SCHEMA).context("creating the schema")?;
        conn.execute_batch(crate::documents::SCHEMA).context("creating the document tables")?;
        migrate(&conn).context("updating the schema")?;
        crate::documents::migrate(&conn).context("updating the document index")?;
        Ok(Store { conn: Arc::new(Mutex::new(conn)), path })
    }

    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forget what a source has synced into this database but its users:
    /// its documents, their readers, its checkpoints, the contacts it
    /// skipped or means to read again, its address books. The users stay,
    /// as helpdesk users do when their directory goes; a later sync of the
    /// source starts over with a full listing and takes them up again by
    /// their ids. Refused while a sync runs on the database.
    pub fn purge(&self, source: &str) -> Result<Purged> {
        let _lock = self.run_lock()?;
        let mut conn = self.lock();
        let transaction = conn.transaction()?;
        let documents = transaction.execute("DELETE FROM documents WHERE source = ?1", [source])?;
        let mut checkpoints = transaction.execute("DELETE FROM checkpoints WHERE source = ?1", [source])?;
        checkpoints += transaction.execute("DELETE FROM document_checkpoints WHERE source = ?1", [source])?;
        for table in ["retry_documents", "folder_readers", "mailbox_readers", "retry_contacts", "skipped_contacts", "folders"] {
            transaction.execute(&format!("DELETE FROM {table} WHERE source = ?1"), [source])?;
        }
        transaction.commit()?;
        Ok(Purged { database: self.path.clone().unwrap_or_default(), documents: documents as u64, checkpoints: checkpoints as u64 })
    }

    /// How many documents of each kind a mailbox has.
    pub fn document_kinds_of(&self, mailbox: &str) -> Result<std::collections::BTreeMap<String, u64>> {
        let conn = self.lock();
        let mut statement = conn.prepare("SELECT kind, count(*) FROM documents WHERE mailbox = ?1 GROUP BY kind")?;
        let counts = statement.query_map([mailbox], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))?.collect::<rusqlite::Result<_>>()?;
        Ok(counts)
    }

    /// The mailboxes that have documents, in order.
    pub fn document_mailboxes(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut statement = conn.prepare("SELECT DISTINCT mailbox FROM documents ORDER BY 1")?;
        let mailboxes = statement.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(mailboxes)
    }

    pub fn users(&self) -> Result<Vec<UserRow>> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT login, email, firstname, lastname, phone, extra, active, source, external_id, folder_id,
                    created_at, updated_at FROM users ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            let extra: String = row.get(5)?;
            Ok(UserRow {
                login: row.get(0)?,
                email: row.get(1)?,
                firstname: row.get(2)?,
                lastname: row.get(3)?,
                phone: row.get(4)?,
                extra: serde_json::from_str(&extra).unwrap_or(serde_json::Value::Null),
                active: row.get(6)?,
                source: row.get(7)?,
                external_id: row.get(8)?,
                folder_id: row.get(9)?,
                created_at: row.get(10)?,
                updated_at: row.get(11)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Add a user that did not come from this source (LDAP, or made in the
    /// helpdesk itself).
    pub fn add_user(&self, source: &str, login: &str, email: Option<&str>, firstname: &str, lastname: &str) -> Result<()> {
        self.lock().execute(
            "INSERT INTO users (login, email, firstname, lastname, source) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![login, email, firstname, lastname, source],
        )?;
        Ok(())
    }

    pub fn declare_field(&self, name: &str, label: &str) -> Result<()> {
        self.lock().execute(
            "INSERT INTO user_fields (name, label) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET label = excluded.label",
            params![name, label],
        )?;
        Ok(())
    }

    /// Custom fields, as (name, label).
    pub fn custom_fields(&self) -> Result<Vec<(String, String)>> {
        let conn = self.lock();
        let mut statement = conn.prepare("SELECT name, label FROM user_fields ORDER BY name")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stored versions of these records of a folder; none where no
    /// active user has the record.
    pub fn stored_versions(&self, source: &str, folder_id: &str, external_ids: &[String]) -> Result<Vec<Option<String>>> {
        let conn = self.lock();
        // A contact waiting for a retry has no version: it is read again.
        let mut statement = conn.prepare_cached(
            "SELECT version FROM users WHERE source = ?1 AND external_id = ?2 AND folder_id = ?3 AND active = 1
               AND NOT EXISTS (SELECT 1 FROM retry_contacts r WHERE r.source = ?1 AND r.external_id = ?2)
             UNION ALL
             SELECT version FROM skipped_contacts WHERE source = ?1 AND external_id = ?2 AND folder_id = ?3
             LIMIT 1",
        )?;
        let mut versions = Vec::with_capacity(external_ids.len());
        for id in external_ids {
            versions.push(statement.query_row(params![source, id, folder_id], |row| row.get(0)).optional()?.flatten());
        }
        Ok(versions)
    }

    /// The folders' checkpoints, except for folders with contacts to try
    /// again: those are listed in full, so that the contacts the checkpoint
    /// moved past are read once more.
    pub fn checkpoints(&self, source: &str) -> Result<Vec<(String, String)>> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT folder_id, state FROM checkpoints c WHERE source = ?1
             AND NOT EXISTS (SELECT 1 FROM retry_contacts r WHERE r.source = ?1 AND r.folder_id = c.folder_id)",
        )?;
        let rows = statement.query_map([source], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Record a run's start. Called with the run lock held, so a run still
    /// marked running was ended by a crash: it is marked interrupted.
    pub fn start_run(&self, source: &str, mode: &str, dry_run: bool) -> Result<i64> {
        let conn = self.lock();
        conn.execute(
            "UPDATE sync_runs SET status = 'interrupted', finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE status = 'running'",
            [],
        )?;
        conn.execute("INSERT INTO sync_runs (source, mode, dry_run) VALUES (?1, ?2, ?3)", params![source, mode, dry_run])?;
        Ok(conn.last_insert_rowid())
    }

    pub fn finish_run(&self, run: i64, summary: Option<&crate::summary::Summary>, error: Option<&str>) -> Result<()> {
        let summary = summary.map(serde_json::to_string).transpose()?;
        let status = if error.is_some() { "failed" } else { "succeeded" };
        self.lock().execute(
            "UPDATE sync_runs SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), status = ?2, summary = ?3, error = ?4
             WHERE id = ?1",
            params![run, status, summary, error],
        )?;
        Ok(())
    }

    pub fn runs(&self, limit: u32) -> Result<Vec<RunRow>> {
        let conn = self.lock();
        let mut statement = conn.prepare(
            "SELECT id, mode, dry_run, started_at, finished_at, status, summary, error FROM sync_runs
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit], |row| {
            let summary: Option<String> = row.get(6)?;
            Ok(RunRow {
                id: row.get(0)?,
                mode: row.get(1)?,
                dry_run: row.get(2)?,
                started_at: row.get(3)?,
                finished_at: row.get(4)?,
                status: row.get(5)?,
                summary: summary.and_then(|s| serde_json::from_str(&s).ok()),
                error: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The address books' display paths as the last batches named them.
    pub fn folder_paths(&self, source: &str) -> Result<std::collections::HashMap<String, String>> {
        let conn = self.lock();
        let mut statement = conn.prepare("SELECT folder_id, path FROM folders WHERE source = ?1")?;
        let rows = statement.query_map([source], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn user_count(&self) -> Result<u64> {
        let count: i64 = self.lock().query_row("SELECT count(*) FROM users", [], |row| row.get(0))?;
        Ok(count as u64)
    }

    pub fn last_run_id(&self) -> Result<Option<i64>> {
        Ok(self.lock().query_row("SELECT max(id) FROM sync_runs", [], |row| row.get(0)).optional()?.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of the lock file's descriptor, as a child spawned by another
    /// thread holds until it execs, must not keep the lock after the run.
    #[test]
    fn the_lock_is_released_even_while_a_copy_of_its_file_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let lock = store.run_lock().unwrap();
        let copy = lock.file.as_ref().unwrap().try_clone().unwrap();
        assert!(store.run_lock().is_err(), "a second run is refused while one holds the lock");
        drop(lock);
        store.run_lock().expect("the next run gets in");
        drop(copy);
    }
}
