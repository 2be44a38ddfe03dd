// Shared by the test components (included, not a crate): the exports a
// test component does not care about, around its own `check` (and `run`
// and `folders`, when it has them).
macro_rules! connector_with_check {
    ($component:ident, $check:expr) => {
        // Components without a sync of their own are never asked for one
        // (the report's fields differ between API versions).
        connector_with_check!($component, $check, |_: Config, _: SyncRequest| Err(ConnectorError {
            kind: ErrorKind::Protocol,
            message: "this test component does not sync".into(),
        }));
    };
    ($component:ident, $check:expr, $run:expr) => {
        connector_with_check!($component, $check, $run, |_: Config| Ok(Vec::new()));
    };
    ($component:ident, $check:expr, $run:expr, $folders:expr) => {
        use exports::helpdesk::connector::{configure, r#map, sync};
        use helpdesk::connector::types::*;

        struct $component;

        impl configure::Guest for $component {
            fn settings() -> Vec<Setting> {
                Vec::new()
            }

            fn check(config: Config) -> Result<ServerInfo, ConnectorError> {
                $check(config)
            }

            fn folders(config: Config) -> Result<Vec<Folder>, ConnectorError> {
                $folders(config)
            }

            fn attributes(_: Config, _: u32) -> Result<Vec<AttributeSample>, ConnectorError> {
                Ok(Vec::new())
            }
        }

        impl sync::Guest for $component {
            fn run(config: Config, request: SyncRequest) -> Result<SyncReport, ConnectorError> {
                $run(config, request)
            }
        }

        impl r#map::Guest for $component {
            fn default_mapping() -> Vec<FieldMapping> {
                Vec::new()
            }

            fn map_contact(_: Contact, _: Vec<FieldMapping>) -> Result<User, String> {
                Err("no mapping".into())
            }
        }

        export!($component);
    };
}

// The 0.2.0 exports a test component does not care about: it reads no file.
macro_rules! extract_stub {
    ($component:ident) => {
        impl exports::helpdesk::connector::extract::Guest for $component {
            fn text_of(_: String, _: String, _: Vec<u8>) -> Result<String, String> {
                Err("this test component reads no file".into())
            }
        }
    };
}
