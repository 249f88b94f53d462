//! Where a server listens (`host`) and where its neighbours connect (`dial`) are apart: a
//! neighbour reaches a server by its `dial` name, looked up on every connect attempt, and a
//! name that does not resolve is a failed connect that is retried, never a crash.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestHerd, now_text};
use herdctl::herd::LinkState;

/// A server bound to 127.0.0.1 and dialled as `localhost`, between two plain ones.
const BY_NAME: &str = r#"
[[server]]
name = "Near"
port = 0
neighbours = ["Named"]

[[server]]
name = "Named"
host = "127.0.0.1"
dial = "localhost"
port = 0
neighbours = ["Far"]

[[server]]
name = "Far"
port = 0
"#;

#[tokio::test]
async fn a_server_dialled_by_name_is_reached_by_its_neighbours() {
    let mut t = common::start(BY_NAME).await;
    assert_eq!(t.herd.topology().servers[t.id("Named")].dial, "localhost");
    let reply = t.iamat("Near", "by-name", "+34.068930-118.445127", &now_text()).await;
    t.wait_line_at(&["Near", "Named", "Far"], "by-name", &reply).await;
    // And back the other way, through the named server again.
    let reply = t.iamat("Far", "from-far", "+1+2", &now_text()).await;
    t.wait_line_at(&["Near", "Named", "Far"], "from-far", &reply).await;
}

#[tokio::test]
async fn a_dial_name_that_does_not_resolve_is_a_failed_connect_retried() {
    let text = r#"
[[server]]
name = "Up"
port = 0
neighbours = ["Lost", "Fine"]

[[server]]
name = "Lost"
port = 0
dial = "no-such-server.invalid"

[[server]]
name = "Fine"
port = 0
"#;
    let mut t: TestHerd = common::start(text).await;
    let (up, lost, fine) = (t.id("Up"), t.id("Lost"), t.id("Fine"));
    // The herd goes on: a report still floods where it can.
    let reply = t.iamat("Up", "still-here", "+1+2", &now_text()).await;
    t.wait_line_at(&["Up", "Fine"], "still-here", &reply).await;
    // Long enough for several attempts at the unresolvable name (backoff from 50 ms).
    tokio::time::sleep(Duration::from_millis(400)).await;
    let snapshot = t.herd.snapshot();
    let state = |to| snapshot.links.iter().find(|l| l.a == up && l.b == to).unwrap().a_to_b;
    assert_eq!(state(lost), LinkState::Down);
    assert_eq!(state(fine), LinkState::Up);
    assert!(snapshot.servers.iter().all(|s| s.up), "every server still runs");
    assert!(!t.knows(lost, "still-here"), "Lost was never reached");
}

#[tokio::test]
async fn a_neighbour_in_another_process_is_dialled_by_name() {
    // The neighbour is a plain listener standing in for another process's server.
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = other.local_addr().unwrap().port();
    let text = format!(
        "[[server]]\nname = \"Here\"\nport = 0\nneighbours = [\"There\"]\n\
         [[server]]\nname = \"There\"\nport = {port}\ndial = \"localhost\"\n"
    );
    let t = common::start_with(&text, |config| config.only = Some(0)).await;
    assert!(t.herd.snapshot().servers[1].addr.is_none(), "a name is not looked up at start");
    let reply = t.iamat("Here", "over-there", "+1+2", &now_text()).await;
    let (stream, _) =
        tokio::time::timeout(common::PATIENCE, other.accept()).await.unwrap().unwrap();
    let mut lines = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    let read = tokio::io::AsyncBufReadExt::read_line(&mut lines, &mut line);
    tokio::time::timeout(common::PATIENCE, read).await.unwrap().unwrap();
    assert!(line.starts_with(&reply), "{line:?} is not the flood of {reply:?}");
}
