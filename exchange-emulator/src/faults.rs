//! Fault injection: what real Exchange servers and networks do now and
//! then, each planned once at a request number drawn from the seed, so a
//! run can be repeated. `--faults all` or a comma-separated list.

use anyhow::{Result, bail};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// ErrorServerBusy as a SOAP fault, HTTP 500, back-off in the detail
    BusyFault,
    /// ErrorServerBusy in a response message of an HTTP 200
    BusyMessage,
    /// IIS queueing: HTTP 503 with Retry-After
    Http503,
    /// HTTP 429 with Retry-After
    Http429,
    /// the connection drops in the middle of the body
    Reset,
    /// the answer comes later than the client waits
    Slow,
    /// HTTP 401 once, in the middle of a run. On EWS the connection's
    /// sign-in is lost with it and the 401 offers the configured schemes
    /// again, as when a load balancer without affinity hands a kept-alive
    /// connection to another server (../shared is silent on when servers
    /// do this; reference/ntlm.md 4 plans the client's answer)
    Unauthorized,
    /// the first NTLM CHALLENGE comes with `Connection: close`, so the
    /// handshake must start over on a new connection (reference/ntlm.md 2:
    /// ".NET does this"; which servers send it, ../shared does not say)
    CloseOnChallenge,
    /// a sync state the server no longer accepts (EWS), a delta token (Graph)
    InvalidSyncState,
    /// an item deleted between FindItem and GetItem
    VanishedItem,
    /// one item whose XML is broken, every time
    BrokenItem,
    /// the first ordinary message of each mailbox's Inbox: its GetItem XML
    /// is broken until the emulator is told it is mended
    /// ([`Faults::mend_message`]), a failure that passes
    BrokenMessage,
    /// character references XML 1.0 forbids, in one contact's name
    BadChars,
    /// a body cut short, with a matching Content-Length
    Truncated,
    /// a body larger than any client should accept
    Oversized,
    /// Graph: a delta page with neither `@odata.nextLink` nor
    /// `@odata.deltaLink`. Graph pages a round "until a page carries
    /// `@odata.deltaLink`" (reference/ews-and-graph-protocol.md, paging);
    /// this is a malformed answer, not a behaviour of Graph's
    UnterminatedPage,
}

pub const ALL: &[(Fault, &str)] = &[
    (Fault::BusyFault, "busy-fault"),
    (Fault::BusyMessage, "busy-message"),
    (Fault::Http503, "http-503"),
    (Fault::Http429, "http-429"),
    (Fault::Reset, "reset"),
    (Fault::Slow, "slow"),
    (Fault::Unauthorized, "unauthorized"),
    (Fault::InvalidSyncState, "invalid-sync-state"),
    (Fault::VanishedItem, "vanished-item"),
    (Fault::BrokenItem, "broken-item"),
    (Fault::BrokenMessage, "broken-message"),
    (Fault::BadChars, "bad-chars"),
    (Fault::Truncated, "truncated"),
    (Fault::Oversized, "oversized"),
    (Fault::UnterminatedPage, "unterminated-page"),
    (Fault::CloseOnChallenge, "close-on-challenge"),
];

/// Faults `all` leaves out: they exist on one protocol or sign-in only and
/// would never fire on the others (named one by one, they are planned as
/// usual).
const NOT_IN_ALL: &[Fault] = &[Fault::UnterminatedPage, Fault::CloseOnChallenge];

/// Faults that happen to one request and pass.
const ONCE: &[Fault] = &[
    Fault::BusyFault,
    Fault::BusyMessage,
    Fault::Http503,
    Fault::Http429,
    Fault::Reset,
    Fault::Slow,
    Fault::Unauthorized,
    Fault::Truncated,
    Fault::Oversized,
    Fault::InvalidSyncState,
    Fault::VanishedItem,
    Fault::UnterminatedPage,
    Fault::CloseOnChallenge,
];

#[derive(Default)]
pub struct Faults {
    /// (fault, the request from which on it may fire, fired)
    planned: Mutex<Vec<(Fault, u64, bool)>>,
    /// persistent faults
    pub broken_item: bool,
    /// until mended: each Inbox's first ordinary message
    broken_message: std::sync::atomic::AtomicBool,
    pub vanishing_item: bool,
    pub bad_chars: bool,
    /// the contact whose name carries the forbidden characters
    pub bad_chars_id: Option<String>,
    /// how long a slow answer takes
    pub slow_ms: u64,
}

impl Faults {
    pub fn parse(spec: &str, seed: u64) -> Result<Faults> {
        let mut chosen = Vec::new();
        for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                chosen.extend(ALL.iter().map(|(f, _)| *f).filter(|f| !NOT_IN_ALL.contains(f)));
                continue;
            }
            match ALL.iter().find(|(_, n)| *n == name) {
                Some((fault, _)) => chosen.push(*fault),
                None => bail!(
                    "unknown fault '{name}'; the faults are: all, {}",
                    ALL.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        let mut state = seed ^ 0xFA17_5EED;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        // The vanished item fires at the first GetItem that asks for it,
        // the closed challenge at the first handshake.
        let first_chance = [Fault::VanishedItem, Fault::CloseOnChallenge];
        let planned = chosen
            .iter()
            .filter(|f| ONCE.contains(f))
            .map(|f| (*f, if first_chance.contains(f) { 0 } else { 2 + next() % 24 }, false))
            .collect();
        Ok(Faults {
            planned: Mutex::new(planned),
            broken_item: chosen.contains(&Fault::BrokenItem),
            broken_message: chosen.contains(&Fault::BrokenMessage).into(),
            vanishing_item: chosen.contains(&Fault::VanishedItem),
            bad_chars: chosen.contains(&Fault::BadChars),
            bad_chars_id: None,
            slow_ms: 3000,
        })
    }

    /// The fault to inject into request number `request` (counted from 1)
    /// if one is due and `applies` to this request; each fires once.
    pub fn take(&self, request: u64, applies: impl Fn(Fault) -> bool) -> Option<Fault> {
        let mut planned = self.planned.lock().unwrap();
        let due = planned.iter_mut().find(|(fault, at, fired)| !*fired && request >= *at && applies(*fault))?;
        due.2 = true;
        Some(due.0)
    }

    /// Whether the broken message is still broken.
    pub fn message_broken(&self) -> bool {
        self.broken_message.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The broken message reads again.
    pub fn mend_message(&self) {
        self.broken_message.store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Faults planned but not yet fired.
    pub fn pending(&self) -> Vec<Fault> {
        self.planned.lock().unwrap().iter().filter(|(_, _, fired)| !fired).map(|(f, _, _)| *f).collect()
    }
}
