//! An independent client against the emulator: exchangelib 5.6.0 (from
//! PyPI, in a virtual environment this test makes) reads the folders and
//! contacts, and finds exactly what the plugin synced.

use helpdesk_e2e::{full_sync, setup};
use helpdesk_host::bench::peer::python_with_exchangelib;
use std::collections::{BTreeMap, BTreeSet};
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

    // What the plugin made of each folder: its users, and the contacts it skipped.
    let mut synced: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for user in s.store.users().unwrap() {
        synced.entry(user.folder_id.unwrap()).or_default().insert(user.external_id.unwrap());
    }
    for reason in &summary.skipped_reasons {
        let folder = summary.folders.iter().find(|f| f.path == reason.folder).unwrap();
        synced.entry(folder.id.clone()).or_default().insert(reason.contact.clone());
    }

    let folders = read["folders"].as_object().unwrap();
    assert_eq!(folders.len(), 6, "Contacts and its five subfolders: {:?}", folders.keys());
    let mut total = 0;
    for (id, folder) in folders {
        let ids: BTreeSet<String> = folder["contacts"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();
        assert_eq!(ids, synced.get(id).cloned().unwrap_or_default(), "folder {}", folder["name"]);
        let counted = summary.folders.iter().find(|f| &f.id == id).map(|f| f.counts.created + f.counts.skipped);
        assert_eq!(counted.unwrap_or(0), ids.len() as u64, "folder {}", folder["name"]);
        total += ids.len() as u64;
    }
    let mailbox_total: u64 = summary
        .folders
        .iter()
        .filter(|f| !f.path.starts_with("Public Folders"))
        .map(|f| f.counts.created + f.counts.skipped)
        .sum();
    assert_eq!(total, mailbox_total);
    assert!(total > 400);
}
