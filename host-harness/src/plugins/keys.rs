//! A publisher's ed25519 key pair (ring). The private key file holds the
//! PKCS#8 document, base64, under a first line naming it; the public key
//! file `KEY.pub` one line, `helpdesk-ed25519 <base64 of the 32 bytes>
//! <name>`. A key's id is the first 8 bytes of the SHA-256 of its public
//! key, in hex.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use std::path::Path;

const SECRET_HEADER: &str = "helpdesk-ed25519-secret-key";
const PUBLIC_TAG: &str = "helpdesk-ed25519";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    pub bytes: [u8; 32],
    /// who the key says it is (the publisher's name), may be empty
    pub name: String,
}

impl PublicKey {
    pub fn id(&self) -> String {
        id_of(&self.bytes)
    }

    pub fn to_line(&self) -> String {
        format!("{PUBLIC_TAG} {} {}", base64::engine::general_purpose::STANDARD.encode(self.bytes), self.name).trim_end().to_string() + "\n"
    }

    pub fn parse(text: &str) -> Result<PublicKey> {
        let mut parts = text.trim().splitn(3, ' ');
        if parts.next() != Some(PUBLIC_TAG) {
            bail!("not a helpdesk-host public key (it starts with \"{PUBLIC_TAG} \")");
        }
        let encoded = parts.next().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).context("the public key is not base64")?;
        let bytes: [u8; 32] = decoded.try_into().map_err(|_| anyhow::anyhow!("an ed25519 public key has 32 bytes"))?;
        Ok(PublicKey { bytes, name: parts.next().unwrap_or_default().trim().to_string() })
    }

    pub fn read(path: &Path) -> Result<PublicKey> {
        PublicKey::parse(&std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?)
            .with_context(|| format!("in {}", path.display()))
    }

    /// Whether `signature` is this key's over `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.bytes).verify(message, signature).is_ok()
    }
}

pub fn id_of(public: &[u8]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

pub struct SecretKey {
    pair: Ed25519KeyPair,
    pub public: PublicKey,
}

impl SecretKey {
    /// A new key pair, written to `path` (mode 0600) and `path.pub`.
    pub fn generate(path: &Path, name: &str) -> Result<SecretKey> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).map_err(|_| anyhow::anyhow!("no randomness for a key"))?;
        if path.exists() {
            bail!("{} exists; keys are never overwritten", path.display());
        }
        let text = format!("{SECRET_HEADER}\n{}\n", base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref()));
        write_private(path, &text)?;
        let key = SecretKey::parse(&text, name)?;
        std::fs::write(public_path(path), key.public.to_line()).with_context(|| format!("writing {}", public_path(path).display()))?;
        Ok(key)
    }

    pub fn read(path: &Path) -> Result<SecretKey> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let name = PublicKey::read(&public_path(path)).map(|p| p.name).unwrap_or_default();
        SecretKey::parse(&text, &name).with_context(|| format!("in {}", path.display()))
    }

    fn parse(text: &str, name: &str) -> Result<SecretKey> {
        let mut lines = text.lines();
        if lines.next() != Some(SECRET_HEADER) {
            bail!("not a helpdesk-host secret key (its first line is {SECRET_HEADER})");
        }
        let der = base64::engine::general_purpose::STANDARD.decode(lines.next().unwrap_or_default().trim()).context("the secret key is not base64")?;
        let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|e| anyhow::anyhow!("not an ed25519 key: {e}"))?;
        let bytes: [u8; 32] = pair.public_key().as_ref().try_into()?;
        Ok(SecretKey { pair, public: PublicKey { bytes, name: name.to_string() } })
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// `KEY.pub` beside `KEY`.
pub fn public_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    name.into()
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
