//! The minimal stand-in for the laboratory's metrics fold: just the API scenarios read
//! ([`Metrics::new`], [`Metrics::apply`], [`Metrics::newest`], [`Metrics::summary`],
//! [`Metrics::reachable`]), computed naively from [`HerdEvent`]s. It is meant to be replaced
//! by the full implementation.

use std::collections::HashMap;

use crate::config::Topology;
use crate::herd::{EventKind, HerdEvent, ServerId, Update};

/// What happened to one update: when each server stored it, and how far it got.
#[derive(Debug, Clone, Default)]
pub struct UpdateMetrics {
    /// Per server, when it stored the update (ns since the herd started).
    pub stored: Vec<Option<u64>>,
    /// Servers reachable from the origin that hold it, and servers reachable from the origin.
    pub coverage: (usize, usize),
    /// From its first store to the moment every reachable server held it.
    pub convergence_ns: Option<u64>,
    /// When its origin stored it (ns since the herd started).
    pub start_ns: u64,
    origin: ServerId,
}

/// The whole run at a glance.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub converged: usize,
    pub unconverged: usize,
    pub convergence_p50_ns: Option<u64>,
    pub convergence_p95_ns: Option<u64>,
    pub convergence_max_ns: Option<u64>,
    /// Server-to-server messages sent per update.
    pub msgs_per_update: Option<f64>,
    /// Reports that did not reach a neighbour.
    pub drops: u64,
}

/// A fold over the herd's events.
#[derive(Debug, Clone)]
pub struct Metrics {
    neighbours: Vec<Vec<ServerId>>,
    up: Vec<bool>,
    /// Directed links `(from, to)` that are cut.
    cut: Vec<(ServerId, ServerId)>,
    updates: HashMap<Update, UpdateMetrics>,
    /// The newest update of each client (the last one to start).
    newest: HashMap<String, Update>,
    sent: u64,
    drops: u64,
}

impl Metrics {
    pub fn new(topology: &Topology) -> Self {
        Self {
            neighbours: topology.servers.iter().map(|s| s.neighbours.clone()).collect(),
            up: vec![true; topology.servers.len()],
            cut: Vec::new(),
            updates: HashMap::new(),
            newest: HashMap::new(),
            sent: 0,
            drops: 0,
        }
    }

    pub fn apply(&mut self, event: &HerdEvent) {
        match &event.kind {
            EventKind::LocationStored { server, update, .. } => {
                let count = self.up.len();
                if !self.updates.contains_key(update) {
                    self.newest.insert(update.client.to_string(), update.clone());
                }
                let entry = self.updates.entry(update.clone()).or_insert_with(|| UpdateMetrics {
                    stored: vec![None; count],
                    start_ns: event.t_ns,
                    origin: *server,
                    ..UpdateMetrics::default()
                });
                if let Some(slot) = entry.stored.get_mut(*server) {
                    slot.get_or_insert(event.t_ns);
                }
                self.refresh(event.t_ns);
            }
            EventKind::FloodSent { .. } => self.sent += 1,
            EventKind::FloodDropped { .. } => self.drops += 1,
            EventKind::ServerStarted { server, .. } => self.set_up(*server, true, event.t_ns),
            EventKind::ServerStopped { server } => self.set_up(*server, false, event.t_ns),
            EventKind::LinkFaults { link, faults } => {
                self.cut.retain(|&l| l != (link.from, link.to));
                if faults.cut {
                    self.cut.push((link.from, link.to));
                }
                self.refresh(event.t_ns);
            }
            _ => {}
        }
    }

    fn set_up(&mut self, server: ServerId, up: bool, t_ns: u64) {
        if let Some(slot) = self.up.get_mut(server) {
            *slot = up;
        }
        self.refresh(t_ns);
    }

    /// Recomputes the coverage of every newest update.
    fn refresh(&mut self, t_ns: u64) {
        let origins: Vec<(Update, ServerId)> = self
            .newest
            .values()
            .filter_map(|u| Some((u.clone(), self.updates.get(u)?.origin)))
            .collect();
        for (update, origin) in origins {
            let reachable = self.reachable(origin);
            let Some(metrics) = self.updates.get_mut(&update) else { continue };
            let total = reachable.iter().filter(|&&r| r).count();
            let held = (0..reachable.len())
                .filter(|&s| reachable[s] && metrics.stored.get(s).copied().flatten().is_some())
                .count();
            metrics.coverage = (held, total);
            if held == total && metrics.convergence_ns.is_none() {
                metrics.convergence_ns = Some(t_ns.saturating_sub(metrics.start_ns));
            }
        }
    }

    /// The newest update of `client`, if any was seen.
    pub fn newest(&self, client: &str) -> Option<&UpdateMetrics> {
        self.updates.get(self.newest.get(client)?)
    }

    pub fn summary(&self) -> Summary {
        let mut times: Vec<u64> =
            self.newest.values().filter_map(|u| self.updates.get(u)?.convergence_ns).collect();
        times.sort_unstable();
        let quantile = |q: f64| {
            let last = times.len().checked_sub(1)?;
            times.get(((last as f64) * q).ceil() as usize).copied()
        };
        let updates = self.updates.len();
        Summary {
            converged: times.len(),
            unconverged: self.newest.len() - times.len(),
            convergence_p50_ns: quantile(0.5),
            convergence_p95_ns: quantile(0.95),
            convergence_max_ns: times.last().copied(),
            msgs_per_update: (updates > 0).then(|| self.sent as f64 / updates as f64),
            drops: self.drops,
        }
    }

    /// The servers `from` can reach now (itself included, if it is up) over running servers
    /// and uncut links.
    pub fn reachable(&self, from: ServerId) -> Vec<bool> {
        let mut seen = vec![false; self.up.len()];
        let mut stack = Vec::new();
        if self.up.get(from).copied().unwrap_or(false) {
            seen[from] = true;
            stack.push(from);
        }
        while let Some(at) = stack.pop() {
            for &to in self.neighbours.get(at).map_or(&[][..], Vec::as_slice) {
                if !seen[to] && self.up[to] && !self.cut.contains(&(at, to)) {
                    seen[to] = true;
                    stack.push(to);
                }
            }
        }
        seen
    }
}
