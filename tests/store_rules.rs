//! The user store's rules, end to end: a failure is no removal, the host
//! alone decides identity, blocked contacts are looked at again, folders
//! that go away, and the safety valve. Each compares the user table with
//! the emulator's truth, field by field.

use helpdesk_e2e::{assert_users_match, by_external_id, full_sync, setup, sync, truth};
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;
use helpdesk_host::store::UserRow;
use std::collections::BTreeMap;

/// The users, without the timestamps a rule may legitimately move.
fn table(rows: Vec<UserRow>) -> BTreeMap<String, UserRow> {
    rows.into_iter().map(|u| (u.login.clone(), u)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_that_fails_every_contact_deactivates_nobody_and_they_are_read_again() {
    let s = setup(200, 31).await;
    let first = full_sync(&s).await;
    assert!(first.counts.created > 150);
    let before = s.store.users().unwrap();

    // Every contact has a company name, and none is an email address.
    let broken = s.connection_with(|config| {
        config.mapping = [("company_name", "email"), ("given_name", "firstname"), ("surname", "lastname")]
            .into_iter()
            .map(|(a, f)| (a.to_string(), f.to_string()))
            .collect();
    });
    let runtime = Runtime::shared().unwrap();
    let failing = broken.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap();
    assert_eq!(failing.counts.deactivated, 0, "a failure is not a removal");
    assert_eq!(failing.counts.failed, first.counts.created + first.counts.skipped, "every readable contact failed");
    assert_eq!((failing.counts.created, failing.counts.updated), (0, 0));
    assert!(failing.failed_reasons.iter().all(|r| r.reason.contains("is not an email address")), "{:?}", failing.failed_reasons[0]);
    // Each failure names the contact: its user's email where it has a user.
    let users = by_external_id(before.clone());
    for reason in &failing.failed_reasons {
        if let Some(user) = users.get(&reason.contact) {
            assert_eq!(reason.email, user.email, "{reason:?}");
        }
    }
    assert!(failing.failed_reasons.iter().all(|r| r.reason.contains("(contact ")));
    assert_eq!(s.store.users().unwrap(), before, "every user is untouched, still active");
    assert_eq!(s.count("SELECT count(*) FROM retry_contacts") as u64, failing.counts.failed);

    // The next run with the good mapping, incremental, reads them again
    // although the folders' checkpoints moved on.
    let requests_before = s.emulator.stats().operations().get("GetItem").copied().unwrap_or(0);
    let next = sync(&s, SyncMode::Incremental).await;
    let read = s.emulator.stats().operations().get("GetItem").copied().unwrap_or(0) - requests_before;
    assert!(read > 0, "the failed contacts were fetched again");
    assert_eq!(next.counts.failed, 0);
    assert_eq!(next.counts.unchanged, first.counts.created, "read again, and equal to what is stored");
    assert_eq!(next.counts.skipped, first.counts.skipped);
    assert_eq!(next.counts.deactivated, 0);
    assert_eq!(s.count("SELECT count(*) FROM retry_contacts"), 0);
    assert_users_match(&s.store, &s.emulator.mailbox());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_user_keeps_its_login_and_a_local_user_with_the_same_email_is_adopted_once() {
    let s = setup(120, 32).await;
    let (imported, _) = truth(&s.emulator.mailbox());
    let with_email: Vec<_> = imported.iter().filter(|c| !c.emails.is_empty()).collect();
    let (taker, adoptee) = (with_email[0], with_email[1]);
    let taker_login = taker.emails[0].to_lowercase();
    // A helpdesk user whose login the first contact would propose, with
    // another email; and one with exactly the second contact's email.
    s.store.add_user("local", &taker_login, Some("someone.else@example.net"), "Some", "One").unwrap();
    s.store.add_user("local", "agent.smith", Some(&adoptee.emails[0]), "Agent", "Smith").unwrap();
    let local_before: Vec<UserRow> = s.store.users().unwrap();

    let summary = full_sync(&s).await;
    let skipped = summary.skipped_reasons.iter().find(|r| r.contact == taker.id).expect("the contact is skipped");
    assert!(skipped.reason.contains(&format!("the login {taker_login}")) && skipped.reason.contains("source local"), "{skipped:?}");
    assert_eq!(skipped.email.as_deref(), Some(taker.emails[0].as_str()), "the reason names the contact's email");
    let users = table(s.store.users().unwrap());
    assert_eq!(users[&taker_login], local_before[0], "login, email and source unchanged");

    // Adopted: login and email stay the helpdesk's, the names come from Exchange.
    let adopted = &users["agent.smith"];
    assert_eq!((adopted.source.as_str(), adopted.external_id.as_deref()), ("exchange", Some(adoptee.id.as_str())));
    assert_eq!(adopted.email.as_deref(), Some(adoptee.emails[0].as_str()));
    assert_eq!((adopted.firstname.as_str(), adopted.lastname.as_str()), (adoptee.given_name.as_str(), adoptee.surname.as_str()));

    // A later change of the contact's email never re-keys the adopted user.
    s.emulator.mailbox_mut().change(&adoptee.id, |c| c.emails[0] = "renamed@example.org".into());
    sync(&s, SyncMode::Incremental).await;
    let adopted = &table(s.store.users().unwrap())["agent.smith"];
    assert_eq!(adopted.email.as_deref(), Some(adoptee.emails[0].as_str()));
    assert!(adopted.active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_adoption_off_a_local_user_with_the_same_email_is_left_alone() {
    let s = setup(60, 33).await;
    let (imported, _) = truth(&s.emulator.mailbox());
    let contact = imported.iter().find(|c| !c.emails.is_empty()).unwrap();
    s.store.add_user("local", "agent.smith", Some(&contact.emails[0]), "Agent", "Smith").unwrap();
    let before = s.store.users().unwrap();
    let connection = s.connection_with(|config| config.store.adopt_local_users = false);
    let summary = connection.sync(&Runtime::shared().unwrap(), &s.store, SyncMode::Full, false).await.unwrap();
    let skipped = summary.skipped_reasons.iter().find(|r| r.contact == contact.id).expect("skipped");
    assert!(skipped.reason.contains("adopt_local_users = false"), "{skipped:?}");
    assert_eq!(table(s.store.users().unwrap())["agent.smith"], before[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowing_the_folders_deactivates_the_others_behind_the_safety_valve() {
    let s = setup(300, 34).await;
    full_sync(&s).await;
    let before = s.store.users().unwrap();
    let narrowed = |percent: u32| {
        s.connection_with(move |config| {
            config.exchange.folders = vec!["Contacts -> Customers".into()];
            config.sync.max_deactivate_percent = percent;
        })
    };
    let runtime = Runtime::shared().unwrap();
    // The others hold far more than 30 % of the users: the run stops first.
    let stopped = narrowed(30).sync(&runtime, &s.store, SyncMode::Incremental, false).await.unwrap_err();
    assert!(stopped.message.contains("max_deactivate_percent = 30") && stopped.message.contains("--force"), "{stopped}");
    assert_eq!(s.store.users().unwrap(), before, "nothing changed");

    let summary = narrowed(100).sync(&runtime, &s.store, SyncMode::Incremental, false).await.unwrap();
    let mailbox = s.emulator.mailbox();
    let customers = mailbox.subfolders(&mailbox.distinguished("contacts").unwrap().id, true)
        .into_iter()
        .find(|f| f.name == "Customers")
        .unwrap()
        .id
        .clone();
    let users = by_external_id(s.store.users().unwrap());
    let (kept, gone): (Vec<&UserRow>, Vec<&UserRow>) = users.values().partition(|u| u.folder_id.as_deref() == Some(customers.as_str()));
    assert!(!kept.is_empty() && !gone.is_empty());
    assert!(kept.iter().all(|u| u.active), "the chosen address book stays");
    assert!(gone.iter().all(|u| !u.active), "the others' users are deactivated");
    assert_eq!(summary.counts.deactivated as usize, gone.len());
    for folder in summary.folders.iter().filter(|f| f.id != customers) {
        assert!(summary.warnings.iter().any(|w| w.contains(&format!("'{}' is gone", folder.path))), "{:?}", summary.warnings);
    }
    assert_eq!(s.count(&format!("SELECT count(*) FROM checkpoints WHERE folder_id <> '{customers}'")), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_takes_over_once_the_contact_holding_the_email_is_gone() {
    let s = setup(400, 35).await;
    full_sync(&s).await;
    let (imported, duplicates) = truth(&s.emulator.mailbox());
    let waiting = duplicates.first().expect("the data has duplicate emails");
    let email = waiting.emails[0].to_lowercase();
    let holder = imported.iter().find(|c| c.emails.first().map(|e| e.to_lowercase()) == Some(email.clone())).unwrap();
    s.emulator.mailbox_mut().remove(&holder.id).unwrap();

    // The holder's user is deactivated; no later than the next run, with no
    // --full, the waiting contact takes that user over.
    sync(&s, SyncMode::Incremental).await;
    sync(&s, SyncMode::Incremental).await;
    let user = &table(s.store.users().unwrap())[&email];
    assert_eq!(user.external_id.as_deref(), Some(waiting.id.as_str()));
    assert!(user.active);
    assert_eq!((user.firstname.as_str(), user.lastname.as_str()), (waiting.given_name.as_str(), waiting.surname.as_str()));
    assert_users_match(&s.store, &s.emulator.mailbox());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ldap_user_added_later_takes_precedence_on_the_next_run() {
    let s = setup(100, 36).await;
    full_sync(&s).await;
    let (imported, _) = truth(&s.emulator.mailbox());
    let contact = imported.iter().find(|c| !c.emails.is_empty()).unwrap();
    s.store.add_user("ldap", "jdoe", Some(&contact.emails[0].to_uppercase()), "J", "Doe").unwrap();
    let summary = sync(&s, SyncMode::Incremental).await;
    let users = table(s.store.users().unwrap());
    assert!(!users[&contact.emails[0].to_lowercase()].active, "the Exchange duplicate is deactivated");
    let ldap = &users["jdoe"];
    assert_eq!((ldap.source.as_str(), ldap.firstname.as_str(), ldap.active), ("ldap", "J", true));
    let reason = summary.skipped_reasons.iter().find(|r| r.contact == contact.id).expect("reported");
    assert!(reason.reason.contains("LDAP"), "{reason:?}");
    assert_eq!(summary.counts.deactivated, 1);
    // And it stays that way.
    let again = full_sync(&s).await;
    assert_eq!((again.counts.deactivated, again.counts.created, again.counts.updated), (0, 0, 0));
    assert!(!table(s.store.users().unwrap())[&contact.emails[0].to_lowercase()].active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_deleted_in_exchange_deactivates_its_users_on_the_next_run() {
    let s = setup(300, 37).await;
    full_sync(&s).await;
    let customers = {
        let mut mailbox = s.emulator.mailbox_mut();
        let id = mailbox.folders.iter().find(|f| f.name == "Customers").unwrap().id.clone();
        mailbox.folders.retain(|f| f.id != id);
        id
    };
    let summary = sync(&s, SyncMode::Incremental).await;
    let users = by_external_id(s.store.users().unwrap());
    let gone: Vec<&UserRow> = users.values().filter(|u| u.folder_id.as_deref() == Some(customers.as_str())).collect();
    assert!(gone.len() > 10 && gone.iter().all(|u| !u.active), "{} users of the deleted folder", gone.len());
    assert_eq!(summary.counts.deactivated as usize, gone.len());
    let folder = summary.folders.iter().find(|f| f.id == customers).expect("reported per folder");
    assert_eq!((folder.path.as_str(), folder.counts.deactivated as usize), ("Contacts -> Customers", gone.len()));
    assert!(summary.warnings.iter().any(|w| w.contains("'Contacts -> Customers' is gone")), "{:?}", summary.warnings);
    assert_users_match(&s.store, &s.emulator.mailbox());
}
