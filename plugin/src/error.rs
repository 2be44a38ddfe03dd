//! The plugin's error: a kind a host can act on, and a message an admin can.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Configuration,
    Authentication,
    Tls,
    Unreachable,
    NotExchange,
    AccessDenied,
    Throttled,
    Protocol,
    Host,
    /// a sync state or delta link the directory no longer accepts (never
    /// leaves the plugin: the folder is resynced)
    StaleState,
    /// an answer that is no XML we can read (leaves the plugin as Protocol)
    Unreadable,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    /// worth trying again after this many milliseconds (a dropped
    /// connection, a busy server); None: trying again will not help
    pub retry_after_ms: Option<u64>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), retry_after_ms: None }
    }

    /// A failure that may pass: retry, after the server's hint if any.
    pub fn transient(kind: Kind, message: impl Into<String>, hint_ms: Option<u64>) -> Self {
        Error { kind, message: message.into(), retry_after_ms: Some(hint_ms.unwrap_or(0)) }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Error::new(Kind::Configuration, message)
    }

    pub fn protocol(message: impl Into<String>) -> Self {
        Error::new(Kind::Protocol, message)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
