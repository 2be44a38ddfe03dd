//! Loading the connector component: compiled from wasm, loaded from the
//! cache of compiled components, and instantiated in a fresh store, side by
//! side in one run (`helpdesk-host bench` reports the same figures beside
//! the sync's). Prints one JSON line.

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let times = rt.block_on(helpdesk_host::bench::load::measure(50)).unwrap();
    println!(
        "{{\"compile_ms\":{:.3},\"load_cached_ms\":{:.3},\"instantiate_ms\":{:.3},\"cached_load_plus_instantiate_ms\":{:.3},\"ratio_compile_to_cached\":{:.1}}}",
        times.compile_ms,
        times.load_cached_ms,
        times.instantiate_ms,
        times.load_cached_ms + times.instantiate_ms,
        times.compile_ms / times.load_cached_ms
    );
}
