//! The command-line history: the lines the operator entered, oldest first, recalled with the
//! arrow keys and kept in a plain text file (one entry per line) across sessions.
//!
//! Nothing here ever stops the dashboard: a missing or unreadable file is an empty history,
//! and a failed write only leaves a message in [`History::last_error`].

use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The most entries kept in memory (and in the file, once it is compacted).
pub const MAX_ENTRIES: usize = 500;

/// The file is rewritten with only the kept entries once it holds this many lines.
const COMPACT_AT: usize = 2 * MAX_ENTRIES;

/// Entered command lines with a navigation cursor.
#[derive(Debug, Clone, Default)]
pub struct History {
    entries: Vec<String>,
    path: Option<PathBuf>,
    /// Lines in the file as far as this history knows (to decide when to compact it).
    file_lines: usize,
    /// Index of the entry shown while navigating; `None` when not navigating.
    cursor: Option<usize>,
    /// What the operator had typed when navigation started, given back at the newest end.
    saved_input: String,
    last_error: Option<String>,
}

impl History {
    /// A history with no file: nothing is read or written.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Reads the history file at `path` (one entry per line; blank lines skipped, consecutive
    /// duplicates collapsed, the newest [`MAX_ENTRIES`] kept). A missing file is an empty
    /// history; an unreadable one too, with the reason in [`History::last_error`]. `None`
    /// keeps the history in memory only.
    pub fn load(path: Option<PathBuf>) -> Self {
        let mut history = Self { path, ..Self::default() };
        let Some(path) = history.path.clone() else {
            return history;
        };
        match fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                for line in text.lines() {
                    history.file_lines += 1;
                    history.remember(line);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                history.last_error = Some(format!("cannot read history {}: {e}", path.display()));
            }
        }
        history
    }

    /// Records an entered line: ignored when blank or equal to the newest entry; otherwise
    /// appended (line breaks inside it become spaces), the oldest dropped past
    /// [`MAX_ENTRIES`], and written to the file if there is one (parent directories created;
    /// a failure is kept in [`History::last_error`]). Navigation starts over.
    pub fn push(&mut self, line: &str) {
        self.reset_cursor();
        let line: String =
            line.chars().map(|c| if matches!(c, '\n' | '\r') { ' ' } else { c }).collect();
        if !self.remember(&line) {
            return;
        }
        if let Some(path) = self.path.clone()
            && let Err(e) = self.write(&path, &line)
        {
            self.last_error = Some(format!("cannot write history {}: {e}", path.display()));
        }
    }

    /// Adds `line` in memory unless it is blank or repeats the newest entry.
    fn remember(&mut self, line: &str) -> bool {
        if line.trim().is_empty() || self.entries.last().is_some_and(|last| last == line) {
            return false;
        }
        self.entries.push(line.to_owned());
        if self.entries.len() > MAX_ENTRIES {
            let excess = self.entries.len() - MAX_ENTRIES;
            self.entries.drain(..excess);
        }
        true
    }

    /// Appends one line to the file, or rewrites the file with the kept entries once it has
    /// grown to [`COMPACT_AT`] lines.
    fn write(&mut self, path: &Path, line: &str) -> std::io::Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        if self.file_lines + 1 >= COMPACT_AT {
            let mut text = self.entries.join("\n");
            text.push('\n');
            let temp = path.with_extension("tmp");
            fs::write(&temp, text)?;
            fs::rename(&temp, path)?;
            self.file_lines = self.entries.len();
            return Ok(());
        }
        let mut file = fs::OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(format!("{line}\n").as_bytes())?;
        self.file_lines += 1;
        Ok(())
    }

    /// One step back in time: the first call saves `current_input` and gives the newest
    /// entry, later calls older ones. `None` when the history is empty or the oldest entry is
    /// already shown (the input should stay as it is).
    pub fn older(&mut self, current_input: &str) -> Option<&str> {
        let index = match self.cursor {
            None => {
                let newest = self.entries.len().checked_sub(1)?;
                current_input.clone_into(&mut self.saved_input);
                newest
            }
            Some(0) => return None,
            Some(i) => i - 1,
        };
        self.cursor = Some(index);
        self.entries.get(index).map(String::as_str)
    }

    /// One step forward: the next newer entry, and past the newest the input saved by the
    /// first [`History::older`] (navigation then ends). `None` when not navigating.
    pub fn newer(&mut self) -> Option<&str> {
        let index = self.cursor?;
        if index + 1 < self.entries.len() {
            self.cursor = Some(index + 1);
            return self.entries.get(index + 1).map(String::as_str);
        }
        self.cursor = None;
        Some(&self.saved_input)
    }

    /// Ends navigation (the next [`History::older`] starts from the newest entry again).
    pub fn reset_cursor(&mut self) {
        self.cursor = None;
        self.saved_input.clear();
    }

    /// Is the operator browsing the history?
    pub fn is_navigating(&self) -> bool {
        self.cursor.is_some()
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The file this history reads and appends to, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The most recent failure to read or write the file (kept until another one replaces it).
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
}

/// `$HERDCTL_DATA_DIR/history` when that variable is set and not empty, else
/// `<data dir>/herdctl/history` (`~/.local/share` on Linux), or `None` with neither.
pub fn default_path() -> Option<PathBuf> {
    path_from(std::env::var_os("HERDCTL_DATA_DIR"), dirs::data_dir())
}

fn path_from(data_dir_var: Option<OsString>, data_dir: Option<PathBuf>) -> Option<PathBuf> {
    match data_dir_var.filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("history")),
        None => data_dir.map(|dir| dir.join("herdctl").join("history")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn with(lines: &[&str]) -> History {
        let mut history = History::in_memory();
        for line in lines {
            history.push(line);
        }
        history
    }

    #[test]
    fn pushes_skip_blanks_and_consecutive_duplicates() {
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["", "  ", "\t"], &[]),
            (&["pause", "pause", "pause"], &["pause"]),
            (&["pause", "step", "pause"], &["pause", "step", "pause"]),
            (&["kill Bona", "", "kill Bona"], &["kill Bona"]),
            (&["send A  x ", "send A  x"], &["send A  x ", "send A  x"]),
            (&["send A\nb"], &["send A b"]),
        ];
        for (pushed, kept) in cases {
            assert_eq!(with(pushed).entries(), *kept, "{pushed:?}");
        }
    }

    #[test]
    fn keeps_the_newest_500() {
        let mut history = History::in_memory();
        for i in 0..600 {
            history.push(&format!("delay {i}ms"));
        }
        assert_eq!(history.len(), MAX_ENTRIES);
        assert_eq!(history.entries()[0], "delay 100ms");
        assert_eq!(history.entries()[499], "delay 599ms");
    }

    #[test]
    fn navigates_back_and_forth() {
        let mut history = with(&["one", "two", "three"]);
        assert!(!history.is_navigating());
        assert_eq!(history.newer(), None);
        assert_eq!(history.older("draft"), Some("three"));
        assert!(history.is_navigating());
        assert_eq!(history.older("three"), Some("two"));
        assert_eq!(history.older("two"), Some("one"));
        assert_eq!(history.older("one"), None);
        assert_eq!(history.newer(), Some("two"));
        assert_eq!(history.newer(), Some("three"));
        assert_eq!(history.newer(), Some("draft"));
        assert!(!history.is_navigating());
        assert_eq!(history.newer(), None);
        // A new start saves the new input.
        assert_eq!(history.older("other"), Some("three"));
        assert_eq!(history.newer(), Some("other"));
        // Reset: the next older starts from the newest again, saving afresh.
        assert_eq!(history.older("x"), Some("three"));
        assert_eq!(history.older("three"), Some("two"));
        history.reset_cursor();
        assert_eq!(history.older("y"), Some("three"));
        // Pushing ends navigation too.
        history.push("four");
        assert_eq!(history.older(""), Some("four"));
        assert_eq!(history.newer(), Some(""));
    }

    #[test]
    fn empty_history_navigates_nowhere() {
        let mut history = History::in_memory();
        assert_eq!(history.older("typed"), None);
        assert_eq!(history.newer(), None);
        assert!(history.is_empty());
        assert_eq!(history.path(), None);
    }

    #[test]
    fn persists_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("deeper").join("history");
        let mut first = History::load(Some(path.clone()));
        assert!(first.is_empty());
        assert_eq!(first.last_error(), None);
        for line in ["kill Bona", "kill Bona", "", "send Clark  a  b ", "restart Bona"] {
            first.push(line);
        }
        assert_eq!(first.last_error(), None);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "kill Bona\nsend Clark  a  b \nrestart Bona\n"
        );
        let mut second = History::load(Some(path.clone()));
        assert_eq!(second.entries(), first.entries());
        assert_eq!(second.path(), Some(path.as_path()));
        // The newest loaded entry counts for duplicate collapse.
        second.push("restart Bona");
        second.push("pause");
        let third = History::load(Some(path));
        assert_eq!(third.entries(), ["kill Bona", "send Clark  a  b ", "restart Bona", "pause"]);
    }

    #[test]
    fn load_cleans_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history");
        fs::write(&path, b"a\r\n\n  \nb\nb\na\nbad\xff\n").unwrap();
        let history = History::load(Some(path));
        assert_eq!(history.entries(), ["a", "b", "a", "bad\u{fffd}"]);
        assert_eq!(history.last_error(), None);
    }

    #[test]
    fn load_keeps_the_newest_500_and_compacts_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history");
        let mut text = String::new();
        for i in 0..COMPACT_AT - 1 {
            writeln!(text, "step {i}").unwrap();
        }
        fs::write(&path, text).unwrap();
        let mut history = History::load(Some(path.clone()));
        assert_eq!(history.len(), MAX_ENTRIES);
        assert_eq!(history.entries()[0], format!("step {}", COMPACT_AT - 1 - MAX_ENTRIES));
        history.push("pause");
        let written = fs::read_to_string(&path).unwrap();
        assert_eq!(written.lines().count(), MAX_ENTRIES);
        assert!(written.ends_with("pause\n"));
        history.push("resume");
        let reloaded = History::load(Some(path));
        assert_eq!(reloaded.entries(), history.entries());
        assert_eq!(reloaded.entries().last().map(String::as_str), Some("resume"));
    }

    #[test]
    fn failures_never_stop_anything() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: reading and appending both fail.
        let path = dir.path().join("history");
        fs::create_dir(&path).unwrap();
        let mut history = History::load(Some(path.clone()));
        assert!(history.is_empty());
        assert!(history.last_error().is_some());
        history.push("pause");
        assert_eq!(history.entries(), ["pause"]);
        let error = history.last_error().unwrap();
        assert!(error.starts_with("cannot write history"), "{error}");
        // A missing file is no error at all.
        let fresh = History::load(Some(dir.path().join("absent")));
        assert!(fresh.is_empty() && fresh.last_error().is_none());
    }

    #[test]
    fn default_path_prefers_the_variable() {
        let data = Some(PathBuf::from("/home/op/.local/share"));
        for (var, dir, expected) in [
            (Some("/tmp/herd"), data.clone(), Some(PathBuf::from("/tmp/herd/history"))),
            (None, data.clone(), Some(PathBuf::from("/home/op/.local/share/herdctl/history"))),
            (Some(""), data, Some(PathBuf::from("/home/op/.local/share/herdctl/history"))),
            (None, None, None),
            (Some("d"), None, Some(PathBuf::from("d/history"))),
        ] {
            assert_eq!(path_from(var.map(OsString::from), dir), expected, "{var:?}");
        }
        if let Some(path) = default_path() {
            assert!(path.ends_with("history"));
        }
    }
}
