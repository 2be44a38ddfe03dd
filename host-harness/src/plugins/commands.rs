//! `helpdesk-host plugin ...`: keys, trust, packing and checking packages
//! (`--json` on each).

use super::keys::{PublicKey, SecretKey, public_path};
use super::package::{self, Manifest};
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
            PluginCommand::Keygen { json, .. } | PluginCommand::Pack { json, .. } | PluginCommand::Verify { json, .. } => *json,
            PluginCommand::Trust { command: TrustCommand::Add { json, .. } | TrustCommand::List { json } | TrustCommand::Remove { json, .. } } => *json,
        }
    }
}

fn key_json(key: &PublicKey) -> serde_json::Value {
    json!({ "id": key.id(), "name": key.name })
}

pub fn run(command: PluginCommand) -> Result<()> {
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
