//! The plugin's settings: their description for the host's form, and the
//! parsed configuration.

use crate::bindings::helpdesk::connector::types::{Setting, SettingKind, SettingValue};
use crate::error::{Error, Result};

#[derive(Debug)]
pub struct Config {
    pub endpoint: String,
    pub username: String,
    pub password: String,
    /// folder ids or paths; empty: every contact folder
    pub folders: Vec<String>,
}

pub fn settings() -> Vec<Setting> {
    let setting = |key: &str, label: &str, kind: SettingKind, help: &str, required: bool| Setting {
        key: key.into(),
        label: label.into(),
        kind,
        help: help.into(),
        required,
        required_when: None,
        default_value: None,
        choices: Vec::new(),
    };
    vec![
        Setting {
            default_value: Some("ews".into()),
            choices: vec!["ews".into()],
            ..setting("mode", "Protocol", SettingKind::Choice, "ews: Exchange Server on premises", true)
        },
        setting(
            "endpoint",
            "EWS URL",
            SettingKind::Url,
            "for example https://mail.example.com/EWS/Exchange.asmx",
            true,
        ),
        setting("username", "User name", SettingKind::Text, "user@example.com or DOMAIN\\user", true),
        setting("password", "Password", SettingKind::Secret, "never shown or logged", true),
        setting(
            "folders",
            "Address books",
            SettingKind::Text,
            "folder ids or paths (Contacts -> Suppliers), one per line; empty: all contact folders",
            false,
        ),
    ]
}

pub fn parse(values: &[SettingValue]) -> Result<Config> {
    let get = |key: &str| values.iter().find(|v| v.key == key).map(|v| v.value.trim().to_string());
    let required = |key: &str| match get(key) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(Error::config(format!("the setting '{key}' is required"))),
    };
    match get("mode").as_deref() {
        None | Some("") | Some("ews") => {}
        Some(other) => return Err(Error::config(format!("mode '{other}' is not supported by this plugin version"))),
    }
    let endpoint = required("endpoint")?;
    crate::http::parse_url(&endpoint)?;
    Ok(Config {
        endpoint,
        username: required("username")?,
        // A password may legitimately have surrounding spaces.
        password: values
            .iter()
            .find(|v| v.key == "password")
            .map(|v| v.value.clone())
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::config("the setting 'password' is required"))?,
        folders: get("folders")
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    })
}
