//! A streaming, namespace-aware XML reader for EWS responses.
//!
//! Elements are matched by namespace URI and local name, never by prefix:
//! servers and proxies pick prefixes freely (`s:`, `soap:`, `SOAP-ENV:`, or a
//! default namespace). Small subtrees (one contact, one folder) can be read
//! into an [`Element`]; the document as a whole is never held in memory.

use compact_str::CompactString;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::PrefixDeclaration;
use quick_xml::{Reader, XmlVersion};
use std::io::BufRead;

pub const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
pub const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
pub const ERRORS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";

const _: () = assert!(SOAP.len() != MESSAGES.len() && MESSAGES.len() != TYPES.len() && TYPES.len() != ERRORS.len() && SOAP.len() != TYPES.len() && SOAP.len() != ERRORS.len() && MESSAGES.len() != ERRORS.len());

/// The namespaces an EWS response uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ns {
    Soap,
    Messages,
    Types,
    Errors,
    /// no namespace (SOAP fault children such as `faultcode`) or another one
    Other,
}

impl Ns {
    fn of(uri: &str) -> Ns {
        // The four URIs differ in length: one comparison, not four.
        let (candidate, known) = match uri.len() {
            n if n == SOAP.len() => (Ns::Soap, SOAP),
            n if n == MESSAGES.len() => (Ns::Messages, MESSAGES),
            n if n == TYPES.len() => (Ns::Types, TYPES),
            n if n == ERRORS.len() => (Ns::Errors, ERRORS),
            _ => return Ns::Other,
        };
        if same(uri.as_bytes(), known.as_bytes()) { candidate } else { Ns::Other }
    }
}

/// Equal bytes, compared eight at a time: wasm's memcmp goes byte by byte
/// (when this ran for every element, it was 5 % of a mail sync).
fn same(a: &[u8], b: &[u8]) -> bool {
    let word = |w: &[u8]| u64::from_le_bytes(w.try_into().expect("chunks of eight"));
    a.len() == b.len()
        && a.chunks_exact(8).zip(b.chunks_exact(8)).all(|(x, y)| word(x) == word(y))
        && a.chunks_exact(8).remainder() == b.chunks_exact(8).remainder()
}

#[derive(Debug)]
pub struct XmlError(pub String);

impl XmlError {
    /// Reading the bytes failed (a dropped connection, a body over the
    /// host's limit), as opposed to bytes that are no XML.
    pub fn is_transport(&self) -> bool {
        self.0.starts_with(TRANSPORT_PREFIX)
    }
}

const TRANSPORT_PREFIX: &str = "reading the response failed: ";

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<quick_xml::Error> for XmlError {
    fn from(e: quick_xml::Error) -> Self {
        match e {
            quick_xml::Error::Io(io) => XmlError(format!("{TRANSPORT_PREFIX}{io}")),
            other => XmlError(format!("malformed XML: {other}")),
        }
    }
}

/// An element's local name: kept inline (EWS names are short), so that
/// reading an element allocates nothing for its name.
pub type Name = CompactString;

/// One start tag, with its attributes by local name.
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    pub ns: Ns,
    pub name: Name,
    pub attrs: Vec<(String, String)>,
}

impl Tag {
    pub fn is(&self, ns: Ns, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The events a parser sees: structure and text, nothing else.
#[derive(Debug, PartialEq)]
pub enum Item {
    Start(Tag),
    End,
    Text(String),
    Eof,
}

/// A small subtree, read whole.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Element {
    pub name: Name,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The text, trimmed, taken out rather than copied.
    pub fn take_text(&mut self) -> String {
        let mut text = std::mem::take(&mut self.text);
        if !needs_trim(&text) {
            return text;
        }
        text.truncate(text.trim_end().len());
        let start = text.len() - text.trim_start().len();
        text.drain(..start);
        text
    }

    /// An attribute's value, taken out rather than copied.
    pub fn take_attr(&mut self, name: &str) -> Option<String> {
        self.attrs.iter_mut().find(|(k, _)| k == name).map(|(_, v)| std::mem::take(v))
    }
}

/// The namespace prefixes in scope, innermost last. quick-xml's NsReader
/// parses every attribute of every start tag to find declarations and
/// resolves end tags too; EWS declares a few prefixes near the root, and
/// its ids are long attributes: half of a GetItem's tags carry one.
#[derive(Default)]
struct Scopes {
    /// prefix ("" for the default namespace), its namespace, and the number
    /// of elements open outside the element that declared it
    bindings: Vec<(String, Ns, usize)>,
}

/// More prefixes in scope at once than any EWS answer declares; a hostile
/// answer must not make every lookup long.
const MAX_BINDINGS: usize = 64;

impl Scopes {
    /// Take the declarations of a start tag `open` elements deep.
    fn enter(&mut self, start: &BytesStart, open: usize) -> Result<(), XmlError> {
        // Most tags declare nothing: spare them the attribute parser.
        if memchr::memmem::find(start.attributes_raw().as_bytes(), b"xmlns").is_none() {
            return Ok(());
        }
        for attr in start.attributes().with_checks(false) {
            let attr = attr.map_err(|e| XmlError(format!("malformed attribute: {e}")))?;
            let prefix = match attr.key.as_namespace_binding() {
                Some(PrefixDeclaration::Default) => "",
                Some(PrefixDeclaration::Named(prefix)) => prefix,
                None => continue,
            };
            if self.bindings.len() >= MAX_BINDINGS {
                return Err(XmlError(format!("the answer declares more than {MAX_BINDINGS} namespace prefixes at once")));
            }
            // An empty default declaration undoes the default: no namespace.
            let ns = if attr.value.is_empty() { Ns::Other } else { Ns::of(&attr.value) };
            self.bindings.push((prefix.to_string(), ns, open));
        }
        Ok(())
    }

    /// The namespace of an element name; no namespace, or an undeclared
    /// prefix, is `Other`.
    fn resolve(&self, prefix: &str) -> Ns {
        self.bindings.iter().rev().find(|(p, _, _)| p == prefix).map_or(Ns::Other, |(_, ns, _)| *ns)
    }

    /// An element closed, leaving `open` elements open: its declarations end.
    fn leave(&mut self, open: usize) {
        while self.bindings.last().is_some_and(|(_, _, at)| *at >= open) {
            self.bindings.pop();
        }
    }
}

pub struct XmlStream<R: BufRead> {
    reader: Reader<R>,
    scopes: Scopes,
    /// elements read and not closed (ahead of `depth` by a stashed tag)
    open: usize,
    buf: Vec<u8>,
    /// text of the current element gathered across text and entity events
    pending_text: String,
    /// a tag or end held back while the text before it is delivered
    stash: Option<Item>,
    /// elements open now
    depth: usize,
}

/// Deeper than any EWS answer nests (about 15 levels); the readers recurse
/// per level, so a hostile document must not set the depth.
pub const MAX_DEPTH: usize = 64;

impl<R: BufRead> XmlStream<R> {
    pub fn new(input: R) -> Self {
        let mut reader = Reader::from_reader(input);
        let config = reader.config_mut();
        config.trim_text(false);
        config.expand_empty_elements = true;
        XmlStream {
            reader,
            scopes: Scopes::default(),
            open: 0,
            buf: Vec::with_capacity(4096),
            pending_text: String::new(),
            stash: None,
            depth: 0,
        }
    }

    /// The next structural event. Text between tags is delivered as one
    /// `Text` item (entities resolved), whitespace-only text is dropped.
    pub fn next(&mut self) -> Result<Item, XmlError> {
        let item = match self.stash.take() {
            Some(item) => item,
            None => self.read()?,
        };
        match item {
            Item::Start(_) if self.depth >= MAX_DEPTH => {
                return Err(XmlError(format!("the answer nests elements deeper than {MAX_DEPTH} levels")));
            }
            Item::Start(_) => self.depth += 1,
            Item::End => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Ok(item)
    }

    fn read(&mut self) -> Result<Item, XmlError> {
        loop {
            self.buf.clear();
            match self.reader.read_event_into(&mut self.buf)? {
                Event::Start(start) => {
                    self.scopes.enter(&start, self.open)?;
                    self.open += 1;
                    let name = start.name();
                    // Names are short: a byte loop beats str::find's searcher.
                    let (prefix, local) = match name.0.bytes().position(|b| b == b':') {
                        Some(colon) => (&name.0[..colon], &name.0[colon + 1..]),
                        None => ("", name.0),
                    };
                    let ns = self.scopes.resolve(prefix);
                    let tag = tag_of(ns, local, &start)?;
                    if let Some(text) = self.take_text() {
                        // Mixed content: deliver the text first, keep the tag.
                        self.stash = Some(Item::Start(tag));
                        return Ok(Item::Text(text));
                    }
                    return Ok(Item::Start(tag));
                }
                Event::End(_) => {
                    self.open = self.open.saturating_sub(1);
                    self.scopes.leave(self.open);
                    if let Some(text) = self.take_text() {
                        self.stash = Some(Item::End);
                        return Ok(Item::Text(text));
                    }
                    return Ok(Item::End);
                }
                // Most texts come in one event: taken whole, copied once.
                Event::Text(text) if self.pending_text.is_empty() => self.pending_text = text.xml10_content().into_owned(),
                Event::Text(text) => self.pending_text.push_str(&text.xml10_content()),
                Event::CData(data) => {
                    self.pending_text.push_str(&data.into_inner())
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(ch)) => Some(ch),
                        Ok(None) => match &*reference {
                            "lt" => Some('<'),
                            "gt" => Some('>'),
                            "amp" => Some('&'),
                            "quot" => Some('"'),
                            "apos" => Some('\''),
                            _ => None,
                        },
                        Err(_) => None,
                    };
                    // XML 1.0 forbids most control characters even as
                    // references, yet real servers send them: drop them.
                    if let Some(ch) = resolved.filter(|c| allowed_char(*c)) {
                        self.pending_text.push(ch);
                    }
                }
                Event::Eof => return Ok(Item::Eof),
                // Empty elements are expanded to Start/End by the config.
                _ => {}
            }
        }
    }

    fn take_text(&mut self) -> Option<String> {
        // A visible ASCII character settles it without decoding the text.
        let visible = self.pending_text.bytes().any(|b| b > b' ' && b < 0x80);
        if !visible && self.pending_text.trim().is_empty() {
            self.pending_text.clear();
            return None;
        }
        Some(sanitize(std::mem::take(&mut self.pending_text)))
    }

    /// Read the rest of the element whose start tag was just returned.
    pub fn read_element(&mut self, tag: Tag) -> Result<Element, XmlError> {
        let mut element = Element { name: tag.name, attrs: tag.attrs, ..Default::default() };
        loop {
            match self.next()? {
                Item::Start(child) => element.children.push(self.read_element(child)?),
                // Most elements have one text: moved, not copied.
                Item::Text(text) if element.text.is_empty() => element.text = text,
                Item::Text(text) => element.text.push_str(&text),
                Item::End => return Ok(element),
                Item::Eof => return Err(XmlError("document ends inside an element".into())),
            }
        }
    }

    /// Skip the rest of the element whose start tag was just returned.
    pub fn skip_element(&mut self) -> Result<(), XmlError> {
        let mut depth = 1usize;
        while depth > 0 {
            match self.next()? {
                Item::Start(_) => depth += 1,
                Item::End => depth -= 1,
                Item::Text(_) => {}
                Item::Eof => return Err(XmlError("document ends inside an element".into())),
            }
        }
        Ok(())
    }
}

/// Walk a small document whole, calling `leaf(parent, name, text)` at the
/// end of every element with its parent's name, its own and its text
/// (trimmed). For answers read by a few names (Autodiscover's).
pub fn read_leaves<R: BufRead>(input: R, mut leaf: impl FnMut(&str, &str, &str)) -> Result<(), XmlError> {
    let mut stream = XmlStream::new(input);
    let (mut path, mut text) = (Vec::<Name>::new(), String::new());
    loop {
        match stream.next()? {
            Item::Start(tag) => {
                path.push(tag.name);
                text.clear();
            }
            Item::Text(t) => text.push_str(&t),
            Item::End => {
                let name = path.pop().unwrap_or_default();
                leaf(path.last().map(Name::as_str).unwrap_or_default(), &name, text.trim());
                text.clear();
            }
            Item::Eof => return Ok(()),
        }
    }
}

/// Replaces bytes that are not UTF-8 with U+FFFD, so that one bad byte in
/// a folder name costs a character, not the response. Streams: a sequence
/// split between two reads is carried over.
pub struct Utf8Lossy<R> {
    inner: R,
    /// bytes at the start of `inner`'s buffer known to be valid UTF-8,
    /// served from there without a copy (the usual case)
    direct: usize,
    /// repaired bytes, served before `inner` again
    out: Vec<u8>,
    pos: usize,
    pending: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Utf8Lossy<R> {
    pub fn new(inner: R) -> Self {
        Utf8Lossy { inner, direct: 0, out: Vec::new(), pos: 0, pending: Vec::new(), done: false }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        self.out.clear();
        self.pos = 0;
        let chunk = self.inner.fill_buf()?;
        if chunk.is_empty() {
            if !self.pending.is_empty() {
                self.out.extend_from_slice(REPLACEMENT);
                self.pending.clear();
            }
            self.done = true;
            return Ok(());
        }
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(chunk);
        let read = chunk.len();
        self.inner.consume(read);
        let mut rest = data.as_slice();
        loop {
            match simdutf8::compat::from_utf8(rest) {
                Ok(valid) => {
                    self.out.extend_from_slice(valid.as_bytes());
                    return Ok(());
                }
                Err(e) => {
                    let (valid, tail) = rest.split_at(e.valid_up_to());
                    self.out.extend_from_slice(valid);
                    match e.error_len() {
                        Some(bad) => {
                            self.out.extend_from_slice(REPLACEMENT);
                            rest = &tail[bad..];
                        }
                        None => {
                            self.pending = tail.to_vec();
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

impl<R: BufRead> std::io::Read for Utf8Lossy<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = std::io::BufRead::fill_buf(self)?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Utf8Lossy<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        loop {
            if self.pos < self.out.len() {
                return Ok(&self.out[self.pos..]);
            }
            if self.direct > 0 {
                let direct = self.direct;
                return Ok(&self.inner.fill_buf()?[..direct]);
            }
            if self.done {
                return Ok(&[]);
            }
            if self.pending.is_empty() {
                let chunk = self.inner.fill_buf()?;
                // SIMD: every byte of every answer passes here (std's
                // check was a tenth of parsing a GetItem of contacts).
                self.direct = match simdutf8::compat::from_utf8(chunk) {
                    Ok(_) => chunk.len(),
                    Err(e) => e.valid_up_to(),
                };
                if self.direct > 0 {
                    continue;
                }
            }
            // A bad byte, or a sequence split between reads: repair by copy.
            self.refill()?;
        }
    }

    fn consume(&mut self, amount: usize) {
        if self.pos < self.out.len() {
            self.pos += amount;
        } else {
            self.direct -= amount;
            self.inner.consume(amount);
        }
    }
}

fn tag_of(ns: Ns, local_name: &str, start: &BytesStart) -> Result<Tag, XmlError> {
    let name = Name::new(local_name);
    let mut attrs = Vec::new();
    // Most elements have no attributes: spare them the attribute parser.
    if start.attributes_raw().trim_ascii().is_empty() {
        return Ok(Tag { ns, name, attrs });
    }
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError(format!("malformed attribute: {e}")))?;
        // Namespace declarations are structure, not data.
        if attr.key.as_ref().starts_with("xmlns") {
            continue;
        }
        let key = attr.key.local_name().as_ref().to_string();
        // Ids are most attributes: long, with neither references nor
        // whitespace to normalise, nor characters to drop.
        let plain = !attr.value.bytes().any(|b| b < 0x20 || b == b'&' || b == 0xEF);
        let value = if plain {
            attr.value.into_owned()
        } else {
            attr.normalized_value(XmlVersion::Implicit1_0)
                .map(|v| sanitize(v.into_owned()))
                .unwrap_or_else(|_| sanitize(attr.value.to_string()))
        };
        attrs.push((key, value));
    }
    Ok(Tag { ns, name, attrs })
}

/// Whether `text` may start or end with whitespace: told by its first and
/// last bytes when they are visible ASCII, as they mostly are.
pub fn needs_trim(text: &str) -> bool {
    let visible = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
    !(visible(text.as_bytes().first()) && visible(text.as_bytes().last())) && text.trim().len() != text.len()
}

/// Characters XML 1.0 allows in a document.
fn allowed_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

fn sanitize(text: String) -> String {
    // Forbidden characters are C0 controls and U+FFFE/U+FFFF, whose UTF-8
    // starts with 0xEF: most texts are cleared by one pass over the bytes.
    let suspect = text.bytes().any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF);
    if !suspect || text.chars().all(allowed_char) {
        text
    } else {
        text.chars().filter(|c| allowed_char(*c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(xml: &str) -> Vec<Item> {
        let mut stream = XmlStream::new(xml.as_bytes());
        let mut out = Vec::new();
        loop {
            let item = stream.next().unwrap();
            if item == Item::Eof {
                return out;
            }
            out.push(item);
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
        let mut stream = XmlStream::new(deep.as_bytes());
        let Item::Start(tag) = stream.next().unwrap() else { panic!("a start tag") };
        let error = stream.read_element(tag).unwrap_err();
        assert!(error.0.contains("deeper than 64"), "{}", error.0);
        let fine = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        let mut stream = XmlStream::new(fine.as_bytes());
        let Item::Start(tag) = stream.next().unwrap() else { panic!("a start tag") };
        assert!(stream.read_element(tag).is_ok());
    }

    #[test]
    fn namespaces_are_told_by_every_byte() {
        let of = Ns::of;
        for (uri, ns) in [(SOAP, Ns::Soap), (MESSAGES, Ns::Messages), (TYPES, Ns::Types), (ERRORS, Ns::Errors)] {
            assert_eq!(of(&uri.to_string()), ns);
            for at in 0..uri.len() {
                let mut other = uri.as_bytes().to_vec();
                other[at] ^= 1;
                assert_eq!(of(&String::from_utf8(other).unwrap()), Ns::Other, "{uri} with byte {at} changed");
            }
        }
    }

    #[test]
    fn texts_and_attributes_are_taken_trimmed() {
        let mut element = Element { text: " \r\n  Grüße  aus 東京\t ".into(), attrs: vec![("Id".into(), "AAMk=".into())], ..Default::default() };
        assert_eq!(element.take_text(), "Grüße  aus 東京");
        assert!(element.text.is_empty() && element.take_text().is_empty());
        assert_eq!((element.take_attr("Id").as_deref(), element.take_attr("ChangeKey")), (Some("AAMk="), None));
    }

    #[test]
    fn matches_by_namespace_not_prefix() {
        let a = items(r#"<x:A xmlns:x="http://schemas.microsoft.com/exchange/services/2006/types"/>"#);
        let b = items(r#"<A xmlns="http://schemas.microsoft.com/exchange/services/2006/types"></A>"#);
        assert_eq!(a, b);
        assert!(matches!(&a[0], Item::Start(t) if t.is(Ns::Types, "A")));
    }

    #[test]
    fn declarations_hold_inside_their_element_only() {
        let xml = format!(
            r#"<a:X xmlns:a="{TYPES}"><a:Y xmlns:a="{MESSAGES}" Id="i&amp;d"><a:W/></a:Y><a:Z xmlns="{SOAP}"><V/><U xmlns=""/></a:Z><b:T/></a:X>"#
        );
        let tags: Vec<(Ns, String, Vec<(String, String)>)> =
            items(&xml).into_iter().filter_map(|i| if let Item::Start(t) = i { Some((t.ns, t.name.into(), t.attrs)) } else { None }).collect();
        let id = vec![("Id".to_string(), "i&d".to_string())];
        let expected = [
            (Ns::Types, "X", vec![]),
            (Ns::Messages, "Y", id),
            (Ns::Messages, "W", vec![]),
            (Ns::Types, "Z", vec![]),
            (Ns::Soap, "V", vec![]),
            (Ns::Other, "U", vec![]),
            // An undeclared prefix: no namespace of ours.
            (Ns::Other, "T", vec![]),
        ];
        assert_eq!(tags, expected.map(|(ns, name, attrs)| (ns, name.to_string(), attrs)));
        let many: String = (0..=MAX_BINDINGS).map(|i| format!(r#" xmlns:p{i}="{TYPES}""#)).collect();
        let hostile = format!("<a{many}/>");
        let mut stream = XmlStream::new(hostile.as_bytes());
        assert!(stream.next().unwrap_err().0.contains("namespace prefixes"));
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let mut input = b"<a>Archiv \xFF2019 \xC3\xA9</a>".to_vec();
        input.extend_from_slice(b"<b>\xE2\x82</b>");
        // A one-byte buffer splits every multi-byte sequence across reads.
        let reader = Utf8Lossy::new(std::io::BufReader::with_capacity(1, input.as_slice()));
        let mut stream = XmlStream::new(reader);
        let mut texts = Vec::new();
        loop {
            match stream.next().unwrap() {
                Item::Text(t) => texts.push(t),
                Item::Eof => break,
                _ => {}
            }
        }
        assert_eq!(texts, ["Archiv \u{FFFD}2019 \u{e9}", "\u{FFFD}"]);
    }

    #[test]
    fn resolves_entities_and_drops_forbidden_characters() {
        let got = items("<a>x &amp; y&#x0; &lt;z&gt;&#x1F;</a>");
        assert_eq!(got[1], Item::Text("x & y <z>".into()));
    }
}
