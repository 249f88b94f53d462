//! Herd-wide control of server-to-server traffic: pause / step / resume, which hold every
//! report between servers in one ordered queue (clients are still answered), and the hand-off
//! of each report to its link's queue, due when its link delay says. Holding happens where a
//! server hands a report to a link, so held reports keep the order in which they were really
//! sent.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::events::{DropReason, EventBus, EventKind, ServerId, Update};
use super::link::{Flood, LinkState, LinkStats, RelayQueue};

/// Most reports held while paused; past that they are dropped and counted.
pub const MAX_HELD: usize = 100_000;

/// A report released by a step: on which link it was held, and what is left.
#[derive(Debug, Clone)]
pub struct Stepped {
    pub from: ServerId,
    pub to: ServerId,
    pub update: Update,
    /// Reports still held after it.
    pub still_held: usize,
}

/// A report waiting for the operator to step or resume.
struct Held {
    from: ServerId,
    to: ServerId,
    queue: mpsc::Sender<Flood>,
    /// The link's relay queue, for a report relayed from a neighbour.
    relays: Option<RelayQueue>,
    stats: Arc<LinkStats>,
    flood: Flood,
}

impl Held {
    /// Hands the report to its link: a relayed one at once, a client's waiting for room in
    /// the bounded queue if `wait`, else only if there is room.
    async fn hand(self, wait: bool) -> Result<(), DropReason> {
        let mut flood = self.flood;
        flood.due = due_after(flood.delay);
        if let Some(relays) = &self.relays {
            return relays.push(flood);
        }
        if wait {
            return self.queue.send(flood).await.map_err(|_| DropReason::NeighbourDown);
        }
        self.queue.try_send(flood).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => DropReason::QueueFull,
            mpsc::error::TrySendError::Closed(_) => DropReason::NeighbourDown,
        })
    }
}

/// Hold state shared by every server of a herd.
#[derive(Default)]
pub struct Traffic {
    paused: AtomicBool,
    held: Mutex<VecDeque<Held>>,
}

/// What happened to a report handed to [`Traffic::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    Queued,
    Held,
    Dropped(DropReason),
}

impl Traffic {
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    pub fn held(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `flood` from server `from` to its link to `to`, or holds it while paused. A
    /// client's report (`relays` `None`) waits for room in the link's bounded queue: a busy
    /// link slows its clients down and loses nothing. A relayed report goes to the link's
    /// relay queue at once (see [`RelayQueue`]). A stalled link (its neighbour stopped
    /// reading) takes no wait: the report is dropped at once, and a link that stalls while
    /// clients wait drains its queue, so no one waits on a frozen neighbour for longer than
    /// the stall bound. `queued` is called just before the report enters the link's queue
    /// (so that its announcement comes before the link's).
    pub async fn send(
        &self,
        link: (ServerId, ServerId),
        queue: &mpsc::Sender<Flood>,
        stats: &Arc<LinkStats>,
        flood: Flood,
        relays: Option<&RelayQueue>,
        queued: impl FnOnce(),
    ) -> Handoff {
        if stats.state() == LinkState::Stalled {
            return Handoff::Dropped(DropReason::NeighbourStalled);
        }
        let mut flood = match self.hold(link, queue, stats, flood, relays) {
            Ok(flood) => flood,
            Err(handoff) => return handoff,
        };
        flood.due = due_after(flood.delay);
        if flood.due.is_some() {
            flood.handoff = None;
        }
        queued();
        if let Some(relays) = relays {
            return relays.push(flood).map_or_else(Handoff::Dropped, |()| Handoff::Queued);
        }
        match queue.send(flood).await {
            Ok(()) => Handoff::Queued,
            Err(_) => Handoff::Dropped(DropReason::NeighbourDown),
        }
    }

    /// Holds `flood` if traffic is paused (or drops it if too many are held), or gives it
    /// back to be sent.
    fn hold(
        &self,
        (from, to): (ServerId, ServerId),
        queue: &mpsc::Sender<Flood>,
        stats: &Arc<LinkStats>,
        mut flood: Flood,
        relays: Option<&RelayQueue>,
    ) -> Result<Flood, Handoff> {
        if !self.paused() {
            return Ok(flood);
        }
        let mut held = self.lock();
        if !self.paused() {
            return Ok(flood);
        }
        if held.len() >= MAX_HELD {
            return Err(Handoff::Dropped(DropReason::QueueFull));
        }
        flood.handoff = None;
        let (queue, relays, stats) = (queue.clone(), relays.cloned(), stats.clone());
        held.push_back(Held { from, to, queue, relays, stats, flood });
        Err(Handoff::Held)
    }

    pub fn pause(&self) {
        let _held = self.lock();
        self.paused.store(true, Ordering::Relaxed);
    }

    /// Releases the oldest held report; returns which it was, and how many are still held.
    pub fn step(&self, events: &EventBus) -> Option<Stepped> {
        let (held, still_held) = {
            let mut queue = self.lock();
            let held = queue.pop_front()?;
            (held, queue.len())
        };
        let released =
            Stepped { from: held.from, to: held.to, update: held.flood.update.clone(), still_held };
        let events = events.clone();
        // A relayed report or a client's with room goes at once: nothing here waits.
        tokio::spawn(async move { release(held, &events, false).await });
        Some(released)
    }

    /// Stops holding and releases every held report in order; returns how many. They are
    /// handed to their links on a task of their own (a client's report waiting for room in
    /// its link's queue, a relayed one never), so a long pause loses nothing when it ends.
    pub fn resume(&self, events: &EventBus) -> usize {
        let held = {
            let mut held = self.lock();
            self.paused.store(false, Ordering::Relaxed);
            std::mem::take(&mut *held)
        };
        let count = held.len();
        let events = events.clone();
        tokio::spawn(async move {
            for held in held {
                release(held, &events, true).await;
            }
        });
        count
    }
}

/// Hands one held report back to its link, announced first; a drop is announced after.
async fn release(held: Held, events: &EventBus, wait: bool) {
    let (from, to, update) = (held.from, held.to, held.flood.update.clone());
    let stats = held.stats.clone();
    events.emit(|| EventKind::FloodReleased { from, to, update: update.clone() });
    if let Err(reason) = held.hand(wait).await {
        stats.count_dropped(1);
        events.emit(|| EventKind::FloodDropped { from, to, update, reason, fault: None });
    }
}

/// When a report handed over now may be written, after this link delay.
fn due_after(delay: Duration) -> Option<Instant> {
    (!delay.is_zero()).then(|| Instant::now() + delay)
}
