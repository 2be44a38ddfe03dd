//! Incremental sync: SyncFolderItems per folder, checkpoints stored with
//! their batches, removed contacts deactivated and returning ones
//! reactivated, stale sync states resynced one folder at a time.

use helpdesk_e2e::{address_books, assert_users_match, by_external_id, full_sync, setup, sync, truth};
use helpdesk_host::runtime::Runtime;
use helpdesk_host::runtime::types::SyncMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_sync_picks_up_exactly_the_changes() {
    let s = setup(600, 11).await;
    let full = full_sync(&s).await;
    let script = s.emulator.mailbox_mut().scripted_change(10);
    let incremental = sync(&s, SyncMode::Incremental).await;
    let c = incremental.counts;
    assert_eq!((c.created, c.updated, c.deactivated, c.failed), (10, 10, 10, 0), "{incremental:?}");
    assert!(incremental.requests < full.requests, "{} vs {}", incremental.requests, full.requests);
    assert_users_match(&s.store, &s.emulator.mailbox());
    let users = by_external_id(s.store.users().unwrap());
    assert!(script.removed.iter().all(|id| !users[id].active));
    assert!(script.changed.iter().all(|id| users[id].lastname.ends_with("-Neumann")));

    // Nothing changed since: nothing to do, and no contact is read again.
    let quiet = sync(&s, SyncMode::Incremental).await;
    assert_eq!((quiet.counts.created, quiet.counts.updated, quiet.counts.deactivated), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_requests_grow_with_changes_not_with_contacts() {
    let mut requests = Vec::new();
    for contacts in [300, 3000] {
        let s = setup(contacts, 12).await;
        full_sync(&s).await;
        s.emulator.mailbox_mut().scripted_change(10);
        requests.push(sync(&s, SyncMode::Incremental).await.requests);
    }
    // Ten times the contacts: at most one more request (a public folder
    // is listed, a page of ids at a time).
    assert!(requests[1] <= requests[0] + 1, "{requests:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_stored_with_their_batches_and_not_by_a_dry_run() {
    let s = setup(200, 13).await;
    let runtime = Runtime::shared().unwrap();
    s.connection.sync(&runtime, &s.store, SyncMode::Full, true).await.unwrap();
    assert!(s.store.checkpoints("exchange").unwrap().is_empty(), "a dry run stores no checkpoint");
    full_sync(&s).await;
    let checkpoints = s.store.checkpoints("exchange").unwrap();
    let mailbox_books: Vec<String> = {
        let mailbox = s.emulator.mailbox();
        address_books(&mailbox).into_iter().filter(|f| !f.public).map(|f| f.id.clone()).collect()
    };
    let mut stored: Vec<String> = checkpoints.iter().map(|(folder, _)| folder.clone()).collect();
    let mut expected = mailbox_books.clone();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected, "one checkpoint per mailbox address book, none for public folders");

    s.emulator.mailbox_mut().scripted_change(5);
    let dry = s.connection.sync(&runtime, &s.store, SyncMode::Incremental, true).await.unwrap();
    assert_eq!((dry.counts.created, dry.counts.updated, dry.counts.deactivated), (5, 5, 5));
    assert_eq!(s.store.checkpoints("exchange").unwrap(), checkpoints, "the dry run moved no checkpoint");
    let real = sync(&s, SyncMode::Incremental).await;
    assert_eq!(real.counts, dry.counts);
    assert_ne!(s.store.checkpoints("exchange").unwrap(), checkpoints);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_that_comes_back_reactivates_its_user() {
    let s = setup(150, 14).await;
    full_sync(&s).await;
    let (imported, _) = truth(&s.emulator.mailbox());
    let main = s.emulator.mailbox().distinguished("contacts").unwrap().id.clone();
    let contact = imported.iter().find(|c| c.folder_id == main && !c.emails.is_empty()).unwrap().clone();
    s.emulator.mailbox_mut().remove(&contact.id).unwrap();
    assert_eq!(sync(&s, SyncMode::Incremental).await.counts.deactivated, 1);
    assert!(!by_external_id(s.store.users().unwrap())[&contact.id].active);

    s.emulator.mailbox_mut().add(contact.clone());
    let back = sync(&s, SyncMode::Incremental).await;
    assert_eq!((back.counts.updated, back.counts.created), (1, 0), "the old user is reactivated, not a new one made");
    assert!(by_external_id(s.store.users().unwrap())[&contact.id].active);
    assert_users_match(&s.store, &s.emulator.mailbox());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_sync_state_resyncs_that_folder_only() {
    let s = setup(400, 15).await;
    full_sync(&s).await;
    let (stale, stale_path) = {
        let mailbox = s.emulator.mailbox();
        let folder = mailbox.subfolders(&mailbox.distinguished("contacts").unwrap().id, false).into_iter().find(|f| !f.hidden).unwrap();
        (folder.id.clone(), folder.name.clone())
    };
    s.store
        .lock()
        .execute("UPDATE checkpoints SET state = 'H4sIAAAAAAAEAO29B2AcSZYlJi9tynt' WHERE folder_id = ?1", [&stale])
        .unwrap();
    s.emulator.mailbox_mut().scripted_change(3);
    let summary = sync(&s, SyncMode::Incremental).await;
    assert_eq!((summary.counts.created, summary.counts.updated, summary.counts.deactivated), (3, 3, 3));
    assert!(summary.warnings.iter().any(|w| w.contains(&stale_path) && w.contains("ErrorInvalidSyncStateData")), "{:?}", summary.warnings);
    // The stale folder was listed in full; the other mailbox folders were not.
    let mailbox = s.emulator.mailbox();
    for folder in &summary.folders {
        let listed = folder.counts.unchanged + folder.counts.skipped;
        let in_folder = mailbox.contacts.iter().filter(|c| c.folder_id == folder.id && c.kind == "Contact").count() as u64;
        if folder.id == stale {
            assert_eq!(listed, in_folder, "{}", folder.path);
        } else if !mailbox.folder(&folder.id).unwrap().public {
            assert_eq!(listed, 0, "{} was not listed again", folder.path);
        }
    }
    drop(mailbox);
    assert_users_match(&s.store, &s.emulator.mailbox());
    assert_ne!(s.store.checkpoints("exchange").unwrap().iter().find(|(f, _)| *f == stale).unwrap().1, "H4sIAAAAAAAEAO29B2AcSZYlJi9tynt");
}
