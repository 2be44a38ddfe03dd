//! Windows authentication as IIS does it in front of EWS and Autodiscover
//! (reference/ntlm.md section 1): the 401 offers `Negotiate` and `NTLM`
//! (and `Basic` when it is on); NTLM authenticates the TCP connection,
//! not a request, so its state lives with the connection: a CHALLENGE
//! answered on another connection fails, and later requests on an
//! authenticated one need no header.

use super::EmulatorState;
use super::ntlm::{self, Sent};
use base64::Engine as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which schemes the EWS virtual directory accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schemes {
    /// Windows authentication: `Negotiate` (carrying NTLM) and `NTLM`
    pub ntlm: bool,
    pub basic: bool,
    /// Windows authentication offered as `Negotiate` alone, as IIS does
    /// with the NTLM provider removed (it still takes NTLMSSP in it)
    pub negotiate_only: bool,
}

impl Schemes {
    /// Exchange's default: Negotiate and NTLM, no Basic.
    pub const WINDOWS: Schemes = Schemes { ntlm: true, basic: false, negotiate_only: false };
    pub const BASIC: Schemes = Schemes { ntlm: false, basic: true, negotiate_only: false };

    /// `ntlm`, `negotiate` (Negotiate alone), `basic`, comma-separated.
    pub fn parse(text: &str) -> Result<Schemes, String> {
        let mut schemes = Schemes { ntlm: false, basic: false, negotiate_only: false };
        for part in text.split(',').map(str::trim) {
            match part.to_ascii_lowercase().as_str() {
                "ntlm" => schemes.ntlm = true,
                "negotiate" => (schemes.ntlm, schemes.negotiate_only) = (true, true),
                "basic" => schemes.basic = true,
                other => return Err(format!("unknown authentication '{other}' (ntlm, negotiate, basic)")),
            }
        }
        Ok(schemes)
    }
}

/// One connection's authentication.
#[derive(Default)]
pub struct Connection {
    state: Mutex<Step>,
}

impl Connection {
    /// The connection is no longer signed in: the next request on it needs
    /// a new handshake.
    pub fn forget(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Step::Fresh;
    }
}

#[derive(Default)]
enum Step {
    #[default]
    Fresh,
    /// a CHALLENGE went out on this connection
    Challenged(Sent),
    Authenticated,
}

/// What the request's credentials come to.
pub enum Verdict {
    Allowed,
    /// 401 with these `WWW-Authenticate` values
    Refused(Vec<String>),
    /// 401 carrying the CHALLENGE (one `WWW-Authenticate` value): the
    /// handshake goes on, on this connection
    Challenge(String),
}

/// The 401's offers: a new handshake.
pub fn offers(state: &EmulatorState) -> Vec<String> {
    let mut offers = Vec::new();
    if state.auth.ntlm {
        offers.push("Negotiate".to_string());
        if !state.auth.negotiate_only {
            offers.push("NTLM".to_string());
        }
    }
    if state.auth.basic {
        offers.push(r#"Basic realm="mail.example.com""#.to_string());
    }
    offers
}

pub fn check(headers: &hyper::HeaderMap, state: &EmulatorState, connection: &Connection) -> Verdict {
    let mut step = connection.state.lock().unwrap_or_else(|p| p.into_inner());
    let header = headers.get("authorization").and_then(|h| h.to_str().ok()).map(str::trim);
    let Some(header) = header else {
        return match *step {
            Step::Authenticated => Verdict::Allowed,
            _ => Verdict::Refused(offers(state)),
        };
    };
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    let token = token.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "basic" if state.auth.basic => match basic(token, state) {
            true => Verdict::Allowed,
            false => Verdict::Refused(offers(state)),
        },
        // Without the NTLM provider IIS takes NTLMSSP only under Negotiate
        // (reference/ntlm.md 1: IIS answers in the scheme the client used
        // and accepts raw NTLMSSP under Negotiate; refusing the NTLM name
        // when it is not offered is our reading of that).
        "ntlm" | "negotiate" if state.auth.ntlm && !(state.auth.negotiate_only && scheme.eq_ignore_ascii_case("ntlm")) => {
            let Ok(message) = base64::engine::general_purpose::STANDARD.decode(token) else {
                *step = Step::Fresh;
                return Verdict::Refused(offers(state));
            };
            match message.get(8) {
                Some(1) => match ntlm::challenge(&message, server_challenge(), filetime_now()) {
                    Some(sent) => {
                        let answer = format!("{scheme} {}", base64::engine::general_purpose::STANDARD.encode(&sent.challenge));
                        *step = Step::Challenged(sent);
                        Verdict::Challenge(answer)
                    }
                    None => Verdict::Refused(offers(state)),
                },
                Some(3) => {
                    let Step::Challenged(sent) = std::mem::take(&mut *step) else {
                        // No challenge on this connection: a replay, or a
                        // handshake split over connections.
                        return Verdict::Refused(offers(state));
                    };
                    match ntlm::verify(&sent, &message, |d, u| account(state, d, u), state.binding, state.epa) {
                        Ok(_) => {
                            *step = Step::Authenticated;
                            Verdict::Allowed
                        }
                        Err(why) => {
                            tracing::debug!("emulator: NTLM refused: {why:?}");
                            Verdict::Refused(offers(state))
                        }
                    }
                }
                _ => Verdict::Refused(offers(state)),
            }
        }
        _ => Verdict::Refused(offers(state)),
    }
}

/// The password of the emulator's account under the names Windows takes:
/// `svc@example.com` with no domain, or `EXAMPLE\svc` (also `example.com\svc`).
fn account(state: &EmulatorState, domain: &str, user: &str) -> Option<String> {
    let (local, dns) = state.user.split_once('@').unwrap_or((&state.user, ntlm::DNS_DOMAIN));
    let upn = domain.is_empty() && user.eq_ignore_ascii_case(&state.user);
    let down_level = (domain.eq_ignore_ascii_case(ntlm::NETBIOS_DOMAIN) || domain.eq_ignore_ascii_case(dns)) && user.eq_ignore_ascii_case(local);
    (upn || down_level).then(|| state.password.clone())
}

fn basic(token: &str, state: &EmulatorState) -> bool {
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token) else { return false };
    decoded == format!("{}:{}", state.user, state.password).as_bytes()
}

/// Eight bytes no other connection got.
fn server_challenge() -> [u8; 8] {
    use sha2::Digest as _;
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let seed = (COUNT.fetch_add(1, Ordering::Relaxed), std::time::SystemTime::now(), std::process::id());
    let digest = sha2::Sha256::digest(format!("{seed:?}").as_bytes());
    digest[..8].try_into().expect("eight bytes")
}

/// Now as a FILETIME (100 ns since 1601).
fn filetime_now() -> u64 {
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (unix.as_nanos() / 100) as u64 + 116_444_736_000_000_000
}
