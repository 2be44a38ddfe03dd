//! The calendar-and-tasks phase of `bench`: the events, tasks and their
//! attachments of the emulator's two people (every calendar and task
//! folder, a series once), then an unchanged incremental run.

use super::{BenchOptions, median, median_u64};
use crate::cli::{Mode, emulator_config_for};
use crate::emulator::{COLLEAGUE, Emulator, EmulatorOptions};
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize)]
pub struct CalendarFigures {
    pub event_documents: u64,
    pub task_documents: u64,
    pub calendar_full_ms: f64,
    pub calendar_requests: u64,
    /// beyond the same run without calendars and tasks
    pub calendar_nochange_requests: u64,
}

pub async fn run(options: &BenchOptions, work: &Path) -> Result<CalendarFigures> {
    let emulator = Emulator::start(EmulatorOptions { contacts: 10, messages: 0, ..Default::default() }).await?;
    let contacts_only = super::sync(&config(&emulator, work, false)?, false, work).await?.summary.requests;
    let (mut full, mut nochange) = (Vec::new(), Vec::new());
    for _ in 0..options.runs.max(1) {
        let config = config(&emulator, work, true)?;
        full.push(super::sync(&config, true, work).await?);
        nochange.push(super::sync(&config, false, work).await?);
    }
    let kind = |kind: &str| full[0].summary.documents.as_ref().and_then(|d| d.by_kind.get(kind)).map_or(0, |c| c.created);
    Ok(CalendarFigures {
        event_documents: kind("event"),
        task_documents: kind("task"),
        calendar_full_ms: median(full.iter().map(|r| r.summary.elapsed_ms as f64)),
        calendar_requests: median_u64(full.iter().map(|r| r.summary.requests)),
        calendar_nochange_requests: median_u64(nochange.iter().map(|r| r.summary.requests)).saturating_sub(contacts_only),
    })
}

/// A fresh database reading both people's events and tasks (without
/// `calendars`: contacts only).
fn config(emulator: &Emulator, work: &Path, calendars: bool) -> Result<PathBuf> {
    let name = if calendars { "calendar" } else { "calendar-contacts-only" };
    let db = super::fresh_database(work, name);
    let path = work.join(format!("{name}.toml"));
    let mut config = emulator_config_for(emulator, &db, Mode::Ews);
    if calendars {
        let kinds = ["event", "task", "attachment"].map(str::to_string).to_vec();
        config.documents = Some(crate::config::DocumentsConfig { kinds, ..Default::default() });
        config.exchange.mailboxes = vec![emulator.user().to_string(), COLLEAGUE.to_string()];
    }
    config.save(&path)?;
    Ok(path)
}

pub fn text(f: &CalendarFigures) -> String {
    format!(
        "Calendars and tasks of two mailboxes: {} event and {} task documents, full sync {:.0} ms in {} requests; unchanged incremental run: {} requests\n",
        f.event_documents, f.task_documents, f.calendar_full_ms, f.calendar_requests, f.calendar_nochange_requests
    )
}
