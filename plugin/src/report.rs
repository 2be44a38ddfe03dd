//! Logging through the host.

use crate::bindings::helpdesk::connector::host::{LogLevel, log};

pub fn debug(message: &str) {
    log(LogLevel::Debug, message);
}

pub fn info(message: &str) {
    log(LogLevel::Info, message);
}

/// Something an admin should see in the run's summary.
pub fn warn(message: &str) {
    log(LogLevel::Warn, message);
}
