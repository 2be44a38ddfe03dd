//! Flattens an EWS item into `key = value` attributes that any user field
//! can be mapped from.
//!
//! Keys are the snake_case element names joined by dots; dictionary entries
//! use their lowercased `Key`: `given_name`, `email_addresses.emailaddress1`,
//! `phone_numbers.mobilephone`, `physical_addresses.business.city`,
//! `complete_name.first_name`. Lists of strings (`Categories`) become one
//! comma-separated value. Extended properties become
//! `extended.<property set>.<name, id or tag>`.

use crate::ews::xml::{Item, Tag, XmlError, XmlStream, needs_trim};
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
    if !needs_trim(&value) && !value.is_empty() && !out.iter().any(|(k, _)| same_key(k, key)) {
        out.push((key.to_string(), value));
    } else {
        push(out, key, value.trim());
    }
}

/// Keys of one item differ mostly at their end (`...emailaddress1`,
/// `...emailaddress2`): looked at there first, the byte-by-byte memcmp of
/// wasm is rarely reached.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().last() == b.as_bytes().last() && a == b
}

fn push(out: &mut Attributes, key: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    match out.iter_mut().find(|(k, _)| same_key(k, key)) {
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
    // Word boundaries are told by ASCII bytes (element names are ASCII),
    // and the runs between them are copied whole.
    let bytes = name.as_bytes();
    let from = out.len();
    let mut run = 0;
    for (i, b) in bytes.iter().enumerate().filter(|(_, b)| b.is_ascii_uppercase()) {
        out.push_str(&name[run..i]);
        let prev = i.checked_sub(1).map(|p| bytes[p]);
        let next_lower = bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        if prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit() || (p.is_ascii_uppercase() && next_lower)) {
            out.push('_');
        }
        out.push(char::from(b.to_ascii_lowercase()));
        run = i + 1;
    }
    out.push_str(&name[run..]);
    if !name.is_ascii() {
        let written = out.split_off(from);
        out.push_str(&written.to_lowercase());
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
        assert_eq!(snake_case("EmailAddress1"), "email_address1");
        assert_eq!(snake_case("Phone2Number"), "phone2_number");
        assert_eq!(snake_case("ABC"), "abc");
        assert_eq!(snake_case("Straße"), "straße");
        assert_eq!(snake_case("ÄrgerNummer"), "ärger_nummer");
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
