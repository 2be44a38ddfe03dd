//! Plugin packages made from other components: the connector of the
//! released API 0.1.0 packs and verifies as 0.1.0; a core module (no
//! component) and a package packed twice are refused.

use helpdesk_host::plugins::keys::SecretKey;
use helpdesk_host::plugins::package::{self, Manifest};
use helpdesk_host::plugins::trust::TrustStore;

#[test]
fn a_connector_of_api_0_1_packs_as_0_1_and_other_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate(&dir.path().join("k.key"), "Tests").unwrap();
    let trust = TrustStore::at(dir.path());
    trust.add(&key.public).unwrap();
    let manifest = Manifest { id: "exchange-connector".into(), version: "0.1.0".into(), ..Default::default() };
    let old = std::fs::read(env!("CONTACTS_V0_1_WASM")).unwrap();
    let packed = package::pack(&old, &manifest, &key).unwrap();
    let verified = package::verify(&packed, &trust, false).unwrap();
    assert_eq!((verified.manifest.api.as_str(), verified.key.map(|k| k.0)), ("0.1.0", Some(key.public.id())));

    let twice = package::pack(&packed, &manifest, &key).unwrap_err();
    assert!(format!("{twice:#}").contains("a package already"), "{twice:#}");
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let refused = package::pack(&core_module, &manifest, &key).unwrap_err();
    assert!(format!("{refused:#}").contains("not a WebAssembly component"), "{refused:#}");
    let unpacked = package::verify(&old, &trust, true).unwrap_err();
    assert!(format!("{unpacked:#}").contains("no manifest"), "{unpacked:#}");
}
