//! The engine side of the dashboard's traffic controls: a real per-hop delay, and pause /
//! step / resume holding server-to-server reports while clients are still answered.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use herdctl::herd::{Applied, EventKind};

#[tokio::test(flavor = "multi_thread")]
async fn link_delay_slows_every_hop() {
    let delay = Duration::from_millis(150);
    let mut t = common::start_with("line:3", |c| c.link_delay = delay).await;
    let started = Instant::now();
    let reply = t.grading("S1", &format!("IAMAT kiwi +1+1 {}", common::now_text())).await;
    assert!(reply.starts_with("AT S1 "), "clients are answered at once: {reply}");
    assert!(started.elapsed() < delay, "the reply waited for the link delay");
    t.wait_stored_at(&["S3"], "kiwi").await;
    assert!(started.elapsed() >= delay * 2, "two hops took {:?}", started.elapsed());

    t.control("delay all 0").await;
    assert_eq!(t.herd.link_delay(), Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_holds_floods_step_releases_one_resume_the_rest() {
    let mut t = common::start("line:3").await;
    t.control("pause").await;
    assert!(t.herd.paused());
    assert_eq!(t.control("step").await, Applied::unchanged("nothing is held"));
    let reply = t.grading("S1", &format!("IAMAT kiwi +1+1 {}", common::now_text())).await;
    assert!(reply.starts_with("AT S1 "), "{reply}");
    t.wait_for("the hop to S2 held", |e| matches!(e, EventKind::FloodHeld { .. })).await;
    assert_eq!(t.herd.held(), 1);
    t.settle(Duration::from_millis(100)).await;
    assert!(!t.knows(t.id("S2"), "kiwi"), "a held report must not arrive");

    let stepped = t.control("step").await;
    assert!(matches!(stepped, Applied::Changed { .. }), "{stepped:?}");
    let text = stepped.text();
    assert!(text.starts_with("released kiwi@"), "{stepped:?}");
    assert!(text.ends_with(" on S1->S2 (0 still held)"), "{stepped:?}");
    t.wait_stored_at(&["S2"], "kiwi").await;
    // S2 forwarded to S3, and that hop is held in turn.
    t.wait_for("the hop to S3 held", |e| matches!(e, EventKind::FloodHeld { .. })).await;
    assert!(!t.knows(t.id("S3"), "kiwi"));

    let reply = t.grading("S3", &format!("IAMAT apple +2+2 {}", common::now_text())).await;
    assert!(reply.starts_with("AT S3 "));
    assert_eq!(t.control("resume").await.text(), "resumed: 2 held reports released");
    assert!(!t.herd.paused());
    t.wait_stored_at(&["S1", "S2", "S3"], "kiwi").await;
    t.wait_stored_at(&["S1", "S2", "S3"], "apple").await;
    let after = t.control("step").await;
    assert_eq!(
        after,
        Applied::unchanged("not paused: pause first"),
        "nothing is held after resume"
    );
}
