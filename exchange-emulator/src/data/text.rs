//! The server's conversion of an HTML body to text, as both EWS
//! (`BodyType` Text) and Graph (`Prefer: outlook.body-content-type="text"`)
//! make it: one conversion, since it is one server.

/// Exchange's HTML-to-text conversion, roughly: tags out, block ends as
/// line breaks, the entities mail uses decoded, style and script dropped.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else { break };
        let raw = &rest[start + 1..start + end];
        let tag = raw.trim().to_ascii_lowercase();
        // An inline image becomes its reference, `[cid:...]`, as Outlook's
        // text of such a mail shows it (our inference: ../shared is silent).
        if tag.starts_with("img")
            && let Some(at) = tag.find("src=\"cid:")
        {
            let cid = &raw.trim()[at + 5..];
            text.push_str(&format!("[{}]", cid.split('"').next().unwrap_or_default()));
        }
        rest = &rest[start + end + 1..];
        for skipped in ["style", "script"] {
            if tag.starts_with(skipped)
                && let Some(close) = rest.to_ascii_lowercase().find(&format!("</{skipped}>"))
            {
                rest = &rest[close..];
            }
        }
        if ["/p", "br", "br/", "/div", "/h1", "/h2", "/li", "/tr"].iter().any(|t| tag == *t || tag.starts_with(&format!("{t} "))) {
            text.push_str("\r\n");
        }
    }
    text.push_str(rest);
    decode_entities(&text).trim().to_string()
}

fn decode_entities(text: &str) -> String {
    const NAMED: &[(&str, &str)] = &[
        ("amp", "&"),
        ("lt", "<"),
        ("gt", ">"),
        ("quot", "\""),
        ("apos", "'"),
        ("nbsp", "\u{a0}"),
        ("eacute", "é"),
        ("egrave", "è"),
        ("mdash", "—"),
    ];
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let decoded = after.find(';').filter(|end| *end <= 10).and_then(|end| {
            let name = &after[..end];
            let value = match name.strip_prefix('#') {
                Some(number) => {
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => number.parse().ok(),
                    };
                    code.and_then(char::from_u32).map(String::from)
                }
                None => NAMED.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()),
            };
            value.map(|v| (v, end))
        });
        match decoded {
            Some((value, end)) => {
                out.push_str(&value);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text_as_exchange_converts_it() {
        let html = "<html><head><style>p { margin: 0 }</style></head><body><p>Caf&eacute; &amp; cr&egrave;me</p><p>5&nbsp;items &lt;urgent&gt; &#x1F381;</p></body></html>";
        assert_eq!(html_to_text(html), "Café & crème\r\n5\u{a0}items <urgent> \u{1F381}");
        assert_eq!(html_to_text("<p>Logo:</p><img src=\"cid:logo@example.com\">"), "Logo:\r\n[cid:logo@example.com]");
    }
}
