//! A built-in Exchange emulator, so that everything runs without a real
//! server: EWS over HTTP on loopback, seeded deterministic data.

// Graph's contact has some fifty properties: one json! literal.
#![recursion_limit = "256"]

pub mod auth;
pub mod autodiscover;
pub mod data;
pub mod escape;
pub mod faults;
pub mod ews;
pub mod graph;
pub mod ntlm;
pub mod server;
pub mod state_token;
pub mod tls;
pub mod zones;

use anyhow::{Context, Result};
use data::Mailbox;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::net::TcpListener;

pub const DEFAULT_USER: &str = "svc-helpdesk@example.com";
pub const DEFAULT_PASSWORD: &str = "emulator-secret";

#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    pub listen: SocketAddr,
    pub contacts: usize,
    pub seed: u64,
    pub user: String,
    pub password: String,
    /// serve HTTPS with a freshly made CA
    pub tls: bool,
    /// how long Graph access tokens live
    pub token_lifetime: std::time::Duration,
    /// answer every n-th Graph request with 429 and `Retry-After`
    pub throttle_every: Option<u64>,
    /// expire the token of every n-th Graph request
    pub expire_every: Option<u64>,
    /// faults to inject (`all` or a list), planned from `seed`
    pub faults: Option<String>,
    pub layout: data::Layout,
    /// the language of the mailbox's default folder names
    pub language: data::Language,
    /// keep every EWS request and answer, for an independent party to check
    pub record: bool,
    /// seconds between device-code polls the token endpoint asks for
    pub device_interval: u64,
    /// public-folder requests need X-AnchorMailbox and X-PublicFolderMailbox,
    /// as on Exchange 2013 and later; off is the easy setup (a single
    /// server, or a client such as exchangelib that does not route)
    pub public_folder_routing: bool,
    /// the schemes EWS and Autodiscover accept
    pub auth: auth::Schemes,
    /// Extended Protection, checked over TLS
    pub epa: ntlm::Epa,
    /// ordinary messages in each mailbox, beside the special ones
    pub messages: usize,
    /// the service account holds the ApplicationImpersonation role (the
    /// organisation set it up for the connector; ../shared does not say
    /// what to assume); without it, it opens the other mailboxes as a
    /// delegate with FullAccess, and impersonating them is refused with
    /// ErrorImpersonateUserDenied (reference/ews-and-graph-protocol.md 2.1)
    pub impersonation: bool,
    /// SyncFolderHierarchy is served, as mailbox folders have it
    /// (reference/ews-and-graph-protocol.md, "Folder changes
    /// incrementally: SyncFolderHierarchy"); off, it is refused as an
    /// operation the server does not know, to show a client's fallback.
    /// Not in ../shared, and ours: a server without it, and the form of
    /// that refusal (the unknown-operation fault, `Answer::unsupported`)
    pub hierarchy_sync: bool,
    /// the service account holds the Mailbox Search role (eDiscovery), so
    /// that GetSearchableMailboxes lists the organisation's mailboxes; set
    /// up for the connector, as impersonation is
    pub mailbox_search: bool,
    /// more people's mailboxes (`staff-001@example.com`, ...), each with
    /// `messages` ordinary messages and a calendar: a large organisation
    pub staff: usize,
}

/// The colleague whose mailbox the service account may open as well.
pub const COLLEAGUE: &str = "bob@example.com";
/// The support team's shared mailbox (its account disabled, as Exchange
/// makes them); its member is the colleague.
pub const SHARED_MAILBOX: &str = "support@example.com";
/// A room mailbox, in the room list `ROOM_LIST`.
pub const ROOM_MAILBOX: &str = "room-1@example.com";
pub const ROOM_LIST: &str = "rooms@example.com";
/// The start of the staff's addresses.
pub const STAFF_PREFIX: &str = "staff-";

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            contacts: 100,
            seed: 1,
            user: DEFAULT_USER.into(),
            password: DEFAULT_PASSWORD.into(),
            tls: false,
            token_lifetime: std::time::Duration::from_secs(3600),
            throttle_every: None,
            expire_every: None,
            faults: None,
            layout: data::Layout::Demo,
            language: data::Language::English,
            record: false,
            messages: 30,
            impersonation: true,
            hierarchy_sync: true,
            mailbox_search: true,
            staff: 0,
            device_interval: 5,
            public_folder_routing: true,
            // Exchange 2016 and later: Windows authentication, Basic off.
            auth: auth::Schemes::WINDOWS,
            epa: ntlm::Epa::Allow,
        }
    }
}

/// Requests the emulator served, by operation.
#[derive(Default)]
pub struct Stats {
    pub http_requests: AtomicU64,
    /// EWS and Graph API requests (not token requests), counted from 1
    pub api_requests: AtomicU64,
    pub unauthorized: AtomicU64,
    /// the names of the attachments GetAttachment sent, in order
    pub downloads: Mutex<Vec<String>>,
    operations: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    fn count(&self, operation: &str) {
        *self.operations.lock().unwrap().entry(operation.to_string()).or_default() += 1;
    }

    pub fn operations(&self) -> BTreeMap<String, u64> {
        self.operations.lock().unwrap().clone()
    }
}

/// One EWS request and its answer, as they went over the wire.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub operation: String,
    pub request: Vec<u8>,
    pub response: Vec<u8>,
}

pub struct EmulatorState {
    pub public_folder_routing: bool,
    /// with [`EmulatorOptions::record`]: every EWS exchange, in order
    pub exchanges: Option<Mutex<Vec<Exchange>>>,
    pub mailbox: RwLock<Mailbox>,
    /// the other mailboxes of the organisation, with their mail
    pub colleagues: RwLock<Vec<Mailbox>>,
    pub impersonation: bool,
    pub hierarchy_sync: bool,
    pub mailbox_search: bool,
    pub user: String,
    pub password: String,
    pub stats: Stats,
    pub graph: graph::GraphState,
    pub https: bool,
    pub throttle_every: Option<u64>,
    pub faults: faults::Faults,
    pub auth: auth::Schemes,
    pub epa: ntlm::Epa,
    /// the channel binding of the TLS certificate
    pub binding: Option<[u8; 16]>,
}

pub struct Emulator {
    pub addr: SocketAddr,
    /// the CA of the HTTPS certificate, as PEM, when serving HTTPS
    pub ca_pem: Option<String>,
    state: Arc<EmulatorState>,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    pub async fn start(options: EmulatorOptions) -> Result<Emulator> {
        let listener = TcpListener::bind(options.listen).await.with_context(|| format!("binding {}", options.listen))?;
        let addr = listener.local_addr()?;
        let mut faults = match &options.faults {
            Some(spec) => faults::Faults::parse(spec, options.seed)?,
            None => faults::Faults::default(),
        };
        let mut mailbox = Mailbox::seeded_with(options.contacts, options.seed, options.layout);
        mailbox.localise(options.language);
        if faults.broken_item {
            mailbox.add_fault_item(data::BROKEN_ITEM_ID, "Broken");
        }
        if faults.vanishing_item {
            mailbox.add_fault_item(data::VANISHING_ITEM_ID, "Vanishing");
        }
        if faults.bad_chars {
            faults.bad_chars_id = mailbox.contacts.iter().find(|c| c.kind == "Contact" && !c.emails.is_empty()).map(|c| c.id.clone());
        }
        // Mail after contacts, so that contacts do not depend on it.
        mailbox.seed_mail(data::mail::Owner::Service, &options.user, options.messages);
        mailbox.seed_calendar(true);
        mailbox.display_name = "Helpdesk Service".into();
        let mut colleague = Mailbox::seeded_with(0, options.seed ^ 0xB0B, data::Layout::Flat(1));
        colleague.localise(data::Language::German);
        colleague.seed_mail(data::mail::Owner::Colleague, COLLEAGUE, options.messages);
        colleague.seed_calendar(false);
        colleague.display_name = "Bob Baumann".into();
        // The support team's shared mailbox: Bob reads it. Over Graph it
        // also stands in for the public folders (its contacts are the EWS
        // side's shared address book).
        let mut shared = Mailbox::seeded_with(0, options.seed ^ 0x5A4E, data::Layout::Flat(1));
        shared.seed_mail(data::mail::Owner::Shared, SHARED_MAILBOX, 0);
        shared.seed_calendar(false);
        shared.grant(COLLEAGUE, "Bob Baumann", "Reviewer");
        shared.kind = data::MailboxKind::Shared;
        shared.display_name = "Support".into();
        let mut room = Mailbox::seeded_with(0, options.seed ^ 0x2001, data::Layout::Flat(1));
        room.seed_mail(data::mail::Owner::Room, ROOM_MAILBOX, 0);
        room.seed_calendar(false);
        room.seed_room_booking();
        room.kind = data::MailboxKind::Room;
        room.display_name = "Room 1".into();
        let staff: Vec<Mailbox> = (1..=options.staff)
            .map(|n| {
                let mut member = Mailbox::seeded_with(0, options.seed ^ (0x57AF_0000 + n as u64), data::Layout::Flat(1));
                member.seed_mail(data::mail::Owner::Staff, &format!("{STAFF_PREFIX}{n:03}@example.com"), options.messages);
                member.seed_calendar(false);
                member.display_name = format!("Staff member {n}");
                member
            })
            .collect();
        let tls = if options.tls { Some(tls::generate()?) } else { None };
        let binding = tls.as_ref().map(|t| ntlm::binding_of(&t.certificate_der));
        let state = Arc::new(EmulatorState {
            exchanges: options.record.then(Default::default),
            public_folder_routing: options.public_folder_routing,
            mailbox: RwLock::new(mailbox),
            colleagues: RwLock::new([colleague, shared, room].into_iter().chain(staff).collect()),
            impersonation: options.impersonation,
            hierarchy_sync: options.hierarchy_sync,
            mailbox_search: options.mailbox_search,
            user: options.user,
            password: options.password,
            stats: Stats::default(),
            graph: graph::GraphState::new(options.token_lifetime, options.expire_every).with_device_interval(options.device_interval),
            https: options.tls,
            throttle_every: options.throttle_every,
            faults,
            auth: options.auth,
            epa: options.epa,
            binding,
        });
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = shared.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(stream) => serve_connection(stream, state).await,
                            Err(e) => tracing::debug!("emulator TLS handshake failed: {e}"),
                        },
                        None => serve_connection(stream, state).await,
                    }
                });
            }
        });
        Ok(Emulator { addr, ca_pem, state, task })
    }

    /// The EWS URL; with HTTPS under the name the certificate carries.
    pub fn endpoint(&self) -> String {
        match self.ca_pem {
            Some(_) => format!("https://localhost:{}{}", self.addr.port(), server::EWS_PATH),
            None => format!("http://{}{}", self.addr, server::EWS_PATH),
        }
    }

    /// The base of the Graph and token endpoints (`{base}/v1.0/...`,
    /// `{base}/{tenant}/oauth2/v2.0/token`).
    pub fn graph_base(&self) -> String {
        match self.ca_pem {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        }
    }

    /// The user approves (or declines) a device-code sign-in with the code
    /// they were shown; false for an unknown code.
    pub fn answer_device_code(&self, user_code: &str, approve: bool) -> bool {
        self.state.graph.answer_device_code(user_code, approve)
    }

    /// A refresh token for the delegated flow.
    pub fn grant_refresh_token(&self) -> String {
        self.state.graph.grant_refresh_token()
    }

    pub fn user(&self) -> &str {
        &self.state.user
    }

    pub fn password(&self) -> &str {
        &self.state.password
    }

    pub fn mailbox(&self) -> RwLockReadGuard<'_, Mailbox> {
        self.state.mailbox.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the data between runs.
    /// The organisation's other mailboxes.
    pub fn colleagues(&self) -> RwLockReadGuard<'_, Vec<Mailbox>> {
        self.state.colleagues.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The organisation removes a mailbox (its user left, the room was
    /// given up): gone from EWS and from Graph. False if there was none.
    pub fn remove_mailbox(&self, address: &str) -> bool {
        let mut colleagues = self.state.colleagues.write().unwrap_or_else(|p| p.into_inner());
        let before = colleagues.len();
        colleagues.retain(|m| !m.address.eq_ignore_ascii_case(address));
        colleagues.len() < before
    }

    /// The names of the attachments GetAttachment has sent.
    pub fn downloads(&self) -> Vec<String> {
        self.state.stats.downloads.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn mailbox_mut(&self) -> RwLockWriteGuard<'_, Mailbox> {
        self.state.mailbox.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// Faults planned that have not fired yet.
    /// The broken-message fault's message reads again.
    pub fn mend_message(&self) {
        self.state.faults.mend_message();
    }

    pub fn pending_faults(&self) -> Vec<faults::Fault> {
        self.state.faults.pending()
    }

    /// The EWS exchanges so far, when recording.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.exchanges.as_ref().map(|log| log.lock().unwrap().clone()).unwrap_or_default()
    }

    pub fn requests(&self) -> u64 {
        self.state.stats.http_requests.load(Ordering::Relaxed)
    }
}

async fn serve_connection<S>(stream: S, state: Arc<EmulatorState>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // NTLM authenticates the connection: its state lives as long as it.
    let connection = Arc::new(auth::Connection::default());
    let service = hyper::service::service_fn(move |request| server::serve(request, state.clone(), connection.clone()));
    let connection = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service);
    if let Err(e) = connection.await {
        tracing::debug!("emulator connection ended: {e}");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
