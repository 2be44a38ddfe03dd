//! Secrets a plugin asked to keep for the next run (a rotated refresh
//! token): a file beside the database, readable by its owner only; never
//! the database itself.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn path(database: &Path) -> PathBuf {
    PathBuf::from(format!("{}.secrets.json", database.display()))
}

pub fn load(database: &Path) -> Result<BTreeMap<String, String>> {
    let path = path(database);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a secrets file", path.display()))
}

pub fn save(database: &Path, updates: &[(String, String)]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let mut secrets = load(database)?;
    secrets.extend(updates.iter().cloned());
    let path = path(database);
    let temp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).with_context(|| format!("writing {}", temp.display()))?;
        file.write_all(serde_json::to_string(&secrets)?.as_bytes())?;
    }
    std::fs::rename(&temp, &path)?;
    Ok(())
}
