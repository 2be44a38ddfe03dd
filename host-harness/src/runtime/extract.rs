//! Reading one file in an instance of its own: the plugin's parsers (PDF,
//! Office) run on untrusted bytes, and a panic traps a wasm instance
//! whole, so each file gets a fresh instance of the same component with no
//! network and limits of its own. A file that crashes or exhausts the
//! reader fails alone; the run's instance goes on.

use super::{Limits, Runtime};
use crate::capabilities::EgressPolicy;
use crate::session::Session;
use std::time::Duration;

/// What one reading may use: less than a run.
const READER_LIMITS: Limits = Limits { memory: 256 << 20, cpu: Duration::from_secs(60) };
/// Wall-clock bound on one reading (its CPU bound is the budget above).
const READER_WALL: Duration = Duration::from_secs(120);

pub struct Extractor {
    runtime: Runtime,
    policy: EgressPolicy,
}

impl Extractor {
    /// Readers for the plugin `runtime` runs, allowed no origin at all.
    pub fn new(runtime: &Runtime, policy: &EgressPolicy) -> Extractor {
        let mut policy = policy.for_run();
        policy.allowed.clear();
        policy.sign_in = None;
        Extractor { runtime: Runtime { limits: READER_LIMITS, ..runtime.clone() }, policy }
    }

    /// The text of one file, or why there is none.
    pub async fn text_of(&self, content_type: &str, name: &str, content: &[u8]) -> Result<String, String> {
        let (mut store, connector) =
            self.runtime.instantiate(self.policy.for_run(), Session::read_only()).await.map_err(|e| format!("the reader could not start: {e:#}"))?;
        match tokio::time::timeout(READER_WALL, connector.text_of(&mut store, content_type, name, content)).await {
            Err(_) => Err(format!("reading it took more than {} s", READER_WALL.as_secs())),
            Ok(Err(trap)) => {
                let why = if format!("{trap:?}").contains(super::CPU_EXHAUSTED) { "it used up the reader's CPU budget" } else { "the reader crashed on it" };
                tracing::warn!("{name}: {why}: {}", trap.root_cause());
                Err(why.into())
            }
            Ok(Ok(result)) => result,
        }
    }
}
