//! Recording a herd's event stream to a file and reading it back.
//!
//! A trace is NDJSON. Its first line is a [`Header`] (`{"format":1,"herdctl":…,"topology":…,
//! "servers":[names],"links":[[a,b],…],"seed":…,"policy":{…},"started":"<RFC 3339>"}`, links
//! as pairs of server indices, `a < b`). Every line after it is one [`HerdEvent`] exactly as it
//! serializes, or one of two records:
//!
//! * `{"gap":{"missed":N,"after_seq":S}}`: the recorder fell behind the herd and the `N`
//!   events after the one numbered `S` were lost; written where the hole is, before the next
//!   event (lags in a row make one record). A gap before any event was written, when the
//!   missed events began the herd's numbering, leaves out `after_seq`; [`read`] gives it as
//!   `u64::MAX`, the number before 0 when counting wraps.
//! * `{"cut":{"at_seq":S}}`: the file reached its size bound; event `S` and all after it are
//!   not in it. It is the last line.
//!
//! The herd numbers an event only while someone watches, one more for each event sent, and a
//! recorder watches from before it returns, so within a recording the numbers run without a
//! hole except at a gap record: [`read`] also reports any hole in the numbering it finds
//! that no gap record explains.
//!
//! [`Recorder`] writes on a thread of its own, reading the herd's broadcast channel directly
//! (the herd's `event_buffer` is its only queue), through a 64 KiB buffer. Measured
//! (`tests/trace.rs` prints the figures): a cs131 flood with a cut and a kill takes about
//! 140 bytes per event (155 for a synthetic flood); the recorder writes about 120 000 events
//! a second in a debug build and about 2.9 million in a release build.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast::error::RecvError, broadcast::error::TryRecvError, oneshot};

use crate::herd::control::Policy;
use crate::herd::{HerdEvent, HerdSnapshot, Herdlike, Subscription};

/// The trace format this module writes and reads.
pub const FORMAT: u32 = 1;

/// Room kept at the end of a bounded file for the cut record.
const CUT_RESERVE: u64 = 48;

/// The first line of a trace: what was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    /// The version of herdctl that wrote it.
    pub herdctl: String,
    /// The topology as the operator named it (a preset or a file).
    pub topology: String,
    /// Server names by id.
    pub servers: Vec<String>,
    /// Every undirected link once, as server ids `[a, b]` with `a < b`.
    pub links: Vec<(usize, usize)>,
    pub seed: u64,
    pub policy: Policy,
    /// When the recording started, RFC 3339 in UTC.
    pub started: String,
    /// The herd as the recording found it (servers up, clients stored, links, faults): what a
    /// replay starts from. [`Recorder::start`] takes it just after it subscribes, so an event
    /// recorded first may already show in it (applying it again changes nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<HerdSnapshot>,
}

impl Header {
    /// The header for a recording of `herd` starting now; `topology` is the name the
    /// operator gave it.
    pub fn new(herd: &impl Herdlike, topology: &str) -> Self {
        Self {
            format: FORMAT,
            herdctl: env!("CARGO_PKG_VERSION").to_owned(),
            topology: topology.to_owned(),
            servers: herd.names().to_vec(),
            links: herd.topology().links(),
            seed: herd.snapshot().seed,
            policy: herd.policy(),
            started: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            state: None,
        }
    }
}

/// `{"gap":{…}}`, also what the admin endpoint's `/events` says where it lost events.
#[derive(Debug, Serialize, Deserialize)]
pub struct GapLine {
    pub gap: Gap,
}

/// Events lost after the one numbered `after_seq` (`None`: before any was written).
#[derive(Debug, Serialize, Deserialize)]
pub struct Gap {
    pub missed: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
}

/// `{"cut":{…}}`
#[derive(Debug, Serialize, Deserialize)]
struct CutLine {
    cut: Cut,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cut {
    at_seq: u64,
}

/// What a recording wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Events written.
    pub events: u64,
    /// Gap records written.
    pub gaps: u64,
    /// Events lost to gaps in all.
    pub missed: u64,
    /// Bytes in the file, header included.
    pub bytes: u64,
    /// The size bound was reached: the file ends with a cut record.
    pub cut: bool,
}

/// A recording in progress: a thread that writes every event of the herd to a file.
#[derive(Debug)]
pub struct Recorder {
    header: Header,
    stop: Option<oneshot::Sender<()>>,
    done: oneshot::Receiver<io::Result<RecordStats>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    /// Subscribes to `herd`'s events (before returning: every event from now on is either
    /// written or counted in a gap record), creates `path`, writes `header`, and records on a
    /// thread until [`Recorder::finish`], the herd's end, or the file reaching `max_size`
    /// bytes (then a cut record ends it). The header gets the herd's state (see
    /// [`Header::state`]).
    pub fn start(
        herd: &impl Herdlike,
        path: &Path,
        mut header: Header,
        max_size: u64,
    ) -> io::Result<Recorder> {
        let events = herd.events();
        header.state = Some(herd.snapshot());
        Self::start_on(events, path, header, max_size)
    }

    /// [`Recorder::start`] on a subscription of the caller's (to record an [`EventBus`] of
    /// one's own, or a subscription taken earlier).
    ///
    /// [`EventBus`]: crate::herd::EventBus
    pub fn start_on(
        subscription: Subscription,
        path: &Path,
        header: Header,
        max_size: u64,
    ) -> io::Result<Recorder> {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(path)?);
        let mut line = serde_json::to_vec(&header).map_err(io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
        let writer = Writer {
            out,
            line: Vec::with_capacity(512),
            stats: RecordStats { bytes: line.len() as u64, ..RecordStats::default() },
            max_size,
            last_seq: None,
            pending_gap: None,
        };
        let (stop, stop_rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let thread =
            std::thread::Builder::new().name("herdctl-record".into()).spawn(move || {
                let result = writer.run(subscription, stop_rx);
                let _ = done_tx.send(result);
            })?;
        Ok(Recorder { header, stop: Some(stop), done, thread: Some(thread) })
    }

    /// The header this recording began with.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Stops recording after the events already sent to it, flushes the file, and tells
    /// what was written (or the first write error).
    pub async fn finish(mut self) -> io::Result<RecordStats> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = (&mut self.done).await.unwrap_or_else(|_| {
            Err(io::Error::other("the recording thread ended without a result"))
        });
        if let Some(thread) = self.thread.take() {
            // It has sent its result: it is returning.
            let _ = thread.join();
        }
        result
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The recording thread's state.
struct Writer {
    out: BufWriter<File>,
    /// The line being built.
    line: Vec<u8>,
    stats: RecordStats,
    max_size: u64,
    last_seq: Option<u64>,
    /// Events missed since the last written: the gap record is written with the next event
    /// (whose number says where the gap was when no event was written yet) or at the end.
    pending_gap: Option<u64>,
}

/// Why a write did not happen.
enum Stop {
    Cut,
}

/// How the recording loop ended.
#[derive(PartialEq)]
enum Ended {
    /// Stopped, or the herd ended: every event was written or counted.
    Whole,
    /// The size bound was reached.
    Cut,
}

impl Writer {
    fn run(
        mut self,
        mut subscription: Subscription,
        mut stop: oneshot::Receiver<()>,
    ) -> io::Result<RecordStats> {
        let ended = futures::executor::block_on(async {
            loop {
                // Fast path: drain what is queued without a waker.
                let next = match subscription.try_recv() {
                    Ok(event) => Ok(event),
                    Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                    Err(TryRecvError::Closed) => Err(RecvError::Closed),
                    Err(TryRecvError::Empty) => {
                        tokio::select! {
                            biased;
                            _ = &mut stop => break self.drain(&mut subscription),
                            next = subscription.recv() => next,
                        }
                    }
                };
                match next {
                    Ok(event) => {
                        if let Err(Stop::Cut) = self.event(&event)? {
                            return Ok(Ended::Cut);
                        }
                    }
                    Err(RecvError::Lagged(missed)) => self.gap(missed),
                    Err(RecvError::Closed) => return Ok(Ended::Whole),
                }
            }
        });
        drop(subscription);
        if ended? == Ended::Whole {
            self.last_gap()?;
        }
        self.out.flush()?;
        Ok(self.stats)
    }

    /// Writes what was queued when the recording was told to stop, and no more.
    fn drain(&mut self, subscription: &mut Subscription) -> io::Result<Ended> {
        let queued = subscription.len();
        for _ in 0..queued {
            match subscription.try_recv() {
                Ok(event) => {
                    if let Err(Stop::Cut) = self.event(&event)? {
                        return Ok(Ended::Cut);
                    }
                }
                Err(TryRecvError::Lagged(missed)) => self.gap(missed),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        Ok(Ended::Whole)
    }

    fn event(&mut self, event: &HerdEvent) -> io::Result<Result<(), Stop>> {
        if let Some(missed) = self.pending_gap.take() {
            let after_seq = self.last_seq.or_else(|| event.seq.checked_sub(missed + 1));
            if let Err(cut) = self.gap_line(missed, after_seq, event.seq)? {
                return Ok(Err(cut));
            }
        }
        self.line.clear();
        serde_json::to_writer(&mut self.line, event).map_err(io::Error::other)?;
        self.line.push(b'\n');
        if let Err(cut) = self.put(event.seq)? {
            return Ok(Err(cut));
        }
        self.stats.events += 1;
        self.last_seq = Some(event.seq);
        Ok(Ok(()))
    }

    /// Notes `missed` events lost; the gap record is written before the next event (or at
    /// the end), so that lags in a row make one record, exactly the hole in the numbering.
    fn gap(&mut self, missed: u64) {
        *self.pending_gap.get_or_insert(0) += missed;
    }

    /// Writes the gap still pending at the end of the recording.
    fn last_gap(&mut self) -> io::Result<()> {
        if let Some(missed) = self.pending_gap.take() {
            let first_missed = self.last_seq.map_or(0, |last| last + 1);
            self.gap_line(missed, self.last_seq, first_missed)?.ok();
        }
        Ok(())
    }

    fn gap_line(
        &mut self,
        missed: u64,
        after_seq: Option<u64>,
        first_missed: u64,
    ) -> io::Result<Result<(), Stop>> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, &GapLine { gap: Gap { missed, after_seq } })
            .map_err(io::Error::other)?;
        self.line.push(b'\n');
        if let Err(cut) = self.put(first_missed)? {
            return Ok(Err(cut));
        }
        self.stats.gaps += 1;
        self.stats.missed += missed;
        if let Some(after) = after_seq {
            self.last_seq = Some(after + missed);
        }
        Ok(Ok(()))
    }

    /// Writes `self.line` unless it would take the file past its bound; then writes the cut
    /// record (at `seq`, the first event not written) instead.
    fn put(&mut self, seq: u64) -> io::Result<Result<(), Stop>> {
        let len = self.line.len() as u64;
        if self.stats.bytes + len + CUT_RESERVE > self.max_size {
            self.line.clear();
            serde_json::to_writer(&mut self.line, &CutLine { cut: Cut { at_seq: seq } })
                .map_err(io::Error::other)?;
            self.line.push(b'\n');
            self.out.write_all(&self.line)?;
            self.stats.bytes += self.line.len() as u64;
            self.stats.cut = true;
            return Ok(Err(Stop::Cut));
        }
        self.out.write_all(&self.line)?;
        self.stats.bytes += len;
        Ok(Ok(()))
    }
}

/// A trace read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub header: Header,
    pub events: Vec<HerdEvent>,
    /// `(after_seq, missed)` for every gap: each gap record, and each hole in the numbering
    /// that no record explains. `after_seq` is `u64::MAX` for a gap before the herd's first
    /// event.
    pub gaps: Vec<(u64, u64)>,
    /// The recording reached its size bound (the file ends with a cut record).
    pub cut: bool,
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: empty file, no trace header")]
    Empty { path: PathBuf },
    #[error("{path}:{line}: {source}")]
    Parse { path: PathBuf, line: usize, source: serde_json::Error },
    #[error("{path}:1: trace format {found}, this herdctl reads format {FORMAT}")]
    Format { path: PathBuf, found: u32 },
}

/// The first field of a header, read before the rest.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

/// Reads the trace at `path`.
pub fn read(path: &Path) -> Result<Trace, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io { path: path.into(), source })?;
    read_from(BufReader::with_capacity(1 << 16, file), path)
}

/// Reads a trace from `input`; `path` names it in errors.
pub fn read_from(input: impl BufRead, path: &Path) -> Result<Trace, TraceError> {
    let mut lines = input.lines().enumerate();
    let parse_error =
        |line: usize, source| TraceError::Parse { path: path.into(), line: line + 1, source };
    let io_error = |source| TraceError::Io { path: path.into(), source };
    let header: Header = loop {
        let Some((n, line)) = lines.next() else {
            return Err(TraceError::Empty { path: path.into() });
        };
        let line = line.map_err(io_error)?;
        if line.trim().is_empty() {
            continue;
        }
        // The format first, so that a later format is named rather than misparsed.
        let format: FormatOnly = serde_json::from_str(&line).map_err(|e| parse_error(n, e))?;
        if format.format != FORMAT {
            return Err(TraceError::Format { path: path.into(), found: format.format });
        }
        break serde_json::from_str(&line).map_err(|e| parse_error(n, e))?;
    };
    let mut trace = Trace { header, events: Vec::new(), gaps: Vec::new(), cut: false };
    let mut last_seq: Option<u64> = None;
    for (n, line) in lines {
        let line = line.map_err(io_error)?;
        let text = line.trim_start();
        if text.is_empty() {
            continue;
        }
        if text.starts_with("{\"gap\"") {
            let GapLine { gap } = serde_json::from_str(text).map_err(|e| parse_error(n, e))?;
            let after = gap.after_seq.or(last_seq).unwrap_or(u64::MAX);
            trace.gaps.push((after, gap.missed));
            last_seq = Some(after.wrapping_add(gap.missed));
        } else if text.starts_with("{\"cut\"") {
            let _: CutLine = serde_json::from_str(text).map_err(|e| parse_error(n, e))?;
            trace.cut = true;
        } else {
            let event: HerdEvent = serde_json::from_str(text).map_err(|e| parse_error(n, e))?;
            if let Some(last) = last_seq {
                let expected = last.wrapping_add(1);
                if event.seq > expected {
                    trace.gaps.push((last, event.seq - expected));
                }
            }
            last_seq = Some(event.seq);
            trace.events.push(event);
        }
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::herd::{EventKind, Update};

    fn header() -> Header {
        Header {
            format: FORMAT,
            herdctl: "0.1.0".into(),
            topology: "line:2".into(),
            servers: vec!["S1".into(), "S2".into()],
            links: vec![(0, 1)],
            seed: 7,
            policy: Policy::Spec,
            started: "2024-01-01T00:00:00.000Z".into(),
            state: None,
        }
    }

    fn stored(seq: u64) -> HerdEvent {
        HerdEvent {
            seq,
            t_ns: seq * 1000,
            kind: EventKind::LocationStored {
                server: 0,
                update: Update { client: "kiwi".into(), time: "1.5".into() },
                line: "AT S1 +0.1 kiwi +1+2 1.5".into(),
                from: None,
            },
        }
    }

    fn text(lines: &[String]) -> String {
        lines.join("\n") + "\n"
    }

    #[test]
    fn reads_events_gaps_and_cuts_and_infers_holes() {
        let lines = vec![
            serde_json::to_string(&header()).unwrap(),
            serde_json::to_string(&stored(3)).unwrap(),
            r#"{"gap":{"missed":2,"after_seq":3}}"#.into(),
            serde_json::to_string(&stored(6)).unwrap(),
            serde_json::to_string(&stored(9)).unwrap(),
            r#"{"cut":{"at_seq":10}}"#.into(),
        ];
        let trace = read_from(text(&lines).as_bytes(), Path::new("t.ndjson")).unwrap();
        assert_eq!(trace.header, header());
        assert_eq!(trace.events.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 6, 9]);
        assert_eq!(trace.gaps, [(3, 2), (6, 2)]);
        assert!(trace.cut);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let lines = vec![serde_json::to_string(&header()).unwrap(), "{\"seq\":1}".into()];
        let err = read_from(text(&lines).as_bytes(), Path::new("t.ndjson")).unwrap_err();
        assert!(err.to_string().starts_with("t.ndjson:2: "), "{err}");
        let err = read_from("".as_bytes(), Path::new("e.ndjson")).unwrap_err();
        assert!(err.to_string().contains("e.ndjson"), "{err}");
        let err = read_from("{\"format\":2}\n".as_bytes(), Path::new("f.ndjson")).unwrap_err();
        assert_eq!(err.to_string(), "f.ndjson:1: trace format 2, this herdctl reads format 1");
    }
}
