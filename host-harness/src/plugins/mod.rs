//! Plugins from elsewhere: packages (the component, its manifest and its
//! publisher's signature in one file), the publishers' keys, and the
//! keys this host trusts, under the user's data directory.

pub mod commands;
pub mod installed;
pub mod keys;
pub mod package;
pub mod registry;
pub mod trust;

use std::path::PathBuf;

/// `HELPDESK_HOST_HOME`, or `$HOME/.local/share/helpdesk-host`.
pub fn home() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("HELPDESK_HOST_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let user = std::env::var_os("HOME").filter(|h| !h.is_empty()).ok_or_else(|| anyhow::anyhow!("neither HELPDESK_HOST_HOME nor HOME is set"))?;
    Ok(PathBuf::from(user).join(".local/share/helpdesk-host"))
}
