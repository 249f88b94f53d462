//! The herd engine: starts every server of a topology on real TCP listeners, wires their
//! neighbour links, and exposes a [`HerdHandle`] for observers (events, snapshots) and the
//! operator's faults (kill, restart, cut, heal).

mod access;
mod admission;
mod apply;
mod codec;
pub mod control;
mod events;
mod fate;
mod faults;
mod flood;
mod link;
mod log;
mod policy;
mod repair;
mod server;
mod session;
mod table;
mod traffic;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpSocket, lookup_host};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Topology;
use crate::places::Places;
pub use access::{Herdlike, News, ServerStatus};
use admission::{Admission, LinkEnds};
/// The connection framing, public only so that the fuzz tests can drive it (not a stable API).
#[doc(hidden)]
pub use codec::{Frame, LineDecoder};
use control::{ActiveFault, Delay, Directed, Links, Policy};
pub use control::{Applied, Control, ControlError};
pub use events::{
    DropReason, EventBus, EventKind, HerdEvent, LinkFaultsView, ServerId, Subscription, Update,
};
use faults::Board;
pub use link::LinkState;
use link::{Link, LinkStats};
use log::ServerLog;
/// How many messages one report costs under `storm`, public so that tests can check the herd
/// against it (not a stable API).
#[doc(hidden)]
pub use policy::storm_messages;
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
    /// A real delay on every hop between servers (`delay all` at start).
    pub link_delay: Duration,
    /// Seeds every fault's fate and every random choice of a policy.
    pub seed: u64,
    /// How servers flood (`spec` is the course's rule).
    pub policy: Policy,
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
            seed: 0,
            policy: Policy::Spec,
            link_stall: DEFAULT_LINK_STALL,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            descriptor_limit: descriptor_limit(),
            max_future: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HerdError {
    /// The error is part of the message (not a source): it reads as the cause, with advice.
    #[error("{name} cannot listen on {addr}: {}", bind_problem(.error))]
    Bind { name: String, addr: String, error: std::io::Error },
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

/// Why a server could not listen, with what to do about a port that is taken.
fn bind_problem(error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::AddrInUse {
        "address in use; another herd may be running (try --base-port 0 for free ports, or \
         --base-port N; a topology file sets its own ports)"
            .to_owned()
    } else {
        error.to_string()
    }
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
    /// Where each server listens: bound address for local servers, configured for others
    /// whose `dial` is an address (`None` for a name: see [`Shared::dial_addrs`]).
    addrs: Vec<Option<SocketAddr>>,
    local: Vec<bool>,
    logs: Vec<Arc<ServerLog>>,
    running: Vec<Mutex<Option<Running>>>,
    /// Server names by id.
    names: Vec<String>,
    /// The operator's faults.
    board: Board,
    policy: Mutex<Policy>,
    /// Is the policy anything but `spec`? Read on every report, so that the course's rule
    /// costs one atomic load.
    off_spec: AtomicBool,
    anti_entropy: Mutex<repair::AntiEntropy>,
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

    /// Where server `id` is dialled: its `dial` looked up now (so a name that resolves only
    /// later, or moves, is followed), at the port it listens on. A name that does not
    /// resolve yet is an error like a refused connection, for the caller to retry.
    async fn dial_addrs(&self, id: ServerId) -> std::io::Result<Vec<SocketAddr>> {
        let spec = &self.topology.servers[id];
        let port = self.addr(id).map_or(spec.port, |a| a.port());
        if port == 0 {
            return Err(std::io::Error::other("port unknown"));
        }
        let addrs: Vec<SocketAddr> = lookup_host((spec.dial.as_str(), port)).await?.collect();
        if addrs.is_empty() {
            return Err(std::io::Error::other(format!("{} resolves to no address", spec.dial)));
        }
        Ok(addrs)
    }

    fn policy(&self) -> Policy {
        if !self.off_spec.load(Ordering::Relaxed) {
            return Policy::Spec;
        }
        *self.policy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Is anti-entropy on (so that a DIGEST line is a command)?
    fn repairing(&self) -> bool {
        self.anti_entropy.lock().unwrap_or_else(PoisonError::into_inner).every.is_some()
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
                    bind(&spec.host, spec.port).await.map_err(|error| HerdError::Bind {
                        name: spec.name.clone(),
                        addr: format!("{}:{}", spec.host, spec.port),
                        error,
                    })?;
                addrs.push(listener.local_addr().ok());
                listeners.push(Some(listener));
            } else {
                let needed =
                    config.only.is_some_and(|only| topology.servers[only].neighbours.contains(&id));
                if needed && spec.port == 0 {
                    return Err(HerdError::UnknownNeighbourPort { name: spec.name.clone() });
                }
                // Known at once only when `dial` is an address: a name is looked up on each
                // connect attempt (it may not resolve yet).
                let known = spec.dial.parse().ok().map(|ip| SocketAddr::new(ip, spec.port));
                addrs.push(known);
                listeners.push(None);
            }
        }
        let mut stats = HashMap::new();
        for (a, b) in topology.links() {
            stats.insert((a, b), Arc::default());
            stats.insert((b, a), Arc::default());
        }
        let directed = stats.keys().map(|&(from, to)| Directed::new(from, to));
        let board = Board::new(config.seed, directed, n);
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
            names: topology.servers.iter().map(|s| s.name.clone()).collect(),
            board,
            policy: Mutex::new(config.policy),
            off_spec: AtomicBool::new(!config.policy.is_spec()),
            anti_entropy: Mutex::default(),
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
        let handle = HerdHandle { shared };
        if !config.link_delay.is_zero() {
            let delay = Delay { delay: config.link_delay, ..Delay::default() };
            let control = Control::Delay { links: Links::All, delay, lasting: None };
            let _ = handle.apply(control).await;
        }
        Ok(handle)
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
            resolve: Box::new(move || {
                let shared = resolver.clone();
                Box::pin(async move { shared.dial_addrs(to).await })
            }),
            inbox,
            delayed: std::collections::BinaryHeap::new(),
            arrivals: 0,
            freeze: shared.board.freeze(id),
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
        freeze: shared.board.freeze(id),
        repairs: std::sync::atomic::AtomicU32::new(0),
    });
    let addr = listener.local_addr().ok();
    if let Some(addr) = addr {
        log.note(format_args!("{} listening on {addr}", spec.name));
        shared.events.emit(|| EventKind::ServerStarted { server: id, addr });
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

/// An owned copy of the herd's state for display (and, in a trace's header, the state a
/// recording starts from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HerdSnapshot {
    pub servers: Vec<ServerSnapshot>,
    pub links: Vec<LinkSnapshot>,
    /// Every fault in force, oldest first.
    pub faults: Vec<ActiveFault>,
    pub policy: Policy,
    /// Anti-entropy's period, if it is on.
    pub anti_entropy: Option<Duration>,
    pub seed: u64,
    pub paused: bool,
    /// Reports held while paused.
    pub held: usize,
}

impl HerdSnapshot {
    /// A herd of the servers `names` joined by `links` as it is when nothing has happened:
    /// every server up (at no known address), every link up, no client, no fault, `spec`.
    pub fn healthy(names: &[String], links: &[(ServerId, ServerId)]) -> Self {
        let server = |(id, name): (usize, &String)| ServerSnapshot {
            id,
            name: name.clone(),
            addr: None,
            local: true,
            up: true,
            hung: false,
            clients: Vec::new(),
            connections: 0,
            refused: 0,
            rejected_future: 0,
        };
        let link = |&(a, b): &(ServerId, ServerId)| LinkSnapshot {
            a,
            b,
            a_faults: LinkFaultsView::default(),
            b_faults: LinkFaultsView::default(),
            a_to_b: LinkState::Up,
            b_to_a: LinkState::Up,
            sent: 0,
            dropped: 0,
        };
        Self {
            servers: names.iter().enumerate().map(server).collect(),
            links: links.iter().map(link).collect(),
            faults: Vec::new(),
            policy: Policy::Spec,
            anti_entropy: None,
            seed: 0,
            paused: false,
            held: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSnapshot {
    pub id: ServerId,
    pub name: String,
    pub addr: Option<SocketAddr>,
    pub local: bool,
    pub up: bool,
    /// Frozen by `hang`.
    pub hung: bool,
    /// The stored AT line of every client this server knows.
    pub clients: Vec<Arc<str>>,
    /// Client connections it holds now.
    pub connections: usize,
    /// Connections it closed at once (see `--max-connections`) since the herd started.
    pub refused: u64,
    /// IAMAT and AT lines refused since the server started for a time too far ahead.
    pub rejected_future: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkSnapshot {
    pub a: ServerId,
    pub b: ServerId,
    /// The faults on what `a` sends to `b`, and on what `b` sends to `a`.
    pub a_faults: LinkFaultsView,
    pub b_faults: LinkFaultsView,
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
                    hung: shared.board.is_hung(id),
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
                    a_faults: shared.board.view(Directed::new(a, b)),
                    b_faults: shared.board.view(Directed::new(b, a)),
                    a_to_b: ab.state(),
                    b_to_a: ba.state(),
                    sent: ab.sent() + ba.sent(),
                    dropped: ab.dropped() + ba.dropped(),
                }
            })
            .collect();
        HerdSnapshot {
            servers,
            links,
            faults: shared.board.active(),
            policy: shared.policy(),
            anti_entropy: shared.anti_entropy.lock().unwrap_or_else(PoisonError::into_inner).every,
            seed: shared.board.seed(),
            paused: shared.traffic.paused(),
            held: shared.traffic.held(),
        }
    }

    pub fn paused(&self) -> bool {
        self.shared.traffic.paused()
    }

    /// Reports held while paused.
    pub fn held(&self) -> usize {
        self.shared.traffic.held()
    }

    /// The delay every link without one of its own has (`delay all`).
    pub fn link_delay(&self) -> Duration {
        self.shared.board.all_delay().map_or(Duration::ZERO, |d| d.delay)
    }

    pub fn seed(&self) -> u64 {
        self.shared.board.seed()
    }

    pub fn policy(&self) -> Policy {
        self.shared.policy()
    }

    /// Server names by id.
    pub fn names(&self) -> &[String] {
        &self.shared.names
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
    shared.events.emit(|| EventKind::ServerStopped { server: id });
}
