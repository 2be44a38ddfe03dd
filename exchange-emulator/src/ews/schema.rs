//! The request checks Exchange makes before it runs an operation, written
//! from messages.xsd and types.xsd (the content models of the operations
//! this server implements): element names, namespaces, order and counts,
//! required attributes and enumerations. A request that breaks them gets
//! `ErrorSchemaValidation`, as from a real server; its text names the
//! element, as Exchange's does.

use super::request::{MESSAGES, Node, Request, TYPES};

/// How often an element of a sequence may occur.
#[derive(Clone, Copy)]
enum Occurs {
    One,
    Optional,
    /// one or more
    Many,
}

/// One particle of a sequence: one of `names`, `occurs` times.
struct Slot(&'static [&'static str], Occurs);

use Occurs::{Many, One, Optional};

/// `ExchangeVersionType` in types.xsd.
const VERSIONS: &[&str] = &[
    "Exchange2007",
    "Exchange2007_SP1",
    "Exchange2009",
    "Exchange2010",
    "Exchange2010_SP1",
    "Exchange2010_SP2",
    "Exchange2012",
    "Exchange2013",
    "Exchange2013_SP1",
    "Exchange2015",
    "Exchange2016",
    "V2015_10_05",
    "V2016_01_06",
    "V2016_04_13",
    "V2016_07_13",
    "V2016_10_10",
];

/// The SOAP header elements messages.xsd and the WSDL allow.
const HEADERS: &[&str] = &[
    "RequestServerVersion",
    "ExchangeImpersonation",
    "SerializedSecurityContext",
    "MailboxCulture",
    "TimeZoneContext",
    "ManagementRole",
    "DateTimePrecision",
];

#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub code: &'static str,
    pub text: String,
}

fn invalid(text: String) -> Refusal {
    Refusal {
        code: "ErrorSchemaValidation",
        text: format!("The request failed schema validation: {text}"),
    }
}

pub fn check(request: &Request) -> Result<(), Refusal> {
    if let Some(header) = &request.header {
        for part in &header.children {
            if part.ns != TYPES || !HEADERS.contains(&part.name.as_str()) {
                return Err(invalid(format!(
                    "The element '{}' in namespace '{}' is not expected in the SOAP header.",
                    part.name, part.ns
                )));
            }
        }
    }
    if let Some(version) = request.header("RequestServerVersion") {
        match version.attr("Version") {
            Some(v) if VERSIONS.contains(&v) => {}
            Some(v) => {
                return Err(Refusal {
                    code: "ErrorInvalidServerVersion",
                    text: format!("The specified server version '{v}' is invalid."),
                });
            }
            None => {
                return Err(invalid(
                    "The required attribute 'Version' is missing.".into(),
                ));
            }
        }
    }
    if let Some(zone) = request.header("TimeZoneContext") {
        sequence(zone, TYPES, &[Slot(&["TimeZoneDefinition"], One)]).map_err(invalid)?;
    }
    operation(&request.operation).map_err(invalid)
}

fn operation(op: &Node) -> Result<(), String> {
    const VIEWS: &[&str] = &[
        "IndexedPageItemView",
        "FractionalPageItemView",
        "SeekToConditionPageItemView",
        "CalendarView",
        "ContactsView",
    ];
    match op.name.as_str() {
        "GetFolder" => {
            sequence(
                op,
                MESSAGES,
                &[Slot(&["FolderShape"], One), Slot(&["FolderIds"], One)],
            )?;
            folder_shape(op)?;
            folder_ids(op, "FolderIds")
        }
        "FindFolder" => {
            enumerated(op, "Traversal", &["Shallow", "Deep", "SoftDeleted"])?;
            sequence(
                op,
                MESSAGES,
                &[
                    Slot(&["FolderShape"], One),
                    Slot(
                        &["IndexedPageFolderView", "FractionalPageFolderView"],
                        Optional,
                    ),
                    Slot(&["Restriction"], Optional),
                    Slot(&["ParentFolderIds"], One),
                ],
            )?;
            folder_shape(op)?;
            paging(op.child("IndexedPageFolderView"))?;
            folder_ids(op, "ParentFolderIds")
        }
        "FindItem" => {
            enumerated(op, "Traversal", &["Shallow", "SoftDeleted", "Associated"])?;
            sequence(
                op,
                MESSAGES,
                &[
                    Slot(&["ItemShape"], One),
                    Slot(VIEWS, Optional),
                    Slot(&["GroupBy", "DistinguishedGroupBy"], Optional),
                    Slot(&["Restriction"], Optional),
                    Slot(&["SortOrder"], Optional),
                    Slot(&["ParentFolderIds"], One),
                    Slot(&["QueryString"], Optional),
                ],
            )?;
            item_shape(op)?;
            paging(op.child("IndexedPageItemView"))?;
            folder_ids(op, "ParentFolderIds")
        }
        // GetAttachmentType of messages.xsd.
        "GetAttachment" => {
            sequence(op, MESSAGES, &[Slot(&["AttachmentShape"], Optional), Slot(&["AttachmentIds"], One)])?;
            let ids = op.child("AttachmentIds").expect("checked above");
            sequence(ids, TYPES, &[Slot(&["AttachmentId"], Many)])?;
            ids.children.iter().try_for_each(|id| required(id, "Id").map(drop))
        }
        "GetItem" => {
            sequence(
                op,
                MESSAGES,
                &[Slot(&["ItemShape"], One), Slot(&["ItemIds"], One)],
            )?;
            item_shape(op)?;
            let ids = op.child("ItemIds").expect("checked above");
            sequence(
                ids,
                TYPES,
                &[Slot(
                    &["ItemId", "OccurrenceItemId", "RecurringMasterItemId"],
                    Many,
                )],
            )?;
            ids.children
                .iter()
                .try_for_each(|id| required(id, "Id").map(drop))
        }
        "SyncFolderItems" => {
            sequence(
                op,
                MESSAGES,
                &[
                    Slot(&["ItemShape"], One),
                    Slot(&["SyncFolderId"], One),
                    Slot(&["SyncState"], Optional),
                    Slot(&["Ignore"], Optional),
                    Slot(&["MaxChangesReturned"], One),
                    Slot(&["SyncScope"], Optional),
                ],
            )?;
            item_shape(op)?;
            let target = op.child("SyncFolderId").expect("checked above");
            sequence(
                target,
                TYPES,
                &[Slot(&["FolderId", "DistinguishedFolderId"], One)],
            )?;
            folder_id(&target.children[0])?;
            // MaxSyncChangesReturnedType: an int from 1 to 512.
            let max = op
                .child_text("MaxChangesReturned")
                .unwrap_or_default()
                .trim();
            match max.parse::<i64>() {
                Ok(1..=512) => Ok(()),
                _ => Err(format!(
                    "The 'MaxChangesReturned' element is invalid - the value '{max}' is invalid according to its datatype: it must be between 1 and 512."
                )),
            }
        }
        "SyncFolderHierarchy" => {
            sequence(
                op,
                MESSAGES,
                &[
                    Slot(&["FolderShape"], One),
                    Slot(&["SyncFolderId"], Optional),
                    Slot(&["SyncState"], Optional),
                ],
            )?;
            folder_shape(op)
        }
        "ConvertId" => {
            enumerated(
                op,
                "DestinationFormat",
                &[
                    "EntryId",
                    "EwsLegacyId",
                    "EwsId",
                    "HexEntryId",
                    "StoreId",
                    "OwaId",
                ],
            )?;
            sequence(op, MESSAGES, &[Slot(&["SourceIds"], One)])
        }
        "ResolveNames" => {
            enumerated(op, "ReturnFullContactData", &["true", "false", "1", "0"])?;
            if op.attr("SearchScope").is_some() {
                enumerated(
                    op,
                    "SearchScope",
                    &[
                        "ActiveDirectory",
                        "ActiveDirectoryContacts",
                        "Contacts",
                        "ContactsActiveDirectory",
                    ],
                )?;
            }
            sequence(
                op,
                MESSAGES,
                &[
                    Slot(&["ParentFolderIds"], Optional),
                    Slot(&["UnresolvedEntry"], One),
                ],
            )?;
            if op.child("ParentFolderIds").is_some() {
                folder_ids(op, "ParentFolderIds")?;
            }
            match op.child_text("UnresolvedEntry") {
                Some(entry) if !entry.is_empty() => Ok(()),
                _ => Err("The 'UnresolvedEntry' element is invalid - the value is empty (NonEmptyStringType).".into()),
            }
        }
        "GetSearchableMailboxes" => {
            sequence(op, MESSAGES, &[Slot(&["SearchFilter"], Optional), Slot(&["ExpandGroupMembership"], Optional)])
        }
        "GetRoomLists" => sequence(op, MESSAGES, &[]),
        "GetRooms" => {
            sequence(op, MESSAGES, &[Slot(&["RoomList"], One)])?;
            sequence(op.child("RoomList").expect("checked above"), TYPES, &[
                Slot(&["Name"], Optional),
                Slot(&["EmailAddress"], Optional),
                Slot(&["RoutingType"], Optional),
                Slot(&["MailboxType"], Optional),
            ])
        }
        // Other operations are checked where they are answered (refused
        // as unsupported).
        _ => Ok(()),
    }
}

/// The children of `node` against a sequence of slots, in `ns`.
fn sequence(node: &Node, ns: &str, slots: &[Slot]) -> Result<(), String> {
    let mut children = node.children.iter().peekable();
    for Slot(names, occurs) in slots {
        let mut seen = 0;
        while let Some(child) = children.peek() {
            if !names.contains(&child.name.as_str()) || child.ns != ns {
                break;
            }
            seen += 1;
            children.next();
            if !matches!(occurs, Many) {
                break;
            }
        }
        if seen == 0 && matches!(occurs, One | Many) {
            let found = children
                .peek()
                .map_or("the end of the element".to_string(), |c| {
                    format!("'{}'", c.name)
                });
            return Err(format!(
                "The element '{}' has invalid child element {found}. List of possible elements expected: '{}' in namespace '{ns}'.",
                node.name,
                names.join(", ")
            ));
        }
    }
    match children.next() {
        None => Ok(()),
        Some(extra) => Err(format!(
            "The element '{}' has invalid child element '{}' in namespace '{}'.",
            node.name, extra.name, extra.ns
        )),
    }
}

fn required<'a>(node: &'a Node, attr: &str) -> Result<&'a str, String> {
    node.attr(attr).ok_or_else(|| {
        format!(
            "The required attribute '{attr}' is missing from '{}'.",
            node.name
        )
    })
}

fn enumerated(node: &Node, attr: &str, values: &[&str]) -> Result<(), String> {
    let value = required(node, attr)?;
    if values.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "The '{attr}' attribute is invalid - the value '{value}' is invalid according to its datatype."
        ))
    }
}

fn base_shape(shape: &Node) -> Result<(), String> {
    match shape.child_text("BaseShape") {
        Some("IdOnly" | "Default" | "AllProperties" | "PcxPeopleSearch") => Ok(()),
        other => Err(format!(
            "The 'BaseShape' element is invalid - the value '{}' is invalid according to its datatype.",
            other.unwrap_or_default()
        )),
    }
}

/// FolderResponseShapeType.
fn folder_shape(op: &Node) -> Result<(), String> {
    let shape = op
        .child("FolderShape")
        .expect("checked by the operation's sequence");
    sequence(
        shape,
        TYPES,
        &[
            Slot(&["BaseShape"], One),
            Slot(&["AdditionalProperties"], Optional),
        ],
    )?;
    base_shape(shape)?;
    paths(shape)
}

/// ItemResponseShapeType.
fn item_shape(op: &Node) -> Result<(), String> {
    let shape = op
        .child("ItemShape")
        .expect("checked by the operation's sequence");
    sequence(
        shape,
        TYPES,
        &[
            Slot(&["BaseShape"], One),
            Slot(&["IncludeMimeContent"], Optional),
            Slot(&["BodyType"], Optional),
            Slot(&["UniqueBodyType"], Optional),
            Slot(&["NormalizedBodyType"], Optional),
            Slot(&["FilterHtmlContent"], Optional),
            Slot(&["ConvertHtmlCodePageToUTF8"], Optional),
            Slot(&["InlineImageUrlTemplate"], Optional),
            Slot(&["BlockExternalImages"], Optional),
            Slot(&["AddBlankTargetToLinks"], Optional),
            Slot(&["MaximumBodySize"], Optional),
            Slot(&["AdditionalProperties"], Optional),
        ],
    )?;
    base_shape(shape)?;
    paths(shape)
}

/// NonEmptyArrayOfPathsToElementType, and each path's required attributes.
fn paths(shape: &Node) -> Result<(), String> {
    let Some(props) = shape.child("AdditionalProperties") else {
        return Ok(());
    };
    sequence(
        props,
        TYPES,
        &[Slot(
            &["FieldURI", "IndexedFieldURI", "ExtendedFieldURI"],
            Many,
        )],
    )?;
    for path in &props.children {
        match path.name.as_str() {
            "FieldURI" => drop(required(path, "FieldURI")?),
            "IndexedFieldURI" => {
                required(path, "FieldURI")?;
                required(path, "FieldIndex")?;
            }
            _ => drop(required(path, "PropertyType")?),
        }
    }
    Ok(())
}

/// NonEmptyArrayOfBaseFolderIdsType.
fn folder_ids(op: &Node, name: &str) -> Result<(), String> {
    let ids = op.child(name).expect("checked by the operation's sequence");
    sequence(
        ids,
        TYPES,
        &[Slot(&["FolderId", "DistinguishedFolderId"], Many)],
    )?;
    ids.children.iter().try_for_each(folder_id)
}

fn folder_id(id: &Node) -> Result<(), String> {
    required(id, "Id")?;
    if id.name == "DistinguishedFolderId" {
        sequence(id, TYPES, &[Slot(&["Mailbox"], Optional)])?;
    }
    Ok(())
}

/// IndexedPageViewType: Offset and BasePoint are required.
fn paging(view: Option<&Node>) -> Result<(), String> {
    let Some(view) = view else { return Ok(()) };
    enumerated(view, "BasePoint", &["Beginning", "End"])?;
    for attr in ["Offset", "MaxEntriesReturned"] {
        if let Some(value) = view.attr(attr).filter(|v| v.parse::<i32>().is_err()) {
            return Err(format!(
                "The '{attr}' attribute is invalid - the value '{value}' is invalid according to its datatype 'int'."
            ));
        }
    }
    required(view, "Offset").map(drop)
}

#[cfg(test)]
mod tests {
    use super::super::request::parse;
    use super::*;

    fn request(version: &str, body: &str) -> Request {
        let xml = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><s:Header><t:RequestServerVersion Version="{version}"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
        );
        parse(xml.as_bytes()).unwrap()
    }

    const GET_ITEM: &str = r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="a"/></m:ItemIds></m:GetItem>"#;

    #[test]
    fn accepts_a_valid_request() {
        assert_eq!(check(&request("Exchange2013_SP1", GET_ITEM)), Ok(()));
    }

    #[test]
    fn refuses_order_names_namespaces_and_values() {
        let swapped = r#"<m:GetItem><m:ItemIds><t:ItemId Id="a"/></m:ItemIds><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape></m:GetItem>"#;
        assert_eq!(
            check(&request("Exchange2016", swapped)).unwrap_err().code,
            "ErrorSchemaValidation"
        );
        let wrong_ns = GET_ITEM
            .replace("<m:ItemIds>", "<t:ItemIds>")
            .replace("</m:ItemIds>", "</t:ItemIds>");
        assert!(check(&request("Exchange2016", &wrong_ns)).is_err());
        let shape = GET_ITEM.replace("IdOnly", "Everything");
        assert!(check(&request("Exchange2016", &shape)).is_err());
        let no_id = GET_ITEM.replace(r#" Id="a""#, "");
        assert!(check(&request("Exchange2016", &no_id)).is_err());
        assert_eq!(
            check(&request("Exchange2099", GET_ITEM)).unwrap_err().code,
            "ErrorInvalidServerVersion"
        );
        let traversal = r#"<m:FindFolder Traversal="Sideways"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:ParentFolderIds><t:DistinguishedFolderId Id="root"/></m:ParentFolderIds></m:FindFolder>"#;
        assert!(check(&request("Exchange2016", traversal)).is_err());
        assert_eq!(
            check(&request(
                "Exchange2016",
                &traversal.replace("Sideways", "Deep")
            )),
            Ok(())
        );
    }
}
