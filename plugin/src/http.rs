//! A small blocking HTTP client over the host's `wasi:http/outgoing-handler`.
//!
//! The response body is a `std::io::Read`, so parsers stream it instead of
//! buffering whole responses.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, Method, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::{InputStream, StreamError};
use crate::error::{Error, Kind, Result};

/// The host accepts at most 4096 bytes per blocking write.
const WRITE_CHUNK: usize = 4096;
const SECOND_NS: u64 = 1_000_000_000;

pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub www_authenticate: Option<String>,
    /// where a redirect points
    pub location: Option<String>,
    /// seconds, from `Retry-After`
    pub retry_after: Option<u64>,
    pub body: Body,
}

impl Response {
    /// The whole body, for small JSON answers (a Graph page, a token).
    pub fn text(mut self) -> Result<String> {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut self.body, &mut text)
            .map_err(|e| Error::transient(Kind::Unreachable, format!("reading the response failed: {e}"), None))?;
        Ok(text)
    }
}

/// The response body. Field order matters: the stream is a child of the
/// body, which is a child of the response, and children must drop first.
pub struct Body {
    stream: InputStream,
    _body: IncomingBody,
    _response: IncomingResponse,
}

impl std::io::Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.stream.blocking_read(buf.len() as u64) {
            Ok(bytes) => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
            Err(StreamError::Closed) => Ok(0),
            Err(StreamError::LastOperationFailed(e)) => {
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, e.to_debug_string()))
            }
        }
    }
}

/// The parts of an `http://` or `https://` URL that wasi:http wants.
pub struct Url {
    pub https: bool,
    /// host and port, IPv6 literals in brackets, international names in
    /// their ASCII form
    pub authority: String,
    pub path: String,
}

/// Parse a URL with the url crate. One holding a user name or password is
/// refused without being echoed.
pub fn parse_url(text: &str) -> Result<Url> {
    let url = url::Url::parse(text).map_err(|e| Error::config(format!("endpoint {text} is no URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config("an endpoint holds a user name or password; give them as settings instead (not shown)"));
    }
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(Error::config(format!("endpoint {text} must start with https:// or http://"))),
    };
    let host = match url.host() {
        Some(url::Host::Ipv6(address)) => format!("[{address}]"),
        Some(host) => host.to_string(),
        None => return Err(Error::config(format!("endpoint {text} names no host"))),
    };
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    Ok(Url { https, authority, path })
}

/// POST `body` to `url` and return the response once its headers arrived.
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response> {
    start(Method::Post, url, headers, body)?.response()
}

/// GET `url`.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response> {
    start(Method::Get, url, headers, &[])?.response()
}

/// POST `body` to `url` without waiting for the answer: several requests
/// can be on the wire at once.
pub fn post_later(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Pending> {
    start(Method::Post, url, headers, body)
}

/// A request sent whose answer has not been read yet.
pub struct Pending {
    url: String,
    future: FutureIncomingResponse,
    write_error: Option<String>,
}

fn start(method: Method, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Pending> {
    let target = parse_url(url)?;
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(&name.to_string(), &value.as_bytes().to_vec())
            .map_err(|e| Error::protocol(format!("header {name}: {e:?}")))?;
    }
    if !body.is_empty() {
        fields
            .append(&"content-length".to_string(), &body.len().to_string().into_bytes())
            .map_err(|e| Error::protocol(format!("content-length: {e:?}")))?;
    }
    let request = OutgoingRequest::new(fields);
    let scheme = if target.https { Scheme::Https } else { Scheme::Http };
    request.set_method(&method).map_err(|_| Error::protocol("method refused"))?;
    request.set_scheme(Some(&scheme)).map_err(|_| Error::protocol("scheme refused"))?;
    request
        .set_authority(Some(&target.authority))
        .map_err(|_| Error::config(format!("invalid host in endpoint {url}")))?;
    request
        .set_path_with_query(Some(&target.path))
        .map_err(|_| Error::config(format!("invalid path in endpoint {url}")))?;

    let options = RequestOptions::new();
    // Bound every wait: a silent server must not hang an hourly sync.
    let _ = options.set_connect_timeout(Some(30 * SECOND_NS));
    let _ = options.set_first_byte_timeout(Some(120 * SECOND_NS));
    let _ = options.set_between_bytes_timeout(Some(60 * SECOND_NS));

    let outgoing = request.body().map_err(|_| Error::protocol("request body unavailable"))?;
    // Hand the request over first, then write the body: the host buffers
    // little before `handle`, and writing first can hang.
    let future = outgoing_handler::handle(request, Some(options))
        .map_err(|e| transport_error(url, &e))?;
    // A server may answer (401, 404) before it read the whole body and
    // close its side: then the answer, not the failed write, is the news.
    let mut write_error = None;
    {
        let stream = outgoing.write().map_err(|_| Error::protocol("request stream unavailable"))?;
        for chunk in body.chunks(WRITE_CHUNK) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                write_error = Some(format!("{e:?}"));
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
    Ok(Pending { url: url.to_string(), future, write_error })
}

impl Pending {
    /// Wait for the answer's status and headers.
    pub fn response(self) -> Result<Response> {
        let Pending { url, future, write_error } = self;
        let response = loop {
            match future.get() {
                Some(result) => break result.map_err(|_| Error::protocol("response already taken"))?,
                None => future.subscribe().block(),
            }
        };
        let response = match (response, write_error) {
            (Ok(response), _) => response,
            (Err(_), Some(write_error)) => {
                return Err(Error::transient(Kind::Unreachable, format!("{url}: sending the request failed: {write_error}"), None));
            }
            (Err(e), None) => return Err(transport_error(&url, &e)),
        };

        let status = response.status();
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(&name.to_string())
                .first()
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let content_type = header("content-type").unwrap_or_default();
        let www_authenticate = header("www-authenticate");
        let location = header("location");
        let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
        drop(headers);
        let body = response.consume().map_err(|_| Error::protocol("response body unavailable"))?;
        let stream = body.stream().map_err(|_| Error::protocol("response stream unavailable"))?;
        Ok(Response {
            status,
            content_type,
            www_authenticate,
            location,
            retry_after,
            body: Body { stream, _body: body, _response: response },
        })
    }
}

/// Turn a wasi:http transport error into a message an admin can act on.
fn transport_error(url: &str, code: &ErrorCode) -> Error {
    use ErrorCode as E;
    let (kind, what) = match code {
        E::DnsError(_) => (Kind::Unreachable, "the host name does not resolve".to_string()),
        E::DnsTimeout => (Kind::Unreachable, "the name lookup timed out".to_string()),
        E::DestinationNotFound | E::DestinationUnavailable | E::DestinationIpUnroutable => {
            (Kind::Unreachable, "the server cannot be reached".to_string())
        }
        E::ConnectionRefused => (Kind::Unreachable, "the connection was refused".to_string()),
        E::ConnectionTimeout => (Kind::Unreachable, "connecting timed out".to_string()),
        E::ConnectionReadTimeout => (Kind::Unreachable, "the server stopped answering".to_string()),
        E::ConnectionTerminated => (Kind::Unreachable, "the server closed the connection".to_string()),
        E::TlsProtocolError | E::TlsCertificateError => {
            (Kind::Tls, "the TLS handshake failed (certificate not trusted?)".to_string())
        }
        E::TlsAlertReceived(alert) => (
            Kind::Tls,
            format!("the server sent a TLS alert: {}", alert.alert_message.clone().unwrap_or_default()),
        ),
        // The host's policy: the same for every folder, so the run stops.
        E::HttpRequestDenied => {
            (Kind::Configuration, "the host does not allow the plugin to connect there".to_string())
        }
        E::InternalError(Some(message)) => (Kind::Unreachable, message.clone()),
        E::HttpResponseBodySize(limit) => {
            (Kind::Protocol, format!("the response was larger than the host allows ({} bytes)", limit.unwrap_or(0)))
        }
        other => (Kind::Unreachable, format!("{other:?}")),
    };
    // A dropped or stalled connection or a failed name lookup may pass; a
    // refused connection, a certificate or a policy will not.
    let transient = matches!(
        code,
        E::DnsError(_)
            | E::DnsTimeout
            | E::ConnectionTerminated
            | E::ConnectionReadTimeout
            | E::ConnectionWriteTimeout
            | E::HttpResponseTimeout
            | E::HttpResponseIncomplete
            | E::HttpProtocolError
            | E::HttpResponseBodySize(_)
    );
    if transient {
        Error::transient(kind, format!("{url}: {what}"), None)
    } else {
        Error::new(kind, format!("{url}: {what}"))
    }
}

/// Wait, without spinning: the host's clock wakes us.
pub fn sleep_ms(milliseconds: u64) {
    crate::bindings::wasi::clocks::monotonic_clock::subscribe_duration(milliseconds.saturating_mul(1_000_000)).block();
}

/// How long to wait before attempt `attempt` (0-based) of a retry: the
/// server's hint when it gave one, else a capped exponential back-off.
pub fn back_off_ms(attempt: u32, hint_ms: u64) -> u64 {
    const BASE_MS: u64 = 250;
    const CAP_MS: u64 = 30_000;
    const HINT_CAP_MS: u64 = 300_000;
    if hint_ms > 0 { hint_ms.min(HINT_CAP_MS) } else { (BASE_MS << attempt.min(16)).min(CAP_MS) }
}

/// Tries per request before a transient failure is given up on.
pub const MAX_ATTEMPTS: u32 = 6;

/// Run `attempt` until it succeeds, fails for good, or the tries run out,
/// waiting between tries as the failure says.
pub fn with_retries<T>(what: &str, mut attempt: impl FnMut(u32) -> Result<T>) -> Result<T> {
    let mut tries = 0;
    loop {
        match attempt(tries) {
            Err(e) if e.retry_after_ms.is_some() && tries + 1 < MAX_ATTEMPTS => {
                let wait = back_off_ms(tries, e.retry_after_ms.unwrap_or(0));
                crate::report::info(&format!("{what}: {} - trying again in {wait} ms", e.message));
                sleep_ms(wait);
                tries += 1;
            }
            other => return other,
        }
    }
}
