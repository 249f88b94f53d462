//! Pictures of a herd and of a recorded trace, as pure functions from data to text:
//! Graphviz of the topology with its faults ([`dot`], [`dot_from_trace`]), a space-time
//! diagram of a trace as SVG ([`svg()`]), and Chrome's Trace Event JSON for Perfetto
//! ([`chrome_trace`]).
//!
//! The hop matching the last two share: a `sent` event at the sender and the `stored` or
//! `duplicate` it caused at the receiver are paired per `(from, to, update)` in order. The
//! engine announces a send after its write, so the receiver's event can come first in the
//! stream; either order pairs.

pub mod chrome;
pub mod dot;
pub mod svg;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use crate::herd::control::Directed;
use crate::herd::{EventKind, HerdSnapshot, LinkFaultsView, ServerId, Update};
use crate::trace::Trace;

pub use chrome::chrome_trace;
pub use dot::{dot, dot_from_trace};
pub use svg::svg;

/// The fault state of a herd: per directed link (links not listed are clear), and which
/// servers are stopped or hung.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    pub links: BTreeMap<Directed, LinkFaultsView>,
    pub down: BTreeSet<ServerId>,
    pub hung: BTreeSet<ServerId>,
}

impl Faults {
    /// The state a running herd is in.
    pub fn from_snapshot(snapshot: &HerdSnapshot) -> Self {
        let mut faults = Self::default();
        for link in &snapshot.links {
            faults.set_link(Directed::new(link.a, link.b), link.a_faults.clone());
            faults.set_link(Directed::new(link.b, link.a), link.b_faults.clone());
        }
        for server in &snapshot.servers {
            if !server.up {
                faults.down.insert(server.id);
            }
            if server.hung {
                faults.hung.insert(server.id);
            }
        }
        faults
    }

    /// The state at the end of `trace`, from its events (faults set before the recording
    /// started are not in it).
    pub fn at_end(trace: &Trace) -> Self {
        let mut faults = Self::default();
        for event in &trace.events {
            faults.apply(&event.kind);
        }
        faults
    }

    /// Follows one event.
    pub fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::LinkFaults { link, faults } => self.set_link(*link, faults.clone()),
            EventKind::ServerStopped { server } => {
                self.down.insert(*server);
                self.hung.remove(server);
            }
            EventKind::ServerStarted { server, .. } => {
                self.down.remove(server);
            }
            EventKind::ServerHung { server, hung: true } => {
                self.hung.insert(*server);
            }
            EventKind::ServerHung { server, hung: false } => {
                self.hung.remove(server);
            }
            _ => {}
        }
    }

    fn set_link(&mut self, link: Directed, view: LinkFaultsView) {
        if view.is_clear() {
            self.links.remove(&link);
        } else {
            self.links.insert(link, view);
        }
    }

    /// The faults on one directed link.
    pub fn link(&self, link: Directed) -> LinkFaultsView {
        self.links.get(&link).cloned().unwrap_or_default()
    }
}

/// One report crossing one link: indices into the trace's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub from: ServerId,
    pub to: ServerId,
    /// The `sent` event.
    pub sent: usize,
    /// The receiver's `stored` or `duplicate`, if the trace has it.
    pub received: Option<usize>,
}

/// Every `sent` event of `trace` paired with what it caused at its receiver, in the order of
/// the sends.
pub fn hops(trace: &Trace) -> Vec<Hop> {
    #[derive(Default)]
    struct Pending {
        sent: VecDeque<usize>,
        received: VecDeque<usize>,
    }
    let mut hops = Vec::new();
    let mut pending: HashMap<(ServerId, ServerId, &Update), Pending> = HashMap::new();
    for (index, event) in trace.events.iter().enumerate() {
        match &event.kind {
            EventKind::FloodSent { from, to, update, .. } => {
                let queue = pending.entry((*from, *to, update)).or_default();
                let received = queue.received.pop_front();
                hops.push(Hop { from: *from, to: *to, sent: index, received });
                if received.is_none() {
                    queue.sent.push_back(hops.len() - 1);
                }
            }
            EventKind::LocationStored { server, update, from: Some(from), .. }
            | EventKind::FloodSuppressed { server, update, from: Some(from) } => {
                let queue = pending.entry((*from, *server, update)).or_default();
                match queue.sent.pop_front() {
                    Some(hop) => hops[hop].received = Some(index),
                    None => queue.received.push_back(index),
                }
            }
            _ => {}
        }
    }
    hops
}

/// A hue (0..360) for an update, the same in every run.
pub fn hue(update: &Update) -> u32 {
    let mut hasher = siphasher::sip::SipHasher13::new_with_keys(0x6865_7264, 0x6374_6c00);
    update.hash(&mut hasher);
    (hasher.finish() % 360) as u32
}

/// The fault labels of one directed link, for a picture: `cut`, `loss 20%`, `delay 50ms`,
/// `dup 10%`.
pub fn fault_labels(view: &LinkFaultsView) -> Vec<String> {
    use std::fmt::Write as _;

    use crate::herd::control::{fmt_duration, fmt_rate};
    let mut labels = Vec::new();
    if view.cut {
        labels.push("cut".to_owned());
    }
    if let Some(loss) = view.loss {
        let mut label = format!("loss {}", fmt_rate(loss.rate));
        if loss.burst > 1.0 {
            let _ = write!(label, " burst {}", loss.burst);
        }
        labels.push(label);
    }
    if let Some(delay) = view.delay {
        let mut label = format!("delay {}", fmt_duration(delay.delay));
        if !delay.jitter.is_zero() {
            let _ = write!(label, "±{}", fmt_duration(delay.jitter));
        }
        labels.push(label);
    }
    if let Some(dup) = view.dup {
        labels.push(format!("dup {}", fmt_rate(dup)));
    }
    labels
}

/// `text` with `&`, `<`, `>` and `"` escaped for XML.
pub(crate) fn xml_escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out.into()
}

/// A server's name from the trace header (`#id` past its end).
pub(crate) fn name(names: &[String], id: ServerId) -> String {
    crate::herd::control::server_name(id, names)
}

#[cfg(test)]
pub(crate) mod sample {
    //! A small hand-made trace the exporters' tests share: `A - B - C`, a flood of `kiwi`
    //! from A, B->C cut then healed, C killed.
    use std::time::Duration;

    use crate::herd::control::{Control, Delay, Directed, Policy};
    use crate::herd::{DropReason, EventKind, HerdEvent, LinkFaultsView, Update};
    use crate::trace::{FORMAT, Header, Trace};

    pub fn update(client: &str) -> Update {
        Update { client: client.into(), time: "1.5".into() }
    }

    pub fn trace() -> Trace {
        let kiwi = update("kiwi");
        let kinds = vec![
            EventKind::LocationStored {
                server: 0,
                update: kiwi.clone(),
                line: "AT A +0.1 kiwi +1+2 1.5".into(),
                from: None,
            },
            EventKind::FloodSent { from: 0, to: 1, update: kiwi.clone(), line: "AT".into() },
            EventKind::LocationStored {
                server: 1,
                update: kiwi.clone(),
                line: "AT A +0.1 kiwi +1+2 1.5".into(),
                from: Some(0),
            },
            EventKind::Controlled {
                control: Control::Cut { links: vec![Directed::new(1, 2)], lasting: None },
                text: "cut B->C".into(),
            },
            EventKind::LinkFaults {
                link: Directed::new(1, 2),
                faults: LinkFaultsView { cut: true, ..LinkFaultsView::default() },
            },
            EventKind::LinkFaults {
                link: Directed::new(0, 1),
                faults: LinkFaultsView {
                    delay: Some(Delay { delay: Duration::from_millis(50), ..Delay::default() }),
                    ..LinkFaultsView::default()
                },
            },
            EventKind::FloodDropped {
                from: 1,
                to: 2,
                update: kiwi.clone(),
                reason: DropReason::Cut,
                fault: Some("cut B->C".into()),
            },
            // The receiver's event first: the engine announces a send after writing it.
            EventKind::FloodSuppressed { server: 0, update: kiwi.clone(), from: Some(1) },
            EventKind::FloodSent { from: 1, to: 0, update: kiwi, line: "AT".into() },
            EventKind::ServerStopped { server: 2 },
        ];
        let events = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| HerdEvent { seq: i as u64, t_ns: i as u64 * 1_000_000, kind })
            .collect();
        Trace {
            header: Header {
                format: FORMAT,
                herdctl: "0.1.0".into(),
                topology: "line:3".into(),
                servers: vec!["A".into(), "B".into(), "C".into()],
                links: vec![(0, 1), (1, 2)],
                seed: 1,
                policy: Policy::Spec,
                started: "2024-01-01T00:00:00.000Z".into(),
                state: None,
            },
            events,
            gaps: Vec::new(),
            cut: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_pair_sends_with_receipts_in_either_order() {
        let trace = sample::trace();
        let hops = hops(&trace);
        assert_eq!(
            hops,
            [
                Hop { from: 0, to: 1, sent: 1, received: Some(2) },
                Hop { from: 1, to: 0, sent: 8, received: Some(7) },
            ]
        );
    }

    #[test]
    fn fault_state_follows_the_trace() {
        let faults = Faults::at_end(&sample::trace());
        assert!(faults.link(Directed::new(1, 2)).cut);
        assert!(!faults.link(Directed::new(2, 1)).cut);
        assert_eq!(faults.down, BTreeSet::from([2]));
        assert_eq!(fault_labels(&faults.link(Directed::new(0, 1))), ["delay 50ms"]);
    }

    #[test]
    fn hues_are_stable() {
        assert_eq!(hue(&sample::update("kiwi")), hue(&sample::update("kiwi")));
        assert!(hue(&sample::update("kiwi")) < 360);
    }
}
