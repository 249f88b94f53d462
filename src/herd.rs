//! The herd engine: starts every server of a topology on real TCP listeners, wires their
//! neighbour links, and exposes a [`HerdHandle`] for observers (events, snapshots) and the
//! operator's faults (kill, restart, cut, heal).

mod admission;
mod codec;
pub mod control;
mod events;
mod fate;
mod flood;
mod link;
mod log;
mod policy;
mod server;
mod session;
mod table;
mod traffic;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, lookup_host};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Topology;
use crate::places::Places;
use admission::{Admission, LinkEnds};
/// The connection framing, public only so that the fuzz tests can drive it (not a stable API).
#[doc(hidden)]
pub use codec::{Frame, LineDecoder};
pub use control::{Applied, Control, ControlError};
pub use events::{DropReason, EventBus, Fault, HerdEvent, ServerId, Subscription};
pub use link::LinkState;
use link::{Link, LinkFaults, LinkStats};
use log::ServerLog;
use server::{Node, Outbox};

/// How long a link's writes may make no progress before the link counts as stalled: far
/// longer than a busy neighbour ever takes to read (milliseconds), short enough that a frozen
/// one holds its neighbours' clients up once, briefly.
pub const DEFAULT_LINK_STALL: Duration = Duration::from_secs(1);

/// Client connections each server holds at most, unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Raises this process's soft limit on open files to its hard limit (a herd of many servers,
/// or one server with many clients, needs more than the usual 1 024) and returns the limit
/// now in force.
pub fn raise_descriptor_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(_) => descriptor_limit(),
    }
}

/// This process's soft limit on open files.
pub fn descriptor_limit() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
}

/// How to run a herd.
#[derive(Debug, Clone)]
pub struct HerdConfig {
    pub topology: Topology,
    pub places: Places,
    /// One log file per server in this directory (created); `None` logs nowhere.
    pub log_dir: Option<PathBuf>,
    /// Each log file is rotated when it would grow past this many bytes.
    pub log_max_size: u64,
    /// Run only this server here (its neighbours are other processes); `None` runs them all.
    pub only: Option<ServerId>,
    /// Capacity of each link's queue of reports.
    pub link_queue: usize,
    /// Events buffered for each observer before it lags.
    pub event_buffer: usize,
    /// A real delay on every hop between servers.
    pub link_delay: Duration,
    /// A link whose writes make no progress for this long is stalled: its neighbour has
    /// stopped reading, and reports for it are dropped until it reads again.
    pub link_stall: Duration,
    /// Client connections each server holds at most.
    pub max_connections: usize,
    /// The process's file-descriptor limit (its soft `RLIMIT_NOFILE`).
    pub descriptor_limit: u64,
    /// Refuse reports whose client time is further than this ahead of the server clock.
    pub max_future: Option<Duration>,
}

impl HerdConfig {
    pub fn new(topology: Topology) -> Self {
        Self {
            topology,
            places: Places::Offline,
            log_dir: None,
            log_max_size: log::DEFAULT_MAX_SIZE,
            only: None,
            link_queue: 4096,
            event_buffer: 1 << 16,
            link_delay: Duration::ZERO,
            link_stall: DEFAULT_LINK_STALL,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            descriptor_limit: descriptor_limit(),
            max_future: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HerdError {
    #[error("cannot listen for {name} on {addr}: {source}")]
    Bind { name: String, addr: String, source: std::io::Error },
    #[error("cannot create log directory {}: {source}", path.display())]
    LogDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the log of {name}: {source}")]
    LogFile { name: String, source: std::io::Error },
    #[error("neighbour {name} has port 0; a server run alone needs fixed neighbour ports")]
    UnknownNeighbourPort { name: String },
    #[error(
        "this herd needs {needed} file descriptors for its listeners, logs and links (and room \
         for clients), but the limit is {limit}: raise it (ulimit -n) or run fewer servers here"
    )]
    Descriptors { needed: u64, limit: u64 },
}

/// The herd's state shared by its tasks.
struct Shared {
    topology: Topology,
    ids: HashMap<String, ServerId>,
    places: Places,
    events: EventBus,
    link_queue: usize,
    link_stall: Duration,
    max_future: Option<Duration>,
    /// Where each server listens: bound address for local servers, configured for others.
    addrs: Vec<Option<SocketAddr>>,
    local: Vec<bool>,
    logs: Vec<Arc<ServerLog>>,
    running: Vec<Mutex<Option<Running>>>,
    /// Faults per undirected link `(a, b)`, `a < b`.
    faults: HashMap<(ServerId, ServerId), watch::Sender<LinkFaults>>,
    /// Counters per directed link `(from, to)`.
    stats: HashMap<(ServerId, ServerId), Arc<LinkStats>>,
    traffic: traffic::Traffic,
    admission: Arc<Admission>,
    link_ends: Arc<LinkEnds>,
    root: CancellationToken,
}

struct Running {
    node: Arc<Node>,
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Shared {
    fn id(&self, name: &str) -> Option<ServerId> {
        self.ids.get(name).copied()
    }

    fn name(&self, id: ServerId) -> &str {
        &self.topology.servers[id].name
    }

    fn addr(&self, id: ServerId) -> Option<SocketAddr> {
        self.addrs[id]
    }

    fn node(&self, id: ServerId) -> Option<Arc<Node>> {
        let running = self.running[id].lock().unwrap_or_else(PoisonError::into_inner);
        running.as_ref().map(|r| r.node.clone())
    }
}

/// Starts herds.
pub struct Herd;

impl Herd {
    /// Binds every (or the one chosen) server, then starts links and accept loops. Fails
    /// before serving anything if a port cannot be bound.
    pub async fn start(config: HerdConfig) -> Result<HerdHandle, HerdError> {
        let topology = config.topology;
        let n = topology.servers.len();
        let local: Vec<bool> = (0..n).map(|id| config.only.is_none_or(|only| only == id)).collect();
        let admission =
            admit_within(&topology, &local, config.descriptor_limit, config.max_connections)?;
        if let Some(dir) = &config.log_dir {
            std::fs::create_dir_all(dir)
                .map_err(|source| HerdError::LogDir { path: dir.clone(), source })?;
        }
        let mut logs = Vec::with_capacity(n);
        for (id, spec) in topology.servers.iter().enumerate() {
            let dir = config.log_dir.as_deref().filter(|_| local[id]);
            let log = ServerLog::open(dir, &spec.name, config.log_max_size)
                .map_err(|source| HerdError::LogFile { name: spec.name.clone(), source })?;
            log.started();
            logs.push(Arc::new(log));
        }
        let mut listeners = Vec::with_capacity(n);
        let mut addrs = Vec::with_capacity(n);
        for (id, spec) in topology.servers.iter().enumerate() {
            if local[id] {
                let listener =
                    bind(&spec.host, spec.port).await.map_err(|source| HerdError::Bind {
                        name: spec.name.clone(),
                        addr: format!("{}:{}", spec.host, spec.port),
                        source,
                    })?;
                addrs.push(listener.local_addr().ok());
                listeners.push(Some(listener));
            } else {
                let needed =
                    config.only.is_some_and(|only| topology.servers[only].neighbours.contains(&id));
                if needed && spec.port == 0 {
                    return Err(HerdError::UnknownNeighbourPort { name: spec.name.clone() });
                }
                let resolved = lookup_host((spec.host.as_str(), spec.port))
                    .await
                    .ok()
                    .and_then(|mut a| a.next());
                addrs.push(resolved);
                listeners.push(None);
            }
        }
        let mut faults = HashMap::new();
        let mut stats = HashMap::new();
        for (a, b) in topology.links() {
            faults.insert((a, b), watch::channel(LinkFaults::default()).0);
            stats.insert((a, b), Arc::default());
            stats.insert((b, a), Arc::default());
        }
        let ids = topology.servers.iter().enumerate().map(|(id, s)| (s.name.clone(), id)).collect();
        let shared = Arc::new(Shared {
            ids,
            places: config.places,
            events: EventBus::new(config.event_buffer),
            link_queue: config.link_queue.max(1),
            link_stall: config.link_stall,
            max_future: config.max_future,
            addrs,
            local,
            logs,
            running: (0..n).map(|_| Mutex::new(None)).collect(),
            faults,
            stats,
            traffic: traffic::Traffic::default(),
            admission: Arc::new(admission),
            link_ends: Arc::default(),
            root: CancellationToken::new(),
            topology,
        });
        for (id, listener) in listeners.into_iter().enumerate() {
            if let Some(listener) = listener {
                launch(&shared, id, listener);
            }
        }
        shared.traffic.set_delay(config.link_delay);
        Ok(HerdHandle { shared })
    }
}

/// Client connections a herd needs room for at the least, beyond its own descriptors.
const MIN_CLIENT_ROOM: u64 = 64;

/// The herd's descriptor budget: fails if the topology needs more descriptors than the limit
/// allows (rather than hanging or failing server by server later).
fn admit_within(
    topology: &Topology,
    local: &[bool],
    limit: u64,
    max_connections: usize,
) -> Result<Admission, HerdError> {
    let servers = topology.servers.iter().enumerate().filter(|&(id, _)| local[id]);
    let needed = admission::herd_descriptors(servers.map(|(_, spec)| {
        let local_neighbours = spec.neighbours.iter().filter(|&&to| local[to]).count();
        (spec.neighbours.len(), local_neighbours)
    }));
    if needed + MIN_CLIENT_ROOM > limit {
        return Err(HerdError::Descriptors { needed: needed + MIN_CLIENT_ROOM, limit });
    }
    let local_servers = local.iter().filter(|&&l| l).count();
    Ok(Admission::new(limit, needed, max_connections, local.len(), local_servers))
}

async fn bind(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let addr = lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other("host resolves to no address"))?;
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Starts a fresh, empty server `id` on `listener`: its links and its accept loop.
fn launch(shared: &Arc<Shared>, id: ServerId, listener: TcpListener) {
    let token = shared.root.child_token();
    let tracker = TaskTracker::new();
    let spec = &shared.topology.servers[id];
    let log = shared.logs[id].clone();
    let mut outboxes = Vec::with_capacity(spec.neighbours.len());
    for &to in &spec.neighbours {
        let (inbox, queue, relays) = link::Inbox::new(shared.link_queue);
        let stats = shared.stats[&(id, to)].clone();
        stats.set_state(LinkState::Down);
        let resolver = shared.clone();
        let link = Link {
            from: id,
            to,
            to_name: shared.name(to).into(),
            resolve: Box::new(move || resolver.addr(to)),
            inbox,
            pending: None,
            faults: shared.faults[&(id.min(to), id.max(to))].subscribe(),
            stats: stats.clone(),
            log: log.clone(),
            events: shared.events.clone(),
            stall_after: shared.link_stall,
            ends: shared.link_ends.clone(),
        };
        tracker.spawn(token.clone().run_until_cancelled_owned(link.run()));
        outboxes.push(Outbox { to, queue, relays, stats });
    }
    let node = Arc::new(Node {
        id,
        name: spec.name.as_str().into(),
        table: table::ClientTable::default(),
        log: log.clone(),
        outboxes,
        shared: shared.clone(),
        rejected_future: AtomicU64::new(0),
    });
    let addr = listener.local_addr().ok();
    if let Some(addr) = addr {
        log.note(format_args!("{} listening on {addr}", spec.name));
        shared.events.emit(|| HerdEvent::ServerStarted { server: id, addr });
    }
    tracker.spawn(session::accept_loop(node.clone(), listener, token.clone(), tracker.clone()));
    *shared.running[id].lock().unwrap_or_else(PoisonError::into_inner) =
        Some(Running { node, token, tracker });
}

/// A cheap handle on a running herd.
#[derive(Clone)]
pub struct HerdHandle {
    shared: Arc<Shared>,
}

/// An owned copy of the herd's state for display.
#[derive(Debug, Clone)]
pub struct HerdSnapshot {
    pub servers: Vec<ServerSnapshot>,
    pub links: Vec<LinkSnapshot>,
}

#[derive(Debug, Clone)]
pub struct ServerSnapshot {
    pub id: ServerId,
    pub name: String,
    pub addr: Option<SocketAddr>,
    pub local: bool,
    pub up: bool,
    /// The stored AT line of every client this server knows.
    pub clients: Vec<Arc<str>>,
    /// Client connections it holds now.
    pub connections: usize,
    /// Connections it closed at once (see `--max-connections`) since the herd started.
    pub refused: u64,
    /// IAMAT and AT lines refused since the server started for a time too far ahead.
    pub rejected_future: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct LinkSnapshot {
    pub a: ServerId,
    pub b: ServerId,
    pub cut: bool,
    pub a_to_b: LinkState,
    pub b_to_a: LinkState,
    pub sent: u64,
    pub dropped: u64,
}

impl HerdHandle {
    pub fn topology(&self) -> &Topology {
        &self.shared.topology
    }

    pub fn events(&self) -> Subscription {
        self.shared.events.subscribe()
    }

    pub fn id(&self, name: &str) -> Option<ServerId> {
        self.shared.id(name)
    }

    /// Where server `id` listens (for a local server, the address it bound).
    pub fn addr(&self, id: ServerId) -> Option<SocketAddr> {
        self.shared.addr(id)
    }

    pub fn addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.id(name).and_then(|id| self.addr(id))
    }

    /// Client connections this process may hold in all, after the herd's own descriptors.
    pub fn client_budget(&self) -> usize {
        self.shared.admission.budget()
    }

    pub fn is_up(&self, id: ServerId) -> bool {
        self.shared.node(id).is_some()
    }

    pub fn snapshot(&self) -> HerdSnapshot {
        let shared = &self.shared;
        let servers = shared
            .topology
            .servers
            .iter()
            .enumerate()
            .map(|(id, spec)| {
                let node = shared.node(id);
                ServerSnapshot {
                    id,
                    name: spec.name.clone(),
                    addr: shared.addr(id),
                    local: shared.local[id],
                    up: node.is_some(),
                    clients: node.as_ref().map(|n| n.table.lines()).unwrap_or_default(),
                    connections: shared.admission.held(id),
                    refused: shared.admission.refused(id),
                    rejected_future: node.map_or(0, |n| n.rejected_future.load(Ordering::Relaxed)),
                }
            })
            .collect();
        let links = shared
            .topology
            .links()
            .into_iter()
            .map(|(a, b)| {
                let (ab, ba) = (&shared.stats[&(a, b)], &shared.stats[&(b, a)]);
                LinkSnapshot {
                    a,
                    b,
                    cut: shared.faults[&(a, b)].borrow().cut,
                    a_to_b: ab.state(),
                    b_to_a: ba.state(),
                    sent: ab.sent() + ba.sent(),
                    dropped: ab.dropped() + ba.dropped(),
                }
            })
            .collect();
        HerdSnapshot { servers, links }
    }

    fn lookup(&self, name: &str) -> Result<ServerId, ControlError> {
        self.id(name).ok_or_else(|| ControlError::NoSuchServer(name.to_owned()))
    }

    /// Stops server `name`: its port closes, its connections and links end, its table is gone.
    pub async fn kill(&self, name: &str) -> Result<(), ControlError> {
        let id = self.lookup(name)?;
        let running = self.shared.running[id].lock().unwrap_or_else(PoisonError::into_inner).take();
        let running = running.ok_or_else(|| ControlError::NotRunning(name.to_owned()))?;
        stop(&self.shared, id, running).await;
        self.shared.logs[id].note("killed by operator");
        self.shared.events.emit(|| HerdEvent::FaultApplied { fault: Fault::Killed(id) });
        Ok(())
    }

    /// Starts server `name` again, empty, on the address it had.
    pub async fn restart(&self, name: &str) -> Result<(), ControlError> {
        let id = self.lookup(name)?;
        if !self.shared.local[id] {
            return Err(ControlError::NotLocal(name.to_owned()));
        }
        if self.is_up(id) {
            return Err(ControlError::AlreadyRunning(name.to_owned()));
        }
        let spec = &self.shared.topology.servers[id];
        let port = self.addr(id).map_or(spec.port, |a| a.port());
        let listener = bind(&spec.host, port)
            .await
            .map_err(|err| ControlError::Rebind(name.to_owned(), err.to_string()))?;
        launch(&self.shared, id, listener);
        self.shared.logs[id].note("restarted by operator");
        self.shared.events.emit(|| HerdEvent::FaultApplied { fault: Fault::Restarted(id) });
        Ok(())
    }

    fn link_key(&self, a: &str, b: &str) -> Result<(ServerId, ServerId), ControlError> {
        let (ia, ib) = (self.lookup(a)?, self.lookup(b)?);
        let key = (ia.min(ib), ia.max(ib));
        if self.shared.faults.contains_key(&key) {
            Ok(key)
        } else {
            Err(ControlError::NoSuchLink(a.to_owned(), b.to_owned()))
        }
    }

    /// Cuts the link between `a` and `b` both ways: its connections close and reports sent
    /// over it are dropped (and counted) until it is healed.
    pub fn cut(&self, a: &str, b: &str) -> Result<(), ControlError> {
        let key = self.link_key(a, b)?;
        self.set_cut(key, true);
        Ok(())
    }

    pub fn heal(&self, a: &str, b: &str) -> Result<(), ControlError> {
        let key = self.link_key(a, b)?;
        self.set_cut(key, false);
        Ok(())
    }

    /// Heals every cut link.
    pub fn heal_all(&self) {
        let cut: Vec<_> =
            self.shared.faults.iter().filter(|(_, f)| f.borrow().cut).map(|(k, _)| *k).collect();
        for key in cut {
            self.set_cut(key, false);
        }
    }

    fn set_cut(&self, (a, b): (ServerId, ServerId), cut: bool) {
        let changed = self.shared.faults[&(a, b)]
            .send_if_modified(|f| std::mem::replace(&mut f.cut, cut) != cut);
        if !changed {
            return;
        }
        let verb = if cut { "cut" } else { "healed" };
        for (x, y) in [(a, b), (b, a)] {
            if cut {
                self.shared.stats[&(x, y)].set_state(LinkState::Cut);
            }
            self.shared.logs[x]
                .note(format_args!("link to {} {verb} by operator", self.shared.name(y)));
        }
        let fault = if cut { Fault::Cut(a, b) } else { Fault::Healed(a, b) };
        self.shared.events.emit(|| HerdEvent::FaultApplied { fault });
    }

    /// Holds every report between servers until [`step`](Self::step) or
    /// [`resume`](Self::resume); clients are still answered.
    pub fn pause(&self) {
        if !self.shared.traffic.paused() {
            self.shared.traffic.pause();
            self.shared.events.emit(|| HerdEvent::FaultApplied { fault: Fault::Paused });
        }
    }

    /// Releases the oldest held report; `false` if none was held.
    pub fn step(&self) -> bool {
        let stepped = self.shared.traffic.step(&self.shared.events);
        if stepped {
            self.shared.events.emit(|| HerdEvent::FaultApplied { fault: Fault::Stepped });
        }
        stepped
    }

    /// Stops holding and releases every held report in order; returns how many.
    pub fn resume(&self) -> usize {
        if !self.shared.traffic.paused() {
            return 0;
        }
        let released = self.shared.traffic.resume(&self.shared.events);
        self.shared.events.emit(|| HerdEvent::FaultApplied { fault: Fault::Resumed(released) });
        released
    }

    pub fn paused(&self) -> bool {
        self.shared.traffic.paused()
    }

    /// Reports held while paused.
    pub fn held(&self) -> usize {
        self.shared.traffic.held()
    }

    /// Sets the real delay of every hop between servers (0 for none).
    pub fn set_link_delay(&self, delay: Duration) {
        self.shared.traffic.set_delay(delay);
        self.shared.events.emit(|| HerdEvent::FaultApplied { fault: Fault::Delay(delay) });
    }

    pub fn link_delay(&self) -> Duration {
        self.shared.traffic.delay()
    }

    /// Stops every server and waits for their tasks; flushes the logs.
    pub async fn shutdown(&self) {
        for id in 0..self.shared.running.len() {
            let running =
                self.shared.running[id].lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(running) = running {
                stop(&self.shared, id, running).await;
            }
        }
        self.shared.root.cancel();
        for log in &self.shared.logs {
            log.stopped();
            log.flush();
        }
    }

    /// Flushes every log and opens its file afresh (the logrotate convention for SIGHUP:
    /// after `mv Bailey.log Bailey.log.old` new lines go to a new `Bailey.log`).
    pub fn reopen_logs(&self) -> Result<(), HerdError> {
        let mut first_error = None;
        for (log, spec) in self.shared.logs.iter().zip(&self.shared.topology.servers) {
            if let Err(source) = log.reopen() {
                first_error.get_or_insert(HerdError::LogFile { name: spec.name.clone(), source });
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

async fn stop(shared: &Shared, id: ServerId, running: Running) {
    running.token.cancel();
    running.tracker.close();
    running.tracker.wait().await;
    for &to in &shared.topology.servers[id].neighbours {
        shared.stats[&(id, to)].set_state(LinkState::Idle);
    }
    shared.events.emit(|| HerdEvent::ServerStopped { server: id });
}
