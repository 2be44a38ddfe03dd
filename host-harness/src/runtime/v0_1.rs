//! `helpdesk:connector@0.1.0`, released and frozen: a plugin built against
//! it still loads. Its calls and host imports go through the current API,
//! each value converted on the way.

use super::v0_2 as current;
use crate::capabilities::RunState;
use current::helpdesk::connector::host as current_host;
use current::helpdesk::connector::types as new;
use helpdesk::connector::host;
use helpdesk::connector::types as old;
use wasmtime::Store;

super::bindings!("../wit/0.1.0");

/// A value of one API version as the other version's.
trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => { $(impl Convert<$t> for $t { fn convert(self) -> $t { self } })* };
}
same!(String, bool, u32, u64);

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

/// Records whose fields are the same in both versions.
macro_rules! records {
    ($($from:ident::$name:ident => $to:ident { $($field:ident),* })*) => {
        $(impl Convert<$to::$name> for $from::$name {
            fn convert(self) -> $to::$name {
                $to::$name { $($field: self.$field.convert()),* }
            }
        })*
    };
}

/// Enums whose cases are the same in both versions.
macro_rules! enums {
    ($($from:ident::$name:ident => $to:ident { $($case:ident),* })*) => {
        $(impl Convert<$to::$name> for $from::$name {
            fn convert(self) -> $to::$name {
                match self { $($from::$name::$case => $to::$name::$case),* }
            }
        })*
    };
}

// What the plugin hands the host.
records! {
    old::Batch => new { folder_id, folder_path, changes, checkpoint, listing_complete }
    old::Upsert => new { external_id, version, user }
    old::User => new { login, email, firstname, lastname, phone, extra }
    old::Attribute => new { key, value }
    old::NotApplied => new { external_id, reason }
    old::ServerInfo => new { product, version, endpoint }
    old::AttributeSample => new { key, example }
    old::ConnectorError => new { kind, message }
}
enums! {
    old::ErrorKind => new {
        Configuration, Authentication, Tls, Unreachable, NotExchange, AccessDenied, Throttled, Protocol, Host
    }
    host::LogLevel => current_host { Trace, Debug, Info, Warn, Error }
}
impl Convert<new::Change> for old::Change {
    fn convert(self) -> new::Change {
        match self {
            old::Change::Upsert(upsert) => new::Change::Upsert(upsert.convert()),
            old::Change::Remove(id) => new::Change::Remove(id),
            old::Change::Unchanged(id) => new::Change::Unchanged(id),
            old::Change::Skipped(why) => new::Change::Skipped(why.convert()),
            old::Change::Failed(why) => new::Change::Failed(why.convert()),
        }
    }
}

/// 0.1.0 reads no documents.
impl Convert<new::SyncReport> for old::SyncReport {
    fn convert(self) -> new::SyncReport {
        new::SyncReport { folders: self.folders, contacts: self.contacts, batches: self.batches, documents: 0 }
    }
}

/// 0.1.0's `folders` listed the address books a sync reads, and only them.
impl Convert<new::Folder> for old::Folder {
    fn convert(self) -> new::Folder {
        new::Folder { id: self.id, path: self.path, item_count: self.item_count, excluded: None }
    }
}

// What the host hands the plugin.
records! {
    new::SettingValue => old { key, value }
    new::UserField => old { name, label, custom }
    new::SyncRequest => old { mode, checkpoints, mapping }
    new::Checkpoint => old { folder_id, state }
    new::FieldMapping => old { attribute, field }
}
enums! {
    new::SyncMode => old { Full, Incremental }
}

fn answer<A: Convert<B>, B>(
    result: wasmtime::Result<Result<A, old::ConnectorError>>,
) -> wasmtime::Result<Result<B, new::ConnectorError>> {
    result.map(|answer| answer.map(Convert::convert).map_err(Convert::convert))
}

pub async fn check(
    connector: &Connector,
    store: &mut Store<RunState>,
    config: &new::Config,
) -> wasmtime::Result<Result<new::ServerInfo, new::ConnectorError>> {
    answer(connector.helpdesk_connector_configure().call_check(store, &config.clone().convert()).await)
}

pub async fn folders(
    connector: &Connector,
    store: &mut Store<RunState>,
    config: &new::Config,
) -> wasmtime::Result<Result<Vec<new::Folder>, new::ConnectorError>> {
    answer(connector.helpdesk_connector_configure().call_folders(store, &config.clone().convert()).await)
}

pub async fn attributes(
    connector: &Connector,
    store: &mut Store<RunState>,
    config: &new::Config,
    sample: u32,
) -> wasmtime::Result<Result<Vec<new::AttributeSample>, new::ConnectorError>> {
    answer(connector.helpdesk_connector_configure().call_attributes(store, &config.clone().convert(), sample).await)
}

pub async fn run(
    connector: &Connector,
    store: &mut Store<RunState>,
    config: &new::Config,
    request: &new::SyncRequest,
) -> wasmtime::Result<Result<new::SyncReport, new::ConnectorError>> {
    let request: old::SyncRequest = request.clone().convert();
    answer(connector.helpdesk_connector_sync().call_run(store, &config.clone().convert(), &request).await)
}

impl old::Host for RunState {}

/// The 0.1.0 host imports are the current ones.
impl host::Host for RunState {
    async fn log(&mut self, level: host::LogLevel, message: String) -> wasmtime::Result<()> {
        current_host::Host::log(self, level.convert(), message).await
    }

    async fn progress(&mut self, folder_id: String, done: u64, total: u64) -> wasmtime::Result<()> {
        current_host::Host::progress(self, folder_id, done, total).await
    }

    async fn user_fields(&mut self) -> wasmtime::Result<Vec<old::UserField>> {
        Ok(current_host::Host::user_fields(self).await?.convert())
    }

    async fn stored_versions(&mut self, folder_id: String, external_ids: Vec<String>) -> wasmtime::Result<Vec<Option<String>>> {
        current_host::Host::stored_versions(self, folder_id, external_ids).await
    }

    async fn save_secret(&mut self, key: String, value: String) -> wasmtime::Result<()> {
        current_host::Host::save_secret(self, key, value).await
    }

    async fn apply_batch(&mut self, batch: old::Batch) -> wasmtime::Result<Result<(), String>> {
        current_host::Host::apply_batch(self, batch.convert()).await
    }
}
