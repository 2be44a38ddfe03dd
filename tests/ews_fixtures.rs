//! The plugin's EWS parsers over real and documented Exchange responses
//! from ../shared/fixtures/ews.

use exchange_connector::ews::find_folder::{self, FolderInfo};
use exchange_connector::ews::response::{ResponseError, read_response};
use exchange_connector::ews::xml::{Item, Ns, XmlStream};
use exchange_connector::ews::{find_item, get_item};
use exchange_connector::flatten::{get, read_item};
use helpdesk_e2e::fixture;

#[test]
fn find_folder_reads_folders_and_paging() {
    let Some(xml) = fixture("viewpoint/find_folder_response.xml") else { return };
    let mut parser = find_folder::Parser::new(0);
    let version = read_response(xml.as_slice(), &mut parser).unwrap();
    assert!(version.is_some(), "ServerVersionInfo is read");
    let page = parser.page;
    assert!(!page.status.is_error());
    assert!(page.paging.last);
    assert_eq!(page.folders.len(), 1);
    let FolderInfo { id, name, total_count, child_count, .. } = &page.folders[0];
    assert_eq!((id.as_str(), name.as_str(), *total_count, *child_count), ("AQAnAH", "TestFolder", 0, 0));
}

#[test]
fn find_folder_with_the_messages_namespace_as_default() {
    // The documentation writes FindFolderResponse in the default namespace.
    let Some(xml) = fixture("msdocs/findfolder-operation__02_response.xml") else { return };
    let mut parser = find_folder::Parser::new(0);
    let version = read_response(xml.as_slice(), &mut parser).unwrap().unwrap();
    assert_eq!((version.major, version.minor, version.build), (8, 0, 652));
    assert_eq!(version.product(), "Exchange Server 2007");
    assert_eq!(parser.page.folders[0].name, "TestFolder");
}

#[test]
fn find_folder_error_message_is_reported() {
    let Some(xml) = fixture("viewpoint/find_folder_error_response.xml") else { return };
    let mut parser = find_folder::Parser::new(0);
    read_response(xml.as_slice(), &mut parser).unwrap();
    assert!(parser.page.status.is_error());
    assert_eq!(parser.page.status.code, "ErrorInvalidIdMalformed");
    assert!(parser.page.folders.is_empty());
}

#[test]
fn find_item_pages_of_a_real_exchange_online_response() {
    let Some(xml) = fixture("ews-javascript-api/FindItemRequest1ItemViewResponse.xml") else { return };
    let mut parser = find_item::Parser::new(0);
    let version = read_response(xml.as_slice(), &mut parser).unwrap().unwrap();
    assert_eq!(version.display(), "15.1.213.13 (V2_47)");
    let page = parser.page;
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].kind, "Message");
    assert!(page.items[0].id.starts_with("AAMkADM5NjU5ZGZm"));
    assert!(!page.items[0].change_key.is_empty());
    assert!(!page.paging.last, "IncludesLastItemInRange=false: more pages follow");
    assert_eq!(page.paging.next_offset, 1);
    assert_eq!(page.paging.total, Some(1));
}

#[test]
fn find_item_documentation_sample() {
    let Some(xml) = fixture("msdocs/finditem-operation__02_response.xml") else { return };
    let mut parser = find_item::Parser::new(0);
    read_response(xml.as_slice(), &mut parser).unwrap();
    let page = parser.page;
    assert!(page.paging.last);
    assert_eq!(page.paging.total, Some(10));
    assert!(!page.items.is_empty());
    assert!(page.items.iter().all(|item| !item.id.is_empty()));
    // No IndexedPagingOffset in the sample: the next offset is the count.
    assert_eq!(page.paging.next_offset as usize, page.items.len());
}

#[test]
fn get_item_contact_is_flattened() {
    let Some(xml) = fixture("msdocs/getitem-operation-contact__02_response.xml") else { return };
    let mut parser = get_item::parser();
    read_response(xml.as_slice(), &mut parser).unwrap();
    assert_eq!(parser.results.len(), 1);
    let contact = parser.results.remove(0).unwrap();
    assert_eq!((contact.id.as_str(), contact.change_key.as_str(), contact.kind.as_str()), ("AAAtAEA=", "EQAAABYq", "Contact"));
    let a = &contact.attributes;
    assert_eq!(get(a, "given_name"), Some("Tanja"));
    assert_eq!(get(a, "surname"), Some("Plate"));
    assert_eq!(get(a, "display_name"), Some("Tanja Plate"));
    assert_eq!(get(a, "company_name"), Some("Northwind Traders"));
    assert_eq!(get(a, "job_title"), Some("Project Manager"));
    assert_eq!(get(a, "email_addresses.emailaddress1"), Some("tplate@example.com"));
    assert_eq!(get(a, "email_addresses.emailaddress2"), Some("tplate@example.com"));
    assert_eq!(get(a, "phone_numbers.businessphone"), Some("5625550199"));
    assert_eq!(get(a, "physical_addresses.business.city"), Some("Whittier"));
    assert_eq!(get(a, "physical_addresses.business.street"), Some("12345 67th Ave"));
    assert_eq!(get(a, "complete_name.full_name"), Some("Tanja Plate"));
    assert_eq!(get(a, "item_id"), None, "identity is not an attribute");
}

#[test]
fn get_item_error_message_per_item() {
    let Some(xml) = fixture("msdocs/getitem-operation-contact__04_response.xml") else { return };
    let mut parser = get_item::parser();
    read_response(xml.as_slice(), &mut parser).unwrap();
    let status = parser.results.remove(0).unwrap_err();
    assert_eq!(status.code, "ErrorUnsupportedMimeConversion");
    assert_eq!(status.text, "Mime conversion is not supported for this item type.");
}

#[test]
fn forbidden_character_references_are_dropped_not_fatal() {
    let Some(xml) = fixture("viewpoint/dodgy_ews_response.xml") else { return };
    let mut parser = get_item::parser();
    read_response(xml.as_slice(), &mut parser).unwrap();
    let item = parser.results.remove(0).unwrap();
    assert_eq!(item.kind, "CalendarItem");
    assert_eq!(get(&item.attributes, "subject"), Some("Invalid character"));
    for (key, value) in &item.attributes {
        assert!(!value.chars().any(|c| c < ' ' && !"\t\n\r".contains(c)), "{key} keeps a forbidden character");
    }
}

#[test]
fn real_exchange_online_contact_flattens_every_entry() {
    // ResolveNames with full contact data: a real contact element.
    let Some(xml) = fixture("ews-javascript-api/ResolveNameWithContactDetail.xml") else { return };
    let mut stream = XmlStream::new(xml.as_slice());
    let contact = loop {
        match stream.next().unwrap() {
            Item::Start(tag) if tag.is(Ns::Types, "Contact") => break read_item(&mut stream).unwrap(),
            Item::Eof => panic!("no contact in the fixture"),
            _ => {}
        }
    };
    let attributes = contact.attributes;
    let value = |key: &str| get(&attributes, key).unwrap_or_else(|| panic!("{key} missing in {attributes:?}"));
    assert!(value("email_addresses.emailaddress1").starts_with("EUM:"));
    assert!(value("email_addresses.emailaddress3").starts_with("x500:"));
    assert_eq!(value("phone_numbers.businessphone"), "+1 (425) 7076604 X76604");
    assert_eq!(value("phone_numbers.mobilephone"), "+1 (561) 634 1208");
    // Empty entries (`<t:Entry Key="HomePhone"/>`, an empty address) are no attributes.
    assert!(get(&attributes, "phone_numbers.homephone").is_none());
    assert!(!attributes.iter().any(|(k, _)| k.starts_with("physical_addresses.")));
    // A directory EUM address is no mail address: the default mapping says so.
    let err = exchange_connector::mapping::map_contact("id", &attributes, &[]).unwrap_err();
    assert!(err.contains("is not an email address"), "{err}");
}

#[test]
fn documentation_typo_namespace_is_not_exchange() {
    // Parsing is by namespace: a response in a wrong namespace is not read
    // as EWS. (23 documentation samples carry this typo; servers do not.)
    let Some(xml) = fixture("msdocs/how-to-synchronize-folders-by-using-ews-in-exchange__02_response.xml") else { return };
    let mut parser = get_item::parser();
    let result = read_response(xml.as_slice(), &mut parser);
    assert!(parser.results.is_empty());
    assert!(matches!(&result, Err(ResponseError::NotSoap(_))), "{result:?}");
}

/// SyncFolderItems, the parser behind every full and incremental sync of a
/// mailbox folder, over Microsoft's documented responses.
#[test]
fn sync_folder_items_reads_the_documented_responses() {
    use exchange_connector::ews::sync_folder_items::{self, ItemChange};
    let ids = |page: &sync_folder_items::Page| -> Vec<(String, String)> {
        page.changes
            .iter()
            .map(|c| match c {
                ItemChange::Upsert(item) => (format!("upsert {}", item.kind), item.id.clone()),
                ItemChange::Delete(id) => ("delete".to_string(), id.clone()),
                ItemChange::ReadFlag { id, is_read } => (format!("read {is_read}"), id.clone()),
            })
            .collect()
    };

    let Some(xml) = fixture("msdocs/syncfolderitems-operation__02_response.xml") else { return };
    let mut parser = sync_folder_items::Parser::default();
    let version = read_response(xml.as_slice(), &mut parser).unwrap().unwrap();
    assert_eq!((version.major, version.minor), (8, 0));
    let page = &parser.page;
    assert!(!page.status.is_error());
    assert_eq!((page.state.as_str(), page.last), ("H4sIAAAAA=", true));
    assert_eq!(ids(page), [("upsert MeetingRequest".to_string(), "AQApAHRwA==".to_string())]);
    let ItemChange::Upsert(item) = &page.changes[0] else { unreachable!() };
    assert_eq!(item.change_key, "CwAAABYA");

    // A sync state Exchange refuses: the message's error, nothing else.
    let Some(xml) = fixture("msdocs/syncfolderitems-operation__03_response.xml") else { return };
    let mut parser = sync_folder_items::Parser::default();
    read_response(xml.as_slice(), &mut parser).unwrap();
    assert_eq!(parser.page.status.code, "ErrorInvalidSyncStateData");
    assert!(parser.page.changes.is_empty());

    // Updates, creates, a read-flag change (no change to a contact) and a
    // delete, in the order they happened. The article writes the SOAP
    // namespace with https://, which no Exchange sends: read by namespace,
    // that is no envelope; with the namespace Exchange uses, its body reads.
    let Some(xml) = fixture("msdocs/how-to-synchronize-items-by-using-ews-in-exchange__04_response.xml") else { return };
    let mut parser = sync_folder_items::Parser::default();
    assert!(matches!(read_response(xml.as_slice(), &mut parser), Err(ResponseError::NotSoap(_))));
    let xml = String::from_utf8(xml).unwrap().replace("https://schemas.xmlsoap.org/soap/envelope/", "http://schemas.xmlsoap.org/soap/envelope/");
    let mut parser = sync_folder_items::Parser::default();
    read_response(xml.as_bytes(), &mut parser).unwrap();
    let page = &parser.page;
    assert!(page.last);
    let found = ids(page);
    let expected: Vec<(String, String)> = [
        ("upsert Message", "q04QAAAA=="),
        ("upsert Message", "AQMkAD+"),
        ("upsert Message", "Q04AAAAA=="),
        // The documented ReadFlagChange: read without refetching the mail.
        ("read true", " q07AAAAA=="),
        ("delete", " q1AwAAAA=="),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(found, expected);
}
