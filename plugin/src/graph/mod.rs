//! Microsoft Graph: one module per resource, and this client that gets
//! tokens, reuses them until shortly before they expire, refreshes once on
//! a 401, and waits out throttling (429, 503) as `Retry-After` says.

pub mod attachments;
pub mod batch;
pub mod calendars;
pub mod contact;
pub mod contact_folders;
pub mod contacts_delta;
pub mod events;
pub mod mail_folders;
pub mod message;
pub mod messages_delta;
pub mod todo;
pub mod token;
pub mod users;

use crate::config::GraphConfig;
use crate::error::{Error, Kind, Result};
use crate::http;
use serde_json::Value;

/// Entries per page we ask for (`Prefer: odata.maxpagesize`).
pub const PAGE_SIZE: u32 = 500;

pub struct Graph {
    pub config: GraphConfig,
    token: Option<token::Token>,
    /// users found without a mailbox this run (lower case), warned about
    /// once
    pub without_mailbox: Vec<String>,
    /// the zone times come in, for the next request only (UTC otherwise)
    zone: Option<String>,
}

impl Graph {
    pub fn new(config: GraphConfig) -> Self {
        Graph { config, token: None, without_mailbox: Vec::new(), zone: None }
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

    /// GET a JSON document. A 401 gets one new token; throttling (429,
    /// 503) is waited out as `Retry-After` says; dropped connections and
    /// unreadable answers are tried again with back-off.
    pub fn get(&mut self, url: &str) -> Result<Value> {
        // A cut-off answer does not parse: tried again.
        self.fetch(url, u64::MAX, |bytes| {
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::transient(Kind::Protocol, format!("{url} answered with JSON we cannot read: {e}"), None))
        })
    }

    /// Every entry of a listing, all pages (`@odata.nextLink` followed):
    /// for short listings (calendars, task lists, rooms, instances).
    pub fn list_all(&mut self, url: String) -> Result<Vec<Value>> {
        let first = self.get(&url)?;
        self.all_from(first)
    }

    /// Every entry of a listing whose first page is at hand (from a
    /// batch), the next pages read.
    pub fn all_from(&mut self, mut page: Value) -> Result<Vec<Value>> {
        let mut found = Vec::new();
        loop {
            if let Some(entries) = page["value"].as_array_mut() {
                found.append(entries);
            }
            match page["@odata.nextLink"].as_str() {
                Some(next) => page = self.get(&next.to_string())?,
                None => return Ok(found),
            }
        }
    }

    /// `get`, with times in `zone` (a Windows or IANA name) instead of UTC.
    pub fn get_in_zone(&mut self, url: &str, zone: &str) -> Result<Value> {
        self.zone = Some(zone.to_string());
        let result = self.get(url);
        self.zone = None;
        result
    }

    /// GET raw bytes (an attachment's `$value`), at most `max` of them: a
    /// larger answer is an error, read no further.
    pub fn get_bytes(&mut self, url: &str, max: u64) -> Result<Vec<u8>> {
        self.fetch(url, max, Ok)
    }

    fn fetch<T>(&mut self, url: &str, max: u64, parse: impl Fn(Vec<u8>) -> Result<T>) -> Result<T> {
        self.send(url, None, max, parse)
    }

    /// What every request prefers: mail bodies as text, converted by the
    /// server (message-get); times in UTC unless a zone is asked for
    /// (event-get); immutable ids; pages of [`PAGE_SIZE`].
    fn prefer(&self) -> String {
        let zone = self.zone.as_deref().unwrap_or("UTC").replace('"', "");
        format!("odata.maxpagesize={PAGE_SIZE}, IdType=\"ImmutableId\", outlook.body-content-type=\"text\", outlook.timezone=\"{zone}\"")
    }

    /// GET `url`, or POST `json` to it.
    fn send<T>(&mut self, url: &str, json: Option<&[u8]>, max: u64, parse: impl Fn(Vec<u8>) -> Result<T>) -> Result<T> {
        let mut refreshed = false;
        http::with_retries(url, |_| {
            let authorization = self.bearer()?;
            let prefer = self.prefer();
            let headers = [("authorization", authorization.as_str()), ("accept", "application/json"), ("prefer", &prefer), ("content-type", "application/json")];
            let response = match json {
                Some(body) => http::post(url, &headers, body)?,
                None => http::get(url, &headers[..3])?,
            };
            let (status, retry_after) = (response.status, response.retry_after);
            match status {
                200..=299 => {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::Read::take(response.body, max.saturating_add(1)), &mut bytes)
                        .map_err(|e| Error::transient(Kind::Unreachable, format!("reading {url} failed: {e}"), None))?;
                    if bytes.len() as u64 > max {
                        return Err(Error::new(Kind::Protocol, format!("{url} sent more than the {max} bytes allowed")));
                    }
                    parse(bytes)
                }
                // A token can expire in the middle of a sync: one new one.
                401 if !refreshed => {
                    self.token = None;
                    refreshed = true;
                    Err(Error::transient(Kind::Authentication, format!("{url}: the access token expired"), Some(1)))
                }
                429 | 503 => Err(Error::transient(
                    Kind::Throttled,
                    format!("{url}: Graph asks us to wait (HTTP {status})"),
                    retry_after.map(|seconds| seconds * 1000),
                )),
                _ => Err(error(url, status, &response.text()?)),
            }
        })
    }
}

/// Whether an error is Graph's answer for an item that is not there.
/// Whether a delta page ends its round: only a delta link does, and a
/// page with neither link is no end of anything. `what` names the folder
/// for the error.
pub fn round_ends(next_link: &Option<String>, delta_link: &Option<String>, what: &str) -> Result<bool> {
    match (next_link, delta_link) {
        (Some(_), _) => Ok(false),
        (None, Some(_)) => Ok(true),
        (None, None) => Err(Error::new(Kind::Protocol, format!("Graph sent a page of {what} with neither @odata.nextLink nor @odata.deltaLink"))),
    }
}

pub fn not_found(e: &Error) -> bool {
    e.message.contains("HTTP 404 ErrorItemNotFound")
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

/// Percent-encode everything but unreserved characters, for ids in URL
/// paths (Graph ids may hold `/`, `+` and `=`).
pub fn segment(id: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(id, UNRESERVED).to_string()
}
