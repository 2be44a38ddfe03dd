//! The build script of the components: wit-bindgen reads the WIT at
//! compile time without telling cargo, so a changed WIT would leave a
//! stale component; this tells cargo to build again when it changes.

fn main() {
    let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"));
    if let Some(wit) = manifest.ancestors().map(|a| a.join("wit")).find(|w| w.is_dir()) {
        println!("cargo:rerun-if-changed={}", wit.display());
    }
}
