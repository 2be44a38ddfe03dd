//! The host signs in with NTLM for the plugin, over HTTP/1.1
//! (reference/ntlm.md 2 and 4a): NEGOTIATE, the 401's CHALLENGE read to
//! its end, AUTHENTICATE with the request, all on one connection, which
//! is then signed in for the requests after it. The plugin's request is
//! held (SOAP bodies are small) so that it can go out more than once.

use super::ntlm::{self, SignIn};
use super::sender::{Conn, Notes, Target, connect, note, offers, scheme_names, timed};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use rustls::ClientConfig;
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// How to reach the server again: a handshake may need a new connection.
pub(super) struct Dial<'a> {
    pub(super) target: &'a Target,
    pub(super) tls: Arc<ClientConfig>,
    pub(super) options: &'a RequestOptions,
    pub(super) notes: &'a Notes,
    pub(super) first_byte: Duration,
}

impl Dial<'_> {
    async fn connect(&self) -> Result<Conn, HttpError> {
        connect(self.target, self.tls.clone(), self.options, self.notes).await
    }

    async fn send(&self, conn: &mut Conn, request: http::Request<WasiBody>) -> Result<http::Response<Incoming>, HttpError> {
        conn.sender.ready().await.map_err(HttpError::from)?;
        timed(self.first_byte, conn.sender.send_request(request)).await
    }

    fn origin(&self) -> String {
        format!("{}:{}", self.target.host, self.target.port)
    }
}

/// The plugin's request, held whole.
struct Held {
    parts: http::request::Parts,
    body: Bytes,
}

impl Held {
    async fn new(request: http::Request<WasiBody>) -> Result<Held, HttpError> {
        const MAX_HELD_BODY: usize = 16 << 20;
        let (parts, body) = request.into_parts();
        let body = http_body_util::Limited::new(body, MAX_HELD_BODY)
            .collect()
            .await
            .map_err(|_| HttpError::InternalError(Some("the request body could not be held for NTLM".into())))?
            .to_bytes();
        Ok(Held { parts, body })
    }

    /// The request again, with `authorization`; without its body for the
    /// NEGOTIATE leg (Content-Length: 0, as browsers send it), so that the
    /// body crosses the wire once, with AUTHENTICATE.
    fn leg(&self, authorization: Option<http::HeaderValue>, with_body: bool) -> Result<http::Request<WasiBody>, HttpError> {
        let mut request = http::Request::builder().method(self.parts.method.clone()).uri(self.parts.uri.clone());
        for (name, value) in &self.parts.headers {
            if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
                request = request.header(name, value);
            }
        }
        if let Some(authorization) = authorization {
            request = request.header(http::header::AUTHORIZATION, authorization);
        }
        let bytes = if with_body { self.body.clone() } else { Bytes::new() };
        let body: WasiBody = http_body_util::Full::new(bytes).map_err(|never| match never {}).boxed_unsync();
        request.body(body).map_err(|_| HttpError::HttpRequestUriInvalid)
    }
}

/// The plugin's request on `conn`, the host signing in: as it is where
/// the connection is signed in, with a handshake where it is not. A bare
/// 401 on a signed-in connection (the server lost the sign-in: a load
/// balancer handing the connection to another server) gets one handshake
/// on a new connection, then goes to the plugin (reference/ntlm.md 4a).
pub(super) async fn send(
    conn: &mut Conn,
    mut request: http::Request<WasiBody>,
    sign_in: &SignIn,
    dial: &Dial<'_>,
) -> Result<http::Response<Incoming>, HttpError> {
    // The plugin's Basic goes out only if `auto` falls back to it.
    let basic = request.headers_mut().remove(http::header::AUTHORIZATION);
    let held = Held::new(request).await?;
    if conn.authenticated {
        let response = dial.send(conn, held.leg(None, true)?).await?;
        if response.status() != http::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        tracing::debug!("{} no longer knows this connection's sign-in; signing in on a new one", dial.origin());
        *conn = dial.connect().await?;
    }
    handshake(conn, &held, basic, sign_in, dial).await
}

fn token(scheme: &str, message: &[u8]) -> Option<http::HeaderValue> {
    http::HeaderValue::from_str(&format!("{scheme} {}", base64::engine::general_purpose::STANDARD.encode(message))).ok()
}

/// Read an answer to its end, or the connection would be lost with it.
async fn drain(response: http::Response<Incoming>) -> Result<(), HttpError> {
    response.into_body().collect().await.map(drop).map_err(HttpError::from)
}

/// The handshake on a connection not yet signed in. A server that answers
/// otherwise than with a CHALLENGE gets its answer passed on.
async fn handshake(
    conn: &mut Conn,
    held: &Held,
    basic: Option<http::HeaderValue>,
    sign_in: &SignIn,
    dial: &Dial<'_>,
) -> Result<http::Response<Incoming>, HttpError> {
    let negotiate = ntlm::negotiate();
    // `NTLM`, or `Negotiate` where only that is offered: IIS takes raw
    // NTLMSSP in it (reference/ntlm.md 1).
    let mut scheme = "NTLM";
    let mut first = negotiate_leg(conn, held, scheme, &negotiate, dial).await?;
    // A bare offer (no token) is a scheme the server takes.
    let offered = |offers: &[String], name: &str| offers.iter().any(|o| o.eq_ignore_ascii_case(name));
    let first_offers = offers(&first);
    if first.status() == http::StatusCode::UNAUTHORIZED && offered(&first_offers, "Negotiate") && !offered(&first_offers, "NTLM") {
        drain(first).await?;
        scheme = "Negotiate";
        first = negotiate_leg(conn, held, scheme, &negotiate, dial).await?;
    }
    // Answers about the URL, not the body (a redirect to OWA's logon page,
    // no such path) go to the plugin as they are.
    let status = first.status();
    if status.is_redirection() || status == http::StatusCode::NOT_FOUND || status == http::StatusCode::METHOD_NOT_ALLOWED {
        return Ok(first);
    }
    if status != http::StatusCode::UNAUTHORIZED {
        // No sign-in wanted here: the request itself, with its body.
        drain(first).await?;
        return dial.send(conn, held.leg(None, true)?).await;
    }
    let offers = offers(&first);
    let b64 = base64::engine::general_purpose::STANDARD;
    let challenge = offers.iter().find_map(|offer| b64.decode(offer.strip_prefix(scheme)?.strip_prefix(' ')?.trim()).ok());
    let Some(challenge) = challenge else {
        drain(first).await?;
        let schemes = scheme_names(&offers);
        let basic_offered = schemes.iter().any(|s| s.eq_ignore_ascii_case("basic"));
        if sign_in.auto && basic_offered && basic.is_some() {
            sign_in.record(ntlm::BASIC);
            return dial.send(conn, held.leg(basic, true)?).await;
        }
        let offered = if schemes.is_empty() { "nothing".to_string() } else { schemes.join(", ") };
        note(dial.notes, format!("{} offers {offered} and no NTLM; set [exchange] auth to a mechanism it offers", dial.origin()));
        return dial.send(conn, held.leg(None, true)?).await;
    };
    if closes(&first) {
        // Closed a second time, on a new connection: NTLM cannot get through.
        note(dial.notes, format!("{} closes the connection with each NTLM challenge, so NTLM cannot finish (a proxy without keep-alive in front of Exchange?)", dial.origin()));
        return Ok(first);
    }
    drain(first).await?;
    let target = dial.target;
    let default_port = if target.https { 443 } else { 80 };
    let spn = match target.port {
        port if port == default_port => format!("HTTP/{}", target.host),
        port => format!("HTTP/{}:{port}", target.host),
    };
    let binding = ntlm::Target { spn: &spn, certificate: conn.certificate.as_deref() };
    let credentials = &sign_in.credentials;
    let authenticate = ntlm::authenticate(credentials, &negotiate, &challenge, &binding, &ntlm::Nonce::fresh())
        .map_err(|why| HttpError::InternalError(Some(why)))?;
    let second = dial.send(conn, held.leg(token(scheme, &authenticate), true)?).await?;
    conn.authenticated = second.status() != http::StatusCode::UNAUTHORIZED;
    if conn.authenticated {
        sign_in.record(ntlm::NTLM);
    } else {
        let user = if credentials.domain.is_empty() { credentials.user.clone() } else { format!("{}\\{}", credentials.domain, credentials.user) };
        note(dial.notes, format!("{} refused the NTLM sign-in of {user}: a wrong password, user name or domain", dial.origin()));
    }
    Ok(second)
}

/// The NEGOTIATE leg. A 401 that closes its connection takes its
/// CHALLENGE with it: start over once on a new connection, as .NET does
/// (reference/ntlm.md 2).
async fn negotiate_leg(
    conn: &mut Conn,
    held: &Held,
    scheme: &str,
    negotiate: &[u8],
    dial: &Dial<'_>,
) -> Result<http::Response<Incoming>, HttpError> {
    let response = dial.send(conn, held.leg(token(scheme, negotiate), false)?).await?;
    if response.status() != http::StatusCode::UNAUTHORIZED || !closes(&response) {
        return Ok(response);
    }
    drain(response).await?;
    *conn = dial.connect().await?;
    dial.send(conn, held.leg(token(scheme, negotiate), false)?).await
}

/// The answer says the server closes the connection after it.
fn closes(response: &http::Response<Incoming>) -> bool {
    response
        .headers()
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
}
