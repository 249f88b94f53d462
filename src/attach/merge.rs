//! One stream from the event streams of several processes (pure). Each process's events stay
//! in their order; across processes a hop is ordered by causality: a report that arrived
//! from a server another process runs (`stored` or `duplicate` with `from`) waits until that
//! process's `sent` of it has been passed on, and every later event of its stream waits with
//! it. Wall clocks play no part. An arrival whose `sent` does not come within the patience
//! (that stream is down or far behind) goes on anyway, counted as unordered.
//!
//! Nothing a process says about a server it does not run is trusted: such events are left
//! out and counted as foreign. A control every process carried out (a pause, a partition)
//! is passed on once.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::herd::{EventKind, ServerId, Update};

/// How long an arrival waits for its `sent` from another stream.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// How long a `sent` no arrival claimed is remembered, and an announcement is recognised as
/// the same from another process.
const MEMORY: Duration = Duration::from_secs(10);

type Hop = (ServerId, ServerId, Update);

/// The merge of one attached console's streams.
#[derive(Debug)]
pub struct Merge {
    /// The stream (endpoint) of each server's process.
    owner: Vec<usize>,
    /// Events waiting, per stream, with when they came.
    queues: Vec<VecDeque<(Instant, EventKind)>>,
    /// `sent`s passed on and not yet claimed by their arrival, with when.
    sent: HashMap<Hop, u32>,
    sent_order: VecDeque<(Instant, Hop)>,
    /// Announcements (controls, expiries) passed on lately: (when, stream, text).
    announced: VecDeque<(Instant, usize, String)>,
    /// Arrivals passed on without their `sent`.
    pub unordered: u64,
    /// Events about servers their stream's process does not run, left out.
    pub foreign: u64,
}

impl Merge {
    pub fn new(owner: Vec<usize>, streams: usize) -> Self {
        Self {
            owner,
            queues: vec![VecDeque::new(); streams],
            sent: HashMap::new(),
            sent_order: VecDeque::new(),
            announced: VecDeque::new(),
            unordered: 0,
            foreign: 0,
        }
    }

    /// Takes in one event of `stream`; returns the events that can be passed on now, in order.
    pub fn push(&mut self, stream: usize, kind: EventKind, now: Instant) -> Vec<EventKind> {
        match actor(&kind) {
            Some(server) if self.owner.get(server) != Some(&stream) => {
                // A fault every process set (a partition) comes from each: the sender's is the
                // one that holds.
                if !matches!(kind, EventKind::LinkFaults { .. }) {
                    self.foreign += 1;
                }
                return Vec::new();
            }
            _ => {}
        }
        if let Some(text) = announcement(&kind) {
            self.announced.retain(|(at, _, _)| now.saturating_duration_since(*at) < MEMORY);
            if self.announced.iter().any(|(_, s, t)| *s != stream && *t == text) {
                return Vec::new();
            }
            self.announced.push_back((now, stream, text));
        }
        if let Some(queue) = self.queues.get_mut(stream) {
            queue.push_back((now, kind));
        }
        self.drain(now, false)
    }

    /// Passes on the arrivals that waited past [`PATIENCE`] (and what waited behind them).
    pub fn expire(&mut self, now: Instant) -> Vec<EventKind> {
        self.drain(now, true)
    }

    /// A stream ended (its process is gone or unreachable): what it still held goes on, and
    /// `sent`s remembered for it stay until claimed or forgotten.
    pub fn flush(&mut self, stream: usize, now: Instant) -> Vec<EventKind> {
        let mut out = Vec::new();
        if let Some(queue) = self.queues.get_mut(stream) {
            for (_, kind) in queue.drain(..) {
                if let Some(hop) = arrival(&kind)
                    && !take(&mut self.sent, &hop)
                {
                    self.unordered += 1;
                }
                out.push(kind);
            }
        }
        for kind in &out {
            self.remember(kind, now);
        }
        out.extend(self.drain(now, false));
        out
    }

    /// When the oldest waiting arrival runs out of patience, if one waits.
    pub fn deadline(&self) -> Option<Instant> {
        self.queues.iter().filter_map(|q| q.front()).map(|(at, _)| *at + PATIENCE).min()
    }

    /// Passes on every event not waiting for a `sent`, stream by stream, until nothing moves;
    /// with `expired`, an arrival past its patience goes too.
    fn drain(&mut self, now: Instant, expired: bool) -> Vec<EventKind> {
        let mut out = Vec::new();
        loop {
            let mut moved = false;
            for stream in 0..self.queues.len() {
                while let Some((at, kind)) = self.queues[stream].front() {
                    let waits = self.waits(stream, kind);
                    if waits && !(expired && now.saturating_duration_since(*at) >= PATIENCE) {
                        break;
                    }
                    let Some((_, kind)) = self.queues[stream].pop_front() else { break };
                    if let Some(hop) = arrival(&kind) {
                        if waits {
                            self.unordered += 1;
                        } else if self.crosses(stream, &kind) {
                            take(&mut self.sent, &hop);
                        }
                    }
                    self.remember(&kind, now);
                    out.push(kind);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        out
    }

    /// Does `kind` (the head of `stream`) wait for a `sent` not passed on yet?
    fn waits(&self, stream: usize, kind: &EventKind) -> bool {
        self.crosses(stream, kind)
            && arrival(kind).is_some_and(|hop| self.sent.get(&hop).is_none_or(|&n| n == 0))
    }

    /// Is `kind` an arrival from a server of another stream?
    fn crosses(&self, stream: usize, kind: &EventKind) -> bool {
        arrival(kind).is_some_and(|(from, _, _)| self.owner.get(from) != Some(&stream))
    }

    /// Notes a `sent` passed on, for its arrival; forgets the ones unclaimed too long.
    fn remember(&mut self, kind: &EventKind, now: Instant) {
        while let Some((at, hop)) = self.sent_order.front() {
            if now.saturating_duration_since(*at) < MEMORY {
                break;
            }
            take(&mut self.sent, hop);
            self.sent_order.pop_front();
        }
        if let EventKind::FloodSent { from, to, update, .. } = kind {
            let hop = (*from, *to, update.clone());
            *self.sent.entry(hop.clone()).or_default() += 1;
            self.sent_order.push_back((now, hop));
        }
    }
}

/// Takes one `hop` from `sent`; was there one?
fn take(sent: &mut HashMap<Hop, u32>, hop: &Hop) -> bool {
    match sent.get_mut(hop) {
        Some(n) if *n > 1 => {
            *n -= 1;
            true
        }
        Some(_) => {
            sent.remove(hop);
            true
        }
        None => false,
    }
}

/// The server whose process reports `kind`, if one does (a control or an expiry may come
/// from any).
pub fn actor(kind: &EventKind) -> Option<ServerId> {
    match kind {
        EventKind::ServerStarted { server, .. }
        | EventKind::ServerStopped { server }
        | EventKind::ServerHung { server, .. }
        | EventKind::LineIn { server, .. }
        | EventKind::LineOut { server, .. }
        | EventKind::LocationStored { server, .. }
        | EventKind::FloodSuppressed { server, .. }
        | EventKind::PlacesAnswered { server, .. } => Some(*server),
        EventKind::FloodQueued { from, .. }
        | EventKind::FloodDuplicated { from, .. }
        | EventKind::FloodHeld { from, .. }
        | EventKind::FloodReleased { from, .. }
        | EventKind::FloodSent { from, .. }
        | EventKind::FloodDropped { from, .. }
        | EventKind::LinkUp { from, .. }
        | EventKind::LinkDropped { from, .. }
        | EventKind::LinkStalled { from, .. }
        | EventKind::LinkRecovered { from, .. } => Some(*from),
        EventKind::LinkFaults { link, .. } => Some(link.from),
        EventKind::Controlled { .. } | EventKind::FaultExpired { .. } => None,
    }
}

/// The hop a report arrived over (`stored` or `duplicate` from a neighbour).
fn arrival(kind: &EventKind) -> Option<Hop> {
    match kind {
        EventKind::LocationStored { server, update, from: Some(from), .. }
        | EventKind::FloodSuppressed { server, update, from: Some(from) } => {
            Some((*from, *server, update.clone()))
        }
        _ => None,
    }
}

/// What a control's or an expiry's announcement says (the same from every process).
fn announcement(kind: &EventKind) -> Option<String> {
    match kind {
        EventKind::Controlled { text, .. } => Some(format!("control {text}")),
        EventKind::FaultExpired { label } => Some(format!("expired {label}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::herd::Control;

    fn update() -> Update {
        Update { client: Arc::from("c"), time: Arc::from("1.0") }
    }

    fn sent(from: ServerId, to: ServerId) -> EventKind {
        EventKind::FloodSent { from, to, update: update(), line: Arc::from("AT") }
    }

    fn stored(server: ServerId, from: ServerId) -> EventKind {
        EventKind::LocationStored {
            server,
            update: update(),
            line: Arc::from("AT"),
            from: Some(from),
        }
    }

    fn started(server: ServerId) -> EventKind {
        EventKind::ServerStarted { server, addr: "127.0.0.1:1".parse().unwrap() }
    }

    #[test]
    fn an_arrival_waits_for_its_sent_and_holds_its_stream_behind_it() {
        // Server 0 in stream 0, server 1 in stream 1.
        let mut merge = Merge::new(vec![0, 1], 2);
        let t = Instant::now();
        assert!(merge.push(1, stored(1, 0), t).is_empty(), "no sent yet");
        assert!(merge.push(1, started(1), t).is_empty(), "waits behind the arrival");
        assert_eq!(merge.deadline(), Some(t + PATIENCE));
        let out = merge.push(0, sent(0, 1), t);
        assert_eq!(out, vec![sent(0, 1), stored(1, 0), started(1)]);
        assert_eq!(merge.unordered, 0);
        assert_eq!(merge.deadline(), None);
    }

    #[test]
    fn a_sent_seen_first_lets_its_arrival_through_at_once() {
        let mut merge = Merge::new(vec![0, 1], 2);
        let t = Instant::now();
        assert_eq!(merge.push(0, sent(0, 1), t), vec![sent(0, 1)]);
        assert_eq!(merge.push(1, stored(1, 0), t), vec![stored(1, 0)]);
        // The sent was claimed: a second arrival of the same hop waits.
        assert!(merge.push(1, stored(1, 0), t).is_empty());
    }

    #[test]
    fn an_arrival_goes_on_after_its_patience_counted_unordered() {
        let mut merge = Merge::new(vec![0, 1], 2);
        let t = Instant::now();
        merge.push(1, stored(1, 0), t);
        assert!(merge.expire(t + PATIENCE / 2).is_empty());
        assert_eq!(merge.expire(t + PATIENCE), vec![stored(1, 0)]);
        assert_eq!(merge.unordered, 1);
    }

    #[test]
    fn hops_within_one_process_need_no_waiting_and_foreign_events_are_left_out() {
        let mut merge = Merge::new(vec![0, 0, 1], 2);
        let t = Instant::now();
        assert_eq!(merge.push(0, stored(1, 0), t), vec![stored(1, 0)]);
        assert!(merge.push(1, started(0), t).is_empty(), "stream 1 does not run server 0");
        assert_eq!(merge.foreign, 1);
    }

    #[test]
    fn a_control_every_process_announces_is_passed_on_once() {
        let mut merge = Merge::new(vec![0, 1], 2);
        let t = Instant::now();
        let paused = || EventKind::Controlled { control: Control::Pause, text: "paused".into() };
        assert_eq!(merge.push(0, paused(), t).len(), 1);
        assert!(merge.push(1, paused(), t).is_empty());
        assert_eq!(merge.push(0, paused(), t).len(), 1, "its own stream may say it again");
    }
}
