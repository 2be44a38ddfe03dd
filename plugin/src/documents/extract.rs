//! The text of an attachment, inside the sandbox: plain text and HTML.
//! Other types keep their metadata only, and are not downloaded.

/// What an attachment's bytes gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Extracted {
    Text(String),
    Failed(String),
}

/// How an attachment of this type and name is read, if at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    Plain,
    Html,
}

pub fn reader(content_type: &str, name: &str) -> Option<Reader> {
    let content_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match (content_type.as_str(), extension.as_str()) {
        ("text/html", _) | (_, "html" | "htm") => Some(Reader::Html),
        ("text/plain" | "text/csv" | "text/markdown", _) | (_, "txt" | "csv" | "md" | "log") => Some(Reader::Plain),
        _ => None,
    }
}

pub fn extract(reader: Reader, bytes: &[u8]) -> Extracted {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        // Not UTF-8: Windows-1252 is what such files mostly are.
        Err(_) if bytes.contains(&0) => return Extracted::Failed("binary content in a text file".into()),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    };
    let text = text.trim_start_matches('\u{feff}');
    match reader {
        Reader::Plain => Extracted::Text(text.trim().to_string()),
        Reader::Html => Extracted::Text(crate::documents::mail::html_text(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_content_type_or_name() {
        assert_eq!(reader("text/plain; charset=utf-8", "a.bin"), Some(Reader::Plain));
        assert_eq!(reader("application/octet-stream", "minutes.HTML"), Some(Reader::Html));
        assert_eq!(reader("image/png", "logo.png"), None);
        assert_eq!(extract(Reader::Plain, b"\xef\xbb\xbfhello\r\n"), Extracted::Text("hello".into()));
        assert_eq!(extract(Reader::Plain, b"caf\xe9"), Extracted::Text("caf\u{e9}".into()));
        assert!(matches!(extract(Reader::Plain, b"\xff\x00\x01"), Extracted::Failed(_)));
    }
}
