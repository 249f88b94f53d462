//! `herdctl replay`: a recording replayed to its end shows the state the live herd ended in
//! (servers, links and their faults, every client's report and who holds it), and going back
//! shows the state at that earlier instant.
#![allow(clippy::unwrap_used)]

mod common;

use herdctl::herd::{EventKind, HerdSnapshot, LinkFaultsView, LinkState};
use herdctl::trace::{self, Header, Recorder};
use herdctl::tui::app::App;
use herdctl::tui::history::History;
use herdctl::tui::replay::{self, Replay};
use tokio::time::Instant;

const T: &str = "1621464827.5";

/// What the dashboard shows of the herd, to compare two views of it.
#[derive(Debug, PartialEq)]
struct Shown {
    servers: Vec<(String, bool, bool)>,
    links: Vec<(usize, usize, LinkFaultsView, LinkFaultsView, LinkState, LinkState)>,
    clients: Vec<(String, String, Vec<bool>)>,
    policy: String,
}

fn shown(app: &App) -> Shown {
    Shown {
        servers: app.servers.iter().map(|s| (s.name.clone(), s.up, s.hung)).collect(),
        links: app
            .links
            .iter()
            .map(|l| (l.a, l.b, l.a_faults.clone(), l.b_faults.clone(), l.a_to_b, l.b_to_a))
            .collect(),
        clients: app
            .clients
            .rows()
            .map(|r| (r.id.to_string(), r.line.to_string(), r.known_by.clone()))
            .collect(),
        policy: app.engine.policy.to_string(),
    }
}

fn live_view(snapshot: &HerdSnapshot) -> App {
    let positions = vec![(0.5, 0.5); snapshot.servers.len()];
    App::new("live", snapshot, positions, History::in_memory(), Instant::now())
}

fn all_links_up(snapshot: &HerdSnapshot) -> bool {
    let up = |id: usize| snapshot.servers[id].up;
    snapshot
        .links
        .iter()
        .all(|l| !(up(l.a) && up(l.b)) || (l.a_to_b == LinkState::Up && l.b_to_a == LinkState::Up))
}

#[tokio::test]
async fn a_replay_rebuilds_the_live_herds_state_at_the_end_and_before() {
    let mut t = common::start("cs131").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.ndjson");
    let recorder =
        Recorder::start(&t.herd, &path, Header::new(&t.herd, "cs131"), u64::MAX).unwrap();

    t.control("cut Bona->Clark").await;
    let kiwi = t.iamat("Bona", "kiwi", "+1+2", T).await;
    t.wait_line_at(&["Bailey", "Bona", "Campbell", "Clark", "Jaquez"], "kiwi", &kiwi).await;
    let before_kill = shown(&live_view(&t.herd.snapshot()));
    t.control("kill Bailey").await;
    let lime = t.iamat("Campbell", "lime", "+3+4", T).await;
    t.wait_line_at(&["Bona", "Campbell", "Clark", "Jaquez"], "lime", &lime).await;
    t.control("restart Bailey").await;
    t.control("delay Campbell->Jaquez 50ms for 1h").await;
    t.control("policy gossip fanout=2").await;
    t.control("hang Jaquez").await;
    while !all_links_up(&t.herd.snapshot()) {
        t.wait_for("links up", |e| matches!(e, EventKind::LinkUp { .. })).await;
    }
    let ended = t.herd.snapshot();
    let stats = recorder.finish().await.unwrap();
    assert_eq!(stats.gaps, 0);

    let trace = trace::read(&path).unwrap();
    assert!(trace.header.state.is_some(), "the header holds the starting state");
    let topology = replay::topology_of(&trace);
    assert_eq!(topology.links(), t.herd.topology().links());
    let now = Instant::now();
    let replay = Replay::new("run.ndjson", trace, topology, now);
    let start = replay.start.clone();
    let mut app = App::new("replay", &start, vec![(0.5, 0.5); 5], History::in_memory(), now);
    app.start_replay(replay);

    app.replay_seek(u64::MAX);
    let replayed = shown(&app);
    assert_eq!(replayed, shown(&live_view(&ended)));
    assert!(replayed.servers[4].2, "Jaquez is hung");
    assert!(replayed.links.iter().any(|l| l.2.cut || l.3.cut), "Bona->Clark is cut");
    assert_eq!(replayed.clients.len(), 2);

    // Back to just before the kill: Bailey is up and holds kiwi, nobody knows lime.
    let replay = app.replay.as_ref().unwrap();
    let kill = replay
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::ServerStopped { server: 0 }))
        .unwrap();
    app.replay_jump(kill - 1);
    let before = shown(&app);
    assert_eq!(before.servers, before_kill.servers);
    assert_eq!(before.clients, before_kill.clients);
    assert_eq!(
        before.links.iter().map(|l| (l.2.cut, l.3.cut)).collect::<Vec<_>>(),
        before_kill.links.iter().map(|l| (l.2.cut, l.3.cut)).collect::<Vec<_>>()
    );
}
