//! Compiles a workspace crate to a `wasm32-wasip2` component from a build
//! script, as wasmtime's own test programs are built. A separate target
//! directory keeps the nested cargo off the outer build's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Build `package` (whose sources are in `dir`) in release mode and return
/// the component's path; cargo reruns the build script when they change.
pub fn build(dir: &Path, package: &str) -> PathBuf {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("run from a build script"));
    // target/<profile>/build/<pkg>/out -> target/component
    let target_dir = std::env::var("HELPDESK_COMPONENT_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| out_dir.ancestors().nth(4).expect("a cargo OUT_DIR").join("component"));
    for path in ["src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", dir.join(path).display());
    }
    // The WIT the crate binds to (its own build script, rerun-on-wit.rs,
    // rebuilds it when that changes).
    if let Some(wit) = dir.ancestors().map(|a| a.join("wit")).find(|w| w.is_dir()) {
        println!("cargo:rerun-if-changed={}", wit.display());
    }
    // Files the crate includes from beside it (the test components' stubs).
    if let Some(stubs) = dir.parent().map(|p| p.join("stubs.rs")).filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", stubs.display());
    }
    ensure_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir)
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", package, "--target-dir"])
        .arg(&target_dir);
    // Flags meant for the host build must not leak into the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(var);
    }
    let status = command.status().expect("running cargo to build a component");
    assert!(status.success(), "building the component {package} failed");
    let wasm = target_dir.join("wasm32-wasip2/release").join(format!("{}.wasm", package.replace('-', "_")));
    assert!(wasm.exists(), "{} is missing", wasm.display());
    wasm
}

/// rustup installs the targets rust-toolchain.toml lists only when it
/// installs the toolchain; a machine that already had the toolchain lacks
/// the wasm target, so add it here rather than fail on a missing `core`.
fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc).args(["--print", "sysroot"]).output().ok().filter(|o| o.status.success());
    let Some(sysroot) = sysroot.map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())) else { return };
    if sysroot.join("lib/rustlib/wasm32-wasip2").exists() {
        return;
    }
    let added = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status();
    if !added.is_ok_and(|s| s.success()) {
        println!("cargo:warning=the wasm32-wasip2 target is missing and `rustup target add wasm32-wasip2` failed");
    }
}
