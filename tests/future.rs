//! `--max-future` over TCP: an IAMAT whose time is too far ahead of the server clock is
//! answered `? `, an AT report that far ahead is dropped without a reply, logged and counted,
//! and neither is stored; without the option such times are served as before.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{TestHerd, start, start_with};

const HOUR: Duration = Duration::from_secs(3600);

/// POSIX seconds `offset` from now, with nine fraction digits.
fn from_now(offset: Duration) -> String {
    let at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + offset;
    format!("{}.{:09}", at.as_secs(), at.subsec_nanos())
}

fn rejected(t: &TestHerd, name: &str) -> u64 {
    t.herd.snapshot().servers[t.id(name)].rejected_future
}

async fn guarded(topology: &str) -> TestHerd {
    start_with(topology, |config| config.max_future = Some(HOUR)).await
}

#[tokio::test]
async fn iamat_too_far_ahead_is_answered_invalid_and_not_stored() {
    let mut t = guarded("line:2").await;
    let far = format!("IAMAT far +1+1 {}", from_now(2 * HOUR));
    assert_eq!(t.grading("S1", &format!("{far}\r\n")).await, format!("? {far}\n"));
    assert!(!t.knows(t.id("S1"), "far"));
    assert_eq!(rejected(&t, "S1"), 1);

    let near = format!("IAMAT near +1+1 {}", from_now(HOUR / 2));
    let reply = t.grading("S1", &near).await;
    assert!(reply.starts_with("AT S1 -"), "{reply}");
    t.wait_stored_at(&["S1", "S2"], "near").await;
    assert_eq!(rejected(&t, "S1"), 1);
    assert!(!t.knows(t.id("S2"), "far"));
}

#[tokio::test]
async fn at_too_far_ahead_is_dropped_silently_logged_and_counted() {
    let logs = tempfile::tempdir().unwrap();
    let dir = logs.path().to_path_buf();
    let t = start_with("line:3", move |config| {
        config.max_future = Some(HOUR);
        config.log_dir = Some(dir);
    })
    .await;
    let far = format!("AT S2 -7200.000000000 far +1+1 {} S2\n", from_now(2 * HOUR));
    assert_eq!(t.grading("S1", &far).await, "", "a server never answers AT");
    assert!(!t.knows(t.id("S1"), "far"));
    assert_eq!(rejected(&t, "S1"), 1);

    let near = format!("AT S2 -1800.000000000 near +1+1 {} S2\n", from_now(HOUR / 2));
    assert_eq!(t.grading("S1", &near).await, "");
    assert!(t.knows(t.id("S1"), "near"), "a report within the limit is stored");
    assert_eq!(rejected(&t, "S1"), 1);

    t.herd.shutdown().await;
    let log = std::fs::read_to_string(logs.path().join("S1.log")).unwrap();
    assert!(log.contains("ignored report of far"), "{log}");
    assert!(!log.contains("ignored report of near"), "{log}");
}

#[tokio::test]
async fn without_max_future_any_time_is_served() {
    let t = start("line:2").await;
    let far = format!("IAMAT far +1+1 {}", from_now(HOUR * 24 * 365 * 100));
    let reply = t.grading("S1", &far).await;
    assert!(reply.starts_with("AT S1 -"), "{reply}");
    assert!(t.knows(t.id("S1"), "far"));
    assert_eq!(rejected(&t, "S1"), 0);
}
