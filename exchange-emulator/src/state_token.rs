//! Opaque change tokens (EWS sync states, Graph skip and delta tokens):
//! opaque to clients, checked by us. Each names its kind, the folder and
//! the last change the client has seen.

use super::data::Folder;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// `kind` is eight bytes, such as `b"EMUSYNC1"`.
pub fn encode(kind: &[u8; 8], folder: &Folder, seq: u64) -> String {
    let mut bytes = kind.to_vec();
    bytes.extend_from_slice(&Sha256::digest(folder.id.as_bytes())[..8]);
    bytes.extend_from_slice(&seq.to_le_bytes());
    let check = Sha256::digest(&bytes);
    bytes.extend_from_slice(&check[..4]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The sequence number in a token, if the token is ours, of this kind and
/// for `folder`.
pub fn decode(kind: &[u8; 8], folder: &Folder, token: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if bytes.len() != 28 || &bytes[..8] != kind {
        return None;
    }
    let seq = u64::from_le_bytes(bytes[16..24].try_into().ok()?);
    (encode(kind, folder, seq) == token.trim()).then_some(seq)
}
