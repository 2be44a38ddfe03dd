//! Builds the test components: misbehaving ones for the sandbox tests, and
//! a connector of the released API 0.1.0.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("components");
    println!("cargo:rerun-if-changed={}", dir.parent().unwrap().parent().unwrap().join("wit").display());
    for (package, var) in [("misbehaving", "MISBEHAVING_WASM"), ("reads-files", "READS_FILES_WASM"), ("contacts-v0-1", "CONTACTS_V0_1_WASM")] {
        let wasm = build_component::build(&dir.join(package), package);
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}
