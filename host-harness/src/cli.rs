//! The command line. Names and JSON shapes are relied on by scripts and
//! tests (see DESIGN.md); keep them stable.

use crate::config::{ExchangeConfig, HostConfig, ScheduleConfig, StoreConfig, TlsConfig};
use crate::emulator::data::{Language, Layout};
use crate::emulator::{Emulator, EmulatorOptions};
use crate::runs::{Connection, RunError};
use crate::runtime::Runtime;
use crate::runtime::types::{Folder, ServerInfo, SyncMode};
use crate::store::Store;
use crate::summary::Summary;
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "helpdesk-host",
    version,
    about = "Runs the Exchange connector plugin (a WebAssembly component) as a helpdesk would",
    long_about = "Runs the Exchange connector plugin (a WebAssembly component) as a helpdesk would: \
                  in a wasmtime sandbox, with users stored in SQLite, against a real Exchange server \
                  or the built-in emulator.\n\nWith --json, standard output holds exactly one JSON \
                  document; logs go to standard error (RUST_LOG sets their level)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Plugins from elsewhere: keys, trust, packages
    Plugin {
        #[command(subcommand)]
        command: crate::plugins::commands::PluginCommand,
    },
    /// The main job on the built-in emulator: check the connection, list the
    /// address books, and sync them into a database
    Demo {
        /// contacts in the emulated mailbox
        #[arg(long, default_value_t = 500)]
        contacts: usize,
        /// seed of the emulated data
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// database to sync into (default: a fresh one in the temp directory)
        #[arg(long)]
        db: Option<PathBuf>,
        /// ews: Exchange Server over EWS; graph: Microsoft 365 over Graph
        #[arg(long, value_enum, default_value_t = Mode::Ews)]
        mode: Mode,
        /// faults the emulator injects: all, or a comma-separated list
        /// (busy-fault, busy-message, http-503, http-429, reset, slow,
        /// unauthorized, invalid-sync-state, vanished-item, broken-item,
        /// broken-message, bad-chars, truncated, oversized; and, not in all, the Graph-only
        /// unterminated-page and the NTLM-only close-on-challenge), planned
        /// from the seed
        #[arg(long)]
        faults: Option<String>,
        /// list every skipped and failed contact, not ten of each kind
        #[arg(long)]
        verbose: bool,
        #[arg(long)]
        json: bool,
    },
    /// Serve the Exchange emulator until interrupted
    Emulator {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 500)]
        contacts: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = crate::emulator::DEFAULT_USER)]
        user: String,
        #[arg(long, default_value = crate::emulator::DEFAULT_PASSWORD)]
        password: String,
        /// serve HTTPS with a freshly made CA
        #[arg(long)]
        tls: bool,
        /// with --tls: write the CA certificate (PEM) here, for ca_file
        #[arg(long, requires = "tls")]
        cert_out: Option<PathBuf>,
        /// faults to inject: all, or a comma-separated list (see demo)
        #[arg(long)]
        faults: Option<String>,
        /// spread the contacts evenly over this many contact folders
        /// instead of the demo's awkward folder tree
        #[arg(long)]
        folders: Option<usize>,
        /// the language of the mailbox's default folder names (de:
        /// Kontakte, Posteingang, Gelöschte Elemente, ...)
        #[arg(long, value_enum, default_value_t = FolderLanguage::En)]
        language: FolderLanguage,
        /// ordinary messages in each mailbox (svc-helpdesk@ and bob@),
        /// beside the special ones
        #[arg(long, default_value_t = 30)]
        messages: usize,
        /// the schemes EWS accepts: ntlm (Negotiate and NTLM), negotiate
        /// (Negotiate alone), basic, or a list (ntlm,basic)
        #[arg(long, default_value = "ntlm")]
        auth: String,
        /// Extended Protection over --tls: off, allow (Exchange 2019 CU14's
        /// default) or require
        #[arg(long, value_enum, default_value_t = EpaSetting::Allow)]
        epa: EpaSetting,
    },
    /// Sign in to Microsoft 365 for delegated access (device code): prints
    /// where to go and the code to enter, waits, keeps the refresh token in
    /// the secrets file beside the database for the next sync
    Login {
        #[arg(long)]
        config: PathBuf,
    },
    /// Connect and authenticate; print the server's version
    Check {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the address books (contact folders) with paths and item counts
    Folders {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the attributes found on a sample of contacts, with examples
    Attributes {
        #[arg(long)]
        config: PathBuf,
        /// contacts to sample, spread over the chosen address books
        #[arg(long, default_value_t = 200)]
        sample: u32,
        #[arg(long)]
        json: bool,
    },
    /// Sync the configured address books into the database
    Sync {
        #[arg(long)]
        config: PathBuf,
        /// count what would change, write nothing
        #[arg(long)]
        dry_run: bool,
        /// list every contact instead of changes since the last run
        #[arg(long)]
        full: bool,
        /// confirm a run that deactivates more users than
        /// [sync] max_deactivate_percent allows
        #[arg(long)]
        force: bool,
        /// list every skipped and failed contact, not ten of each kind
        #[arg(long)]
        verbose: bool,
        #[arg(long)]
        json: bool,
    },
    /// Sync at the configured interval (default one hour), never two runs
    /// at once, keeping every run's summary
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// stop after this many runs (default: run until interrupted)
        #[arg(long)]
        runs: Option<u32>,
        /// let every run deactivate more users than
        /// [sync] max_deactivate_percent allows
        #[arg(long)]
        force: bool,
    },
    /// Measure a full sync of a large mailbox on the built-in emulator, the
    /// incremental syncs after it, the same read by exchangelib (the peer,
    /// installed from PyPI on first use), and loading the component
    Bench {
        /// contacts in the emulated mailbox
        #[arg(long, default_value_t = 100_000)]
        contacts: usize,
        /// contact folders they are spread over
        #[arg(long, default_value_t = 10)]
        folders: usize,
        /// runs of each measurement; medians are reported
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// contacts exchangelib reads (whole folders); 0 leaves the peer out
        #[arg(long, default_value_t = 10_000)]
        peer_contacts: usize,
        /// ordinary messages in each of the two mailboxes of the mail benchmark
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
        /// people in the organisation benchmark (every mailbox read)
        #[arg(long, default_value_t = 50)]
        mailboxes: usize,
        /// the Python virtual environment for exchangelib
        #[arg(long, default_value = "target/bench/exchangelib-venv")]
        venv: PathBuf,
        /// where the benchmark's databases go
        #[arg(long, default_value = "target/bench")]
        work_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// A sync as `sync --json` runs it, printing the summary and this
    /// process's peak resident memory: what `bench` runs in a child process
    #[command(hide = true)]
    BenchSync {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        full: bool,
    },
    /// The history of sync runs, newest first
    Runs {
        #[arg(long, conflicts_with = "db", required_unless_present = "db")]
        config: Option<PathBuf>,
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// List the helpdesk's users
    Users {
        #[arg(long, conflicts_with = "db", required_unless_present = "db")]
        config: Option<PathBuf>,
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Search the synced documents as one reader: only what their ACL
    /// admits, best first, with a snippet
    Search {
        #[arg(long, conflicts_with = "db", required_unless_present = "db")]
        config: Option<PathBuf>,
        #[arg(long)]
        db: Option<PathBuf>,
        /// the reader's address: only documents it may read are shown
        #[arg(long = "as", value_name = "ADDRESS")]
        reader: String,
        /// mail or attachment
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
        /// words (all must match); text in scripts without spaces is
        /// matched as a substring of three characters or more
        #[arg(required = true)]
        query: Vec<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let plugin_json = matches!(&cli.command, Command::Plugin { command } if command.json());
    let json = plugin_json || matches!(
        cli.command,
        Command::Demo { json: true, .. }
            | Command::Check { json: true, .. }
            | Command::Folders { json: true, .. }
            | Command::Attributes { json: true, .. }
            | Command::Sync { json: true, .. }
            | Command::Runs { json: true, .. }
            | Command::Users { json: true, .. }
            | Command::Search { json: true, .. }
            | Command::Bench { json: true, .. }
            | Command::BenchSync { .. }
    );
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let error = match e.downcast::<RunError>() {
                Ok(run_error) => run_error,
                Err(other) => RunError::from(other),
            };
            eprintln!("error: {error}");
            if json {
                println!("{}", json!({ "error": error }));
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Demo { contacts, seed, db, mode, faults, verbose, json } => {
            demo(contacts, seed, db, mode, faults, verbose, json).await
        }
        Command::Emulator { listen, contacts, seed, user, password, tls, cert_out, faults, folders, language, messages, auth, epa } => {
            let auth = crate::emulator::auth::Schemes::parse(&auth).map_err(anyhow::Error::msg)?;
            let epa = match epa {
                EpaSetting::Off => crate::emulator::ntlm::Epa::Off,
                EpaSetting::Allow => crate::emulator::ntlm::Epa::Allow,
                EpaSetting::Require => crate::emulator::ntlm::Epa::Require,
            };
            let layout = folders.map_or(Layout::Demo, Layout::Flat);
            let language = match language {
                FolderLanguage::En => Language::English,
                FolderLanguage::De => Language::German,
            };
            let options =
                EmulatorOptions { listen, contacts, seed, user, password, tls, faults, layout, language, auth, epa, messages, ..Default::default() };
            let emulator = Emulator::start(options).await?;
            if let (Some(path), Some(pem)) = (&cert_out, &emulator.ca_pem) {
                std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))?;
                eprintln!("CA certificate written to {}", path.display());
            }
            eprintln!("Exchange emulator: {} ({contacts} contacts, seed {seed})", emulator.endpoint());
            eprintln!("user {}; interrupt to stop", emulator.user());
            println!("{}", json!({ "endpoint": emulator.endpoint(), "user": emulator.user() }));
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Login { config } => {
            let config = HostConfig::load(&config)?;
            let kept = crate::login::device_code(&config, |prompt| {
                println!("{}", prompt.message);
                // Flushed at once: whoever reads this waits for it.
                let _ = std::io::Write::flush(&mut std::io::stdout());
            })
            .await?;
            println!("Signed in. The refresh token is kept in {}; the next sync uses it.", kept.display());
            Ok(())
        }
        Command::Check { config, json } => {
            let config = HostConfig::load(&config)?;
            let (info, auth) = Connection::from_config(&config)?.check_signed_in(&*runtime_for(&config)?).await?;
            print(json, &checked_json(&info, auth), || format!("{} {} at {}, signed in with {auth}", info.product, info.version, info.endpoint));
            Ok(())
        }
        Command::Folders { config, json } => {
            let config = HostConfig::load(&config)?;
            let folders = Connection::from_config(&config)?.folders(&*runtime_for(&config)?).await?;
            print(json, &folders_json(&folders), || {
                folders.iter().map(folder_line).collect::<String>()
            });
            Ok(())
        }
        Command::Attributes { config, sample, json } => {
            let config = HostConfig::load(&config)?;
            let found = Connection::from_config(&config)?.attributes(&*runtime_for(&config)?, sample).await?;
            let document: Value = found.iter().map(|a| json!({ "key": a.key, "example": a.example })).collect();
            print(json, &document, || found.iter().map(|a| format!("{:<40} {}\n", a.key, a.example)).collect::<String>());
            Ok(())
        }
        Command::Bench { contacts, folders, runs, peer_contacts, messages, mailboxes, venv, work_dir, json } => {
            let options = crate::bench::BenchOptions { contacts, folders, runs, peer_contacts, venv, work_dir, messages, mailboxes };
            let figures = crate::bench::run(&options).await?;
            print(json, &serde_json::to_value(&figures)?, || crate::bench::text(&figures));
            Ok(())
        }
        Command::BenchSync { config, full } => {
            let summary = sync_with(&config, full, false, false).await?;
            let peak_rss_kib = crate::bench::child::own_peak_rss_kib()?;
            print(true, &json!({ "summary": summary, "peak_rss_kib": peak_rss_kib }), String::new);
            Ok(())
        }
        Command::Serve { config, runs, force } => serve(&HostConfig::load(&config)?, runs, force).await,
        Command::Plugin { command } => crate::plugins::commands::run(command).await,
        Command::Runs { config, db, limit, json } => {
            let store = store_of(config, db)?;
            let runs = store.runs(limit)?;
            print(json, &serde_json::to_value(&runs)?, || runs.iter().map(run_line).collect::<String>());
            Ok(())
        }
        Command::Sync { config, dry_run, full, force, verbose, json } => {
            let summary = sync_with(&config, full, dry_run, force).await?;
            print(json, &serde_json::to_value(&summary)?, || summary_text(&summary, verbose));
            Ok(())
        }
        Command::Search { config, db, reader, kind, limit, json, query } => {
            if let Some(kind) = kind.as_deref().filter(|k| !crate::config::DOCUMENT_KINDS.contains(k)) {
                anyhow::bail!("--kind {kind} is not a kind of document (they are {})", crate::config::DOCUMENT_KINDS.join(", "));
            }
            let store = store_of(config, db)?;
            let hits = crate::documents::search(&store.lock(), &reader, &query.join(" "), kind.as_deref(), limit)?;
            print(json, &serde_json::to_value(&hits)?, || {
                if hits.is_empty() {
                    return format!("nothing that {reader} may read matches\n");
                }
                hits.iter()
                    .map(|h| format!("{} [{}] {} / {}: {}\n    {}\n", h.received.as_deref().unwrap_or("-"), h.kind, h.mailbox, h.folder, h.title, h.snippet))
                    .collect()
            });
            Ok(())
        }
        Command::Users { config, db, json } => {
            let store = store_of(config, db)?;
            let users = store.users()?;
            let last = store.runs(1)?;
            print(json, &serde_json::to_value(&users)?, || {
                let header = match last.first() {
                    Some(run) => format!("last sync: {}", run_line(run)),
                    None => "no sync has run yet\n".into(),
                };
                header
                    + &users
                    .iter()
                    .map(|u| {
                        format!(
                            "{}  {} {}  <{}>  {}{}\n",
                            u.login,
                            u.firstname,
                            u.lastname,
                            u.email.as_deref().unwrap_or(""),
                            u.source,
                            if u.active { "" } else { "  (inactive)" }
                        )
                    })
                    .collect::<String>()
            });
            Ok(())
        }
    }
}

/// One sync run as the configuration file at `config` says.
async fn sync_with(config: &Path, full: bool, dry_run: bool, force: bool) -> Result<Summary> {
    let config = HostConfig::load(config)?;
    let store = open_store(&config)?;
    let mode = if full { SyncMode::Full } else { SyncMode::Incremental };
    let mut connection = Connection::from_config(&config)?;
    connection.set_force(force);
    Ok(connection.sync(&*runtime_for(&config)?, &store, mode, dry_run).await?)
}

/// The runtime of the plugin the configuration selects: the installed one
/// `[plugin] id` names (checked again, its network the configured URLs
/// within what it declared and what was granted), or the built-in one.
fn runtime_for(config: &HostConfig) -> Result<std::sync::Arc<Runtime>> {
    let Some(plugin) = &config.plugin else { return Runtime::shared() };
    let home = crate::plugins::home()?;
    let plugins = crate::plugins::installed::Plugins::at(&home);
    let (bytes, state) = plugins.load_active(&plugin.id, &crate::plugins::trust::TrustStore::at(&home))?;
    within_grant(config, &state.id, &state.active, &state.versions[&state.active].network, &state.granted)?;
    // An upgrade checks the configurations that run the plugin.
    if let Some(path) = &config.path
        && let Err(e) = plugins.remember(&plugin.id, path)
    {
        tracing::warn!("{e:#}");
    }
    // Compiled once into the user's private cache, keyed by these bytes.
    Ok(std::sync::Arc::new(Runtime::load(&bytes, crate::runtime::cache_dir().as_deref(), crate::runtime::Limits::default())?))
}

/// Refuse a configuration whose URLs an installed plugin's version did not
/// declare, or was not granted.
pub fn within_grant(config: &HostConfig, id: &str, version: &str, declared: &[String], granted: &[String]) -> Result<()> {
    for url in config.allowed_urls() {
        let (is_declared, is_granted) = (crate::plugins::installed::granted(&url, declared), crate::plugins::installed::granted(&url, granted));
        if !is_declared || !is_granted {
            bail!(
                "the plugin {id} {version} may not reach {url}: it {} (it declared {}; granted {})",
                if is_declared { "was not granted it" } else { "did not declare it" },
                declared.join(", "),
                granted.join(", ")
            );
        }
    }
    Ok(())
}

fn store_of(config: Option<PathBuf>, db: Option<PathBuf>) -> Result<Store> {
    match (config, db) {
        (Some(config), _) => open_store(&HostConfig::load(&config)?),
        (None, Some(db)) => Store::open(&db),
        (None, None) => unreachable!("clap requires one of them"),
    }
}

fn run_line(run: &crate::store::RunRow) -> String {
    let counts = run
        .summary
        .as_ref()
        .map(|s| {
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            format!(
                "created {}, updated {}, unchanged {}, skipped {}, failed {}, deactivated {}",
                n("created"),
                n("updated"),
                n("unchanged"),
                n("skipped"),
                n("failed"),
                n("deactivated")
            )
        })
        .unwrap_or_default();
    format!(
        "#{} {} {}{} {}: {} {}\n",
        run.id,
        run.started_at,
        run.mode,
        if run.dry_run { " (dry run)" } else { "" },
        run.status,
        counts,
        run.error.as_deref().unwrap_or("")
    )
}

/// Sync at the configured interval. Runs follow one another, so two never
/// overlap here, and the database's run lock keeps out other processes.
/// A tick missed while a run was going is skipped, not made up. Each run
/// reads the configuration's secrets and the kept ones anew (a token the
/// last run rotated). SIGTERM or Ctrl-C stops it: between runs at once,
/// during one by cancelling it (its committed batches stay, the lock is
/// released, and the next start marks it interrupted).
async fn serve(config: &HostConfig, max_runs: Option<u32>, force: bool) -> Result<()> {
    let interval = config.interval()?;
    let store = open_store(config)?;
    // A configuration that cannot make a connection fails at start, not hourly.
    Connection::from_config(config)?;
    let runtime = runtime_for(config)?;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tracing::info!("syncing every {} s into {}", interval.as_secs(), config.database().display());
    let mut stop = std::pin::pin!(stop_signal());
    let mut done = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stop => return Ok(()),
        }
        let mut connection = match Connection::from_config(config) {
            Ok(connection) => connection,
            Err(e) => {
                tracing::error!("sync not started: {e:#}");
                continue;
            }
        };
        connection.set_force(force);
        tokio::select! {
            result = connection.sync(&runtime, &store, SyncMode::Incremental, false) => match result {
                Ok(summary) => tracing::info!("sync done: {}", summary_text(&summary, false).lines().next().unwrap_or_default()),
                Err(e) => tracing::error!("sync failed: {e}"),
            },
            _ = &mut stop => {
                tracing::warn!("stopping: the running sync was cancelled; what it committed stays");
                return Ok(());
            }
        }
        done += 1;
        if max_runs.is_some_and(|max| done >= max) {
            return Ok(());
        }
    }
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!("SIGTERM cannot be heard ({e}); Ctrl-C still stops");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn open_store(config: &HostConfig) -> Result<Store> {
    let store = Store::open(&config.database())?;
    for (name, label) in &config.fields {
        store.declare_field(name, label)?;
    }
    Ok(store)
}

/// Contacts the demo adds, changes and removes before its incremental run.
const DEMO_CHANGES: usize = 10;

async fn demo(contacts: usize, seed: u64, db: Option<PathBuf>, mode: Mode, faults: Option<String>, verbose: bool, json: bool) -> Result<()> {
    let with_faults = faults.is_some();
    // One more person, who leaves between the runs: their mailbox goes.
    let emulator = Emulator::start(EmulatorOptions { contacts, seed, faults, staff: 1, ..Default::default() }).await?;
    let db = match db {
        Some(db) => db,
        None => {
            let path = std::env::temp_dir().join(format!("helpdesk-demo-{}.db", std::process::id()));
            remove_database(&path)?;
            path
        }
    };
    let mut config = emulator_config_for(&emulator, &db, mode);
    // Every mailbox of the organisation (over Graph, their contacts too:
    // the shared mailbox holds Graph's stand-in for the public folders).
    // Bob is the shared mailbox's member: over EWS its folders'
    // permissions say so, over Graph the configuration must.
    config.documents = Some(crate::config::DocumentsConfig {
        shared: [(crate::emulator::SHARED_MAILBOX.to_string(), vec![crate::emulator::COLLEAGUE.to_string()])].into(),
        ..Default::default()
    });
    config.exchange.mailboxes = vec!["all".into()];
    let runtime = Runtime::shared()?;
    let mut connection = Connection::from_config(&config)?;
    if with_faults {
        // The slow fault answers after three seconds: wait less than that.
        connection.set_first_byte_timeout(std::time::Duration::from_secs(2));
    }
    let (check, auth) = connection.check_signed_in(&runtime).await?;
    let folders = connection.folders(&runtime).await?;
    let store = Store::open(&db)?;
    let dry_run = connection.sync(&runtime, &store, SyncMode::Full, true).await?;
    let full = connection.sync(&runtime, &store, SyncMode::Full, false).await?;
    // What users do between two hourly runs.
    let script = emulator.mailbox_mut().scripted_change(DEMO_CHANGES);
    let mail = emulator.mailbox_mut().scripted_mail_change();
    // An occurrence of the weekly series moved, a task completed.
    let calendar = emulator.mailbox_mut().scripted_calendar_change();
    let leaver = format!("{}001@example.com", crate::emulator::STAFF_PREFIX);
    let left_behind = store.document_kinds_of(&leaver)?;
    emulator.remove_mailbox(&leaver);
    let incremental = connection.sync(&runtime, &store, SyncMode::Incremental, false).await?;
    let document = json!({
        "check": checked_json(&check, auth),
        "folders": folders_json(&folders),
        "dry_run": dry_run,
        "full": full,
        "change": { "added": script.added.len(), "changed": script.changed.len(), "removed": script.removed.len() },
        "incremental": incremental,
        "documents": { "full": full.documents, "incremental": incremental.documents, "mailboxes": store.document_mailboxes()? },
        "mail_change": {
            "added": mail.added.len(), "moved": mail.moved.len(), "deleted": mail.deleted.len(), "read": mail.read.len(), "edited": mail.edited.len(),
        },
        "calendar_change": { "changed": calendar.len() },
        "mailbox_change": { "removed": [leaver], "documents": left_behind },
        "database": db,
        "emulator": { "endpoint": emulator.endpoint(), "graph": emulator.graph_base(), "contacts": contacts, "seed": seed },
        "mode": format!("{mode:?}").to_lowercase(),
        "faults_not_fired": emulator.pending_faults().iter().map(|f| format!("{f:?}")).collect::<Vec<_>>(),
    });
    print(json, &document, || {
        let mut text = format!("Connected to {} {} at {}\n\nAddress books:\n", check.product, check.version, check.endpoint);
        for folder in &folders {
            text += &format!("{:>7}  {}\n", folder.item_count, folder.path);
        }
        text += &format!("\nDry run:\n{}", summary_text(&dry_run, verbose));
        text += &format!("\nFull sync into {}:\n{}", db.display(), summary_text(&full, verbose));
        text += &format!(
            "\nThe emulator added {}, changed {} and removed {} contacts. Incremental sync:\n{}",
            script.added.len(),
            script.changed.len(),
            script.removed.len(),
            summary_text(&incremental, verbose)
        );
        text += &format!("\nSearch the mail: helpdesk-host search --db {} --as {} WORDS\n", db.display(), emulator.user());
        text
    });
    Ok(())
}

/// A configuration for the in-process emulator, over EWS.
pub fn emulator_config(emulator: &Emulator, db: &Path) -> HostConfig {
    emulator_config_for(emulator, db, Mode::Ews)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EpaSetting {
    Off,
    Allow,
    Require,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FolderLanguage {
    En,
    De,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Ews,
    Graph,
}

/// A configuration for the in-process emulator, over EWS or Graph.
pub fn emulator_config_for(emulator: &Emulator, db: &Path, mode: Mode) -> HostConfig {
    let exchange = match mode {
        Mode::Ews => ExchangeConfig {
            mode: "ews".into(),
            endpoint: emulator.endpoint(),
            username: emulator.user().into(),
            password: Some(emulator.password().into()),
            ..Default::default()
        },
        Mode::Graph => ExchangeConfig {
            mode: "graph".into(),
            tenant_id: Some(crate::emulator::graph::TENANT.into()),
            client_id: Some(crate::emulator::graph::CLIENT_ID.into()),
            client_secret: Some(crate::emulator::graph::CLIENT_SECRET.into()),
            authority: Some(emulator.graph_base()),
            graph_endpoint: Some(emulator.graph_base()),
            ..Default::default()
        },
    };
    HostConfig {
        exchange: ExchangeConfig { tls: TlsConfig::default(), ..exchange },
        mapping: Default::default(),
        store: StoreConfig { database: db.to_path_buf(), ..Default::default() },
        schedule: ScheduleConfig::default(),
        sync: Default::default(),
        documents: None,
        fields: Default::default(),
        plugin: None,
        base_dir: PathBuf::new(),
        path: None,
    }
}

fn remove_database(path: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        }
    }
    Ok(())
}

/// What `check` found, and how it signed in.
fn checked_json(info: &ServerInfo, auth: &str) -> Value {
    json!({ "product": info.product, "version": info.version, "endpoint": info.endpoint, "auth": auth })
}

fn folders_json(folders: &[Folder]) -> Value {
    folders
        .iter()
        .map(|f| {
            let mut folder = json!({ "id": f.id, "path": f.path, "item_count": f.item_count, "default": f.excluded.is_none() });
            if let Some(why) = &f.excluded {
                folder["why"] = json!(why);
            }
            folder
        })
        .collect()
}

/// Count and path; a folder a default sync leaves out says why.
fn folder_line(f: &Folder) -> String {
    match &f.excluded {
        None => format!("{:>7}  {}\n", f.item_count, f.path),
        Some(why) => format!("{:>7}  {}  (not synced by default: {why})\n", f.item_count, f.path),
    }
}

fn summary_text(s: &Summary, verbose: bool) -> String {
    s.text(verbose)
}

pub fn print(json: bool, document: &Value, text: impl FnOnce() -> String) {
    use std::io::Write;
    let output = if json { format!("{document}\n") } else { text() };
    // A closed pipe (`| head`) is the reader's choice, not an error.
    let _ = std::io::stdout().write_all(output.as_bytes());
}
