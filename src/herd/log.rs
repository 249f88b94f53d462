//! Per-server log files: every line in and out, and neighbour connects and drops, each with a
//! timestamp. Written directly by sessions and links (never derived from the event bus), so a
//! lagging observer never costs a log line.

use std::borrow::Cow;
use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// One server's log file (or nothing, when logging is off).
#[derive(Debug, Default)]
pub struct ServerLog {
    file: Option<Mutex<Writer>>,
}

#[derive(Debug)]
struct Writer {
    out: BufWriter<File>,
    /// The second the cached timestamp prefix is for, and the prefix itself
    /// (`2026-11-25T08:45:25.`), so most lines format only their microseconds.
    second: u64,
    prefix: String,
}

impl Writer {
    /// Writes `2026-11-25T08:45:25.123456Z ` for now.
    fn stamp(&mut self) -> io::Result<()> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        if now.as_secs() != self.second || self.prefix.is_empty() {
            self.second = now.as_secs();
            let whole = UNIX_EPOCH + std::time::Duration::from_secs(now.as_secs());
            let text = humantime::format_rfc3339_seconds(whole).to_string();
            self.prefix = format!("{}.", text.trim_end_matches('Z'));
        }
        self.out.write_all(self.prefix.as_bytes())?;
        write!(self.out, "{:06}Z ", now.subsec_micros())
    }
}

impl ServerLog {
    /// Opens `{dir}/{name}.log` for appending; `None` logs nowhere.
    pub fn open(dir: Option<&Path>, name: &str) -> io::Result<Self> {
        let Some(dir) = dir else {
            return Ok(Self::default());
        };
        let path = dir.join(format!("{name}.log"));
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let out = BufWriter::with_capacity(16 * 1024, file);
        let writer = Writer { out, second: 0, prefix: String::new() };
        Ok(Self { file: Some(Mutex::new(writer)) })
    }

    fn with(&self, write: impl FnOnce(&mut Writer) -> io::Result<()>) {
        if let Some(file) = &self.file {
            let mut writer = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = write(&mut writer);
        }
    }

    /// `2026-11-25T08:45:25.123456Z IN 127.0.0.1:5000 IAMAT …`
    pub fn line(&self, direction: &str, peer: &str, bytes: &[u8]) {
        self.with(|w| {
            w.stamp()?;
            for part in [direction, " ", peer, " "] {
                w.out.write_all(part.as_bytes())?;
            }
            w.out.write_all(printable(bytes).as_bytes())?;
            w.out.write_all(b"\n")
        });
    }

    /// A free-form note: connects, drops, faults.
    pub fn note(&self, text: impl Display) {
        self.with(|w| {
            w.stamp()?;
            writeln!(w.out, "-- {text}")
        });
    }

    pub fn flush(&self) {
        self.with(|w| w.out.flush());
    }
}

impl Drop for ServerLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The line as readable text: line ending removed, invalid UTF-8 and control characters
/// escaped so that one log entry is always one line.
pub fn printable(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = crate::protocol::strip_line_ending(bytes);
    let ascii = bytes.iter().all(|&b| (0x20..0x7f).contains(&b));
    match std::str::from_utf8(bytes) {
        Ok(text) if ascii || !text.chars().any(char::is_control) => Cow::Borrowed(text),
        _ => Cow::Owned(bytes.escape_ascii().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_stamped_and_kept_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = ServerLog::open(Some(dir.path()), "Bailey").unwrap();
        log.line("IN", "127.0.0.1:5000", b"IAMAT kiwi +1+1 1\r\n");
        log.line("OUT", "127.0.0.1:5000", b"? bad\x0bline\xff\n");
        log.note("link to Bona up");
        log.flush();
        let text = std::fs::read_to_string(dir.path().join("Bailey.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for line in &lines {
            let (stamp, _) = line.split_once(' ').unwrap();
            assert_eq!((stamp.len(), &stamp[10..11], &stamp[26..]), (27, "T", "Z"), "{line}");
        }
        assert!(lines[0].ends_with(" IN 127.0.0.1:5000 IAMAT kiwi +1+1 1"));
        assert!(lines[1].ends_with(r" OUT 127.0.0.1:5000 ? bad\x0bline\xff"));
        assert!(lines[2].ends_with(" -- link to Bona up"));
    }
}
