//! A plugin package: the component file with its manifest in a custom
//! section `helpdesk-plugin` (TOML) and, last, its publisher's signature in
//! a custom section `helpdesk-signature`: a format byte (1), the key's 32
//! public bytes, and the ed25519 signature of
//! `"helpdesk-plugin-signature\x01" || SHA-256(every byte before the
//! section)`. Anything changed after signing breaks it; the same file
//! installs offline and is the one layer of a Wasm OCI artifact.

use super::keys::{PublicKey, SecretKey};
use super::trust::TrustStore;
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const MANIFEST_SECTION: &str = "helpdesk-plugin";
pub const SIGNATURE_SECTION: &str = "helpdesk-signature";
const SIGNED: &[u8] = b"helpdesk-plugin-signature\x01";

/// What a package says of itself (`plugin/plugin.toml` for the connector).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: String,
    /// the `helpdesk:connector` version it exports (pack fills it in from
    /// the component)
    #[serde(default)]
    pub api: String,
    #[serde(default)]
    pub publisher: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub description: String,
    /// the network origins or patterns it will ask for
    #[serde(default)]
    pub network: Vec<String>,
    /// the settings it takes, by key
    #[serde(default)]
    pub settings: Vec<String>,
}

impl Manifest {
    pub fn read(path: &std::path::Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: Manifest = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        ensure!(!manifest.id.trim().is_empty(), "{}: the manifest needs an id", path.display());
        semver::Version::parse(&manifest.version).with_context(|| format!("{}: version \"{}\" is not semver", path.display(), manifest.version))?;
        Ok(manifest)
    }
}

/// One top-level section: its custom name if custom, where it is.
struct Section {
    name: Option<String>,
    /// the whole section, header included
    range: std::ops::Range<usize>,
    /// its content after the name
    data: std::ops::Range<usize>,
}

/// The top-level sections of a module or component (the same framing).
fn sections(bytes: &[u8]) -> Result<Vec<Section>> {
    ensure!(bytes.len() >= 8 && &bytes[..4] == b"\0asm", "not a WebAssembly file");
    let mut sections = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        let mut reader = wasmparser::BinaryReader::new(&bytes[at + 1..], at + 1);
        let size = reader.read_var_u32().context("a section's size is unreadable")? as usize;
        let body = reader.original_position();
        let end = body.checked_add(size).filter(|e| *e <= bytes.len()).context("a section runs past the end of the file")?;
        let (name, data) = if id == 0 {
            let mut reader = wasmparser::BinaryReader::new(&bytes[body..end], body);
            let name = reader.read_string().context("a custom section's name is unreadable")?.to_string();
            (Some(name), reader.original_position()..end)
        } else {
            (None, body..end)
        };
        sections.push(Section { name, range: start..end, data });
        at = end;
    }
    Ok(sections)
}

/// A custom section: its id, then what wasm-encoder writes of it (its
/// size, name and data).
fn custom(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    wasm_encoder::Encode::encode(&wasm_encoder::CustomSection { name: name.into(), data: data.into() }, &mut out);
    out
}

/// The component, `manifest` (its api as the component exports it) and
/// the signature of `key`: the package's bytes.
pub fn pack(component: &[u8], manifest: &Manifest, key: &SecretKey) -> Result<Vec<u8>> {
    ensure!(component.get(4) == Some(&0x0d), "not a WebAssembly component (a core module or something else)");
    if sections(component)?.iter().any(|s| matches!(s.name.as_deref(), Some(MANIFEST_SECTION | SIGNATURE_SECTION))) {
        bail!("the component is a package already (it has a {MANIFEST_SECTION} or {SIGNATURE_SECTION} section)");
    }
    let api = crate::runtime::Runtime::check(component)?;
    assemble(component, &Manifest { api: api.to_string(), ..manifest.clone() }, key)
}

/// The package format itself, nothing checked: the component, the
/// manifest section, the signature section. `pack` checks first; a host
/// of another version may have packed what this one refuses.
pub fn assemble(component: &[u8], manifest: &Manifest, key: &SecretKey) -> Result<Vec<u8>> {
    let mut bytes = component.to_vec();
    bytes.extend(custom(MANIFEST_SECTION, toml::to_string(&manifest)?.as_bytes()));
    let signature = key.sign(&message(&bytes));
    let mut section = vec![1u8];
    section.extend_from_slice(&key.public.bytes);
    section.extend_from_slice(&signature);
    bytes.extend(custom(SIGNATURE_SECTION, &section));
    Ok(bytes)
}

fn message(signed: &[u8]) -> Vec<u8> {
    let mut message = SIGNED.to_vec();
    message.extend_from_slice(&Sha256::digest(signed));
    message
}

/// What a package is, as read (nothing checked but its shape).
#[derive(Clone, Debug)]
pub struct Package {
    pub manifest: Manifest,
    /// the signing key, if it is signed
    pub key: Option<PublicKey>,
    /// SHA-256 of the whole file, hex
    pub digest: String,
    signature: Option<(Vec<u8>, usize)>,
}

impl Package {
    pub fn read(bytes: &[u8]) -> Result<Package> {
        let all = sections(bytes)?;
        let manifest_section = all.iter().find(|s| s.name.as_deref() == Some(MANIFEST_SECTION)).context("the file has no manifest: it is no plugin package")?;
        let text = std::str::from_utf8(&bytes[manifest_section.data.clone()]).context("the manifest is not UTF-8")?;
        let manifest: Manifest = toml::from_str(text).context("the manifest is unreadable")?;
        let signed = all.iter().position(|s| s.name.as_deref() == Some(SIGNATURE_SECTION));
        let (key, signature) = match signed {
            None => (None, None),
            Some(i) => {
                ensure!(i == all.len() - 1, "the signature is not the last section: what follows it is not signed");
                let section = &all[i];
                let data = &bytes[section.data.clone()];
                ensure!(data.len() == 1 + 32 + 64 && data[0] == 1, "the signature section is not one this host reads");
                let public = PublicKey { bytes: data[1..33].try_into()?, name: String::new() };
                (Some(public), Some((data[33..].to_vec(), section.range.start)))
            }
        };
        Ok(Package { manifest, key, digest: hex::encode(Sha256::digest(bytes)), signature })
    }
}

/// How a package was accepted.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    pub manifest: Manifest,
    pub digest: String,
    /// the trusted key's id and name; None: unsigned, allowed
    pub key: Option<(String, String)>,
}

/// Check a package: its signature by a key the host trusts (an unsigned
/// or foreign one only with `allow_unsigned`), its API against what the
/// host binds, its imports against what it grants.
pub fn verify(bytes: &[u8], trust: &TrustStore, allow_unsigned: bool) -> Result<Verified> {
    let verified = verify_signature(bytes, trust, allow_unsigned)?;
    let api = crate::runtime::Runtime::check(bytes)?;
    ensure!(
        verified.manifest.api.is_empty() || verified.manifest.api == api.to_string(),
        "the manifest says it exports helpdesk:connector@{}, the component exports @{api}",
        verified.manifest.api
    );
    Ok(verified)
}

/// `verify` without compiling the component: for a load, whose
/// `Runtime::load` audits the imports and binds the API itself.
pub fn verify_signature(bytes: &[u8], trust: &TrustStore, allow_unsigned: bool) -> Result<Verified> {
    let package = Package::read(bytes)?;
    let key = match (&package.key, &package.signature) {
        (Some(key), Some((signature, start))) => {
            if !key.verifies(&message(&bytes[..*start]), signature) {
                bail!("the signature does not match the package: it was changed after it was signed (or is damaged); refused");
            }
            match trust.find(&key.id())? {
                Some(trusted) => Some((trusted.id(), trusted.name)),
                None if allow_unsigned => None,
                None => bail!(
                    "the package is signed by key {}, which this host does not trust; refused (trust the publisher's key with `plugin trust add KEY.pub`)",
                    key.id()
                ),
            }
        }
        _ if allow_unsigned => None,
        _ => bail!("the package is not signed; refused (only --allow-unsigned installs it)"),
    };
    Ok(Verified { manifest: package.manifest, digest: package.digest, key })
}
