//! What the plugin may do: no files, no sockets, no environment; outgoing
//! HTTP only, and only to the origins its configuration names.

pub mod egress;
pub mod ntlm;
pub mod sender;
mod sign_in;
pub mod stderr;
pub mod tls;

pub use egress::{EgressPolicy, Origin};

use crate::session::Session;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The data of one run's store.
pub struct RunState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: EgressPolicy,
    table: ResourceTable,
    pub limits: crate::runtime::limits::Walls,
    pub session: Session,
    /// epoch ticks the guest has run, for the CPU budget
    pub cpu_ticks: u64,
    /// what the guest wrote to standard error
    pub stderr: stderr::GuestStderr,
}

impl RunState {
    pub fn new(policy: EgressPolicy, session: Session, limits: crate::runtime::limits::Walls) -> Self {
        // No preopened directories, no environment, no arguments, no
        // sockets (the builder denies them by default). Standard error
        // goes through the log, escaped, so that a guest panic message is
        // not lost and nothing else gets out raw.
        let stderr = stderr::GuestStderr::default();
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        RunState {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: policy,
            table: ResourceTable::new(),
            limits,
            session,
            cpu_ticks: 0,
            stderr,
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
