//! "Why didn't this server learn that client?": the newest update of a client, followed hop
//! by hop through its [`Trace`](super::Trace) to one server. The server knows it (and by
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
