//! The organisation half of `bench`: every mailbox of an organisation of
//! `--mailboxes` people (`mailboxes = "all"`: listed with
//! GetSearchableMailboxes, each impersonated, mail, attachments, calendars
//! and tasks), then an unchanged incremental run: its time and requests
//! per mailbox.

use super::{BenchOptions, median, median_u64};
use crate::cli::{Mode, emulator_config_for};
use crate::emulator::{Emulator, EmulatorOptions};
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Ordinary messages in each staff mailbox.
const MESSAGES: usize = 20;

#[derive(Clone, Debug, Serialize)]
pub struct OrgFigures {
    /// mailboxes read (the staff, and the emulator's own people and shared mailbox)
    pub org_mailboxes: u64,
    pub org_documents: u64,
    pub org_full_ms: f64,
    pub org_nochange_ms: f64,
    pub org_nochange_requests: u64,
    pub org_nochange_ms_per_mailbox: f64,
    pub org_nochange_requests_per_mailbox: f64,
}

pub async fn run(options: &BenchOptions, work: &Path) -> Result<OrgFigures> {
    let org = Emulator::start(EmulatorOptions { contacts: 10, messages: MESSAGES, staff: options.mailboxes, ..Default::default() }).await?;
    let mut full = Vec::new();
    let mut nochange = Vec::new();
    for run in 0..options.runs.max(1) {
        let config = org_config(&org, work)?;
        let first = super::sync(&config, true, work).await?;
        tracing::info!("run {run}: organisation full sync {} ms, {} requests", first.summary.elapsed_ms, first.summary.requests);
        nochange.push(super::sync(&config, false, work).await?);
        full.push(first);
    }
    let store = crate::store::Store::open(&work.join("org.db"))?;
    let mailboxes = store.document_mailboxes()?.len() as u64;
    let documents = full[0].summary.documents.as_ref().map_or(0, |d| d.counts.created);
    let nochange_ms = median(nochange.iter().map(|r| r.summary.elapsed_ms as f64));
    let nochange_requests = median_u64(nochange.iter().map(|r| r.summary.requests));
    Ok(OrgFigures {
        org_mailboxes: mailboxes,
        org_documents: documents,
        org_full_ms: median(full.iter().map(|r| r.summary.elapsed_ms as f64)),
        org_nochange_ms: nochange_ms,
        org_nochange_requests: nochange_requests,
        org_nochange_ms_per_mailbox: nochange_ms / mailboxes.max(1) as f64,
        org_nochange_requests_per_mailbox: nochange_requests as f64 / mailboxes.max(1) as f64,
    })
}

/// A fresh database reading every mailbox's content.
fn org_config(emulator: &Emulator, work: &Path) -> Result<PathBuf> {
    let db = super::fresh_database(work, "org");
    let path = work.join("org.toml");
    let mut config = emulator_config_for(emulator, &db, Mode::Ews);
    config.documents = Some(Default::default());
    config.exchange.mailboxes = vec!["all".into()];
    config.save(&path)?;
    Ok(path)
}

/// The figures for people.
pub fn text(f: &OrgFigures) -> String {
    format!(
        "Organisation of {} mailboxes (mail, attachments, calendars, tasks): {} documents, full sync {:.0} ms\n  unchanged incremental run: {:.0} ms in {} requests, {:.1} ms and {:.1} requests per mailbox\n",
        f.org_mailboxes, f.org_documents, f.org_full_ms, f.org_nochange_ms, f.org_nochange_requests, f.org_nochange_ms_per_mailbox, f.org_nochange_requests_per_mailbox
    )
}

