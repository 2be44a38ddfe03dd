//! Autodiscover as Exchange Server answers it for its domain: POX
//! (`POST /autodiscover/autodiscover.xml`, the Outlook request schema of
//! 2006 and response schema 2006a: `Protocol` entries of type EXCH and EXPR
//! with `EwsUrl`, and `PublicFolderInformation`) and SOAP (`POST
//! /autodiscover/autodiscover.svc`, `GetUserSettings` of the 2010
//! Autodiscover namespace, with `InternalEwsUrl`, `ExternalEwsUrl`,
//! `PublicFolderInformation` and `InternalRpcClientServer` among its
//! settings). Requests are read with the emulator's own XML reader.

use crate::ews::request::{Node, SOAP11, parse_document};
use crate::escape::escape;
use std::fmt::Write;

pub const POX_PATH: &str = "/autodiscover/autodiscover.xml";
pub const SOAP_PATH: &str = "/autodiscover/autodiscover.svc";
const POX_REQUEST: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
const POX_RESPONSE: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
const POX_ENVELOPE: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
const SOAP_AUTODISCOVER: &str = "http://schemas.microsoft.com/exchange/2010/Autodiscover";

/// The organisation's public folder hierarchy mailbox: what
/// `PublicFolderInformation` names and public-folder requests are routed to.
pub const PUBLIC_FOLDER_MAILBOX: &str = "PFMailbox1@example.com";
/// The mailbox server a public-folder request's `X-PublicFolderMailbox`
/// names (`InternalRpcClientServer` of the public folder mailbox).
pub const PUBLIC_FOLDER_SERVER: &str = "2b0d7d7c-5a37-4b4e-9b1a-6f9c2d3e4f50@example.com";

/// Who Autodiscover knows and where it sends them.
pub struct Site<'a> {
    /// `scheme://host:port` this server is reached at
    pub base: &'a str,
    /// the mailboxes it answers for, by primary SMTP address
    pub mailboxes: &'a [&'a str],
}

impl Site<'_> {
    fn ews_url(&self) -> String {
        format!("{}{}", self.base, crate::server::EWS_PATH)
    }

    fn known(&self, address: &str) -> Option<&str> {
        let address = address.trim();
        self.mailboxes.iter().copied().chain([PUBLIC_FOLDER_MAILBOX]).find(|m| m.eq_ignore_ascii_case(address))
    }
}

fn legacy_dn(address: &str) -> String {
    let alias = address.split('@').next().unwrap_or(address);
    format!("/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}", escape(alias))
}

/// A POX request: the Outlook schema's `Autodiscover/Request` with an
/// `EMailAddress` and the response schema asked for.
pub fn pox(site: &Site, body: &[u8]) -> String {
    let request = match parse_document(body) {
        Ok(root) if root.ns == POX_REQUEST && root.name == "Autodiscover" => root,
        _ => return pox_error(600, "Invalid Request"),
    };
    let Some(inner) = request.child("Request") else { return pox_error(600, "Invalid Request") };
    if inner.child_text("AcceptableResponseSchema").map(str::trim) != Some(POX_RESPONSE) {
        // No provider for another schema (the mobile sync one, say).
        return pox_error(600, "Invalid Request");
    }
    let address = inner.child_text("EMailAddress").unwrap_or_default();
    let Some(address) = site.known(address) else { return pox_error(500, "The email address can't be found.") };
    let ews = escape(&site.ews_url()).into_owned();
    let host = site.base.split("//").nth(1).unwrap_or(site.base);
    let mut xml = String::new();
    let _ = write!(
        xml,
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{envelope}"><Response xmlns="{response}">"#,
            "<User><DisplayName>{address}</DisplayName><LegacyDN>{dn}</LegacyDN><AutoDiscoverSMTPAddress>{address}</AutoDiscoverSMTPAddress>",
            "<DeploymentId>6f3c2a1e-9d4b-4c7a-8e2f-1b0a9c8d7e6f</DeploymentId></User>",
            "<Account><AccountType>email</AccountType><Action>settings</Action><MicrosoftOnline>False</MicrosoftOnline>",
            "<Protocol><Type>EXCH</Type><Server>{server}</Server><ServerDN>/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn={server}</ServerDN>",
            "<ServerVersion>73C18880</ServerVersion><AD>dc01.example.com</AD><ASUrl>{ews}</ASUrl><EwsUrl>{ews}</EwsUrl><EmwsUrl>{ews}</EmwsUrl>",
            "<EcpUrl>{base}/owa/</EcpUrl><OOFUrl>{ews}</OOFUrl><ServerExclusiveConnect>off</ServerExclusiveConnect></Protocol>",
            "<Protocol><Type>EXPR</Type><Server>{host}</Server><SSL>{ssl}</SSL><AuthPackage>Ntlm</AuthPackage><ASUrl>{ews}</ASUrl><EwsUrl>{ews}</EwsUrl>",
            "<EmwsUrl>{ews}</EmwsUrl><EcpUrl>{base}/owa/</EcpUrl><OOFUrl>{ews}</OOFUrl><ServerExclusiveConnect>on</ServerExclusiveConnect></Protocol>",
            "<PublicFolderInformation><SmtpAddress>{pf}</SmtpAddress></PublicFolderInformation>",
            "</Account></Response></Autodiscover>"
        ),
        envelope = POX_ENVELOPE,
        response = POX_RESPONSE,
        address = escape(address),
        dn = legacy_dn(address),
        server = PUBLIC_FOLDER_SERVER,
        ews = ews,
        base = escape(site.base),
        host = escape(host),
        ssl = if site.base.starts_with("https:") { "On" } else { "Off" },
        pf = PUBLIC_FOLDER_MAILBOX,
    );
    xml
}

fn pox_error(code: u16, message: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="{}"><Response>"#,
            r#"<Error Time="08:00:00.0000000" Id="1234567890"><ErrorCode>{}</ErrorCode><Message>{}</Message><DebugData /></Error>"#,
            "</Response></Autodiscover>"
        ),
        POX_ENVELOPE, code, message
    )
}

/// The settings `GetUserSettings` answers, for a known mailbox.
fn setting(site: &Site, address: &str, name: &str) -> Option<String> {
    Some(match name {
        "UserDisplayName" => address.to_string(),
        "UserDN" => legacy_dn(address),
        "UserDeploymentId" => "6f3c2a1e-9d4b-4c7a-8e2f-1b0a9c8d7e6f".into(),
        "InternalEwsUrl" | "ExternalEwsUrl" => site.ews_url(),
        "EwsSupportedSchemas" => "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1, Exchange2016".into(),
        "CasVersion" => "15.01.2507.006".into(),
        "PublicFolderInformation" => PUBLIC_FOLDER_MAILBOX.into(),
        "InternalRpcClientServer" | "InternalMailboxServer" => PUBLIC_FOLDER_SERVER.into(),
        _ => return None,
    })
}

/// A SOAP `GetUserSettings` request: one answer per user asked for, an
/// error per setting this server does not have.
pub fn soap(site: &Site, body: &[u8]) -> Result<String, String> {
    let envelope = parse_document(body)?;
    if envelope.ns != SOAP11 || envelope.name != "Envelope" {
        return Err("not a SOAP 1.1 envelope".into());
    }
    let operation = envelope
        .child("Body")
        .and_then(|b| b.children.first())
        .filter(|op| op.ns == SOAP_AUTODISCOVER)
        .ok_or("no Autodiscover operation in the SOAP body")?;
    if operation.name != "GetUserSettingsRequestMessage" {
        return Err(format!("{} is not supported by this server", operation.name));
    }
    let request = operation.child("Request").ok_or("GetUserSettingsRequestMessage has no Request")?;
    let users: Vec<&Node> = request.child("Users").map(|u| u.children.iter().collect()).unwrap_or_default();
    let wanted: Vec<&str> = request.child("RequestedSettings").map(|s| s.children.iter().map(|s| s.text.trim()).collect()).unwrap_or_default();
    let mut responses = String::new();
    for user in users {
        let mailbox = user.child_text("Mailbox").unwrap_or_default();
        let Some(address) = site.known(mailbox) else {
            let _ = write!(
                responses,
                r#"<UserResponse><ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user: '{}'</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings/></UserResponse>"#,
                escape(mailbox)
            );
            continue;
        };
        let (mut settings, mut errors) = (String::new(), String::new());
        for name in &wanted {
            match setting(site, address, name) {
                Some(value) => {
                    let _ = write!(settings, r#"<UserSetting i:type="StringSetting"><Name>{}</Name><Value>{}</Value></UserSetting>"#, escape(*name), escape(&value));
                }
                None => {
                    let _ = write!(
                        errors,
                        "<UserSettingError><ErrorCode>InvalidSetting</ErrorCode><ErrorMessage>The requested setting is invalid.</ErrorMessage><SettingName>{}</SettingName></UserSettingError>",
                        escape(*name)
                    );
                }
            }
        }
        let _ = write!(
            responses,
            r#"<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors>{errors}</UserSettingErrors><UserSettings>{settings}</UserSettings></UserResponse>"#
        );
    }
    Ok(format!(
        concat!(
            r#"<s:Envelope xmlns:s="{soap}" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header>"#,
            r#"<a:Action s:mustUnderstand="1">http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse</a:Action>"#,
            r#"<h:ServerVersionInfo xmlns:h="{ns}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><h:MajorVersion>15</h:MajorVersion>"#,
            r#"<h:MinorVersion>1</h:MinorVersion><h:MajorBuildNumber>2507</h:MajorBuildNumber><h:MinorBuildNumber>6</h:MinorBuildNumber>"#,
            r#"<h:Version>Exchange2015</h:Version></h:ServerVersionInfo></s:Header><s:Body>"#,
            r#"<GetUserSettingsResponseMessage xmlns="{ns}"><Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance">"#,
            r#"<ErrorCode>NoError</ErrorCode><ErrorMessage/><UserResponses>{responses}</UserResponses></Response>"#,
            r#"</GetUserSettingsResponseMessage></s:Body></s:Envelope>"#
        ),
        soap = SOAP11,
        ns = SOAP_AUTODISCOVER,
        responses = responses
    ))
}
