//! The harness's configuration file (TOML), and what it hands the plugin.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub exchange: ExchangeConfig,
    /// attribute key = user field
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// custom user fields the helpdesk has: name = label
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// the directory relative paths are resolved against
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    #[serde(default = "default_mode")]
    pub mode: String,
    pub endpoint: String,
    pub username: String,
    pub password: Option<String>,
    pub password_env: Option<String>,
    #[serde(default)]
    pub folders: Vec<String>,
    #[serde(default)]
    pub tls: TlsConfig,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default = "yes")]
    pub verify: bool,
    pub ca_file: Option<PathBuf>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig { verify: true, ca_file: None }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default = "default_database")]
    pub database: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { database: default_database() }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    #[serde(default = "default_interval")]
    pub interval: String,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig { interval: default_interval() }
    }
}

fn default_mode() -> String {
    "ews".into()
}
fn yes() -> bool {
    true
}
fn default_database() -> PathBuf {
    "helpdesk.db".into()
}
fn default_interval() -> String {
    "1h".into()
}

impl HostConfig {
    pub fn load(path: &Path) -> Result<HostConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config: HostConfig = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    pub fn database(&self) -> PathBuf {
        self.base_dir.join(&self.store.database)
    }

    /// The password, from the file or from the named environment variable.
    pub fn password(&self) -> Result<String> {
        match (&self.exchange.password, &self.exchange.password_env) {
            (Some(password), _) => Ok(password.clone()),
            (None, Some(var)) => std::env::var(var)
                .with_context(|| format!("the password is to come from the environment variable {var}, which is not set")),
            (None, None) => bail!("[exchange] needs password or password_env"),
        }
    }

    /// The settings handed to the plugin. The password is resolved here and
    /// never printed.
    pub fn plugin_settings(&self) -> Result<Vec<(String, String)>> {
        Ok(vec![
            ("mode".into(), self.exchange.mode.clone()),
            ("endpoint".into(), self.exchange.endpoint.clone()),
            ("username".into(), self.exchange.username.clone()),
            ("password".into(), self.password()?),
            ("folders".into(), self.exchange.folders.join("\n")),
        ])
    }

    pub fn interval(&self) -> Result<Duration> {
        parse_interval(&self.schedule.interval)
    }
}

/// `90s`, `15m`, `1h`, `1d`.
pub fn parse_interval(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().with_context(|| format!("interval '{text}' has no number"))?;
    let seconds = match unit.trim() {
        "s" => number,
        "m" => number * 60,
        "h" | "" => number * 3600,
        "d" => number * 86400,
        other => bail!("interval unit '{other}' is not one of s, m, h, d"),
    };
    if seconds == 0 {
        bail!("the interval must be longer than zero");
    }
    Ok(Duration::from_secs(seconds))
}
