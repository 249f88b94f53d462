//! The form a report travels in between servers, and the "flood first, then reply"
//! handshake that lets a session wait until its reports are on the wire before it answers the
//! client. (Which neighbours a report goes to is the policy's: `herd::policy`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// A stored AT line as it travels between servers: the line as its origin wrote it, plus the
/// forwarding server's name, so the receiver does not send it straight back, and under the
/// `storm` policy the TTL it travels with as `ttl=N`.
pub fn wire_line(stored: &str, forwarder: &str, ttl: Option<u32>) -> String {
    match ttl {
        Some(ttl) => format!("{stored} {forwarder} ttl={ttl}\n"),
        None => format!("{stored} {forwarder}\n"),
    }
}

/// Longest a reply waits for its reports to reach the wire (a neighbour whose connect hangs
/// must not hold a client up for long).
pub const HANDOFF_WAIT: Duration = Duration::from_millis(100);

/// Counts reports of one connection not yet written to their neighbours.
#[derive(Debug, Default)]
pub struct Handoffs {
    outstanding: AtomicUsize,
    written: Notify,
}

impl Handoffs {
    /// A token for one report; dropping it (written, or given up on) counts it done.
    pub fn token(self: &Arc<Self>) -> HandoffToken {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        HandoffToken(self.clone())
    }

    /// Waits until every report handed off so far is written or dropped, at most `limit`.
    pub async fn settled(&self, limit: Duration) {
        let wait = async {
            loop {
                let written = self.written.notified();
                tokio::pin!(written);
                written.as_mut().enable();
                if self.outstanding.load(Ordering::Acquire) == 0 {
                    return;
                }
                written.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }
}

/// One report on its way; see [`Handoffs`].
#[derive(Debug)]
pub struct HandoffToken(Arc<Handoffs>);

impl Drop for HandoffToken {
    fn drop(&mut self) {
        if self.0.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.written.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Command, parse_line};

    #[test]
    fn wire_lines_carry_the_forwarder_and_a_storm_ttl() {
        let stored = "AT Clark +0.1 kiwi +1+2 5";
        assert_eq!(wire_line(stored, "Bona", None), "AT Clark +0.1 kiwi +1+2 5 Bona\n");
        assert_eq!(wire_line(stored, "Bona", Some(0)), "AT Clark +0.1 kiwi +1+2 5 Bona ttl=0\n");
        let wire = wire_line(stored, "Bona", Some(3));
        let Ok(Some(Command::At(at))) = parse_line(wire.as_bytes()) else {
            panic!("{wire:?} is not an AT");
        };
        assert_eq!(
            (at.sender, at.ttl, at.canonical_line().as_str()),
            (Some("Bona"), Some(3), stored)
        );
    }

    #[tokio::test]
    async fn settles_when_every_token_is_dropped() {
        let handoffs = Arc::new(Handoffs::default());
        handoffs.settled(Duration::from_secs(5)).await;
        let (a, b) = (handoffs.token(), handoffs.token());
        let waiter = tokio::spawn({
            let handoffs = handoffs.clone();
            async move { handoffs.settled(Duration::from_secs(5)).await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn gives_up_after_the_limit() {
        let handoffs = Arc::new(Handoffs::default());
        let _stuck = handoffs.token();
        let limit = Duration::from_millis(20);
        tokio::time::timeout(limit * 50, handoffs.settled(limit)).await.unwrap();
    }
}
