//! Escaping the texts the emulator writes into XML: quick-xml's escape,
//! after a look for the six characters it replaces (CR among them, kept
//! through XML's end-of-line normalisation as `&#13;`). Most texts (ids,
//! bodies, attachments in base64) hold none, and quick-xml looks at every
//! byte through a closure: that was 7 % of the emulator's time in a mail
//! sync, where memchr's look is a fraction of it.

use std::borrow::Cow;

pub fn escape(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if memchr::memchr3(b'<', b'>', b'&', bytes).is_none() && memchr::memchr3(b'"', b'\'', b'\r', bytes).is_none() {
        return Cow::Borrowed(text);
    }
    quick_xml::escape::escape(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_as_quick_xml_does() {
        for text in ["plain text", "", "a < b > c & d \" e ' f", "Café &amp; 請求書", "only'", "line\r\nnext", "\r"] {
            assert_eq!(super::escape(text), quick_xml::escape::escape(text), "{text}");
        }
        // Every ASCII character, so that one quick-xml escapes is not missed.
        for c in (0u8..128).map(char::from) {
            let text = format!("a{c}b");
            assert_eq!(super::escape(&text), quick_xml::escape::escape(text.as_str()), "{c:?}");
        }
    }
}
