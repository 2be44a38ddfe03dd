//! NTLMv2 as a client speaks it over HTTP ([MS-NLMP]; reference/ntlm.md):
//! the NEGOTIATE message, the server's CHALLENGE read, and the AUTHENTICATE
//! message with the MIC, the target name and, over TLS, the channel
//! binding of the server's certificate (Extended Protection). Version 2
//! only, no session security: TLS gives confidentiality, and EP rules out
//! version 1. The secret stays in this module's callers' hands; nothing
//! here logs.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

type HmacMd5 = Hmac<Md5>;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// Negotiate flags ([MS-NLMP] 2.2.2.5).
pub mod flags {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const N128: u32 = 0x2000_0000;
    pub const N56: u32 = 0x8000_0000;
}

/// What a client asks for: Chromium's set for HTTP, plus 128 and 56 for
/// servers whose minimum session security demands them.
pub const CLIENT_FLAGS: u32 =
    flags::UNICODE | flags::REQUEST_TARGET | flags::NTLM | flags::ALWAYS_SIGN | flags::EXTENDED_SESSIONSECURITY | flags::N128 | flags::N56;

/// AV_PAIR ids ([MS-NLMP] 2.2.2.1).
mod av {
    pub const EOL: u16 = 0;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
    pub const TARGET_NAME: u16 = 9;
    pub const CHANNEL_BINDINGS: u16 = 10;
    /// MsvAvFlags: the AUTHENTICATE message carries a MIC
    pub const MIC_PRESENT: u32 = 0x2;
}

/// `DOMAIN\user`, or `user@domain` (sent as the user, with no domain, as
/// Windows does with a UPN).
#[derive(Clone)]
pub struct Credentials {
    pub domain: String,
    pub user: String,
    pub password: String,
}

impl Credentials {
    pub fn parse(name: &str, password: &str) -> Credentials {
        let (domain, user) = match name.split_once('\\') {
            Some((domain, user)) => (domain.to_string(), user.to_string()),
            None => (String::new(), name.to_string()),
        };
        Credentials { domain, user, password: password.to_string() }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}\\{}, password hidden)", self.domain, self.user)
    }
}

/// How the host signs in for the plugin: with NTLM, or (`auto`) with NTLM
/// where the server offers it and the plugin's own Basic where it offers
/// only that. One per run: it records what was used, for `check`.
#[derive(Debug)]
pub struct SignIn {
    pub credentials: Credentials,
    pub auto: bool,
    used: std::sync::Mutex<Option<&'static str>>,
}

impl SignIn {
    pub fn new(credentials: Credentials, auto: bool) -> SignIn {
        SignIn { credentials, auto, used: Default::default() }
    }

    /// The same, for a new run.
    pub fn fresh(&self) -> SignIn {
        SignIn::new(self.credentials.clone(), self.auto)
    }

    pub fn used(&self) -> Option<&'static str> {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, mechanism: &'static str) {
        *self.used.lock().unwrap_or_else(|p| p.into_inner()) = Some(mechanism);
    }

    /// `auto` found the server offering Basic and no NTLM.
    pub fn basic_only(&self) -> bool {
        self.auto && self.used() == Some(BASIC)
    }
}

pub const NTLM: &str = "NTLM";
pub const BASIC: &str = "Basic";

/// The NEGOTIATE message: flags, no domain, no workstation (as Chromium).
pub fn negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&CLIENT_FLAGS.to_le_bytes());
    // Empty domain and workstation fields, pointing at the end.
    for _ in 0..2 {
        field(&mut m, 0, 32);
    }
    m
}

/// What a CHALLENGE message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    /// the AV pairs as sent, EOL included
    pub target_info: Vec<u8>,
}

impl Challenge {
    pub fn parse(message: &[u8]) -> Result<Challenge, String> {
        if message.len() < 48 || &message[..8] != SIGNATURE || u32_at(message, 8) != 2 {
            return Err("the server's NTLM challenge is no CHALLENGE message".into());
        }
        let flags = u32_at(message, 20);
        let mut server_challenge = [0; 8];
        server_challenge.copy_from_slice(&message[24..32]);
        let target_info = payload(message, 40).ok_or("the NTLM challenge's target information lies outside it")?.to_vec();
        Ok(Challenge { flags, server_challenge, target_info })
    }

    fn timestamp(&self) -> Option<[u8; 8]> {
        pairs(&self.target_info).find(|(id, _)| *id == av::TIMESTAMP).and_then(|(_, v)| v.try_into().ok())
    }
}

/// Where the AUTHENTICATE message is going, beyond the challenge.
pub struct Target<'a> {
    /// `HTTP/host` (with `:port` when not the scheme's default)
    pub spn: &'a str,
    /// the TLS server certificate (DER), for the channel binding
    pub certificate: Option<&'a [u8]>,
}

/// The random parts of an AUTHENTICATE message, fixed in tests.
pub struct Nonce {
    pub client_challenge: [u8; 8],
    /// FILETIME, used when the challenge has no timestamp
    pub now: u64,
}

impl Nonce {
    pub fn fresh() -> Nonce {
        let mut client_challenge = [0; 8];
        getrandom::fill(&mut client_challenge).expect("the system's random source");
        let since_1601 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() / 100;
        Nonce { client_challenge, now: (since_1601 as u64).saturating_add(116_444_736_000_000_000) }
    }
}

/// NTOWFv2 ([MS-NLMP] 3.3.2): only the user is upper-cased.
pub fn ntowf_v2(credentials: &Credentials) -> [u8; 16] {
    let md4 = md4::Md4::digest(utf16(&credentials.password));
    let mut identity = utf16(&credentials.user.to_uppercase());
    identity.extend(utf16(&credentials.domain));
    hmac(&md4, &[&identity])
}

/// The channel binding of a TLS server certificate: `tls-server-end-point`
/// (RFC 5929) in the gss_channel_bindings_struct MD5 that NTLM carries.
pub fn channel_binding(certificate_der: &[u8]) -> [u8; 16] {
    binding_of_hash(&certificate_hash(certificate_der))
}

/// The binding of a certificate's hash (the MS blog's vector gives one).
fn binding_of_hash(hash: &[u8]) -> [u8; 16] {
    let mut application = b"tls-server-end-point:".to_vec();
    application.extend_from_slice(hash);
    let mut md5 = Md5::new();
    md5.update([0u8; 16]);
    md5.update((application.len() as u32).to_le_bytes());
    md5.update(&application);
    md5.finalize().into()
}

/// The certificate's hash by its signature's algorithm, SHA-256 for MD5,
/// SHA-1 or one we do not know (RFC 5929 4.1).
fn certificate_hash(der: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let algorithm = x509_parser::parse_x509_certificate(der).ok().map(|(_, c)| c.signature_algorithm.algorithm.to_id_string());
    match algorithm.as_deref() {
        // sha384WithRSAEncryption, ecdsa-with-SHA384
        Some("1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3") => sha2::Sha384::digest(der).to_vec(),
        // sha512WithRSAEncryption, ecdsa-with-SHA512
        Some("1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4") => sha2::Sha512::digest(der).to_vec(),
        _ => sha2::Sha256::digest(der).to_vec(),
    }
}

/// The AUTHENTICATE message answering `challenge`, with the MIC over the
/// three messages as sent.
pub fn authenticate(credentials: &Credentials, negotiate_sent: &[u8], challenge_received: &[u8], target: &Target, nonce: &Nonce) -> Result<Vec<u8>, String> {
    let challenge = Challenge::parse(challenge_received)?;
    let key = ntowf_v2(credentials);
    let timestamp = challenge.timestamp();
    let time = timestamp.unwrap_or(nonce.now.to_le_bytes());
    let target_info = client_target_info(&challenge.target_info, target, timestamp.is_some());
    let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
    blob.extend_from_slice(&time);
    blob.extend_from_slice(&nonce.client_challenge);
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(&target_info);
    blob.extend_from_slice(&[0; 4]);
    let proof = hmac(&key, &[&challenge.server_challenge, &blob]);
    let session_key = hmac(&key, &[&proof]);
    let mut nt_response = proof.to_vec();
    nt_response.extend_from_slice(&blob);
    // With a timestamp the LM response is zeros (Chromium, pyspnego).
    let lm_response = if timestamp.is_some() {
        vec![0; 24]
    } else {
        let mut lm = hmac(&key, &[&challenge.server_challenge, &nonce.client_challenge]).to_vec();
        lm.extend_from_slice(&nonce.client_challenge);
        lm
    };
    let flags = (CLIENT_FLAGS & (challenge.flags | flags::UNICODE | flags::NTLM)) | (challenge.flags & flags::TARGET_INFO);
    let domain = utf16(&credentials.domain);
    let user = utf16(&credentials.user);
    let workstation: Vec<u8> = Vec::new();
    let payloads: [&[u8]; 6] = [&lm_response, &nt_response, &domain, &user, &workstation, &[]];
    const HEADER: usize = 88;
    let mut message = Vec::with_capacity(HEADER + payloads.iter().map(|p| p.len()).sum::<usize>());
    message.extend_from_slice(SIGNATURE);
    message.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = HEADER;
    for part in payloads {
        field(&mut message, part.len(), offset);
        offset += part.len();
    }
    message.extend_from_slice(&flags.to_le_bytes());
    message.extend_from_slice(&[0; 8]); // version, not sent
    message.extend_from_slice(&[0; 16]); // the MIC, filled in below
    for part in payloads {
        message.extend_from_slice(part);
    }
    if timestamp.is_some() {
        let mic = hmac(&session_key, &[negotiate_sent, challenge_received, &message]);
        message[72..88].copy_from_slice(&mic);
    }
    Ok(message)
}

/// The server's AV pairs with the client's before EOL: the MIC flag (when
/// a MIC is sent), the channel binding (over TLS only: zeros fail against
/// IIS) and the target name.
fn client_target_info(server: &[u8], target: &Target, mic: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(server.len() + 64);
    let mut flags_seen = false;
    for (id, value) in pairs(server) {
        if id == av::EOL {
            break;
        }
        if id == av::FLAGS && value.len() == 4 {
            flags_seen = true;
            let mut value = u32::from_le_bytes(value.try_into().unwrap_or_default());
            if mic {
                value |= av::MIC_PRESENT;
            }
            pair(&mut out, id, &value.to_le_bytes());
        } else if id != av::TARGET_NAME && id != av::CHANNEL_BINDINGS {
            pair(&mut out, id, value);
        }
    }
    if mic && !flags_seen {
        pair(&mut out, av::FLAGS, &av::MIC_PRESENT.to_le_bytes());
    }
    if let Some(certificate) = target.certificate {
        pair(&mut out, av::CHANNEL_BINDINGS, &channel_binding(certificate));
    }
    pair(&mut out, av::TARGET_NAME, &utf16(target.spn));
    pair(&mut out, av::EOL, &[]);
    out
}

fn pairs(info: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = info;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let id = u16::from_le_bytes([rest[0], rest[1]]);
        let len = u16::from_le_bytes([rest[2], rest[3]]) as usize;
        let value = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        Some((id, value))
    })
}

fn pair(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
}

fn field(out: &mut Vec<u8>, len: usize, offset: usize) {
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&(offset as u32).to_le_bytes());
}

fn payload(message: &[u8], at: usize) -> Option<&[u8]> {
    let len = u16::from_le_bytes([*message.get(at)?, *message.get(at + 1)?]) as usize;
    let offset = u32_at(message, at + 4) as usize;
    message.get(offset..offset.checked_add(len)?)
}

fn u32_at(message: &[u8], at: usize) -> u32 {
    message.get(at..at + 4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = HmacMd5::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    //! The [MS-NLMP] 4.2 vectors and Chromium's EPA vectors, as
    //! reference/ntlm.md section 5 has them (recomputed there).
    use super::*;

    fn spec_credentials() -> Credentials {
        Credentials { domain: "Domain".into(), user: "User".into(), password: "Password".into() }
    }

    const SPEC_CHALLENGE: &str = "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000";

    #[test]
    fn ntowf_v2_is_the_specs() {
        assert_eq!(hex::encode(ntowf_v2(&spec_credentials())), "0c868a403bfd7a93a3001ef22ef02e3f");
    }

    #[test]
    fn the_specs_challenge_reads() {
        let challenge = Challenge::parse(&hex::decode(SPEC_CHALLENGE).unwrap()).unwrap();
        assert_eq!(challenge.flags, 0xe28a_8233);
        assert_eq!(hex::encode(challenge.server_challenge), "0123456789abcdef");
        assert_eq!(hex::encode(&challenge.target_info), "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000");
        assert_eq!(challenge.timestamp(), None);
    }

    /// The spec's NTProofStr and session base key, from its blob (the
    /// spec's target info as is: no pairs of ours).
    #[test]
    fn the_specs_proof_and_session_key() {
        let key = ntowf_v2(&spec_credentials());
        let challenge = Challenge::parse(&hex::decode(SPEC_CHALLENGE).unwrap()).unwrap();
        let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
        blob.extend_from_slice(&[0; 8]);
        blob.extend_from_slice(&[0xaa; 8]);
        blob.extend_from_slice(&[0; 4]);
        blob.extend_from_slice(&challenge.target_info);
        blob.extend_from_slice(&[0; 4]);
        let proof = hmac(&key, &[&challenge.server_challenge, &blob]);
        assert_eq!(hex::encode(proof), "68cd0ab851e51c96aabc927bebef6a1c");
        assert_eq!(hex::encode(hmac(&key, &[&proof])), "8de40ccadbc14a82f15cb0ad0de95ca3");
        let lm = hmac(&key, &[&challenge.server_challenge, &[0xaa; 8]]);
        assert_eq!(hex::encode(lm), "86c35097ac9cec102554764a57cccc19");
    }

    #[test]
    fn the_channel_binding_hash_is_the_ms_blogs() {
        // The blog gives the certificate's hash; the binding is built from it.
        let hash = hex::decode("ea05fefecc6b0bd571dbbc5baa3ed45386d0446835f7b74c85621b9983475f95").unwrap();
        assert_eq!(hex::encode(binding_of_hash(&hash)), "6586e99d81c2fc984e47172fd4dd0310");
        // An unparsable certificate is hashed with SHA-256.
        use sha2::Digest as _;
        assert_eq!(channel_binding(b"der"), binding_of_hash(&sha2::Sha256::digest(b"der")));
    }

    /// Chromium's vectors: the spec's challenge answered with the MIC
    /// flag, a channel binding and the SPN `HTTP/Server`, time 0.
    #[test]
    fn a_proof_over_our_target_info_is_chromiums() {
        let key = ntowf_v2(&spec_credentials());
        let challenge = Challenge::parse(&hex::decode(SPEC_CHALLENGE).unwrap()).unwrap();
        let cbt = hex::decode("6586e99d81c2fc984e47172fd4dd0310").unwrap();
        // Chromium's order: the server's pairs, MsvAvFlags, the binding, the SPN.
        let mut info = Vec::new();
        for (id, value) in pairs(&challenge.target_info).take_while(|(id, _)| *id != av::EOL) {
            pair(&mut info, id, value);
        }
        pair(&mut info, av::FLAGS, &av::MIC_PRESENT.to_le_bytes());
        pair(&mut info, av::CHANNEL_BINDINGS, &cbt);
        pair(&mut info, av::TARGET_NAME, &utf16("HTTP/Server"));
        pair(&mut info, av::EOL, &[]);
        let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
        blob.extend_from_slice(&[0; 8]);
        blob.extend_from_slice(&[0xaa; 8]);
        blob.extend_from_slice(&[0; 4]);
        blob.extend_from_slice(&info);
        blob.extend_from_slice(&[0; 4]);
        assert_eq!(hex::encode(hmac(&key, &[&challenge.server_challenge, &blob])), "010c0bd14ef7a29689c0c19ceae8b7df");
    }

    /// Our message: its fields point at its parts, the proof verifies the
    /// way a server checks it, the pairs we add are there, and the MIC is
    /// the HMAC over the three messages with the MIC zeroed.
    #[test]
    fn our_authenticate_message_holds_together() {
        // The spec's challenge with a timestamp, as Windows sends it.
        let mut challenge = Challenge::parse(&hex::decode(SPEC_CHALLENGE).unwrap()).unwrap();
        let mut info = Vec::new();
        pair(&mut info, 2, &utf16("Domain"));
        pair(&mut info, av::TIMESTAMP, &131_400_439_870_000_000u64.to_le_bytes());
        pair(&mut info, av::EOL, &[]);
        challenge.target_info = info.clone();
        let mut t2 = hex::decode(SPEC_CHALLENGE).unwrap()[..48].to_vec();
        t2[40..48].copy_from_slice(&[info.len() as u8, 0, info.len() as u8, 0, 48, 0, 0, 0]);
        t2.extend_from_slice(&info);
        let t1 = negotiate();
        let certificate = b"not a real certificate";
        let target = Target { spn: "HTTP/mail.example.com", certificate: Some(certificate) };
        let nonce = Nonce { client_challenge: [0xaa; 8], now: 0 };
        let credentials = Credentials::parse("Domain\\User", "Password");
        let t3 = authenticate(&credentials, &t1, &t2, &target, &nonce).unwrap();

        let nt = payload(&t3, 20).unwrap();
        let (proof, blob) = nt.split_at(16);
        let key = ntowf_v2(&spec_credentials());
        assert_eq!(proof, hmac(&key, &[&challenge.server_challenge, blob]));
        assert_eq!(payload(&t3, 12).unwrap(), [0; 24], "LM zeros when the server sent a timestamp");
        assert_eq!(payload(&t3, 28).unwrap(), utf16("Domain"));
        assert_eq!(payload(&t3, 36).unwrap(), utf16("User"));
        assert_eq!(&blob[8..16], &131_400_439_870_000_000u64.to_le_bytes(), "the server's time");
        let sent: Vec<(u16, Vec<u8>)> = pairs(&blob[28..]).map(|(id, v)| (id, v.to_vec())).collect();
        assert!(sent.contains(&(av::FLAGS, av::MIC_PRESENT.to_le_bytes().to_vec())));
        assert!(sent.contains(&(av::CHANNEL_BINDINGS, channel_binding(certificate).to_vec())));
        assert!(sent.contains(&(av::TARGET_NAME, utf16("HTTP/mail.example.com"))));
        let session_key = hmac(&key, &[proof]);
        let mut zeroed = t3.clone();
        zeroed[72..88].fill(0);
        assert_eq!(&t3[72..88], hmac(&session_key, &[&t1, &t2, &zeroed]));
    }

    #[test]
    fn a_upn_goes_as_the_user_with_no_domain() {
        let c = Credentials::parse("svc-helpdesk@example.com", "hunter2");
        assert_eq!((c.domain.as_str(), c.user.as_str()), ("", "svc-helpdesk@example.com"));
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = Credentials::parse("EXAMPLE\\svc", "hunter2");
        assert_eq!((c.domain.as_str(), c.user.as_str()), ("EXAMPLE", "svc"));
    }

    /// The emulator's acceptor, written apart from this client, takes our
    /// answer, and refuses it with a wrong password or another binding.
    #[test]
    fn the_emulators_acceptor_takes_our_answer() {
        use exchange_emulator::ntlm as server;
        let t1 = negotiate();
        let sent = server::challenge(&t1, [3; 8], 133_000_000_000_000_000).unwrap();
        let certificate = b"the server's certificate";
        let target = Target { spn: "HTTP/localhost", certificate: Some(certificate) };
        let accounts = |d: &str, u: &str| (d == "EXAMPLE" && u == "svc-helpdesk").then(|| "secret".to_string());
        let answer = |password: &str| {
            authenticate(&Credentials::parse("EXAMPLE\\svc-helpdesk", password), &t1, &sent.challenge, &target, &Nonce::fresh()).unwrap()
        };
        let binding = Some(server::binding_of(certificate));
        let who = server::verify(&sent, &answer("secret"), accounts, binding, server::Epa::Require).unwrap();
        assert_eq!((who.domain.as_str(), who.user.as_str()), ("EXAMPLE", "svc-helpdesk"));
        assert_eq!(server::verify(&sent, &answer("wrong"), accounts, binding, server::Epa::Allow), Err(server::Refusal::WrongProof));
        let elsewhere = Some(server::binding_of(b"a proxy's certificate"));
        assert_eq!(server::verify(&sent, &answer("secret"), accounts, elsewhere, server::Epa::Allow), Err(server::Refusal::WrongBinding));
    }

    #[test]
    fn a_broken_challenge_is_an_error_not_a_panic() {
        assert!(Challenge::parse(b"NTLMSSP\0").is_err());
        let mut t2 = hex::decode(SPEC_CHALLENGE).unwrap();
        t2[44] = 0xff; // target info offset far outside
        assert!(Challenge::parse(&t2).is_err());
    }
}
