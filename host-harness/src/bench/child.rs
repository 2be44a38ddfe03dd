//! A sync run in a child process of this binary, as `helpdesk-host sync`
//! runs it, so that its peak resident memory is its own and not the
//! emulator's.

use crate::summary::Summary;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct ChildRun {
    pub summary: Summary,
    /// the child's wall time, from spawn to exit
    pub wall: Duration,
    pub peak_rss_mib: f64,
}

/// Run `helpdesk-host bench-sync --config config` (with `--full` when
/// asked) and wait for it.
pub fn sync(config: &Path, full: bool, work: &Path) -> Result<ChildRun> {
    let exe = std::env::current_exe().context("locating this program")?;
    // A summary can be larger than a pipe holds: the child writes a file.
    let out_path = work.join("child-summary.json");
    let out = std::fs::File::create(&out_path).with_context(|| format!("creating {}", out_path.display()))?;
    let mut command = Command::new(exe);
    command.args(["bench-sync", "--config"]).arg(config).stdout(out).stderr(Stdio::inherit());
    if full {
        command.arg("--full");
    }
    command.env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
    let start = Instant::now();
    let status = command.status().context("running a sync process")?;
    let wall = start.elapsed();
    let text = std::fs::read_to_string(&out_path)?;
    if !status.success() {
        bail!("the sync process failed ({status}): {}", text.trim());
    }
    let output: Output = serde_json::from_str(&text).with_context(|| format!("reading the sync summary: {text}"))?;
    Ok(ChildRun { summary: output.summary, wall, peak_rss_mib: output.peak_rss_kib as f64 / 1024.0 })
}

#[derive(serde::Deserialize)]
struct Output {
    summary: Summary,
    peak_rss_kib: u64,
}

/// This process's peak resident memory since it started (VmHWM). The
/// kernel's rusage of a child would not do: it counts the parent's memory
/// at the fork, and the parent here holds the emulator's mailbox.
pub fn own_peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("/proc/self/status has no VmHWM")
}
