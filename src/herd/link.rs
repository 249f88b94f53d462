//! One directed server-to-neighbour link: a task that owns the outbound TCP connection, writes
//! flooded AT lines to it in batches, notices the neighbour's EOF at once, reconnects with
//! capped backoff, and applies the operator's faults. Nothing sent into a link is lost
//! silently: every report it cannot deliver is counted, logged and announced.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};

use super::events::{DropReason, EventBus, HerdEvent, ServerId};
use super::flood::HandoffToken;
use super::log::ServerLog;

/// A report on its way to one neighbour: the wire line (with `\n`) shared by every link it
/// goes to, and the client it is about.
#[derive(Debug)]
pub struct Flood {
    pub wire: Bytes,
    pub client: Arc<str>,
    /// Not to be written before this instant (the link delay); `None` = at once.
    pub due: Option<Instant>,
    /// Dropped once the report is written or given up on: the client's reply waits for it.
    pub handoff: Option<HandoffToken>,
}

/// Operator faults on one undirected link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkFaults {
    pub cut: bool,
}

/// The state of one directed link, as the dashboard shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// The sending server is not running.
    Idle,
    /// Not connected; retrying with backoff.
    Down,
    Up,
    Cut,
}

/// Counters of one directed link, shared with snapshots; they outlive server restarts.
#[derive(Debug, Default)]
pub struct LinkStats {
    state: AtomicU8,
    sent: AtomicU64,
    dropped: AtomicU64,
}

impl LinkStats {
    pub fn state(&self) -> LinkState {
        match self.state.load(Ordering::Relaxed) {
            1 => LinkState::Down,
            2 => LinkState::Up,
            3 => LinkState::Cut,
            _ => LinkState::Idle,
        }
    }

    pub(super) fn set_state(&self, state: LinkState) {
        let code = match state {
            LinkState::Idle => 0,
            LinkState::Down => 1,
            LinkState::Up => 2,
            LinkState::Cut => 3,
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

/// Most reports written in one batch.
const BATCH: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Everything a link task needs from its herd.
pub(super) struct Link {
    pub from: ServerId,
    pub to: ServerId,
    pub to_name: Arc<str>,
    /// Where the neighbour listens.
    pub resolve: Box<dyn Fn() -> Option<SocketAddr> + Send + Sync>,
    pub inbox: mpsc::Receiver<Flood>,
    /// A report taken from the inbox that is not yet due.
    pub pending: Option<Flood>,
    pub faults: watch::Receiver<LinkFaults>,
    pub stats: Arc<LinkStats>,
    pub log: Arc<ServerLog>,
    pub events: EventBus,
}

struct Connection {
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
        let mut connection: Option<Connection> = None;
        let mut retry_at = Instant::now();
        let mut announced_down = false;
        let mut scratch = [0u8; 512];
        loop {
            if self.faults.borrow_and_update().cut {
                if connection.take().is_some() {
                    self.dropped_connection("link cut by operator");
                }
                self.stats.set_state(LinkState::Cut);
                tokio::select! {
                    changed = self.faults.changed() => if changed.is_err() { return },
                    flood = recv(&mut self.pending, &mut self.inbox) => match flood {
                        Some(flood) => self.drop_reports(&[flood], DropReason::Cut),
                        None => return,
                    },
                }
                if !self.faults.borrow().cut {
                    self.log.note(format_args!("link to {} healed", self.to_name));
                    backoff.reset();
                    retry_at = Instant::now();
                    announced_down = false;
                    self.stats.set_state(LinkState::Down);
                }
                continue;
            }
            if let Some(conn) = &mut connection {
                tokio::select! {
                    biased;
                    changed = self.faults.changed() => if changed.is_err() { return },
                    read = conn.read.read(&mut scratch) => {
                        if matches!(read, Ok(0) | Err(_)) {
                            connection = None;
                            self.dropped_connection("closed by neighbour");
                            announced_down = true;
                            retry_at = Instant::now() + backoff.next();
                        }
                    }
                    flood = recv(&mut self.pending, &mut self.inbox) => {
                        let Some(flood) = flood else { return };
                        let batch = self.batch(flood).await;
                        connection = self.deliver(connection.take(), &batch).await;
                    }
                }
            } else {
                tokio::select! {
                    biased;
                    changed = self.faults.changed() => if changed.is_err() { return },
                    flood = recv(&mut self.pending, &mut self.inbox) => {
                        let Some(flood) = flood else { return };
                        let batch = self.batch(flood).await;
                        connection = self.deliver(None, &batch).await;
                        if connection.is_some() {
                            backoff.reset();
                            announced_down = false;
                        }
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

    /// Waits until `first` is due, then adds whatever else is queued and due, up to [`BATCH`].
    async fn batch(&mut self, first: Flood) -> Vec<Flood> {
        if let Some(due) = first.due {
            sleep_until(due).await;
        }
        let mut batch = vec![first];
        while batch.len() < BATCH {
            let next = match self.pending.take() {
                Some(flood) => flood,
                None => match self.inbox.try_recv() {
                    Ok(flood) => flood,
                    Err(_) => break,
                },
            };
            if next.due.is_some_and(|due| due > Instant::now()) {
                self.pending = Some(next);
                break;
            }
            batch.push(next);
        }
        batch
    }

    /// Writes `batch` on `connection` (reconnecting at once if it is missing or the neighbour
    /// has closed it); returns the connection if it is still usable.
    async fn deliver(&self, connection: Option<Connection>, batch: &[Flood]) -> Option<Connection> {
        if self.faults.borrow().cut {
            self.drop_reports(batch, DropReason::Cut);
            return connection;
        }
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
                self.drop_reports(batch, DropReason::NeighbourDown);
                return None;
            };
            conn
        };
        let written = if let [one] = batch {
            conn.write.write_all(&one.wire).await
        } else {
            let mut joined = Vec::with_capacity(batch.iter().map(|f| f.wire.len()).sum());
            for flood in batch {
                joined.extend_from_slice(&flood.wire);
            }
            conn.write.write_all(&joined).await
        };
        if let Err(err) = written {
            self.dropped_connection(&format!("write failed: {err}"));
            self.drop_reports(batch, DropReason::NeighbourDown);
            return None;
        }
        conn.last_write = Instant::now();
        self.stats.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for flood in batch {
            self.log.line("TO", &self.to_name, &flood.wire);
            self.events.emit(|| HerdEvent::FloodSent {
                from: self.from,
                to: self.to,
                client: flood.client.clone(),
                line: super::log::printable(&flood.wire).into(),
            });
        }
        Some(conn)
    }

    async fn connect(&self) -> io::Result<Connection> {
        let addr = (self.resolve)().ok_or_else(|| io::Error::other("address unknown"))?;
        let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        self.stats.set_state(LinkState::Up);
        self.log.note(format_args!("link to {} up ({addr})", self.to_name));
        self.events.emit(|| HerdEvent::LinkUp { from: self.from, to: self.to });
        Ok(Connection { read, write, last_write: Instant::now() })
    }

    fn dropped_connection(&self, reason: &str) {
        if !self.faults.borrow().cut {
            self.stats.set_state(LinkState::Down);
        }
        self.log.note(format_args!("link to {} down: {reason}", self.to_name));
        self.events.emit(|| HerdEvent::LinkDropped {
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
                flood.client,
                self.to_name,
                reason.as_str()
            ));
            self.events.emit(|| HerdEvent::FloodDropped {
                from: self.from,
                to: self.to,
                client: flood.client.clone(),
                reason,
            });
        }
    }
}

/// The next report: the one held back as not yet due, or the inbox's next. Cancel-safe.
async fn recv(pending: &mut Option<Flood>, inbox: &mut mpsc::Receiver<Flood>) -> Option<Flood> {
    match pending.take() {
        Some(flood) => Some(flood),
        None => inbox.recv().await,
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
