//! Response shapes: which properties a request asks for, and whether this
//! server knows them. Exchange returns only what the shape names (IdOnly
//! plus AdditionalProperties), and refuses a property path it does not know
//! with `ErrorInvalidPropertyRequest`.

use super::request::Node;
use std::collections::{HashMap, HashSet};

/// The property paths this server knows, as the FieldURI documentation
/// names them (a unit test holds them against types.xsd). Most are answered
/// with nothing, as Exchange does for a property an item has no value for.
const KNOWN: &[&str] = &[
    // folders
    "folder:FolderId",
    "folder:ParentFolderId",
    "folder:DisplayName",
    "folder:UnreadCount",
    "folder:TotalCount",
    "folder:ChildFolderCount",
    "folder:FolderClass",
    "folder:SearchParameters",
    "folder:ManagedFolderInformation",
    "folder:PermissionSet",
    "folder:EffectiveRights",
    "folder:SharingEffectiveRights",
    "folder:DistinguishedFolderId",
    "folder:PolicyTag",
    "folder:ArchiveTag",
    "folder:ReplicaList",
    // items
    "item:ItemId",
    "item:ParentFolderId",
    "item:ItemClass",
    "item:MimeContent",
    "item:Attachments",
    "item:Subject",
    "item:DateTimeReceived",
    "item:Size",
    "item:Categories",
    "item:HasAttachments",
    "item:Importance",
    "item:InReplyTo",
    "item:InternetMessageHeaders",
    "item:IsAssociated",
    "item:IsDraft",
    "item:IsFromMe",
    "item:IsResend",
    "item:IsSubmitted",
    "item:IsUnmodified",
    "item:DateTimeSent",
    "item:DateTimeCreated",
    "item:Body",
    "item:ResponseObjects",
    "item:Sensitivity",
    "item:ReminderDueBy",
    "item:ReminderIsSet",
    "item:ReminderNextTime",
    "item:ReminderMinutesBeforeStart",
    "item:DisplayTo",
    "item:DisplayCc",
    "item:DisplayBcc",
    "item:Culture",
    "item:EffectiveRights",
    "item:LastModifiedName",
    "item:LastModifiedTime",
    "item:ConversationId",
    "item:UniqueBody",
    "item:Flag",
    "item:StoreEntryId",
    "item:InstanceKey",
    "item:NormalizedBody",
    "item:PolicyTag",
    "item:ArchiveTag",
    "item:RetentionDate",
    "item:Preview",
    "item:TextBody",
    "item:IconIndex",
    "item:WebClientReadFormQueryString",
    "item:WebClientEditFormQueryString",
    "item:EntityExtractionResult",
    "item:PredictedActionReasons",
    "item:IsClutter",
    "item:RightsManagementLicenseData",
    "item:BlockStatus",
    "item:HasBlockedImages",
    "item:MimeContentUTF8",
    "item:Mentions",
    "item:MentionedMe",
    "item:MentionsPreview",
    "item:MentionsEx",
    "item:Hashtags",
    "item:AppliedHashtags",
    "item:AppliedHashtagsPreview",
    "item:Likes",
    "item:LikesPreview",
    "item:PendingSocialActivityTagIds",
    "item:AtAllMention",
    "item:CanDelete",
    "item:InferenceClassification",
    "item:FirstBody",
    // messages
    "message:ConversationIndex",
    "message:ConversationTopic",
    "message:InternetMessageId",
    "message:IsRead",
    "message:IsResponseRequested",
    "message:IsReadReceiptRequested",
    "message:IsDeliveryReceiptRequested",
    "message:ReceivedBy",
    "message:ReceivedRepresenting",
    "message:References",
    "message:ReplyTo",
    "message:From",
    "message:Sender",
    "message:ToRecipients",
    "message:CcRecipients",
    "message:BccRecipients",
    "message:ReminderMessageData",
    "message:ApprovalRequestData",
    "message:VotingInformation",
    // calendar items
    "calendar:Start",
    "calendar:End",
    "calendar:OriginalStart",
    "calendar:StartWallClock",
    "calendar:EndWallClock",
    "calendar:StartTimeZoneId",
    "calendar:EndTimeZoneId",
    "calendar:IsAllDayEvent",
    "calendar:LegacyFreeBusyStatus",
    "calendar:Location",
    "calendar:EnhancedLocation",
    "calendar:When",
    "calendar:IsMeeting",
    "calendar:IsCancelled",
    "calendar:IsRecurring",
    "calendar:MeetingRequestWasSent",
    "calendar:IsResponseRequested",
    "calendar:CalendarItemType",
    "calendar:MyResponseType",
    "calendar:Organizer",
    "calendar:RequiredAttendees",
    "calendar:OptionalAttendees",
    "calendar:Resources",
    "calendar:ConflictingMeetingCount",
    "calendar:AdjacentMeetingCount",
    "calendar:ConflictingMeetings",
    "calendar:AdjacentMeetings",
    "calendar:InboxReminders",
    "calendar:Duration",
    "calendar:TimeZone",
    "calendar:AppointmentReplyTime",
    "calendar:AppointmentSequenceNumber",
    "calendar:AppointmentState",
    "calendar:Recurrence",
    "calendar:FirstOccurrence",
    "calendar:LastOccurrence",
    "calendar:ModifiedOccurrences",
    "calendar:DeletedOccurrences",
    "calendar:MeetingTimeZone",
    "calendar:ConferenceType",
    "calendar:AllowNewTimeProposal",
    "calendar:IsOnlineMeeting",
    "calendar:MeetingWorkspaceUrl",
    "calendar:NetShowUrl",
    "calendar:UID",
    "calendar:RecurrenceId",
    "calendar:DateTimeStamp",
    "calendar:StartTimeZone",
    "calendar:EndTimeZone",
    "calendar:JoinOnlineMeetingUrl",
    "calendar:OnlineMeetingSettings",
    "calendar:IsOrganizer",
    "calendar:CalendarActivityData",
    // tasks
    "task:ActualWork",
    "task:AssignedTime",
    "task:BillingInformation",
    "task:ChangeCount",
    "task:Companies",
    "task:CompleteDate",
    "task:Contacts",
    "task:DelegationState",
    "task:Delegator",
    "task:DueDate",
    "task:IsAssignmentEditable",
    "task:IsComplete",
    "task:IsRecurring",
    "task:IsTeamTask",
    "task:Mileage",
    "task:Owner",
    "task:PercentComplete",
    "task:Recurrence",
    "task:StartDate",
    "task:Status",
    "task:StatusDescription",
    "task:TotalWork",
    // contacts
    "contacts:Alias",
    "contacts:AssistantName",
    "contacts:Birthday",
    "contacts:BusinessHomePage",
    "contacts:Children",
    "contacts:Companies",
    "contacts:CompanyName",
    "contacts:CompleteName",
    "contacts:ContactSource",
    "contacts:Culture",
    "contacts:Department",
    "contacts:DisplayName",
    "contacts:DirectoryId",
    "contacts:DirectReports",
    "contacts:EmailAddresses",
    "contacts:FileAs",
    "contacts:FileAsMapping",
    "contacts:Generation",
    "contacts:GivenName",
    "contacts:ImAddresses",
    "contacts:Initials",
    "contacts:JobTitle",
    "contacts:Manager",
    "contacts:ManagerMailbox",
    "contacts:MiddleName",
    "contacts:Mileage",
    "contacts:MSExchangeCertificate",
    "contacts:Nickname",
    "contacts:Notes",
    "contacts:OfficeLocation",
    "contacts:PhoneNumbers",
    "contacts:PhoneticFullName",
    "contacts:PhoneticFirstName",
    "contacts:PhoneticLastName",
    "contacts:Photo",
    "contacts:PhysicalAddresses",
    "contacts:PostalAddressIndex",
    "contacts:Profession",
    "contacts:SpouseName",
    "contacts:Surname",
    "contacts:WeddingAnniversary",
    "contacts:UserSMIMECertificate",
    "contacts:HasPicture",
    "contacts:AbchEmailAddresses",
    "contacts:AccountName",
    "contacts:IsAutoUpdateDisabled",
    "contacts:IsMessengerEnabled",
    "contacts:Comment",
    "contacts:ContactShortId",
    "contacts:ContactType",
    "contacts:CreatedBy",
    "contacts:Gender",
    "contacts:IsHidden",
    "contacts:ObjectId",
    "contacts:PassportId",
    "contacts:IsPrivate",
    "contacts:SourceId",
    "contacts:TrustLevel",
    "contacts:Urls",
    "contacts:Cid",
    "contacts:SkypeAuthCertificate",
    "contacts:SkypeContext",
    "contacts:SkypeId",
    "contacts:XboxLiveTag",
    "contacts:SkypeRelationship",
    "contacts:YomiNickname",
    "contacts:InviteFree",
    "contacts:HidePresenceAndProfile",
    "contacts:IsPendingOutbound",
    "contacts:SupportGroupFeeds",
    "contacts:UserTileHash",
    "contacts:UnifiedInbox",
    "contacts:Mris",
    "contacts:Wlid",
    "contacts:AbchContactId",
    "contacts:NotInBirthdayCalendar",
    "contacts:ShellContactType",
    "contacts:ImMri",
    "contacts:PresenceTrustLevel",
    "contacts:OtherMri",
    "contacts:ProfileLastChanged",
    "contacts:MobileIMEnabled",
    "contacts:PartnerNetworkProfilePhotoUrl",
    "contacts:PartnerNetworkThumbnailPhotoUrl",
    "contacts:PersonId",
    "contacts:ConversationGuid",
    // distribution lists
    "distributionlist:Members",
];

/// The schema's other property groups: properties of item kinds this
/// server holds none of. Asked for (exchangelib asks for every property of
/// a folder it does not know the kind of), they come back with nothing, as
/// from Exchange for an item that lacks them.
const OTHER_KINDS: &[&str] =
    &["meeting", "meetingRequest", "postitem", "person", "abchperson", "network", "rolemember", "insight", "booking"];

/// Indexed paths (`IndexedFieldURI`): a dictionary entry by key.
const INDEXED: &[&str] = &[
    "contacts:EmailAddress",
    "contacts:PhoneNumber",
    "contacts:ImAddress",
    "contacts:PhysicalAddress:Street",
    "contacts:PhysicalAddress:City",
    "contacts:PhysicalAddress:State",
    "contacts:PhysicalAddress:CountryOrRegion",
    "contacts:PhysicalAddress:PostalCode",
    "item:InternetMessageHeader",
    "distributionlist:Members:Member",
];

/// What a response shape asks for.
#[derive(Debug, Default)]
pub struct Shape {
    /// Default or AllProperties: what this server writes by default
    pub all: bool,
    /// element names asked for one by one (`GivenName`, `DisplayName`, ...)
    fields: HashSet<String>,
    /// dictionaries asked for by entry: element name to keys
    entries: HashMap<String, HashSet<String>>,
    /// extended properties by tag, lower case (`0x10f4`)
    tags: HashSet<String>,
    /// `BodyType`: Best (the default), HTML or Text, which the server
    /// converts HTML to (reference/mailbox-content.md 1.3, bodytype.md)
    pub body_type: Option<String>,
}

impl Shape {
    /// The shape of a request's `ItemShape` or `FolderShape`, or the name of
    /// the first path this server does not know.
    pub fn read(shape: Option<&Node>) -> Result<Shape, String> {
        let Some(shape) = shape else {
            return Ok(Shape::default());
        };
        let mut out = Shape {
            all: matches!(
                shape.child_text("BaseShape"),
                Some("Default" | "AllProperties")
            ),
            body_type: shape.child_text("BodyType").map(|t| t.trim().to_string()),
            ..Shape::default()
        };
        let paths = shape
            .child("AdditionalProperties")
            .map(|p| p.children.as_slice())
            .unwrap_or_default();
        for path in paths {
            let uri = path.attr("FieldURI").unwrap_or_default();
            match path.name.as_str() {
                "FieldURI" if KNOWN.contains(&uri) => {
                    out.fields.insert(element_of(uri).to_string());
                }
                "FieldURI" if uri.split_once(':').is_some_and(|(group, name)| OTHER_KINDS.contains(&group) && !name.is_empty()) => {}
                "IndexedFieldURI" if INDEXED.contains(&uri) => {
                    let key = path.attr("FieldIndex").unwrap_or_default().to_string();
                    out.entries
                        .entry(dictionary_of(uri))
                        .or_default()
                        .insert(key);
                }
                "ExtendedFieldURI" => {
                    if let Some(tag) = path.attr("PropertyTag") {
                        out.tags.insert(normal_tag(tag));
                    }
                }
                _ => return Err(uri.to_string()),
            }
        }
        Ok(out)
    }

    /// Whether an element of the answer is asked for.
    pub fn wants(&self, element: &str) -> bool {
        self.all || self.fields.contains(element) || self.entries.contains_key(element)
    }

    /// Whether an element is named in the shape's additional properties:
    /// some (a folder's permissions) no base shape brings.
    pub fn names(&self, element: &str) -> bool {
        self.fields.contains(element)
    }

    /// Whether a dictionary entry is asked for: the whole dictionary, or
    /// that key of it (`PhysicalAddresses:City` names a part of an entry).
    pub fn wants_entry(&self, dictionary: &str, key: &str) -> bool {
        let whole = dictionary.split(':').next().unwrap_or(dictionary);
        self.all
            || self.fields.contains(whole)
            || self
                .entries
                .get(dictionary)
                .is_some_and(|keys| keys.contains(key))
    }

    /// Whether an extended property was asked for by its tag. Exchange
    /// never returns one unasked, whatever the base shape.
    pub fn wants_tag(&self, tag: &str) -> bool {
        self.tags.contains(&normal_tag(tag))
    }
}

/// `0x10F4`, `0x10f4` and `4340` name the same property tag.
fn normal_tag(tag: &str) -> String {
    let value = match tag.strip_prefix("0x").or_else(|| tag.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => tag.parse().ok(),
    };
    value.map_or_else(|| tag.to_ascii_lowercase(), |v| format!("{v:#06x}"))
}

/// `contacts:GivenName` is written as `<t:GivenName>`.
fn element_of(uri: &str) -> &str {
    uri.rsplit(':').next().unwrap_or(uri)
}

/// `contacts:EmailAddress` indexes `<t:EmailAddresses>`;
/// `contacts:PhysicalAddress:City` a part of `<t:PhysicalAddresses>` entries.
fn dictionary_of(uri: &str) -> String {
    let mut parts = uri.split(':').skip(1);
    let dictionary = match parts.next() {
        Some("EmailAddress") => "EmailAddresses",
        Some("PhoneNumber") => "PhoneNumbers",
        Some("ImAddress") => "ImAddresses",
        Some("PhysicalAddress") => "PhysicalAddresses",
        Some("InternetMessageHeader") => "InternetMessageHeaders",
        _ => "Members",
    };
    match parts.next() {
        Some(part) => format!("{dictionary}:{part}"),
        None => dictionary.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema is the judge of the names above.
    #[test]
    fn every_known_path_is_in_the_schema() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/ews/schema/types.xsd"
        );
        let schema = std::fs::read_to_string(path)
            .expect("../shared/fixtures/ews/schema/types.xsd beside the project");
        for uri in KNOWN.iter().chain(INDEXED) {
            assert!(
                schema.contains(&format!(r#"<xs:enumeration value="{uri}""#)),
                "{uri} is not in types.xsd"
            );
        }
    }

    #[test]
    fn tags_compare_by_value() {
        assert_eq!(normal_tag("0x10F4"), normal_tag("4340"));
        assert_eq!(normal_tag("0x3a4a"), "0x3a4a");
    }
}

#[cfg(test)]
mod shape_tests {
    use super::super::request::parse;
    use super::*;

    fn shape(paths: &str) -> Result<Shape, String> {
        let xml = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{}" xmlns:t="{}"><s:Body><m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>{paths}</t:AdditionalProperties></m:ItemShape></m:GetItem></s:Body></s:Envelope>"#,
            super::super::request::MESSAGES,
            super::super::request::TYPES
        );
        Shape::read(parse(xml.as_bytes()).unwrap().operation.child("ItemShape"))
    }

    #[test]
    fn only_what_is_asked_for_and_unknown_paths_named() {
        let s = shape(r#"<t:FieldURI FieldURI="contacts:GivenName"/><t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/>"#).unwrap();
        assert!(s.wants("GivenName") && !s.wants("Surname"));
        assert!(s.wants_entry("EmailAddresses", "EmailAddress1") && !s.wants_entry("EmailAddresses", "EmailAddress2"));
        assert!(shape(r#"<t:FieldURI FieldURI="postitem:PostedTime"/>"#).is_ok(), "another kind's property: nothing to return");
        assert_eq!(shape(r#"<t:FieldURI FieldURI="contacts:GivenNmae"/>"#).unwrap_err(), "contacts:GivenNmae");
    }
}
