//! Microsoft Graph: one module per resource, and this client that gets
//! tokens, reuses them until shortly before they expire, refreshes once on
//! a 401, and waits out throttling (429, 503) as `Retry-After` says.

pub mod contact;
pub mod contact_folders;
pub mod contacts_delta;
pub mod token;
pub mod users;

use crate::config::GraphConfig;
use crate::error::{Error, Kind, Result};
use crate::http;
use serde_json::Value;

/// Throttled requests are retried this many times before giving up.
const MAX_RETRIES: u32 = 6;
/// Entries per page we ask for (`Prefer: odata.maxpagesize`).
pub const PAGE_SIZE: u32 = 500;

pub struct Graph {
    pub config: GraphConfig,
    token: Option<token::Token>,
}

impl Graph {
    pub fn new(config: GraphConfig) -> Self {
        Graph { config, token: None }
    }

    /// `{graph}/v1.0/{path}`; ids in `path` must be escaped with [`segment`].
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1.0/{path}", self.config.graph_endpoint)
    }

    fn bearer(&mut self) -> Result<String> {
        if let Some(token) = self.token.as_ref().filter(|t| t.fresh()) {
            return Ok(format!("Bearer {}", token.access));
        }
        let token = token::acquire(&mut self.config)?;
        let bearer = format!("Bearer {}", token.access);
        self.token = Some(token);
        Ok(bearer)
    }

    /// GET a JSON document.
    pub fn get(&mut self, url: &str) -> Result<Value> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let authorization = self.bearer()?;
            let prefer = format!("odata.maxpagesize={PAGE_SIZE}, IdType=\"ImmutableId\"");
            let response = http::get(url, &[("authorization", &authorization), ("accept", "application/json"), ("prefer", &prefer)])?;
            let status = response.status;
            let retry_after = response.retry_after;
            let text = response.text()?;
            match status {
                200..=299 => {
                    return serde_json::from_str(&text)
                        .map_err(|e| Error::protocol(format!("{url} answered with JSON we cannot read: {e}")));
                }
                // A token can expire in the middle of a sync: one new one.
                401 if !refreshed => {
                    self.token = None;
                    refreshed = true;
                }
                429 | 503 if attempt < MAX_RETRIES => {
                    let wait = retry_after.unwrap_or(1 << attempt).min(120);
                    crate::report::info(&format!("Graph asks us to wait {wait} s (HTTP {status})"));
                    http::sleep(wait);
                    attempt += 1;
                }
                _ => return Err(error(url, status, &text)),
            }
        }
    }
}

/// An error response in words: Graph's code and message, and its kind.
fn error(url: &str, status: u16, body: &str) -> Error {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = parsed["error"]["code"].as_str().unwrap_or("");
    let message = parsed["error"]["message"].as_str().unwrap_or(body.get(..200).unwrap_or(body));
    let kind = match status {
        401 => Kind::Authentication,
        403 => Kind::AccessDenied,
        429 | 503 => Kind::Throttled,
        // A delta token Graph no longer accepts: badly formed (400) or expired (410).
        400 | 410 if url.contains("token=") => Kind::StaleState,
        _ => Kind::Protocol,
    };
    Error::new(kind, format!("{url}: HTTP {status} {code}: {message}"))
}

/// Escape an id for a URL path: Graph ids may hold `/`, `+` and `=`.
pub fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
