//! Mail in the emulated mailboxes: the folders a real mailbox has for it
//! (Sent Items, Junk Email, Drafts, Outlook's Archive folder, which is an
//! ordinary folder with no distinguished id, nested custom folders, a
//! search folder of class IPF.Note) and messages with the awkward cases
//! of real mail: entity-escaped HTML, scripts other than Latin, a thread,
//! a meeting request, an inline image, an item attachment and a file too
//! large to index (reference/mailbox-content.md 1.1 to 1.6).
//!
//! Exchange gives a moved item a new id: "an item is actually copied, and
//! a new ID is generated, and then the original item is deleted"
//! (reference/mailbox-content.md 1.2, from ews-identifiers-in-exchange.md).

use super::{Folder, Mailbox, Tombstone};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// the markup, as the mailbox stores it
    Html(String),
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Bytes(Vec<u8>),
    /// this many bytes of a repeated pattern, made when downloaded
    Filler(u64),
    /// an item attachment: a message inside the message
    Item { subject: String, body: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    /// Graph's immutable id: kept when its message moves
    pub immutable_id: String,
    pub name: String,
    pub content_type: String,
    pub inline: bool,
    pub content_id: Option<String>,
    pub content: Content,
}

impl Attachment {
    pub fn size(&self) -> u64 {
        match &self.content {
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::Filler(size) => *size,
            Content::Item { subject, body } => (subject.len() + body.len() + 600) as u64,
        }
    }

    /// The file's bytes, as GetAttachment sends them.
    pub fn bytes(&self) -> Vec<u8> {
        match &self.content {
            Content::Bytes(bytes) => bytes.clone(),
            Content::Filler(size) => b"0123456789abcdef".iter().copied().cycle().take(*size as usize).collect(),
            Content::Item { .. } => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// the EWS id, new when the message moves
    pub id: String,
    /// Graph's immutable id (`Prefer: IdType="ImmutableId"`), which
    /// "survive[s] moves between folders of a mailbox"
    /// (reference/mailbox-content.md 2, learn.microsoft.com/graph/outlook-immutable-id)
    pub immutable_id: String,
    pub change_key: String,
    pub folder_id: String,
    /// `IPM.Note`, `IPM.Schedule.Meeting.Request`
    pub class: &'static str,
    pub subject: String,
    pub body: Body,
    pub from: Person,
    pub to: Vec<Person>,
    pub cc: Vec<Person>,
    /// RFC 3339, UTC
    pub received: String,
    pub sent: String,
    pub conversation_id: String,
    pub internet_message_id: String,
    /// `Low`, `Normal`, `High`
    pub importance: &'static str,
    pub categories: Vec<String>,
    pub is_read: bool,
    pub attachments: Vec<Attachment>,
    pub last_modified: String,
    /// change sequence numbers: created, last changed, read flag last set
    pub created: u64,
    pub modified: u64,
    pub read_changed: u64,
}

/// Positions of messages (by id and by folder) and of attachments.
#[derive(Clone, Debug, Default)]
pub struct Index {
    messages: std::collections::HashMap<String, usize>,
    by_folder: std::collections::HashMap<String, Vec<usize>>,
    attachments: std::collections::HashMap<String, (usize, usize)>,
}

/// One change SyncFolderItems reports for a mail folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailChange<'a> {
    Create(&'a Message),
    Update(&'a Message),
    /// only the read flag changed since
    ReadFlag(&'a Message),
    Delete(&'a Tombstone),
}

impl MailChange<'_> {
    fn seq(&self) -> u64 {
        match self {
            MailChange::Create(m) | MailChange::Update(m) => m.modified.max(m.read_changed),
            MailChange::ReadFlag(m) => m.read_changed,
            MailChange::Delete(t) => t.deleted,
        }
    }
}

/// Whose mailbox: the service account's holds the files and the thread;
/// a colleague's is smaller and named in German.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Service,
    Colleague,
    /// the shared mailbox of the support team: one customer's mail
    Shared,
    /// a room: no mail, bookings in its calendar
    Room,
    /// anyone else: ordinary messages only
    Staff,
}

/// In the shared mailbox's one mail, and nowhere else.
pub const SUPPORT_MARKER: &str = "supportmarker7731";

/// The words only the attachments' texts contain, for searches.
pub const PDF_MARKER: &str = "pdfmarker7731";
pub const DOCX_MARKER: &str = "docxmarker7731";
pub const XLSX_MARKER: &str = "xlsxmarker7731";
pub const HTML_ATTACHMENT_MARKER: &str = "htmlmarker7731";
pub const TEXT_ATTACHMENT_MARKER: &str = "textmarker7731";
/// In a mail body, and nowhere else.
pub const JAPANESE_PHRASE: &str = "請求書の確認";
/// The attachment too large to download: 10.5 MiB.
pub const LARGE_ATTACHMENT_BYTES: u64 = 10 * (1 << 20) + (1 << 19);
pub const LARGE_ATTACHMENT_NAME: &str = "mailbox-export.zip";

/// What the scripted mail change did, by message id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailScript {
    pub added: Vec<String>,
    /// (old id, new id): Exchange gives a moved message a new id
    pub moved: Vec<(String, String)>,
    pub deleted: Vec<String>,
    pub read: Vec<String>,
    pub edited: Vec<String>,
}

/// Custom folders of the service account's mailbox that the folder script
/// (hierarchy.rs) renames and deletes.
pub const PROJECTS: &str = "Projects";
pub const OLD_TICKETS: &str = "Old tickets";

pub(super) fn person(name: &str, address: &str) -> Person {
    Person { name: name.into(), address: address.into() }
}

impl Mailbox {
    /// The mail folders and messages of `owner`'s mailbox, with `filler`
    /// ordinary messages beside the special ones.
    pub fn seed_mail(&mut self, owner: Owner, address: &str, filler: usize) {
        self.address = address.to_lowercase();
        let top = self.distinguished("msgfolderroot").map(|f| f.id.clone()).expect("seeded mailboxes have a message root");
        let inbox = self.distinguished("inbox").map(|f| f.id.clone()).expect("seeded mailboxes have an inbox");
        let deleted = self.distinguished("deleteditems").map(|f| f.id.clone()).expect("seeded mailboxes have Deleted Items");
        let sent = self.new_folder(Some(&top), "Sent Items", "IPF.Note", "Folder", Some("sentitems"));
        let junk = self.new_folder(Some(&top), "Junk Email", "IPF.Note", "Folder", Some("junkemail"));
        let drafts = self.new_folder(Some(&top), "Drafts", "IPF.Note", "Folder", Some("drafts"));
        let me = person(if owner == Owner::Colleague { "Bob Baumann" } else { "Helpdesk Service" }, address);
        let bob = person("Bob Baumann", "bob@example.com");
        let service = person("Helpdesk Service", "svc-helpdesk@example.com");
        let other = if owner == Owner::Service { bob.clone() } else { service.clone() };
        match owner {
            Owner::Room => {}
            Owner::Staff => {
                for n in 0..filler {
                    self.new_message(&inbox, &format!("Ticket update {n}"), Body::Text(format!("Status of ticket {n}: open.")), &service, &[me.clone()]);
                }
            }
            Owner::Shared => {
                let customer = person("Carla Kunde", "carla@customer.example");
                let support = person("Support", address);
                self.new_message(&inbox, "Printer on the second floor", Body::Text(
                    format!("Hello support, the printer jams on every page. Case {SUPPORT_MARKER}.")
                ), &customer, &[support]);
            }
            Owner::Service => {
                // Outlook's one-click Archive: a folder like any other.
                let archive = self.new_folder(Some(&top), "Archive", "IPF.Note", "Folder", None);
                let projects = self.new_folder(Some(&top), PROJECTS, "IPF.Note", "Folder", None);
                let year = self.new_folder(Some(&projects), "2026", "IPF.Note", "Folder", None);
                let old = self.new_folder(Some(&top), OLD_TICKETS, "IPF.Note", "Folder", None);
                // A search folder has the class of what it shows.
                let search = self.new_folder(Some(&top), "Unread from Bob", "IPF.Note", "SearchFolder", None);
                self.folder_mut(&search).search_source = Some(inbox.clone());
                let thread = "AAQkADc3NDQ5-thread-invoice".to_string();
                let invoice = self.new_message(&inbox, "Invoice check", Body::Html(format!(
                    "<html><head><style>p {{ margin: 0 }}</style></head><body><p>Hello,</p><p>{JAPANESE_PHRASE}をお願いします。</p>\
                     <p>Caf&eacute; &amp; cr&egrave;me &mdash; 5&nbsp;items &lt;urgent&gt;</p></body></html>"
                )), &bob, &[service.clone()]);
                self.message_mut(&invoice).conversation_id = thread.clone();
                self.message_mut(&invoice).importance = "High";
                self.message_mut(&invoice).categories = vec!["Finance".into(), "Red category".into()];
                let reply = self.new_message(&sent, "RE: Invoice check", Body::Text("Checked, all fine.\r\n\r\n> Hello,".into()), &service, &[bob.clone()]);
                self.message_mut(&reply).conversation_id = thread.clone();
                self.message_mut(&reply).is_read = true;
                let again = self.new_message(&inbox, "RE: Invoice check", Body::Text("Thanks! One more question about line 3.".into()), &bob, &[service.clone()]);
                self.message_mut(&again).conversation_id = thread;
                let meeting = self.new_message(&inbox, "Team meeting", Body::Text("When: Monday 10:00-11:00\r\nWhere: Room 1".into()), &bob, &[service.clone()]);
                self.message_mut(&meeting).class = "IPM.Schedule.Meeting.Request";
                let logo = self.new_message(&inbox, "New logo", Body::Html(
                    "<html><body><p>Our new logo:</p><img src=\"cid:logo@example.com\"></body></html>".into(),
                ), &bob, &[service.clone()]);
                let png = base64_png();
                self.attach(&logo, "logo.png", "image/png", true, Some("logo@example.com"), Content::Bytes(png));
                let files = self.new_message(&inbox, "Meeting notes and minutes", Body::Text("Both files attached.".into()), &bob, &[service.clone()]);
                self.attach(&files, "notes.txt", "text/plain", false, None, Content::Bytes(
                    format!("Notes of the meeting.\r\nThe code word is {TEXT_ATTACHMENT_MARKER}.\r\n").into_bytes(),
                ));
                self.attach(&files, "minutes.html", "text/html", false, None, Content::Bytes(
                    format!("<html><body><h1>Minutes</h1><p>Decided: {HTML_ATTACHMENT_MARKER} &amp; more.</p></body></html>").into_bytes(),
                ));
                let report = self.new_message(&inbox, "Quarterly report", Body::Text("The report, the notes and the figures.".into()), &bob, &[service.clone()]);
                self.attach(&report, "report.pdf", "application/pdf", false, None, Content::Bytes(super::files::pdf(&format!("Quarterly report {PDF_MARKER} revenue up"))));
                self.attach(&report, "notes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", false, None, Content::Bytes(
                    super::files::docx("Meeting notes", ("The secret word is", DOCX_MARKER)),
                ));
                self.attach(&report, "figures.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", false, None, Content::Bytes(
                    super::files::xlsx(&["Revenue", XLSX_MARKER], 1234.5),
                ));
                // A file that claims to be a PDF and is not one: it fails alone.
                let mut broken = super::files::pdf("never read");
                broken.truncate(broken.len() / 3);
                self.attach(&report, "scan.pdf", "application/pdf", false, None, Content::Bytes(broken));
                let forward = self.new_message(&inbox, "Fwd: Delivery", Body::Text("See the message below.".into()), &bob, &[service.clone()]);
                // An attached item has no content type: EWS leaves ContentType
                // out (ews-javascript-api LoadItemWithItemAttachmentResponse),
                // Graph says null (attachment-get__02).
                self.attach(&forward, "Delivery", "", false, None, Content::Item {
                    subject: "Delivery".into(),
                    body: "Your parcel arrives on Tuesday.".into(),
                });
                let export = self.new_message(&inbox, "Mailbox export", Body::Text("The export you asked for.".into()), &bob, &[service.clone()]);
                self.attach(&export, LARGE_ATTACHMENT_NAME, "application/zip", false, None, Content::Filler(LARGE_ATTACHMENT_BYTES));
                self.new_message(&inbox, "Привет из Москвы", Body::Text("Всё готово к отправке.".into()), &bob, &[service.clone()]);
                self.new_message(&inbox, "مرحبا", Body::Text("التقرير جاهز".into()), &bob, &[service.clone()]);
                self.new_message(&archive, "Old contract", Body::Text("The contract of 2024, for the records.".into()), &bob, &[service.clone()]);
                self.new_message(&old, "Ticket 17 closed", Body::Text("Closed in 2025.".into()), &bob, &[service.clone()]);
                self.new_message(&year, "Project kickoff", Body::Html("<p>Kickoff on <b>12 January</b>.</p>".into()), &bob, &[service.clone()]);
                self.new_message(&junk, "You have won", Body::Html("<p>Claim your prize &#x1F381;</p>".into()), &person("Prize", "win@spam.example"), &[service.clone()]);
                self.new_message(&deleted, "Old newsletter", Body::Text("Nothing to see.".into()), &person("News", "news@example.org"), &[service.clone()]);
                self.new_message(&drafts, "Unfinished", Body::Text("Draft text".into()), &service, &[bob.clone()]);
                let homes = [inbox.clone(), archive, year];
                for n in 0..filler {
                    let home = &homes[n % homes.len()];
                    let body = format!("Status of ticket {n}: open. The customer wrote again about the invoice and the delivery date.");
                    let id = self.new_message(home, &format!("Ticket update {n}"), Body::Text(body), &other, &[me.clone()]);
                    // Every tenth carries the ticket's log as a file.
                    if n % 10 == 9 {
                        let log = format!("ticket {n}\r\nopened 2026-11-01\r\nwaiting for the customer\r\n").repeat(20);
                        self.attach(&id, &format!("ticket-{n}.txt"), "text/plain", false, None, Content::Bytes(log.into_bytes()));
                    }
                }
            }
            Owner::Colleague => {
                self.new_message(&inbox, "Mittagessen am Freitag", Body::Text("Wer kommt mit? Treffpunkt 12 Uhr.".into()), &service, &[bob.clone()]);
                self.new_message(&inbox, "Urlaub", Body::Html("<p>Ich bin ab Montag im Urlaub.</p>".into()), &service, &[bob.clone()]);
                let reply = self.new_message(&sent, "RE: Urlaub", Body::Text("Schönen Urlaub!".into()), &bob, &[service.clone()]);
                self.message_mut(&reply).is_read = true;
                self.new_message(&deleted, "Alt", Body::Text("Gelöscht.".into()), &service, &[bob.clone()]);
                for n in 0..filler {
                    self.new_message(&inbox, &format!("Ticket-Update {n}"), Body::Text(format!("Ticket {n} ist offen.")), &other, &[me.clone()]);
                }
            }
        }
        self.localise_mail_folders(owner);
    }

    /// A colleague's mailbox speaks German (one mailbox localised, as the
    /// issue asks); the names are Outlook's German ones, which ../shared
    /// does not list (reference/mailbox-content.md 1.1 and 2 only say that
    /// names are localised, "Postvak IN").
    fn localise_mail_folders(&mut self, owner: Owner) {
        if owner != Owner::Colleague {
            return;
        }
        for folder in &mut self.folders {
            let name = match folder.distinguished {
                Some("sentitems") => "Gesendete Elemente",
                Some("junkemail") => "Junk-E-Mail",
                Some("drafts") => "Entwürfe",
                _ => continue,
            };
            folder.name = name.into();
        }
    }

    pub(super) fn new_message(&mut self, folder: &str, subject: &str, body: Body, from: &Person, to: &[Person]) -> String {
        self.seq += 1;
        let seq = self.seq;
        let id = self.rng.id("AAMkADc3");
        let minute = self.messages.len();
        let received = format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + (minute / 600) % 28, 8 + (minute / 60) % 10, minute % 60);
        let immutable_id = self.rng.id("AAkALgAA");
        self.messages.push(Message {
            id: id.clone(),
            immutable_id,
            change_key: format!("CQAAABYAAAB1{seq:08}"),
            folder_id: folder.into(),
            class: "IPM.Note",
            subject: subject.into(),
            body,
            from: from.clone(),
            to: to.to_vec(),
            cc: Vec::new(),
            received: received.clone(),
            sent: received.clone(),
            conversation_id: format!("AAQkADc3-{}", &id[8..24]),
            internet_message_id: format!("<{}@mail.example.com>", &id[8..30].replace(['+', '/', '='], "x")),
            importance: "Normal",
            categories: Vec::new(),
            is_read: false,
            attachments: Vec::new(),
            last_modified: received,
            created: seq,
            modified: seq,
            read_changed: 0,
        });
        self.reindex();
        id
    }

    fn attach(&mut self, message: &str, name: &str, content_type: &str, inline: bool, content_id: Option<&str>, content: Content) {
        let id = self.rng.id("AAMkADc3att");
        let immutable_id = self.rng.id("AAkALgAAatt");
        let message = self.message_mut(message);
        message.attachments.push(Attachment {
            id,
            immutable_id,
            name: name.into(),
            content_type: content_type.into(),
            inline,
            content_id: content_id.map(str::to_string),
            content,
        });
        self.reindex();
    }

    /// A message to change in place (ids stay, so the index stays right).
    /// Searched from the end, where seeding and the scripted changes find
    /// theirs at once: making the index here would cost a whole pass for
    /// each attachment seeded.
    fn message_mut(&mut self, id: &str) -> &mut Message {
        self.messages.iter_mut().rev().find(|m| m.id == id).expect("a message of this mailbox")
    }

    /// Where messages and attachments are: a large mailbox is not scanned
    /// for each id a request names.
    fn index(&self) -> &Index {
        self.mail_index.get_or_init(|| {
            let mut index = Index::default();
            for (i, m) in self.messages.iter().enumerate() {
                index.messages.insert(m.id.clone(), i);
                index.messages.insert(m.immutable_id.clone(), i);
                index.by_folder.entry(m.folder_id.clone()).or_default().push(i);
                for (j, a) in m.attachments.iter().enumerate() {
                    index.attachments.insert(a.id.clone(), (i, j));
                    index.attachments.insert(a.immutable_id.clone(), (i, j));
                }
            }
            index
        })
    }

    /// The messages changed: the index is made again when next needed.
    fn reindex(&mut self) {
        self.mail_index = Default::default();
    }

    /// The Inbox's first ordinary message: the broken-message fault's.
    pub fn first_ordinary_message(&self) -> Option<&str> {
        let inbox = self.distinguished("inbox")?;
        self.messages_in(&inbox.id).find(|m| m.subject.starts_with("Ticket")).map(|m| m.id.as_str())
    }

    /// A message by its EWS id or its immutable id.
    pub fn message(&self, id: &str) -> Option<&Message> {
        self.index().messages.get(id).map(|&i| &self.messages[i])
    }

    /// An attachment by id (EWS or immutable), with its message.
    pub fn attachment(&self, id: &str) -> Option<(&Message, &Attachment)> {
        self.index().attachments.get(id).map(|&(i, j)| (&self.messages[i], &self.messages[i].attachments[j]))
    }

    pub fn messages_in<'a>(&'a self, folder: &'a str) -> impl Iterator<Item = &'a Message> + 'a {
        self.index().by_folder.get(folder).into_iter().flatten().map(|&i| &self.messages[i])
    }

    /// At most `max` changes to the messages of `folder` after `since`,
    /// the sequence number to continue from, and whether they were the
    /// last ones (as [`Mailbox::change_page`] for contacts).
    pub fn mail_changes<'a>(&'a self, folder: &'a Folder, since: u64, max: usize) -> (Vec<MailChange<'a>>, u64, bool) {
        let changes: Vec<MailChange> = self
            .messages_in(&folder.id)
            .filter_map(|m| match () {
                _ if m.created > since => Some(MailChange::Create(m)),
                _ if m.modified > since => Some(MailChange::Update(m)),
                _ if m.read_changed > since => Some(MailChange::ReadFlag(m)),
                _ => None,
            })
            .chain(
                self.message_tombstones
                    .iter()
                    .filter(|t| t.folder_id == folder.id && t.deleted > since && t.created <= since)
                    .map(MailChange::Delete),
            )
            .collect();
        self.page(changes, since, max, MailChange::seq)
    }

    fn delete_message(&mut self, id: &str) -> Option<Message> {
        let position = *self.index().messages.get(id)?;
        let message = self.messages.remove(position);
        self.reindex();
        self.seq += 1;
        self.message_tombstones.push(Tombstone {
            id: message.id.clone(),
            immutable_id: message.immutable_id.clone(),
            change_key: message.change_key.clone(),
            folder_id: message.folder_id.clone(),
            created: message.created,
            deleted: self.seq,
        });
        Some(message)
    }

    /// What a user does with mail between two syncs: one message each
    /// added, moved to the Archive folder, deleted, marked read and
    /// edited (its subject and body), all among the filler messages of
    /// the Inbox (none of the special ones the tests look for); nothing
    /// when the Inbox has fewer than four.
    pub fn scripted_mail_change(&mut self) -> MailScript {
        let mut script = MailScript::default();
        let Some(inbox) = self.distinguished("inbox").map(|f| f.id.clone()) else { return script };
        let archive = self.folders.iter().find(|f| f.name == "Archive" && f.element == "Folder").map(|f| f.id.clone()).unwrap_or_else(|| inbox.clone());
        let chosen: Vec<String> = self
            .messages_in(&inbox)
            .filter(|m| m.subject.starts_with("Ticket") && !m.is_read)
            .take(4)
            .map(|m| m.id.clone())
            .collect();
        let [moved, deleted, read, edited] = chosen.as_slice() else { return script };
        let owner = person("Helpdesk Service", &self.address.clone());
        let added = self.new_message(&inbox, "Printer on fire", Body::Text("The printer on floor 2 is on fire.".into()), &person("Alice", "alice@example.com"), &[owner]);
        script.added.push(added);
        if let Some(mut message) = self.delete_message(moved) {
            // Moved: a copy with a new id in the Archive, the original gone.
            self.seq += 1;
            let seq = self.seq;
            message.id = self.rng.id("AAMkADc3");
            for attachment in &mut message.attachments {
                attachment.id = self.rng.id("AAMkADc3att");
            }
            message.folder_id = archive;
            message.change_key = format!("CQAAABYAAAB1{seq:08}");
            (message.created, message.modified) = (seq, seq);
            script.moved.push((moved.clone(), message.id.clone()));
            self.messages.push(message);
            self.reindex();
        }
        if self.delete_message(deleted).is_some() {
            script.deleted.push(deleted.clone());
        }
        self.seq += 1;
        let seq = self.seq;
        let message = self.message_mut(read);
        message.is_read = true;
        message.read_changed = seq;
        script.read.push(read.clone());
        self.seq += 1;
        let seq = self.seq;
        let message = self.message_mut(edited);
        message.subject = format!("{} (edited)", message.subject);
        message.body = Body::Text("Status: closed.".into());
        message.modified = seq;
        message.change_key = format!("CQAAABYAAAB1{seq:08}");
        message.last_modified = format!("2026-11-30T10:{:02}:{:02}Z", (seq / 60) % 60, seq % 60);
        script.edited.push(edited.clone());
        script
    }
}

/// A 1x1 PNG, as an inline image is.
fn base64_png() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
        .expect("a PNG")
}
