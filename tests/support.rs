//! Shared helpers of the end-to-end tests.

use std::path::PathBuf;

/// `../shared/fixtures/ews` beside the checkout. Tests that read fixtures
/// skip when it is absent, except in CI, where it must be there.
pub fn fixtures() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/ews");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(std::env::var_os("CI").is_none(), "{} is missing; CI runs with ../shared beside the checkout", dir.display());
    eprintln!("skipped: {} not found", dir.display());
    None
}

pub fn fixture(name: &str) -> Option<Vec<u8>> {
    let path = fixtures()?.join(name);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())))
}
