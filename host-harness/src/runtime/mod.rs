//! The wasmtime runtime: one engine per process, the component compiled
//! once and cached on disk, and a fresh store per run (an instance is
//! poisoned after any trap). Each released API version has its bindings
//! (`v0_1`, `v0_2`); the host works with the current one's types.

use crate::capabilities::{EgressPolicy, RunState};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store};

/// The bindings of one API version's WIT folder: every version is bound
/// with the same options, so that only the types differ.
macro_rules! bindings {
    ($path:tt) => {
        wasmtime::component::bindgen!({
            path: $path,
            world: "helpdesk:connector/connector",
            imports: { default: async | trappable },
            exports: { default: async },
            with: {
                "wasi:http": wasmtime_wasi_http::p2::bindings::http,
                "wasi:io": wasmtime_wasi::p2::bindings::io,
                "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            },
        });
    };
}
use bindings;

pub mod extract;
pub mod limits;
pub mod v0_1;
pub mod v0_2;

pub use limits::Limits;
pub use v0_2::helpdesk::connector::types;
use types::{AttributeSample, ConnectorError, Folder, ServerInfo, SyncReport, SyncRequest};

/// The component this harness was built with.
pub const CONNECTOR_WASM: &[u8] = include_bytes!(env!("EXCHANGE_CONNECTOR_WASM"));

/// How often the epoch ticks; the guest yields to the host at each tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The imports this host grants. Everything else (wasi:filesystem,
/// wasi:sockets, ...) is refused before instantiation. `wasi:cli` is what
/// Rust's standard library imports; the environment it sees is empty.
const GRANTED_IMPORTS: &[&str] = &[
    "helpdesk:connector/",
    "wasi:http/outgoing-handler@",
    "wasi:http/types@",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/terminal-",
];

#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    pre: Pre,
    limits: Limits,
}

/// A component ready to instantiate, by the API version it exports.
#[derive(Clone)]
enum Pre {
    V0_1(v0_1::ConnectorPre<RunState>),
    V0_2(v0_2::ConnectorPre<RunState>),
}

/// An instance of a plugin, whatever API version it exports; its calls
/// take and give the current version's types.
pub enum Connector {
    V0_1(v0_1::Connector),
    V0_2(v0_2::Connector),
}

type Answer<T> = wasmtime::Result<Result<T, ConnectorError>>;

impl Connector {
    pub async fn check(&self, store: &mut Store<RunState>, config: &types::Config) -> Answer<ServerInfo> {
        match self {
            Connector::V0_1(c) => v0_1::check(c, store, config).await,
            Connector::V0_2(c) => c.helpdesk_connector_configure().call_check(store, config).await,
        }
    }

    pub async fn folders(&self, store: &mut Store<RunState>, config: &types::Config) -> Answer<Vec<Folder>> {
        match self {
            Connector::V0_1(c) => v0_1::folders(c, store, config).await,
            Connector::V0_2(c) => c.helpdesk_connector_configure().call_folders(store, config).await,
        }
    }

    pub async fn attributes(&self, store: &mut Store<RunState>, config: &types::Config, sample: u32) -> Answer<Vec<AttributeSample>> {
        match self {
            Connector::V0_1(c) => v0_1::attributes(c, store, config, sample).await,
            Connector::V0_2(c) => c.helpdesk_connector_configure().call_attributes(store, config, sample).await,
        }
    }

    /// The text of a file (0.2.0's `extract`; 0.1.0 reads no files).
    pub async fn text_of(&self, store: &mut Store<RunState>, content_type: &str, name: &str, content: &[u8]) -> wasmtime::Result<Result<String, String>> {
        match self {
            Connector::V0_1(_) => Ok(Err("a 0.1.0 plugin reads no files".into())),
            Connector::V0_2(c) => c.helpdesk_connector_extract().call_text_of(store, content_type, name, content).await,
        }
    }

    pub async fn run(&self, store: &mut Store<RunState>, config: &types::Config, request: &SyncRequest) -> Answer<SyncReport> {
        match self {
            Connector::V0_1(c) => v0_1::run(c, store, config, request).await,
            Connector::V0_2(c) => c.helpdesk_connector_sync().call_run(store, config, request).await,
        }
    }
}

/// The API versions this host binds, by semver: 0.1.x and 0.2.x.
pub const API_VERSIONS: &str = "0.1.x, 0.2.x";

impl Runtime {
    /// The process-wide runtime with the built-in connector.
    pub fn shared() -> Result<Arc<Runtime>> {
        static SHARED: OnceLock<Arc<Runtime>> = OnceLock::new();
        static LOADING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        if let Some(runtime) = SHARED.get() {
            return Ok(runtime.clone());
        }
        // One thread compiles; the others wait for it.
        let _loading = LOADING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(runtime) = SHARED.get() {
            return Ok(runtime.clone());
        }
        let runtime = Arc::new(Runtime::load(CONNECTOR_WASM, cache_dir().as_deref(), Limits::default())?);
        Ok(SHARED.get_or_init(|| runtime).clone())
    }

    pub fn load(wasm: &[u8], cache: Option<&Path>, limits: Limits) -> Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // For a developer's profile: HELPDESK_PERFMAP=1 writes
        // /tmp/perf-<pid>.map, so that `perf report` names the plugin's
        // functions (BENCHMARKS.md).
        if std::env::var_os("HELPDESK_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let ticker = engine.weak();
        std::thread::Builder::new().name("epoch".into()).spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
        let component = compile(&engine, wasm, cache)?;
        audit(&engine, &component)?;
        let instance = linker_for(&engine)?.instantiate_pre(&component)?;
        let pre = match api_version(&engine, &component)? {
            v if v.major == 0 && v.minor == 1 => Pre::V0_1(v0_1::ConnectorPre::new(instance)?),
            v if v.major == 0 && v.minor == 2 => Pre::V0_2(v0_2::ConnectorPre::new(instance)?),
            v => anyhow::bail!("the plugin exports helpdesk:connector@{v}; this host binds {API_VERSIONS}"),
        };
        Ok(Runtime { engine, pre, limits })
    }

    /// What a plugin file is, without running it: its `helpdesk:connector`
    /// version, which this host must bind; its imports must be ones it
    /// grants. It is compiled (not cached) to know.
    pub fn check(wasm: &[u8]) -> Result<semver::Version> {
        let engine = Engine::new(&Config::new())?;
        let component = Component::new(&engine, wasm)?;
        audit(&engine, &component)?;
        let version = api_version(&engine, &component)?;
        anyhow::ensure!(binds(&version), "the plugin exports helpdesk:connector@{version}; this host binds {API_VERSIONS}");
        Ok(version)
    }

    /// A fresh store and instance for one run.
    pub async fn instantiate(&self, policy: EgressPolicy, session: crate::session::Session) -> Result<(Store<RunState>, Connector)> {
        let mut store = Store::new(&self.engine, RunState::new(policy, session, self.limits.store_limits()));
        store.limiter(|state| &mut state.limits);
        // At every tick the guest yields to the executor; it is stopped once
        // its ticks, which accrue only while it runs, exceed the CPU budget.
        let budget = (self.limits.cpu.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut context| {
            let ticks = &mut context.data_mut().cpu_ticks;
            *ticks += 1;
            if *ticks > budget {
                return Err(wasmtime::Error::msg(CPU_EXHAUSTED));
            }
            Ok(wasmtime::UpdateDeadline::Yield(1))
        });
        let connector = match &self.pre {
            Pre::V0_1(pre) => pre.instantiate_async(&mut store).await.map(Connector::V0_1),
            Pre::V0_2(pre) => pre.instantiate_async(&mut store).await.map(Connector::V0_2),
        };
        // A wall hit while instantiating (a second memory, too many
        // tables or instances) is named for the admin.
        let connector = connector.map_err(|e| match limits::explain(&format!("{e:?}")) {
            Some(wall) => e.context(format!("the plugin could not start: {wall}")),
            None => e,
        })?;
        Ok((store, connector))
    }
}

pub const CPU_EXHAUSTED: &str = "the plugin used up its CPU budget";

/// WASI, outgoing HTTP, and the host interfaces of every API version.
fn linker_for(engine: &Engine) -> Result<Linker<RunState>> {
    let mut linker = Linker::<RunState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    v0_1::helpdesk::connector::host::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)?;
    v0_1::helpdesk::connector::types::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)?;
    v0_2::helpdesk::connector::host::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)?;
    v0_2::helpdesk::connector::types::add_to_linker::<RunState, HasSelf<RunState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// Whether this host binds a `helpdesk:connector` version (0.1.x, 0.2.x).
fn binds(version: &semver::Version) -> bool {
    version.major == 0 && matches!(version.minor, 1 | 2)
}

/// The version of `helpdesk:connector` whose `sync` the component exports.
fn api_version(engine: &Engine, component: &Component) -> Result<semver::Version> {
    const SYNC: &str = "helpdesk:connector/sync@";
    let exports: Vec<String> = component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect();
    let sync = exports
        .iter()
        .find_map(|name| name.strip_prefix(SYNC))
        .with_context(|| format!("the plugin exports no {SYNC}VERSION, so it is no connector (it exports {})", exports.join(", ")))?;
    semver::Version::parse(sync).with_context(|| format!("the plugin's {SYNC}{sync}: not a version"))
}

/// Refuse a component that asks for more than this host grants.
fn audit(engine: &Engine, component: &Component) -> Result<()> {
    for (name, _) in component.component_type().imports(engine) {
        if !GRANTED_IMPORTS.iter().any(|granted| name.starts_with(granted)) {
            anyhow::bail!(
                "the plugin imports {name}, which this host does not grant (plugins get outgoing HTTP to their \
                 configured endpoints, clocks and randomness; no files, sockets or environment)"
            );
        }
    }
    Ok(())
}

/// Compile, or load the compiled component from the cache. The key covers
/// the wasm bytes and the engine's settings and version.
fn compile(engine: &Engine, wasm: &[u8], cache: Option<&Path>) -> Result<Component> {
    let Some(dir) = cache.filter(|dir| private(dir)) else { return Ok(Component::new(engine, wasm)?) };
    let mut key = Sha256::new();
    key.update(wasm);
    let mut hasher = StableHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    key.update(hasher.0.finalize());
    let path = dir.join(format!("connector-{}.cwasm", hex::encode(&key.finalize()[..16])));
    if path.exists() {
        // SAFETY: only files this host wrote are in the cache directory, and
        // the key pins both the wasm and the engine that compiled it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!("ignoring unreadable component cache {}: {e}", path.display()),
        }
    }
    let compiled = engine.precompile_component(wasm)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Unique per process and call: other processes may be writing too.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&temp, &compiled)?;
    std::fs::rename(&temp, &path)?;
    // SAFETY: just written by this process from `precompile_component`.
    Ok(unsafe { Component::deserialize(engine, &compiled)? })
}

/// Whether `dir` may hold compiled code this host loads: a directory (not
/// a link) of this user's, which no one else may read or write (made so,
/// if it is ours). Loading compiled code runs it unchecked, so a cache
/// another user could write to is not used: the component is compiled.
fn private(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let owned = || -> std::io::Result<bool> {
            std::fs::create_dir_all(dir)?;
            let meta = std::fs::symlink_metadata(dir)?;
            // A file made here now is this user's: the directory must be too.
            let probe = dir.join(format!(".owner-{}", std::process::id()));
            std::fs::write(&probe, b"")?;
            let mine = std::fs::metadata(&probe)?.uid();
            let _ = std::fs::remove_file(&probe);
            if !meta.is_dir() || meta.uid() != mine {
                return Ok(false);
            }
            if meta.mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            }
            Ok(true)
        };
        match owned() {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!("the component cache {} is not this user's alone: not used", dir.display());
                false
            }
            Err(e) => {
                tracing::warn!("the component cache {} cannot be used: {e}", dir.display());
                false
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        false
    }
}

/// `Hash` into a digest whose output does not change between Rust releases.
struct StableHasher(Sha256);

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Where compiled components are kept: `HELPDESK_HOST_CACHE`, else the
/// user's cache directory (used only while it is private: see `private`).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HELPDESK_HOST_CACHE") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("helpdesk-host"))
}

