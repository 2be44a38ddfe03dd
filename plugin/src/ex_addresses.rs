//! Contacts made from the directory (GAL) often hold an Exchange legacy DN
//! (`/o=Org/ou=Exchange Administrative Group (...)/cn=Recipients/cn=...`,
//! the `EX` routing type) where a mail address is expected. Such an address
//! is resolved to SMTP with ResolveNames, once per run; when the directory
//! does not know it, another address of the contact takes its place.

use crate::ews::Ews;
use crate::flatten::Attributes;
use std::collections::HashMap;

pub struct Resolver {
    /// its own client: names are resolved while the main one is busy
    /// reading items
    ews: Ews,
    known: HashMap<String, Option<String>>,
}

/// `EX` addresses, also written with their `EX:` or `X500:` prefix.
pub fn is_legacy_dn(value: &str) -> bool {
    let value = value.trim();
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    lower.starts_with("/o=") || lower.starts_with("ex:/o=") || lower.starts_with("x500:/o=")
}

impl Resolver {
    pub fn new(ews: Ews) -> Self {
        Resolver { ews, known: HashMap::new() }
    }

    /// Replace each legacy DN among the contact's email addresses with its
    /// SMTP address, or with the contact's first other SMTP address.
    pub fn fix(&mut self, attributes: &mut Attributes) {
        let is_email = |key: &str| key.starts_with("email_addresses.");
        if !attributes.iter().any(|(k, v)| is_email(k) && is_legacy_dn(v)) {
            return;
        }
        let other = attributes.iter().find(|(k, v)| is_email(k) && !is_legacy_dn(v) && v.contains('@')).map(|(_, v)| v.clone());
        for (key, value) in attributes.iter_mut().filter(|(k, v)| is_email(k) && is_legacy_dn(v)) {
            let dn = value.trim().trim_start_matches("EX:").trim_start_matches("ex:").to_string();
            let resolved = match self.known.get(&dn) {
                Some(found) => found.clone(),
                None => {
                    let found = self.ews.resolve_name(&dn).unwrap_or_else(|e| {
                        crate::report::debug(&format!("ResolveNames for {dn} failed: {}", e.message));
                        None
                    });
                    self.known.insert(dn.clone(), found.clone());
                    found
                }
            };
            match resolved.or_else(|| other.clone()) {
                Some(smtp) => *value = smtp,
                None => crate::report::debug(&format!("{key}: {dn} resolves to no mail address")),
            }
        }
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
