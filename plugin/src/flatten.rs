//! Flattens an EWS item into `key = value` attributes that any user field
//! can be mapped from.
//!
//! Keys are the snake_case element names joined by dots; dictionary entries
//! use their lowercased `Key`: `given_name`, `email_addresses.emailaddress1`,
//! `phone_numbers.mobilephone`, `physical_addresses.business.city`,
//! `complete_name.first_name`. Lists of strings (`Categories`) become one
//! comma-separated value. Extended properties become
//! `extended.<property set>.<name, id or tag>`.

use crate::ews::xml::Element;

pub type Attributes = Vec<(String, String)>;

/// Extended (MAPI) properties every read asks for, by tag, with the names
/// their attributes get: `extended.customer_id`, ...
pub const KNOWN_EXTENDED: &[(&str, &str)] = &[
    ("0x3a4a", "customer_id"),
    ("0x3a00", "account"),
    ("0x3a10", "organizational_id_number"),
    ("0x3a07", "government_id_number"),
    ("0x3a45", "title"),
];

/// Item parts that are identity or bulk, not attributes.
const NOT_ATTRIBUTES: &[&str] =
    &["ItemId", "ParentFolderId", "MimeContent", "Attachments", "EffectiveRights", "Body", "UniqueBody"];

pub fn flatten(item: &Element) -> Attributes {
    let mut out = Attributes::new();
    for child in &item.children {
        match child.name.as_str() {
            name if NOT_ATTRIBUTES.contains(&name) => {}
            "ExtendedProperty" => extended(child, &mut out),
            name => walk(child, &snake_case(name), &mut out),
        }
    }
    out
}

pub fn get<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a str> {
    attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn walk(element: &Element, key: &str, out: &mut Attributes) {
    if element.children.is_empty() {
        push(out, key, element.text.trim());
        return;
    }
    for child in &element.children {
        // `ArrayOfStringsType` entries are list items of their parent.
        if child.name == "String" {
            walk(child, key, out);
            continue;
        }
        let segment = match child.attr("Key") {
            Some(k) => k.to_ascii_lowercase(),
            None => snake_case(&child.name),
        };
        walk(child, &format!("{key}.{segment}"), out);
    }
}

fn push(out: &mut Attributes, key: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    match out.iter_mut().find(|(k, _)| k == key) {
        Some((_, existing)) => {
            existing.push_str(", ");
            existing.push_str(value);
        }
        None => out.push((key.to_string(), value.to_string())),
    }
}

fn extended(property: &Element, out: &mut Attributes) {
    let Some(uri) = property.child("ExtendedFieldURI") else { return };
    let tag = uri.attr("PropertyTag").map(str::to_ascii_lowercase);
    let known = tag.as_deref().and_then(|t| KNOWN_EXTENDED.iter().find(|(k, _)| *k == t));
    let key = match known {
        Some((_, name)) => format!("extended.{name}"),
        None => generic_extended_key(uri),
    };
    if let Some(value) = property.child("Value") {
        push(out, &key, value.text.trim());
    }
    if let Some(values) = property.child("Values") {
        for value in &values.children {
            push(out, &key, value.text.trim());
        }
    }
}

fn generic_extended_key(uri: &Element) -> String {
    let set = uri
        .attr("DistinguishedPropertySetId")
        .or(uri.attr("PropertySetId"))
        .unwrap_or("tag")
        .to_ascii_lowercase();
    let name = uri
        .attr("PropertyName")
        .or(uri.attr("PropertyId"))
        .or(uri.attr("PropertyTag"))
        .unwrap_or("unknown")
        .to_ascii_lowercase();
    format!("extended.{set}.{name}")
}

/// `GivenName` -> `given_name`, `IPPhone` -> `ip_phone`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut chars = name.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        if let (true, Some(prev)) = (c.is_uppercase(), prev) {
            let next_lower = chars.peek().is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        // Element names are ASCII; spare them the Unicode case tables.
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::xml::{Item, XmlStream};

    fn element(xml: &str) -> Element {
        let mut stream = XmlStream::new(xml.as_bytes());
        match stream.next().unwrap() {
            Item::Start(tag) => stream.read_element(tag).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn snake_cases_element_names() {
        assert_eq!(snake_case("GivenName"), "given_name");
        assert_eq!(snake_case("CountryOrRegion"), "country_or_region");
        assert_eq!(snake_case("IPPhone"), "ip_phone");
        assert_eq!(snake_case("Surname"), "surname");
    }

    #[test]
    fn flattens_dictionaries_lists_and_extended_properties() {
        let contact = element(concat!(
            r#"<Contact><ItemId Id="x"/><GivenName>Ana</GivenName>"#,
            r#"<EmailAddresses><Entry Key="EmailAddress1">a@x.org</Entry><Entry Key="EmailAddress2"/></EmailAddresses>"#,
            r#"<PhysicalAddresses><Entry Key="Business"><City>Porto</City></Entry></PhysicalAddresses>"#,
            r#"<Categories><String>A</String><String>B</String></Categories>"#,
            r#"<ExtendedProperty><ExtendedFieldURI DistinguishedPropertySetId="Address" PropertyId="32899" PropertyType="String"/><Value>a@x.org</Value></ExtendedProperty>"#,
            r#"</Contact>"#
        ));
        assert_eq!(
            flatten(&contact),
            vec![
                ("given_name".to_string(), "Ana".to_string()),
                ("email_addresses.emailaddress1".into(), "a@x.org".into()),
                ("physical_addresses.business.city".into(), "Porto".into()),
                ("categories".into(), "A, B".into()),
                ("extended.address.32899".into(), "a@x.org".into()),
            ]
        );
    }
}
