//! The emulated mailbox: a folder tree and deterministic, seeded contacts
//! with the awkward cases real address books have: names in many scripts,
//! contacts without email, contacts sharing an email (in different case),
//! item ids that differ only in case, contact groups, and a search folder
//! that shows the default folder's contacts a second time.

use base64::Engine as _;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    pub id: String,
    pub change_key: String,
    pub parent: Option<String>,
    pub name: String,
    pub class: String,
    /// the EWS element: `Folder`, `ContactsFolder`, `CalendarFolder`, `SearchFolder`
    pub element: &'static str,
    pub distinguished: Option<&'static str>,
    /// a search folder shows the items of this folder
    pub search_source: Option<String>,
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
    pub last_modified: String,
}

#[derive(Clone, Debug, Default)]
pub struct Mailbox {
    pub folders: Vec<Folder>,
    /// in creation order, which is also each folder's listing order
    pub contacts: Vec<Contact>,
    index: HashMap<String, usize>,
}

/// SplitMix64: small, fast, and the same sequence everywhere.
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
        format!("{prefix}{}", base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// Given names and surnames by script, each with an ASCII form for email.
const PEOPLE: &[(&[(&str, &str)], &[(&str, &str)])] = &[
    (
        &[("Anna", "anna"), ("Jürgen", "juergen"), ("Zoë", "zoe"), ("François", "francois"), ("Łukasz", "lukasz"), ("Søren", "soeren"), ("José", "jose"), ("Aoife", "aoife")],
        &[("Müller", "mueller"), ("Østergaard", "oestergaard"), ("García", "garcia"), ("Kowalski", "kowalski"), ("O'Brien", "obrien"), ("Nguyễn", "nguyen"), ("Smith", "smith")],
    ),
    (&[("Иван", "ivan"), ("Ольга", "olga"), ("Дмитрий", "dmitry")], &[("Петров", "petrov"), ("Смирнова", "smirnova"), ("Волков", "volkov")]),
    (&[("Γιώργος", "giorgos"), ("Ελένη", "eleni")], &[("Παπαδόπουλος", "papadopoulos"), ("Οικονόμου", "oikonomou")]),
    (&[("太郎", "taro"), ("花子", "hanako"), ("伟", "wei"), ("芳", "fang")], &[("山田", "yamada"), ("佐藤", "sato"), ("王", "wang"), ("李", "li")]),
    (&[("محمد", "mohammed"), ("فاطمة", "fatima")], &[("الحسن", "alhassan"), ("خليل", "khalil")]),
    (&[("अनिल", "anil"), ("प्रिया", "priya")], &[("शर्मा", "sharma"), ("पटेल", "patel")]),
];
const COMPANIES: &[(&str, &str)] = &[
    ("Contoso", "contoso.example"),
    ("Fabrikam", "fabrikam.example"),
    ("Northwind Traders", "northwind.example"),
    ("Tailspin Toys", "tailspin.example"),
    ("Wide World Importers", "wideworld.example"),
];
const DEPARTMENTS: &[&str] = &["Sales", "Support", "Finance", "Engineering", "Logistics", "Einkauf"];
const TITLES: &[&str] = &["Buyer", "Account Manager", "Engineer", "Director", "Sachbearbeiterin"];
const PLACES: &[(&str, &str, &str)] = &[
    ("Berlin", "10115", "Germany"),
    ("Lisboa", "1100-148", "Portugal"),
    ("Kraków", "31-001", "Poland"),
    ("Αθήνα", "105 57", "Greece"),
    ("東京", "100-0001", "Japan"),
    ("Москва", "101000", "Russia"),
];

impl Mailbox {
    pub fn seeded(contacts: usize, seed: u64) -> Mailbox {
        let mut rng = Rng(seed ^ 0x5EED_0F_E1C5);
        let mut mailbox = Mailbox::default();
        let mut folder = |mailbox: &mut Mailbox, parent: Option<&str>, name: &str, class: &str, element: &'static str, distinguished: Option<&'static str>| {
            let id = rng.id("AQMkAD");
            mailbox.folders.push(Folder {
                id: id.clone(),
                change_key: "AQAAABYAAAA".into(),
                parent: parent.map(str::to_string),
                name: name.into(),
                class: class.into(),
                element,
                distinguished,
                search_source: None,
            });
            id
        };
        let root = folder(&mut mailbox, None, "Root", "", "Folder", Some("root"));
        let top = folder(&mut mailbox, Some(&root), "Top of Information Store", "IPF.Note", "Folder", Some("msgfolderroot"));
        folder(&mut mailbox, Some(&top), "Inbox", "IPF.Note", "Folder", Some("inbox"));
        folder(&mut mailbox, Some(&top), "Calendar", "IPF.Appointment", "CalendarFolder", Some("calendar"));
        let main = folder(&mut mailbox, Some(&top), "Contacts", "IPF.Contact", "ContactsFolder", Some("contacts"));
        let suppliers = folder(&mut mailbox, Some(&main), "Suppliers", "IPF.Contact", "ContactsFolder", None);
        let europe = folder(&mut mailbox, Some(&suppliers), "Europe", "IPF.Contact", "ContactsFolder", None);
        let customers = folder(&mut mailbox, Some(&main), "Customers", "IPF.Contact", "ContactsFolder", None);
        let search = folder(&mut mailbox, Some(&top), "AllContacts", "IPF.Contact", "SearchFolder", None);
        mailbox.folders.last_mut().unwrap().search_source = Some(main.clone());
        debug_assert_eq!(mailbox.folders.last().unwrap().id, search);

        let mut previous_without_email: Option<String> = None;
        for i in 0..contacts {
            let folder_id = match rng.below(100) {
                0..50 => &main,
                50..70 => &suppliers,
                70..80 => &europe,
                _ => &customers,
            };
            let (givens, surnames) = *rng.pick(PEOPLE);
            let (given, given_ascii) = *rng.pick(givens);
            let (surname, surname_ascii) = *rng.pick(surnames);
            let (company, domain) = *rng.pick(COMPANIES);
            let (city, postal_code, country) = *rng.pick(PLACES);
            let mut contact = Contact {
                id: rng.id("AAMkAGI2"),
                change_key: "EQAAABYAAAB1".into(),
                folder_id: folder_id.clone(),
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
                last_modified: "2026-11-01T08:00:00Z".into(),
                ..Default::default()
            };
            if i % 20 == 7 {
                // No email; every other such contact gets an id that differs
                // from the previous one only in case.
                if let Some(previous) = previous_without_email.take() {
                    contact.id = swap_case(&previous);
                } else {
                    previous_without_email = Some(contact.id.clone());
                }
            } else if i % 37 == 11 && i >= 37 {
                // Shares the email of an earlier contact, in other case.
                let earlier = mailbox.contacts[i - 25..i].iter().rev().find(|c| !c.emails.is_empty());
                let email = earlier.map(|c| c.emails[0].clone()).unwrap_or_else(|| format!("shared{i}@{domain}"));
                contact.emails.push(capitalize(&email));
            } else {
                contact.emails.push(format!("{given_ascii}.{surname_ascii}{i}@{domain}"));
                if i % 9 == 0 {
                    contact.emails.push(format!("{given_ascii}{i}@mail.{domain}"));
                }
            }
            mailbox.add(contact);
        }
        // Contact groups live beside the contacts and are no people.
        for name in ["All suppliers", "Escalation list"] {
            let id = rng.id("AAMkAGI2");
            mailbox.add(Contact { id, kind: "DistributionList", display_name: name.into(), folder_id: main.clone(), ..Default::default() });
        }
        mailbox
    }

    fn add(&mut self, contact: Contact) {
        self.index.insert(contact.id.clone(), self.contacts.len());
        self.contacts.push(contact);
    }

    /// Delete an item, as a user deleting a contact in Outlook would.
    pub fn remove(&mut self, id: &str) -> Option<Contact> {
        let position = self.index.remove(id)?;
        let contact = self.contacts.remove(position);
        for (i, c) in self.contacts.iter().enumerate().skip(position) {
            self.index.insert(c.id.clone(), i);
        }
        Some(contact)
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
        for folder in self.folders.iter().filter(|f| f.parent.as_deref() == Some(id)) {
            out.push(folder);
            if deep {
                out.extend(self.subfolders(&folder.id, true));
            }
        }
        out
    }

    /// The items a folder shows, in listing order.
    pub fn items_in<'a>(&'a self, folder: &'a Folder) -> impl Iterator<Item = &'a Contact> + 'a {
        let source = folder.search_source.as_deref().unwrap_or(&folder.id);
        self.contacts.iter().filter(move |c| c.folder_id == source)
    }

    pub fn item_count(&self, folder: &Folder) -> usize {
        self.items_in(folder).count()
    }

    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.index.get(id).map(|&i| &self.contacts[i])
    }
}

fn swap_case(text: &str) -> String {
    let split = text.len().saturating_sub(12);
    let (head, tail) = text.split_at(split);
    let tail: String = tail
        .chars()
        .map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
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
        let people: Vec<&Contact> = a.contacts.iter().filter(|c| c.kind == "Contact").collect();
        assert_eq!(people.len(), 500);
        assert!(people.iter().any(|c| c.emails.is_empty()));
        let lower: Vec<String> = people.iter().filter_map(|c| c.emails.first()).map(|e| e.to_lowercase()).collect();
        let unique: std::collections::HashSet<&String> = lower.iter().collect();
        assert!(unique.len() < lower.len(), "some contacts share an email");
        let ids: Vec<String> = people.iter().map(|c| c.id.to_lowercase()).collect();
        let unique_ids: std::collections::HashSet<&String> = ids.iter().collect();
        assert!(unique_ids.len() < ids.len(), "some ids differ only in case");
        assert!(people.iter().any(|c| c.given_name.chars().any(|ch| !ch.is_ascii())));
    }
}
