//! The mail half of `bench`: a full sync of two mailboxes' mail (bodies
//! and attachments, text extracted) through the component, an unchanged
//! incremental run, and exchangelib reading the same mail from the same
//! emulator, ours and the peer's runs alternating so that the machine's
//! drift hits both alike; the peak memory beside a small mailbox's.

use super::{BenchOptions, child, median, median_u64, peer};
use crate::cli::{Mode, emulator_config_for};
use crate::emulator::{COLLEAGUE, Emulator, EmulatorOptions};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize)]
pub struct MailFigures {
    /// ordinary messages per mailbox (two mailboxes), beside the special ones
    pub messages_per_mailbox: usize,
    pub mail_documents: u64,
    pub attachment_documents: u64,
    pub mail_full_ms: f64,
    pub mail_documents_per_s: f64,
    pub mail_requests: u64,
    pub mail_peak_rss_mib: f64,
    /// the same with 500 messages per mailbox
    pub mail_peak_rss_mib_1k: f64,
    pub mail_folders: u64,
    /// what an unchanged incremental run costs beyond the same run
    /// without mail
    pub mail_incremental_nochange_requests: u64,
    pub peer_messages: u64,
    pub peer_messages_per_s: Option<f64>,
    /// our messages per second over exchangelib's, medians of alternating runs
    pub mail_ratio: Option<f64>,
}

pub const SMALL: usize = 500;

pub async fn run(options: &BenchOptions, work: &Path) -> Result<MailFigures> {
    let large = Emulator::start(EmulatorOptions { contacts: 10, messages: options.messages, ..Default::default() }).await?;
    let small = Emulator::start(EmulatorOptions { contacts: 10, messages: SMALL, ..Default::default() }).await?;
    let python = if options.peer_contacts > 0 { Some(peer::python_with_exchangelib(&options.venv)?) } else { None };
    let mut full = Vec::new();
    let mut nochange = Vec::new();
    let mut peers = Vec::new();
    // The same mailbox's contacts alone, for what mail adds to a run.
    let contacts = mail_config(&large, work, "mail-contacts-only", false)?;
    super::sync(&contacts, true, work).await?;
    let contacts_only = super::sync(&contacts, false, work).await?.summary.requests;
    let mut small_rss = Vec::new();
    for run in 0..options.runs.max(1) {
        let config = mail_config(&large, work, "mail", true)?;
        let first = super::sync(&config, true, work).await?;
        tracing::info!("run {run}: mail full sync {} ms, {} requests", first.summary.elapsed_ms, first.summary.requests);
        nochange.push(super::sync(&config, false, work).await?);
        full.push(first);
        if let Some(python) = &python {
            let (endpoint, user, password) = (large.endpoint(), large.user().to_string(), large.password().to_string());
            let python = python.clone();
            let read = tokio::task::spawn_blocking(move || {
                peer::read_mail(&python, &endpoint, &user, &password, 10 << 20, &[user.as_str(), COLLEAGUE])
            })
            .await??;
            tracing::info!("run {run}: exchangelib read {} messages in {} ms", read.messages, read.elapsed.as_millis());
            peers.push(read);
        }
        small_rss.push(super::sync(&mail_config(&small, work, "mail-small", true)?, true, work).await?.peak_rss_mib);
    }
    let kind = |r: &child::ChildRun, kind: &str| r.summary.documents.as_ref().and_then(|d| d.by_kind.get(kind)).map_or(0, |c| c.created + c.skipped + c.failed);
    let mails_per_s = median(full.iter().map(|r| kind(r, "mail") as f64 / (r.summary.elapsed_ms.max(1) as f64 / 1000.0)));
    let peer_messages_per_s = (!peers.is_empty()).then(|| median(peers.iter().map(|p| p.messages as f64 / p.elapsed.as_secs_f64())));
    Ok(MailFigures {
        messages_per_mailbox: options.messages,
        mail_documents: kind(&full[0], "mail"),
        attachment_documents: kind(&full[0], "attachment"),
        mail_full_ms: median(full.iter().map(|r| r.summary.elapsed_ms as f64)),
        mail_documents_per_s: mails_per_s,
        mail_requests: median_u64(full.iter().map(|r| r.summary.requests)),
        mail_peak_rss_mib: median(full.iter().map(|r| r.peak_rss_mib)),
        mail_peak_rss_mib_1k: median(small_rss.iter().copied()),
        mail_folders: mail_folder_count(&large),
        mail_incremental_nochange_requests: median_u64(nochange.iter().map(|r| r.summary.requests)).saturating_sub(contacts_only),
        peer_messages: peers.first().map_or(0, |p| p.messages),
        peer_messages_per_s,
        mail_ratio: peer_messages_per_s.map(|peer| mails_per_s / peer),
    })
}

/// A fresh database and a configuration reading both mailboxes' mail
/// (without `mail`: contacts only).
fn mail_config(emulator: &Emulator, work: &Path, name: &str, mail: bool) -> Result<PathBuf> {
    let db = super::fresh_database(work, name);
    let path = work.join(format!("{name}.toml"));
    let mut config = emulator_config_for(emulator, &db, Mode::Ews);
    if mail {
        // Mail and its attachments: what exchangelib reads beside us.
        config.documents = Some(crate::config::DocumentsConfig { kinds: vec!["mail".into(), "attachment".into()], ..Default::default() });
        config.exchange.mailboxes = vec![emulator.user().to_string(), COLLEAGUE.to_string()];
    }
    config.save(&path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The mail folders a sync reads, in both mailboxes: what an unchanged
/// incremental run costs one request each.
fn mail_folder_count(emulator: &Emulator) -> u64 {
    let count = |m: &crate::emulator::data::Mailbox| {
        m.folders.iter().filter(|f| f.element == "Folder" && f.class == "IPF.Note" && !matches!(f.distinguished, Some("deleteditems" | "drafts" | "msgfolderroot"))).count()
    };
    let colleague = emulator.colleagues().iter().filter(|m| m.address == COLLEAGUE).map(count).sum::<usize>();
    (count(&emulator.mailbox()) + colleague) as u64
}
