//! The harness's configuration file (TOML), and what it hands the plugin.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, Deserialize, Serialize)]
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
    #[serde(default)]
    pub sync: SyncConfig,
    /// mailbox content; absent: contacts only
    pub documents: Option<DocumentsConfig>,
    /// custom user fields the helpdesk has: name = label
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// an installed plugin instead of the connector built into the host
    pub plugin: Option<PluginConfig>,
    /// the directory relative paths are resolved against
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// the file it was read from
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    #[serde(default = "default_mode")]
    pub mode: String,
    /// ews: the EWS URL, or the server or the mailbox's address for
    /// Autodiscover to find it
    #[serde(default)]
    pub endpoint: String,
    /// ews: where to ask Autodiscover instead of the hosts the endpoint implies
    pub autodiscover: Option<String>,
    /// ews: `auto` (NTLM before Basic, by what the server offers), `ntlm`
    /// (the host signs in on each connection, as Windows authentication
    /// needs) or `basic` (the plugin sends the credentials)
    pub auth: Option<String>,
    #[serde(default)]
    pub username: String,
    pub password: Option<String>,
    pub password_env: Option<String>,
    /// graph: the tenant, the app, and its secret or a refresh token
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_env: Option<String>,
    pub refresh_token: Option<String>,
    pub refresh_token_env: Option<String>,
    /// mail addresses, or "all": every mailbox of the organisation (for
    /// documents; for Graph contacts, every user, as when empty)
    #[serde(default, deserialize_with = "one_or_many")]
    pub mailboxes: Vec<String>,
    /// graph: the identity platform, `https://login.microsoftonline.com`
    /// or a national cloud's
    pub authority: Option<String>,
    /// the old name of `authority`, still read (with a warning)
    pub token_endpoint: Option<String>,
    pub graph_endpoint: Option<String>,
    #[serde(default)]
    pub folders: Vec<String>,
    #[serde(default)]
    pub tls: TlsConfig,
}

impl ExchangeConfig {
    /// `auth`, or its default.
    pub fn auth(&self) -> &str {
        self.auth.as_deref().unwrap_or(DEFAULT_AUTH)
    }

    /// `authority`, or its old name `token_endpoint`.
    pub fn authority(&self) -> Option<String> {
        self.authority.clone().or_else(|| self.token_endpoint.clone())
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
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

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// a contact may take over a user made in the helpdesk with exactly
    /// its email (as Zammad does); false skips such contacts
    #[serde(default = "yes")]
    pub adopt_local_users: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { database: default_database(), adopt_local_users: true }
    }
}

/// `[plugin]`: which installed plugin runs (`helpdesk-host plugin list`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    pub id: String,
}

/// `[documents]`: which mailbox content becomes searchable documents.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentsConfig {
    /// `mail`, `attachment`, `event`, `task`
    #[serde(default = "default_kinds")]
    pub kinds: Vec<String>,
    /// larger attachments are described, never downloaded
    #[serde(default = "default_max_attachment_mib")]
    pub max_attachment_mib: u64,
    /// ids, paths or well-known names (`deleteditems`); empty: every mail
    /// folder but Deleted Items
    #[serde(default)]
    pub mail_folders: Vec<String>,
    /// with `[exchange] mailboxes = "all"`: room and equipment mailboxes too
    #[serde(default)]
    pub resource_mailboxes: bool,
    /// `"support@example.com" = ["bob@example.com", ...]`: who may read a
    /// shared mailbox's documents, beyond what its folders' permissions
    /// say (Graph has no API for mailbox permissions)
    #[serde(default)]
    pub shared: BTreeMap<String, Vec<String>>,
}

/// The mailboxes whose content a sync reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mailboxes {
    /// every mailbox of the organisation, as the plugin lists them
    pub all: bool,
    /// named ones (with `all`: none)
    pub named: Vec<String>,
}

/// `mailboxes = "all"` or `mailboxes = ["a@...", ...]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

pub const DOCUMENT_KINDS: &[&str] = &["mail", "attachment", "event", "task"];

fn default_kinds() -> Vec<String> {
    DOCUMENT_KINDS.iter().map(|k| k.to_string()).collect()
}

fn default_max_attachment_mib() -> u64 {
    10
}

impl Default for DocumentsConfig {
    fn default() -> Self {
        DocumentsConfig {
            kinds: default_kinds(),
            max_attachment_mib: default_max_attachment_mib(),
            mail_folders: Vec::new(),
            resource_mailboxes: false,
            shared: BTreeMap::new(),
        }
    }
}

impl DocumentsConfig {
    /// The mailboxes whose content is read: every one ("all"), the
    /// configured ones, or the account's own where its user name is an
    /// address.
    pub fn mailboxes(&self, exchange: &ExchangeConfig) -> Result<Mailboxes> {
        let named: Vec<String> = exchange.mailboxes.iter().map(|m| m.trim().to_lowercase()).filter(|m| !m.is_empty()).collect();
        if named.iter().any(|m| m == "all") {
            if named.len() > 1 {
                bail!("[exchange] mailboxes: \"all\" stands alone (it already holds {})", named.iter().filter(|m| *m != "all").cloned().collect::<Vec<_>>().join(", "));
            }
            return Ok(Mailboxes { all: true, named: Vec::new() });
        }
        if !named.is_empty() {
            return Ok(Mailboxes { all: false, named });
        }
        match exchange.username.contains('@') {
            true => Ok(Mailboxes { all: false, named: vec![exchange.username.trim().to_lowercase()] }),
            false => bail!("[documents] needs [exchange] mailboxes (addresses, or \"all\") when username is not an address"),
        }
    }

    /// `[documents.shared]` with addresses in lower case; an entry that is
    /// not an address is refused.
    pub fn readers(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let mut readers = BTreeMap::new();
        for (mailbox, members) in &self.shared {
            let mailbox = mailbox.trim().to_lowercase();
            for address in std::iter::once(&mailbox).chain(members) {
                if !address.contains('@') {
                    bail!("[documents.shared] \"{}\": \"{address}\" is not a mail address", mailbox);
                }
            }
            readers.insert(mailbox, members.iter().map(|m| m.trim().to_lowercase()).collect());
        }
        Ok(readers)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// a run that would deactivate more than this share (in percent) of
    /// the source's active users stops before deactivating any
    #[serde(default = "default_max_deactivate_percent")]
    pub max_deactivate_percent: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig { max_deactivate_percent: default_max_deactivate_percent() }
    }
}

fn default_max_deactivate_percent() -> u32 {
    30
}

#[derive(Clone, Debug, Deserialize, Serialize)]
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

/// The protocols the connector speaks.
const MODES: &[&str] = &["ews", "graph"];
/// `auto`: NTLM where the server offers it, Basic where it offers only that.
const AUTHS: &[&str] = &["auto", "ntlm", "basic"];

const DEFAULT_AUTH: &str = "auto";

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
        config.path = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        config.validate().with_context(|| format!("in {}", path.display()))?;
        Ok(config)
    }

    /// What TOML's types cannot say: a known mode, an interval that fits,
    /// URLs without credentials in them.
    pub fn validate(&self) -> Result<()> {
        let e = &self.exchange;
        if !MODES.contains(&e.mode.as_str()) {
            bail!("[exchange] mode = \"{}\" is not one of {}", e.mode, MODES.join(", "));
        }
        self.interval()?;
        if e.mode == "ews" && !AUTHS.contains(&e.auth()) {
            bail!("[exchange] auth = \"{}\" is not one of {}", e.auth(), AUTHS.join(", "));
        }
        if e.token_endpoint.is_some() {
            let both = if e.authority.is_some() { " (authority, also set, wins)" } else { "" };
            tracing::warn!("[exchange] token_endpoint is now called authority; the old name is still read{both}");
        }
        let urls = [("endpoint", Some(&e.endpoint)), ("autodiscover", e.autodiscover.as_ref()), ("authority", e.authority.as_ref()), ("token_endpoint", e.token_endpoint.as_ref()), ("graph_endpoint", e.graph_endpoint.as_ref())];
        for (key, url) in urls {
            let Some(url) = url.filter(|u| !u.is_empty()) else { continue };
            // Never echo such a URL: the password is in it.
            if let Ok(parsed) = url::Url::parse(url)
                && (!parsed.username().is_empty() || parsed.password().is_some())
            {
                bail!(
                    "[exchange] {key} holds a user name or password; give them as username and password_env instead \
                     (the URL is not shown here, since it holds a secret)"
                );
            }
        }
        if let Some(documents) = &self.documents {
            for kind in &documents.kinds {
                if !DOCUMENT_KINDS.contains(&kind.as_str()) {
                    bail!("[documents] kinds: \"{kind}\" is not one this host reads (it reads {})", DOCUMENT_KINDS.join(", "));
                }
            }
            let items = ["mail", "event", "task"];
            if documents.kinds.iter().any(|k| k == "attachment") && !documents.kinds.iter().any(|k| items.contains(&k.as_str())) {
                bail!("[documents] kinds: attachments come with their mail, event or task; add one of \"mail\", \"event\", \"task\"");
            }
            documents.mailboxes(e)?;
            documents.readers()?;
        }
        if self.sync.max_deactivate_percent > 100 {
            bail!("[sync] max_deactivate_percent = {} is more than 100", self.sync.max_deactivate_percent);
        }
        Ok(())
    }

    /// Write the configuration as a file `load` reads back.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).context("writing the configuration as TOML")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// The store's rules as configured (`--force` is the command line's).
    pub fn policy(&self) -> crate::apply::Policy {
        crate::apply::Policy {
            adopt_local_users: self.store.adopt_local_users,
            max_deactivate_percent: self.sync.max_deactivate_percent,
            force: false,
        }
    }

    pub fn database(&self) -> PathBuf {
        self.base_dir.join(&self.store.database)
    }

    /// The settings handed to the plugin. Secrets are resolved here (from
    /// the file, the named environment variable, or the secrets a previous
    /// run saved) and never printed.
    pub fn plugin_settings(&self) -> Result<Vec<(String, String)>> {
        let e = &self.exchange;
        let mut settings = vec![("mode".to_string(), e.mode.clone()), ("folders".to_string(), e.folders.join("\n"))];
        let mut add = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                settings.push((key.to_string(), value));
            }
        };
        if e.mode == "graph" {
            add("tenant_id", e.tenant_id.clone());
            add("client_id", e.client_id.clone());
            add("client_secret", secret("client_secret", &e.client_secret, &e.client_secret_env)?);
            // A token rotated from the configured one replaces it; a token
            // configured anew replaces what was kept.
            let configured = secret("refresh_token", &e.refresh_token, &e.refresh_token_env)?;
            add("refresh_token", crate::secrets::current(&self.database(), "refresh_token", configured)?);
            add("authority", self.exchange.authority());
            add("graph_endpoint", e.graph_endpoint.clone());
            add("mailboxes", Some(e.mailboxes.join("\n")));
        } else {
            add("endpoint", Some(e.endpoint.clone()));
            add("autodiscover", e.autodiscover.clone());
            add("username", Some(e.username.clone()));
            let password = secret("password", &e.password, &e.password_env)?;
            add("password", Some(password.ok_or_else(|| anyhow::anyhow!("[exchange] needs password or password_env"))?));
        }
        Ok(settings)
    }

    /// Fingerprints of the configured secrets a run may rotate, by key.
    pub fn rotatable_fingerprints(&self) -> Result<BTreeMap<String, String>> {
        let e = &self.exchange;
        let mut found = BTreeMap::new();
        if e.mode == "graph" {
            match secret("refresh_token", &e.refresh_token, &e.refresh_token_env)? {
                Some(token) => drop(found.insert("refresh_token".to_string(), crate::secrets::fingerprint(&token))),
                // A token from `login` rotates into another from login.
                None => drop(found.insert("refresh_token".to_string(), crate::secrets::FROM_LOGIN.to_string())),
            }
        }
        Ok(found)
    }

    /// How the host signs in for the plugin (`auth` ntlm or auto); None:
    /// the plugin sends Basic itself.
    pub fn sign_in(&self) -> Result<Option<crate::capabilities::ntlm::SignIn>> {
        let e = &self.exchange;
        if e.mode != "ews" || e.auth() == "basic" {
            return Ok(None);
        }
        let password = secret("password", &e.password, &e.password_env)?.ok_or_else(|| anyhow::anyhow!("[exchange] needs password or password_env"))?;
        let credentials = crate::capabilities::ntlm::Credentials::parse(&e.username, &password);
        Ok(Some(crate::capabilities::ntlm::SignIn::new(credentials, e.auth() == "auto")))
    }

    /// The URLs the plugin may reach.
    pub fn allowed_urls(&self) -> Vec<String> {
        let e = &self.exchange;
        if e.mode == "graph" {
            vec![
                e.authority().unwrap_or_else(|| crate::login::DEFAULT_AUTHORITY.into()),
                e.graph_endpoint.clone().unwrap_or_else(|| "https://graph.microsoft.com".into()),
            ]
        } else {
            let mut urls = match mail_domain(&e.endpoint) {
                // An address: Autodiscover at its domain, and the EWS URL it
                // names, on a host of that domain.
                Some(domain) => vec![format!("https://{domain}"), format!("https://*.{domain}")],
                None => vec![e.endpoint.clone()],
            };
            urls.extend(e.autodiscover.clone());
            urls
        }
    }

    pub fn interval(&self) -> Result<Duration> {
        parse_interval(&self.schedule.interval)
    }
}

/// The domain of an endpoint given as an email address.
fn mail_domain(endpoint: &str) -> Option<String> {
    if endpoint.contains("://") {
        return None;
    }
    let (user, domain) = endpoint.rsplit_once('@')?;
    (!user.is_empty() && domain.contains('.')).then(|| domain.to_ascii_lowercase())
}

/// A secret given as a value or as the name of an environment variable.
fn secret(name: &str, value: &Option<String>, env: &Option<String>) -> Result<Option<String>> {
    match (value, env) {
        (Some(value), _) => Ok(Some(value.clone())),
        (None, Some(var)) => std::env::var(var)
            .map(Some)
            .with_context(|| format!("{name} is to come from the environment variable {var}, which is not set")),
        (None, None) => Ok(None),
    }
}

/// `90s`, `15m`, `1h`, `1d`.
pub fn parse_interval(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().with_context(|| format!("interval '{text}' has no number"))?;
    let unit_seconds: u64 = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" | "" => 3600,
        "d" => 86400,
        other => bail!("interval unit '{other}' is not one of s, m, h, d"),
    };
    // A year is the longest schedule that makes sense; more is a typo.
    const MAX_SECONDS: u64 = 366 * 86400;
    let seconds = number.checked_mul(unit_seconds).filter(|s| *s <= MAX_SECONDS);
    let Some(seconds) = seconds else { bail!("interval '{text}' is longer than a year") };
    if seconds == 0 {
        bail!("the interval must be longer than zero");
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<HostConfig> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("helpdesk.toml");
        std::fs::write(&path, text)?;
        HostConfig::load(&path)
    }

    const EXCHANGE: &str = "[exchange]\nendpoint = \"https://mail.example.com/EWS/Exchange.asmx\"\nusername = \"svc@example.com\"\npassword = \"x\"\n";

    /// `mailboxes = "all"` or a list; "all" stands alone; the members of
    /// a shared mailbox must be addresses.
    #[test]
    fn every_mailbox_or_those_named() {
        let all = config(&format!("{EXCHANGE}mailboxes = \"all\"\n[documents]\n[documents.shared]\n\"Support@example.com\" = [\"Bob@example.com\"]\n")).unwrap();
        let documents = all.documents.as_ref().unwrap();
        assert_eq!(documents.mailboxes(&all.exchange).unwrap(), Mailboxes { all: true, named: Vec::new() });
        assert_eq!(documents.readers().unwrap(), BTreeMap::from([("support@example.com".to_string(), vec!["bob@example.com".to_string()])]));
        let named = config(&format!("{EXCHANGE}mailboxes = [\"A@example.com\"]\n[documents]\n")).unwrap();
        assert_eq!(named.documents.as_ref().unwrap().mailboxes(&named.exchange).unwrap().named, ["a@example.com"]);
        let mixed = config(&format!("{EXCHANGE}mailboxes = [\"all\", \"a@example.com\"]\n[documents]\n")).unwrap_err();
        assert!(format!("{mixed:#}").contains("\"all\" stands alone"), "{mixed:#}");
        let bad = config(&format!("{EXCHANGE}[documents]\n[documents.shared]\n\"support@example.com\" = [\"bob\"]\n")).unwrap_err();
        assert!(format!("{bad:#}").contains("\"bob\" is not a mail address"), "{bad:#}");
    }
}
