//! The emulator's Microsoft Graph side: the OAuth2 token endpoint (client
//! credentials and refresh tokens, which rotate), and v1.0 users, contact
//! folders and contacts delta, over the same mailboxes as the EWS side;
//! mail folders, messages delta and attachments in mail.rs.
//!
//! Graph has no public folders; Microsoft 365 keeps shared address books in
//! shared mailboxes, so the EWS side's public folders are the contacts of
//! the shared mailbox `support@example.com` here. Rooms are users too
//! (their accounts disabled), listed by `/places/microsoft.graph.room`.

mod batch;
mod calendar;
mod mail;
mod todo;

use super::data::{Change, Contact, Folder, Mailbox};
use super::state_token;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TENANT: &str = "2f1c0a5e-7e6d-4c1b-9a57-3d2b8e1f0c44";
pub const CLIENT_ID: &str = "6b3e8a1d-helpdesk-connector";
pub const CLIENT_SECRET: &str = "emulator-client-secret";
pub use super::SHARED_MAILBOX;
/// Graph's largest page for contacts delta.
const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;
const DELTA: &[u8; 8] = b"EMUDELTA";
const SKIP: &[u8; 8] = b"EMUSKIP1";

pub struct GraphState {
    pub token_lifetime: Duration,
    /// every n-th request finds its token expired, as if it ran out mid-sync
    pub expire_every: Option<u64>,
    requests: Mutex<u64>,
    access: Mutex<HashMap<String, Instant>>,
    refresh: Mutex<HashSet<String>>,
    issued: Mutex<u64>,
    /// device codes handed out and not yet redeemed, by device code
    devices: Mutex<HashMap<String, Device>>,
    /// seconds a device-code client is told to wait between polls
    pub device_interval: u64,
}

/// A device authorization (RFC 8628) as the identity platform keeps it.
struct Device {
    user_code: String,
    /// None while the user has not answered
    approved: Option<bool>,
    expires: Instant,
}

/// How long a device code stays valid (the identity platform's 15 minutes).
const DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(900);
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

impl GraphState {
    pub fn new(token_lifetime: Duration, expire_every: Option<u64>) -> Self {
        GraphState {
            token_lifetime,
            expire_every,
            requests: Default::default(),
            access: Default::default(),
            refresh: Default::default(),
            issued: Default::default(),
            devices: Default::default(),
            device_interval: 5,
        }
    }

    pub fn with_device_interval(mut self, seconds: u64) -> Self {
        self.device_interval = seconds;
        self
    }

    /// What the user does at the verification page: approve (or decline)
    /// the sign-in with the code they were shown. False for no such code.
    pub fn answer_device_code(&self, user_code: &str, approve: bool) -> bool {
        let mut devices = self.devices.lock().unwrap();
        match devices.values_mut().find(|d| d.user_code.eq_ignore_ascii_case(user_code.trim())) {
            Some(device) => {
                device.approved = Some(approve);
                true
            }
            None => false,
        }
    }

    /// A refresh token for the delegated flow, as an admin would paste it.
    pub fn grant_refresh_token(&self) -> String {
        let token = self.mint("refresh");
        self.refresh.lock().unwrap().insert(token.clone());
        token
    }

    fn mint(&self, kind: &str) -> String {
        let mut issued = self.issued.lock().unwrap();
        *issued += 1;
        format!(
            "emu-{kind}-{:016x}",
            (*issued).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
    }

    fn valid(&self, token: &str) -> bool {
        let mut requests = self.requests.lock().unwrap();
        *requests += 1;
        let mut access = self.access.lock().unwrap();
        if self.expire_every.is_some_and(|n| *requests % n == 0) {
            access.remove(token);
        }
        access
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    }
}

#[derive(Debug, Default)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<u64>,
    /// a file's bytes and their content type, sent instead of JSON (`$value`)
    pub raw: Option<(Vec<u8>, String)>,
    /// the names of the attachments whose content was sent
    pub downloads: Vec<String>,
    /// what was asked, for the emulator's statistics; empty: nothing counted
    pub operation: &'static str,
}

pub use batch::answer_batch;

fn answer(status: u16, body: Value) -> Answer {
    Answer { status, body: body.to_string(), ..Default::default() }
}

fn graph_error(status: u16, code: &str, message: &str) -> Answer {
    answer(status, error_body(code, message))
}

/// Graph's error envelope (fixtures/graph errors__01, throttling__01):
/// code, message, and an `innerError` with the request's id and its date,
/// written without a zone as throttling__01 shows it.
fn error_body(code: &str, message: &str) -> Value {
    let date = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let date = date.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    json!({ "error": { "code": code, "message": message, "innerError": { "request-id": "00000000-0000-0000-0000-000000000000", "date": date.trim_end_matches('Z') } } })
}

/// Outlook's 429 (reference: "Application is over its MailboxConcurrency
/// limit"), in the envelope of concepts/throttling.
pub fn throttled() -> Answer {
    let mut body = error_body("ApplicationThrottled", "Application is over its MailboxConcurrency limit.");
    body["error"]["innerError"]["code"] = json!("429");
    body["error"]["innerError"]["status"] = json!("429");
    body["error"]["innerError"]["message"] = json!("Please retry after");
    Answer { status: 429, body: body.to_string(), retry_after: Some(1), ..Default::default() }
}

/// `$select`: only the properties named come back, with `id` and the
/// `@odata` annotations (OData's rule, as every list page documents it).
fn select(mut item: Value, query: &HashMap<String, String>) -> Value {
    if let (Some(names), Some(object)) = (query.get("$select"), item.as_object_mut()) {
        let names: HashSet<&str> = names.split(',').map(str::trim).collect();
        object.retain(|key, _| key == "id" || key.starts_with('@') || names.contains(key.as_str()));
    }
    item
}

/// `POST /{tenant}/oauth2/v2.0/token` with a form body.
/// `resource` is this Graph's base URL: a token is for one resource, and
/// the identity platform refuses a scope naming another (a national
/// cloud's Graph is not graph.microsoft.com).
pub fn token(state: &GraphState, tenant: &str, form: &str, resource: &str) -> Answer {
    let fields: HashMap<String, String> = url::form_urlencoded::parse(form.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    let oauth_error = |status: u16, error: &str, code: u32, text: &str| {
        answer(
            status,
            json!({ "error": error, "error_description": format!("AADSTS{code}: {text}"), "error_codes": [code] }),
        )
    };
    if tenant != TENANT {
        return oauth_error(
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    if field("client_id") != CLIENT_ID {
        return oauth_error(
            400,
            "unauthorized_client",
            700016,
            "Application not found in the directory.",
        );
    }
    let scopes: Vec<&str> = field("scope").split_whitespace().filter(|s| !matches!(*s, "offline_access" | "openid" | "profile")).collect();
    if let Some(other) = scopes.iter().find(|s| !s.starts_with(&format!("{resource}/"))) {
        return oauth_error(
            400,
            "invalid_resource",
            500011,
            &format!("The resource principal named {} was not found in the tenant named {tenant}.", other.trim_end_matches("/.default")),
        );
    }
    match field("grant_type") {
        "client_credentials" if field("client_secret") == CLIENT_SECRET => {}
        "client_credentials" => {
            return oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided.",
            );
        }
        DEVICE_CODE_GRANT => {
            // RFC 8628 section 3.5, in the identity platform's words.
            let mut devices = state.devices.lock().unwrap();
            let code = field("device_code");
            match devices.get(code) {
                None => return oauth_error(400, "bad_verification_code", 70000, "The device code is not valid."),
                Some(d) if Instant::now() >= d.expires => {
                    devices.remove(code);
                    return oauth_error(400, "expired_token", 70020, "The provided value for the input parameter 'device_code' is expired.");
                }
                Some(Device { approved: None, .. }) => {
                    return oauth_error(400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.");
                }
                Some(Device { approved: Some(false), .. }) => {
                    devices.remove(code);
                    return oauth_error(400, "authorization_declined", 70018, "The user declined the sign-in.");
                }
                Some(_) => drop(devices.remove(code)),
            }
        }
        "refresh_token" => {
            if !state.refresh.lock().unwrap().remove(field("refresh_token")) {
                return oauth_error(
                    400,
                    "invalid_grant",
                    70000,
                    "The refresh token is invalid or was already used.",
                );
            }
        }
        other => {
            return oauth_error(
                400,
                "unsupported_grant_type",
                70003,
                &format!("grant type '{other}' is not supported"),
            );
        }
    }
    let access = state.mint("access");
    state
        .access
        .lock()
        .unwrap()
        .insert(access.clone(), Instant::now() + state.token_lifetime);
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": state.token_lifetime.as_secs(),
        "ext_expires_in": state.token_lifetime.as_secs(),
        "access_token": access,
    });
    // Delegated grants come with a refresh token (offline_access).
    if matches!(field("grant_type"), "refresh_token" | DEVICE_CODE_GRANT) {
        body["refresh_token"] = json!(state.grant_refresh_token());
    }
    answer(200, body)
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`: a device code for the client
/// to poll with, and a user code to enter at `verification_uri`.
pub fn device_code(state: &GraphState, tenant: &str, form: &str, verification_uri: &str) -> Answer {
    let fields: HashMap<String, String> = url::form_urlencoded::parse(form.as_bytes()).into_owned().collect();
    if tenant != TENANT {
        return answer(400, json!({ "error": "invalid_request", "error_description": format!("AADSTS90002: Tenant '{tenant}' not found."), "error_codes": [90002] }));
    }
    if fields.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return answer(400, json!({ "error": "unauthorized_client", "error_description": "AADSTS700016: Application not found in the directory.", "error_codes": [700016] }));
    }
    let device_code = state.mint("device");
    let n = device_code.len();
    let user_code: String = device_code[n - 9..].to_ascii_uppercase();
    state.devices.lock().unwrap().insert(
        device_code.clone(),
        Device { user_code: user_code.clone(), approved: None, expires: Instant::now() + DEVICE_CODE_LIFETIME },
    );
    answer(
        200,
        json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "expires_in": DEVICE_CODE_LIFETIME.as_secs(),
            "interval": state.device_interval,
            "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."),
        }),
    )
}

/// Percent-encoding for a path segment: everything but the unreserved
/// characters (RFC 3986).
pub fn escape_segment(segment: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(segment, UNRESERVED).to_string()
}

/// A path segment: `+` is a plus there, not a space.
fn decode_segment(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// A user without an Exchange Online mailbox (unlicensed, or hosted on
/// premises in a hybrid organisation).
pub const MAILBOXLESS_USER: &str = "former.employee@example.com";

/// A guest (B2B) user: in the directory, with no mailbox in this tenant.
/// Not in ../shared: `userType` Guest and the `#EXT#` principal name are
/// the user resource as Microsoft documents it.
pub const GUEST_USER: &str = "dana@fabrikam.example";

/// One user of the directory.
struct User {
    id: String,
    mail: String,
    name: &'static str,
    enabled: bool,
    /// `Guest` or `Member`
    guest: bool,
    /// the mailbox holding the user's contacts, and the default Contacts
    /// folder there; none for a user without a mailbox
    contacts: Option<(usize, String)>,
    /// the mailbox holding the user's mail
    mail_store: Option<usize>,
}

/// The directory's users, over `mailboxes` (the service account's first).
/// The shared mailbox's account is disabled, as Microsoft 365 makes shared
/// mailboxes (elastic docs-content#1828; reference/mailbox-content.md,
/// "Users/mailboxes"); its default Contacts folder is the EWS side's first
/// public contact folder, the shared address book, and its mail folders
/// are a mailbox of their own.
fn users(mailboxes: &[&Mailbox], account: &str) -> Vec<User> {
    let primary = mailboxes[0];
    let own = |address: &str| mailboxes.iter().position(|m| m.address.eq_ignore_ascii_case(address));
    let contacts_of = |i: usize| mailboxes[i].distinguished("contacts").map(|f| (i, f.id.clone()));
    let shared = primary
        .distinguished("publicfoldersroot")
        .and_then(|root| primary.subfolders(&root.id, false).into_iter().find(|f| is_contact_folder(f)))
        .map(|f| (0, f.id.clone()));
    let user = |id: &str, mail: &str, name, enabled, store: Option<usize>| User {
        id: id.into(),
        mail: mail.into(),
        name,
        enabled,
        guest: false,
        contacts: store.and_then(contacts_of),
        mail_store: store,
    };
    let mut users = vec![user("3c1a7f52-0001-4e0b-8e3a-5f0c2d9b7a11", account, "Helpdesk service", true, Some(0))];
    if let Some(support) = own(SHARED_MAILBOX) {
        users.push(User { contacts: shared, ..user("3c1a7f52-0002-4e0b-8e3a-5f0c2d9b7a11", SHARED_MAILBOX, "Support", false, Some(support)) });
    }
    users.push(user("3c1a7f52-0003-4e0b-8e3a-5f0c2d9b7a11", MAILBOXLESS_USER, "Former Employee", true, None));
    if let Some(bob) = own(super::COLLEAGUE) {
        users.push(user("3c1a7f52-0004-4e0b-8e3a-5f0c2d9b7a11", super::COLLEAGUE, "Bob Baumann", true, Some(bob)));
    }
    // Resource accounts are disabled for sign-in, as Exchange makes them.
    if let Some(room) = own(super::ROOM_MAILBOX) {
        users.push(user("3c1a7f52-0005-4e0b-8e3a-5f0c2d9b7a11", super::ROOM_MAILBOX, "Room 1", false, Some(room)));
    }
    users.push(User { guest: true, ..user("3c1a7f52-0006-4e0b-8e3a-5f0c2d9b7a11", GUEST_USER, "Dana Guest", true, None) });
    // The staff of a large organisation (EmulatorOptions::staff).
    for (i, m) in mailboxes.iter().enumerate().filter(|(_, m)| m.address.starts_with(super::STAFF_PREFIX)) {
        users.push(user(&format!("3c1a7f52-{i:04x}-4e0b-8e3a-5f0c2d9b7a12"), &m.address, "Staff Member", true, Some(i)));
    }
    users
}

/// What Graph answers for the mail or contacts of a user without a
/// mailbox it can reach (reference/mailbox-content.md, "Users/mailboxes").
fn no_mailbox() -> Answer {
    graph_error(
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    )
}

/// `GET /v1.0/...`, with a bearer token.
pub fn get(
    state: &GraphState,
    mailboxes: &[&Mailbox],
    account: &str,
    base: &str,
    path_and_query: &str,
    authorization: Option<&str>,
    prefer: Option<&str>,
) -> Answer {
    let token = authorization.and_then(|a| a.strip_prefix("Bearer "));
    if !token.is_some_and(|t| state.valid(t)) {
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        );
    }
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    // Ids are base64 and may hold `/` and `+`: clients escape them.
    let segments: Vec<String> = path
        .trim_start_matches("/v1.0/")
        .split('/')
        .map(decode_segment)
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let users = users(mailboxes, account);
    let user = |id: &str| users.iter().find(|u| u.id == id || u.mail.eq_ignore_ascii_case(id));
    // `accountEnabled` is "returned only on $select" (resources/user).
    let selected = |property: &str| query.get("$select").is_some_and(|s| s.split(',').any(|p| p.trim() == property));
    match parts.as_slice() {
        // Pages of `$top` (default 100, at most 999), the rest behind
        // `@odata.nextLink` with a `$skiptoken` (user-list).
        ["users"] => {
            let top: usize = query
                .get("$top")
                .and_then(|t| t.parse().ok())
                .unwrap_or(100)
                .clamp(1, 999);
            let skip = match query.get("$skiptoken") {
                Some(token) => match token
                    .strip_prefix("X%27")
                    .and_then(|t| t.strip_suffix("%27"))
                    .and_then(|t| usize::from_str_radix(t, 16).ok())
                {
                    Some(skip) => skip,
                    None => {
                        return graph_error(
                            400,
                            "Directory_ExpiredPageToken",
                            "The specified page token value has expired and can no longer be included in your request.",
                        );
                    }
                },
                None => 0,
            };
            let value: Vec<Value> = users
                .iter()
                .skip(skip)
                .take(top)
                .map(|User { id, mail, name, enabled, guest, .. }| {
                    // The default property set (user-list, resources/user).
                    let (given, surname) = name.split_once(' ').map_or((None, None), |(g, s)| (Some(g), Some(s)));
                    // A guest's user principal name is its address made local.
                    let principal = match guest {
                        true => format!("{}#EXT#@example.onmicrosoft.com", mail.replace('@', "_")),
                        false => mail.clone(),
                    };
                    let mut user = json!({
                        "businessPhones": [], "displayName": name, "givenName": given, "jobTitle": null,
                        "mail": mail, "mobilePhone": null, "officeLocation": null, "preferredLanguage": null,
                        "surname": surname, "userPrincipalName": principal, "id": id,
                    });
                    // Both are "returned only on $select" (resources/user).
                    if selected("accountEnabled") {
                        user["accountEnabled"] = json!(enabled);
                    }
                    if selected("userType") {
                        user["userType"] = json!(if *guest { "Guest" } else { "Member" });
                    }
                    select(user, &query)
                })
                .collect();
            let mut body =
                json!({ "@odata.context": format!("{base}/v1.0/$metadata#users"), "value": value });
            if skip + top < users.len() {
                let mut next = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in query.iter().filter(|(k, _)| k.as_str() != "$skiptoken") {
                    next.append_pair(k, v);
                }
                next.append_pair("$skiptoken", &format!("X%27{:08x}%27", skip + top));
                body["@odata.nextLink"] = json!(format!("{base}/v1.0/users?{}", next.finish()));
            }
            answer(200, body)
        }
        // Rooms (place-list, v1.0): their addresses, for telling them from
        // people. Not in ../shared: the shape is the place resource as
        // Microsoft documents it (emailAddress, displayName, nickname).
        ["places", "microsoft.graph.room"] => {
            let value: Vec<Value> = mailboxes
                .iter()
                .filter(|m| m.kind == super::data::MailboxKind::Room)
                .map(|m| json!({ "emailAddress": m.address, "displayName": m.display_name, "nickname": m.display_name }))
                .collect();
            answer(200, json!({ "@odata.context": format!("{base}/v1.0/$metadata#places/microsoft.graph.room"), "value": value }))
        }
        ["users", uid, "contactFolders" | "contacts" | "mailFolders" | "messages" | "calendars" | "events" | "todo", ..]
            if user(uid).is_some_and(|u| u.contacts.is_none()) =>
        {
            no_mailbox()
        }
        ["users", uid, "todo", ..] => match user(uid).and_then(|u| u.mail_store) {
            Some(store) => todo::get(mailboxes[store], base, uid, &parts[2..], &query, prefer),
            None => graph_error(404, "ErrorInvalidUser", "The requested user is invalid."),
        },
        ["users", uid, "calendars" | "events", ..] => match user(uid).and_then(|u| u.mail_store) {
            Some(store) => calendar::get(mailboxes[store], base, uid, &parts[2..], &query, prefer),
            None => graph_error(404, "ErrorInvalidUser", "The requested user is invalid."),
        },
        ["users", uid, "mailFolders" | "messages", ..] => match user(uid).and_then(|u| u.mail_store) {
            Some(store) => mail::get(mailboxes[store], base, uid, &parts[2..], &query, prefer),
            None => graph_error(404, "ErrorInvalidUser", "The requested user is invalid."),
        },
        // "the contact folder collection in the default Contacts folder"
        // (user-list-contactfolders): its children, not that folder.
        ["users", uid, "contactFolders"] => match user(uid).and_then(|u| u.contacts.as_ref()) {
            Some((store, default)) => folders(mailboxes[*store], default),
            _ => graph_error(404, "ErrorInvalidUser", "The requested user is invalid."),
        },
        // The default Contacts folder's contacts (user-list-contacts).
        ["users", uid, "contacts"] => match user(uid)
            .and_then(|u| u.contacts.as_ref())
            .and_then(|(store, id)| mailboxes[*store].folder(id).map(|f| (mailboxes[*store], f)))
        {
            Some((mailbox, folder)) => list_contacts(mailbox, folder, base, uid, &query),
            None => graph_error(404, "ErrorInvalidUser", "The requested user is invalid."),
        },
        ["users", uid, "contactFolders", fid, rest @ ..] => {
            let Some((mailbox, folder)) =
                user(uid).and_then(|u| u.contacts.as_ref()).and_then(|(store, _)| mailboxes[*store].folder(fid).map(|f| (mailboxes[*store], f)))
            else {
                return graph_error(
                    404,
                    "ErrorItemNotFound",
                    "The specified object was not found in the store.",
                );
            };
            if folder.denied {
                return graph_error(
                    403,
                    "ErrorAccessDenied",
                    "Access is denied. Check credentials and try again.",
                );
            }
            match rest {
                [] => answer(200, folder_json(folder)),
                ["childFolders"] => folders(mailbox, &folder.id),
                ["contacts", "delta"] => delta(mailbox, folder, base, uid, &query, prefer),
                _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
            }
        }
        _ => graph_error(
            400,
            "BadRequest",
            &format!("Resource not found for the segment '{path}'."),
        ),
    }
}

/// Contact folders as Graph sees them: by class or by element, hidden
/// ones left out (as `/mailFolders` leaves them without
/// `includeHiddenFolders`), search folders too.
fn is_contact_folder(f: &Folder) -> bool {
    (f.class == "IPF.Contact"
        || f.class.starts_with("IPF.Contact.")
        || f.element == "ContactsFolder")
        && f.element != "SearchFolder"
        && !f.hidden
}

/// contactfolder-get: id, displayName, parentFolderId.
fn folder_json(f: &Folder) -> Value {
    // JSON carries any character; the EWS side's stand-in for a byte that
    // is not UTF-8 arrives as the replacement character.
    json!({ "id": f.id, "parentFolderId": f.parent, "displayName": f.name.replace('\u{E000}', "\u{FFFD}") })
}

fn folders(mailbox: &Mailbox, parent: &str) -> Answer {
    let value: Vec<Value> = mailbox
        .subfolders(parent, false)
        .into_iter()
        .filter(|f| is_contact_folder(f))
        .map(folder_json)
        .collect();
    answer(200, json!({ "value": value }))
}

/// `GET /users/{id}/contacts`: pages of `$top` (default 10, as Graph's
/// list pages), `@odata.nextLink` with a `$skip` while there are more.
fn list_contacts(
    mailbox: &Mailbox,
    folder: &Folder,
    base: &str,
    uid: &str,
    query: &HashMap<String, String>,
) -> Answer {
    let top: usize = query
        .get("$top")
        .and_then(|t| t.parse().ok())
        .unwrap_or(10)
        .clamp(1, MAX_PAGE);
    let skip: usize = query.get("$skip").and_then(|t| t.parse().ok()).unwrap_or(0);
    let people: Vec<&Contact> = mailbox
        .items_in(folder)
        .filter(|c| c.kind == "Contact")
        .collect();
    let value: Vec<Value> = people
        .iter()
        .skip(skip)
        .take(top)
        .map(|c| select(contact_json(c, mailbox), query))
        .collect();
    let mut body = json!({ "@odata.context": format!("{base}/v1.0/$metadata#users('{uid}')/contacts"), "value": value });
    if skip + top < people.len() {
        body["@odata.nextLink"] = json!(format!(
            "{base}/v1.0/users/{}/contacts?$top={top}&$skip={}",
            escape_segment(uid),
            skip + top
        ));
    }
    answer(200, body)
}

fn delta(
    mailbox: &Mailbox,
    folder: &Folder,
    base: &str,
    uid: &str,
    query: &HashMap<String, String>,
    prefer: Option<&str>,
) -> Answer {
    let Some(since) = delta_since(folder, query) else {
        return graph_error(400, "BadRequest", "Badly formed token.");
    };
    let page_size = max_page_size(prefer);
    let (changes, next, last) = mailbox.change_page(folder, since, page_size);
    let value: Vec<Value> = changes
        .iter()
        .filter_map(|change| match change {
            Change::Create(c) | Change::Update(c) => (c.kind == "Contact").then(|| {
                let mut json = contact_json(c, mailbox);
                // The broken-item fault's contact: an entry without its id.
                if c.id == super::data::BROKEN_ITEM_ID {
                    json.as_object_mut().map(|o| o.remove("id"));
                }
                select(json, query)
            }),
            Change::Delete(t) => Some(json!({ "@odata.type": "#microsoft.graph.contact", "id": t.id, "@removed": { "reason": "deleted" } })),
        })
        .collect();
    let link = format!(
        "{base}/v1.0/users/{}/contactFolders/{}/contacts/delta",
        escape_segment(uid),
        escape_segment(&folder.id)
    );
    let mut body = json!({ "@odata.context": format!("{base}/v1.0/$metadata#Collection(contact)"), "value": value });
    let (key, url) = delta_link(&link, folder, next, last);
    body[key] = json!(url);
    answer(200, body)
}

/// The change a delta request continues from: 0 for a first request, the
/// one its skip or delta token names, None for a token not ours.
fn delta_since(folder: &Folder, query: &HashMap<String, String>) -> Option<u64> {
    match (query.get("$deltatoken"), query.get("$skiptoken")) {
        (Some(token), _) => state_token::decode(DELTA, folder, token),
        (None, Some(token)) => state_token::decode(SKIP, folder, token),
        (None, None) => Some(0),
    }
}

/// `Prefer: odata.maxpagesize=N` (delta-query-messages), within our bounds.
fn max_page_size(prefer: Option<&str>) -> usize {
    prefer
        .and_then(|p| p.split(',').find_map(|part| part.trim().strip_prefix("odata.maxpagesize=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_PAGE)
        .clamp(1, MAX_PAGE)
}

/// The link that ends a delta page: `@odata.nextLink` with a skip token
/// while there are more, `@odata.deltaLink` with a delta token on the last
/// page (delta-query-overview).
fn delta_link(link: &str, folder: &Folder, next: u64, last: bool) -> (&'static str, String) {
    match last {
        true => ("@odata.deltaLink", format!("{link}?$deltatoken={}", state_token::encode(DELTA, folder, next))),
        false => ("@odata.nextLink", format!("{link}?$skiptoken={}", state_token::encode(SKIP, folder, next))),
    }
}

/// A contact as Graph writes it; unset strings are null, unset addresses `{}`.
pub fn contact_json(c: &Contact, mailbox: &Mailbox) -> Value {
    let text = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    json!({
        "@odata.etag": format!("W/\"{}\"", c.change_key),
        "id": c.id,
        "createdDateTime": c.last_modified,
        "lastModifiedDateTime": c.last_modified,
        "changeKey": c.change_key,
        "categories": [],
        "parentFolderId": c.folder_id,
        "fileAs": text(&c.display_name),
        "displayName": text(&c.display_name),
        "givenName": text(&c.given_name),
        "initials": null,
        "middleName": null,
        "nickName": null,
        "surname": text(&c.surname),
        "title": null,
        "yomiGivenName": null,
        "yomiSurname": null,
        "yomiCompanyName": null,
        "generation": null,
        "imAddresses": [],
        "companyName": text(&c.company),
        "department": text(&c.department),
        "jobTitle": text(&c.job_title),
        "officeLocation": null,
        "profession": null,
        "businessHomePage": null,
        "assistantName": null,
        "manager": null,
        "spouseName": null,
        "personalNotes": "",
        "children": [],
        "birthday": c.birthday.as_deref().map(Mailbox::stored_birthday),
        // A directory entry's address as its SMTP one: our references show
        // Graph contacts with SMTP addresses only (contact-get, user-list-contacts).
        "emailAddresses": c.emails.iter().map(|e| json!({ "name": c.display_name, "address": mailbox.smtp_of(e) })).collect::<Vec<_>>(),
        "businessPhones": c.business_phone.iter().collect::<Vec<_>>(),
        "homePhones": [],
        "mobilePhone": c.mobile_phone,
        "businessAddress": {
            "street": text(&c.street), "city": text(&c.city), "state": Value::Null,
            "postalCode": text(&c.postal_code), "countryOrRegion": text(&c.country),
        },
        "homeAddress": {},
        "otherAddress": {},
    })
}
