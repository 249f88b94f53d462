//! Every dashboard layout, drawn into an in-memory terminal: the four panes or the tab strip
//! at 80×24, 100×30, 120×36 and 200×60, for a herd of 5, 12 and 30 servers, at rest and with
//! a flood in flight; the presenter layouts (`v`), zoom (`z`) and, at 80×24, each pane
//! focused (`1`-`4`). Snapshots of the screens, and the properties that matter checked in
//! code: every pane is drawn or has a tab, the selected server is named in the topology pane,
//! no label there is cut or shown twice, and no size makes drawing panic.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use herdctl::config::Topology;
use herdctl::herd::{EventKind, HerdEvent, ServerId, Update};
use herdctl::lab::metrics::Metrics;
use herdctl::tui::app::{App, Selection};
use herdctl::tui::graph;
use herdctl::tui::history::History;
use herdctl::tui::panes::{Arrangement, Pane};
use herdctl::tui::{layout, view};
use herdctl::wall::Wall;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Style;
use tokio::time::Instant;

/// The sizes every layout is drawn at.
const SIZES: [(u16, u16); 4] = [(80, 24), (100, 30), (120, 36), (200, 60)];

/// The herds, by preset, with their size.
const HERDS: [(&str, usize); 3] = [("cs131", 5), ("ring:12", 12), ("tree:30", 30)];

/// First port of every herd, so titles show the same addresses every run.
const BASE_PORT: u16 = 12401;

/// Where the flood starts: the first server (also the one selected at start).
const ORIGIN: ServerId = 0;

const CLIENT: &str = "kiwi.cs.ucla.edu";
const CLIENT_TIME: &str = "1621464827.959498503";

/// When the IAMAT arrives, after the dashboard started.
const FLOOD_AT_MS: u64 = 1000;

/// An in-flight flood is drawn this long after the IAMAT: one hop and a half of the replay,
/// so the second hop's tokens are midway along their links.
const MIDWAY_MS: u64 = 900;

/// A flood at rest is drawn this long after the IAMAT, long after its replay ended.
const SETTLED_MS: u64 = 10_000;

// ---------------------------------------------------------------------------------------------
// The rig
// ---------------------------------------------------------------------------------------------

struct Rig {
    app: App,
    topology: Topology,
    t0: Instant,
    seq: u64,
}

impl Rig {
    /// A healthy herd from `spec`, every server and link up, no clients.
    fn new(spec: &str) -> Self {
        let topology = Topology::load(spec, BASE_PORT).unwrap();
        let t0 = Instant::now();
        let truth = herdctl::bench::dashboard::healthy_snapshot(&topology);
        let positions = layout::positions(&topology);
        let mut app = App::new(spec, &truth, positions, History::in_memory(), t0);
        app.metrics = Some(Metrics::new(&topology));
        // Traffic times read 12:00:00.000 at the start, whatever the machine's zone.
        app.wall = Wall::utc(t0, UNIX_EPOCH + Duration::from_secs(1_764_590_400));
        Self { app, topology, t0, seq: 0 }
    }

    /// `spec` after kiwi's flood from the first server: still under way (`in_flight`), or
    /// over and done with.
    fn flooded(spec: &str, in_flight: bool) -> Self {
        let mut rig = Self::new(spec);
        rig.flood(FLOOD_AT_MS);
        rig.tick(FLOOD_AT_MS + if in_flight { MIDWAY_MS } else { SETTLED_MS });
        rig
    }

    fn at(&self, millis: u64) -> Instant {
        self.t0 + Duration::from_millis(millis)
    }

    fn tick(&mut self, millis: u64) {
        let now = self.at(millis);
        self.app.tick(now);
    }

    /// Takes in `kind` at `now`, stamped as the herd would.
    fn apply(&mut self, now: Instant, kind: EventKind) {
        self.app.now = now;
        let t_ns = u64::try_from(now.duration_since(self.t0).as_nanos()).unwrap();
        let event = HerdEvent { seq: self.seq, t_ns, kind };
        self.seq += 1;
        self.app.apply(&event);
    }

    /// Every event of kiwi's IAMAT at [`ORIGIN`] and its flood through the whole herd, from
    /// `millis` on, 150µs apart, breadth first as on loopback.
    fn flood(&mut self, millis: u64) {
        let name = |id: ServerId| self.topology.servers[id].name.clone();
        let update = Update { client: CLIENT.into(), time: CLIENT_TIME.into() };
        let iamat = format!("IAMAT {CLIENT} +34.068930-118.445127 {CLIENT_TIME}");
        let at = format!("AT {} +0.000213 {CLIENT} +34.068930-118.445127 {CLIENT_TIME}", name(0));
        let at: Arc<str> = at.into();
        let queued = |from, to| EventKind::FloodQueued {
            from,
            to,
            update: update.clone(),
            delay_ns: 0,
            delayed_by: None,
        };
        let stored = |server, from| EventKind::LocationStored {
            server,
            update: update.clone(),
            line: at.clone(),
            from,
        };
        let mut events = vec![
            EventKind::LineIn { server: ORIGIN, peer: client_peer(), line: iamat.into() },
            stored(ORIGIN, None),
        ];
        let mut has = vec![false; self.topology.servers.len()];
        has[ORIGIN] = true;
        let mut wire = VecDeque::new();
        for &to in &self.topology.servers[ORIGIN].neighbours {
            events.push(queued(ORIGIN, to));
            wire.push_back((ORIGIN, to));
        }
        events.push(EventKind::LineOut { server: ORIGIN, peer: client_peer(), line: at.clone() });
        while let Some((from, to)) = wire.pop_front() {
            let line: Arc<str> = format!("{at} {}", name(from)).into();
            let update = update.clone();
            events.push(EventKind::FloodSent {
                from,
                to,
                update: update.clone(),
                line: line.clone(),
            });
            events.push(EventKind::LineIn { server: to, peer: link_peer(from, to), line });
            if has[to] {
                events.push(EventKind::FloodSuppressed { server: to, update, from: Some(from) });
                continue;
            }
            has[to] = true;
            events.push(stored(to, Some(from)));
            for &next in &self.topology.servers[to].neighbours {
                if next != from {
                    events.push(queued(to, next));
                    wire.push_back((to, next));
                }
            }
        }
        let start = self.at(millis);
        for (i, kind) in events.into_iter().enumerate() {
            self.apply(start + Duration::from_micros(150 * i as u64), kind);
        }
    }

    /// Presses `c`, which must only change the view.
    fn press(&mut self, c: char) {
        let effects = self.app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        assert!(effects.is_empty(), "{c}: {effects:?}");
    }

    fn selected_name(&self) -> &str {
        match self.app.selection {
            Selection::Node(id) => &self.topology.servers[id].name,
            Selection::Link(_) => panic!("a server is selected at start"),
        }
    }
}

/// Where the client's connection comes from.
fn client_peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50312))
}

/// Where `from`'s link connection to `to` comes from.
fn link_peer(from: ServerId, to: ServerId) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000 + (from * 100 + to) as u16))
}

// ---------------------------------------------------------------------------------------------
// Reading the screen
// ---------------------------------------------------------------------------------------------

fn draw(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// The screen as rows of cells (every glyph the dashboard draws is one cell wide).
fn cells(buf: &Buffer) -> Vec<Vec<&str>> {
    let width = usize::from(buf.area.width).max(1);
    buf.content
        .chunks(width)
        .map(|row| row.iter().map(ratatui::buffer::Cell::symbol).collect())
        .collect()
}

/// The screen as text, a line per row, trailing blanks removed.
fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for row in cells(buf) {
        out.push_str(row.concat().trim_end());
        out.push('\n');
    }
    out
}

/// The inside of the pane titled `1 Topology…`, a string per row, if it is drawn.
fn topology_inside(buf: &Buffer) -> Option<Vec<String>> {
    let rows = cells(buf);
    let title = format!("╭ {}", Pane::Graph.key());
    let (top, left) = rows.iter().enumerate().find_map(|(y, row)| {
        let line = row.concat();
        let at = line.find(&format!("{title} {}", Pane::Graph.title()))?;
        Some((y, line[..at].chars().count()))
    })?;
    let right = (left + 1..rows[top].len()).find(|&x| rows[top][x] == "╮")?;
    let bottom = (top + 1..rows.len()).find(|&y| rows[y][left] == "╰")?;
    Some((top + 1..bottom).map(|y| rows[y][left + 1..right].concat()).collect())
}

/// Checks the properties every screen must have, whatever its layout: the header, every pane
/// drawn or named in the tab strip, and a topology pane (when drawn) naming the selected
/// server and showing every other name whole, once. Returns the topology pane's inside.
fn check_screen(rig: &Rig, buf: &Buffer, what: &str) -> Option<Vec<String>> {
    let screen = text(buf);
    let lines: Vec<&str> = screen.lines().collect();
    let n = rig.topology.servers.len();
    assert!(lines[0].starts_with(" herdctl "), "{what}: header\n{screen}");
    assert!(lines[0].contains(&format!("{n}/{n}")), "{what}: server count\n{screen}");
    for pane in Pane::ALL {
        let drawn = screen.contains(&format!("╭ {} {}", pane.key(), pane.title()));
        let tab = lines[1].contains(&format!(" {} {} ", pane.key(), pane.title()));
        assert!(drawn || tab, "{what}: {pane:?} neither drawn nor in the tab strip\n{screen}");
    }
    let inside = topology_inside(buf)?;
    check_labels(rig, &inside, what, &screen);
    Some(inside)
}

/// The topology pane's labels: the selected server's name whole in its brackets, and every
/// word a whole name (once) or a name's abbreviation (`Cam…`) or a count.
fn check_labels(rig: &Rig, inside: &[String], what: &str, screen: &str) {
    let names: Vec<&str> = rig.topology.servers.iter().map(|s| s.name.as_str()).collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for row in inside {
        for word in row.split(|c: char| !c.is_alphanumeric() && c != '…').filter(|w| !w.is_empty())
        {
            if word.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            if let Some(name) = names.iter().find(|&&name| name == word) {
                *seen.entry(name).or_default() += 1;
                continue;
            }
            let abbreviation = word.strip_suffix('…').is_some_and(|prefix| {
                prefix.chars().count() >= graph::ABBREVIATION_MIN
                    && names.iter().any(|name| name.starts_with(prefix) && *name != prefix)
            });
            assert!(abbreviation, "{what}: {word:?} in the topology pane is no name\n{screen}");
        }
    }
    for (name, count) in &seen {
        assert_eq!(*count, 1, "{what}: {name} shown {count} times\n{screen}");
    }
    let selected = rig.selected_name();
    let bracketed: Vec<&str> = inside
        .iter()
        .filter_map(|row| {
            let open = row.find('[')?;
            let close = open + row[open..].find(']')?;
            Some(&row[open + 1..close])
        })
        .collect();
    assert_eq!(bracketed.len(), 1, "{what}: one selected label\n{screen}");
    let words: Vec<&str> = bracketed[0].split(' ').collect();
    assert!(words.contains(&selected), "{what}: {selected} not shown whole\n{screen}");
}

/// Tokens drawn in the topology pane.
fn tokens(inside: &[String]) -> usize {
    inside.iter().map(|row| row.matches(graph::GLYPH_TOKEN).count()).sum()
}

fn suffix(in_flight: bool) -> &'static str {
    if in_flight { "_flood" } else { "" }
}

// ---------------------------------------------------------------------------------------------
// The matrix: every size, every herd, with and without a flood in flight
// ---------------------------------------------------------------------------------------------

#[test]
fn every_size_and_herd_at_rest_and_in_flight() {
    for (spec, n) in HERDS {
        for in_flight in [false, true] {
            let rig = Rig::flooded(spec, in_flight);
            assert_eq!(rig.app.servers.len(), n);
            assert_eq!(rig.app.playback.in_flight() > 0, in_flight, "{spec}");
            for (width, height) in SIZES {
                let what = format!("{spec} at {width}×{height}{}", suffix(in_flight));
                let buf = draw(&rig.app, width, height);
                let inside = check_screen(&rig, &buf, &what).expect("the topology pane");
                let full = width >= view::FULL_WIDTH && height >= view::FULL_HEIGHT;
                let screen = text(&buf);
                // Every pane at once from 100×30, else the topology with a tab strip.
                let tab_strip = screen.lines().nth(1).unwrap().contains(" 2 Clients ");
                assert_eq!(tab_strip, !full, "{what}\n{screen}");
                if in_flight {
                    assert!(tokens(&inside) > 0, "{what}: no token drawn\n{screen}");
                } else {
                    assert_eq!(tokens(&inside), 0, "{what}\n{screen}");
                    if full {
                        // The client's row in the clients pane: every server knows it.
                        let row = screen.lines().find(|l| l.starts_with(&format!("│{CLIENT} ")));
                        let known = row.is_some_and(|row| row.contains(&format!(" {n}/{n} ")));
                        assert!(known, "{what}: known by all\n{screen}");
                    }
                }
                let name = format!("layout_{width}x{height}_{n}{}", suffix(in_flight));
                insta::assert_snapshot!(name, screen);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The layouts: presenter, zoom, focus
// ---------------------------------------------------------------------------------------------

#[test]
fn presenter_layouts_show_the_topology_large() {
    for (width, height) in [(120, 36), (80, 24)] {
        let mut rig = Rig::flooded("ring:12", true);
        rig.press('v');
        assert_eq!(rig.app.arrangement, Arrangement::PresentTraffic);
        let buf = draw(&rig.app, width, height);
        let what = format!("presenter traffic at {width}×{height}");
        let inside = check_presenter(&rig, &buf, &what);
        let screen = text(&buf);
        assert!(screen.contains("╭ 3 Traffic"), "{what}\n{screen}");
        assert!(tokens(&inside) > 0, "{what}\n{screen}");
        insta::assert_snapshot!(format!("present_traffic_{width}x{height}_12_flood"), screen);

        rig.press('v');
        assert_eq!(rig.app.arrangement, Arrangement::PresentMetrics);
        let buf = draw(&rig.app, width, height);
        let what = format!("presenter metrics at {width}×{height}");
        check_presenter(&rig, &buf, &what);
        let screen = text(&buf);
        assert!(!screen.contains("╭ 3 Traffic"), "{what}\n{screen}");
        // The flood's row shows at every size (a small pane leaves its sparklines out).
        assert!(screen.contains(CLIENT), "{what}: the flood's metrics\n{screen}");
        assert!(!screen.contains("esc closes"), "{what}: a pane, not an overlay\n{screen}");
        insta::assert_snapshot!(format!("present_metrics_{width}x{height}_12_flood"), screen);

        rig.press('v');
        assert_eq!(rig.app.arrangement, Arrangement::All, "v cycles back");
    }
}

/// A presenter screen: the header, the tab strip naming every pane, the topology pane with its
/// labels, larger than the rest of the body. Returns the topology pane's inside.
fn check_presenter(rig: &Rig, buf: &Buffer, what: &str) -> Vec<String> {
    let screen = text(buf);
    let n = rig.topology.servers.len();
    assert!(screen.starts_with(" herdctl "), "{what}\n{screen}");
    assert!(screen.lines().next().unwrap().contains(&format!("{n}/{n}")), "{what}\n{screen}");
    assert!(screen.lines().nth(1).unwrap().contains(" 2 Clients "), "{what}\n{screen}");
    let inside = topology_inside(buf).expect("the topology pane");
    check_labels(rig, &inside, what, &screen);
    let body = usize::from(buf.area.height) - 3;
    assert!(inside.len() + 2 > body / 2, "{what}: the topology is the larger part\n{screen}");
    inside
}

#[test]
fn zoom_fills_the_body_with_the_focused_pane_and_names_the_rest() {
    for (spec, n) in [("tree:30", 30), ("cs131", 5)] {
        let mut rig = Rig::flooded(spec, true);
        rig.press('z');
        assert!(rig.app.zoom);
        let buf = draw(&rig.app, 120, 36);
        let what = format!("{spec} zoomed");
        let inside = check_screen(&rig, &buf, &what).expect("the zoomed topology");
        let screen = text(&buf);
        assert!(screen.lines().nth(1).unwrap().contains(" z: every pane"), "{what}\n{screen}");
        // Header, tab strip, the pane's borders, command line and footer: the rest is the pane.
        assert_eq!(inside.len(), 36 - 6, "{what}\n{screen}");
        assert!(!screen.contains("╭ 3 Traffic"), "{what}\n{screen}");
        insta::assert_snapshot!(format!("zoom_120x36_{n}_flood"), screen);
        rig.press('z');
        assert!(!rig.app.zoom);
        assert!(text(&draw(&rig.app, 120, 36)).contains("╭ 3 Traffic"), "{what}: z unzooms");
    }
}

#[test]
fn at_80x24_keys_1_to_4_show_each_pane_under_the_tab_strip() {
    let mut rig = Rig::flooded("cs131", true);
    for pane in [Pane::Clients, Pane::Traffic, Pane::Map, Pane::Graph] {
        rig.press(pane.key());
        assert_eq!(rig.app.focus, pane);
        let buf = draw(&rig.app, 80, 24);
        let what = format!("{pane:?} focused at 80×24");
        let inside = check_screen(&rig, &buf, &what);
        let screen = text(&buf);
        let lines: Vec<&str> = screen.lines().collect();
        let title = format!("╭ {} {}", pane.key(), pane.title());
        assert!(lines[2].starts_with(&title), "{what}\n{screen}");
        assert_eq!(inside.is_some(), pane == Pane::Graph, "{what}\n{screen}");
        for other in Pane::ALL.iter().filter(|&&p| p != pane) {
            let title = format!("╭ {} {}", other.key(), other.title());
            assert!(!screen.contains(&title), "{what}: {other:?} drawn too\n{screen}");
        }
        match pane {
            Pane::Clients => assert!(screen.contains(CLIENT), "{what}\n{screen}"),
            Pane::Traffic => assert!(screen.contains("IAMAT kiwi"), "{what}\n{screen}"),
            Pane::Map => assert!(screen.contains(&format!("•{CLIENT}")), "{what}\n{screen}"),
            Pane::Graph => {}
        }
        // The clients table's columns want more than 80 columns, and the solver shares the
        // shortfall differently from one thread to the next: no stable snapshot to take.
        if pane != Pane::Clients {
            let name = format!("focus_80x24_{}_{}", pane.key(), pane.title().to_lowercase());
            insta::assert_snapshot!(name, screen);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// No size makes any layout panic
// ---------------------------------------------------------------------------------------------

#[test]
fn every_layout_draws_at_any_size() {
    // Tiny, small, and just under the full layout one way or the other, or wide and short.
    let sizes = [(1, 1), (10, 3), (30, 8), (79, 23), (99, 30), (100, 29), (160, 24)];
    // The keys pressed before drawing: the layouts of the topology for every herd, with a
    // flood in flight (and every pane at rest); the other panes, which draw the same whatever
    // the herd, for one.
    let mut cases: Vec<(&str, bool, &str)> = Vec::new();
    for (spec, _) in HERDS {
        cases.push((spec, false, ""));
        cases.extend(["", "v", "z"].map(|keys| (spec, true, keys)));
    }
    cases.extend(["vv", "2", "3", "4"].map(|keys| ("cs131", true, keys)));
    for (spec, in_flight, keys) in cases {
        let mut rig = Rig::flooded(spec, in_flight);
        keys.chars().for_each(|c| rig.press(c));
        for (width, height) in sizes {
            let buf = draw(&rig.app, width, height);
            assert_eq!((buf.area.width, buf.area.height), (width, height));
            // Where the screen has room for them, the checks hold at these sizes too.
            if width >= 80 && height >= 24 && !keys.starts_with('v') {
                let what = format!("{spec} {keys:?} at {width}×{height}{}", suffix(in_flight));
                check_screen(&rig, &buf, &what);
            }
        }
    }
}

/// The checks above fail on what they are meant to catch: a garbled label, a name shown
/// twice, a selected server whose name is gone, a pane neither drawn nor named.
#[test]
fn the_checks_catch_broken_screens() {
    let rig = Rig::flooded("cs131", false);
    let clean = draw(&rig.app, 80, 24);
    assert!(check_screen(&rig, &clean, "clean").is_some());
    let broken = |what: &str, edit: &dyn Fn(&mut Buffer)| {
        let mut buf = clean.clone();
        edit(&mut buf);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_screen(&rig, &buf, what);
        }));
        assert!(caught.is_err(), "{what} not caught:\n{}", text(&buf));
    };
    let at = |buf: &Buffer, needle: &str| -> (u16, u16) {
        let rows = cells(buf);
        let (y, x) = rows
            .iter()
            .enumerate()
            .skip(3)
            .find_map(|(y, row)| Some((y, row.concat().find(needle)?)))
            .unwrap();
        let x = rows[y].concat()[..x].chars().count();
        (u16::try_from(x).unwrap(), u16::try_from(y).unwrap())
    };
    broken("two labels run together", &|buf| {
        let (x, y) = at(buf, "Bona");
        buf.set_string(x + 2, y, "Clark", Style::new());
    });
    broken("a name shown twice", &|buf| {
        let (x, y) = at(buf, "Jaquez");
        buf.set_string(x - 20, y - 4, "Jaquez", Style::new());
    });
    broken("the selected name gone", &|buf| {
        let (x, y) = at(buf, "Bailey");
        buf.set_string(x, y, "      ", Style::new());
    });
    broken("a tab gone", &|buf| {
        let strip = cells(buf)[1].concat();
        let x = strip[..strip.find("2 Clients").unwrap()].chars().count();
        buf.set_string(u16::try_from(x).unwrap(), 1, "         ", Style::new());
    });
}
