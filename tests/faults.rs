//! Each fault the emulator can inject, alone: the sync retries what passes,
//! isolates what does not, and the user table still equals the truth, with
//! nothing lost and nothing twice.

use helpdesk_e2e::{Setup, assert_users_match, setup_with};
use helpdesk_host::emulator::EmulatorOptions;
use helpdesk_host::emulator::faults::ALL;
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;
use helpdesk_host::summary::Summary;
use std::collections::HashSet;
use std::time::Duration;

async fn faulty(fault: &str, seed: u64) -> Setup {
    let mut s = setup_with(EmulatorOptions { contacts: 400, seed, faults: Some(fault.into()), ..Default::default() }).await;
    // The slow fault answers after 3 s: wait less than that.
    s.connection.set_first_byte_timeout(Duration::from_secs(2));
    s
}

async fn sync(s: &Setup, mode: SyncMode) -> Summary {
    s.connection.sync(&Runtime::shared().unwrap(), &s.store, mode, false).await.unwrap_or_else(|e| panic!("{e}"))
}

/// No login and no external id twice, and the table equals the truth.
fn converged(s: &Setup) {
    let users = s.store.users().unwrap();
    let logins: HashSet<String> = users.iter().map(|u| u.login.to_lowercase()).collect();
    let ids: HashSet<&Option<String>> = users.iter().map(|u| &u.external_id).collect();
    assert_eq!((logins.len(), ids.len()), (users.len(), users.len()), "no duplicates");
    assert_users_match(&s.store, &s.emulator.mailbox());
}

/// Full sync, a change, an incremental sync: every fault fires in one of
/// them (planned within the first requests), and each ends right.
async fn run_through(fault: &str) -> (Summary, Summary) {
    let s = faulty(fault, 17).await;
    let full = sync(&s, SyncMode::Full).await;
    s.emulator.mailbox_mut().scripted_change(5);
    let incremental = sync(&s, SyncMode::Incremental).await;
    assert!(s.emulator.pending_faults().is_empty(), "{fault} fired");
    converged(&s);
    let c = incremental.counts;
    assert_eq!((c.created, c.updated, c.deactivated), (5, 5, 5), "{fault}: {incremental:?}");
    (full, incremental)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_are_retried_and_lose_nothing() {
    for fault in ["busy-fault", "busy-message", "http-503", "http-429", "reset", "slow", "unauthorized", "truncated", "oversized"] {
        let (full, _) = run_through(fault).await;
        assert_eq!(full.counts.failed, 0, "{fault}: {:?}", full.failed_reasons);
        assert_eq!(full.counts.created + full.counts.skipped, 400, "{fault}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_sync_state_is_started_over() {
    let (full, _) = run_through("invalid-sync-state").await;
    assert_eq!(full.counts.failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_deleted_between_listing_and_reading_is_simply_gone() {
    let (full, _) = run_through("vanished-item").await;
    assert_eq!((full.counts.failed, full.counts.created + full.counts.skipped), (0, 400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_broken_item_fails_alone_and_the_rest_goes_on() {
    let (full, _) = run_through("broken-item").await;
    assert_eq!(full.counts.failed, 1, "{:?}", full.failed_reasons);
    assert_eq!(full.failed_reasons[0].contact, helpdesk_host::emulator::data::BROKEN_ITEM_ID);
    assert!(full.failed_reasons[0].reason.contains("cannot read"), "{}", full.failed_reasons[0].reason);
    assert_eq!(full.counts.created + full.counts.skipped, 400, "every other contact was read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_characters_are_dropped_from_names() {
    let (full, _) = run_through("bad-chars").await;
    assert_eq!(full.counts.failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_faults_at_once_over_graph_end_right_too() {
    let mut s = setup_with(EmulatorOptions { contacts: 300, seed: 19, faults: Some("all".into()), ..Default::default() }).await;
    let config = helpdesk_host::cli::emulator_config_for(&s.emulator, "graph.db".as_ref(), helpdesk_host::cli::Mode::Graph);
    s.connection = helpdesk_host::runs::Connection::from_config(&config).unwrap();
    s.connection.set_first_byte_timeout(Duration::from_secs(2));
    sync(&s, SyncMode::Full).await;
    s.emulator.mailbox_mut().scripted_change(4);
    let incremental = sync(&s, SyncMode::Incremental).await;
    let counts = (incremental.counts.created, incremental.counts.updated, incremental.counts.deactivated);
    assert_eq!(counts, (4, 4, 4), "{:?} {:?} {:?}", incremental.folders, incremental.warnings, incremental.failed_reasons);
    converged(&s);
    // Every planned fault fired, except those only EWS has (a SOAP fault,
    // a response message, GetItem after a listing): Graph has no such step.
    use helpdesk_host::emulator::faults::Fault;
    let ews_only = [Fault::BusyFault, Fault::BusyMessage, Fault::VanishedItem];
    let pending = s.emulator.pending_faults();
    assert!(pending.iter().all(|f| ews_only.contains(f)), "faults that never fired over Graph: {pending:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_page_with_neither_link_ends_nothing_and_deactivates_nobody() {
    let mut s = setup_with(EmulatorOptions { contacts: 300, seed: 20, faults: Some("unterminated-page".into()), ..Default::default() }).await;
    let config = helpdesk_host::cli::emulator_config_for(&s.emulator, &s.db, helpdesk_host::cli::Mode::Graph);
    s.connection = helpdesk_host::runs::Connection::from_config(&config).unwrap();
    sync(&s, SyncMode::Full).await;
    let before = s.store.users().unwrap();
    // Removals everywhere; the page that would carry some of them has no link.
    let script = s.emulator.mailbox_mut().scripted_changes(0, 0, 30);
    let broken = sync(&s, SyncMode::Incremental).await;
    assert!(s.emulator.pending_faults().is_empty(), "the fault fired");
    let warning = broken.warnings.iter().find(|w| w.contains("neither @odata.nextLink nor @odata.deltaLink"));
    let warning = warning.unwrap_or_else(|| panic!("{:?}", broken.warnings));
    let folder = broken.folders.iter().find(|f| warning.contains(&format!("'{}'", f.path)));
    // That folder's users are as they were: none deactivated, its link kept.
    let after = helpdesk_e2e::by_external_id(s.store.users().unwrap());
    let still: Vec<&String> = script.removed.iter().filter(|id| after.get(*id).is_some_and(|u| u.active)).collect();
    assert!(!still.is_empty(), "removals the unterminated page held are not applied yet");
    assert!(broken.counts.deactivated < 30, "{:?}", folder);
    assert_eq!(before.len(), after.len());
    // The next run reads that folder's changes again, and ends right.
    sync(&s, SyncMode::Incremental).await;
    converged(&s);
}

#[test]
fn every_fault_kind_is_tested() {
    // The sign-in faults are tested with the rest of NTLM, the mail's with
    // the documents.
    let source = [include_str!("faults.rs"), include_str!("ntlm.rs"), include_str!("documents.rs")].concat();
    for (_, name) in ALL {
        assert!(source.contains(&format!("\"{name}\"")), "{name} has a test");
    }
}
