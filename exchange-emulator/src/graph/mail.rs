//! Mail over Graph v1.0, as Microsoft documents it: `mailFolders` lists
//! the folders under the root only, ten a page, hidden ones only with
//! `includeHiddenFolders=true`, search folders marked as such
//! (user-list-mailfolders); well-known names stand for ids whatever the
//! locale (resources/mailfolder); `messages/delta` per folder, with
//! `@removed` entries and, after the first round, changed messages as
//! partial objects (delta-query-messages, delta-query-overview: "at least
//! the properties that have been updated"; a live capture in
//! reference/mailbox-content.md 2 has `{id, isRead, parentFolderId}` for a
//! read flag); attachments listed, each one's bytes at `$value`
//! (attachment-get). Ids are immutable ones with `Prefer:
//! IdType="ImmutableId"`, the EWS ids otherwise; bodies are HTML unless
//! `Prefer: outlook.body-content-type="text"` (message-get).

use super::{Answer, answer, delta_link, delta_since, escape_segment, graph_error, max_page_size, select};
use crate::data::mail::{Attachment, Body, Content, MailChange, Message, Person};
use crate::data::text::html_to_text;
use crate::data::hierarchy::FolderChange;
use crate::data::{Folder, Mailbox, Tombstone};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;

/// "If a collection exceeds the default page size (10 items), the
/// @odata.nextLink property is returned" (user-list-mailfolders).
const FOLDER_PAGE: usize = 10;

/// Folder ids Graph takes by name (resources/mailfolder).
const WELL_KNOWN: &[&str] = &[
    "archive", "clutter", "conflicts", "conversationhistory", "deleteditems", "drafts", "inbox", "junkemail", "localfailures", "msgfolderroot",
    "outbox", "recoverableitemsdeletions", "scheduled", "searchfolders", "sentitems", "serverfailures", "syncissues",
];

/// How the client asked for ids and bodies.
#[derive(Clone, Copy)]
pub(super) struct Preferences {
    immutable_ids: bool,
    text_bodies: bool,
}

impl Preferences {
    pub(super) fn of(prefer: Option<&str>) -> Self {
        let prefer = prefer.unwrap_or_default().to_ascii_lowercase();
        Preferences {
            immutable_ids: prefer.contains("idtype=\"immutableid\""),
            text_bodies: prefer.contains("outlook.body-content-type=\"text\""),
        }
    }

    fn id<'a>(&self, m: &'a Message) -> &'a str {
        if self.immutable_ids { &m.immutable_id } else { &m.id }
    }

    fn removed_id<'a>(&self, t: &'a Tombstone) -> &'a str {
        if self.immutable_ids { &t.immutable_id } else { &t.id }
    }

    pub(super) fn attachment_id<'a>(&self, a: &'a Attachment) -> &'a str {
        if self.immutable_ids { &a.immutable_id } else { &a.id }
    }
}

pub(super) fn not_found() -> Answer {
    graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
}

pub(super) fn counted(operation: &'static str, mut answer: Answer) -> Answer {
    answer.operation = operation;
    answer
}

/// `segments`: the path after `/users/{uid}/`.
pub fn get(mailbox: &Mailbox, base: &str, uid: &str, segments: &[&str], query: &HashMap<String, String>, prefer: Option<&str>) -> Answer {
    let preferences = Preferences::of(prefer);
    let user = format!("{base}/v1.0/users/{}", escape_segment(uid));
    match segments {
        ["mailFolders"] => {
            let Some(root) = mailbox.distinguished("msgfolderroot") else { return not_found() };
            counted("Graph mailFolders", list_folders(mailbox, root, &format!("{user}/mailFolders"), query))
        }
        ["mailFolders", "delta"] => {
            let Some(root) = mailbox.distinguished("msgfolderroot") else { return not_found() };
            counted("Graph mailFolders delta", folder_delta(mailbox, root, &format!("{user}/mailFolders/delta"), query))
        }
        ["mailFolders", id, rest @ ..] => {
            let Some(folder) = folder(mailbox, id) else { return not_found() };
            match rest {
                [] => counted("Graph mailFolder", answer(200, folder_json(mailbox, folder))),
                ["childFolders"] => {
                    let link = format!("{user}/mailFolders/{}/childFolders", escape_segment(&folder.id));
                    counted("Graph mailFolders", list_folders(mailbox, folder, &link, query))
                }
                ["messages", "delta"] => {
                    let link = format!("{user}/mailFolders/{}/messages/delta", escape_segment(&folder.id));
                    counted("Graph messages delta", delta(mailbox, folder, &link, query, prefer, preferences))
                }
                _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
            }
        }
        ["messages", id, rest @ ..] => {
            let Some(message) = mailbox.message(id) else { return not_found() };
            match rest {
                [] => counted("Graph message", answer(200, select(message_json(message, preferences), query))),
                ["attachments"] => counted("Graph attachments", attachments(&message.last_modified, &message.attachments, query, preferences)),
                ["attachments", aid, rest @ ..] => {
                    let Some(attachment) = mailbox.attachment(aid).filter(|(m, _)| m.id == message.id).map(|(_, a)| a) else { return not_found() };
                    match rest {
                        [] => {
                            let mut found = answer(200, select(attachment_json(&message.last_modified, attachment, preferences, true), query));
                            found.downloads.push(attachment.name.clone());
                            counted("Graph attachment", found)
                        }
                        ["$value"] => counted("Graph attachment $value", value(attachment)),
                        _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
                    }
                }
                _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
            }
        }
        _ => graph_error(400, "BadRequest", "Resource not found for the segment."),
    }
}

/// A folder by id or well-known name.
fn folder<'a>(mailbox: &'a Mailbox, id: &str) -> Option<&'a Folder> {
    let name = id.to_ascii_lowercase();
    match WELL_KNOWN.iter().find(|w| **w == name) {
        Some(well_known) => mailbox.distinguished(well_known),
        None => mailbox.folder(id),
    }
}

/// What Graph lists as mail folders: the user-list-mailfolders sample has
/// Archive, Conversation History, Deleted Items, Drafts, Inbox, Junk
/// Email, Outbox and Sent Items and no calendar or contact folder, so:
/// folders of mail classes, and search folders.
fn is_mail_folder(f: &Folder) -> bool {
    matches!(f.element, "Folder" | "SearchFolder") && (f.class.is_empty() || f.class == "IPF" || f.class == "IPF.Note" || f.class.starts_with("IPF.Note."))
}

fn folder_json(mailbox: &Mailbox, f: &Folder) -> Value {
    let shown = f.search_source.as_deref().unwrap_or(&f.id);
    let (total, unread, size) = mailbox
        .messages_in(shown)
        .fold((0, 0, 0u64), |(t, u, s), m| (t + 1, u + usize::from(!m.is_read), s + m.attachments.iter().map(Attachment::size).sum::<u64>() + 1024));
    let children = mailbox.subfolders(&f.id, false).into_iter().filter(|c| is_mail_folder(c)).count();
    let mut json = json!({
        "id": f.id,
        "displayName": f.name.replace('\u{E000}', "\u{FFFD}"),
        "parentFolderId": f.parent,
        "childFolderCount": children,
        "unreadItemCount": unread,
        "totalItemCount": total,
        "sizeInBytes": size,
        "isHidden": f.hidden,
    });
    if f.element == "SearchFolder" {
        json["@odata.type"] = json!("#microsoft.graph.mailSearchFolder");
        json["isSupported"] = json!(true);
        json["filterQuery"] = json!("isRead eq false");
    }
    json
}

/// The mail folders right under `parent`, a page at a time.
fn list_folders(mailbox: &Mailbox, parent: &Folder, link: &str, query: &HashMap<String, String>) -> Answer {
    let hidden = query.get("includeHiddenFolders").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let top: usize = query.get("$top").and_then(|t| t.parse().ok()).unwrap_or(FOLDER_PAGE).clamp(1, 1000);
    let skip: usize = query.get("$skip").and_then(|t| t.parse().ok()).unwrap_or(0);
    let all: Vec<&Folder> = mailbox.subfolders(&parent.id, false).into_iter().filter(|f| is_mail_folder(f) && (hidden || !f.hidden)).collect();
    let value: Vec<Value> = all.iter().skip(skip).take(top).map(|f| select(folder_json(mailbox, f), query)).collect();
    let mut body = json!({ "value": value });
    if skip + top < all.len() {
        let hidden = if hidden { "&includeHiddenFolders=true" } else { "" };
        body["@odata.nextLink"] = json!(format!("{link}?$top={top}&$skip={}{hidden}", skip + top));
    }
    answer(200, body)
}

/// mailfolder-delta (fixtures/graph/msdocs/mailfolder-delta__01): the
/// mail folders of the whole tree below the message root, flat, each with
/// its parent (the sample's fields), made or changed since the delta
/// token; all of them without one. The sample pages with
/// `odata.maxpagesize`; a mailbox's folders come here in one page, which
/// Graph may also do. Not in ../shared: that the delta reaches below the
/// top level (the list does not), and that hidden folders stay out as
/// they do from the list.
fn folder_delta(mailbox: &Mailbox, root: &Folder, link: &str, query: &HashMap<String, String>) -> Answer {
    let since = match (query.get("$deltatoken"), query.get("$skiptoken")) {
        (None, None) => None,
        _ => match delta_since(root, query) {
            Some(since) => Some(since),
            None => return graph_error(400, "BadRequest", "Badly formed token."),
        },
    };
    let value: Vec<Value> = mailbox
        .folder_changes(&root.id, since)
        .into_iter()
        .map(|change| match change {
            FolderChange::Create(f) | FolderChange::Update(f) => f,
        })
        .filter(|f| is_mail_folder(f) && !f.hidden)
        .map(|f| select(folder_json(mailbox, f), query))
        .collect();
    let (key, url) = delta_link(link, root, mailbox.seq, true);
    answer(200, json!({ "value": value, key: url }))
}

pub(super) fn recipient(p: &Person) -> Value {
    json!({ "emailAddress": { "name": p.name, "address": p.address } })
}

/// A message as message-get shows it.
fn message_json(m: &Message, preferences: Preferences) -> Value {
    let (kind, content) = match (&m.body, preferences.text_bodies) {
        (Body::Html(html), true) => ("text", html_to_text(html)),
        (Body::Html(html), false) => ("html", html.clone()),
        (Body::Text(text), true) => ("text", text.clone()),
        // Exchange keeps a text mail's body as text; Graph hands out HTML
        // unless text is preferred (message-get).
        (Body::Text(text), false) => ("html", format!("<html><body><pre>{}</pre></body></html>", crate::escape::escape(text.as_str()))),
    };
    let preview: String = match &m.body {
        Body::Html(html) => html_to_text(html),
        Body::Text(text) => text.clone(),
    }
    .chars()
    .take(255)
    .collect();
    let meeting = m.class.starts_with("IPM.Schedule.Meeting");
    let mut json = json!({
        "@odata.type": if meeting { "#microsoft.graph.eventMessageRequest" } else { "#microsoft.graph.message" },
        "@odata.etag": format!("W/\"{}\"", m.change_key),
        "id": preferences.id(m),
        "createdDateTime": m.received,
        "lastModifiedDateTime": m.last_modified,
        "changeKey": m.change_key,
        "categories": m.categories,
        "receivedDateTime": m.received,
        "sentDateTime": m.sent,
        // "false when only inline attachments exist" (resources/message,
        // reference/mailbox-content.md 2)
        "hasAttachments": m.attachments.iter().any(|a| !a.inline),
        "internetMessageId": m.internet_message_id,
        "subject": m.subject,
        "bodyPreview": preview,
        "importance": m.importance.to_ascii_lowercase(),
        "parentFolderId": m.folder_id,
        "conversationId": m.conversation_id,
        "isDeliveryReceiptRequested": false,
        "isReadReceiptRequested": false,
        "isRead": m.is_read,
        "isDraft": false,
        "inferenceClassification": "focused",
        "body": { "contentType": kind, "content": content },
        "sender": recipient(&m.from),
        "from": recipient(&m.from),
        "toRecipients": m.to.iter().map(recipient).collect::<Vec<_>>(),
        "ccRecipients": m.cc.iter().map(recipient).collect::<Vec<_>>(),
        "bccRecipients": [],
        "replyTo": [],
        "flag": { "flagStatus": "notFlagged" },
    });
    if meeting {
        json["meetingMessageType"] = json!("meetingRequest");
    }
    json
}

/// A page of a folder's changes. Query options of the first request are
/// "encoded into the token" (delta-query-messages); ours keep `$select`
/// in the links instead, which clients follow as they are.
fn delta(mailbox: &Mailbox, folder: &Folder, link: &str, query: &HashMap<String, String>, prefer: Option<&str>, preferences: Preferences) -> Answer {
    let Some(since) = delta_since(folder, query) else {
        return graph_error(400, "BadRequest", "Badly formed token.");
    };
    let (changes, next, last) = mailbox.mail_changes(folder, since, max_page_size(prefer));
    let value: Vec<Value> = changes
        .iter()
        .map(|change| match change {
            MailChange::Create(m) => select(message_json(m, preferences), query),
            // A later round's changed message: what changed, not all of it.
            MailChange::Update(m) => select(
                json!({
                    "@odata.type": "#microsoft.graph.message",
                    "@odata.etag": format!("W/\"{}\"", m.change_key),
                    "id": preferences.id(m),
                    "changeKey": m.change_key,
                    "lastModifiedDateTime": m.last_modified,
                    "subject": m.subject,
                    "isRead": m.is_read,
                    "parentFolderId": m.folder_id,
                }),
                query,
            ),
            MailChange::ReadFlag(m) => json!({ "@odata.type": "#microsoft.graph.message", "id": preferences.id(m), "isRead": m.is_read, "parentFolderId": m.folder_id }),
            MailChange::Delete(t) => json!({ "@odata.type": "#microsoft.graph.message", "id": preferences.removed_id(t), "@removed": { "reason": "deleted" } }),
        })
        .collect();
    let mut body = json!({ "@odata.context": format!("{}/$metadata#Collection(message)", link.split("/users/").next().unwrap_or_default()), "value": value });
    let (key, mut url) = delta_link(link, folder, next, last);
    if let Some(selected) = query.get("$select") {
        url += &format!("&$select={}", percent_encoding::utf8_percent_encode(selected, percent_encoding::NON_ALPHANUMERIC));
    }
    body[key] = json!(url);
    answer(200, body)
}

/// attachment-get: a file attachment with its bytes (base64), an item
/// attachment without a content type or content.
pub(super) fn attachment_json(last_modified: &str, a: &Attachment, preferences: Preferences, with_bytes: bool) -> Value {
    match &a.content {
        Content::Item { .. } => json!({
            "@odata.type": "#microsoft.graph.itemAttachment",
            "id": preferences.attachment_id(a),
            "lastModifiedDateTime": last_modified,
            "name": a.name,
            "contentType": null,
            "size": a.size(),
            "isInline": a.inline,
        }),
        _ => {
            let mut json = json!({
                "@odata.type": "#microsoft.graph.fileAttachment",
                "id": preferences.attachment_id(a),
                "lastModifiedDateTime": last_modified,
                "name": a.name,
                "contentType": a.content_type,
                "size": a.size(),
                "isInline": a.inline,
                "contentId": a.content_id,
                "contentLocation": null,
            });
            if with_bytes {
                json["contentBytes"] = json!(base64::engine::general_purpose::STANDARD.encode(a.bytes()));
            }
            json
        }
    }
}

/// message-list-attachments: with their bytes, unless `$select` leaves
/// `contentBytes` out (reference/mailbox-content.md 2, "Attachments").
pub(super) fn attachments(last_modified: &str, list: &[Attachment], query: &HashMap<String, String>, preferences: Preferences) -> Answer {
    let with_bytes = query.get("$select").is_none_or(|s| s.split(',').any(|p| p.trim() == "contentBytes"));
    let mut downloads = Vec::new();
    let value: Vec<Value> = list
        .iter()
        .map(|a| {
            if with_bytes && !matches!(a.content, Content::Item { .. }) {
                downloads.push(a.name.clone());
            }
            select(attachment_json(last_modified, a, preferences, with_bytes), query)
        })
        .collect();
    Answer { downloads, ..answer(200, json!({ "value": value })) }
}

/// `$value`: a file's raw bytes; an item attachment as MIME (attachment-get).
pub(super) fn value(a: &Attachment) -> Answer {
    let raw = match &a.content {
        Content::Item { subject, body } => {
            (format!("Subject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").into_bytes(), "message/rfc822".to_string())
        }
        _ => (a.bytes(), a.content_type.clone()),
    };
    Answer { status: 200, raw: Some(raw), downloads: vec![a.name.clone()], ..Default::default() }
}
