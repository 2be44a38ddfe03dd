//! Contacts made from the directory (GAL) often hold an Exchange legacy DN
//! (`/o=Org/ou=Exchange Administrative Group (...)/cn=Recipients/cn=...`,
//! the `EX` routing type) where a mail address is expected. Such an address
//! is resolved to SMTP with ResolveNames, once per run; when the directory
//! does not know it, another address of the contact takes its place.

use crate::ews::Ews;
use crate::ews::pipeline::Results;
use crate::flatten::Attributes;
use crate::http::Pending;
use std::collections::{HashMap, HashSet, VecDeque};

pub struct Resolver {
    /// its own client: names are resolved while the main one is busy
    /// reading items
    ews: Ews,
    known: HashMap<String, Option<String>>,
    /// every name ever queued, known or not yet
    seen: HashSet<String>,
    /// names to ask about once fewer questions are in the air
    waiting: VecDeque<String>,
    /// names asked about whose answers are not read yet
    in_air: VecDeque<(String, Pending)>,
}

/// ResolveNames takes one name per request: this many are asked at once.
/// The host lets a run have 8 requests at the server; the contacts' reading
/// keeps 4 GetItem and the next SyncFolderItems page there.
const IN_AIR: usize = 2;

/// `EX` addresses, also written with their `EX:` or `X500:` prefix.
pub fn is_legacy_dn(value: &str) -> bool {
    let value = value.trim();
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    lower.starts_with("/o=") || lower.starts_with("ex:/o=") || lower.starts_with("x500:/o=")
}

fn is_email(key: &str) -> bool {
    key.starts_with("email_addresses.")
}

/// The legacy DN an address holds, without its `EX:` prefix.
fn legacy_dn(value: &str) -> Option<&str> {
    is_legacy_dn(value).then(|| value.trim().trim_start_matches("EX:").trim_start_matches("ex:"))
}

impl Resolver {
    pub fn new(ews: Ews) -> Self {
        Resolver { ews, known: HashMap::new(), seen: HashSet::new(), waiting: VecDeque::new(), in_air: VecDeque::new() }
    }

    /// Ask the directory about the legacy DNs of these contacts not asked
    /// about yet, a few at a time. Called as each GetItem batch comes in:
    /// the names asked about with the last batch have been answered while
    /// this one was read, and [`Resolver::fix`] finds them known rather
    /// than waiting for a round trip per name.
    pub fn ask_for(&mut self, fetched: &Results) {
        while let Some((dn, sent)) = self.in_air.pop_front() {
            self.read(dn, Some(sent));
        }
        let contacts = fetched.iter().flatten();
        for dn in contacts.flat_map(|c| &c.attributes).filter(|(k, _)| is_email(k)).filter_map(|(_, v)| legacy_dn(v)) {
            if self.seen.insert(dn.to_string()) {
                self.waiting.push_back(dn.to_string());
            }
        }
        self.send();
    }

    fn send(&mut self) {
        while self.in_air.len() < IN_AIR {
            let Some(dn) = self.waiting.pop_front() else { return };
            // Not when it was resolved already, having been needed first.
            if self.known.contains_key(&dn) {
                continue;
            }
            // Not sent (the server asks to be spared): asked when needed.
            if let Some(sent) = self.ews.resolve_name_early(&dn) {
                self.in_air.push_back((dn, sent));
            }
        }
    }

    /// Replace each legacy DN among the contact's email addresses with its
    /// SMTP address, or with the contact's first other SMTP address.
    pub fn fix(&mut self, attributes: &mut Attributes) {
        if !attributes.iter().any(|(k, v)| is_email(k) && is_legacy_dn(v)) {
            return;
        }
        let other = attributes.iter().find(|(k, v)| is_email(k) && !is_legacy_dn(v) && v.contains('@')).map(|(_, v)| v.clone());
        for (key, value) in attributes.iter_mut().filter(|(k, _)| is_email(k)) {
            let Some(dn) = legacy_dn(value).map(str::to_string) else { continue };
            match self.resolved(dn.clone()).or_else(|| other.clone()) {
                Some(smtp) => *value = smtp,
                None => crate::report::debug(&format!("{key}: {dn} resolves to no mail address")),
            }
        }
    }

    /// The directory's answer for `dn`: known, read now if it is in the
    /// air, or asked for now.
    fn resolved(&mut self, dn: String) -> Option<String> {
        if let Some(found) = self.known.get(&dn) {
            return found.clone();
        }
        let sent = self.in_air.iter().position(|(asked, _)| *asked == dn).and_then(|at| self.in_air.remove(at)).map(|(_, sent)| sent);
        let found = self.read(dn, sent);
        self.send();
        found
    }

    /// The answer asked for early, or (if that failed, or none was sent)
    /// asked for now, with retries; remembered for the rest of the run.
    fn read(&mut self, dn: String, sent: Option<Pending>) -> Option<String> {
        let found = self.ews.resolve_name_sent(sent, &dn).unwrap_or_else(|e| {
            crate::report::debug(&format!("ResolveNames for {dn} failed: {}", e.message));
            None
        });
        self.known.insert(dn, found.clone());
        found
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn legacy_dns_in_their_forms() {
        for dn in ["/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=karin", "EX:/O=x/cn=y", "x500:/o=x"] {
            assert!(super::is_legacy_dn(dn), "{dn}");
        }
        assert!(!super::is_legacy_dn("karin@example.com") && !super::is_legacy_dn("/other"));
    }
}
