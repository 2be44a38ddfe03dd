//! Sends one request of the plugin: connect to the pinned addresses, TLS
//! with the configured trust, HTTP/1.1; with connect, first-byte and
//! between-bytes timeouts and a cap on the response body.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::pin::Pin;
use hyper::client::conn::http1::SendRequest;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use super::ntlm::SignIn;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

pub type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// Where a request goes, already checked against the egress policy.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub https: bool,
    pub addrs: Vec<SocketAddr>,
}

/// Messages for the admin about transport failures (which certificate,
/// which host), kept beside the plugin's own error.
pub type Notes = Arc<Mutex<Vec<String>>>;

pub fn note(notes: &Notes, message: String) {
    tracing::warn!("{message}");
    notes.lock().unwrap_or_else(|p| p.into_inner()).push(message);
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Idle keep-alive connections of one run, by origin: a sync sends
/// thousands of requests to one server, and a TCP (and TLS) handshake for
/// each would cost both sides.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<Conn>>>,
}

type PoolKey = (String, u16, bool);

/// One connection: NTLM authenticates a connection, not a request, so the
/// pool keeps whether it is, and the certificate its channel binding needs.
pub(super) struct Conn {
    pub(super) sender: SendRequest<WasiBody>,
    pub(super) authenticated: bool,
    pub(super) certificate: Option<Vec<u8>>,
}

impl Pool {
    /// A connection that can take a request now, if one is idle.
    async fn take(&self, key: &PoolKey) -> Option<Conn> {
        loop {
            let mut conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).get_mut(key)?.pop()?;
            // Closed by the server while idle: drop it and look further.
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(1), conn.sender.ready()).await {
                return Some(conn);
            }
        }
    }

    fn put(&self, key: PoolKey, conn: Conn) {
        if !conn.sender.is_closed() {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().push(conn);
        }
    }
}

/// What one run shares between its requests: the pool, the notes for the
/// admin, and the count of response bytes.
#[derive(Clone, Default)]
pub struct Shared {
    pub pool: Arc<Pool>,
    pub notes: Notes,
    pub bytes_received: Arc<AtomicU64>,
    /// the host signs in on the plugin's behalf
    pub sign_in: Option<Arc<SignIn>>,
}

pub async fn send(
    mut request: http::Request<WasiBody>,
    target: Target,
    tls: Arc<ClientConfig>,
    options: RequestOptions,
    max_body: u64,
    shared: Shared,
    turn: tokio::sync::OwnedSemaphorePermit,
) -> Result<(http::Response<WasiBody>, IoFuture), HttpError> {
    let key: PoolKey = (target.host.clone(), target.port, target.https);
    let mut conn = match shared.pool.take(&key).await {
        Some(conn) => conn,
        None => connect(&target, tls.clone(), &options, &shared.notes).await?,
    };

    // The request carries scheme and authority; on the wire only the path.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    *request.uri_mut() = http::Uri::builder().path_and_query(path).build().map_err(|_| HttpError::HttpRequestUriInvalid)?;

    let first_byte = options.first_byte_timeout.unwrap_or(Duration::from_secs(120));
    let response = match &shared.sign_in {
        // `auto` on a server that speaks only Basic: the plugin's header.
        Some(sign_in) if sign_in.basic_only() => timed(first_byte, conn.sender.send_request(request)).await?,
        Some(sign_in) => {
            let dial = super::sign_in::Dial { target: &target, tls, options: &options, notes: &shared.notes, first_byte };
            super::sign_in::send(&mut conn, request, sign_in, &dial).await?
        }
        None => {
            let response = timed(first_byte, conn.sender.send_request(request)).await?;
            basic_refused(&response, &target, &shared.notes);
            response
        }
    };
    let between = options.between_bytes_timeout.unwrap_or(Duration::from_secs(60));
    let response = response.map(|incoming| {
        let guarded = GuardedBody {
            incoming,
            idle: Box::pin(tokio::time::sleep(between)),
            between,
            remaining: max_body,
            limit: max_body,
            bytes_received: shared.bytes_received.clone(),
            // Back to the pool once the whole answer is read; a body left
            // unread takes its connection with it.
            release: Some((conn, shared.pool.clone(), key)),
            turn: Some(turn),
        };
        http_body_util::BodyExt::boxed_unsync(guarded)
    });
    // The connection outlives the request; its driver task ends with it.
    let io: IoFuture = Box::new(async { Ok(()) });
    Ok((response, io))
}

/// The `WWW-Authenticate` values of an answer, one per header.
pub(super) fn offers(response: &http::Response<Incoming>) -> Vec<String> {
    response.headers().get_all(http::header::WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).map(|v| v.trim().to_string()).collect()
}

/// The mechanism names of offers, never their tokens.
pub(super) fn scheme_names(offers: &[String]) -> Vec<&str> {
    offers.iter().map(|o| o.split(' ').next().unwrap_or_default()).collect()
}

/// A 401 to the plugin's Basic from a server that does not offer Basic:
/// the admin learns what it offers (names only) and what to set.
fn basic_refused(response: &http::Response<Incoming>, target: &Target, notes: &Notes) {
    if response.status() != http::StatusCode::UNAUTHORIZED {
        return;
    }
    let offers = offers(response);
    let schemes = scheme_names(&offers);
    if !schemes.is_empty() && !schemes.iter().any(|s| s.eq_ignore_ascii_case("basic")) {
        note(
            notes,
            format!(
                "{}:{} offers {} and no Basic; set [exchange] auth = \"auto\" (or \"ntlm\") for the host to sign in with NTLM",
                target.host,
                target.port,
                schemes.join(", ")
            ),
        );
    }
}

pub(super) async fn timed(
    limit: Duration,
    response: impl Future<Output = hyper::Result<http::Response<Incoming>>>,
) -> Result<http::Response<Incoming>, HttpError> {
    match tokio::time::timeout(limit, response).await {
        Err(_) => Err(HttpError::ConnectionReadTimeout),
        Ok(result) => result.map_err(HttpError::from),
    }
}

/// A new connection to `target`: TCP to the pinned addresses, TLS with
/// the configured trust, HTTP/1.1.
pub(super) async fn connect(target: &Target, tls: Arc<ClientConfig>, options: &RequestOptions, notes: &Notes) -> Result<Conn, HttpError> {
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(30));
    let tcp = match tokio::time::timeout(connect_timeout, TcpStream::connect(target.addrs.as_slice())).await {
        Err(_) => return Err(HttpError::ConnectionTimeout),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Err(HttpError::ConnectionRefused),
        Ok(Err(e)) => return Err(HttpError::Connect(e)),
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    let mut certificate = None;
    let stream: Box<dyn Stream> = if target.https {
        let name = ServerName::try_from(target.host.clone()).map_err(|_| HttpError::HttpRequestUriInvalid)?;
        let handshake = tokio_rustls::TlsConnector::from(tls).connect(name, tcp);
        match tokio::time::timeout(connect_timeout, handshake).await {
            Err(_) => return Err(HttpError::ConnectionTimeout),
            Ok(Err(e)) => return Err(tls_error(target, e, notes)),
            Ok(Ok(stream)) => {
                certificate = stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).map(|c| c.to_vec());
                Box::new(stream)
            }
        }
    } else {
        Box::new(tcp)
    };
    let (sender, connection) = hyper::client::conn::http1::handshake::<_, WasiBody>(TokioIo::new(stream))
        .await
        .map_err(HttpError::from)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("connection ended: {e}");
        }
    });
    Ok(Conn { sender, authenticated: false, certificate })
}

/// A certificate failure is reported as one, with the host and the reason.
fn tls_error(target: &Target, error: std::io::Error, notes: &Notes) -> HttpError {
    let origin = format!("{}:{}", target.host, target.port);
    match error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(why)) => {
            note(notes, format!("the TLS certificate of {origin} is not trusted ({why:?})"));
            HttpError::TlsCertificateError
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            note(notes, format!("{origin} ended the TLS handshake with the alert {alert:?}"));
            HttpError::TlsAlertReceived { alert_id: None, alert_message: Some(format!("{alert:?}")) }
        }
        _ => {
            note(notes, format!("the TLS handshake with {origin} failed: {error}"));
            HttpError::TlsProtocolError
        }
    }
}

/// The response body, with the between-bytes timeout and the size cap.
struct GuardedBody {
    incoming: Incoming,
    idle: Pin<Box<tokio::time::Sleep>>,
    between: Duration,
    remaining: u64,
    limit: u64,
    bytes_received: Arc<AtomicU64>,
    release: Option<(Conn, Arc<Pool>, PoolKey)>,
    /// the run's turn at the server, given back when the answer is read
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let size = data.len() as u64;
                    if size > this.remaining {
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(this.limit)))));
                    }
                    this.remaining -= size;
                    this.bytes_received.fetch_add(size, Ordering::Relaxed);
                }
                let deadline = tokio::time::Instant::now() + this.between;
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(HttpError::from(e)))),
            Poll::Ready(None) => {
                if let Some((conn, pool, key)) = this.release.take() {
                    pool.put(key, conn);
                }
                this.turn.take();
                Poll::Ready(None)
            }
            Poll::Pending => match this.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
