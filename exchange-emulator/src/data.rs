//! The emulated mailbox: a folder tree and deterministic, seeded contacts
//! with the awkward cases real address books have: names in many scripts,
//! contacts without email, contacts sharing an email (in different case),
//! item ids that differ only in case, contact groups, and a search folder
//! that shows the default folder's contacts a second time.

pub mod files;
pub mod text;
pub mod mail;
pub mod calendar;
pub mod hierarchy;

use base64::Engine as _;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    pub id: String,
    pub change_key: String,
    pub parent: Option<String>,
    /// may hold U+0001 (written as a character reference XML 1.0 forbids)
    /// and U+E000 (written as a byte that is not UTF-8): see `ews::wire`
    pub name: String,
    pub class: String,
    /// the EWS element: `Folder`, `ContactsFolder`, `CalendarFolder`, `SearchFolder`
    pub element: &'static str,
    pub distinguished: Option<&'static str>,
    /// a search folder shows the items of this folder
    pub search_source: Option<String>,
    /// a public folder: FindFolder Shallow only, no SyncFolderItems
    pub public: bool,
    /// the account may see the folder but not open it
    pub denied: bool,
    /// PidTagAttributeHidden (0x10F4): Exchange's internal folders
    pub hidden: bool,
    /// the folder's permission entries beyond the owner's and the
    /// defaults every folder has (Default and Anonymous: None; a
    /// calendar's Default: FreeBusyTimeOnly, as Exchange makes them)
    pub grants: Vec<Grant>,
    /// the change sequence number at which it was made, and at which it
    /// last changed (name, place, permissions): what SyncFolderHierarchy
    /// and `mailFolders/delta` report (data/hierarchy.rs)
    pub created: u64,
    pub changed: u64,
}

/// A user's permission level on a folder (PermissionLevelType or
/// CalendarPermissionLevelType of types.xsd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub address: String,
    pub name: String,
    pub level: &'static str,
}

impl Grant {
    /// The ReadItems a level implies (types.xsd PermissionReadAccessType,
    /// CalendarPermissionReadAccessType; the levels' rights as Outlook's
    /// permission dialog shows them).
    pub fn read_items(&self, calendar: bool) -> &'static str {
        match self.level {
            "Owner" | "PublishingEditor" | "Editor" | "PublishingAuthor" | "Author" | "NoneditingAuthor" | "Reviewer" => "FullDetails",
            "FreeBusyTimeOnly" if calendar => "TimeOnly",
            "FreeBusyTimeAndSubjectAndLocation" if calendar => "TimeAndSubjectAndLocation",
            _ => "None",
        }
    }
}

/// What kind of mailbox (msExchRecipientTypeDetails, reference/mailbox-content.md 1.7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MailboxKind {
    #[default]
    User,
    /// its account is disabled; people reach it through permissions
    Shared,
    Room,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    pub id: String,
    pub change_key: String,
    pub folder_id: String,
    /// `Contact`, or `DistributionList` for a contact group
    pub kind: &'static str,
    pub given_name: String,
    pub surname: String,
    pub display_name: String,
    pub company: String,
    pub department: String,
    pub job_title: String,
    /// EmailAddress1, EmailAddress2, ... in order
    pub emails: Vec<String>,
    pub business_phone: Option<String>,
    pub mobile_phone: Option<String>,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
    /// MAPI PidTagCustomerId, an extended property
    pub customer_id: Option<String>,
    /// the day, `YYYY-MM-DD`; on the wire as Outlook stores it: the day's
    /// midnight in the mailbox's zone (Europe/Berlin here) as a UTC instant
    pub birthday: Option<String>,
    pub last_modified: String,
    /// change sequence numbers: when the item was created, last modified
    pub created: u64,
    pub modified: u64,
}

/// A deleted item, kept for SyncFolderItems.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tombstone {
    pub id: String,
    /// a message's Graph immutable id (empty for contacts)
    pub immutable_id: String,
    pub change_key: String,
    pub folder_id: String,
    pub created: u64,
    pub deleted: u64,
}

/// One change SyncFolderItems reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change<'a> {
    Create(&'a Contact),
    Update(&'a Contact),
    Delete(&'a Tombstone),
}

impl Change<'_> {
    pub fn seq(&self) -> u64 {
        match self {
            Change::Create(c) | Change::Update(c) => c.modified,
            Change::Delete(t) => t.deleted,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Mailbox {
    pub folders: Vec<Folder>,
    /// in creation order, which is also each folder's listing order
    pub contacts: Vec<Contact>,
    pub tombstones: Vec<Tombstone>,
    /// the last change sequence number handed out
    pub seq: u64,
    index: HashMap<String, usize>,
    /// positions in `contacts` by folder, made on first use after a change:
    /// listing a folder of a large mailbox must not scan all of it
    by_folder: std::sync::OnceLock<HashMap<String, Vec<usize>>>,
    rng: Rng,
    /// the folders new contacts go to, with their weights
    homes: Vec<(String, usize)>,
    generated: usize,
    previous_without_email: Option<String>,
    /// the directory (GAL): legacy DN and primary SMTP address of people
    /// that contacts made from the directory point to
    pub directory: Vec<(String, String)>,
    /// the owner's primary SMTP address
    pub address: String,
    /// mail, in creation order (mail.rs); changed only through its
    /// methods, which keep the index below
    pub messages: Vec<mail::Message>,
    /// positions in `messages`, and of attachments, by id: made on first
    /// use after a change
    mail_index: std::sync::OnceLock<mail::Index>,
    pub message_tombstones: Vec<Tombstone>,
    /// calendar items (masters, singles and exceptions) and tasks
    /// (calendar.rs)
    pub events: Vec<calendar::Event>,
    pub tasks: Vec<calendar::Task>,
    pub item_tombstones: Vec<Tombstone>,
    /// the language of its default folders' names, for folders made later
    language: Language,
    pub kind: MailboxKind,
    pub display_name: String,
}

/// SplitMix64: small, fast, and the same sequence everywhere.
#[derive(Clone, Debug, Default)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn id(&mut self, prefix: &str) -> String {
        let mut bytes = Vec::with_capacity(48);
        for _ in 0..6 {
            bytes.extend_from_slice(&self.next().to_le_bytes());
        }
        format!(
            "{prefix}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }
}

/// Given names and surnames by script, each with an ASCII form for email.
const PEOPLE: &[(&[(&str, &str)], &[(&str, &str)])] = &[
    (
        &[
            ("Anna", "anna"),
            ("Jürgen", "juergen"),
            ("Zoë", "zoe"),
            ("François", "francois"),
            ("Łukasz", "lukasz"),
            ("Søren", "soeren"),
            ("José", "jose"),
            ("Aoife", "aoife"),
        ],
        &[
            ("Müller", "mueller"),
            ("Østergaard", "oestergaard"),
            ("García", "garcia"),
            ("Kowalski", "kowalski"),
            ("O'Brien", "obrien"),
            ("Nguyễn", "nguyen"),
            ("Smith", "smith"),
        ],
    ),
    (
        &[("Иван", "ivan"), ("Ольга", "olga"), ("Дмитрий", "dmitry")],
        &[
            ("Петров", "petrov"),
            ("Смирнова", "smirnova"),
            ("Волков", "volkov"),
        ],
    ),
    (
        &[("Γιώργος", "giorgos"), ("Ελένη", "eleni")],
        &[("Παπαδόπουλος", "papadopoulos"), ("Οικονόμου", "oikonomou")],
    ),
    (
        &[
            ("太郎", "taro"),
            ("花子", "hanako"),
            ("伟", "wei"),
            ("芳", "fang"),
        ],
        &[
            ("山田", "yamada"),
            ("佐藤", "sato"),
            ("王", "wang"),
            ("李", "li"),
        ],
    ),
    (
        &[("محمد", "mohammed"), ("فاطمة", "fatima")],
        &[("الحسن", "alhassan"), ("خليل", "khalil")],
    ),
    (
        &[("अनिल", "anil"), ("प्रिया", "priya")],
        &[("शर्मा", "sharma"), ("पटेल", "patel")],
    ),
];
const COMPANIES: &[(&str, &str)] = &[
    ("Contoso", "contoso.example"),
    ("Fabrikam", "fabrikam.example"),
    ("Northwind Traders", "northwind.example"),
    ("Tailspin Toys", "tailspin.example"),
    ("Wide World Importers", "wideworld.example"),
];
const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Support",
    "Finance",
    "Engineering",
    "Logistics",
    "Einkauf",
];
const TITLES: &[&str] = &[
    "Buyer",
    "Account Manager",
    "Engineer",
    "Director",
    "Sachbearbeiterin",
];
const PLACES: &[(&str, &str, &str)] = &[
    ("Berlin", "10115", "Germany"),
    ("Lisboa", "1100-148", "Portugal"),
    ("Kraków", "31-001", "Poland"),
    ("Αθήνα", "105 57", "Greece"),
    ("東京", "100-0001", "Japan"),
    ("Москва", "101000", "Russia"),
];

/// Exchange Server 2013 and later's hidden folders below Contacts: display
/// name, class, distinguished id where EWS has one.
pub const INTERNAL_CONTACT_FOLDERS: &[(&str, &str, Option<&str>)] = &[
    (
        "Recipient Cache",
        "IPF.Contact.RecipientCache",
        Some("recipientcache"),
    ),
    (
        "{06967759-274D-40B2-A3EB-D7F9E73727D7}",
        "IPF.Contact.MOC.QuickContacts",
        Some("quickcontacts"),
    ),
    (
        "{A9E2BC46-B3A0-4243-B315-60D991004455}",
        "IPF.Contact.MOC.ImContactList",
        Some("imcontactlist"),
    ),
    ("GAL Contacts", "IPF.Contact.GalContacts", None),
    (
        "Organizational Contacts",
        "IPF.Contact.OrganizationalContacts",
        None,
    ),
    (
        "PeopleCentricConversation Buddies",
        "IPF.Contact.PeopleCentricConversationBuddies",
        None,
    ),
    ("Companies", "IPF.Contact.Company", None),
];

/// The language of a mailbox's default folders. Exchange names them in the
/// mailbox's language (Set-MailboxRegionalConfiguration
/// -LocalizeDefaultFolderName), as Outlook shows them; only their
/// distinguished ids stay the same (reference/mailbox-content.md: "never
/// resolve by display name"). Folders a user made keep their names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Language {
    #[default]
    English,
    German,
}

/// German Outlook's names of the default folders, by distinguished id.
/// ../shared names no German folder; these are Outlook's own German names
/// (only "Kontakte" is named in the issue), and the hidden folders keep
/// the names data.rs gives them in every language.
const GERMAN_FOLDERS: &[(&str, &str)] = &[
    ("msgfolderroot", "Oberste Ebene des Informationsspeichers"),
    ("inbox", "Posteingang"),
    ("calendar", "Kalender"),
    ("tasks", "Aufgaben"),
    ("contacts", "Kontakte"),
    ("deleteditems", "Gelöschte Elemente"),
];

/// The shape of a seeded mailbox's folders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// The awkward mailbox: nested folders, names XML forbids, a search
    /// folder, public folders, one of them denied.
    #[default]
    Demo,
    /// `n` contact folders (Contacts and n - 1 below it) sharing the
    /// contacts evenly, and nothing else: what benchmarks want.
    Flat(usize),
}

impl Mailbox {
    pub fn seeded(contacts: usize, seed: u64) -> Mailbox {
        Mailbox::seeded_with(contacts, seed, Layout::Demo)
    }

    pub fn seeded_with(contacts: usize, seed: u64, layout: Layout) -> Mailbox {
        let mut mailbox = Mailbox {
            rng: Rng(seed ^ 0x5EED_0F_E1C5),
            ..Default::default()
        };
        let root = mailbox.new_folder(None, "Root", "", "Folder", Some("root"));
        let top = mailbox.new_folder(
            Some(&root),
            "Top of Information Store",
            "IPF.Note",
            "Folder",
            Some("msgfolderroot"),
        );
        mailbox.new_folder(Some(&top), "Inbox", "IPF.Note", "Folder", Some("inbox"));
        mailbox.new_folder(
            Some(&top),
            "Calendar",
            "IPF.Appointment",
            "CalendarFolder",
            Some("calendar"),
        );
        let main = mailbox.new_folder(
            Some(&top),
            "Contacts",
            "IPF.Contact",
            "ContactsFolder",
            Some("contacts"),
        );
        let deleted = mailbox.new_folder(
            Some(&top),
            "Deleted Items",
            "IPF.Note",
            "Folder",
            Some("deleteditems"),
        );
        let board = match layout {
            Layout::Demo => Some(mailbox.demo_folders(&top, &main, &deleted)),
            Layout::Flat(folders) => {
                mailbox.homes = vec![(main.clone(), 1)];
                for n in 2..=folders.max(1) {
                    let id = mailbox.new_folder(
                        Some(&main),
                        &format!("Address book {n}"),
                        "IPF.Contact",
                        "ContactsFolder",
                        None,
                    );
                    mailbox.homes.push((id, 1));
                }
                None
            }
        };
        for _ in 0..contacts {
            mailbox.generate();
        }
        // Contact groups live beside the contacts and are no people.
        for name in ["All suppliers", "Escalation list"] {
            let id = mailbox.rng.id("AAMkAGI2");
            let group = Contact {
                id,
                kind: "DistributionList",
                display_name: name.into(),
                folder_id: main.clone(),
                ..Default::default()
            };
            mailbox.add(group);
        }
        if layout == Layout::Demo {
            mailbox.internal_contacts();
        }
        // The board's contacts: there, but the account may not read them.
        for board in board.iter().flat_map(|board| [board; 3]) {
            let id = mailbox.rng.id("AAMkAGI2");
            mailbox.add(Contact {
                id,
                kind: "Contact",
                given_name: "Board".into(),
                folder_id: board.clone(),
                ..Default::default()
            });
        }
        mailbox
    }

    /// Name the default folders in `language`. Done after seeding, so
    /// that ids and contacts do not depend on the language.
    pub fn localise(&mut self, language: Language) {
        let names = match language {
            Language::English => return,
            Language::German => GERMAN_FOLDERS,
        };
        self.language = language;
        for folder in &mut self.folders {
            if let Some((_, name)) = names.iter().find(|(id, _)| folder.distinguished == Some(*id)) {
                folder.name = name.to_string();
            }
        }
    }

    /// The demo's folders beside and below Contacts, and the contacts'
    /// homes among them; returns the denied public folder.
    fn demo_folders(&mut self, top: &str, main: &str, deleted: &str) -> String {
        // What Exchange 2013 and later keep below Contacts for Outlook, OWA
        // and Skype, hidden with PidTagAttributeHidden: the folder names,
        // classes and distinguished ids Exchange gives them.
        for (name, class, distinguished) in INTERNAL_CONTACT_FOLDERS {
            let id = self.new_folder(Some(main), name, class, "ContactsFolder", *distinguished);
            self.folder_mut(&id).hidden = true;
        }
        // A folder made by a client that sets no class: the element says
        // what it is.
        let partners = self.new_folder(Some(main), "Partners", "", "ContactsFolder", None);
        // Deleted in Outlook: a contact folder now below Deleted Items.
        self.new_folder(
            Some(deleted),
            "Old suppliers",
            "IPF.Contact",
            "ContactsFolder",
            None,
        );
        let suppliers = self.new_folder(
            Some(main),
            "Suppliers",
            "IPF.Contact",
            "ContactsFolder",
            None,
        );
        let europe = self.new_folder(
            Some(&suppliers),
            "Europe",
            "IPF.Contact",
            "ContactsFolder",
            None,
        );
        let customers = self.new_folder(
            Some(main),
            "Customers",
            "IPF.Contact",
            "ContactsFolder",
            None,
        );
        // Names as real mailboxes have them: a control character that XML
        // 1.0 forbids, and a byte that is not UTF-8.
        self.new_folder(
            Some(main),
            "Alte\u{1} Kontakte",
            "IPF.Contact",
            "ContactsFolder",
            None,
        );
        self.new_folder(
            Some(main),
            "Archiv \u{E000}2019",
            "IPF.Contact",
            "ContactsFolder",
            None,
        );
        let search = self.new_folder(
            Some(top),
            "AllContacts",
            "IPF.Contact",
            "SearchFolder",
            None,
        );
        self.folder_mut(&search).search_source = Some(main.to_string());

        let public_root =
            self.new_folder(None, "IPM_SUBTREE", "", "Folder", Some("publicfoldersroot"));
        let company = self.new_folder(
            Some(&public_root),
            "Company Contacts",
            "IPF.Contact",
            "ContactsFolder",
            None,
        );
        let board = self.new_folder(
            Some(&company),
            "Board",
            "IPF.Contact",
            "ContactsFolder",
            None,
        );
        let hidden = self.new_folder(Some(&board), "Minutes", "IPF.Note", "Folder", None);
        for id in [&public_root, &company, &board, &hidden] {
            self.folder_mut(id).public = true;
        }
        self.folder_mut(&board).denied = true;
        self.homes = vec![
            (main.to_string(), 50),
            (suppliers, 20),
            (europe, 10),
            (customers, 15),
            (partners, 3),
            (company, 5),
        ];
        board
    }

    /// The people Exchange files by itself: everyone the mailbox wrote to
    /// (Recipient Cache), directory entries Outlook keeps (GAL Contacts),
    /// and a deleted address book's contacts. None of them is an address
    /// book an admin chose.
    fn internal_contacts(&mut self) {
        let by_name = |mailbox: &Mailbox, name: &str| {
            mailbox
                .folders
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.id.clone())
        };
        let homes = [
            ("Recipient Cache", 3),
            ("GAL Contacts", 2),
            ("Old suppliers", 2),
        ];
        for (folder, count) in homes {
            let Some(folder_id) = by_name(self, folder) else {
                continue;
            };
            for n in 1..=count {
                let tag = folder
                    .split_whitespace()
                    .next()
                    .unwrap_or(folder)
                    .to_lowercase();
                let id = self.rng.id("AAMkAGI2");
                self.add(Contact {
                    id,
                    change_key: "EQAAABYAAAB1".into(),
                    folder_id: folder_id.clone(),
                    kind: "Contact",
                    given_name: format!("{folder} {n}"),
                    surname: "Internal".into(),
                    display_name: format!("{folder} {n}"),
                    emails: vec![format!("{tag}.{n}@outside.example")],
                    last_modified: "2026-11-01T08:00:00Z".into(),
                    ..Default::default()
                });
            }
        }
    }

    fn new_folder(
        &mut self,
        parent: Option<&str>,
        name: &str,
        class: &str,
        element: &'static str,
        distinguished: Option<&'static str>,
    ) -> String {
        let id = self.rng.id("AQMkAD");
        let localised = match self.language {
            Language::German => GERMAN_FOLDERS.iter().find(|(d, _)| distinguished == Some(*d)).map(|(_, n)| *n),
            Language::English => None,
        };
        self.folders.push(Folder {
            id: id.clone(),
            change_key: "AQAAABYAAAA".into(),
            parent: parent.map(str::to_string),
            name: localised.unwrap_or(name).into(),
            class: class.into(),
            element,
            distinguished,
            search_source: None,
            public: false,
            denied: false,
            hidden: false,
            grants: Vec::new(),
            created: self.seq,
            changed: self.seq,
        });
        id
    }

    /// Give `address` the permission `level` on every mail, calendar and
    /// task folder of the mailbox (what Add-MailboxFolderPermission does
    /// folder by folder).
    pub fn grant(&mut self, address: &str, name: &str, level: &'static str) {
        let top = self.distinguished("msgfolderroot").map(|f| f.id.clone());
        let under: Vec<String> = top.iter().flat_map(|top| self.subfolders(top, true)).map(|f| f.id.clone()).collect();
        for folder in self.folders.iter_mut().filter(|f| under.contains(&f.id)) {
            if ["IPF.Note", "IPF.Appointment", "IPF.Task"].iter().any(|c| folder.class.starts_with(c)) {
                folder.grants.push(Grant { address: address.to_lowercase(), name: name.into(), level });
                // Changing a folder's permissions changes the folder (a new
                // ChangeKey, as UpdateFolder answers): hierarchy sync sees it.
                // Not in ../shared: that the change shows in
                // SyncFolderHierarchy is ours, from the ChangeKey rule.
                self.seq += 1;
                folder.changed_at(self.seq);
            }
        }
    }

    fn folder_mut(&mut self, id: &str) -> &mut Folder {
        self.folders
            .iter_mut()
            .find(|f| f.id == id)
            .expect("a folder just made")
    }

    /// Make the next seeded contact; returns its id.
    fn generate(&mut self) -> String {
        let i = self.generated;
        self.generated += 1;
        let rng = &mut self.rng;
        let mut roll = rng.below(self.homes.iter().map(|(_, w)| w).sum());
        let folder_id = self
            .homes
            .iter()
            .find(|(_, weight)| {
                let inside = roll < *weight;
                roll = roll.saturating_sub(*weight);
                inside
            })
            .map(|(id, _)| id.clone())
            .expect("the weights cover the roll");
        let (givens, surnames) = *rng.pick(PEOPLE);
        let (given, given_ascii) = *rng.pick(givens);
        let (surname, surname_ascii) = *rng.pick(surnames);
        let (company, domain) = *rng.pick(COMPANIES);
        let (city, postal_code, country) = *rng.pick(PLACES);
        let mut contact = Contact {
            id: rng.id("AAMkAGI2"),
            change_key: "EQAAABYAAAB1".into(),
            folder_id,
            kind: "Contact",
            given_name: given.into(),
            surname: surname.into(),
            display_name: format!("{given} {surname}"),
            company: company.into(),
            department: rng.pick(DEPARTMENTS).to_string(),
            job_title: rng.pick(TITLES).to_string(),
            business_phone: (i % 15 != 3).then(|| format!("+49 30 {:07}", rng.below(10_000_000))),
            mobile_phone: (i % 4 == 0).then(|| format!("+351 91 {:07}", rng.below(10_000_000))),
            street: format!("{} Main Street", 1 + rng.below(200)),
            city: city.into(),
            postal_code: postal_code.into(),
            country: country.into(),
            customer_id: (i % 3 == 0).then(|| format!("K-{:06}", 100_000 + i)),
            birthday: (i % 5 == 1).then(|| format!("{}-{:02}-{:02}", 1960 + i % 40, 1 + i % 12, 1 + i % 28)),
            last_modified: "2026-11-01T08:00:00Z".into(),
            ..Default::default()
        };
        if i % 20 == 7 {
            // No email; every other such contact gets an id that differs
            // from the previous one only in case.
            match self.previous_without_email.take() {
                Some(previous) => contact.id = swap_case(&previous),
                None => self.previous_without_email = Some(contact.id.clone()),
            }
        } else if i % 50 == 23 {
            // Made from the directory: the address is the person's
            // Exchange legacy DN (routing type EX), as Outlook stores a
            // contact added from the GAL.
            let dn = format!("/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={given_ascii}{i}");
            self.directory.push((dn.clone(), format!("{given_ascii}.{surname_ascii}{i}@{domain}")));
            contact.emails.push(dn);
        } else if i % 37 == 11 && i >= 37 {
            // Shares the email of an earlier contact, in other case.
            let earlier = self
                .contacts
                .iter()
                .rev()
                .take(25)
                .find(|c| !c.emails.is_empty());
            let email = earlier
                .map(|c| c.emails[0].clone())
                .unwrap_or_else(|| format!("shared{i}@{domain}"));
            contact.emails.push(capitalize(&email));
        } else {
            contact
                .emails
                .push(format!("{given_ascii}.{surname_ascii}{i}@{domain}"));
            if i % 9 == 0 {
                contact
                    .emails
                    .push(format!("{given_ascii}{i}@mail.{domain}"));
            }
        }
        let id = contact.id.clone();
        self.add(contact);
        id
    }

    /// A contact beside the seeded ones, for a fault to act on (so that
    /// the seeded people are the same with and without faults).
    pub fn add_fault_item(&mut self, id: &str, name: &str) {
        let main = self
            .distinguished("contacts")
            .expect("a contacts folder")
            .id
            .clone();
        self.add(Contact {
            id: id.into(),
            change_key: "EQAAABYAAAB1".into(),
            kind: "Contact",
            given_name: name.into(),
            surname: "Item".into(),
            display_name: format!("{name} Item"),
            emails: vec![format!("{}.item@example.org", name.to_lowercase())],
            folder_id: main,
            ..Default::default()
        });
    }

    /// Add an item (a new one, or one that comes back with its old id).
    pub fn add(&mut self, mut contact: Contact) {
        self.seq += 1;
        contact.created = self.seq;
        contact.modified = self.seq;
        self.index.insert(contact.id.clone(), self.contacts.len());
        self.contacts.push(contact);
        self.by_folder = Default::default();
    }

    /// Delete an item, as a user deleting a contact in Outlook would.
    pub fn remove(&mut self, id: &str) -> Option<Contact> {
        let position = self.index.remove(id)?;
        let contact = self.contacts.remove(position);
        for (i, c) in self.contacts.iter().enumerate().skip(position) {
            self.index.insert(c.id.clone(), i);
        }
        self.by_folder = Default::default();
        self.seq += 1;
        self.tombstones.push(Tombstone {
            id: contact.id.clone(),
            immutable_id: String::new(),
            change_key: contact.change_key.clone(),
            folder_id: contact.folder_id.clone(),
            created: contact.created,
            deleted: self.seq,
        });
        Some(contact)
    }

    /// Change an item; it gets a new change key and modification time.
    pub fn change(&mut self, id: &str, edit: impl FnOnce(&mut Contact)) -> bool {
        let Some(&position) = self.index.get(id) else {
            return false;
        };
        self.seq += 1;
        let seq = self.seq;
        let contact = &mut self.contacts[position];
        edit(contact);
        contact.modified = seq;
        contact.change_key = format!("EQAAABYAAAB1{seq:08}");
        contact.last_modified = format!("2026-11-02T08:{:02}:{:02}Z", (seq / 60) % 60, seq % 60);
        // The edit may have moved it to another folder.
        self.by_folder = Default::default();
        true
    }

    /// What a user does between two syncs: add `n` contacts, change `n`
    /// and remove `n`. Changed and removed ones are chosen among contacts
    /// of the default folder whose email no other contact has, so that each
    /// change is one user created, updated or deactivated.
    pub fn scripted_change(&mut self, n: usize) -> ScriptedChange {
        self.scripted_changes(n, n, n)
    }

    /// Add `added` contacts, change `changed` and remove `removed`, as
    /// [`Mailbox::scripted_change`] does.
    pub fn scripted_changes(
        &mut self,
        added: usize,
        changed: usize,
        removed: usize,
    ) -> ScriptedChange {
        let main = self
            .distinguished("contacts")
            .expect("a contacts folder")
            .id
            .clone();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for email in self.contacts.iter().filter_map(|c| c.emails.first()) {
            *counts.entry(email.to_lowercase()).or_default() += 1;
        }
        let candidates: Vec<String> = self
            .contacts
            .iter()
            .filter(|c| c.kind == "Contact" && c.folder_id == main)
            .filter(|c| {
                c.emails
                    .first()
                    .is_some_and(|e| counts[&e.to_lowercase()] == 1)
            })
            .map(|c| c.id.clone())
            .collect();
        let touched = changed + removed;
        assert!(
            candidates.len() >= touched,
            "too few contacts to change {changed} and remove {removed}"
        );
        let step = candidates.len() / touched.max(1);
        let chosen: Vec<String> = candidates
            .into_iter()
            .step_by(step.max(1))
            .take(touched)
            .collect();
        let (changed, removed) = chosen.split_at(changed);
        let mut script = ScriptedChange::default();
        for id in changed {
            self.change(id, |c| {
                c.surname = format!("{}-Neumann", c.surname);
                c.business_phone = Some("+49 30 5550100".into());
            });
            script.changed.push(id.clone());
        }
        for id in removed {
            self.remove(id);
            script.removed.push(id.clone());
        }
        let homes = std::mem::replace(&mut self.homes, vec![(main, 1)]);
        for _ in 0..added {
            let id = self.generate();
            // New people, new addresses: never a duplicate.
            let number = self.generated;
            self.change(&id, |c| {
                c.emails = vec![format!("new.contact.{number}@example.org")];
            });
            script.added.push(id);
        }
        self.homes = homes;
        script
    }

    /// At most `max` changes after `since`, the sequence number a client
    /// continues from, and whether these were the last ones.
    pub fn change_page<'a>(
        &'a self,
        folder: &'a Folder,
        since: u64,
        max: usize,
    ) -> (Vec<Change<'a>>, u64, bool) {
        self.page(self.changes_since(folder, since), since, max, Change::seq)
    }

    /// The first `max` of `changes` (in sequence order), the sequence
    /// number a client continues from, and whether they were the last:
    /// what every change listing (SyncFolderItems, Graph delta) pages.
    pub fn page<C>(&self, mut changes: Vec<C>, since: u64, max: usize, seq: fn(&C) -> u64) -> (Vec<C>, u64, bool) {
        changes.sort_by_key(seq);
        let last = changes.len() <= max;
        changes.truncate(max);
        let next = if last { self.seq.max(since) } else { changes.last().map_or(since, seq) };
        (changes, next, last)
    }

    /// Changes to the items of `folder` after sequence number `since`, in
    /// the order they happened.
    pub fn changes_since<'a>(&'a self, folder: &'a Folder, since: u64) -> Vec<Change<'a>> {
        let mut changes: Vec<Change> = self
            .items_in(folder)
            .filter(|c| c.modified > since)
            .map(|c| {
                if c.created > since {
                    Change::Create(c)
                } else {
                    Change::Update(c)
                }
            })
            .chain(
                self.tombstones
                    .iter()
                    .filter(|t| t.folder_id == folder.id && t.deleted > since && t.created <= since)
                    .map(Change::Delete),
            )
            .collect();
        changes.sort_by_key(Change::seq);
        changes
    }

    pub fn folder(&self, id: &str) -> Option<&Folder> {
        self.folders.iter().find(|f| f.id == id)
    }

    pub fn distinguished(&self, name: &str) -> Option<&Folder> {
        self.folders.iter().find(|f| f.distinguished == Some(name))
    }

    /// Folders below `id`: its children, or all descendants depth-first.
    pub fn subfolders(&self, id: &str, deep: bool) -> Vec<&Folder> {
        let mut out = Vec::new();
        for folder in self
            .folders
            .iter()
            .filter(|f| f.parent.as_deref() == Some(id))
        {
            out.push(folder);
            if deep {
                out.extend(self.subfolders(&folder.id, true));
            }
        }
        out
    }

    /// The items a folder shows, in listing order.
    pub fn items_in<'a>(&'a self, folder: &'a Folder) -> impl Iterator<Item = &'a Contact> + 'a {
        self.positions(folder).iter().map(|&i| &self.contacts[i])
    }

    pub fn item_count(&self, folder: &Folder) -> usize {
        self.positions(folder).len()
    }

    fn positions(&self, folder: &Folder) -> &[usize] {
        let source = folder.search_source.as_deref().unwrap_or(&folder.id);
        let by_folder = self.by_folder.get_or_init(|| {
            let mut by_folder: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, contact) in self.contacts.iter().enumerate() {
                by_folder
                    .entry(contact.folder_id.clone())
                    .or_default()
                    .push(i);
            }
            by_folder
        });
        by_folder.get(source).map_or(&[], Vec::as_slice)
    }

    /// A day's midnight in Berlin as the UTC instant Outlook stores for a
    /// birthday: the evening before, 23:00 in winter, 22:00 in summer.
    /// (Outlook's convention; ../shared documents only that birthdays are
    /// instants, reference/ews-and-graph-protocol.md, Graph contacts.)
    pub fn stored_birthday(day: &str) -> String {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let Ok(date) = time::Date::parse(day, &format) else { return day.to_string() };
        // Local midnight is never near a switch (at 01:00 UTC), so the
        // offset two hours before the UTC midnight is the one of the day.
        let midnight = date.midnight().assume_utc();
        let offset = crate::zones::offset_at(crate::zones::MAILBOX_ZONE, midnight - time::Duration::hours(2)).expect("a known zone");
        let local = midnight - time::Duration::seconds(i64::from(offset.whole_seconds()));
        local.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| day.to_string())
    }

    /// The SMTP address of a directory entry's legacy DN; any other
    /// address as it is.
    pub fn smtp_of<'a>(&'a self, address: &'a str) -> &'a str {
        self.directory.iter().find(|(dn, _)| dn.eq_ignore_ascii_case(address)).map_or(address, |(_, smtp)| smtp.as_str())
    }

    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.index.get(id).map(|&i| &self.contacts[i])
    }
}

/// The contact the broken-item fault adds, and breaks every time.
pub const BROKEN_ITEM_ID: &str =
    "AAMkAGI2BrokenItemXmlIsNotWellFormed0000000000000000000000000000000000=";
/// The contact the vanished-item fault adds, and deletes between FindItem
/// and GetItem.
pub const VANISHING_ITEM_ID: &str =
    "AAMkAGI2VanishingItemGoneBeforeGetItem000000000000000000000000000000=";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScriptedChange {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

fn swap_case(text: &str) -> String {
    let split = text.len().saturating_sub(12);
    let (head, tail) = text.split_at(split);
    let tail: String = tail
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    format!("{head}{tail}")
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_data_is_deterministic_and_has_the_awkward_cases() {
        let a = Mailbox::seeded(500, 7);
        let b = Mailbox::seeded(500, 7);
        assert_eq!(a.contacts, b.contacts);
        let board = a.folders.iter().find(|f| f.denied).unwrap().id.clone();
        // Exchange's own folders hold people too, beside the seeded ones.
        let internal: Vec<&str> = a
            .folders
            .iter()
            .filter(|f| f.hidden || f.name == "Old suppliers")
            .map(|f| f.id.as_str())
            .collect();
        assert_eq!(
            a.contacts
                .iter()
                .filter(|c| internal.contains(&c.folder_id.as_str()))
                .count(),
            7
        );
        let people: Vec<&Contact> = a
            .contacts
            .iter()
            .filter(|c| {
                c.kind == "Contact"
                    && c.folder_id != board
                    && !internal.contains(&c.folder_id.as_str())
            })
            .collect();
        assert_eq!(people.len(), 500);
        assert!(people.iter().any(|c| c.emails.is_empty()));
        let lower: Vec<String> = people
            .iter()
            .filter_map(|c| c.emails.first())
            .map(|e| e.to_lowercase())
            .collect();
        let unique: std::collections::HashSet<&String> = lower.iter().collect();
        assert!(unique.len() < lower.len(), "some contacts share an email");
        let ids: Vec<String> = people.iter().map(|c| c.id.to_lowercase()).collect();
        let unique_ids: std::collections::HashSet<&String> = ids.iter().collect();
        assert!(unique_ids.len() < ids.len(), "some ids differ only in case");
        assert!(
            people
                .iter()
                .any(|c| c.given_name.chars().any(|ch| !ch.is_ascii()))
        );
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;

    #[test]
    fn changes_since_a_point_in_order() {
        let mut mailbox = Mailbox::seeded(300, 2);
        let main = mailbox.distinguished("contacts").unwrap().clone();
        let before = mailbox.seq;
        let script = mailbox.scripted_change(10);
        let changes = mailbox.changes_since(&main, before);
        let count = |f: fn(&Change) -> bool| changes.iter().filter(|c| f(c)).count();
        assert_eq!(count(|c| matches!(c, Change::Create(_))), 10);
        assert_eq!(count(|c| matches!(c, Change::Update(_))), 10);
        assert_eq!(count(|c| matches!(c, Change::Delete(_))), 10);
        assert!(changes.windows(2).all(|w| w[0].seq() < w[1].seq()));
        assert!(
            script
                .removed
                .iter()
                .all(|id| mailbox.contact(id).is_none())
        );
        // From the start, every item is a creation and nothing is deleted.
        let all = mailbox.changes_since(&main, 0);
        assert_eq!(all.len(), mailbox.item_count(&main));
        assert!(all.iter().all(|c| matches!(c, Change::Create(_))));
    }
}
