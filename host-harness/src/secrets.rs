//! Secrets a plugin asked to keep for the next run (a rotated refresh
//! token): a file beside the database, readable by its owner only; never
//! the database itself.
//!
//! Each kept secret records a fingerprint of the configured value it
//! replaced (`<key>.replaces`), so that a value the admin configures anew
//! wins over one rotated from an older configuration.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a value `helpdesk-host login` obtained replaces: nothing
/// configured stands behind it, and it is used while nothing is.
pub const FROM_LOGIN: &str = "login";

/// The secrets file of a database.
pub fn path(database: &Path) -> PathBuf {
    PathBuf::from(format!("{}.secrets.json", database.display()))
}

fn marker(key: &str) -> String {
    format!("{key}.replaces")
}

/// A fingerprint of a configured secret: enough to tell whether it changed,
/// nothing to recover it from.
pub fn fingerprint(value: &str) -> String {
    Sha256::digest(value.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn load(database: &Path) -> Result<BTreeMap<String, String>> {
    let path = path(database);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a secrets file", path.display()))
}

/// The value of `key` to use: the one a run kept, if it was rotated from
/// the value configured now; else the configured one.
pub fn current(database: &Path, key: &str, configured: Option<String>) -> Result<Option<String>> {
    let saved = load(database)?;
    let Some(configured) = configured else {
        // Signed in with `login` (or rotated from such a token) and nothing
        // configured: the kept one.
        let from_login = saved.get(&marker(key)).is_some_and(|m| m == FROM_LOGIN);
        return Ok(saved.get(key).filter(|_| from_login).cloned());
    };
    let from_this = match saved.get(&marker(key)) {
        Some(replaced) => *replaced == fingerprint(&configured),
        // Kept before fingerprints were: it came from the configuration.
        None => true,
    };
    Ok(Some(match saved.get(key) {
        Some(kept) if from_this => kept.clone(),
        _ => configured,
    }))
}

/// Keep `value` for `key` at once, durably (a temporary file, fsync,
/// rename, fsync of the directory): a crash right after leaves either the
/// old file or the new one. `replaces` is the fingerprint of the value
/// configured when the run began.
pub fn save(database: &Path, key: &str, value: &str, replaces: Option<&str>) -> Result<()> {
    let mut secrets = load(database)?;
    secrets.insert(key.to_string(), value.to_string());
    match replaces {
        Some(fingerprint) => secrets.insert(marker(key), fingerprint.to_string()),
        None => secrets.remove(&marker(key)),
    };
    let path = path(database);
    let temp = PathBuf::from(format!("{}.tmp", path.display()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).with_context(|| format!("writing {}", temp.display()))?;
        file.write_all(serde_json::to_string(&secrets)?.as_bytes())?;
        file.sync_all().with_context(|| format!("writing {}", temp.display()))?;
    }
    std::fs::rename(&temp, &path).with_context(|| format!("replacing {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_from_login_is_used_while_none_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("helpdesk.db");
        save(&db, "refresh_token", "rotated-from-a-configured-one", None).unwrap();
        assert_eq!(current(&db, "refresh_token", None).unwrap(), None, "not from login: not used unconfigured");
        save(&db, "refresh_token", "from-login", Some(FROM_LOGIN)).unwrap();
        assert_eq!(current(&db, "refresh_token", None).unwrap().as_deref(), Some("from-login"));
        assert_eq!(current(&db, "refresh_token", Some("configured".into())).unwrap().as_deref(), Some("configured"), "a configured token wins");
    }

    #[test]
    fn a_rotated_secret_wins_until_a_new_one_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("helpdesk.db");
        assert_eq!(current(&db, "refresh_token", Some("first".into())).unwrap().as_deref(), Some("first"));
        save(&db, "refresh_token", "rotated-1", Some(&fingerprint("first"))).unwrap();
        assert_eq!(current(&db, "refresh_token", Some("first".into())).unwrap().as_deref(), Some("rotated-1"));
        save(&db, "refresh_token", "rotated-2", Some(&fingerprint("first"))).unwrap();
        assert_eq!(current(&db, "refresh_token", Some("first".into())).unwrap().as_deref(), Some("rotated-2"));
        // The admin configures a new token: it replaces the kept one.
        assert_eq!(current(&db, "refresh_token", Some("second".into())).unwrap().as_deref(), Some("second"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(&db)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(path(&db)).unwrap();
        assert!(!text.contains("\"first\"") && !text.contains("\"second\""), "configured values are never written");
    }
}
