//! The emulator's EWS operations: reads a SOAP request, answers as Exchange
//! Server 2016 does, with real envelopes, one response message per
//! requested object in request order, and Exchange's limits.

pub mod calendar;
pub mod directory;
pub mod mail;
mod permissions;
pub mod request;
pub mod schema;
pub mod shape;
mod sync_folder_hierarchy;

use super::data::{BROKEN_ITEM_ID, Change, Contact, Folder, Mailbox, VANISHING_ITEM_ID};
use super::faults::{Fault, Faults};
use super::state_token;
use crate::escape::escape;
use request::{MESSAGES, Node as Element, SOAP11 as SOAP, TYPES};
use shape::Shape;
use std::fmt::Write;

/// EWSFindCountLimit: FindItem never returns more per page.
pub const FIND_LIMIT: usize = 1000;

pub const SERVER_VERSION: &str = r#"MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11""#;

/// SyncFolderItems never returns more changes per call.
pub const SYNC_LIMIT: usize = 512;

pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// an item the vanished-item fault answered as not found: it is to go
    pub vanished: Option<String>,
    /// the operation, for the emulator's request counters
    pub operation: String,
    /// the names of the attachments GetAttachment sent
    pub downloads: Vec<String>,
}

impl Answer {
    /// A SOAP fault (HTTP 500), as Exchange answers a request it refuses
    /// whole.
    pub fn fault(code: &str, text: &str, operation: String) -> Answer {
        Answer { status: 500, body: fault(code, text).into_bytes(), vanished: None, operation, downloads: Vec::new() }
    }

    /// An operation this server does not serve, refused whole.
    pub fn unsupported(operation: &str) -> Answer {
        let text = format!("The request is invalid: {operation} is not supported by this server.");
        Answer::fault("ErrorInvalidRequest", &text, operation.to_string())
    }
}

/// The operation a request asks for, if it reads as one.
pub fn operation_name(request: &[u8]) -> Option<String> {
    request::parse(request).ok().map(|r| r.operation.name)
}

/// Whether a SyncFolderItems request carries a sync state.
pub fn has_sync_state(request: &[u8]) -> bool {
    request::parse(request).is_ok_and(|r| {
        r.operation
            .child_text("SyncState")
            .is_some_and(|s| !s.trim().is_empty())
    })
}

/// ErrorServerBusy as a SOAP fault, with the back-off in the detail.
pub fn busy_fault() -> String {
    fault("ErrorServerBusy", "The server cannot service this request right now. Try again later.").replace(
        "</detail>",
        &format!(r#"<t:MessageXml xmlns:t="{TYPES}"><t:Value Name="BackOffMilliseconds">{BUSY_BACK_OFF_MS}</t:Value></t:MessageXml></detail>"#),
    )
}

/// The back-off the busy faults suggest: short, so that tests stay quick.
const BUSY_BACK_OFF_MS: u64 = 200;

/// `routed`: the request carries the public folder routing headers (or
/// the emulator was told not to ask for them).
pub fn handle(
    mailbox: &Mailbox,
    request: &[u8],
    faults: &Faults,
    injected: Option<Fault>,
    routed: bool,
) -> Answer {
    let parsed = match request::parse(request) {
        Ok(parsed) => parsed,
        Err(why) => return Answer::fault("ErrorSchemaValidation", &why, "Invalid".into()),
    };
    if let Err(refusal) = schema::check(&parsed) {
        return Answer::fault(refusal.code, &refusal.text, "Invalid".into());
    }
    let operation = parsed.operation;
    let name = operation.name.clone();
    // Exchange 2013 and later: a public-folder request without the routing
    // headers reaches a mailbox server that holds no public folder
    // mailbox (reference/ews-and-graph-protocol.md, public folders; F13 of
    // the 2026-12-01 review).
    if !routed && touches_public(mailbox, &operation) {
        let text = "There are no public folder servers available.";
        let count = ["FolderIds", "ParentFolderIds", "ItemIds"].iter().find_map(|c| operation.child(c)).map_or(1, |c| c.children.len().max(1));
        let messages: String = (0..count).map(|_| error(&name, "ErrorNoPublicFolderReplicaAvailable", text, "")).collect();
        let body = response(&name, &messages);
        return Answer { status: 200, body: wire(envelope(&body)), vanished: None, operation: name, downloads: Vec::new() };
    }
    let shape_of = if name.contains("Folder") && name != "SyncFolderItems" {
        "FolderShape"
    } else {
        "ItemShape"
    };
    let shape = match Shape::read(operation.child(shape_of)) {
        Ok(shape) => shape,
        Err(path) => {
            let text = format!("The property path '{path}' is not valid for this request.");
            let body = response(
                &name,
                &error(&name, "ErrorInvalidPropertyRequest", &text, ""),
            );
            return Answer {
                status: 200,
                body: wire(envelope(&body)),
                vanished: None,
                operation: name,
                downloads: Vec::new(),
            };
        }
    };
    let mut vanished = None;
    let mut downloads = Vec::new();
    let body = match (name.as_str(), injected) {
        (op, Some(Fault::BusyMessage)) => response(
            op,
            &error(
                op,
                "ErrorServerBusy",
                "The server cannot service this request right now. Try again later.",
                &format!(
                    r#"<m:MessageXml><t:Value Name="BackOffMilliseconds">{BUSY_BACK_OFF_MS}</t:Value></m:MessageXml>"#
                ),
            ),
        ),
        ("SyncFolderItems", Some(Fault::InvalidSyncState)) => response(
            "SyncFolderItems",
            &error(
                "SyncFolderItems",
                "ErrorInvalidSyncStateData",
                "Synchronization state data is corrupt or otherwise invalid.",
                "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>",
            ),
        ),
        ("GetFolder", _) => get_folder(mailbox, &operation, &shape),
        ("FindFolder", _) => find_folder(mailbox, &operation, &shape),
        ("SyncFolderHierarchy", _) => sync_folder_hierarchy::answer(mailbox, &operation, &shape),
        ("FindItem", _) => find_item(mailbox, &operation),
        ("GetItem", fault) => {
            let spoil = Spoil {
                faults,
                vanish: (fault == Some(Fault::VanishedItem)).then_some(&mut vanished),
            };
            get_item(mailbox, &operation, &shape, spoil)
        }
        ("SyncFolderItems", _) => match sync_folder_items(mailbox, &operation, &shape) {
            Ok(body) => body,
            Err(why) => return Answer::fault("ErrorSchemaValidation", &why, name),
        },
        ("ConvertId", _) => convert_id(&operation),
        ("GetAttachment", _) => {
            let ids: Vec<String> = operation
                .child("AttachmentIds")
                .map(|ids| ids.children.iter().filter_map(|id| id.attr("Id")).map(str::to_string).collect())
                .unwrap_or_default();
            let (body, sent) = mail::get_attachment(mailbox, &ids);
            downloads = sent;
            body
        }
        ("ResolveNames", _) => resolve_names(mailbox, &operation),
        (other, _) => return Answer::unsupported(other),
    };
    Answer {
        status: 200,
        body: wire(envelope(&body)),
        vanished,
        operation: name,
        downloads,
    }
}

/// What the persistent faults do to GetItem answers, and the vanished-item
/// fault's choice.
struct Spoil<'a> {
    faults: &'a Faults,
    vanish: Option<&'a mut Option<String>>,
}

/// The bytes on the wire. Folder names in the data may hold U+0001, which
/// Exchange writes as a character reference XML 1.0 forbids, and U+E000,
/// which stands for a byte that is not UTF-8: both occur in real mailboxes.
fn wire(xml: String) -> Vec<u8> {
    // U+E000 is EE 80 80 in UTF-8: bytes first, characters only if needed.
    if memchr::memchr2(0x01, 0xEE, xml.as_bytes()).is_none() || !xml.contains(['\u{1}', '\u{E000}']) {
        return xml.into_bytes();
    }
    let xml = xml.replace('\u{1}', "&#x1;");
    let mut bytes = Vec::with_capacity(xml.len());
    for part in xml.split('\u{E000}') {
        bytes.extend_from_slice(part.as_bytes());
        bytes.push(0xFF);
    }
    bytes.pop();
    bytes
}

fn envelope(body: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{soap}"><s:Header>"#,
            r#"<h:ServerVersionInfo {version} xmlns:h="{types}" xmlns="{types}" "#,
            r#"xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>"#,
            r#"</s:Header><s:Body>{body}</s:Body></s:Envelope>"#
        ),
        soap = SOAP,
        version = SERVER_VERSION,
        types = TYPES,
        body = body
    )
}

pub fn fault(code: &str, text: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{soap}"><s:Body><s:Fault>"#,
            r#"<faultcode xmlns:a="{types}">a:{code}</faultcode><faultstring xml:lang="en-US">{text}</faultstring>"#,
            r#"<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:ResponseCode>"#,
            r#"<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{text}</e:Message></detail>"#,
            r#"</s:Fault></s:Body></s:Envelope>"#
        ),
        soap = SOAP,
        types = TYPES,
        code = code,
        text = escape(text)
    )
}

fn response(operation: &str, messages: &str) -> String {
    format!(
        r#"<m:{operation}Response xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><m:ResponseMessages>{messages}</m:ResponseMessages></m:{operation}Response>"#
    )
}

fn success(operation: &str, content: &str) -> String {
    format!(
        r#"<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>{content}</m:{operation}ResponseMessage>"#
    )
}

fn error(operation: &str, code: &str, text: &str, empty: &str) -> String {
    format!(
        concat!(
            r#"<m:{op}ResponseMessage ResponseClass="Error"><m:MessageText>{text}</m:MessageText>"#,
            r#"<m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{empty}</m:{op}ResponseMessage>"#
        ),
        op = operation,
        text = escape(text),
        code = code,
        empty = empty
    )
}

const FOLDER_NOT_FOUND: &str = "The specified folder could not be found in the store.";
const ACCESS_DENIED: &str = "Access is denied. Check credentials and try again.";

/// The folders a request names (`FolderIds`, `ParentFolderIds`), in order;
/// None for an id that names no folder. A `DistinguishedFolderId` may carry
/// a `Mailbox`, as exchangelib sends it: this mailbox is the only one.
fn folder_refs<'a>(mailbox: &'a Mailbox, container: Option<&Element>) -> Vec<Option<&'a Folder>> {
    let Some(container) = container else {
        return Vec::new();
    };
    container
        .children
        .iter()
        .map(|id| match (id.name.as_str(), id.attr("Id")) {
            ("DistinguishedFolderId", Some(name)) => mailbox.distinguished(name),
            ("FolderId", Some(id)) => mailbox.folder(id),
            _ => None,
        })
        .collect()
}

/// Offset and page size of an indexed view; BasePoint End counts back.
fn page_window(view: Option<&Element>, total: usize, limit: usize) -> (usize, usize) {
    let number = |name: &str| {
        view.and_then(|v| v.attr(name))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let max = number("MaxEntriesReturned").unwrap_or(limit).min(limit);
    let offset = number("Offset").unwrap_or(0);
    let start = if view.and_then(|v| v.attr("BasePoint")) == Some("End") {
        total.saturating_sub(offset + max)
    } else {
        offset.min(total)
    };
    (start, max)
}

fn root_folder(start: usize, shown: usize, total: usize, container: &str, entries: &str) -> String {
    let next = start + shown;
    format!(
        r#"<m:RootFolder IndexedPagingOffset="{next}" TotalItemsInView="{total}" IncludesLastItemInRange="{}"><t:{container}>{entries}</t:{container}></m:RootFolder>"#,
        next >= total
    )
}

/// PidTagAttributeHidden: Exchange 2013 and later hide their internal
/// folders (Recipient Cache, Quick Contacts, ...) with it.
const HIDDEN_TAG: &str = "0x10f4";

/// A folder in BaseFolderType's element order, with what the shape asks
/// for. A folder without a class (made by some clients) has no FolderClass.
fn folder_xml(mailbox: &Mailbox, folder: &Folder, shape: &Shape) -> String {
    let mut xml = format!(
        r#"<t:{0}><t:FolderId Id="{1}" ChangeKey="{2}"/>"#,
        folder.element,
        escape(&folder.id),
        folder.change_key
    );
    if let Some(parent) = folder
        .parent
        .as_ref()
        .filter(|_| shape.wants("ParentFolderId"))
    {
        let _ = write!(
            xml,
            r#"<t:ParentFolderId Id="{}" ChangeKey="AQAAAA=="/>"#,
            escape(parent)
        );
    }
    if shape.wants("FolderClass") && !folder.class.is_empty() {
        let _ = write!(
            xml,
            "<t:FolderClass>{}</t:FolderClass>",
            escape(&folder.class)
        );
    }
    if shape.wants("DisplayName") {
        let _ = write!(
            xml,
            "<t:DisplayName>{}</t:DisplayName>",
            escape(&folder.name)
        );
    }
    if shape.wants("TotalCount") {
        let _ = write!(
            xml,
            "<t:TotalCount>{}</t:TotalCount>",
            mailbox.item_count(folder)
        );
    }
    if shape.wants("ChildFolderCount") {
        let _ = write!(
            xml,
            "<t:ChildFolderCount>{}</t:ChildFolderCount>",
            mailbox.subfolders(&folder.id, false).len()
        );
    }
    if shape.wants_tag(HIDDEN_TAG) {
        let _ = write!(
            xml,
            r#"<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="{HIDDEN_TAG}" PropertyType="Boolean"/><t:Value>{}</t:Value></t:ExtendedProperty>"#,
            folder.hidden
        );
    }
    if let Some(name) = folder
        .distinguished
        .filter(|_| shape.wants("DistinguishedFolderId"))
    {
        let _ = write!(
            xml,
            "<t:DistinguishedFolderId>{name}</t:DistinguishedFolderId>"
        );
    }
    // Only when named: FindFolder cannot return it (below).
    if shape.names("PermissionSet") && folder.element != "SearchFolder" {
        xml.push_str(&permissions::permission_set(folder));
    }
    if matches!(folder.element, "Folder" | "SearchFolder") && shape.wants("UnreadCount") {
        xml.push_str("<t:UnreadCount>0</t:UnreadCount>");
    }
    let _ = write!(xml, "</t:{}>", folder.element);
    xml
}

fn get_folder(mailbox: &Mailbox, op: &Element, shape: &Shape) -> String {
    let messages: String = folder_refs(mailbox, op.child("FolderIds"))
        .into_iter()
        .map(|found| match found {
            Some(folder) if folder.denied => error(
                "GetFolder",
                "ErrorAccessDenied",
                ACCESS_DENIED,
                "<m:Folders/>",
            ),
            Some(folder) => success(
                "GetFolder",
                &format!(
                    "<m:Folders>{}</m:Folders>",
                    folder_xml(mailbox, folder, shape)
                ),
            ),
            None => error(
                "GetFolder",
                "ErrorFolderNotFound",
                FOLDER_NOT_FOUND,
                "<m:Folders/>",
            ),
        })
        .collect();
    response("GetFolder", &messages)
}

fn find_folder(mailbox: &Mailbox, op: &Element, shape: &Shape) -> String {
    // A folder's permissions come from GetFolder only (the EWS Managed
    // API refuses FolderSchema.Permissions in FindFolders). Not in
    // ../shared: the refusal, its code and its words are ours.
    if shape.names("PermissionSet") {
        let text = "The property 'folder:PermissionSet' is not valid for this request: use GetFolder.";
        return response("FindFolder", &error("FindFolder", "ErrorInvalidPropertyRequest", text, ""));
    }
    let deep = op.attr("Traversal") == Some("Deep");
    let messages: String = folder_refs(mailbox, op.child("ParentFolderIds"))
        .into_iter()
        .map(|found| match found {
            Some(parent) if parent.denied => {
                error("FindFolder", "ErrorAccessDenied", ACCESS_DENIED, "")
            }
            Some(parent) if parent.public && deep => error(
                "FindFolder",
                "ErrorInvalidOperation",
                "Deep traversal is not supported for public folders.",
                "",
            ),
            Some(parent) => {
                let all = mailbox.subfolders(&parent.id, deep);
                let (start, max) =
                    page_window(op.child("IndexedPageFolderView"), all.len(), usize::MAX);
                let page: Vec<&Folder> = all.iter().skip(start).take(max).copied().collect();
                let entries: String = page.iter().map(|f| folder_xml(mailbox, f, shape)).collect();
                success(
                    "FindFolder",
                    &root_folder(start, page.len(), all.len(), "Folders", &entries),
                )
            }
            None => error("FindFolder", "ErrorFolderNotFound", FOLDER_NOT_FOUND, ""),
        })
        .collect();
    response("FindFolder", &messages)
}

fn find_item(mailbox: &Mailbox, op: &Element) -> String {
    let messages: String = folder_refs(mailbox, op.child("ParentFolderIds"))
        .into_iter()
        .map(|found| match found {
            Some(folder) if folder.denied => {
                error("FindItem", "ErrorAccessDenied", ACCESS_DENIED, "")
            }
            Some(folder) => {
                let total = mailbox.item_count(folder);
                let (start, max) = page_window(op.child("IndexedPageItemView"), total, FIND_LIMIT);
                let mut entries = String::new();
                let mut shown = 0;
                for item in mailbox.items_in(folder).skip(start).take(max) {
                    let _ = write!(
                        entries,
                        r#"<t:{0}><t:ItemId Id="{1}" ChangeKey="{2}"/></t:{0}>"#,
                        item.kind,
                        escape(&item.id),
                        item.change_key
                    );
                    shown += 1;
                }
                success(
                    "FindItem",
                    &root_folder(start, shown, total, "Items", &entries),
                )
            }
            None => error("FindItem", "ErrorFolderNotFound", FOLDER_NOT_FOUND, ""),
        })
        .collect();
    response("FindItem", &messages)
}

/// PidTagCustomerId, which the demo's mapping reads. Exchange returns an
/// extended property only when it is asked for.
const CUSTOMER_ID_TAG: &str = "0x3a4a";

fn get_item(mailbox: &Mailbox, op: &Element, shape: &Shape, mut spoil: Spoil) -> String {
    let ids = op
        .child("ItemIds")
        .map(|c| c.children.as_slice())
        .unwrap_or_default();
    // Looked up once, not per contact: most mailboxes deny no folder.
    let denied: Vec<&str> = mailbox
        .folders
        .iter()
        .filter(|f| f.denied)
        .map(|f| f.id.as_str())
        .collect();
    let messages: String = ids
        .iter()
        .map(
            |id| match id.attr("Id").and_then(|id| mailbox.contact(id)) {
                Some(contact) if denied.contains(&contact.folder_id.as_str()) => {
                    error("GetItem", "ErrorAccessDenied", ACCESS_DENIED, "<m:Items/>")
                }
                // Deleted after FindItem listed it: not found now, and gone.
                Some(contact) if spoil.vanish.is_some() && contact.id == VANISHING_ITEM_ID => {
                    if let Some(vanished) = spoil.vanish.as_mut() {
                        **vanished = Some(contact.id.clone());
                    }
                    error(
                        "GetItem",
                        "ErrorItemNotFound",
                        "The specified object was not found in the store.",
                        "<m:Items/>",
                    )
                }
                Some(contact) => {
                    let mut xml = contact_xml(contact, shape);
                    if spoil.faults.broken_item && contact.id == BROKEN_ITEM_ID {
                        xml = xml.replace(
                            "<t:Surname>Item</t:Surname>",
                            "<t:Surname>Item <unclosed</t:Surname>",
                        );
                    }
                    if spoil.faults.bad_chars_id.as_deref() == Some(contact.id.as_str()) {
                        let given =
                            format!("<t:GivenName>{}</t:GivenName>", escape(&contact.given_name));
                        xml = xml.replace(
                            &given,
                            &format!(
                                "<t:GivenName>{}&#x1;&#x1F;&#xFFFE;</t:GivenName>",
                                escape(&contact.given_name)
                            ),
                        );
                    }
                    success("GetItem", &format!("<m:Items>{xml}</m:Items>"))
                }
                None => match id.attr("Id").and_then(|id| mailbox.message(id)) {
                    Some(message) => {
                        let mut xml = mail::message_xml(message, shape);
                        if spoil.faults.message_broken() && mailbox.first_ordinary_message() == Some(message.id.as_str()) {
                            xml = xml.replacen("</t:Subject>", " <unclosed</t:Subject>", 1);
                        }
                        success("GetItem", &format!("<m:Items>{xml}</m:Items>"))
                    }
                    None if let Some(xml) = id.attr("Id").and_then(|id| calendar_or_task(mailbox, id, shape)) => {
                        success("GetItem", &format!("<m:Items>{xml}</m:Items>"))
                    }
                    None => error(
                        "GetItem",
                        "ErrorItemNotFound",
                        "The specified object was not found in the store.",
                        "<m:Items/>",
                    ),
                },
            },
        )
        .collect();
    response("GetItem", &messages)
}

/// An event or a task by id, as GetItem writes it.
fn calendar_or_task(mailbox: &Mailbox, id: &str, shape: &Shape) -> Option<String> {
    use crate::data::calendar::Item;
    let item = mailbox.event(id).map(Item::Event).or_else(|| mailbox.task(id).map(Item::Task))?;
    Some(calendar::item_xml(mailbox, item, shape))
}

/// ResolveNames against the directory: a legacy DN or an SMTP address of
/// a directory entry resolves to its mailbox.
fn resolve_names(mailbox: &Mailbox, op: &Element) -> String {
    const OP: &str = "ResolveNames";
    let entry = op.child_text("UnresolvedEntry").unwrap_or_default().trim();
    let found = mailbox.directory.iter().find(|(dn, smtp)| dn.eq_ignore_ascii_case(entry) || smtp.eq_ignore_ascii_case(entry));
    let message = match found {
        Some((_, smtp)) => success(
            OP,
            &format!(
                concat!(
                    r#"<m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true"><t:Resolution><t:Mailbox>"#,
                    "<t:Name>{0}</t:Name><t:EmailAddress>{0}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>",
                    "<t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet>"
                ),
                escape(smtp.as_str())
            ),
        ),
        None => error(OP, "ErrorNameResolutionNoResults", "No results were found.", ""),
    };
    response(OP, &message)
}

/// exchangelib's version probe: any answer with a version header will do.
fn convert_id(op: &Element) -> String {
    let count = op.child("SourceIds").map_or(1, |s| s.children.len().max(1));
    let messages: String = (0..count)
        .map(|_| {
            error(
                "ConvertId",
                "ErrorInvalidIdMalformed",
                "Id is malformed.",
                "",
            )
        })
        .collect();
    response("ConvertId", &messages)
}

/// A contact in the schema's element order (ItemType, then ContactItemType),
/// with what the shape asks for.
fn contact_xml(c: &Contact, shape: &Shape) -> String {
    let mut x = String::with_capacity(1024);
    let _ = write!(
        x,
        r#"<t:{kind}><t:ItemId Id="{id}" ChangeKey="{ck}"/>"#,
        kind = c.kind,
        id = escape(&c.id),
        ck = c.change_key
    );
    let text = |x: &mut String, name: &str, value: &str| {
        if !value.is_empty() && shape.wants(name) {
            let _ = write!(x, "<t:{name}>{}</t:{name}>", escape(value));
        }
    };
    if shape.wants("ParentFolderId") {
        let _ = write!(
            x,
            r#"<t:ParentFolderId Id="{}" ChangeKey="AQAAAA=="/>"#,
            escape(&c.folder_id)
        );
    }
    text(
        &mut x,
        "ItemClass",
        if c.kind == "Contact" {
            "IPM.Contact"
        } else {
            "IPM.DistList"
        },
    );
    text(&mut x, "Subject", &c.display_name);
    if let (true, Some(customer_id)) = (shape.wants_tag(CUSTOMER_ID_TAG), &c.customer_id) {
        let _ = write!(
            x,
            r#"<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="{CUSTOMER_ID_TAG}" PropertyType="String"/><t:Value>{}</t:Value></t:ExtendedProperty>"#,
            escape(customer_id)
        );
    }
    text(&mut x, "LastModifiedTime", &c.last_modified);
    if c.kind != "Contact" {
        text(&mut x, "DisplayName", &c.display_name);
        let _ = write!(x, "</t:{}>", c.kind);
        return x;
    }
    text(
        &mut x,
        "FileAs",
        &format!("{}, {}", c.surname, c.given_name),
    );
    text(&mut x, "DisplayName", &c.display_name);
    text(&mut x, "GivenName", &c.given_name);
    if shape.wants("CompleteName") {
        let _ = write!(
            x,
            "<t:CompleteName><t:FirstName>{}</t:FirstName><t:LastName>{}</t:LastName><t:FullName>{}</t:FullName></t:CompleteName>",
            escape(&c.given_name),
            escape(&c.surname),
            escape(&c.display_name)
        );
    }
    text(&mut x, "CompanyName", &c.company);
    let emails: Vec<(String, &String)> = c
        .emails
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("EmailAddress{}", i + 1), e))
        .collect();
    dictionary(
        &mut x,
        shape,
        "EmailAddresses",
        emails.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let address = [
        ("Street", &c.street),
        ("City", &c.city),
        ("CountryOrRegion", &c.country),
        ("PostalCode", &c.postal_code),
    ];
    let wanted: Vec<_> = address
        .iter()
        .filter(|(part, _)| shape.wants_entry(&format!("PhysicalAddresses:{part}"), "Business"))
        .collect();
    if !wanted.is_empty() {
        x.push_str(r#"<t:PhysicalAddresses><t:Entry Key="Business">"#);
        for (part, value) in wanted {
            let _ = write!(x, "<t:{part}>{}</t:{part}>", escape(value.as_str()));
        }
        x.push_str("</t:Entry></t:PhysicalAddresses>");
    }
    let phones = [
        ("BusinessPhone", &c.business_phone),
        ("MobilePhone", &c.mobile_phone),
    ];
    dictionary(
        &mut x,
        shape,
        "PhoneNumbers",
        phones
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v))),
    );
    if let Some(day) = &c.birthday {
        text(&mut x, "Birthday", &Mailbox::stored_birthday(day));
    }
    text(&mut x, "Department", &c.department);
    text(&mut x, "JobTitle", &c.job_title);
    text(&mut x, "Surname", &c.surname);
    let _ = write!(x, "</t:{}>", c.kind);
    x
}

/// A dictionary property (`EmailAddresses`, `PhoneNumbers`): the entries
/// asked for, or nothing when none is.
fn dictionary<'a>(
    x: &mut String,
    shape: &Shape,
    name: &str,
    entries: impl Iterator<Item = (&'a str, &'a str)>,
) {
    let mut open = false;
    for (key, value) in entries.filter(|(key, _)| shape.wants_entry(name, key)) {
        if !open {
            let _ = write!(x, "<t:{name}>");
            open = true;
        }
        let _ = write!(x, r#"<t:Entry Key="{key}">{}</t:Entry>"#, escape(value));
    }
    if open {
        let _ = write!(x, "</t:{name}>");
    }
}

const SYNC_STATE: &[u8; 8] = b"EMUSYNC1";

fn sync_folder_items(mailbox: &Mailbox, op: &Element, shape: &Shape) -> Result<String, String> {
    const OP: &str = "SyncFolderItems";
    let max: usize = op
        .child_text("MaxChangesReturned")
        .and_then(|m| m.trim().parse().ok())
        .filter(|m| (1..=SYNC_LIMIT).contains(m))
        .ok_or("The 'MaxChangesReturned' element is invalid: it must be between 1 and 512.")?;
    let found = folder_refs(mailbox, op.child("SyncFolderId"))
        .into_iter()
        .next()
        .flatten();
    let tail = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>";
    let message = match found {
        None => error(OP, "ErrorSyncFolderNotFound", FOLDER_NOT_FOUND, tail),
        Some(folder) if folder.denied => error(OP, "ErrorAccessDenied", ACCESS_DENIED, tail),
        Some(folder) if folder.public || folder.search_source.is_some() => error(
            OP,
            "ErrorInvalidOperation",
            "SyncFolderItems is not supported on this folder.",
            tail,
        ),
        Some(folder) => {
            let since = match op
                .child_text("SyncState")
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                None => Some(0),
                Some(state) => state_token::decode(SYNC_STATE, folder, state),
            };
            match since {
                None => error(
                    OP,
                    "ErrorInvalidSyncStateData",
                    "Synchronization state data is corrupt or otherwise invalid.",
                    tail,
                ),
                Some(since) if ["IPF.Note", "IPF.Appointment", "IPF.Task"].iter().any(|c| folder.class.starts_with(c)) => {
                    let (changes, seq, last) = if folder.class.starts_with("IPF.Note") {
                        mail::changes_xml(mailbox, folder, since, max, shape)
                    } else {
                        calendar::changes_xml(mailbox, folder, since, max, shape)
                    };
                    let state = state_token::encode(SYNC_STATE, folder, seq);
                    success(
                        OP,
                        &format!("<m:SyncState>{state}</m:SyncState><m:IncludesLastItemInRange>{last}</m:IncludesLastItemInRange><m:Changes>{changes}</m:Changes>"),
                    )
                }
                Some(since) => {
                    let (page, seq, last) = mailbox.change_page(folder, since, max);
                    let mut xml = format!(
                        "<m:SyncState>{}</m:SyncState><m:IncludesLastItemInRange>{last}</m:IncludesLastItemInRange><m:Changes>",
                        state_token::encode(SYNC_STATE, folder, seq)
                    );
                    for change in &page {
                        match change {
                            Change::Create(c) | Change::Update(c) => {
                                let kind = if matches!(change, Change::Create(_)) {
                                    "Create"
                                } else {
                                    "Update"
                                };
                                let item = contact_xml(c, shape);
                                let _ = write!(xml, "<t:{kind}>{item}</t:{kind}>");
                            }
                            Change::Delete(t) => {
                                let _ = write!(
                                    xml,
                                    r#"<t:Delete><t:ItemId Id="{}" ChangeKey="{}"/></t:Delete>"#,
                                    escape(&t.id),
                                    t.change_key
                                );
                            }
                        }
                    }
                    xml.push_str("</m:Changes>");
                    success(OP, &xml)
                }
            }
        }
    };
    Ok(response(OP, &message))
}

/// Whether a request names a public folder, or an item in one.
fn touches_public(mailbox: &Mailbox, op: &Element) -> bool {
    let folders = ["FolderIds", "ParentFolderIds", "SyncFolderId"].into_iter().filter_map(|c| op.child(c)).flat_map(|c| folder_refs(mailbox, Some(c)));
    let in_public = |id: &str| mailbox.contact(id).and_then(|c| mailbox.folder(&c.folder_id)).is_some_and(|f| f.public);
    let items = op.child("ItemIds").map(|ids| ids.children.iter().any(|id| id.attr("Id").is_some_and(in_public))).unwrap_or(false);
    items || folders.flatten().any(|f| f.public)
}
