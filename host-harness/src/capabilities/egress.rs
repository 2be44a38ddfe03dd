//! The egress policy, enforced in the wasi:http `send_request` hook before
//! any connection: only the origins the configuration names, only the
//! addresses their names resolved to when the run first used them, and
//! at most [`MAX_IN_FLIGHT`] requests of a run at once.
//!
//! Which addresses: private ranges (10/8, 172.16/12, 192.168/16, fc00::/7)
//! are allowed, since an on-premises Exchange lives there, but only behind
//! a name or address the configuration gives. Loopback and link-local
//! addresses (169.254/16 and fe80::/10, where cloud metadata services
//! answer) are reached only when the configuration names them literally
//! (`localhost`, `127.0.0.1`, `169.254.x.y`), never through a name that
//! resolves there; unspecified, multicast and broadcast addresses never.

use super::sender::{self, IoFuture, Notes, Pool, Shared, Target, note};
use http::uri::Scheme;
use rustls::ClientConfig;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// Upper bounds on what the guest may ask for as timeouts (wasi-http's own
/// default is ten minutes each).
const MAX_CONNECT: Duration = Duration::from_secs(30);
const MAX_FIRST_BYTE: Duration = Duration::from_secs(300);
const MAX_BETWEEN_BYTES: Duration = Duration::from_secs(120);
/// Requests of one run that may be at the server at once (sent and not
/// yet answered in full); more wait their turn, in the order the plugin
/// asked. The connector keeps 4 GetItem there, beside the next listing
/// page and a few directory lookups or attachments; a plugin that fires
/// thousands is slowed, and the server never sees more than this many. (A
/// plugin that leaves this many answers unread and waits on a later one
/// waits until its run's wall-clock bound.)
pub const MAX_IN_FLIGHT: usize = 8;
/// The most one response body may hold; a GetItem of 100 contacts is well
/// under a megabyte.
pub const MAX_RESPONSE_BODY: u64 = 64 << 20;

/// An origin the plugin may reach: scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The origin of a configured URL (parsed by the url crate: IPv6
    /// literals and international names included). A URL with a user
    /// name or password in it is refused and not echoed.
    pub fn from_url(text: &str) -> anyhow::Result<Origin> {
        let url = url::Url::parse(text).map_err(|e| anyhow::anyhow!("invalid URL {text}: {e}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            anyhow::bail!("a configured URL holds a user name or password; give them as settings instead");
        }
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => anyhow::bail!("{text}: only http:// and https:// URLs are supported"),
        };
        let host = url.host_str().ok_or_else(|| anyhow::anyhow!("{text} names no host"))?;
        let port = url.port_or_known_default().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host: bare_host(host), port })
    }

    /// Loopback is allowed only when the configuration names it.
    fn names_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
    }

    /// Why this origin may not dial one of `addresses`, if it may not.
    fn refuses(&self, addresses: &[SocketAddr]) -> Option<String> {
        let literal = self.host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        for address in addresses {
            let ip = address.ip().to_canonical();
            let named = literal == Some(ip);
            let why = match Scope::of(ip) {
                Scope::Never => format!("{} resolves to {ip}, which is never dialled", self.host),
                Scope::Loopback if !self.names_loopback() => {
                    format!("{} resolves to a loopback address, which the configuration does not name", self.host)
                }
                Scope::LinkLocal if !named => {
                    format!("{} resolves to the link-local address {ip}, which the configuration does not name", self.host)
                }
                _ => continue,
            };
            return Some(why);
        }
        None
    }
}

/// The kinds of address the policy tells apart.
#[derive(Debug, PartialEq, Eq)]
enum Scope {
    /// unspecified, multicast, broadcast
    Never,
    Loopback,
    /// 169.254/16, fe80::/10: cloud metadata services
    LinkLocal,
    /// public and private ranges alike
    Routed,
}

impl Scope {
    fn of(ip: IpAddr) -> Scope {
        match ip.to_canonical() {
            ip if ip.is_unspecified() || ip.is_multicast() => Scope::Never,
            IpAddr::V4(v4) if v4.is_broadcast() => Scope::Never,
            ip if ip.is_loopback() => Scope::Loopback,
            IpAddr::V4(v4) if v4.is_link_local() => Scope::LinkLocal,
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Scope::LinkLocal,
            _ => Scope::Routed,
        }
    }
}

/// `[::1]` -> `::1`, lowercased.
fn bare_host(host: &str) -> String {
    host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

#[derive(Clone)]
pub struct EgressPolicy {
    pub allowed: Vec<Origin>,
    pub tls: Arc<ClientConfig>,
    pub max_body: u64,
    /// the longest the host waits for an answer to begin
    pub max_first_byte: Duration,
    /// requests that left the host, for the run summary
    pub requests: Arc<AtomicU32>,
    /// requests refused by the policy
    pub denied: Arc<AtomicU32>,
    /// response bytes received, for the run summary
    pub bytes_received: Arc<AtomicU64>,
    /// what went wrong on the way, in words for the admin
    pub notes: Notes,
    /// keep-alive connections of the run
    pool: Arc<Pool>,
    /// sign in for the plugin, per connection
    pub sign_in: Option<Arc<super::ntlm::SignIn>>,
    /// addresses each name resolved to first in this run
    pins: Arc<Mutex<HashMap<(String, u16), Vec<SocketAddr>>>>,
    /// turns for requests at the server, [`MAX_IN_FLIGHT`] a run
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl EgressPolicy {
    pub fn new(urls: &[&str], tls: Arc<ClientConfig>) -> anyhow::Result<EgressPolicy> {
        let allowed = urls.iter().map(|u| Origin::from_url(u)).collect::<anyhow::Result<_>>()?;
        Ok(EgressPolicy {
            allowed,
            tls,
            max_body: MAX_RESPONSE_BODY,
            max_first_byte: MAX_FIRST_BYTE,
            requests: Default::default(),
            denied: Default::default(),
            bytes_received: Default::default(),
            notes: Default::default(),
            pool: Default::default(),
            pins: Default::default(),
            sign_in: None,
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// The same policy with fresh counters, notes, connections and pins,
    /// for a new run.
    pub fn for_run(&self) -> EgressPolicy {
        EgressPolicy {
            requests: Default::default(),
            denied: Default::default(),
            bytes_received: Default::default(),
            notes: Default::default(),
            pool: Default::default(),
            pins: Default::default(),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            sign_in: self.sign_in.as_ref().map(|s| Arc::new(s.fresh())),
            ..self.clone()
        }
    }

    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The request's origin, if an allowed one admits it. `*.example.com`
    /// (configured as a mail domain) admits the hosts below example.com.
    fn origin_of(&self, uri: &http::Uri) -> Option<Origin> {
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let host = bare_host(uri.host()?);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let admits = |allowed: &str| match allowed.strip_prefix('*') {
            Some(suffix) => host.ends_with(suffix) && host.len() > suffix.len(),
            None => allowed == host,
        };
        self.allowed.iter().any(|o| o.https == https && o.port == port && admits(&o.host)).then_some(Origin { https, host, port })
    }

    fn deny(&self, why: String) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send> {
        self.denied.fetch_add(1, Ordering::Relaxed);
        note(&self.notes, format!("refused a request of the plugin: {why}"));
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }

    /// The addresses `origin` may use in this run: resolved once, at its
    /// first request, and pinned; later requests dial the pinned set and
    /// never look the name up again (no resolver hiccup or round-robin
    /// answer can fail a run halfway).
    async fn resolve(origin: Origin, pins: Arc<Mutex<HashMap<(String, u16), Vec<SocketAddr>>>>, notes: Notes, timeout: Duration) -> Result<Vec<SocketAddr>, HttpError> {
        let key = (origin.host.clone(), origin.port);
        if let Some(pinned) = pins.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(pinned.clone());
        }
        let found: Vec<SocketAddr> = match origin.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, origin.port)],
            Err(_) => match tokio::time::timeout(timeout, tokio::net::lookup_host((origin.host.as_str(), origin.port))).await {
                Err(_) => return Err(HttpError::DnsTimeout),
                Ok(Err(e)) => return Err(HttpError::DnsError { rcode: Some(e.to_string()), info_code: None }),
                Ok(Ok(addrs)) => addrs.collect(),
            },
        };
        // `::ffff:127.0.0.1` is loopback too (`Scope::of` looks through it).
        if let Some(why) = origin.refuses(&found) {
            note(&notes, format!("refused: {why}"));
            return Err(HttpError::HttpRequestDenied);
        }
        if found.is_empty() {
            return Err(HttpError::DnsError { rcode: Some("no addresses".into()), info_code: None });
        }
        // Two requests may have looked the name up at once: the first pin stays.
        let mut pins = pins.lock().unwrap_or_else(|p| p.into_inner());
        Ok(pins.entry(key).or_insert(found).clone())
    }
}

impl WasiHttpHooks for EgressPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send> {
        drop(fut);
        let Some(origin) = self.origin_of(request.uri()) else {
            return self.deny(format!("{} {} is not an allowed origin", request.method(), request.uri()));
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        // The request log never shows credentials.
        tracing::debug!(target: "plugin-http", "{} {} authorization={}", request.method(), request.uri(),
            if request.headers().contains_key(http::header::AUTHORIZATION) { "<redacted>" } else { "none" });
        let options = capped(options, self.max_first_byte);
        let (pins, notes, tls, max_body) = (self.pins.clone(), self.notes.clone(), self.tls.clone(), self.max_body);
        let shared =
            Shared { pool: self.pool.clone(), notes: notes.clone(), bytes_received: self.bytes_received.clone(), sign_in: self.sign_in.clone() };
        let denied = self.denied.clone();
        // A place in the queue for a turn, taken now, so that turns come in
        // the order the plugin asked (it reads its answers in that order).
        let mut queued = Box::pin(self.in_flight.clone().acquire_owned());
        let early = match queued.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(turn) => Some(turn),
            std::task::Poll::Pending => None,
        };
        Box::new(async move {
            // Held until the answer is read in full (or dropped).
            let turn = match early {
                Some(turn) => turn,
                None => queued.await,
            };
            let turn = turn.map_err(|_| HttpError::HttpRequestDenied)?;
            let connect = options.connect_timeout.unwrap_or(MAX_CONNECT);
            let addrs = match EgressPolicy::resolve(origin.clone(), pins, notes.clone(), connect).await {
                Ok(addrs) => addrs,
                Err(HttpError::HttpRequestDenied) => {
                    denied.fetch_add(1, Ordering::Relaxed);
                    return Err(HttpError::HttpRequestDenied);
                }
                Err(e) => return Err(e),
            };
            let target = Target { host: origin.host, port: origin.port, https: origin.https, addrs };
            sender::send(request, target, tls, options, max_body, shared, turn).await
        })
    }
}

/// The guest's timeouts, never above the host's bounds.
fn capped(options: Option<RequestOptions>, max_first_byte: Duration) -> RequestOptions {
    let options = options.unwrap_or_default();
    let cap = |asked: Option<Duration>, max: Duration| Some(asked.map_or(max, |d| d.min(max)));
    RequestOptions {
        connect_timeout: cap(options.connect_timeout, MAX_CONNECT),
        first_byte_timeout: cap(options.first_byte_timeout, max_first_byte),
        between_bytes_timeout: cap(options.between_bytes_timeout, MAX_BETWEEN_BYTES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(urls: &[&str]) -> EgressPolicy {
        EgressPolicy::new(urls, super::super::tls::client_config(true, None).unwrap()).unwrap()
    }

    #[test]
    fn only_named_origins_scheme_host_and_port() {
        let p = policy(&["https://Mail.Example.com/EWS/Exchange.asmx", "http://[::1]:8080/"]);
        let allowed = |url: &str| p.origin_of(&url.parse().unwrap()).is_some();
        assert!(allowed("https://mail.example.com/EWS/Exchange.asmx"));
        assert!(allowed("https://mail.example.com:443/other"));
        assert!(allowed("http://[::1]:8080/x"));
        assert!(!allowed("http://mail.example.com/EWS/Exchange.asmx"), "scheme");
        assert!(!allowed("https://mail.example.com:8443/"), "port");
        assert!(!allowed("https://evil.example.com/"), "host");
        assert!(!allowed("https://mail.example.com.evil.net/"), "suffix");
    }

    #[test]
    fn a_mail_domain_admits_its_hosts_over_https_only() {
        let p = policy(&["https://example.com", "https://*.example.com"]);
        let allowed = |url: &str| p.origin_of(&url.parse().unwrap());
        assert_eq!(allowed("https://mail.example.com/EWS/Exchange.asmx").unwrap().host, "mail.example.com");
        assert!(allowed("https://autodiscover.example.com/autodiscover/autodiscover.xml").is_some());
        assert!(allowed("https://example.com/autodiscover/autodiscover.xml").is_some());
        assert!(allowed("http://mail.example.com/").is_none(), "scheme");
        assert!(allowed("https://evilexample.com/").is_none(), "no dot");
        assert!(allowed("https://mail.example.com.evil.net/").is_none(), "suffix");
    }

    #[tokio::test]
    async fn a_name_is_resolved_once_per_run_and_its_addresses_pinned() {
        let origin = Origin { https: false, host: "localhost".into(), port: 9 };
        let pins: Arc<Mutex<HashMap<(String, u16), Vec<SocketAddr>>>> = Default::default();
        let notes: Notes = Default::default();
        let timeout = Duration::from_secs(5);
        let first = EgressPolicy::resolve(origin.clone(), pins.clone(), notes.clone(), timeout).await.unwrap();
        assert!(first.iter().all(|a| a.ip().is_loopback()), "{first:?}");
        // As if the resolver now answered otherwise: the run keeps dialling
        // what it pinned, without asking again.
        let elsewhere: Vec<SocketAddr> = vec!["127.0.0.9:9".parse().unwrap()];
        pins.lock().unwrap().insert(("localhost".into(), 9), elsewhere.clone());
        let again = EgressPolicy::resolve(origin, pins, notes.clone(), timeout).await.unwrap();
        assert_eq!(again, elsewhere);
        assert!(notes.lock().unwrap().is_empty());
    }

    #[test]
    fn ipv4_mapped_loopback_is_loopback_and_ipv6_literals_parse() {
        let mapped = Origin::from_url("http://[::ffff:127.0.0.1]:8080/EWS/Exchange.asmx").unwrap();
        assert_eq!((mapped.host.as_str(), mapped.port), ("::ffff:7f00:1", 8080));
        assert!(mapped.names_loopback());
        let international = Origin::from_url("https://bücher.example/EWS/Exchange.asmx").unwrap();
        assert_eq!(international.host, "xn--bcher-kva.example");
        let error = Origin::from_url("https://svc:hunter2@mail.example.com/EWS/Exchange.asmx").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn private_ranges_through_names_link_local_and_loopback_only_when_named() {
        let addr = |ip: &str| vec![SocketAddr::new(ip.parse().unwrap(), 443)];
        let by_name = Origin::from_url("https://mail.example.com/EWS/Exchange.asmx").unwrap();
        for private in ["10.1.2.3", "172.16.0.5", "192.168.1.10", "fd00::25", "203.0.113.7"] {
            assert_eq!(by_name.refuses(&addr(private)), None, "{private}: on-premises servers live there");
        }
        for link_local in ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254"] {
            let why = by_name.refuses(&addr(link_local)).expect(link_local);
            assert!(why.contains("link-local"), "{why}");
        }
        for loopback in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(by_name.refuses(&addr(loopback)).unwrap().contains("loopback"), "{loopback}");
        }
        for never in ["0.0.0.0", "::", "255.255.255.255", "224.0.0.1", "ff02::1"] {
            assert!(by_name.refuses(&addr(never)).unwrap().contains("never dialled"), "{never}");
        }
        let metadata = Origin::from_url("http://169.254.169.254/").unwrap();
        assert_eq!(metadata.refuses(&addr("169.254.169.254")), None, "named literally");
        assert!(metadata.refuses(&addr("169.254.1.1")).is_some(), "only the address named");
        let mapped = Origin::from_url("http://[::ffff:127.0.0.1]:8080/").unwrap();
        assert_eq!(mapped.refuses(&addr("127.0.0.1")), None);
    }

    #[tokio::test]
    async fn loopback_only_when_the_configuration_names_it() {
        let notes: Notes = Default::default();
        let timeout = Duration::from_secs(5);
        // `localhost` names loopback and may reach it.
        let named = Origin::from_url("http://localhost:9/").unwrap();
        assert!(EgressPolicy::resolve(named, Default::default(), notes.clone(), timeout).await.is_ok());
        // A name the configuration gave as some other host must not lead there.
        let disguised = Origin { https: false, host: "localhost.".into(), port: 9 };
        let result = EgressPolicy::resolve(disguised, Default::default(), notes.clone(), timeout).await;
        assert!(matches!(result, Err(HttpError::HttpRequestDenied) | Err(HttpError::DnsError { .. })), "{result:?}");
    }
}
