//! The topology pane: servers as labelled nodes, links as braille lines, flooding updates as
//! tokens travelling along them, and the operator's faults on both.
//!
//! [`GraphView`] is plain data the app rebuilds every frame; rendering it is a pure function of
//! that data and the area. Node positions are in `[0, 1] × [0, 1]` with x to the right and
//! y **downwards**, as [`super::layout::positions`] gives them.
//!
//! Every state is told apart by glyph as well as colour, so the pane reads on a monochrome
//! terminal too. Each look is one entry of [`LOOKS`], which the pane draws with and the
//! help's legend is generated from:
//!
//! | thing | glyph | colour |
//! |---|---|---|
//! | server up | `●` (`◉` just stored an update, `⊘` dropped a duplicate) | its tint |
//! | server hung (`hang`) | `❄`, name in italics | light blue |
//! | server killed | `✖`, name crossed out | red |
//! | selected server | `[● Name]` | reversed, bold |
//! | link up | solid braille line | gray |
//! | link reconnecting | dotted, `?` midway | yellow |
//! | link stalled | long dashes, `≈` midway | magenta |
//! | link cut both ways | dashed, `╳` midway | red |
//! | link cut one way | the receiving half dashed, `⇥` `⇤` `⤓` `⤒` midway pointing where reports no longer go | red |
//! | link idle (an end is killed) | sparse dots | dark gray |
//! | loss, delay (or jitter), dup | `%`, `◷`, `×2` midway | light red, light cyan, light magenta |
//! | a fault one way only | an arrow after its mark (`%→`), pointing where the faulty reports go | as the fault |
//! | selected link | as its state, bold, marks reversed (`◇` when it has none) | white |
//! | update moving | `◆` along the link | the update's colour |
//! | update held (engine paused) | `‖` just outside the sender | the update's colour |
//! | update dropped | `✗` | red |
//!
//! Drawing order: links, their midway marks, node labels, then tokens (never over a label),
//! so a label is never overdrawn. The widget draws straight into the buffer with its own
//! braille raster: one pass over the link points, no per-frame layers.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

/// Whether a server is running, frozen or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeState {
    Up,
    /// Frozen by `hang`: it takes connections, then reads and sends nothing.
    Hung,
    Killed,
}

/// A short highlight on a server after a flood event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flash {
    /// The server just stored an update.
    Stored,
    /// A duplicate update arrived and was dropped.
    Suppressed,
}

/// One server as the pane shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub name: String,
    /// Position in `[0, 1] × [0, 1]`, x right, y down.
    pub pos: (f64, f64),
    pub state: NodeState,
    pub selected: bool,
    /// Colour of the last update this server stored.
    pub tint: Option<Color>,
    pub flash: Option<Flash>,
    /// How many clients the server knows (shown when not 0).
    pub clients: usize,
}

/// The state of a link's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeState {
    Up,
    Reconnecting,
    /// A neighbour stopped reading: reports for it are dropped.
    Stalled,
    /// Cut both ways (whatever the directions' faults say).
    Cut,
    /// One end is killed.
    Idle,
}

/// The operator's faults on one direction of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[allow(clippy::struct_excessive_bools, reason = "one flag per kind of fault a link can have")]
pub struct EdgeFaults {
    pub cut: bool,
    pub loss: bool,
    /// A delay or a jitter.
    pub delay: bool,
    pub dup: bool,
}

/// One link, between `nodes[a]` and `nodes[b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeView {
    pub a: usize,
    pub b: usize,
    pub state: EdgeState,
    pub selected: bool,
    /// The faults on what `a` sends to `b`.
    pub a_to_b: EdgeFaults,
    /// The faults on what `b` sends to `a`.
    pub b_to_a: EdgeFaults,
}

impl EdgeView {
    /// A link in `state` with no faults, not selected.
    pub fn new(a: usize, b: usize, state: EdgeState) -> Self {
        Self {
            a,
            b,
            state,
            selected: false,
            a_to_b: EdgeFaults::default(),
            b_to_a: EdgeFaults::default(),
        }
    }

    /// Is what `a` sends to `b`, and what `b` sends to `a`, cut?
    pub fn cut(&self) -> (bool, bool) {
        let both = self.state == EdgeState::Cut;
        (both || self.a_to_b.cut, both || self.b_to_a.cut)
    }
}

/// What an update in flight is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenState {
    Moving,
    /// Paused in the engine, waiting at the sender.
    Held,
    Dropped,
}

/// An update travelling from `nodes[from]` to `nodes[to]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenView {
    pub from: usize,
    pub to: usize,
    /// How far along, `0.0` at the sender to `1.0` at the receiver (clamped).
    pub progress: f64,
    pub colour: Color,
    pub state: TokenState,
}

/// The topology pane widget.
#[derive(Debug, Clone, Default)]
pub struct GraphView<'a> {
    pub nodes: &'a [NodeView],
    pub edges: &'a [EdgeView],
    pub tokens: &'a [TokenView],
    pub block: Option<Block<'a>>,
}

/// Glyph of a server up and idle.
pub const GLYPH_UP: &str = "●";
/// Glyph of a server that just stored an update.
pub const GLYPH_STORED: &str = "◉";
/// Glyph of a server that just dropped a duplicate.
pub const GLYPH_SUPPRESSED: &str = "⊘";
/// Glyph of a hung (frozen) server.
pub const GLYPH_HUNG: &str = "❄";
/// Glyph of a killed server.
pub const GLYPH_KILLED: &str = "✖";
/// Midway mark of a reconnecting link.
pub const MARK_RECONNECTING: &str = "?";
/// Midway mark of a stalled link.
pub const MARK_STALLED: &str = "≈";
/// Midway mark of a link cut both ways.
pub const MARK_CUT: &str = "╳";
/// Midway marks of a link cut one way, by where the cut reports were going: right, left,
/// down, up.
pub const MARK_CUT_ONE_WAY: [&str; 4] = ["⇥", "⇤", "⤓", "⤒"];
/// Midway mark of a lossy link.
pub const MARK_LOSS: &str = "%";
/// Midway mark of a delayed (or jittered) link.
pub const MARK_DELAY: &str = "◷";
/// Midway mark of a duplicating link.
pub const MARK_DUP: &str = "×2";
/// After a fault's mark when it is on one direction only, by where its reports go: right,
/// left, down, up.
pub const ONE_WAY: [&str; 4] = ["→", "←", "↓", "↑"];
/// Midway mark of a selected link that has no other.
pub const MARK_SELECTED: &str = "◇";
/// A moving update.
pub const GLYPH_TOKEN: &str = "◆";
/// An update held at its sender.
pub const GLYPH_HELD: &str = "‖";
/// A dropped update.
pub const GLYPH_DROPPED: &str = "✗";

/// Everything the pane draws that means something; each has one [`Look`] in [`LOOKS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    Up,
    Stored,
    Suppressed,
    Hung,
    Killed,
    Link,
    Reconnecting,
    Stalled,
    Cut,
    CutOneWay,
    Idle,
    Loss,
    Delay,
    Dup,
    OneWay,
    Flood,
    Held,
    Dropped,
}

/// How a [`Mark`] is drawn, and its name in the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub mark: Mark,
    /// Its glyph (a link's line is braille in this style; the legend shows a box-drawing
    /// stand-in for its pattern).
    pub glyph: &'static str,
    pub style: Style,
    pub name: &'static str,
}

const fn fg(colour: Color) -> Style {
    Style::new().fg(colour)
}

const fn bold(colour: Color) -> Style {
    Style::new().fg(colour).add_modifier(Modifier::BOLD)
}

/// Every look of the pane, in [`Mark`] order (which is the legend's order).
pub const LOOKS: [Look; 18] = [
    Look { mark: Mark::Up, glyph: GLYPH_UP, style: fg(Color::Green), name: "up" },
    Look { mark: Mark::Stored, glyph: GLYPH_STORED, style: bold(Color::Green), name: "stored" },
    Look {
        mark: Mark::Suppressed,
        glyph: GLYPH_SUPPRESSED,
        style: bold(Color::Yellow),
        name: "duplicate",
    },
    Look { mark: Mark::Hung, glyph: GLYPH_HUNG, style: bold(Color::LightBlue), name: "hung" },
    Look { mark: Mark::Killed, glyph: GLYPH_KILLED, style: bold(Color::Red), name: "killed" },
    Look { mark: Mark::Link, glyph: "─", style: fg(Color::Gray), name: "link" },
    Look {
        mark: Mark::Reconnecting,
        glyph: MARK_RECONNECTING,
        style: fg(Color::Yellow),
        name: "reconnecting",
    },
    Look { mark: Mark::Stalled, glyph: MARK_STALLED, style: fg(Color::Magenta), name: "stalled" },
    Look { mark: Mark::Cut, glyph: MARK_CUT, style: fg(Color::Red), name: "cut" },
    Look {
        mark: Mark::CutOneWay,
        glyph: MARK_CUT_ONE_WAY[0],
        style: fg(Color::Red),
        name: "cut one way (→ stopped)",
    },
    Look { mark: Mark::Idle, glyph: "┈", style: fg(Color::DarkGray), name: "idle" },
    Look { mark: Mark::Loss, glyph: MARK_LOSS, style: bold(Color::LightRed), name: "loss" },
    Look { mark: Mark::Delay, glyph: MARK_DELAY, style: bold(Color::LightCyan), name: "delay" },
    Look { mark: Mark::Dup, glyph: MARK_DUP, style: bold(Color::LightMagenta), name: "dup" },
    Look { mark: Mark::OneWay, glyph: ONE_WAY[0], style: bold(Color::White), name: "one way" },
    Look { mark: Mark::Flood, glyph: GLYPH_TOKEN, style: bold(Color::Cyan), name: "flood" },
    Look { mark: Mark::Held, glyph: GLYPH_HELD, style: bold(Color::Cyan), name: "held" },
    Look { mark: Mark::Dropped, glyph: GLYPH_DROPPED, style: bold(Color::Red), name: "dropped" },
];

/// The look of `mark`.
pub fn look(mark: Mark) -> Look {
    LOOKS[mark as usize]
}

/// How far the mapping may stretch or squash an axis beyond the uniform scale, to use more of a
/// pane whose shape differs from the layout's.
const MAX_STRETCH: f64 = 1.6;

/// How many times taller than wide a terminal cell is, about.
const CELL_ASPECT: f64 = 2.0;

/// Width reserved right of a name for a client count (` 99`) and a closing bracket.
const COUNT_RESERVE: usize = 4;

impl GraphView<'_> {
    /// Renders without consuming the view.
    pub fn render_ref(&self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let inner = match &self.block {
            Some(block) => {
                let inner = block.inner(area);
                block.render(area, buf);
                inner
            }
            None => area,
        };
        if inner.is_empty() || self.nodes.is_empty() {
            return;
        }
        let frame = Frame::new(inner, self.nodes);
        let labels = Label::place_all(self.nodes, &frame.cells, inner);
        let mut occupied = vec![false; usize::from(inner.width) * usize::from(inner.height)];
        for label in &labels {
            for x in label.x..label.end {
                if let Some(i) = index(inner, x, label.y) {
                    occupied[i] = true;
                }
            }
        }
        let ends = |edge: &EdgeView| {
            let cells = (frame.cells.get(edge.a)?, frame.cells.get(edge.b)?);
            let labels = (labels.get(edge.a)?, labels.get(edge.b)?);
            let path = Path::new(*cells.0, *cells.1);
            let (first, last) = path.between(labels.0, labels.1);
            Some((path, first.midpoint(last), heading(*cells.0, *cells.1)))
        };

        let mut raster = Raster::new(inner);
        for edge in self.edges {
            let Some((path, middle, _)) = ends(edge) else { continue };
            let all = 0..=path.steps;
            match edge.cut() {
                (true, true) => raster.line(&path, all, EdgeState::Cut, edge.selected),
                (true, false) => {
                    raster.line(&path, 0..=middle, edge.state, edge.selected);
                    raster.line(&path, middle..=path.steps, EdgeState::Cut, edge.selected);
                }
                (false, true) => {
                    raster.line(&path, 0..=middle, EdgeState::Cut, edge.selected);
                    raster.line(&path, middle..=path.steps, edge.state, edge.selected);
                }
                (false, false) => raster.line(&path, all, edge.state, edge.selected),
            }
        }
        raster.flush(buf, &occupied);

        for edge in self.edges {
            let Some((path, middle, heading)) = ends(edge) else { continue };
            let badge = edge_badge(edge, heading);
            if let Some(anchor) = path.free_cell_near(middle, inner, &occupied) {
                draw_badge(buf, inner, &occupied, anchor, &badge);
            }
        }

        // The selected server's label last, so it is whole even where labels crowd.
        for selected in [false, true] {
            for (node, label) in self.nodes.iter().zip(&labels) {
                if node.selected == selected {
                    label.draw(buf);
                }
            }
        }

        for token in self.tokens {
            let (Some(&a), Some(&b)) = (frame.cells.get(token.from), frame.cells.get(token.to))
            else {
                continue;
            };
            let (Some(from), Some(to)) = (labels.get(token.from), labels.get(token.to)) else {
                continue;
            };
            let path = Path::new(a, b);
            let (first, last) = path.between(from, to);
            let step = match token.state {
                // A cell clear of the sender's label (4 dots), so it does not read as part of it.
                TokenState::Held => (first + 4).min(last),
                TokenState::Moving | TokenState::Dropped => {
                    let p = if token.progress.is_finite() {
                        token.progress.clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    first + ((last - first) as f64 * p).round() as usize
                }
            };
            let (x, y) = path.cell(step);
            if index(inner, x, y).is_some_and(|i| !occupied[i]) {
                put(buf, x, y, token_glyph(token.state), token_style(token));
            }
        }
    }
}

impl Widget for &GraphView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.render_ref(area, buf);
    }
}

impl Widget for GraphView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        self.render_ref(area, buf);
    }
}

/// Which way a link runs on screen, from one end to the other, by its longer axis (a cell
/// being about twice as tall as wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heading {
    Right,
    Left,
    Down,
    Up,
}

impl Heading {
    #[must_use]
    pub fn reversed(self) -> Self {
        match self {
            Self::Right => Self::Left,
            Self::Left => Self::Right,
            Self::Down => Self::Up,
            Self::Up => Self::Down,
        }
    }

    /// Its place in [`MARK_CUT_ONE_WAY`] and [`ONE_WAY`].
    fn index(self) -> usize {
        self as usize
    }
}

/// The heading from cell `from` to cell `to`.
fn heading(from: (u16, u16), to: (u16, u16)) -> Heading {
    let dx = i32::from(to.0) - i32::from(from.0);
    let dy = (i32::from(to.1) - i32::from(from.1)) * 2;
    if dx.abs() >= dy.abs() {
        if dx >= 0 { Heading::Right } else { Heading::Left }
    } else if dy > 0 {
        Heading::Down
    } else {
        Heading::Up
    }
}

/// The look of a link's connection state.
fn state_mark(state: EdgeState) -> Mark {
    match state {
        EdgeState::Up => Mark::Link,
        EdgeState::Reconnecting => Mark::Reconnecting,
        EdgeState::Stalled => Mark::Stalled,
        EdgeState::Cut => Mark::Cut,
        EdgeState::Idle => Mark::Idle,
    }
}

/// The style links in `state` are drawn in.
pub fn style_of_edge(state: EdgeState, selected: bool) -> Style {
    let style = look(state_mark(state)).style;
    if selected { style.fg(Color::White).add_modifier(Modifier::BOLD) } else { style }
}

/// The marks drawn midway along a link, in order, each with its style: its connection's
/// (`?` reconnecting, `≈` stalled), its cut (`╳` both ways, an arrow to a bar one way), then
/// `%` loss, `◷` delay, `×2` dup, each followed by an arrow when on one direction only; `◇`
/// for a selected link with none. `heading` is where the link runs from `a` to `b`. A
/// selected link's marks are reversed; they keep their colours, so a selected cut link still
/// reads red.
pub fn edge_badge(edge: &EdgeView, heading: Heading) -> Vec<(&'static str, Style)> {
    let mut badge = Vec::new();
    let (cut_ab, cut_ba) = edge.cut();
    let mark = |mark: Mark| {
        let look = look(mark);
        (look.glyph, look.style.add_modifier(Modifier::BOLD))
    };
    match edge.state {
        EdgeState::Reconnecting if !(cut_ab && cut_ba) => badge.push(mark(Mark::Reconnecting)),
        EdgeState::Stalled if !(cut_ab && cut_ba) => badge.push(mark(Mark::Stalled)),
        _ => {}
    }
    match (cut_ab, cut_ba) {
        (true, true) => badge.push(mark(Mark::Cut)),
        (true, false) => badge.push((MARK_CUT_ONE_WAY[heading.index()], mark(Mark::Cut).1)),
        (false, true) => {
            badge.push((MARK_CUT_ONE_WAY[heading.reversed().index()], mark(Mark::Cut).1));
        }
        (false, false) => {}
    }
    let (ab, ba) = (edge.a_to_b, edge.b_to_a);
    for (kind, there, back) in [
        (Mark::Loss, ab.loss, ba.loss),
        (Mark::Delay, ab.delay, ba.delay),
        (Mark::Dup, ab.dup, ba.dup),
    ] {
        let (glyph, style) = mark(kind);
        match (there, back) {
            (true, true) => badge.push((glyph, style)),
            (true, false) => badge.extend([(glyph, style), (ONE_WAY[heading.index()], style)]),
            (false, true) => {
                badge.extend([(glyph, style), (ONE_WAY[heading.reversed().index()], style)]);
            }
            (false, false) => {}
        }
    }
    if edge.selected {
        if badge.is_empty() {
            badge.push((MARK_SELECTED, style_of_edge(edge.state, false)));
        }
        for (_, style) in &mut badge {
            *style = style.add_modifier(Modifier::BOLD | Modifier::REVERSED);
        }
    }
    badge
}

/// Writes `badge` on the row of `anchor`, centred on it, over cells no label takes.
fn draw_badge(
    buf: &mut Buffer,
    area: Rect,
    occupied: &[bool],
    anchor: (u16, u16),
    badge: &[(&str, Style)],
) {
    let cells: Vec<(char, Style)> =
        badge.iter().flat_map(|(glyph, style)| glyph.chars().map(|c| (c, *style))).collect();
    let Ok(width) = u16::try_from(cells.len()) else { return };
    if width == 0 {
        return;
    }
    let most = area.right().saturating_sub(width).max(area.x);
    let start = anchor.0.saturating_sub((width - 1) / 2).clamp(area.x, most);
    for (x, (c, style)) in (start..).zip(cells) {
        if index(area, x, anchor.1).is_some_and(|k| !occupied[k]) {
            put(buf, x, anchor.1, &c.to_string(), style);
        }
    }
}

/// Whether the `i`th point along a link in `state` is drawn: solid, dotted, long-dashed (stalled), dashed or sparse.
pub fn edge_dot(state: EdgeState, i: usize) -> bool {
    match state {
        EdgeState::Up => true,
        EdgeState::Reconnecting => i % 2 == 0,
        EdgeState::Stalled => i % 3 != 2,
        EdgeState::Cut => i % 8 < 3,
        EdgeState::Idle => i % 4 == 0,
    }
}

/// The look of a server: killed beats hung, which beats a flash, which beats plain up.
fn node_mark(state: NodeState, flash: Option<Flash>) -> Mark {
    match (state, flash) {
        (NodeState::Killed, _) => Mark::Killed,
        (NodeState::Hung, _) => Mark::Hung,
        (NodeState::Up, Some(Flash::Stored)) => Mark::Stored,
        (NodeState::Up, Some(Flash::Suppressed)) => Mark::Suppressed,
        (NodeState::Up, None) => Mark::Up,
    }
}

/// The glyph of a server: killed beats hung, which beats a flash, which beats plain up.
pub fn node_glyph(state: NodeState, flash: Option<Flash>) -> &'static str {
    look(node_mark(state, flash)).glyph
}

/// The styles of a server's glyph and of its name.
pub fn node_styles(node: &NodeView) -> (Style, Style) {
    let tint = node.tint.unwrap_or(Color::Green);
    let glyph = look(node_mark(node.state, node.flash)).style;
    let (glyph, name) = match (node.state, node.flash) {
        (NodeState::Killed, _) => {
            (glyph, Style::new().fg(Color::Red).add_modifier(Modifier::DIM | Modifier::CROSSED_OUT))
        }
        (NodeState::Hung, _) => (glyph, glyph.add_modifier(Modifier::ITALIC)),
        (NodeState::Up, Some(Flash::Stored)) => {
            (glyph.fg(tint), Style::new().fg(Color::Black).bg(tint).add_modifier(Modifier::BOLD))
        }
        (NodeState::Up, Some(Flash::Suppressed)) => (glyph, Style::new().fg(Color::Yellow)),
        (NodeState::Up, None) => (glyph.fg(tint), Style::new()),
    };
    if node.selected {
        let selected = Modifier::REVERSED | Modifier::BOLD;
        (glyph.add_modifier(selected), name.add_modifier(selected))
    } else {
        (glyph, name)
    }
}

/// The glyph of an update in flight.
pub fn token_glyph(state: TokenState) -> &'static str {
    match state {
        TokenState::Moving => GLYPH_TOKEN,
        TokenState::Held => GLYPH_HELD,
        TokenState::Dropped => GLYPH_DROPPED,
    }
}

fn token_style(token: &TokenView) -> Style {
    match token.state {
        TokenState::Moving | TokenState::Held => {
            Style::new().fg(token.colour).add_modifier(Modifier::BOLD)
        }
        TokenState::Dropped => look(Mark::Dropped).style,
    }
}

/// A key to the pane's glyphs, each styled as drawn, for a help screen or footer: glyph and
/// name pairs of spans, in [`LOOKS`] order.
pub fn legend() -> Vec<Span<'static>> {
    let mut spans = Vec::with_capacity(LOOKS.len() * 2);
    for (i, look) in LOOKS.iter().enumerate() {
        spans.push(Span::styled(look.glyph, look.style));
        let gap = if i + 1 == LOOKS.len() { "" } else { "  " };
        spans.push(Span::raw(format!(" {}{gap}", look.name)));
    }
    spans
}

/// Index of cell `(x, y)` in a row-major array over `area`, if inside.
fn index(area: Rect, x: u16, y: u16) -> Option<usize> {
    (x >= area.x && x < area.right() && y >= area.y && y < area.bottom())
        .then(|| usize::from(y - area.y) * usize::from(area.width) + usize::from(x - area.x))
}

fn put(buf: &mut Buffer, x: u16, y: u16, symbol: &str, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_symbol(symbol).set_style(style);
    }
}

/// Where each node's glyph goes: positions mapped into the area, keeping the layout's shape
/// (a cell being about twice as tall as wide), with room on the right for labels.
struct Frame {
    cells: Vec<(u16, u16)>,
}

impl Frame {
    fn new(area: Rect, nodes: &[NodeView]) -> Self {
        // Room for `[` left of a glyph, and for the widest label right of one; stable while
        // counts and selection change, so nodes do not jump about.
        let left = u16::from(area.width > 4);
        let widest = nodes.iter().map(|n| Span::raw(n.name.as_str()).width()).max().unwrap_or(0);
        let right = (widest + 1 + COUNT_RESERVE).min(usize::from(area.width / 3)) as u16;
        let columns = area.width.saturating_sub(left + right).max(1);
        let span_x = f64::from(columns - 1);
        let span_y = f64::from(area.height - 1) * CELL_ASPECT;

        let finite = |v: f64| if v.is_finite() { v } else { 0.5 };
        let (mut min_x, mut max_x, mut min_y, mut max_y) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for n in nodes {
            let (x, y) = (finite(n.pos.0), finite(n.pos.1));
            min_x = min_x.min(x);
            max_x = max_x.max(x);
            min_y = min_y.min(y);
            max_y = max_y.max(y);
        }
        let (width, height) = (max_x - min_x, max_y - min_y);
        let fit = |room: f64, size: f64| {
            if size > 1e-12 { room / size } else { f64::INFINITY }
        };
        let (fit_x, fit_y) = (fit(span_x, width), fit(span_y, height));
        let uniform = fit_x.min(fit_y);
        let uniform = if uniform.is_finite() { uniform } else { 0.0 };
        let scale_x = fit_x.min(uniform * MAX_STRETCH);
        let scale_y = fit_y.min(uniform * MAX_STRETCH);
        let pad_x = (span_x - width * scale_x) / 2.0;
        let pad_y = (span_y - height * scale_y) / 2.0;

        let cells = nodes
            .iter()
            .map(|n| {
                let (x, y) = (finite(n.pos.0), finite(n.pos.1));
                let col = (pad_x + (x - min_x) * scale_x).round().clamp(0.0, span_x);
                let row = ((pad_y + (y - min_y) * scale_y) / CELL_ASPECT)
                    .round()
                    .clamp(0.0, f64::from(area.height - 1));
                (area.x + left + col as u16, area.y + row as u16)
            })
            .collect();
        Self { cells }
    }
}

/// A node's label, placed: `[` (when selected), the glyph on the node's own cell, then
/// ` name count]` as far as room allows on the right: up to another node's glyph or a label
/// placed earlier, or the area's edge; near the edge the label shifts left over free cells
/// instead. A name still cut short ends in `…`; with no room even for that, only the glyph is
/// shown.
#[derive(Default)]
struct Label {
    y: u16,
    /// The first cell (the `[` or the glyph).
    x: u16,
    /// One past the last cell kept clear of links: the text and, when whole, a blank after it.
    end: u16,
    bracket: Option<Span<'static>>,
    glyph_x: u16,
    glyph: Span<'static>,
    tail: Line<'static>,
    tail_width: u16,
}

impl Label {
    /// Labels for all nodes, in node order; the selected ones get first claim on the room.
    fn place_all(nodes: &[NodeView], cells: &[(u16, u16)], area: Rect) -> Vec<Self> {
        const FREE: usize = usize::MAX;
        let mut owner = vec![FREE; usize::from(area.width) * usize::from(area.height)];
        for (i, &(x, y)) in cells.iter().enumerate() {
            if let Some(k) = index(area, x, y)
                && owner[k] == FREE
            {
                owner[k] = i;
            }
        }
        let mut order: Vec<usize> = (0..nodes.len().min(cells.len())).collect();
        order.sort_by_key(|&i| !nodes[i].selected);
        let mut labels: Vec<Self> = (0..order.len()).map(|_| Self::default()).collect();
        for i in order {
            let node = &nodes[i];
            let (mut gx, gy) = cells[i];
            let free = |owner: &[usize], x: u16| {
                index(area, x, gy).is_some_and(|k| owner[k] == FREE || owner[k] == i)
            };
            let (glyph_style, name_style) = node_styles(node);
            let mut room = 0;
            while gx + 1 + room < area.right() && free(&owner, gx + 1 + room) {
                room += 1;
            }
            // Cut short by the area's right edge (not by a neighbour): shift left as far as
            // needed and possible, over free cells only.
            let needed = tail(node, name_style, usize::MAX).0.width();
            if gx + 1 + room == area.right() && needed > usize::from(room) {
                let lead = u16::from(node.selected);
                let most = gx.saturating_sub(area.x + lead);
                let shift = (needed - usize::from(room)).min(usize::from(most)) as u16;
                if shift > 0 && (gx - shift - lead..gx).all(|x| free(&owner, x)) {
                    gx -= shift;
                    room += shift;
                }
            }
            let (tail, whole) = tail(node, name_style, usize::from(room));
            let tail_width = tail.width() as u16;
            if let Some(k) = index(area, gx, gy) {
                owner[k] = i;
            }
            for x in gx + 1..gx + 1 + tail_width {
                if let Some(k) = index(area, x, gy) {
                    owner[k] = i;
                }
            }
            let mut end = gx + 1 + tail_width;
            if whole && end < area.right() && free(&owner, end) {
                end += 1;
            }
            let bracket = (node.selected && gx > area.x && free(&owner, gx - 1)).then(|| {
                if let Some(k) = index(area, gx - 1, gy) {
                    owner[k] = i;
                }
                Span::styled("[", name_style)
            });
            labels[i] = Self {
                y: gy,
                x: if bracket.is_some() { gx - 1 } else { gx },
                end,
                bracket,
                glyph_x: gx,
                glyph: Span::styled(node_glyph(node.state, node.flash), glyph_style),
                tail,
                tail_width,
            };
        }
        labels
    }

    fn draw(&self, buf: &mut Buffer) {
        if let Some(bracket) = &self.bracket {
            buf.set_span(self.x, self.y, bracket, 1);
        }
        buf.set_span(self.glyph_x, self.y, &self.glyph, 1);
        buf.set_line(self.glyph_x + 1, self.y, &self.tail, self.tail_width);
    }

    fn covers(&self, (x, y): (u16, u16)) -> bool {
        y == self.y && x >= self.x && x < self.end
    }
}

/// What follows a node's glyph in at most `room` cells: ` name count]`, or the name cut short
/// with `…`, or nothing; and whether it is whole.
fn tail(node: &NodeView, name_style: Style, room: usize) -> (Line<'static>, bool) {
    let mut spans =
        vec![Span::styled(" ", name_style), Span::styled(node.name.clone(), name_style)];
    if node.clients > 0 && node.state != NodeState::Killed {
        let count = Style::new().fg(Color::Gray);
        let count = if node.selected {
            count.add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            count
        };
        spans.push(Span::styled(format!(" {}", node.clients), count));
    }
    if node.selected {
        spans.push(Span::styled("]", name_style));
    }
    let line = Line::from(spans);
    if line.width() <= room {
        return (line, true);
    }
    if room < 3 {
        return (Line::default(), false);
    }
    // A space, as much of the name as fits, and an ellipsis.
    let mut name = String::new();
    let mut used = 0;
    for grapheme in Span::raw(node.name.as_str()).styled_graphemes(Style::new()) {
        let width = Span::raw(grapheme.symbol).width();
        if used + width > room - 2 {
            break;
        }
        used += width;
        name.push_str(grapheme.symbol);
    }
    name.push('…');
    let line = Line::from(vec![Span::styled(" ", name_style), Span::styled(name, name_style)]);
    (line, false)
}

/// The points of a link in braille-dot space (two dots across, four down per cell), from the
/// centre of one cell to the centre of another, one step per dot along the longer axis.
struct Path {
    from: (f64, f64),
    delta: (f64, f64),
    steps: usize,
}

impl Path {
    fn new((ax, ay): (u16, u16), (bx, by): (u16, u16)) -> Self {
        let from = (f64::from(ax) * 2.0 + 1.0, f64::from(ay) * 4.0 + 2.0);
        let to = (f64::from(bx) * 2.0 + 1.0, f64::from(by) * 4.0 + 2.0);
        let delta = (to.0 - from.0, to.1 - from.1);
        let steps = delta.0.abs().max(delta.1.abs()).ceil().max(1.0) as usize;
        Self { from, delta, steps }
    }

    /// The dot of step `i`.
    fn dot(&self, i: usize) -> (u32, u32) {
        let t = i as f64 / self.steps as f64;
        // The nudge keeps exact dot boundaries from rounding down to the dot before.
        let x = (self.from.0 + self.delta.0 * t + 1e-6).floor().max(0.0);
        let y = (self.from.1 + self.delta.1 * t + 1e-6).floor().max(0.0);
        (x as u32, y as u32)
    }

    /// The cell of step `i`.
    fn cell(&self, i: usize) -> (u16, u16) {
        let (x, y) = self.dot(i);
        ((x / 2) as u16, (y / 4) as u16)
    }

    /// The steps of the stretch between the labels at either end, where the link shows (the
    /// middle step when the labels leave none).
    fn between(&self, from: &Label, to: &Label) -> (usize, usize) {
        let first = (0..=self.steps).find(|&i| !from.covers(self.cell(i)));
        let last = (0..=self.steps).rev().find(|&i| !to.covers(self.cell(i)));
        match (first, last) {
            (Some(first), Some(last)) if first <= last => (first, last),
            _ => (self.steps / 2, self.steps / 2),
        }
    }

    /// The cell nearest step `i` along the path that is inside `area` and not `occupied`.
    fn free_cell_near(&self, i: usize, area: Rect, occupied: &[bool]) -> Option<(u16, u16)> {
        (0..=self.steps).find_map(|d| {
            [i.checked_sub(d), Some(i + d).filter(|&j| j <= self.steps)]
                .into_iter()
                .flatten()
                .map(|j| self.cell(j))
                .find(|&(x, y)| index(area, x, y).is_some_and(|k| !occupied[k]))
        })
    }
}

/// Braille dots over an area, with one style per cell: where links cross, the more urgent
/// state's colour wins (selected, cut, reconnecting, up, idle).
struct Raster {
    area: Rect,
    dots: Vec<u8>,
    rank: Vec<u8>,
    styles: Vec<Style>,
}

impl Raster {
    fn new(area: Rect) -> Self {
        let cells = usize::from(area.width) * usize::from(area.height);
        Self { area, dots: vec![0; cells], rank: vec![0; cells], styles: vec![Style::new(); cells] }
    }

    /// Draws the steps `steps` of `path` in `state`.
    fn line(
        &mut self,
        path: &Path,
        steps: std::ops::RangeInclusive<usize>,
        state: EdgeState,
        selected: bool,
    ) {
        let style = style_of_edge(state, selected);
        let rank = if selected {
            5
        } else {
            match state {
                EdgeState::Cut => 4,
                EdgeState::Stalled | EdgeState::Reconnecting => 3,
                EdgeState::Up => 2,
                EdgeState::Idle => 1,
            }
        };
        for i in steps {
            if !edge_dot(state, i) {
                continue;
            }
            let (dot_x, dot_y) = path.dot(i);
            let (col, row) = ((dot_x / 2) as u16, (dot_y / 4) as u16);
            let Some(cell) = index(self.area, col, row) else {
                continue;
            };
            self.dots[cell] |= braille_bit(dot_x % 2, dot_y % 4);
            if rank > self.rank[cell] {
                self.rank[cell] = rank;
                self.styles[cell] = style;
            }
        }
    }

    /// Writes every cell with dots, except those a label will cover.
    fn flush(&self, buf: &mut Buffer, occupied: &[bool]) {
        let width = usize::from(self.area.width);
        for (k, &bits) in self.dots.iter().enumerate() {
            if bits == 0 || occupied.get(k).copied().unwrap_or(true) {
                continue;
            }
            let x = self.area.x + (k % width) as u16;
            let y = self.area.y + (k / width) as u16;
            let glyph = char::from_u32(0x2800 + u32::from(bits)).unwrap_or('⣿');
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_char(glyph).set_style(self.styles[k]);
            }
        }
    }
}

/// The bit of the braille dot in column `dx` (0–1) and row `dy` (0–3) of a cell.
fn braille_bit(dx: u32, dy: u32) -> u8 {
    const BITS: [[u8; 4]; 2] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]];
    BITS[(dx & 1) as usize][(dy & 3) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Topology;
    use crate::tui::layout;
    use std::time::Instant;

    fn node(name: &str, pos: (f64, f64)) -> NodeView {
        NodeView {
            name: name.to_owned(),
            pos,
            state: NodeState::Up,
            selected: false,
            tint: None,
            flash: None,
            clients: 0,
        }
    }

    fn edge(a: usize, b: usize, state: EdgeState) -> EdgeView {
        EdgeView::new(a, b, state)
    }

    fn token(from: usize, to: usize, progress: f64, state: TokenState) -> TokenView {
        TokenView { from, to, progress, colour: Color::Cyan, state }
    }

    fn herd(spec: &str) -> (Topology, Vec<NodeView>, Vec<EdgeView>) {
        let t = Topology::load(spec, 12401).unwrap();
        let nodes = t
            .servers
            .iter()
            .zip(layout::positions(&t))
            .map(|(s, pos)| node(&s.name, pos))
            .collect();
        let edges = t.links().into_iter().map(|(a, b)| edge(a, b, EdgeState::Up)).collect();
        (t, nodes, edges)
    }

    fn render(view: &GraphView, width: u16, height: u16) -> Buffer {
        let area = Rect::new(0, 0, width, height);
        let mut buf = Buffer::empty(area);
        view.render(area, &mut buf);
        buf
    }

    /// The buffer as text, one line per row, wide glyphs counted once.
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

    fn is_braille(symbol: &str) -> bool {
        symbol.chars().next().is_some_and(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
    }

    /// The cs131 herd as in the snapshot: Bona–Clark cut, Jaquez killed (its links idle), an
    /// update half-way from Bailey to Campbell, Bona selected with 2 clients.
    fn cs131_scene() -> (Vec<NodeView>, Vec<EdgeView>, Vec<TokenView>) {
        let (t, mut nodes, mut edges) = herd("cs131");
        let at = |name: &str| t.index_of(name).unwrap();
        let jaquez = at("Jaquez");
        nodes[jaquez].state = NodeState::Killed;
        nodes[at("Bona")].selected = true;
        nodes[at("Bona")].clients = 2;
        nodes[at("Bailey")].clients = 1;
        nodes[at("Bailey")].tint = Some(Color::Cyan);
        for e in &mut edges {
            if (e.a, e.b) == (at("Bona"), at("Clark")) {
                e.state = EdgeState::Cut;
            } else if e.a == jaquez || e.b == jaquez {
                e.state = EdgeState::Idle;
            }
        }
        let tokens = vec![token(at("Bailey"), at("Campbell"), 0.5, TokenState::Moving)];
        (nodes, edges, tokens)
    }

    #[test]
    fn every_node_is_labelled() {
        for spec in ["cs131", "cs131-2019", "ring:12", "star:12"] {
            let (t, nodes, edges) = herd(spec);
            let view = GraphView { nodes: &nodes, edges: &edges, tokens: &[], block: None };
            let screen = text(&render(&view, 80, 24));
            for s in &t.servers {
                assert!(
                    screen.contains(&format!("● {} ", s.name))
                        || screen.contains(&format!("● {}\n", s.name)),
                    "{spec}: {} missing in\n{screen}",
                    s.name
                );
            }
        }
    }

    #[test]
    fn killed_node_is_red_and_crossed_out() {
        let mut nodes = vec![node("Bailey", (0.0, 0.5)), node("Bona", (1.0, 0.5))];
        nodes[0].state = NodeState::Killed;
        nodes[0].clients = 4;
        let view = GraphView {
            nodes: &nodes,
            edges: &[edge(0, 1, EdgeState::Idle)],
            tokens: &[],
            block: None,
        };
        let buf = render(&view, 40, 5);
        let glyphs = find(&buf, "✖");
        assert_eq!(glyphs.len(), 1, "{}", text(&buf));
        let (x, y) = glyphs[0];
        assert_eq!(buf[(x, y)].fg, Color::Red);
        let name = &buf[(x + 2, y)];
        assert_eq!(name.symbol(), "B");
        assert_eq!(name.fg, Color::Red);
        assert!(name.modifier.contains(Modifier::CROSSED_OUT));
        // No client count on a killed server.
        assert!(!text(&buf).contains("Bailey 4"));
        assert_eq!(node_glyph(NodeState::Killed, Some(Flash::Stored)), "✖");
    }

    #[test]
    fn node_states_have_distinct_glyphs_and_brackets() {
        let glyphs = [
            node_glyph(NodeState::Up, None),
            node_glyph(NodeState::Up, Some(Flash::Stored)),
            node_glyph(NodeState::Up, Some(Flash::Suppressed)),
            node_glyph(NodeState::Killed, None),
            node_glyph(NodeState::Hung, None),
        ];
        for (i, a) in glyphs.iter().enumerate() {
            for b in &glyphs[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let mut nodes =
            vec![node("Sel", (0.0, 0.0)), node("Dup", (1.0, 0.0)), node("New", (0.0, 1.0))];
        nodes[0].selected = true;
        nodes[0].clients = 3;
        nodes[1].flash = Some(Flash::Suppressed);
        nodes[2].flash = Some(Flash::Stored);
        nodes[2].tint = Some(Color::Magenta);
        let view = GraphView { nodes: &nodes, edges: &[], tokens: &[], block: None };
        let buf = render(&view, 40, 10);
        let screen = text(&buf);
        assert!(screen.contains("[● Sel 3]"), "{screen}");
        assert!(screen.contains("⊘ Dup"), "{screen}");
        assert!(screen.contains("◉ New"), "{screen}");
        let (x, y) = find(&buf, "[")[0];
        assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));
        let (x, y) = find(&buf, "⊘")[0];
        assert_eq!(buf[(x, y)].fg, Color::Yellow);
        let (x, y) = find(&buf, "◉")[0];
        assert_eq!(buf[(x, y)].fg, Color::Magenta);
        assert_eq!(buf[(x + 2, y)].bg, Color::Magenta);
    }

    #[test]
    fn cut_edge_is_red_with_a_midway_marker() {
        let nodes = vec![node("A", (0.0, 0.5)), node("B", (1.0, 0.5))];
        let view = GraphView {
            nodes: &nodes,
            edges: &[edge(0, 1, EdgeState::Cut)],
            tokens: &[],
            block: None,
        };
        let buf = render(&view, 41, 5);
        let a = find(&buf, "●")[0];
        let b = find(&buf, "●")[1];
        let marks = find(&buf, "╳");
        assert_eq!(marks.len(), 1, "{}", text(&buf));
        let (mx, my) = marks[0];
        assert_eq!(buf[(mx, my)].fg, Color::Red);
        assert_eq!(my, a.1);
        // Midway along the visible stretch, between "● A " and "● B".
        let middle = (a.0 + 4 + b.0 - 1) / 2;
        assert!(mx.abs_diff(middle) <= 1, "marker at {mx}, nodes {a:?} {b:?}");
        // Dashed: red braille cells on the row between the labels, with gaps.
        let row: Vec<&str> = (a.0 + 4..b.0).map(|x| buf[(x, a.1)].symbol()).collect();
        let drawn =
            (a.0 + 4..b.0).filter(|&x| is_braille(buf[(x, a.1)].symbol())).collect::<Vec<_>>();
        assert!(drawn.len() > 8, "{row:?}");
        assert!(drawn.iter().all(|&x| buf[(x, a.1)].fg == Color::Red));
        assert!(drawn.len() < row.len() - 1, "no gaps in {row:?}");
        assert_eq!(style_of_edge(EdgeState::Cut, false).fg, Some(Color::Red));
    }

    #[test]
    fn edge_states_differ_in_pattern_marker_and_colour() {
        let states = [
            EdgeState::Up,
            EdgeState::Reconnecting,
            EdgeState::Stalled,
            EdgeState::Cut,
            EdgeState::Idle,
        ];
        let patterns: Vec<Vec<bool>> =
            states.iter().map(|&s| (0..8).map(|i| edge_dot(s, i)).collect()).collect();
        let colours: Vec<_> = states.iter().map(|&s| style_of_edge(s, false).fg).collect();
        for i in 0..states.len() {
            for j in i + 1..states.len() {
                assert_ne!(patterns[i], patterns[j]);
                assert_ne!(colours[i], colours[j]);
            }
        }
        let badge = |state: EdgeState, selected: bool| {
            let edge = EdgeView { selected, ..edge(0, 1, state) };
            edge_badge(&edge, Heading::Right)
        };
        assert_eq!(badge(EdgeState::Up, false), []);
        assert_eq!(badge(EdgeState::Idle, false), []);
        assert_eq!(badge(EdgeState::Reconnecting, false)[0].0, "?");
        assert_eq!(badge(EdgeState::Stalled, false)[0].0, "≈");
        assert_eq!(badge(EdgeState::Cut, false)[0].0, "╳");
        let selected = badge(EdgeState::Up, true);
        assert_eq!(selected.len(), 1);
        let (mark, style) = selected[0];
        assert_eq!(mark, "◇");
        assert!(style.add_modifier.contains(Modifier::REVERSED));
        let selected = style_of_edge(EdgeState::Up, true);
        assert_eq!(selected.fg, Some(Color::White));
        assert!(selected.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn tokens_sit_along_their_link() {
        let nodes = vec![node("A", (0.0, 0.5)), node("B", (1.0, 0.5))];
        let tokens = [token(0, 1, 0.5, TokenState::Moving), token(1, 0, 0.0, TokenState::Held)];
        let view = GraphView {
            nodes: &nodes,
            edges: &[edge(0, 1, EdgeState::Up)],
            tokens: &tokens,
            block: None,
        };
        let buf = render(&view, 41, 5);
        let a = find(&buf, "●")[0];
        let b = find(&buf, "●")[1];
        let moving = find(&buf, "◆");
        assert_eq!(moving.len(), 1, "{}", text(&buf));
        let (x, y) = moving[0];
        assert_eq!(y, a.1);
        // Half-way along the visible stretch between "● A" and "● B".
        let middle = (a.0 + 4 + b.0 - 1) / 2;
        assert!(x.abs_diff(middle) <= 1, "token at {x}, nodes {a:?} {b:?}");
        assert_eq!(buf[(x, y)].fg, Color::Cyan);
        // Held at the sender B, a little clear of its label.
        let held = find(&buf, "‖");
        assert_eq!(held, [(b.0 - 3, b.1)], "{}", text(&buf));

        // A dropped token is a red cross where it was; progress 0 and 1 stay off the labels.
        for (progress, near) in [(0.0, a.0 + 4), (1.0, b.0 - 1), (0.25, 0)] {
            let tokens = [token(0, 1, progress, TokenState::Dropped)];
            let view = GraphView { tokens: &tokens, ..view.clone() };
            let buf = render(&view, 41, 5);
            let dropped = find(&buf, "✗");
            assert_eq!(dropped.len(), 1, "{progress}: {}", text(&buf));
            assert_eq!(buf[dropped[0]].fg, Color::Red);
            if near > 0 {
                assert_eq!(dropped[0].0, near, "{progress}");
            }
        }
    }

    #[test]
    fn labels_stay_inside_the_area() {
        let nodes = vec![
            node("Left", (0.0, 0.0)),
            node("AVeryLongServerNameIndeed", (1.0, 0.5)),
            node("Bottom", (1.0, 1.0)),
        ];
        let mut nodes = nodes;
        nodes[2].selected = true;
        nodes[2].clients = 12345;
        let view = GraphView {
            nodes: &nodes,
            edges: &[edge(0, 1, EdgeState::Up), edge(1, 2, EdgeState::Cut)],
            tokens: &[],
            block: Some(Block::bordered()),
        };
        // Draw into the middle of a bigger buffer: nothing may land outside the area.
        let area = Rect::new(5, 3, 24, 8);
        let mut buf = Buffer::empty(Rect::new(0, 0, 40, 16));
        view.render_ref(area, &mut buf);
        for y in 0..16 {
            for x in 0..40 {
                if !(area.left()..area.right()).contains(&x)
                    || !(area.top()..area.bottom()).contains(&y)
                {
                    assert_eq!(buf[(x, y)].symbol(), " ", "({x}, {y}) in\n{}", text(&buf));
                }
            }
        }
        let screen = text(&buf);
        assert!(screen.contains("● Left"), "{screen}");
        // The long name is cut at the border, its glyph kept.
        assert!(screen.contains("│● AVeryLongServerName…│"), "{screen}");
        assert!(screen.contains("[● Bottom 12345]│"), "{screen}");

        // Degenerate areas do not panic.
        for (w, h) in [(0, 0), (1, 1), (2, 5), (5, 1), (3, 3)] {
            let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
            view.clone().render(Rect::new(0, 0, w, h), &mut buf);
        }
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        let mut nodes = vec![node("A", (0.5, 0.5)), node("B", (0.5, 0.5))];
        nodes[1].pos = (f64::NAN, f64::INFINITY);
        let view = GraphView {
            nodes: &nodes,
            edges: &[edge(0, 1, EdgeState::Up), edge(0, 7, EdgeState::Cut)],
            tokens: &[
                token(0, 1, f64::NAN, TokenState::Moving),
                token(3, 0, 0.5, TokenState::Moving),
                token(0, 1, 7.0, TokenState::Dropped),
            ],
            block: None,
        };
        let buf = render(&view, 30, 6);
        assert!(text(&buf).contains("● "));
        let empty = GraphView::default();
        render(&empty, 10, 3);
    }

    #[test]
    fn legend_names_every_glyph() {
        let legend: String = legend().iter().map(|s| s.content.as_ref()).collect();
        for glyph in ["●", "✖", "❄", "◉", "⊘", "╳", "⇥", "≈", "%", "◷", "×2", "→", "◆", "‖", "✗"]
        {
            assert!(legend.contains(glyph), "{legend}");
        }
        assert!(legend.contains("● up  ◉ stored"), "{legend}");
    }

    /// The glyphs of `badge`, joined.
    fn glyphs(badge: &[(&str, Style)]) -> String {
        badge.iter().map(|(glyph, _)| *glyph).collect()
    }

    #[test]
    fn the_look_table_is_in_mark_order_and_tells_every_mark_apart() {
        for (i, look) in LOOKS.iter().enumerate() {
            assert_eq!(look.mark as usize, i, "{look:?}");
        }
        for (i, a) in LOOKS.iter().enumerate() {
            for b in &LOOKS[i + 1..] {
                assert_ne!(a.name, b.name);
                let same_glyph = a.glyph == b.glyph;
                assert!(!same_glyph || a.style != b.style, "{a:?} and {b:?}");
            }
        }
        assert_eq!(look(Mark::Hung).glyph, GLYPH_HUNG);
        assert_ne!(look(Mark::Hung).style.fg, look(Mark::Killed).style.fg);
    }

    #[test]
    fn badges_show_each_fault_and_its_direction() {
        let with = |a_to_b: EdgeFaults, b_to_a: EdgeFaults| EdgeView {
            a_to_b,
            b_to_a,
            ..edge(0, 1, EdgeState::Up)
        };
        let cut = EdgeFaults { cut: true, ..EdgeFaults::default() };
        let loss = EdgeFaults { loss: true, ..EdgeFaults::default() };
        let all = EdgeFaults { cut: false, loss: true, delay: true, dup: true };
        let none = EdgeFaults::default();
        assert_eq!(glyphs(&edge_badge(&with(cut, cut), Heading::Right)), "╳");
        assert_eq!(glyphs(&edge_badge(&with(cut, none), Heading::Right)), "⇥");
        assert_eq!(glyphs(&edge_badge(&with(cut, none), Heading::Left)), "⇤");
        assert_eq!(glyphs(&edge_badge(&with(none, cut), Heading::Right)), "⇤");
        assert_eq!(glyphs(&edge_badge(&with(none, cut), Heading::Down)), "⤒");
        assert_eq!(glyphs(&edge_badge(&with(cut, none), Heading::Down)), "⤓");
        assert_eq!(glyphs(&edge_badge(&with(loss, loss), Heading::Right)), "%");
        assert_eq!(glyphs(&edge_badge(&with(loss, none), Heading::Right)), "%→");
        assert_eq!(glyphs(&edge_badge(&with(none, loss), Heading::Up)), "%↓");
        assert_eq!(glyphs(&edge_badge(&with(all, all), Heading::Right)), "%◷×2");
        let mixed = EdgeFaults { cut: true, ..all };
        assert_eq!(glyphs(&edge_badge(&with(mixed, all), Heading::Right)), "⇥%◷×2");
        let badge = edge_badge(&with(all, all), Heading::Right);
        assert_eq!(badge[0].1.fg, look(Mark::Loss).style.fg);
        assert_eq!(badge[1].1.fg, look(Mark::Delay).style.fg);
        assert_eq!(badge[2].1.fg, look(Mark::Dup).style.fg);
        // Cut both ways by its state alone (as a partition draws it).
        assert_eq!(edge(0, 1, EdgeState::Cut).cut(), (true, true));
    }

    #[test]
    fn a_one_way_cut_dashes_the_receiving_half() {
        let nodes = vec![node("A", (0.0, 0.5)), node("B", (1.0, 0.5))];
        let one_way = EdgeView {
            a_to_b: EdgeFaults { cut: true, ..EdgeFaults::default() },
            ..edge(0, 1, EdgeState::Up)
        };
        let view = GraphView { nodes: &nodes, edges: &[one_way], tokens: &[], block: None };
        let buf = render(&view, 41, 5);
        let a = find(&buf, "●")[0];
        let b = find(&buf, "●")[1];
        let marks = find(&buf, "⇥");
        assert_eq!(marks.len(), 1, "{}", text(&buf));
        let (mx, my) = marks[0];
        assert_eq!(buf[(mx, my)].fg, Color::Red);
        // A's half solid and gray, B's half dashed and red.
        let left = drawn_cells(&buf, a.1, a.0 + 4..mx);
        let right = drawn_cells(&buf, a.1, mx + 1..b.0);
        assert!(left.iter().all(|&x| buf[(x, a.1)].fg == Color::Gray), "{}", text(&buf));
        assert_eq!(left.len(), usize::from(mx - a.0 - 4), "solid: {}", text(&buf));
        assert!(right.iter().all(|&x| buf[(x, a.1)].fg == Color::Red), "{}", text(&buf));
        assert!(right.len() < usize::from(b.0 - mx - 1), "dashed: {}", text(&buf));

        // The other way round: the arrow turns, the dashes move to A's half.
        let other = EdgeView { a_to_b: one_way.b_to_a, b_to_a: one_way.a_to_b, ..one_way };
        let view = GraphView { edges: &[other], ..view };
        let buf = render(&view, 41, 5);
        assert_eq!(find(&buf, "⇤").len(), 1, "{}", text(&buf));
        let (mx, _) = find(&buf, "⇤")[0];
        assert!(
            drawn_cells(&buf, a.1, a.0 + 4..mx).iter().all(|&x| buf[(x, a.1)].fg == Color::Red)
        );
    }

    fn drawn_cells(buf: &Buffer, y: u16, range: std::ops::Range<u16>) -> Vec<u16> {
        range.filter(|&x| is_braille(buf[(x, y)].symbol())).collect()
    }

    #[test]
    fn a_hung_node_is_light_blue_with_its_count() {
        let mut nodes = vec![node("Frozen", (0.0, 0.5)), node("Dead", (1.0, 0.5))];
        nodes[0].state = NodeState::Hung;
        nodes[0].clients = 2;
        nodes[1].state = NodeState::Killed;
        let view = GraphView { nodes: &nodes, edges: &[], tokens: &[], block: None };
        let buf = render(&view, 40, 5);
        let screen = text(&buf);
        assert!(screen.contains("❄ Frozen 2"), "{screen}");
        assert!(screen.contains("✖ Dead"), "{screen}");
        let (x, y) = find(&buf, "❄")[0];
        assert_eq!(buf[(x, y)].fg, Color::LightBlue);
        assert!(buf[(x + 2, y)].modifier.contains(Modifier::ITALIC));
    }

    #[test]
    fn snapshot_faults_on_cs131() {
        let (t, nodes, mut edges) = herd("cs131");
        let at = |name: &str| t.index_of(name).unwrap();
        let mut nodes = nodes;
        nodes[at("Jaquez")].state = NodeState::Hung;
        nodes[at("Campbell")].state = NodeState::Killed;
        for e in &mut edges {
            let pair = (e.a, e.b);
            if pair == (at("Bona"), at("Clark")) {
                e.a_to_b.cut = true;
            } else if pair == (at("Bailey"), at("Bona")) {
                e.a_to_b.loss = true;
                e.b_to_a.loss = true;
            } else if pair == (at("Clark"), at("Jaquez")) {
                e.a_to_b.delay = true;
                e.b_to_a.dup = true;
            } else if e.a == at("Campbell") || e.b == at("Campbell") {
                e.state = EdgeState::Idle;
            }
        }
        let view = GraphView {
            nodes: &nodes,
            edges: &edges,
            tokens: &[],
            block: Some(Block::bordered().title(" faults ")),
        };
        let buf = render(&view, 60, 20);
        insta::assert_snapshot!("cs131_faults_60x20", text(&buf));
    }

    #[test]
    fn snapshot_cs131() {
        let (nodes, edges, tokens) = cs131_scene();
        let view = GraphView {
            nodes: &nodes,
            edges: &edges,
            tokens: &tokens,
            block: Some(Block::bordered().title(" herd ")),
        };
        let buf = render(&view, 60, 20);
        insta::assert_snapshot!("cs131_60x20", text(&buf));
    }

    #[test]
    fn snapshot_ring_12() {
        let (_, mut nodes, mut edges) = herd("ring:12");
        nodes[3].flash = Some(Flash::Stored);
        nodes[3].tint = Some(Color::Magenta);
        nodes[4].flash = Some(Flash::Suppressed);
        nodes[0].clients = 2;
        edges[5].state = EdgeState::Reconnecting;
        edges[8].selected = true;
        let tokens = [
            token(2, 3, 0.3, TokenState::Moving),
            token(3, 4, 0.0, TokenState::Held),
            token(9, 10, 0.6, TokenState::Dropped),
        ];
        let view = GraphView {
            nodes: &nodes,
            edges: &edges,
            tokens: &tokens,
            block: Some(Block::bordered().title(" ring:12 ")),
        };
        let buf = render(&view, 80, 24);
        insta::assert_snapshot!("ring12_80x24", text(&buf));
    }

    #[test]
    fn renders_a_busy_herd_quickly() {
        let (_, nodes, mut edges) = herd("grid:5x6");
        // 49 grid links plus diagonals: about 60.
        for i in 0..11 {
            edges.push(edge(i * 2, i * 2 + 7, EdgeState::Reconnecting));
        }
        let links = edges.clone();
        let tokens: Vec<TokenView> = (0..100)
            .map(|i| {
                let e = links[i % links.len()];
                token(e.a, e.b, (i % 10) as f64 / 10.0, TokenState::Moving)
            })
            .collect();
        let view = GraphView {
            nodes: &nodes,
            edges: &edges,
            tokens: &tokens,
            block: Some(Block::bordered()),
        };
        let area = Rect::new(0, 0, 200, 60);
        let mut buf = Buffer::empty(area);
        let rounds = 50;
        let started = Instant::now();
        for _ in 0..rounds {
            buf.reset();
            view.render_ref(area, &mut buf);
        }
        let each = started.elapsed() / rounds;
        println!("graph render, 200×60, 30 nodes, {} links, 100 tokens: {each:?}", edges.len());
        // Well under a millisecond in release builds; generous here for debug builds.
        assert!(each.as_millis() < 25, "{each:?} per render");
        assert!(!find(&buf, "◆").is_empty());
    }
}
