//! The peer the benchmark measures us against: exchangelib, the Python EWS
//! client, installed from PyPI into a virtual environment on first use.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const EXCHANGELIB: &str = "exchangelib==5.6.0";
pub const NAME: &str = "exchangelib 5.6.0";
const SCRIPT: &str = include_str!("exchangelib_read.py");

/// The Python of a virtual environment at `venv` that has exchangelib,
/// made (python3 -m venv, pip install) when it is not there yet.
pub fn python_with_exchangelib(venv: &Path) -> Result<PathBuf> {
    let python = venv.join("bin/python");
    let ready = venv.join(".installed-5.6.0");
    if ready.exists() {
        return Ok(python);
    }
    // Tests in several threads and processes may want it at once: one makes
    // it, the others wait on the lock and find it ready.
    std::fs::create_dir_all(venv.parent().unwrap_or(Path::new(".")))?;
    let lock = std::fs::File::create(venv.with_extension("lock")).context("creating the venv lock")?;
    lock.lock().context("waiting for the venv lock")?;
    if ready.exists() {
        return Ok(python);
    }
    let status = Command::new("python3").args(["-m", "venv"]).arg(venv).status().context("running python3 -m venv")?;
    if !status.success() {
        bail!("python3 -m venv {} failed ({status})", venv.display());
    }
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", EXCHANGELIB])
        .status()
        .context("running pip")?;
    if !status.success() {
        bail!("pip could not install {EXCHANGELIB} into {} ({status})", venv.display());
    }
    std::fs::write(&ready, EXCHANGELIB)?;
    Ok(python)
}

pub struct PeerRead {
    pub contacts: u64,
    pub elapsed: Duration,
}

impl PeerRead {
    pub fn contacts_per_s(&self) -> f64 {
        self.contacts as f64 / self.elapsed.as_secs_f64()
    }
}

/// Read at least `limit` contacts (whole folders) from the EWS endpoint
/// with exchangelib, with our page and GetItem batch sizes.
pub fn read(python: &Path, endpoint: &str, user: &str, password: &str, limit: usize, page: u32, chunk: usize) -> Result<PeerRead> {
    let script = std::env::temp_dir().join(format!("helpdesk-bench-exchangelib-{}.py", std::process::id()));
    std::fs::write(&script, SCRIPT)?;
    let output = Command::new(python)
        .arg(&script)
        .args([endpoint, user, password, &limit.to_string(), &page.to_string(), &chunk.to_string()])
        .output()
        .context("running exchangelib")?;
    let _ = std::fs::remove_file(&script);
    if !output.status.success() {
        bail!("exchangelib failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).context("reading exchangelib's result")?;
    let contacts = result["contacts"].as_u64().context("exchangelib read no contacts")?;
    let ms = result["ms"].as_f64().context("exchangelib's result has no time")?;
    Ok(PeerRead { contacts, elapsed: Duration::from_secs_f64(ms / 1000.0) })
}

const MAIL_SCRIPT: &str = include_str!("exchangelib_mail.py");

pub struct PeerMailRead {
    pub messages: u64,
    pub attachments: u64,
    pub elapsed: Duration,
}

/// Read the mail of `mailboxes` with exchangelib, as our sync reads it.
pub fn read_mail(python: &Path, endpoint: &str, user: &str, password: &str, max_bytes: u64, mailboxes: &[&str]) -> Result<PeerMailRead> {
    let script = std::env::temp_dir().join(format!("helpdesk-bench-exchangelib-mail-{}.py", std::process::id()));
    std::fs::write(&script, MAIL_SCRIPT)?;
    let output = Command::new(python)
        .arg(&script)
        .args([endpoint, user, password, &max_bytes.to_string()])
        .args(mailboxes)
        .output()
        .context("running exchangelib")?;
    let _ = std::fs::remove_file(&script);
    if !output.status.success() {
        bail!("exchangelib failed on mail ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).context("reading exchangelib's result")?;
    let count = |key: &str| result[key].as_u64().with_context(|| format!("exchangelib's result has no {key}"));
    let ms = result["ms"].as_f64().context("exchangelib's result has no time")?;
    Ok(PeerMailRead { messages: count("messages")?, attachments: count("attachments")?, elapsed: Duration::from_secs_f64(ms / 1000.0) })
}
