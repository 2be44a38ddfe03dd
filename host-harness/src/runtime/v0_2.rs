//! `helpdesk:connector@0.2.0`, the API in development: the types the host
//! works with, whatever version a plugin exports.

wasmtime::component::bindgen!({
    path: "../wit/0.2.0",
    world: "helpdesk:connector/connector",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
});
