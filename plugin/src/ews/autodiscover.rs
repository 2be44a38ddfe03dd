//! Autodiscover (POX, the Outlook request and response schemas Exchange
//! 2007 and later answer at `/autodiscover/autodiscover.xml`): the EWS URL
//! and the public folder mailbox of an address, when the endpoint is only
//! a host. EXPR (outside) is preferred over EXCH (inside), as Outlook
//! Anywhere clients do.

use super::envelope::escape;
use super::xml::read_leaves;
use crate::error::{Error, Kind, Result};
use crate::http;
use std::io::BufReader;

pub const PATH: &str = "/autodiscover/autodiscover.xml";
const REQUEST_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
const RESPONSE_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// What Autodiscover says of a mailbox.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub ews_url: String,
    /// `PublicFolderInformation/SmtpAddress`: where public-folder requests
    /// are routed (Exchange 2013 and later)
    pub public_folder_mailbox: Option<String>,
}

pub fn request(address: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{REQUEST_NS}"><Request><EMailAddress>{}</EMailAddress><AcceptableResponseSchema>{RESPONSE_NS}</AcceptableResponseSchema></Request></Autodiscover>"#,
        escape(address)
    )
}

/// Ask the Autodiscover service at `base` (`https://mail.example.com`).
pub fn discover(base: &str, address: &str, authorization: &str) -> Result<Settings> {
    let url = format!("{}{PATH}", base.trim_end_matches('/'));
    let headers = [("content-type", "text/xml; charset=utf-8"), ("authorization", authorization)];
    let response = http::with_retries(&format!("Autodiscover at {url}"), |_| http::post(&url, &headers, request(address).as_bytes()))?;
    match response.status {
        200 => {}
        401 => return Err(Error::new(Kind::Authentication, format!("Autodiscover at {url} rejected the user name or password (HTTP 401)"))),
        status @ 300..=399 => {
            let to = response.location.as_deref().unwrap_or("nowhere it names");
            return Err(Error::config(format!("{url} redirects (HTTP {status}) to {to}; set [exchange] endpoint to the EWS URL")));
        }
        status => {
            return Err(Error::config(format!(
                "{url} answered HTTP {status}: no Autodiscover there; set [exchange] endpoint to the EWS URL (it usually ends in /EWS/Exchange.asmx)"
            )));
        }
    }
    parse(BufReader::new(response.body)).map_err(|why| Error::config(format!("Autodiscover at {url} for {address}: {why}")))
}

/// The settings of a POX answer, or its error.
pub fn parse(input: impl std::io::BufRead) -> std::result::Result<Settings, String> {
    let (mut expr, mut exch, mut public_folder, mut kind) = (None, None, None, String::new());
    let (mut error_code, mut message) = (None, String::new());
    read_leaves(input, |parent, name, text| match (parent, name) {
        ("Protocol", "Type") => kind = text.to_string(),
        ("Protocol", "EwsUrl") if kind == "EXPR" => expr = Some(text.to_string()),
        ("Protocol", "EwsUrl") if kind == "EXCH" => exch = Some(text.to_string()),
        ("PublicFolderInformation", "SmtpAddress") => public_folder = Some(text.to_string()),
        ("Error", "ErrorCode") => error_code = Some(text.to_string()),
        ("Error", "Message") => message = text.to_string(),
        _ => {}
    })
    .map_err(|e| format!("the answer is no Autodiscover XML ({})", e.0))?;
    if let Some(code) = error_code {
        return Err(format!("error {code}: {message}"));
    }
    match expr.or(exch).filter(|url| !url.is_empty()) {
        Some(ews_url) => Ok(Settings { ews_url, public_folder_mailbox: public_folder.filter(|p| !p.is_empty()) }),
        None => Err("the answer names no EWS URL (no EwsUrl in an EXPR or EXCH protocol)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ews_url_preferring_expr_and_the_public_folder_mailbox() {
        let xml = r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><Account><Protocol><Type>EXCH</Type><EwsUrl>https://in/EWS/Exchange.asmx</EwsUrl></Protocol><Protocol><Type>EXPR</Type><EwsUrl>https://out/EWS/Exchange.asmx</EwsUrl></Protocol><PublicFolderInformation><SmtpAddress>pf@x</SmtpAddress></PublicFolderInformation></Account></Response></Autodiscover>"#;
        let settings = parse(xml.as_bytes()).unwrap();
        assert_eq!(settings, Settings { ews_url: "https://out/EWS/Exchange.asmx".into(), public_folder_mailbox: Some("pf@x".into()) });
        let error = r#"<Autodiscover><Response><Error><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message></Error></Response></Autodiscover>"#;
        assert_eq!(parse(error.as_bytes()).unwrap_err(), "error 500: The email address can't be found.");
    }
}
