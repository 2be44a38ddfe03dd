//! The helpdesk's document store: mail and attachments as searchable
//! documents, each with the principals that may read it, and a checkpoint
//! per mailbox folder. Two FTS5 indexes over title and body: unicode61
//! for words, trigram for text without spaces between words (Japanese,
//! Chinese, Thai), whose words unicode61 would run together
//! (reference/mailbox-content.md 4). The trigram index holds that text
//! alone ([`unspaced`]): a trigram index is several times the size of its
//! text, and of Latin, Cyrillic or Greek text unicode61 finds the words.

use crate::runtime::types::{ContentKind, Document, DocumentBatch, DocumentChange, EventType, Extraction};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS documents (
    rowid           INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    -- the server's id (case-sensitive)
    id              TEXT NOT NULL,
    version         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    mailbox         TEXT NOT NULL COLLATE NOCASE,
    folder_id       TEXT NOT NULL,
    folder_path     TEXT NOT NULL,
    parent_id       TEXT,
    thread_id       TEXT,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    received        TEXT,
    modified        TEXT,
    sender          TEXT,
    recipients      TEXT NOT NULL DEFAULT '[]',
    importance      TEXT,
    categories      TEXT NOT NULL DEFAULT '[]',
    has_attachments INTEGER NOT NULL DEFAULT 0,
    is_read         INTEGER,
    -- an attachment's name, type, size, inline flag and extraction (JSON)
    attachment      TEXT,
    -- an event's times, zone, attendees, series (JSON)
    event           TEXT,
    -- a task's status, dates, owner, recurrence (JSON)
    task            TEXT,
    last_seen_run   INTEGER,
    UNIQUE (source, id)
);
CREATE INDEX IF NOT EXISTS documents_folder ON documents (source, mailbox, folder_id);
CREATE INDEX IF NOT EXISTS documents_parent ON documents (source, parent_id);

CREATE TABLE IF NOT EXISTS document_acl (
    doc       INTEGER NOT NULL REFERENCES documents (rowid) ON DELETE CASCADE,
    principal TEXT NOT NULL,
    PRIMARY KEY (doc, principal)
);
CREATE INDEX IF NOT EXISTS document_acl_principal ON document_acl (principal, doc);

-- who may read every document of a mailbox, as [documents.shared] says
-- (written at each run from the configuration)
CREATE TABLE IF NOT EXISTS mailbox_readers (
    source    TEXT NOT NULL,
    mailbox   TEXT NOT NULL COLLATE NOCASE,
    principal TEXT NOT NULL,
    PRIMARY KEY (source, mailbox, principal)
);

-- who may read every document of a folder, as its permissions say (the
-- plugin's latest batch of the folder)
CREATE TABLE IF NOT EXISTS folder_readers (
    source    TEXT NOT NULL,
    mailbox   TEXT NOT NULL COLLATE NOCASE,
    folder_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    PRIMARY KEY (source, mailbox, folder_id, principal)
);

CREATE TABLE IF NOT EXISTS document_checkpoints (
    source     TEXT NOT NULL,
    mailbox    TEXT NOT NULL COLLATE NOCASE,
    folder_id  TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (source, mailbox, folder_id)
);

-- items that could not be read: read again on the next run, whatever
-- the folder's checkpoint says, until they are read or gone
CREATE TABLE IF NOT EXISTS retry_documents (
    source    TEXT NOT NULL,
    mailbox   TEXT NOT NULL COLLATE NOCASE,
    folder_id TEXT NOT NULL,
    id        TEXT NOT NULL,
    reason    TEXT NOT NULL,
    run_id    INTEGER,
    PRIMARY KEY (source, id)
);

CREATE VIRTUAL TABLE IF NOT EXISTS documents_words USING fts5 (
    title, body, content = 'documents', content_rowid = 'rowid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_trigrams USING fts5 (
    title, body, content = '', contentless_delete = 1, tokenize = 'trigram'
);
-- A document written is indexed by upsert() itself, not by a trigger: a
-- trigger makes the write a statement with its own journal, and SQLite
-- has FTS5 write its pending terms to disk at every such statement (a
-- segment per document, then merges: half the writer's work). Removals
-- come in bulk and keep theirs.
CREATE TRIGGER IF NOT EXISTS documents_unindexed AFTER DELETE ON documents BEGIN
    INSERT INTO documents_words (documents_words, rowid, title, body) VALUES ('delete', old.rowid, old.title, old.body);
    DELETE FROM documents_trigrams WHERE rowid = old.rowid AND has_unspaced(old.title, old.body);
END;
"#;

/// Triggers of earlier versions that indexed written documents.
const INDEXING_TRIGGERS: &str = "DROP TRIGGER IF EXISTS documents_indexed; DROP TRIGGER IF EXISTS documents_reindexed;";

/// Index a document's title and body as stored in row `rowid`: its words,
/// and the runs of its text without spaces as trigrams.
fn index(conn: &Connection, rowid: i64, title: &str, body: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO documents_words (rowid, title, body) VALUES (?1, ?2, ?3)")?.execute(params![rowid, title, body])?;
    if has_unspaced(title, body) {
        conn.prepare_cached("INSERT INTO documents_trigrams (rowid, title, body) VALUES (?1, ?2, ?3)")?
            .execute(params![rowid, unspaced(title), unspaced(body)])?;
    }
    Ok(())
}

/// Take back what [`index`] did for the title and body row `rowid` had.
fn unindex(conn: &Connection, rowid: i64, title: &str, body: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO documents_words (documents_words, rowid, title, body) VALUES ('delete', ?1, ?2, ?3)")?
        .execute(params![rowid, title, body])?;
    if has_unspaced(title, body) {
        conn.prepare_cached("DELETE FROM documents_trigrams WHERE rowid = ?1")?.execute([rowid])?;
    }
    Ok(())
}

fn has_unspaced(title: &str, body: &str) -> bool {
    title.chars().any(is_unspaced) || body.chars().any(is_unspaced)
}

/// Whether a character belongs to a script written without spaces between
/// words: CJK ideographs, kana, Hangul, Thai, Lao, Khmer, Myanmar.
fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF       // Thai, Lao
        | 0x1000..=0x109F     // Myanmar
        | 0x1100..=0x11FF     // Hangul Jamo
        | 0x1780..=0x17FF     // Khmer
        | 0x2E80..=0x2FDF     // CJK radicals
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3130..=0x318F     // Hangul compatibility Jamo
        | 0x31F0..=0x31FF     // Katakana extensions
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0xFF66..=0xFF9F     // halfwidth Katakana
        | 0x20000..=0x3134F   // CJK extensions B to G
    )
}

/// The runs of `text` in scripts without spaces between words.
fn runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_unspaced(c)).filter(|run| !run.is_empty())
}

/// The runs of `text` in scripts without spaces between words, one per
/// line: what the trigram index holds of it.
pub fn unspaced(text: &str) -> String {
    runs(text).collect::<Vec<_>>().join("\n")
}

/// `unspaced()` and `has_unspaced()` for the index trigger; every
/// connection to the database needs them.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("unspaced", 1, flags, |ctx| Ok(unspaced(&ctx.get::<String>(0)?)))?;
    conn.create_scalar_function("has_unspaced", 2, flags, |ctx| {
        Ok(has_unspaced(ctx.get_raw(0).as_str().unwrap_or_default(), ctx.get_raw(1).as_str().unwrap_or_default()))
    })
}

/// A database whose trigram index holds all text (before
/// [`unspaced`]): the index is rebuilt from the documents, as it is now.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(INDEXING_TRIGGERS)?;
    let old: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'documents_trigrams' AND sql LIKE '%content = ''documents''%'",
        [],
        |row| row.get(0),
    )?;
    if old {
        conn.execute_batch(
            "DROP TRIGGER documents_unindexed; DROP TABLE documents_trigrams;",
        )?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(
            "INSERT INTO documents_trigrams (rowid, title, body)
             SELECT rowid, unspaced(title), unspaced(body) FROM documents WHERE has_unspaced(title, body)",
        )?;
    }
    Ok(())
}

/// What a run did to documents, in all and per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocCounts {
    pub created: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub failed: u64,
}

impl DocCounts {
    fn plus(&mut self, other: &DocCounts) {
        self.created += other.created;
        self.updated += other.updated;
        self.removed += other.removed;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocReason {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub mailbox: String,
    pub folder: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSummary {
    #[serde(flatten)]
    pub counts: DocCounts,
    pub by_kind: BTreeMap<String, DocCounts>,
    pub skipped_reasons: Vec<DocReason>,
    pub failed_reasons: Vec<DocReason>,
}

enum Counted {
    Created,
    Updated,
    Removed,
    Unchanged,
    Skipped,
    Failed,
}

impl DocumentSummary {
    fn count(&mut self, kind: &str, what: Counted) {
        let one = match what {
            Counted::Created => DocCounts { created: 1, ..Default::default() },
            Counted::Updated => DocCounts { updated: 1, ..Default::default() },
            Counted::Removed => DocCounts { removed: 1, ..Default::default() },
            Counted::Unchanged => DocCounts { unchanged: 1, ..Default::default() },
            Counted::Skipped => DocCounts { skipped: 1, ..Default::default() },
            Counted::Failed => DocCounts { failed: 1, ..Default::default() },
        };
        self.counts.plus(&one);
        self.by_kind.entry(kind.to_string()).or_default().plus(&one);
    }

    /// For a person: the counts, per kind, then why documents were
    /// skipped or failed (ten of each, all with `verbose`).
    pub fn text(&self, verbose: bool) -> String {
        let line = |c: &DocCounts| {
            format!("created {}, updated {}, removed {}, unchanged {}, skipped {}, failed {}", c.created, c.updated, c.removed, c.unchanged, c.skipped, c.failed)
        };
        let mut text = format!("documents: {}\n", line(&self.counts));
        for (kind, counts) in &self.by_kind {
            text += &format!("  {kind}: {}\n", line(counts));
        }
        for (what, reasons) in [("skipped", &self.skipped_reasons), ("failed", &self.failed_reasons)] {
            let shown = if verbose { reasons.len() } else { reasons.len().min(10) };
            for r in &reasons[..shown] {
                text += &format!("  {what}: {} '{}' in {} / {}: {}\n", r.kind, r.title, r.mailbox, r.folder, r.reason);
            }
            if shown < reasons.len() {
                text += &format!("  ... and {} more {what}\n", reasons.len() - shown);
            }
        }
        text
    }

    pub fn absorb(&mut self, other: DocumentSummary) {
        self.counts.plus(&other.counts);
        for (kind, counts) in other.by_kind {
            self.by_kind.entry(kind).or_default().plus(&counts);
        }
        self.skipped_reasons.extend(other.skipped_reasons);
        self.failed_reasons.extend(other.failed_reasons);
    }
}

pub fn kind_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Mail => "mail",
        ContentKind::Attachment => "attachment",
        ContentKind::Event => "event",
        ContentKind::Task => "task",
    }
}

const KINDS: [ContentKind; 4] = [ContentKind::Mail, ContentKind::Attachment, ContentKind::Event, ContentKind::Task];

/// The kind a configuration names.
pub fn kind_named(name: &str) -> Option<ContentKind> {
    KINDS.into_iter().find(|k| kind_name(*k) == name)
}

fn event_type_name(t: EventType) -> &'static str {
    match t {
        EventType::Single => "single",
        EventType::SeriesMaster => "series_master",
        EventType::Exception => "exception",
    }
}

/// A document's tree: itself, its children (attachments, a series'
/// modified occurrences) and theirs (an occurrence's attachments).
const TREE: &str = "WITH RECURSIVE tree (id) AS (SELECT ?2 UNION SELECT d.id FROM documents d JOIN tree ON d.source = ?1 AND d.parent_id = tree.id)";

fn extraction_name(extraction: Extraction) -> &'static str {
    match extraction {
        Extraction::Extracted => "extracted",
        Extraction::TooLarge => "too_large",
        Extraction::UnsupportedType => "unsupported_type",
        Extraction::Failed => "failed",
        Extraction::Item => "item",
    }
}

/// The stored versions of documents of a mailbox (None: not stored).
pub fn stored_versions(conn: &Connection, source: &str, mailbox: &str, ids: &[String]) -> rusqlite::Result<Vec<Option<String>>> {
    let mut statement = conn.prepare_cached("SELECT version FROM documents WHERE source = ?1 AND id = ?2 AND mailbox = ?3")?;
    ids.iter().map(|id| statement.query_row(params![source, id, mailbox], |row| row.get(0)).optional()).collect()
}

/// The stored checkpoints of a source's mailbox folders.
pub fn checkpoints(conn: &Connection, source: &str) -> rusqlite::Result<Vec<(String, String, String)>> {
    let mut statement = conn.prepare("SELECT mailbox, folder_id, state FROM document_checkpoints WHERE source = ?1 ORDER BY mailbox, folder_id")?;
    statement.query_map([source], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?.collect()
}

/// The items to read again: (mailbox, folder id, id).
pub fn retries(conn: &Connection, source: &str) -> rusqlite::Result<Vec<(String, String, String)>> {
    let mut statement = conn.prepare("SELECT mailbox, folder_id, id FROM retry_documents WHERE source = ?1 ORDER BY mailbox, folder_id, id")?;
    statement.query_map([source], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?.collect()
}

/// Apply one batch inside the caller's transaction, with a savepoint of
/// its own: a batch the store refuses leaves nothing.
pub fn apply_batch(conn: &Connection, source: &str, run_id: i64, batch: &DocumentBatch, summary: &mut DocumentSummary) -> rusqlite::Result<()> {
    apply_together(conn, source, run_id, &[batch], summary)
}

/// Apply batches that came in together under one savepoint: opening one
/// makes FTS5 write out the terms it holds, a segment each time, and a
/// batch of messages made a segment of its own to merge later. If the
/// store refuses any, they are applied again one by one, so that the ones
/// before it are kept and the refused one leaves nothing; its error (with
/// its index in `batches`) is returned.
pub fn apply_batches(conn: &Connection, source: &str, run_id: i64, batches: &[&DocumentBatch], summary: &mut DocumentSummary) -> Result<(), (usize, rusqlite::Error)> {
    if batches.len() > 1 && apply_together(conn, source, run_id, batches, summary).is_ok() {
        return Ok(());
    }
    for (at, batch) in batches.iter().enumerate() {
        apply_batch(conn, source, run_id, batch, summary).map_err(|e| (at, e))?;
    }
    Ok(())
}

fn apply_together(conn: &Connection, source: &str, run_id: i64, batches: &[&DocumentBatch], summary: &mut DocumentSummary) -> rusqlite::Result<()> {
    conn.execute_batch("SAVEPOINT documents")?;
    let mut written = DocumentSummary::default();
    match batches.iter().try_for_each(|batch| apply(conn, source, run_id, batch, &mut written)) {
        Ok(()) => {
            conn.execute_batch("RELEASE documents")?;
            summary.absorb(written);
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO documents; RELEASE documents");
            Err(e)
        }
    }
}

fn apply(conn: &Connection, source: &str, run_id: i64, batch: &DocumentBatch, summary: &mut DocumentSummary) -> rusqlite::Result<()> {
    if batch.folder_gone {
        return forget_folder(conn, source, &batch.mailbox, &batch.folder_id, summary);
    }
    set_folder_readers(conn, source, batch)?;
    // A folder renamed or moved: its documents take its new path. (One
    // row tells; a batch of an unchanged folder costs one lookup.)
    let path: Option<String> = conn
        .prepare_cached("SELECT folder_path FROM documents WHERE source = ?1 AND mailbox = ?2 AND folder_id = ?3 LIMIT 1")?
        .query_row(params![source, batch.mailbox, batch.folder_id], |row| row.get(0))
        .optional()?;
    if path.is_some_and(|p| p != batch.folder_path) {
        conn.prepare_cached("UPDATE documents SET folder_path = ?4 WHERE source = ?1 AND mailbox = ?2 AND folder_id = ?3")?
            .execute(params![source, batch.mailbox, batch.folder_id, batch.folder_path])?;
    }
    // The children (attachments, modified occurrences) each upserted item
    // has now; the others go.
    let mut attachments: HashMap<&str, HashSet<&str>> = HashMap::new();
    for change in &batch.changes {
        if let DocumentChange::Upsert(doc) = change {
            if let Some(parent) = &doc.parent_id {
                attachments.entry(parent.as_str()).or_default().insert(doc.id.as_str());
            }
            if doc.kind != ContentKind::Attachment {
                attachments.entry(doc.id.as_str()).or_default();
            }
        }
    }
    let issue = |summary: &mut DocumentSummary, failed: bool, id: &str, kind: &str, title: &str, reason: &str| {
        let reason = DocReason {
            id: id.into(),
            kind: kind.into(),
            title: title.into(),
            mailbox: batch.mailbox.clone(),
            folder: batch.folder_path.clone(),
            reason: reason.into(),
        };
        if failed {
            summary.count(kind, Counted::Failed);
            summary.failed_reasons.push(reason);
        } else {
            summary.count(kind, Counted::Skipped);
            summary.skipped_reasons.push(reason);
        }
    };
    // Items to read again are few: most batches need not look for theirs.
    let mut retrying: bool =
        conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM retry_documents WHERE source = ?1)")?.query_row([source], |row| row.get(0))?;
    // Items stored for the first time have no stored attachments to lose.
    let mut new: HashSet<&str> = HashSet::new();
    for change in &batch.changes {
        // An item read, gone, unchanged or skipped needs no second reading
        // (a read flag says nothing of an item that was never read).
        let named = match change {
            DocumentChange::Upsert(doc) => Some(doc.id.as_str()),
            DocumentChange::Remove(id) | DocumentChange::Unchanged(id) => Some(id.as_str()),
            DocumentChange::Skipped(why) => Some(why.id.as_str()),
            DocumentChange::ReadFlag(_) | DocumentChange::Failed(_) => None,
        };
        if let Some(id) = named.filter(|_| retrying) {
            conn.prepare_cached("DELETE FROM retry_documents WHERE source = ?1 AND id = ?2")?.execute(params![source, id])?;
        }
        match change {
            DocumentChange::Upsert(doc) => {
                let existed = upsert(conn, source, run_id, batch, doc)?;
                if !existed {
                    new.insert(doc.id.as_str());
                }
                let kind = kind_name(doc.kind);
                let unread = doc.attachment.as_ref().filter(|a| matches!(a.extraction, Extraction::TooLarge | Extraction::Failed));
                match unread {
                    // Described, not read: skipped (too large) or failed
                    // (a broken file), with why; its metadata is stored.
                    Some(attachment) => {
                        let why = attachment.note.clone().unwrap_or_else(|| extraction_name(attachment.extraction).to_string());
                        issue(summary, attachment.extraction == Extraction::Failed, &doc.id, kind, &doc.title, &why);
                    }
                    None => summary.count(kind, if existed { Counted::Updated } else { Counted::Created }),
                }
            }
            DocumentChange::Remove(id) => {
                for kind in remove(conn, source, id)? {
                    summary.count(&kind, Counted::Removed);
                }
            }
            DocumentChange::Unchanged(id) => {
                let mut statement = conn.prepare_cached(&format!(
                    "{TREE} UPDATE documents SET last_seen_run = ?3 WHERE source = ?1 AND id IN tree RETURNING kind"
                ))?;
                let kinds: Vec<String> = statement.query_map(params![source, id, run_id], |row| row.get(0))?.collect::<Result<_, _>>()?;
                for kind in kinds {
                    summary.count(&kind, Counted::Unchanged);
                }
            }
            DocumentChange::ReadFlag(flag) => {
                let kind: Option<String> = conn
                    .query_row(
                        "UPDATE documents SET is_read = ?3, last_seen_run = ?4 WHERE source = ?1 AND id = ?2 RETURNING kind",
                        params![source, flag.id, flag.is_read, run_id],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(kind) = kind {
                    summary.count(&kind, Counted::Updated);
                }
            }
            DocumentChange::Skipped(why) => issue(summary, false, &why.id, kind_name(why.kind), &why.title, &why.reason),
            DocumentChange::Failed(why) => {
                // What was stored stays, and the next run reads it again.
                conn.execute(&format!("{TREE} UPDATE documents SET last_seen_run = ?3 WHERE source = ?1 AND id IN tree"), params![source, why.id, run_id])?;
                conn.execute(
                    "INSERT INTO retry_documents (source, mailbox, folder_id, id, reason, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (source, id) DO UPDATE SET mailbox = excluded.mailbox, folder_id = excluded.folder_id,
                         reason = excluded.reason, run_id = excluded.run_id",
                    params![source, batch.mailbox, batch.folder_id, why.id, why.reason, run_id],
                )?;
                retrying = true;
                issue(summary, true, &why.id, kind_name(why.kind), &why.title, &why.reason);
            }
        }
    }
    for (message, kept) in attachments.iter().filter(|(message, _)| !new.contains(*message)) {
        let mut statement = conn.prepare_cached("SELECT id FROM documents WHERE source = ?1 AND parent_id = ?2")?;
        let stored: Vec<String> = statement.query_map(params![source, message], |row| row.get(0))?.collect::<Result<_, _>>()?;
        for gone in stored.iter().filter(|id| !kept.contains(id.as_str())) {
            for kind in remove(conn, source, gone)? {
                summary.count(&kind, Counted::Removed);
            }
        }
    }
    if let Some(state) = &batch.checkpoint {
        conn.execute(
            "INSERT INTO document_checkpoints (source, mailbox, folder_id, state) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source, mailbox, folder_id) DO UPDATE SET state = excluded.state,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            params![source, batch.mailbox, batch.folder_id, state],
        )?;
    }
    if batch.listing_complete {
        // Documents of the folder this run did not mention are gone.
        let mut statement = conn.prepare(
            "DELETE FROM documents WHERE source = ?1 AND mailbox = ?2 AND folder_id = ?3
             AND (last_seen_run IS NULL OR last_seen_run != ?4) RETURNING kind",
        )?;
        let kinds: Vec<String> =
            statement.query_map(params![source, batch.mailbox, batch.folder_id, run_id], |row| row.get(0))?.collect::<Result<_, _>>()?;
        for kind in kinds {
            summary.count(&kind, Counted::Removed);
        }
        // Items to read again that this listing did not show are gone.
        conn.execute(
            "DELETE FROM retry_documents WHERE source = ?1 AND mailbox = ?2 AND folder_id = ?3 AND (run_id IS NULL OR run_id != ?4)",
            params![source, batch.mailbox, batch.folder_id, run_id],
        )?;
    }
    Ok(())
}

/// A folder gone from what the plugin reads: its documents (their
/// attachments with them), checkpoint, readers and retries.
fn forget_folder(conn: &Connection, source: &str, mailbox: &str, folder_id: &str, summary: &mut DocumentSummary) -> rusqlite::Result<()> {
    let ids: Vec<String> = conn
        .prepare_cached("SELECT id FROM documents WHERE source = ?1 AND mailbox = ?2 AND folder_id = ?3 AND parent_id IS NULL")?
        .query_map(params![source, mailbox, folder_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in &ids {
        for kind in remove(conn, source, id)? {
            summary.count(&kind, Counted::Removed);
        }
    }
    // What is left: children whose parent lies elsewhere.
    let kinds: Vec<String> = conn
        .prepare_cached("DELETE FROM documents WHERE source = ?1 AND mailbox = ?2 AND folder_id = ?3 RETURNING kind")?
        .query_map(params![source, mailbox, folder_id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for kind in kinds {
        summary.count(&kind, Counted::Removed);
    }
    for table in ["document_checkpoints", "folder_readers", "retry_documents"] {
        conn.execute(&format!("DELETE FROM {table} WHERE source = ?1 AND mailbox = ?2 AND folder_id = ?3"), params![source, mailbox, folder_id])?;
    }
    Ok(())
}

/// Insert or replace one document and its ACL; whether it was stored.
fn upsert(conn: &Connection, source: &str, run_id: i64, batch: &DocumentBatch, doc: &Document) -> rusqlite::Result<bool> {
    let json = |list: &[String]| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
    let attachment = doc.attachment.as_ref().map(|a| {
        serde_json::json!({
            "name": a.name, "content_type": a.content_type, "size": a.size, "inline": a.is_inline,
            "extraction": extraction_name(a.extraction), "note": a.note,
        })
        .to_string()
    });
    let event = doc.event.as_ref().map(|e| {
        serde_json::json!({
            "type": event_type_name(e.event_type), "start": e.start, "end": e.end, "time_zone": e.time_zone,
            "all_day": e.all_day, "location": e.location, "organizer": e.organizer,
            "required": e.required_attendees, "optional": e.optional_attendees, "recurrence": e.recurrence,
            "deleted_occurrences": e.deleted_occurrences, "original_start": e.original_start,
        })
        .to_string()
    });
    let task = doc.task.as_ref().map(|t| {
        serde_json::json!({
            "status": t.status, "percent_complete": t.percent_complete, "start": t.start, "due": t.due,
            "completed": t.completed, "owner": t.owner, "recurrence": t.recurrence, "list": t.list_name,
        })
        .to_string()
    });
    // What was stored: the row, and the text it is indexed by.
    let stored: Option<(i64, String, String)> = conn
        .prepare_cached("SELECT rowid, title, body FROM documents WHERE source = ?1 AND id = ?2")?
        .query_row(params![source, doc.id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    // No RETURNING: it would make this a statement with its own journal
    // (see SCHEMA).
    conn.prepare_cached(
        "INSERT INTO documents (source, id, version, kind, mailbox, folder_id, folder_path, parent_id, thread_id, title, body,
             received, modified, sender, recipients, importance, categories, has_attachments, is_read, attachment, last_seen_run,
             event, task)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)
         ON CONFLICT (source, id) DO UPDATE SET version = excluded.version, kind = excluded.kind, mailbox = excluded.mailbox,
             folder_id = excluded.folder_id, folder_path = excluded.folder_path, parent_id = excluded.parent_id,
             thread_id = excluded.thread_id, title = excluded.title, body = excluded.body, received = excluded.received,
             modified = excluded.modified, sender = excluded.sender, recipients = excluded.recipients,
             importance = excluded.importance, categories = excluded.categories, has_attachments = excluded.has_attachments,
             is_read = excluded.is_read, attachment = excluded.attachment, last_seen_run = excluded.last_seen_run,
             event = excluded.event, task = excluded.task",
    )?
    .execute(
        params![
            source,
            doc.id,
            doc.version,
            kind_name(doc.kind),
            batch.mailbox,
            batch.folder_id,
            batch.folder_path,
            doc.parent_id,
            doc.thread_id,
            doc.title,
            doc.body,
            doc.received,
            doc.modified,
            doc.sender,
            json(&doc.recipients),
            doc.importance,
            json(&doc.categories),
            doc.has_attachments,
            doc.is_read,
            attachment,
            run_id,
            event,
            task,
        ],
    )?;
    let rowid = match &stored {
        Some((rowid, title, body)) => {
            if (title.as_str(), body.as_str()) != (doc.title.as_str(), doc.body.as_str()) {
                unindex(conn, *rowid, title, body)?;
                index(conn, *rowid, &doc.title, &doc.body)?;
            }
            conn.prepare_cached("DELETE FROM document_acl WHERE doc = ?1")?.execute([rowid])?;
            *rowid
        }
        None => {
            let rowid = conn.last_insert_rowid();
            index(conn, rowid, &doc.title, &doc.body)?;
            rowid
        }
    };
    let mut grant = conn.prepare_cached("INSERT OR IGNORE INTO document_acl (doc, principal) VALUES (?1, ?2)")?;
    for principal in &doc.acl {
        grant.execute(params![rowid, principal.to_lowercase()])?;
    }
    Ok(stored.is_some())
}

/// Remove a document and its tree; the kinds removed.
fn remove(conn: &Connection, source: &str, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare_cached(&format!("{TREE} DELETE FROM documents WHERE source = ?1 AND id IN tree RETURNING kind"))?;
    statement.query_map(params![source, id], |row| row.get(0))?.collect()
}

/// The folder's readers as the batch gives them, replacing the stored ones.
fn set_folder_readers(conn: &Connection, source: &str, batch: &DocumentBatch) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM folder_readers WHERE source = ?1 AND mailbox = ?2 AND folder_id = ?3")?
        .execute(params![source, batch.mailbox, batch.folder_id])?;
    let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO folder_readers (source, mailbox, folder_id, principal) VALUES (?1, ?2, ?3, ?4)")?;
    for principal in &batch.folder_readers {
        insert.execute(params![source, batch.mailbox, batch.folder_id, principal])?;
    }
    Ok(())
}

/// The readers of whole mailbox, from `[documents.shared]`, replacing
/// what an earlier run wrote.
pub fn set_mailbox_readers(conn: &Connection, source: &str, readers: &BTreeMap<String, Vec<String>>) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM mailbox_readers WHERE source = ?1", [source])?;
    let mut insert = conn.prepare_cached("INSERT OR IGNORE INTO mailbox_readers (source, mailbox, principal) VALUES (?1, ?2, ?3)")?;
    for (mailbox, members) in readers {
        for member in members {
            insert.execute(params![source, mailbox, format!("email:{member}")])?;
        }
    }
    Ok(())
}

/// What became of the stored mailboxes a complete listing no longer has.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Vanished {
    pub removed: Vec<String>,
    /// the safety valve kept them: the warning why
    pub refused: Option<String>,
}

/// Remove the documents, checkpoints and retries of the mailboxes that
/// have some and are not in `listed`, under the safety valve of users: one
/// mailbox may always go; more only within `max_percent` of the stored
/// mailboxes, or with `force`.
pub fn remove_vanished_mailboxes(
    conn: &Connection,
    source: &str,
    listed: &[String],
    max_percent: u32,
    force: bool,
    summary: &mut DocumentSummary,
) -> rusqlite::Result<Vanished> {
    let listed: HashSet<String> = listed.iter().map(|m| m.trim().to_lowercase()).collect();
    let mut statement = conn.prepare(
        "SELECT mailbox FROM documents WHERE source = ?1 UNION SELECT mailbox FROM document_checkpoints WHERE source = ?1",
    )?;
    let stored: Vec<String> = statement.query_map([source], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
    let gone: Vec<String> = stored.iter().filter(|m| !listed.contains(&m.to_lowercase())).cloned().collect();
    if gone.is_empty() {
        return Ok(Vanished::default());
    }
    let share = gone.len() * 100 / stored.len();
    if gone.len() > 1 && !force && gone.len() * 100 > max_percent as usize * stored.len() {
        let refused = format!(
            "{} of the {} mailboxes with documents are no longer listed ({share} %), more than [sync] max_deactivate_percent = {max_percent}; \
             their documents were kept: {}. If they are gone, run the sync once with --force",
            gone.len(),
            stored.len(),
            gone.join(", ")
        );
        return Ok(Vanished { removed: Vec::new(), refused: Some(refused) });
    }
    let mut documents = conn.prepare_cached("DELETE FROM documents WHERE source = ?1 AND mailbox = ?2 RETURNING kind")?;
    for mailbox in &gone {
        for kind in documents.query_map(params![source, mailbox], |row| row.get::<_, String>(0))? {
            summary.count(&kind?, Counted::Removed);
        }
        conn.execute("DELETE FROM document_checkpoints WHERE source = ?1 AND mailbox = ?2", params![source, mailbox])?;
        conn.execute("DELETE FROM retry_documents WHERE source = ?1 AND mailbox = ?2", params![source, mailbox])?;
        conn.execute("DELETE FROM folder_readers WHERE source = ?1 AND mailbox = ?2", params![source, mailbox])?;
    }
    Ok(Vanished { removed: gone, refused: None })
}

/// One document a search found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub id: String,
    pub kind: String,
    pub mailbox: String,
    pub folder: String,
    pub title: String,
    pub snippet: String,
    pub parent_id: Option<String>,
    pub received: Option<String>,
}

/// The documents that match `query` and that `reader` may read, best
/// first: words through the unicode61 index (title weighted ten times
/// the body), then words that begin with the terms, then, for terms in
/// scripts without spaces, substrings through the trigram index.
pub fn search(conn: &Connection, reader: &str, query: &str, kind: Option<&str>, limit: usize) -> rusqlite::Result<Vec<Hit>> {
    let terms: Vec<&str> = query.split_whitespace().collect();
    if terms.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let principal = format!("email:{}", reader.trim().to_lowercase());
    let mut hits = matches(conn, "documents_words", &quoted(&terms, ""), None, &principal, kind, limit)?;
    let mut found: HashSet<String> = hits.iter().map(|h| h.id.clone()).collect();
    let mut add = |more: Vec<Hit>, hits: &mut Vec<Hit>| {
        for hit in more {
            if hits.len() < limit && found.insert(hit.id.clone()) {
                hits.push(hit);
            }
        }
    };
    // Then the words the terms begin, as Outlook's search finds them
    // ("invoice" finds "invoices").
    if hits.len() < limit {
        add(matches(conn, "documents_words", &quoted(&terms, "*"), None, &principal, kind, limit)?, &mut hits);
    }
    // Then the runs of the terms in scripts without spaces as substrings,
    // through the trigram index (which matches runs of three characters
    // or more), the other terms as words they begin.
    let runs: Vec<&str> = terms.iter().flat_map(|t| runs(t)).collect();
    let spaced: Vec<&str> = terms.iter().copied().filter(|t| !t.chars().any(is_unspaced)).collect();
    if hits.len() < limit && !runs.is_empty() && runs.iter().all(|r| r.chars().count() >= 3) {
        let also = (!spaced.is_empty()).then(|| quoted(&spaced, "*"));
        let mut more = matches(conn, "documents_trigrams", &quoted(&runs, ""), also.as_deref(), &principal, kind, limit)?;
        for hit in &mut more {
            hit.snippet = snippet_around(&hit.snippet, &runs);
        }
        add(more, &mut hits);
    }
    Ok(hits)
}

/// Terms as an FTS5 query: each a quoted string (FTS5's operators in a
/// query are text), followed by `suffix` (`*`: the words it begins).
fn quoted(terms: &[&str], suffix: &str) -> String {
    terms.iter().map(|t| format!("\"{}\"{suffix}", t.replace('"', "\"\""))).collect::<Vec<_>>().join(" ")
}

/// A snippet as FTS5's: the words around the first term found in `text`,
/// the term in brackets (or the text's start, if it is not in the body).
fn snippet_around(text: &str, terms: &[&str]) -> String {
    const AROUND: usize = 24;
    let Some((at, term)) = terms.iter().filter_map(|t| text.find(t).map(|at| (at, *t))).min() else {
        return text.chars().take(2 * AROUND).collect();
    };
    let before: String = text[..at].chars().rev().take(AROUND).collect::<Vec<_>>().into_iter().rev().collect();
    let after: String = text[at + term.len()..].chars().take(AROUND).collect();
    let (open, close) = (if before.len() < at { "…" } else { "" }, if at + term.len() + after.len() < text.len() { "…" } else { "" });
    format!("{open}{before}[{term}]{after}{close}")
}

/// The documents `reader` may read that `phrase` matches in `index` (and,
/// with `also`, that it matches in the words index too).
fn matches(conn: &Connection, index: &str, phrase: &str, also: Option<&str>, principal: &str, kind: Option<&str>, limit: usize) -> rusqlite::Result<Vec<Hit>> {
    // The trigram index keeps no text to cut a snippet from: the body's
    // first lines stand in, cut below.
    let snippet = match index {
        "documents_trigrams" => "substr(d.body, 1, 400)".to_string(),
        _ => format!("snippet({index}, -1, '[', ']', '…', 12)"),
    };
    let sql = format!(
        "SELECT d.id, d.kind, d.mailbox, d.folder_path, d.title, {snippet}, d.parent_id, d.received
         FROM {index} JOIN documents d ON d.rowid = {index}.rowid
         WHERE {index} MATCH ?1
           AND (EXISTS (SELECT 1 FROM document_acl a WHERE a.doc = d.rowid AND a.principal IN (?2, 'everyone'))
                OR EXISTS (SELECT 1 FROM folder_readers f
                           WHERE f.source = d.source AND f.mailbox = d.mailbox AND f.folder_id = d.folder_id AND f.principal IN (?2, 'everyone'))
                OR EXISTS (SELECT 1 FROM mailbox_readers r WHERE r.source = d.source AND r.mailbox = d.mailbox AND r.principal = ?2))
           AND (?3 IS NULL OR d.kind = ?3)
           AND (?5 IS NULL OR d.rowid IN (SELECT rowid FROM documents_words WHERE documents_words MATCH ?5))
         ORDER BY bm25({index}, 10.0, 1.0) LIMIT ?4"
    );
    let mut statement = conn.prepare(&sql)?;
    let hits = statement.query_map(params![phrase, principal, kind, limit as i64, also], |row| {
        Ok(Hit {
            id: row.get(0)?,
            kind: row.get(1)?,
            mailbox: row.get(2)?,
            folder: row.get(3)?,
            title: row.get(4)?,
            snippet: row.get(5)?,
            parent_id: row.get(6)?,
            received: row.get(7)?,
        })
    })?;
    hits.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::{AttachmentInfo, DocumentIssue, ReadFlag};

    #[test]
    fn only_text_without_spaces_goes_to_the_trigram_index() {
        assert_eq!(unspaced("Re: 請求書の確認 (Invoice) สวัสดีครับ ok 안녕하세요"), "請求書の確認\nสวัสดีครับ\n안녕하세요");
        assert_eq!(unspaced("Grüße aus Köln, Привет"), "");
    }

    /// A database whose trigram index held all text, as before: opened, its
    /// index is rebuilt of the text without spaces, and CJK is found.
    #[test]
    fn an_index_of_all_text_is_rebuilt_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let store = crate::store::Store::open(&path).unwrap();
            let conn = store.lock();
            apply_in(&conn, 1, batch(vec![DocumentChange::Upsert(mail("m1", "確認", "本日は請求書の確認 and a word", "svc@example.com"))], true));
            conn.execute_batch(
                "DROP TRIGGER documents_unindexed; DROP TABLE documents_trigrams;
                 CREATE VIRTUAL TABLE documents_trigrams USING fts5 (
                     title, body, content = 'documents', content_rowid = 'rowid', tokenize = 'trigram'
                 );
                 CREATE TRIGGER documents_indexed AFTER INSERT ON documents BEGIN
                     INSERT INTO documents_words (rowid, title, body) VALUES (new.rowid, new.title, new.body);
                     INSERT INTO documents_trigrams (rowid, title, body) VALUES (new.rowid, new.title, new.body);
                 END;
                 CREATE TRIGGER documents_unindexed AFTER DELETE ON documents BEGIN SELECT 1; END;
                 CREATE TRIGGER documents_reindexed AFTER UPDATE OF title, body ON documents BEGIN SELECT 1; END;
                 INSERT INTO documents_trigrams (documents_trigrams) VALUES ('rebuild');",
            )
            .unwrap();
        }
        let store = crate::store::Store::open(&path).unwrap();
        let conn = store.lock();
        let sql: String = conn.query_row("SELECT sql FROM sqlite_schema WHERE name = 'documents_trigrams'", [], |row| row.get(0)).unwrap();
        assert!(sql.contains("contentless_delete"), "{sql}");
        assert_eq!(ids(&search(&conn, "svc@example.com", "請求書の確認", None, 10).unwrap()), ["m1"]);
        assert_eq!(ids(&search(&conn, "svc@example.com", "word", None, 10).unwrap()), ["m1"]);
        // The old indexing triggers are gone: a document written now is
        // indexed once, by its writer, and found by its new words only.
        let triggers: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name IN ('documents_indexed', 'documents_reindexed')", [], |row| row.get(0)).unwrap();
        assert_eq!(triggers, 0);
        apply_in(&conn, 2, batch(vec![DocumentChange::Upsert(mail("m1", "確認", "新しい請求書 and another word", "svc@example.com"))], true));
        apply_in(&conn, 3, batch(vec![DocumentChange::Upsert(mail("m2", "second", "another", "svc@example.com"))], false));
        assert_eq!(ids(&search(&conn, "svc@example.com", "another", None, 10).unwrap()).len(), 2);
        assert!(search(&conn, "svc@example.com", "請求書の確認", None, 10).unwrap().is_empty());
        assert_eq!(ids(&search(&conn, "svc@example.com", "新しい請求書", None, 10).unwrap()), ["m1"]);
        conn.execute_batch("INSERT INTO documents_words (documents_words) VALUES ('integrity-check')").unwrap();
    }

    fn mail(id: &str, title: &str, body: &str, owner: &str) -> Document {
        Document {
            id: id.into(),
            version: "v1".into(),
            kind: ContentKind::Mail,
            parent_id: None,
            thread_id: Some("conversation".into()),
            title: title.into(),
            body: body.into(),
            received: Some("2026-11-30T09:00:00Z".into()),
            modified: None,
            sender: Some("Bob <bob@example.com>".into()),
            recipients: vec!["svc-helpdesk@example.com".into()],
            importance: Some("normal".into()),
            categories: Vec::new(),
            has_attachments: true,
            is_read: Some(false),
            acl: vec![format!("email:{owner}")],
            attachment: None,
            event: None,
            task: None,
        }
    }

    fn attachment(id: &str, parent: &str, body: &str, extraction: Extraction) -> Document {
        let info = AttachmentInfo {
            name: format!("{id}.pdf"),
            content_type: "application/pdf".into(),
            size: 1234,
            is_inline: false,
            extraction,
            note: (extraction == Extraction::TooLarge).then(|| "too large: 10.5 MiB, the limit is 10 MiB".into()),
        };
        Document { kind: ContentKind::Attachment, parent_id: Some(parent.into()), attachment: Some(info), ..mail(id, &format!("{id}.pdf"), body, "svc@example.com") }
    }

    fn batch(changes: Vec<DocumentChange>, complete: bool) -> DocumentBatch {
        DocumentBatch {
            mailbox: "svc@example.com".into(),
            folder_id: "inbox".into(),
            folder_path: "Inbox".into(),
            changes,
            checkpoint: Some("state-1".into()),
            listing_complete: complete,
            folder_readers: Vec::new(),
            folder_gone: false,
        }
    }

    fn apply_in(conn: &Connection, run: i64, b: DocumentBatch) -> DocumentSummary {
        let mut summary = DocumentSummary::default();
        apply_batch(conn, "exchange", run, &b, &mut summary).unwrap();
        summary
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    fn event(id: &str, master: Option<&str>, body: &str) -> Document {
        let info = crate::runtime::types::EventInfo {
            event_type: if master.is_some() { EventType::Exception } else { EventType::SeriesMaster },
            start: "2026-01-05T09:00:00Z".into(),
            end: "2026-01-05T10:00:00Z".into(),
            time_zone: "Europe/Berlin".into(),
            all_day: false,
            location: Some("Room 1".into()),
            organizer: Some("svc@example.com".into()),
            required_attendees: vec!["bob@example.com".into()],
            optional_attendees: Vec::new(),
            recurrence: master.is_none().then(|| "every Monday 10:00-11:00 Europe/Berlin, from 5 Jan 2026 until 30 Mar 2026".into()),
            deleted_occurrences: Vec::new(),
            original_start: master.map(|_| "2026-01-19T09:00:00Z".into()),
        };
        Document {
            kind: ContentKind::Event,
            parent_id: master.map(str::to_string),
            event: Some(info),
            ..mail(id, "Weekly sync", body, "svc@example.com")
        }
    }

    /// A batch in `mailbox`.
    fn batch_of(mailbox: &str, id: &str, readers: &[&str]) -> DocumentBatch {
        DocumentBatch {
            mailbox: mailbox.into(),
            folder_id: format!("inbox-{mailbox}"),
            folder_readers: readers.iter().map(|r| r.to_string()).collect(),
            ..batch(vec![DocumentChange::Upsert(mail(id, "Hello", "mailboxmarker", mailbox))], true)
        }
    }

    /// A folder's readers and a mailbox's members find its documents,
    /// others not; the next batch's readers replace the folder's.
    #[test]
    fn folder_readers_and_mailbox_members_read_what_they_are_granted() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.lock();
        apply_in(&conn, 1, batch_of("support@example.com", "s1", &["email:bob@example.com"]));
        apply_in(&conn, 1, batch_of("team@example.com", "t1", &["everyone"]));
        let found = |reader: &str| {
            let mut found: Vec<String> = ids(&search(&conn, reader, "mailboxmarker", None, 10).unwrap()).iter().map(|s| s.to_string()).collect();
            found.sort();
            found
        };
        assert_eq!(found("bob@example.com"), ["s1", "t1"]);
        assert_eq!(found("carol@example.com"), ["t1"], "the Default user's read access is everyone's");
        set_mailbox_readers(&conn, "exchange", &BTreeMap::from([("support@example.com".to_string(), vec!["carol@example.com".to_string()])])).unwrap();
        assert_eq!(found("carol@example.com"), ["s1", "t1"]);
        apply_in(&conn, 2, batch_of("support@example.com", "s1", &[]));
        assert_eq!(found("bob@example.com"), ["t1"], "Bob's permission was taken away");
    }

    /// A mailbox no longer listed takes its documents, checkpoints and
    /// readers along; more than the share allows stay, with a warning,
    /// unless forced.
    #[test]
    fn mailboxes_no_longer_listed_go_within_the_safety_valve() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.lock();
        let boxes = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"];
        for (n, mailbox) in boxes.iter().enumerate() {
            apply_in(&conn, 1, batch_of(mailbox, &format!("m{n}"), &["everyone"]));
        }
        let listed = |keep: &[&str]| keep.iter().map(|m| m.to_string()).collect::<Vec<_>>();
        let mut summary = DocumentSummary::default();
        let two_gone = remove_vanished_mailboxes(&conn, "exchange", &listed(&boxes[..2]), 30, false, &mut summary).unwrap();
        assert!(two_gone.removed.is_empty() && two_gone.refused.as_deref().unwrap().contains("2 of the 4 mailboxes"), "{two_gone:?}");
        assert_eq!(summary.counts.removed, 0);
        let one_gone = remove_vanished_mailboxes(&conn, "exchange", &listed(&boxes[..3]), 30, false, &mut summary).unwrap();
        assert_eq!(one_gone.removed, ["d@example.com"]);
        assert_eq!(summary.counts.removed, 1);
        let forced = remove_vanished_mailboxes(&conn, "exchange", &listed(&boxes[..1]), 30, true, &mut summary).unwrap();
        assert_eq!(forced.removed.len(), 2);
        let left: i64 = conn.query_row("SELECT count(*) FROM documents", [], |r| r.get(0)).unwrap();
        let checkpoints: i64 = conn.query_row("SELECT count(*) FROM document_checkpoints", [], |r| r.get(0)).unwrap();
        let readers: i64 = conn.query_row("SELECT count(*) FROM folder_readers", [], |r| r.get(0)).unwrap();
        assert_eq!((left, checkpoints, readers), (1, 1, 1));
    }

    /// A batch with a folder's new path moves its documents' path; a
    /// folder gone takes its documents, attachments, checkpoint, readers
    /// and retries, and nothing of another folder.
    #[test]
    fn a_folder_renamed_moves_its_paths_and_a_folder_gone_is_forgotten() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.lock();
        let inbox = vec![
            DocumentChange::Upsert(mail("m1", "One", "first", "svc@example.com")),
            DocumentChange::Upsert(attachment("a1", "m1", "file text", Extraction::Extracted)),
            DocumentChange::Upsert(mail("m2", "Two", "second", "svc@example.com")),
            DocumentChange::Failed(DocumentIssue { id: "m4".into(), kind: ContentKind::Mail, title: String::new(), reason: "busy".into() }),
        ];
        apply_in(&conn, 1, DocumentBatch { folder_readers: vec!["email:bob@example.com".into()], ..batch(inbox, true) });
        apply_in(&conn, 1, DocumentBatch { folder_id: "other".into(), folder_path: "Other".into(), ..batch(vec![DocumentChange::Upsert(mail("m3", "Three", "third", "svc@example.com"))], true) });
        let paths = |folder: &str| -> Vec<String> {
            let mut statement = conn.prepare("SELECT DISTINCT folder_path FROM documents WHERE folder_id = ?1").unwrap();
            statement.query_map([folder], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
        };
        apply_in(&conn, 2, DocumentBatch { folder_path: "Inbox (renamed)".into(), ..batch(Vec::new(), false) });
        assert_eq!((paths("inbox"), paths("other")), (vec!["Inbox (renamed)".to_string()], vec!["Other".to_string()]));

        let retries: i64 = conn.query_row("SELECT count(*) FROM retry_documents WHERE folder_id = 'inbox'", [], |r| r.get(0)).unwrap();
        assert_eq!(retries, 1, "the failed item is to be read again");
        let gone = apply_in(&conn, 3, DocumentBatch { folder_gone: true, ..batch(vec![DocumentChange::Upsert(mail("ignored", "x", "y", "svc@example.com"))], true) });
        assert_eq!((gone.by_kind["mail"].removed, gone.by_kind["attachment"].removed), (2, 1), "{gone:?}");
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM documents WHERE folder_id = 'inbox' OR id = 'ignored'"), 0, "nothing else of the batch applied");
        assert_eq!(count("SELECT count(*) FROM document_checkpoints WHERE folder_id = 'inbox'"), 0);
        assert_eq!(count("SELECT count(*) FROM folder_readers WHERE folder_id = 'inbox'"), 0);
        assert_eq!(count("SELECT count(*) FROM retry_documents WHERE folder_id = 'inbox'"), 0);
        assert_eq!(count("SELECT count(*) FROM documents WHERE folder_id = 'other'"), 1, "the other folder keeps its own");
    }

    /// A series is a tree: the master, its modified occurrences, their
    /// attachments. Unchanged keeps all of it through a complete listing,
    /// an occurrence no longer listed with its master goes with its
    /// attachment, and removing the master removes the rest.
    #[test]
    fn a_series_goes_and_stays_as_one_tree() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.lock();
        let first = apply_in(
            &conn,
            1,
            batch(
                vec![
                    DocumentChange::Upsert(event("master", None, "seriesmarker7731")),
                    DocumentChange::Upsert(event("moved", Some("master"), "seriesmarker7731")),
                    DocumentChange::Upsert(attachment("slides", "moved", "slide text", Extraction::Extracted)),
                ],
                true,
            ),
        );
        assert_eq!((first.by_kind["event"].created, first.by_kind["attachment"].created), (2, 1));
        let stored: String = conn.query_row("SELECT event FROM documents WHERE id = 'master'", [], |r| r.get(0)).unwrap();
        let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(stored["type"], "series_master");
        assert!(stored["recurrence"].as_str().unwrap().starts_with("every Monday 10:00-11:00"));

        let second = apply_in(&conn, 2, batch(vec![DocumentChange::Unchanged("master".into())], true));
        assert_eq!((second.counts.unchanged, second.counts.removed), (3, 0), "the whole tree was seen");

        let third = apply_in(&conn, 3, batch(vec![DocumentChange::Upsert(event("master", None, "seriesmarker7731"))], false));
        assert_eq!((third.by_kind["event"].updated, third.by_kind["event"].removed, third.by_kind["attachment"].removed), (1, 1, 1));

        apply_in(&conn, 4, batch(vec![DocumentChange::Upsert(event("moved", Some("master"), "x")), DocumentChange::Upsert(event("master", None, "y"))], false));
        let fourth = apply_in(&conn, 5, batch(vec![DocumentChange::Remove("master".into())], false));
        assert_eq!(fourth.by_kind["event"].removed, 2);
        let left: i64 = conn.query_row("SELECT count(*) FROM documents", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn documents_are_found_by_those_their_acl_admits_and_go_with_their_message() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.lock();
        let first = apply_in(
            &conn,
            1,
            batch(
                vec![
                    DocumentChange::Upsert(mail("m1", "Invoice check", "本日は請求書の確認をお願いします。 Caf\u{e9} au lait", "SVC@example.com")),
                    DocumentChange::Upsert(attachment("a1", "m1", "the pdfmarker7731 text", Extraction::Extracted)),
                    DocumentChange::Upsert(attachment("a2", "m1", "", Extraction::TooLarge)),
                    DocumentChange::Upsert(mail("m2", "Lunch", "nothing about invoices", "svc@example.com")),
                    DocumentChange::Skipped(DocumentIssue { id: "m3".into(), kind: ContentKind::Mail, title: "x".into(), reason: "a draft".into() }),
                ],
                true,
            ),
        );
        assert_eq!((first.counts.created, first.counts.skipped), (3, 2));
        assert_eq!(first.by_kind["attachment"].created, 1);
        assert!(first.skipped_reasons.iter().any(|r| r.id == "a2" && r.reason.contains("too large")));
        assert_eq!(checkpoints(&conn, "exchange").unwrap(), [("svc@example.com".into(), "inbox".into(), "state-1".into())]);

        let hits = search(&conn, "svc@example.com", "pdfmarker7731", None, 10).unwrap();
        assert_eq!(ids(&hits), ["a1"]);
        assert_eq!(hits[0].parent_id.as_deref(), Some("m1"));
        assert!(hits[0].snippet.contains("[pdfmarker7731]"), "{}", hits[0].snippet);
        let cjk = search(&conn, "SVC@Example.com", "請求書の確認", None, 10).unwrap();
        assert_eq!(ids(&cjk), ["m1"], "CJK through trigrams");
        assert_eq!(cjk[0].snippet, "本日は[請求書の確認]をお願いします。 Café au lait");
        // Only m1 has text without spaces: the trigram index holds its runs alone.
        let indexed: Vec<String> = conn
            .prepare("SELECT id FROM documents WHERE rowid IN (SELECT rowid FROM documents_trigrams WHERE documents_trigrams MATCH '請求書')")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(indexed, ["m1"]);
        let rows: i64 = conn.query_row("SELECT count(*) FROM documents_trigrams_docsize", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, 1, "Latin text is not in the trigram index");
        assert!(search(&conn, "svc@example.com", "lait", None, 10).unwrap().len() == 1, "and words of it are found");
        // Scripts mixed in a query: the runs without spaces as substrings,
        // the other terms as words.
        assert_eq!(ids(&search(&conn, "svc@example.com", "請求書の確認 caf", None, 10).unwrap()), ["m1"]);
        assert_eq!(ids(&search(&conn, "svc@example.com", "Re:請求書の確認", None, 10).unwrap()), ["m1"]);
        assert!(search(&conn, "svc@example.com", "請求書の確認 lunch", None, 10).unwrap().is_empty(), "every term must match");
        assert_eq!(ids(&search(&conn, "svc@example.com", "cafe", None, 10).unwrap()), ["m1"], "diacritics folded");
        // The word first; then the words it begins: m2's "invoices".
        assert_eq!(ids(&search(&conn, "svc@example.com", "invoice", Some("mail"), 10).unwrap()), ["m1", "m2"]);
        assert_eq!(ids(&search(&conn, "svc@example.com", "invoice", Some("attachment"), 10).unwrap()), Vec::<&str>::new());
        assert!(search(&conn, "bob@example.com", "pdfmarker7731", None, 10).unwrap().is_empty(), "not bob's");
        assert!(search(&conn, "svc@example.com", "\"unbalanced OR", None, 10).is_ok(), "query syntax is text");

        // Next run: m1 unchanged (and its attachments), m2 read, then m1 removed.
        let second = apply_in(
            &conn,
            2,
            batch(vec![DocumentChange::Unchanged("m1".into()), DocumentChange::ReadFlag(ReadFlag { id: "m2".into(), is_read: true })], true),
        );
        assert_eq!((second.counts.unchanged, second.counts.updated, second.counts.removed), (3, 1, 0));
        let third = apply_in(&conn, 3, batch(vec![DocumentChange::Remove("m1".into())], false));
        assert_eq!((third.counts.removed, third.by_kind["attachment"].removed), (3, 2));
        assert!(search(&conn, "svc@example.com", "pdfmarker7731", None, 10).unwrap().is_empty(), "the attachment went with it");
        let rows: i64 = conn.query_row("SELECT count(*) FROM documents_trigrams_docsize", [], |row| row.get(0)).unwrap();
        assert_eq!(rows, 0, "m1 left the trigram index too");
        assert!(search(&conn, "svc@example.com", "請求書の確認", None, 10).unwrap().is_empty());
        // A complete listing that does not mention m2 removes it.
        let fourth = apply_in(&conn, 4, batch(vec![], true));
        assert_eq!(fourth.counts.removed, 1);
        assert_eq!(conn.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0)).unwrap(), 0);
        assert_eq!(conn.query_row("SELECT count(*) FROM document_acl", [], |r| r.get::<_, i64>(0)).unwrap(), 0);
    }

    /// Batches written together: the one the store refuses leaves nothing,
    /// those before it are kept and counted, those after it are not written.
    #[test]
    fn batches_written_together_keep_those_before_a_refused_one() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.lock();
        conn.execute_batch("CREATE TEMP TRIGGER refuse BEFORE INSERT ON documents WHEN NEW.id = 'm2' BEGIN SELECT RAISE(ABORT, 'refused'); END")
            .unwrap();
        let one = |id: &str| batch(vec![DocumentChange::Upsert(mail(id, "Hello", &format!("word{id}"), "svc@example.com"))], false);
        let (first, refused, after) = (one("m1"), one("m2"), one("m3"));
        let mut summary = DocumentSummary::default();
        let (at, error) = apply_batches(&conn, "exchange", 1, &[&first, &refused, &after], &mut summary).unwrap_err();
        assert_eq!(at, 1);
        assert!(error.to_string().contains("refused"), "{error}");
        let stored: Vec<String> = conn.prepare("SELECT id FROM documents").unwrap().query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(stored, ["m1"]);
        assert_eq!(summary.counts.created, 1);
        assert_eq!(ids(&search(&conn, "svc@example.com", "wordm1", None, 10).unwrap()), ["m1"]);
        assert!(search(&conn, "svc@example.com", "wordm3", None, 10).unwrap().is_empty());
        // Without a refusal, all are written under one savepoint.
        let mut summary = DocumentSummary::default();
        apply_batches(&conn, "exchange", 2, &[&one("m4"), &one("m5")], &mut summary).unwrap();
        assert_eq!(summary.counts.created, 2);
        conn.execute_batch("INSERT INTO documents_words (documents_words) VALUES ('integrity-check')").unwrap();
    }

    #[test]
    fn a_failed_item_is_read_again_until_it_is_read() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.lock();
        let failed = DocumentIssue { id: "m9".into(), kind: ContentKind::Mail, title: String::new(), reason: "unreadable".into() };
        apply_in(&conn, 1, batch(vec![DocumentChange::Failed(failed)], false));
        let waiting = || retries(&conn, "exchange").unwrap();
        assert_eq!(waiting(), [("svc@example.com".into(), "inbox".into(), "m9".into())]);
        // A read flag says nothing of an item never read.
        apply_in(&conn, 2, batch(vec![DocumentChange::ReadFlag(ReadFlag { id: "m9".into(), is_read: true })], false));
        assert_eq!(waiting().len(), 1);
        apply_in(&conn, 3, batch(vec![DocumentChange::Upsert(mail("m9", "Read at last", "", "svc@example.com"))], false));
        assert!(waiting().is_empty());
    }

    #[test]
    fn an_upserted_message_loses_the_attachments_it_no_longer_has() {
        let store = crate::store::Store::in_memory().unwrap();
        let conn = store.lock();
        apply_in(
            &conn,
            1,
            batch(
                vec![
                    DocumentChange::Upsert(mail("m1", "Report", "see attached", "svc@example.com")),
                    DocumentChange::Upsert(attachment("a1", "m1", "old text", Extraction::Extracted)),
                ],
                false,
            ),
        );
        let edited = apply_in(&conn, 2, batch(vec![DocumentChange::Upsert(mail("m1", "Report v2", "nothing attached", "svc@example.com"))], false));
        assert_eq!((edited.counts.updated, edited.counts.removed), (1, 1));
        assert_eq!(ids(&search(&conn, "svc@example.com", "v2", None, 10).unwrap()), ["m1"], "reindexed");
        assert!(search(&conn, "svc@example.com", "report", None, 10).unwrap().len() == 1);
    }
}
