//! The attribute keys a contact can have, so that a mapping naming a key
//! that can never exist is refused before anything is synced.

use crate::flatten::KNOWN_EXTENDED;

const SIMPLE: &[&str] = &[
    "item_class", "subject", "categories", "last_modified_time", "file_as", "display_name", "given_name",
    "initials", "middle_name", "nickname", "company_name", "assistant_name", "birthday", "business_home_page",
    "department", "generation", "job_title", "manager", "office_location", "profession", "spouse_name", "surname",
];
const COMPLETE_NAME: &[&str] =
    &["title", "first_name", "middle_name", "last_name", "suffix", "initials", "full_name", "nickname"];
const PHONES: &[&str] = &[
    "assistantphone", "businessfax", "businessphone", "businessphone2", "callback", "carphone", "companymainphone",
    "homefax", "homephone", "homephone2", "isdn", "mobilephone", "otherfax", "othertelephone", "pager",
    "primaryphone", "radiophone", "telex", "ttytddphone",
];
const ADDRESS_KINDS: &[&str] = &["business", "home", "other"];
const ADDRESS_PARTS: &[&str] = &["street", "city", "state", "country_or_region", "postal_code"];

pub fn is_known(key: &str) -> bool {
    let indexed = |prefix: &str, stem: &str| {
        key.strip_prefix(prefix).and_then(|k| k.strip_prefix(stem)).is_some_and(|n| matches!(n, "1" | "2" | "3"))
    };
    if SIMPLE.contains(&key) || indexed("email_addresses.", "emailaddress") || indexed("im_addresses.", "imaddress") {
        return true;
    }
    if let Some(part) = key.strip_prefix("complete_name.") {
        return COMPLETE_NAME.contains(&part);
    }
    if let Some(phone) = key.strip_prefix("phone_numbers.") {
        return PHONES.contains(&phone);
    }
    if let Some(rest) = key.strip_prefix("physical_addresses.") {
        return rest.split_once('.').is_some_and(|(kind, part)| ADDRESS_KINDS.contains(&kind) && ADDRESS_PARTS.contains(&part));
    }
    if let Some(name) = key.strip_prefix("extended.") {
        return KNOWN_EXTENDED.iter().any(|(_, known)| *known == name);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::is_known;

    #[test]
    fn knows_the_keys_contacts_have() {
        for key in [
            "given_name",
            "email_addresses.emailaddress2",
            "phone_numbers.mobilephone",
            "physical_addresses.business.city",
            "company_name",
            "department",
            "extended.customer_id",
            "complete_name.full_name",
        ] {
            assert!(is_known(key), "{key}");
        }
        for key in ["given", "email_addresses.emailaddress4", "physical_addresses.moon.city", "extended.nope", ""] {
            assert!(!is_known(key), "{key}");
        }
    }
}
