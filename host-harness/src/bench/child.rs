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

/// Run `helpdesk-host sync --config config --json` (with `--full` when
/// asked) and wait for it.
pub fn sync(config: &Path, full: bool, work: &Path) -> Result<ChildRun> {
    let exe = std::env::current_exe().context("locating this program")?;
    // A summary can be larger than a pipe holds: the child writes a file.
    let out_path = work.join("child-summary.json");
    let out = std::fs::File::create(&out_path).with_context(|| format!("creating {}", out_path.display()))?;
    let mut command = Command::new(exe);
    command.args(["sync", "--json", "--config"]).arg(config).stdout(out).stderr(Stdio::inherit());
    if full {
        command.arg("--full");
    }
    command.env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
    let start = Instant::now();
    let child = command.spawn().context("starting a sync process")?;
    let (status, peak_kib) = wait_with_peak_rss(child.id())?;
    let wall = start.elapsed();
    let text = std::fs::read_to_string(&out_path)?;
    if !status.success() {
        bail!("the sync process failed ({status}): {}", text.trim());
    }
    let summary: Summary = serde_json::from_str(&text).with_context(|| format!("reading the sync summary: {text}"))?;
    Ok(ChildRun { summary, wall, peak_rss_mib: peak_kib as f64 / 1024.0 })
}

/// Wait for the child and read its peak resident set (KiB) from the
/// kernel's accounting, which `std::process::Child::wait` does not show.
fn wait_with_peak_rss(pid: u32) -> Result<(std::process::ExitStatus, i64)> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    // SAFETY: rusage is plain data the kernel fills in; pid is our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if waited < 0 {
        return Err(std::io::Error::last_os_error()).context("waiting for the sync process");
    }
    Ok((std::process::ExitStatus::from_raw(status), usage.ru_maxrss))
}
