//! The dashboard's mouse, seen from outside: the `App` drawn by `view::draw` into an in-memory
//! terminal, then clicked where the drawing shows things (a tab, a server, a link, a list).
//! What a click hits is found from the frame as drawn, never from the code's own geometry.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use herdctl::config::Topology;
use herdctl::herd::control::Policy;
use herdctl::herd::{EventKind, HerdEvent, ServerId, Update};
use herdctl::trace::{FORMAT, Header, Trace};
use herdctl::tui::app::{App, Mode, Selection};
use herdctl::tui::history::History;
use herdctl::tui::mouse::WHEEL_ROWS;
use herdctl::tui::panes::Pane;
use herdctl::tui::replay::{self, Replay};
use herdctl::tui::{layout, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Span;
use tokio::time::Instant;

const BAILEY: ServerId = 0;
const BONA: ServerId = 1;
const CLARK: ServerId = 3;

const WIDE: (u16, u16) = (120, 36);
const COMPACT: (u16, u16) = (80, 24);

/// The cs131 herd, every server and link up.
fn app() -> App {
    let topology = Topology::load("cs131", 12401).unwrap();
    let snapshot = herdctl::bench::dashboard::healthy_snapshot(&topology);
    let positions = layout::positions(&topology);
    App::new("cs131", &snapshot, positions, History::in_memory(), Instant::now())
}

/// [`app`] after `lines` client reports at Bailey, each stored and answered: a traffic pane
/// with more lines than it shows.
fn busy(lines: usize) -> App {
    let mut app = app();
    let peer = SocketAddr::from(([127, 0, 0, 1], 50312));
    for n in 0..lines {
        let client = format!("c{n:03}");
        let at = format!("AT Bailey +0.000412733 {client} +34.068930-118.445127 1621464827.5");
        let kinds = [
            EventKind::LineIn {
                server: BAILEY,
                peer,
                line: format!("IAMAT {client} +34.068930-118.445127 1621464827.5").into(),
            },
            EventKind::LocationStored {
                server: BAILEY,
                update: Update { client: client.as_str().into(), time: "1621464827.5".into() },
                line: at.as_str().into(),
                from: None,
            },
            EventKind::LineOut { server: BAILEY, peer, line: at.into() },
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            app.apply(&HerdEvent { seq: (n * 3 + i) as u64, t_ns: 0, kind });
        }
    }
    // Past the flashes of the stores.
    let later = app.now + Duration::from_secs(5);
    app.tick(later);
    app
}

fn draw(app: &App, (width, height): (u16, u16)) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// The buffer as text, a line per row, wide symbols counted once.
fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in buf.area.top()..buf.area.bottom() {
        let mut skip = 0usize;
        for x in buf.area.left()..buf.area.right() {
            let cell = &buf[(x, y)];
            if skip == 0 {
                out.push_str(cell.symbol());
                skip = Span::raw(cell.symbol()).width().max(1);
            }
            skip -= 1;
        }
        out.push('\n');
    }
    out
}

/// Where `needle` is drawn (its first cell), searching rows top to bottom.
fn find_text(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let chars: Vec<String> = needle.chars().map(String::from).collect();
    (buf.area.top()..buf.area.bottom()).find_map(|y| {
        (buf.area.left()..buf.area.right()).find_map(|x| {
            chars
                .iter()
                .enumerate()
                .all(|(k, c)| {
                    let x = x + k as u16;
                    x < buf.area.right() && buf[(x, y)].symbol() == c
                })
                .then_some((x, y))
        })
    })
}

/// The cell of server `name`'s glyph on the topology, whichever side its label went.
fn glyph_of(buf: &Buffer, name: &str) -> (u16, u16) {
    if let Some(at) = find_text(buf, &format!("● {name}")) {
        return at;
    }
    let (x, y) = find_text(buf, &format!("{name} ●"))
        .unwrap_or_else(|| panic!("no glyph for {name} in\n{}", text(buf)));
    (x + name.chars().count() as u16 + 1, y)
}

fn is_braille(symbol: &str) -> bool {
    symbol.chars().next().is_some_and(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
}

fn mouse(kind: MouseEventKind, (column, row): (u16, u16)) -> MouseEvent {
    MouseEvent { kind, column, row, modifiers: KeyModifiers::NONE }
}

fn area((width, height): (u16, u16)) -> Rect {
    Rect::new(0, 0, width, height)
}

fn click(app: &mut App, size: (u16, u16), at: (u16, u16)) {
    let effects = app.mouse(mouse(MouseEventKind::Down(MouseButton::Left), at), area(size));
    assert!(effects.is_empty(), "a click asks the loop for nothing: {effects:?}");
}

fn wheel(app: &mut App, size: (u16, u16), at: (u16, u16), up: bool) {
    let kind = if up { MouseEventKind::ScrollUp } else { MouseEventKind::ScrollDown };
    assert!(app.mouse(mouse(kind, at), area(size)).is_empty());
}

fn status(app: &App) -> String {
    app.status.as_ref().map(|s| s.text.clone()).unwrap_or_default()
}

fn key(app: &mut App, code: KeyCode) {
    app.key(KeyEvent::new(code, KeyModifiers::NONE));
}

/// The link between `a` and `b`, either way round.
fn link_index(app: &App, a: ServerId, b: ServerId) -> usize {
    app.links.iter().position(|l| (l.a, l.b) == (a, b) || (l.a, l.b) == (b, a)).unwrap()
}

#[test]
fn clicking_a_tab_focuses_its_pane() {
    let mut app = app();
    for (pane, label) in [
        (Pane::Traffic, "3 Traffic"),
        (Pane::Map, "4 World"),
        (Pane::Clients, "2 Clients"),
        (Pane::Graph, "1 Topology"),
    ] {
        let buf = draw(&app, COMPACT);
        // The strip is the row under the header at 80×24.
        let (x, y) = find_text(&buf, label).unwrap_or_else(|| panic!("{label}\n{}", text(&buf)));
        assert_eq!(y, 1, "{}", text(&buf));
        click(&mut app, COMPACT, (x + 2, y));
        assert_eq!(app.focus, pane, "after a click on {label:?}");
        assert_eq!(status(&app), format!("{} pane", pane.title()));
        let buf = draw(&app, COMPACT);
        let title = format!("╭ {label}");
        assert!(text(&buf).contains(&title), "{title} not shown:\n{}", text(&buf));
    }
    // A click on the strip's hint, or the header, changes nothing.
    let before = app.focus;
    click(&mut app, COMPACT, (79, 1));
    click(&mut app, COMPACT, (5, 0));
    assert_eq!(app.focus, before);
}

#[test]
fn clicking_a_pane_focuses_it() {
    let mut app = app();
    let buf = draw(&app, WIDE);
    let (x, y) = find_text(&buf, "3 Traffic").unwrap();
    click(&mut app, WIDE, (x + 30, y + 2));
    assert_eq!(app.focus, Pane::Traffic);
    let (x, y) = find_text(&buf, "4 World").unwrap();
    click(&mut app, WIDE, (x + 10, y + 3));
    assert_eq!(app.focus, Pane::Map);
}

#[test]
fn clicking_a_server_selects_it_on_its_glyph_its_name_or_beside_them() {
    for size in [WIDE, COMPACT] {
        // Bailey's label counts its clients (`Bailey 3`): labels are placed with it.
        let mut app = busy(3);
        let names = app.names();
        for (id, name) in names.iter().enumerate() {
            let buf = draw(&app, size);
            let (x, y) = glyph_of(&buf, name);
            click(&mut app, size, (x, y));
            assert_eq!(app.selection, Selection::Node(id), "{name} at {size:?}");
            assert_eq!(status(&app), format!("server {name}"));
            assert_eq!(app.focus, Pane::Graph);
            // Its title names it.
            let buf = draw(&app, size);
            assert!(text(&buf).contains(&format!("Topology · {name} ")), "{}", text(&buf));
        }
        // The name's letters and the cell past its end select it too.
        app.selection = Selection::Node(BAILEY);
        let buf = draw(&app, size);
        let (x, y) = find_text(&buf, "Clark").unwrap();
        click(&mut app, size, (x + 3, y));
        assert_eq!(app.selection, Selection::Node(CLARK));
        app.selection = Selection::Node(BAILEY);
        click(&mut app, size, (x + 5, y));
        assert_eq!(app.selection, Selection::Node(CLARK), "just past the name");
    }
}

#[test]
fn clicking_a_link_selects_it_and_names_it() {
    for size in [WIDE, COMPACT] {
        let mut app = app();
        let buf = draw(&app, size);
        let (bona, clark) = (glyph_of(&buf, "Bona"), glyph_of(&buf, "Clark"));
        // The braille cell of the line nearest the middle between the two glyphs.
        let middle = (bona.0.midpoint(clark.0), bona.1.midpoint(clark.1));
        let cell = (0..buf.area.height)
            .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
            .filter(|&(x, y)| is_braille(buf[(x, y)].symbol()))
            .min_by_key(|&(x, y)| x.abs_diff(middle.0) + 2 * y.abs_diff(middle.1))
            .unwrap();
        click(&mut app, size, cell);
        let i = link_index(&app, BONA, CLARK);
        assert_eq!(app.selection, Selection::Link(i), "{cell:?} at {size:?}\n{}", text(&buf));
        let link = format!("{}–{}", app.name(app.links[i].a), app.name(app.links[i].b));
        assert_eq!(status(&app), format!("link {link}"));
        let buf = draw(&app, size);
        assert!(text(&buf).contains(&format!("Topology · link {link}")), "{}", text(&buf));
        // Its midway mark, now drawn, selects it too (after another server was picked).
        let mark = find_text(&buf, "◇").unwrap();
        click(&mut app, size, glyph_of(&buf, "Jaquez"));
        assert!(matches!(app.selection, Selection::Node(_)));
        click(&mut app, size, mark);
        assert_eq!(app.selection, Selection::Link(i), "the mark at {mark:?}");
        // Empty space far from everything selects nothing, and keeps the selection.
        let buf = draw(&app, size);
        let (title_x, title_y) = find_text(&buf, "1 Topology").unwrap();
        let quiet = (title_y + 1..buf.area.height).find_map(|y| {
            let x = title_x + 1;
            let around = (y.saturating_sub(2)..=y + 2)
                .flat_map(|yy| (x.saturating_sub(4)..=x + 4).map(move |xx| (xx, yy)))
                .all(|(xx, yy)| {
                    xx >= buf.area.width || yy >= buf.area.height || {
                        let s = buf[(xx, yy)].symbol();
                        s == " " || s == "│"
                    }
                });
            around.then_some((x, y))
        });
        let quiet = quiet.unwrap_or_else(|| panic!("no empty space in\n{}", text(&buf)));
        click(&mut app, size, quiet);
        assert_eq!(app.selection, Selection::Link(i), "a click on nothing at {quiet:?}");
        assert_eq!(app.focus, Pane::Graph);
    }
}

#[test]
fn the_wheel_scrolls_the_traffic_pane_and_freezes_it() {
    let mut app = busy(40);
    let buf = draw(&app, WIDE);
    let (x, y) = find_text(&buf, "3 Traffic").unwrap();
    let inside = (x + 20, y + 3);
    assert_eq!(app.focus, Pane::Graph);
    wheel(&mut app, WIDE, inside, true);
    assert_eq!(app.focus, Pane::Traffic, "the wheel focuses the list under it");
    assert_eq!(app.lists.traffic_scroll, WHEEL_ROWS);
    assert!(app.lists.frozen.is_some(), "scrolling back freezes the traffic");
    let screen = text(&draw(&app, WIDE));
    assert!(screen.contains("3 Traffic · all servers · ‖ frozen"), "{screen}");
    wheel(&mut app, WIDE, inside, true);
    assert_eq!(app.lists.traffic_scroll, 2 * WHEEL_ROWS);
    wheel(&mut app, WIDE, inside, false);
    assert_eq!(app.lists.traffic_scroll, WHEEL_ROWS);
    // End follows again, as with the keys.
    key(&mut app, KeyCode::End);
    assert_eq!((app.lists.traffic_scroll, app.lists.frozen), (0, None));

    // The clients pane scrolls too; the wheel over the topology does nothing.
    let (x, y) = find_text(&buf, "2 Clients").unwrap();
    wheel(&mut app, WIDE, (x + 10, y + 2), true);
    assert_eq!((app.focus, app.lists.clients_scroll), (Pane::Clients, WHEEL_ROWS));
    let (x, y) = find_text(&buf, "1 Topology").unwrap();
    wheel(&mut app, WIDE, (x + 10, y + 2), true);
    assert_eq!(app.focus, Pane::Clients);

    // At 80×24 the lone traffic pane scrolls the same.
    let mut app = busy(40);
    key(&mut app, KeyCode::Char('3'));
    wheel(&mut app, COMPACT, (40, 12), true);
    assert_eq!(app.lists.traffic_scroll, WHEEL_ROWS);
    let screen = text(&draw(&app, COMPACT));
    assert!(screen.contains("‖ frozen"), "{screen}");
}

#[test]
fn overlays_scroll_and_close_and_typing_ignores_the_mouse() {
    let mut app = app();
    key(&mut app, KeyCode::Char('?'));
    wheel(&mut app, COMPACT, (40, 12), false);
    assert!(matches!(app.mode, Mode::Help { scroll } if scroll == WHEEL_ROWS as u16));
    wheel(&mut app, COMPACT, (40, 12), true);
    assert!(matches!(app.mode, Mode::Help { scroll: 0 }));
    click(&mut app, COMPACT, (40, 12));
    assert!(matches!(app.mode, Mode::Normal), "a click closes the help");

    // The command line keeps its text through clicks and the wheel, and the focus stays.
    key(&mut app, KeyCode::Char(':'));
    for c in "cut Bona".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    click(&mut app, COMPACT, (10, 1));
    click(&mut app, COMPACT, (40, 12));
    wheel(&mut app, COMPACT, (40, 12), true);
    assert!(matches!(&app.mode, Mode::Command(editor) if editor.text == "cut Bona"));
    assert_eq!(app.focus, Pane::Graph);
    key(&mut app, KeyCode::Esc);

    // A question waits for its answer: a click neither answers nor cancels it.
    app.selection = Selection::Node(BONA);
    key(&mut app, KeyCode::Char('k'));
    assert!(matches!(app.mode, Mode::Confirm { .. }));
    click(&mut app, COMPACT, (40, 12));
    assert!(matches!(app.mode, Mode::Confirm { .. }));

    // Moves, drags and releases do nothing anywhere.
    let mut app = app_with_help_open();
    for kind in [
        MouseEventKind::Moved,
        MouseEventKind::Up(MouseButton::Left),
        MouseEventKind::Drag(MouseButton::Left),
        MouseEventKind::Down(MouseButton::Right),
    ] {
        assert!(app.mouse(mouse(kind, (40, 12)), area(COMPACT)).is_empty());
        assert!(matches!(app.mode, Mode::Help { .. }), "{kind:?}");
    }
}

fn app_with_help_open() -> App {
    let mut app = app();
    key(&mut app, KeyCode::Char('?'));
    app
}

#[test]
fn the_help_tells_what_the_mouse_does() {
    let app = app_with_help_open();
    let screen = text(&draw(&app, (160, 120)));
    assert!(screen.contains("Mouse"), "{screen}");
    for click in herdctl::tui::keymap::MOUSE {
        let shown = click.when.is_empty();
        assert_eq!(screen.contains(click.what), shown || click.what == "click", "{}", click.what);
    }
    assert!(screen.contains("click link    select it"), "{screen}");
}

/// A recording of two servers: kiwi reported at S0 at 1s, flooded to S1 at 2s, S1 stopped at
/// 9s.
fn recording() -> Trace {
    let update = Update { client: "kiwi".into(), time: "1.0".into() };
    let stored = |server, from| EventKind::LocationStored {
        server,
        update: update.clone(),
        line: format!("AT S{server} +0.1 kiwi +1+2 1.0").into(),
        from,
    };
    let second = 1_000_000_000;
    let events = [(second, stored(0, None)), (2 * second, stored(1, Some(0)))]
        .into_iter()
        .chain([(9 * second, EventKind::ServerStopped { server: 1 })])
        .enumerate()
        .map(|(i, (t_ns, kind))| HerdEvent { seq: i as u64, t_ns, kind })
        .collect();
    Trace {
        header: Header {
            format: FORMAT,
            herdctl: "0.1.0".into(),
            topology: "line:2".into(),
            servers: vec!["S0".into(), "S1".into()],
            links: vec![(0, 1)],
            seed: 3,
            policy: Policy::Spec,
            started: "2024-01-01T00:00:00.000Z".into(),
            state: None,
        },
        events,
        gaps: Vec::new(),
        cut: false,
    }
}

#[test]
fn in_a_replay_a_click_on_the_timeline_goes_there() {
    let trace = recording();
    let topology = replay::topology_of(&trace);
    let now = Instant::now();
    let replay = Replay::new("t.ndjson", trace, topology.clone(), now);
    let start = replay.start.clone();
    let mut app = App::new("t", &start, layout::positions(&topology), History::in_memory(), now);
    app.start_replay(replay);
    let end = app.replay.as_ref().unwrap().end();
    assert_eq!(end, 8_000_000_000, "the clock runs from the first event to the last");
    let buf = draw(&app, COMPACT);
    let row = (0..buf.area.height).find(|&y| find_text(&buf, "#0/3").is_some_and(|p| p.1 == y));
    let row = row.unwrap_or_else(|| panic!("no timeline in\n{}", text(&buf)));
    let bar: Vec<u16> = (0..buf.area.width)
        .filter(|&x| matches!(buf[(x, row)].symbol(), "─" | "━" | "│" | "▼" | "●"))
        .collect();
    let (first, last) = (bar[0], bar[bar.len() - 1]);
    // The bar's last column: the end of the recording, S1 stopped.
    click(&mut app, COMPACT, (last, row));
    let replay = app.replay.as_ref().unwrap();
    assert_eq!(replay.applied, 3, "at {}", replay.at);
    assert!(!app.servers[1].up);
    // Its first: the start.
    click(&mut app, COMPACT, (first, row));
    assert_eq!(app.replay.as_ref().unwrap().at, 0);
    assert!(app.servers[1].up);
    // A quarter of the way (2s of 8): kiwi is at both servers, S1 still up; the marker is
    // drawn in the column clicked.
    let quarter = first + (last + 1 - first) / 4 + 1;
    click(&mut app, COMPACT, (quarter, row));
    let at = app.replay.as_ref().unwrap().at;
    assert!((2_000_000_000..4_000_000_000).contains(&at), "{at}");
    assert!(app.servers[1].up && app.clients.held_by(1) == 1);
    assert!(status(&app).starts_with("at 2."), "{}", status(&app));
    let buf = draw(&app, COMPACT);
    assert_eq!(buf[(quarter, row)].symbol(), "●", "{}", text(&buf));
    // Off the bar, on its text: nothing moves.
    click(&mut app, COMPACT, (1, row));
    assert_eq!(app.replay.as_ref().unwrap().at, at);
}
