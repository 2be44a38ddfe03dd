//! The plugin's standard error. A plugin's panic message is worth keeping,
//! but its raw bytes are not the host's to print: a line could forge a log
//! entry of the host, or carry terminal escapes. So each line goes through
//! the log (target `plugin-stderr`) with control characters escaped, lines
//! and the total are capped, and the last few lines are kept for the run's
//! error ("it wrote: ...").

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// The longest line kept; the rest of a longer one is dropped.
pub const MAX_LINE: usize = 1024;
/// What one run may write in all; past it, one note and silence.
pub const MAX_TOTAL: usize = 1 << 20;
/// Lines kept for the run's error.
const KEPT: usize = 4;

/// One run's standard error: cheap to clone, every clone the same stream.
#[derive(Clone, Default)]
pub struct GuestStderr {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// the line being written
    line: Vec<u8>,
    /// bytes the plugin wrote
    total: usize,
    /// the last lines, escaped
    last: VecDeque<String>,
}

impl GuestStderr {
    /// Take bytes the plugin wrote: complete lines are logged at once.
    pub fn write(&self, bytes: &[u8]) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let before = state.total;
        state.total = state.total.saturating_add(bytes.len());
        if before >= MAX_TOTAL {
            return;
        }
        let bytes = &bytes[..bytes.len().min(MAX_TOTAL - before)];
        for &byte in bytes {
            if byte == b'\n' {
                state.end_line();
            } else if state.line.len() < MAX_LINE {
                state.line.push(byte);
            }
        }
        if state.total >= MAX_TOTAL {
            state.end_line();
            tracing::warn!(target: "plugin-stderr", "the plugin wrote more than {MAX_TOTAL} bytes to standard error; the rest is dropped");
        }
    }

    /// The last lines the plugin wrote (the line in progress included),
    /// escaped, for the run's error.
    pub fn last_words(&self) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines: Vec<String> = state.last.iter().cloned().collect();
        if !state.line.is_empty() {
            lines.push(escape(&state.line));
        }
        let lines: Vec<String> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
        let start = lines.len().saturating_sub(KEPT);
        (!lines.is_empty()).then(|| lines[start..].join(" / "))
    }
}

impl State {
    fn end_line(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let line = escape(&std::mem::take(&mut self.line));
        tracing::warn!(target: "plugin-stderr", "{line}");
        // Rust's hint under a panic says nothing about this plugin.
        if line.starts_with("note: run with `RUST_BACKTRACE") {
            return;
        }
        if self.last.len() == KEPT {
            self.last.pop_front();
        }
        self.last.push_back(line);
    }
}

/// A line as text that can be printed anywhere: invalid UTF-8 replaced,
/// control characters (a carriage return, an escape, a tab) written as
/// `\u{1b}`, so nothing the plugin writes acts on a terminal or starts a
/// new log line.
pub fn escape(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// The plugin is always told it writes to a pipe, whatever the host's own
/// standard error is.
impl IsTerminal for GuestStderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStderr {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestStderr {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_lines_split() {
        let stderr = GuestStderr::default();
        stderr.write(b"\x1b[2J\x1b[31mERROR host: forged\r\n2026-12-06T00:00:00Z  INFO");
        stderr.write(b" helpdesk_host: all good\tdone\n\xff\xfe tail");
        assert_eq!(
            stderr.last_words().unwrap(),
            "\\u{1b}[2J\\u{1b}[31mERROR host: forged\\u{d} / 2026-12-06T00:00:00Z  INFO helpdesk_host: all good\\u{9}done / \u{fffd}\u{fffd} tail"
        );
    }

    #[test]
    fn long_lines_and_floods_are_cut() {
        let stderr = GuestStderr::default();
        stderr.write(&vec![b'a'; MAX_LINE * 3]);
        stderr.write(b"\n");
        assert_eq!(stderr.last_words().unwrap().len(), MAX_LINE);
        for _ in 0..(MAX_TOTAL / 1000 + 10) {
            stderr.write(&[b'b'; 1000]);
            stderr.write(b"\n");
        }
        let state = stderr.state.lock().unwrap();
        assert!(state.total > MAX_TOTAL);
        assert!(state.line.is_empty(), "nothing is gathered past the cap");
        assert_eq!(state.last.len(), KEPT);
    }
}
