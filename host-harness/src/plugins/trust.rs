//! The publishers' keys this host trusts: one `<id>.pub` file each in
//! `trusted-keys/` under the data directory.

use super::keys::PublicKey;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

pub struct TrustStore {
    dir: PathBuf,
}

impl TrustStore {
    pub fn at(home: &Path) -> TrustStore {
        TrustStore { dir: home.join("trusted-keys") }
    }

    pub fn add(&self, key: &PublicKey) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let path = self.dir.join(format!("{}.pub", key.id()));
        std::fs::write(&path, key.to_line()).with_context(|| format!("writing {}", path.display()))
    }

    pub fn list(&self) -> Result<Vec<PublicKey>> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Ok(Vec::new()) };
        let mut keys = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "pub") {
                keys.push(PublicKey::read(&path)?);
            }
        }
        keys.sort_by_key(PublicKey::id);
        Ok(keys)
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let path = self.dir.join(format!("{}.pub", id.trim()));
        if !path.exists() {
            bail!("no trusted key has the id {id}");
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
    }

    pub fn find(&self, id: &str) -> Result<Option<PublicKey>> {
        Ok(self.list()?.into_iter().find(|k| k.id() == id))
    }
}
