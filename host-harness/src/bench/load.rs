//! Loading the connector component: compiled from wasm, loaded from the
//! cache of compiled components, and instantiated in a fresh store.

use crate::capabilities::EgressPolicy;
use crate::capabilities::tls::client_config;
use crate::runtime::{CONNECTOR_WASM, Limits, Runtime};
use crate::session::Session;
use anyhow::Result;
use std::time::{Duration, Instant};

/// Median milliseconds of each step.
#[derive(Clone, Copy, Debug)]
pub struct LoadTimes {
    pub compile_ms: f64,
    pub load_cached_ms: f64,
    pub instantiate_ms: f64,
}

/// Time each step `samples` times (compiling, the slow one, a third as
/// often) and keep the medians.
pub async fn measure(samples: usize) -> Result<LoadTimes> {
    let cache = tempdir()?;
    let compile = repeat(samples.div_ceil(3), || Runtime::load(CONNECTOR_WASM, None, Limits::default()).map(drop))?;
    Runtime::load(CONNECTOR_WASM, Some(&cache), Limits::default())?;
    let load_cached = repeat(samples, || Runtime::load(CONNECTOR_WASM, Some(&cache), Limits::default()).map(drop))?;
    let runtime = Runtime::load(CONNECTOR_WASM, Some(&cache), Limits::default())?;
    let policy = EgressPolicy::new(&["http://127.0.0.1:1/"], client_config(true, None)?)?;
    let mut instantiate = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        runtime.instantiate(policy.for_run(), Session::read_only()).await?;
        instantiate.push(start.elapsed());
    }
    let _ = std::fs::remove_dir_all(&cache);
    Ok(LoadTimes { compile_ms: median_ms(&compile), load_cached_ms: median_ms(&load_cached), instantiate_ms: median_ms(&instantiate) })
}

fn repeat(times: usize, mut step: impl FnMut() -> Result<()>) -> Result<Vec<Duration>> {
    (0..times.max(1))
        .map(|_| {
            let start = Instant::now();
            step().map(|()| start.elapsed())
        })
        .collect()
}

fn median_ms(samples: &[Duration]) -> f64 {
    super::median(samples.iter().map(|d| d.as_secs_f64() * 1000.0))
}

fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("helpdesk-bench-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
