//! Any bytes as a Graph contacts delta page: JSON that parses goes through
//! the page reader and the contact flattener without panicking.
#![no_main]

use exchange_connector::graph::contacts_delta;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = serde_json::from_slice::<serde_json::Value>(data) {
        let page = contacts_delta::parse(&document);
        for entry in document["value"].as_array().into_iter().flatten() {
            drop(exchange_connector::graph::contact::flatten(entry));
        }
        drop(page);
    }
});
