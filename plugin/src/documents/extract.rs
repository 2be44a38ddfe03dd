//! The text of an attachment, inside the sandbox: plain text, HTML, PDF
//! (pdf-extract), and the Office Open XML formats, whose text is XML in a
//! zip: DOCX's `w:t` runs in word/document.xml, XLSX's shared strings and
//! cell values (ECMA-376 part 1). Other types keep their metadata only,
//! and are not downloaded. The parsers run in an instance of their own
//! (the host's `extract-text`): a file that crashes one fails alone.

use quick_xml::events::Event;
use std::io::Read;

/// How an attachment of this type and name is read, if at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    Plain,
    Html,
    Pdf,
    Docx,
    Xlsx,
}

/// A file larger than this inside an Office zip is not read: a zip bomb
/// must not fill the reader's memory.
const MAX_PART: u64 = 64 << 20;

pub fn reader(content_type: &str, name: &str) -> Option<Reader> {
    let content_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match (content_type.as_str(), extension.as_str()) {
        ("text/html", _) | (_, "html" | "htm") => Some(Reader::Html),
        ("text/plain" | "text/csv" | "text/markdown", _) | (_, "txt" | "csv" | "md" | "log") => Some(Reader::Plain),
        ("application/pdf", _) | (_, "pdf") => Some(Reader::Pdf),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _) | (_, "docx") => Some(Reader::Docx),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _) | (_, "xlsx") => Some(Reader::Xlsx),
        _ => None,
    }
}

/// The text of a file, or why there is none.
pub fn text_of(content_type: &str, name: &str, bytes: &[u8]) -> Result<String, String> {
    match reader(content_type, name).ok_or_else(|| format!("no text is read from {content_type}"))? {
        Reader::Plain => Ok(decode(bytes)?.trim().to_string()),
        Reader::Html => Ok(crate::documents::mail::html_text(&decode(bytes)?)),
        Reader::Pdf => pdf_extract::extract_text_from_mem(bytes).map(|t| t.trim().to_string()).map_err(|e| format!("not a readable PDF: {e}")),
        Reader::Docx => office(bytes, |name| name == "word/document.xml", "t", "p"),
        Reader::Xlsx => office(bytes, |name| name == "xl/sharedStrings.xml" || name.starts_with("xl/worksheets/sheet"), "t", "si"),
    }
}

/// UTF-8, or Windows-1252 (what such files mostly are otherwise).
fn decode(bytes: &[u8]) -> Result<String, String> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.trim_start_matches('\u{feff}').to_string()),
        Err(_) if bytes.contains(&0) => Err("binary content in a text file".into()),
        Err(_) => Ok(bytes.iter().map(|&b| b as char).collect()),
    }
}

/// The text of the parts `wanted` of an Office zip: the contents of the
/// `text` elements (and, in sheets, of `v` cells that are numbers), a line
/// break after each `block` element.
fn office(bytes: &[u8], wanted: impl Fn(&str) -> bool, text: &str, block: &str) -> Result<String, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| format!("not a readable Office file: {e}"))?;
    let mut names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).filter(|n| wanted(n)).collect();
    names.sort();
    if names.is_empty() {
        return Err("an Office file without its text part".into());
    }
    let mut out = String::new();
    for name in names {
        let part = zip.by_name(&name).map_err(|e| format!("{name}: {e}"))?;
        let mut xml = Vec::new();
        part.take(MAX_PART).read_to_end(&mut xml).map_err(|e| format!("{name}: {e}"))?;
        let sheet = name.starts_with("xl/worksheets/");
        read_text(&xml, text, block, sheet, &mut out).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(out.trim().to_string())
}

fn read_text(xml: &[u8], text: &str, block: &str, sheet: bool, out: &mut String) -> Result<(), quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut inside = false;
    // In a sheet: whether the cell is a shared string (its value an index).
    let mut shared_cell = false;
    let mut buffer = Vec::new();
    loop {
        match reader.read_event_into(&mut buffer)? {
            Event::Start(e) if sheet && e.local_name().into_inner() == "c" => {
                shared_cell = e.attributes().flatten().any(|a| a.key.local_name().into_inner() == "t" && &*a.value == "s");
            }
            Event::Start(e) if e.local_name().into_inner() == text || (sheet && e.local_name().into_inner() == "v" && !shared_cell) => inside = true,
            Event::End(e) if e.local_name().into_inner() == text || e.local_name().into_inner() == "v" => inside = false,
            Event::End(e) if e.local_name().into_inner() == block || (sheet && e.local_name().into_inner() == "row") => out.push('\n'),
            Event::Text(t) if inside => out.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside => {
                let predefined = quick_xml::escape::resolve_predefined_entity(&r);
                match r.resolve_char_ref() {
                    Ok(Some(c)) => out.push(c),
                    _ => out.push_str(predefined.unwrap_or_default()),
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        buffer.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_content_type_or_name() {
        assert_eq!(reader("text/plain; charset=utf-8", "a.bin"), Some(Reader::Plain));
        assert_eq!(reader("application/octet-stream", "minutes.HTML"), Some(Reader::Html));
        assert_eq!(reader("application/octet-stream", "Report.PDF"), Some(Reader::Pdf));
        assert_eq!(reader("image/png", "logo.png"), None);
        assert_eq!(text_of("text/plain", "a.txt", b"\xef\xbb\xbfhello\r\n"), Ok("hello".into()));
        assert_eq!(text_of("text/plain", "a.txt", b"caf\xe9"), Ok("caf\u{e9}".into()));
        assert!(text_of("text/plain", "a.txt", b"\xff\x00\x01").is_err());
        assert!(text_of("application/pdf", "a.pdf", b"%PDF-1.4 nothing").is_err());
        assert!(text_of("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", b"PK not a zip").is_err());
    }
}
