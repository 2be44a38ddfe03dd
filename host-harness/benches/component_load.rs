//! Loading the connector component: compiled from wasm, loaded from the
//! cache of compiled components, and instantiated in a fresh store, side by
//! side in one run. Prints one JSON line per measurement.

use helpdesk_host::capabilities::EgressPolicy;
use helpdesk_host::capabilities::tls::client_config;
use helpdesk_host::runtime::{CONNECTOR_WASM, Limits, Runtime};
use helpdesk_host::session::Session;
use std::time::{Duration, Instant};

fn report(name: &str, samples: &mut [Duration]) -> f64 {
    samples.sort();
    let median = samples[samples.len() / 2].as_secs_f64() * 1000.0;
    println!(
        "{{\"bench\":\"{name}\",\"median_ms\":{median:.3},\"min_ms\":{:.3},\"max_ms\":{:.3},\"samples\":{}}}",
        samples[0].as_secs_f64() * 1000.0,
        samples[samples.len() - 1].as_secs_f64() * 1000.0,
        samples.len()
    );
    median
}

fn main() {
    let cache = tempfile::tempdir().unwrap();
    let mut cold = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        Runtime::load(CONNECTOR_WASM, None, Limits::default()).unwrap();
        cold.push(start.elapsed());
    }
    Runtime::load(CONNECTOR_WASM, Some(cache.path()), Limits::default()).unwrap();
    let mut cached = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        Runtime::load(CONNECTOR_WASM, Some(cache.path()), Limits::default()).unwrap();
        cached.push(start.elapsed());
    }
    let runtime = Runtime::load(CONNECTOR_WASM, Some(cache.path()), Limits::default()).unwrap();
    let policy = EgressPolicy::new(&["http://127.0.0.1:1/"], client_config(true, None).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut instantiate = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        rt.block_on(runtime.instantiate(policy.for_run(), Session::read_only())).unwrap();
        instantiate.push(start.elapsed());
    }
    let cold = report("compile from wasm", &mut cold);
    let cached = report("load from cache", &mut cached);
    let fresh = report("instantiate in a fresh store", &mut instantiate);
    println!("{{\"bench\":\"ratio compile/cached load\",\"ratio\":{:.1}}}", cold / cached);
    println!("{{\"bench\":\"cached load + instantiate\",\"median_ms\":{:.3}}}", cached + fresh);
}
