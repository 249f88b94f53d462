//! Per-server log files: every line in and out, and neighbour connects and drops, each with a
//! timestamp. Written directly by sessions and links (never derived from the event bus), so a
//! lagging observer never costs a log line.

use std::borrow::Cow;
use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// One server's log file (or nothing, when logging is off).
#[derive(Debug, Default)]
pub struct ServerLog {
    file: Option<Mutex<BufWriter<File>>>,
}

impl ServerLog {
    /// Opens `{dir}/{name}.log` for appending; `None` logs nowhere.
    pub fn open(dir: Option<&Path>, name: &str) -> io::Result<Self> {
        let Some(dir) = dir else {
            return Ok(Self::default());
        };
        let file =
            OpenOptions::new().create(true).append(true).open(dir.join(format!("{name}.log")))?;
        Ok(Self { file: Some(Mutex::new(BufWriter::with_capacity(64 * 1024, file))) })
    }

    /// `2026-11-25T08:45:25.123456Z IN 127.0.0.1:5000 IAMAT …`
    pub fn line(&self, direction: &str, peer: impl Display, bytes: &[u8]) {
        if let Some(file) = &self.file {
            let text = printable(bytes);
            let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = writeln!(file, "{} {direction} {peer} {text}", timestamp());
        }
    }

    /// A free-form note: connects, drops, faults.
    pub fn note(&self, text: impl Display) {
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = writeln!(file, "{} -- {text}", timestamp());
        }
    }

    pub fn flush(&self) {
        if let Some(file) = &self.file {
            let _ = file.lock().unwrap_or_else(PoisonError::into_inner).flush();
        }
    }
}

impl Drop for ServerLog {
    fn drop(&mut self) {
        self.flush();
    }
}

fn timestamp() -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_micros(SystemTime::now())
}

/// The line as readable text: line ending removed, invalid UTF-8 and control characters
/// escaped so that one log entry is always one line.
pub fn printable(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = crate::protocol::strip_line_ending(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => Cow::Borrowed(text),
        _ => Cow::Owned(bytes.escape_ascii().to_string()),
    }
}
