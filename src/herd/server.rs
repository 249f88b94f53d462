//! A running server ([`Node`]): its client table, what it does with each command, and how it
//! hands new reports to its links.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::Shared;
use super::control::{Directed, Policy};
use super::events::{DropReason, EventKind, ServerId, Update};
use super::faults::{Freeze, Verdict};
use super::flood::{self, Handoffs};
use super::link::{Flood, LinkStats, RelayQueue};
use super::log::ServerLog;
use super::policy::{self, Received};
use super::table::ClientTable;
use super::traffic::Handoff;
use crate::places::{self, NearbyQuery};
use crate::protocol::{self, Command, IAmAt, Invalid, WhatsAt, at_line, format_diff, now_nanos};

/// How long a WHATSAT for an unknown client waits for a report that may be arriving from a
/// neighbour at this very moment before it answers `? `.
const IN_FLIGHT_WAIT: Duration = Duration::from_millis(20);

/// Most clients a digest may list (a table larger than this is not repaired).
const MAX_DIGEST: usize = 1 << 20;

/// The other end of a connection, with its address formatted once for the log.
pub(super) struct Peer {
    pub addr: SocketAddr,
    pub text: Box<str>,
}

/// What one connection's lines build up between them: its reports on their way, and a
/// neighbour's digest until its last line.
#[derive(Debug, Default)]
pub(super) struct Conversation {
    pub handoffs: Arc<Handoffs>,
    /// Clients and client times (as written) of a digest being received.
    digest: Vec<(Box<str>, Box<str>)>,
}

/// One neighbour's outbound queue.
pub(super) struct Outbox {
    pub to: ServerId,
    pub queue: mpsc::Sender<Flood>,
    pub relays: RelayQueue,
    pub stats: Arc<LinkStats>,
}

/// A server while it runs. A restart builds a new one, empty.
pub(super) struct Node {
    pub id: ServerId,
    pub name: Arc<str>,
    pub table: ClientTable,
    pub log: Arc<ServerLog>,
    pub outboxes: Vec<Outbox>,
    pub shared: Arc<Shared>,
    /// IAMAT and AT lines refused for a time too far ahead (see `--max-future`).
    pub rejected_future: AtomicU64,
    /// Whether the operator has hung this server.
    pub freeze: Freeze,
    /// Reports sent to repair a neighbour (anti-entropy); each repair is a fresh crossing of
    /// its link, so a lossy link does not lose the same update again every time.
    pub repairs: AtomicU32,
}

impl Node {
    /// Answers one line into `out` (nothing for blank lines and AT reports).
    /// IAMAT reports are handed off under `handoffs`, for the session to wait on before it
    /// writes the reply.
    pub async fn handle_line(
        &self,
        line: &[u8],
        peer: &Peer,
        conversation: &mut Conversation,
        out: &mut Vec<u8>,
    ) {
        if protocol::is_blank(line) {
            return;
        }
        self.log.line("IN", &peer.text, line);
        let events = &self.shared.events;
        events.emit(|| EventKind::LineIn {
            server: self.id,
            peer: peer.addr,
            line: crate::herd::log::printable(line).into(),
        });
        let start = out.len();
        match protocol::parse_line(line) {
            Ok(Some(Command::IAmAt(iamat))) => {
                if self.rejects_future(&iamat.time) {
                    self.invalid(line, Invalid::TooFarAhead, out);
                } else {
                    self.iamat(&iamat, &conversation.handoffs, out).await;
                }
            }
            Ok(Some(Command::WhatsAt(whatsat))) => {
                if let Err(why) = self.whatsat(&whatsat, out).await {
                    self.invalid(line, why, out);
                }
            }
            Ok(Some(Command::At(report))) if self.rejects_future(&report.time) => {
                let why = Invalid::TooFarAhead;
                self.log.note(format_args!("ignored report of {}: {why}", report.client));
            }
            Ok(Some(Command::At(report))) => {
                let sender = report.sender.and_then(|name| self.shared.id(name));
                let canonical = report.canonical_line();
                let update = (report.client, &report.time, report.time_text);
                self.store(update, &canonical, (sender, report.ttl), None).await;
            }
            Ok(Some(Command::Digest(digest))) if self.shared.repairing() => {
                self.digest(&digest, &mut conversation.digest).await;
            }
            // Only while anti-entropy is on is a digest a command.
            Ok(Some(Command::Digest(_))) => self.invalid(line, Invalid::UnknownVerb, out),
            Ok(None) => {}
            Err(why) => self.invalid(line, why, out),
        }
        self.sent(peer, &out[start..]);
    }

    /// Is `time` further ahead of now than `--max-future` allows? Counts it if so.
    fn rejects_future(&self, time: &protocol::ClientTime) -> bool {
        let Some(max) = self.shared.max_future else {
            return false;
        };
        let ahead = protocol::too_far_ahead(time, now_nanos(), max);
        if ahead {
            self.rejected_future.fetch_add(1, Ordering::Relaxed);
        }
        ahead
    }

    /// Answers the start of an over-long line with `? <prefix>`.
    pub fn reject(&self, prefix: &[u8], peer: &Peer, out: &mut Vec<u8>) {
        self.log.line("IN", &peer.text, prefix);
        let start = out.len();
        self.invalid(prefix, Invalid::TooLong, out);
        self.sent(peer, &out[start..]);
    }

    fn sent(&self, peer: &Peer, reply: &[u8]) {
        if reply.is_empty() {
            return;
        }
        self.log.line("OUT", &peer.text, reply);
        self.shared.events.emit(|| EventKind::LineOut {
            server: self.id,
            peer: peer.addr,
            line: summary(reply).into(),
        });
    }

    fn invalid(&self, line: &[u8], why: Invalid, out: &mut Vec<u8>) {
        self.log.note(format_args!("invalid command: {why}"));
        out.extend_from_slice(&protocol::invalid_reply(line));
    }

    /// Flood first, then reply: the report is in the neighbours' queues before the AT line
    /// is written back.
    async fn iamat(&self, iamat: &IAmAt<'_>, handoffs: &Arc<Handoffs>, out: &mut Vec<u8>) {
        let diff = format_diff(now_nanos(), &iamat.time);
        let line = at_line(&self.name, &diff, iamat.client, iamat.coords.as_str(), iamat.time_text);
        let update = (iamat.client, &iamat.time, iamat.time_text);
        self.store(update, &line, (None, None), Some(handoffs)).await;
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }

    async fn whatsat(&self, whatsat: &WhatsAt<'_>, out: &mut Vec<u8>) -> Result<(), Invalid> {
        let stored = self.table.get_or_wait(whatsat.client, IN_FLIGHT_WAIT).await;
        let stored = stored.ok_or(Invalid::UnknownClient)?;
        let Ok(Some(Command::At(report))) = protocol::parse_line(stored.as_bytes()) else {
            return Err(Invalid::UnknownClient);
        };
        let query = NearbyQuery {
            lat: report.coords.lat_text().to_owned(),
            lng: report.coords.lng_text().to_owned(),
            radius_m: whatsat.radius_m.clone(),
        };
        let response = self.shared.places.nearby(&query).await;
        let json = places::render_trimmed(&response, whatsat.bound);
        let status: Arc<str> = places::status_of(&response).into();
        let results = response
            .get("results")
            .and_then(serde_json::Value::as_array)
            .map_or(0, |r| r.len().min(whatsat.bound));
        self.shared.events.emit(|| EventKind::PlacesAnswered {
            server: self.id,
            client: whatsat.client.into(),
            status,
            results,
        });
        out.reserve(stored.len() + json.len() + 3);
        out.extend_from_slice(stored.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(json.as_bytes());
        out.extend_from_slice(b"\n\n");
        Ok(())
    }

    /// Stores a report (client, client time, its text) if it is newer, and floods it on as
    /// the policy says. `from` is the neighbour it came from and the TTL it came with;
    /// `handoffs`, if given, tracks the reports until they are written.
    async fn store(
        &self,
        (client, time, time_text): (&str, &protocol::ClientTime, &str),
        line: &str,
        (sender, ttl): (Option<ServerId>, Option<u32>),
        handoffs: Option<&Arc<Handoffs>>,
    ) {
        let events = &self.shared.events;
        let policy = self.shared.policy();
        let update = || Update { client: client.into(), time: time_text.into() };
        let (text, new) = match self.table.accept(client, time, line) {
            Ok(stored) => (stored, true),
            Err(stale) => {
                // Most reports a flooding server receives end here: nothing is allocated for
                // them unless someone watches.
                self.log.note(format_args!("report of {client}: {}", stale.label()));
                events.emit(|| EventKind::FloodSuppressed {
                    server: self.id,
                    update: update(),
                    from: sender,
                });
                if !matches!(policy, Policy::Storm { .. }) {
                    return;
                }
                (Arc::from(line), false)
            }
        };
        let update = update();
        if new {
            events.emit(|| EventKind::LocationStored {
                server: self.id,
                update: update.clone(),
                line: text.clone(),
                from: sender,
            });
        }
        if policy.is_spec() {
            // The course's rule, without building a list of targets.
            let mut wire: Option<Bytes> = None;
            for outbox in self.outboxes.iter().filter(|o| Some(o.to) != sender) {
                let wire =
                    wire.get_or_insert_with(|| flood::wire_line(&text, &self.name, None).into());
                self.hand_off(outbox, wire, &update, 0, sender.is_some(), handoffs).await;
            }
            return;
        }
        let neighbours: Vec<ServerId> = self.outboxes.iter().map(|o| o.to).collect();
        let received = Received { sender, new, ttl, server: self.id, client, time: time_text };
        let forward = policy::forward(policy, self.shared.board.seed(), &neighbours, &received);
        if forward.targets.is_empty() {
            return;
        }
        let wire: Bytes = flood::wire_line(&text, &self.name, forward.ttl).into();
        let hop = forward.ttl.unwrap_or(0);
        for outbox in self.outboxes.iter().filter(|o| forward.targets.contains(&o.to)) {
            self.hand_off(outbox, &wire, &update, hop, sender.is_some(), handoffs).await;
        }
    }

    /// Takes in one line of a neighbour's digest; at its last line, sends the neighbour the
    /// reports it lacks, and (if asked) a digest back when this server lacks some of its own.
    async fn digest(&self, line: &protocol::Digest<'_>, pending: &mut Vec<(Box<str>, Box<str>)>) {
        if pending.len() + line.entries.len() > MAX_DIGEST {
            self.log.note(format_args!("anti-entropy: digest from {} too long", line.sender));
            pending.clear();
            return;
        }
        pending.extend(line.entries.iter().map(|e| (e.client.into(), e.time_text.into())));
        if !line.is_end() {
            return;
        }
        let received = std::mem::take(pending);
        let Some(from) = self.shared.id(line.sender) else { return };
        let Some(outbox) = self.outboxes.iter().find(|o| o.to == from) else { return };
        let entries: Vec<protocol::DigestEntry<'_>> = received
            .iter()
            .filter_map(|(client, time_text)| {
                let time = protocol::ClientTime::parse(time_text)?;
                Some(protocol::DigestEntry { client, time_text, time })
            })
            .collect();
        let table = self.table.entries();
        let lacking = protocol::lacking(&entries, table.iter().map(|(c, t, _)| (&**c, t)));
        let stored: std::collections::HashMap<&str, &Arc<str>> =
            table.iter().map(|(client, _, line)| (&**client, line)).collect();
        for client in &lacking.sender_lacks {
            let Some(stored) = stored.get(client) else { continue };
            let time_text = stored.rsplit(' ').next().unwrap_or_default();
            let update = Update { client: (*client).into(), time: time_text.into() };
            let wire: Bytes = flood::wire_line(stored, &self.name, None).into();
            self.log.note(format_args!("anti-entropy: {} lacks {client}", line.sender));
            let repair = u32::MAX - self.repairs.fetch_add(1, Ordering::Relaxed);
            self.hand_off(outbox, &wire, &update, repair, true, None).await;
        }
        if line.ask && lacking.receiver_lacks {
            super::repair::offer(self, outbox, false);
        }
    }

    /// Hands one report to the link to `outbox.to`, as the link's faults decide: dropped, or
    /// delivered once or twice after its delay. `relayed`: it came from a neighbour.
    async fn hand_off(
        &self,
        outbox: &Outbox,
        wire: &Bytes,
        update: &Update,
        hop: u32,
        relayed: bool,
        handoffs: Option<&Arc<Handoffs>>,
    ) {
        let (from, to) = (self.id, outbox.to);
        let (copies, delay, delayed_by, dup_by) =
            match self.shared.board.verdict(Directed::new(from, to), update, hop) {
                Verdict::Drop { reason, fault } => {
                    self.dropped(outbox, update, reason, Some(fault));
                    return;
                }
                Verdict::Deliver { copies, delay, delayed_by, dup_by } => {
                    (copies, delay, delayed_by, dup_by)
                }
            };
        let events = &self.shared.events;
        for copy in 0..copies {
            let flood = Flood {
                wire: wire.clone(),
                update: update.clone(),
                delay,
                due: None,
                handoff: if copy == 0 { handoffs.map(Handoffs::token) } else { None },
            };
            let traffic = &self.shared.traffic;
            let relays = relayed.then_some(&outbox.relays);
            let queued = || {
                if copy == 0 {
                    events.emit(|| EventKind::FloodQueued {
                        from,
                        to,
                        update: update.clone(),
                        delay_ns: u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX),
                        delayed_by: delayed_by.clone(),
                    });
                } else {
                    events.emit(|| EventKind::FloodDuplicated {
                        from,
                        to,
                        update: update.clone(),
                        fault: dup_by.clone().unwrap_or_else(|| "dup".into()),
                    });
                }
            };
            let flood_to = (from, to);
            match traffic.send(flood_to, &outbox.queue, &outbox.stats, flood, relays, queued).await
            {
                Handoff::Queued => {}
                Handoff::Held => {
                    events.emit(|| EventKind::FloodHeld { from, to, update: update.clone() });
                }
                Handoff::Dropped(reason) => self.dropped(outbox, update, reason, None),
            }
        }
    }

    /// Counts, logs and announces a report not handed to `outbox`'s link.
    fn dropped(
        &self,
        outbox: &Outbox,
        update: &Update,
        reason: DropReason,
        fault: Option<Arc<str>>,
    ) {
        outbox.stats.count_dropped(1);
        let to = outbox.to;
        let by = fault.as_ref().map_or(String::new(), |fault| format!(" by {fault}"));
        self.log.note(format_args!(
            "dropped report of {} for {}: {}{by}",
            update.client,
            self.shared.name(to),
            reason.as_str()
        ));
        self.shared.events.emit(|| EventKind::FloodDropped {
            from: self.id,
            to,
            update: update.clone(),
            reason,
            fault,
        });
    }
}

/// A reply as one line for observers: its first line, and how many more follow (a WHATSAT
/// reply carries its JSON on the lines after the AT line).
fn summary(reply: &[u8]) -> String {
    let text = crate::herd::log::printable(reply.split(|&b| b == b'\n').next().unwrap_or(reply));
    let more = reply.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count().saturating_sub(1);
    if more == 0 { text.into_owned() } else { format!("{text} (+{more} lines)") }
}
