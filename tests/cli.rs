//! The `helpdesk-host` binary as scripts use it: the demo's JSON shape, the
//! second run over the same database, `users --json`, and errors as JSON.
//! (Built as a test of the helpdesk-host package to reach its binary.)

use serde_json::Value;
use std::process::Command;

fn host(args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_helpdesk-host")).args(args).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let document = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {stdout}\n{stderr}"));
    (output.status.success(), document, stderr)
}

#[test]
fn demo_json_twice_then_users() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let (ok, first, stderr) = host(&["demo", "--contacts", "400", "--seed", "3", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(first["check"]["product"], "Exchange Server 2016");
    let paths: Vec<&str> = first["folders"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["Contacts", "Contacts -> Suppliers", "Contacts -> Suppliers -> Europe", "Contacts -> Customers"]);
    let full = &first["full"];
    for key in ["created", "updated", "unchanged", "skipped", "failed", "deactivated", "requests", "elapsed_ms"] {
        assert!(full[key].is_u64(), "full.{key} in {full}");
    }
    assert_eq!(full["created"].as_u64().unwrap() + full["skipped"].as_u64().unwrap(), 400);
    assert_eq!(full["failed"], 0);
    let reasons = full["skipped_reasons"].as_array().unwrap();
    assert_eq!(reasons.len() as u64, full["skipped"].as_u64().unwrap());
    assert!(reasons.iter().all(|r| r["reason"].as_str().unwrap().contains("duplicate email")));
    assert!(full["folders"].as_array().unwrap().iter().all(|f| f["path"].is_string() && f["created"].is_u64()));

    let (ok, second, stderr) = host(&["demo", "--contacts", "400", "--seed", "3", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(second["full"]["created"], 0);
    assert_eq!(second["full"]["updated"], 0);
    assert_eq!(second["full"]["unchanged"], full["created"]);

    let (ok, users, stderr) = host(&["users", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    let users = users.as_array().unwrap();
    assert_eq!(users.len() as u64, full["created"].as_u64().unwrap());
    for key in ["login", "email", "firstname", "lastname", "active", "source"] {
        assert!(users.iter().all(|u| u.get(key).is_some()), "every user has {key}");
    }
}

#[test]
fn a_configuration_error_is_one_json_document_and_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("helpdesk.toml");
    std::fs::write(
        &config,
        "[exchange]\nendpoint = \"http://127.0.0.1:9/EWS/Exchange.asmx\"\nusername = \"u\"\npassword_env = \"HELPDESK_TEST_UNSET_PASSWORD\"\n",
    )
    .unwrap();
    let (ok, document, stderr) = host(&["check", "--config", config.to_str().unwrap(), "--json"]);
    assert!(!ok);
    let message = document["error"]["message"].as_str().unwrap();
    assert!(message.contains("HELPDESK_TEST_UNSET_PASSWORD"), "{message}");
    assert!(stderr.contains("error:"));
}
