//! What the herd tells its observers: past-tense events on a broadcast channel, each stamped
//! with a sequence number (no gaps: one more for every event sent), the time since the herd
//! started, and, where it concerns a report, the update it belongs to. Events serialize both
//! ways (serde), so a stream can be written out and read back. The herd never waits on an
//! observer; a slow one lags and is told how many events it missed.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::control::{Control, Directed};

/// Index of a server in the herd's topology.
pub type ServerId = usize;

/// One update of one client: its id and its client time as the origin wrote it. Two floods of
/// the same client are two updates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Update {
    pub client: Arc<str>,
    pub time: Arc<str>,
}

impl std::fmt::Display for Update {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.client, self.time)
    }
}

/// Why a flooded report did not reach a neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// The neighbour could not be reached (refused, reset, or closed).
    NeighbourDown,
    /// The directed link is cut by the operator (a cut, partition or isolation).
    Cut,
    /// Lost to the link's `loss` fault.
    Lost,
    /// The link's bounded queue was full.
    QueueFull,
    /// The neighbour stopped reading: nothing written to it went through for the stall
    /// bound (see `HerdConfig::link_stall`).
    NeighbourStalled,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NeighbourDown => "neighbour down",
            Self::Cut => "link cut",
            Self::Lost => "lost",
            Self::QueueFull => "queue full",
            Self::NeighbourStalled => "neighbour stalled",
        }
    }
}

/// Something that happened in the herd: what ([`EventKind`]), its place in the stream, and
/// when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HerdEvent {
    /// 0 for the first event sent to observers, one more for each event after it (events
    /// are built only while someone watches).
    pub seq: u64,
    /// Nanoseconds since the herd started.
    pub t_ns: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened, in the order it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    #[serde(rename = "server_up")]
    ServerStarted { server: ServerId, addr: SocketAddr },
    #[serde(rename = "server_down")]
    ServerStopped { server: ServerId },
    /// A server froze (`hang`) or thawed.
    #[serde(rename = "server_hung")]
    ServerHung { server: ServerId, hung: bool },
    /// A line arrived on a connection (client or neighbour), line ending removed.
    #[serde(rename = "line_in")]
    LineIn { server: ServerId, peer: SocketAddr, line: Arc<str> },
    /// A reply was written to a connection (its first line, and how many lines follow).
    #[serde(rename = "line_out")]
    LineOut { server: ServerId, peer: SocketAddr, line: Arc<str> },
    /// A report newer than what the server had was stored. `from` is the neighbour it came
    /// from, `None` for a client's IAMAT (or an AT from outside the herd).
    #[serde(rename = "stored")]
    LocationStored { server: ServerId, update: Update, line: Arc<str>, from: Option<ServerId> },
    /// A report the server already had (or an older one) arrived and was not stored: the end
    /// of a flood branch (under the off-spec `storm`, it may still be forwarded).
    #[serde(rename = "duplicate")]
    FloodSuppressed { server: ServerId, update: Update, from: Option<ServerId> },
    /// A report was handed to the link to a neighbour, to be written after `delay_ns` (0: at
    /// once); `delayed_by` names the delay fault.
    #[serde(rename = "queued")]
    FloodQueued {
        from: ServerId,
        to: ServerId,
        update: Update,
        delay_ns: u64,
        delayed_by: Option<Arc<str>>,
    },
    /// A second copy of a report was handed to the link (`dup`), named by `fault`.
    #[serde(rename = "duplicated")]
    FloodDuplicated { from: ServerId, to: ServerId, update: Update, fault: Arc<str> },
    /// A report was held because traffic is paused.
    #[serde(rename = "held")]
    FloodHeld { from: ServerId, to: ServerId, update: Update },
    /// A held report was released to its link (by a step or a resume).
    #[serde(rename = "released")]
    FloodReleased { from: ServerId, to: ServerId, update: Update },
    /// A report was written to a neighbour's connection (`line` as written, without `\n`).
    #[serde(rename = "sent")]
    FloodSent { from: ServerId, to: ServerId, update: Update, line: Arc<str> },
    /// A report could not be handed to a neighbour; `fault` names the operator's fault that
    /// dropped it (`loss Bona->Clark 20%`), if one did.
    #[serde(rename = "dropped")]
    FloodDropped {
        from: ServerId,
        to: ServerId,
        update: Update,
        reason: DropReason,
        fault: Option<Arc<str>>,
    },
    /// A server's connection to a neighbour opened.
    #[serde(rename = "link_up")]
    LinkUp { from: ServerId, to: ServerId },
    /// A server's connection to a neighbour closed or could not be opened.
    #[serde(rename = "link_down")]
    LinkDropped { from: ServerId, to: ServerId, reason: Arc<str> },
    /// A server's connection to a neighbour stopped taking writes (the neighbour does not
    /// read): reports for it are dropped until it reads again.
    #[serde(rename = "link_stalled")]
    LinkStalled { from: ServerId, to: ServerId },
    /// A stalled connection took writes again.
    #[serde(rename = "link_recovered")]
    LinkRecovered { from: ServerId, to: ServerId },
    /// The faults on one directed link changed (to these).
    #[serde(rename = "link_faults")]
    LinkFaults { link: Directed, faults: LinkFaultsView },
    /// A WHATSAT was answered with this Places status and number of results.
    #[serde(rename = "places")]
    PlacesAnswered { server: ServerId, client: Arc<str>, status: Arc<str>, results: usize },
    /// An operator control changed the herd (`text` says how). A fault given `for` that heals
    /// itself is announced by [`EventKind::FaultExpired`].
    #[serde(rename = "control")]
    Controlled { control: Control, text: String },
    /// A fault given `for` healed itself.
    #[serde(rename = "fault_expired")]
    FaultExpired { label: Arc<str> },
}

/// The faults in force on one directed link (none by default), for observers and for the
/// fate of each report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkFaultsView {
    pub cut: bool,
    pub delay: Option<super::control::Delay>,
    pub loss: Option<super::control::Loss>,
    /// The fraction of lines delivered twice.
    pub dup: Option<f64>,
}

impl LinkFaultsView {
    pub fn is_clear(&self) -> bool {
        !self.cut && self.delay.is_none() && self.loss.is_none() && self.dup.is_none()
    }
}

/// The sending side of the event stream, cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<HerdEvent>,
    /// Live subscriptions, kept apart from the channel's own count (which takes a lock) so
    /// that the hot path can ask "is anyone listening?" with one atomic load.
    listeners: Arc<AtomicUsize>,
    /// The next sequence number; held while an event is stamped and sent, so numbers and
    /// times rise in the order observers receive them.
    next: Arc<Mutex<u64>>,
    started: Instant,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            listeners: Arc::default(),
            next: Arc::default(),
            started: Instant::now(),
        }
    }

    /// Is anyone listening? Lets hot paths skip building events nobody reads.
    pub fn watched(&self) -> bool {
        self.listeners.load(Ordering::Relaxed) > 0
    }

    /// Nanoseconds since the herd started.
    pub fn t_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Publishes an event built only when someone listens.
    pub fn emit(&self, event: impl FnOnce() -> EventKind) {
        if self.watched() {
            let kind = event();
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let event = HerdEvent { seq: *next, t_ns: self.t_ns(), kind };
            if self.sender.send(event).is_ok() {
                *next += 1;
            }
        }
    }

    pub fn subscribe(&self) -> Subscription {
        self.listeners.fetch_add(1, Ordering::Relaxed);
        Subscription { receiver: self.sender.subscribe(), listeners: self.listeners.clone() }
    }
}

/// A receiver of [`HerdEvent`]s (a `broadcast::Receiver`); dropping it stops the herd from
/// building events for it.
#[derive(Debug)]
pub struct Subscription {
    receiver: broadcast::Receiver<HerdEvent>,
    listeners: Arc<AtomicUsize>,
}

impl Deref for Subscription {
    type Target = broadcast::Receiver<HerdEvent>;

    fn deref(&self) -> &Self::Target {
        &self.receiver
    }
}

impl DerefMut for Subscription {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.receiver
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.listeners.fetch_sub(1, Ordering::Relaxed);
    }
}
