//! `helpdesk-host bench`: a full sync of a large mailbox through the
//! component, incremental syncs, the same read by exchangelib over the same
//! emulator in the same run, and component loading, with medians.

pub mod calendar;
pub mod child;
pub mod load;
pub mod mail;
pub mod org;
pub mod peer;

use crate::cli::{Mode, emulator_config_for};
use crate::emulator::data::Layout;
use crate::emulator::{Emulator, EmulatorOptions};
use anyhow::{Context, Result};
use exchange_connector::ews::{SYNC_PAGE, get_item};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub contacts: usize,
    pub folders: usize,
    /// runs of each measurement; medians are reported
    pub runs: usize,
    /// contacts exchangelib reads (whole folders), or 0 to leave it out
    pub peer_contacts: usize,
    /// the virtual environment for exchangelib
    pub venv: PathBuf,
    /// where databases and configurations go
    pub work_dir: PathBuf,
    /// ordinary messages per mailbox for the mail benchmark (two mailboxes)
    pub messages: usize,
    /// the staff of the organisation benchmark
    pub mailboxes: usize,
}

/// The figures, in the JSON shape the README documents.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub contacts: usize,
    pub folders: usize,
    pub runs: usize,
    /// users created + skipped by the full sync (every contact read)
    pub contacts_synced: u64,
    pub full_ms: f64,
    /// the sync process's wall time, start-up included
    pub full_process_ms: f64,
    /// the same full sync with Basic (the plugin's header), and the ratio
    /// of the NTLM one to it, measured side by side in each run
    pub full_basic_ms: f64,
    pub ntlm_over_basic: f64,
    pub contacts_per_s: f64,
    pub requests: u64,
    pub bytes_received: u64,
    pub peak_rss_mib: f64,
    pub peak_rss_mib_1k: f64,
    pub incremental_nochange_ms: f64,
    pub incremental_nochange_requests: u64,
    pub incremental_100_ms: f64,
    pub incremental_100_requests: u64,
    pub peer: String,
    pub peer_contacts: u64,
    pub peer_contacts_per_s: Option<f64>,
    pub ratio: Option<f64>,
    pub compile_ms: f64,
    pub load_cached_ms: f64,
    pub instantiate_ms: f64,
    #[serde(flatten)]
    pub mail: mail::MailFigures,
    #[serde(flatten)]
    pub calendar: calendar::CalendarFigures,
    #[serde(flatten)]
    pub org: org::OrgFigures,
}

/// Changes made between the full and the second incremental sync.
const CHANGES: (usize, usize, usize) = (34, 33, 33);
/// The small mailbox whose peak memory is the baseline.
const SMALL: usize = 1_000;

pub async fn run(options: &BenchOptions) -> Result<Figures> {
    std::fs::create_dir_all(&options.work_dir).with_context(|| format!("creating {}", options.work_dir.display()))?;
    let work = options.work_dir.canonicalize()?;
    let load = load::measure(20).await?;
    // Fill the cache the sync processes load the component from, so that
    // none of them compiles it.
    crate::runtime::Runtime::shared()?;

    let layout = Layout::Flat(options.folders);
    tracing::info!("seeding the emulator with {} contacts in {} folders", options.contacts, options.folders);
    let large = Emulator::start(EmulatorOptions { contacts: options.contacts, layout, ..Default::default() }).await?;
    let small = Emulator::start(EmulatorOptions { contacts: SMALL, layout, ..Default::default() }).await?;
    // The same mailbox behind Basic, for NTLM's cost side by side.
    let basic_only = crate::emulator::auth::Schemes::BASIC;
    let basic = Emulator::start(EmulatorOptions { contacts: options.contacts, layout, auth: basic_only, ..Default::default() }).await?;

    let python = if options.peer_contacts > 0 { Some(peer::python_with_exchangelib(&options.venv)?) } else { None };
    let mut full = Vec::new();
    let mut nochange = Vec::new();
    let mut changed = Vec::new();
    let mut small_rss = Vec::new();
    let mut full_basic = Vec::new();
    let mut reads = Vec::new();
    // Ours and the peer's alternate run by run: the machine's speed drifts,
    // and blocks of runs would put the drift into the ratio.
    for run in 0..options.runs.max(1) {
        full_basic.push(sync(&fresh_config(&basic, &work, "basic", Some("basic"))?, true, &work).await?);
        let config = fresh_config(&large, &work, "large", None)?;
        let first = sync(&config, true, &work).await?;
        tracing::info!("run {run}: full sync {} ms, {} requests", first.summary.elapsed_ms, first.summary.requests);
        if let Some(python) = &python {
            let (endpoint, user, password) = (large.endpoint(), large.user().to_string(), large.password().to_string());
            let (python, limit) = (python.clone(), options.peer_contacts);
            let read = tokio::task::spawn_blocking(move || {
                peer::read(&python, &endpoint, &user, &password, limit, SYNC_PAGE, get_item::MAX_BATCH)
            })
            .await??;
            tracing::info!("run {run}: exchangelib read {} contacts in {} ms", read.contacts, read.elapsed.as_millis());
            reads.push(read);
        }
        nochange.push(sync(&config, false, &work).await?);
        let (added, edited, removed) = CHANGES;
        large.mailbox_mut().scripted_changes(added, edited, removed);
        changed.push(sync(&config, false, &work).await?);
        full.push(first);
        small_rss.push(sync(&fresh_config(&small, &work, "small", None)?, true, &work).await?.peak_rss_mib);
    }
    let peer = (!reads.is_empty()).then_some(reads);

    let mail = mail::run(options, &work).await?;
    let calendar = calendar::run(options, &work).await?;
    let org = org::run(options, &work).await?;
    let full_ms = median(full.iter().map(|r| r.summary.elapsed_ms as f64));
    let full_basic_ms = median(full_basic.iter().map(|r| r.summary.elapsed_ms as f64));
    let contacts_synced = full[0].summary.counts.created + full[0].summary.counts.skipped;
    let contacts_per_s = median(full.iter().map(|r| (r.summary.counts.created + r.summary.counts.skipped) as f64 / (r.summary.elapsed_ms.max(1) as f64 / 1000.0)));
    let peer_contacts_per_s = peer.as_ref().map(|reads| median(reads.iter().map(peer::PeerRead::contacts_per_s)));
    Ok(Figures {
        contacts: options.contacts,
        folders: full[0].summary.folders.len(),
        runs: full.len(),
        contacts_synced,
        full_ms,
        full_process_ms: median(full.iter().map(|r| r.wall.as_secs_f64() * 1000.0)),
        full_basic_ms,
        ntlm_over_basic: full_ms / full_basic_ms.max(1.0),
        contacts_per_s,
        requests: median_u64(full.iter().map(|r| r.summary.requests)),
        bytes_received: median_u64(full.iter().map(|r| r.summary.bytes_received)),
        peak_rss_mib: median(full.iter().map(|r| r.peak_rss_mib)),
        peak_rss_mib_1k: median(small_rss.iter().copied()),
        incremental_nochange_ms: median(nochange.iter().map(|r| r.summary.elapsed_ms as f64)),
        incremental_nochange_requests: median_u64(nochange.iter().map(|r| r.summary.requests)),
        incremental_100_ms: median(changed.iter().map(|r| r.summary.elapsed_ms as f64)),
        incremental_100_requests: median_u64(changed.iter().map(|r| r.summary.requests)),
        peer: peer::NAME.into(),
        peer_contacts: peer.as_ref().map_or(0, |reads| reads[0].contacts),
        peer_contacts_per_s,
        ratio: peer_contacts_per_s.map(|peer| contacts_per_s / peer),
        compile_ms: load.compile_ms,
        load_cached_ms: load.load_cached_ms,
        instantiate_ms: load.instantiate_ms,
        mail,
        calendar,
        org,
    })
}

/// A fresh database and a configuration file for it (`auth`: the
/// configuration's, else its default).
fn fresh_config(emulator: &Emulator, work: &Path, name: &str, auth: Option<&str>) -> Result<PathBuf> {
    let db = fresh_database(work, name);
    let path = work.join(format!("{name}.toml"));
    let mut config = emulator_config_for(emulator, &db, Mode::Ews);
    config.exchange.auth = auth.map(str::to_string);
    config.save(&path)?;
    Ok(path)
}

/// `WORK/NAME.db`, with any earlier database of that name gone.
fn fresh_database(work: &Path, name: &str) -> PathBuf {
    let db = work.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm", ".secrets.json"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    db
}

async fn sync(config: &Path, full: bool, work: &Path) -> Result<child::ChildRun> {
    let (config, work) = (config.to_path_buf(), work.to_path_buf());
    tokio::task::spawn_blocking(move || child::sync(&config, full, &work)).await?
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn median_u64(values: impl Iterator<Item = u64>) -> u64 {
    median(values.map(|v| v as f64)) as u64
}

/// The figures as a short table for people.
pub fn text(f: &Figures) -> String {
    let mut text = format!(
        "Full sync of {} contacts in {} folders ({} runs, medians):\n  {:.0} ms, {:.0} contacts/s, {} requests, {:.1} MiB received\n",
        f.contacts,
        f.folders,
        f.runs,
        f.full_ms,
        f.contacts_per_s,
        f.requests,
        f.bytes_received as f64 / (1024.0 * 1024.0)
    );
    text += &format!("  signed in with NTLM; with Basic {:.0} ms: NTLM takes {:.3} times as long\n", f.full_basic_ms, f.ntlm_over_basic);
    text += &format!("  peak memory of the sync process: {:.1} MiB ({:.1} MiB for {SMALL} contacts)\n", f.peak_rss_mib, f.peak_rss_mib_1k);
    text += &format!(
        "Incremental sync: no changes {:.0} ms in {} requests; 100 changes {:.0} ms in {} requests\n",
        f.incremental_nochange_ms, f.incremental_nochange_requests, f.incremental_100_ms, f.incremental_100_requests
    );
    match (f.peer_contacts_per_s, f.ratio) {
        (Some(peer), Some(ratio)) => {
            text += &format!("{}: {} contacts at {peer:.0} contacts/s; we are {ratio:.1} times as fast\n", f.peer, f.peer_contacts)
        }
        _ => text += "peer: not measured\n",
    }
    let m = &f.mail;
    text += &format!(
        "Mail of two mailboxes ({} ordinary messages each): {} mail and {} attachment documents\n  full sync {:.0} ms, {:.0} messages/s, {} requests; peak memory {:.1} MiB ({:.1} MiB with {} each)\n  unchanged incremental run: {} requests for {} mail folders\n",
        m.messages_per_mailbox,
        m.mail_documents,
        m.attachment_documents,
        m.mail_full_ms,
        m.mail_documents_per_s,
        m.mail_requests,
        m.mail_peak_rss_mib,
        m.mail_peak_rss_mib_1k,
        mail::SMALL,
        m.mail_incremental_nochange_requests,
        m.mail_folders
    );
    match (m.peer_messages_per_s, m.mail_ratio) {
        (Some(peer), Some(ratio)) => text += &format!("{}: {} messages at {peer:.0} messages/s; we are {ratio:.1} times as fast\n", f.peer, m.peer_messages),
        _ => text += "peer (mail): not measured\n",
    }
    text += &calendar::text(&f.calendar);
    text += &org::text(&f.org);
    text += &format!(
        "Component: compile {:.1} ms, load from cache {:.2} ms, instantiate {:.3} ms\n",
        f.compile_ms, f.load_cached_ms, f.instantiate_ms
    );
    text
}
