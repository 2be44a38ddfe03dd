//! Reading an EWS request: the SOAP envelope, its header and the operation
//! element, as a small tree. Requests are small (the server limits them), so
//! they are read whole. Namespaces are resolved: Exchange matches elements
//! by namespace, not by prefix.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
pub const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

/// Deeper than any request in the schema needs; a guard against nesting
/// bombs (Exchange's own limit is similar).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Default)]
pub struct Node {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
    pub text: String,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}

/// A character XML 1.0 allows (its `Char` production).
fn xml10_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A request as the server sees it.
#[derive(Debug)]
pub struct Request {
    pub header: Option<Node>,
    pub operation: Node,
}

impl Request {
    /// A header element (`RequestServerVersion`, `TimeZoneContext`, ...).
    pub fn header(&self, name: &str) -> Option<&Node> {
        self.header
            .as_ref()
            .and_then(|h| h.children.iter().find(|c| c.ns == TYPES && c.name == name))
    }
}

/// The whole document as a tree.
pub fn parse_document(body: &[u8]) -> Result<Node, String> {
    let mut reader = NsReader::from_reader(body);
    let mut stack: Vec<Node> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let (resolved, event) = reader
            .read_resolved_event_into(&mut buf)
            .map_err(|e| format!("The request is not well-formed XML: {e}"))?;
        let ns = match resolved {
            ResolveResult::Bound(ns) => ns.as_ref().to_string(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => {
                return Err(format!(
                    "The namespace prefix '{}' is not declared.",
                    prefix
                ));
            }
        };
        match event {
            Event::Start(_) | Event::Empty(_) if stack.len() >= MAX_DEPTH => {
                return Err("The request is nested too deeply.".into());
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let mut node = Node {
                    ns,
                    name: start.local_name().as_ref().to_string(),
                    ..Node::default()
                };
                for attr in start.attributes() {
                    let attr =
                        attr.map_err(|e| format!("The request is not well-formed XML: {e}"))?;
                    let key = attr.key;
                    // Namespace declarations are not attributes of the schema.
                    if key.as_ref() == "xmlns"
                        || key.prefix().is_some_and(|p| p.as_ref() == "xmlns")
                    {
                        continue;
                    }
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| format!("The request is not well-formed XML: {e}"))?;
                    node.attrs
                        .push((key.local_name().as_ref().to_string(), value.into_owned()));
                }
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => return Ok(node),
                    }
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("The request is not well-formed XML.")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Ok(node),
                }
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text.xml10_content());
                }
            }
            // An entity or character reference: XML 1.0's predefined ones
            // and characters it allows; anything else makes the request
            // not well-formed, as it does for Exchange.
            Event::GeneralRef(reference) => {
                let text = match reference.resolve_char_ref() {
                    Ok(Some(ch)) if xml10_char(ch) => Some(ch.to_string()),
                    Ok(Some(_)) | Err(_) => None,
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&reference).map(str::to_string),
                };
                let Some(text) = text else {
                    return Err(format!("The request is not well-formed XML: the reference '&{};' is not allowed.", &*reference));
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text);
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&data.xml10_content());
                }
            }
            Event::Eof => return Err("The request ended before its envelope did.".into()),
            _ => {}
        }
        buf.clear();
    }
}

/// The envelope checked as Exchange checks it: a SOAP envelope, an optional
/// header, a body holding exactly one operation of the messages namespace.
pub fn parse(body: &[u8]) -> Result<Request, String> {
    let envelope = parse_document(body)?;
    if envelope.name != "Envelope" || (envelope.ns != SOAP11 && envelope.ns != SOAP12) {
        return Err(format!(
            "The root element <{}> is not a SOAP envelope.",
            envelope.name
        ));
    }
    let soap = envelope.ns.clone();
    let mut header = None;
    let mut operation = None;
    for part in envelope.children {
        match (part.ns == soap, part.name.as_str()) {
            (true, "Header") if header.is_none() && operation.is_none() => header = Some(part),
            (true, "Body") if operation.is_none() => {
                let mut ops = part.children.into_iter();
                let op = ops.next().ok_or("The SOAP body is empty.")?;
                if ops.next().is_some() {
                    return Err("The SOAP body holds more than one operation.".into());
                }
                if op.ns != MESSAGES {
                    return Err(format!(
                        "The element <{}> in namespace '{}' is not an EWS operation.",
                        op.name, op.ns
                    ));
                }
                operation = Some(op);
            }
            _ => {
                return Err(format!(
                    "The element <{}> is not expected in the SOAP envelope.",
                    part.name
                ));
            }
        }
    }
    let operation = operation.ok_or("The request has no SOAP body.")?;
    Ok(Request { header, operation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_by_namespace_not_prefix() {
        let xml = format!(
            r#"<e:Envelope xmlns:e="{SOAP11}" xmlns:x="{MESSAGES}" xmlns:y="{TYPES}"><e:Header><y:RequestServerVersion Version="Exchange2016"/></e:Header><e:Body><x:GetFolder><x:FolderShape><y:BaseShape>IdOnly</y:BaseShape></x:FolderShape></x:GetFolder></e:Body></e:Envelope>"#
        );
        let request = parse(xml.as_bytes()).unwrap();
        assert_eq!(request.operation.name, "GetFolder");
        assert_eq!(
            request
                .header("RequestServerVersion")
                .unwrap()
                .attr("Version"),
            Some("Exchange2016")
        );
        assert_eq!(
            request
                .operation
                .child("FolderShape")
                .unwrap()
                .child_text("BaseShape"),
            Some("IdOnly")
        );
    }

    #[test]
    fn refuses_what_is_not_an_ews_request() {
        assert!(parse(b"<a/>").is_err());
        assert!(
            parse(
                format!(
                    r#"<s:Envelope xmlns:s="{SOAP11}"><s:Body><GetFolder/></s:Body></s:Envelope>"#
                )
                .as_bytes()
            )
            .is_err()
        );
        assert!(
            parse(
                format!(
                    r#"<s:Envelope xmlns:s="{SOAP11}"><s:Body><m:GetFolder xmlns:m="{MESSAGES}">"#
                )
                .as_bytes()
            )
            .is_err()
        );
        let deep = format!(
            r#"<s:Envelope xmlns:s="{SOAP11}"><s:Body>{}"#,
            "<a>".repeat(100)
        );
        assert!(parse(deep.as_bytes()).is_err());
    }
}
