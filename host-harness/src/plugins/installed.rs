//! Installed plugins: `plugins/<id>/<version>/plugin.wasm` under the data
//! directory, and `plugins/<id>/state.json` (the active version, each
//! version's digest and signing key, the network granted). An install is
//! staged in `plugins/.staging/` and moved into place with a rename, and
//! the state is written to a temporary file and renamed: a failed step
//! leaves the previous state whole.

use super::package::{self, Verified};
use super::trust::TrustStore;
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct State {
    pub id: String,
    pub active: String,
    /// the version active before, for a rollback
    #[serde(default)]
    pub previous: Option<String>,
    /// by version
    pub versions: BTreeMap<String, Installed>,
    /// the network origins or patterns the admin granted
    pub granted: Vec<String>,
    pub granted_at: String,
    pub pinned: bool,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Installed {
    /// SHA-256 of the package file, hex
    pub digest: String,
    /// the signing key's id; None: installed with --allow-unsigned
    pub key: Option<String>,
    pub api: String,
    /// what it asked for
    pub network: Vec<String>,
}

pub struct Plugins {
    dir: PathBuf,
}

/// An upgrade checked and not yet written: the state it makes, and the
/// package to move into place (none for an installed version).
pub struct Switch {
    pub state: State,
    stage: Option<Vec<u8>>,
    /// the version active until the switch
    pub before: String,
}

impl Plugins {
    pub fn at(home: &Path) -> Plugins {
        Plugins { dir: home.join("plugins") }
    }

    fn state_path(&self, id: &str) -> PathBuf {
        self.dir.join(id).join("state.json")
    }

    pub fn state(&self, id: &str) -> Result<Option<State>> {
        let path = self.state_path(id);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn list(&self) -> Result<Vec<State>> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Ok(Vec::new()) };
        let mut states = Vec::new();
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().to_string();
            if !name.starts_with('.') {
                states.extend(self.state(&name)?);
            }
        }
        states.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(states)
    }

    /// Install a verified package, granting `granted` of the network it
    /// asks for; it becomes the active version of a plugin not installed
    /// yet (an installed one is upgraded instead).
    pub fn install(&self, bytes: &[u8], verified: &Verified, granted: Vec<String>) -> Result<State> {
        let manifest = &verified.manifest;
        plain(&manifest.id, &manifest.version)?;
        if let Some(state) = self.state(&manifest.id)? {
            bail!("{} is installed already (version {}); use `plugin upgrade {}`", manifest.id, state.active, manifest.id);
        }
        self.stage(&manifest.id, &manifest.version, bytes)?;
        let mut state = State { id: manifest.id.clone(), active: manifest.version.clone(), granted, granted_at: now(), ..Default::default() };
        state.versions.insert(manifest.version.clone(), installed(verified));
        self.save(&state)?;
        Ok(state)
    }

    /// Write the package into `plugins/<id>/<version>/` by way of the
    /// staging directory.
    fn stage(&self, id: &str, version: &str, bytes: &[u8]) -> Result<()> {
        plain(id, version)?;
        let staging = self.dir.join(".staging").join(format!("{id}-{version}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
        let file = staging.join("plugin.wasm");
        std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
        std::fs::File::open(&file)?.sync_all()?;
        let target = self.dir.join(id).join(version);
        std::fs::create_dir_all(self.dir.join(id))?;
        if target.exists() {
            let _ = std::fs::remove_dir_all(&staging);
            bail!("{id} {version} is installed already");
        }
        std::fs::rename(&staging, &target).with_context(|| format!("moving the package into {}", target.display()))
    }

    fn save(&self, state: &State) -> Result<()> {
        write_json(&self.state_path(&state.id), state)
    }

    /// What making `version` active would be: a verified package of it
    /// (staged if new), or one installed already (a rollback); refused
    /// if it asks for network not granted before nor in `newly_granted`,
    /// or if the plugin is pinned and `explicit` is false. Nothing is
    /// written until [`Plugins::switch`].
    pub fn prepare_upgrade(&self, id: &str, package: Option<(&[u8], &Verified)>, version: &str, newly_granted: &[String], explicit: bool) -> Result<Switch> {
        let mut state = self.state(id)?.with_context(|| format!("{id} is not installed (`plugin install {id}`)"))?;
        ensure!(!state.pinned || explicit, "{id} is pinned at {}; name the version with --to to change it", state.active);
        let record = match (package, state.versions.get(version)) {
            (_, Some(record)) => record.clone(),
            (Some((_, verified)), None) => {
                ensure!(verified.manifest.id == id, "the package is {}, not {id}", verified.manifest.id);
                ensure!(verified.manifest.version == version, "the package says it is {id} {}, not {version}; refused", verified.manifest.version);
                installed(verified)
            }
            (None, None) => bail!("{id} {version} is not installed here, and no package of it was given"),
        };
        // Only what this version asks for can be granted anew.
        let mut granted = state.granted.clone();
        granted.extend(newly_granted.iter().filter(|g| record.network.contains(g) && !state.granted.contains(g)).cloned());
        let missing: Vec<&String> = record.network.iter().filter(|n| !granted.contains(n)).collect();
        if !missing.is_empty() {
            bail!(
                "{id} {version} asks for network access not granted: {}; the upgrade stopped, {} stays active (grant it with --grant or --yes)",
                missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "),
                state.active
            );
        }
        let stage = match (package, state.versions.contains_key(version)) {
            (Some((bytes, _)), false) => Some(bytes.to_vec()),
            _ => None,
        };
        let before = state.active.clone();
        state.versions.insert(version.to_string(), record);
        if state.active != version {
            state.previous = Some(std::mem::replace(&mut state.active, version.to_string()));
        }
        if granted != state.granted {
            state.granted = granted;
            state.granted_at = now();
        }
        Ok(Switch { state, stage, before })
    }

    /// Write what [`Plugins::prepare_upgrade`] prepared: the new version's
    /// package moved into place, then the state that makes it active.
    pub fn switch(&self, switch: Switch) -> Result<State> {
        if let Some(bytes) = &switch.stage {
            self.stage(&switch.state.id, &switch.state.active, bytes)?;
        }
        self.save(&switch.state)?;
        Ok(switch.state)
    }

    /// Note that the configuration at `path` runs plugin `id`: an upgrade
    /// checks it with the new version before switching.
    pub fn remember(&self, id: &str, path: &Path) -> Result<()> {
        let mut known = self.configurations(id)?;
        if known.iter().any(|k| k == path) {
            return Ok(());
        }
        known.push(path.to_path_buf());
        write_json(&self.dir.join(id).join("configurations.json"), &known)
    }

    /// The configurations that ran plugin `id` (some may be gone since).
    pub fn configurations(&self, id: &str) -> Result<Vec<PathBuf>> {
        let file = self.dir.join(id).join("configurations.json");
        match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("reading {}", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
        }
    }

    pub fn pin(&self, id: &str, pinned: bool) -> Result<State> {
        let mut state = self.state(id)?.with_context(|| format!("{id} is not installed"))?;
        state.pinned = pinned;
        self.save(&state)?;
        Ok(state)
    }

    pub fn remove(&self, id: &str) -> Result<State> {
        let state = self.state(id)?.with_context(|| format!("{id} is not installed"))?;
        std::fs::remove_dir_all(self.dir.join(id)).with_context(|| format!("removing {id}"))?;
        Ok(state)
    }

    /// The active version's bytes, checked again as at install (see
    /// [`Plugins::load_version`]).
    pub fn load_active(&self, id: &str, trust: &TrustStore) -> Result<(Vec<u8>, State)> {
        let state = self.state(id)?.with_context(|| format!("the plugin {id} is not installed (`helpdesk-host plugin install`)"))?;
        let bytes = self.load_version(&state, &state.active, trust)?;
        Ok((bytes, state))
    }

    /// An installed version's bytes, checked again as at install: the
    /// file's digest against the recorded one, its signature by a key
    /// still trusted (unless it was installed unsigned).
    pub fn load_version(&self, state: &State, version: &str, trust: &TrustStore) -> Result<Vec<u8>> {
        let id = &state.id;
        let record = state.versions.get(version).with_context(|| format!("{id}: its state names no installed version {version}"))?;
        let path = self.dir.join(id).join(version).join("plugin.wasm");
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        ensure!(digest == record.digest, "{} changed since it was installed (its SHA-256 is {digest}, not {}); refused", path.display(), record.digest);
        // Compiled once, by the load that follows (which audits it).
        package::verify_signature(&bytes, trust, record.key.is_none()).with_context(|| format!("{id} {version} no longer verifies"))?;
        Ok(bytes)
    }
}

/// Write `value` as JSON to a temporary file and rename it into place: a
/// reader sees the old file or the new one, never half of one.
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, serde_json::to_vec_pretty(value)?).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))
}

fn installed(verified: &Verified) -> Installed {
    Installed {
        digest: verified.digest.clone(),
        key: verified.key.as_ref().map(|(id, _)| id.clone()),
        api: verified.manifest.api.clone(),
        network: verified.manifest.network.clone(),
    }
}

/// An id and a version that are each one path segment and nothing odd.
fn plain(id: &str, version: &str) -> Result<()> {
    ensure!(is_safe(id) && is_safe(version), "the package's id or version is not a plain name: {id} {version}");
    Ok(())
}

fn is_safe(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
}

fn now() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{seconds}")
}

/// `scheme`, host (lower case, `*.` patterns kept) and port of a URL or
/// pattern such as `https://*.example.com` or `http://127.0.0.1:8080/EWS`.
fn parts(url: &str) -> Option<(String, String, Option<u16>)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => (host, port.parse().ok()),
        _ => (authority, None),
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase(), port))
}

/// Whether a URL (or a configured pattern) is within a granted origin or
/// pattern: the same scheme, the host equal or matched by a leading `*.`
/// (or a lone `*`), the port equal where the pattern names one.
pub fn granted(url: &str, patterns: &[String]) -> bool {
    let Some((scheme, host, port)) = parts(url) else { return false };
    patterns.iter().filter_map(|p| parts(p)).any(|(p_scheme, p_host, p_port)| {
        let host_matches = p_host == "*" || p_host == host || p_host.strip_prefix("*.").is_some_and(|domain| host.ends_with(&format!(".{domain}")));
        p_scheme == scheme && host_matches && (p_port.is_none() || p_port == port)
    })
}

#[cfg(test)]
mod tests {
    use super::granted;

    #[test]
    fn urls_within_what_was_granted() {
        let patterns = vec!["https://*.example.com".to_string(), "http://127.0.0.1".to_string(), "https://mail.contoso.com:8443".to_string()];
        assert!(granted("https://mail.example.com/EWS/Exchange.asmx", &patterns));
        assert!(granted("https://*.example.com", &patterns), "a configured pattern within a granted one");
        assert!(!granted("https://example.com.evil.test/", &patterns));
        assert!(!granted("http://mail.example.com/", &patterns), "another scheme");
        assert!(granted("http://127.0.0.1:45123/EWS/Exchange.asmx", &patterns), "no port in the grant: any");
        assert!(!granted("https://mail.contoso.com/", &patterns), "the grant names its port");
        assert!(granted("https://mail.contoso.com:8443/EWS", &patterns));
    }
}
