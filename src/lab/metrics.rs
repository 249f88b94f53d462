//! Live metrics per update, folded from the event stream: what each update cost (AT lines
//! between servers, duplicates, drops by fault), how far it reached (coverage, stranded
//! servers, the hop count of its last store, relative message redundancy) and whether and how
//! fast it converged, plus each hop's outcome, kept for [`why`](mod@super::why).
//!
//! An update starts at its origin's `stored` event with no sender. Events about an update
//! whose start was not seen (the fold began mid-flood, or the update was forgotten) are
//! ignored.
//!
//! **Reachability.** The fold tracks which servers are up (`server_up` / `server_down`), which
//! are hung (`server_hung`) and which directed links are cut (`link_faults` with `cut`). A
//! server is reachable from `X` when a path joins them over links cut in *neither* direction,
//! through servers that are up and not hung (`X` included: nothing is reachable from a server
//! that is down or hung). A one-way cut thus counts as a broken link: a report can't make the
//! round trip a flood needs to be judged. A dropped or stalled connection (`link_down`,
//! `link_stalled`) does not count: links reconnect by themselves on the next report.
//!
//! **Convergence.** An update has converged once every server reachable from its origin holds
//! it; its convergence time is then its last store (at any server) minus its start. It is
//! decided as stores arrive and decided again whenever reachability changes: a healed
//! partition makes the servers it stranded count again, and a restarted server (born empty)
//! does too. While its origin is down or hung an update keeps the verdict it had. A stopped
//! server's knowledge is forgotten: `server_down` clears it from every update. An update
//! overtaken at some server by a newer one of the same client (stored there first) is never
//! stored there, so it does not converge: judge a client by its newest update
//! ([`Metrics::newest`]).
//!
//! **Memory.** At most [`KEEP`] updates are kept (the oldest are dropped and counted as
//! `forgotten`), each with its hops up to a bound proportional to the herd's links.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;

use crate::config::Topology;
use crate::herd::{DropReason, EventKind, HerdEvent, ServerId, Update};
use crate::protocol::ClientTime;

/// How many updates a [`Metrics`] keeps by default.
pub const KEEP: usize = 10_000;

/// What one update cost and how far it got, as of the events folded so far.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateMetrics {
    pub update: Update,
    pub origin: ServerId,
    pub start_ns: u64,
    /// AT lines written between servers for it (`sent` events).
    pub messages: u64,
    /// Copies received from a neighbour and not stored (`duplicate` events with a sender).
    pub duplicates: u64,
    /// Copies dropped, by the label of the fault that dropped them, else by reason text.
    pub drops: BTreeMap<String, u64>,
    /// When each server stored it (`None`: it does not hold it).
    pub stored: Vec<Option<u64>>,
    /// (servers holding it, servers in the herd).
    pub coverage: (usize, usize),
    /// Servers reachable from the origin now that lack it.
    pub stranded: Vec<ServerId>,
    /// The hop count (origin 0) of the latest store among the servers holding it.
    pub last_hop: Option<u32>,
    /// Relative message redundancy `m/(n-1) - 1` (`m` messages, `n` holders); `None` when
    /// `n < 2`.
    pub rmr: Option<f64>,
    /// Last store minus start, once converged; `None` while not.
    pub convergence_ns: Option<u64>,
}

impl UpdateMetrics {
    pub fn converged(&self) -> bool {
        self.convergence_ns.is_some()
    }
}

/// The metrics of every kept update, summed up.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub updates: usize,
    pub converged: usize,
    pub unconverged: usize,
    /// Nearest-rank quantiles over the converged updates.
    pub convergence_p50_ns: Option<u64>,
    pub convergence_p95_ns: Option<u64>,
    pub convergence_max_ns: Option<u64>,
    pub msgs_per_update: Option<f64>,
    pub messages: u64,
    pub duplicates: u64,
    pub drops: u64,
    /// Updates dropped to keep memory bounded (not in any figure above).
    pub forgotten: usize,
}

/// Where one copy of a report stands on one directed link.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HopState {
    /// Handed to the link, not yet written.
    Queued,
    /// Held while traffic is paused.
    Held,
    /// Written to the neighbour, not yet read.
    Sent,
    /// Not handed over or not written; `fault` names the operator's fault if one did it.
    Dropped { reason: DropReason, fault: Option<Arc<str>> },
    /// Arrived and was stored.
    Stored,
    /// Arrived and was not stored (the receiver had it or newer).
    Suppressed,
}

impl HopState {
    /// Not decided yet: queued, held or sent.
    pub fn pending(&self) -> bool {
        matches!(self, Self::Queued | Self::Held | Self::Sent)
    }
}

/// One copy of a report on one directed link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    pub from: ServerId,
    pub to: ServerId,
    pub state: HopState,
    /// When it was first seen, and when its state last changed.
    pub since_ns: u64,
    pub at_ns: u64,
    /// A second copy made by a `dup` fault.
    pub copy: bool,
    /// Its `sent` event was seen (the receiver may store it before the sender announces the
    /// write).
    pub sent: bool,
}

/// How a server came to hold an update: the neighbour it came from (`None` at the origin or
/// from outside the herd), its hop count (origin 0; `None` when the sender's is unknown) and
/// when. Kept after the server forgets it, so that paths through it can still be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Arrival {
    pub from: Option<ServerId>,
    pub hop: Option<u32>,
    pub at_ns: u64,
}

/// The hop-by-hop record of one update.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trace {
    /// Every copy on every link, in the order first seen (up to a bound).
    pub hops: Vec<Hop>,
    /// Copies not recorded because the bound was reached.
    pub hops_forgotten: u64,
    /// The latest arrival at each server.
    pub arrivals: Vec<Option<Arrival>>,
}

impl Trace {
    /// Copies not decided yet.
    pub fn pending(&self) -> impl Iterator<Item = &Hop> {
        self.hops.iter().filter(|hop| hop.state.pending())
    }

    /// The latest copy on `from -> to`, if any.
    pub fn latest(&self, from: ServerId, to: ServerId) -> Option<&Hop> {
        self.hops.iter().rev().find(|hop| hop.from == from && hop.to == to)
    }

    /// The servers `server`'s copy came by, origin first, `server` last (as far back as
    /// arrivals are known).
    pub fn path(&self, server: ServerId) -> Vec<ServerId> {
        let mut path = vec![server];
        let mut at = server;
        while let Some(Some(Arrival { from: Some(from), .. })) = self.arrivals.get(at) {
            if path.contains(from) || path.len() > self.arrivals.len() {
                break;
            }
            path.push(*from);
            at = *from;
        }
        path.reverse();
        path
    }
}

#[derive(Debug, Clone)]
struct Tracked {
    metrics: UpdateMetrics,
    trace: Trace,
}

/// The live fold: feed it every event with [`Metrics::apply`].
#[derive(Debug, Clone)]
pub struct Metrics {
    neighbours: Vec<Vec<ServerId>>,
    up: Vec<bool>,
    hung: Vec<bool>,
    /// Directed links cut now, as (from, to).
    cut: BTreeSet<(ServerId, ServerId)>,
    updates: VecDeque<Tracked>,
    /// The serial number of `updates[0]`; each update started gets the next.
    first: u64,
    index: HashMap<Update, u64>,
    forgotten: usize,
    keep: usize,
    hop_cap: usize,
    /// Reachability from each origin, computed when first needed after a change.
    reach: Vec<Option<Vec<bool>>>,
}

impl Metrics {
    /// Every server up, every link up and uncut; keeps the last [`KEEP`] updates.
    pub fn new(topology: &Topology) -> Self {
        Self::keeping(topology, KEEP)
    }

    /// Like [`Metrics::new`], keeping at most `keep` updates (at least one).
    pub fn keeping(topology: &Topology, keep: usize) -> Self {
        let n = topology.servers.len();
        let neighbours: Vec<Vec<ServerId>> =
            topology.servers.iter().map(|s| s.neighbours.clone()).collect();
        let directed: usize = neighbours.iter().map(Vec::len).sum();
        Self {
            neighbours,
            up: vec![true; n],
            hung: vec![false; n],
            cut: BTreeSet::new(),
            updates: VecDeque::new(),
            first: 0,
            index: HashMap::new(),
            forgotten: 0,
            keep: keep.max(1),
            hop_cap: 4 * directed + 64,
            reach: vec![None; n],
        }
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: &HerdEvent) {
        let t = event.t_ns;
        match &event.kind {
            EventKind::ServerStarted { server, .. } => {
                self.set(*server, |m, s| {
                    m.up[s] = true;
                    m.hung[s] = false;
                });
            }
            EventKind::ServerStopped { server } => self.stopped(*server, t),
            EventKind::ServerHung { server, hung } => self.set(*server, |m, s| m.hung[s] = *hung),
            EventKind::LinkFaults { link, faults } => {
                let key = (link.from, link.to);
                let changed = if faults.cut { self.cut.insert(key) } else { self.cut.remove(&key) };
                if changed {
                    self.reachability_changed();
                }
            }
            EventKind::LocationStored { server, update, from, .. } => {
                self.stored(*server, update, *from, t);
            }
            EventKind::FloodSuppressed { server, update, from: Some(from) } => {
                let cap = self.hop_cap;
                if let Some(tracked) = self.tracked(update) {
                    tracked.metrics.duplicates += 1;
                    arrive(&mut tracked.trace, cap, (*from, *server), HopState::Suppressed, t);
                }
            }
            EventKind::FloodQueued { from, to, update, .. } => {
                self.hop(update, |trace, cap| push(trace, cap, *from, *to, HopState::Queued, t));
            }
            EventKind::FloodDuplicated { from, to, update, .. } => {
                self.hop(update, |trace, cap| {
                    push(trace, cap, *from, *to, HopState::Queued, t);
                    if let Some(hop) = trace.hops.last_mut() {
                        hop.copy = true;
                    }
                });
            }
            EventKind::FloodHeld { from, to, update } => {
                self.hop(update, |trace, cap| push(trace, cap, *from, *to, HopState::Held, t));
            }
            EventKind::FloodReleased { from, to, update } => {
                self.hop(update, |trace, cap| {
                    advance(trace, cap, (*from, *to), &[HopState::Held], HopState::Queued, t);
                });
            }
            EventKind::FloodSent { from, to, update, .. } => {
                if let Some(tracked) = self.tracked(update) {
                    tracked.metrics.messages += 1;
                    tracked.metrics.rmr = rmr(tracked.metrics.messages, tracked.metrics.coverage.0);
                }
                self.hop(update, |trace, cap| sent(trace, cap, (*from, *to), t));
            }
            EventKind::FloodDropped { from, to, update, reason, fault } => {
                if let Some(tracked) = self.tracked(update) {
                    let key = fault.as_deref().unwrap_or(reason.as_str()).to_owned();
                    *tracked.metrics.drops.entry(key).or_default() += 1;
                }
                let state = HopState::Dropped { reason: *reason, fault: fault.clone() };
                let link = (*from, *to);
                self.hop(update, |trace, cap| {
                    if fault.is_some() {
                        // A fault decides before the link takes the copy.
                        push(trace, cap, link.0, link.1, state, t);
                    } else {
                        advance(trace, cap, link, &[HopState::Queued, HopState::Held], state, t);
                    }
                });
            }
            _ => {}
        }
    }

    /// Every kept update, in order of start.
    pub fn updates(&self) -> impl Iterator<Item = &UpdateMetrics> {
        self.updates.iter().map(|tracked| &tracked.metrics)
    }

    /// The kept update of `client` with the greatest client time (the later started on a tie).
    pub fn newest(&self, client: &str) -> Option<&UpdateMetrics> {
        self.newest_tracked(client).map(|(metrics, _)| metrics)
    }

    /// The metrics of one update, if kept.
    pub fn get(&self, update: &Update) -> Option<&UpdateMetrics> {
        self.get_tracked(update).map(|tracked| &tracked.metrics)
    }

    /// The hop-by-hop record of one update, if kept.
    pub fn trace(&self, update: &Update) -> Option<&Trace> {
        self.get_tracked(update).map(|tracked| &tracked.trace)
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary { forgotten: self.forgotten, ..Summary::default() };
        let mut times = Vec::new();
        for metrics in self.updates() {
            summary.updates += 1;
            summary.messages += metrics.messages;
            summary.duplicates += metrics.duplicates;
            summary.drops += metrics.drops.values().sum::<u64>();
            if let Some(ns) = metrics.convergence_ns {
                times.push(ns);
            }
        }
        times.sort_unstable();
        summary.converged = times.len();
        summary.unconverged = summary.updates - summary.converged;
        summary.convergence_p50_ns = nearest_rank(&times, 50);
        summary.convergence_p95_ns = nearest_rank(&times, 95);
        summary.convergence_max_ns = times.last().copied();
        if summary.updates > 0 {
            summary.msgs_per_update = Some(summary.messages as f64 / summary.updates as f64);
        }
        summary
    }

    /// The servers reachable from `from` now (see the module's doc): links cut in neither
    /// direction, servers up and not hung, `from` included. All false when `from` is down,
    /// hung or not in the herd.
    pub fn reachable(&self, from: ServerId) -> Vec<bool> {
        let mut seen = vec![false; self.up.len()];
        if !self.alive(from) {
            return seen;
        }
        seen[from] = true;
        let mut queue = VecDeque::from([from]);
        while let Some(at) = queue.pop_front() {
            for &next in &self.neighbours[at] {
                if !seen[next]
                    && self.alive(next)
                    && !self.cut.contains(&(at, next))
                    && !self.cut.contains(&(next, at))
                {
                    seen[next] = true;
                    queue.push_back(next);
                }
            }
        }
        seen
    }

    /// Is `server` up and not hung?
    pub fn alive(&self, server: ServerId) -> bool {
        self.up.get(server).copied().unwrap_or(false) && !self.is_hung(server)
    }

    pub fn is_up(&self, server: ServerId) -> bool {
        self.up.get(server).copied().unwrap_or(false)
    }

    pub fn is_hung(&self, server: ServerId) -> bool {
        self.hung.get(server).copied().unwrap_or(false)
    }

    /// Is the directed link `from -> to` cut now?
    pub fn is_cut(&self, from: ServerId, to: ServerId) -> bool {
        self.cut.contains(&(from, to))
    }

    /// `server`'s neighbours in the topology.
    pub fn neighbours(&self, server: ServerId) -> &[ServerId] {
        self.neighbours.get(server).map_or(&[], Vec::as_slice)
    }

    /// How many servers the herd has.
    pub fn servers(&self) -> usize {
        self.up.len()
    }

    pub(super) fn newest_tracked(&self, client: &str) -> Option<(&UpdateMetrics, &Trace)> {
        self.updates
            .iter()
            .enumerate()
            .filter(|(_, tracked)| &*tracked.metrics.update.client == client)
            .max_by_key(|(i, tracked)| (ClientTime::parse(&tracked.metrics.update.time), *i))
            .map(|(_, tracked)| (&tracked.metrics, &tracked.trace))
    }

    fn get_tracked(&self, update: &Update) -> Option<&Tracked> {
        let serial = self.index.get(update)?;
        self.updates.get(usize::try_from(serial - self.first).ok()?)
    }

    fn tracked(&mut self, update: &Update) -> Option<&mut Tracked> {
        let serial = self.index.get(update)?;
        self.updates.get_mut(usize::try_from(serial - self.first).ok()?)
    }

    fn hop(&mut self, update: &Update, change: impl FnOnce(&mut Trace, usize)) {
        let cap = self.hop_cap;
        if let Some(tracked) = self.tracked(update) {
            change(&mut tracked.trace, cap);
        }
    }

    /// Changes one server's state, then decides convergence again.
    fn set(&mut self, server: ServerId, change: impl FnOnce(&mut Self, ServerId)) {
        if server < self.up.len() {
            change(self, server);
            self.reachability_changed();
        }
    }

    fn stopped(&mut self, server: ServerId, t: u64) {
        if server >= self.up.len() {
            return;
        }
        self.up[server] = false;
        for tracked in &mut self.updates {
            tracked.metrics.stored[server] = None;
            // A copy written to it and never read is lost with it.
            for hop in &mut tracked.trace.hops {
                if hop.to == server && hop.state == HopState::Sent {
                    hop.state =
                        HopState::Dropped { reason: DropReason::NeighbourDown, fault: None };
                    hop.at_ns = t;
                }
            }
        }
        self.reachability_changed();
    }

    fn stored(&mut self, server: ServerId, update: &Update, from: Option<ServerId>, t: u64) {
        let n = self.up.len();
        if server >= n || from.is_some_and(|from| from >= n) {
            return;
        }
        if !self.index.contains_key(update) {
            if from.is_some() {
                return;
            }
            self.start(server, update, t);
        }
        let cap = self.hop_cap;
        let Some(tracked) = self.tracked(update) else { return };
        let trace = &mut tracked.trace;
        let hop = match from {
            None => Some(0),
            Some(from) => trace.arrivals[from].and_then(|a| a.hop).map(|hop| hop + 1),
        };
        trace.arrivals[server] = Some(Arrival { from, hop, at_ns: t });
        if let Some(from) = from {
            arrive(trace, cap, (from, server), HopState::Stored, t);
        }
        tracked.metrics.stored[server] = Some(t);
        let origin = tracked.metrics.origin;
        self.refresh_one(update, origin);
    }

    fn start(&mut self, origin: ServerId, update: &Update, t: u64) {
        let n = self.up.len();
        if self.updates.len() >= self.keep
            && let Some(old) = self.updates.pop_front()
        {
            self.index.remove(&old.metrics.update);
            self.first += 1;
            self.forgotten += 1;
        }
        let serial = self.first + self.updates.len() as u64;
        self.index.insert(update.clone(), serial);
        self.updates.push_back(Tracked {
            metrics: UpdateMetrics {
                update: update.clone(),
                origin,
                start_ns: t,
                messages: 0,
                duplicates: 0,
                drops: BTreeMap::new(),
                stored: vec![None; n],
                coverage: (0, n),
                stranded: Vec::new(),
                last_hop: None,
                rmr: None,
                convergence_ns: None,
            },
            trace: Trace { arrivals: vec![None; n], ..Trace::default() },
        });
    }

    /// Computes the reachability from `origin` unless already known since the last change.
    fn know_reach(&mut self, origin: ServerId) {
        if matches!(self.reach.get(origin), Some(None)) {
            self.reach[origin] = Some(self.reachable(origin));
        }
    }

    fn refresh_one(&mut self, update: &Update, origin: ServerId) {
        self.know_reach(origin);
        let live = self.alive(origin);
        let Some(serial) = self.index.get(update) else { return };
        let Ok(position) = usize::try_from(serial - self.first) else { return };
        if let (Some(tracked), Some(Some(reach))) =
            (self.updates.get_mut(position), self.reach.get(origin))
        {
            refresh(tracked, reach, live);
        }
    }

    /// Forgets every reachability computed, and decides every update again.
    fn reachability_changed(&mut self) {
        self.reach.iter_mut().for_each(|reach| *reach = None);
        for i in 0..self.updates.len() {
            self.know_reach(self.updates[i].metrics.origin);
        }
        let live: Vec<bool> = (0..self.up.len()).map(|server| self.alive(server)).collect();
        for tracked in &mut self.updates {
            let origin = tracked.metrics.origin;
            if let Some(Some(reach)) = self.reach.get(origin) {
                refresh(tracked, reach, live[origin]);
            }
        }
    }
}

/// Recomputes coverage, stranded, last hop, RMR and convergence of one update.
fn refresh(tracked: &mut Tracked, reach: &[bool], origin_live: bool) {
    let metrics = &mut tracked.metrics;
    let holders = metrics.stored.iter().flatten().count();
    metrics.coverage = (holders, metrics.stored.len());
    metrics.rmr = rmr(metrics.messages, holders);
    let last = metrics
        .stored
        .iter()
        .enumerate()
        .filter_map(|(server, at)| at.map(|at| (at, server)))
        .max();
    metrics.last_hop = last.and_then(|(_, server)| {
        tracked.trace.arrivals.get(server).copied().flatten().and_then(|a| a.hop)
    });
    metrics.stranded = metrics
        .stored
        .iter()
        .zip(reach)
        .enumerate()
        .filter(|(_, (stored, reach))| **reach && stored.is_none())
        .map(|(server, _)| server)
        .collect();
    if origin_live {
        metrics.convergence_ns = match last {
            Some((at, _)) if metrics.stranded.is_empty() => {
                Some(at.saturating_sub(metrics.start_ns))
            }
            _ => None,
        };
    }
}

fn rmr(messages: u64, holders: usize) -> Option<f64> {
    (holders >= 2).then(|| messages as f64 / (holders - 1) as f64 - 1.0)
}

/// The `p`-th percentile of sorted `values` by nearest rank.
fn nearest_rank(values: &[u64], p: usize) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let rank = (p * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

/// Records a new copy on `from -> to`, unless the bound is reached.
fn push(trace: &mut Trace, cap: usize, from: ServerId, to: ServerId, state: HopState, t: u64) {
    if trace.hops.len() >= cap {
        trace.hops_forgotten += 1;
        return;
    }
    let sent = state == HopState::Sent;
    trace.hops.push(Hop { from, to, state, since_ns: t, at_ns: t, copy: false, sent });
}

/// Moves the oldest copy on `link` in one of the states `was` to `state`, or records a new
/// copy in `state` when there is none.
fn advance(
    trace: &mut Trace,
    cap: usize,
    link: (ServerId, ServerId),
    was: &[HopState],
    state: HopState,
    t: u64,
) {
    let oldest =
        trace.hops.iter_mut().find(|hop| (hop.from, hop.to) == link && was.contains(&hop.state));
    match oldest {
        Some(hop) => {
            hop.state = state;
            hop.at_ns = t;
        }
        None => push(trace, cap, link.0, link.1, state, t),
    }
}

/// A copy on `link` was written: the oldest queued one, or the oldest that already arrived
/// without its write seen, or else a new record.
fn sent(trace: &mut Trace, cap: usize, link: (ServerId, ServerId), t: u64) {
    let on_link = |hop: &&mut Hop| (hop.from, hop.to) == link && !hop.sent;
    let mut unsent = trace.hops.iter_mut().filter(on_link);
    let queued = unsent.find(|hop| hop.state == HopState::Queued);
    if let Some(hop) = queued {
        hop.state = HopState::Sent;
        hop.at_ns = t;
        hop.sent = true;
        return;
    }
    let arrived = trace.hops.iter_mut().find(|hop| {
        (hop.from, hop.to) == link
            && !hop.sent
            && matches!(hop.state, HopState::Stored | HopState::Suppressed)
    });
    match arrived {
        Some(hop) => hop.sent = true,
        None => push(trace, cap, link.0, link.1, HopState::Sent, t),
    }
}

/// A copy on `link` arrived: the oldest one written (or queued, its write not announced
/// yet), or else (a repair) a new record.
fn arrive(trace: &mut Trace, cap: usize, link: (ServerId, ServerId), state: HopState, t: u64) {
    let full = trace.hops.len() >= cap;
    let oldest = trace.hops.iter_mut().find(|hop| {
        (hop.from, hop.to) == link && matches!(hop.state, HopState::Sent | HopState::Queued)
    });
    match oldest {
        Some(hop) => {
            hop.state = state;
            hop.at_ns = t;
        }
        None if !full => {
            let (from, to) = link;
            trace.hops.push(Hop {
                from,
                to,
                state,
                since_ns: t,
                at_ns: t,
                copy: false,
                sent: true,
            });
        }
        None => trace.hops_forgotten += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::super::feed::{Feed, queued, sent, stored, update};
    use super::*;

    const MS: u64 = 1_000_000;

    /// One spec flood of `u` from Bailey over cs131, every link delivering: Bona and
    /// Campbell cross, and so do Clark and Jaquez.
    fn cs131_flood(f: &mut Feed, u: &Update) {
        f.start(0, "Bailey", u)
            .hop(MS, ("Bailey", "Bona"), u)
            .hop(2 * MS, ("Bailey", "Campbell"), u)
            .hop(3 * MS, ("Bona", "Clark"), u)
            .dup(4 * MS, ("Bona", "Campbell"), u)
            .dup(5 * MS, ("Campbell", "Bona"), u)
            .hop(6 * MS, ("Campbell", "Jaquez"), u)
            .dup(7 * MS, ("Clark", "Jaquez"), u)
            .dup(8 * MS, ("Jaquez", "Clark"), u);
    }

    #[test]
    fn a_flood_along_a_line_is_counted_hop_by_hop() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "1621464827.5");
        f.start(10, "S1", &u).hop(20, ("S1", "S2"), &u).hop(30, ("S2", "S3"), &u);
        let m = f.metrics.get(&u).unwrap();
        assert_eq!((m.origin, m.start_ns, m.messages, m.duplicates), (0, 10, 2, 0));
        assert_eq!(m.stored, [Some(10), Some(21), Some(31)]);
        assert_eq!(m.coverage, (3, 3));
        assert!(m.stranded.is_empty());
        assert_eq!(m.last_hop, Some(2));
        assert_eq!(m.rmr, Some(0.0), "2 messages for 2 new holders");
        assert_eq!(m.convergence_ns, Some(21));
        assert!(m.drops.is_empty());
        let trace = f.metrics.trace(&u).unwrap();
        assert_eq!(trace.path(2), [0, 1, 2]);
        assert_eq!(trace.pending().count(), 0);
    }

    #[test]
    fn partway_a_flood_is_not_converged_and_strands_the_rest() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u);
        let m = f.metrics.get(&u).unwrap();
        assert_eq!(
            (m.coverage, m.rmr, m.last_hop, m.convergence_ns),
            ((1, 3), None, Some(0), None)
        );
        assert_eq!(m.stranded, [1, 2]);
        f.hop(5, ("S1", "S2"), &u);
        let m = f.metrics.get(&u).unwrap();
        assert_eq!((m.coverage, m.stranded.as_slice(), m.convergence_ns), ((2, 3), &[2][..], None));
        assert_eq!(m.rmr, Some(0.0));
    }

    #[test]
    fn one_update_on_cs131_costs_eight_messages_and_four_duplicates() {
        let mut f = Feed::new("cs131");
        let u = update("kiwi", "1621464827.5");
        cs131_flood(&mut f, &u);
        let m = f.metrics.get(&u).unwrap();
        assert_eq!((m.messages, m.duplicates, m.coverage), (8, 4, (5, 5)));
        assert_eq!(m.rmr, Some(1.0), "8/4 - 1");
        // Jaquez stored last (6 ms + 1), two hops out, by Campbell.
        assert_eq!(m.last_hop, Some(2));
        assert_eq!(m.convergence_ns, Some(6 * MS + 1));
        let trace = f.metrics.trace(&u).unwrap();
        assert_eq!(trace.path(f.id("Jaquez")), [0, 2, 4]);
        assert_eq!(trace.path(f.id("Clark")), [0, 1, 3]);
        let suppressed = trace.hops.iter().filter(|h| h.state == HopState::Suppressed).count();
        assert_eq!((trace.hops.len(), suppressed), (8, 4));
        let summary = f.metrics.summary();
        assert_eq!(
            (summary.updates, summary.converged, summary.messages, summary.duplicates),
            (1, 1, 8, 4)
        );
        assert_eq!(summary.msgs_per_update, Some(8.0));
    }

    #[test]
    fn drops_are_counted_by_fault_label_or_else_by_reason() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u)
            .drop(1, ("S1", "S2"), &u, DropReason::Lost, Some("loss S1->S2 100%"))
            .drop(2, ("S1", "S2"), &u, DropReason::QueueFull, None)
            .drop(3, ("S1", "S2"), &u, DropReason::Lost, Some("loss S1->S2 100%"));
        let m = f.metrics.get(&u).unwrap();
        let drops: Vec<(&str, u64)> = m.drops.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(drops, [("loss S1->S2 100%", 2), ("queue full", 1)]);
        assert_eq!((m.coverage, m.convergence_ns), ((1, 3), None));
        assert_eq!(m.stranded, [1, 2]);
        assert_eq!(f.metrics.summary().drops, 3);
        let trace = f.metrics.trace(&u).unwrap();
        assert!(matches!(
            &trace.latest(0, 1).unwrap().state,
            HopState::Dropped { reason: DropReason::Lost, fault: Some(f) } if &**f == "loss S1->S2 100%"
        ));
    }

    #[test]
    fn a_partition_converges_on_its_side_until_it_heals() {
        let mut f = Feed::new("line:3");
        f.cut(0, ("S1", "S2"), true).cut(0, ("S2", "S1"), true);
        assert_eq!(f.metrics.reachable(0), [true, false, false]);
        assert_eq!(f.metrics.reachable(1), [false, true, true]);
        let u = update("kiwi", "5");
        let partition = Some("partition S1 / S2,S3");
        f.start(100, "S1", &u).drop(101, ("S1", "S2"), &u, DropReason::Cut, partition);
        let m = f.metrics.get(&u).unwrap();
        assert_eq!((m.coverage, m.convergence_ns), ((1, 3), Some(0)));
        assert!(m.stranded.is_empty());
        // Healed, the far side counts again.
        f.cut(200, ("S1", "S2"), false).cut(200, ("S2", "S1"), false);
        let m = f.metrics.get(&u).unwrap();
        assert_eq!((m.stranded.as_slice(), m.convergence_ns), (&[1, 2][..], None));
        f.hop(300, ("S1", "S2"), &u).hop(400, ("S2", "S3"), &u);
        assert_eq!(f.metrics.get(&u).unwrap().convergence_ns, Some(301));
    }

    #[test]
    fn a_one_way_cut_breaks_reachability_both_ways() {
        let mut f = Feed::new("line:3");
        f.cut(0, ("S2", "S3"), true);
        assert_eq!(f.metrics.reachable(0), [true, true, false]);
        assert_eq!(f.metrics.reachable(2), [false, false, true]);
        assert!(f.metrics.is_cut(1, 2) && !f.metrics.is_cut(2, 1));
    }

    #[test]
    fn a_killed_server_forgets_and_a_restarted_one_counts_again() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u).hop(10, ("S1", "S2"), &u).hop(20, ("S2", "S3"), &u);
        f.kill(30, "S3");
        let m = f.metrics.get(&u).unwrap();
        assert_eq!((m.stored[2], m.coverage), (None, (2, 3)));
        assert_eq!(m.convergence_ns, Some(11), "S3 is out of reach: S1 and S2 are all there is");
        assert_eq!(f.metrics.reachable(0), [true, true, false]);
        f.restart(40, "S3");
        let m = f.metrics.get(&u).unwrap();
        assert_eq!((m.stranded.as_slice(), m.convergence_ns), (&[2][..], None));
        // The path it once came by is still told.
        assert_eq!(f.metrics.trace(&u).unwrap().path(2), [0, 1, 2]);
    }

    #[test]
    fn a_hung_server_is_out_of_reach_until_thawed() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "5");
        f.hang(0, "S2", true).start(10, "S1", &u);
        assert_eq!(f.metrics.reachable(0), [true, false, false]);
        assert_eq!(f.metrics.get(&u).unwrap().convergence_ns, Some(0));
        f.hang(20, "S2", false);
        assert_eq!(f.metrics.get(&u).unwrap().stranded, [1, 2]);
        assert_eq!(f.metrics.reachable(0), [true, true, true]);
    }

    #[test]
    fn a_write_announced_after_its_arrival_leaves_nothing_pending() {
        let mut f = Feed::new("line:2");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u)
            .at(1, queued(0, 1, &u))
            .at(2, stored(1, &u, Some(0)))
            .at(3, sent(0, 1, &u));
        let trace = f.metrics.trace(&u).unwrap();
        assert_eq!(trace.hops.len(), 1);
        assert_eq!(trace.pending().count(), 0);
        assert!(trace.hops[0].sent && trace.hops[0].state == HopState::Stored);
        assert_eq!(f.metrics.get(&u).unwrap().messages, 1);
    }

    #[test]
    fn held_and_released_copies_are_followed() {
        let mut f = Feed::new("line:2");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u).at(1, EventKind::FloodHeld { from: 0, to: 1, update: u.clone() });
        assert_eq!(f.metrics.trace(&u).unwrap().hops[0].state, HopState::Held);
        f.at(2, EventKind::FloodReleased { from: 0, to: 1, update: u.clone() });
        assert_eq!(f.metrics.trace(&u).unwrap().hops[0].state, HopState::Queued);
        f.at(3, sent(0, 1, &u)).at(4, stored(1, &u, Some(0)));
        let trace = f.metrics.trace(&u).unwrap();
        assert_eq!((trace.hops.len(), &trace.hops[0].state), (1, &HopState::Stored));
    }

    #[test]
    fn events_of_an_update_whose_start_was_not_seen_are_ignored() {
        let mut f = Feed::new("line:2");
        let u = update("kiwi", "5");
        f.at(1, sent(0, 1, &u)).at(2, stored(1, &u, Some(0)));
        assert_eq!(f.metrics.updates().count(), 0);
        assert_eq!(f.metrics.summary().messages, 0);
    }

    #[test]
    fn the_summary_takes_nearest_rank_quantiles_over_converged_updates() {
        let mut f = Feed::new("line:2");
        for i in 1..=10u64 {
            let u = update(&format!("c{i}"), "5");
            f.start(i * 1000, "S1", &u).hop(i * 1000 + i * 10 - 1, ("S1", "S2"), &u);
        }
        let stuck = update("stuck", "5");
        f.start(50_000, "S1", &stuck);
        let s = f.metrics.summary();
        assert_eq!((s.updates, s.converged, s.unconverged), (11, 10, 1));
        assert_eq!(s.convergence_p50_ns, Some(50), "5th of 10");
        assert_eq!(s.convergence_p95_ns, Some(100), "10th of 10");
        assert_eq!(s.convergence_max_ns, Some(100));
        assert_eq!((s.messages, s.duplicates, s.drops, s.forgotten), (10, 0, 0, 0));
        assert_eq!(s.msgs_per_update, Some(10.0 / 11.0));
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[], 95), None);
        assert!(
            Metrics::new(&Topology::load("line:2", 0).unwrap()).summary().msgs_per_update.is_none()
        );
    }

    #[test]
    fn only_the_newest_updates_are_kept() {
        let topology = Topology::load("line:2", 0).unwrap();
        let mut metrics = Metrics::keeping(&topology, 2);
        for (i, client) in ["a", "b", "c"].into_iter().enumerate() {
            let u = update(client, "5");
            let event = HerdEvent { seq: i as u64, t_ns: i as u64, kind: stored(0, &u, None) };
            metrics.apply(&event);
        }
        let kept: Vec<&str> = metrics.updates().map(|m| &*m.update.client).collect();
        assert_eq!(kept, ["b", "c"]);
        assert_eq!((metrics.summary().updates, metrics.summary().forgotten), (2, 1));
        assert!(metrics.get(&update("a", "5")).is_none());
        let event = HerdEvent { seq: 3, t_ns: 3, kind: stored(1, &update("c", "5"), Some(0)) };
        metrics.apply(&event);
        assert_eq!(metrics.get(&update("c", "5")).unwrap().coverage, (2, 2));
    }

    #[test]
    fn the_newest_update_compares_client_times_as_decimals() {
        let mut f = Feed::new("line:2");
        f.start(0, "S1", &update("kiwi", "10.25")).start(1, "S1", &update("kiwi", "9.5"));
        f.start(2, "S1", &update("pear", "1"));
        assert_eq!(&*f.metrics.newest("kiwi").unwrap().update.time, "10.25");
        assert!(f.metrics.newest("plum").is_none());
    }

    #[test]
    fn metrics_serialize() {
        let mut f = Feed::new("line:2");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u).hop(5, ("S1", "S2"), &u);
        let json = serde_json::to_value(f.metrics.get(&u).unwrap()).unwrap();
        assert_eq!(json["coverage"], serde_json::json!([2, 2]));
        assert_eq!(json["update"]["client"], "kiwi");
        let summary = serde_json::to_value(f.metrics.summary()).unwrap();
        assert_eq!(summary["converged"], 1);
    }
}
