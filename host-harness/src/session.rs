//! The host interface the plugin imports (`helpdesk:connector/host`): logs,
//! progress, the user fields, and batches applied to the store.

use crate::capabilities::RunState;
use crate::runtime::v0_2::helpdesk::connector::host::{Host, LogLevel};
use crate::runtime::types::{Batch, DocumentBatch, UserField};
use crate::store::{STANDARD_FIELDS, Store};
use crate::summary::Summary;
use crate::writer::Writer;

/// Where a sync run writes.
#[derive(Clone)]
pub struct SyncTarget {
    pub store: Store,
    pub source: String,
    pub run_id: i64,
    pub policy: crate::apply::Policy,
}

#[derive(Default)]
pub struct Session {
    /// None for runs that must not write (check, folders)
    pub target: Option<SyncTarget>,
    /// writes the batches of a sync run
    writer: Option<Writer>,
    pub fields: Vec<UserField>,
    pub summary: Summary,
    /// the first error the store raised, kept for the run's report
    pub store_error: Option<String>,
    /// where secrets the plugin asks to keep go, at once
    pub keeper: Option<Keeper>,
    /// progress bars, when standard error is a terminal
    pub bars: Option<crate::progress::Bars>,
    /// the organisation's mailboxes, as the plugin listed them
    pub listed_mailboxes: Option<Vec<String>>,
    /// reads attachments' text in instances of their own
    pub extractor: Option<std::sync::Arc<crate::runtime::extract::Extractor>>,
}

/// Keeps rotated secrets beside the database.
#[derive(Clone, Debug)]
pub struct Keeper {
    pub database: std::path::PathBuf,
    /// fingerprints of the configured values, by key
    pub replaces: std::collections::BTreeMap<String, String>,
}

impl Session {
    pub fn read_only() -> Session {
        Session::default()
    }

    pub fn syncing(target: SyncTarget) -> anyhow::Result<Session> {
        let mut fields: Vec<UserField> = STANDARD_FIELDS
            .iter()
            .map(|(name, label)| UserField { name: name.to_string(), label: label.to_string(), custom: false })
            .collect();
        for (name, label) in target.store.custom_fields()? {
            fields.push(UserField { name, label, custom: true });
        }
        let writer = Writer::start(target.clone())?;
        Ok(Session { target: Some(target), writer: Some(writer), fields, ..Default::default() })
    }

    /// Wait for the writes of the run; the summary then holds what was
    /// written, beside the warnings the plugin gave.
    pub fn finish_writes(&mut self) {
        let Some(writer) = self.writer.take() else { return };
        let (written, error) = writer.finish();
        // The plugin's warnings first, then the store's.
        let mut warnings = std::mem::take(&mut self.summary.warnings);
        let mut written = written;
        warnings.append(&mut written.warnings);
        self.summary = Summary { warnings, ..written };
        if let Some(error) = error {
            self.store_error.get_or_insert(error);
        }
    }
}

/// Warnings of the plugin a run keeps for its summary (and its row in the
/// runs table); the log has them all.
pub const MAX_WARNINGS: usize = 1000;
/// The longest warning kept, in bytes.
pub const MAX_WARNING: usize = 2048;

/// Keep a warning of the plugin within [`MAX_WARNINGS`] and [`MAX_WARNING`]:
/// a plugin that warns without end must not grow the run's row without end.
fn keep_warning(warnings: &mut Vec<String>, mut message: String) {
    if warnings.len() > MAX_WARNINGS {
        return;
    }
    if warnings.len() == MAX_WARNINGS {
        warnings.push(format!("the plugin gave more than {MAX_WARNINGS} warnings; the rest are in the log only"));
        return;
    }
    if message.len() > MAX_WARNING {
        let mut end = MAX_WARNING;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(" [cut]");
    }
    warnings.push(message);
}

impl crate::runtime::types::Host for RunState {}

impl Host for RunState {
    async fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        // As its standard error: no terminal escape, no line of its own.
        let message = crate::capabilities::stderr::escape(message.as_bytes());
        match level {
            LogLevel::Trace => tracing::trace!(target: "plugin", "{message}"),
            LogLevel::Debug => tracing::debug!(target: "plugin", "{message}"),
            LogLevel::Info => tracing::info!(target: "plugin", "{message}"),
            LogLevel::Warn => {
                tracing::warn!(target: "plugin", "{message}");
                keep_warning(&mut self.session.summary.warnings, message);
            }
            LogLevel::Error => tracing::error!(target: "plugin", "{message}"),
        }
        Ok(())
    }

    async fn progress(&mut self, folder_id: String, done: u64, total: u64) -> wasmtime::Result<()> {
        tracing::debug!(target: "plugin", "folder {folder_id}: {done} of {total}");
        if let Some(bars) = &mut self.session.bars {
            bars.update(&folder_id, done, total);
        }
        Ok(())
    }

    async fn user_fields(&mut self) -> wasmtime::Result<Vec<UserField>> {
        Ok(self.session.fields.clone())
    }

    async fn stored_versions(&mut self, folder_id: String, external_ids: Vec<String>) -> wasmtime::Result<Vec<Option<String>>> {
        let Some(target) = &self.session.target else { return Ok(vec![None; external_ids.len()]) };
        // What the plugin handed over before must be in the store first.
        if let Some(writer) = &self.session.writer {
            // A refusal is the plugin's news at its next batch.
            let _ = writer.flush();
        }
        target.store.stored_versions(&target.source, &folder_id, &external_ids).map_err(wasmtime::Error::from_anyhow)
    }

    /// Written at once: a run that dies later must not lose a token the
    /// server has already rotated.
    async fn save_secret(&mut self, key: String, value: String) -> wasmtime::Result<()> {
        let Some(keeper) = &self.session.keeper else { return Ok(()) };
        match crate::secrets::save(&keeper.database, &key, &value, keeper.replaces.get(&key).map(String::as_str)) {
            Ok(()) => tracing::info!(target: "plugin", "the plugin saved a new {key} for the next run"),
            Err(e) => {
                let warning = format!("a new {key} could not be kept for the next run: {e:#}");
                tracing::error!("{warning}");
                self.session.summary.warnings.push(warning);
            }
        }
        Ok(())
    }

    async fn apply_batch(&mut self, batch: Batch) -> wasmtime::Result<Result<(), String>> {
        let Some(writer) = &self.session.writer else {
            return Ok(Err("this run may not change users".into()));
        };
        if let Some(bars) = &mut self.session.bars {
            bars.name(&batch.folder_id, &batch.folder_path);
        }
        Ok(writer.apply(batch))
    }

    async fn stored_document_versions(&mut self, mailbox: String, ids: Vec<String>) -> wasmtime::Result<Vec<Option<String>>> {
        let Some(target) = &self.session.target else { return Ok(vec![None; ids.len()]) };
        if let Some(writer) = &self.session.writer {
            let _ = writer.flush();
        }
        crate::documents::stored_versions(&target.store.lock(), &target.source, &mailbox, &ids)
            .map_err(|e| wasmtime::Error::from_anyhow(e.into()))
    }

    async fn extract_text(&mut self, content_type: String, name: String, content: Vec<u8>) -> wasmtime::Result<Result<String, String>> {
        let Some(extractor) = self.session.extractor.clone() else {
            return Ok(Err("this run reads no files".into()));
        };
        Ok(extractor.text_of(&content_type, &name, &content).await)
    }

    async fn mailboxes_listed(&mut self, mailboxes: Vec<String>) -> wasmtime::Result<()> {
        tracing::info!(target: "plugin", "the organisation has {} mailboxes to read", mailboxes.len());
        self.session.listed_mailboxes = Some(mailboxes);
        Ok(())
    }

    async fn apply_documents(&mut self, batch: DocumentBatch) -> wasmtime::Result<Result<(), String>> {
        let Some(writer) = &self.session.writer else {
            return Ok(Err("this run may not change documents".into()));
        };
        Ok(writer.apply_documents(batch))
    }
}
