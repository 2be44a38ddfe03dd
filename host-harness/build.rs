//! Builds the Exchange connector component and hands its path to the
//! harness, which embeds it.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).parent().unwrap().to_path_buf();
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    // The workspace's profiles and the wasm target's flags.
    println!("cargo:rerun-if-changed={}", root.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", root.join(".cargo/config.toml").display());
    let wasm = build_component::build(&root.join("plugin"), "exchange-connector");
    println!("cargo:rustc-env=EXCHANGE_CONNECTOR_WASM={}", wasm.display());
}
