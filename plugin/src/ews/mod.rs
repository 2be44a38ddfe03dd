//! Exchange Web Services: one module per operation, a streaming reader, an
//! envelope writer, and this client that sends requests over wasi:http.

pub mod autodiscover;
pub mod discovery;
pub mod envelope;
pub mod find_folder;
pub mod find_item;
pub mod get_attachment;
pub mod get_event;
pub mod get_folder;
pub mod get_rooms;
pub mod get_searchable_mailboxes;
pub mod get_item;
pub mod get_message;
pub mod get_task;
pub mod pipeline;
pub mod recurrence;
pub mod resolve_names;
pub mod response;
pub mod sync_answer;
pub mod sync_folder_hierarchy;
pub mod sync_folder_items;
pub mod user_settings;
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
/// GetItem requests on the wire at once. Exchange lets one account run 27
/// EWS requests at a time (EWSMaxConcurrency); a few are enough to keep
/// server and client busy, and leave the rest to Outlook and others.
pub const IN_FLIGHT: usize = 4;
/// Changes per SyncFolderItems page: whole GetItem batches (Exchange
/// allows up to 512).
pub const SYNC_PAGE: u32 = 5 * get_item::MAX_BATCH as u32;

pub struct Ews {
    endpoint: String,
    username: String,
    authorization: String,
    /// a request of this run has been accepted
    authenticated: bool,
    /// a 401 since the last accepted request was already retried
    retried_401: bool,
    /// GetItem requests sent at once
    in_flight: usize,
    /// the endpoint is not the EWS URL: Autodiscover finds it before the
    /// first request
    discovery: Option<discovery::Discovery>,
    /// the mailbox address Autodiscover is asked about
    address: Option<String>,
    /// what Autodiscover said, once it was asked, and which host said it
    pub discovered: Option<(String, autodiscover::Settings)>,
    /// where public-folder requests go, once found out (None inside: sent
    /// without routing headers)
    public_route: Option<Option<PublicRoute>>,
    /// the requests now are public-folder requests
    routing: bool,
    /// the mailbox the requests act for, through impersonation (none:
    /// the account's own)
    impersonating: Option<String>,
    /// the mailbox the requests read as a delegate
    delegate_of: Option<String>,
}

/// The routing Exchange 2013 and later need for public-folder requests
/// ("Route public folder hierarchy requests"): `X-AnchorMailbox` is the
/// public folder mailbox Autodiscover names (PublicFolderInformation),
/// `X-PublicFolderMailbox` that mailbox's InternalRpcClientServer.
#[derive(Clone, Debug)]
pub struct PublicRoute {
    pub anchor: String,
    pub server: String,
}

impl Ews {
    /// `autodiscover_at`: where to ask Autodiscover instead of the hosts
    /// the endpoint implies.
    pub fn new(endpoint: &str, username: &str, password: &str, autodiscover_at: Option<&str>) -> Self {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let discovery = discovery::Discovery::plan(endpoint, autodiscover_at);
        let address = discovery.as_ref().and_then(|d| d.address.clone()).or_else(|| username.contains('@').then(|| username.to_string()));
        Ews {
            endpoint: endpoint.to_string(),
            username: username.to_string(),
            authorization: format!("Basic {token}"),
            authenticated: false,
            retried_401: false,
            in_flight: IN_FLIGHT,
            discovery,
            address,
            discovered: None,
            public_route: None,
            routing: false,
            impersonating: None,
            delegate_of: None,
        }
    }

    /// Act for `mailbox` from now on (None: the account's own mailbox).
    pub fn act_for(&mut self, mailbox: Option<&str>) {
        self.impersonating = mailbox.map(str::to_string);
        self.delegate_of = None;
    }

    /// Open `mailbox` as a delegate from now on: no impersonation, the
    /// mailbox named in distinguished folder ids, X-AnchorMailbox kept.
    pub fn delegate_for(&mut self, mailbox: &str) {
        self.impersonating = None;
        self.delegate_of = Some(mailbox.to_string());
    }

    /// The account's own address, where it is known.
    pub fn own_address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// Send the next requests as public-folder requests, with the routing
    /// headers, found out by Autodiscover on first use. A warning comes
    /// back when they cannot be found out: the requests then go without.
    pub fn start_public(&mut self) -> Option<String> {
        self.routing = true;
        if self.public_route.is_some() {
            return None;
        }
        let found = self.find_public_route();
        let (route, warning) = match found {
            Ok(route) => (route, None),
            Err(why) => (None, Some(format!("public-folder requests are sent without routing headers (X-AnchorMailbox, X-PublicFolderMailbox): {why}"))),
        };
        self.public_route = Some(route);
        warning
    }

    /// Whether public-folder requests carry routing headers.
    pub fn has_public_route(&self) -> bool {
        matches!(self.public_route, Some(Some(_)))
    }

    pub fn end_public(&mut self) {
        self.routing = false;
    }

    /// Ok(None): Autodiscover names no public folder mailbox (Exchange 2010,
    /// or no public folders), so there is nothing to route by.
    fn find_public_route(&mut self) -> std::result::Result<Option<PublicRoute>, String> {
        self.find_endpoint().map_err(|e| e.message)?;
        let Some(address) = self.address.clone() else {
            return Err(format!("Autodiscover needs the account's email address as user name ('{}' is none)", self.username));
        };
        let (base, anchor) = match self.discovered.as_ref() {
            Some((base, found)) => (base.clone(), found.public_folder_mailbox.clone()),
            None => {
                let base = url::Url::parse(&self.endpoint).map_err(|e| e.to_string())?.origin().ascii_serialization();
                let found = autodiscover::discover(&base, &address, &self.authorization).map_err(|e| e.message)?;
                (base, found.public_folder_mailbox)
            }
        };
        let Some(anchor) = anchor else { return Ok(None) };
        let settings = user_settings::get(&base, &anchor, &["InternalRpcClientServer"], &self.authorization).map_err(|e| e.message)?;
        let server = settings
            .into_iter()
            .find_map(|(name, value)| (name == "InternalRpcClientServer").then_some(value))
            .ok_or_else(|| format!("Autodiscover gave no InternalRpcClientServer for the public folder mailbox {anchor}"))?;
        Ok(Some(PublicRoute { anchor, server }))
    }

    /// The EWS URL: the configured one, or the one Autodiscover found.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Ask Autodiscover for the EWS URL if the endpoint is not it.
    fn find_endpoint(&mut self) -> Result<()> {
        let Some(discovery) = self.discovery.take() else { return Ok(()) };
        let (base, settings) = discovery.find(&self.username, &self.authorization)?;
        crate::report::info(&format!("Autodiscover at {base} found the EWS URL {}", settings.ews_url));
        self.endpoint = settings.ews_url.clone();
        self.discovered = Some((base, settings));
        Ok(())
    }

    /// Connect, authenticate and read the server's version.
    pub fn server_version(&mut self) -> Result<ServerVersion> {
        let (mut parser, version) = self.call(&get_folder::request(&[FolderRef::Distinguished("msgfolderroot")]), get_folder::parser)?;
        if let Some(Err(status)) = parser.results.pop() {
            return Err(self.message_error("reading the mailbox root", &status));
        }
        version.ok_or_else(|| {
            Error::new(Kind::NotExchange, format!("{} answered without ServerVersionInfo: not an Exchange server?", self.endpoint))
        })
    }

    /// The SMTP address the directory has for `entry` (a legacy DN), if it
    /// finds exactly that.
    pub fn resolve_name(&mut self, entry: &str) -> Result<Option<String>> {
        let (parser, _) = self.call(&resolve_names::request(entry), resolve_names::parser)?;
        Ok(resolve_names::found(parser))
    }

    /// Ask the directory about `entry` now, to read the answer later with
    /// [`Ews::resolve_name_sent`]; not while the server asks to be spared.
    pub fn resolve_name_early(&self, entry: &str) -> Option<http::Pending> {
        self.send_beside(&resolve_names::request(entry))
    }

    /// The answer asked for early, or, if that went wrong in any way, asked
    /// for again with the retries of [`Ews::resolve_name`].
    pub fn resolve_name_sent(&mut self, sent: Option<http::Pending>, entry: &str) -> Result<Option<String>> {
        self.sent_or_again(sent, resolve_names::parser(), |_, parser| Ok(resolve_names::found(parser)), |ews| ews.resolve_name(entry))
    }

    /// Folders by reference, one result per folder in request order.
    pub fn get_folders(&mut self, folders: &[FolderRef]) -> Result<Vec<std::result::Result<FolderInfo, Status>>> {
        let (parser, _) = self.call(&get_folder::request(folders), get_folder::parser)?;
        Ok(parser.results)
    }

    /// The organisation's mailboxes (GetSearchableMailboxes), as the
    /// account itself (never impersonating).
    pub fn searchable_mailboxes(&mut self) -> Result<Vec<String>> {
        let acting = self.impersonating.take();
        let result = self.call(&get_searchable_mailboxes::request(), get_searchable_mailboxes::parser);
        self.impersonating = acting;
        let parser = result?.0;
        if parser.status.is_error() {
            let mut e = self.message_error("listing the organisation's mailboxes", &parser.status);
            e.message.push_str(
                ". mailboxes = \"all\" on premises lists them with GetSearchableMailboxes, which needs the Mailbox Search role \
                 (New-ManagementRoleAssignment -Role \"Mailbox Search\" -User <the account>); or name the mailboxes instead",
            );
            return Err(e);
        }
        Ok(parser.found)
    }

    /// The room mailboxes of every room list (GetRoomLists, then GetRooms
    /// per list).
    pub fn rooms(&mut self) -> Result<Vec<String>> {
        let acting = self.impersonating.take();
        let result = (|| {
            let lists = self.call(&get_rooms::lists_request(), get_rooms::lists_parser)?.0;
            if lists.status.is_error() {
                return Err(self.message_error("listing room lists", &lists.status));
            }
            let mut rooms = Vec::new();
            for list in &lists.found {
                let found = self.call(&get_rooms::rooms_request(list), get_rooms::rooms_parser)?.0;
                if found.status.is_error() {
                    return Err(self.message_error(&format!("listing the rooms of {list}"), &found.status));
                }
                rooms.extend(found.found);
            }
            Ok(rooms)
        })();
        self.impersonating = acting;
        result
    }

    /// `get_folders`, with each folder's readers from its permissions.
    pub fn get_folders_with_readers(&mut self, folders: &[FolderRef]) -> Result<Vec<std::result::Result<FolderInfo, Status>>> {
        let (parser, _) = self.call(&get_folder::request_with_permissions(folders), get_folder::parser)?;
        Ok(parser.results)
    }

    /// The changes to the folders below `root` since `state` (None: from
    /// the beginning, every folder made), and the state to keep. The
    /// page's status is the caller's to judge: a stale state is no failure.
    pub fn folder_changes(&mut self, root: &FolderRef, state: Option<&str>) -> Result<sync_folder_hierarchy::Page> {
        let mut state = state.map(str::to_string);
        let mut changes = Vec::new();
        loop {
            let (parser, _) = self.call(&sync_folder_hierarchy::request(root, state.as_deref()), sync_folder_hierarchy::Parser::default)?;
            let mut page = parser.page;
            changes.append(&mut page.changes);
            // Exchange answers the whole hierarchy at once; were it ever
            // cut, the rest follows from the new state.
            if page.last || page.status.is_error() || page.state.is_empty() || state.as_deref() == Some(page.state.as_str()) {
                page.changes = changes;
                return Ok(page);
            }
            state = Some(page.state);
        }
    }

    /// Every folder below `root`, all pages.
    pub fn folder_tree(&mut self, root: &FolderRef, traversal: Traversal) -> Result<Vec<FolderInfo>> {
        let mut folders = Vec::new();
        let mut offset = 0;
        loop {
            let (parser, _) = self.call(&find_folder::request(root, traversal, offset, FOLDER_PAGE), || find_folder::Parser::new(offset))?;
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
        let folder = FolderRef::Id(folder_id.to_string());
        let (parser, _) = self.call(&find_item::request(&folder, offset, find_item::MAX_PAGE), || find_item::Parser::new(offset))?;
        if parser.page.status.is_error() {
            return Err(self.message_error("listing the items of a folder", &parser.page.status));
        }
        Ok(parser.page)
    }

    /// Changes to a folder since `state` (None: from the beginning). The
    /// page's status is the caller's to judge: a stale state is no failure.
    pub fn sync_items(&mut self, folder_id: &str, state: Option<&str>) -> Result<sync_folder_items::Page> {
        let (parser, _) = self.call(&Self::sync_request(folder_id, state), sync_folder_items::Parser::default)?;
        Ok(parser.page)
    }

    /// Ask for the page after `state` now, to read it later with
    /// [`Ews::sync_items_sent`]: the server lists it while we read the
    /// contacts of this page.
    pub fn sync_items_early(&mut self, folder_id: &str, state: &str) -> Option<http::Pending> {
        self.send_early(&Self::sync_request(folder_id, Some(state)))
    }

    /// The page asked for early, or, if that went wrong in any way, asked
    /// for again with the retries of [`Ews::sync_items`].
    pub fn sync_items_sent(&mut self, sent: Option<http::Pending>, folder_id: &str, state: &str) -> Result<sync_folder_items::Page> {
        let parser = sync_folder_items::Parser::default();
        self.sent_or_again(sent, parser, |_, parser| Ok(parser.page), |ews| ews.sync_items(folder_id, Some(state)))
    }

    /// Attachments' contents, one result per id, in order.
    pub fn get_attachments(&mut self, ids: &[&str]) -> Result<Vec<std::result::Result<get_attachment::Content, Status>>> {
        let (parser, _) = self.call(&get_attachment::request(ids), get_attachment::parser)?;
        self.check_count(parser.results, ids.len())
    }

    /// Ask for attachments now, to read them later with
    /// [`Ews::attachments_sent`]; not while the server asks to be spared
    /// (then they are asked for when read).
    pub fn attachments_early(&self, ids: &[&str]) -> Option<http::Pending> {
        self.send_beside(&get_attachment::request(ids))
    }

    /// The attachments asked for early, or, if that went wrong in any way,
    /// asked for again with the retries of [`Ews::get_attachments`].
    pub fn attachments_sent(&mut self, sent: Option<http::Pending>, ids: &[&str]) -> Result<Vec<std::result::Result<get_attachment::Content, Status>>> {
        let parser = get_attachment::parser();
        self.sent_or_again(sent, parser, |ews, parser| ews.check_count(parser.results, ids.len()), |ews| ews.get_attachments(ids))
    }

    fn sync_request(folder_id: &str, state: Option<&str>) -> String {
        sync_folder_items::request(&FolderRef::Id(folder_id.to_string()), state, SYNC_PAGE)
    }

    /// Full items, one result per id, in order. A batch whose answer
    /// cannot be read even on retry is split in halves until the broken
    /// item stands alone: it fails, the others are read.
    pub fn get_items(&mut self, ids: &[ItemRef]) -> Result<Vec<Result<FetchedItem, Status>>> {
        self.read_split::<pipeline::Contacts>(ids)
    }

    /// Messages with their bodies and attachment lists, as
    /// [`Ews::get_items`] reads contacts.
    pub fn get_messages(&mut self, ids: &[String]) -> Result<Vec<Result<get_message::MailItem, Status>>> {
        self.read_split::<pipeline::Messages>(ids)
    }

    /// GetItem of what `R` reads, split on an unreadable answer.
    fn read_split<R: pipeline::Read>(&mut self, ids: &[R::Id]) -> Result<Vec<Result<R::Item, Status>>> {
        let once = self
            .call(&R::request(ids), || response::PerObject::<R::Item>::new("Items"))
            .and_then(|(parser, _)| self.check_count(parser.results, ids.len()));
        match once {
            Err(e) if matches!(e.kind, Kind::Protocol | Kind::Unreadable) && ids.len() > 1 => {
                let (left, right) = ids.split_at(ids.len() / 2);
                let mut results = self.read_split::<R>(left)?;
                results.extend(self.read_split::<R>(right)?);
                Ok(results)
            }
            Err(e) if matches!(e.kind, Kind::Protocol | Kind::Unreadable) => Ok(vec![Err(Status {
                class: "Error".into(),
                code: "Unreadable".into(),
                text: e.message,
                back_off_ms: None,
            })]),
            other => other,
        }
    }

    /// GetItem for many batches through a [`pipeline::Pipeline`]; `each`
    /// gets every batch's results, in order.
    pub fn get_items_each(&mut self, batches: &[&[ItemRef]], mut each: impl FnMut(usize, pipeline::Results) -> Result<()>) -> Result<()> {
        let mut pipeline = pipeline::Pipeline::<pipeline::Contacts>::default();
        for batch in batches {
            pipeline.push(self, batch.to_vec());
        }
        let mut i = 0;
        while let Some(next) = pipeline.next(self) {
            each(i, next?.1)?;
            i += 1;
        }
        Ok(())
    }

    /// Send an operation without waiting for the answer; None if it could
    /// not be sent (the caller then sends it again the usual way).
    fn send_early(&self, operation: &str) -> Option<http::Pending> {
        let body = envelope::envelope_as(operation, self.impersonating.as_deref());
        http::post_later(&self.endpoint, &self.headers(), body.as_bytes()).ok()
    }

    /// [`Ews::send_early`] for an operation beside the reading of items:
    /// not while the server asks to be spared (the caller then sends it
    /// when it needs the answer).
    fn send_beside(&self, operation: &str) -> Option<http::Pending> {
        if self.in_flight > 1 { self.send_early(operation) } else { None }
    }

    /// Read the answer to an operation sent early. No retries here: the
    /// caller falls back to sending it again with them.
    fn read_early<H: MessageHandler<Input>>(&mut self, sent: Option<http::Pending>, handler: &mut H) -> Result<()> {
        let request = sent.ok_or_else(|| Error::protocol("not sent"))?;
        self.read(request.response()?, handler)?;
        self.accepted();
        Ok(())
    }

    /// The answer to an operation sent early, read by `handler` and
    /// taken out by `take`; if any of that went wrong, `again`: the
    /// operation sent again, with its retries.
    fn sent_or_again<H: MessageHandler<Input>, T>(
        &mut self,
        sent: Option<http::Pending>,
        mut handler: H,
        take: impl FnOnce(&Self, H) -> Result<T>,
        again: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        match self.read_early(sent, &mut handler).and_then(|()| take(self, handler)) {
            Ok(taken) => Ok(taken),
            Err(_) => again(self),
        }
    }

    /// A request of the run was accepted.
    fn accepted(&mut self) {
        self.authenticated = true;
        self.retried_401 = false;
    }

    fn check_count<T>(&self, results: Vec<T>, asked: usize) -> Result<Vec<T>> {
        if results.len() != asked {
            return Err(Error::protocol(format!("{}: GetItem answered {} messages for {} ids", self.endpoint, results.len(), asked)));
        }
        Ok(results)
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

    /// Send an operation, retrying what may pass (dropped connections,
    /// busy servers in every form they say so, a truncated answer) with
    /// capped exponential back-off; `handler` makes a fresh parser per try.
    fn call<H: MessageHandler<Input>>(&mut self, operation: &str, mut handler: impl FnMut() -> H) -> Result<(H, Option<ServerVersion>)> {
        self.find_endpoint()?;
        let body = envelope::envelope_as(operation, self.impersonating.as_deref());
        let name = operation.get(3..).and_then(|op| op.split([' ', '>']).next()).unwrap_or("request").to_string();
        // An unreadable answer is tried once more (a body cut short); an
        // answer unreadable twice is broken, and the caller decides.
        let mut unreadable_before = false;
        http::with_retries(&format!("{} {name}", self.endpoint), |_| {
            let mut parser = handler();
            let version = match self.attempt(&body, &mut parser) {
                Err(e) if e.kind == Kind::Unreadable && unreadable_before => return Err(Error::new(Kind::Unreadable, e.message)),
                Err(e) => {
                    unreadable_before |= e.kind == Kind::Unreadable;
                    return Err(e);
                }
                Ok(version) => version,
            };
            self.accepted();
            Ok((parser, version))
        })
    }

    fn attempt<H: MessageHandler<Input>>(&mut self, body: &str, handler: &mut H) -> Result<Option<ServerVersion>> {
        let response = http::post(&self.endpoint, &self.headers(), body.as_bytes())?;
        self.read(response, handler)
    }

    fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut headers = vec![("content-type", "text/xml; charset=utf-8"), ("authorization", self.authorization.as_str())];
        if let (true, Some(Some(route))) = (self.routing, &self.public_route) {
            headers.push(("x-anchormailbox", route.anchor.as_str()));
            headers.push(("x-publicfoldermailbox", route.server.as_str()));
        } else if let Some(mailbox) = self.impersonating.as_ref().or(self.delegate_of.as_ref()) {
            // Impersonated requests must name their mailbox for routing
            // ("you must always use" it).
            headers.push(("x-anchormailbox", mailbox.as_str()));
        }
        headers
    }

    /// Judge an answer by its HTTP status, then stream its SOAP envelope
    /// through `handler`.
    fn read<H: MessageHandler<Input>>(&mut self, response: http::Response, handler: &mut H) -> Result<Option<ServerVersion>> {
        let is_xml = response.content_type.contains("xml");
        match response.status {
            // Credentials that worked a moment ago: a passing glitch
            // (a restarting front end); try once more.
            401 if self.authenticated && !self.retried_401 => {
                self.retried_401 = true;
                return Err(Error::transient(Kind::Authentication, format!("{} answered HTTP 401 in the middle of a run", self.endpoint), None));
            }
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
            // A redirect to the generic error page is Exchange's way of
            // saying it is unwell for a moment; any other (to OWA's logon
            // page, from http to https) means the endpoint is not EWS.
            status @ 300..=399 if !response.location.as_deref().is_some_and(|l| l.to_ascii_lowercase().contains("genericerrorpage")) => {
                let to = response.location.as_deref().unwrap_or("nowhere it names");
                return Err(Error::new(
                    Kind::Configuration,
                    format!(
                        "{} redirects (HTTP {status}) to {to}: that is not the EWS endpoint. Set [exchange] endpoint \
                         to the EWS URL, which usually ends in /EWS/Exchange.asmx",
                        self.endpoint
                    ),
                ));
            }
            // IIS queueing (503), throttling (429), the generic error page
            // redirect, an ASP.NET error page (500 without XML).
            status @ (300..=399 | 429 | 503) | status @ 500 if status != 500 || !is_xml => {
                let hint = response.retry_after.map(|s| s * 1000);
                return Err(Error::transient(Kind::Throttled, format!("{} answered HTTP {status}", self.endpoint), hint));
            }
            200 | 500 => {}
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
        if !is_xml {
            return Err(Error::new(
                Kind::NotExchange,
                format!("{} answered HTTP {} with {}: not an EWS endpoint?", self.endpoint, response.status, response.content_type),
            ));
        }
        read_response(BufReader::with_capacity(64 * 1024, response.body), handler).map_err(|e| match e {
            ResponseError::NotSoap(why) => Error::new(
                Kind::NotExchange,
                format!("{} did not answer with a SOAP envelope ({why}): not an EWS endpoint?", self.endpoint),
            ),
            ResponseError::Transport(why) => Error::transient(Kind::Unreachable, format!("{}: {why}", self.endpoint), None),
            ResponseError::Busy { back_off_ms } => {
                Error::transient(Kind::Throttled, format!("{} is busy (ErrorServerBusy)", self.endpoint), back_off_ms)
            }
            ResponseError::Fault { code, message, back_off_ms } => {
                let text = format!("{} refused the request: {code}: {message}", self.endpoint);
                match code.as_str() {
                    "ErrorServerBusy" => Error::transient(Kind::Throttled, text, back_off_ms),
                    "ErrorTimeoutExpired" | "ErrorInternalServerTransientError" | "ErrorMailboxStoreUnavailable" => {
                        Error::transient(Kind::Protocol, text, back_off_ms)
                    }
                    "ErrorAccessDenied" => Error::new(Kind::AccessDenied, text),
                    _ => Error::new(Kind::Protocol, text),
                }
            }
            ResponseError::Malformed(why) => {
                Error::transient(Kind::Unreadable, format!("{} sent a response we cannot read: {why}", self.endpoint), None)
            }
        })
    }
}

