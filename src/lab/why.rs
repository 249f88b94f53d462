//! "Why didn't this server learn that client?": the newest update of a client, followed hop
//! by hop through its [`Trace`] to one server. The server knows it (and by
//! which path), or a copy is still on its way, or every way in failed, and then each failure
//! is named: the fault or drop reason of a link, a neighbour killed or hung, a neighbour that
//! had it and did not forward it, or one that never got it (and then, further back, why not).

use serde::Serialize;

use super::metrics::{HopState, Metrics, Trace, UpdateMetrics};
use crate::herd::control::{link_name, server_name};
use crate::herd::{ServerId, Update};

/// A [`Block`]'s reason when its `from` server is stopped (or, with `from == to`, the server
/// asked about is).
pub const KILLED: &str = "killed";
/// A [`Block`]'s reason when its `from` server is hung.
pub const HUNG: &str = "hung";
/// `from` held the update but sent no copy to `to` (an off-spec policy chose not to).
pub const NOT_FORWARDED: &str = "not forwarded (policy)";
/// `from` lacks the update too.
pub const NEVER_GOT: &str = "never got it";
/// `to` stored a copy from `from`, then forgot it (stopped and restarted).
pub const FORGOTTEN: &str = "forgotten (restarted)";
/// A copy is still on its way from `from` to `to`, whose end is down or hung.
pub const STUCK: &str = "in flight";

/// How many blocks an answer lists at most.
const MAX_BLOCKS: usize = 32;

/// The answer to "why didn't `server` learn `client`?", about the client's newest update.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Why {
    /// No update of that client was seen (or it was forgotten).
    UnknownClient,
    /// The server holds it: it came from `from` (`None` at the origin) by `path`, origin
    /// first and the server last, stored at `at_ns`, `after_ns` after the update started.
    Knows { update: Update, from: Option<ServerId>, path: Vec<ServerId>, at_ns: u64, after_ns: u64 },
    /// A copy is queued, held or written toward the server or toward another server that lacks
    /// it (both ends up and not hung), not yet decided: these links.
    InFlight { update: Update, server: ServerId, queued: Vec<(ServerId, ServerId)> },
    /// Every way in failed: one block per neighbour of the server, and further back for the
    /// neighbours that never got it.
    Blocked { update: Update, server: ServerId, blocks: Vec<Block> },
}

/// One way in that failed: `from` did not get the update to `to`, for `reason` (a fault
/// label, a drop reason, or one of [`KILLED`], [`HUNG`], [`NOT_FORWARDED`], [`NEVER_GOT`],
/// [`FORGOTTEN`], [`STUCK`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    pub from: ServerId,
    pub to: ServerId,
    pub reason: String,
}

impl Block {
    fn new(from: ServerId, to: ServerId, reason: &str) -> Self {
        Self { from, to, reason: reason.to_owned() }
    }

    /// For an operator: `Bona->Clark dropped it (loss Bona->Clark 100%)`, `Jaquez is killed`.
    pub fn text(&self, names: &[String]) -> String {
        let (from, to) = (server_name(self.from, names), server_name(self.to, names));
        match self.reason.as_str() {
            KILLED | HUNG => format!("{from} is {}", self.reason),
            NEVER_GOT => format!("{from} never got it"),
            NOT_FORWARDED => format!("{from} did not forward it to {to} (policy)"),
            FORGOTTEN => format!("{to} forgot it (restarted)"),
            STUCK => format!("{from}->{to} still has it in flight"),
            reason => format!("{from}->{to} dropped it ({reason})"),
        }
    }
}

/// Why `server` does or does not hold the newest update of `client` (see [`Why`]). `names`
/// are the servers' names, index = id (unused for the answer itself; [`Why::text`] takes
/// them).
pub fn why(metrics: &Metrics, client: &str, server: ServerId, _names: &[String]) -> Why {
    let Some((update, trace)) = metrics.newest_tracked(client) else {
        return Why::UnknownClient;
    };
    let holds = |s: ServerId| matches!(update.stored.get(s), Some(Some(_)));
    if let Some(Some(at_ns)) = update.stored.get(server).copied() {
        let from = trace.arrivals.get(server).copied().flatten().and_then(|a| a.from);
        return Why::Knows {
            update: update.update.clone(),
            from,
            path: trace.path(server),
            at_ns,
            after_ns: at_ns.saturating_sub(update.start_ns),
        };
    }
    let blocked = |blocks| Why::Blocked { update: update.update.clone(), server, blocks };
    if !metrics.is_up(server) {
        return blocked(vec![Block::new(server, server, KILLED)]);
    }
    if metrics.is_hung(server) {
        return blocked(vec![Block::new(server, server, HUNG)]);
    }
    let mut queued: Vec<(ServerId, ServerId)> = trace
        .pending()
        .filter(|hop| !holds(hop.to) && metrics.alive(hop.to) && metrics.alive(hop.from))
        .map(|hop| (hop.from, hop.to))
        .collect();
    if !queued.is_empty() {
        queued.dedup();
        return Why::InFlight { update: update.update.clone(), server, queued };
    }
    blocked(blocks(metrics, update, trace, server))
}

/// Walks back from `server` over servers that lack the update: one block per way in.
fn blocks(
    metrics: &Metrics,
    update: &UpdateMetrics,
    trace: &Trace,
    server: ServerId,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut visited = vec![false; metrics.servers()];
    let mut queue = std::collections::VecDeque::from([server]);
    if let Some(seen) = visited.get_mut(server) {
        *seen = true;
    }
    while let Some(to) = queue.pop_front() {
        for &from in metrics.neighbours(to) {
            if visited.get(from).copied().unwrap_or(true) || blocks.len() >= MAX_BLOCKS {
                continue;
            }
            let reason = reason(metrics, update, trace, from, to);
            if reason == NEVER_GOT {
                visited[from] = true;
                queue.push_back(from);
            }
            blocks.push(Block::new(from, to, reason));
        }
    }
    // The failures that say something come first; "never got it" only explains them.
    blocks.sort_by_key(|block| block.reason == NEVER_GOT);
    blocks
}

fn reason<'a>(
    metrics: &Metrics,
    update: &UpdateMetrics,
    trace: &'a Trace,
    from: ServerId,
    to: ServerId,
) -> &'a str {
    if !metrics.is_up(from) {
        return KILLED;
    }
    if metrics.is_hung(from) {
        return HUNG;
    }
    match trace.latest(from, to).map(|hop| &hop.state) {
        Some(HopState::Dropped { reason, fault }) => fault.as_deref().unwrap_or(reason.as_str()),
        Some(HopState::Stored | HopState::Suppressed) => FORGOTTEN,
        Some(_) => STUCK,
        None if matches!(update.stored.get(from), Some(Some(_))) => NOT_FORWARDED,
        None => NEVER_GOT,
    }
}

impl Why {
    /// One or a few lines for an operator: `Clark has kiwi@1621464827.5 via Bona <- Bailey,
    /// 12.3 ms after it started`, `Clark never got kiwi@1621464827.5: Bona->Clark dropped it
    /// (loss Bona->Clark 100%); Jaquez is killed`.
    pub fn text(&self, names: &[String]) -> String {
        let name = |id: ServerId| server_name(id, names);
        match self {
            Self::UnknownClient => "no update of this client seen".to_owned(),
            Self::Knows { update, from, path, after_ns, .. } => {
                let ms = *after_ns as f64 / 1e6;
                let Some((&server, back)) = path.split_last() else {
                    return format!("{update} is held");
                };
                match from {
                    None if back.is_empty() => {
                        format!("{} has {update}: it started there", name(server))
                    }
                    _ => {
                        let via: Vec<String> = back.iter().rev().map(|&id| name(id)).collect();
                        format!(
                            "{} has {update} via {}, {ms:.1} ms after it started",
                            name(server),
                            via.join(" <- ")
                        )
                    }
                }
            }
            Self::InFlight { update, server, queued } => {
                let links: Vec<String> = queued
                    .iter()
                    .map(|&(from, to)| {
                        link_name(crate::herd::control::Directed::new(from, to), names)
                    })
                    .collect();
                format!(
                    "{} has not got {update} yet: in flight on {}",
                    name(*server),
                    links.join(", ")
                )
            }
            Self::Blocked { update, server, blocks } => {
                let itself = blocks.iter().any(|b| b.from == *server && b.to == *server);
                let verb = if itself { "lacks" } else { "never got" };
                let parts: Vec<String> = blocks.iter().map(|block| block.text(names)).collect();
                let parts = if parts.is_empty() {
                    "no way in (it has no neighbours)".to_owned()
                } else {
                    parts.join("; ")
                };
                format!("{} {verb} {update}: {parts}", name(*server))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::feed::{Feed, queued, update};
    use super::*;
    use crate::herd::DropReason;

    const MS: u64 = 1_000_000;

    fn block(f: &Feed, from: &str, to: &str, reason: &str) -> Block {
        Block::new(f.id(from), f.id(to), reason)
    }

    #[test]
    fn an_unseen_client_is_unknown() {
        let f = Feed::new("line:2");
        let answer = why(&f.metrics, "kiwi", 1, &f.names);
        assert_eq!(answer, Why::UnknownClient);
        assert_eq!(answer.text(&f.names), "no update of this client seen");
    }

    #[test]
    fn a_server_that_knows_tells_the_path_it_came_by() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "1621464827.5");
        f.start(MS, "S1", &u).hop(5 * MS, ("S1", "S2"), &u).hop(
            13 * MS + 299_999,
            ("S2", "S3"),
            &u,
        );
        let answer = why(&f.metrics, "kiwi", 2, &f.names);
        let expected = Why::Knows {
            update: u.clone(),
            from: Some(1),
            path: vec![0, 1, 2],
            at_ns: 13 * MS + 300_000,
            after_ns: 12 * MS + 300_000,
        };
        assert_eq!(answer, expected);
        assert_eq!(
            answer.text(&f.names),
            "S3 has kiwi@1621464827.5 via S2 <- S1, 12.3 ms after it started"
        );
        let origin = why(&f.metrics, "kiwi", 0, &f.names);
        assert_eq!(origin.text(&f.names), "S1 has kiwi@1621464827.5: it started there");
    }

    #[test]
    fn a_copy_on_its_way_is_in_flight() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u).hop(10, ("S1", "S2"), &u).at(20, queued(1, 2, &u));
        let answer = why(&f.metrics, "kiwi", 2, &f.names);
        assert_eq!(answer, Why::InFlight { update: u, server: 2, queued: vec![(1, 2)] });
        assert_eq!(answer.text(&f.names), "S3 has not got kiwi@5 yet: in flight on S2->S3");
    }

    #[test]
    fn a_drop_further_back_is_named_behind_the_neighbour_that_never_got_it() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "5");
        let loss = "loss S1->S2 100%";
        f.start(0, "S1", &u).drop(1, ("S1", "S2"), &u, DropReason::Lost, Some(loss));
        let answer = why(&f.metrics, "kiwi", 2, &f.names);
        let blocks = vec![block(&f, "S1", "S2", loss), block(&f, "S2", "S3", NEVER_GOT)];
        assert_eq!(answer, Why::Blocked { update: u, server: 2, blocks });
        assert_eq!(
            answer.text(&f.names),
            "S3 never got kiwi@5: S1->S2 dropped it (loss S1->S2 100%); S2 never got it"
        );
    }

    #[test]
    fn a_lossy_link_and_a_killed_neighbour_block_clark() {
        let mut f = Feed::new("cs131");
        let u = update("kiwi", "1621464827.5");
        let loss = "loss Bona->Clark 100%";
        f.kill(0, "Jaquez")
            .start(MS, "Bailey", &u)
            .hop(2 * MS, ("Bailey", "Bona"), &u)
            .hop(2 * MS, ("Bailey", "Campbell"), &u)
            .drop(3 * MS, ("Bona", "Clark"), &u, DropReason::Lost, Some(loss))
            .dup(3 * MS, ("Bona", "Campbell"), &u)
            .dup(3 * MS, ("Campbell", "Bona"), &u)
            .drop(4 * MS, ("Campbell", "Jaquez"), &u, DropReason::NeighbourDown, None);
        let clark = f.id("Clark");
        let answer = why(&f.metrics, "kiwi", clark, &f.names);
        let blocks = vec![block(&f, "Bona", "Clark", loss), block(&f, "Jaquez", "Clark", KILLED)];
        assert_eq!(answer, Why::Blocked { update: u.clone(), server: clark, blocks });
        assert_eq!(
            answer.text(&f.names),
            "Clark never got kiwi@1621464827.5: Bona->Clark dropped it (loss Bona->Clark 100%); \
             Jaquez is killed"
        );
        // Jaquez itself is down.
        let jaquez = why(&f.metrics, "kiwi", f.id("Jaquez"), &f.names);
        assert_eq!(jaquez.text(&f.names), "Jaquez lacks kiwi@1621464827.5: Jaquez is killed");
    }

    #[test]
    fn a_partition_blocks_every_way_across() {
        let mut f = Feed::new("cs131");
        let u = update("left", "5");
        let label = "partition Bailey,Bona / Campbell,Clark,Jaquez";
        let p = Some(label);
        f.start(0, "Bailey", &u)
            .hop(1, ("Bailey", "Bona"), &u)
            .drop(1, ("Bailey", "Campbell"), &u, DropReason::Cut, p)
            .drop(3, ("Bona", "Campbell"), &u, DropReason::Cut, p)
            .drop(3, ("Bona", "Clark"), &u, DropReason::Cut, p);
        let campbell = f.id("Campbell");
        let Why::Blocked { blocks, .. } = why(&f.metrics, "left", campbell, &f.names) else {
            panic!()
        };
        let named: Vec<String> = blocks.iter().map(|b| b.text(&f.names)).collect();
        assert_eq!(
            named,
            [
                format!("Bailey->Campbell dropped it ({label})"),
                format!("Bona->Campbell dropped it ({label})"),
                format!("Bona->Clark dropped it ({label})"),
                "Jaquez never got it".to_owned(),
                "Clark never got it".to_owned(),
            ]
        );
    }

    #[test]
    fn a_holder_that_sent_nothing_did_not_forward_and_a_hung_one_is_named() {
        let mut f = Feed::new("line:3");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u).hop(1, ("S1", "S2"), &u);
        let answer = why(&f.metrics, "kiwi", 2, &f.names);
        assert_eq!(
            answer.text(&f.names),
            "S3 never got kiwi@5: S2 did not forward it to S3 (policy)"
        );
        f.hang(5, "S2", true);
        assert_eq!(
            why(&f.metrics, "kiwi", 2, &f.names).text(&f.names),
            "S3 never got kiwi@5: S2 is hung"
        );
        f.hang(6, "S3", true);
        assert_eq!(
            why(&f.metrics, "kiwi", 2, &f.names).text(&f.names),
            "S3 lacks kiwi@5: S3 is hung"
        );
    }

    #[test]
    fn a_restarted_server_forgot_what_it_stored() {
        let mut f = Feed::new("line:2");
        let u = update("kiwi", "5");
        f.start(0, "S1", &u).hop(1, ("S1", "S2"), &u).kill(5, "S2").restart(6, "S2");
        let answer = why(&f.metrics, "kiwi", 1, &f.names);
        assert_eq!(answer.text(&f.names), "S2 never got kiwi@5: S2 forgot it (restarted)");
    }

    #[test]
    fn the_newest_update_is_asked_about() {
        let mut f = Feed::new("line:2");
        let old = update("kiwi", "5");
        let new = update("kiwi", "6");
        f.start(0, "S1", &old).hop(1, ("S1", "S2"), &old).start(2, "S1", &new);
        let answer = why(&f.metrics, "kiwi", 1, &f.names);
        assert!(matches!(&answer, Why::Blocked { update, .. } if *update == new));
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["why"], "blocked");
    }
}
