//! What the dashboard's mouse does. A click is placed with the same [`Screen`] the frame is
//! drawn from ([`view::screen`]) and, on the topology, with the graph's own geometry
//! ([`GraphView::hit`]), so it picks what shows under the pointer; then it does what a key
//! would ([`App::act`]):
//!
//! * a click on a tab focuses that pane (`1`-`4`); a click in a pane focuses it;
//! * on the topology, a click on or next to a server selects it, on or next to a link's
//!   line (or its midway marks) selects the link (as `e` does, naming it);
//! * the wheel over a list (clients, traffic) scrolls it like `↑`/`↓`, focusing it
//!   (scrolling the traffic back freezes it);
//! * in a replay, a click on the timeline's bar goes to that instant;
//! * over an overlay (help, faults, metrics, a reply) the wheel scrolls it and a click
//!   closes it. While a line is typed (`:`, `/`) or a question waits for `y`/`n`, the mouse
//!   does nothing: a stray click must not lose a line or answer a question.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::app::{App, Effect, Mode, Selection};
use super::graph::{GraphView, Hit};
use super::keymap::{self, Action, Scroll, When};
use super::panes::{Pane, Screen};
use super::{timeline, view};

/// Rows one notch of the wheel scrolls a list, or an overlay.
pub const WHEEL_ROWS: usize = 3;

impl App {
    /// Takes in one mouse event on a screen of `area` (the whole terminal, as drawn);
    /// returns what the event loop must do (nothing, so far: clicks only look and select).
    pub fn mouse(&mut self, event: MouseEvent, area: Rect) -> Vec<Effect> {
        let wheel = match event.kind {
            MouseEventKind::Down(MouseButton::Left) => None,
            MouseEventKind::ScrollUp => Some(Scroll::Up),
            MouseEventKind::ScrollDown => Some(Scroll::Down),
            _ => return vec![],
        };
        match &mut self.mode {
            Mode::Normal => {}
            Mode::Help { scroll }
            | Mode::Popup { scroll, .. }
            | Mode::Faults { scroll }
            | Mode::Metrics { scroll } => {
                let rows = WHEEL_ROWS as u16;
                match wheel {
                    Some(Scroll::Up) => *scroll = scroll.saturating_sub(rows),
                    Some(_) => *scroll = scroll.saturating_add(rows),
                    None => self.mode = Mode::Normal,
                }
                return vec![];
            }
            Mode::Command(_) | Mode::Find(_) | Mode::Confirm { .. } => return vec![],
        }
        let screen = view::screen(self, area);
        let (x, y) = (event.column, event.row);
        match wheel {
            Some(scroll) => self.wheel(&screen, (x, y), scroll),
            None => self.click(&screen, (x, y)),
        }
    }

    /// A left click at `(x, y)`.
    fn click(&mut self, screen: &Screen, (x, y): (u16, u16)) -> Vec<Effect> {
        if let Some(pane) = screen.tab_at(x, y) {
            return self.act(Action::Focus(pane));
        }
        if self.replay.is_some() && y == screen.timeline.y && screen.timeline.height > 0 {
            self.seek_to(screen.timeline.width, x);
            return vec![];
        }
        let Some((pane, rect)) = screen.pane_at(x, y) else { return vec![] };
        if pane != self.focus {
            self.act(Action::Focus(pane));
        }
        if pane == Pane::Graph {
            match self.graph_hit(rect, (x, y)) {
                Some(Hit::Node(id)) => {
                    self.selection = Selection::Node(id);
                    let text = format!("server {}", self.name(id));
                    self.say(text);
                }
                Some(Hit::Link(i)) => self.select_link(i),
                None => {}
            }
        }
        vec![]
    }

    /// The wheel over `(x, y)`: a list under it scrolls, and takes the focus.
    fn wheel(&mut self, screen: &Screen, (x, y): (u16, u16), scroll: Scroll) -> Vec<Effect> {
        let Some((pane, _)) = screen.pane_at(x, y) else { return vec![] };
        if !pane.is_list() {
            return vec![];
        }
        if pane != self.focus {
            self.act(Action::Focus(pane));
        }
        for _ in 0..WHEEL_ROWS {
            self.act(Action::Scroll(scroll));
        }
        vec![]
    }

    /// What a click at `(x, y)` hits in the topology pane drawn in `area`.
    pub fn graph_hit(&self, area: Rect, (x, y): (u16, u16)) -> Option<Hit> {
        let nodes = view::graph_nodes(self);
        let edges = view::graph_edges(self);
        let view =
            GraphView { nodes: &nodes, edges: &edges, tokens: &[], block: Some(Block::bordered()) };
        view.hit(area, (x, y))
    }

    /// A click on column `x` of the replay's timeline row, `width` wide: goes to the instant
    /// that column of the bar stands for.
    fn seek_to(&mut self, width: u16, x: u16) {
        let Some(at) = self.replay.as_ref().and_then(|r| timeline::time_at(r, width, x)) else {
            return;
        };
        self.replay_seek(at);
        self.say(format!("at {}", timeline::fmt_at(at)));
    }
}

/// The help overlay's rows on the mouse ([`keymap::MOUSE`]), `width` wide, laid out as its
/// key rows are; the timeline's click only in a `replay`.
pub fn help_lines(replay: bool, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for click in keymap::MOUSE.iter().filter(|c| replay || !c.when.contains(&When::Replay)) {
        let row = format!("  {:<13} {}", click.what, click.help);
        for (i, row) in view::wrap_hanging(&row, 16, width).into_iter().enumerate() {
            let split = if i == 0 { 16 } else { 0 };
            let at = row.char_indices().nth(split).map_or(row.len(), |(b, _)| b);
            let (what, help) = row.split_at(at);
            lines.push(Line::from(vec![
                Span::styled(what.to_owned(), Style::new().fg(view::ACCENT).bold()),
                Span::raw(help.to_owned()),
            ]));
        }
    }
    lines
}
