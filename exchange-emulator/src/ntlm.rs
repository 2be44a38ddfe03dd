//! NTLM as IIS accepts it in front of Exchange ([MS-NLMP] 3.2, the server
//! side; reference/ntlm.md section 5): a CHALLENGE with the AV pairs
//! Windows sends (names, DNS names, a timestamp), and an AUTHENTICATE
//! checked for real: the NTLMv2 proof recomputed from the password, the
//! timestamp it echoes, the MIC when its flag is set, and the channel
//! binding as Extended Protection is set (off, allow, require). The
//! emulator's own reading of the messages, not the host's.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

const MAGIC: &[u8] = b"NTLMSSP\0";
/// How far a client's clock may be off, in FILETIME ticks. ../shared has
/// no figure for it; curl sends its own clock (not the server's
/// MsvAvTimestamp), so some window is needed, and 36 hours is a loose one.
const MAX_SKEW: u64 = 36 * 3600 * 10_000_000;

/// The names the emulated server gives in its challenge.
pub const NETBIOS_DOMAIN: &str = "EXAMPLE";
pub const NETBIOS_COMPUTER: &str = "EXCH01";
pub const DNS_DOMAIN: &str = "example.com";
pub const DNS_COMPUTER: &str = "exch01.example.com";

/// Extended Protection on the EWS virtual directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Epa {
    /// no channel binding looked at
    Off,
    /// checked when the client sends one (Exchange 2019 CU14's setting for
    /// the front end's EWS)
    #[default]
    Allow,
    /// required
    Require,
}

/// A challenge this connection sent, kept to check the answer.
#[derive(Clone, Debug)]
pub struct Sent {
    pub negotiate: Vec<u8>,
    pub challenge: Vec<u8>,
    server_challenge: [u8; 8],
    timestamp: [u8; 8],
}

/// The CHALLENGE answering a NEGOTIATE; None if that is no NEGOTIATE.
pub fn challenge(negotiate: &[u8], server_challenge: [u8; 8], filetime: u64) -> Option<Sent> {
    if negotiate.len() < 16 || &negotiate[..8] != MAGIC || read_u32(negotiate, 8) != 1 {
        return None;
    }
    let asked = read_u32(negotiate, 12);
    let timestamp = filetime.to_le_bytes();
    let mut info = Vec::new();
    for (id, text) in [(2u16, NETBIOS_DOMAIN), (1, NETBIOS_COMPUTER), (4, DNS_DOMAIN), (3, DNS_COMPUTER), (5, DNS_DOMAIN)] {
        av_pair(&mut info, id, &wide(text));
    }
    av_pair(&mut info, 7, &timestamp);
    av_pair(&mut info, 0, &[]);
    let target = wide(NETBIOS_DOMAIN);
    // UNICODE, REQUEST_TARGET, NTLM, ALWAYS_SIGN, TARGET_TYPE_DOMAIN,
    // EXTENDED_SESSIONSECURITY, TARGET_INFO, VERSION, and 128/56 if asked.
    let flags = 0x0000_0001 | 0x0000_0004 | 0x0000_0200 | 0x0000_8000 | 0x0001_0000 | 0x0008_0000 | 0x0080_0000 | 0x0200_0000
        | (asked & (0x2000_0000 | 0x8000_0000));
    let mut m = MAGIC.to_vec();
    m.extend_from_slice(&2u32.to_le_bytes());
    let target_at = 56;
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&(target_at as u32).to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&server_challenge);
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&((target_at + target.len()) as u32).to_le_bytes());
    // Windows Server 2019, build 17763, NTLM revision 15.
    m.extend_from_slice(&[10, 0, 0x63, 0x45, 0, 0, 0, 15]);
    m.extend_from_slice(&target);
    m.extend_from_slice(&info);
    Some(Sent { negotiate: negotiate.to_vec(), challenge: m, server_challenge, timestamp })
}

/// Who authenticated, as the client named them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub domain: String,
    pub user: String,
}

/// Why an AUTHENTICATE is refused: what the server's log would say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Malformed(&'static str),
    UnknownUser(String),
    WrongProof,
    StaleTimestamp,
    WrongMic,
    MissingBinding,
    WrongBinding,
}

/// Check an AUTHENTICATE against what this connection sent. `accounts`
/// tells the password of a (domain, user) as the client named them, or
/// None for nobody; `binding` is the channel binding of this connection's
/// certificate (None over plain HTTP).
pub fn verify(
    sent: &Sent,
    authenticate: &[u8],
    accounts: impl Fn(&str, &str) -> Option<String>,
    binding: Option<[u8; 16]>,
    epa: Epa,
) -> Result<Identity, Refusal> {
    let m = authenticate;
    if m.len() < 64 || &m[..8] != MAGIC || read_u32(m, 8) != 3 {
        return Err(Refusal::Malformed("no AUTHENTICATE message"));
    }
    let nt = field(m, 20).ok_or(Refusal::Malformed("NT response outside the message"))?;
    let domain = narrow(field(m, 28).ok_or(Refusal::Malformed("domain outside the message"))?);
    let user = narrow(field(m, 36).ok_or(Refusal::Malformed("user outside the message"))?);
    if nt.len() < 16 + 28 {
        // NTLMv1, or anonymous: Exchange with EP refuses both.
        return Err(Refusal::Malformed("not an NTLMv2 response"));
    }
    let password = accounts(&domain, &user).ok_or_else(|| Refusal::UnknownUser(format!("{domain}\\{user}")))?;
    let (proof, blob) = nt.split_at(16);
    let key = {
        let hash = md4::Md4::digest(wide(&password));
        let mut identity = wide(&user.to_uppercase());
        identity.extend(wide(&domain));
        mac(&hash, &[&identity])
    };
    if mac(&key, &[&sent.server_challenge, blob]) != proof {
        return Err(Refusal::WrongProof);
    }
    let mut mic_flag = false;
    let mut sent_binding = None;
    let mut echoed_timestamp = None;
    for (id, value) in av_pairs(&blob[28..]) {
        match id {
            6 if value.len() == 4 => mic_flag = read_u32(value, 0) & 0x2 != 0,
            7 => echoed_timestamp = Some(value),
            10 if value.len() == 16 => sent_binding = Some(<[u8; 16]>::try_from(value).unwrap_or_default()),
            _ => {}
        }
    }
    // The server's pairs come back as sent (the proof covers them); the
    // client's own time may be its clock's, within Windows' skew window.
    if echoed_timestamp.is_some_and(|t| t != sent.timestamp) {
        return Err(Refusal::StaleTimestamp);
    }
    let client_time = u64::from_le_bytes(blob[8..16].try_into().unwrap_or_default());
    let server_time = u64::from_le_bytes(sent.timestamp);
    if client_time.abs_diff(server_time) > MAX_SKEW && client_time != 0 && server_time != 0 {
        return Err(Refusal::StaleTimestamp);
    }
    if mic_flag {
        if m.len() < 88 {
            return Err(Refusal::WrongMic);
        }
        let session_key = mac(&key, &[proof]);
        let mut zeroed = m.to_vec();
        zeroed[72..88].fill(0);
        if mac(&session_key, &[&sent.negotiate, &sent.challenge, &zeroed]) != m[72..88] {
            return Err(Refusal::WrongMic);
        }
    }
    // A binding of zeros is "none" (MS-NLMP 3.2.5.1.2).
    let sent_binding = sent_binding.filter(|b| b.iter().any(|x| *x != 0));
    match (epa, binding, sent_binding) {
        (Epa::Off, ..) | (_, None, _) => {}
        (Epa::Allow, Some(_), None) => {}
        (Epa::Require, Some(_), None) => return Err(Refusal::MissingBinding),
        (_, Some(ours), Some(theirs)) if ours != theirs => return Err(Refusal::WrongBinding),
        _ => {}
    }
    Ok(Identity { domain, user })
}

/// The `tls-server-end-point` binding of the emulator's certificate, whose
/// signature is SHA-256 (RFC 5929: hash it with SHA-256).
pub fn binding_of(certificate_der: &[u8]) -> [u8; 16] {
    use sha2::Digest as _;
    binding_of_digest(&sha2::Sha256::digest(certificate_der))
}

fn binding_of_digest(digest: &[u8]) -> [u8; 16] {
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend_from_slice(digest);
    let mut md5 = Md5::new();
    md5.update([0u8; 16]);
    md5.update((data.len() as u32).to_le_bytes());
    md5.update(&data);
    md5.finalize().into()
}

fn mac(key: &[u8], data: &[&[u8]]) -> [u8; 16] {
    let mut h = <Hmac<Md5> as Mac>::new_from_slice(key).expect("any key length");
    for d in data {
        h.update(d);
    }
    h.finalize().into_bytes().into()
}

fn av_pair(out: &mut Vec<u8>, id: u16, value: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
}

fn av_pairs(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut found = Vec::new();
    while data.len() >= 4 {
        let id = u16::from_le_bytes([data[0], data[1]]);
        let len = u16::from_le_bytes([data[2], data[3]]) as usize;
        if id == 0 || data.len() < 4 + len {
            break;
        }
        found.push((id, &data[4..4 + len]));
        data = &data[4 + len..];
    }
    found
}

fn field(m: &[u8], at: usize) -> Option<&[u8]> {
    let len = u16::from_le_bytes(m.get(at..at + 2)?.try_into().ok()?) as usize;
    let offset = read_u32(m, at + 4) as usize;
    m.get(offset..offset + len)
}

fn read_u32(m: &[u8], at: usize) -> u32 {
    m.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).unwrap_or(0)
}

fn wide(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|c| c.to_le_bytes()).collect()
}

fn narrow(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [MS-NLMP] 4.2.4.3's AUTHENTICATE (232 bytes, no MIC) answers the
    /// spec's challenge, server challenge 0123456789abcdef, time 0.
    const SPEC_AUTHENTICATE: &str = "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000100010005c00000010001000d8000000358288e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000c5dad2544fc9799094ce1ce90bc9d03e";

    fn spec_sent() -> Sent {
        let negotiate = [MAGIC, &1u32.to_le_bytes()[..], &[0; 8]].concat();
        let mut sent = challenge(&negotiate, *b"\x01\x23\x45\x67\x89\xab\xcd\xef", 0).unwrap();
        sent.timestamp = [0; 8];
        sent
    }

    fn spec_account(domain: &str, user: &str) -> Option<String> {
        (domain == "Domain" && user == "User").then(|| "Password".to_string())
    }

    #[test]
    fn the_specs_authenticate_message_verifies() {
        let t3 = hex::decode(SPEC_AUTHENTICATE).unwrap();
        let who = verify(&spec_sent(), &t3, spec_account, None, Epa::Allow).unwrap();
        assert_eq!(who, Identity { domain: "Domain".into(), user: "User".into() });
    }

    #[test]
    fn a_wrong_password_or_challenge_is_refused() {
        let t3 = hex::decode(SPEC_AUTHENTICATE).unwrap();
        let wrong = |_: &str, _: &str| Some("password".to_string());
        assert_eq!(verify(&spec_sent(), &t3, wrong, None, Epa::Allow), Err(Refusal::WrongProof));
        let nobody = |_: &str, _: &str| None;
        assert!(matches!(verify(&spec_sent(), &t3, nobody, None, Epa::Allow), Err(Refusal::UnknownUser(_))));
        // Another connection's challenge: the proof does not hold.
        let mut other = spec_sent();
        other.server_challenge = [9; 8];
        assert_eq!(verify(&other, &t3, spec_account, None, Epa::Allow), Err(Refusal::WrongProof));
        assert!(verify(&spec_sent(), &t3[..40], spec_account, None, Epa::Allow).is_err());
    }

    #[test]
    fn without_a_binding_require_refuses_and_allow_accepts() {
        let t3 = hex::decode(SPEC_AUTHENTICATE).unwrap();
        let ours = Some([7; 16]);
        assert_eq!(verify(&spec_sent(), &t3, spec_account, ours, Epa::Require), Err(Refusal::MissingBinding));
        assert!(verify(&spec_sent(), &t3, spec_account, ours, Epa::Allow).is_ok());
        assert!(verify(&spec_sent(), &t3, spec_account, ours, Epa::Off).is_ok());
    }

    #[test]
    fn the_binding_hash_is_the_ms_blogs_construction() {
        // The blog gives the certificate's hash, not the certificate.
        let hash = hex::decode("ea05fefecc6b0bd571dbbc5baa3ed45386d0446835f7b74c85621b9983475f95").unwrap();
        assert_eq!(hex::encode(binding_of_digest(&hash)), "6586e99d81c2fc984e47172fd4dd0310");
    }

    #[test]
    fn the_challenge_carries_windows_pairs_and_a_timestamp() {
        let negotiate = [MAGIC, &1u32.to_le_bytes()[..], &0xa000_8207u32.to_le_bytes()[..], &[0; 16]].concat();
        let sent = challenge(&negotiate, [1; 8], 133_000_000_000_000_000).unwrap();
        let m = &sent.challenge;
        assert_eq!(read_u32(m, 8), 2);
        assert_eq!(&m[24..32], &[1; 8]);
        assert_eq!(read_u32(m, 20) & 0xa000_0000, 0xa000_0000, "128 and 56 as asked");
        let info = field(m, 40).unwrap();
        let ids: Vec<u16> = av_pairs(info).iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [2, 1, 4, 3, 5, 7]);
        assert!(challenge(b"NTLMSSP\0\x03\0\0\0", [0; 8], 0).is_none());
    }
}
