//! A running server ([`Node`]): its client table, what it does with each command, and how it
//! hands new reports to its links.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::Shared;
use super::events::{HerdEvent, ServerId};
use super::flood::{self, Handoffs};
use super::link::{Flood, LinkStats, RelayQueue};
use super::log::ServerLog;
use super::table::ClientTable;
use super::traffic::Handoff;
use crate::places::{self, NearbyQuery};
use crate::protocol::{self, Command, IAmAt, Invalid, WhatsAt, at_line, format_diff, now_nanos};

/// How long a WHATSAT for an unknown client waits for a report that may be arriving from a
/// neighbour at this very moment before it answers `? `.
const IN_FLIGHT_WAIT: Duration = Duration::from_millis(20);

/// The other end of a connection, with its address formatted once for the log.
pub(super) struct Peer {
    pub addr: SocketAddr,
    pub text: Box<str>,
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
}

impl Node {
    /// Answers one line into `out` (nothing for blank lines and AT reports).
    /// IAMAT reports are handed off under `handoffs`, for the session to wait on before it
    /// writes the reply.
    pub async fn handle_line(
        &self,
        line: &[u8],
        peer: &Peer,
        handoffs: &Arc<Handoffs>,
        out: &mut Vec<u8>,
    ) {
        if protocol::is_blank(line) {
            return;
        }
        self.log.line("IN", &peer.text, line);
        let events = &self.shared.events;
        events.emit(|| HerdEvent::LineIn {
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
                    self.iamat(&iamat, handoffs, out).await;
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
                self.store(report.client, &report.time, &canonical, sender, None).await;
            }
            // Anti-entropy is not wired in yet; a digest, like an AT line, gets no reply.
            Ok(Some(Command::Digest(_)) | None) => {}
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
        self.shared.events.emit(|| HerdEvent::LineOut {
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
        self.store(iamat.client, &iamat.time, &line, None, Some(handoffs)).await;
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
        self.shared.events.emit(|| HerdEvent::PlacesAnswered {
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

    /// Stores a report if it is newer and floods it on; `sender` is the neighbour it came
    /// from; `handoffs`, if given, tracks the reports until they are written.
    async fn store(
        &self,
        client: &str,
        time: &protocol::ClientTime,
        line: &str,
        sender: Option<ServerId>,
        handoffs: Option<&Arc<Handoffs>>,
    ) {
        let events = &self.shared.events;
        let stored = match self.table.accept(client, time, line) {
            Ok(stored) => stored,
            Err(stale) => {
                self.log.note(format_args!("report of {client}: {}", stale.label()));
                events.emit(|| HerdEvent::FloodSuppressed {
                    server: self.id,
                    client: client.into(),
                    from: sender,
                });
                return;
            }
        };
        let client: Arc<str> = client.into();
        events.emit(|| HerdEvent::LocationStored {
            server: self.id,
            client: client.clone(),
            line: stored.clone(),
            from: sender,
        });
        let mut wire: Option<Bytes> = None;
        for outbox in &self.outboxes {
            if Some(outbox.to) == sender {
                continue;
            }
            let wire =
                wire.get_or_insert_with(|| flood::wire_line(&stored, &self.name, None).into());
            let flood = Flood {
                wire: wire.clone(),
                client: client.clone(),
                due: None,
                handoff: handoffs.map(Handoffs::token),
            };
            let (from, to) = (self.id, outbox.to);
            let traffic = &self.shared.traffic;
            let relays = sender.is_some().then_some(&outbox.relays);
            match traffic.send((from, to), &outbox.queue, &outbox.stats, flood, relays).await {
                Handoff::Queued => {
                    events.emit(|| HerdEvent::FloodQueued { from, to, client: client.clone() });
                }
                Handoff::Held => {
                    events.emit(|| HerdEvent::FloodHeld { from, to, client: client.clone() });
                }
                Handoff::Dropped(reason) => {
                    outbox.stats.count_dropped(1);
                    self.log.note(format_args!(
                        "dropped report of {client} for {}: {}",
                        self.shared.name(to),
                        reason.as_str()
                    ));
                    events.emit(|| HerdEvent::FloodDropped {
                        from,
                        to,
                        client: client.clone(),
                        reason,
                    });
                }
            }
        }
    }
}

/// A reply as one line for observers: its first line, and how many more follow (a WHATSAT
/// reply carries its JSON on the lines after the AT line).
fn summary(reply: &[u8]) -> String {
    let text = crate::herd::log::printable(reply.split(|&b| b == b'\n').next().unwrap_or(reply));
    let more = reply.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count().saturating_sub(1);
    if more == 0 { text.into_owned() } else { format!("{text} (+{more} lines)") }
}
