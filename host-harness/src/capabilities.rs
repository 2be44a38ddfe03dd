//! What the plugin may do: no files, no sockets, no environment; outgoing
//! HTTP only, and only to the origins its configuration names.

use crate::session::Session;
use http::uri::Scheme;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// Upper bounds on what the guest may ask for as timeouts.
const MAX_CONNECT: Duration = Duration::from_secs(30);
const MAX_FIRST_BYTE: Duration = Duration::from_secs(300);
const MAX_BETWEEN_BYTES: Duration = Duration::from_secs(120);

/// An origin the plugin may reach: scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn from_url(url: &str) -> anyhow::Result<Origin> {
        let uri: http::Uri = url.parse().map_err(|e| anyhow::anyhow!("invalid URL {url}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => anyhow::bail!("{url}: only http:// and https:// URLs are supported"),
        };
        let host = uri.host().ok_or_else(|| anyhow::anyhow!("{url} names no host"))?.to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Origin { https, host, port })
    }
}

#[derive(Clone, Debug, Default)]
pub struct EgressPolicy {
    pub allowed: Vec<Origin>,
    /// requests that left the host, for the run summary
    pub requests: Arc<AtomicU32>,
    /// requests refused by the allow-list
    pub denied: Arc<AtomicU32>,
}

impl EgressPolicy {
    pub fn allowing(urls: &[&str]) -> anyhow::Result<EgressPolicy> {
        let allowed = urls.iter().map(|u| Origin::from_url(u)).collect::<anyhow::Result<_>>()?;
        Ok(EgressPolicy { allowed, ..Default::default() })
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let Some(host) = uri.host() else { return false };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        self.allowed.iter().any(|o| o.https == https && o.port == port && o.host.eq_ignore_ascii_case(host))
    }
}

impl WasiHttpHooks for EgressPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>), HttpError>,
            > + Send,
    > {
        drop(fut);
        if !self.allows(request.uri()) {
            self.denied.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("denied the plugin's request to {}: not an allowed origin", request.uri());
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let options = capped(options);
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// The guest's timeouts, never above the host's bounds (wasi-http's own
/// default is ten minutes each).
fn capped(options: Option<RequestOptions>) -> RequestOptions {
    let options = options.unwrap_or_default();
    let cap = |asked: Option<Duration>, max: Duration| Some(asked.map_or(max, |d| d.min(max)));
    RequestOptions {
        connect_timeout: cap(options.connect_timeout, MAX_CONNECT),
        first_byte_timeout: cap(options.first_byte_timeout, MAX_FIRST_BYTE),
        between_bytes_timeout: cap(options.between_bytes_timeout, MAX_BETWEEN_BYTES),
    }
}

/// The data of one run's store.
pub struct RunState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: EgressPolicy,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub session: Session,
}

impl RunState {
    pub fn new(policy: EgressPolicy, session: Session, memory_limit: usize) -> Self {
        // No preopened directories, no environment, no arguments, no
        // sockets (the builder denies them by default). Standard error is
        // kept so that a guest panic message is not lost.
        let wasi = WasiCtxBuilder::new().inherit_stderr().build();
        RunState {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: policy,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new().memory_size(memory_limit).instances(16).build(),
            session,
        }
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}
