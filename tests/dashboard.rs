//! The dashboard seen from outside: the `App` model driven by synthetic engine events and
//! keys, drawn by `view::draw` into an in-memory terminal. Snapshots of whole screens (the
//! flood, the operator's faults one by one, the overlays), key handling through the public
//! API, and the colours that carry meaning. No herd, no sockets.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use herdctl::command::COMMANDS;
use herdctl::config::Topology;
use herdctl::herd::control::{
    ActiveFault, Applied, Control, ControlError, Delay, Directed, Links, Loss, Policy, Spread,
};
use herdctl::herd::{
    DropReason, EventKind, HerdEvent, HerdSnapshot, LinkFaultsView, LinkState, ServerId, Update,
};
use herdctl::lab::metrics::Metrics;
use herdctl::tui::app::{App, Effect, Feedback, Mode, Selection, SendKind, Tone};
use herdctl::tui::graph::{self, EdgeState, LOOKS, Mark};
use herdctl::tui::history::History;
use herdctl::tui::theme::Theme;
use herdctl::tui::{keymap, layout, view};
use herdctl::wall::Wall;
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
const KIWI_TIME: &str = "1621464827.959498503";
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

fn update(client: &str, time: &str) -> Update {
    Update { client: client.into(), time: time.into() }
}

fn kiwi() -> Update {
    update(KIWI, KIWI_TIME)
}

fn link(from: ServerId, to: ServerId) -> Directed {
    Directed::new(from, to)
}

/// Both directions of link `a`–`b`, `a`→`b` first.
fn both(a: ServerId, b: ServerId) -> Vec<Directed> {
    vec![link(a, b), link(b, a)]
}

fn cut_view() -> LinkFaultsView {
    LinkFaultsView { cut: true, ..LinkFaultsView::default() }
}

fn loss_view(rate: f64) -> LinkFaultsView {
    LinkFaultsView { loss: Some(Loss { rate, burst: 1.0 }), ..LinkFaultsView::default() }
}

fn delay_view(millis: u64, jitter: u64) -> LinkFaultsView {
    let delay = Delay {
        delay: Duration::from_millis(millis),
        jitter: Duration::from_millis(jitter),
        spread: Spread::Uniform,
    };
    LinkFaultsView { delay: Some(delay), ..LinkFaultsView::default() }
}

fn dup_view(rate: f64) -> LinkFaultsView {
    LinkFaultsView { dup: Some(rate), ..LinkFaultsView::default() }
}

fn fault(label: &str, dropped: u64, duplicated: u64, delayed: u64) -> ActiveFault {
    ActiveFault { label: label.into(), dropped, duplicated, delayed, remaining: None }
}

struct Rig {
    app: App,
    t0: Instant,
    topology: Topology,
    seq: u64,
}

impl Rig {
    fn new() -> Self {
        let topology = topology();
        let t0 = Instant::now();
        let mut truth = snapshot(&topology);
        truth.seed = 7;
        let mut app =
            App::new("cs131", &truth, layout::positions(&topology), History::in_memory(), t0);
        // As the dashboard does over a live herd: every event applied is folded in.
        app.metrics = Some(Metrics::new(&topology));
        // Traffic times read 12:00:00.000 at the start, whatever the machine's zone.
        app.wall = Wall::utc(t0, UNIX_EPOCH + Duration::from_secs(1_764_590_400));
        Self { app, t0, topology, seq: 0 }
    }

    fn at(&self, millis: u64) -> Instant {
        self.t0 + Duration::from_millis(millis)
    }

    fn at_micros(&self, micros: u64) -> Instant {
        self.t0 + Duration::from_micros(micros)
    }

    /// `kind` stamped as the herd would (sequence numbers in order, time from the start).
    fn event(&mut self, kind: EventKind) -> HerdEvent {
        let t_ns = u64::try_from(self.app.now.duration_since(self.t0).as_nanos()).unwrap();
        self.seq += 1;
        HerdEvent { seq: self.seq - 1, t_ns, kind }
    }

    /// Takes in one event now.
    fn apply(&mut self, kind: EventKind) {
        let event = self.event(kind);
        self.app.apply(&event);
    }

    /// Applies `events` one after another from `start`, 150µs apart, as a real herd would
    /// emit them in a burst.
    fn apply_from(&mut self, start: Instant, events: Vec<EventKind>) {
        for (i, kind) in events.into_iter().enumerate() {
            self.app.now = start + Duration::from_micros(150 * i as u64);
            self.apply(kind);
        }
    }

    /// What the herd emits and answers when `control` changes the faults of `changed` links
    /// (each direction with its new faults): the links' faults, then the control itself,
    /// then the answer, at `millis`.
    fn lab(
        &mut self,
        millis: u64,
        control: Control,
        text: &str,
        changed: &[(ServerId, ServerId, LinkFaultsView)],
    ) {
        let mut events: Vec<EventKind> = changed
            .iter()
            .map(|(from, to, faults)| EventKind::LinkFaults {
                link: link(*from, *to),
                faults: faults.clone(),
            })
            .collect();
        events.push(EventKind::Controlled { control, text: text.into() });
        let start = self.at(millis);
        self.apply_from(start, events);
        self.app.feedback(Feedback::Control(Ok(Applied::changed(text))));
    }

    fn tick(&mut self, millis: u64) {
        let now = self.at(millis);
        self.app.tick(now);
    }

    fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.app.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn char(&mut self, c: char) -> Vec<Effect> {
        self.key(KeyCode::Char(c))
    }

    fn tab(&mut self, times: usize) {
        for _ in 0..times {
            assert!(self.key(KeyCode::Tab).is_empty());
        }
    }

    /// Selects link `a`–`b` with `e` (the links in topology order).
    fn select_link(&mut self, a: ServerId, b: ServerId) {
        let i = self.app.links.iter().position(|l| (l.a, l.b) == (a, b)).unwrap();
        for _ in 0..=self.app.links.len() {
            if self.app.selection == Selection::Link(i) {
                return;
            }
            assert!(self.char('e').is_empty());
        }
        panic!("e never reached link {i}");
    }

    fn select_server(&mut self, id: ServerId) {
        for _ in 0..=self.app.servers.len() {
            if self.app.selection == Selection::Node(id) {
                return;
            }
            self.tab(1);
        }
        panic!("Tab never reached server {id:?}");
    }

    /// Types `text` key by key (into the command line, if open).
    fn type_text(&mut self, text: &str) -> Vec<Effect> {
        text.chars().flat_map(|c| self.char(c)).collect()
    }

    /// `:` + `line` + Enter.
    fn command(&mut self, line: &str) -> Vec<Effect> {
        assert!(self.char(':').is_empty());
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
    fn flood(
        &self,
        origin: ServerId,
        update: &Update,
        iamat: &str,
        stored: &str,
    ) -> Vec<EventKind> {
        let stored: Arc<str> = stored.into();
        let queued = |from, to| EventKind::FloodQueued {
            from,
            to,
            update: update.clone(),
            delay_ns: 0,
            delayed_by: None,
        };
        let mut events = vec![
            EventKind::LineIn { server: origin, peer: client_peer(), line: iamat.into() },
            EventKind::LocationStored {
                server: origin,
                update: update.clone(),
                line: stored.clone(),
                from: None,
            },
        ];
        let mut has = vec![false; self.topology.servers.len()];
        has[origin] = true;
        let mut wire = VecDeque::new();
        for &to in &self.topology.servers[origin].neighbours {
            events.push(queued(origin, to));
            wire.push_back((origin, to));
        }
        let mut replied = false;
        while let Some((from, to)) = wire.pop_front() {
            let line: Arc<str> = format!("{stored} {}", self.name(from)).into();
            events.push(EventKind::FloodSent {
                from,
                to,
                update: update.clone(),
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
                    update: update.clone(),
                    from: Some(from),
                });
                continue;
            }
            has[to] = true;
            events.push(EventKind::LocationStored {
                server: to,
                update: update.clone(),
                line: stored.clone(),
                from: Some(from),
            });
            for &next in &self.topology.servers[to].neighbours {
                if next != from {
                    events.push(queued(to, next));
                    wire.push_back((to, next));
                }
            }
        }
        events
    }

    /// The start of an IAMAT at Bailey: stored, queued to both neighbours, answered.
    fn iamat_at_bailey(&mut self) {
        let queued = |to| EventKind::FloodQueued {
            from: BAILEY,
            to,
            update: kiwi(),
            delay_ns: 0,
            delayed_by: None,
        };
        let events = vec![
            EventKind::LineIn { server: BAILEY, peer: client_peer(), line: KIWI_IAMAT.into() },
            EventKind::LocationStored {
                server: BAILEY,
                update: kiwi(),
                line: KIWI_AT.into(),
                from: None,
            },
            queued(BONA),
            queued(CAMPBELL),
            EventKind::LineOut { server: BAILEY, peer: client_peer(), line: KIWI_AT.into() },
        ];
        let start = self.at_micros(1200);
        self.apply_from(start, events);
    }

    /// kiwi's IAMAT at Bailey, flooded to all five, with the replay run to the end.
    fn flooded() -> Self {
        let mut rig = Self::new();
        let events = rig.flood(BAILEY, &kiwi(), KIWI_IAMAT, KIWI_AT);
        let start = rig.at_micros(1200);
        rig.apply_from(start, events);
        rig.tick(5000);
        rig
    }
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn control(control: Control) -> Vec<Effect> {
    vec![Effect::Control(control)]
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

fn compact(app: &App) -> String {
    text(&draw(app, 80, 24))
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

/// The rows of the topology pane (the top-left pane at 120×36, the body at 80×24).
fn topology_rows(buf: &Buffer) -> Vec<u16> {
    (topology_title(buf) + 1..buf.area.height)
        .take_while(|&y| !row_text(buf, y).starts_with('╰'))
        .collect()
}

/// The row of the topology pane's title (below the header, and the tab strip when shown).
fn topology_title(buf: &Buffer) -> u16 {
    (0..buf.area.height).find(|&y| row_text(buf, y).starts_with('╭')).expect("a topology pane")
}

/// Cells of the topology pane showing `symbol`.
fn in_topology(buf: &Buffer, symbol: &str) -> Vec<(u16, u16)> {
    let rows = topology_rows(buf);
    let right = if buf.area.width >= 100 { buf.area.width / 2 } else { buf.area.width };
    find(buf, symbol).into_iter().filter(|&(x, y)| rows.contains(&y) && x < right).collect()
}

// ---------------------------------------------------------------------------------------------
// Snapshots: the flood and the console
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
    assert_eq!(find(&buf, graph::GLYPH_TOKEN).len(), 2, "{}", text(&buf));
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
    // The links in order: Bailey–Bona, Bailey–Campbell, Bona–Campbell, Bona–Clark.
    rig.type_text("eeee");
    assert_eq!(rig.app.selection, Selection::Link(3));
    let cut = Control::Cut { links: both(BONA, CLARK), lasting: None };
    assert_eq!(rig.char('c'), control(cut.clone()));
    rig.lab(6000, cut, "cut Bona<->Clark", &[(BONA, CLARK, cut_view()), (CLARK, BONA, cut_view())]);
    rig.tick(6100);
    insta::assert_snapshot!("d_cut_link", screen(&rig.app));
}

#[test]
fn scene_e_killed_server() {
    let mut rig = Rig::flooded();
    rig.app.now = rig.at(6000);
    rig.tab(2);
    assert_eq!(rig.app.selection, Selection::Node(CAMPBELL));
    assert!(rig.char('k').is_empty());
    insta::assert_snapshot!("e0_kill_confirm", screen(&rig.app));
    let kill = Control::Kill { server: CAMPBELL };
    assert_eq!(rig.char('y'), control(kill.clone()));
    let start = rig.at(6000);
    rig.apply_from(
        start,
        vec![
            EventKind::ServerStopped { server: CAMPBELL },
            EventKind::LinkDropped { from: BAILEY, to: CAMPBELL, reason: "read: EOF".into() },
            EventKind::LinkDropped { from: BONA, to: CAMPBELL, reason: "read: EOF".into() },
            EventKind::LinkDropped {
                from: JAQUEZ,
                to: CAMPBELL,
                reason: "connect: connection refused".into(),
            },
            EventKind::Controlled { control: kill, text: "killed Campbell".into() },
        ],
    );
    rig.app.feedback(Feedback::Control(Ok(Applied::changed("killed Campbell"))));
    rig.tick(6100);
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 4);
    let screen = screen(&rig.app);
    assert!(screen.contains("4/5"), "{screen}");
    insta::assert_snapshot!("e_killed_server", screen);
}

#[test]
fn scene_f_help_overlay() {
    let mut rig = Rig::flooded();
    assert!(rig.char('?').is_empty());
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
    let text = "paused: reports between servers are held (step releases one, resume all)";
    rig.apply_from(
        start,
        vec![EventKind::Controlled { control: Control::Pause, text: text.into() }],
    );
    rig.app.engine.paused = true;
    rig.tab(3);
    let plum = update("plum", "1621464900.5");
    let stored: Arc<str> = "AT Clark +0.000301945 plum +48.856613+2.352222 1621464900.5".into();
    let start = rig.at(7000);
    rig.apply_from(
        start,
        vec![
            EventKind::LineIn {
                server: CLARK,
                peer: client_peer(),
                line: "IAMAT plum +48.856613+2.352222 1621464900.5".into(),
            },
            EventKind::LocationStored {
                server: CLARK,
                update: plum.clone(),
                line: stored.clone(),
                from: None,
            },
            EventKind::FloodHeld { from: CLARK, to: BONA, update: plum.clone() },
            EventKind::FloodHeld { from: CLARK, to: JAQUEZ, update: plum },
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
    let held: Vec<_> = find(&buf, graph::GLYPH_HELD).into_iter().filter(|&(_, y)| y > 0).collect();
    assert_eq!(held.len(), 2, "{}", text(&buf));
    insta::assert_snapshot!("i_paused_held", text(&buf));
}

#[test]
fn scene_j_compact_with_command_line() {
    let mut rig = Rig::flooded();
    assert!(rig.char(':').is_empty());
    assert!(rig.type_text("whatsat Bona kiwi").is_empty());
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), format!("whatsat Bona {KIWI} "));
    insta::assert_snapshot!("j_compact_command", compact(&rig.app));
}

// ---------------------------------------------------------------------------------------------
// Snapshots: the flood laboratory, one fault at a time (80×24, where the graph is the body)
// ---------------------------------------------------------------------------------------------

#[test]
fn scene_k1_one_way_cut() {
    let mut rig = Rig::flooded();
    let cut = Control::Cut { links: vec![link(BONA, CLARK)], lasting: None };
    assert_eq!(rig.command("cut Bona->Clark"), control(cut.clone()));
    rig.lab(6000, cut, "cut Bona->Clark", &[(BONA, CLARK, cut_view())]);
    let buf = draw(&rig.app, 80, 24);
    // Bona is left of Clark: the arrow points right, to where reports no longer go.
    let marks = in_topology(&buf, graph::MARK_CUT_ONE_WAY[0]);
    assert_eq!(marks.len(), 1, "{}", text(&buf));
    assert_eq!(buf[marks[0]].fg, Color::Red);
    assert!(in_topology(&buf, graph::MARK_CUT).is_empty());
    assert!(row_text(&buf, 0).contains("lnk 5/6"), "{}", row_text(&buf, 0));
    insta::assert_snapshot!("k1_one_way_cut", text(&buf));

    // The other direction too: one mark, both ways.
    rig.lab(
        6100,
        Control::Cut { links: vec![link(CLARK, BONA)], lasting: None },
        "cut Clark->Bona",
        &[(CLARK, BONA, cut_view())],
    );
    let buf = draw(&rig.app, 80, 24);
    assert_eq!(in_topology(&buf, graph::MARK_CUT).len(), 1, "{}", text(&buf));
    assert!(in_topology(&buf, graph::MARK_CUT_ONE_WAY[0]).is_empty());
}

#[test]
fn scene_k2_two_way_cut_and_an_unchanged_answer() {
    let mut rig = Rig::flooded();
    let cut = Control::Cut { links: both(BONA, CLARK), lasting: None };
    assert_eq!(rig.command("cut Bona<->Clark"), control(cut.clone()));
    rig.lab(
        6000,
        cut.clone(),
        "cut Bona<->Clark",
        &[(BONA, CLARK, cut_view()), (CLARK, BONA, cut_view())],
    );
    // Again: the herd answers that nothing needed changing.
    assert_eq!(rig.command("cut Bona Clark"), control(cut));
    rig.app.feedback(Feedback::Control(Ok(Applied::unchanged(
        "Bona->Clark, Clark->Bona are already cut",
    ))));
    let status = rig.app.status.as_ref().unwrap();
    assert_eq!(status.tone, Tone::Unchanged);
    let buf = draw(&rig.app, 80, 24);
    let last = row_text(&buf, 22);
    assert!(last.starts_with("= Bona->Clark, Clark->Bona are already cut"), "{last}");
    assert!(!last.contains('✓') && !last.contains('✗'), "{last}");
    assert_ne!(buf[(0, 22)].fg, Color::Green);
    assert_ne!(buf[(0, 22)].fg, Color::Red);
    insta::assert_snapshot!("k2_two_way_cut", text(&buf));
}

#[test]
fn scene_k3_loss() {
    let mut rig = Rig::flooded();
    rig.select_link(BAILEY, BONA);
    assert!(rig.char('l').is_empty());
    assert_eq!(rig.editor_text(), "loss Bailey<->Bona 20%");
    let loss = Control::Loss {
        links: both(BAILEY, BONA),
        loss: Loss { rate: 0.2, burst: 1.0 },
        lasting: None,
    };
    assert_eq!(rig.key(KeyCode::Enter), control(loss.clone()));
    rig.lab(
        6000,
        loss,
        "loss Bailey<->Bona 20%",
        &[(BAILEY, BONA, loss_view(0.2)), (BONA, BAILEY, loss_view(0.2))],
    );
    let buf = draw(&rig.app, 80, 24);
    let marks = in_topology(&buf, graph::MARK_LOSS);
    assert_eq!(marks.len(), 1, "{}", text(&buf));
    assert_eq!(buf[marks[0]].fg, graph::look(Mark::Loss).style.fg.unwrap());
    let title = row_text(&buf, topology_title(&buf));
    assert!(title.contains("loss 20% both ways"), "{title}");
    insta::assert_snapshot!("k3_loss", text(&buf));
}

#[test]
fn scene_k4_delay_one_way() {
    let mut rig = Rig::flooded();
    let delay = Control::Delay {
        links: Links::Some(vec![link(CLARK, JAQUEZ)]),
        delay: Delay {
            delay: Duration::from_millis(300),
            jitter: Duration::from_millis(50),
            spread: Spread::Uniform,
        },
        lasting: None,
    };
    assert_eq!(rig.command("delay Clark->Jaquez 300ms jitter 50ms"), control(delay.clone()));
    rig.lab(
        6000,
        delay,
        "delay Clark->Jaquez 300ms jitter 50ms",
        &[(CLARK, JAQUEZ, delay_view(300, 50))],
    );
    rig.select_link(CLARK, JAQUEZ);
    let buf = draw(&rig.app, 80, 24);
    // Jaquez is below Clark: the delay's mark, and an arrow down to where it applies.
    let marks = in_topology(&buf, graph::MARK_DELAY);
    assert_eq!(marks.len(), 1, "{}", text(&buf));
    let (x, y) = marks[0];
    assert_eq!(buf[(x + 1, y)].symbol(), graph::ONE_WAY[2]);
    let title = row_text(&buf, topology_title(&buf));
    assert!(title.contains("Clark->Jaquez delay 300ms±50ms"), "{title}");
    insta::assert_snapshot!("k4_delay", text(&buf));
}

#[test]
fn scene_k5_dup() {
    let mut rig = Rig::flooded();
    rig.select_link(CAMPBELL, JAQUEZ);
    assert!(rig.char('u').is_empty());
    assert_eq!(rig.editor_text(), "dup Campbell<->Jaquez 10%");
    let dup = Control::Dup { links: both(CAMPBELL, JAQUEZ), rate: 0.1, lasting: None };
    assert_eq!(rig.key(KeyCode::Enter), control(dup.clone()));
    rig.lab(
        6000,
        dup,
        "dup Campbell<->Jaquez 10%",
        &[(CAMPBELL, JAQUEZ, dup_view(0.1)), (JAQUEZ, CAMPBELL, dup_view(0.1))],
    );
    let buf = draw(&rig.app, 80, 24);
    let screen = text(&buf);
    assert!(screen.contains(graph::MARK_DUP), "{screen}");
    insta::assert_snapshot!("k5_dup", screen);
}

#[test]
fn scene_k6_partition() {
    let mut rig = Rig::flooded();
    let partition = Control::Partition {
        groups: vec![vec![BAILEY, BONA], vec![CAMPBELL, CLARK, JAQUEZ]],
        lasting: None,
    };
    assert_eq!(rig.command("partition Bailey,Bona / Campbell"), control(partition.clone()));
    let crossing = [(BAILEY, CAMPBELL), (BONA, CAMPBELL), (BONA, CLARK)];
    let changed: Vec<_> =
        crossing.iter().flat_map(|&(a, b)| [(a, b, cut_view()), (b, a, cut_view())]).collect();
    rig.lab(6000, partition, "partition Bailey,Bona / Campbell,Clark,Jaquez", &changed);
    let buf = draw(&rig.app, 80, 24);
    assert_eq!(in_topology(&buf, graph::MARK_CUT).len(), 3, "{}", text(&buf));
    assert!(row_text(&buf, 0).contains("lnk 3/6"), "{}", row_text(&buf, 0));
    insta::assert_snapshot!("k6_partition", text(&buf));
}

#[test]
fn scene_k7_hung_and_killed_servers() {
    let mut rig = Rig::flooded();
    rig.select_server(JAQUEZ);
    let hang = Control::Hang { server: JAQUEZ, lasting: None };
    assert_eq!(rig.char('g'), control(hang.clone()));
    rig.apply_from(
        rig.at(6000),
        vec![
            EventKind::ServerHung { server: JAQUEZ, hung: true },
            EventKind::Controlled { control: hang, text: "hung Jaquez".into() },
        ],
    );
    rig.app.feedback(Feedback::Control(Ok(Applied::changed("hung Jaquez"))));
    // g again lets it run.
    assert_eq!(rig.char('g'), control(Control::Unhang { server: JAQUEZ }));
    rig.apply_from(
        rig.at(6100),
        vec![
            EventKind::ServerStopped { server: CAMPBELL },
            EventKind::Controlled {
                control: Control::Kill { server: CAMPBELL },
                text: "killed Campbell".into(),
            },
        ],
    );
    let buf = draw(&rig.app, 80, 24);
    let frozen = find(&buf, graph::GLYPH_HUNG);
    let stopped = find(&buf, graph::GLYPH_KILLED);
    assert_eq!((frozen.len(), stopped.len()), (1, 1), "{}", text(&buf));
    assert_eq!(buf[frozen[0]].fg, graph::look(Mark::Hung).style.fg.unwrap());
    assert_eq!(buf[stopped[0]].fg, Color::Red);
    assert_ne!(buf[frozen[0]].fg, buf[stopped[0]].fg);
    let title = row_text(&buf, topology_title(&buf));
    assert!(title.contains("Jaquez") && title.contains("(hung)"), "{title}");
    insta::assert_snapshot!("k7_hung_and_killed", text(&buf));
}

/// A herd with a fault of every kind in force, one of them timed, and a hung server.
fn faulty() -> Rig {
    let mut rig = Rig::flooded();
    rig.lab(
        6000,
        Control::Cut { links: vec![link(BONA, CLARK)], lasting: Some(Duration::from_secs(30)) },
        "cut Bona->Clark for 30s",
        &[(BONA, CLARK, cut_view())],
    );
    rig.lab(
        6010,
        Control::Loss {
            links: both(BAILEY, BONA),
            loss: Loss { rate: 0.2, burst: 3.0 },
            lasting: None,
        },
        "loss Bailey<->Bona 20% burst 3",
        &[(BAILEY, BONA, loss_view(0.2)), (BONA, BAILEY, loss_view(0.2))],
    );
    rig.lab(
        6020,
        Control::Dup { links: both(CAMPBELL, JAQUEZ), rate: 0.1, lasting: None },
        "dup Campbell<->Jaquez 10%",
        &[(CAMPBELL, JAQUEZ, dup_view(0.1)), (JAQUEZ, CAMPBELL, dup_view(0.1))],
    );
    rig.apply_from(rig.at(6030), vec![EventKind::ServerHung { server: JAQUEZ, hung: true }]);
    let now = rig.at(6040);
    rig.app.now = now;
    let mut timed = fault("cut Bona->Clark for 30s", 4, 0, 0);
    timed.remaining = Some(Duration::from_millis(29_960));
    let faults = vec![
        timed,
        fault("loss Bailey<->Bona 20% burst 3", 2, 0, 0),
        fault("dup Campbell<->Jaquez 10%", 0, 1, 0),
        fault("hang Jaquez", 0, 0, 0),
    ];
    rig.app.faults.set(faults, now);
    rig
}

#[test]
fn scene_l_faults_overlay() {
    let mut rig = faulty();
    assert!(!rig.app.faults_due(rig.app.now));
    assert!(rig.char('F').is_empty());
    assert!(matches!(rig.app.mode, Mode::Faults { .. }));
    // Opening it asks for fresh counters at once.
    assert!(rig.app.faults_due(rig.app.now));
    rig.app.faults.stale = false;
    // Five seconds on, the timed cut has 25 s left.
    rig.tick(11_040);
    let buf = draw(&rig.app, 80, 24);
    let screen = text(&buf);
    assert!(screen.contains("Faults 4"), "{screen}");
    assert!(screen.contains("cut Bona->Clark for 30s"), "{screen}");
    assert!(screen.contains("25s"), "{screen}");
    assert!(screen.contains("❄ Jaquez hung"), "{screen}");
    insta::assert_snapshot!("l_faults_overlay", screen);
    // It asks again for counters every refresh while open.
    assert!(rig.app.faults_due(rig.at(11_040)));
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
    assert!(!rig.app.faults_due(rig.at(20_000)));
}

#[test]
fn scene_m_traffic_shows_faults_and_operator_actions() {
    let mut rig = faulty();
    let start = rig.at(7000);
    rig.apply_from(
        start,
        vec![
            EventKind::FloodDropped {
                from: BONA,
                to: CLARK,
                update: kiwi(),
                reason: DropReason::Cut,
                fault: Some("cut Bona->Clark for 30s".into()),
            },
            EventKind::FloodDuplicated {
                from: CAMPBELL,
                to: JAQUEZ,
                update: kiwi(),
                fault: "dup Campbell<->Jaquez 10%".into(),
            },
            EventKind::LinkFaults { link: link(BONA, CLARK), faults: LinkFaultsView::default() },
            EventKind::FaultExpired { label: "cut Bona->Clark for 30s".into() },
        ],
    );
    rig.tick(7500);
    let screen = screen(&rig.app);
    for expected in [
        "⚙ cut Bona->Clark for 30s",
        "⚙ loss Bailey<->Bona 20% burst 3",
        "⇒ Clark                 dropped report of kiwi.cs.ucla.edu by cut Bona->Clark for 30s",
        "⇒ Jaquez                duplicated report of kiwi.cs.ucla.edu by dup Campbell<->Jaquez 10%",
        "⚙ cut Bona->Clark for 30s: healed",
    ] {
        assert!(screen.contains(expected), "{expected:?} missing in\n{screen}");
    }
    assert!(rig.app.faults.stale, "an expiry makes the list stale");
    insta::assert_snapshot!("m_traffic_faults", screen);
    // Operator lines stay when the traffic is filtered to one server.
    rig.app.filter = Some(BAILEY);
    let filtered = self::screen(&rig.app);
    assert!(filtered.contains("⚙ cut Bona->Clark for 30s: healed"), "{filtered}");
    // The header counts the dropped report the traffic shows; the Faults overlay says why.
    let header = filtered.lines().next().unwrap_or_default().to_owned();
    assert!(header.contains("dropped 1 "), "{header}");
    assert!(rig.char('F').is_empty());
    let overlay = self::screen(&rig.app);
    assert!(overlay.contains("dropped reports: link cut 1"), "{overlay}");
}

#[test]
fn a_delay_on_every_link_stays_in_the_narrow_header() {
    let mut rig = faulty();
    let delay = Control::Delay {
        links: Links::All,
        delay: Delay { delay: Duration::from_millis(300), ..Delay::default() },
        lasting: None,
    };
    rig.lab(6100, delay, "delay all 300ms", &[]);
    assert_eq!(rig.app.engine.delay, Duration::from_millis(300));
    let buf = draw(&rig.app, 80, 24);
    let x = find_in_row(&buf, 0, "delay 300ms").unwrap_or_else(|| panic!("{}", row_text(&buf, 0)));
    assert_eq!(buf[(x + 6, 0)].fg, Color::Yellow);
}

#[test]
fn a_storm_report_names_its_forwarder() {
    let mut rig = Rig::new();
    let line = "AT Jaquez +0.000720101 kiwi +34.07-118.44 1796071407.397077459 Campbell ttl=2";
    rig.apply(EventKind::LineIn {
        server: BAILEY,
        peer: link_peer(CAMPBELL, BAILEY),
        line: line.into(),
    });
    let screen = screen(&rig.app);
    assert!(
        screen.contains("Bailey    ⇐ Campbell              AT Jaquez +0.000720101"),
        "{screen}"
    );
}

#[test]
fn scene_n_off_spec_header() {
    let mut rig = Rig::flooded();
    let storm = Control::Policy { policy: Policy::Storm { ttl: 3 } };
    assert_eq!(rig.command("policy storm ttl=3"), control(storm.clone()));
    rig.lab(6000, storm, "policy storm ttl=3 (off-spec)", &[]);
    let every = Duration::from_secs(5);
    rig.lab(
        6010,
        Control::AntiEntropy { every: Some(every) },
        "anti-entropy every 5s (off-spec repair)",
        &[],
    );
    for width in [80, 120] {
        let buf = draw(&rig.app, width, 24);
        let header = row_text(&buf, 0);
        let x = find_in_row(&buf, 0, "OFF-SPEC storm ttl=3").expect(&header);
        assert_ne!(buf[(x, 0)].fg, Color::Reset, "{header}");
        assert!(header.contains("seed 7"), "{header}");
        assert!(header.trim_end().chars().count() <= usize::from(width), "{header}");
        if width >= 100 {
            assert!(header.contains("anti-entropy 5s"), "{header}");
        } else {
            assert!(header.contains("ae 5s"), "{header}");
        }
    }
    insta::assert_snapshot!("n_off_spec_header", row_text(&draw(&rig.app, 80, 24), 0).trim_end());
    // Back to the rule: no warning.
    rig.lab(6020, Control::Policy { policy: Policy::Spec }, "policy spec", &[]);
    let header = row_text(&draw(&rig.app, 80, 24), 0);
    assert!(!header.contains("OFF-SPEC") && header.contains(" spec "), "{header}");
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[test]
fn q_and_ctrl_c_quit() {
    let mut rig = Rig::new();
    assert_eq!(rig.char('q'), vec![Effect::Quit]);
    assert_eq!(rig.app.key(ctrl('c')), vec![Effect::Quit]);
    // Ctrl-C quits from anywhere, even with the command line open.
    assert!(rig.char(':').is_empty());
    assert_eq!(rig.app.key(ctrl('c')), vec![Effect::Quit]);
}

#[test]
fn kill_asks_first_and_yes_kills() {
    let mut rig = Rig::new();
    rig.tab(3);
    assert!(rig.char('k').is_empty());
    let kill = Effect::Control(Control::Kill { server: CLARK });
    match &rig.app.mode {
        Mode::Confirm { prompt, effect } => {
            assert!(prompt.contains("Clark"), "{prompt}");
            assert_eq!(effect, &kill);
        }
        other => panic!("no confirmation: {other:?}"),
    }
    assert_eq!(rig.char('y'), vec![kill]);
    assert!(matches!(rig.app.mode, Mode::Normal));
    assert_eq!(rig.char('r'), control(Control::Restart { server: CLARK }));
}

#[test]
fn kill_cancelled_with_n_does_nothing() {
    let mut rig = Rig::new();
    assert!(rig.char('k').is_empty());
    assert!(matches!(rig.app.mode, Mode::Confirm { .. }));
    assert!(rig.char('n').is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
    // Nothing is pending: a later y is just a key.
    assert!(rig.char('y').is_empty());
}

#[test]
fn kill_of_a_stopped_server_is_refused() {
    let mut rig = Rig::new();
    rig.apply(EventKind::ServerStopped { server: BAILEY });
    assert!(rig.char('k').is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
    assert_eq!(rig.app.status.as_ref().unwrap().tone, Tone::Error);
    // Nor can a stopped server hang.
    assert!(rig.char('g').is_empty());
    assert_eq!(rig.app.status.as_ref().unwrap().tone, Tone::Error);
}

#[test]
fn cut_and_heal_the_selected_link() {
    let mut rig = Rig::new();
    // `e` selects links directly, without passing every server first.
    assert!(rig.char('e').is_empty());
    assert_eq!(rig.app.selection, Selection::Link(0));
    assert_eq!(rig.char('c'), control(Control::Cut { links: both(BAILEY, BONA), lasting: None }));
    assert_eq!(rig.char('h'), control(Control::Heal { links: both(BAILEY, BONA) }));
    assert_eq!(rig.char('H'), control(Control::HealAll));
    // `E` goes back round to the last link; Tab returns to servers at the link's first end.
    assert!(rig.char('E').is_empty());
    assert_eq!(rig.app.selection, Selection::Link(rig.app.links.len() - 1));
    assert!(rig.char('e').is_empty());
    assert_eq!(rig.app.selection, Selection::Link(0));
    assert!(rig.key(KeyCode::BackTab).is_empty());
    assert_eq!(rig.app.selection, Selection::Node(BAILEY));
}

#[test]
fn angle_brackets_cut_or_heal_one_direction() {
    let mut rig = Rig::new();
    rig.select_link(BONA, CLARK);
    let there = vec![link(BONA, CLARK)];
    let back = vec![link(CLARK, BONA)];
    assert_eq!(rig.char('>'), control(Control::Cut { links: there.clone(), lasting: None }));
    assert_eq!(rig.char('<'), control(Control::Cut { links: back.clone(), lasting: None }));
    // Once Bona->Clark is cut, > heals it; < still cuts the other way.
    rig.apply(EventKind::LinkFaults { link: link(BONA, CLARK), faults: cut_view() });
    assert_eq!(rig.char('>'), control(Control::Heal { links: there }));
    assert_eq!(rig.char('<'), control(Control::Cut { links: back, lasting: None }));
    // With a server selected, > opens a cut from it, for Tab to complete.
    rig.select_server(BONA);
    assert!(rig.char('>').is_empty());
    assert_eq!(rig.editor_text(), "cut Bona->");
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), "cut Bona->Bailey");
}

#[test]
fn l_d_and_u_prefill_a_fault_on_the_selection() {
    let mut rig = Rig::new();
    rig.select_link(BONA, CLARK);
    for (key, line) in [
        ('l', "loss Bona<->Clark 20%"),
        ('d', "delay Bona<->Clark 200ms"),
        ('u', "dup Bona<->Clark 10%"),
    ] {
        assert!(rig.char(key).is_empty());
        assert_eq!(rig.editor_text(), line);
        assert!(rig.key(KeyCode::Esc).is_empty());
    }
    assert!(rig.char('d').is_empty());
    let delay = Control::Delay {
        links: Links::Some(both(BONA, CLARK)),
        delay: Delay { delay: Duration::from_millis(200), ..Delay::default() },
        lasting: None,
    };
    assert_eq!(rig.key(KeyCode::Enter), control(delay));
    // A server selected: the fault starts from it.
    rig.select_server(CLARK);
    assert!(rig.char('l').is_empty());
    assert_eq!(rig.editor_text(), "loss Clark->");
    assert_eq!(
        rig.command_rest("Jaquez 5%"),
        control(Control::Loss {
            links: vec![link(CLARK, JAQUEZ)],
            loss: Loss { rate: 0.05, burst: 1.0 },
            lasting: None,
        })
    );
}

#[test]
fn x_asks_then_resets() {
    let mut rig = Rig::new();
    assert!(rig.char('x').is_empty());
    assert!(matches!(&rig.app.mode, Mode::Confirm { prompt, .. } if prompt.contains("reset")));
    assert_eq!(rig.char('y'), control(Control::Reset));
    assert!(rig.char('x').is_empty());
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
}

#[test]
fn the_faults_overlay_heals_and_resets_too() {
    let mut rig = Rig::new();
    assert!(rig.char('F').is_empty());
    assert_eq!(rig.char('H'), control(Control::HealAll));
    assert!(matches!(rig.app.mode, Mode::Faults { .. }));
    assert!(rig.char('x').is_empty());
    assert!(matches!(rig.app.mode, Mode::Confirm { .. }));
    assert_eq!(rig.char('y'), control(Control::Reset));
    // F closes it again.
    assert!(rig.char('F').is_empty());
    assert!(rig.char('F').is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
}

#[test]
fn p_pauses_or_resumes_by_engine_state() {
    let mut rig = Rig::new();
    assert_eq!(rig.char('p'), control(Control::Pause));
    rig.app.engine.paused = true;
    assert_eq!(rig.char('p'), control(Control::Resume));
    rig.apply(EventKind::Controlled {
        control: Control::Resume,
        text: "resumed: 3 held reports released".into(),
    });
    assert!(!rig.app.engine.paused);
    assert_eq!(rig.char('p'), control(Control::Pause));
    assert_eq!(rig.char('s'), control(Control::Step));
}

fn delay_all(millis: u64) -> Vec<Effect> {
    control(Control::Delay {
        links: Links::All,
        delay: Delay { delay: Duration::from_millis(millis), ..Delay::default() },
        lasting: None,
    })
}

#[test]
fn plus_and_minus_step_every_links_delay_with_a_server_selected() {
    let mut rig = Rig::new();
    assert_eq!(rig.char('-'), delay_all(0));
    assert_eq!(rig.char('+'), delay_all(100));
    rig.app.engine.delay = Duration::from_millis(250);
    assert_eq!(rig.char('+'), delay_all(350));
    assert_eq!(rig.char('-'), delay_all(150));
    rig.app.engine.delay = Duration::from_millis(60);
    assert_eq!(rig.char('-'), delay_all(0));
}

#[test]
fn plus_and_minus_step_the_selected_links_delay_keeping_its_jitter() {
    let mut rig = Rig::new();
    rig.select_link(BONA, CLARK);
    let link_delay = |millis: u64, jitter: u64| {
        control(Control::Delay {
            links: Links::Some(both(BONA, CLARK)),
            delay: Delay {
                delay: Duration::from_millis(millis),
                jitter: Duration::from_millis(jitter),
                spread: Spread::Uniform,
            },
            lasting: None,
        })
    };
    assert_eq!(rig.char('+'), link_delay(100, 0));
    assert_eq!(rig.char('-'), link_delay(0, 0));
    rig.apply(EventKind::LinkFaults { link: link(CLARK, BONA), faults: delay_view(300, 50) });
    assert_eq!(rig.char('+'), link_delay(400, 50));
    assert_eq!(rig.char('-'), link_delay(200, 50));
}

#[test]
fn command_line_controls_use_the_shared_grammar() {
    let mut rig = Rig::new();
    assert!(rig.char(':').is_empty());
    assert!(matches!(rig.app.mode, Mode::Command(_)));
    assert_eq!(
        rig.command_rest("cut Bailey Bona for 5s"),
        control(Control::Cut { links: both(BAILEY, BONA), lasting: Some(Duration::from_secs(5)) })
    );
    assert!(matches!(rig.app.mode, Mode::Normal));
    assert_eq!(
        rig.command("isolate Jaquez"),
        control(Control::Isolate { server: JAQUEZ, lasting: None })
    );
    assert_eq!(
        rig.command("hang Jaquez for 10s"),
        control(Control::Hang { server: JAQUEZ, lasting: Some(Duration::from_secs(10)) })
    );
    assert_eq!(rig.command("anti-entropy off"), control(Control::AntiEntropy { every: None }));
    assert_eq!(rig.command("faults"), control(Control::Faults));
    assert_eq!(rig.command("reset"), control(Control::Reset));
}

#[test]
fn the_answer_to_faults_opens_the_overlay() {
    let mut rig = Rig::new();
    let faults = vec![fault("cut Bona->Clark", 3, 0, 0)];
    rig.app.feedback(Feedback::Control(Ok(Applied::Faults { faults })));
    assert!(matches!(rig.app.mode, Mode::Faults { .. }));
    assert_eq!(rig.app.faults.faults.len(), 1);
    assert!(compact(&rig.app).contains("cut Bona->Clark"));
}

#[test]
fn a_refused_control_is_an_error() {
    let mut rig = Rig::new();
    let refused = ControlError::NotRunning("Campbell".into());
    rig.app.feedback(Feedback::Control(Err(refused)));
    let status = rig.app.status.as_ref().unwrap();
    assert_eq!((status.tone, status.text.as_str()), (Tone::Error, "Campbell is not running"));
    let buf = draw(&rig.app, 80, 24);
    assert!(row_text(&buf, 22).starts_with("✗ Campbell is not running"));
    assert_eq!(buf[(0, 22)].fg, Color::Red);
    rig.app.feedback(Feedback::Control(Ok(Applied::changed("cut Bona->Clark"))));
    let buf = draw(&rig.app, 80, 24);
    assert!(row_text(&buf, 22).starts_with("✓ cut Bona->Clark"));
    assert_eq!(buf[(0, 22)].fg, Color::Green);
}

#[test]
fn command_line_iamat_builds_the_wire_line() {
    let mut rig = Rig::new();
    assert_eq!(
        rig.command("iamat Bailey kiwi 34.07,-118.44 1621464827.5"),
        vec![Effect::Send {
            server: BAILEY,
            line: "IAMAT kiwi +34.07-118.44 1621464827.5".into(),
            kind: SendKind::IAmAt,
        }]
    );
    assert_eq!(
        rig.command("whatsat Bona kiwi 10 5"),
        vec![Effect::Send {
            server: BONA,
            line: "WHATSAT kiwi 10 5".into(),
            kind: SendKind::WhatsAt
        }]
    );
    assert_eq!(
        rig.command("send Clark hello  there"),
        vec![Effect::Send { server: CLARK, line: "hello  there".into(), kind: SendKind::Raw }]
    );
}

#[test]
fn filter_help_and_quit_stay_in_the_console() {
    let mut rig = Rig::new();
    assert!(rig.command("filter Jaquez").is_empty());
    assert_eq!(rig.app.filter, Some(JAQUEZ));
    assert!(rig.command("filter").is_empty());
    assert_eq!(rig.app.filter, None);
    assert!(rig.command("help partition").is_empty());
    assert!(
        matches!(&rig.app.mode, Mode::Popup { lines, .. } if lines[0].starts_with("partition GROUPS"))
    );
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(rig.command("help").is_empty());
    assert!(matches!(rig.app.mode, Mode::Help { .. }));
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert_eq!(rig.command("exit"), vec![Effect::Quit]);
}

#[test]
fn command_line_error_keeps_the_line_open() {
    let mut rig = Rig::new();
    assert!(rig.command("cut Bailey Jaquez").is_empty());
    assert_eq!(rig.editor_text(), "cut Bailey Jaquez");
    let error = rig.editor_error().unwrap();
    assert!(error.contains("not neighbours"), "{error}");
    assert!(error.contains("expected: cut LINK"), "{error}");
    // Editing clears the error.
    assert!(rig.key(KeyCode::Backspace).is_empty());
    assert_eq!(rig.editor_error(), None);
}

#[test]
fn tab_completes_a_verb_and_a_link() {
    let mut rig = Rig::new();
    assert!(rig.char(':').is_empty());
    assert!(rig.type_text("ki").is_empty());
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), "kill ");
    assert!(rig.type_text("Ja").is_empty());
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), "kill Jaquez ");
    assert_eq!(rig.key(KeyCode::Enter), control(Control::Kill { server: JAQUEZ }));
    assert!(rig.char(':').is_empty());
    assert!(rig.type_text("cut Clark->").is_empty());
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), "cut Clark->Bona");
    assert!(rig.key(KeyCode::Tab).is_empty());
    assert_eq!(rig.editor_text(), "cut Clark->Jaquez");
}

#[test]
fn the_hint_is_the_grammars_usage() {
    let mut rig = Rig::new();
    assert!(rig.char(':').is_empty());
    assert!(rig.type_text("partit").is_empty());
    let screen = compact(&rig.app);
    assert!(screen.contains("partition GROUPS [for DURATION]"), "{screen}");
}

#[test]
fn esc_closes_every_overlay() {
    let mut rig = Rig::new();
    assert!(rig.char('?').is_empty());
    assert!(matches!(rig.app.mode, Mode::Help { .. }));
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));

    assert!(rig.char(':').is_empty());
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

    assert!(rig.char('F').is_empty());
    assert!(matches!(rig.app.mode, Mode::Faults { .. }));
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));

    assert!(rig.char('k').is_empty());
    assert!(matches!(rig.app.mode, Mode::Confirm { .. }));
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(matches!(rig.app.mode, Mode::Normal));
}

#[test]
fn up_recalls_the_previous_command() {
    let mut rig = Rig::new();
    assert_eq!(rig.command("delay 300ms"), delay_all(300));
    assert_eq!(rig.command("pause"), control(Control::Pause));
    assert!(rig.char(':').is_empty());
    assert!(rig.key(KeyCode::Up).is_empty());
    assert_eq!(rig.editor_text(), "pause");
    assert!(rig.key(KeyCode::Up).is_empty());
    assert_eq!(rig.editor_text(), "delay 300ms");
    assert!(rig.key(KeyCode::Down).is_empty());
    assert_eq!(rig.editor_text(), "pause");
    assert_eq!(rig.key(KeyCode::Enter), control(Control::Pause));
}

#[test]
fn a_failed_command_is_not_remembered() {
    let mut rig = Rig::new();
    assert_eq!(rig.command("step"), control(Control::Step));
    assert!(rig.command("bogus").is_empty());
    assert!(rig.key(KeyCode::Esc).is_empty());
    assert!(rig.char(':').is_empty());
    assert!(rig.key(KeyCode::Up).is_empty());
    assert_eq!(rig.editor_text(), "step");
}

#[test]
fn i_prefills_the_selected_server() {
    let mut rig = Rig::new();
    rig.tab(4);
    assert!(rig.char('i').is_empty());
    assert_eq!(rig.editor_text(), "iamat Jaquez ");
}

#[test]
fn help_lists_every_verb_every_key_and_every_glyph() {
    let mut rig = Rig::new();
    assert!(rig.char('?').is_empty());
    let help = text(&draw(&rig.app, 160, 120));
    for spec in COMMANDS {
        assert!(help.contains(spec.usage), "{} missing in\n{help}", spec.usage);
    }
    // Every row of the keymap, as the key handling reads it (the live ones: no replay runs).
    let live = |b: &&keymap::Binding| {
        !b.when.contains(&keymap::When::Replay) && !b.when.contains(&keymap::When::Lesson)
    };
    for binding in keymap::help_rows().filter(live) {
        let row = format!("  {:<13} {}", binding.keys, binding.help);
        assert!(help.contains(&row), "{row:?} missing in\n{help}");
    }
    for look in LOOKS {
        assert!(help.contains(&format!("{} {}", look.glyph, look.name)), "{look:?}\n{help}");
    }
    // At 80×24 it scrolls to the end.
    let mut seen = String::new();
    for _ in 0..30 {
        seen.push_str(&compact(&rig.app));
        rig.key(KeyCode::PageDown);
    }
    for spec in COMMANDS {
        assert!(seen.contains(spec.name), "{} never shown at 80×24", spec.name);
    }
    assert!(seen.contains("Legend"));
}

#[test]
fn the_footer_offers_the_lab_keys() {
    let mut rig = Rig::new();
    rig.select_link(BONA, CLARK);
    let footer = row_text(&draw(&rig.app, 80, 24), 23);
    for key in [" c h ", " > < ", " l d u "] {
        assert!(footer.contains(key), "{key:?} missing in {footer}");
    }
    let footer = row_text(&draw(&rig.app, 120, 36), 35);
    assert!(footer.contains(" F "), "F missing in {footer}");
    rig.select_server(BONA);
    let footer = row_text(&draw(&rig.app, 80, 24), 23);
    for key in [" g ", " k "] {
        assert!(footer.contains(key), "{key:?} missing in {footer}");
    }
    let footer = row_text(&draw(&rig.app, 120, 36), 35);
    assert!(footer.contains(" F ") && footer.contains(" M "), "F, M missing in {footer}");
    rig.apply(EventKind::ServerHung { server: BONA, hung: true });
    let footer = row_text(&draw(&rig.app, 80, 24), 23);
    assert!(footer.contains(" unhang "), "{footer}");
}

// ---------------------------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------------------------

#[test]
fn the_same_report_stored_at_k_servers_is_known_by_k() {
    let mut rig = Rig::new();
    for (k, server) in [BAILEY, BONA, CAMPBELL, CLARK, JAQUEZ].into_iter().enumerate() {
        rig.apply(EventKind::LocationStored {
            server,
            update: kiwi(),
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
    rig.apply(EventKind::FloodSuppressed { server: BONA, update: kiwi(), from: Some(CAMPBELL) });
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 5);
    // A newer report starts over at the server that stored it.
    let newer: Arc<str> = "AT Clark +0.5 kiwi.cs.ucla.edu +34.1-118.4 1621464999.5".into();
    rig.apply(EventKind::LocationStored {
        server: CLARK,
        update: update(KIWI, "1621464999.5"),
        line: newer,
        from: None,
    });
    let row = rig.app.clients.rows().next().unwrap();
    assert_eq!((row.known_count(), row.origin.as_str()), (1, "Clark"));
}

/// The servers whose name label (`Name 1`) in the topology says they hold a client, and those
/// drawn with the just-stored flash, on a 120×36 screen.
fn labels(buf: &Buffer, names: &[&str]) -> (Vec<bool>, Vec<bool>) {
    let pane: Vec<String> = topology_rows(buf)
        .into_iter()
        .map(|y| (0..buf.area.width / 2).map(|x| buf[(x, y)].symbol()).collect())
        .collect();
    let stored = graph::look(Mark::Stored).glyph;
    let at = |name: &str| {
        pane.iter()
            .find_map(|row| row.find(&format!(" {name}")).map(|i| row[i..].to_owned()))
            .unwrap_or_else(|| panic!("{name} not drawn:\n{}", pane.join("\n")))
    };
    let holds = names.iter().map(|name| at(name).starts_with(&format!(" {name} 1"))).collect();
    let flashed = names
        .iter()
        .map(|name| pane.iter().any(|row| row.contains(&format!("{stored} {name}"))))
        .collect();
    (holds, flashed)
}

/// What the audience sees agrees: at every frame of a flood the herd finished long before the
/// view, the clients table's `known k/5` and each server's client count in the topology are
/// the servers the animation has shown storing it (their flash), never ahead of it; the header
/// says how far behind the herd the view is until it catches up; `L` jumps to live.
#[test]
fn the_tables_follow_the_animation_not_the_herd() {
    let mut rig = Rig::new();
    let names: Vec<&str> = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"].into();
    let events = rig.flood(BAILEY, &kiwi(), KIWI_IAMAT, KIWI_AT);
    let start = rig.at(0);
    rig.apply_from(start, events);
    let mut shown = [false; 5];
    let mut frames_behind = 0;
    // Frames 25 ms apart: a flash lasts a hop (600 ms), so none is missed.
    for frame in 1..=120 {
        rig.tick(frame * 25);
        let buf = draw(&rig.app, 120, 36);
        let (holds, flashed) = labels(&buf, &names);
        for (s, flash) in flashed.into_iter().enumerate() {
            shown[s] |= flash;
        }
        let at = frame * 25;
        assert_eq!(holds, shown, "at {at} ms the labels run ahead of the flashes");
        let known = shown.iter().filter(|s| **s).count();
        let screen = text(&buf);
        assert!(screen.contains(&format!(" {known}/5 ")), "at {at} ms, known {known}:\n{screen}");
        if known < 5 {
            assert!(row_text(&buf, 0).contains("view behind"), "{}", row_text(&buf, 0));
            frames_behind += 1;
        } else {
            assert!(!row_text(&buf, 0).contains("behind"), "{}", row_text(&buf, 0));
        }
    }
    assert_eq!(shown, [true; 5], "the flood was shown to its end");
    assert!(frames_behind > 40, "the view was behind for {frames_behind} frames");

    // A newer report floods; L shows it everywhere at once, and the hops skipped are counted.
    let newer = update(KIWI, "1621464999.5");
    let line = "AT Bailey +0.5 kiwi.cs.ucla.edu +34.1-118.4 1621464999.5";
    let events = rig.flood(BAILEY, &newer, KIWI_IAMAT, line);
    let start = rig.at(5000);
    rig.apply_from(start, events);
    rig.tick(5100);
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 1);
    assert!(rig.char('L').is_empty());
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 5);
    let header = row_text(&draw(&rig.app, 120, 36), 0);
    assert!(!header.contains("behind") && header.contains("skipped"), "{header}");
    assert!(rig.app.status.as_ref().unwrap().text.starts_with("live: "));
    // Once live, L says there is nothing to catch up.
    rig.char('L');
    assert_eq!(rig.app.status.as_ref().unwrap().tone, Tone::Error);
}

#[test]
fn a_lagged_view_counts_and_resyncs() {
    let mut rig = Rig::flooded();
    assert_eq!(rig.app.lagged, 0);
    let mut truth = snapshot(&rig.topology);
    truth.servers[CLARK].up = false;
    truth.servers[JAQUEZ].hung = true;
    truth.links[3].a_faults.cut = true;
    truth.links[3].a_to_b = LinkState::Up;
    truth.links[3].b_to_a = LinkState::Idle;
    truth.policy = Policy::Echo;
    truth.faults = vec![fault("cut Bona->Clark", 0, 0, 0), fault("hang Jaquez", 0, 0, 0)];
    for id in [BAILEY, BONA] {
        truth.servers[id].clients.push(KIWI_AT.into());
    }
    rig.app.resync(120, &truth);
    rig.app.resync(7, &truth);
    assert_eq!(rig.app.lagged, 127);
    assert!(!rig.app.servers[CLARK].up);
    assert!(rig.app.servers[JAQUEZ].hung);
    assert!(rig.app.links[3].cut());
    assert_eq!(rig.app.engine.policy, Policy::Echo);
    assert_eq!(rig.app.faults.faults.len(), 2);
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 2);
    assert!(rig.app.playback.tokens.is_empty());
    let buf = draw(&rig.app, 120, 36);
    let header = row_text(&buf, 0);
    assert!(header.contains("lagged 127"), "{header}");
    assert!(header.contains("faults 2"), "{header}");
}

#[test]
fn fault_events_mark_the_list_stale_and_a_refresh_reads_it() {
    let mut rig = Rig::new();
    assert!(!rig.app.faults_due(rig.app.now));
    rig.apply(EventKind::LinkFaults { link: link(BONA, CLARK), faults: cut_view() });
    assert!(rig.app.faults_due(rig.app.now));
    let mut truth = snapshot(&rig.topology);
    truth.faults = vec![fault("cut Bona->Clark", 0, 0, 0)];
    truth.anti_entropy = Some(Duration::from_secs(5));
    rig.app.refresh(&truth);
    assert!(!rig.app.faults_due(rig.app.now));
    assert_eq!(rig.app.faults.faults.len(), 1);
    assert_eq!(rig.app.engine.anti_entropy, Some(Duration::from_secs(5)));
    // A refresh takes each link's faults from the snapshot, the truth: none here.
    assert!(!rig.app.links[3].a_faults.cut);
    // Every answer to a control asks for a fresh read, even one that changed nothing (a
    // reset lifting only the herd-wide delay says so, and announces no link).
    rig.app.feedback(Feedback::Control(Ok(Applied::unchanged("nothing to reset"))));
    assert!(rig.app.faults_due(rig.app.now));
    truth.links[3].b_faults = delay_view(300, 0);
    truth.servers[CLARK].hung = true;
    rig.app.refresh(&truth);
    assert!(rig.app.links[3].b_faults.delay.is_some());
    assert!(rig.app.servers[CLARK].hung);
    for kind in [
        EventKind::ServerHung { server: BONA, hung: true },
        EventKind::FaultExpired { label: "hang Bona for 5s".into() },
        EventKind::Controlled { control: Control::Reset, text: "reset: unhung Bona".into() },
    ] {
        rig.app.faults.stale = false;
        rig.apply(kind);
        assert!(rig.app.faults.stale);
    }
}

#[test]
fn the_replay_keeps_causal_order() {
    let mut rig = Rig::new();
    let events = rig.flood(BAILEY, &kiwi(), KIWI_IAMAT, KIWI_AT);
    let start = rig.at(0);
    rig.apply_from(start, events);
    // The herd is done at once, but the view shows the origin's store only (its table too)...
    assert_eq!(rig.app.clients.rows().next().unwrap().known_count(), 1);
    // ...and only the first hops moving at first.
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
    rig.apply(EventKind::LinkFaults { link: link(BONA, CLARK), faults: cut_view() });
    rig.apply(EventKind::LinkFaults { link: link(CLARK, BONA), faults: cut_view() });
    let buf = draw(&rig.app, 120, 36);
    let marks = find(&buf, graph::MARK_CUT);
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
    let marks = find(&buf, graph::MARK_CUT);
    assert_eq!(marks.len(), 1);
    assert_eq!(buf[marks[0]].fg, Color::Red);
}

#[test]
fn a_killed_server_is_red() {
    let mut rig = Rig::flooded();
    rig.apply(EventKind::ServerStopped { server: JAQUEZ });
    let buf = draw(&rig.app, 120, 36);
    let glyphs = find(&buf, graph::GLYPH_KILLED);
    assert_eq!(glyphs.len(), 1, "{}", text(&buf));
    let (x, y) = glyphs[0];
    assert_eq!(buf[(x, y)].fg, Color::Red);
    assert!(row_text(&buf, y).contains("Jaquez"));
    let header = row_text(&buf, 0);
    assert!(header.contains("servers 4/5"), "{header}");
}

#[test]
fn the_light_theme_draws_nothing_pale() {
    let mut rig = Rig::flooded();
    rig.app.theme = Theme::Light;
    rig.type_text("eee");
    let buf = draw(&rig.app, 120, 36);
    for cell in &buf.content {
        let pale = [Color::White, Color::LightYellow, Color::LightCyan, Color::Gray];
        // Pale text on the terminal's own (white) background; a badge has a dark one.
        if cell.symbol().trim().is_empty() || cell.bg != Color::Reset {
            continue;
        }
        assert!(!pale.contains(&cell.fg), "{:?} drawn in {:?}", cell.symbol(), cell.fg);
    }
    // The same picture otherwise.
    rig.app.theme = Theme::Dark;
    assert_eq!(text(&buf), text(&draw(&rig.app, 120, 36)));
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
fn at_80x24_a_tab_strip_names_every_pane_and_its_key_shows_it() {
    let mut rig = Rig::flooded();
    let screen = compact(&rig.app);
    let tabs = screen.lines().nth(1).unwrap();
    for tab in ["1 Topology", "2 Clients", "3 Traffic", "4 World"] {
        assert!(tabs.contains(tab), "{tab} missing in {tabs}");
    }
    for (key, title) in
        [('2', "2 Clients"), ('3', "3 Traffic"), ('4', "4 World"), ('1', "1 Topology")]
    {
        assert!(rig.char(key).is_empty());
        let screen = compact(&rig.app);
        let pane = screen.lines().nth(2).unwrap();
        assert!(pane.starts_with(&format!("╭ {title}")), "{key}: {pane}");
    }
    // At full size every pane is there at once, with no tab strip.
    let full = self::screen(&rig.app);
    assert!(full.contains("Clients") && full.contains("Traffic") && full.contains("World"));
    assert!(!full.lines().nth(1).unwrap().contains("2 Clients  3 Traffic"));
}

#[test]
fn every_mode_draws_at_any_size() {
    let sizes = [(1, 1), (12, 3), (40, 10), (79, 23), (99, 29), (100, 30), (200, 60)];
    let mut rigs = Vec::new();
    rigs.push(paused_with_held());
    let mut help = Rig::flooded();
    help.char('?');
    rigs.push(help);
    let mut confirm = Rig::flooded();
    confirm.char('k');
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
    let mut faults = faulty();
    faults.char('F');
    rigs.push(faults);
    let mut selected = faulty();
    selected.select_link(BONA, CLARK);
    rigs.push(selected);
    let mut metrics = many_updates();
    metrics.char('M');
    rigs.push(metrics);
    let mut scrolled = many_updates();
    scrolled.char('M');
    scrolled.key(KeyCode::PageDown);
    rigs.push(scrolled);
    let mut none = Rig::flooded();
    none.app.metrics = None;
    none.char('M');
    rigs.push(none);
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
    rig.apply_from(start, vec![EventKind::LinkStalled { from: BONA, to: CLARK }]);
    let link = rig.app.links.iter().find(|l| (l.a, l.b) == (BONA, CLARK)).unwrap();
    assert_eq!(link.look(&rig.app.servers), EdgeState::Stalled);
    rig.apply_from(rig.at(6100), vec![EventKind::LinkRecovered { from: BONA, to: CLARK }]);
    let link = rig.app.links.iter().find(|l| (l.a, l.b) == (BONA, CLARK)).unwrap();
    assert_eq!(link.look(&rig.app.servers), EdgeState::Up);
}

// ---------------------------------------------------------------------------------------------
// The Metrics overlay
// ---------------------------------------------------------------------------------------------

/// Clients reporting one after another, for the Metrics overlay.
const FRUIT: [&str; 13] = [
    "kiwi.cs.ucla.edu",
    "plum",
    "fig.example.org",
    "lemon",
    "quince.cs.ucla.edu",
    "pear",
    "mango.example.org",
    "lime",
    "apricot.cs.ucla.edu",
    "date",
    "cherry.example.org",
    "olive",
    "guava",
];

/// A flood of `update` from `origin` in which `lost` (a directed link) loses its copy to a
/// loss fault: the copy is dropped instead of queued, and never arrives.
fn lossy_flood(
    rig: &Rig,
    origin: ServerId,
    update: &Update,
    lost: (ServerId, ServerId),
) -> Vec<EventKind> {
    let stored = format!(
        "AT {} +0.000213 {} +34.068930-118.445127 {}",
        rig.name(origin),
        update.client,
        update.time
    );
    let iamat = format!("IAMAT {} +34.068930-118.445127 {}", update.client, update.time);
    let (from, to) = lost;
    let fault = format!("loss {}->{} 20%", rig.name(from), rig.name(to));
    rig.flood(origin, update, &iamat, &stored)
        .into_iter()
        .filter_map(|kind| match kind {
            EventKind::FloodQueued { from: f, to: t, update, .. } if (f, t) == lost => {
                Some(EventKind::FloodDropped {
                    from,
                    to,
                    update,
                    reason: DropReason::Lost,
                    fault: Some(fault.as_str().into()),
                })
            }
            EventKind::FloodSent { from: f, to: t, .. } if (f, t) == lost => None,
            EventKind::LineIn { server, peer, .. }
                if server == to && peer == link_peer(from, to) =>
            {
                None
            }
            EventKind::LocationStored { server, .. }
            | EventKind::FloodSuppressed { server, .. }
                if server == to =>
            {
                None
            }
            other => Some(other),
        })
        .collect()
}

/// Thirteen clients reported at the five servers in turn, a second apart, each flood at its
/// own pace: the sixth loses its copy to Jaquez (Jaquez is stranded), and the last is still
/// flooding (only its first events are in).
fn many_updates() -> Rig {
    let mut rig = Rig::new();
    for (i, client) in FRUIT.iter().enumerate() {
        let origin = [BAILEY, CLARK, JAQUEZ, BONA, CAMPBELL][i % 5];
        let update = update(client, &format!("1621464827.{:09}", 100 * i));
        let mut events = if i == 5 {
            lossy_flood(&rig, origin, &update, (CAMPBELL, JAQUEZ))
        } else {
            let stored = format!(
                "AT {} +0.000213 {client} +34.068930-118.445127 {}",
                rig.name(origin),
                update.time
            );
            let iamat = format!("IAMAT {client} +34.068930-118.445127 {}", update.time);
            rig.flood(origin, &update, &iamat, &stored)
        };
        if i == FRUIT.len() - 1 {
            events.truncate(7);
        }
        let gap = Duration::from_micros(90 + 40 * (i as u64 * 3 % 7));
        let start = rig.at(1000 * i as u64);
        for (j, kind) in events.into_iter().enumerate() {
            rig.app.now = start + gap * j as u32;
            rig.apply(kind);
        }
    }
    rig.tick(14_000);
    rig
}

#[test]
fn scene_o_metrics_overlay() {
    let mut rig = many_updates();
    let metrics = rig.app.metrics.as_ref().unwrap();
    let summary = metrics.summary();
    assert_eq!((summary.updates, summary.converged, summary.unconverged), (13, 11, 2));
    assert_eq!(summary.drops, 1);
    let lossy = metrics.newest(FRUIT[5]).unwrap();
    assert_eq!(lossy.stranded, vec![JAQUEZ]);
    assert!(rig.char('M').is_empty());
    assert!(matches!(rig.app.mode, Mode::Metrics { scroll: 0 }));

    let wide = screen(&rig.app);
    assert!(wide.contains("Metrics · 13 updates, newest first"), "{wide}");
    assert!(wide.contains("13 updates: 11 converged, 2 not"), "{wide}");
    assert!(wide.contains("not converged: Jaquez"), "{wide}");
    assert!(wide.contains("2 not converged"), "{wide}");
    insta::assert_snapshot!("o_metrics_overlay", wide);

    let buf = draw(&rig.app, 80, 24);
    let narrow = text(&buf);
    assert!(narrow.contains("updates 1–"), "{narrow}");
    assert!(narrow.contains("↳ stranded: Jaquez"), "{narrow}");
    assert!(narrow.contains("↳ stranded: Bailey, Bona, Clark"), "{narrow}");
    insta::assert_snapshot!("o_metrics_overlay_80x24", narrow);
    // The newest first: the flood still under way heads the table.
    let first = (0..24).find(|&y| row_text(&buf, y).contains("client")).unwrap() + 1;
    assert!(row_text(&buf, first).contains("guava"), "{narrow}");
    assert_eq!(buf[(find_in_row(&buf, first, "not converged").unwrap(), first)].fg, Color::Yellow);
}

#[test]
fn the_metrics_overlay_scrolls_to_the_oldest_update_and_no_further() {
    let mut rig = many_updates();
    rig.char('M');
    for _ in 0..5 {
        assert!(rig.key(KeyCode::PageDown).is_empty());
    }
    let narrow = compact(&rig.app);
    assert!(narrow.contains("of 13, newest first"), "{narrow}");
    assert!(narrow.contains("kiwi.cs.ucla.edu"), "{narrow}");
    assert!(!narrow.contains("guava"), "{narrow}");
    // Back up to the top.
    for _ in 0..60 {
        rig.key(KeyCode::Up);
    }
    assert!(matches!(rig.app.mode, Mode::Metrics { scroll: 0 }));
    assert!(compact(&rig.app).contains("updates 1–"));
}

#[test]
fn m_opens_and_closes_the_metrics_overlay() {
    let mut rig = Rig::flooded();
    for close in [KeyCode::Esc, KeyCode::Char('q'), KeyCode::Char('M')] {
        assert!(rig.char('M').is_empty());
        assert!(matches!(rig.app.mode, Mode::Metrics { scroll: 0 }));
        assert!(rig.key(KeyCode::Down).is_empty());
        assert!(matches!(rig.app.mode, Mode::Metrics { scroll: 1 }));
        assert!(rig.key(close).is_empty(), "{close:?} must not act");
        assert!(matches!(rig.app.mode, Mode::Normal), "{close:?} closes");
    }
    // F and M switch between the two overlays.
    rig.char('M');
    assert!(rig.char('F').is_empty());
    assert!(matches!(rig.app.mode, Mode::Faults { .. }));
    assert!(rig.char('M').is_empty());
    assert!(matches!(rig.app.mode, Mode::Metrics { .. }));
    // The key is listed in the footer and in the help.
    rig.key(KeyCode::Esc);
    let footer = screen(&rig.app).lines().last().unwrap().to_owned();
    assert!(footer.contains(" M  metrics"), "{footer}");
    rig.char('?');
    assert!(screen(&rig.app).contains("metrics per update"));
}

#[test]
fn the_metrics_overlay_draws_the_fold_of_every_event_and_says_when_there_is_none() {
    let mut rig = Rig::new();
    rig.char('M');
    assert!(compact(&rig.app).contains("no updates yet"));
    // It draws from the live fold: the flood shows up without reopening.
    let events = rig.flood(BAILEY, &kiwi(), KIWI_IAMAT, KIWI_AT);
    let start = rig.at_micros(1200);
    rig.apply_from(start, events);
    let screen = screen(&rig.app);
    assert!(screen.contains("1 update: all converged"), "{screen}");
    assert!(screen.contains("kiwi.cs.ucla.edu Bailey"), "{screen}");
    rig.app.metrics = None;
    let screen = compact(&rig.app);
    let says: Vec<&str> = screen.lines().filter(|l| l.contains("no metrics")).collect();
    assert_eq!(says.len(), 1, "{screen}");
}

// ---------------------------------------------------------------------------------------------
// A scenario played over the herd
// ---------------------------------------------------------------------------------------------

/// `--scenario`: the caption takes a band of its own above the lesson's row, which names the
/// step shown; `n` and `N` go to the run, and the outcomes reach the traffic pane.
#[test]
fn scene_p_a_lesson_with_its_caption_and_step() {
    use herdctl::scenario::{self, Cue, Key, Status};
    use herdctl::tui::lesson::Lesson;
    let mut rig = Rig::new();
    let context = herdctl::command::Context::new(&rig.topology);
    let text =
        "say \"Bailey learns where kiwi is\"\niamat Bailey kiwi +1+2\nexpect Bona knows kiwi";
    let parsed = scenario::parse(text, "t.herd", &context).unwrap();
    rig.app.lesson = Some(Lesson::new("t.herd", &parsed, false));
    rig.app.cue(Cue::Started { index: 0 });
    rig.app.cue(Cue::Say("Bailey learns where kiwi is".into()));
    rig.app.cue(Cue::Started { index: 2 });
    let line = "✗ 0.100s expect Bona knows kiwi (Bona holds nothing for kiwi)";
    rig.app.cue(Cue::Outcome { index: 2, status: Status::Failed, line: line.into() });
    rig.app.cue(Cue::Waiting { index: 2 });
    insta::assert_snapshot!("p_lesson_80x24", compact(&rig.app));
    let wide = screen(&rig.app);
    assert!(wide.contains(line), "the outcome is in the traffic pane:\n{wide}");

    assert_eq!(rig.char('n'), [Effect::Lesson(Key::Next)]);
    assert_eq!(rig.char('N'), [Effect::Lesson(Key::Stepping(true))]);
    let report = scenario::Report {
        steps: Vec::new(),
        passed: 0,
        failed: 1,
        metrics: Metrics::new(&rig.topology).summary(),
    };
    rig.app.cue(Cue::Finished(report));
    assert!(rig.char('n').is_empty(), "n after the end goes nowhere");
    assert!(compact(&rig.app).contains("✗ done"));
}

/// An attached console that cannot reach Clark's process: Clark is drawn unseen (not killed),
/// counted in the header, named in the selection's title and in the Faults overlay's notes.
#[test]
fn an_unseen_server_is_drawn_as_unknown_not_down() {
    let mut rig = Rig::flooded();
    rig.app.servers[CLARK].seen = false;
    let buf = draw(&rig.app, 120, 36);
    let screen = text(&buf);
    assert_eq!(in_topology(&buf, graph::GLYPH_UNSEEN).len(), 1, "{screen}");
    assert!(in_topology(&buf, graph::GLYPH_KILLED).is_empty(), "{screen}");
    assert!(row_text(&buf, 0).contains("servers 4/5 unseen 1"), "{}", row_text(&buf, 0));
    let compact = draw(&rig.app, 80, 24);
    assert!(row_text(&compact, 0).contains("? 1"), "{}", row_text(&compact, 0));
    rig.app.selection = Selection::Node(CLARK);
    let buf = draw(&rig.app, 120, 36);
    let title = text(&buf);
    assert!(title.contains("Topology · Clark 127.0.0.1:12404 (unseen)"), "{title}");
    rig.app.key(KeyEvent::from(KeyCode::Char('F')));
    let overlay = text(&draw(&rig.app, 120, 36));
    assert!(overlay.contains("◌ Clark unseen"), "{overlay}");
}
