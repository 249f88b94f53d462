//! Which neighbours a received report goes to under each flooding [`Policy`], and with what
//! TTL: the course's rule (`spec`) and the laboratory's off-spec ones (`storm`, `echo`,
//! `gossip`). Pure: gossip's choice is drawn from a keyed hash of the seed and the report, so
//! the same report at the same server always picks the same neighbours.

use std::collections::BTreeMap;
use std::hash::Hasher;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use siphasher::sip::SipHasher13;

use super::control::Policy;
use super::events::ServerId;
use super::fate::write_text;

/// A report as a server received it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// The neighbour it came from; `None` for a client's IAMAT or an AT from outside.
    pub sender: Option<ServerId>,
    /// It was stored (newer than what the server had).
    pub new: bool,
    /// Its TTL as it arrived (storm lines only).
    pub ttl: Option<u32>,
    /// The server that received it.
    pub server: ServerId,
    pub client: &'a str,
    pub time: &'a str,
}

/// Where a report goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// In the order of the neighbour list.
    pub targets: Vec<ServerId>,
    /// The TTL to send with; `None` sends spec lines.
    pub ttl: Option<u32>,
}

impl Forward {
    fn nowhere() -> Self {
        Self { targets: Vec::new(), ttl: None }
    }
}

/// Where `received` goes from a server with `neighbours` under `policy`.
///
/// * `spec`: a new report to every neighbour but its sender; nothing else.
/// * `storm { ttl }`: a report without a TTL is an origin: if new, to every neighbour but its
///   sender with `ttl`. A report with TTL `t` goes, new or not, to every neighbour but its
///   sender with `min(t, ttl) − 1`, unless `t` is 0.
/// * `echo`: a new report to every neighbour, its sender too.
/// * `gossip { fanout }`: a new report to `fanout` neighbours other than its sender, drawn
///   from `(seed, server, client, time)`; to all of them if there are no more.
pub fn forward(policy: Policy, seed: u64, neighbours: &[ServerId], received: &Received) -> Forward {
    let but_sender = || except(neighbours, received.sender);
    match policy {
        Policy::Storm { ttl } => match received.ttl {
            None if received.new => Forward { targets: but_sender(), ttl: Some(ttl) },
            None | Some(0) => Forward::nowhere(),
            // A TTL from the wire is trusted no further than the policy's own.
            Some(t) => Forward { targets: but_sender(), ttl: Some(t.min(ttl) - 1) },
        },
        _ if !received.new => Forward::nowhere(),
        Policy::Spec => Forward { targets: but_sender(), ttl: None },
        Policy::Echo => Forward { targets: neighbours.to_vec(), ttl: None },
        Policy::Gossip { fanout } => {
            Forward { targets: gossip(seed, but_sender(), fanout, received), ttl: None }
        }
    }
}

/// Every neighbour but `sender`. (Not skipping the server named in the report: an AT from
/// outside may name a server that never stored it.)
fn except(neighbours: &[ServerId], sender: Option<ServerId>) -> Vec<ServerId> {
    neighbours.iter().copied().filter(|&n| Some(n) != sender).collect()
}

/// `fanout` of `candidates` (all if there are no more), drawn by a partial Fisher–Yates
/// shuffle from the keyed hash of `(seed, server, client, time)`, kept in candidate order.
fn gossip(
    seed: u64,
    candidates: Vec<ServerId>,
    fanout: usize,
    received: &Received,
) -> Vec<ServerId> {
    if candidates.len() <= fanout {
        return candidates;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(gossip_key(seed, received));
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    for i in 0..fanout {
        // The modulo's bias is below 2^-50 for any neighbour count a herd has.
        let j = i + (rng.next_u64() % (order.len() - i) as u64) as usize;
        order.swap(i, j);
    }
    let mut chosen = order[..fanout].to_vec();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| candidates[i]).collect()
}

/// The domain tag of gossip's keyed hash (fates use small tags of their own).
const GOSSIP_TAG: u64 = 0x676f_7373_6970;

fn gossip_key(seed: u64, received: &Received) -> u64 {
    let mut hasher = SipHasher13::new_with_keys(seed, GOSSIP_TAG);
    hasher.write_u64(received.server as u64);
    write_text(&mut hasher, received.client);
    write_text(&mut hasher, received.time);
    hasher.finish()
}

/// The server-to-server messages one IAMAT at `origin` produces under `storm { ttl }` on the
/// graph `adjacency` (server → neighbours), with every line delivered: the rule applied
/// breadth-first, one level per TTL value, counting identical lines on a link together.
pub fn storm_messages(adjacency: &[Vec<ServerId>], origin: ServerId, ttl: u32) -> u64 {
    let policy = Policy::Storm { ttl };
    let neighbours = |server: ServerId| adjacency.get(server).map_or(&[][..], Vec::as_slice);
    let iamat =
        Received { sender: None, new: true, ttl: None, server: origin, client: "", time: "" };
    let first = forward(policy, 0, neighbours(origin), &iamat);
    let mut level: BTreeMap<(ServerId, ServerId), u64> =
        first.targets.iter().map(|&to| ((origin, to), 1)).collect();
    let mut level_ttl = first.ttl;
    let mut total = 0u64;
    while !level.is_empty() {
        let mut next = BTreeMap::new();
        let mut next_ttl = None;
        for (&(from, to), &count) in &level {
            total = total.saturating_add(count);
            // With a TTL the rule forwards new and old reports alike.
            let arrived = Received { sender: Some(from), new: false, ttl: level_ttl, ..iamat };
            let on = forward(policy, 0, neighbours(to), &Received { server: to, ..arrived });
            for target in on.targets {
                let sent: &mut u64 = next.entry((to, target)).or_default();
                *sent = sent.saturating_add(count);
            }
            next_ttl = on.ttl;
        }
        (level, level_ttl) = (next, next_ttl);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEIGHBOURS: [ServerId; 4] = [1, 2, 3, 4];

    fn received(sender: Option<ServerId>, new: bool, ttl: Option<u32>) -> Received<'static> {
        Received { sender, new, ttl, server: 0, client: "kiwi", time: "1621464827.5" }
    }

    /// `(sender, new, ttl as arrived) → (targets, ttl to send)` for one policy.
    type Row = (Option<ServerId>, bool, Option<u32>, &'static [ServerId], Option<u32>);

    fn check(policy: Policy, table: &[Row]) {
        for &(sender, new, ttl, targets, sent_ttl) in table {
            let got = forward(policy, 9, &NEIGHBOURS, &received(sender, new, ttl));
            let want = Forward { targets: targets.to_vec(), ttl: sent_ttl };
            assert_eq!(got, want, "{policy}: sender {sender:?}, new {new}, ttl {ttl:?}");
        }
    }

    #[test]
    fn spec_sends_a_new_report_to_every_neighbour_but_its_sender() {
        check(
            Policy::Spec,
            &[
                (None, true, None, &[1, 2, 3, 4], None),
                (Some(2), true, None, &[1, 3, 4], None),
                // A sender that is not a neighbour skips no one.
                (Some(9), true, None, &[1, 2, 3, 4], None),
                (Some(2), false, None, &[], None),
                (None, false, None, &[], None),
                // A TTL means nothing to spec.
                (Some(2), true, Some(0), &[1, 3, 4], None),
            ],
        );
    }

    #[test]
    fn storm_forwards_until_the_ttl_runs_out_new_or_not() {
        check(
            Policy::Storm { ttl: 4 },
            &[
                (None, true, None, &[1, 2, 3, 4], Some(4)),
                (None, false, None, &[], None),
                (Some(2), true, None, &[1, 3, 4], Some(4)),
                (Some(2), false, None, &[], None),
                (Some(2), true, Some(3), &[1, 3, 4], Some(2)),
                (Some(2), false, Some(3), &[1, 3, 4], Some(2)),
                (Some(2), false, Some(1), &[1, 3, 4], Some(0)),
                (Some(2), true, Some(0), &[], None),
                (Some(2), false, Some(0), &[], None),
                // A TTL from the wire above the policy's is cut down to it.
                (Some(1), false, Some(9), &[2, 3, 4], Some(3)),
                (Some(1), false, Some(u32::MAX), &[2, 3, 4], Some(3)),
            ],
        );
    }

    #[test]
    fn echo_sends_a_new_report_back_to_its_sender_too() {
        check(
            Policy::Echo,
            &[
                (None, true, None, &[1, 2, 3, 4], None),
                (Some(2), true, None, &[1, 2, 3, 4], None),
                (Some(2), false, None, &[], None),
            ],
        );
    }

    #[test]
    fn gossip_sends_a_new_report_to_fanout_neighbours_but_its_sender() {
        check(
            Policy::Gossip { fanout: 3 },
            &[
                (Some(2), true, None, &[1, 3, 4], None),
                (Some(2), false, None, &[], None),
                (None, false, None, &[], None),
            ],
        );
        check(Policy::Gossip { fanout: 9 }, &[(None, true, None, &[1, 2, 3, 4], None)]);
        check(Policy::Gossip { fanout: 0 }, &[(None, true, None, &[], None)]);
        for fanout in 1..4 {
            let got =
                forward(Policy::Gossip { fanout }, 9, &NEIGHBOURS, &received(Some(2), true, None));
            assert_eq!(got.targets.len(), fanout);
            assert!(!got.targets.contains(&2) && got.targets.is_sorted(), "{got:?}");
        }
    }

    #[test]
    fn gossip_choices_are_seeded_by_seed_server_client_and_time() {
        let policy = Policy::Gossip { fanout: 2 };
        let neighbours: Vec<ServerId> = (1..=20).collect();
        let pick = |seed, received: &Received| forward(policy, seed, &neighbours, received).targets;
        let base = received(None, true, None);
        assert_eq!(pick(1, &base), pick(1, &base));
        // Whether a report is new is the only thing a fresh draw does not look at.
        let others = [
            (2, base),
            (1, Received { server: 5, ..base }),
            (1, Received { client: "kiwj", ..base }),
            (1, Received { time: "1621464827.6", ..base }),
        ];
        for (seed, other) in others {
            assert_ne!(pick(seed, &other), pick(1, &base), "seed {seed}, {other:?}");
        }
    }

    #[test]
    fn gossip_picks_every_neighbour_about_equally() {
        let policy = Policy::Gossip { fanout: 2 };
        let mut picked = [0u32; 5];
        for t in 0..10_000 {
            let time = t.to_string();
            let report = Received { time: &time, ..received(None, true, None) };
            for target in forward(policy, 3, &NEIGHBOURS, &report).targets {
                picked[target] += 1;
            }
        }
        // Each of the 4 neighbours: 2 picks in 4, 5 000 of 10 000.
        assert_eq!(picked[0], 0);
        assert!(picked[1..].iter().all(|&n| n.abs_diff(5_000) < 200), "{picked:?}");
    }

    fn cs131() -> Vec<Vec<ServerId>> {
        let topology = crate::config::Topology::load("cs131", 12401).unwrap();
        topology.servers.into_iter().map(|s| s.neighbours).collect()
    }

    #[test]
    fn storm_messages_on_small_graphs() {
        // A path a - b - c: never sent back, a line stops at the far end.
        let path = vec![vec![1], vec![0, 2], vec![1]];
        assert_eq!(storm_messages(&path, 0, 0), 1);
        assert_eq!(storm_messages(&path, 0, 1), 2);
        assert_eq!(storm_messages(&path, 0, 4), 2);
        assert_eq!(storm_messages(&path, 1, 4), 2);
        // A triangle: every line goes on to the one other neighbour, 2 per TTL value.
        let triangle = vec![vec![1, 2], vec![0, 2], vec![0, 1]];
        assert_eq!(storm_messages(&triangle, 0, 4), 10);
        // An isolated server sends nothing.
        assert_eq!(storm_messages(&[vec![]], 0, 4), 0);
    }

    #[test]
    fn storm_ttl_4_on_cs131() {
        let graph = cs131();
        let names = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
        let counts: Vec<u64> = (0..graph.len()).map(|o| storm_messages(&graph, o, 4)).collect();
        for (name, count) in names.iter().zip(&counts) {
            println!("storm ttl=4 on cs131, IAMAT at {name}: {count} messages");
        }
        // Under spec the same IAMAT costs 2 × links − (servers − 1) = 8 messages.
        assert_eq!(counts, [28, 31, 31, 27, 27]);
    }

    /// Every message on its own, first in first out, each server storing the report once.
    fn storm_one_by_one(adjacency: &[Vec<ServerId>], origin: ServerId, ttl: u32) -> u64 {
        let policy = Policy::Storm { ttl };
        let mut stored = vec![false; adjacency.len()];
        let mut queue = std::collections::VecDeque::from([(None, origin, None)]);
        let mut messages = 0;
        while let Some((sender, server, ttl)) = queue.pop_front() {
            messages += u64::from(sender.is_some());
            let new = !std::mem::replace(&mut stored[server], true);
            let report = Received { sender, new, ttl, ..received(None, true, None) };
            let on = forward(policy, 0, &adjacency[server], &Received { server, ..report });
            queue.extend(on.targets.into_iter().map(|to| (Some(server), to, on.ttl)));
        }
        messages
    }

    #[test]
    fn storm_messages_count_every_message_of_the_flood() {
        let graph = cs131();
        for origin in 0..graph.len() {
            for ttl in 0..7 {
                let want = storm_one_by_one(&graph, origin, ttl);
                assert_eq!(storm_messages(&graph, origin, ttl), want, "origin {origin}, ttl {ttl}");
            }
        }
    }
}
