//! A connector that reads the host's files: using `std::fs` makes the
//! component import `wasi:filesystem`, which the host never grants.

wit_bindgen::generate!({ path: "../../../wit", world: "helpdesk:connector/connector", generate_all });

use exports::helpdesk::connector::{configure, r#map, sync};
use helpdesk::connector::types::*;

struct ReadsFiles;

impl configure::Guest for ReadsFiles {
    fn settings() -> Vec<Setting> {
        Vec::new()
    }

    fn check(_: Config) -> Result<ServerInfo, ConnectorError> {
        let secrets = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
        Ok(ServerInfo { product: secrets, version: String::new(), endpoint: String::new() })
    }

    fn folders(_: Config) -> Result<Vec<Folder>, ConnectorError> {
        Ok(Vec::new())
    }

    fn attributes(_: Config, _: u32) -> Result<Vec<AttributeSample>, ConnectorError> {
        Ok(Vec::new())
    }
}

impl sync::Guest for ReadsFiles {
    fn run(_: Config, _: SyncRequest) -> Result<SyncReport, ConnectorError> {
        Ok(SyncReport { folders: 0, contacts: 0, batches: 0 })
    }
}

impl r#map::Guest for ReadsFiles {
    fn default_mapping() -> Vec<FieldMapping> {
        Vec::new()
    }

    fn map_contact(_: Contact, _: Vec<FieldMapping>) -> Result<User, String> {
        Err("no mapping".into())
    }
}

export!(ReadsFiles);
