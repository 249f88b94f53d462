//! Per-server log files: every line in and out, and neighbour connects and drops, each with a
//! timestamp. Written directly by sessions and links (never derived from the event bus), so a
//! lagging observer never costs a log line.
//!
//! Logging never does file I/O on the caller's thread: a line is stamped and copied into its
//! log's pending buffer under a lock held only for that copy. One writer thread for the whole
//! process moves pending text to disk at least every 200 ms (sooner when a buffer passes
//! 1 MiB), rotates files by size and reopens them on request. Pending text is bounded per log:
//! a server whose log falls that far behind (the writer starved of CPU under extreme load)
//! waits for the writer rather than lose a line. Lines a failed disk write could not keep are
//! counted and the count is written as a note once writes succeed again.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Size at which a log file is rotated, unless configured otherwise.
pub const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;
/// Most text a log holds in memory waiting for the writer.
const MAX_PENDING: usize = 64 * 1024 * 1024;
/// Pending text that wakes the writer before its next tick.
const WAKE_AT: usize = 1024 * 1024;
/// The writer's tick: nothing waits longer than this to reach the file.
const PERIOD: Duration = Duration::from_millis(200);
/// Rotated files kept: `Bailey.log.1` (newest) to `Bailey.log.3`.
const KEEP: usize = 3;
/// `2026-11-25T08:45:25.123456Z `
const STAMP_LEN: usize = 28;

/// One server's log file (or nothing, when logging is off).
#[derive(Debug, Default)]
pub struct ServerLog {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    pending: Mutex<Pending>,
    /// Signalled when the writer has taken the pending text.
    room: Condvar,
    /// Held while text moves to disk, so chunks reach the file in order.
    file: Mutex<LogFile>,
    max_pending: usize,
}

/// Text stamped and waiting for the writer.
#[derive(Debug, Default)]
struct Pending {
    text: Vec<u8>,
    /// Lines a failed write could not keep, not yet noted in the file.
    dropped: u64,
    clock: Clock,
}

/// The second the cached timestamp is for, and its text around the microseconds
/// (`2026-11-25T08:45:25.` and `Z`, or the local zone's offset), so most lines format only
/// their microseconds.
#[derive(Debug, Default)]
struct Clock {
    second: u64,
    prefix: String,
    suffix: String,
}

impl Clock {
    /// Appends `2026-11-25T08:45:25.123456Z ` (local time, with its offset) for now.
    fn stamp(&mut self, out: &mut Vec<u8>) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        if now.as_secs() != self.second || self.prefix.is_empty() {
            self.second = now.as_secs();
            let (prefix, offset) = crate::wall::log_second(now.as_secs());
            self.prefix = prefix;
            self.suffix = format!("{offset} ");
        }
        out.extend_from_slice(self.prefix.as_bytes());
        let mut micros_text = *b"000000";
        let mut micros = now.subsec_micros();
        for digit in micros_text.iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        out.extend_from_slice(&micros_text);
        out.extend_from_slice(self.suffix.as_bytes());
    }
}

/// The open file and its rotation state; only the writer side touches it.
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in the current file.
    size: u64,
    max_size: u64,
    /// The buffer swapped in for the next round of pending text.
    spare: Vec<u8>,
}

impl LogFile {
    fn open(path: PathBuf, max_size: u64) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(Self { path, file, size, max_size, spare: Vec::new() })
    }

    /// Writes whole lines, rotating before a line that would take the file past its size
    /// (a single line longer than that gets a file of its own).
    fn write(&mut self, mut text: &[u8]) -> io::Result<()> {
        while !text.is_empty() {
            let room =
                usize::try_from(self.max_size.saturating_sub(self.size)).unwrap_or(usize::MAX);
            let take = if text.len() <= room {
                text.len()
            } else if let Some(end) = text[..room].iter().rposition(|&b| b == b'\n') {
                end + 1
            } else if self.size == 0 {
                text.iter().position(|&b| b == b'\n').map_or(text.len(), |end| end + 1)
            } else {
                0
            };
            let (now, rest) = text.split_at(take);
            self.file.write_all(now)?;
            self.size += now.len() as u64;
            text = rest;
            if !text.is_empty() {
                self.rotate();
            }
        }
        Ok(())
    }

    /// `Bailey.log.2` becomes `.3` (the old `.3` goes), `.1` becomes `.2`, `Bailey.log` becomes
    /// `.1`, and a fresh `Bailey.log` is opened. If that fails the current file is kept (it
    /// grows past its size rather than lose a line) and rotation is tried again a size later.
    fn rotate(&mut self) {
        for n in (1..KEEP).rev() {
            let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
        }
        let fresh = std::fs::rename(&self.path, self.rotated(1))
            .and_then(|()| OpenOptions::new().create(true).append(true).open(&self.path));
        match fresh {
            Ok(file) => self.file = file,
            Err(err) => tracing::warn!(path = %self.path.display(), %err, "log rotation failed"),
        }
        self.size = 0;
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut path = OsString::from(self.path.as_os_str());
        path.push(format!(".{n}"));
        path.into()
    }
}

impl Inner {
    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_file(&self) -> MutexGuard<'_, LogFile> {
        self.file.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stamps and appends one line of `len` bytes written by `write`; with no room for it,
    /// waits until the writer has taken what is pending.
    fn append(&self, len: usize, write: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = self.lock_pending();
        let fits = |pending: &Pending| {
            pending.text.is_empty() || pending.text.len() + STAMP_LEN + len <= self.max_pending
        };
        if !fits(&pending) {
            WRITER.wake();
            pending = self
                .room
                .wait_while(pending, |pending| !fits(pending))
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = pending.text.len();
        let Pending { text, clock, .. } = &mut *pending;
        clock.stamp(text);
        write(text);
        let after = text.len();
        drop(pending);
        if before < WAKE_AT && after >= WAKE_AT {
            WRITER.wake();
        }
    }

    /// Moves everything pending to the file.
    fn drain(&self, file: &mut LogFile) {
        let mut chunk = std::mem::take(&mut file.spare);
        {
            let mut pending = self.lock_pending();
            std::mem::swap(&mut chunk, &mut pending.text);
            self.room.notify_all();
            let dropped = std::mem::take(&mut pending.dropped);
            if dropped > 0 {
                pending.clock.stamp(&mut chunk);
                let _ = writeln!(chunk, "-- log write failed: {dropped} lines not written");
            }
        }
        if let Err(err) = file.write(&chunk) {
            tracing::warn!(path = %file.path.display(), %err, "log write failed");
            let lost = chunk.split(|&b| b == b'\n').skip(1).count() as u64;
            self.lock_pending().dropped += lost;
        }
        chunk.clear();
        if chunk.capacity() > 4 * WAKE_AT {
            chunk.shrink_to(WAKE_AT);
        }
        file.spare = chunk;
    }
}

impl ServerLog {
    /// Opens `{dir}/{name}.log` for appending, rotated past `max_size` bytes; `None` logs
    /// nowhere. `name` must be a plain file name: the log is only ever created inside `dir`.
    pub fn open(dir: Option<&Path>, name: &str, max_size: u64) -> io::Result<Self> {
        Self::open_bounded(dir, name, max_size, MAX_PENDING)
    }

    fn open_bounded(
        dir: Option<&Path>,
        name: &str,
        max_size: u64,
        max_pending: usize,
    ) -> io::Result<Self> {
        let Some(dir) = dir else {
            return Ok(Self::default());
        };
        let mut parts = Path::new(name).components();
        let plain = matches!((parts.next(), parts.next()), (Some(Component::Normal(part)), None)
            if part == name);
        if !plain {
            let why = format!("log name {name:?} is not a plain file name");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        }
        let file = LogFile::open(dir.join(format!("{name}.log")), max_size.max(1))?;
        let inner = Arc::new(Inner {
            pending: Mutex::default(),
            room: Condvar::new(),
            file: Mutex::new(file),
            max_pending,
        });
        WRITER.register(&inner)?;
        Ok(Self { inner: Some(inner) })
    }

    /// `2026-11-25T08:45:25.123456Z IN 127.0.0.1:5000 IAMAT …`
    pub fn line(&self, direction: &str, peer: &str, bytes: &[u8]) {
        let Some(inner) = &self.inner else {
            return;
        };
        let text = printable(bytes);
        let len = direction.len() + peer.len() + text.len() + 3;
        inner.append(len, |out| {
            for part in [direction, " ", peer, " ", &text, "\n"] {
                out.extend_from_slice(part.as_bytes());
            }
        });
    }

    /// A free-form note: connects, drops, faults.
    pub fn note(&self, text: impl Display) {
        let Some(inner) = &self.inner else {
            return;
        };
        let text = text.to_string();
        inner.append(text.len() + 4, |out| {
            for part in ["-- ", &text, "\n"] {
                out.extend_from_slice(part.as_bytes());
            }
        });
    }

    /// `-- herdctl 0.1.0 started 2026-11-25T08:45:25Z`
    pub fn started(&self) {
        let now = crate::wall::seconds(SystemTime::now());
        self.note(format_args!("herdctl {} started {now}", env!("CARGO_PKG_VERSION")));
    }

    /// `-- herdctl 0.1.0 stopped`
    pub fn stopped(&self) {
        self.note(format_args!("herdctl {} stopped", env!("CARGO_PKG_VERSION")));
    }

    /// Writes everything logged so far to the file before returning.
    pub fn flush(&self) {
        if let Some(inner) = &self.inner {
            inner.drain(&mut inner.lock_file());
        }
    }

    /// Flushes, then opens the log's path afresh: after a logrotate-style move the old file
    /// gets every line logged so far and a new file the rest.
    pub fn reopen(&self) -> io::Result<()> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let mut file = inner.lock_file();
        inner.drain(&mut file);
        let fresh = LogFile::open(file.path.clone(), file.max_size)?;
        file.file = fresh.file;
        file.size = fresh.size;
        Ok(())
    }
}

impl Drop for ServerLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The process's log writer thread: started with the first log, gone when no log is left.
struct Writer {
    state: Mutex<WriterState>,
    wake: Condvar,
}

struct WriterState {
    logs: Vec<Weak<Inner>>,
    running: bool,
    woken: bool,
}

static WRITER: Writer = Writer {
    state: Mutex::new(WriterState { logs: Vec::new(), running: false, woken: false }),
    wake: Condvar::new(),
};

impl Writer {
    fn lock(&self) -> MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&'static self, log: &Arc<Inner>) -> io::Result<()> {
        let mut state = self.lock();
        if !state.running {
            std::thread::Builder::new().name("herdctl-log".into()).spawn(|| self.run())?;
            state.running = true;
        }
        state.logs.push(Arc::downgrade(log));
        Ok(())
    }

    fn wake(&self) {
        self.lock().woken = true;
        self.wake.notify_one();
    }

    fn run(&self) {
        loop {
            let logs: Vec<Arc<Inner>> = {
                let mut state = self.lock();
                if !state.woken {
                    state = self
                        .wake
                        .wait_timeout(state, PERIOD)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                state.woken = false;
                state.logs.retain(|log| log.strong_count() > 0);
                if state.logs.is_empty() {
                    state.running = false;
                    return;
                }
                state.logs.iter().filter_map(Weak::upgrade).collect()
            };
            for log in logs {
                log.drain(&mut log.lock_file());
            }
        }
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

    fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap_or_default()
    }

    /// The numbers of the `IN` lines `n` in `text`, in order.
    fn numbers(text: &str) -> Vec<usize> {
        text.lines().filter_map(|l| l.rsplit_once(" n ")).map(|(_, n)| n.parse().unwrap()).collect()
    }

    #[test]
    fn lines_are_stamped_and_kept_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = ServerLog::open(Some(dir.path()), "Bailey", DEFAULT_MAX_SIZE).unwrap();
        log.line("IN", "127.0.0.1:5000", b"IAMAT kiwi +1+1 1\r\n");
        log.line("OUT", "127.0.0.1:5000", b"? bad\x0bline\xff\n");
        log.note("link to Bona up");
        log.started();
        log.stopped();
        log.flush();
        let text = read(dir.path(), "Bailey.log");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        for line in &lines {
            let (stamp, _) = line.split_once(' ').unwrap();
            assert_eq!((stamp.len(), &stamp[10..11], &stamp[26..]), (27, "T", "Z"), "{line}");
            assert!(stamp[20..26].bytes().all(|b| b.is_ascii_digit()), "{line}");
        }
        assert!(lines[0].ends_with(" IN 127.0.0.1:5000 IAMAT kiwi +1+1 1"));
        assert!(lines[1].ends_with(r" OUT 127.0.0.1:5000 ? bad\x0bline\xff"));
        assert!(lines[2].ends_with(" -- link to Bona up"));
        let started = lines[3].split_once(" -- herdctl 0.1.0 started ").unwrap().1;
        assert!(crate::wall::parse_log(started).is_some(), "{}", lines[3]);
        assert!(lines[4].ends_with(" -- herdctl 0.1.0 stopped"));
    }

    #[test]
    fn lines_reach_the_file_without_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let log = ServerLog::open(Some(dir.path()), "Bailey", DEFAULT_MAX_SIZE).unwrap();
        log.note("written by the writer thread");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !read(dir.path(), "Bailey.log").contains("by the writer thread") {
            assert!(std::time::Instant::now() < deadline, "the writer never wrote the line");
            std::thread::yield_now();
        }
    }

    #[test]
    fn files_rotate_by_size_keeping_three() {
        let dir = tempfile::tempdir().unwrap();
        let log = ServerLog::open(Some(dir.path()), "Bailey", 1000).unwrap();
        let files = ["Bailey.log.3", "Bailey.log.2", "Bailey.log.1", "Bailey.log"];
        let all = |dir: &Path| files.iter().flat_map(|f| numbers(&read(dir, f))).collect();
        // Lines of 41 bytes: 24 to a file, so 90 lines fill four files without loss.
        for n in 0..90 {
            log.line("IN", "peer", format!("n {n:02}").as_bytes());
        }
        log.flush();
        assert_eq!(all(dir.path()), (0..90).collect::<Vec<_>>());
        for file in files {
            let size = std::fs::metadata(dir.path().join(file)).unwrap().len();
            assert!(size <= 1000 && size > 0, "{file} has {size} bytes");
        }
        for n in 90..300 {
            log.line("IN", "peer", format!("n {n}").as_bytes());
            if n % 7 == 0 {
                log.flush();
            }
        }
        log.flush();
        let kept: Vec<usize> = all(dir.path());
        assert_eq!(kept.last(), Some(&299));
        // Three full rotated files of 42-byte lines, and the current one.
        assert!(kept.len() > 3 * (1000 / 42), "{kept:?}");
        assert!(kept.windows(2).all(|w| w[1] == w[0] + 1), "a line is missing: {kept:?}");
        assert!(!dir.path().join("Bailey.log.4").exists());
    }

    #[test]
    fn a_full_buffer_waits_for_the_writer_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let log =
            ServerLog::open_bounded(Some(dir.path()), "Bailey", DEFAULT_MAX_SIZE, 2000).unwrap();
        for n in 0..1000 {
            log.line("IN", "peer", format!("n {n}").as_bytes());
        }
        log.flush();
        let text = read(dir.path(), "Bailey.log");
        let kept = numbers(&text);
        assert_eq!(kept, (0..1000).collect::<Vec<_>>(), "{text}");
    }

    #[test]
    fn reopen_after_a_move_starts_a_fresh_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = ServerLog::open(Some(dir.path()), "Bailey", DEFAULT_MAX_SIZE).unwrap();
        log.line("IN", "peer", b"n 1");
        std::fs::rename(dir.path().join("Bailey.log"), dir.path().join("Bailey.log.old")).unwrap();
        log.line("IN", "peer", b"n 2");
        log.reopen().unwrap();
        log.line("IN", "peer", b"n 3");
        log.flush();
        assert_eq!(numbers(&read(dir.path(), "Bailey.log.old")), [1, 2]);
        assert_eq!(numbers(&read(dir.path(), "Bailey.log")), [3]);
    }

    #[test]
    fn names_must_be_plain_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("logs");
        std::fs::create_dir(&inside).unwrap();
        for name in ["", ".", "..", "../Bailey", "a/b", "Bailey/", "/tmp/Bailey", "./Bailey"] {
            let err = ServerLog::open(Some(&inside), name, DEFAULT_MAX_SIZE).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name:?}");
        }
        assert!(!dir.path().join("Bailey.log").exists());
        assert!(ServerLog::open(Some(&inside), "Bailey-2.x", DEFAULT_MAX_SIZE).is_ok());
        assert!(ServerLog::open(None, "../anything", DEFAULT_MAX_SIZE).is_ok());
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use std::io::BufWriter;
    use std::time::Instant;

    /// The previous design, measured beside the current one: each line formatted and written
    /// under a mutex around a `BufWriter<File>`.
    struct Baseline(Mutex<(BufWriter<File>, Clock)>);

    impl Baseline {
        fn line(&self, direction: &str, peer: &str, bytes: &[u8]) {
            let mut guard = self.0.lock().unwrap();
            let (out, clock) = &mut *guard;
            let mut stamp = Vec::with_capacity(STAMP_LEN);
            clock.stamp(&mut stamp);
            out.write_all(&stamp).unwrap();
            for part in [direction, " ", peer, " ", &printable(bytes), "\n"] {
                out.write_all(part.as_bytes()).unwrap();
            }
        }
    }

    /// Runs `LINES` calls of `line` spread over `threads`; prints the wall time per line and
    /// the spread of single calls.
    fn measure(what: &str, threads: u32, line: &(dyn Fn() + Sync)) {
        const LINES: u32 = 200_000;
        let start = Instant::now();
        let mut calls: Vec<Duration> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut calls = Vec::with_capacity((LINES / threads) as usize);
                        for _ in 0..LINES / threads {
                            let t = Instant::now();
                            line();
                            calls.push(t.elapsed());
                        }
                        calls
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        let wall = start.elapsed().as_nanos() / u128::from(LINES);
        calls.sort_unstable();
        let at = |q: f64| calls[((calls.len() - 1) as f64 * q) as usize];
        println!(
            "{what:<8} {threads} thread(s): {wall:>4} ns/line wall; call p50 {:?} p99 {:?} \
             p99.9 {:?} max {:?}",
            at(0.5),
            at(0.99),
            at(0.999),
            at(1.0)
        );
    }

    /// `cargo test --release --lib timing -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, run by hand"]
    fn per_line_cost() {
        let line = b"IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503\n";
        for threads in [1, 4] {
            let dir = tempfile::tempdir().unwrap();
            let file = File::create(dir.path().join("baseline.log")).unwrap();
            let out = BufWriter::with_capacity(16 * 1024, file);
            let baseline = Baseline(Mutex::new((out, Clock::default())));
            measure("mutex", threads, &|| baseline.line("IN", "127.0.0.1:50000", line));
            let log = ServerLog::open(Some(dir.path()), "Bailey", DEFAULT_MAX_SIZE).unwrap();
            measure("writer", threads, &|| log.line("IN", "127.0.0.1:50000", line));
        }
    }
}
