//! The emulator's HTTP side: `/EWS/Exchange.asmx` over HTTP/1.1 with
//! keep-alive, authentication enforced as IIS does it (auth.rs).

use super::data::VANISHING_ITEM_ID as VANISHING;
use super::data::Mailbox;
use super::faults::Fault;
use super::{autodiscover, ews, graph};
use super::EmulatorState;
use super::auth::Verdict;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Response bodies: whole, or (for the reset fault) one that fails midway.
pub type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub const EWS_PATH: &str = "/EWS/Exchange.asmx";
/// Not EWS: scripts change the mailbox between runs with
/// `POST /emulator/change?n=10` (adds, changes and removes n contacts; adds,
/// moves, deletes, marks read and edits one message each).
pub const CHANGE_PATH: &str = "/emulator/change";
const TOKEN_SUFFIX: &str = "/oauth2/v2.0/token";
const DEVICE_CODE_SUFFIX: &str = "/oauth2/v2.0/devicecode";
/// Not Microsoft's: where the emulator's "user" approves a device code
/// (`POST /emulator/devicelogin?code=ABC&approve=true`), which the
/// device-code answer names as its verification page.
pub const DEVICE_LOGIN_PATH: &str = "/emulator/devicelogin";
/// Larger requests are refused, as IIS's request filtering does.
const MAX_REQUEST: usize = 16 << 20;

const UNAUTHORIZED_PAGE: &str = "<!DOCTYPE html><html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head><body><h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2><h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3></body></html>";
const NOT_FOUND_PAGE: &str = "<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head><body><h2>404 - File or directory not found.</h2></body></html>";

pub async fn serve(
    request: Request<Incoming>,
    state: Arc<EmulatorState>,
    connection: Arc<super::auth::Connection>,
) -> Result<Response<Body>, std::convert::Infallible> {
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
    if let Some(tenant) = parts.uri.path().strip_prefix('/').and_then(|p| p.strip_suffix(DEVICE_CODE_SUFFIX)) {
        state.stats.count("Graph device code");
        let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let page = format!("{}://{host}{DEVICE_LOGIN_PATH}", if state.https { "https" } else { "http" });
        return Ok(json(graph::device_code(&state.graph, tenant, &String::from_utf8_lossy(&body), &page)));
    }
    if parts.uri.path() == DEVICE_LOGIN_PATH && parts.method == hyper::Method::POST {
        let query: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
        let approve = query.get("approve").is_none_or(|a| a != "false");
        let known = state.graph.answer_device_code(query.get("code").map(String::as_str).unwrap_or(""), approve);
        let status = if known { StatusCode::OK } else { StatusCode::NOT_FOUND };
        return Ok(page(status, if known { "<html><body>Done.</body></html>" } else { "<html><body>No such code.</body></html>" }));
    }
    if let Some(tenant) = parts.uri.path().strip_prefix('/').and_then(|p| p.strip_suffix(TOKEN_SUFFIX)) {
        state.stats.count("Graph token");
        let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let resource = format!("{}://{host}", if state.https { "https" } else { "http" });
        return Ok(json(graph::token(&state.graph, tenant, &String::from_utf8_lossy(&body), &resource)));
    }
    if parts.uri.path().starts_with("/v1.0/") {
        let request_no = state.stats.api_requests.fetch_add(1, Ordering::Relaxed) + 1;
        let stale_token = parts.uri.query().is_some_and(|q| q.contains("deltatoken"));
        let delta = parts.uri.path().ends_with("/delta");
        let fault = state.faults.take(request_no, |f| match f {
            Fault::InvalidSyncState | Fault::UnterminatedPage => stale_token,
            Fault::Unauthorized => delta,
            Fault::BusyFault => false,
            _ => TRANSPORT.contains(&f),
        });
        if let Some(response) = before_answer(&state, &connection, fault, false).await {
            return Ok(response);
        }
        let answer = match fault {
            Some(Fault::InvalidSyncState) => graph::Answer {
                status: 400,
                body: r#"{"error":{"code":"BadRequest","message":"Badly formed token."}}"#.into(),
                ..Default::default()
            },
            Some(Fault::UnterminatedPage) => {
                let mut answer = graph_get(&state, &parts);
                if let Ok(mut page) = serde_json::from_str::<serde_json::Value>(&answer.body)
                    && let Some(page) = page.as_object_mut()
                {
                    page.remove("@odata.nextLink");
                    page.remove("@odata.deltaLink");
                    answer.body = serde_json::Value::Object(page.clone()).to_string();
                }
                answer
            }
            _ if parts.uri.path() == "/v1.0/$batch" && parts.method == hyper::Method::POST => graph_batch(&state, &parts, &body),
            _ => graph_get(&state, &parts),
        };
        return Ok(after_answer(fault, json(answer)).await);
    }
    let path = parts.uri.path().to_ascii_lowercase();
    if path == autodiscover::POX_PATH || path == autodiscover::SOAP_PATH {
        return Ok(autodiscover(&state, &connection, &parts, &body, path == autodiscover::POX_PATH));
    }
    // Exchange's Default Web Site sends `/` to OWA, and OWA sends a client
    // without a session to its forms logon page (HTTP 302 both); the HTTP
    // layer of errors in reference/ews-and-graph-protocol.md (only a 302 to
    // genericerrorpage.htm is Exchange being unwell).
    if let Some(location) = owa_redirect(parts.uri.path()) {
        let mut response = page(StatusCode::FOUND, REDIRECT_PAGE);
        response.headers_mut().insert("location", location.parse().expect("an ASCII path"));
        return Ok(response);
    }
    if !parts.uri.path().eq_ignore_ascii_case(EWS_PATH) {
        return Ok(page(StatusCode::NOT_FOUND, NOT_FOUND_PAGE));
    }
    if let Some(refused) = signed_in(&parts.headers, &state, &connection) {
        return Ok(refused);
    }
    if parts.method != hyper::Method::POST {
        // EWS answers GET with its service description; clients only POST.
        return Ok(page(StatusCode::METHOD_NOT_ALLOWED, "<html><body>Use POST.</body></html>"));
    }
    let request_no = state.stats.api_requests.fetch_add(1, Ordering::Relaxed) + 1;
    let operation = ews::operation_name(&body);
    let fault = state.faults.take(request_no, |f| match f {
        Fault::InvalidSyncState => operation.as_deref() == Some("SyncFolderItems") && ews::has_sync_state(&body),
        Fault::VanishedItem => {
            operation.as_deref() == Some("GetItem") && body.windows(VANISHING.len()).any(|w| w == VANISHING.as_bytes())
        }
        // In the middle of a run: never the folder listing that starts one.
        Fault::Unauthorized => matches!(operation.as_deref(), Some("FindItem" | "GetItem" | "SyncFolderItems")),
        _ => TRANSPORT.contains(&f) || f == Fault::BusyMessage,
    });
    if let Some(response) = before_answer(&state, &connection, fault, true).await {
        return Ok(response);
    }
    let answer = {
        let primary = state.mailbox.read().unwrap_or_else(|p| p.into_inner());
        let colleagues = state.colleagues.read().unwrap_or_else(|p| p.into_inner());
        let all: Vec<&Mailbox> = std::iter::once(&*primary).chain(colleagues.iter()).collect();
        let directory = operation.as_deref().is_some_and(|op| ews::directory::OPERATIONS.contains(&op));
        // The account may open every mailbox (impersonation rights).
        let addressed = ews::mail::addressed(&body);
        let named = addressed.named;
        // Without the ApplicationImpersonation role the account may still
        // open the mailboxes it has FullAccess to, as a delegate.
        let denied = named.as_ref().is_some_and(|n| n.impersonated && !state.impersonation && n.address != state.user.to_lowercase());
        let chosen = match named {
            _ if denied => Err(String::new()),
            Some(named) => all.iter().find(|m| m.address == named.address).copied().ok_or(named.address),
            None => Ok(all.iter().find(|m| addressed.ids.iter().any(|id| ews::mail::holds(m, id))).copied().unwrap_or(&*primary)),
        };
        match chosen {
            _ if directory => ews::directory::handle(&all, &body, super::ROOM_LIST, state.mailbox_search),
            Ok(_) if !state.hierarchy_sync && operation.as_deref() == Some("SyncFolderHierarchy") => ews::Answer::unsupported("SyncFolderHierarchy"),
            Ok(mailbox) => ews::handle(mailbox, &body, &state.faults, fault, routed(&parts.headers, &state)),
            Err(_) if denied => ews::Answer::fault(
                "ErrorImpersonateUserDenied",
                "The account does not have permission to impersonate the requested user.",
                ews::operation_name(&body).unwrap_or_else(|| "Invalid".into()),
            ),
            // The code of reference/ews-and-graph-protocol.md 2.1; its
            // text there is for a mailbox guid, this one for an address is
            // ours.
            Err(address) => ews::Answer::fault(
                "ErrorNonExistentMailbox",
                &format!("The SMTP address has no mailbox associated with it: {address}"),
                ews::operation_name(&body).unwrap_or_else(|| "Invalid".into()),
            ),
        }
    };
    if !answer.downloads.is_empty() {
        state.stats.downloads.lock().unwrap_or_else(|p| p.into_inner()).extend(answer.downloads.iter().cloned());
    }
    if let Some(id) = &answer.vanished {
        state.mailbox.write().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
    state.stats.count(&answer.operation);
    if let Some(log) = &state.exchanges {
        let exchange = super::Exchange { operation: answer.operation.clone(), request: body.to_vec(), response: answer.body.clone() };
        log.lock().unwrap_or_else(|p| p.into_inner()).push(exchange);
    }
    let mut response = Response::new(full(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", "text/xml; charset=utf-8".parse().unwrap());
    headers.insert("x-feserver", "EXEMU01".parse().unwrap());
    headers.insert("x-aspnet-version", "4.0.30319".parse().unwrap());
    Ok(after_answer(fault, response).await)
}

/// Faults of the transport, the same for EWS and Graph.
const TRANSPORT: &[Fault] =
    &[Fault::Http503, Fault::Http429, Fault::Unauthorized, Fault::Slow, Fault::Reset, Fault::Truncated, Fault::Oversized, Fault::BusyFault];

/// Faults that replace the answer, or delay it.
async fn before_answer(
    state: &EmulatorState,
    connection: &super::auth::Connection,
    fault: Option<Fault>,
    ews: bool,
) -> Option<Response<Body>> {
    let mut response = match fault? {
        Fault::Http503 | Fault::Http429 => {
            let status = if fault == Some(Fault::Http503) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::TOO_MANY_REQUESTS };
            let mut response = page(status, "<html><body>The service is busy. Try again later.</body></html>");
            response.headers_mut().insert("retry-after", "1".parse().unwrap());
            response
        }
        Fault::Unauthorized if ews => {
            connection.forget();
            unauthorized(state, &super::auth::offers(state))
        }
        Fault::Unauthorized => json(graph::Answer {
            status: 401,
            body: r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}"#.into(),
            ..Default::default()
        }),
        Fault::BusyFault if ews => {
            let mut response = Response::new(full(ews::busy_fault()));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response.headers_mut().insert("content-type", "text/xml; charset=utf-8".parse().unwrap());
            response
        }
        Fault::Slow => {
            tokio::time::sleep(std::time::Duration::from_millis(state.faults.slow_ms)).await;
            return None;
        }
        _ => return None,
    };
    response.headers_mut().insert("x-emulator-fault", "injected".parse().unwrap());
    Some(response)
}

/// Faults that spoil an answer on its way out.
async fn after_answer(fault: Option<Fault>, response: Response<Body>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let bytes = match fault {
        Some(Fault::Reset | Fault::Truncated | Fault::Oversized) => body.collect().await.map(|b| b.to_bytes()).unwrap_or_default(),
        _ => return Response::from_parts(parts, body),
    };
    let half = bytes.slice(..bytes.len() / 2);
    let body = match fault {
        Some(Fault::Reset) => Failing { first: Some(half) }.boxed(),
        Some(Fault::Truncated) => full(half),
        // Past any sane client's cap: 65 MiB of nothing after the answer.
        _ => {
            let mut padded = bytes.to_vec();
            padded.resize(padded.len() + (65 << 20), b' ');
            full(padded)
        }
    };
    let mut parts = parts;
    parts.headers.remove("content-length");
    Response::from_parts(parts, body)
}

/// A body that sends its first part, then fails: the connection drops.
struct Failing {
    first: Option<Bytes>,
}

impl http_body::Body for Failing {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(match self.first.take() {
            Some(bytes) => Ok(http_body::Frame::data(bytes)),
            None => Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset")),
        }))
    }
}

/// Autodiscover for the emulator's domain, behind the same authentication
/// as EWS, at the scheme and host the client used.
fn autodiscover(
    state: &EmulatorState,
    connection: &super::auth::Connection,
    parts: &hyper::http::request::Parts,
    body: &[u8],
    pox: bool,
) -> Response<Body> {
    state.stats.count(if pox { "Autodiscover POX" } else { "Autodiscover SOAP" });
    if let Some(refused) = signed_in(&parts.headers, state, connection) {
        return refused;
    }
    if parts.method != hyper::Method::POST {
        return page(StatusCode::METHOD_NOT_ALLOWED, "<html><body>Use POST.</body></html>");
    }
    let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let base = format!("{}://{host}", if state.https { "https" } else { "http" });
    let user = state.user.as_str();
    let site = autodiscover::Site { base: &base, mailboxes: &[user] };
    let (status, xml) = if pox {
        (StatusCode::OK, autodiscover::pox(&site, body))
    } else {
        match autodiscover::soap(&site, body) {
            Ok(xml) => (StatusCode::OK, xml),
            Err(why) => (StatusCode::INTERNAL_SERVER_ERROR, ews::fault("ErrorInvalidRequest", &why)),
        }
    };
    let mut response = Response::new(full(xml.into_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "text/xml; charset=utf-8".parse().unwrap());
    response
}

/// The public folder routing headers, as Autodiscover gives them.
fn routed(headers: &hyper::HeaderMap, state: &EmulatorState) -> bool {
    let header = |name: &str| headers.get(name).and_then(|h| h.to_str().ok()).unwrap_or("").trim().to_string();
    !state.public_folder_routing
        || (header("x-anchormailbox").eq_ignore_ascii_case(autodiscover::PUBLIC_FOLDER_MAILBOX)
            && header("x-publicfoldermailbox").eq_ignore_ascii_case(autodiscover::PUBLIC_FOLDER_SERVER))
}

/// The 401 of a request the connection's sign-in does not let in, if so.
fn signed_in(headers: &hyper::HeaderMap, state: &EmulatorState, connection: &super::auth::Connection) -> Option<Response<Body>> {
    match super::auth::check(headers, state, connection) {
        Verdict::Allowed => None,
        Verdict::Refused(offers) => Some(unauthorized(state, &offers)),
        Verdict::Challenge(challenge) => {
            let mut response = unauthorized(state, &[challenge]);
            let request_no = state.stats.api_requests.load(Ordering::Relaxed);
            if state.faults.take(request_no, |f| f == Fault::CloseOnChallenge).is_some() {
                // hyper closes the connection after an answer saying so,
                // and the CHALLENGE goes with it.
                response.headers_mut().insert("connection", "close".parse().unwrap());
            }
            Some(response)
        }
    }
}

/// IIS's 401: a WWW-Authenticate header per scheme offered (or the
/// handshake's next token).
fn unauthorized(state: &EmulatorState, offers: &[String]) -> Response<Body> {
    state.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
    let mut response = page(StatusCode::UNAUTHORIZED, UNAUTHORIZED_PAGE);
    for offer in offers {
        if let Ok(value) = offer.parse() {
            response.headers_mut().append("www-authenticate", value);
        }
    }
    response
}

const REDIRECT_PAGE: &str = "<html><head><title>Object moved</title></head><body><h2>Object moved to here.</h2></body></html>";

/// Where Exchange's front end redirects a request for `path`, if it does.
fn owa_redirect(path: &str) -> Option<&'static str> {
    match path.to_ascii_lowercase().trim_end_matches('/') {
        "" => Some("/owa"),
        "/owa" => Some("/owa/auth/logon.aspx?url=%2fowa%2f&reason=0"),
        _ => None,
    }
}

fn page(status: StatusCode, html: &'static str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from_static(html.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "text/html".parse().unwrap());
    response
}

fn scripted_change(state: &EmulatorState, query: Option<&str>) -> Response<Body> {
    let n = query
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("n=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let (script, mail) = {
        let mut mailbox = state.mailbox.write().unwrap_or_else(|p| p.into_inner());
        (mailbox.scripted_change(n), mailbox.scripted_mail_change())
    };
    let body = serde_json::json!({
        "added": script.added, "changed": script.changed, "removed": script.removed,
        "mail": { "added": mail.added, "moved": mail.moved, "deleted": mail.deleted, "read": mail.read, "edited": mail.edited },
    });
    let mut response = Response::new(full(body.to_string()));
    response.headers_mut().insert("content-type", "application/json".parse().unwrap());
    response
}

fn graph_get(state: &EmulatorState, parts: &hyper::http::request::Parts) -> graph::Answer {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    graph_get_one(state, parts, path, header("prefer"))
}

/// `$batch`: its requests answered one by one, each as if sent alone
/// (throttled alone too), with the batch's authorization.
fn graph_batch(state: &EmulatorState, parts: &hyper::http::request::Parts, body: &[u8]) -> graph::Answer {
    state.stats.count("Graph POST");
    let answer = graph::answer_batch(body, |path, prefer| graph_get_one(state, parts, path, prefer));
    state.stats.count(answer.operation);
    answer
}

fn graph_get_one(state: &EmulatorState, parts: &hyper::http::request::Parts, path: &str, prefer: Option<&str>) -> graph::Answer {
    let served = state.stats.http_requests.load(Ordering::Relaxed);
    state.stats.count("Graph GET");
    if state.throttle_every.is_some_and(|n| served % n == 0) {
        state.stats.count("Graph throttled");
        return graph::throttled();
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = if state.https { "https" } else { "http" };
    let base = format!("{scheme}://{}", header("host").unwrap_or("localhost"));
    let primary = state.mailbox.read().unwrap_or_else(|p| p.into_inner());
    let colleagues = state.colleagues.read().unwrap_or_else(|p| p.into_inner());
    let all: Vec<&Mailbox> = std::iter::once(&*primary).chain(colleagues.iter()).collect();
    let answer = graph::get(&state.graph, &all, &state.user, &base, path, header("authorization"), prefer);
    if !answer.operation.is_empty() {
        state.stats.count(answer.operation);
    }
    if !answer.downloads.is_empty() {
        state.stats.downloads.lock().unwrap_or_else(|p| p.into_inner()).extend(answer.downloads.iter().cloned());
    }
    answer
}

fn json(answer: graph::Answer) -> Response<Body> {
    let (body, content_type) = match answer.raw {
        Some((bytes, content_type)) => (bytes, content_type),
        None => (answer.body.into_bytes(), "application/json; odata.metadata=minimal".to_string()),
    };
    let mut response = Response::new(full(body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = content_type.parse().unwrap_or_else(|_| "application/octet-stream".parse().expect("a header value"));
    response.headers_mut().insert("content-type", content_type);
    if let Some(seconds) = answer.retry_after {
        response.headers_mut().insert("retry-after", seconds.into());
    }
    response
}
