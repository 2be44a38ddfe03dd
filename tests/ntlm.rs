//! Windows authentication as Exchange ships it, judged by independent
//! clients: the emulator's 401 offers Negotiate and NTLM and no Basic;
//! exchangelib 5.6.0 (requests_ntlm and pyspnego: NTLMv2 with the MIC and,
//! over HTTPS, the channel binding) reads it over HTTP and over HTTPS with
//! Extended Protection required; curl's NTLM, which sends no channel
//! binding on Linux, is let in when EP allows it and refused when EP
//! requires it, and a wrong password is refused.

use helpdesk_host::emulator::auth::Schemes;
use helpdesk_host::emulator::ntlm::Epa;
use helpdesk_host::emulator::{Emulator, EmulatorOptions};
use std::path::Path;
use std::process::Command;

const WINDOWS: Schemes = Schemes::WINDOWS;

async fn emulator(tls: bool, epa: Epa) -> Emulator {
    Emulator::start(EmulatorOptions { contacts: 120, seed: 41, tls, epa, auth: WINDOWS, public_folder_routing: false, ..Default::default() })
        .await
        .unwrap()
}

const GET_FOLDER: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header><t:RequestServerVersion Version="Exchange2016"/></soap:Header><soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="contacts"/></m:FolderIds></m:GetFolder></soap:Body></soap:Envelope>"#;

/// curl's status and `WWW-Authenticate` headers for a GetFolder POST.
fn curl(emulator: &Emulator, args: &[&str], ca: Option<&Path>) -> (u16, Vec<String>) {
    let body = GET_FOLDER;
    let mut command = Command::new("curl");
    command.args(["-sS", "--http1.1", "-o", "/dev/null", "-D", "-", "-H", "Content-Type: text/xml; charset=utf-8", "--data", body]);
    command.args(args);
    if let Some(ca) = ca {
        command.arg("--cacert").arg(ca);
    }
    let out = command.arg(emulator.endpoint()).output().expect("curl runs (CI installs it)");
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // The last response of the handshake.
    let last = text.rsplit("HTTP/1.1 ").next().unwrap_or_default();
    let status = last.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let offers = last
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, value)| value.trim().to_string())
        .collect();
    (status, offers)
}

/// The emulator as it starts with no options, as Exchange ships.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_401_offers_negotiate_and_ntlm_and_no_basic() {
    let e = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let basic = format!("{}:{}", e.user(), e.password());
    let (status, offers) = tokio::task::block_in_place(|| curl(&e, &["--basic", "-u", &basic], None));
    assert_eq!(status, 401);
    assert_eq!(offers, ["Negotiate", "NTLM"]);
    let (status, _) = tokio::task::block_in_place(|| curl(&e, &["--ntlm", "-u", &basic], None));
    assert_eq!(status, 200, "curl's NTLMv2 is let in");
    let wrong = format!("{}:not-the-password", e.user());
    let (status, offers) = tokio::task::block_in_place(|| curl(&e, &["--ntlm", "-u", &wrong], None));
    assert_eq!((status, offers.as_slice()), (401, &["Negotiate".to_string(), "NTLM".to_string()][..]), "a wrong password starts over");
    let down_level = format!("EXAMPLE\\{}:{}", e.user().split('@').next().unwrap(), e.password());
    let (status, _) = tokio::task::block_in_place(|| curl(&e, &["--ntlm", "-u", &down_level], None));
    assert_eq!(status, 200, "DOMAIN\\user works as the UPN does");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_channel_binding_is_refused_only_when_epa_requires_it() {
    let dir = tempfile::tempdir().unwrap();
    for (epa, expected) in [(Epa::Allow, 200), (Epa::Require, 401), (Epa::Off, 200)] {
        let e = emulator(true, epa).await;
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, e.ca_pem.as_ref().unwrap()).unwrap();
        let credentials = format!("{}:{}", e.user(), e.password());
        let (status, _) = tokio::task::block_in_place(|| curl(&e, &["--ntlm", "-u", &credentials], Some(&ca)));
        assert_eq!(status, expected, "curl (no channel binding) with EPA {epa:?}");
    }
}

/// exchangelib over NTLM reads the Contacts folder: exactly the emulator's
/// contacts there, over HTTP, and over HTTPS with EPA required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchangelib_reads_the_emulator_over_ntlm_with_and_without_tls() {
    let Some(python) = helpdesk_e2e::exchangelib_python(Path::new(env!("CARGO_TARGET_TMPDIR"))) else { return };
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("exchangelib_read.py");
    for tls in [false, true] {
        let e = emulator(tls, Epa::Require).await;
        let ca = dir.path().join("ca.pem");
        if let Some(pem) = &e.ca_pem {
            std::fs::write(&ca, pem).unwrap();
        }
        let mut command = Command::new(&python);
        command.arg(&script).args([e.endpoint().as_str(), e.user(), e.password(), "ntlm"]);
        if tls {
            command.env("REQUESTS_CA_BUNDLE", &ca);
        }
        let output = tokio::task::block_in_place(|| command.output().unwrap());
        assert!(output.status.success(), "exchangelib over NTLM (tls {tls}): {}", String::from_utf8_lossy(&output.stderr));
        let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let mailbox = e.mailbox();
        let contacts = mailbox.distinguished("contacts").unwrap();
        let folder = &read["folders"][contacts.id.as_str()];
        let truth = mailbox.contacts.iter().filter(|c| c.kind == "Contact" && c.folder_id == contacts.id).count();
        assert_eq!(folder["contacts"].as_array().map(Vec::len), Some(truth), "tls {tls}: {folder}");
        assert!(truth > 20);
    }
}

/// The plugin syncs over NTLM, the host signing in on each connection:
/// over HTTP, and over HTTPS with Extended Protection required. Users
/// equal the emulator's truth; one handshake per connection, not per
/// request; a wrong password is an authentication error and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_syncs_over_ntlm_one_handshake_per_connection() {
    let runtime = helpdesk_host::runtime::Runtime::shared().unwrap();
    for tls in [false, true] {
        let s = helpdesk_e2e::setup_with(EmulatorOptions { contacts: 300, seed: 42, tls, epa: Epa::Require, auth: WINDOWS, ..Default::default() }).await;
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        if let Some(pem) = &s.emulator.ca_pem {
            std::fs::write(&ca, pem).unwrap();
        }
        let connection = s.connection_with(|c| {
            c.exchange.auth = Some("ntlm".into());
            if tls {
                c.exchange.tls.ca_file = Some(ca.clone());
            }
        });
        assert_eq!(connection.check_signed_in(&runtime).await.unwrap().1, "NTLM");
        let summary = connection.sync(&runtime, &s.store, helpdesk_host::runtime::types::SyncMode::Full, false).await.unwrap();
        assert_eq!(summary.counts.created + summary.counts.skipped, 300, "tls {tls}: {:?}", summary.warnings);
        helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());
        // Each 401 is one handshake's challenge, on a connection of its own.
        let handshakes = s.emulator.stats().unauthorized.load(std::sync::atomic::Ordering::Relaxed);
        assert!(handshakes <= 16, "tls {tls}: {handshakes} handshakes for {} requests", summary.requests);
        assert!(summary.requests > 20);

        let wrong = s.connection_with(|c| {
            c.exchange.auth = Some("ntlm".into());
            c.exchange.password = Some("not-the-password".into());
            if tls {
                c.exchange.tls.ca_file = Some(ca.clone());
            }
        });
        let before = s.store.users().unwrap();
        let refused_before = s.emulator.stats().unauthorized.load(std::sync::atomic::Ordering::Relaxed);
        let error = wrong.sync(&runtime, &s.store, helpdesk_host::runtime::types::SyncMode::Full, false).await.unwrap_err();
        assert_eq!(error.kind, "authentication", "{error}");
        assert!(error.message.contains("refused the NTLM sign-in of svc-helpdesk@example.com"), "{error}");
        assert!(error.message.contains(&format!("{}", s.emulator.addr.port())), "names the endpoint: {error}");
        assert!(!error.message.contains("TlRMTVNT") && !error.message.contains("not-the-password"), "no token, no secret: {error}");
        let refused = s.emulator.stats().unauthorized.load(std::sync::atomic::Ordering::Relaxed) - refused_before;
        assert!(refused <= 2, "one handshake (challenge and refusal), not {refused} 401s");
        assert_eq!(format!("{:?}", s.store.users().unwrap()), format!("{before:?}"), "nothing written");
    }
}

/// `auto` signs in with what the server offers, NTLM before Basic (NTLM
/// inside Negotiate where only that is offered); `basic`
/// against a server without Basic is told what it offers and what to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_takes_ntlm_before_basic_and_basic_alone_is_told_what_is_offered() {
    let runtime = helpdesk_host::runtime::Runtime::shared().unwrap();
    let both = Schemes { basic: true, ..Schemes::WINDOWS };
    let negotiate = Schemes { negotiate_only: true, ..Schemes::WINDOWS };
    for (offered, expected) in [(WINDOWS, "NTLM"), (both, "NTLM"), (negotiate, "NTLM"), (Schemes::BASIC, "Basic")] {
        let s = helpdesk_e2e::setup_with(EmulatorOptions { contacts: 80, seed: 43, auth: offered, ..Default::default() }).await;
        let connection = s.connection_with(|c| c.exchange.auth = Some("auto".into()));
        assert_eq!(connection.check_signed_in(&runtime).await.unwrap().1, expected, "{offered:?}");
        let summary = connection.sync(&runtime, &s.store, helpdesk_host::runtime::types::SyncMode::Full, false).await.unwrap();
        assert_eq!(summary.counts.created + summary.counts.skipped, 80, "{offered:?}: {:?}", summary.warnings);
        helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());
    }
    let s = helpdesk_e2e::setup_with(EmulatorOptions { contacts: 10, seed: 44, auth: WINDOWS, ..Default::default() }).await;
    let error = s.connection_with(|c| c.exchange.auth = Some("basic".into())).check(&runtime).await.unwrap_err();
    assert_eq!(error.kind, "authentication", "{error}");
    assert!(error.message.contains("offers Negotiate, NTLM and no Basic") && error.message.contains("auth = \"auto\""), "{error}");
}

/// NTLM signs in a connection: an AUTHENTICATE that answered one
/// connection's CHALLENGE is refused on another, sent alone or after a
/// CHALLENGE of its own, and still works where its CHALLENGE went out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticate_replayed_on_another_connection_is_refused() {
    use base64::Engine as _;
    use helpdesk_host::capabilities::ntlm;
    let e = Emulator::start(EmulatorOptions { contacts: 5, seed: 45, ..Default::default() }).await.unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let token = |message: &[u8]| format!("NTLM {}", b64.encode(message));
    let negotiate = ntlm::negotiate();

    let mut first = Raw::open(&e).await;
    let (status, offers) = first.post(Some(&token(&negotiate))).await;
    assert_eq!(status, 401);
    let challenge = b64.decode(offers[0].strip_prefix("NTLM ").expect("a CHALLENGE")).unwrap();
    let credentials = ntlm::Credentials::parse(e.user(), e.password());
    let spn = format!("HTTP/{}:{}", e.addr.ip(), e.addr.port());
    let target = ntlm::Target { spn: &spn, certificate: None };
    let authenticate = token(&ntlm::authenticate(&credentials, &negotiate, &challenge, &target, &ntlm::Nonce::fresh()).unwrap());

    let mut other = Raw::open(&e).await;
    assert_eq!(other.post(Some(&authenticate)).await, (401, vec!["Negotiate".into(), "NTLM".into()]), "no CHALLENGE went out here");
    let (status, _) = other.post(Some(&token(&negotiate))).await;
    assert_eq!(status, 401);
    assert_eq!(other.post(Some(&authenticate)).await, (401, vec!["Negotiate".into(), "NTLM".into()]), "another CHALLENGE's answer");
    assert_eq!(other.post(None).await.0, 401, "and the connection is not signed in");

    assert_eq!(first.post(Some(&authenticate)).await.0, 200, "the AUTHENTICATE is good where its CHALLENGE went out");
    assert_eq!(first.post(None).await.0, 200, "and signs that connection in");
}

/// A server that loses a connection's sign-in in the middle of a run (a
/// bare 401 on a signed-in connection), or closes the connection with the
/// CHALLENGE: the host signs in again on a new connection, once, and the
/// plugin never sees it: the same requests and warnings as a run without
/// the fault, and the same users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_sign_in_or_a_closed_challenge_is_signed_in_again_on_a_new_connection() {
    let runtime = helpdesk_host::runtime::Runtime::shared().unwrap();
    let run = async |faults: Option<&str>| {
        let s = helpdesk_e2e::setup_with(EmulatorOptions { contacts: 150, seed: 46, faults: faults.map(Into::into), ..Default::default() }).await;
        let summary = s.connection.sync(&runtime, &s.store, helpdesk_host::runtime::types::SyncMode::Full, false).await.unwrap_or_else(|e| panic!("{faults:?}: {e}"));
        assert!(s.emulator.pending_faults().is_empty(), "{faults:?} fired");
        helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());
        let port = s.emulator.addr.port().to_string();
        let warnings: Vec<String> = summary.warnings.iter().map(|w| w.replace(&port, "PORT")).collect();
        (summary.requests, summary.counts.created, warnings)
    };
    let clean = run(None).await;
    for fault in ["unauthorized", "close-on-challenge"] {
        assert_eq!(run(Some(fault)).await, clean, "{fault}");
    }
}

/// One HTTP/1.1 connection to the emulator's EWS, kept across requests.
struct Raw {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    endpoint: String,
}

impl Raw {
    async fn open(e: &Emulator) -> Raw {
        let stream = tokio::net::TcpStream::connect(e.addr).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        Raw { sender, endpoint: e.endpoint() }
    }

    /// A GetFolder of the Contacts folder: status and `WWW-Authenticate` values.
    async fn post(&mut self, authorization: Option<&str>) -> (u16, Vec<String>) {
        use http_body_util::BodyExt as _;
        let uri: hyper::Uri = self.endpoint.parse().unwrap();
        let mut request = hyper::Request::post(uri.path()).header("host", uri.authority().unwrap().as_str()).header("content-type", "text/xml; charset=utf-8");
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        self.sender.ready().await.unwrap();
        let response = self.sender.send_request(request.body(http_body_util::Full::new(GET_FOLDER.into())).unwrap()).await.unwrap();
        let offers = response.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap().to_string()).collect();
        let status = response.status().as_u16();
        response.into_body().collect().await.unwrap();
        (status, offers)
    }
}
