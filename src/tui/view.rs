//! Rendering: pure functions from `&App` to a frame. No I/O, no locks, no clock reads.
//!
//! ```text
//! ┌ header: herd, running/paused, servers, links, policy, faults, seed, clients, msg/s, … ┐
//! ├ topology graph ───────────────────────────┬ world map ─────────────────────────────────┤
//! ├ clients table ────────────────────────────┴────────────────────────────────────────────┤
//! ├ traffic ───────────────────────────────────────────────────────────────────────────────┤
//! ├ command line / status ─────────────────────────────────────────────────────────────────┤
//! └ keys that work now ────────────────────────────────────────────────────────────────────┘
//! ```
//! Below 100×30 only the header, the graph, the command line and the keys remain. Overlays
//! (help `?`, faults `F`, metrics `M`, replies, confirmations) draw over the middle at any size.

use std::fmt::Write as _;
use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::canvas::{Canvas, Map, MapResolution, Points};
use ratatui::widgets::{Block, BorderType, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::app::{
    App, Effect, Mode, Selection, Tone, edge_faults, fmt_duration, fmt_left, fmt_period,
};
use super::clients::ClientRow;
use super::graph::{
    self, EdgeState, EdgeView, Flash, GraphView, Mark, NodeState, NodeView, TokenState, TokenView,
};
use super::keymap::{self, Action, When};
use super::metrics_overlay;
use super::panes::{self, Pane, Screen, Shape};
use super::playback::Outcome;
use super::theme;
use super::traffic::Direction;
use super::{lesson, timeline};
use crate::command;

pub use super::panes::{FULL_HEIGHT, FULL_WIDTH};

pub(super) const ACCENT: Color = Color::Cyan;
pub(super) const DIM: Style = Style::new().fg(Color::DarkGray);

/// Where everything goes on a screen of `area` for `app` (also what a click hits).
pub fn screen(app: &App, area: Rect) -> Screen {
    let caption = app.lesson.as_ref().and_then(|l| l.caption.as_deref());
    let shape = Shape {
        focus: app.focus,
        zoom: app.zoom,
        arrangement: app.arrangement,
        servers: app.servers.len(),
        clients: app.clients.len(),
        caption: caption.map_or(0, |text| lesson::caption_rows(text, area.width)),
        timeline: app.replay.is_some() || app.lesson.is_some(),
        command: if command_note(app).is_some() { 2 } else { 1 },
    };
    panes::split(area, shape)
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let screen = screen(app, area);
    frame.render_widget(header_line(app, area.width), screen.header);
    if let Some(tabs) = screen.tabs {
        frame.render_widget(tab_strip(app), tabs);
    }
    let several = screen.panes.len() > 1;
    let newest = newest_first(app);
    for &(which, rect) in &screen.panes {
        let focused = several && which == app.focus;
        match which {
            Pane::Graph => draw_graph(frame, app, rect, focused),
            Pane::Map => draw_map(frame, &newest, rect, focused),
            Pane::Clients => draw_clients(frame, app, &newest, rect, focused),
            Pane::Traffic => draw_traffic(frame, app, rect, focused),
        }
    }
    if let Some(rect) = screen.metrics {
        metrics_overlay::draw_pane(frame, app, rect);
    }
    if let Some(replay) = &app.replay {
        frame.render_widget(timeline::line(replay, area.width), screen.timeline);
    } else if let Some(played) = &app.lesson {
        frame.render_widget(lesson::line(played, area.width), screen.timeline);
    }
    if let Some(caption) = app.lesson.as_ref().and_then(|l| l.caption.as_deref()) {
        frame.render_widget(lesson::caption(caption), screen.caption);
    }
    draw_command_line(frame, app, screen.command, command_note(app));
    frame.render_widget(footer_line(app, area.width), screen.footer);
    match &app.mode {
        Mode::Help { scroll } => draw_help(frame, area, *scroll, app),
        Mode::Popup { title, lines, scroll } => draw_popup(frame, area, title, lines, *scroll),
        Mode::Confirm { prompt, .. } => draw_confirm(frame, screen.body, prompt),
        Mode::Faults { scroll } => draw_faults(frame, app, area, *scroll),
        Mode::Metrics { scroll } => metrics_overlay::draw(frame, app, area, *scroll),
        Mode::Normal | Mode::Command(_) | Mode::Find(_) => {}
    }
    theme::apply(app.theme, frame.buffer_mut());
}

/// The tab strip over a lone pane: every pane's key and name, the focused one lit, and how
/// to see them all.
fn tab_strip(app: &App) -> Paragraph<'static> {
    let mut spans: Vec<Span> = Pane::ALL
        .iter()
        .map(|&p| {
            let style = if p == app.focus {
                Style::new().fg(Color::Black).bg(ACCENT).bold()
            } else {
                Style::new().fg(ACCENT)
            };
            Span::styled(panes::tab_label(p), style)
        })
        .collect();
    let hint = if app.zoom { " z: every pane · v: layout" } else { " keys 1-4 · v: layout" };
    spans.push(Span::styled(hint, DIM));
    Paragraph::new(Line::from(spans))
}

/// A pane's frame: its key and title, lit when it has the focus.
fn titled(which: Pane, title: &str, focused: bool) -> Block<'static> {
    let block = pane(format!(" {} {}", which.key(), title.trim_start()));
    if focused { block.border_style(Style::new().fg(ACCENT)) } else { block }
}

pub(super) fn pane(title: impl Into<Line<'static>>) -> Block<'static> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(DIM)
        .title(title.into().fg(ACCENT).bold())
}

/// Warning colour of the header: something is off (a server down, a fault, an off-spec rule).
pub(super) const WARN: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
/// The view itself missed or skipped something.
const ALARM: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);

fn header_line(app: &App, width: u16) -> Paragraph<'static> {
    let up = app.servers.iter().filter(|s| s.seen && s.up).count();
    let unseen = app.servers.iter().filter(|s| !s.seen).count();
    let links_up = app.links.iter().filter(|l| l.is_up(&app.servers)).count();
    let wide = width >= FULL_WIDTH;
    let bold = Style::new().bold();
    let title: String = app.title.chars().take(if wide { 24 } else { 12 }).collect();
    let mut spans = vec![
        Span::styled(" herdctl ", Style::new().fg(Color::Black).bg(ACCENT).bold()),
        Span::styled(format!(" {title} "), bold),
    ];
    if let Some(replay) = &app.replay {
        let playing = if replay.playing { "▶" } else { "‖" };
        let text = if wide { format!(" {playing} replay ") } else { format!(" {playing} ") };
        spans.push(Span::styled(text, Style::new().fg(Color::Black).bg(Color::Magenta).bold()));
    } else if app.engine.paused {
        let held = if wide {
            format!(" ‖ paused · {} held ", app.engine.held)
        } else {
            format!(" ‖ {} held ", app.engine.held)
        };
        spans.push(Span::styled(held, Style::new().fg(Color::Black).bg(Color::Yellow).bold()));
    } else {
        let running = if wide { " ▶ running " } else { " ▶ " };
        spans.push(Span::styled(running, Style::new().fg(Color::Green).bold()));
    }
    let label = |long: &'static str, short: &'static str| if wide { long } else { short };
    let policy = app.engine.policy;
    let faults = app.faults.faults.len();
    let delayed = app.engine.delay;
    // Most important first: whatever does not fit is left off the end. A field without a
    // name is its value alone.
    let fields = [
        Some((
            label("servers", "srv"),
            format!("{up}/{}", app.servers.len()),
            (up < app.servers.len()).then_some(WARN),
        )),
        (unseen > 0).then(|| (label("unseen", "?"), unseen.to_string(), Some(ALARM))),
        Some((
            label("links", "lnk"),
            format!("{links_up}/{}", app.links.len()),
            (links_up < app.links.len()).then_some(WARN),
        )),
        Some(if policy.is_spec() {
            (label("policy", ""), policy.to_string(), None)
        } else {
            (label("policy", ""), format!("OFF-SPEC {policy}"), Some(WARN.fg(Color::LightRed)))
        }),
        (faults > 0).then(|| (label("faults", "flt"), faults.to_string(), Some(WARN))),
        app.engine
            .anti_entropy
            .map(|every| (label("anti-entropy", "ae"), fmt_period(every), Some(WARN))),
        // A delay on every link matters more than the counters below.
        (!delayed.is_zero()).then(|| ("delay", fmt_duration(delayed), Some(WARN))),
        Some(("seed", app.engine.seed.to_string(), None)),
        app.behind().map(|behind| {
            (label("view behind", "behind"), format!("{:.1}s", behind.as_secs_f64()), Some(WARN))
        }),
        Some((label("clients", "cli"), app.clients.len().to_string(), None)),
        (app.lagged > 0).then(|| ("lagged", app.lagged.to_string(), Some(ALARM))),
        Some((
            label("dropped", "drop"),
            app.drops.values().sum::<u64>().to_string(),
            (!app.drops.is_empty()).then_some(WARN),
        )),
        (app.playback.skipped > 0)
            .then(|| ("skipped", app.playback.skipped.to_string(), Some(ALARM))),
        Some((label("in flight", "flight"), app.playback.in_flight().to_string(), None)),
        Some(("msg/s", app.rate.last.to_string(), None)),
        delayed.is_zero().then(|| ("delay", fmt_duration(delayed), None)),
        Some(("replay", format!("{}/hop", fmt_duration(app.playback.hop)), None)),
    ];
    let mut used: usize = spans.iter().map(Span::width).sum();
    for (name, value, style) in fields.into_iter().flatten() {
        let name = if name.is_empty() { " ".to_owned() } else { format!(" {name} ") };
        let needed = name.chars().count() + value.chars().count();
        if used + needed > usize::from(width) {
            break;
        }
        used += needed;
        spans.push(Span::styled(name, DIM));
        spans.push(Span::styled(value, style.unwrap_or(bold)));
    }
    Paragraph::new(Line::from(spans))
}

/// The servers as the topology pane places them: what decides where a glyph and its label go
/// (name, position, selection, client count, killed or hung); the flashes and tints only
/// colour them. Drawing and clicks both start from it.
pub(super) fn graph_nodes(app: &App) -> Vec<NodeView> {
    let node = |(id, server): (usize, &super::app::ServerModel)| NodeView {
        name: server.name.clone(),
        pos: app.positions.get(id).copied().unwrap_or((0.5, 0.5)),
        state: if !server.seen {
            NodeState::Unseen
        } else if !server.up {
            NodeState::Killed
        } else if server.hung {
            NodeState::Hung
        } else {
            NodeState::Up
        },
        selected: app.selection == Selection::Node(id),
        tint: None,
        flash: None,
        clients: app.clients.held_by(id),
    };
    app.servers.iter().enumerate().map(node).collect()
}

/// The links as the topology pane draws them (their midway marks take cells too).
pub(super) fn graph_edges(app: &App) -> Vec<EdgeView> {
    let edge = |(i, link): (usize, &super::app::LinkModel)| EdgeView {
        a: link.a,
        b: link.b,
        state: link.look(&app.servers),
        selected: app.selection == Selection::Link(i),
        a_to_b: edge_faults(&link.a_faults),
        b_to_a: edge_faults(&link.b_faults),
    };
    app.links.iter().enumerate().map(edge).collect()
}

fn draw_graph(frame: &mut Frame, app: &App, area: Rect, focused: bool) {
    let now = app.now;
    let hop = app.playback.hop;
    // The servers as placed, lit by the latest arrival each had.
    let mut nodes = graph_nodes(app);
    for (id, node) in nodes.iter_mut().enumerate() {
        let mark = app.playback.marks.get(&id);
        node.flash = mark.filter(|m| now < m.at + hop).map(|m| match m.outcome {
            Outcome::Stored => Flash::Stored,
            Outcome::Suppressed => Flash::Suppressed,
        });
        node.tint = mark.filter(|m| m.outcome == Outcome::Stored).map(|m| m.colour);
    }
    let edges = graph_edges(app);
    let tokens: Vec<TokenView> = app
        .playback
        .tokens
        .iter()
        .filter(|t| t.held || t.dropped.is_some() || now >= t.start)
        .map(|t| TokenView {
            from: t.from,
            to: t.to,
            progress: app.playback.progress(t, now),
            colour: t.colour,
            state: if t.dropped.is_some() {
                TokenState::Dropped
            } else if t.held {
                TokenState::Held
            } else {
                TokenState::Moving
            },
        })
        .collect();
    let title = match app.selection {
        Selection::Node(id) => {
            let s = &app.servers[id];
            let addr = s.addr.map_or_else(String::new, |a| format!(" {a}"));
            let state = match s.state() {
                "up" => String::new(),
                state => format!(" ({state})"),
            };
            format!("Topology · {}{addr}{state} ", s.name)
        }
        Selection::Link(i) => {
            let l = &app.links[i];
            let faults = l.faults_text(&app.names());
            let state = match l.connection(&app.servers) {
                EdgeState::Up | EdgeState::Cut if !faults.is_empty() => "",
                EdgeState::Up | EdgeState::Cut => " (up)",
                EdgeState::Reconnecting => " (reconnecting)",
                EdgeState::Stalled => " (stalled: a neighbour does not read)",
                EdgeState::Idle => " (one end down)",
            };
            let faults = if faults.is_empty() { String::new() } else { format!(": {faults}") };
            format!("Topology · link {}–{}{state}{faults} ", app.name(l.a), app.name(l.b))
        }
    };
    let block = Some(titled(Pane::Graph, &title, focused));
    let view = GraphView { nodes: &nodes, edges: &edges, tokens: &tokens, block };
    frame.render_widget(view, area);
}

fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}

/// Clients, the most recently updated first (ties by id).
fn newest_first(app: &App) -> Vec<&ClientRow> {
    let mut rows: Vec<_> = app.clients.rows().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.updated));
    rows
}

fn draw_clients(frame: &mut Frame, app: &App, rows: &[&ClientRow], area: Rect, focused: bool) {
    let total = app.servers.len();
    let visible = area.height.saturating_sub(3) as usize;
    let find = app.lists.clients_find.as_str();
    let matching: Vec<&&ClientRow> =
        rows.iter().filter(|row| find.is_empty() || row.id.contains(find)).collect();
    let skip = app.lists.clients_scroll.min(matching.len().saturating_sub(visible));
    let shown = &matching[skip.min(matching.len())..(skip + visible).min(matching.len())];
    // The id as wide as the longest shown (within bounds); the other columns by priority,
    // those that do not fit left off whole rather than cut mid-number.
    let id_width = shown.iter().map(|row| row.id.chars().count()).max().unwrap_or(0).clamp(8, 40);
    let columns = client_columns(usize::from(area.width.saturating_sub(2)), id_width);
    let table_rows = shown.iter().map(|row| {
        let known = row.known_count();
        let known_style = if known == total {
            Style::new().fg(Color::Green)
        } else {
            Style::new().fg(Color::Yellow)
        };
        Row::new(columns.iter().map(|column| match column.name {
            "client" => Cell::from(row.id.to_string()).bold(),
            "coordinates" => Cell::from(row.coords.clone()),
            "client time" => Cell::from(row.time_text.clone()),
            "origin" => Cell::from(row.origin.clone()),
            "time diff" => Cell::from(row.diff.clone()),
            "known" => Cell::from(format!("{known}/{total}")).style(known_style),
            _ => Cell::from(age(app.herd_now().saturating_duration_since(row.updated))).style(DIM),
        }))
    });
    let widths: Vec<Constraint> = columns.iter().map(|c| Constraint::Length(c.width)).collect();
    let header = Row::new(columns.iter().map(|c| c.name)).style(DIM.add_modifier(Modifier::BOLD));
    let mut title = format!("Clients {}", rows.len());
    if !find.is_empty() {
        let _ = write!(title, " · /{find}: {} match", matching.len());
    }
    let below = matching.len().saturating_sub(skip + visible);
    if skip > 0 || below > 0 {
        let _ = write!(title, " · ↑{skip} ↓{below}");
    }
    title.push(' ');
    let block = titled(Pane::Clients, &title, focused);
    if app.clients.is_empty() {
        let text = if app.replay.is_some() {
            "no client reported by this point of the recording"
        } else {
            "no clients yet — press i (or :iamat) to report one"
        };
        let hint = Paragraph::new(Text::from(vec![Line::raw(""), Line::styled(text, DIM)]))
            .block(block)
            .centered();
        frame.render_widget(hint, area);
    } else {
        let table = Table::new(table_rows, widths).header(header).column_spacing(1).block(block);
        frame.render_widget(table, area);
    }
}

/// A column of the clients table.
struct ClientColumn {
    name: &'static str,
    width: u16,
}

/// The clients table's columns that fit `width`, in their order: the id, coordinates, known
/// and age come first; the origin, the time difference and the client time are left off, in
/// that order from the last, when there is no room.
fn client_columns(width: usize, id_width: usize) -> Vec<ClientColumn> {
    // (name, width, priority: lower is kept longer)
    let all: [(&str, usize, u8); 7] = [
        ("client", id_width, 0),
        ("coordinates", 21, 1),
        ("client time", 21, 6),
        ("origin", 9, 4),
        ("time diff", 13, 5),
        ("known", 6, 2),
        ("age", 4, 3),
    ];
    let mut keep = 7;
    let fits = |keep: u8| {
        let kept = all.iter().filter(|c| c.2 < keep);
        kept.clone().map(|c| c.1).sum::<usize>() + kept.count().saturating_sub(1) <= width
    };
    while keep > 1 && !fits(keep) {
        keep -= 1;
    }
    all.iter()
        .filter(|c| c.2 < keep)
        .map(|&(name, width, _)| ClientColumn {
            name,
            width: u16::try_from(width).unwrap_or(u16::MAX),
        })
        .collect()
}

/// Most client labels drawn on the map (the newest ones).
const MAP_LABELS: usize = 24;

fn draw_map(frame: &mut Frame, rows: &[&ClientRow], area: Rect, focused: bool) {
    let coords: Vec<(f64, f64)> = rows.iter().map(|r| (r.lng, r.lat)).collect();
    let canvas = Canvas::default()
        .block(titled(Pane::Map, "World ", focused))
        .marker(Marker::Braille)
        .x_bounds([-180.0, 180.0])
        .y_bounds([-90.0, 90.0])
        .paint(|ctx| {
            ctx.draw(&Map { resolution: MapResolution::High, color: Color::DarkGray });
            ctx.layer();
            ctx.draw(&Points { coords: &coords, color: Color::LightYellow });
            for row in rows.iter().take(MAP_LABELS) {
                ctx.print(
                    row.lng,
                    row.lat,
                    Span::styled(
                        format!("•{}", row.id),
                        Style::new().fg(Color::LightYellow).bold(),
                    ),
                );
            }
        });
    frame.render_widget(canvas, area);
}

/// The style of the operator's actions in the traffic pane.
const OPERATOR: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);

/// Width of a traffic line before its text: time, server, arrow and peer.
const TRAFFIC_PREFIX: usize = 10 + 10 + 24;

fn draw_traffic(frame: &mut Frame, app: &App, area: Rect, focused: bool) {
    let inner_height = area.height.saturating_sub(2) as usize;
    let text_width = usize::from(area.width.saturating_sub(2)).saturating_sub(TRAFFIC_PREFIX);
    let operator_width = usize::from(area.width.saturating_sub(2)).saturating_sub(10);
    let lists = &app.lists;
    let find = lists.traffic_find.as_str();
    let window =
        app.traffic.window(inner_height, app.filter, find, lists.frozen, lists.traffic_scroll);
    let lines: Vec<Line> = window
        .lines
        .iter()
        .map(|l| {
            let time = Span::styled(format!("{} ", app.wall.clock(l.at)), DIM);
            let Some(server) = l.server else {
                return Line::from(vec![
                    time,
                    Span::styled(ellipsize(&l.text, operator_width), OPERATOR),
                ]);
            };
            let server = Span::styled(format!("{:<10}", app.name(server)), Style::new().bold());
            let (arrow, who, style) = match l.direction {
                Direction::In => match forwarder(app, &l.text) {
                    Some(name) => ("⇐", name.to_owned(), Style::new().fg(ACCENT)),
                    None => ("←", l.peer.as_deref().unwrap_or("").to_owned(), Style::new()),
                },
                Direction::Out => {
                    ("→", l.peer.as_deref().unwrap_or("").to_owned(), Style::new().fg(Color::Green))
                }
                Direction::Flood(to) => ("⇒", app.name(to).to_owned(), Style::new().fg(ACCENT)),
                Direction::Operator => ("", String::new(), OPERATOR),
            };
            let text_style = if l.text.starts_with("? ") || l.text.starts_with("dropped") {
                Style::new().fg(Color::Red)
            } else if l.text.starts_with("duplicated") {
                graph::look(Mark::Dup).style
            } else {
                style
            };
            Line::from(vec![
                time,
                server,
                Span::styled(format!("{arrow} {who:<21} "), DIM),
                Span::styled(ellipsize(&l.text, text_width), text_style),
            ])
        })
        .collect();
    let filter = app.filter.map_or_else(|| "all servers".to_owned(), |id| app.name(id).to_owned());
    let mut title = format!("Traffic · {filter}");
    if !find.is_empty() {
        let _ = write!(title, " · /{find}");
    }
    if lists.frozen.is_some() {
        let _ = write!(title, " · ‖ frozen, {} newer below (space follows)", window.below);
    } else if window.above > 0 && lists.traffic_scroll > 0 {
        let _ = write!(title, " · ↑{}", window.above);
    }
    title.push(' ');
    let block = titled(Pane::Traffic, &title, focused);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// `text` cut to `width` characters, ending in `…` when cut.
pub(super) fn ellipsize(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The neighbour that forwarded an AT line: its seventh field, when it names a server (a
/// storm's `ttl=N` may follow it).
fn forwarder<'a>(app: &'a App, line: &str) -> Option<&'a str> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let sender = match fields.as_slice() {
        ["AT", _, _, _, _, _, sender] => sender,
        ["AT", _, _, _, _, _, sender, ttl] if ttl.starts_with("ttl=") => sender,
        _ => return None,
    };
    app.servers.iter().map(|s| s.name.as_str()).find(|name| name == sender)
}

/// The line shown above the command line while typing: the error of the last attempt, the
/// completion candidates, or the usage of the command typed so far.
fn command_note(app: &App) -> Option<Line<'static>> {
    let Mode::Command(editor) = &app.mode else { return None };
    if let Some(error) = &editor.error {
        let style = Style::new().fg(Color::White).bg(Color::Red);
        return Some(Line::styled(format!(" ✗ {error} "), style));
    }
    if let Some((candidates, index)) = editor.candidates() {
        let spans = candidates.iter().enumerate().flat_map(|(i, c)| {
            let style =
                if i == index { Style::new().fg(Color::Black).bg(ACCENT) } else { Style::new() };
            [Span::styled(c.clone(), style), Span::raw(" ")]
        });
        return Some(Line::from(spans.collect::<Vec<_>>()));
    }
    let hint = command::hint(&editor.text)?;
    Some(Line::styled(format!(" {hint} "), Style::new().fg(Color::Gray).bg(Color::DarkGray)))
}

fn draw_command_line(frame: &mut Frame, app: &App, area: Rect, note: Option<Line<'static>>) {
    let line_area = Rect { y: area.bottom().saturating_sub(1), height: 1, ..area };
    if let Some(note) = note {
        frame.render_widget(Paragraph::new(note), Rect { height: 1, ..area });
    }
    let editing = match &app.mode {
        Mode::Command(editor) => Some((":", editor)),
        Mode::Find(editor) => Some(("/", editor)),
        _ => None,
    };
    if let Some((prompt, editor)) = editing {
        let (text, column) = editor.visible(usize::from(line_area.width.saturating_sub(2)));
        let prompt = Span::styled(prompt, Style::new().fg(ACCENT).bold());
        frame.render_widget(Paragraph::new(Line::from(vec![prompt, Span::raw(text)])), line_area);
        let cursor_x = line_area.x + 1 + u16::try_from(column).unwrap_or(u16::MAX);
        frame.set_cursor_position((cursor_x.min(line_area.right().saturating_sub(1)), line_area.y));
    } else if let Some(status) = &app.status {
        let (mark, colour) = match status.tone {
            Tone::Done => ("✓ ", Color::Green),
            Tone::Unchanged => ("= ", Color::LightYellow),
            Tone::Info => ("· ", Color::Gray),
            Tone::Error => ("✗ ", Color::Red),
        };
        let line = Line::styled(format!("{mark}{}", status.text), Style::new().fg(colour));
        frame.render_widget(Paragraph::new(line), line_area);
    }
}

/// The keymap's bindings that apply now and have a word for the footer, in its order; the
/// words of toggles say what pressing does now.
fn footer_keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for binding in keymap::BINDINGS {
        if binding.hint.is_empty() || !app.applies(binding) {
            continue;
        }
        let hint = match binding.action {
            Action::Pause if app.engine.paused => "resume",
            Action::Hang if app.selected_server().is_some_and(|id| app.servers[id].hung) => {
                "unhang"
            }
            Action::Freeze if app.lists.frozen.is_some() => "follow",
            _ => binding.hint,
        };
        if !keys.iter().any(|&(k, _)| k == binding.keys) {
            keys.push((binding.keys, hint));
        }
    }
    // While paused, resuming and stepping come first.
    if app.engine.paused && app.replay.is_none() {
        keys.sort_by_key(|&(k, _)| !matches!(k, "p" | "s"));
    }
    keys
}

/// The keys that work now, most useful first, as many as fit.
fn footer_line(app: &App, width: u16) -> Paragraph<'static> {
    let keys: Vec<(&str, &str)> = match &app.mode {
        Mode::Command(_) => {
            vec![("enter", "run"), ("tab", "complete"), ("↑↓", "history"), ("esc", "cancel")]
        }
        Mode::Find(_) => vec![("enter", "keep"), ("esc", "clear")],
        Mode::Confirm { effect: Effect::Quit, .. } => {
            vec![("q y", "quit"), ("n", "stay")]
        }
        Mode::Confirm { .. } => vec![("y", "yes"), ("n", "no")],
        Mode::Help { .. } | Mode::Popup { .. } => vec![("↑↓", "scroll"), ("esc", "close")],
        Mode::Metrics { .. } => vec![("↑↓", "scroll"), ("esc", "close"), ("F", "faults")],
        Mode::Faults { .. } => {
            vec![
                ("↑↓", "scroll"),
                ("esc", "close"),
                ("H", "heal all"),
                ("x", "reset"),
                ("M", "metrics"),
            ]
        }
        Mode::Normal => footer_keys(app),
    };
    let mut spans = Vec::new();
    let mut used = 0;
    for (key, what) in keys {
        let needed = key.chars().count() + what.chars().count() + 5;
        if used + needed > usize::from(width) {
            break;
        }
        used += needed;
        spans.push(Span::styled(format!(" {key} "), Style::new().fg(Color::Black).bg(Color::Gray)));
        spans.push(Span::styled(format!(" {what}  "), DIM));
    }
    Paragraph::new(Line::from(spans))
}

pub(super) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// Every key, every command of the grammar and the graph's legend, for the `?` overlay,
/// wrapped to `width`.
fn help_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let heading = |text: &str| Line::styled(text.to_owned(), Style::new().bold().underlined());
    let mut lines = vec![heading("Keys")];
    // A replay's keys, or a live herd's: the other's are left out.
    // A scenario's keys only while one plays.
    let other = if app.replay.is_some() { When::Live } else { When::Replay };
    let lesson = app.holds(When::Lesson);
    let shown = |b: &&keymap::Binding| {
        !b.when.contains(&other) && (lesson || !b.when.contains(&When::Lesson))
    };
    for binding in keymap::help_rows().filter(shown) {
        let when = binding.when.iter().filter(|&&w| w != When::Live && w != When::Replay);
        let when: Vec<When> = when.copied().collect();
        let text = if when.is_empty() {
            binding.help.to_owned()
        } else {
            format!("{} ({})", binding.help, keymap::describe(&when))
        };
        for (i, row) in wrap_hanging(&format!("  {:<13} {text}", binding.keys), 16, width)
            .into_iter()
            .enumerate()
        {
            let split = if i == 0 { 16.min(row.len()) } else { 0 };
            let (keys, what) =
                row.split_at(row.char_indices().nth(split).map_or(row.len(), |(b, _)| b));
            lines.push(Line::from(vec![
                Span::styled(keys.to_owned(), Style::new().fg(ACCENT).bold()),
                Span::raw(what.to_owned()),
            ]));
        }
    }
    lines.push(Line::raw(""));
    lines.push(heading("Mouse"));
    lines.extend(super::mouse::help_lines(app.replay.is_some(), width));
    lines.push(Line::raw(""));
    lines.push(heading("Commands (: then a line)"));
    lines.extend(command_lines(width));
    lines.push(Line::raw(""));
    lines.push(heading("Legend"));
    // Glyph and name pairs, wrapped to the width.
    let mut line = vec![Span::raw("  ")];
    let mut used = 2;
    for pair in graph::legend().chunks(2) {
        let wide: usize = pair.iter().map(Span::width).sum();
        if used + wide > width && used > 2 {
            lines.push(Line::from(std::mem::replace(&mut line, vec![Span::raw("  ")])));
            used = 2;
        }
        used += wide;
        line.extend(pair.iter().cloned());
    }
    lines.push(Line::from(line));
    lines
}

/// One entry of the grammar's help: a heading, a usage with its summary, or a note.
enum HelpEntry {
    Heading(String),
    Blank,
    Usage(String, String),
    Note(String),
}

/// The grammar's help (`command::help`), read back into entries: `USAGE  SUMMARY` lines,
/// usages too long for the column with their summary on the next line, headings ending in
/// `:`, blank lines, and notes.
fn help_entries() -> Vec<HelpEntry> {
    let text = command::help(None).unwrap_or_default();
    let mut entries = Vec::new();
    let mut rows = text.iter().peekable();
    while let Some(row) = rows.next() {
        let entry = if row.trim().is_empty() {
            HelpEntry::Blank
        } else if row.ends_with(':') && !row.starts_with(' ') {
            HelpEntry::Heading(row.clone())
        } else if let Some((usage, summary)) = row.split_once("  ") {
            HelpEntry::Usage(usage.trim().to_owned(), summary.trim().to_owned())
        } else if let Some(summary) = rows.next_if(|next| next.starts_with(' ')) {
            HelpEntry::Usage(row.trim().to_owned(), summary.trim().to_owned())
        } else {
            HelpEntry::Note(row.clone())
        };
        entries.push(entry);
    }
    entries
}

/// The grammar's commands for the help overlay, `width` wide: usage and summary side by side
/// when the summaries get 40 columns or more, else each summary under its usage.
fn command_lines(width: usize) -> Vec<Line<'static>> {
    let entries = help_entries();
    let column = entries
        .iter()
        .filter_map(|e| match e {
            HelpEntry::Usage(usage, _) if usage.chars().count() <= 40 => {
                Some(usage.chars().count())
            }
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let side_by_side = 2 + column + 2 + 40 <= width;
    let usage_style = Style::new().fg(ACCENT);
    let mut lines = Vec::new();
    for entry in entries {
        match entry {
            HelpEntry::Blank => lines.push(Line::raw("")),
            HelpEntry::Heading(text) => {
                lines.push(Line::styled(format!("  {text}"), Style::new().bold()));
            }
            HelpEntry::Note(text) => {
                lines.extend(
                    wrap_hanging(&format!("  {text}"), 4, width).into_iter().map(Line::raw),
                );
            }
            HelpEntry::Usage(usage, summary) if side_by_side && usage.chars().count() <= column => {
                let row = format!("  {usage:<column$}  {summary}");
                let indent = column + 4;
                for (i, row) in wrap_hanging(&row, indent, width).into_iter().enumerate() {
                    let cut = if i == 0 { indent } else { 0 };
                    let at = row.char_indices().nth(cut).map_or(row.len(), |(b, _)| b);
                    let (usage, what) = row.split_at(at);
                    lines.push(Line::from(vec![
                        Span::styled(usage.to_owned(), usage_style),
                        Span::raw(what.to_owned()),
                    ]));
                }
            }
            HelpEntry::Usage(usage, summary) => {
                let indent = if side_by_side { column + 4 } else { 6 };
                for row in wrap_hanging(&format!("  {usage}"), 4, width) {
                    lines.push(Line::styled(row, usage_style));
                }
                let summary = format!("{}{summary}", " ".repeat(indent));
                lines.extend(wrap_hanging(&summary, indent, width).into_iter().map(Line::raw));
            }
        }
    }
    lines
}

/// `text` broken at spaces into rows of at most `width` characters, every row after the
/// first indented by `indent` spaces (a word longer than a row is cut).
pub(super) fn wrap_hanging(text: &str, indent: usize, width: usize) -> Vec<String> {
    let width = width.max(indent + 8);
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut len = 0;
    for (i, word) in text.split(' ').enumerate() {
        let word_len = word.chars().count();
        if i > 0 && len + 1 + word_len > width && len > indent {
            rows.push(std::mem::take(&mut row));
            row = " ".repeat(indent);
            len = indent;
        } else if i > 0 {
            row.push(' ');
            len += 1;
        }
        row.push_str(word);
        len += word_len;
    }
    rows.push(row);
    rows
}

fn draw_help(frame: &mut Frame, area: Rect, scroll: u16, app: &App) {
    let popup =
        centered(area, area.width.saturating_sub(4).min(112), area.height.saturating_sub(2));
    let lines = help_lines(app, usize::from(popup.width.saturating_sub(2)));
    let rows = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let more = rows.saturating_sub(popup.height.saturating_sub(2));
    let title =
        if more > 0 { " Help · ↑↓ scroll · esc closes " } else { " Help · esc closes " };
    let block = pane(title).border_style(Style::new().fg(ACCENT));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll.min(more), 0)), popup);
}

fn draw_popup(frame: &mut Frame, area: Rect, title: &str, lines: &[String], scroll: u16) {
    let width =
        lines.iter().map(|l| l.chars().count()).max().unwrap_or(20).clamp(30, 110) as u16 + 4;
    let height = (lines.len() as u16 + 2).clamp(5, area.height.saturating_sub(4).max(5));
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let text: Vec<Line> = lines.iter().map(|l| Line::raw(l.clone())).collect();
    let more = (lines.len() as u16).saturating_sub(popup.height.saturating_sub(2));
    let title = if more > 0 {
        format!("{title}· ↑↓ scroll · esc closes ")
    } else {
        format!("{title}· esc closes ")
    };
    let paragraph = Paragraph::new(text)
        .block(pane(title).border_style(Style::new().fg(ACCENT)))
        .scroll((scroll.min(more), 0))
        .wrap(Wrap { trim: false });
    frame.render_widget(paragraph, popup);
}

fn draw_confirm(frame: &mut Frame, body: Rect, prompt: &str) {
    let width = (u16::try_from(prompt.chars().count()).unwrap_or(u16::MAX) + 6).min(body.width);
    let x = body.x + (body.width - width) / 2;
    let popup = Rect { x, y: body.bottom().saturating_sub(5), width, height: 5.min(body.height) };
    frame.render_widget(Clear, popup);
    let block = pane(" Confirm ").border_style(Style::new().fg(Color::Red));
    let text = vec![Line::raw(""), Line::styled(prompt.to_owned(), Style::new().bold())];
    frame.render_widget(Paragraph::new(text).block(block).centered(), popup);
}

/// The Faults overlay's last lines: the servers down or hung, and a pause.
fn herd_notes(app: &App) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let down: Vec<Span<'static>> = app
        .servers
        .iter()
        .filter(|s| !s.seen || !s.up || s.hung)
        .flat_map(|s| {
            let (mark, what) = if !s.seen {
                (Mark::Unseen, "unseen")
            } else if s.up {
                (Mark::Hung, "hung")
            } else {
                (Mark::Killed, "killed")
            };
            let look = graph::look(mark);
            [
                Span::styled(format!(" {}", look.glyph), look.style),
                Span::styled(
                    format!(" {} {what} ", s.name),
                    look.style.remove_modifier(Modifier::BOLD),
                ),
            ]
        })
        .collect();
    if !down.is_empty() {
        lines.push(Line::raw(""));
        let mut line = vec![Span::styled(" servers:", DIM)];
        line.extend(down);
        lines.push(Line::from(line));
    }
    if !app.drops.is_empty() || app.playback.skipped > 0 {
        lines.push(Line::raw(""));
        let mut line = vec![Span::styled(" dropped reports:", DIM)];
        for (reason, count) in &app.drops {
            line.push(Span::styled(format!(" {reason} "), DIM));
            line.push(Span::styled(count.to_string(), WARN));
        }
        if app.drops.is_empty() {
            line.push(Span::raw(" none"));
        }
        if app.playback.skipped > 0 {
            line.push(Span::styled(" · hops not animated ", DIM));
            line.push(Span::styled(app.playback.skipped.to_string(), ALARM));
        }
        lines.push(Line::from(line));
    }
    if app.engine.paused {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            if app.replay.is_some() {
                format!(" the herd was paused: {} reports held", app.engine.held)
            } else {
                format!(" paused: {} reports held (s steps, p resumes)", app.engine.held)
            },
            WARN,
        ));
    }
    lines
}

/// The `F` overlay: the faults in force with their counters and time left, the servers that
/// are down or hung, and the herd-wide settings.
fn draw_faults(frame: &mut Frame, app: &App, area: Rect, scroll: u16) {
    /// The width of the counter and time-left columns.
    const COUNTERS: usize = 8 + 6 + 8 + 7;
    let faults = &app.faults.faults;
    let widest = faults.iter().map(|f| f.label.chars().count()).max().unwrap_or(0);
    let most = area.width.saturating_sub(4).min(100);
    let wanted = u16::try_from(widest + COUNTERS + 4).unwrap_or(u16::MAX).max(64);
    let inner = usize::from(wanted.min(most).saturating_sub(2));
    let label_width = inner.saturating_sub(COUNTERS + 1).max(8);
    let policy = app.engine.policy;
    let mut settings = vec![Span::styled(" policy ", DIM)];
    if policy.is_spec() {
        settings.push(Span::styled(policy.to_string(), Style::new().bold()));
    } else {
        settings.push(Span::styled(format!("OFF-SPEC {policy}"), WARN.fg(Color::LightRed)));
    }
    settings.push(Span::styled(" · seed ", DIM));
    settings.push(Span::styled(app.engine.seed.to_string(), Style::new().bold()));
    settings.push(Span::styled(" · anti-entropy ", DIM));
    settings.push(match app.engine.anti_entropy {
        Some(every) => Span::styled(format!("every {}", fmt_period(every)), WARN),
        None => Span::raw("off"),
    });
    if !app.engine.delay.is_zero() {
        settings.push(Span::styled(" · delay all ", DIM));
        settings.push(Span::styled(fmt_duration(app.engine.delay), WARN));
    }
    let mut lines = vec![Line::from(settings), Line::raw("")];
    if faults.is_empty() {
        lines.push(Line::styled(" no active faults", DIM));
    } else {
        let heading = if app.replay.is_some() {
            "link: faults (counts since recording began)"
        } else {
            "fault (as typed)"
        };
        lines.push(Line::styled(
            format!(
                " {:<label_width$}{:>8}{:>6}{:>8}{:>7}",
                heading, "dropped", "dup", "delayed", "left"
            ),
            DIM.add_modifier(Modifier::BOLD),
        ));
        for fault in faults {
            let left = app.faults.remaining(fault, app.now).map_or_else(String::new, fmt_left);
            lines.push(Line::from(vec![
                Span::styled(
                    format!(" {:<label_width$}", ellipsize(&fault.label, label_width)),
                    Style::new().bold(),
                ),
                Span::raw(format!(
                    "{:>8}{:>6}{:>8}",
                    fault.dropped, fault.duplicated, fault.delayed
                )),
                Span::styled(format!("{left:>7}"), WARN),
            ]));
        }
    }
    lines.extend(herd_notes(app));
    let rows = u16::try_from(lines.len()).unwrap_or(u16::MAX);
    let height = rows.saturating_add(2).min(area.height.saturating_sub(2));
    let popup = centered(area, wanted.min(most), height);
    let more = rows.saturating_sub(popup.height.saturating_sub(2));
    let count = faults.len();
    let at = match &app.replay {
        Some(replay) => {
            format!(" at {} (counts since the recording began)", timeline::fmt_at(replay.at))
        }
        None => String::new(),
    };
    let title = if more > 0 {
        format!(" Faults {count}{at} · ↑↓ scroll · esc closes ")
    } else {
        format!(" Faults {count}{at} · esc closes ")
    };
    let block = pane(title).border_style(Style::new().fg(ACCENT));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll.min(more), 0)), popup);
}
