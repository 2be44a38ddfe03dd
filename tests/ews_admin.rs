//! What an admin sets up: address books (mailbox and public, names
//! cleaned, denied folders reported), attributes, and the mapping.

use helpdesk_e2e::{full_sync, setup};
use helpdesk_host::cli::emulator_config;
use helpdesk_host::runs::Connection;
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_lists_mailbox_and_public_address_books_cleanly() {
    let s = setup(300, 21).await;
    let folders = s
        .connection
        .folders(&Runtime::shared().unwrap())
        .await
        .unwrap();
    let paths: Vec<&str> = folders.iter().map(|f| f.path.as_str()).collect();
    // Every contact folder, Exchange's hidden ones, Deleted Items' and the
    // search folder included: any of them may be named in `folders`.
    assert_eq!(
        paths,
        [
            "Contacts",
            "Contacts -> Recipient Cache",
            "Contacts -> {06967759-274D-40B2-A3EB-D7F9E73727D7}",
            "Contacts -> {A9E2BC46-B3A0-4243-B315-60D991004455}",
            "Contacts -> GAL Contacts",
            "Contacts -> Organizational Contacts",
            "Contacts -> PeopleCentricConversation Buddies",
            "Contacts -> Companies",
            // a ContactsFolder without a FolderClass
            "Contacts -> Partners",
            "Contacts -> Suppliers",
            "Contacts -> Suppliers -> Europe",
            "Contacts -> Customers",
            // U+0001 is dropped; a byte that is not UTF-8 becomes U+FFFD.
            "Contacts -> Alte Kontakte",
            "Contacts -> Archiv \u{FFFD}2019",
            "Deleted Items -> Old suppliers",
            "AllContacts",
            "Public Folders -> Company Contacts",
            "Public Folders -> Company Contacts -> Board",
        ]
    );
    let mailbox = s.emulator.mailbox();
    for folder in &folders {
        let truth = mailbox.folder(&folder.id).unwrap();
        assert_eq!(
            folder.item_count as usize,
            mailbox.item_count(truth),
            "{}",
            folder.path
        );
    }
    // `default` as the emulator's truth has it (a denied folder is one: it
    // is tried, and warns); the others say why they are left out.
    let books: std::collections::BTreeSet<&str> = helpdesk_e2e::address_books(&mailbox).iter().map(|f| f.id.as_str()).collect();
    for folder in &folders {
        let default = books.contains(folder.id.as_str()) || mailbox.folder(&folder.id).unwrap().denied;
        assert_eq!(folder.excluded.is_none(), default, "{}: {:?}", folder.path, folder.excluded);
    }
    let why = |path: &str| folders.iter().find(|f| f.path == path).and_then(|f| f.excluded.clone()).unwrap_or_default();
    assert!(why("Contacts -> Recipient Cache").contains("hidden"), "{}", why("Contacts -> Recipient Cache"));
    assert!(why("Contacts -> Companies").contains("IPF.Contact.Company"), "{}", why("Contacts -> Companies"));
    assert!(why("AllContacts").contains("search folder"), "{}", why("AllContacts"));
    assert!(why("Deleted Items -> Old suppliers").contains("Deleted Items"), "{}", why("Deleted Items -> Old suppliers"));
    drop(mailbox);
    // The board denies access: a warning, and the rest is synced: with
    // `folders = []`, exactly the default address books.
    let summary = full_sync(&s).await;
    let read: Vec<&str> = summary.folders.iter().map(|f| f.path.as_str()).collect();
    let expected: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| {
            !p.contains("Recipient")
                && !p.contains('{')
                && !p.contains("GAL")
                && !p.contains("Organizational")
                && !p.contains("Buddies")
                && !p.ends_with("Companies")
                && !p.contains("Deleted")
                && *p != "AllContacts"
                && !p.ends_with("Board")
        })
        .collect();
    assert_eq!(read, expected);
    let listed_default: Vec<&str> = folders.iter().filter(|f| f.excluded.is_none() && !f.path.ends_with("Board")).map(|f| f.path.as_str()).collect();
    assert_eq!(read, listed_default, "a sync with `folders = []` reads what `folders` calls default");
    helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());
    let board: Vec<&String> = summary
        .warnings
        .iter()
        .filter(|w| w.contains("Board"))
        .collect();
    assert!(
        board.iter().any(|w| w.contains("ErrorAccessDenied")),
        "{:?}",
        summary.warnings
    );
    assert_eq!(summary.counts.created + summary.counts.skipped, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_are_flat_keys_with_examples() {
    let s = setup(300, 22).await;
    let found = s
        .connection
        .attributes(&Runtime::shared().unwrap(), 100)
        .await
        .unwrap();
    let found: BTreeMap<&str, &str> = found
        .iter()
        .map(|a| (a.key.as_str(), a.example.as_str()))
        .collect();
    for key in [
        "given_name",
        "surname",
        "email_addresses.emailaddress1",
        "email_addresses.emailaddress2",
        "phone_numbers.businessphone",
        "phone_numbers.mobilephone",
        "physical_addresses.business.city",
        "physical_addresses.business.country_or_region",
        "company_name",
        "department",
        "job_title",
        "complete_name.full_name",
        "extended.customer_id",
    ] {
        let example = found
            .get(key)
            .unwrap_or_else(|| panic!("{key} not found in {found:?}"));
        assert!(!example.is_empty(), "{key} has an example");
    }
    assert!(found["extended.customer_id"].starts_with("K-"));
    assert!(
        found
            .keys()
            .all(|k| exchange_connector::catalogue::is_known(k)),
        "every key found can be mapped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_attribute_maps_to_any_field_including_custom_ones() {
    let s = setup(200, 23).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("custom.db");
    let mut config = emulator_config(&s.emulator, &db);
    config.fields = [
        ("department".to_string(), "Department".to_string()),
        ("customer_no".into(), "Customer number".into()),
        ("birthday".into(), "Birthday".into()),
    ]
    .into();
    config.mapping = [
        ("email_addresses.emailaddress1", "email"),
        ("complete_name.full_name", "firstname"),
        ("physical_addresses.business.city", "lastname"),
        ("phone_numbers.mobilephone", "phone"),
        ("department", "department"),
        ("extended.customer_id", "customer_no"),
        ("birthday", "birthday"),
    ]
    .into_iter()
    .map(|(a, f)| (a.to_string(), f.to_string()))
    .collect();
    let store = helpdesk_host::store::Store::open(&db).unwrap();
    for (name, label) in &config.fields {
        store.declare_field(name, label).unwrap();
    }
    let summary = Connection::from_config(&config)
        .unwrap()
        .sync(&Runtime::shared().unwrap(), &store, SyncMode::Full, false)
        .await
        .unwrap();
    assert_eq!(summary.counts.failed, 0);
    let users = helpdesk_e2e::by_external_id(store.users().unwrap());
    let mailbox = s.emulator.mailbox();
    let mut with_customer = 0;
    let mut with_birthday = 0;
    for (id, user) in &users {
        let contact = mailbox.contact(id).unwrap();
        assert_eq!(user.firstname, contact.display_name);
        assert_eq!(user.lastname, contact.city);
        assert_eq!(user.phone, contact.mobile_phone.clone().unwrap_or_default());
        assert_eq!(user.extra["department"], contact.department.as_str());
        match &contact.customer_id {
            Some(number) => {
                assert_eq!(user.extra["customer_no"], number.as_str());
                with_customer += 1;
            }
            None => assert!(user.extra.get("customer_no").is_none()),
        }
        // Birthdays arrive as the instant of their local midnight; users
        // get the day.
        assert_eq!(user.extra.get("birthday").and_then(|v| v.as_str()), contact.birthday.as_deref(), "{id}");
        with_birthday += usize::from(contact.birthday.is_some());
    }
    assert!(with_customer > 0);
    assert!(with_birthday > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_attribute_or_field_stops_the_sync_before_it_starts() {
    let s = setup(50, 24).await;
    let runtime = Runtime::shared().unwrap();
    for (attribute, field, expected) in [
        ("department", "dept", "unknown user field 'dept'"),
        (
            "departement",
            "firstname",
            "unknown attribute 'departement'",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = emulator_config(&s.emulator, &dir.path().join("x.db"));
        config.mapping = [(attribute.to_string(), field.to_string())].into();
        let before = s.emulator.requests();
        let error = Connection::from_config(&config)
            .unwrap()
            .sync(&runtime, &s.store, SyncMode::Full, false)
            .await
            .unwrap_err();
        assert_eq!(error.kind, "configuration", "{error}");
        assert!(error.message.contains(expected), "{error}");
        assert_eq!(s.emulator.requests(), before, "not one request was sent");
        assert_eq!(s.store.user_count().unwrap(), 0);
    }
}

/// `folders` may name the Contacts folder by its distinguished name, in
/// any language, and a folder left out by default on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_name_contacts_by_distinguished_name_and_internal_ones_on_purpose() {
    let s = setup(120, 24).await;
    let connection = s.connection_with(|c| {
        c.exchange.folders = vec!["contacts".into(), "contacts/Recipient Cache".into()]
    });
    let summary = connection
        .sync(&Runtime::shared().unwrap(), &s.store, SyncMode::Full, false)
        .await
        .unwrap();
    let read: Vec<&str> = summary.folders.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(read, ["Contacts", "Contacts -> Recipient Cache"]);
    let mailbox = s.emulator.mailbox();
    let wanted: Vec<&str> = ["contacts", "recipientcache"]
        .iter()
        .map(|n| mailbox.distinguished(n).unwrap().id.as_str())
        .collect();
    let users = s.store.users().unwrap();
    let active: Vec<_> = users.iter().filter(|u| u.active).collect();
    let expected = mailbox
        .contacts
        .iter()
        .filter(|c| c.kind == "Contact" && wanted.contains(&c.folder_id.as_str()))
        .count();
    assert!(
        active
            .iter()
            .all(|u| wanted.contains(&u.folder_id.as_deref().unwrap()))
    );
    assert_eq!(active.len() + summary.counts.skipped as usize, expected);
    assert_eq!(
        active
            .iter()
            .filter(|u| u
                .email
                .as_deref()
                .is_some_and(|e| e.starts_with("recipient.")))
            .count(),
        3
    );
}

/// With only the server's address as endpoint, Autodiscover (POX) finds
/// the EWS URL; `check` says so and a sync runs against it. An address
/// Autodiscover does not know is a configuration error in its words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_host_is_enough_autodiscover_finds_ews() {
    let s = setup(80, 26).await;
    let runtime = Runtime::shared().unwrap();
    let host = s.emulator.graph_base();
    let connection = s.connection_with(|c| c.exchange.endpoint = host.clone());
    let info = connection.check(&runtime).await.unwrap();
    assert_eq!(info.endpoint, format!("{} (found by Autodiscover at {host})", s.emulator.endpoint()));
    let summary = connection.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap();
    assert_eq!(summary.counts.created + summary.counts.skipped, 80);
    assert!(s.emulator.stats().operations().get("Autodiscover POX").is_some_and(|n| *n >= 2));
    helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());

    let dir = tempfile::tempdir().unwrap();
    let mut config = emulator_config(&s.emulator, &dir.path().join("other.db"));
    config.exchange.endpoint = format!("{host}/");
    config.exchange.username = "nobody@example.com".into();
    let error = Connection::from_config(&config).unwrap().check(&runtime).await.unwrap_err();
    assert!(error.message.contains("Autodiscover") && error.message.contains("401"), "{error}");
}

/// The mailbox's address as endpoint: Autodiscover, asked at the host
/// `[exchange] autodiscover` names (else at the hosts of the address's
/// domain), finds the EWS URL; `check` says where, and a sync runs on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_enough_autodiscover_finds_ews() {
    let s = setup(60, 28).await;
    let runtime = Runtime::shared().unwrap();
    let host = s.emulator.graph_base();
    let address = s.emulator.user().to_string();
    assert!(address.ends_with("@example.com"), "{address}");
    let connection = s.connection_with(|c| {
        c.exchange.endpoint = address.clone();
        c.exchange.autodiscover = Some(host.clone());
    });
    let info = connection.check(&runtime).await.unwrap();
    assert_eq!(info.endpoint, format!("{} (found by Autodiscover at {host})", s.emulator.endpoint()));
    let summary = connection.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap();
    assert_eq!(summary.counts.created + summary.counts.skipped, 60);
    helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());
    // The public folders were routed with what Autodiscover said there.
    assert!(!summary.warnings.iter().any(|w| w.contains("routing headers")), "{:?}", summary.warnings);
}

/// A German mailbox: Exchange names its default folders in the mailbox's
/// language. A default sync still reads Kontakte with its visible
/// subfolders and nothing of "Gelöschte Elemente"; `folders` may name a
/// folder by its localised path or from the distinguished `contacts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_mailbox_is_found_by_distinguished_folders_not_by_english_names() {
    let s = helpdesk_e2e::setup_with(helpdesk_host::emulator::EmulatorOptions {
        contacts: 150,
        seed: 27,
        language: helpdesk_host::emulator::data::Language::German,
        ..Default::default()
    })
    .await;
    let runtime = Runtime::shared().unwrap();
    let folders = s.connection.folders(&runtime).await.unwrap();
    let listed = |path: &str| folders.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("no {path}"));
    assert_eq!(listed("Kontakte").excluded, None);
    assert_eq!(listed("Kontakte -> Suppliers").excluded, None);
    assert!(listed("Gelöschte Elemente -> Old suppliers").excluded.as_deref().unwrap().contains("Deleted Items"));
    assert!(listed("Kontakte -> Recipient Cache").excluded.as_deref().unwrap().contains("hidden"));
    assert!(!folders.iter().any(|f| f.path.starts_with("Contacts")), "{folders:?}");

    let summary = full_sync(&s).await;
    let read: Vec<&str> = summary.folders.iter().map(|f| f.path.as_str()).collect();
    let books = helpdesk_e2e::address_books(&s.emulator.mailbox()).len();
    assert_eq!(read.len(), books, "{read:?}");
    assert!(read.iter().all(|p| p.starts_with("Kontakte") || p.starts_with("Public Folders")), "{read:?}");
    helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());

    for name in ["Kontakte -> Suppliers", "kontakte/suppliers", "contacts/Suppliers", "Contacts -> Suppliers"] {
        let mut connection = s.connection_with(|c| c.exchange.folders = vec![name.into()]);
        // One folder of many: the other folders' users would go (a dry run).
        connection.set_force(true);
        let summary = connection.sync(&runtime, &s.store, SyncMode::Full, true).await.unwrap();
        // The other folders appear for their deactivated users only.
        let read: Vec<&str> = summary.folders.iter().filter(|f| f.counts.unchanged + f.counts.updated > 0).map(|f| f.path.as_str()).collect();
        assert_eq!(read, ["Kontakte -> Suppliers"], "{name}");
    }
    let connection = s.connection_with(|c| c.exchange.folders = vec!["Lieferanten".into()]);
    let error = connection.sync(&runtime, &s.store, SyncMode::Full, true).await.unwrap_err();
    assert_eq!(error.kind, "configuration", "{error}");
    assert!(error.message.contains("no contact folder 'Lieferanten'") && error.message.contains("Kontakte -> Suppliers"), "{error}");
}
