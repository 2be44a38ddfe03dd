//! Calendars and tasks in the emulated mailboxes, as Exchange keeps them:
//! a series is one master item carrying its recurrence, its modified
//! occurrences (exceptions, items of their own that SyncFolderItems does
//! not list: it does not expand series) and the starts of its deleted
//! occurrences; singles beside it; a second calendar below the default
//! one, as Outlook makes it; task folders with a recurring, a completed
//! and an attached-to task (reference/mailbox-content.md 1.4 and 1.5,
//! recurrence-patterns-and-ews.md as quoted there).
//!
//! Times are UTC instants; each event names its Windows time zone id,
//! the form `StartTimeZoneId` takes (the EXO sample there:
//! `India Standard Time`).

use super::Mailbox;
use super::mail::{Attachment, Content, Person};

/// In the series' body, and nowhere else.
pub const SERIES_MARKER: &str = "seriesmarker7731";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Single,
    RecurringMaster,
    /// a modified occurrence of a series
    Exception,
}

impl EventKind {
    /// `CalendarItemType` as EWS writes it.
    pub fn ews(self) -> &'static str {
        match self {
            EventKind::Single => "Single",
            EventKind::RecurringMaster => "RecurringMaster",
            EventKind::Exception => "Exception",
        }
    }
}

/// A weekly pattern with an end date (`WeeklyRecurrence` and
/// `EndDateRecurrence`): what Outlook makes of "every Monday".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weekly {
    pub interval: u32,
    /// `Monday`, ...
    pub days: Vec<&'static str>,
    /// `YYYY-MM-DD`, in the event's zone
    pub start_date: String,
    pub end_date: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub change_key: String,
    pub folder_id: String,
    pub uid: String,
    pub subject: String,
    pub body: String,
    pub location: String,
    pub organizer: Person,
    pub required: Vec<Person>,
    pub optional: Vec<Person>,
    /// RFC 3339, UTC
    pub start: String,
    pub end: String,
    pub all_day: bool,
    /// a Windows time zone id
    pub time_zone: &'static str,
    pub categories: Vec<String>,
    pub importance: &'static str,
    pub kind: EventKind,
    pub recurrence: Option<Weekly>,
    /// an exception's series
    pub master_id: Option<String>,
    /// an exception's start before it was moved
    pub original_start: Option<String>,
    /// a master's deleted occurrences, by their starts
    pub deleted_occurrences: Vec<String>,
    pub attachments: Vec<Attachment>,
    pub last_modified: String,
    pub created: u64,
    pub modified: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub change_key: String,
    pub folder_id: String,
    pub subject: String,
    pub body: String,
    /// `NotStarted`, `InProgress`, `Completed`, `WaitingOnOthers`, `Deferred`
    pub status: &'static str,
    pub percent_complete: u32,
    /// RFC 3339, UTC
    pub start: Option<String>,
    pub due: Option<String>,
    pub completed: Option<String>,
    /// a display name, not an address (reference 1.5)
    pub owner: String,
    pub recurrence: Option<Weekly>,
    pub categories: Vec<String>,
    pub importance: &'static str,
    pub attachments: Vec<Attachment>,
    pub last_modified: String,
    pub created: u64,
    pub modified: u64,
}

/// A calendar or task item: what a calendar or task folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Event(&'a Event),
    Task(&'a Task),
}

impl Item<'_> {
    pub fn id(&self) -> &str {
        match self {
            Item::Event(e) => &e.id,
            Item::Task(t) => &t.id,
        }
    }
    fn seqs(&self) -> (u64, u64) {
        match self {
            Item::Event(e) => (e.created, e.modified),
            Item::Task(t) => (t.created, t.modified),
        }
    }
}

/// One change SyncFolderItems reports for a calendar or task folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemChange<'a> {
    Create(Item<'a>),
    Update(Item<'a>),
    Delete(&'a super::Tombstone),
}

impl ItemChange<'_> {
    fn seq(&self) -> u64 {
        match self {
            ItemChange::Create(i) | ItemChange::Update(i) => i.seqs().1,
            ItemChange::Delete(t) => t.deleted,
        }
    }
}

/// An event as seeded: the fields that differ between events.
struct Plan<'a> {
    subject: &'a str,
    body: String,
    location: &'a str,
    start: &'a str,
    end: &'a str,
    time_zone: &'static str,
    all_day: bool,
}

fn person(name: &str, address: &str) -> Person {
    Person { name: name.into(), address: address.into() }
}

impl Mailbox {
    /// The service account's calendars and tasks; other mailboxes get the
    /// folders only, as a new mailbox has them.
    pub fn seed_calendar(&mut self, full: bool) {
        let top = self.distinguished("msgfolderroot").map(|f| f.id.clone()).expect("seeded mailboxes have a message root");
        let calendar = self.distinguished("calendar").map(|f| f.id.clone()).expect("seeded mailboxes have a calendar");
        let tasks = self.new_folder(Some(&top), "Tasks", "IPF.Task", "TasksFolder", Some("tasks"));
        if !full {
            return;
        }
        let team = self.new_folder(Some(&calendar), "Team calendar", "IPF.Appointment", "CalendarFolder", None);
        let projects = self.new_folder(Some(&tasks), "Project tasks", "IPF.Task", "TasksFolder", None);
        let me = person("Helpdesk Service", &self.address.clone());
        let bob = person("Bob Baumann", "bob@example.com");
        let alice = person("Alice", "alice@example.com");
        // Every Monday 10:00-11:00 in Berlin (09:00Z in winter, 08:00Z after
        // 29 March), 5 January to 30 March 2026.
        let series = self.new_event(&calendar, &me, Plan {
            subject: "Weekly support sync",
            body: format!("Open tickets, escalations, the week ahead. {SERIES_MARKER}"),
            location: "Room 1",
            start: "2026-01-05T09:00:00Z",
            end: "2026-01-05T10:00:00Z",
            time_zone: "W. Europe Standard Time",
            all_day: false,
        });
        let event = self.event_mut(&series);
        event.kind = EventKind::RecurringMaster;
        event.required = vec![bob.clone()];
        event.optional = vec![alice.clone()];
        event.recurrence = Some(Weekly { interval: 1, days: vec!["Monday"], start_date: "2026-01-05".into(), end_date: "2026-03-30".into() });
        event.deleted_occurrences = vec!["2026-02-02T09:00:00Z".into()];
        // 19 January: an hour later, in another room; the body kept.
        let moved = self.new_event(&calendar, &me, Plan {
            subject: "Weekly support sync",
            body: format!("Open tickets, escalations, the week ahead. {SERIES_MARKER}"),
            location: "Room 2",
            start: "2026-01-19T10:00:00Z",
            end: "2026-01-19T11:00:00Z",
            time_zone: "W. Europe Standard Time",
            all_day: false,
        });
        let uid = self.event_mut(&series).uid.clone();
        let exception = self.event_mut(&moved);
        exception.kind = EventKind::Exception;
        exception.master_id = Some(series.clone());
        exception.original_start = Some("2026-01-19T09:00:00Z".into());
        exception.uid = uid;
        exception.required = vec![bob.clone()];
        // Midnight to midnight in Berlin.
        self.new_event(&calendar, &me, Plan {
            subject: "Company holiday",
            body: "The office is closed.".into(),
            location: "",
            start: "2026-12-23T23:00:00Z",
            end: "2026-12-24T23:00:00Z",
            time_zone: "W. Europe Standard Time",
            all_day: true,
        });
        // 09:00-10:00 in Tokyo (UTC+9, no summer time).
        let tokyo = self.new_event(&calendar, &me, Plan {
            subject: "Call with the Tokyo office",
            body: "Support hand-over between the time zones.".into(),
            location: "Teams",
            start: "2026-12-10T00:00:00Z",
            end: "2026-12-10T01:00:00Z",
            time_zone: "Tokyo Standard Time",
            all_day: false,
        });
        self.event_mut(&tokyo).required = vec![person("Kenji Sato", "kenji.sato@example.jp")];
        let budget = self.new_event(&calendar, &bob, Plan {
            subject: "Budget review",
            body: "The agenda is attached.".into(),
            location: "Room 3",
            start: "2026-12-15T13:00:00Z",
            end: "2026-12-15T14:00:00Z",
            time_zone: "W. Europe Standard Time",
            all_day: false,
        });
        let agenda = self.new_attachment("agenda.txt", "text/plain", Content::Bytes(b"1. Budget 2027\r\n2. Hardware\r\n3. Training\r\n".to_vec()));
        let event = self.event_mut(&budget);
        event.required = vec![me.clone()];
        event.importance = "High";
        event.categories = vec!["Finance".into()];
        event.attachments.push(agenda);
        self.new_event(&team, &me, Plan {
            subject: "Team offsite",
            body: "A day out of the office.".into(),
            location: "Lake Starnberg",
            start: "2026-12-04T08:00:00Z",
            end: "2026-12-04T16:00:00Z",
            time_zone: "W. Europe Standard Time",
            all_day: false,
        });

        let owner = me.name.clone();
        let renew = self.new_task(&tasks, "Renew the TLS certificate", "The certificate of mail.example.com expires on 20 December.", &owner);
        let task = self.task_mut(&renew);
        (task.status, task.percent_complete) = ("InProgress", 50);
        task.start = Some("2026-11-30T08:00:00Z".into());
        task.due = Some("2026-12-18T17:00:00Z".into());
        task.importance = "High";
        let backup = self.new_task(&tasks, "Check the backups", "Restore one mailbox to be sure.", &owner);
        let task = self.task_mut(&backup);
        task.recurrence = Some(Weekly { interval: 1, days: vec!["Friday"], start_date: "2026-11-06".into(), end_date: "2027-06-25".into() });
        task.due = Some("2026-12-04T16:00:00Z".into());
        let toner = self.new_task(&tasks, "Order toner", "Two cartridges for floor 2.", &owner);
        let task = self.task_mut(&toner);
        (task.status, task.percent_complete) = ("Completed", 100);
        task.completed = Some("2026-11-27T11:00:00Z".into());
        let audit = self.new_task(&tasks, "Prepare the audit", "The checklist is attached.", &owner);
        let checklist = self.new_attachment("checklist.txt", "text/plain", Content::Bytes(b"[ ] access rights\r\n[ ] backups\r\n[ ] licences\r\n".to_vec()));
        let task = self.task_mut(&audit);
        task.due = Some("2027-01-15T17:00:00Z".into());
        task.attachments.push(checklist);
        self.new_task(&projects, "Migrate the printers", "Floor 1 first, then floor 2.", &owner);
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn new_attachment(&mut self, name: &str, content_type: &str, content: Content) -> Attachment {
        Attachment {
            id: self.rng.id("AAMkADc3att"),
            immutable_id: self.rng.id("AAkALgAAatt"),
            name: name.into(),
            content_type: content_type.into(),
            inline: false,
            content_id: None,
            content,
        }
    }

    /// A room's calendar: the meeting booked in it, organised by the
    /// service account.
    pub fn seed_room_booking(&mut self) {
        let calendar = self.distinguished("calendar").map(|f| f.id.clone()).expect("seeded mailboxes have a calendar");
        let organizer = person("Helpdesk Service", "svc-helpdesk@example.com");
        self.new_event(&calendar, &organizer, Plan {
            subject: "Quarterly planning",
            body: "Booked for the support team.".into(),
            location: "Room 1",
            start: "2026-12-14T13:00:00Z",
            end: "2026-12-14T15:00:00Z",
            time_zone: "W. Europe Standard Time",
            all_day: false,
        });
    }

    fn new_event(&mut self, folder: &str, organizer: &Person, plan: Plan) -> String {
        let seq = self.next_seq();
        let id = self.rng.id("AAMkADc3cal");
        let uid = format!("040000008200E00074C5B7101A82E008{:016X}", self.rng.next());
        self.events.push(Event {
            id: id.clone(),
            change_key: format!("DwAAABYAAAB1{seq:08}"),
            folder_id: folder.into(),
            uid,
            subject: plan.subject.into(),
            body: plan.body,
            location: plan.location.into(),
            organizer: organizer.clone(),
            required: Vec::new(),
            optional: Vec::new(),
            start: plan.start.into(),
            end: plan.end.into(),
            all_day: plan.all_day,
            time_zone: plan.time_zone,
            categories: Vec::new(),
            importance: "Normal",
            kind: EventKind::Single,
            recurrence: None,
            master_id: None,
            original_start: None,
            deleted_occurrences: Vec::new(),
            attachments: Vec::new(),
            last_modified: "2026-11-20T09:00:00Z".into(),
            created: seq,
            modified: seq,
        });
        id
    }

    fn new_task(&mut self, folder: &str, subject: &str, body: &str, owner: &str) -> String {
        let seq = self.next_seq();
        let id = self.rng.id("AAMkADc3tsk");
        self.tasks.push(Task {
            id: id.clone(),
            change_key: format!("EwAAABYAAAB1{seq:08}"),
            folder_id: folder.into(),
            subject: subject.into(),
            body: body.into(),
            status: "NotStarted",
            percent_complete: 0,
            start: None,
            due: None,
            completed: None,
            owner: owner.into(),
            recurrence: None,
            categories: Vec::new(),
            importance: "Normal",
            attachments: Vec::new(),
            last_modified: "2026-11-20T09:00:00Z".into(),
            created: seq,
            modified: seq,
        });
        id
    }

    fn event_mut(&mut self, id: &str) -> &mut Event {
        self.events.iter_mut().find(|e| e.id == id).expect("an event of this mailbox")
    }

    fn task_mut(&mut self, id: &str) -> &mut Task {
        self.tasks.iter_mut().find(|t| t.id == id).expect("a task of this mailbox")
    }

    pub fn event(&self, id: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.id == id)
    }

    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// A series' modified occurrences.
    pub fn exceptions_of<'a>(&'a self, master: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.events.iter().filter(move |e| e.master_id.as_deref() == Some(master))
    }

    /// The starts and ends (UTC) of a series' occurrences as its pattern
    /// makes them, at the master's local time of day in its zone (summer
    /// time shifts them in UTC), deleted ones included: what a client
    /// expands a series to (weekly patterns as recurrence-patterns-and-ews
    /// describes them, quoted in reference/mailbox-content.md 1.4; the
    /// instances a Graph client gets: fixture event-list-instances__01).
    pub fn pattern_occurrences(master: &Event) -> Vec<(String, String)> {
        use time::format_description::well_known::Rfc3339;
        let Some(weekly) = &master.recurrence else { return Vec::new() };
        let parse_day = |d: &str| time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok();
        let (Ok(start), Ok(end), Some(first), Some(last)) = (
            time::OffsetDateTime::parse(&master.start, &Rfc3339),
            time::OffsetDateTime::parse(&master.end, &Rfc3339),
            parse_day(&weekly.start_date),
            parse_day(&weekly.end_date),
        ) else {
            return Vec::new();
        };
        let zone = master.time_zone;
        let offset = |at: time::OffsetDateTime| crate::zones::offset_at(zone, at).unwrap_or(time::UtcOffset::UTC);
        let local = start.to_offset(offset(start)).time();
        let length = end - start;
        let week_of = |d: time::Date| (d.to_julian_day() - i32::from(d.weekday().number_days_from_sunday())) / 7;
        let mut occurrences = Vec::new();
        let mut day = first;
        while day <= last {
            let name = format!("{}", day.weekday());
            let in_week = (week_of(day) - week_of(first)).rem_euclid(weekly.interval.max(1) as i32) == 0;
            if in_week && weekly.days.contains(&name.as_str()) {
                let naive = day.with_time(local).assume_utc();
                let at = day.with_time(local).assume_offset(offset(naive - time::Duration::hours(1))).to_offset(time::UtcOffset::UTC);
                let format = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
                occurrences.push((format(at), format(at + length)));
            }
            day = day.next_day().expect("a valid day");
        }
        occurrences
    }

    /// An attachment of an event or a task, with the id of its item.
    pub fn item_attachment(&self, id: &str) -> Option<(&str, &Attachment)> {
        let events = self.events.iter().flat_map(|e| e.attachments.iter().map(move |a| (e.id.as_str(), a)));
        let tasks = self.tasks.iter().flat_map(|t| t.attachments.iter().map(move |a| (t.id.as_str(), a)));
        events.chain(tasks).find(|(_, a)| a.id == id || a.immutable_id == id)
    }

    /// At most `max` changes to the items of a calendar or task folder
    /// after `since`, the sequence number to continue from, and whether
    /// they were the last. Exceptions are not listed: SyncFolderItems
    /// does not expand series; a change to one changes its master.
    pub fn item_changes<'a>(&'a self, folder: &'a super::Folder, since: u64, max: usize) -> (Vec<ItemChange<'a>>, u64, bool) {
        let items = self
            .events
            .iter()
            .filter(|e| e.kind != EventKind::Exception)
            .map(Item::Event)
            .chain(self.tasks.iter().map(Item::Task))
            .filter(|i| match i {
                Item::Event(e) => e.folder_id == folder.id,
                Item::Task(t) => t.folder_id == folder.id,
            });
        let changes: Vec<ItemChange> = items
            .filter_map(|i| match i.seqs() {
                (created, _) if created > since => Some(ItemChange::Create(i)),
                (_, modified) if modified > since => Some(ItemChange::Update(i)),
                _ => None,
            })
            .chain(
                self.item_tombstones
                    .iter()
                    .filter(|t| t.folder_id == folder.id && t.deleted > since && t.created <= since)
                    .map(ItemChange::Delete),
            )
            .collect();
        self.page(changes, since, max, ItemChange::seq)
    }

    /// What changes in a calendar and a task list between two syncs: the
    /// series' modified occurrence moves again (an hour later; its master
    /// changes with it) and the certificate task is completed. The ids of
    /// the master and the task.
    pub fn scripted_calendar_change(&mut self) -> Vec<String> {
        let Some(exception) = self.events.iter().position(|e| e.kind == EventKind::Exception) else { return Vec::new() };
        let seq = self.next_seq();
        let event = &mut self.events[exception];
        (event.start, event.end) = ("2026-01-19T11:00:00Z".into(), "2026-01-19T12:00:00Z".into());
        event.change_key = format!("DwAAABYAAAB1{seq:08}");
        event.modified = seq;
        let master = event.master_id.clone().expect("an exception has a master");
        let event = self.event_mut(&master);
        event.change_key = format!("DwAAABYAAAB1{seq:08}");
        event.modified = seq;
        let mut changed = vec![master];
        if let Some(task) = self.tasks.iter_mut().find(|t| t.status == "InProgress") {
            (task.status, task.percent_complete) = ("Completed", 100);
            task.completed = Some("2026-12-01T10:00:00Z".into());
            task.change_key = format!("EwAAABYAAAB1{seq:08}");
            task.modified = seq;
            changed.push(task.id.clone());
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded() -> Mailbox {
        let mut mailbox = Mailbox::seeded_with(0, 1, super::super::Layout::Flat(1));
        mailbox.address = "svc-helpdesk@example.com".into();
        mailbox.seed_calendar(true);
        mailbox
    }

    #[test]
    fn a_series_lists_once_and_its_exception_hangs_off_it() {
        let mailbox = seeded();
        let calendar = mailbox.distinguished("calendar").unwrap().clone();
        let (changes, _, last) = mailbox.item_changes(&calendar, 0, 100);
        assert!(last);
        let subjects: Vec<&str> = changes
            .iter()
            .map(|c| match c {
                ItemChange::Create(Item::Event(e)) => e.subject.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(subjects, ["Weekly support sync", "Company holiday", "Call with the Tokyo office", "Budget review"]);
        let master = mailbox.events.iter().find(|e| e.kind == EventKind::RecurringMaster).unwrap();
        let exceptions: Vec<&Event> = mailbox.exceptions_of(&master.id).collect();
        assert_eq!(exceptions.len(), 1);
        assert_eq!(exceptions[0].original_start.as_deref(), Some("2026-01-19T09:00:00Z"));
        assert_eq!(master.deleted_occurrences, ["2026-02-02T09:00:00Z"]);
    }

    #[test]
    fn the_scripted_change_moves_the_occurrence_and_completes_a_task() {
        let mut mailbox = seeded();
        let since = mailbox.seq;
        let changed = mailbox.scripted_calendar_change();
        let calendar = mailbox.distinguished("calendar").unwrap().clone();
        let tasks = mailbox.distinguished("tasks").unwrap().clone();
        let (events, _, _) = mailbox.item_changes(&calendar, since, 100);
        let (todo, _, _) = mailbox.item_changes(&tasks, since, 100);
        assert!(matches!(events.as_slice(), [ItemChange::Update(Item::Event(e))] if e.id == changed[0]));
        assert!(matches!(todo.as_slice(), [ItemChange::Update(Item::Task(t))] if t.id == changed[1] && t.status == "Completed"));
    }
}
