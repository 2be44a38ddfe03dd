//! Shared helpers of the end-to-end tests.

use helpdesk_host::cli::emulator_config;
use helpdesk_host::emulator::data::{BROKEN_ITEM_ID, Contact, Folder, Mailbox};
use helpdesk_host::emulator::{Emulator, EmulatorOptions};
use helpdesk_host::runs::Connection;
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;
use helpdesk_host::store::{Store, UserRow};
use helpdesk_host::summary::Summary;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

/// `../shared/fixtures/ews` beside the checkout. Tests that read fixtures
/// skip when it is absent, except in CI, where it must be there.
/// Python with exchangelib, in a virtual environment made once in
/// `target_tmp`. Without Python or PyPI the caller skips, except in CI.
pub fn exchangelib_python(target_tmp: &std::path::Path) -> Option<PathBuf> {
    match helpdesk_host::bench::peer::python_with_exchangelib(&target_tmp.join("exchangelib-venv")) {
        Ok(python) => Some(python),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "{e:#}");
            eprintln!("skipped: {e:#}");
            None
        }
    }
}

pub fn fixtures() -> Option<PathBuf> {
    fixtures_of("ews")
}

/// `../shared/fixtures/KIND` (`ews`, `graph`), as [`fixtures`].
pub fn fixtures_of(kind: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures").join(kind);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(std::env::var_os("CI").is_none(), "{} is missing; CI runs with ../shared beside the checkout", dir.display());
    eprintln!("skipped: {} not found", dir.display());
    None
}

pub fn fixture(name: &str) -> Option<Vec<u8>> {
    let path = fixtures()?.join(name);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())))
}

pub struct Setup {
    pub emulator: Emulator,
    _dir: tempfile::TempDir,
    /// the database file of `store`
    pub db: PathBuf,
    pub store: Store,
    pub connection: Connection,
}

impl Setup {
    /// A connection to the same emulator and database, with the
    /// configuration changed by `edit`.
    pub fn connection_with(&self, edit: impl FnOnce(&mut helpdesk_host::config::HostConfig)) -> Connection {
        let mut config = emulator_config(&self.emulator, &self.db);
        edit(&mut config);
        Connection::from_config(&config).unwrap()
    }

    /// One SQL count over the database, for the store's bookkeeping tables.
    pub fn count(&self, sql: &str) -> i64 {
        self.store.lock().query_row(sql, [], |row| row.get(0)).unwrap()
    }
}

pub async fn setup(contacts: usize, seed: u64) -> Setup {
    setup_with(EmulatorOptions { contacts, seed, ..Default::default() }).await
}

pub async fn setup_with(options: EmulatorOptions) -> Setup {
    let emulator = Emulator::start(options).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("helpdesk.db");
    let connection = Connection::from_config(&emulator_config(&emulator, &db)).unwrap();
    Setup { store: Store::open(&db).unwrap(), emulator, _dir: dir, db, connection }
}

pub async fn full_sync(s: &Setup) -> Summary {
    sync(s, SyncMode::Full).await
}

pub async fn sync(s: &Setup, mode: SyncMode) -> Summary {
    s.connection.sync(&Runtime::shared().unwrap(), &s.store, mode, false).await.unwrap()
}

/// The folders a sync reads by default, in its order: the mailbox's
/// Contacts folder and the visible folders below it (Exchange's hidden
/// internal folders, Deleted Items and search folders aside), then the
/// public contact folders; not those it may not open. A contact folder is
/// one by its element or its class.
pub fn address_books(mailbox: &Mailbox) -> Vec<&Folder> {
    let is_contacts = |f: &Folder| f.element == "ContactsFolder" || f.class == "IPF.Contact" || f.class.starts_with("IPF.Contact.");
    let contacts = mailbox.distinguished("contacts").unwrap();
    let inside = |f: &Folder| {
        let mut current = Some(f);
        while let Some(folder) = current {
            if folder.hidden {
                return false;
            }
            if folder.id == contacts.id {
                return true;
            }
            current = folder.parent.as_deref().and_then(|p| mailbox.folder(p));
        }
        false
    };
    let mut books = Vec::new();
    for root in ["msgfolderroot", "publicfoldersroot"] {
        let root = mailbox.distinguished(root).unwrap();
        books.extend(
            mailbox
                .subfolders(&root.id, true)
                .into_iter()
                .filter(|f| is_contacts(f) && f.element != "SearchFolder" && !f.denied && (f.public || inside(f))),
        );
    }
    books
}

/// Every imported contact has its user, field by field, and no other
/// user of this source is active.
pub fn assert_users_match(store: &Store, mailbox: &Mailbox) {
    let (imported, _) = truth(mailbox);
    let users = by_external_id(store.users().unwrap());
    for contact in &imported {
        let user = users.get(&contact.id).unwrap_or_else(|| panic!("no user for contact {}", contact.id));
        assert_eq!(user.email, contact.emails.first().cloned(), "email of {}", contact.id);
        assert_eq!(user.firstname, contact.given_name, "first name of {}", contact.id);
        assert_eq!(user.lastname, contact.surname, "last name of {}", contact.id);
        assert_eq!(user.phone, contact.business_phone.clone().unwrap_or_default(), "phone of {}", contact.id);
        assert_eq!(user.folder_id.as_deref(), Some(contact.folder_id.as_str()));
        assert_eq!((user.source.as_str(), user.active), ("exchange", true), "{}", contact.id);
        match contact.emails.first() {
            Some(email) => assert_eq!(user.login, email.to_lowercase()),
            None => assert!(user.login.starts_with("exchange-"), "{}", user.login),
        }
    }
    let active = users.values().filter(|u| u.active).count();
    assert_eq!(active, imported.len(), "active users are exactly the imported contacts");
}

/// The contacts a sync must import, in sync order (address books in
/// listing order, items in folder order), and the ones it must skip
/// because an earlier contact has their email (compared without case).
/// Addresses are as the directory resolves them: a contact made from the
/// GAL holds a legacy DN, its user the SMTP address behind it.
pub fn truth(mailbox: &Mailbox) -> (Vec<Contact>, Vec<Contact>) {
    let mut emails = HashSet::new();
    let (mut imported, mut duplicates) = (Vec::new(), Vec::new());
    for folder in address_books(mailbox) {
        // The broken-item fault's contact can never be read: no user.
        for contact in mailbox.items_in(folder).filter(|c| c.kind == "Contact" && c.id != BROKEN_ITEM_ID) {
            let mut contact = contact.clone();
            contact.emails = contact.emails.iter().map(|e| mailbox.smtp_of(e).to_string()).collect();
            match contact.emails.first() {
                Some(email) if !emails.insert(email.to_lowercase()) => duplicates.push(contact),
                _ => imported.push(contact),
            }
        }
    }
    (imported, duplicates)
}

pub fn by_external_id(users: Vec<UserRow>) -> BTreeMap<String, UserRow> {
    users.into_iter().map(|u| (u.external_id.clone().expect("synced users have an external id"), u)).collect()
}

