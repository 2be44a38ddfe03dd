//! `helpdesk:connector@0.2.0`, the API in development: the types the host
//! works with, whatever version a plugin exports.

super::bindings!("../wit/0.2.0");
