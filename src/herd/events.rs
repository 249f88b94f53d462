//! What the herd tells its observers: past-tense [`HerdEvent`]s on a broadcast channel. The
//! herd never waits on an observer; a slow one lags and is told how many events it missed.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::broadcast;

/// Index of a server in the herd's topology.
pub type ServerId = usize;

/// Why a flooded report did not reach a neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The neighbour could not be reached (refused, reset, or closed).
    NeighbourDown,
    /// The link is cut by the operator.
    Cut,
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
            Self::QueueFull => "queue full",
            Self::NeighbourStalled => "neighbour stalled",
        }
    }
}

/// A fault the operator applied through the control API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Killed(ServerId),
    Restarted(ServerId),
    Cut(ServerId, ServerId),
    Healed(ServerId, ServerId),
    Paused,
    /// Traffic resumed; this many held reports were released.
    Resumed(usize),
    Stepped,
    Delay(std::time::Duration),
}

/// Something that happened in the herd, in the order it happened.
#[derive(Debug, Clone)]
pub enum HerdEvent {
    ServerStarted {
        server: ServerId,
        addr: SocketAddr,
    },
    ServerStopped {
        server: ServerId,
    },
    /// A line arrived on a connection (client or neighbour), line ending removed.
    LineIn {
        server: ServerId,
        peer: SocketAddr,
        line: Arc<str>,
    },
    /// A reply was written to a connection (its first line, and how many lines follow).
    LineOut {
        server: ServerId,
        peer: SocketAddr,
        line: Arc<str>,
    },
    /// A report newer than what the server had was stored. `from` is the neighbour it came
    /// from, `None` for a client's IAMAT (or an AT from outside the herd).
    LocationStored {
        server: ServerId,
        client: Arc<str>,
        line: Arc<str>,
        from: Option<ServerId>,
    },
    /// A report the server already had (or an older one) arrived and was dropped: the end of a
    /// flood branch.
    FloodSuppressed {
        server: ServerId,
        client: Arc<str>,
        from: Option<ServerId>,
    },
    /// A report was handed to the link to a neighbour (it may wait there for the link delay).
    FloodQueued {
        from: ServerId,
        to: ServerId,
        client: Arc<str>,
    },
    /// A report was held because traffic is paused.
    FloodHeld {
        from: ServerId,
        to: ServerId,
        client: Arc<str>,
    },
    /// A held report was released to its link (by a step or a resume).
    FloodReleased {
        from: ServerId,
        to: ServerId,
        client: Arc<str>,
    },
    /// A report was written to a neighbour's connection (`line` as written, without `\n`).
    FloodSent {
        from: ServerId,
        to: ServerId,
        client: Arc<str>,
        line: Arc<str>,
    },
    /// A report could not be handed to a neighbour.
    FloodDropped {
        from: ServerId,
        to: ServerId,
        client: Arc<str>,
        reason: DropReason,
    },
    /// A server's connection to a neighbour opened.
    LinkUp {
        from: ServerId,
        to: ServerId,
    },
    /// A server's connection to a neighbour closed or could not be opened.
    LinkDropped {
        from: ServerId,
        to: ServerId,
        reason: Arc<str>,
    },
    /// A server's connection to a neighbour stopped taking writes (the neighbour does not
    /// read): reports for it are dropped until it reads again.
    LinkStalled {
        from: ServerId,
        to: ServerId,
    },
    /// A stalled connection took writes again.
    LinkRecovered {
        from: ServerId,
        to: ServerId,
    },
    /// A WHATSAT was answered with this Places status and number of results.
    PlacesAnswered {
        server: ServerId,
        client: Arc<str>,
        status: Arc<str>,
        results: usize,
    },
    FaultApplied {
        fault: Fault,
    },
}

/// The sending side of the event stream, cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<HerdEvent>,
    /// Live subscriptions, kept apart from the channel's own count (which takes a lock) so
    /// that the hot path can ask "is anyone listening?" with one atomic load.
    listeners: Arc<AtomicUsize>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        Self { sender: broadcast::channel(capacity).0, listeners: Arc::default() }
    }

    /// Is anyone listening? Lets hot paths skip building events nobody reads.
    pub fn watched(&self) -> bool {
        self.listeners.load(Ordering::Relaxed) > 0
    }

    /// Publishes an event built only when someone listens.
    pub fn emit(&self, event: impl FnOnce() -> HerdEvent) {
        if self.watched() {
            let _ = self.sender.send(event());
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
