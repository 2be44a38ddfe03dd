//! What the plugin may do: no files, no sockets, no environment; outgoing
//! HTTP only, and only to the origins its configuration names.

pub mod egress;
pub mod ntlm;
pub mod sender;
mod sign_in;
pub mod tls;

pub use egress::{EgressPolicy, Origin};

use crate::session::Session;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The data of one run's store.
pub struct RunState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: EgressPolicy,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub session: Session,
    /// epoch ticks the guest has run, for the CPU budget
    pub cpu_ticks: u64,
}

impl RunState {
    pub fn new(policy: EgressPolicy, session: Session, memory_limit: usize) -> Self {
        // No preopened directories, no environment, no arguments, no
        // sockets (the builder denies them by default). Standard error is
        // kept so that a guest panic message is not lost.
        let wasi = WasiCtxBuilder::new().inherit_stderr().build();
        RunState {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: policy,
            table: ResourceTable::new(),
            // A trap rather than a failed allocation: the guest cannot
            // swallow it, and the error names the limit.
            limits: StoreLimitsBuilder::new().memory_size(memory_limit).instances(16).trap_on_grow_failure(true).build(),
            session,
            cpu_ticks: 0,
        }
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}
