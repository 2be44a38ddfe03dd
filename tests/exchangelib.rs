//! An independent client against the emulator: exchangelib 5.6.0 (from
//! PyPI, in a virtual environment this test makes) reads the folders and
//! contacts of the mailbox and the public folders, and finds exactly what
//! the plugin synced, names and emails included.

use helpdesk_e2e::{by_external_id, full_sync, setup};
use helpdesk_host::bench::peer::python_with_exchangelib;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A virtual environment with exchangelib, made once per target directory.
/// Without Python or PyPI the test is skipped, except in CI.
fn python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exchangelib-venv");
    match python_with_exchangelib(&venv) {
        Ok(python) => Some(python),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "{e:#}");
            eprintln!("skipped: {e:#}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchangelib_reads_what_the_plugin_synced() {
    let Some(python) = python() else { return };
    let s = setup(500, 31).await;
    let summary = full_sync(&s).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("exchangelib_read.py");
    let endpoint = s.emulator.endpoint();
    let (user, password) = (s.emulator.user().to_string(), s.emulator.password().to_string());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python).arg(script).args([endpoint.as_str(), user.as_str(), password.as_str()]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "exchangelib failed: {}", String::from_utf8_lossy(&output.stderr));
    let read: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(read["version"], "15.1.2507.6", "exchangelib read the version from ServerVersionInfo");

    // Each contact exchangelib read is a user of that folder with its name
    // and email, or a contact the plugin skipped (with the reason).
    let users = by_external_id(s.store.users().unwrap());
    let skipped: BTreeSet<&str> = summary.skipped_reasons.iter().map(|r| r.contact.as_str()).collect();
    let folders = read["folders"].as_object().unwrap();
    let public = folders.values().filter(|f| f["public"] == true).count();
    assert_eq!(folders.len() - public, 6, "Contacts and its five subfolders: {:?}", folders.keys());
    assert!(public >= 1, "exchangelib read the public contact folders too");
    let (mut total, mut compared) = (0, 0);
    for (id, folder) in folders {
        let contacts = folder["contacts"].as_array().unwrap_or_else(|| panic!("{}: {}", folder["name"], folder["error"]));
        for contact in contacts {
            let contact_id = contact["id"].as_str().unwrap();
            total += 1;
            let Some(user) = users.get(contact_id) else {
                assert!(skipped.contains(contact_id), "{contact_id} in {} is neither a user nor skipped", folder["name"]);
                continue;
            };
            compared += 1;
            assert_eq!(user.folder_id.as_deref(), Some(id.as_str()), "{contact_id}");
            assert_eq!(user.firstname, contact["given_name"].as_str().unwrap(), "{contact_id}");
            assert_eq!(user.lastname, contact["surname"].as_str().unwrap(), "{contact_id}");
            assert_eq!(user.email.as_deref(), contact["email"].as_str(), "{contact_id}");
        }
        let counted = summary.folders.iter().find(|f| &f.id == id).map(|f| f.counts.created + f.counts.skipped);
        assert_eq!(counted.unwrap_or(0), contacts.len() as u64, "folder {}", folder["name"]);
    }
    let synced: u64 = summary.folders.iter().map(|f| f.counts.created + f.counts.skipped).sum();
    assert_eq!(total, synced, "exchangelib read exactly the contacts the plugin synced, public ones included");
    assert_eq!(compared, users.len(), "every user was compared, field by field");
    assert!(total > 400);
}
