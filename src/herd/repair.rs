//! Anti-entropy (off-spec, only when the operator asks for it): every period each running
//! server offers one neighbour (in turn) a digest of its table (client → newest client time),
//! on a connection of its own; the neighbour sends back, over its link, the AT lines the
//! server lacks, and its own digest when it lacks something the server has. It repairs what
//! the course protocol never does: updates missed across a partition or by a restarted
//! server. A digest does not cross a cut link, and a hung server offers none.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::control::Directed;
use super::faults::Kind;
use super::server::{Node, Outbox};
use crate::protocol;

/// Whether anti-entropy runs, and its rounds' task.
#[derive(Debug, Default)]
pub struct AntiEntropy {
    pub every: Option<Duration>,
    rounds: Option<CancellationToken>,
}

impl AntiEntropy {
    /// Starts rounds every `every` (stopping any running), or stops them (`None`).
    pub fn set(&mut self, every: Option<Duration>, shared: &Arc<Shared>) {
        if let Some(rounds) = self.rounds.take() {
            rounds.cancel();
        }
        self.every = every;
        let Some(every) = every else { return };
        let token = shared.root.child_token();
        self.rounds = Some(token.clone());
        let shared = Arc::downgrade(shared);
        tokio::spawn(token.run_until_cancelled_owned(async move {
            let turn = AtomicUsize::new(0);
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(shared) = shared.upgrade() else { return };
                round(&shared, turn.fetch_add(1, Ordering::Relaxed));
            }
        }));
    }
}

/// One round: every running server that is not hung offers its digest to its `turn`th
/// neighbour (modulo its degree).
fn round(shared: &Shared, turn: usize) {
    for id in 0..shared.names.len() {
        let Some(node) = shared.node(id) else { continue };
        if node.outboxes.is_empty() || shared.board.is_hung(id) {
            continue;
        }
        let outbox = &node.outboxes[turn % node.outboxes.len()];
        offer(&node, outbox, true);
    }
}

/// Sends `node`'s digest to the neighbour of `outbox`, asking for one back (`ask`) when it
/// lacks something `node` has. Skipped while the link is cut.
pub(super) fn offer(node: &Node, outbox: &Outbox, ask: bool) {
    let shared = &node.shared;
    if shared.board.has(Directed::new(node.id, outbox.to), Kind::Cut) {
        return;
    }
    let table = node.table.entries();
    let entries = table
        .iter()
        .map(|(client, _, line)| (&**client, line.rsplit(' ').next().unwrap_or_default()));
    let lines = protocol::digest_lines(&node.name, ask, entries, protocol::DIGEST_ENTRIES);
    let (log, to) = (node.log.clone(), shared.name(outbox.to).to_owned());
    let (shared, id) = (shared.clone(), outbox.to);
    tokio::spawn(async move {
        let sent = async {
            let addrs = shared.dial_addrs(id).await?;
            let mut stream = TcpStream::connect(&addrs[..]).await?;
            for line in &lines {
                stream.write_all(line.as_bytes()).await?;
            }
            stream.shutdown().await
        };
        if let Err(err) = tokio::time::timeout(Duration::from_secs(1), sent)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out")))
        {
            log.note(format_args!("anti-entropy: no digest to {to}: {err}"));
        }
    });
}
