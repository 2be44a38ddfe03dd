//! `helpdesk-host plugin ...`: keys, trust, packing and checking packages
//! (`--json` on each).

use super::keys::{PublicKey, SecretKey, public_path};
use super::package::{self, Manifest};
use super::registry::Registry;
use super::trust::TrustStore;
use anyhow::{Context, Result};
use crate::cli::print;
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// A publisher's key pair: the private key in KEY, the public one in KEY.pub
    Keygen {
        #[arg(short = 'o', long = "output", value_name = "KEY")]
        output: PathBuf,
        /// the publisher's name, carried in KEY.pub
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// The publishers' keys this host trusts
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
    },
    /// A package: the component (without COMPONENT: the connector this host
    /// was built with), its manifest, signed with KEY
    Pack {
        component: Option<PathBuf>,
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        key: PathBuf,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Install a package from a file: verified, the network it asks for
    /// granted (interactively, or all with --yes, or those named with
    /// --grant), staged and moved into place
    Install {
        /// a package file, or ID[@VERSION] with --registry
        target: String,
        /// the marketplace (an OCI registry; http:// for a loopback one)
        #[arg(long)]
        registry: Option<String>,
        #[command(flatten)]
        accept: Acceptance,
        #[arg(long)]
        json: bool,
    },
    /// Publish a package to a registry, as ID:VERSION
    Publish {
        file: PathBuf,
        #[arg(long)]
        registry: String,
        #[arg(long)]
        json: bool,
    },
    /// The versions a registry has of ID (without ID: of each installed plugin)
    Search {
        id: Option<String>,
        #[arg(long)]
        registry: String,
        #[arg(long)]
        json: bool,
    },
    /// Switch to another version: the highest the registry has, or --to
    /// VERSION (an installed one needs no registry: a rollback). Before it
    /// switches, the new version checks each configuration that ran the
    /// plugin (and each named with --config) as `check` does; one it does
    /// not accept stops the upgrade
    Upgrade {
        id: String,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        registry: Option<String>,
        /// a configuration to check with the new version, beside those that
        /// ran the plugin
        #[arg(long = "config", value_name = "FILE")]
        configs: Vec<PathBuf>,
        #[command(flatten)]
        accept: Acceptance,
        #[arg(long)]
        json: bool,
    },
    /// Keep a plugin at its version: upgrades without --to leave it
    Pin {
        id: String,
        /// unpin
        #[arg(long)]
        off: bool,
        #[arg(long)]
        json: bool,
    },
    /// The installed plugins; with --updates, the newer versions the
    /// registry has of each
    List {
        #[arg(long, requires = "registry")]
        updates: bool,
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove an installed plugin. The users and documents it synced stay
    /// in their databases, with its checkpoints, so that a reinstall goes
    /// on where it was; with --purge, the databases of the configurations
    /// that ran it forget its documents and checkpoints too (users stay)
    Remove {
        id: String,
        #[arg(long)]
        purge: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check a package as an install would: its signature by a trusted key,
    /// its API, its imports
    Verify {
        file: PathBuf,
        /// accept an unsigned package, or one signed by an unknown key
        #[arg(long)]
        allow_unsigned: bool,
        #[arg(long)]
        json: bool,
    },
}

/// What an admin accepts of a package: the network it asks for, and a
/// signature this host cannot vouch for.
#[derive(clap::Args, Debug)]
pub struct Acceptance {
    /// grant all of the network the capability table shows
    #[arg(long)]
    yes: bool,
    /// grant this origin or pattern (of those it asks for)
    #[arg(long = "grant", value_name = "ORIGIN")]
    grants: Vec<String>,
    /// accept an unsigned package, or one signed by a key not trusted (loudly)
    #[arg(long)]
    allow_unsigned: bool,
}

#[derive(Subcommand, Debug)]
pub enum TrustCommand {
    Add {
        key: PathBuf,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Remove {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

impl PluginCommand {
    pub fn json(&self) -> bool {
        match self {
            PluginCommand::Keygen { json, .. }
            | PluginCommand::Pack { json, .. }
            | PluginCommand::Verify { json, .. }
            | PluginCommand::Install { json, .. }
            | PluginCommand::List { json, .. }
            | PluginCommand::Publish { json, .. }
            | PluginCommand::Search { json, .. }
            | PluginCommand::Upgrade { json, .. }
            | PluginCommand::Pin { json, .. }
            | PluginCommand::Remove { json, .. } => *json,
            PluginCommand::Trust { command: TrustCommand::Add { json, .. } | TrustCommand::List { json } | TrustCommand::Remove { json, .. } } => *json,
        }
    }
}

fn key_json(key: &PublicKey) -> serde_json::Value {
    json!({ "id": key.id(), "name": key.name })
}

pub async fn run(command: PluginCommand) -> Result<()> {
    let trust = || super::home().map(|home| TrustStore::at(&home));
    match command {
        PluginCommand::Keygen { output, name, json } => {
            let key = SecretKey::generate(&output, &name)?;
            let document = json!({ "key": output, "public_key": public_path(&output), "id": key.public.id() });
            print(json, &document, || format!("private key {} (keep it secret), public key {} (id {})\n", output.display(), public_path(&output).display(), key.public.id()));
        }
        PluginCommand::Trust { command: TrustCommand::Add { key, json } } => {
            let key = PublicKey::read(&key)?;
            trust()?.add(&key)?;
            print(json, &key_json(&key), || format!("trusted key {} ({})\n", key.id(), key.name));
        }
        PluginCommand::Trust { command: TrustCommand::List { json } } => {
            let keys = trust()?.list()?;
            print(json, &json!(keys.iter().map(key_json).collect::<Vec<_>>()), || keys.iter().map(|k| format!("{}  {}\n", k.id(), k.name)).collect());
        }
        PluginCommand::Trust { command: TrustCommand::Remove { id, json } } => {
            trust()?.remove(&id)?;
            print(json, &json!({ "removed": id }), || format!("key {id} is no longer trusted\n"));
        }
        PluginCommand::Pack { component, manifest, key, output, json } => {
            let wasm = match &component {
                Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                None => crate::runtime::CONNECTOR_WASM.to_vec(),
            };
            let manifest = Manifest::read(&manifest)?;
            let key = SecretKey::read(&key)?;
            let bytes = package::pack(&wasm, &manifest, &key)?;
            std::fs::write(&output, &bytes).with_context(|| format!("writing {}", output.display()))?;
            let package = package::Package::read(&bytes)?;
            let document = json!({ "file": output, "id": package.manifest.id, "version": package.manifest.version, "api": package.manifest.api, "sha256": package.digest, "key": key.public.id() });
            print(json, &document, || {
                format!("{} {} (helpdesk:connector@{}) signed by {} in {}, sha256 {}\n", package.manifest.id, package.manifest.version, package.manifest.api, key.public.id(), output.display(), package.digest)
            });
        }
        PluginCommand::Install { target, registry, accept: Acceptance { yes, grants, allow_unsigned }, json } => {
            let (bytes, what) = match &registry {
                Some(url) if !std::path::Path::new(&target).is_file() => {
                    let (id, version) = target.split_once('@').map_or((target.as_str(), None), |(id, v)| (id, Some(v)));
                    let (bytes, version) = Registry::new(url)?.fetch(id, version).await?;
                    (bytes, format!("{id} {version} from {url}"))
                }
                _ => (std::fs::read(&target).with_context(|| format!("reading {target}"))?, target.clone()),
            };
            let home = super::home()?;
            let verified = package::verify(&bytes, &TrustStore::at(&home), allow_unsigned).with_context(|| format!("{what} was refused"))?;
            if verified.key.is_none() {
                eprintln!("WARNING: installing {what}, which no key this host trusts signed (--allow-unsigned)");
            }
            let granted = grant(&verified.manifest.network, yes, &grants)?;
            if granted.is_empty() && !verified.manifest.network.is_empty() {
                anyhow::bail!("the plugin asks for network access; grant it with --yes (all of the table) or --grant ORIGIN, nothing was installed");
            }
            let state = super::installed::Plugins::at(&home).install(&bytes, &verified, granted)?;
            print(json, &state_json(&state), || format!("installed {} {}, granted {}\n", state.id, state.active, state.granted.join(", ")));
        }
        PluginCommand::Publish { file, registry, json } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let package = package::Package::read(&bytes)?;
            anyhow::ensure!(package.key.is_some(), "{} is not signed; sign it with `plugin pack` before publishing", file.display());
            let url = Registry::new(&registry)?.publish(&bytes, &package.manifest).await?;
            let document = json!({ "id": package.manifest.id, "version": package.manifest.version, "manifest": url, "sha256": package.digest });
            print(json, &document, || format!("published {} {} as {url}\n", package.manifest.id, package.manifest.version));
        }
        PluginCommand::Search { id, registry, json } => search(id, &registry, json).await?,
        PluginCommand::List { updates: true, registry: Some(registry), json } => search(None, &registry, json).await?,
        PluginCommand::Upgrade { id, to, registry, configs, accept: Acceptance { yes, grants, allow_unsigned }, json } => {
            let home = super::home()?;
            let plugins = super::installed::Plugins::at(&home);
            let trust = TrustStore::at(&home);
            let state = plugins.state(&id)?.with_context(|| format!("{id} is not installed"))?;
            let local = to.as_ref().filter(|v| state.versions.contains_key(*v)).cloned();
            let (switch, bytes) = match (local, &registry) {
                // Installed already: switching back is a rollback.
                (Some(version), _) => {
                    let switch = plugins.prepare_upgrade(&id, None, &version, &grants, true)?;
                    (switch, plugins.load_version(&state, &version, &trust)?)
                }
                (None, Some(url)) => {
                    let (bytes, version) = Registry::new(url)?.fetch(&id, to.as_deref()).await?;
                    let verified = package::verify(&bytes, &trust, allow_unsigned).with_context(|| format!("{id} {version} was refused"))?;
                    // What it asks for beyond the grant it has; refused in
                    // `prepare_upgrade` if not granted now.
                    let asked: Vec<String> = verified.manifest.network.iter().filter(|n| !state.granted.contains(n)).cloned().collect();
                    let named: Vec<String> = grants.iter().filter(|g| !state.granted.contains(g)).cloned().collect();
                    let newly = grant(&asked, yes, &named)?;
                    (plugins.prepare_upgrade(&id, Some((&bytes, &verified)), &version, &newly, to.is_some())?, bytes)
                }
                (None, None) => anyhow::bail!("name the registry (--registry) to fetch {id} {}", to.as_deref().unwrap_or("at its highest version")),
            };
            let mut known = plugins.configurations(&id)?;
            known.retain(|path| path.is_file() && !configs.iter().any(|c| std::path::absolute(c).is_ok_and(|c| &c == path)));
            let checked = accepts(&switch, &bytes, &configs, &known).await?;
            let state = plugins.switch(switch)?;
            let mut document = state_json(&state);
            document["checked"] = json!(checked);
            print(json, &document, || {
                format!("{} {} is active (before: {}); configurations checked: {}\n", state.id, state.active, state.previous.as_deref().unwrap_or("none"), checked.len())
            });
        }
        PluginCommand::Pin { id, off, json } => {
            let state = super::installed::Plugins::at(&super::home()?).pin(&id, !off)?;
            print(json, &state_json(&state), || format!("{} {} is {}\n", state.id, state.active, if state.pinned { "pinned" } else { "not pinned" }));
        }
        PluginCommand::List { json, .. } => {
            let states = super::installed::Plugins::at(&super::home()?).list()?;
            print(json, &json!(states.iter().map(state_json).collect::<Vec<_>>()), || {
                states.iter().map(|s| format!("{} {} (versions {}), granted {}\n", s.id, s.active, s.versions.keys().cloned().collect::<Vec<_>>().join(", "), s.granted.join(", "))).collect()
            });
        }
        PluginCommand::Remove { id, purge, json } => {
            let plugins = super::installed::Plugins::at(&super::home()?);
            // Purged first: a purge that fails leaves the plugin installed,
            // to be removed again.
            let mut purged = Vec::new();
            if purge {
                for path in plugins.configurations(&id)?.into_iter().filter(|p| p.is_file()) {
                    let config = crate::config::HostConfig::load(&path)?;
                    if config.plugin.as_ref().is_some_and(|p| p.id == id) {
                        purged.push(crate::store::Store::open(&config.database())?.purge(crate::runs::SOURCE).with_context(|| format!("purging {id} from {}", config.database().display()))?);
                    }
                }
            }
            let state = plugins.remove(&id)?;
            let document = json!({ "removed": state.id, "versions": state.versions.keys().collect::<Vec<_>>(), "purged": purged });
            print(json, &document, || {
                let purged: String = purged.iter().map(|p| format!("; {}: {} documents and {} checkpoints forgotten", p.database.display(), p.documents, p.checkpoints)).collect();
                format!("removed {id}{purged}\n")
            });
        }
        PluginCommand::Verify { file, allow_unsigned, json } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let verified = package::verify(&bytes, &trust()?, allow_unsigned).with_context(|| format!("{} was refused", file.display()))?;
            if verified.key.is_none() {
                eprintln!("WARNING: {} is not signed by a key this host trusts; accepted only because of --allow-unsigned", file.display());
            }
            print(json, &serde_json::to_value(&verified)?, || {
                let by = verified.key.as_ref().map_or("no trusted key (--allow-unsigned)".to_string(), |(id, name)| format!("{id} ({name})"));
                format!("{} {}: signed by {by}, helpdesk:connector@{}, sha256 {}\n", verified.manifest.id, verified.manifest.version, verified.manifest.api, verified.digest)
            });
        }
    }
    Ok(())
}

fn state_json(state: &super::installed::State) -> serde_json::Value {
    json!({ "id": state.id, "active": state.active, "previous": state.previous, "versions": state.versions, "granted": state.granted, "pinned": state.pinned })
}

/// The network a package asks for, as a table, and what the admin grants
/// of it: all with `--yes`, those named with `--grant`, or what they
/// answer at the terminal; nothing without a terminal (the caller refuses
/// what needs more).
fn grant(asked: &[String], yes: bool, named: &[String]) -> Result<Vec<String>> {
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    eprintln!("The plugin asks for:\n  capability  origin");
    for origin in asked {
        eprintln!("  network     {origin}");
    }
    if let Some(unasked) = named.iter().find(|n| !asked.contains(n)) {
        anyhow::bail!("--grant {unasked}: the plugin does not ask for it (it asks for {})", asked.join(", "));
    }
    if yes {
        return Ok(asked.to_vec());
    }
    if !named.is_empty() {
        return Ok(named.to_vec());
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Ok(Vec::new());
    }
    eprint!("Grant all of it? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(if answer.trim().eq_ignore_ascii_case("y") { asked.to_vec() } else { Vec::new() })
}

/// Whether the version an upgrade switches to accepts the configurations
/// that run the plugin (`known`, those that ran it and still name it) and
/// those the admin names (`named`, which must name it): their URLs within
/// what it declared and is granted, and its `check`, which reads the
/// settings and signs in to the server. The first refusal stops the
/// upgrade, with the active version left as it is. The configurations
/// checked, by path.
async fn accepts(switch: &super::installed::Switch, bytes: &[u8], named: &[PathBuf], known: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let state = &switch.state;
    let (id, version) = (&state.id, &state.active);
    let stop = |path: &std::path::Path, why: String| {
        anyhow::anyhow!("{id} {version} does not accept the configuration {}: {why}; the upgrade stopped, {} stays active", path.display(), switch.before)
    };
    let mut configurations = Vec::new();
    for path in named {
        let config = crate::config::HostConfig::load(path)?;
        anyhow::ensure!(config.plugin.as_ref().is_some_and(|p| &p.id == id), "{} does not run the plugin {id} ([plugin] id)", path.display());
        configurations.push(config);
    }
    for path in known {
        // A configuration that moved on to another plugin is not its business.
        match crate::config::HostConfig::load(path) {
            Ok(config) if config.plugin.as_ref().is_some_and(|p| &p.id == id) => configurations.push(config),
            Ok(_) => {}
            Err(e) => return Err(stop(path, format!("{e:#}"))),
        }
    }
    if configurations.is_empty() {
        return Ok(Vec::new());
    }
    let runtime = crate::runtime::Runtime::load(bytes, crate::runtime::cache_dir().as_deref(), crate::runtime::Limits::default())?;
    let mut checked = Vec::new();
    for config in configurations {
        let path = config.path.clone().unwrap_or_default();
        crate::cli::within_grant(&config, id, version, &state.versions[version].network, &state.granted).map_err(|e| stop(&path, format!("{e:#}")))?;
        let connection = crate::runs::Connection::from_config(&config).map_err(|e| stop(&path, format!("{e:#}")))?;
        connection.check(&runtime).await.map_err(|e| stop(&path, e.to_string()))?;
        checked.push(path);
    }
    Ok(checked)
}

/// The versions a registry has of `id`, or of each installed plugin, and
/// the update of what is installed.
async fn search(id: Option<String>, registry: &str, json: bool) -> Result<()> {
    let registry = Registry::new(registry)?;
    let installed = super::installed::Plugins::at(&super::home()?);
    let ids = match id {
        Some(id) => vec![id],
        None => installed.list()?.into_iter().map(|s| s.id).collect(),
    };
    let mut found = Vec::new();
    for id in ids {
        let versions = registry.versions(&id).await?;
        let active = installed.state(&id)?.map(|s| s.active);
        let newer = active.as_deref().and_then(|a| semver::Version::parse(a).ok()).and_then(|a| versions.iter().rfind(|v| **v > a).map(|v| v.to_string()));
        found.push(json!({ "id": id, "versions": versions.iter().map(|v| v.to_string()).collect::<Vec<_>>(), "installed": active, "update": newer }));
    }
    print(json, &json!(found), || {
        found.iter().map(|f| format!("{}: {} (installed {}, update {})\n", f["id"].as_str().unwrap_or_default(), f["versions"], f["installed"], f["update"])).collect()
    });
    Ok(())
}
