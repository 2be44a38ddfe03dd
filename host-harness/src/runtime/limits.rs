//! What one instance of a plugin may use. A plugin is third-party code:
//! wasmtime's own defaults (10,000 memories, tables and instances a store,
//! tables without a size bound) are far above what a connector needs, so
//! each store gets the walls below; a component that needs more is refused
//! when it is instantiated, with the wall named.

use std::time::Duration;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// Linear memories a store may hold: one. A Rust connector has one (the
/// component's adapters borrow it); a second could double the memory
/// budget, which is counted per memory.
pub const MEMORIES: usize = 1;
/// Tables a store may hold. The connector has two (its indirect-call table
/// of 849 entries and the shim's of 34); the rest is room for other
/// toolchains.
pub const TABLES: usize = 8;
/// Elements one table may grow to. The connector's function table has
/// 849 entries.
pub const TABLE_ELEMENTS: usize = 100_000;
/// Core instances a component may create in one store. The connector has
/// 4 core modules (its own, the adapter's shim, its fixups, one more of
/// wit-component's), each instantiated once.
pub const INSTANCES: usize = 16;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// the size its linear memory may grow to
    pub memory: usize,
    /// CPU time the guest may spend in one call (time waiting on the host
    /// does not count: wall-clock bounds are the caller's)
    pub cpu: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory: 256 << 20, cpu: Duration::from_secs(30 * 60) }
    }
}

impl Limits {
    /// The walls of one store.
    pub fn store_limits(&self) -> Walls {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.memory)
            .memories(MEMORIES)
            .tables(TABLES)
            .table_elements(TABLE_ELEMENTS)
            .instances(INSTANCES)
            // A trap rather than a failed allocation: the guest cannot
            // swallow it, and the error names the limit.
            .trap_on_grow_failure(true)
            .build();
        Walls { limits, memory: 0 }
    }
}

/// A store's walls, and the size its memory has grown to: a reader of
/// files is kept for the next file only while it stays small.
pub struct Walls {
    limits: StoreLimits,
    memory: usize,
}

impl Walls {
    /// The bytes of linear memory the store has grown to.
    pub fn memory(&self) -> usize {
        self.memory
    }
}

impl ResourceLimiter for Walls {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.memory = self.memory.max(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The admin's words for a wall the plugin hit, from wasmtime's error.
pub fn explain(error: &str) -> Option<String> {
    let wall = if error.contains("memory count too high") {
        format!("it asked for more than {MEMORIES} linear memory")
    } else if error.contains("table count too high") {
        format!("it asked for more than {TABLES} tables")
    } else if error.contains("instance count too high") {
        format!("it asked for more than {INSTANCES} instances")
    } else if error.contains("growing table") {
        format!("it grew a table beyond {TABLE_ELEMENTS} elements")
    } else if error.contains("growing memory") {
        "it asked for more memory than its limit".to_string()
    } else {
        return None;
    };
    Some(wall)
}

