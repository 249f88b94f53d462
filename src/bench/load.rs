//! The load generator: N client tasks issuing requests back to back, either a connection per
//! command (the grading client's way: connect, write, half-close, read to EOF) or one
//! persistent connection each with a window of pipelined lines. Every request's time from
//! write to complete reply goes into a [`Histogram`]. Runs are bounded in time and count.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::time::{Instant, timeout};

use super::histogram::Histogram;

/// The run's duration is cut into this many slices for its timeline.
const TIMELINE_SLICES: u32 = 6;

/// Longest any one reply may take before the request counts as failed.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Coordinates every generated IAMAT reports.
const COORDS: &str = "+34.068930-118.445127";

/// How clients talk to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A new connection per command: connect, write, half-close, read to EOF.
    PerCommand,
    /// One connection per client, up to `window` lines outstanding (1: request and reply in
    /// turn, the telnet way; more: pipelined).
    Persistent { window: usize },
}

impl Framing {
    pub fn label(self) -> &'static str {
        match self {
            Framing::PerCommand => "per-command",
            Framing::Persistent { window: 1 } => "persistent",
            Framing::Persistent { .. } => "pipelined",
        }
    }
}

/// What the clients send.
#[derive(Debug, Clone)]
pub enum Workload {
    /// `IAMAT {tag}-{task}-{seq} …`: every request a new client, so every one is a new report
    /// that floods the whole herd.
    IAmAt { tag: String },
    /// `IAMAT {tag}-{task} …` with the current time: one client per task whose every request
    /// is a newer report (it floods the whole herd too), so a long run stores few clients.
    Moving { tag: String },
    /// `WHATSAT {client} 10 5` over these known clients, round robin.
    WhatsAt { clients: Arc<[String]> },
}

impl Workload {
    /// The client id of request `seq` of task `task`.
    pub fn client(&self, task: usize, seq: u64) -> String {
        match self {
            Workload::IAmAt { tag } => format!("{tag}-{task}-{seq}"),
            Workload::Moving { tag } => format!("{tag}-{task}"),
            Workload::WhatsAt { clients } => {
                let i = (task as u64 * 7919 + seq) % clients.len().max(1) as u64;
                clients.get(i as usize).cloned().unwrap_or_default()
            }
        }
    }

    fn write_line(&self, task: usize, seq: u64, out: &mut String) {
        match self {
            Workload::IAmAt { tag } => {
                let _ = writeln!(out, "IAMAT {tag}-{task}-{seq} {COORDS} {}", posix_now());
            }
            Workload::Moving { tag } => {
                let _ = writeln!(out, "IAMAT {tag}-{task} {COORDS} {}", posix_now());
            }
            Workload::WhatsAt { .. } => {
                let _ = writeln!(out, "WHATSAT {} 10 5", self.client(task, seq));
            }
        }
    }
}

/// The current POSIX time as `seconds.nanoseconds`.
pub fn posix_now() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// An IAMAT line (with `\n`) for `client`, now.
pub fn iamat_line(client: &str) -> String {
    format!("IAMAT {client} {COORDS} {}\n", posix_now())
}

/// How replies are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One line each (IAMAT replies, `? ` replies, the echo server).
    Line,
    /// A WHATSAT reply: a `? ` line, or an AT line and JSON up to the first empty line.
    Whatsat,
}

/// What a good reply starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An AT line (a herd).
    At,
    /// The request itself (the echo server).
    Echo,
}

impl Expect {
    fn accepts(self, reply: &[u8]) -> bool {
        match self {
            Expect::At => reply.starts_with(b"AT "),
            Expect::Echo => reply.starts_with(b"IAMAT ") || reply.starts_with(b"WHATSAT "),
        }
    }
}

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Client task `i` talks to `addrs[i % addrs.len()]`.
    pub addrs: Vec<SocketAddr>,
    pub clients: usize,
    pub framing: Framing,
    pub workload: Workload,
    pub shape: Shape,
    pub expect: Expect,
    /// No request is started after this long.
    pub duration: Duration,
    /// Nor more than this many per task.
    pub max_per_task: u64,
    /// Each task starts at most one request per this interval (`None`: as fast as replies
    /// come back).
    pub pace: Option<Duration>,
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadOutcome {
    /// When the clients started (after persistent connections were opened).
    pub start: Instant,
    /// From `start` to the last reply.
    pub answer_time: Duration,
    pub replies: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: Histogram,
    /// Each task's last answered client id and the server index it went to.
    pub last_clients: Vec<(usize, String)>,
    /// Replies per second in each of six equal slices of the run's duration (the last slice
    /// also holds the replies to requests still outstanding at the deadline).
    pub timeline: Vec<f64>,
}

impl LoadOutcome {
    /// Replies per second until the last reply.
    pub fn answer_rate(&self) -> f64 {
        rate(self.replies, self.answer_time)
    }
}

/// `count` per second over `time`.
pub fn rate(count: u64, time: Duration) -> f64 {
    let secs = time.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

#[derive(Debug, Default)]
struct TaskOutcome {
    replies: u64,
    errors: u64,
    first_error: Option<String>,
    latency: Histogram,
    last_reply: Option<Instant>,
    last_client: Option<(usize, String)>,
}

impl TaskOutcome {
    fn fail(&mut self, why: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why());
        }
    }
}

/// Runs `spec` to completion: every task stops starting requests at the deadline and waits
/// for the replies it has outstanding.
pub async fn run(spec: LoadSpec) -> LoadOutcome {
    let spec = Arc::new(spec);
    let clients = spec.clients.max(1);
    let barrier = Arc::new(Barrier::new(clients + 1));
    let start_at = Arc::new(tokio::sync::OnceCell::new());
    let answered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(clients);
    for task in 0..clients {
        let (spec, barrier, start_at) = (spec.clone(), barrier.clone(), start_at.clone());
        let answered = answered.clone();
        tasks.push(tokio::spawn(async move {
            let addr = spec.addrs[task % spec.addrs.len()];
            let stream = match spec.framing {
                Framing::Persistent { .. } => Some(connect(addr).await),
                Framing::PerCommand => None,
            };
            barrier.wait().await;
            let start: Instant = *start_at.get_or_init(|| async { Instant::now() }).await;
            let deadline = start + spec.duration;
            match (spec.framing, stream) {
                (Framing::Persistent { window }, Some(stream)) => {
                    persistent(task, &spec, stream, window.max(1), deadline, &answered).await
                }
                _ => per_command(task, &spec, addr, deadline, &answered).await,
            }
        }));
    }
    barrier.wait().await;
    let start = *start_at.get_or_init(|| async { Instant::now() }).await;
    let step = (spec.duration / TIMELINE_SLICES).max(Duration::from_millis(10));
    let mut tick = tokio::time::interval_at(start + step, step);
    let mut counts = Vec::new();
    let joined = futures::future::join_all(tasks);
    tokio::pin!(joined);
    let results = loop {
        tokio::select! {
            results = &mut joined => break results,
            _ = tick.tick(), if counts.len() < TIMELINE_SLICES as usize - 1 => {
                counts.push(answered.load(Ordering::Relaxed));
            }
        }
    };
    counts.push(answered.load(Ordering::Relaxed));
    let mut outcome = LoadOutcome {
        start,
        answer_time: Duration::ZERO,
        replies: 0,
        errors: 0,
        first_error: None,
        latency: Histogram::default(),
        last_clients: Vec::new(),
        timeline: Vec::new(),
    };
    for task in results {
        let Ok(task) = task else {
            outcome.errors += 1;
            outcome.first_error.get_or_insert_with(|| "a client task panicked".into());
            continue;
        };
        outcome.replies += task.replies;
        outcome.errors += task.errors;
        if outcome.first_error.is_none() {
            outcome.first_error = task.first_error;
        }
        outcome.latency.merge(&task.latency);
        if let Some(last) = task.last_reply {
            outcome.answer_time = outcome.answer_time.max(last - start);
        }
        outcome.last_clients.extend(task.last_client);
    }
    let slices = counts.len();
    let mut before = 0;
    for (i, &now) in counts.iter().enumerate() {
        let time = if i + 1 < slices {
            step
        } else {
            outcome.answer_time.saturating_sub(step * i as u32).max(step)
        };
        outcome.timeline.push(rate(now - before, time));
        before = now;
    }
    outcome
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = timeout(REPLY_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The grading client's exchange: connect, write, half-close, read until the server closes.
pub async fn exchange(addr: SocketAddr, request: &[u8], reply: &mut Vec<u8>) -> io::Result<()> {
    let attempt = async {
        let mut stream = connect(addr).await?;
        stream.write_all(request).await?;
        stream.shutdown().await?;
        reply.clear();
        stream.read_to_end(reply).await?;
        Ok(())
    };
    timeout(REPLY_TIMEOUT, attempt)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no reply in time"))?
}

async fn per_command(
    task: usize,
    spec: &LoadSpec,
    addr: SocketAddr,
    deadline: Instant,
    answered: &AtomicU64,
) -> TaskOutcome {
    let mut outcome = TaskOutcome::default();
    let (mut line, mut reply) = (String::new(), Vec::with_capacity(4096));
    let mut seq = 0;
    while seq < spec.max_per_task && Instant::now() < deadline {
        line.clear();
        spec.workload.write_line(task, seq, &mut line);
        let sent = Instant::now();
        match exchange(addr, line.as_bytes(), &mut reply).await {
            Ok(()) if spec.expect.accepts(&reply) => {
                let now = Instant::now();
                outcome.latency.record(now - sent);
                outcome.replies += 1;
                answered.fetch_add(1, Ordering::Relaxed);
                outcome.last_reply = Some(now);
                outcome.last_client =
                    Some((task % spec.addrs.len(), spec.workload.client(task, seq)));
            }
            Ok(()) => outcome.fail(|| format!("unexpected reply {:?}", excerpt(&reply))),
            Err(err) => {
                outcome.fail(|| format!("{addr}: {err}"));
                // Out of ports or refused: do not spin.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        seq += 1;
    }
    outcome
}

async fn persistent(
    task: usize,
    spec: &LoadSpec,
    stream: io::Result<TcpStream>,
    window: usize,
    deadline: Instant,
    answered: &AtomicU64,
) -> TaskOutcome {
    let mut outcome = TaskOutcome::default();
    let mut stream = match stream {
        Ok(stream) => stream,
        Err(err) => {
            outcome.fail(|| format!("connect: {err}"));
            return outcome;
        }
    };
    let server = task % spec.addrs.len();
    let mut sent = std::collections::VecDeque::with_capacity(window);
    let mut replies = ReplyBuffer::default();
    let mut batch = String::new();
    let mut seq = 0;
    let started = Instant::now();
    loop {
        let issuing = seq < spec.max_per_task && Instant::now() < deadline;
        // When the next request may start, on a paced run.
        let due = |seq: u64| spec.pace.map(|pace| started + pace * seq as u32);
        if issuing
            && sent.is_empty()
            && let Some(due) = due(seq)
        {
            tokio::time::sleep_until(due).await;
        }
        if issuing && sent.len() < window {
            batch.clear();
            let now = Instant::now();
            while sent.len() < window
                && seq < spec.max_per_task
                && due(seq).is_none_or(|due| due <= now)
            {
                spec.workload.write_line(task, seq, &mut batch);
                sent.push_back((now, seq));
                seq += 1;
            }
            if let Err(err) = stream.write_all(batch.as_bytes()).await {
                outcome.errors += sent.len() as u64;
                outcome.first_error.get_or_insert_with(|| format!("write: {err}"));
                return outcome;
            }
        }
        if sent.is_empty() {
            return outcome;
        }
        match timeout(REPLY_TIMEOUT, replies.fill(&mut stream)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                outcome.errors += sent.len() as u64;
                outcome.first_error.get_or_insert_with(|| format!("read: {err}"));
                return outcome;
            }
            Err(_) => {
                outcome.errors += sent.len() as u64;
                outcome.first_error.get_or_insert_with(|| "no reply in time".into());
                return outcome;
            }
        }
        let now = Instant::now();
        while let Some(range) = replies.next_reply(spec.shape) {
            let Some((at, seq)) = sent.pop_front() else {
                outcome.fail(|| "a reply nobody asked for".into());
                return outcome;
            };
            let reply = replies.bytes(range);
            if spec.expect.accepts(reply) {
                outcome.latency.record(now - at);
                outcome.replies += 1;
                answered.fetch_add(1, Ordering::Relaxed);
                outcome.last_reply = Some(now);
                outcome.last_client = Some((server, spec.workload.client(task, seq)));
            } else {
                outcome.fail(|| format!("unexpected reply {:?}", excerpt(reply)));
            }
        }
    }
}

/// The start of a reply, for error messages.
fn excerpt(reply: &[u8]) -> String {
    String::from_utf8_lossy(&reply[..reply.len().min(80)]).into_owned()
}

/// Bytes read from a connection, cut into replies.
#[derive(Debug, Default)]
pub struct ReplyBuffer {
    buf: Vec<u8>,
    /// Where the next unread reply starts.
    start: usize,
}

impl ReplyBuffer {
    /// Reads what has arrived (at least one byte); EOF is an error.
    pub async fn fill(&mut self, stream: &mut (impl AsyncRead + Unpin)) -> io::Result<()> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + 64 * 1024, 0);
        let read = stream.read(&mut self.buf[len..]).await;
        self.buf.truncate(len + *read.as_ref().unwrap_or(&0));
        match read? {
            0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")),
            _ => Ok(()),
        }
    }

    /// The next complete reply, if it has all arrived.
    pub fn next_reply(&mut self, shape: Shape) -> Option<Range<usize>> {
        let rest = &self.buf[self.start..];
        let len = match shape {
            Shape::Whatsat if !rest.starts_with(b"? ") => {
                rest.windows(2).position(|w| w == b"\n\n")? + 2
            }
            _ => rest.iter().position(|&b| b == b'\n')? + 1,
        };
        let range = self.start..self.start + len;
        self.start += len;
        Some(range)
    }

    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_cut_by_shape() {
        let text = b"AT a\n{\n  \"x\": 1\n}\n\n? WHATSAT b 1 1\nAT c\n{";
        let mut buffer = ReplyBuffer { buf: text.to_vec(), start: 0 };
        let first = buffer.next_reply(Shape::Whatsat).unwrap();
        assert_eq!(buffer.bytes(first), b"AT a\n{\n  \"x\": 1\n}\n\n");
        let second = buffer.next_reply(Shape::Whatsat).unwrap();
        assert_eq!(buffer.bytes(second), b"? WHATSAT b 1 1\n");
        assert!(buffer.next_reply(Shape::Whatsat).is_none());
        let line = buffer.next_reply(Shape::Line).unwrap();
        assert_eq!(buffer.bytes(line), b"AT c\n");
    }

    #[test]
    fn iamat_clients_are_distinct_and_whatsat_cycles() {
        let iamat = Workload::IAmAt { tag: "r1".into() };
        assert_ne!(iamat.client(0, 1), iamat.client(1, 0));
        let mut line = String::new();
        iamat.write_line(3, 9, &mut line);
        assert!(line.starts_with("IAMAT r1-3-9 +34.068930-118.445127 1"), "{line}");
        assert!(line.ends_with('\n'));
        let clients: Arc<[String]> = vec!["a".to_owned(), "b".to_owned()].into();
        let whatsat = Workload::WhatsAt { clients };
        line.clear();
        whatsat.write_line(0, 1, &mut line);
        assert_eq!(line, "WHATSAT b 10 5\n");
    }
}
