//! Maps a contact's flattened attributes to a helpdesk user.

use crate::bindings::helpdesk::connector::types::{Attribute, FieldMapping, User, UserField};
use crate::error::{Error, Result};
use crate::flatten::{Attributes, get};
use sha2::{Digest, Sha256};

/// The user fields every helpdesk has; anything else is a custom field.
pub const STANDARD_FIELDS: &[&str] = &["email", "firstname", "lastname", "phone"];

pub fn default_mapping() -> Vec<FieldMapping> {
    [
        ("email_addresses.emailaddress1", "email"),
        ("given_name", "firstname"),
        ("surname", "lastname"),
        ("phone_numbers.businessphone", "phone"),
    ]
    .into_iter()
    .map(|(attribute, field)| FieldMapping { attribute: attribute.into(), field: field.into() })
    .collect()
}

/// Every attribute must be one contacts can have, and every target a field
/// the host has; `login` is derived, never mapped, so that it stays stable.
pub fn validate(mapping: &[FieldMapping], fields: &[UserField]) -> Result<()> {
    for rule in mapping {
        if !crate::catalogue::is_known(&rule.attribute) {
            return Err(Error::config(format!(
                "the mapping to '{}' names the unknown attribute '{}' (helpdesk-host attributes lists the attributes contacts have)",
                rule.field, rule.attribute
            )));
        }
        let known = STANDARD_FIELDS.contains(&rule.field.as_str())
            || fields.iter().any(|f| f.name == rule.field);
        if !known {
            let mut names: Vec<&str> = STANDARD_FIELDS.to_vec();
            names.extend(fields.iter().filter(|f| f.custom).map(|f| f.name.as_str()));
            return Err(Error::config(format!(
                "the mapping of '{}' targets the unknown user field '{}' (known fields: {})",
                rule.attribute,
                rule.field,
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// Map one contact. An empty mapping means the default one.
pub fn map_contact(external_id: &str, attributes: &Attributes, mapping: &[FieldMapping]) -> Result<User, String> {
    let default;
    let mapping = if mapping.is_empty() {
        default = default_mapping();
        &default
    } else {
        mapping
    };
    let mut user = User {
        login: String::new(),
        email: None,
        firstname: String::new(),
        lastname: String::new(),
        phone: String::new(),
        extra: Vec::new(),
    };
    for rule in mapping {
        let Some(value) = get(attributes, &rule.attribute) else { continue };
        let value = if crate::dates::DAY_ATTRIBUTES.contains(&rule.attribute.as_str()) {
            crate::dates::as_day(value)
        } else {
            value.trim().to_string()
        };
        match rule.field.as_str() {
            "email" => user.email = Some(checked_email(&value)?),
            "firstname" => user.firstname = value,
            "lastname" => user.lastname = value,
            "phone" => user.phone = value,
            custom => user.extra.push(Attribute { key: custom.to_string(), value }),
        }
    }
    user.login = login_for(user.email.as_deref(), external_id);
    Ok(user)
}

/// A contact as a person knows it, for reasons: its display name (or
/// given name and surname) and first email address, where it has them.
pub fn describe(attributes: &Attributes) -> String {
    let name = match get(attributes, "display_name") {
        Some(name) if !name.trim().is_empty() => name.trim().to_string(),
        _ => {
            let given = get(attributes, "given_name").unwrap_or_default();
            let surname = get(attributes, "surname").unwrap_or_default();
            format!("{} {}", given.trim(), surname.trim()).trim().to_string()
        }
    };
    let name = if name.is_empty() { "(no name)".to_string() } else { name };
    match get(attributes, "email_addresses.emailaddress1") {
        Some(email) if !email.trim().is_empty() => format!("{name} <{}>", email.trim()),
        _ => name,
    }
}

/// An SMTP address. Exchange also keeps `SMTP:`-prefixed forms, and for
/// directory-linked contacts `EX` legacy DNs, `x500:` and `EUM:` entries,
/// which are no mail addresses.
fn checked_email(value: &str) -> Result<String, String> {
    let value = match value.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("smtp:") => &value[5..],
        _ => value,
    };
    let valid = !value.contains([':', ';', '/', '<', '>', ',']) && match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.contains('@') && !value.contains(char::is_whitespace)
        }
        None => false,
    };
    if valid { Ok(value.to_string()) } else { Err(format!("'{value}' is not an email address")) }
}

/// The login: the email address where there is one, lowercased so that a
/// change of case is no new user. Otherwise a value derived from the item
/// id. Exchange ids are case-sensitive base64, so the id is hashed rather
/// than lowercased: ids differing only in case get different logins.
pub fn login_for(email: Option<&str>, external_id: &str) -> String {
    match email {
        Some(email) => email.to_lowercase(),
        None => {
            let digest = Sha256::digest(external_id.as_bytes());
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            format!("exchange-{hex}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn default_mapping_fills_the_standard_fields() {
        let user = map_contact(
            "AAMk1",
            &attrs(&[
                ("given_name", "Zoë"),
                ("surname", "Øster"),
                ("email_addresses.emailaddress1", "Zoe.Oster@Example.com"),
                ("phone_numbers.businessphone", "+45 1234"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(user.login, "zoe.oster@example.com");
        assert_eq!(user.email.as_deref(), Some("Zoe.Oster@Example.com"));
        assert_eq!((user.firstname.as_str(), user.lastname.as_str(), user.phone.as_str()), ("Zoë", "Øster", "+45 1234"));
    }

    #[test]
    fn ids_differing_in_case_get_different_logins() {
        let a = login_for(None, "AAMkAGI2abc=");
        let b = login_for(None, "AAMkAGI2ABC=");
        assert_ne!(a, b);
        assert_eq!(a, login_for(None, "AAMkAGI2abc="));
        assert_eq!(a, a.to_lowercase());
    }

    #[test]
    fn custom_fields_and_unknown_targets() {
        let mapping = vec![FieldMapping { attribute: "department".into(), field: "department".into() }];
        let fields = vec![UserField { name: "department".into(), label: "Department".into(), custom: true }];
        assert!(validate(&mapping, &fields).is_ok());
        let err = validate(&mapping, &[]).unwrap_err();
        assert!(err.message.contains("unknown user field 'department'"), "{}", err.message);
        let user = map_contact("x", &attrs(&[("department", "Sales")]), &mapping).unwrap();
        let extra: Vec<(&str, &str)> = user.extra.iter().map(|a| (a.key.as_str(), a.value.as_str())).collect();
        assert_eq!(extra, [("department", "Sales")]);
    }

    #[test]
    fn a_malformed_email_is_an_error() {
        let err = map_contact("x", &attrs(&[("email_addresses.emailaddress1", "not mail")]), &[]).unwrap_err();
        assert!(err.contains("not an email address"));
        let eum = "EUM:usr@microsoft.com;phone-context=O365";
        assert!(map_contact("x", &attrs(&[("email_addresses.emailaddress1", eum)]), &[]).is_err());
        let smtp = map_contact("x", &attrs(&[("email_addresses.emailaddress1", "SMTP:a@b.org")]), &[]).unwrap();
        assert_eq!(smtp.email.as_deref(), Some("a@b.org"));
    }
}
