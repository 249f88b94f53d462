//! The dashboard seen from outside: the `App` model driven by synthetic engine events and
//! keys, drawn by `view::draw` into an in-memory terminal. Snapshots of whole screens, key
//! handling through the public API, and the colours that carry meaning. No herd, no sockets.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use herdctl::config::Topology;
use herdctl::herd::LinkState;
use herdctl::herd::{Fault, HerdEvent, HerdSnapshot, ServerId};
use herdctl::tui::app::{App, Effect, Feedback, LinkLook, Mode, Selection, SendKind};
use herdctl::tui::history::History;
use herdctl::tui::{graph, layout, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::text::Span;
use tokio::time::Instant;

const BAILEY: ServerId = 0;
const BONA: ServerId = 1;
const CAMPBELL: ServerId = 2;
const CLARK: ServerId = 3;
const JAQUEZ: ServerId = 4;

const KIWI: &str = "kiwi.cs.ucla.edu";
const KIWI_IAMAT: &str = "IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";
const KIWI_AT: &str =
    "AT Bailey +0.000412733 kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn topology() -> Topology {
    Topology::load("cs131", 12401).unwrap()
}

/// The address a client connection comes from.
fn client_peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50312))
}

/// The address `from`'s outgoing link connection to `to` comes from.
fn link_peer(from: ServerId, to: ServerId) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000 + (from * 10 + to) as u16))
}

/// A healthy herd with every server up, every link up, and no clients.
fn snapshot(topology: &Topology) -> HerdSnapshot {
    herdctl::bench::dashboard::healthy_snapshot(topology)
}

struct Rig {
    app: App,
    t0: Instant,
    topology: Topology,
}

impl Rig {
    fn new() -> Self {
        let topology = topology();
        let t0 = Instant::now();
        let app = App::new(
            "cs131",
            &snapshot(&topology),
            layout::positions(&topology),
            History::in_memory(),
            t0,
        );
        Self { app, t0, topology }
    }

    fn at(&self, millis: u64) -> Instant {
        self.t0 + Duration::from_millis(millis)
    }

    fn at_micros(&self, micros: u64) -> Instant {
        self.t0 + Duration::from_micros(micros)
    }

    /// Applies `events` one after another from `start`, 150µs apart, as a real herd would
    /// emit them in a burst.
    fn apply_from(&mut self, start: Instant, events: &[HerdEvent]) {
        for (i, event) in events.iter().enumerate() {
            self.app.now = start + Duration::from_micros(150 * i as u64);
            self.app.apply(event);
        }
    }

    fn tick(&mut self, millis: u64) {
        let now = self.at(millis);
        self.app.tick(now);
    }

    fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.app.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn tab(&mut self, times: usize) {
        for _ in 0..times {
            assert!(self.key(KeyCode::Tab).is_empty());
        }
    }

    /// Types `text` key by key (into the command line, if open).
    fn type_text(&mut self, text: &str) -> Vec<Effect> {
        text.chars().flat_map(|c| self.key(KeyCode::Char(c))).collect()
    }

    /// `:` + `line` + Enter.
    fn command(&mut self, line: &str) -> Vec<Effect> {
        assert!(self.key(KeyCode::Char(':')).is_empty());
        let typed = self.type_text(line);
        assert!(typed.is_empty(), "typing must not act: {typed:?}");
        self.key(KeyCode::Enter)
    }

    /// Types `line` into an open command line and presses Enter.
    fn command_rest(&mut self, line: &str) -> Vec<Effect> {
        assert!(self.type_text(line).is_empty());
        self.key(KeyCode::Enter)
    }

    fn editor_text(&self) -> String {
        match &self.app.mode {
            Mode::Command(editor) => editor.text.clone(),
            other => panic!("the command line is not open: {other:?}"),
        }
    }

    fn editor_error(&self) -> Option<String> {
        match &self.app.mode {
            Mode::Command(editor) => editor.error.clone(),
            other => panic!("the command line is not open: {other:?}"),
        }
    }

    fn name(&self, id: ServerId) -> &str {
        &self.topology.servers[id].name
    }

    /// Every event a real herd emits for `iamat` at `origin`, flooding in the order a herd on
    /// loopback would: the origin stores and queues, its reply goes out once the reports are
    /// written, then each written report is read, stored or suppressed, and queued on.
    fn flood(&self, origin: ServerId, client: &str, iamat: &str, stored: &str) -> Vec<HerdEvent> {
        let client: Arc<str> = client.into();
        let stored: Arc<str> = stored.into();
        let mut events = vec![
            EventKind::LineIn { server: origin, peer: client_peer(), line: iamat.into() },
            EventKind::LocationStored {
                server: origin,
                client: client.clone(),
                line: stored.clone(),
                from: None,
            },
        ];
        let mut has = vec![false; self.topology.servers.len()];
        has[origin] = true;
        let mut wire = VecDeque::new();
        for &to in &self.topology.servers[origin].neighbours {
            events.push(EventKind::FloodQueued { from: origin, to, client: client.clone() });
            wire.push_back((origin, to));
        }
        let mut replied = false;
        while let Some((from, to)) = wire.pop_front() {
            let line: Arc<str> = format!("{stored} {}", self.name(from)).into();
            events.push(EventKind::FloodSent {
                from,
                to,
                client: client.clone(),
                line: line.clone(),
            });
            if !replied && from == origin && wire.iter().all(|&(f, _)| f != origin) {
                events.push(EventKind::LineOut {
                    server: origin,
                    peer: client_peer(),
                    line: stored.clone(),
                });
                replied = true;
            }
            events.push(EventKind::LineIn { server: to, peer: link_peer(from, to), line });
            if has[to] {
                events.push(EventKind::FloodSuppressed {
                    server: to,
                    client: client.clone(),
                    from: Some(from),
                });
                continue;
            }
            has[to] = true;
            events.push(EventKind::LocationStored {
                server: to,
                client: client.clone(),
                line: stored.clone(),
                from: Some(from),
            });
            for &next in &self.topology.servers[to].neighbours {
                if next != from {
                    events.push(EventKind::FloodQueued {
                        from: to,
                        to: next,
                        client: client.clone(),
                    });
                    wire.push_back((to, next));
                }
            }
        }
        events
    }

    /// The start of an IAMAT at Bailey: stored, queued to both neighbours, answered.
    fn iamat_at_bailey(&mut self) {
        let client: Arc<str> = KIWI.into();
        let events = [
            EventKind::LineIn { server: BAILEY, peer: client_peer(), line: KIWI_IAMAT.into() },
            EventKind::LocationStored {
                server: BAILEY,
                client: client.clone(),
                line: KIWI_AT.into(),
                from: None,
            },
            EventKind::FloodQueued { from: BAILEY, to: BONA, client: client.clone() },
            EventKind::FloodQueued { from: BAILEY, to: CAMPBELL, client },
            EventKind::LineOut { server: BAILEY, peer: client_peer(), line: KIWI_AT.into() },
        ];
        let start = self.at_micros(1200);
        self.apply_from(start, &events);
    }

    /// kiwi's IAMAT at Bailey, flooded to all five, with the replay run to the end.
    fn flooded() -> Self {
        let mut rig = Self::new();
        let events = rig.flood(BAILEY, KIWI, KIWI_IAMAT, KIWI_AT);
        let start = rig.at_micros(1200);
        rig.apply_from(start, &events);
        rig.tick(5000);
        rig
    }
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

fn draw(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer as text, a line per row, wide symbols counted once, trailing blanks removed.
fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in buf.area.top()..buf.area.bottom() {
        let mut line = String::new();
        let mut skip = 0usize;
        for x in buf.area.left()..buf.area.right() {
            let cell = &buf[(x, y)];
            if skip == 0 {
                line.push_str(cell.symbol());
                skip = Span::raw(cell.symbol()).width().max(1);
            }
            skip -= 1;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn screen(app: &App) -> String {
    text(&draw(app, 120, 36))
}

/// Every cell showing `symbol`.
fn find(buf: &Buffer, symbol: &str) -> Vec<(u16, u16)> {
    let mut found = Vec::new();
    for y in buf.area.top()..buf.area.bottom() {
        for x in buf.area.left()..buf.area.right() {
            if buf[(x, y)].symbol() == symbol {
                found.push((x, y));
            }
        }
    }
    found
}

/// Where `needle` starts in row `y`, as a column.
fn find_in_row(buf: &Buffer, y: u16, needle: &str) -> Option<u16> {
    let row: Vec<&str> =
        (buf.area.left()..buf.area.right()).map(|x| buf[(x, y)].symbol()).collect();
    let needle: Vec<String> = needle.chars().map(String::from).collect();
    row.windows(needle.len())
        .position(|w| w.iter().zip(&needle).all(|(a, b)| a == b))
        .map(|i| i as u16)
}

fn row_text(buf: &Buffer, y: u16) -> String {
    (buf.area.left()..buf.area.right()).map(|x| buf[(x, y)].symbol()).collect()
}

// ---------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------

#[test]
fn scene_a_start() {
    let rig = Rig::new();
    insta::assert_snapshot!("a_start", screen(&rig.app));
}

#[test]
fn scene_b_iamat_tokens_midway() {
    let mut rig = Rig::new();
    rig.iamat_at_bailey();
    rig.tick(300);
    assert_eq!(rig.app.playback.in_flight(), 2);
    let buf = draw(&rig.app, 120, 36);
    assert_eq!(find(&buf, &graph::GLYPH_TOKEN.to_string()).len(), 2, "{}", text(&buf));
    insta::assert_snapshot!("b_iamat_midway", text(&buf));
}

#[test]
fn scene_c_flood_complete() {
    let rig = Rig::flooded();
    assert_eq!(rig.app.playback.in_flight(), 0);
    let row = rig.app.clients.rows().next().unwrap();
    assert_eq!(row.known_count(), 5);
    let screen = screen(&rig.app);
    assert!(screen.contains("5/5"), "{screen}");
    insta::assert_snapshot!("c_flood_complete", screen);
}

#[test]
fn scene_d_cut_link_selected() {
    let mut rig = Rig::flooded();
    rig.app.now = rig.at(6000);
    // Five servers, then the links in order: Bailey–Bona, Bailey–Campbell, Bona–Campbell,
    // Bona–Clark.
    rig.tab(8);
    assert_eq!(rig.app.selection, Selection::Link(3));
    assert_eq!(rig.key(KeyCode::Char('c')), vec![Effect::Cut("Bona".into(), "Clark".into())]);
    let start = rig.at(6000);
    rig.apply_from(
        start,
        &[
            EventKind::FaultApplied { fault: Fault::Cut(BONA, CLARK) },
            EventKind::LinkDropped { from: BONA, to: CLARK, reason: "cut by operator".into() },
            EventKind::LinkDropped { from: CLARK, to: BONA, reason: "read: EOF".into() },
        ],
    );
    rig.app.feedback(Feedback::Done("cut Bona–Clark".into()));
    rig.tick(6100);
    insta::assert_snapshot!("d_cut_link", screen(&rig.app));
}

#[test]
fn scene_e_killed_server() {
    let mut rig = Rig::flooded();
    rig.app.now = rig.at(6000);
    rig.tab(2);
    assert_eq!(rig.app.selection, Selection::Node(CAMPBELL));
    assert!(rig.key(KeyCode::Char('k')).is_empty());
    insta::assert_snapshot!("e0_kill_confirm", screen(&rig.app));
    assert_eq!(rig.key(KeyCode::Char('y')), vec![Effect::Kill("Campbell".into())]);
    let start = rig.at(6000);
    rig.apply_from(
        start,
        &[
            EventKind::ServerStopped { server: CAMPBELL },
            EventKind::FaultApplied { fault: Fault::Killed(CAMPBELL) },
            EventKind::LinkDropped { from: BAILEY, to: CAMPBELL, reason: "read: EOF".into() },
            EventKind::LinkDropped { from: BONA, to: CAMPBELL, reason: "read: EOF".into() },
            EventKind::LinkDropped {
                from: JAQUEZ,
                to: CAMPBELL,
                reason: "connect: connection refused".into(),
            },
        ],
    );
    rig.app.feedback(Feedback::Done("killed Campbell".into()));
    rig.tick(6100);
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 4);
    let screen = screen(&rig.app);
    assert!(screen.contains("4/5"), "{screen}");
    insta::assert_snapshot!("e_killed_server", screen);
}

#[test]
fn scene_f_help_overlay() {
    let mut rig = Rig::flooded();
    assert!(rig.key(KeyCode::Char('?')).is_empty());
    assert!(matches!(rig.app.mode, Mode::Help { .. }));
    insta::assert_snapshot!("f_help", screen(&rig.app));
}

#[test]
fn scene_g_command_error() {
    let mut rig = Rig::flooded();
    assert!(rig.command("iamat Bailey kiwi +91-118").is_empty());
    let error = rig.editor_error().expect("an inline error");
    assert!(error.contains("91"), "{error}");
    let screen = screen(&rig.app);
    assert!(screen.contains("✗"), "{screen}");
    insta::assert_snapshot!("g_command_error", screen);
}

#[test]
fn scene_h_whatsat_popup() {
    let mut rig = Rig::flooded();
    let reply = format!(
        "{KIWI_AT}\n{}\n\n",
        r#"{
  "html_attributions": [],
  "results": [
    {
      "name": "Royce Hall",
      "vicinity": "10745 Dickson Ct, Los Angeles",
      "rating": 4.8
    },
    {
      "name": "Powell Library",
      "vicinity": "10740 Dickson Ct, Los Angeles",
      "rating": 4.7
    }
  ],
  "status": "OK"
}"#
    );
    rig.app.feedback(Feedback::Reply {
        server: "Jaquez".into(),
        kind: SendKind::WhatsAt,
        request: format!("WHATSAT {KIWI} 10 2"),
        reply,
    });
    assert!(matches!(rig.app.mode, Mode::Popup { .. }));
    insta::assert_snapshot!("h_whatsat_popup", screen(&rig.app));
}

fn paused_with_held() -> Rig {
    let mut rig = Rig::flooded();
    let start = rig.at(6000);
    rig.apply_from(start, &[EventKind::FaultApplied { fault: Fault::Paused }]);
    rig.app.engine.paused = true;
    rig.tab(3);
    let plum: Arc<str> = "plum".into();
    let stored: Arc<str> = "AT Clark +0.000301945 plum +48.856613+2.352222 1621464900.5".into();
    let start = rig.at(7000);
    rig.apply_from(
        start,
        &[
            EventKind::LineIn {
                server: CLARK,
                peer: client_peer(),
                line: "IAMAT plum +48.856613+2.352222 1621464900.5".into(),
            },
            EventKind::LocationStored {
                server: CLARK,
                client: plum.clone(),
                line: stored.clone(),
                from: None,
            },
            EventKind::FloodHeld { from: CLARK, to: BONA, client: plum.clone() },
            EventKind::FloodHeld { from: CLARK, to: JAQUEZ, client: plum },
            EventKind::LineOut { server: CLARK, peer: client_peer(), line: stored },
        ],
    );
    rig.app.engine.held = 2;
    rig.tick(9000);
    rig
}

#[test]
fn scene_i_paused_with_held_reports() {
    let rig = paused_with_held();
    let buf = draw(&rig.app, 120, 36);
    // Both held reports wait at Clark; the header's badge has the same glyph.
    let held: Vec<_> =
        find(&buf, &graph::GLYPH_HELD.to_string()).into_iter().filter(|&(_, y)| y > 0).collect();
    assert_eq!(held.len(), 2, "{}", text(&buf));
    insta::assert_snapshot!("i_paused_held", text(&buf));
}

#[test]
fn scene_j_compact_with_command_line() {
    let mut rig = Rig::flooded();
    assert!(rig.key(KeyCode::Char(':')).is_empty());
    assert!(rig.type_text("whatsat Bona kiwi").is_empty());
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), format!("whatsat Bona {KIWI} "));
    insta::assert_snapshot!("j_compact_command", text(&draw(&rig.app, 80, 24)));
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[test]
fn q_and_ctrl_c_quit() {
    let mut rig = Rig::new();
    assert_eq!(rig.key(KeyCode::Char('q')), vec![Effect::Quit]);
    assert_eq!(rig.app.key(ctrl('c')), vec![Effect::Quit]);
    // Ctrl-C quits from anywhere, even with the command line open.
    assert!(rig.key(KeyCode::Char(':')).is_empty());
    assert_eq!(rig.app.key(ctrl('c')), vec![Effect::Quit]);
}

#[test]
fn kill_asks_first_and_yes_kills() {
    let mut rig = Rig::new();
    rig.tab(3);
    assert!(rig.key(KeyCode::Char('k')).is_empty());
    match &rig.app.mode {
        Mode::Confirm { prompt, effect } => {
            assert!(prompt.contains("Clark"), "{prompt}");
            assert_eq!(effect, &Effect::Kill("Clark".into()));
        }
        other => panic!("no confirmation: {other:?}"),
    }
    assert_eq!(rig.key(KeyCode::Char('y')), vec![Effect::Kill("Clark".into())]);
    assert!(matches!(rig.app.mode, Mode::Normal));
}

#[test]
fn kill_cancelled_with_n_does_nothing() {
    let mut rig = Rig::new();
    assert!(rig.key(KeyCode::Char('k')).is_empty());
    assert!(matches!(rig.app.mode, Mode::Confirm { .. }));
    assert!(rig.key(KeyCode::Char('n')).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
    // Nothing is pending: a later y is just a key.
    assert!(rig.key(KeyCode::Char('y')).is_empty());
}

#[test]
fn kill_of_a_stopped_server_is_refused() {
    let mut rig = Rig::new();
    rig.app.apply(&EventKind::ServerStopped { server: BAILEY });
    assert!(rig.key(KeyCode::Char('k')).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
    assert!(rig.app.status.as_ref().is_some_and(|s| s.error));
}

#[test]
fn cut_and_heal_the_selected_link() {
    let mut rig = Rig::new();
    rig.tab(5);
    assert_eq!(rig.app.selection, Selection::Link(0));
    assert_eq!(rig.key(KeyCode::Char('c')), vec![Effect::Cut("Bailey".into(), "Bona".into())]);
    assert_eq!(rig.key(KeyCode::Char('h')), vec![Effect::Heal("Bailey".into(), "Bona".into())]);
    // Back-tab returns to the last server.
    assert!(rig.key(KeyCode::BackTab).is_empty());
    assert_eq!(rig.app.selection, Selection::Node(JAQUEZ));
}

#[test]
fn cut_with_a_server_selected_opens_the_command_line() {
    let mut rig = Rig::new();
    assert!(rig.key(KeyCode::Char('c')).is_empty());
    assert_eq!(rig.editor_text(), "cut Bailey ");
    assert!(rig.type_text("Bona").is_empty());
    assert_eq!(rig.key(KeyCode::Enter), vec![Effect::Cut("Bailey".into(), "Bona".into())]);
}

#[test]
fn p_pauses_or_resumes_by_engine_state() {
    let mut rig = Rig::new();
    assert_eq!(rig.key(KeyCode::Char('p')), vec![Effect::Pause]);
    rig.app.engine.paused = true;
    assert_eq!(rig.key(KeyCode::Char('p')), vec![Effect::Resume]);
    rig.app.apply(&EventKind::FaultApplied { fault: Fault::Resumed(3) });
    assert!(!rig.app.engine.paused);
    assert_eq!(rig.key(KeyCode::Char('p')), vec![Effect::Pause]);
}

#[test]
fn plus_and_minus_step_the_link_delay_and_stop_at_zero() {
    let mut rig = Rig::new();
    assert_eq!(rig.key(KeyCode::Char('-')), vec![Effect::Delay(Duration::ZERO)]);
    assert_eq!(rig.key(KeyCode::Char('+')), vec![Effect::Delay(Duration::from_millis(100))]);
    rig.app.engine.delay = Duration::from_millis(250);
    assert_eq!(rig.key(KeyCode::Char('+')), vec![Effect::Delay(Duration::from_millis(350))]);
    assert_eq!(rig.key(KeyCode::Char('-')), vec![Effect::Delay(Duration::from_millis(150))]);
    rig.app.engine.delay = Duration::from_millis(60);
    assert_eq!(rig.key(KeyCode::Char('-')), vec![Effect::Delay(Duration::ZERO)]);
}

#[test]
fn command_line_cut() {
    let mut rig = Rig::new();
    assert!(rig.key(KeyCode::Char(':')).is_empty());
    assert!(matches!(rig.app.mode, Mode::Command(_)));
    assert_eq!(
        rig.command_rest("cut Bailey Bona"),
        vec![Effect::Cut("Bailey".into(), "Bona".into())]
    );
    assert!(matches!(rig.app.mode, Mode::Normal));
}

#[test]
fn command_line_iamat_builds_the_wire_line() {
    let mut rig = Rig::new();
    assert_eq!(
        rig.command("iamat Bailey kiwi 34.07,-118.44 1621464827.5"),
        vec![Effect::Send {
            server: "Bailey".into(),
            line: "IAMAT kiwi +34.07-118.44 1621464827.5".into(),
            kind: SendKind::IAmAt,
        }]
    );
}

#[test]
fn command_line_error_keeps_the_line_open() {
    let mut rig = Rig::new();
    assert!(rig.command("cut Bailey Jaquez").is_empty());
    assert_eq!(rig.editor_text(), "cut Bailey Jaquez");
    let error = rig.editor_error().unwrap();
    assert!(error.contains("not neighbours"), "{error}");
    // Editing clears the error.
    assert!(rig.key(KeyCode::Backspace).is_empty());
    assert_eq!(rig.editor_error(), None);
}

#[test]
fn tab_completes_a_verb() {
    let mut rig = Rig::new();
    assert!(rig.key(KeyCode::Char(':')).is_empty());
    assert!(rig.type_text("ki").is_empty());
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), "kill ");
    assert!(rig.type_text("Ja").is_empty());
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), "kill Jaquez ");
    assert_eq!(rig.key(KeyCode::Enter), vec![Effect::Kill("Jaquez".into())]);
}

#[test]
fn esc_closes_every_overlay() {
    let mut rig = Rig::new();
    assert!(rig.key(KeyCode::Char('?')).is_empty());
    assert!(matches!(rig.app.mode, Mode::Help { .. }));
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));

    assert!(rig.key(KeyCode::Char(':')).is_empty());
    assert!(rig.type_text("paus").is_empty());
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));

    rig.app.feedback(Feedback::Reply {
        server: "Bona".into(),
        kind: SendKind::WhatsAt,
        request: "WHATSAT kiwi 10 1".into(),
        reply: "AT Bona +0.1 kiwi +1+1 1\n{}\n\n".into(),
    });
    assert!(matches!(rig.app.mode, Mode::Popup { .. }));
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));

    assert!(rig.key(KeyCode::Char('k')).is_empty());
    assert!(matches!(rig.app.mode, Mode::Confirm { .. }));
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
}

#[test]
fn up_recalls_the_previous_command() {
    let mut rig = Rig::new();
    assert_eq!(rig.command("delay 300ms"), vec![Effect::Delay(Duration::from_millis(300))]);
    assert_eq!(rig.command("pause"), vec![Effect::Pause]);
    assert!(rig.key(KeyCode::Char(':')).is_empty());
    assert!(rig.key(KeyCode::Up).is_empty());
    assert_eq!(rig.editor_text(), "pause");
    assert!(rig.key(KeyCode::Up).is_empty());
    assert_eq!(rig.editor_text(), "delay 300ms");
    assert!(rig.key(KeyCode::Down).is_empty());
    assert_eq!(rig.editor_text(), "pause");
    assert_eq!(rig.key(KeyCode::Enter), vec![Effect::Pause]);
}

#[test]
fn a_failed_command_is_not_remembered() {
    let mut rig = Rig::new();
    assert_eq!(rig.command("step"), vec![Effect::Step]);
    assert!(rig.command("bogus").is_empty());
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(rig.key(KeyCode::Char(':')).is_empty());
    assert!(rig.key(KeyCode::Up).is_empty());
    assert_eq!(rig.editor_text(), "step");
}

#[test]
fn i_prefills_the_selected_server() {
    let mut rig = Rig::new();
    rig.tab(4);
    assert!(rig.key(KeyCode::Char('i')).is_empty());
    assert_eq!(rig.editor_text(), "iamat Jaquez ");
}

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

#[test]
fn the_same_report_stored_at_k_servers_is_known_by_k() {
    let mut rig = Rig::new();
    let client: Arc<str> = KIWI.into();
    for (k, server) in [BAILEY, BONA, CAMPBELL, CLARK, JAQUEZ].into_iter().enumerate() {
        rig.app.apply(&EventKind::LocationStored {
            server,
            client: client.clone(),
            line: KIWI_AT.into(),
            from: (k > 0).then_some(BAILEY),
        });
        let rows: Vec<_> = rig.app.clients.rows().collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].known_count(), k + 1);
        assert_eq!(rows[0].origin, "Bailey");
        let screen = screen(&rig.app);
        assert!(screen.contains(&format!("{}/5", k + 1)), "{screen}");
    }
    // A duplicate arriving changes nothing.
    rig.app.apply(&EventKind::FloodSuppressed {
        server: BONA,
        client: client.clone(),
        from: Some(CAMPBELL),
    });
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 5);
    // A newer report starts over at the server that stored it.
    let newer: Arc<str> = "AT Clark +0.5 kiwi.cs.ucla.edu +34.1-118.4 1621464999.5".into();
    rig.app.apply(&EventKind::LocationStored { server: CLARK, client, line: newer, from: None });
    let row = rig.app.clients.rows().next().unwrap();
    assert_eq!((row.known_count(), row.origin.as_str()), (1, "Clark"));
}

#[test]
fn a_lagged_view_counts_and_resyncs() {
    let mut rig = Rig::flooded();
    assert_eq!(rig.app.lagged, 0);
    let mut truth = snapshot(&rig.topology);
    truth.servers[CLARK].up = false;
    truth.links[3].cut = true;
    truth.links[3].a_to_b = LinkState::Cut;
    truth.links[3].b_to_a = LinkState::Idle;
    for id in [BAILEY, BONA] {
        truth.servers[id].clients.push(KIWI_AT.into());
    }
    rig.app.resync(120, &truth);
    rig.app.resync(7, &truth);
    assert_eq!(rig.app.lagged, 127);
    assert!(!rig.app.servers[CLARK].up);
    assert!(rig.app.links[3].cut);
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 2);
    assert!(rig.app.playback.tokens.is_empty());
    let buf = draw(&rig.app, 120, 36);
    let header = row_text(&buf, 0);
    assert!(header.contains("dropped 127"), "{header}");
}

#[test]
fn the_replay_keeps_causal_order() {
    let mut rig = Rig::new();
    let events = rig.flood(BAILEY, KIWI, KIWI_IAMAT, KIWI_AT);
    let start = rig.at(0);
    rig.apply_from(start, &events);
    // The truth is known at once...
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 5);
    // ...but the replay shows only the first hops moving at first.
    rig.tick(300);
    let moving: Vec<_> = rig
        .app
        .playback
        .tokens
        .iter()
        .filter(|t| t.start <= rig.app.now)
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(moving, vec![(BAILEY, BONA), (BAILEY, CAMPBELL)]);
    rig.tick(5000);
    assert!(rig.app.playback.tokens.is_empty());
    assert!(!rig.app.animating());
}

// ---------------------------------------------------------------------------------------------
// Colours that mean something
// ---------------------------------------------------------------------------------------------

#[test]
fn a_cut_link_is_marked_in_red() {
    let mut rig = Rig::flooded();
    rig.app.apply(&EventKind::FaultApplied { fault: Fault::Cut(BONA, CLARK) });
    let buf = draw(&rig.app, 120, 36);
    let marks = find(&buf, &graph::MARK_CUT.to_string());
    assert_eq!(marks.len(), 1, "{}", text(&buf));
    let (x, y) = marks[0];
    assert_eq!(buf[(x, y)].fg, Color::Red);
    // Midway between Bona and Clark: on their row, between the two labels.
    let bona = find_in_row(&buf, y, "Bona").expect("Bona on the marker's row");
    let clark = find_in_row(&buf, y, "Clark").expect("Clark on the marker's row");
    assert!(bona < x && x < clark, "marker at {x}, Bona at {bona}, Clark at {clark}");

    // Selected, it stays red.
    rig.tab(8);
    let buf = draw(&rig.app, 120, 36);
    let marks = find(&buf, &graph::MARK_CUT.to_string());
    assert_eq!(marks.len(), 1);
    assert_eq!(buf[marks[0]].fg, Color::Red);
}

#[test]
fn a_killed_server_is_red() {
    let mut rig = Rig::flooded();
    rig.app.apply(&EventKind::ServerStopped { server: JAQUEZ });
    let buf = draw(&rig.app, 120, 36);
    let glyphs = find(&buf, &graph::GLYPH_KILLED.to_string());
    assert_eq!(glyphs.len(), 1, "{}", text(&buf));
    let (x, y) = glyphs[0];
    assert_eq!(buf[(x, y)].fg, Color::Red);
    assert!(row_text(&buf, y).contains("Jaquez"));
    let header = row_text(&buf, 0);
    assert!(header.contains("servers 4/5"), "{header}");
}

#[test]
fn the_paused_badge_is_yellow() {
    let rig = paused_with_held();
    let buf = draw(&rig.app, 120, 36);
    let x = find_in_row(&buf, 0, "paused").expect("a paused badge in the header");
    assert_eq!(buf[(x, 0)].bg, Color::Yellow);
    assert!(row_text(&buf, 0).contains("2 held"), "{}", row_text(&buf, 0));

    let running = Rig::new();
    let buf = draw(&running.app, 120, 36);
    assert_eq!(find_in_row(&buf, 0, "paused"), None);
    assert!((0..120).all(|x| buf[(x, 0)].bg != Color::Yellow));
}

#[test]
fn the_compact_layout_drops_the_side_panes() {
    let rig = Rig::flooded();
    let screen = text(&draw(&rig.app, 80, 24));
    assert!(screen.contains("Topology"), "{screen}");
    assert!(!screen.contains("Clients"), "{screen}");
    assert!(!screen.contains("Traffic"), "{screen}");
    let full = text(&draw(&rig.app, 120, 36));
    assert!(full.contains("Clients") && full.contains("Traffic") && full.contains("World"));
}

#[test]
fn every_mode_draws_at_any_size() {
    let sizes = [(1, 1), (12, 3), (40, 10), (79, 23), (99, 29), (100, 30), (200, 60)];
    let mut rigs = Vec::new();
    rigs.push(paused_with_held());
    let mut help = Rig::flooded();
    help.key(KeyCode::Char('?'));
    rigs.push(help);
    let mut confirm = Rig::flooded();
    confirm.key(KeyCode::Char('k'));
    rigs.push(confirm);
    let mut error = Rig::flooded();
    error.command("iamat Bailey kiwi +91-118");
    rigs.push(error);
    let mut popup = Rig::flooded();
    popup.app.feedback(Feedback::Reply {
        server: "Bona".into(),
        kind: SendKind::Raw,
        request: "WHATSAT kiwi 10 1".into(),
        reply: "first\nsecond\nthird\n".into(),
    });
    rigs.push(popup);
    for rig in &rigs {
        for (width, height) in sizes {
            let buf = draw(&rig.app, width, height);
            assert_eq!(buf.area.width, width);
        }
    }
}

#[test]
fn a_stalled_link_is_shown_until_it_recovers() {
    let mut rig = Rig::flooded();
    let start = rig.at(6000);
    rig.apply_from(start, &[EventKind::LinkStalled { from: BONA, to: CLARK }]);
    let link = rig.app.links.iter().find(|l| (l.a, l.b) == (BONA, CLARK)).unwrap();
    assert_eq!(link.look(&rig.app.servers), LinkLook::Stalled);
    rig.apply_from(rig.at(6100), &[EventKind::LinkRecovered { from: BONA, to: CLARK }]);
    let link = rig.app.links.iter().find(|l| (l.a, l.b) == (BONA, CLARK)).unwrap();
    assert_eq!(link.look(&rig.app.servers), LinkLook::Up);
}
