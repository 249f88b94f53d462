//! A server the herd restarts is linked again at once: its neighbours, idle and waiting out
//! their reconnect backoff, are woken by the restart rather than finding it on their next try.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::PATIENCE;
use herdctl::herd::{EventKind, LinkState};
use tokio::sync::broadcast;
use tokio::time::timeout;

/// The bound on relinking after a restart (the backoff it replaces reaches 2 s).
const AT_ONCE: Duration = Duration::from_millis(300);
/// Long enough down that every neighbour's backoff has grown well past [`AT_ONCE`] (retries
/// at 50, 150, 350, 750 and 1550 ms after the drop).
const LONG_DOWN: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread")]
async fn every_link_of_a_restarted_server_is_up_at_once() {
    let mut t = common::start("cs131").await;
    let clark = t.id("Clark");
    let neighbours: Vec<usize> = t.herd.topology().servers[clark].neighbours.clone();
    assert!(neighbours.len() >= 2, "Clark has {neighbours:?}");
    let mut slowest = Duration::ZERO;
    for round in 0..3 {
        t.control("kill Clark").await;
        let mut down: HashSet<usize> = HashSet::new();
        while down.len() < neighbours.len() {
            let event = t
                .wait_for(
                    "a neighbour's link to Clark down",
                    |e| matches!(e, EventKind::LinkDropped { to, .. } if *to == clark),
                )
                .await;
            if let EventKind::LinkDropped { from, .. } = event {
                down.insert(from);
            }
        }
        // The neighbours keep retrying, ever less often, and announce nothing more.
        t.settle(LONG_DOWN).await;
        let snapshot = t.herd.snapshot();
        for link in snapshot.links.iter().filter(|l| l.a == clark || l.b == clark) {
            let into_clark = if link.a == clark { link.b_to_a } else { link.a_to_b };
            assert_eq!(into_clark, LinkState::Down, "round {round}: {link:?}");
        }

        let mut wanted: HashSet<(usize, usize)> =
            neighbours.iter().flat_map(|&n| [(n, clark), (clark, n)]).collect();
        let asked = Instant::now();
        t.control("restart Clark").await;
        let answered = Instant::now();
        let all_up = timeout(PATIENCE, async {
            while !wanted.is_empty() {
                match t.events.recv().await {
                    Ok(event) => {
                        if let EventKind::LinkUp { from, to } = event.kind {
                            wanted.remove(&(from, to));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => panic!("events lost"),
                    Err(broadcast::error::RecvError::Closed) => panic!("event bus closed"),
                }
            }
            Instant::now()
        })
        .await
        .unwrap_or_else(|_| panic!("round {round}: links never up: {wanted:?} missing"));
        let took = all_up.saturating_duration_since(answered);
        eprintln!(
            "round {round}: every link of Clark up {took:?} after the restart's answer \
             ({:?} after it was asked)",
            all_up - asked
        );
        assert!(took <= AT_ONCE, "round {round}: relinking took {took:?}");
        slowest = slowest.max(took);
    }
    eprintln!("slowest relink after a restart: {slowest:?}");
}
