//! Reading files in an instance of their own: the plugin's parsers (PDF,
//! Office) run on untrusted bytes, and a panic traps a wasm instance
//! whole, so files are read by another instance of the same component,
//! with no network and limits of its own. A file that crashes or exhausts
//! the reader fails alone; the run's instance goes on.
//!
//! The reader is kept for the next file while it stays small: making one
//! costs more than reading a small file. It is made afresh after a file
//! that trapped it, ran out of time, or grew its memory past
//! [`KEEP_BELOW`], so that each file still has the reader's whole budget.
//! (Isolation between files is about crashes: the run's own instance sees
//! every mailbox anyway.)

use super::{Connector, Limits, Runtime};
use crate::capabilities::{EgressPolicy, RunState};
use crate::session::Session;
use std::time::Duration;
use wasmtime::Store;

/// What one reading may use: less than a run.
const READER_LIMITS: Limits = Limits { memory: 256 << 20, cpu: Duration::from_secs(60) };
/// Wall-clock bound on one reading (its CPU bound is the budget above).
const READER_WALL: Duration = Duration::from_secs(120);
/// A reader whose memory grew past this is not kept: the next file
/// starts from a small one, and the run's memory stays low.
const KEEP_BELOW: usize = 16 << 20;

pub struct Extractor {
    runtime: Runtime,
    policy: EgressPolicy,
    /// the reader kept from the last file, if it may read another
    kept: tokio::sync::Mutex<Option<(Store<RunState>, Connector)>>,
}

impl Extractor {
    /// Readers for the plugin `runtime` runs, allowed no origin at all.
    pub fn new(runtime: &Runtime, policy: &EgressPolicy) -> Extractor {
        let mut policy = policy.for_run();
        policy.allowed.clear();
        policy.sign_in = None;
        Extractor { runtime: Runtime { limits: READER_LIMITS, ..runtime.clone() }, policy, kept: Default::default() }
    }

    /// The text of one file, or why there is none.
    pub async fn text_of(&self, content_type: &str, name: &str, content: &[u8]) -> Result<String, String> {
        let mut kept = self.kept.lock().await;
        let (mut store, connector) = match kept.take() {
            Some(reader) => reader,
            None => self
                .runtime
                .instantiate(self.policy.for_run(), Session::read_only())
                .await
                .map_err(|e| format!("the reader could not start: {e:#}"))?,
        };
        // The CPU budget is each file's.
        store.data_mut().cpu_ticks = 0;
        let result = match tokio::time::timeout(READER_WALL, connector.text_of(&mut store, content_type, name, content)).await {
            Err(_) => return Err(format!("reading it took more than {} s", READER_WALL.as_secs())),
            Ok(Err(trap)) => {
                let why = if format!("{trap:?}").contains(super::CPU_EXHAUSTED) { "it used up the reader's CPU budget" } else { "the reader crashed on it" };
                tracing::warn!("{name}: {why}: {}", trap.root_cause());
                return Err(why.into());
            }
            Ok(Ok(result)) => result,
        };
        if store.data().limits.memory() < KEEP_BELOW {
            *kept = Some((store, connector));
        }
        result
    }
}
