//! The plugin's settings: their description for the host's form, and the
//! parsed configuration.

use crate::bindings::helpdesk::connector::types::{Setting, SettingKind, SettingValue};
use crate::error::{Error, Result};

#[derive(Debug)]
pub struct Config {
    pub protocol: Protocol,
    /// folder ids or paths; empty: every contact folder
    pub folders: Vec<String>,
}

#[derive(Debug)]
pub enum Protocol {
    /// Exchange Server on premises, EWS with Basic auth
    /// `endpoint`: the EWS URL, a bare host or the mailbox's address (both
    /// found out by Autodiscover, at `autodiscover` when set)
    Ews { endpoint: String, username: String, password: String, autodiscover: Option<String> },
    /// Microsoft 365, Microsoft Graph with OAuth2
    Graph(GraphConfig),
}

#[derive(Clone, Debug)]
pub struct GraphConfig {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// delegated access: exchanged for tokens, and rotated
    pub refresh_token: Option<String>,
    /// the identity platform (authority), without the tenant:
    /// `https://login.microsoftonline.com`, or a national cloud's
    pub authority: String,
    /// without the version: `https://graph.microsoft.com`
    pub graph_endpoint: String,
    /// mail addresses or ids; empty: every enabled user of the tenant
    pub mailboxes: Vec<String>,
}

pub fn settings() -> Vec<Setting> {
    let setting = |key: &str, label: &str, kind: SettingKind, help: &str, required_when: Option<&str>| Setting {
        key: key.into(),
        label: label.into(),
        kind,
        help: help.into(),
        required: false,
        required_when: required_when.map(str::to_string),
        default_value: None,
        choices: Vec::new(),
    };
    vec![
        Setting {
            required: true,
            default_value: Some("ews".into()),
            choices: vec!["ews".into(), "graph".into()],
            ..setting("mode", "Protocol", SettingKind::Choice, "ews: Exchange Server on premises; graph: Microsoft 365", None)
        },
        setting(
            "endpoint",
            "EWS URL or address",
            SettingKind::Text,
            "https://mail.example.com/EWS/Exchange.asmx; or the server (https://mail.example.com) or the mailbox's address \
             (helpdesk@example.com), for Autodiscover to find it",
            Some("mode=ews"),
        ),
        setting("autodiscover", "Autodiscover host", SettingKind::Url, "where to ask Autodiscover instead of the hosts the endpoint implies", None),
        setting("username", "User name", SettingKind::Text, "user@example.com or DOMAIN\\user", Some("mode=ews")),
        setting("password", "Password", SettingKind::Secret, "never shown or logged", Some("mode=ews")),
        setting("tenant_id", "Tenant id", SettingKind::Text, "the directory (tenant) id of the Microsoft 365 organisation", Some("mode=graph")),
        setting("client_id", "Application (client) id", SettingKind::Text, "of the app registration with Contacts.Read and User.Read.All", Some("mode=graph")),
        setting("client_secret", "Client secret", SettingKind::Secret, "for application access", None),
        setting("refresh_token", "Refresh token", SettingKind::Secret, "for delegated access instead of a client secret", None),
        Setting {
            default_value: Some(DEFAULT_AUTHORITY.into()),
            ..setting("authority", "Identity platform (authority)", SettingKind::Url, "login.microsoftonline.us for US Government, login.partner.microsoftonline.cn for China", None)
        },
        Setting {
            default_value: Some(DEFAULT_GRAPH_ENDPOINT.into()),
            ..setting("graph_endpoint", "Microsoft Graph", SettingKind::Url, "", None)
        },
        setting("mailboxes", "Mailboxes", SettingKind::Text, "mail addresses, one per line; empty: every enabled user", None),
        setting(
            "folders",
            "Address books",
            SettingKind::Text,
            "folder ids or paths (Contacts -> Suppliers), one per line; empty: all contact folders",
            None,
        ),
    ]
}

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH_ENDPOINT: &str = "https://graph.microsoft.com";

pub fn parse(values: &[SettingValue]) -> Result<Config> {
    // Secrets may legitimately have surrounding spaces; other values not.
    let raw = |key: &str| values.iter().find(|v| v.key == key).map(|v| v.value.clone()).filter(|v| !v.is_empty());
    let get = |key: &str| raw(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let required = |key: &str, mode: &str| {
        get(key).ok_or_else(|| Error::config(format!("the setting '{key}' is required with mode = \"{mode}\"")))
    };
    let lines = |key: &str| -> Vec<String> {
        get(key).unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
    };
    let protocol = match get("mode").as_deref() {
        None | Some("ews") => {
            let endpoint = required("endpoint", "ews")?;
            if !crate::ews::discovery::is_address(&endpoint) {
                crate::http::parse_url(&endpoint)?;
            }
            let autodiscover = get("autodiscover");
            if let Some(url) = &autodiscover {
                crate::http::parse_url(url)?;
            }
            Protocol::Ews {
                endpoint,
                autodiscover,
                username: required("username", "ews")?,
                password: raw("password").ok_or_else(|| Error::config("the setting 'password' is required with mode = \"ews\""))?,
            }
        }
        Some("graph") => {
            let graph = GraphConfig {
                tenant_id: required("tenant_id", "graph")?,
                client_id: required("client_id", "graph")?,
                client_secret: raw("client_secret"),
                refresh_token: raw("refresh_token"),
                // `token_endpoint` is the setting's old name, still read.
                authority: get("authority")
                    .or_else(|| get("token_endpoint"))
                    .unwrap_or_else(|| DEFAULT_AUTHORITY.into())
                    .trim_end_matches('/')
                    .into(),
                graph_endpoint: get("graph_endpoint").unwrap_or_else(|| DEFAULT_GRAPH_ENDPOINT.into()).trim_end_matches('/').into(),
                mailboxes: lines("mailboxes").into_iter().filter(|m| m != "all").collect(),
            };
            if graph.client_secret.is_none() && graph.refresh_token.is_none() {
                return Err(Error::config("mode = \"graph\" needs client_secret (application access) or refresh_token (delegated access)"));
            }
            crate::http::parse_url(&graph.authority)?;
            crate::http::parse_url(&graph.graph_endpoint)?;
            Protocol::Graph(graph)
        }
        Some(other) => return Err(Error::config(format!("mode '{other}' is not one of ews, graph"))),
    };
    Ok(Config { protocol, folders: lines("folders") })
}
