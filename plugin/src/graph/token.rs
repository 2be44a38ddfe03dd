//! OAuth2 tokens from the Microsoft identity platform: client credentials,
//! or a refresh token (delegated), which is rotated.

use super::segment as escape;
use crate::config::GraphConfig;
use crate::error::{Error, Kind, Result};
use crate::http;
use serde_json::Value;

/// A token is renewed this long before it expires (a quarter of a short
/// lifetime).
const MARGIN_NS: u64 = 120 * 1_000_000_000;

pub struct Token {
    pub access: String,
    /// monotonic clock, nanoseconds
    renew_at: u64,
}

impl Token {
    pub fn fresh(&self) -> bool {
        now() < self.renew_at
    }
}

fn now() -> u64 {
    crate::bindings::wasi::clocks::monotonic_clock::now()
}

pub fn acquire(config: &mut GraphConfig) -> Result<Token> {
    let url = format!("{}/{}/oauth2/v2.0/token", config.authority, escape(&config.tenant_id));
    // The token is for the Graph this configuration reads: a national
    // cloud's Graph refuses one for graph.microsoft.com.
    let scope = format!("{}/.default", config.graph_endpoint);
    let mut form = vec![("client_id", config.client_id.clone()), ("scope", scope)];
    match (&config.refresh_token, &config.client_secret) {
        (Some(refresh), secret) => {
            form.push(("grant_type", "refresh_token".into()));
            form.push(("refresh_token", refresh.clone()));
            if let Some(secret) = secret {
                form.push(("client_secret", secret.clone()));
            }
        }
        (None, Some(secret)) => {
            form.push(("grant_type", "client_credentials".into()));
            form.push(("client_secret", secret.clone()));
        }
        (None, None) => return Err(Error::config("no client secret and no refresh token")),
    }
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
    let response = http::post(&url, &[("content-type", "application/x-www-form-urlencoded")], body.as_bytes())?;
    let status = response.status;
    let text = response.text()?;
    let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status != 200 {
        return Err(explain(config, &url, status, &parsed));
    }
    let access = parsed["access_token"].as_str().ok_or_else(|| Error::protocol(format!("{url} gave no access_token")))?;
    let lifetime = parsed["expires_in"].as_u64().unwrap_or(3600);
    // A delegated refresh token is rotated: the new one is for the next run.
    if let (Some(rotated), Some(_)) = (parsed["refresh_token"].as_str(), &config.refresh_token) {
        config.refresh_token = Some(rotated.to_string());
        crate::bindings::helpdesk::connector::host::save_secret("refresh_token", rotated);
    }
    let lifetime_ns = lifetime.saturating_mul(1_000_000_000);
    let margin = MARGIN_NS.min(lifetime_ns / 4);
    Ok(Token { access: access.to_string(), renew_at: now() + lifetime_ns - margin })
}

/// Token endpoint errors in words an admin can act on.
fn explain(config: &GraphConfig, url: &str, status: u16, parsed: &Value) -> Error {
    let code = parsed["error"].as_str().unwrap_or("");
    let detail = parsed["error_description"].as_str().unwrap_or("").lines().next().unwrap_or("");
    let tenant = &config.tenant_id;
    let app = &config.client_id;
    let (kind, advice) = match code {
        "invalid_client" => (Kind::Authentication, format!("the client secret of app {app} was refused: check client_secret (it may have expired)")),
        "unauthorized_client" => (Kind::Authentication, format!("the app {app} is not known in tenant {tenant}: check client_id and tenant_id")),
        "invalid_request" if detail.contains("90002") => (Kind::Configuration, format!("there is no tenant {tenant}: check tenant_id")),
        "invalid_grant" => (Kind::Authentication, "the refresh token was refused (expired, revoked or already used): sign in again for a new one".to_string()),
        _ => (Kind::Authentication, format!("the identity platform refused the token request (HTTP {status} {code})")),
    };
    Error::new(kind, format!("{url}: {advice} ({detail})"))
}
