//! Flattens an EWS item into `key = value` attributes that any user field
//! can be mapped from.
//!
//! Keys are the snake_case element names joined by dots; dictionary entries
//! use their lowercased `Key`: `given_name`, `email_addresses.emailaddress1`,
//! `phone_numbers.mobilephone`, `physical_addresses.business.city`,
//! `complete_name.first_name`. Lists of strings (`Categories`) become one
//! comma-separated value. Extended properties become
//! `extended.<property set>.<name, id or tag>`.

use crate::ews::xml::{Item, Tag, XmlError, XmlStream};
use std::io::BufRead;

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

/// An item read from the stream: its ids and its attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadItem {
    pub id: String,
    pub change_key: String,
    pub attributes: Attributes,
}

/// Read the rest of an item whose start tag was just read, flattening it
/// as it streams: no tree of the item is built (a sync reads 100,000).
pub fn read_item<R: BufRead>(stream: &mut XmlStream<R>) -> Result<ReadItem, XmlError> {
    let mut item = ReadItem::default();
    let mut key = String::with_capacity(64);
    loop {
        match stream.next()? {
            Item::Start(tag) => match tag.name.as_str() {
                "ItemId" => {
                    item.id = tag.attr("Id").unwrap_or_default().to_string();
                    item.change_key = tag.attr("ChangeKey").unwrap_or_default().to_string();
                    stream.skip_element()?;
                }
                name if NOT_ATTRIBUTES.contains(&name) => stream.skip_element()?,
                "ExtendedProperty" => extended(stream, &mut item.attributes)?,
                name => {
                    key.clear();
                    snake_case_into(&mut key, name);
                    walk(stream, &mut key, &mut item.attributes)?;
                }
            },
            Item::Text(_) => {}
            Item::End => return Ok(item),
            Item::Eof => return Err(truncated()),
        }
    }
}

pub fn get<'a>(attributes: &'a Attributes, key: &str) -> Option<&'a str> {
    attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The rest of an element under `key`: its text when it has no children,
/// else its children under longer keys.
fn walk<R: BufRead>(stream: &mut XmlStream<R>, key: &mut String, out: &mut Attributes) -> Result<(), XmlError> {
    let mut text = String::new();
    let mut parent = false;
    loop {
        match stream.next()? {
            Item::Start(child) => {
                parent = true;
                // `ArrayOfStringsType` entries are list items of their parent.
                if child.name == "String" {
                    walk(stream, key, out)?;
                    continue;
                }
                let length = key.len();
                key.push('.');
                match child.attr("Key") {
                    Some(k) => key.extend(k.chars().map(|c| c.to_ascii_lowercase())),
                    None => snake_case_into(key, &child.name),
                }
                walk(stream, key, out)?;
                key.truncate(length);
            }
            // Usually one piece: kept, not copied.
            Item::Text(part) if !parent && text.is_empty() => text = part,
            Item::Text(part) if !parent => text.push_str(&part),
            Item::Text(_) => {}
            Item::End => {
                if !parent {
                    push_owned(out, key, text);
                }
                return Ok(());
            }
            Item::Eof => return Err(truncated()),
        }
    }
}

/// [`push`] for a value we own: moved, not copied, when it needs no trim.
fn push_owned(out: &mut Attributes, key: &str, value: String) {
    if value.trim().len() == value.len() && !value.is_empty() && !out.iter().any(|(k, _)| k == key) {
        out.push((key.to_string(), value));
    } else {
        push(out, key, value.trim());
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

/// An `ExtendedProperty`: its key from `ExtendedFieldURI`, its text from
/// `Value` or the `Value`s of `Values`.
fn extended<R: BufRead>(stream: &mut XmlStream<R>, out: &mut Attributes) -> Result<(), XmlError> {
    let mut key = None;
    let mut values = Vec::new();
    loop {
        match stream.next()? {
            Item::Start(tag) if tag.name == "ExtendedFieldURI" => {
                key = Some(extended_key(&tag));
                stream.skip_element()?;
            }
            Item::Start(tag) if tag.name == "Value" => values.push(stream.read_element(tag)?.text),
            Item::Start(tag) if tag.name == "Values" => loop {
                match stream.next()? {
                    Item::Start(tag) if tag.name == "Value" => values.push(stream.read_element(tag)?.text),
                    Item::Start(_) => stream.skip_element()?,
                    Item::Text(_) => {}
                    Item::End => break,
                    Item::Eof => return Err(truncated()),
                }
            },
            Item::Start(_) => stream.skip_element()?,
            Item::Text(_) => {}
            Item::End => break,
            Item::Eof => return Err(truncated()),
        }
    }
    if let Some(key) = key {
        for value in values {
            push(out, &key, value.trim());
        }
    }
    Ok(())
}

fn extended_key(uri: &Tag) -> String {
    let tag = uri.attr("PropertyTag").map(str::to_ascii_lowercase);
    match tag.as_deref().and_then(|t| KNOWN_EXTENDED.iter().find(|(k, _)| *k == t)) {
        Some((_, name)) => format!("extended.{name}"),
        None => generic_extended_key(uri),
    }
}

fn truncated() -> XmlError {
    XmlError("document ends inside an item".into())
}

fn generic_extended_key(uri: &Tag) -> String {
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

/// `GivenName` -> `given_name`, `IPPhone` -> `ip_phone`, appended to `out`
/// (keys are built in one buffer).
fn snake_case_into(out: &mut String, name: &str) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flatten(xml: &str) -> ReadItem {
        let mut stream = XmlStream::new(xml.as_bytes());
        match stream.next().unwrap() {
            Item::Start(_) => read_item(&mut stream).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    fn snake_case(name: &str) -> String {
        let mut out = String::new();
        snake_case_into(&mut out, name);
        out
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
        let contact = flatten(concat!(
            r#"<Contact><ItemId Id="x" ChangeKey="k"/><GivenName>Ana</GivenName>"#,
            r#"<EmailAddresses><Entry Key="EmailAddress1">a@x.org</Entry><Entry Key="EmailAddress2"/></EmailAddresses>"#,
            r#"<PhysicalAddresses><Entry Key="Business"><City>Porto</City></Entry></PhysicalAddresses>"#,
            r#"<Categories><String>A</String><String>B</String></Categories>"#,
            r#"<ExtendedProperty><ExtendedFieldURI DistinguishedPropertySetId="Address" PropertyId="32899" PropertyType="String"/><Value>a@x.org</Value></ExtendedProperty>"#,
            r#"</Contact>"#
        ));
        assert_eq!((contact.id.as_str(), contact.change_key.as_str()), ("x", "k"));
        assert_eq!(
            contact.attributes,
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
