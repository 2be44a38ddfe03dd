//! Reads the frame every EWS response shares: the `ServerVersionInfo`
//! header, SOAP faults, and one response message per requested object with
//! its `ResponseClass` and `ResponseCode`. What a message carries besides
//! its status is handed to the operation's [`MessageHandler`].

use super::xml::{Element, Item, Ns, Tag, Utf8Lossy, XmlError, XmlStream};
use std::io::BufRead;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
    pub build: u32,
    pub revision: u32,
    /// schema version such as `V2017_07_11`; Exchange 2007 sends none
    pub schema: Option<String>,
}

impl ServerVersion {
    fn from_tag(tag: &Tag) -> Self {
        let number = |name: &str| tag.attr(name).and_then(|v| v.parse().ok()).unwrap_or(0);
        ServerVersion {
            major: number("MajorVersion"),
            minor: number("MinorVersion"),
            build: number("MajorBuildNumber"),
            revision: number("MinorBuildNumber"),
            schema: tag.attr("Version").map(str::to_string),
        }
    }

    /// The product name an admin knows, from the build number.
    pub fn product(&self) -> &'static str {
        match (self.major, self.minor) {
            (8, _) => "Exchange Server 2007",
            (14, _) => "Exchange Server 2010",
            (15, 0) => "Exchange Server 2013",
            (15, 1) => "Exchange Server 2016",
            (15, 2) => "Exchange Server 2019 or Subscription Edition",
            (15, m) if m >= 20 => "Exchange Online",
            _ => "Exchange",
        }
    }

    pub fn display(&self) -> String {
        let number = format!("{}.{}.{}.{}", self.major, self.minor, self.build, self.revision);
        match &self.schema {
            Some(schema) => format!("{number} ({schema})"),
            None => number,
        }
    }
}

/// The status of one response message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// `Success`, `Warning` or `Error`
    pub class: String,
    pub code: String,
    pub text: String,
    /// the server's suggested back-off when it is busy
    pub back_off_ms: Option<u64>,
}

impl Status {
    pub fn is_error(&self) -> bool {
        self.class == "Error"
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// a SOAP fault: the whole request failed
    Fault { code: String, message: String, back_off_ms: Option<u64> },
    /// not a SOAP envelope at all
    NotSoap(String),
    Malformed(String),
    /// the bytes stopped coming (a dropped connection, a body over the
    /// host's limit)
    Transport(String),
    /// a response message said `ErrorServerBusy`: the whole request is to
    /// be tried again
    Busy { back_off_ms: Option<u64> },
}

impl From<XmlError> for ResponseError {
    fn from(e: XmlError) -> Self {
        if e.is_transport() { ResponseError::Transport(e.0) } else { ResponseError::Malformed(e.0) }
    }
}

/// What an operation does with its response messages.
pub trait MessageHandler<R: BufRead> {
    // `R` is the stream the parser reads, after UTF-8 repair.
    /// An element of a response message other than its status (for
    /// example `Items` or `RootFolder`); the handler must consume it whole.
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError>;

    /// A response message ended; `status` tells how it went.
    fn message(&mut self, status: Status) -> Result<(), ResponseError>;
}

/// Read a whole response, streaming, and return the server version.
pub fn read_response<R: BufRead>(
    input: R,
    handler: &mut impl MessageHandler<Utf8Lossy<R>>,
) -> Result<Option<ServerVersion>, ResponseError> {
    let mut stream = XmlStream::new(Utf8Lossy::new(input));
    let mut version = None;
    let mut saw_envelope = false;
    loop {
        let tag = match stream.next() {
            Ok(Item::Start(tag)) => tag,
            Ok(Item::End | Item::Text(_)) => continue,
            Ok(Item::Eof) => break,
            Err(e) if !saw_envelope && !e.is_transport() => return Err(ResponseError::NotSoap(e.0)),
            Err(e) => return Err(e.into()),
        };
        match (tag.ns, tag.name.as_str()) {
            (Ns::Soap, "Envelope") => saw_envelope = true,
            (Ns::Soap, "Header" | "Body") => {}
            (Ns::Types, "ServerVersionInfo") => {
                version = Some(ServerVersion::from_tag(&tag));
                stream.skip_element()?;
            }
            (Ns::Soap, "Fault") => return Err(fault(stream.read_element(tag)?)),
            (Ns::Messages, "ResponseMessages") => {}
            // Some operations (GetSearchableMailboxes, GetRooms, FindPeople)
            // answer one message that is their response element itself.
            (Ns::Messages, name)
                if name.ends_with("ResponseMessage") || (name.ends_with("Response") && tag.attr("ResponseClass").is_some()) =>
            {
                let status = read_message(&mut stream, tag, handler)?;
                if status.code == "ErrorServerBusy" {
                    return Err(ResponseError::Busy { back_off_ms: status.back_off_ms });
                }
                handler.message(status)?;
            }
            // The operation's response element, such as `GetItemResponse`.
            (Ns::Messages, name) if name.ends_with("Response") => {}
            _ if !saw_envelope => {
                return Err(ResponseError::NotSoap(format!("the document starts with <{}>", tag.name)));
            }
            _ => stream.skip_element()?,
        }
    }
    if !saw_envelope {
        return Err(ResponseError::NotSoap("the response is empty".into()));
    }
    Ok(version)
}

fn read_message<S: BufRead>(
    stream: &mut XmlStream<S>,
    tag: Tag,
    handler: &mut impl MessageHandler<S>,
) -> Result<Status, ResponseError> {
    let mut status = Status { class: tag.attr("ResponseClass").unwrap_or("Success").to_string(), ..Default::default() };
    loop {
        match stream.next()? {
            Item::Start(child) => match (child.ns, child.name.as_str()) {
                (Ns::Messages, "ResponseCode") => status.code = stream.read_element(child)?.text,
                (Ns::Messages, "MessageText") => status.text = stream.read_element(child)?.text,
                (Ns::Messages, "MessageXml") => {
                    status.back_off_ms = back_off(&stream.read_element(child)?);
                }
                (Ns::Messages, "DescriptiveLinkKey") => stream.skip_element()?,
                _ => handler.payload(stream, child)?,
            },
            Item::Text(_) => {}
            Item::End => return Ok(status),
            Item::Eof => return Err(ResponseError::Malformed("the response ends inside a message".into())),
        }
    }
}

/// `BackOffMilliseconds` from a `MessageXml` element.
fn back_off(message_xml: &Element) -> Option<u64> {
    message_xml
        .children
        .iter()
        .find(|v| v.attr("Name") == Some("BackOffMilliseconds"))
        .and_then(|v| v.text.trim().parse().ok())
}

fn fault(element: Element) -> ResponseError {
    let detail = element.child("detail");
    let code = detail
        .and_then(|d| d.child_text("ResponseCode"))
        .map(str::to_string)
        .or_else(|| {
            element
                .child_text("faultcode")
                .map(|c| c.rsplit(':').next().unwrap_or(c).to_string())
        })
        .unwrap_or_default();
    let message = element.child_text("faultstring").unwrap_or_default().to_string();
    let back_off_ms = detail.and_then(|d| d.child("MessageXml")).and_then(back_off);
    ResponseError::Fault { code, message, back_off_ms }
}

/// Hand each child element of the element whose start tag was just read
/// (`what`, for the error) to `each`, which must consume it whole, until
/// the element ends.
pub fn each_child<R: BufRead>(
    stream: &mut XmlStream<R>,
    what: &str,
    mut each: impl FnMut(&mut XmlStream<R>, Tag) -> Result<(), ResponseError>,
) -> Result<(), ResponseError> {
    loop {
        match stream.next()? {
            Item::Start(child) => each(stream, child)?,
            Item::End => return Ok(()),
            Item::Text(_) => {}
            Item::Eof => return Err(ResponseError::Malformed(format!("truncated {what}"))),
        }
    }
}

/// Where a paged listing (`FindFolder`, `FindItem`) stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paging {
    /// offset of the next page
    pub next_offset: u32,
    /// `IncludesLastItemInRange`: no page follows
    pub last: bool,
    pub total: Option<u64>,
}

/// Read a `RootFolder` listing element whose start tag was just returned,
/// handing each entry of its `container` (`Folders` or `Items`) to `each`
/// as soon as it is read.
pub fn read_root_folder<R: BufRead>(
    stream: &mut XmlStream<R>,
    tag: Tag,
    container: &str,
    offset: u32,
    mut each: impl FnMut(Element),
) -> Result<Paging, ResponseError> {
    let mut count = 0u32;
    each_child(stream, "RootFolder", |stream, child| {
        if !child.is(Ns::Types, container) {
            return Ok(stream.skip_element()?);
        }
        each_child(stream, container, |stream, entry| {
            each(stream.read_element(entry)?);
            count += 1;
            Ok(())
        })
    })?;
    Ok(Paging {
        next_offset: tag.attr("IndexedPagingOffset").and_then(|v| v.parse().ok()).unwrap_or(offset + count),
        // A server that omits the attribute sends everything at once.
        last: tag.attr("IncludesLastItemInRange") != Some("false"),
        total: tag.attr("TotalItemsInView").and_then(|v| v.parse().ok()),
    })
}

/// The handler of operations that answer one message holding a list
/// (GetSearchableMailboxes, GetRoomLists, GetRooms): each entry of the
/// payload element named `container`, read as it streams in and kept
/// where `pick` makes something of it.
pub struct Entries<T> {
    container: &'static str,
    pick: fn(&Element) -> Option<T>,
    pub found: Vec<T>,
    pub status: Status,
}

impl<T> Entries<T> {
    pub fn new(container: &'static str, pick: fn(&Element) -> Option<T>) -> Self {
        Entries { container, pick, found: Vec::new(), status: Status::default() }
    }
}

impl<R: BufRead, T> MessageHandler<R> for Entries<T> {
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError> {
        if !tag.is(Ns::Messages, self.container) {
            return Ok(stream.skip_element()?);
        }
        loop {
            match stream.next()? {
                Item::Start(entry) => self.found.extend((self.pick)(&stream.read_element(entry)?)),
                Item::End => return Ok(()),
                Item::Text(_) => {}
                Item::Eof => return Err(ResponseError::Malformed(format!("truncated {}", self.container))),
            }
        }
    }

    fn message(&mut self, status: Status) -> Result<(), ResponseError> {
        self.status = status;
        Ok(())
    }
}

/// The handler of operations that answer one message per requested object
/// (GetFolder, GetItem): each result is the single entry of the message's
/// `container` element, or the message's error status.
pub struct PerObject<T> {
    container: &'static str,
    current: Option<T>,
    pub results: Vec<Result<T, Status>>,
}

/// What a response message carries one of (an item, a folder), read from
/// the stream after its start tag.
pub trait Object: Sized {
    fn read<R: BufRead>(stream: &mut XmlStream<R>, tag: Tag) -> Result<Self, XmlError>;
}

impl<T> PerObject<T> {
    pub fn new(container: &'static str) -> Self {
        PerObject { container, current: None, results: Vec::new() }
    }
}

impl<R: BufRead, T: Object> MessageHandler<R> for PerObject<T> {
    fn payload(&mut self, stream: &mut XmlStream<R>, tag: Tag) -> Result<(), ResponseError> {
        if !tag.is(Ns::Messages, self.container) {
            return Ok(stream.skip_element()?);
        }
        loop {
            match stream.next()? {
                Item::Start(entry) => self.current = Some(T::read(stream, entry)?),
                Item::End => return Ok(()),
                Item::Text(_) => {}
                Item::Eof => return Err(ResponseError::Malformed(format!("truncated {}", self.container))),
            }
        }
    }

    fn message(&mut self, status: Status) -> Result<(), ResponseError> {
        let entry = self.current.take();
        self.results.push(match entry {
            Some(entry) if !status.is_error() => Ok(entry),
            _ => Err(status),
        });
        Ok(())
    }
}
