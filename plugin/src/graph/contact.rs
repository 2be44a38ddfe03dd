//! A Graph contact flattened to the same attribute keys as EWS mode, so
//! that one mapping serves both.

use crate::flatten::Attributes;
use serde_json::Value;

/// Graph property -> the EWS mode's key, for plain strings.
const STRINGS: &[(&str, &str)] = &[
    ("givenName", "given_name"),
    ("surname", "surname"),
    ("middleName", "middle_name"),
    ("displayName", "display_name"),
    ("nickName", "nickname"),
    ("initials", "initials"),
    ("generation", "generation"),
    ("title", "complete_name.title"),
    ("companyName", "company_name"),
    ("department", "department"),
    ("jobTitle", "job_title"),
    ("officeLocation", "office_location"),
    ("profession", "profession"),
    ("manager", "manager"),
    ("assistantName", "assistant_name"),
    ("spouseName", "spouse_name"),
    ("businessHomePage", "business_home_page"),
    ("fileAs", "file_as"),
    ("birthday", "birthday"),
    ("mobilePhone", "phone_numbers.mobilephone"),
    ("lastModifiedDateTime", "last_modified_time"),
];
const ADDRESSES: &[(&str, &str)] = &[("businessAddress", "business"), ("homeAddress", "home"), ("otherAddress", "other")];
const ADDRESS_PARTS: &[(&str, &str)] = &[
    ("street", "street"),
    ("city", "city"),
    ("state", "state"),
    ("postalCode", "postal_code"),
    ("countryOrRegion", "country_or_region"),
];

pub fn flatten(contact: &Value) -> Attributes {
    let mut out = Attributes::new();
    // Unset strings are null (API-made) or "" (Outlook-made): both absent.
    let mut push = |key: String, value: &Value| {
        if let Some(text) = value.as_str().map(str::trim).filter(|t| !t.is_empty()) {
            out.push((key, text.to_string()));
        }
    };
    for (property, key) in STRINGS {
        push(key.to_string(), &contact[property]);
    }
    for (i, entry) in contact["emailAddresses"].as_array().into_iter().flatten().take(3).enumerate() {
        push(format!("email_addresses.emailaddress{}", i + 1), &entry["address"]);
    }
    for (property, key) in [("businessPhones", "businessphone"), ("homePhones", "homephone")] {
        for (i, phone) in contact[property].as_array().into_iter().flatten().take(2).enumerate() {
            let suffix = if i == 0 { String::new() } else { "2".into() };
            push(format!("phone_numbers.{key}{suffix}"), phone);
        }
    }
    for (i, im) in contact["imAddresses"].as_array().into_iter().flatten().take(3).enumerate() {
        push(format!("im_addresses.imaddress{}", i + 1), im);
    }
    for (property, kind) in ADDRESSES {
        for (part, key) in ADDRESS_PARTS {
            push(format!("physical_addresses.{kind}.{key}"), &contact[property][part]);
        }
    }
    let categories: Vec<&str> = contact["categories"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if !categories.is_empty() {
        out.push(("categories".into(), categories.join(", ")));
    }
    out
}
