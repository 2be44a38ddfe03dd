//! End to end: the built component in the harness, against the emulator,
//! into a real SQLite database; the user table is compared with the
//! emulator's data field by field.

use helpdesk_e2e::{by_external_id, full_sync, setup, truth};
use helpdesk_host::cli::emulator_config;
use helpdesk_host::emulator::data::Contact;
use helpdesk_host::runs::{Connection, RunError};
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sync_users_equal_the_emulator_field_by_field() {
    let s = setup(700, 5).await;
    let summary = full_sync(&s).await;
    let (imported, duplicates) = truth(&s.emulator.mailbox());

    assert_eq!(summary.counts.created as usize, imported.len());
    assert_eq!(summary.counts.skipped as usize, duplicates.len());
    assert_eq!(summary.counts.created + summary.counts.skipped, 700, "every readable contact is accounted for");
    assert_eq!((summary.counts.failed, summary.counts.updated, summary.counts.deactivated), (0, 0, 0));
    assert!(!duplicates.is_empty() && imported.iter().any(|c| c.emails.is_empty()));

    let skipped: HashSet<&str> = summary.skipped_reasons.iter().map(|r| r.contact.as_str()).collect();
    let expected: HashSet<&str> = duplicates.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(skipped, expected, "exactly the duplicate-email contacts are skipped");
    assert!(summary.skipped_reasons.iter().all(|r| r.reason.contains("duplicate email")));

    helpdesk_e2e::assert_users_match(&s.store, &s.emulator.mailbox());
    let users = by_external_id(s.store.users().unwrap());
    assert_eq!(users.len(), imported.len());
    // Ids that differ only in case are different contacts with different logins.
    let logins: HashSet<String> = users.values().map(|u| u.login.to_lowercase()).collect();
    assert_eq!(logins.len(), users.len());
    let folded: HashSet<String> = users.keys().map(|id| id.to_lowercase()).collect();
    assert!(folded.len() < users.len(), "the data has ids differing only in case");

    // Per folder counts add up, and the search folder imported nothing.
    let per_folder: u64 = summary.folders.iter().map(|f| f.counts.created + f.counts.skipped).sum();
    assert_eq!(per_folder, 700);
    assert!(summary.folders.iter().all(|f| !f.path.contains("AllContacts")));
    assert!(summary.requests > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_changes_nothing() {
    let s = setup(300, 9).await;
    let first = full_sync(&s).await;
    let before = s.store.users().unwrap();
    let second = full_sync(&s).await;
    assert_eq!(second.counts.created + second.counts.updated + second.counts.deactivated, 0);
    assert_eq!(second.counts.unchanged, first.counts.created);
    assert_eq!(second.counts.skipped, first.counts.skipped);
    assert_eq!(s.store.users().unwrap(), before, "not even a timestamp moved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_contact_deactivates_its_user_and_is_never_deleted() {
    let s = setup(120, 2).await;
    full_sync(&s).await;
    let (imported, _) = truth(&s.emulator.mailbox());
    let gone = imported[3].id.clone();
    s.emulator.mailbox_mut().remove(&gone).unwrap();
    let summary = full_sync(&s).await;
    assert_eq!(summary.counts.deactivated, 1);
    let users = by_external_id(s.store.users().unwrap());
    assert_eq!(users.len(), imported.len(), "nothing is deleted");
    assert!(!users[&gone].active);
    assert_eq!(users.values().filter(|u| !u.active).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_an_authentication_error_naming_the_endpoint_and_writes_nothing() {
    let s = setup(50, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = emulator_config(&s.emulator, &dir.path().join("x.db"));
    config.exchange.password = Some("not-the-password-7731".into());
    let connection = Connection::from_config(&config).unwrap();
    let runtime = Runtime::shared().unwrap();

    let check = connection.check(&runtime).await.unwrap_err();
    assert_eq!(check.kind, "authentication", "{check}");
    assert!(check.message.contains(&s.emulator.endpoint()), "{check}");
    assert!(!check.message.contains("7731"), "the password is never shown: {check}");
    // Exchange's default: the host signed in with NTLM, and says so.
    assert!(check.message.contains("refused the NTLM sign-in"), "{check}");

    let RunError { kind, message, summary } =
        connection.sync(&runtime, &s.store, SyncMode::Full, false).await.unwrap_err();
    assert_eq!(kind, "authentication");
    assert!(message.contains(&s.emulator.endpoint()), "{message}");
    assert_eq!(summary.unwrap().counts, Default::default());
    assert_eq!(s.store.user_count().unwrap(), 0);
    let run = &s.store.runs(1).unwrap()[0];
    assert_eq!(run.status, "failed");
    assert!(run.error.as_deref().unwrap().contains("authentication"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_an_ews_endpoint_and_unreachable_are_told_apart() {
    let s = setup(10, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::shared().unwrap();

    let mut config = emulator_config(&s.emulator, &dir.path().join("x.db"));
    config.exchange.endpoint = format!("http://{}/ecp/", s.emulator.addr);
    let error = Connection::from_config(&config).unwrap().check(&runtime).await.unwrap_err();
    assert_eq!(error.kind, "not-exchange", "{error}");
    assert!(error.message.contains("HTTP 404"), "{error}");

    // OWA's URL redirects as Exchange's front end does: a configuration
    // error naming where, at once, not throttling retried. (The bare host
    // is Autodiscover's: tests/ews_admin.rs.)
    for (path, to) in [("/owa/", "/owa/auth/logon.aspx"), ("/owa", "/owa/auth/logon.aspx")] {
        config.exchange.endpoint = format!("http://{}{path}", s.emulator.addr);
        let before = s.emulator.requests();
        let error = Connection::from_config(&config).unwrap().check(&runtime).await.unwrap_err();
        assert_eq!(error.kind, "configuration", "{error}");
        assert!(error.message.contains(&format!("redirects (HTTP 302) to {to}")) && error.message.contains("/EWS/Exchange.asmx"), "{error}");
        assert_eq!(s.emulator.requests() - before, 1, "not retried");
    }

    // A port nothing listens on: bind one, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    config.exchange.endpoint = format!("http://127.0.0.1:{port}/EWS/Exchange.asmx");
    let error = Connection::from_config(&config).unwrap().check(&runtime).await.unwrap_err();
    assert_eq!(error.kind, "unreachable", "{error}");
    assert!(error.message.contains(&config.exchange.endpoint), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_users_are_left_alone_and_helpdesk_users_are_adopted() {
    let s = setup(80, 4).await;
    let (imported, _) = truth(&s.emulator.mailbox());
    let with_email: Vec<&Contact> = imported.iter().filter(|c| !c.emails.is_empty()).collect();
    let (ldap, local) = (with_email[0], with_email[1]);
    s.store.add_user("ldap", "jdoe", Some(&ldap.emails[0].to_uppercase()), "From", "LDAP").unwrap();
    s.store.add_user("local", "helpdesk-made", Some(&local.emails[0]), "Made", "Here").unwrap();

    let summary = full_sync(&s).await;
    let users = s.store.users().unwrap();
    let ldap_user = users.iter().find(|u| u.source == "ldap").unwrap();
    assert_eq!((ldap_user.login.as_str(), ldap_user.firstname.as_str()), ("jdoe", "From"));
    let reason = summary.skipped_reasons.iter().find(|r| r.contact == ldap.id).unwrap();
    assert!(reason.reason.contains("LDAP"), "{}", reason.reason);

    let adopted = users.iter().find(|u| u.external_id.as_deref() == Some(local.id.as_str())).unwrap();
    assert_eq!((adopted.source.as_str(), adopted.firstname.as_str()), ("exchange", local.given_name.as_str()));
    assert_eq!(users.iter().filter(|u| u.email.as_deref().map(str::to_lowercase) == Some(local.emails[0].to_lowercase())).count(), 1);
    assert_eq!(summary.counts.updated, 1, "the adopted user counts as updated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_counts_what_a_real_run_does_and_writes_nothing() {
    let s = setup(200, 6).await;
    let runtime = Runtime::shared().unwrap();
    let dry = s.connection.sync(&runtime, &s.store, SyncMode::Full, true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(s.store.user_count().unwrap(), 0);
    let real = full_sync(&s).await;
    assert_eq!(dry.counts, real.counts);
    assert_eq!(dry.folders, real.folders);
}
