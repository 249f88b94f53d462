//! One directed server-to-neighbour link: a task that owns the outbound TCP connection, writes
//! flooded AT lines to it in batches, notices the neighbour's EOF at once, reconnects with
//! capped backoff (at once when the herd restarts the neighbour), and holds back each report until its link delay is up (with jitter, later
//! reports may overtake it). While its server is hung it writes nothing. Nothing sent into a
//! link is lost silently: every report it cannot deliver is counted, logged and announced.
//!
//! A neighbour that stops reading (a frozen process) must cost its neighbours nothing but the
//! reports meant for it. A link whose writes make no progress for the stall bound is
//! *stalled*: it keeps the connection and the bytes already on their way, drops every report
//! handed to it (reason `neighbour stalled`) so the servers and clients feeding it never wait
//! on it, and recovers by itself as soon as the neighbour reads again. A link that is merely
//! busy (its writes go through, slowly) is never stalled: it slows its senders down instead.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, sleep_until, timeout};

use super::admission::{LinkEnd, LinkEnds};
use super::events::{DropReason, EventBus, EventKind, ServerId, Update};
use super::faults::Freeze;
use super::flood::HandoffToken;
use super::log::ServerLog;

/// A report on its way to one neighbour: the wire line (with `\n`) shared by every link it
/// goes to, and the update it carries.
#[derive(Debug)]
pub struct Flood {
    pub wire: Bytes,
    pub update: Update,
    /// The link delay it was given (0: none).
    pub delay: Duration,
    /// Not to be written before this instant (set from `delay` when it is handed to the
    /// link's queue); `None` = at once.
    pub due: Option<Instant>,
    /// Dropped once the report is written or given up on: the client's reply waits for it.
    pub handoff: Option<HandoffToken>,
}

/// Most relayed reports a link holds; past that they are dropped (`queue full`) and counted.
pub const RELAY_CAP: usize = 1 << 16;

/// The queue of reports a server relays from its neighbours to one link. Unlike a client's
/// reports (which wait for room in the link's bounded queue, slowing the client down), a
/// relayed report never makes the session that read it wait: servers waiting on each other's
/// full queues around a cycle of the graph would stop reading each other for good.
#[derive(Debug, Clone)]
pub struct RelayQueue {
    sender: mpsc::UnboundedSender<Flood>,
    depth: Arc<AtomicUsize>,
}

impl RelayQueue {
    /// Queues `flood`, unless the queue holds [`RELAY_CAP`] reports or the link has ended.
    pub fn push(&self, flood: Flood) -> Result<(), DropReason> {
        if self.depth.load(Ordering::Relaxed) >= RELAY_CAP {
            return Err(DropReason::QueueFull);
        }
        self.depth.fetch_add(1, Ordering::Relaxed);
        self.sender.send(flood).map_err(|_| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            DropReason::NeighbourDown
        })
    }
}

/// What a link reads reports from: its bounded queue of clients' reports and its queue of
/// relayed ones.
#[derive(Debug)]
pub struct Inbox {
    clients: mpsc::Receiver<Flood>,
    relays: mpsc::UnboundedReceiver<Flood>,
    depth: Arc<AtomicUsize>,
}

impl Inbox {
    /// A link's inbox, the sender of its clients' queue (`capacity` reports) and its relay
    /// queue.
    pub fn new(capacity: usize) -> (Self, mpsc::Sender<Flood>, RelayQueue) {
        let (clients_tx, clients) = mpsc::channel(capacity);
        let (sender, relays) = mpsc::unbounded_channel();
        let depth = Arc::new(AtomicUsize::new(0));
        let relay = RelayQueue { sender, depth: depth.clone() };
        (Self { clients, relays, depth }, clients_tx, relay)
    }

    /// The next report from either queue; `None` once the server has stopped. Cancel-safe.
    async fn recv(&mut self) -> Option<Flood> {
        tokio::select! {
            Some(flood) = self.relays.recv() => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                Some(flood)
            }
            flood = self.clients.recv() => flood,
        }
    }

    fn try_recv(&mut self) -> Option<Flood> {
        if let Ok(flood) = self.relays.try_recv() {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            return Some(flood);
        }
        self.clients.try_recv().ok()
    }
}

/// The state of one directed link, as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// The sending server is not running.
    Idle,
    /// Not connected; retrying with backoff.
    Down,
    Up,
    /// Connected, but the neighbour has not read for the stall bound.
    Stalled,
}

/// Counters of one directed link, shared with snapshots; they outlive server restarts.
#[derive(Debug, Default)]
pub struct LinkStats {
    state: AtomicU8,
    sent: AtomicU64,
    dropped: AtomicU64,
    /// Poked when the neighbour is known to listen again (the herd restarted it): a link
    /// waiting out its backoff reconnects at once.
    wake: Notify,
}

impl LinkStats {
    pub fn state(&self) -> LinkState {
        match self.state.load(Ordering::Relaxed) {
            1 => LinkState::Down,
            2 => LinkState::Up,
            3 => LinkState::Stalled,
            _ => LinkState::Idle,
        }
    }

    pub(super) fn set_state(&self, state: LinkState) {
        let code = match state {
            LinkState::Idle => 0,
            LinkState::Down => 1,
            LinkState::Up => 2,
            LinkState::Stalled => 3,
        };
        self.state.store(code, Ordering::Relaxed);
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(super) fn count_dropped(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Tells the link that its neighbour listens again: if it is down, it retries now, its
    /// backoff started over. A wake while it is up is kept and costs one early retry later.
    pub(super) fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Retry pacing: 50 ms doubling to 2 s. It paces retries only; a new report always tries at
/// once.
#[derive(Debug)]
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const CAP: Duration = Duration::from_secs(2);

    fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(Self::CAP);
        wait
    }

    fn reset(&mut self) {
        self.0 = Self::FIRST;
    }
}

/// Looks a neighbour's address up: see [`Link::resolve`].
pub(super) type Resolve =
    Box<dyn Fn() -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> + Send + Sync>;

/// Most reports written in one batch.
const BATCH: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything a link task needs from its herd.
pub(super) struct Link {
    pub from: ServerId,
    pub to: ServerId,
    pub to_name: Arc<str>,
    /// Where the neighbour listens, looked up afresh for every connect attempt (its `dial`
    /// may be a name that resolves only later, or to another address): the addresses to
    /// try, in order.
    pub resolve: Resolve,
    pub inbox: Inbox,
    /// Reports taken from the inbox that are not yet due, earliest first.
    pub delayed: BinaryHeap<Reverse<Delayed>>,
    /// Reports delayed so far (orders the delayed with the same due time).
    pub arrivals: u64,
    /// Whether the sending server is hung.
    pub freeze: Freeze,
    pub stats: Arc<LinkStats>,
    pub log: Arc<ServerLog>,
    pub events: EventBus,
    /// A write that takes no byte for this long means the neighbour has stopped reading.
    pub stall_after: Duration,
    /// Where this link's connection is registered, so a neighbour in the same process that
    /// accepts it knows it for a link.
    pub ends: Arc<LinkEnds>,
}

/// A report waiting for its due time; ties keep the order the reports arrived in.
#[derive(Debug)]
pub struct Delayed {
    due: Instant,
    order: u64,
    flood: Flood,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}

impl Eq for Delayed {}

impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.order).cmp(&(other.due, other.order))
    }
}

struct Connection {
    _end: LinkEnd,
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    /// When the last write went through.
    last_write: Instant,
}

impl Connection {
    /// Might the neighbour have closed this connection since we last looked? On a busy link
    /// (a write within [`BUSY`]) the event loop's own read notices an EOF soon enough; on a
    /// link that has been quiet, ask the kernel (a non-blocking peek), so an EOF that arrived
    /// since the last poll (a neighbour killed a moment ago) is never missed before a write.
    fn closed_by_peer(&self) -> bool {
        self.last_write.elapsed() > BUSY && peer_closed(&self.write)
    }
}

/// A link that wrote this recently is busy: see [`Connection::closed_by_peer`].
const BUSY: Duration = Duration::from_millis(2);

impl Link {
    /// Runs until the inbox closes (the server stopped) or the task is cancelled.
    pub async fn run(mut self) {
        let mut backoff = Backoff(Backoff::FIRST);
        let stats = self.stats.clone();
        let mut connection: Option<Connection> = None;
        let mut retry_at = Instant::now();
        let mut announced_down = false;
        let mut scratch = [0u8; 512];
        loop {
            // Frozen like a stopped process: writes nothing, notices nothing.
            if !self.freeze.thawed().await {
                return;
            }
            if let Some(conn) = &mut connection {
                tokio::select! {
                    biased;
                    read = conn.read.read(&mut scratch) => {
                        if matches!(read, Ok(0) | Err(_)) {
                            connection = None;
                            self.dropped_connection("closed by neighbour");
                            announced_down = true;
                            retry_at = Instant::now() + backoff.next();
                        }
                    }
                    flood = self.next_due() => {
                        let Some(flood) = flood else { return };
                        if !self.freeze.thawed().await {
                            return;
                        }
                        let batch = self.batch(flood);
                        connection = self.deliver(connection.take(), batch).await;
                    }
                }
            } else {
                tokio::select! {
                    biased;
                    flood = self.next_due() => {
                        let Some(flood) = flood else { return };
                        if !self.freeze.thawed().await {
                            return;
                        }
                        let batch = self.batch(flood);
                        connection = self.deliver(None, batch).await;
                        if connection.is_some() {
                            backoff.reset();
                            announced_down = false;
                        }
                    }
                    () = stats.wake.notified() => {
                        backoff.reset();
                        retry_at = Instant::now();
                    }
                    () = sleep_until(retry_at) => {
                        match self.connect().await {
                            Ok(conn) => {
                                connection = Some(conn);
                                backoff.reset();
                                announced_down = false;
                            }
                            Err(err) => {
                                if !announced_down {
                                    self.dropped_connection(&format!("cannot connect: {err}"));
                                    announced_down = true;
                                }
                                retry_at = Instant::now() + backoff.next();
                            }
                        }
                    }
                }
            }
        }
    }

    /// The next report that is due: the earliest delayed one once its time comes, or one
    /// from the inbox with no delay; a delayed one from the inbox waits its turn. `None` once
    /// the server has stopped. Cancel-safe.
    async fn next_due(&mut self) -> Option<Flood> {
        loop {
            let wake = self.delayed.peek().map(|Reverse(d)| d.due);
            if wake.is_some_and(|due| due <= Instant::now()) {
                return self.delayed.pop().map(|Reverse(d)| d.flood);
            }
            tokio::select! {
                biased;
                () = sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
                flood = self.inbox.recv() => {
                    if let Some(flood) = self.hold_back(flood?) {
                        return Some(flood);
                    }
                }
            }
        }
    }

    /// Keeps `flood` among the delayed if it is not due yet (or drops it, `queue full`, when
    /// [`RELAY_CAP`] are waiting); gives it back if it is due.
    fn hold_back(&mut self, flood: Flood) -> Option<Flood> {
        match flood.due {
            Some(_) if self.delayed.len() >= RELAY_CAP => {
                self.drop_reports(&[flood], DropReason::QueueFull);
                None
            }
            Some(due) if due > Instant::now() => {
                self.arrivals += 1;
                self.delayed.push(Reverse(Delayed { due, order: self.arrivals, flood }));
                None
            }
            _ => Some(flood),
        }
    }

    /// `first` and whatever else is due, up to [`BATCH`].
    fn batch(&mut self, first: Flood) -> Vec<Flood> {
        let mut batch = vec![first];
        let now = Instant::now();
        while batch.len() < BATCH {
            if self.delayed.peek().is_some_and(|Reverse(d)| d.due <= now) {
                if let Some(Reverse(d)) = self.delayed.pop() {
                    batch.push(d.flood);
                }
                continue;
            }
            let Some(next) = self.inbox.try_recv() else { break };
            if let Some(flood) = self.hold_back(next) {
                batch.push(flood);
            }
        }
        batch
    }

    /// Writes `batch` on `connection` (reconnecting at once if it is missing or the neighbour
    /// has closed it); returns the connection if it is still usable.
    async fn deliver(
        &mut self,
        connection: Option<Connection>,
        mut batch: Vec<Flood>,
    ) -> Option<Connection> {
        let connection = match connection {
            Some(conn) if !conn.closed_by_peer() => Some(conn),
            Some(_) => {
                self.dropped_connection("closed by neighbour");
                None
            }
            None => None,
        };
        let mut conn = if let Some(conn) = connection {
            conn
        } else {
            let Ok(conn) = self.connect().await else {
                self.drop_reports(&batch, DropReason::NeighbourDown);
                return None;
            };
            conn
        };
        let bytes = if let [one] = batch.as_slice() {
            one.wire.clone()
        } else {
            let mut joined = Vec::with_capacity(batch.iter().map(|f| f.wire.len()).sum());
            for flood in &batch {
                joined.extend_from_slice(&flood.wire);
            }
            Bytes::from(joined)
        };
        if let Err(err) = self.write_watched(&mut conn, &bytes, &mut batch).await {
            self.dropped_connection(&format!("write failed: {err}"));
            self.drop_reports(&batch, DropReason::NeighbourDown);
            return None;
        }
        conn.last_write = Instant::now();
        self.stats.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for flood in &batch {
            self.log.line("TO", &self.to_name, &flood.wire);
            self.events.emit(|| EventKind::FloodSent {
                from: self.from,
                to: self.to,
                update: flood.update.clone(),
                line: super::log::printable(&flood.wire).into(),
            });
        }
        Some(conn)
    }

    /// Writes `bytes` on `conn`. A write that takes no byte for the stall bound stalls the
    /// link: the batch's senders stop waiting for it, and until the rest goes through every
    /// report handed to the link is dropped (`neighbour stalled`).
    async fn write_watched(
        &mut self,
        conn: &mut Connection,
        mut bytes: &[u8],
        batch: &mut [Flood],
    ) -> io::Result<()> {
        while !bytes.is_empty() {
            match timeout(self.stall_after, conn.write.write(bytes)).await {
                Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(err)) => return Err(err),
                Err(_) => {
                    for flood in batch.iter_mut() {
                        flood.handoff = None;
                    }
                    return self.write_stalled(conn, bytes).await;
                }
            }
        }
        Ok(())
    }

    /// The rest of a stalled write: waits for the neighbour to read again, dropping every
    /// report handed to the link meanwhile.
    async fn write_stalled(&mut self, conn: &mut Connection, mut rest: &[u8]) -> io::Result<()> {
        self.stats.set_state(LinkState::Stalled);
        self.log.note(format_args!(
            "link to {} stalled: no write went through for {}; its reports are dropped until it \
             reads again",
            self.to_name,
            humantime::format_duration(self.stall_after)
        ));
        self.events.emit(|| EventKind::LinkStalled { from: self.from, to: self.to });
        while !rest.is_empty() {
            tokio::select! {
                biased;
                written = conn.write.write(rest) => match written {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => rest = &rest[n..],
                    Err(err) => return Err(err),
                },
                flood = self.next_due() => match flood {
                    Some(flood) => self.drop_reports(&[flood], DropReason::NeighbourStalled),
                    None => return Err(io::Error::other("server stopped")),
                },
            }
        }
        self.stats.set_state(LinkState::Up);
        self.log.note(format_args!("link to {} recovered: writes go through again", self.to_name));
        self.events.emit(|| EventKind::LinkRecovered { from: self.from, to: self.to });
        Ok(())
    }

    async fn connect(&self) -> io::Result<Connection> {
        let (stream, addr) = timeout(CONNECT_TIMEOUT, self.dial())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        // Registered before the first write: by the time the neighbour reads a byte of this
        // connection, it can tell it for a link (see `session::serve`).
        let end = self.ends.register(stream.local_addr()?.port());
        if stream.local_addr().is_ok_and(|local| local == addr) {
            // A TCP self-connection: the neighbour is down and its port was ours to take.
            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, "connected to itself"));
        }
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        self.stats.set_state(LinkState::Up);
        self.log.note(format_args!("link to {} up ({addr})", self.to_name));
        self.events.emit(|| EventKind::LinkUp { from: self.from, to: self.to });
        Ok(Connection { _end: end, read, write, last_write: Instant::now() })
    }

    /// Looks the neighbour up and connects to the first of its addresses that answers.
    async fn dial(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut last = io::Error::other("address unknown");
        for addr in (self.resolve)().await? {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok((stream, addr)),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    /// Logs and announces that the connection closed.
    fn dropped_connection(&self, reason: &str) {
        self.stats.set_state(LinkState::Down);
        self.log.note(format_args!("link to {} down: {reason}", self.to_name));
        self.events.emit(|| EventKind::LinkDropped {
            from: self.from,
            to: self.to,
            reason: reason.into(),
        });
    }

    fn drop_reports(&self, batch: &[Flood], reason: DropReason) {
        self.stats.count_dropped(batch.len());
        for flood in batch {
            self.log.note(format_args!(
                "dropped report of {} for {}: {}",
                flood.update.client,
                self.to_name,
                reason.as_str()
            ));
            self.events.emit(|| EventKind::FloodDropped {
                from: self.from,
                to: self.to,
                update: flood.update.clone(),
                reason,
                fault: None,
            });
        }
    }
}

/// Has the neighbour closed this connection? Asks the kernel directly (a non-blocking peek).
fn peer_closed(write: &OwnedWriteHalf) -> bool {
    let socket = socket2::SockRef::from(write.as_ref());
    let mut probe = [MaybeUninit::<u8>::uninit(); 1];
    match socket.peek(&mut probe) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => err.kind() != io::ErrorKind::WouldBlock,
    }
}
