//! Autodiscover SOAP `GetUserSettings` (the 2010 Autodiscover namespace at
//! `/autodiscover/autodiscover.svc`): settings of one mailbox by name. Used
//! for `InternalRpcClientServer` of the public folder mailbox, which
//! `X-PublicFolderMailbox` carries.

use super::envelope::escape;
use super::xml::read_leaves;
use crate::error::{Error, Result};
use crate::http;
use std::io::BufReader;

pub const PATH: &str = "/autodiscover/autodiscover.svc";
const NS: &str = "http://schemas.microsoft.com/exchange/2010/Autodiscover";

pub fn request(url: &str, mailbox: &str, settings: &[&str]) -> String {
    let wanted: String = settings.iter().map(|s| format!("<a:Setting>{s}</a:Setting>")).collect();
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" "#,
            r#"xmlns:a="{ns}" xmlns:wsa="http://www.w3.org/2005/08/addressing"><soap:Header>"#,
            r#"<a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion>"#,
            r#"<wsa:Action>{ns}/Autodiscover/GetUserSettings</wsa:Action><wsa:To>{url}</wsa:To></soap:Header>"#,
            r#"<soap:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User><a:Mailbox>{mailbox}</a:Mailbox></a:User></a:Users>"#,
            r#"<a:RequestedSettings>{wanted}</a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></soap:Body></soap:Envelope>"#
        ),
        ns = NS,
        url = escape(url),
        mailbox = escape(mailbox),
        wanted = wanted
    )
}

/// The settings asked for, by name, of `mailbox`, from the service at
/// `base`; an error names the user response's error.
pub fn get(base: &str, mailbox: &str, settings: &[&str], authorization: &str) -> Result<Vec<(String, String)>> {
    let url = format!("{}{PATH}", base.trim_end_matches('/'));
    let headers = [("content-type", "text/xml; charset=utf-8"), ("authorization", authorization)];
    let body = request(&url, mailbox, settings);
    let response = http::with_retries(&format!("Autodiscover at {url}"), |_| http::post(&url, &headers, body.as_bytes()))?;
    if response.status != 200 {
        return Err(Error::config(format!("Autodiscover at {url} answered HTTP {}", response.status)));
    }
    parse(BufReader::new(response.body)).map_err(|why| Error::config(format!("Autodiscover at {url} for {mailbox}: {why}")))
}

pub fn parse(input: impl std::io::BufRead) -> std::result::Result<Vec<(String, String)>, String> {
    let (mut settings, mut name, mut error) = (Vec::new(), String::new(), None);
    read_leaves(input, |parent, element, text| match (parent, element) {
        ("UserSetting", "Name") => name = text.to_string(),
        ("UserSetting", "Value") => settings.push((std::mem::take(&mut name), text.to_string())),
        ("UserResponse", "ErrorCode") if text != "NoError" => error = Some(text.to_string()),
        _ => {}
    })
    .map_err(|e| format!("the answer is no Autodiscover XML ({})", e.0))?;
    match error {
        Some(code) => Err(format!("error {code}")),
        None => Ok(settings),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_settings_and_user_errors() {
        let ok = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetUserSettingsResponseMessage xmlns="http://schemas.microsoft.com/exchange/2010/Autodiscover"><Response><ErrorCode>NoError</ErrorCode><UserResponses><UserResponse><ErrorCode>NoError</ErrorCode><UserSettings><UserSetting><Name>InternalRpcClientServer</Name><Value>guid@x</Value></UserSetting></UserSettings></UserResponse></UserResponses></Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>"#;
        assert_eq!(super::parse(ok.as_bytes()).unwrap(), [("InternalRpcClientServer".to_string(), "guid@x".to_string())]);
        let bad = ok.replace("<ErrorCode>NoError</ErrorCode><UserSettings>", "<ErrorCode>InvalidUser</ErrorCode><UserSettings>");
        assert_eq!(super::parse(bad.as_bytes()).unwrap_err(), "error InvalidUser");
    }
}
