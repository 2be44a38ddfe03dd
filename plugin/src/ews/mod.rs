//! Exchange Web Services: one module per operation, a streaming reader, an
//! envelope writer, and this client that sends requests over wasi:http.

pub mod envelope;
pub mod find_folder;
pub mod find_item;
pub mod get_folder;
pub mod get_item;
pub mod response;
pub mod sync_folder_items;
pub mod xml;

use crate::error::{Error, Kind, Result};
use crate::http;
use base64::Engine as _;
use envelope::FolderRef;
use find_folder::{FolderInfo, Traversal};
use find_item::ItemRef;
use get_item::FetchedItem;
use response::{MessageHandler, ResponseError, ServerVersion, Status, read_response};
use std::io::BufReader;

type Input = xml::Utf8Lossy<BufReader<http::Body>>;

/// Folders per FindFolder page.
const FOLDER_PAGE: u32 = 500;

pub struct Ews {
    endpoint: String,
    username: String,
    authorization: String,
    /// requests sent so far
    pub requests: u32,
}

impl Ews {
    pub fn new(endpoint: &str, username: &str, password: &str) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        Ews {
            endpoint: endpoint.to_string(),
            username: username.to_string(),
            authorization: format!("Basic {token}"),
            requests: 0,
        }
    }

    /// Connect, authenticate and read the server's version.
    pub fn server_version(&mut self) -> Result<ServerVersion> {
        let mut parser = get_folder::parser();
        let version = self.call(&get_folder::request(&[FolderRef::Distinguished("msgfolderroot")]), &mut parser)?;
        if let Some(Err(status)) = parser.results.pop() {
            return Err(self.message_error("reading the mailbox root", &status));
        }
        version.ok_or_else(|| {
            Error::new(Kind::NotExchange, format!("{} answered without ServerVersionInfo: not an Exchange server?", self.endpoint))
        })
    }

    /// Every folder below `root`, all pages.
    pub fn folder_tree(&mut self, root: &FolderRef, traversal: Traversal) -> Result<Vec<FolderInfo>> {
        let mut folders = Vec::new();
        let mut offset = 0;
        loop {
            let mut parser = find_folder::Parser::new(offset);
            self.call(&find_folder::request(root, traversal, offset, FOLDER_PAGE), &mut parser)?;
            let page = parser.page;
            if page.status.is_error() {
                return Err(self.message_error("listing folders", &page.status));
            }
            folders.extend(page.folders);
            if page.paging.last {
                return Ok(folders);
            }
            offset = self.advance(offset, page.paging.next_offset)?;
        }
    }

    /// One page of item ids of a folder.
    pub fn find_items(&mut self, folder_id: &str, offset: u32) -> Result<find_item::Page> {
        let mut parser = find_item::Parser::new(offset);
        let folder = FolderRef::Id(folder_id.to_string());
        self.call(&find_item::request(&folder, offset, find_item::MAX_PAGE), &mut parser)?;
        if parser.page.status.is_error() {
            return Err(self.message_error("listing the items of a folder", &parser.page.status));
        }
        Ok(parser.page)
    }

    /// Changes to a folder since `state` (None: from the beginning). The
    /// page's status is the caller's to judge: a stale state is no failure.
    pub fn sync_items(&mut self, folder_id: &str, state: Option<&str>) -> Result<sync_folder_items::Page> {
        let mut parser = sync_folder_items::Parser::default();
        let folder = FolderRef::Id(folder_id.to_string());
        self.call(&sync_folder_items::request(&folder, state, sync_folder_items::MAX_CHANGES), &mut parser)?;
        Ok(parser.page)
    }

    /// Full items, one result per id, in order.
    pub fn get_items(&mut self, ids: &[ItemRef]) -> Result<Vec<Result<FetchedItem, Status>>> {
        let mut parser = get_item::parser();
        self.call(&get_item::request(ids), &mut parser)?;
        if parser.results.len() != ids.len() {
            return Err(Error::protocol(format!(
                "{}: GetItem answered {} messages for {} ids",
                self.endpoint,
                parser.results.len(),
                ids.len()
            )));
        }
        Ok(parser.results)
    }

    /// The offset of the next page; a server that does not advance would
    /// otherwise keep us paging forever.
    pub fn advance(&self, offset: u32, next: u32) -> Result<u32> {
        if next <= offset {
            return Err(Error::protocol(format!("{}: paging does not advance past offset {offset}", self.endpoint)));
        }
        Ok(next)
    }

    pub fn message_error(&self, doing: &str, status: &Status) -> Error {
        let kind = match status.code.as_str() {
            "ErrorAccessDenied" => Kind::AccessDenied,
            "ErrorServerBusy" => Kind::Throttled,
            _ => Kind::Protocol,
        };
        Error::new(kind, format!("{} while {doing}: {}: {}", self.endpoint, status.code, status.text))
    }

    fn call<H: MessageHandler<Input>>(&mut self, operation: &str, handler: &mut H) -> Result<Option<ServerVersion>> {
        let body = envelope::envelope(operation);
        self.requests += 1;
        let response = http::post(
            &self.endpoint,
            &[("content-type", "text/xml; charset=utf-8"), ("authorization", &self.authorization)],
            body.as_bytes(),
        )?;
        let is_xml = response.content_type.contains("xml");
        match response.status {
            401 => {
                let offered = response.www_authenticate.unwrap_or_else(|| "nothing".into());
                return Err(Error::new(
                    Kind::Authentication,
                    format!(
                        "{} rejected the user name or password of '{}' (HTTP 401, the server offers {offered})",
                        self.endpoint, self.username
                    ),
                ));
            }
            403 => {
                return Err(Error::new(
                    Kind::AccessDenied,
                    format!("{} denies '{}' access to EWS (HTTP 403)", self.endpoint, self.username),
                ));
            }
            200 | 500 if is_xml => {}
            status => {
                return Err(Error::new(
                    Kind::NotExchange,
                    format!(
                        "{} answered HTTP {status} ({}): not an EWS endpoint? It usually ends in /EWS/Exchange.asmx",
                        self.endpoint,
                        if response.content_type.is_empty() { "no content type" } else { &response.content_type }
                    ),
                ));
            }
        }
        read_response(BufReader::with_capacity(64 * 1024, response.body), handler).map_err(|e| match e {
            ResponseError::NotSoap(why) => Error::new(
                Kind::NotExchange,
                format!("{} did not answer with a SOAP envelope ({why}): not an EWS endpoint?", self.endpoint),
            ),
            ResponseError::Fault { code, message, .. } => {
                let kind = match code.as_str() {
                    "ErrorServerBusy" => Kind::Throttled,
                    "ErrorAccessDenied" => Kind::AccessDenied,
                    _ => Kind::Protocol,
                };
                Error::new(kind, format!("{} refused the request: {code}: {message}", self.endpoint))
            }
            ResponseError::Malformed(why) => {
                Error::protocol(format!("{} sent a response we cannot read: {why}", self.endpoint))
            }
        })
    }
}
