//! helpdesk-host: plays the helpdesk for the Exchange connector component.
//! It runs the component in wasmtime with only the capabilities it needs,
//! keeps users in SQLite, schedules syncs, and carries an Exchange emulator.

pub mod apply;
pub mod bench;
pub mod budget;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod documents;
pub mod login;
pub mod plugins;
pub use exchange_emulator as emulator;
pub mod progress;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod session;
pub mod store;
pub mod summary;
pub mod writer;
