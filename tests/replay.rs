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

/// A synthetic recording of the cs131 herd: kiwi reported to Bailey and flooded to Bona, then
/// Bona killed.
fn small_trace() -> trace::Trace {
    use herdctl::herd::{HerdEvent, Update};
    let update = Update { client: "kiwi".into(), time: T.into() };
    let line: std::sync::Arc<str> = format!("AT Bailey +0.1 kiwi +1+2 {T}").into();
    let stored = |server, from| EventKind::LocationStored {
        server,
        update: update.clone(),
        line: line.clone(),
        from,
    };
    let kinds = [stored(0, None), stored(1, Some(0)), EventKind::ServerStopped { server: 1 }];
    let events = kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| HerdEvent { seq: i as u64, t_ns: 1_000_000_000 * (i as u64 + 1), kind })
        .collect();
    let topology = herdctl::config::Topology::load("cs131", 0).unwrap();
    trace::Trace {
        header: Header {
            format: trace::FORMAT,
            herdctl: "0.1.0".into(),
            topology: "cs131".into(),
            servers: topology.servers.iter().map(|s| s.name.clone()).collect(),
            links: topology.links(),
            seed: 1,
            policy: herdctl::herd::control::Policy::Spec,
            started: "2024-01-01T00:00:00.000Z".into(),
            state: None,
        },
        events,
        gaps: vec![(7, 3)],
        cut: false,
    }
}

fn press(app: &mut App, code: crossterm::event::KeyCode) -> Vec<herdctl::tui::app::Effect> {
    use crossterm::event::{KeyEvent, KeyModifiers};
    app.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| herdctl::tui::view::draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn replay_keys_move_through_the_recording_and_refuse_to_change_the_herd() {
    use crossterm::event::KeyCode;
    let trace = small_trace();
    let topology = replay::topology_of(&trace);
    let positions = herdctl::tui::layout::positions(&topology);
    let now = Instant::now();
    let replay = Replay::new("small.ndjson", trace, topology, now);
    let start = replay.start.clone();
    let mut app = App::new("small.ndjson", &start, positions, History::in_memory(), now);
    app.start_replay(replay);
    let status = |app: &App| app.status.as_ref().map(|s| s.text.clone()).unwrap_or_default();

    let first = screen(&app, 80, 24);
    assert!(first.contains("‖ 1×  0.000s / 2.000s #0/3"), "{first}");
    assert!(first.contains("1 gaps, 3 events missed"), "the recorder's gaps are shown:\n{first}");

    press(&mut app, KeyCode::Char('n'));
    assert_eq!(status(&app), "0.000s: update kiwi@1621464827.5 at Bailey");
    assert_eq!(app.clients.len(), 1);
    press(&mut app, KeyCode::Char('>'));
    assert!(status(&app).ends_with("Bona stopped"), "{}", status(&app));
    assert!(!app.servers[1].up);
    press(&mut app, KeyCode::Char(','));
    assert!(app.servers[1].up, "one event back, Bona runs again");

    for key in [KeyCode::Char('k'), KeyCode::Char('c'), KeyCode::Char('x')] {
        assert!(press(&mut app, key).is_empty());
        assert_eq!(status(&app), replay::NO_HERD);
    }
    press(&mut app, KeyCode::Char(':'));
    for c in "kill Bona".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    assert!(press(&mut app, KeyCode::Enter).is_empty(), "nothing goes to a herd");
    assert_eq!(status(&app), replay::NO_HERD);

    // `y` on Campbell asks about kiwi, which it lacks.
    app.selection = herdctl::tui::app::Selection::Node(2);
    press(&mut app, KeyCode::Char('y'));
    assert!(
        matches!(&app.mode, herdctl::tui::app::Mode::Command(e) if e.text == "why kiwi Campbell")
    );
    press(&mut app, KeyCode::Enter);
    assert!(
        matches!(&app.mode, herdctl::tui::app::Mode::Popup { title, .. } if title.contains("why kiwi Campbell"))
    );
    press(&mut app, KeyCode::Esc);

    press(&mut app, KeyCode::Char(' '));
    assert!(app.replay.as_ref().unwrap().playing);
    app.replay_advance(std::time::Duration::from_secs(5));
    assert!(!app.replay.as_ref().unwrap().playing, "it stops at the end");
    let last = screen(&app, 80, 24);
    assert!(last.contains("2.000s / 2.000s #3/3"), "{last}");
}
