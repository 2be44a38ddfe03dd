//! The Exchange connector: a WASI 0.2 component that reads Exchange
//! address books and hands their contacts to a helpdesk as users.
//!
//! This file is the wit-bindgen glue only; the work happens in the modules.

// Rust's default wasm allocator (dlmalloc) took a sixth of a full sync's
// time in the profile: every contact makes many small strings.
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub mod address_books;
pub mod dates;
pub mod ex_addresses;
pub mod attributes;
pub mod catalogue;
pub mod config;
pub mod error;
pub mod ews;
pub mod ews_attachments;
pub mod documents;
pub mod ews_calendar;
pub mod ews_mail;
pub mod ews_source;
pub mod flatten;
pub mod folders;
pub mod graph;
pub mod graph_calendar;
pub mod graph_tasks;
pub mod graph_listing;
pub mod graph_mail;
pub mod graph_source;
pub mod http;
pub mod mailboxes;
pub mod mapping;
pub mod report;
pub mod sync;

pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/0.2.0",
        world: "helpdesk:connector/connector",
        generate_all,
    });
}

use bindings::exports::helpdesk::connector::{configure, extract as extract_api, r#map, sync as sync_api};
use bindings::helpdesk::connector::types::{
    AttributeSample, Config, ConnectorError, Contact, ErrorKind, FieldMapping, Folder, ServerInfo, Setting,
    SyncReport, SyncRequest, User,
};

struct Connector;

impl From<error::Error> for ConnectorError {
    fn from(e: error::Error) -> Self {
        use error::Kind as K;
        let kind = match e.kind {
            K::Configuration => ErrorKind::Configuration,
            K::Authentication => ErrorKind::Authentication,
            K::Tls => ErrorKind::Tls,
            K::Unreachable => ErrorKind::Unreachable,
            K::NotExchange => ErrorKind::NotExchange,
            K::AccessDenied => ErrorKind::AccessDenied,
            K::Throttled => ErrorKind::Throttled,
            K::Protocol | K::StaleState | K::Unreadable => ErrorKind::Protocol,
            K::Host => ErrorKind::Host,
        };
        ConnectorError { kind, message: e.message }
    }
}

/// The protocol the configuration asks for.
fn source(config: &config::Config) -> Box<dyn sync::Source> {
    match &config.protocol {
        config::Protocol::Ews { endpoint, username, password, autodiscover } => {
            let ews = || ews::Ews::new(endpoint, username, password, autodiscover.as_deref());
            Box::new(ews_source::EwsSource { ews: ews(), names: ex_addresses::Resolver::new(ews()) })
        }
        config::Protocol::Graph(graph) => Box::new(graph_source::GraphSource::new(graph::Graph::new(graph.clone()))),
    }
}

impl configure::Guest for Connector {
    fn settings() -> Vec<Setting> {
        config::settings()
    }

    fn check(config: Config) -> Result<ServerInfo, ConnectorError> {
        let config = config::parse(&config)?;
        match config.protocol {
            config::Protocol::Ews { endpoint, username, password, autodiscover } => {
                let mut ews = ews::Ews::new(&endpoint, &username, &password, autodiscover.as_deref());
                let version = ews.server_version()?;
                // Found by Autodiscover: say so, and where.
                let endpoint = match &ews.discovered {
                    Some((base, found)) => format!("{} (found by Autodiscover at {base})", found.ews_url),
                    None => endpoint,
                };
                Ok(ServerInfo { product: version.product().into(), version: version.display(), endpoint })
            }
            config::Protocol::Graph(graph) => {
                // The mailboxes it is to read, when named: that they can be
                // read is what matters, not that the directory can.
                let mailboxes = graph.mailboxes.clone();
                let mut client = graph::Graph::new(graph);
                if mailboxes.is_empty() {
                    let url = client.url("users?$select=id&$top=1");
                    client.get(&url)?;
                }
                for mailbox in &mailboxes {
                    let url = client.url(&format!("users/{}/contactFolders?$top=1", graph::segment(mailbox)));
                    client.get(&url).map_err(|e| error::Error::new(e.kind, format!("the mailbox {mailbox}: {}", e.message)))?;
                }
                let endpoint = client.url("");
                Ok(ServerInfo { product: "Microsoft 365 (Microsoft Graph)".into(), version: "v1.0".into(), endpoint })
            }
        }
    }

    fn folders(config: Config) -> Result<Vec<Folder>, ConnectorError> {
        let config = config::parse(&config)?;
        let listing = source(&config).address_books()?;
        for warning in &listing.warnings {
            report::warn(warning);
        }
        Ok(listing
            .books
            .into_iter()
            .map(|b| Folder { id: b.id, path: b.path, item_count: b.count, excluded: b.excluded })
            .collect())
    }

    fn attributes(config: Config, sample_size: u32) -> Result<Vec<AttributeSample>, ConnectorError> {
        let config = config::parse(&config)?;
        Ok(attributes::sample(source(&config).as_mut(), &config.folders, sample_size)?)
    }
}

impl sync_api::Guest for Connector {
    fn run(config: Config, request: SyncRequest) -> Result<SyncReport, ConnectorError> {
        let config = config::parse(&config)?;
        let mut source = source(&config);
        let mut report = sync::run(source.as_mut(), &config.folders, &request)?;
        if !request.content.is_empty() {
            report.documents = source.sync_documents(&request)?;
        }
        Ok(report)
    }
}

impl extract_api::Guest for Connector {
    fn text_of(content_type: String, name: String, content: Vec<u8>) -> Result<String, String> {
        documents::extract::text_of(&content_type, &name, &content)
    }
}

impl r#map::Guest for Connector {
    fn default_mapping() -> Vec<FieldMapping> {
        mapping::default_mapping()
    }

    fn map_contact(contact: Contact, mapping: Vec<FieldMapping>) -> Result<User, String> {
        let attributes: flatten::Attributes = contact.attributes.into_iter().map(|a| (a.key, a.value)).collect();
        mapping::map_contact(&contact.external_id, &attributes, &mapping)
    }
}

// Only the component exports symbols; native builds (tests, the host's
// emulator) use the modules alone.
#[cfg(target_arch = "wasm32")]
bindings::export!(Connector with_types_in bindings);
