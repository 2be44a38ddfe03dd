//! The marketplace end to end, against Debian's docker-registry on a
//! loopback port (started here with a configuration of its own): keygen,
//! pack and publish 0.1.0, 0.2.0 and a 0.3.0 that asks for a new network
//! origin; install 0.1.0 with its grant and sync the emulator's mailbox
//! through it; upgrade to 0.2.0 (an unchanged incremental sync afterwards
//! makes one request per folder: checkpoints kept); 0.3.0 without a grant
//! refused with 0.2.0 still active; roll back; install from the file with
//! the registry stopped; remove. An in-process stand-in serves the one
//! thing a real registry cannot: a blob that does not match its digest.
//! And a package installed from its file, run within its grant.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

struct Registry {
    child: Child,
    url: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// docker-registry on loopback, its storage in `dir`; ready when `/v2/` answers.
fn registry(dir: &Path) -> Registry {
    let port = free_port();
    let config = dir.join("registry.yml");
    let data = dir.join("registry-data");
    std::fs::write(&config, format!("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", data.display())).unwrap();
    let child = Command::new("docker-registry")
        .args(["serve", config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("docker-registry (Debian's package; .ci/run installs it): {e}"));
    let registry = Registry { child, url: format!("http://127.0.0.1:{port}") };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return registry;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("docker-registry did not start on port {port}");
}

/// The host with its data directory `home`, and its compiled-code cache
/// beside it (`home`'s sibling `cache`).
fn host(home: &Path, args: &[&str]) -> (bool, Value, String) {
    let cache = home.with_file_name("cache");
    let output = Command::new(env!("CARGO_BIN_EXE_helpdesk-host")).args(args).env("HELPDESK_HOST_HOME", home).env("HELPDESK_HOST_CACHE", &cache).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let document = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (output.status.success(), document, String::from_utf8(output.stderr).unwrap())
}

/// A configuration in `dir` that syncs the emulator's mailbox through the
/// installed connector, into `dir/helpdesk.db`.
fn plugin_config(emulator: &helpdesk_host::emulator::Emulator, dir: &Path) -> PathBuf {
    let config = dir.join("helpdesk.toml");
    let text = format!(
        "[exchange]\nendpoint = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n[store]\ndatabase = \"{}\"\n[plugin]\nid = \"exchange-connector\"\n",
        emulator.endpoint(),
        emulator.user(),
        emulator.password(),
        dir.join("helpdesk.db").display()
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// The connector's manifest at another version, with more network.
fn manifest(dir: &Path, version: &str, more_network: &[&str]) -> PathBuf {
    let base = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin/plugin.toml")).unwrap();
    let mut manifest: toml::Table = toml::from_str(&base).unwrap();
    manifest.insert("version".into(), version.into());
    let network = manifest.get_mut("network").unwrap().as_array_mut().unwrap();
    network.extend(more_network.iter().map(|n| toml::Value::from(*n)));
    let path = dir.join(format!("plugin-{version}.toml"));
    std::fs::write(&path, toml::to_string(&manifest).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_pack_publish_install_sync_upgrade_roll_back_and_remove() {
    use helpdesk_host::emulator::{Emulator, EmulatorOptions};
    let emulator = Emulator::start(EmulatorOptions { contacts: 60, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let registry = registry(dir.path());
    let url = registry.url.clone();
    let run = |args: &[&str]| host(&home, args);
    assert!(run(&["plugin", "keygen", "-o", &at("team.key"), "--name", "Helpdesk team", "--json"]).0);
    assert!(run(&["plugin", "trust", "add", &at("team.key.pub"), "--json"]).0);
    for (version, more) in [("0.1.0", &[][..]), ("0.2.0", &[][..]), ("0.3.0", &["https://telemetry.example.net"][..])] {
        let manifest = manifest(dir.path(), version, more);
        let file = at(&format!("connector-{version}.wasm"));
        let (ok, _, stderr) = run(&["plugin", "pack", "--manifest", manifest.to_str().unwrap(), "--key", &at("team.key"), "-o", &file, "--json"]);
        assert!(ok, "{stderr}");
        let (ok, published, stderr) = run(&["plugin", "publish", &file, "--registry", &url, "--json"]);
        assert!(ok && published["version"] == version, "{published} {stderr}");
    }
    let (ok, again, _) = run(&["plugin", "publish", &at("connector-0.2.0.wasm"), "--registry", &url, "--json"]);
    assert!(!ok && again["error"]["message"].as_str().unwrap().contains("never replaced"), "{again}");
    let (_, found, _) = run(&["plugin", "search", "exchange-connector", "--registry", &url, "--json"]);
    assert_eq!(found[0]["versions"], serde_json::json!(["0.1.0", "0.2.0", "0.3.0"]));

    let (ok, installed, stderr) = run(&["plugin", "install", "exchange-connector@0.1.0", "--registry", &url, "--yes", "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(installed["active"], "0.1.0");
    let config = plugin_config(&emulator, dir.path());
    let sync = |full: bool| {
        let mut args = vec!["sync", "--config", config.to_str().unwrap(), "--json"];
        if full {
            args.push("--full");
        }
        let (ok, summary, stderr) = run(&args);
        assert!(ok, "{stderr}");
        summary
    };
    let first = sync(true);
    assert_eq!(first["created"].as_u64().unwrap() + first["skipped"].as_u64().unwrap(), 60, "{first}");
    let folders = first["folders"].as_array().unwrap().len() as u64;

    let (_, updates, _) = run(&["plugin", "list", "--updates", "--registry", &url, "--json"]);
    assert_eq!(updates[0]["update"], "0.3.0", "{updates}");
    // The new version must accept the configurations that run the plugin:
    // one it cannot sign in with stops the upgrade, 0.1.0 stays active.
    let wrong = dir.path().join("wrong-password.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(&format!("password = \"{}\"", emulator.password()), "password = \"not-it\"");
    std::fs::write(&wrong, text).unwrap();
    let (ok, refused, _) = run(&["plugin", "upgrade", "exchange-connector", "--to", "0.2.0", "--registry", &url, "--config", wrong.to_str().unwrap(), "--json"]);
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(!ok && message.contains("does not accept the configuration") && message.contains("wrong-password.toml") && message.contains("0.1.0 stays active"), "{refused}");
    assert!(message.contains("authentication"), "why, in the plugin's words: {message}");
    assert_eq!(run(&["plugin", "list", "--json"]).1[0]["active"], "0.1.0");
    // The configuration the syncs ran with is checked without being named.
    let (ok, upgraded, stderr) = run(&["plugin", "upgrade", "exchange-connector", "--to", "0.2.0", "--registry", &url, "--json"]);
    assert!(ok && upgraded["active"] == "0.2.0" && upgraded["previous"] == "0.1.0", "{upgraded} {stderr}");
    assert_eq!(upgraded["checked"], serde_json::json!([config]), "{upgraded}");
    // The checkpoints are the plugin id's: nothing is listed again (a full
    // listing would find the 60 unchanged), one SyncFolderItems a folder
    // beside the folder listing and the public folders' routing.
    let after = sync(false);
    assert_eq!((after["created"].as_u64(), after["updated"].as_u64(), after["unchanged"].as_u64()), (Some(0), Some(0), Some(0)), "{after}");
    assert!(after["requests"].as_u64().unwrap() <= folders + 8 && after["requests"].as_u64() < first["requests"].as_u64(), "{after}");

    let (ok, refused, _) = run(&["plugin", "upgrade", "exchange-connector", "--registry", &url, "--json"]);
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(!ok && message.contains("https://telemetry.example.net") && message.contains("0.2.0 stays active"), "{refused}");
    assert_eq!(run(&["plugin", "list", "--json"]).1[0]["active"], "0.2.0");
    let (ok, rolled_back, _) = run(&["plugin", "upgrade", "exchange-connector", "--to", "0.1.0", "--json"]);
    assert!(ok && rolled_back["active"] == "0.1.0", "a rollback needs no registry: {rolled_back}");
    assert_eq!(sync(false)["created"], 0);

    // Removed with --purge: the database of the configuration that ran it
    // forgets its checkpoints; the users stay.
    let db = dir.path().join("helpdesk.db");
    let before = helpdesk_host::store::Store::open(&db).unwrap();
    let (users, checkpoints) = (before.users().unwrap(), before.checkpoints(helpdesk_host::runs::SOURCE).unwrap().len() as u64);
    drop(before);
    assert!(checkpoints > 0);
    let (ok, removed, stderr) = run(&["plugin", "remove", "exchange-connector", "--purge", "--json"]);
    assert!(ok && removed["purged"][0]["database"] == db.to_str().unwrap(), "{removed} {stderr}");
    assert_eq!(removed["purged"][0]["checkpoints"].as_u64(), Some(checkpoints), "{removed}");
    let store = helpdesk_host::store::Store::open(&db).unwrap();
    assert!(store.checkpoints(helpdesk_host::runs::SOURCE).unwrap().is_empty());
    assert_eq!(store.users().unwrap(), users);

    // Offline: the registry stopped, the file installs.
    drop(registry);
    let (ok, _, stderr) = run(&["plugin", "install", &at("connector-0.2.0.wasm"), "--yes", "--json"]);
    assert!(ok, "{stderr}");
    assert!(run(&["plugin", "remove", "exchange-connector", "--json"]).0);
    assert_eq!(run(&["plugin", "list", "--json"]).1, serde_json::json!([]));

    // A blob that does not match its digest: refused, nothing installed.
    let bad = bad_registry(std::fs::read(at("connector-0.2.0.wasm")).unwrap());
    let (ok, refused, _) = run(&["plugin", "install", "exchange-connector@0.2.0", "--registry", &bad, "--yes", "--json"]);
    assert!(!ok && refused["error"]["message"].as_str().unwrap().to_lowercase().contains("digest"), "{refused}");
    assert_eq!(run(&["plugin", "list", "--json"]).1, serde_json::json!([]));
}

/// A registry stand-in whose manifest names the package's digest and
/// whose blob is the package with one byte changed.
fn bad_registry(package: Vec<u8>) -> String {
    use sha2::{Digest, Sha256};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = br#"{"architecture":"wasm","os":"wasip2"}"#.to_vec();
    let digest = |b: &[u8]| format!("sha256:{}", hex(&Sha256::digest(b)));
    let (layer_digest, config_digest) = (digest(&package), digest(&config));
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.wasm.config.v0+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/wasm", "digest": layer_digest, "size": package.len() }],
    })
    .to_string();
    let mut tampered = package;
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..n]).lines().next().unwrap_or_default().to_string();
            let path = line.split(' ').nth(1).unwrap_or_default();
            let (kind, body): (&str, Vec<u8>) = if path.contains("/manifests/") {
                ("application/vnd.oci.image.manifest.v1+json", manifest.clone().into_bytes())
            } else if path.ends_with(&config_digest) {
                ("application/octet-stream", config.clone())
            } else if path.contains("/blobs/") {
                ("application/octet-stream", tampered.clone())
            } else {
                ("application/json", b"{}".to_vec())
            };
            let head = format!("HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    url
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A signed package installed from its file (offline): the network it asks
/// for granted, `[plugin] id` runs it, and a sync through it stores what
/// the built-in connector would; a grant that leaves out the server stops
/// the run before it starts; a damaged package installs nothing; remove
/// takes it away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_plugin_syncs_within_its_grant() {
    use helpdesk_host::emulator::{Emulator, EmulatorOptions};
    let emulator = Emulator::start(EmulatorOptions { contacts: 40, ..Default::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run = |args: &[&str]| host(&home, args);
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugin/plugin.toml");
    run(&["plugin", "keygen", "-o", &at("team.key"), "--json"]);
    run(&["plugin", "trust", "add", &at("team.key.pub"), "--json"]);
    run(&["plugin", "pack", "--manifest", manifest, "--key", &at("team.key"), "-o", &at("connector.wasm"), "--json"]);
    let mut damaged = std::fs::read(at("connector.wasm")).unwrap();
    let last = damaged.len() - 70;
    damaged[last] ^= 0xff;
    std::fs::write(at("damaged.wasm"), &damaged).unwrap();
    let (ok, refused, _) = run(&["plugin", "install", &at("damaged.wasm"), "--yes", "--json"]);
    assert!(!ok && refused["error"]["message"].as_str().unwrap().contains("refused"), "{refused}");
    assert_eq!(run(&["plugin", "list", "--json"]).1, serde_json::json!([]), "nothing installed");
    let (ok, unasked, _) = run(&["plugin", "install", &at("connector.wasm"), "--json"]);
    assert!(!ok && unasked["error"]["message"].as_str().unwrap().contains("--yes"), "no grant, no install: {unasked}");

    // Granted HTTPS only: the emulator's plain HTTP on loopback is not in it.
    let (ok, installed, stderr) = run(&["plugin", "install", &at("connector.wasm"), "--grant", "https://*", "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!((installed["id"].as_str(), installed["active"].as_str()), (Some("exchange-connector"), Some("0.2.0")), "{installed}");
    assert!(stderr.contains("network     http://127.0.0.1"), "the capability table: {stderr}");
    let config = plugin_config(&emulator, dir.path());
    let (ok, refused, _) = run(&["sync", "--config", config.to_str().unwrap(), "--json"]);
    assert!(!ok && refused["error"]["message"].as_str().unwrap().contains("was not granted it"), "{refused}");
    assert_eq!(emulator.requests(), 0, "the run stopped before it reached the server");

    run(&["plugin", "remove", "exchange-connector", "--json"]);
    let (ok, _, stderr) = run(&["plugin", "install", &at("connector.wasm"), "--yes", "--json"]);
    assert!(ok, "{stderr}");
    let (ok, summary, stderr) = run(&["sync", "--config", config.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    assert_eq!(summary["created"].as_u64().unwrap() + summary["skipped"].as_u64().unwrap(), 40, "{summary}");
    // Compiled once into a cache that is the user's alone.
    let cache = dir.path().join("cache");
    let compiled = || std::fs::read_dir(&cache).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cwasm")).count();
    assert_eq!(compiled(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o700);
        // Someone else's cache is never loaded from (as root, the test can
        // hand it to another user): the run compiles, and writes nothing there.
        if std::fs::metadata(dir.path()).unwrap().uid() == 0 {
            for entry in std::fs::read_dir(&cache).unwrap() {
                std::fs::remove_file(entry.unwrap().path()).unwrap();
            }
            std::os::unix::fs::chown(&cache, Some(65534), Some(65534)).unwrap();
            let (ok, _, stderr) = run(&["sync", "--config", config.to_str().unwrap(), "--json"]);
            assert!(ok, "{stderr}");
            assert_eq!(compiled(), 0, "nothing compiled into someone else's directory");
            std::os::unix::fs::chown(&cache, Some(0), Some(0)).unwrap();
        }
    }
    let (ok, removed, _) = run(&["plugin", "remove", "exchange-connector", "--json"]);
    assert!(ok && removed["removed"] == "exchange-connector");
    assert_eq!(run(&["plugin", "list", "--json"]).1, serde_json::json!([]));
}
