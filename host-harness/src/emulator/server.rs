//! The emulator's HTTP side: `/EWS/Exchange.asmx` over HTTP/1.1 with
//! keep-alive, Basic auth enforced as IIS does it.

use super::{ews, graph};
use super::EmulatorState;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub const EWS_PATH: &str = "/EWS/Exchange.asmx";
/// Not EWS: scripts change the mailbox between runs with
/// `POST /emulator/change?n=10` (adds, changes and removes n contacts).
pub const CHANGE_PATH: &str = "/emulator/change";
const TOKEN_SUFFIX: &str = "/oauth2/v2.0/token";
/// Larger requests are refused, as IIS's request filtering does.
const MAX_REQUEST: usize = 16 << 20;

const UNAUTHORIZED_PAGE: &str = "<!DOCTYPE html><html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head><body><h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2><h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3></body></html>";
const NOT_FOUND_PAGE: &str = "<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head><body><h2>404 - File or directory not found.</h2></body></html>";

pub async fn serve(request: Request<Incoming>, state: Arc<EmulatorState>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    state.stats.http_requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    // Read the request whole first, as IIS does, so that an early answer
    // (401, 404) never cuts a client off in the middle of its request.
    let body = match Limited::new(body, MAX_REQUEST).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(page(StatusCode::PAYLOAD_TOO_LARGE, "<html><body>Request too large.</body></html>")),
    };
    if parts.uri.path() == CHANGE_PATH && parts.method == hyper::Method::POST {
        return Ok(scripted_change(&state, parts.uri.query()));
    }
    if let Some(tenant) = parts.uri.path().strip_prefix('/').and_then(|p| p.strip_suffix(TOKEN_SUFFIX)) {
        state.stats.count("Graph token");
        return Ok(json(graph::token(&state.graph, tenant, &String::from_utf8_lossy(&body))));
    }
    if parts.uri.path().starts_with("/v1.0/") {
        return Ok(json(graph_get(&state, &parts)));
    }
    if !parts.uri.path().eq_ignore_ascii_case(EWS_PATH) {
        return Ok(page(StatusCode::NOT_FOUND, NOT_FOUND_PAGE));
    }
    if !authorized(&parts.headers, &state) {
        state.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
        let mut response = page(StatusCode::UNAUTHORIZED, UNAUTHORIZED_PAGE);
        response.headers_mut().insert("www-authenticate", r#"Basic realm="mail.example.com""#.parse().unwrap());
        return Ok(response);
    }
    if parts.method != hyper::Method::POST {
        // EWS answers GET with its service description; clients only POST.
        return Ok(page(StatusCode::METHOD_NOT_ALLOWED, "<html><body>Use POST.</body></html>"));
    }
    let answer = {
        let mailbox = state.mailbox.read().unwrap_or_else(|p| p.into_inner());
        ews::handle(&mailbox, &body)
    };
    state.stats.count(&answer.operation);
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", "text/xml; charset=utf-8".parse().unwrap());
    headers.insert("x-feserver", "EXEMU01".parse().unwrap());
    headers.insert("x-aspnet-version", "4.0.30319".parse().unwrap());
    Ok(response)
}

fn authorized(headers: &hyper::HeaderMap, state: &EmulatorState) -> bool {
    let Some(header) = headers.get("authorization").and_then(|h| h.to_str().ok()) else { return false };
    let Some(token) = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic ")) else { return false };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else { return false };
    let expected = format!("{}:{}", state.user, state.password);
    decoded == expected.as_bytes()
}

fn page(status: StatusCode, html: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(html.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "text/html".parse().unwrap());
    response
}

fn scripted_change(state: &EmulatorState, query: Option<&str>) -> Response<Full<Bytes>> {
    let n = query
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("n=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let script = state.mailbox.write().unwrap_or_else(|p| p.into_inner()).scripted_change(n);
    let body = serde_json::json!({ "added": script.added, "changed": script.changed, "removed": script.removed });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
    response
}

fn graph_get(state: &EmulatorState, parts: &hyper::http::request::Parts) -> graph::Answer {
    let served = state.stats.http_requests.load(Ordering::Relaxed);
    state.stats.count("Graph GET");
    if state.throttle_every.is_some_and(|n| served % n == 0) {
        state.stats.count("Graph throttled");
        return graph::Answer {
            status: 429,
            body: r#"{"error":{"code":"ApplicationThrottled","message":"Application is over its MailboxConcurrency limit."}}"#.into(),
            retry_after: Some(1),
        };
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = if state.https { "https" } else { "http" };
    let base = format!("{scheme}://{}", header("host").unwrap_or("localhost"));
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mailbox = state.mailbox.read().unwrap_or_else(|p| p.into_inner());
    graph::get(&state.graph, &mailbox, &state.user, &base, path, header("authorization"), header("prefer"))
}

fn json(answer: graph::Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert("content-type", "application/json; odata.metadata=minimal".parse().unwrap());
    if let Some(seconds) = answer.retry_after {
        response.headers_mut().insert("retry-after", seconds.into());
    }
    response
}
