//! `/metrics`: the herd's figures in the Prometheus text exposition (`prometheus-client`'s
//! `OpenMetrics` encoder), servers and links labelled by name.
//!
//! Two sources: counters folded from the event stream as the admin endpoint's hub reads it
//! (lines in and out, floods, stores, duplicates, messages per directed link, drops by
//! reason, link drops, Places answers, convergence times through the lab's metrics fold),
//! counted from when the endpoint started; and gauges and counters the herd keeps itself,
//! read from a snapshot at each scrape (servers up and hung, clients, connections, refused
//! connections, link states, faults, held reports).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock, PoisonError};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::herd::{EventKind, HerdEvent, HerdSnapshot, LinkState, Update};
use crate::lab::metrics::{KEEP, Metrics};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabel {
    server: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LinkLabel {
    from: String,
    to: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabel {
    from: String,
    to: String,
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    from: String,
    to: String,
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlacesLabel {
    server: String,
    status: String,
}

/// Figures about the admin endpoint itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubStats {
    /// Lines held to serve `?since=`.
    pub ring: usize,
    /// Open `/events` responses.
    pub consumers: usize,
    /// Lines `/events` consumers fell too far behind to get.
    pub stream_missed: u64,
}

/// The registry and everything it exposes.
pub struct HerdMetrics {
    names: Vec<String>,
    registry: Registry,
    events: Counter,
    missed: Counter,
    lines_in: Family<ServerLabel, Counter>,
    lines_out: Family<ServerLabel, Counter>,
    floods: Family<ServerLabel, Counter>,
    stored: Family<ServerLabel, Counter>,
    duplicates: Family<ServerLabel, Counter>,
    link_sent: Family<LinkLabel, Counter>,
    link_received: Family<LinkLabel, Counter>,
    drops: Family<DropLabel, Counter>,
    link_down: Family<LinkLabel, Counter>,
    places: Family<PlacesLabel, Counter>,
    controls: Counter,
    convergence: Histogram,
    up: Family<ServerLabel, Gauge>,
    hung: Family<ServerLabel, Gauge>,
    clients: Family<ServerLabel, Gauge>,
    connections: Family<ServerLabel, Gauge>,
    refused: Family<ServerLabel, Counter>,
    rejected_future: Family<ServerLabel, Counter>,
    link_state: Family<StateLabel, Gauge>,
    faults: Gauge,
    held: Gauge,
    paused: Gauge,
    ring: Gauge,
    consumers: Gauge,
    stream_missed: Counter,
    /// The convergence fold and the updates already observed in the histogram.
    fold: Mutex<Fold>,
    /// Each server's counters of the busiest events, and each directed link's, looked up in
    /// their families once (on first use, so a family still appears only with a sample).
    per_server: Vec<ServerCounters>,
    per_link: HashMap<(usize, usize), LinkCounters>,
}

/// A server's counters, each from its family on first use.
#[derive(Default)]
struct ServerCounters {
    lines_in: OnceLock<Counter>,
    lines_out: OnceLock<Counter>,
    floods: OnceLock<Counter>,
    stored: OnceLock<Counter>,
    duplicates: OnceLock<Counter>,
}

/// A directed link's counters, each from its family on first use.
#[derive(Default)]
struct LinkCounters {
    sent: OnceLock<Counter>,
    received: OnceLock<Counter>,
}

/// The counter of `family` for `label`, found once and kept in `slot`.
fn counter<'a, L>(
    slot: &'a OnceLock<Counter>,
    family: &Family<L, Counter>,
    label: impl FnOnce() -> L,
) -> &'a Counter
where
    L: Clone
        + std::hash::Hash
        + Eq
        + prometheus_client::encoding::EncodeLabelSet
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    slot.get_or_init(|| family.get_or_create(&label()).clone())
}

struct Fold {
    metrics: Metrics,
    observed: HashSet<Update>,
}

impl HerdMetrics {
    pub fn new(names: &[String], topology: &crate::config::Topology) -> Self {
        let mut this = Self {
            names: names.to_vec(),
            events: Counter::default(),
            missed: Counter::default(),
            lines_in: Family::default(),
            lines_out: Family::default(),
            floods: Family::default(),
            stored: Family::default(),
            duplicates: Family::default(),
            link_sent: Family::default(),
            link_received: Family::default(),
            drops: Family::default(),
            link_down: Family::default(),
            places: Family::default(),
            controls: Counter::default(),
            convergence: Histogram::new(exponential_buckets(0.000_25, 2.0, 16)),
            up: Family::default(),
            hung: Family::default(),
            clients: Family::default(),
            connections: Family::default(),
            refused: Family::default(),
            rejected_future: Family::default(),
            link_state: Family::default(),
            faults: Gauge::default(),
            held: Gauge::default(),
            paused: Gauge::default(),
            ring: Gauge::default(),
            consumers: Gauge::default(),
            stream_missed: Counter::default(),
            fold: Mutex::new(Fold { metrics: Metrics::new(topology), observed: HashSet::new() }),
            registry: Registry::with_prefix("herd"),
            per_server: names.iter().map(|_| ServerCounters::default()).collect(),
            per_link: topology
                .links()
                .into_iter()
                .flat_map(|(a, b)| {
                    [((a, b), LinkCounters::default()), ((b, a), LinkCounters::default())]
                })
                .collect(),
        };
        let mut registry = Registry::with_prefix("herd");
        this.register_events(&mut registry);
        this.register_state(&mut registry);
        this.registry = registry;
        this
    }

    /// The counters folded from events.
    fn register_events(&self, registry: &mut Registry) {
        let this = self;
        registry.register("events", "Events read from the herd", this.events.clone());
        registry.register(
            "events_missed",
            "Events the admin endpoint fell too far behind to read",
            this.missed.clone(),
        );
        registry.register("lines_in", "Lines read on connections", this.lines_in.clone());
        registry.register("lines_out", "Replies written to connections", this.lines_out.clone());
        registry.register(
            "floods",
            "Floods started: reports stored from a client (or from outside the herd)",
            this.floods.clone(),
        );
        registry.register("stored", "Reports stored (new to the server)", this.stored.clone());
        registry.register(
            "duplicates",
            "Reports received that the server already had (or older)",
            this.duplicates.clone(),
        );
        registry.register(
            "link_messages_sent",
            "AT lines written from one server to a neighbour",
            this.link_sent.clone(),
        );
        registry.register(
            "link_messages_received",
            "AT lines a server received from a neighbour (stored or duplicate)",
            this.link_received.clone(),
        );
        registry.register(
            "drops",
            "Reports not handed to a neighbour, by reason",
            this.drops.clone(),
        );
        registry.register(
            "link_down",
            "Times a connection to a neighbour closed or could not open",
            this.link_down.clone(),
        );
        registry.register("places_answers", "WHATSAT answers by status", this.places.clone());
        registry.register(
            "controls",
            "Operator controls that changed the herd",
            this.controls.clone(),
        );
        registry.register(
            "convergence_seconds",
            "Time from a report's first store to its last, once every reachable server holds it",
            this.convergence.clone(),
        );
    }

    /// What each scrape reads from the herd.
    fn register_state(&self, registry: &mut Registry) {
        let this = self;
        registry.register("server_up", "1 if the server runs", this.up.clone());
        registry.register("server_hung", "1 if the server is frozen (hang)", this.hung.clone());
        registry.register(
            "clients",
            "Clients whose location the server holds",
            this.clients.clone(),
        );
        registry.register("connections", "Client connections held now", this.connections.clone());
        registry.register(
            "connections_refused",
            "Connections closed at once for want of room (see --max-connections)",
            this.refused.clone(),
        );
        registry.register(
            "rejected_future",
            "Lines refused for a time too far ahead (see --max-future)",
            this.rejected_future.clone(),
        );
        registry.register(
            "link_state",
            "1 for the state each directed link is in (idle, down, up, stalled)",
            this.link_state.clone(),
        );
        registry.register("faults", "Operator faults in force", this.faults.clone());
        registry.register("held", "Reports held while traffic is paused", this.held.clone());
        registry.register("paused", "1 while traffic is paused", this.paused.clone());
        registry.register(
            "admin_ring_events",
            "Event lines kept to serve /events?since=",
            this.ring.clone(),
        );
        registry.register("admin_event_streams", "Open /events responses", this.consumers.clone());
        registry.register(
            "admin_event_stream_missed",
            "Event lines /events consumers fell too far behind to get (each told by a gap line)",
            this.stream_missed.clone(),
        );
    }

    fn name(&self, id: usize) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    fn server(&self, id: usize) -> ServerLabel {
        ServerLabel { server: self.name(id) }
    }

    fn link(&self, from: usize, to: usize) -> LinkLabel {
        LinkLabel { from: self.name(from), to: self.name(to) }
    }

    /// Counts `missed` events the hub never read.
    pub fn missed(&self, missed: u64) {
        self.missed.inc_by(missed);
    }

    /// Folds one event in.
    pub fn apply(&self, event: &HerdEvent) {
        self.events.inc();
        match &event.kind {
            EventKind::LineIn { server, .. } => {
                if let Some(slots) = self.per_server.get(*server) {
                    counter(&slots.lines_in, &self.lines_in, || self.server(*server)).inc();
                }
                return;
            }
            EventKind::LineOut { server, .. } => {
                if let Some(slots) = self.per_server.get(*server) {
                    counter(&slots.lines_out, &self.lines_out, || self.server(*server)).inc();
                }
                return;
            }
            EventKind::LocationStored { server, from, update, .. } => {
                if let Some(slots) = self.per_server.get(*server) {
                    counter(&slots.stored, &self.stored, || self.server(*server)).inc();
                    if from.is_none() {
                        counter(&slots.floods, &self.floods, || self.server(*server)).inc();
                    }
                }
                if let Some(from) = from {
                    self.received(*from, *server);
                }
                self.fold(event, Some(update));
                return;
            }
            EventKind::FloodSuppressed { server, from, .. } => {
                if let Some(slots) = self.per_server.get(*server) {
                    counter(&slots.duplicates, &self.duplicates, || self.server(*server)).inc();
                }
                if let Some(from) = from {
                    self.received(*from, *server);
                }
                // Nothing else of a flood's hops matters to convergence.
                return;
            }
            EventKind::FloodSent { from, to, .. } => {
                match self.per_link.get(&(*from, *to)) {
                    Some(slots) => {
                        counter(&slots.sent, &self.link_sent, || self.link(*from, *to)).inc();
                    }
                    None => {
                        self.link_sent.get_or_create(&self.link(*from, *to)).inc();
                    }
                }
                return;
            }
            EventKind::FloodDropped { from, to, reason, .. } => {
                let label = DropLabel {
                    from: self.name(*from),
                    to: self.name(*to),
                    reason: reason.as_str().replace(' ', "_"),
                };
                self.drops.get_or_create(&label).inc();
            }
            EventKind::LinkDropped { from, to, .. } => {
                self.link_down.get_or_create(&self.link(*from, *to)).inc();
            }
            EventKind::PlacesAnswered { server, status, .. } => {
                let label = PlacesLabel { server: self.name(*server), status: status.to_string() };
                self.places.get_or_create(&label).inc();
            }
            EventKind::Controlled { .. } => {
                self.controls.inc();
            }
            _ => {}
        }
        self.fold(event, None);
    }

    /// Counts an AT line `to` received from `from`.
    fn received(&self, from: usize, to: usize) {
        match self.per_link.get(&(from, to)) {
            Some(slots) => {
                counter(&slots.received, &self.link_received, || self.link(from, to)).inc();
            }
            None => {
                self.link_received.get_or_create(&self.link(from, to)).inc();
            }
        }
    }

    /// Feeds the convergence fold (the stores, and what decides which servers a report can
    /// reach: starts, stops, hangs, cuts; a flood's other hops do not count); observes
    /// `update`'s convergence time the first time it is known.
    fn fold(&self, event: &HerdEvent, update: Option<&Update>) {
        let reach = matches!(
            event.kind,
            EventKind::ServerStarted { .. }
                | EventKind::ServerStopped { .. }
                | EventKind::ServerHung { .. }
                | EventKind::LinkFaults { .. }
                | EventKind::LocationStored { .. }
        );
        if !reach {
            return;
        }
        let mut fold = self.fold.lock().unwrap_or_else(PoisonError::into_inner);
        fold.metrics.apply(event);
        let Some(update) = update else { return };
        let converged = fold.metrics.get(update).and_then(|m| m.convergence_ns);
        if let Some(ns) = converged
            && !fold.observed.contains(update)
        {
            if fold.observed.len() >= 2 * KEEP {
                fold.observed.clear();
            }
            fold.observed.insert(update.clone());
            self.convergence.observe(ns as f64 / 1e9);
        }
    }

    /// Reads the herd's own figures from `snapshot` and writes every metric out.
    pub fn encode(
        &self,
        snapshot: &HerdSnapshot,
        hub: &HubStats,
    ) -> Result<String, std::fmt::Error> {
        for server in &snapshot.servers {
            let label = ServerLabel { server: server.name.clone() };
            self.up.get_or_create(&label).set(i64::from(server.up));
            self.hung.get_or_create(&label).set(i64::from(server.hung));
            self.clients.get_or_create(&label).set(server.clients.len() as i64);
            self.connections.get_or_create(&label).set(server.connections as i64);
            raise(&self.refused.get_or_create(&label), server.refused);
            raise(&self.rejected_future.get_or_create(&label), server.rejected_future);
        }
        for link in &snapshot.links {
            for (from, to, state) in [(link.a, link.b, link.a_to_b), (link.b, link.a, link.b_to_a)]
            {
                for (name, value) in [
                    (LinkState::Idle, "idle"),
                    (LinkState::Down, "down"),
                    (LinkState::Up, "up"),
                    (LinkState::Stalled, "stalled"),
                ] {
                    let label = StateLabel {
                        from: self.name(from),
                        to: self.name(to),
                        state: value.to_owned(),
                    };
                    self.link_state.get_or_create(&label).set(i64::from(state == name));
                }
            }
        }
        self.faults.set(snapshot.faults.len() as i64);
        self.held.set(snapshot.held as i64);
        self.paused.set(i64::from(snapshot.paused));
        self.ring.set(hub.ring as i64);
        self.consumers.set(hub.consumers as i64);
        raise(&self.stream_missed, hub.stream_missed);
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Brings a counter up to a total the herd keeps (it never goes down).
fn raise(counter: &Counter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}
