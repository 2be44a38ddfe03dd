//! Builds the Exchange connector component for `wasm32-wasip2` and hands
//! its path to the harness, as wasmtime's own test programs do. A separate
//! target directory keeps this nested cargo off the outer build's lock.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let plugin = root.join("plugin");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    // target/<profile>/build/<pkg>/out -> target/component
    let target_dir = std::env::var("HELPDESK_COMPONENT_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| out_dir.ancestors().nth(4).unwrap().join("component"));

    for path in ["src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", plugin.join(path).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&plugin)
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", "exchange-connector", "--target-dir"])
        .arg(&target_dir);
    // Flags meant for the host build must not leak into the wasm build.
    for var in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "RUSTC_WORKSPACE_WRAPPER", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"] {
        command.env_remove(var);
    }
    let status = command.status().expect("running cargo to build the component");
    assert!(status.success(), "building the Exchange connector component failed");

    let wasm = target_dir.join("wasm32-wasip2/release/exchange_connector.wasm");
    assert!(wasm.exists(), "{} is missing", wasm.display());
    println!("cargo:rustc-env=EXCHANGE_CONNECTOR_WASM={}", wasm.display());
}
