//! The flood laboratory's folds over the event stream: pure functions of the [`HerdEvent`]s a
//! herd emits (no I/O, no clock but the events' own `t_ns`), so that a live dashboard, a
//! recorded trace read back, and a test all compute the same numbers.
//!
//! * [`metrics`]: per-update cost and reach (messages, duplicates, drops, coverage,
//!   convergence) and the hop-by-hop trace of each update.
//! * [`why`](mod@why): "why didn't this server learn that client?", answered from the trace.
//!
//! [`HerdEvent`]: crate::herd::HerdEvent

pub mod file;
pub mod metrics;
pub mod why;

pub use metrics::{Arrival, Hop, HopState, KEEP, Metrics, Summary, Trace, UpdateMetrics};
pub use why::{Block, Why, why};

/// Hand-built event streams for the folds' tests.
#[cfg(test)]
pub(crate) mod feed {
    use std::sync::Arc;

    use super::Metrics;
    use crate::config::Topology;
    use crate::herd::control::Directed;
    use crate::herd::{DropReason, EventKind, HerdEvent, LinkFaultsView, ServerId, Update};

    /// A topology and a fold, fed events stamped with consecutive numbers.
    pub struct Feed {
        pub metrics: Metrics,
        pub names: Vec<String>,
        seq: u64,
    }

    impl Feed {
        pub fn new(preset: &str) -> Self {
            let topology = Topology::load(preset, 0).unwrap();
            let names = topology.servers.iter().map(|s| s.name.clone()).collect();
            Self { metrics: Metrics::new(&topology), names, seq: 0 }
        }

        pub fn id(&self, name: &str) -> ServerId {
            self.names.iter().position(|n| n == name).unwrap()
        }

        /// Applies `kind` stamped at `t_ns`.
        pub fn at(&mut self, t_ns: u64, kind: EventKind) -> &mut Self {
            let event = HerdEvent { seq: self.seq, t_ns, kind };
            self.seq += 1;
            self.metrics.apply(&event);
            self
        }

        /// A report of `u` written `from -> to` at `t` and stored there at `t + 1`.
        pub fn hop(&mut self, t: u64, (from, to): (&str, &str), u: &Update) -> &mut Self {
            let (from, to) = (self.id(from), self.id(to));
            self.at(t, queued(from, to, u))
                .at(t, sent(from, to, u))
                .at(t + 1, stored(to, u, Some(from)))
        }

        /// A report of `u` written `from -> to` at `t` and suppressed there at `t + 1`.
        pub fn dup(&mut self, t: u64, (from, to): (&str, &str), u: &Update) -> &mut Self {
            let (from, to) = (self.id(from), self.id(to));
            let suppressed =
                EventKind::FloodSuppressed { server: to, update: u.clone(), from: Some(from) };
            self.at(t, queued(from, to, u)).at(t, sent(from, to, u)).at(t + 1, suppressed)
        }

        /// `u` dropped on `from -> to` at `t`, by `fault` if given.
        pub fn drop(
            &mut self,
            t: u64,
            (from, to): (&str, &str),
            u: &Update,
            reason: DropReason,
            fault: Option<&str>,
        ) -> &mut Self {
            let (from, to) = (self.id(from), self.id(to));
            let fault = fault.map(Arc::from);
            self.at(t, EventKind::FloodDropped { from, to, update: u.clone(), reason, fault })
        }

        /// Cuts (or heals) `from -> to`.
        pub fn cut(&mut self, t: u64, (from, to): (&str, &str), cut: bool) -> &mut Self {
            let link = Directed::new(self.id(from), self.id(to));
            let faults = LinkFaultsView { cut, ..LinkFaultsView::default() };
            self.at(t, EventKind::LinkFaults { link, faults })
        }

        /// A client's report of `u` stored at its origin at `t`.
        pub fn start(&mut self, t: u64, origin: &str, u: &Update) -> &mut Self {
            let origin = self.id(origin);
            self.at(t, stored(origin, u, None))
        }

        pub fn kill(&mut self, t: u64, server: &str) -> &mut Self {
            let server = self.id(server);
            self.at(t, EventKind::ServerStopped { server })
        }

        pub fn restart(&mut self, t: u64, server: &str) -> &mut Self {
            let server = self.id(server);
            let addr = "127.0.0.1:1".parse().unwrap();
            self.at(t, EventKind::ServerStarted { server, addr })
        }

        pub fn hang(&mut self, t: u64, server: &str, hung: bool) -> &mut Self {
            let server = self.id(server);
            self.at(t, EventKind::ServerHung { server, hung })
        }
    }

    pub fn update(client: &str, time: &str) -> Update {
        Update { client: client.into(), time: time.into() }
    }

    pub fn stored(server: ServerId, update: &Update, from: Option<ServerId>) -> EventKind {
        let line = Arc::from(format!("AT x +0.0 {} +1+1 {}", update.client, update.time));
        EventKind::LocationStored { server, update: update.clone(), line, from }
    }

    pub fn queued(from: ServerId, to: ServerId, update: &Update) -> EventKind {
        EventKind::FloodQueued { from, to, update: update.clone(), delay_ns: 0, delayed_by: None }
    }

    pub fn sent(from: ServerId, to: ServerId, update: &Update) -> EventKind {
        EventKind::FloodSent { from, to, update: update.clone(), line: Arc::from("AT") }
    }
}
