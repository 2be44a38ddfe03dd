//! One run of the plugin: check, folders or sync, each in a fresh store.

use crate::capabilities::EgressPolicy;
use crate::capabilities::tls::{INSECURE_WARNING, client_config};
use crate::config::HostConfig;
use crate::capabilities::RunState;
use crate::runtime::{Connector, Runtime};
use std::pin::Pin;
use crate::runtime::types::{
    ContentKind,
    AttributeSample, ConnectorError, FieldMapping, Folder, ServerInfo, SettingValue, SyncMode, SyncRequest,
};
use crate::session::{Session, SyncTarget};
use crate::store::Store;
use crate::summary::Summary;
use anyhow::Result;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub const SOURCE: &str = "exchange";

/// Wall-clock bounds: the guest may wait on host I/O, where epochs do not
/// reach it.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);
/// Sampling reads a few hundred contacts, not the directory.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
const SYNC_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// A run that did not succeed, in terms an admin can act on.
#[derive(Clone, Debug, Serialize)]
pub struct RunError {
    /// the plugin's error kind (`authentication`, `unreachable`, ...), or
    /// `host` for the harness's own failures
    pub kind: String,
    pub message: String,
    /// what a failed sync had done before it stopped
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for RunError {}

impl From<ConnectorError> for RunError {
    fn from(e: ConnectorError) -> Self {
        use crate::runtime::types::ErrorKind as K;
        let kind = match e.kind {
            K::Configuration => "configuration",
            K::Authentication => "authentication",
            K::Tls => "tls",
            K::Unreachable => "unreachable",
            K::NotExchange => "not-exchange",
            K::AccessDenied => "access-denied",
            K::Throttled => "throttled",
            K::Protocol => "protocol",
            K::Host => "host",
        }
        .to_string();
        RunError { kind, message: e.message, summary: None }
    }
}

impl From<anyhow::Error> for RunError {
    fn from(e: anyhow::Error) -> Self {
        RunError { kind: "host".into(), message: format!("{e:#}"), summary: None }
    }
}

pub struct Connection {
    settings: Vec<SettingValue>,
    policy: EgressPolicy,
    mapping: Vec<FieldMapping>,
    insecure: bool,
    /// secrets the plugin saves are kept beside it
    database: std::path::PathBuf,
    /// fingerprints of the configured secrets the plugin may rotate
    rotatable: std::collections::BTreeMap<String, String>,
    policy_of_store: crate::apply::Policy,
    /// what a sync reads besides contacts
    documents: Documents,
}

/// The mailbox content a sync asks for.
#[derive(Clone, Default)]
struct Documents {
    content: Vec<ContentKind>,
    mailboxes: crate::config::Mailboxes,
    resource_mailboxes: bool,
    /// `[documents.shared]`: readers of whole mailboxes
    readers: std::collections::BTreeMap<String, Vec<String>>,
    max_attachment_bytes: u64,
    mail_folders: Vec<String>,
}

impl Documents {
    fn of(config: &HostConfig) -> Result<Documents> {
        let Some(documents) = &config.documents else { return Ok(Documents::default()) };
        let content = documents
            .kinds
            .iter()
            .filter_map(|kind| crate::documents::kind_named(kind))
            .collect();
        Ok(Documents {
            content,
            mailboxes: documents.mailboxes(&config.exchange)?,
            resource_mailboxes: documents.resource_mailboxes,
            readers: documents.readers()?,
            max_attachment_bytes: documents.max_attachment_mib.saturating_mul(1 << 20),
            mail_folders: documents.mail_folders.clone(),
        })
    }
}

impl Connection {
    pub fn from_config(config: &HostConfig) -> Result<Connection> {
        let settings = config
            .plugin_settings()?
            .into_iter()
            .map(|(key, value)| SettingValue { key, value })
            .collect();
        let tls = &config.exchange.tls;
        let ca_file = tls.ca_file.as_ref().map(|f| config.base_dir.join(f));
        let urls = config.allowed_urls();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let mut policy = EgressPolicy::new(&urls, client_config(tls.verify, ca_file.as_deref())?)?;
        policy.sign_in = config.sign_in()?.map(std::sync::Arc::new);
        let mapping = config
            .mapping
            .iter()
            .map(|(attribute, field)| FieldMapping { attribute: attribute.clone(), field: field.clone() })
            .collect();
        Ok(Connection {
            settings,
            policy,
            mapping,
            insecure: !tls.verify,
            database: config.database(),
            rotatable: config.rotatable_fingerprints()?,
            policy_of_store: config.policy(),
            documents: Documents::of(config)?,
        })
    }

    fn keeper(&self) -> crate::session::Keeper {
        crate::session::Keeper { database: self.database.clone(), replaces: self.rotatable.clone() }
    }

    /// Wait at most this long for an answer to begin (the default is the
    /// host's cap of five minutes).
    pub fn set_first_byte_timeout(&mut self, timeout: Duration) {
        self.policy.max_first_byte = timeout;
    }

    /// Let the next syncs deactivate more than the safety valve allows:
    /// the admin confirmed it (`--force`).
    pub fn set_force(&mut self, force: bool) {
        self.policy_of_store.force = force;
    }

    /// Give the plugin a setting its configuration file does not have.
    pub fn set(&mut self, key: &str, value: &str) {
        self.settings.retain(|s| s.key != key);
        self.settings.push(SettingValue { key: key.into(), value: value.into() });
    }

    /// Every check and sync with verification off says so, loudly.
    fn warn_if_insecure(&self) -> Option<String> {
        self.insecure.then(|| {
            eprintln!("WARNING: {INSECURE_WARNING}");
            tracing::warn!("{INSECURE_WARNING}");
            INSECURE_WARNING.to_string()
        })
    }

    /// Add what the host saw (which certificate, which refused request)
    /// and how to fix it to the plugin's error.
    fn explain(policy: &EgressPolicy, mut error: RunError) -> RunError {
        let notes = policy.notes();
        if !notes.is_empty() {
            error.message = format!("{} ({})", error.message, notes.join("; "));
        }
        if error.kind == "tls" {
            error.message.push_str(
                ". To trust the server, add its CA: [exchange.tls] ca_file = \"/path/to/ca.pem\"; \
                 or, at your own risk, turn verification off: [exchange.tls] verify = false",
            );
        }
        error
    }

    pub async fn check(&self, runtime: &Runtime) -> Result<ServerInfo, RunError> {
        Ok(self.check_signed_in(runtime).await?.0)
    }

    /// `check`, and how the run signed in: `NTLM` or `Basic` (EWS), or
    /// `OAuth2` (Graph).
    pub async fn check_signed_in(&self, runtime: &Runtime) -> Result<(ServerInfo, &'static str), RunError> {
        let mut used = None;
        let info = self
            .read_only_with(runtime, CHECK_TIMEOUT, &mut used, |store, connector, settings| Box::pin(connector.check(store, settings)))
            .await?;
        let graph = self.settings.iter().any(|s| s.key == "mode" && s.value == "graph");
        let mechanism = match used {
            _ if graph => "OAuth2",
            Some(mechanism) => mechanism,
            None => crate::capabilities::ntlm::BASIC,
        };
        Ok((info, mechanism))
    }

    pub async fn attributes(&self, runtime: &Runtime, sample: u32) -> Result<Vec<AttributeSample>, RunError> {
        self.read_only(runtime, SAMPLE_TIMEOUT, move |store, connector, settings| {
            Box::pin(connector.attributes(store, settings, sample))
        })
        .await
    }

    pub async fn folders(&self, runtime: &Runtime) -> Result<Vec<Folder>, RunError> {
        self.read_only(runtime, CHECK_TIMEOUT, |store, connector, settings| {
            Box::pin(connector.folders(store, settings))
        })
        .await
    }

    /// One call that writes no users, in a fresh instance: the warning for
    /// verification off, the wall-clock bound, the secrets the plugin
    /// saved, and the host's notes on the error.
    async fn read_only<T>(
        &self,
        runtime: &Runtime,
        limit: Duration,
        call: impl for<'a> FnOnce(
            &'a mut wasmtime::Store<RunState>,
            &'a Connector,
            &'a Vec<SettingValue>,
        ) -> Pin<Box<dyn Future<Output = wasmtime::Result<Result<T, ConnectorError>>> + Send + 'a>>,
    ) -> Result<T, RunError> {
        self.read_only_with(runtime, limit, &mut None, call).await
    }

    /// `read_only`, telling how the host signed in, if it did.
    async fn read_only_with<T>(
        &self,
        runtime: &Runtime,
        limit: Duration,
        signed_in: &mut Option<&'static str>,
        call: impl for<'a> FnOnce(
            &'a mut wasmtime::Store<RunState>,
            &'a Connector,
            &'a Vec<SettingValue>,
        ) -> Pin<Box<dyn Future<Output = wasmtime::Result<Result<T, ConnectorError>>> + Send + 'a>>,
    ) -> Result<T, RunError> {
        self.warn_if_insecure();
        let policy = self.policy.for_run();
        let mut session = Session::read_only();
        session.keeper = Some(self.keeper());
        let (mut store, connector) = runtime.instantiate(policy.clone(), session).await?;
        let result = bounded(limit, call(&mut store, &connector, &self.settings)).await;
        let result = flatten(last_words(result, &store.data().stderr));
        *signed_in = policy.sign_in.as_ref().and_then(|s| s.used());
        result.map_err(|e| Self::explain(&policy, e))
    }

    /// Sync into `store`. A dry run does everything in one transaction and
    /// rolls it back, so its counts are exactly those a real run would give.
    pub async fn sync(&self, runtime: &Runtime, store: &Store, mode: SyncMode, dry_run: bool) -> Result<Summary, RunError> {
        let started = Instant::now();
        // Never two runs on one database at once, whichever process starts them.
        let _lock = store.run_lock().map_err(|e| RunError { kind: "busy".into(), message: format!("{e:#}"), summary: None })?;
        let mode_name = match mode {
            SyncMode::Full => "full",
            SyncMode::Incremental => "incremental",
        };
        let run_id = store.start_run(SOURCE, mode_name, dry_run)?;
        if dry_run {
            store.lock().execute_batch("BEGIN IMMEDIATE").map_err(anyhow::Error::from)?;
        }
        let prepared = self.prepare(store, mode, run_id);
        let (request, mut session, reconsidered) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                if dry_run {
                    let _ = store.lock().execute_batch("ROLLBACK");
                }
                store.finish_run(run_id, None, Some(&e.to_string()))?;
                return Err(e.into());
            }
        };
        let insecure = self.warn_if_insecure();
        let policy = self.policy.for_run();
        session.extractor = Some(std::sync::Arc::new(crate::runtime::extract::Extractor::new(runtime, &policy)));

        let outcome = async {
            let (mut wasm, connector) = runtime.instantiate(policy.clone(), session).await?;
            let call = connector.run(&mut wasm, &self.settings, &request);
            let result = bounded(SYNC_TIMEOUT, call).await;
            let state = wasm.into_data();
            let result = last_words(result, &state.stderr);
            let mut session = state.session;
            session.finish_writes();
            // Within a dry run's transaction, so that it is rolled back too.
            if matches!(result, Ok(Ok(_))) && session.store_error.is_none() {
                self.remove_vanished_mailboxes(store, &mut session)?;
            }
            Ok::<_, RunError>((result, session))
        }
        .await;
        if dry_run {
            store.lock().execute_batch("ROLLBACK").map_err(anyhow::Error::from)?;
        }

        let (result, session) = match outcome {
            Ok(pair) => pair,
            Err(e) => {
                store.finish_run(run_id, None, Some(&e.message))?;
                return Err(e);
            }
        };
        let mut summary = reconsidered;
        summary.absorb(session.summary);
        summary.requests = u64::from(policy.requests.load(Ordering::Relaxed));
        summary.bytes_received = policy.bytes_received.load(Ordering::Relaxed);
        summary.elapsed_ms = started.elapsed().as_millis() as u64;
        summary.dry_run = dry_run;
        summary.warnings.extend(insecure);
        let error = match result {
            // The store refused the last batch after the plugin had moved on.
            Ok(Ok(_report)) if session.store_error.is_some() => Some(RunError {
                kind: "host".into(),
                message: "the plugin's changes could not all be stored".into(),
                summary: None,
            }),
            Ok(Ok(_report)) => None,
            Ok(Err(plugin_error)) => Some(Self::explain(&policy, RunError::from(plugin_error))),
            Err(host_error) => Some(host_error),
        };
        match error {
            None => {
                store.finish_run(run_id, Some(&summary), None)?;
                Ok(summary)
            }
            Some(mut e) => {
                // The plugin may have passed the store's refusal on already.
                if let Some(store_error) = session.store_error.filter(|s| !e.message.contains(s.as_str())) {
                    e.message = format!("{} ({store_error})", e.message);
                }
                store.finish_run(run_id, Some(&summary), Some(&e.to_string()))?;
                e.summary = Some(summary);
                Err(e)
            }
        }
    }
}

impl Connection {
    /// After a run that went well: the documents of mailboxes no longer in
    /// the organisation's listing (or no longer configured) go, under the
    /// safety valve.
    fn remove_vanished_mailboxes(&self, store: &Store, session: &mut Session) -> Result<(), RunError> {
        let documents = &self.documents;
        if documents.content.is_empty() {
            return Ok(());
        }
        let listed = match (&session.listed_mailboxes, documents.mailboxes.all) {
            (Some(listed), true) => listed.iter().chain(&documents.mailboxes.named).cloned().collect::<Vec<_>>(),
            // "all", but the plugin could not list them: nothing is known gone.
            (None, true) => return Ok(()),
            (_, false) => documents.mailboxes.named.clone(),
        };
        let policy = &self.policy_of_store;
        let summary = session.summary.documents.get_or_insert_default();
        let vanished = crate::documents::remove_vanished_mailboxes(
            &store.lock(),
            SOURCE,
            &listed,
            policy.max_deactivate_percent,
            policy.force,
            summary,
        )
        .map_err(anyhow::Error::from)?;
        if !vanished.removed.is_empty() {
            tracing::info!("the documents of mailboxes no longer listed were removed: {}", vanished.removed.join(", "));
        }
        session.summary.warnings.extend(vanished.refused);
        Ok(())
    }

    /// What a sync starts from: skipped contacts whose blocker changed are
    /// marked to be read again, LDAP users added since take precedence,
    /// and then the checkpoints (none for folders with contacts to read
    /// again) go into the request.
    fn prepare(&self, store: &Store, mode: SyncMode, run_id: i64) -> Result<(SyncRequest, Session, Summary)> {
        let reconsidered = crate::apply::reconsider(&store.lock(), SOURCE)?;
        let checkpoints = store
            .checkpoints(SOURCE)?
            .into_iter()
            .map(|(folder_id, state)| crate::runtime::types::Checkpoint { folder_id, state })
            .collect();
        let document_checkpoints = crate::documents::checkpoints(&store.lock(), SOURCE)?
            .into_iter()
            .map(|(mailbox, folder_id, state)| crate::runtime::types::MailboxCheckpoint { mailbox, folder_id, state })
            .collect();
        let document_retries = crate::documents::retries(&store.lock(), SOURCE)?
            .into_iter()
            .map(|(mailbox, folder_id, id)| crate::runtime::types::DocumentRetry { mailbox, folder_id, id })
            .collect();
        let documents = self.documents.clone();
        crate::documents::set_mailbox_readers(&store.lock(), SOURCE, &documents.readers)?;
        let request = SyncRequest {
            mode,
            checkpoints,
            mapping: self.mapping.clone(),
            content: documents.content,
            mailboxes: documents.mailboxes.named.clone(),
            all_mailboxes: documents.mailboxes.all,
            resource_mailboxes: documents.resource_mailboxes,
            document_checkpoints,
            document_retries,
            max_attachment_bytes: documents.max_attachment_bytes,
            mail_folders: documents.mail_folders,
        };
        let target = SyncTarget { store: store.clone(), source: SOURCE.into(), run_id, policy: self.policy_of_store.clone() };
        let mut session = Session::syncing(target)?;
        session.keeper = Some(self.keeper());
        session.bars = crate::progress::Bars::on_terminal(store.folder_paths(SOURCE)?);
        Ok((request, session, reconsidered))
    }
}

/// The plugin's own error, or the host's.
fn flatten<T>(result: Result<Result<T, ConnectorError>, RunError>) -> Result<T, RunError> {
    result?.map_err(RunError::from)
}

/// Run a guest call under a wall-clock bound.
async fn bounded<T>(limit: Duration, call: impl Future<Output = wasmtime::Result<T>>) -> Result<T, RunError> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(trap)) => Err(RunError { kind: "host".into(), message: stopped(&trap), summary: None }),
        Err(_) => Err(RunError {
            kind: "host".into(),
            message: format!("the plugin did not finish within {} s", limit.as_secs()),
            summary: None,
        }),
    }
}

/// A plugin that was stopped may have said why on standard error (a
/// panic's message): its last lines, escaped, go into the error.
fn last_words<T>(result: Result<T, RunError>, stderr: &crate::capabilities::stderr::GuestStderr) -> Result<T, RunError> {
    result.map_err(|mut e| {
        if let Some(words) = stderr.last_words() {
            e.message = format!("{}. It wrote to standard error: {words}", e.message);
        }
        e
    })
}

/// Why the guest was stopped, in plain words first, with wasmtime's detail.
fn stopped(trap: &wasmtime::Error) -> String {
    let detail = format!("{trap:?}");
    let why = if detail.contains(crate::runtime::CPU_EXHAUSTED) {
        "it used up its CPU budget (an endless loop?)".to_string()
    } else {
        crate::runtime::limits::explain(&detail).unwrap_or_else(|| "it trapped".to_string())
    };
    // The trap itself, never the wasm backtrace wasmtime attaches to it.
    let detail = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(code) => code.to_string(),
        None => trap.root_cause().to_string().lines().next().unwrap_or_default().to_string(),
    };
    format!("the plugin was stopped: {why}; the run ended, nothing else is affected. Detail: {detail}")
}
