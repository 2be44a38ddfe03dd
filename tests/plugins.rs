//! Plugin packages made from other components: the connector of the
//! released API 0.1.0 packs and verifies as 0.1.0; a core module (no
//! component), a package packed twice, and a component exporting an API
//! this host does not bind are refused.

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

/// A component that exports `helpdesk:connector/sync@0.3.0` (an empty
/// instance): an API no version of this host binds.
fn component_of_api_0_3() -> Vec<u8> {
    use wasm_encoder::{Component, ComponentExportKind, ComponentExportSection, ComponentInstanceSection};
    let mut component = Component::new();
    let mut instances = ComponentInstanceSection::new();
    instances.export_items(Vec::<(&str, ComponentExportKind, u32)>::new());
    component.section(&instances);
    let mut exports = ComponentExportSection::new();
    exports.export("helpdesk:connector/sync@0.3.0", ComponentExportKind::Instance, 0, None);
    component.section(&exports);
    component.finish()
}

#[test]
fn an_api_this_host_does_not_bind_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate(&dir.path().join("k.key"), "Tests").unwrap();
    let trust = TrustStore::at(dir.path());
    trust.add(&key.public).unwrap();
    let manifest = Manifest { id: "exchange-connector".into(), version: "9.0.0".into(), ..Default::default() };
    let newer = component_of_api_0_3();
    let refused = package::pack(&newer, &manifest, &key).unwrap_err();
    let message = format!("{refused:#}");
    assert!(message.contains("helpdesk:connector@0.3.0") && message.contains("0.1.x, 0.2.x"), "{message}");
    // Packed elsewhere (a newer host), signed by a trusted key: still refused.
    let packed = package::assemble(&newer, &Manifest { api: "0.3.0".into(), ..manifest }, &key).unwrap();
    let refused = package::verify(&packed, &trust, false).unwrap_err();
    let message = format!("{refused:#}");
    assert!(message.contains("helpdesk:connector@0.3.0") && message.contains("0.1.x, 0.2.x"), "{message}");
}
