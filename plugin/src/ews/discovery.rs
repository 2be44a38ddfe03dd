//! Where to ask Autodiscover for the EWS URL, when the endpoint is not it:
//! a bare host (ask there), or an email address (ask at the hosts its
//! domain implies, as Microsoft's "Generate a list of Autodiscover
//! endpoints" has them, or at `[exchange] autodiscover` when set). The
//! sandbox has no DNS, so SRV records are not looked up.

use super::autodiscover::{self, Settings};
use crate::error::{Error, Kind, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// the mailbox to ask for; None: the user name, if it is an address
    pub address: Option<String>,
    /// the Autodiscover hosts to try, in order
    pub bases: Vec<String>,
}

/// An email address, not a URL.
pub fn is_address(endpoint: &str) -> bool {
    !endpoint.contains("://") && endpoint.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
}

impl Discovery {
    /// None when `endpoint` is the EWS URL itself.
    pub fn plan(endpoint: &str, autodiscover_at: Option<&str>) -> Option<Discovery> {
        let configured = autodiscover_at.map(|base| vec![base.trim_end_matches('/').to_string()]);
        if is_address(endpoint) {
            let domain = endpoint.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
            let bases = configured.unwrap_or_else(|| vec![format!("https://{domain}"), format!("https://autodiscover.{domain}")]);
            return Some(Discovery { address: Some(endpoint.to_string()), bases });
        }
        let bare = crate::http::parse_url(endpoint).is_ok_and(|url| url.path.is_empty() || url.path == "/");
        bare.then(|| Discovery { address: None, bases: configured.unwrap_or_else(|| vec![endpoint.trim_end_matches('/').to_string()]) })
    }

    /// The first answer with an EWS URL, and where it came from. A 401 ends
    /// the search: that server is the right one and refused the account.
    pub fn find(&self, username: &str, authorization: &str) -> Result<(String, Settings)> {
        let address = self.address.as_deref().unwrap_or(username);
        if !address.contains('@') {
            return Err(Error::config(format!(
                "the endpoint {} is only a host, and Autodiscover needs an email address as the user name ('{username}' is none); \
                 set [exchange] endpoint to the EWS URL (it usually ends in /EWS/Exchange.asmx) or to the mailbox's address",
                self.bases.join(", ")
            )));
        }
        let mut tried = Vec::new();
        for base in &self.bases {
            match autodiscover::discover(base, address, authorization) {
                Ok(settings) => return Ok((base.clone(), settings)),
                Err(e) if e.kind == Kind::Authentication => return Err(e),
                Err(e) if self.bases.len() == 1 => return Err(e),
                Err(e) => tried.push(e.message),
            }
        }
        Err(Error::config(format!(
            "Autodiscover found no EWS URL for {address}: {}; set [exchange] autodiscover to your Autodiscover host, \
             or endpoint to the EWS URL",
            tried.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_looked_up_at_its_domain_and_autodiscover_host() {
        let plan = Discovery::plan("Helpdesk@Contoso.com", None).unwrap();
        assert_eq!(plan.address.as_deref(), Some("Helpdesk@Contoso.com"));
        assert_eq!(plan.bases, ["https://contoso.com", "https://autodiscover.contoso.com"]);
    }

    #[test]
    fn the_autodiscover_setting_replaces_the_implied_hosts() {
        let plan = Discovery::plan("helpdesk@contoso.com", Some("http://127.0.0.1:8080/")).unwrap();
        assert_eq!(plan.bases, ["http://127.0.0.1:8080"]);
        let plan = Discovery::plan("https://mail.contoso.com/", Some("https://ad.contoso.com")).unwrap();
        assert_eq!((plan.address, plan.bases), (None, vec!["https://ad.contoso.com".to_string()]));
    }

    #[test]
    fn a_bare_host_is_asked_itself_and_an_ews_url_not_at_all() {
        let plan = Discovery::plan("https://mail.contoso.com/", None).unwrap();
        assert_eq!((plan.address, plan.bases), (None, vec!["https://mail.contoso.com".to_string()]));
        assert_eq!(Discovery::plan("https://mail.contoso.com/EWS/Exchange.asmx", None), None);
        assert!(!is_address("https://user@mail.contoso.com/"));
        assert!(!is_address("@contoso.com") && !is_address("helpdesk@localhost"));
    }
}
