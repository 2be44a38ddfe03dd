//! A connector that reads the host's files: using `std::fs` makes the
//! component import `wasi:filesystem`, which the host never grants.

wit_bindgen::generate!({ path: "../../../wit/0.2.0", world: "helpdesk:connector/connector", generate_all });
include!("../../stubs.rs");

connector_with_check!(ReadsFiles, check);
extract_stub!(ReadsFiles);

fn check(_: Config) -> Result<ServerInfo, ConnectorError> {
    let secrets = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
    Ok(ServerInfo { product: secrets, version: String::new(), endpoint: String::new() })
}
