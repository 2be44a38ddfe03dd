//! `helpdesk-host login`: delegated access an admin can set up, by the
//! OAuth 2.0 device authorization grant (RFC 8628) as the Microsoft
//! identity platform implements it (`/{tenant}/oauth2/v2.0/devicecode`,
//! then polling `/{tenant}/oauth2/v2.0/token`). The admin signs in in any
//! browser; the refresh token lands in the secrets file beside the
//! database, where the next sync finds it and the plugin rotates it.
//!
//! The host makes these requests itself: signing in is the admin's act
//! before any plugin runs, and the plugin never sees the user's password.

use crate::config::HostConfig;
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::time::{Duration, Instant};

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";

/// What the identity platform says while it waits for the user.
pub struct Prompt {
    pub verification_uri: String,
    pub user_code: String,
    /// its own sentence, with both of the above
    pub message: String,
}

/// Run the device-code flow for the configuration's app and tenant: show
/// the prompt, poll until the user answered, keep the refresh token.
/// Returns where the token was kept.
pub async fn device_code(config: &HostConfig, show: impl FnOnce(&Prompt)) -> Result<std::path::PathBuf> {
    let e = &config.exchange;
    if e.mode != "graph" {
        bail!("login is for Microsoft 365 ([exchange] mode = \"graph\"); this configuration's mode is \"{}\"", e.mode);
    }
    let tenant = e.tenant_id.as_deref().ok_or_else(|| anyhow!("[exchange] needs tenant_id for login"))?;
    let client = e.client_id.as_deref().ok_or_else(|| anyhow!("[exchange] needs client_id for login"))?;
    let authority = e.authority().unwrap_or_else(|| DEFAULT_AUTHORITY.into());
    let authority = authority.trim_end_matches('/');
    let graph = e.graph_endpoint.as_deref().unwrap_or(DEFAULT_GRAPH).trim_end_matches('/');
    let tls = crate::capabilities::tls::client_config(e.tls.verify, e.tls.ca_file.as_deref())?;
    // offline_access: without it there is no refresh token to keep.
    let scope = format!("{graph}/.default offline_access");
    let base = format!("{authority}/{}", url::form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>());

    let (status, start) = post_form(&format!("{base}/oauth2/v2.0/devicecode"), &[("client_id", client), ("scope", &scope)], &tls).await?;
    if status != 200 {
        bail!("{authority} refused to start a sign-in: {}", oauth_error(&start));
    }
    let text = |key: &str| start[key].as_str().map(str::to_string).ok_or_else(|| anyhow!("{authority} sent no {key}"));
    let prompt = Prompt { verification_uri: text("verification_uri")?, user_code: text("user_code")?, message: text("message")? };
    let device_code = text("device_code")?;
    let mut interval = Duration::from_secs(start["interval"].as_u64().unwrap_or(5).max(1));
    let deadline = Instant::now() + Duration::from_secs(start["expires_in"].as_u64().unwrap_or(900));
    show(&prompt);

    let form = [("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("client_id", client), ("device_code", &device_code)];
    loop {
        tokio::time::sleep(interval).await;
        let (status, answer) = post_form(&format!("{base}/oauth2/v2.0/token"), &form, &tls).await?;
        if status == 200 {
            let token = answer["refresh_token"]
                .as_str()
                .ok_or_else(|| anyhow!("{authority} signed in but gave no refresh token (is offline_access allowed for the app?)"))?;
            let database = config.database();
            crate::secrets::save(&database, "refresh_token", token, Some(crate::secrets::FROM_LOGIN))?;
            return Ok(crate::secrets::path(&database));
        }
        match answer["error"].as_str() {
            Some("authorization_pending") if Instant::now() < deadline => {}
            // RFC 8628 3.5: wait five seconds longer from now on.
            Some("slow_down") => interval += Duration::from_secs(5),
            Some("authorization_declined") => bail!("the sign-in was declined at {}", prompt.verification_uri),
            Some("expired_token") | Some("authorization_pending") => bail!("the code {} expired before anyone signed in; run login again", prompt.user_code),
            _ => bail!("{authority} refused the sign-in: {}", oauth_error(&answer)),
        }
    }
}

fn oauth_error(answer: &Value) -> String {
    let code = answer["error"].as_str().unwrap_or("an error");
    let detail = answer["error_description"].as_str().unwrap_or("").lines().next().unwrap_or("");
    format!("{code} ({detail})")
}

/// POST a form and read a JSON answer, over HTTP/1.1 with the
/// configuration's TLS settings.
async fn post_form(url: &str, form: &[(&str, &str)], tls: &std::sync::Arc<rustls::ClientConfig>) -> Result<(u16, Value)> {
    let parsed = url::Url::parse(url).with_context(|| format!("{url} is no URL"))?;
    let host = parsed.host_str().ok_or_else(|| anyhow!("{url} names no host"))?.trim_matches(['[', ']']).to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let authority = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_string(),
    };
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let request = hyper::Request::post(path)
        .header("host", authority)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await.with_context(|| format!("connecting to {url}"))?;
    let response = if parsed.scheme() == "https" {
        let name = rustls::pki_types::ServerName::try_from(host.clone())?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone()).connect(name, stream).await.with_context(|| format!("TLS with {url}"))?;
        send(TokioIo::new(stream), request).await?
    } else {
        send(TokioIo::new(stream), request).await?
    };
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    let value = serde_json::from_slice(&bytes).with_context(|| format!("{url} answered HTTP {status} without JSON"))?;
    Ok((status, value))
}

async fn send<S>(io: TokioIo<S>, request: hyper::Request<Full<Bytes>>) -> Result<hyper::Response<hyper::body::Incoming>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    Ok(sender.send_request(request).await?)
}
