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
//! | server unseen (`attach`: its admin endpoint unreachable, state unknown) | `◌`, name dimmed | dark gray |
//! | selected server | `[● Name]` (or `[Name ●]`, `[Name]`, wherever its label goes) | reversed, bold |
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
//! Midway marks are drawn bold. The legend shows each link state as a stretch of its braille
//! line (as a level link draws it) followed by its midway mark.
//!
//! Labels ([`place_labels`]) never overlap one another nor touch another node's glyph: each
//! goes right of its glyph (`● Name 2`), else left (`Name 2 ●`), else on the row above or
//! below, centred; the selected server's (`[● Name 2]`) is placed first. A label that fits
//! nowhere whole drops its client count, then is shortened to its first letters and `…`
//! (at least three letters: `S12` stays `S12`, `Campbell` goes down to `Cam…`); one that does
//! not fit even so is left off, and the node shows its glyph alone. Every glyph is drawn.
//!
//! A click is found the same way: [`GraphView::hit`] places nodes and labels as drawing
//! does, then names the server or link drawn at (or next to) the cell clicked.
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
    /// An attached console cannot see it (its admin endpoint is unreachable): its state is
    /// unknown, which is not down.
    Unseen,
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
/// A server whose state an attached console cannot see.
pub const GLYPH_UNSEEN: &str = "◌";
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
    Unseen,
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
    SelectedLink,
    Flood,
    Held,
    Dropped,
}

/// Which points of a link's braille line are drawn: the first `on` of every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dash {
    pub on: u8,
    pub every: u8,
}

impl Dash {
    /// Whether point `i` along the line is drawn.
    pub fn draws(self, i: usize) -> bool {
        i % usize::from(self.every.max(1)) < usize::from(self.on)
    }
}

/// How a [`Mark`] is drawn, and its name in the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub mark: Mark,
    /// Its glyph: a server's, an update's, or the mark drawn midway along a link (bold there);
    /// empty for a link state with no midway mark.
    pub glyph: &'static str,
    /// For a link state, its line's pattern (drawn in braille, in `style`).
    pub dash: Option<Dash>,
    pub style: Style,
    pub name: &'static str,
}

impl Look {
    /// What the legend shows for it: for a link state, a stretch of its line as a link running
    /// across the pane draws it, then its midway mark; otherwise its glyph.
    pub fn sample(&self) -> String {
        let Some(dash) = self.dash else { return self.glyph.to_owned() };
        // Along a level link the `i`th point is the left dot of a cell for odd `i`, the right
        // one for even `i`, on the cell's third dot row.
        let cell = |k: usize| {
            let bits = if dash.draws(2 * k - 1) { braille_bit(0, 2) } else { 0 }
                | if dash.draws(2 * k) { braille_bit(1, 2) } else { 0 };
            if bits == 0 { ' ' } else { char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' ') }
        };
        // One whole period of cells and one more, from the first with a dot.
        let every = usize::from(dash.every.max(1));
        let period = if every % 2 == 0 { every / 2 } else { every };
        let first = (1..=period).find(|&k| cell(k) != ' ').unwrap_or(1);
        let mut sample: String = (first..=first + period).map(cell).collect();
        sample.push_str(self.glyph);
        sample
    }
}

const fn fg(colour: Color) -> Style {
    Style::new().fg(colour)
}

const fn bold(colour: Color) -> Style {
    Style::new().fg(colour).add_modifier(Modifier::BOLD)
}

const fn glyph(mark: Mark, glyph: &'static str, style: Style, name: &'static str) -> Look {
    Look { mark, glyph, dash: None, style, name }
}

const fn line(
    mark: Mark,
    glyph: &'static str,
    dash: Dash,
    colour: Color,
    name: &'static str,
) -> Look {
    Look { mark, glyph, dash: Some(dash), style: fg(colour), name }
}

/// Every look of the pane, in [`Mark`] order (which is the legend's order). The pane draws
/// every glyph, line pattern and colour from here.
pub const LOOKS: [Look; 20] = [
    glyph(Mark::Up, GLYPH_UP, fg(Color::Green), "up"),
    glyph(Mark::Stored, GLYPH_STORED, bold(Color::Green), "stored"),
    glyph(Mark::Suppressed, GLYPH_SUPPRESSED, bold(Color::Yellow), "duplicate"),
    glyph(Mark::Hung, GLYPH_HUNG, bold(Color::LightBlue), "hung"),
    glyph(Mark::Killed, GLYPH_KILLED, bold(Color::Red), "killed"),
    glyph(Mark::Unseen, GLYPH_UNSEEN, bold(Color::DarkGray), "unseen (state unknown)"),
    line(Mark::Link, "", Dash { on: 1, every: 1 }, Color::Gray, "link"),
    line(
        Mark::Reconnecting,
        MARK_RECONNECTING,
        Dash { on: 1, every: 2 },
        Color::Yellow,
        "reconnecting",
    ),
    line(Mark::Stalled, MARK_STALLED, Dash { on: 2, every: 3 }, Color::Magenta, "stalled"),
    line(Mark::Cut, MARK_CUT, Dash { on: 3, every: 8 }, Color::Red, "cut"),
    glyph(Mark::CutOneWay, MARK_CUT_ONE_WAY[0], bold(Color::Red), "cut one way (→ stopped)"),
    line(Mark::Idle, "", Dash { on: 1, every: 4 }, Color::DarkGray, "an end down"),
    glyph(Mark::Loss, MARK_LOSS, bold(Color::LightRed), "loss"),
    glyph(Mark::Delay, MARK_DELAY, bold(Color::LightCyan), "delay"),
    glyph(Mark::Dup, MARK_DUP, bold(Color::LightMagenta), "dup"),
    glyph(Mark::OneWay, ONE_WAY[0], bold(Color::LightRed), "one way (after its fault)"),
    glyph(
        Mark::SelectedLink,
        MARK_SELECTED,
        Style::new().fg(Color::Gray).add_modifier(Modifier::BOLD.union(Modifier::REVERSED)),
        "selected link",
    ),
    glyph(Mark::Flood, GLYPH_TOKEN, bold(Color::Cyan), "flood"),
    glyph(Mark::Held, GLYPH_HELD, bold(Color::Cyan), "held"),
    glyph(Mark::Dropped, GLYPH_DROPPED, bold(Color::Red), "dropped"),
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
        if let Some(block) = &self.block {
            block.render(area, buf);
        }
        let Some(geometry) = self.geometry(area) else { return };
        let Geometry { inner, cells, labels, occupied } = &geometry;
        let (inner, occupied) = (*inner, occupied.as_slice());

        let mut raster = Raster::new(inner);
        for edge in self.edges {
            let Some((path, middle, _)) = geometry.ends(edge) else { continue };
            for (steps, state) in stretches(edge, path.steps, middle) {
                raster.line(&path, steps, state, edge.selected);
            }
        }
        raster.flush(buf, occupied);

        for edge in self.edges {
            let Some((path, middle, heading)) = geometry.ends(edge) else { continue };
            let badge = edge_badge(edge, heading);
            if let Some(anchor) = path.free_cell_near(middle, inner, occupied) {
                draw_badge(buf, inner, occupied, anchor, &badge);
            }
        }

        // Labels never overlap (see `place_labels`), so their order does not matter.
        for label in labels {
            label.draw(buf);
        }

        for token in self.tokens {
            let (Some(&a), Some(&b)) = (cells.get(token.from), cells.get(token.to)) else {
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

impl GraphView<'_> {
    /// Where the pane drawn in `area` puts its nodes and their labels (the block's inside).
    fn geometry(&self, area: Rect) -> Option<Geometry> {
        let inner = self.block.as_ref().map_or(area, |block| block.inner(area));
        if inner.is_empty() || self.nodes.is_empty() {
            return None;
        }
        let cells = Frame::new(inner, self.nodes).cells;
        let labels = Label::place_all(self.nodes, &cells, inner);
        let mut occupied = vec![false; usize::from(inner.width) * usize::from(inner.height)];
        for label in &labels {
            for (x, y) in label.cells() {
                if let Some(i) = index(inner, x, y) {
                    occupied[i] = true;
                }
            }
        }
        Some(Geometry { inner, cells, labels, occupied })
    }

    /// What a click on cell `(x, y)` of the pane drawn in `area` hits: the server or link
    /// drawn nearest it (a server's glyph and label with the blank beside it, a link's dots
    /// and midway marks), if one is within [`HIT_REACH`] (about a row, or two columns; a
    /// server wins a tie). Found from the geometry the pane is drawn with, so a click picks
    /// what shows.
    pub fn hit(&self, area: Rect, (x, y): (u16, u16)) -> Option<Hit> {
        if !area.contains(ratatui::layout::Position { x, y }) {
            return None;
        }
        let geometry = self.geometry(area)?;
        let reach = |cells: &mut dyn Iterator<Item = (u16, u16)>| {
            cells
                .map(|(cx, cy)| {
                    let (dx, dy) = (u32::from(cx.abs_diff(x)), u32::from(cy.abs_diff(y)));
                    dx * dx + 4 * dy * dy
                })
                .min()
        };
        let nodes = geometry
            .labels
            .iter()
            .enumerate()
            .filter_map(|(i, label)| Some((reach(&mut label.cells())?, 0, Hit::Node(i))));
        let edges = self.edges.iter().enumerate().filter_map(|(i, edge)| {
            let (path, middle, heading) = geometry.ends(edge)?;
            // The cells with a dot of its line drawn (labels cover the rest), and its marks.
            let mut cells = Vec::new();
            for (steps, state) in stretches(edge, path.steps, middle) {
                let drawn = steps.filter(|&step| edge_dot(state, step)).map(|step| path.cell(step));
                cells.extend(drawn.filter(|&(x, y)| {
                    index(geometry.inner, x, y).is_some_and(|k| !geometry.occupied[k])
                }));
            }
            let badge = edge_badge(edge, heading);
            let width = badge.iter().map(|(glyph, _)| glyph.chars().count()).sum::<usize>();
            if let (Some(anchor), Ok(width)) = (
                path.free_cell_near(middle, geometry.inner, &geometry.occupied),
                u16::try_from(width),
            ) && width > 0
            {
                let start = badge_start(geometry.inner, anchor, width);
                cells.extend((start..start + width).map(|x| (x, anchor.1)));
            }
            Some((reach(&mut cells.into_iter())?, 1, Hit::Link(i)))
        });
        let (distance, _, hit) = nodes.chain(edges).min_by_key(|&(d, rank, _)| (d, rank))?;
        (distance <= HIT_REACH).then_some(hit)
    }
}

/// What a click on the topology pane hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// A server: its index in [`GraphView::nodes`].
    Node(usize),
    /// A link: its index in [`GraphView::edges`].
    Link(usize),
}

/// How far from what is drawn a click still hits it, as `dx² + (2·dy)²` in cells (a cell
/// being about twice as tall as wide): two columns aside, a row above or below, or a cell
/// diagonally.
pub const HIT_REACH: u32 = 5;

/// Where a drawing puts things: the block's inside, each node's glyph cell and label, and
/// which cells of the inside the labels take (links show on the rest).
struct Geometry {
    inner: Rect,
    cells: Vec<(u16, u16)>,
    labels: Vec<Label>,
    occupied: Vec<bool>,
}

impl Geometry {
    /// The path of `edge`, the step midway along the stretch of it shown between the labels
    /// at its ends, and where it heads.
    fn ends(&self, edge: &EdgeView) -> Option<(Path, usize, Heading)> {
        let cells = (*self.cells.get(edge.a)?, *self.cells.get(edge.b)?);
        let labels = (self.labels.get(edge.a)?, self.labels.get(edge.b)?);
        let path = Path::new(cells.0, cells.1);
        let (first, last) = path.between(labels.0, labels.1);
        Some((path, first.midpoint(last), heading(cells.0, cells.1)))
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
        (true, false) => badge.push((MARK_CUT_ONE_WAY[heading.index()], mark(Mark::CutOneWay).1)),
        (false, true) => {
            badge.push((MARK_CUT_ONE_WAY[heading.reversed().index()], mark(Mark::CutOneWay).1));
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
            badge.push((look(Mark::SelectedLink).glyph, style_of_edge(edge.state, false)));
        }
        for (_, style) in &mut badge {
            *style = style.add_modifier(Modifier::BOLD | Modifier::REVERSED);
        }
    }
    badge
}

/// The stretches of a link's path of `steps` steps and the state each is drawn in: all of it
/// in its state, or, cut one way, the half towards the receiver cut (`middle` the step between).
fn stretches(
    edge: &EdgeView,
    steps: usize,
    middle: usize,
) -> impl Iterator<Item = (std::ops::RangeInclusive<usize>, EdgeState)> {
    let (whole, cut) = (0..=steps, EdgeState::Cut);
    let halves = |first, second| [Some((0..=middle, first)), Some((middle..=steps, second))];
    match edge.cut() {
        (true, true) => [Some((whole, cut)), None],
        (true, false) => halves(edge.state, cut),
        (false, true) => halves(cut, edge.state),
        (false, false) => [Some((whole, edge.state)), None],
    }
    .into_iter()
    .flatten()
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
    let start = badge_start(area, anchor, width);
    for (x, (c, style)) in (start..).zip(cells) {
        if index(area, x, anchor.1).is_some_and(|k| !occupied[k]) {
            put(buf, x, anchor.1, &c.to_string(), style);
        }
    }
}

/// The first cell of a badge `width` (at least 1) cells wide, centred on `anchor` and kept
/// inside `area`.
fn badge_start(area: Rect, anchor: (u16, u16), width: u16) -> u16 {
    let most = area.right().saturating_sub(width).max(area.x);
    anchor.0.saturating_sub(width.saturating_sub(1) / 2).clamp(area.x, most)
}

/// Whether the `i`th point along a link in `state` is drawn: solid, dotted, long-dashed
/// (stalled), dashed or sparse, as its [`Look`]'s [`Dash`] says.
pub fn edge_dot(state: EdgeState, i: usize) -> bool {
    look(state_mark(state)).dash.is_none_or(|dash| dash.draws(i))
}

/// The look of a server: unseen beats killed, which beats hung, which beats a flash, which
/// beats plain up.
fn node_mark(state: NodeState, flash: Option<Flash>) -> Mark {
    match (state, flash) {
        (NodeState::Unseen, _) => Mark::Unseen,
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
        (NodeState::Unseen, _) => (glyph, Style::new().fg(Color::DarkGray)),
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
    let mark = match state {
        TokenState::Moving => Mark::Flood,
        TokenState::Held => Mark::Held,
        TokenState::Dropped => Mark::Dropped,
    };
    look(mark).glyph
}

fn token_style(token: &TokenView) -> Style {
    match token.state {
        TokenState::Moving | TokenState::Held => {
            Style::new().fg(token.colour).add_modifier(Modifier::BOLD)
        }
        TokenState::Dropped => look(Mark::Dropped).style,
    }
}

/// A key to the pane's glyphs, each styled as drawn, for a help screen or footer: pairs of
/// spans, [`Look::sample`] and name, in [`LOOKS`] order.
pub fn legend() -> Vec<Span<'static>> {
    let mut spans = Vec::with_capacity(LOOKS.len() * 2);
    for (i, look) in LOOKS.iter().enumerate() {
        spans.push(Span::styled(look.sample(), look.style));
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
    /// The mapping to use: nodes over the whole height, or, when that leaves names out or
    /// shortened and a row free above and below the nodes would not, over all but those two
    /// rows, so that crowded top and bottom rows can have their labels above and below them.
    /// The choice looks at the names alone (not counts or selection), so nodes do not move
    /// while those change.
    fn new(area: Rect, nodes: &[NodeView]) -> Self {
        let whole = Self::map(area, nodes, 0);
        if area.height < 8 {
            return whole;
        }
        let score = |frame: &Self| {
            let local: Vec<(u16, u16)> = frame
                .cells
                .iter()
                .map(|&(x, y)| (x.saturating_sub(area.x), y.saturating_sub(area.y)))
                .collect();
            let texts: Vec<Vec<String>> =
                nodes.iter().map(|n| label_texts(&n.name, None)).collect();
            let placed = place_labels(&local, &texts, None, (area.width, area.height));
            let shown = placed.iter().flatten().count();
            let full = placed.iter().flatten().filter(|p| p.form == 0).count();
            (shown, full)
        };
        let before = score(&whole);
        if before.1 == nodes.len() {
            return whole;
        }
        let spared = Self::map(area, nodes, 1);
        if score(&spared) > before { spared } else { whole }
    }

    /// The nodes' cells, leaving `spare` rows free at the top and at the bottom.
    fn map(area: Rect, nodes: &[NodeView], spare: u16) -> Self {
        let area = Rect {
            y: area.y + spare,
            height: area.height.saturating_sub(2 * spare).max(1),
            ..area
        };
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

/// Where a label sits, next to its node's glyph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// `● name` on the glyph's row.
    Right,
    /// `name ●` on the glyph's row.
    Left,
    /// On the row above, centred on the glyph.
    Above,
    /// On the row below, centred on the glyph.
    Below,
}

/// The sides a label tries, in order.
pub const SIDES: [Side; 4] = [Side::Right, Side::Left, Side::Above, Side::Below];

/// Fewest letters an abbreviated name keeps before its `…`.
pub const ABBREVIATION_MIN: usize = 3;

/// A label as [`place_labels`] placed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Which of the node's texts it shows: 0 is the first (the full one).
    pub form: usize,
    pub side: Side,
    /// The row it is on.
    pub row: u16,
    /// The cells `start..end` it takes on that row: its text, `[` `]` round it when selected,
    /// and, on the right or left, the node's glyph and the space between them.
    pub start: u16,
    pub end: u16,
}

/// What a cell of the area holds while labels are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    Free,
    Glyph(usize),
    Label(usize),
}

/// The texts a node's label may show, the preferred first: `name count` (when there is a
/// count), `name`, then the name shortened to its first letters and `…`, one letter fewer
/// each time, keeping at least [`ABBREVIATION_MIN`] letters and always shorter than the
/// name (so `S12` and `Bona` have no short form, and `Campbell` goes down to `Cam…`).
pub fn label_texts(name: &str, count: Option<usize>) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(count) = count {
        texts.push(format!("{name} {count}"));
    }
    texts.push(name.to_owned());
    let span = Span::raw(name);
    let letters: Vec<&str> = span.styled_graphemes(Style::new()).map(|g| g.symbol).collect();
    for keep in (ABBREVIATION_MIN..letters.len().saturating_sub(1)).rev() {
        texts.push(format!("{}…", letters[..keep].concat()));
    }
    texts
}

/// The cells a label of `width` (brackets included) takes on `side` of the glyph at `(x, y)`
/// in an area of `size`: its row and `start..end`, if inside the area.
fn label_span(
    (x, y): (u16, u16),
    width: u16,
    place: Side,
    size: (u16, u16),
    selected: bool,
) -> Option<(u16, u16, u16)> {
    let bracket = u16::from(selected);
    let (row, start, end) = match place {
        // `[● text]`: the glyph, a space, the text.
        Side::Right => (y, x.checked_sub(bracket)?, x.checked_add(2 + width - bracket)?),
        // `[text ●]`.
        Side::Left => (y, x.checked_sub(1 + width - bracket)?, x + 1 + bracket),
        Side::Above | Side::Below => {
            let row = if place == Side::Above { y.checked_sub(1)? } else { y + 1 };
            if width > size.0 {
                return None;
            }
            let start = x.saturating_sub(width / 2).min(size.0 - width);
            (row, start, start + width)
        }
    };
    (row < size.1 && end <= size.0 && start < end).then_some((row, start, end))
}

/// Places a label next to each node's glyph so that no two labels overlap or touch, and none
/// covers or touches another node's glyph.
///
/// `glyphs` are the nodes' cells in an area of `size` (x right, y down, from 0); `texts` are
/// each node's candidate texts, the preferred first (as [`label_texts`] gives them). The
/// `selected` node goes first and is bracketed (`[● text]`); the others follow in order.
/// Each node takes its first text that fits on any side, trying the sides in [`SIDES`]
/// order, so a label is shortened only when it fits nowhere in full; a node none of whose
/// texts fits gets `None`, and shows its glyph alone. Glyphs are never covered, so every
/// node's glyph is always drawn.
pub fn place_labels(
    glyphs: &[(u16, u16)],
    texts: &[Vec<String>],
    selected: Option<usize>,
    size: (u16, u16),
) -> Vec<Option<Placed>> {
    let (width, height) = (usize::from(size.0), usize::from(size.1));
    let at = |x: u16, y: u16| {
        (x < size.0 && y < size.1).then(|| usize::from(y) * width + usize::from(x))
    };
    let mut claims = vec![Claim::Free; width * height];
    for (i, &(x, y)) in glyphs.iter().enumerate() {
        if let Some(k) = at(x, y)
            && claims[k] == Claim::Free
        {
            claims[k] = Claim::Glyph(i);
        }
    }
    let count = glyphs.len().min(texts.len());
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&i| Some(i) != selected);
    let mut placed = vec![None; count];
    for i in order {
        let glyph = glyphs[i];
        if at(glyph.0, glyph.1).is_none() {
            continue;
        }
        let is_selected = Some(i) == selected;
        let fits = |claims: &[Claim], (row, start, end): (u16, u16, u16)| {
            let inside = (start..end)
                .all(|x| at(x, row).is_some_and(|k| claims[k] == Claim::Free || (x, row) == glyph));
            let clear = |x: Option<u16>| {
                x.and_then(|x| at(x, row)).is_none_or(|k| match claims[k] {
                    Claim::Free => true,
                    Claim::Glyph(j) | Claim::Label(j) => j == i,
                })
            };
            inside && clear(start.checked_sub(1)) && clear(Some(end))
        };
        let found = texts[i].iter().enumerate().find_map(|(form, text)| {
            let text_width = u16::try_from(Span::raw(text.as_str()).width()).ok()?;
            let width = text_width.checked_add(2 * u16::from(is_selected))?;
            SIDES.iter().find_map(|&side| {
                let span = label_span(glyph, width, side, size, is_selected)?;
                let (row, start, end) = span;
                fits(&claims, span).then_some(Placed { form, side, row, start, end })
            })
        });
        if let Some(label) = found {
            for x in label.start..label.end {
                if let Some(k) = at(x, label.row)
                    && claims[k] == Claim::Free
                {
                    claims[k] = Claim::Label(i);
                }
            }
        }
        placed[i] = found;
    }
    placed
}

/// A node's glyph and its label, ready to draw, in buffer cells.
#[derive(Default)]
struct Label {
    glyph_at: (u16, u16),
    glyph: Span<'static>,
    /// The label's row, first cell and text (with the glyph in it on the right or left).
    text: Option<(u16, u16, Line<'static>)>,
    /// The cells `from..to` of that row kept clear of links: the label, and a blank beside it
    /// away from the glyph.
    row: u16,
    from: u16,
    to: u16,
}

impl Label {
    /// Labels for all nodes, in node order, at the glyph cells `cells` of `area`.
    fn place_all(nodes: &[NodeView], cells: &[(u16, u16)], area: Rect) -> Vec<Self> {
        let count = nodes.len().min(cells.len());
        let local: Vec<(u16, u16)> = cells[..count]
            .iter()
            .map(|&(x, y)| (x.saturating_sub(area.x), y.saturating_sub(area.y)))
            .collect();
        let texts: Vec<Vec<String>> =
            nodes[..count].iter().map(|n| label_texts(&n.name, shown_count(n))).collect();
        let selected = nodes[..count].iter().position(|n| n.selected);
        let placed = place_labels(&local, &texts, selected, (area.width, area.height));
        nodes[..count]
            .iter()
            .zip(cells)
            .zip(placed)
            .zip(&texts)
            .map(|(((node, &glyph_at), placed), texts)| {
                let (glyph_style, name_style) = node_styles(node);
                let glyph = Span::styled(node_glyph(node.state, node.flash), glyph_style);
                let Some(placed) = placed else {
                    return Self { glyph_at, glyph, text: None, row: glyph_at.1, from: 0, to: 0 };
                };
                let text = &texts[placed.form];
                let mut spans = Vec::new();
                let open = node.selected.then(|| Span::styled("[", name_style));
                let close = node.selected.then(|| Span::styled("]", name_style));
                let words = label_spans(node, text, placed.form, name_style);
                match placed.side {
                    Side::Right => {
                        spans.extend(open);
                        spans.extend([glyph.clone(), Span::styled(" ", name_style)]);
                        spans.extend(words);
                        spans.extend(close);
                    }
                    Side::Left => {
                        spans.extend(open);
                        spans.extend(words);
                        spans.extend([Span::styled(" ", name_style), glyph.clone()]);
                        spans.extend(close);
                    }
                    Side::Above | Side::Below => {
                        spans.extend(open);
                        spans.extend(words);
                        spans.extend(close);
                    }
                }
                let row = area.y + placed.row;
                let (start, end) = (area.x + placed.start, area.x + placed.end);
                // A blank away from the glyph (both ends above or below), where the area has it.
                let before = matches!(placed.side, Side::Left | Side::Above | Side::Below);
                let after = matches!(placed.side, Side::Right | Side::Above | Side::Below);
                let from = if before && start > area.x { start - 1 } else { start };
                let to = if after && end < area.right() { end + 1 } else { end };
                Self { glyph_at, glyph, text: Some((row, start, Line::from(spans))), row, from, to }
            })
            .collect()
    }

    fn draw(&self, buf: &mut Buffer) {
        put(buf, self.glyph_at.0, self.glyph_at.1, &self.glyph.content, self.glyph.style);
        if let Some((y, x, line)) = &self.text {
            buf.set_line(*x, *y, line, line.width() as u16);
        }
    }

    /// Whether the glyph or the label (with its blank) takes cell `(x, y)`.
    fn covers(&self, (x, y): (u16, u16)) -> bool {
        (x, y) == self.glyph_at || (y == self.row && x >= self.from && x < self.to)
    }

    /// Every cell [`Self::covers`].
    fn cells(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        std::iter::once(self.glyph_at).chain((self.from..self.to).map(|x| (x, self.row)))
    }
}

/// The client count a node's label shows: only when it has clients and is not killed.
fn shown_count(node: &NodeView) -> Option<usize> {
    (node.clients > 0 && node.state != NodeState::Killed).then_some(node.clients)
}

/// The styled words of a label showing `text`, its `form`th: the name in `name_style` and, in
/// the full form, the client count in gray.
fn label_spans(node: &NodeView, text: &str, form: usize, name_style: Style) -> Vec<Span<'static>> {
    match shown_count(node) {
        Some(count) if form == 0 => {
            let count = format!(" {count}");
            let name = text.strip_suffix(count.as_str()).unwrap_or(text);
            let style = Style::new().fg(Color::Gray);
            let style = if node.selected {
                style.add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                style
            };
            vec![Span::styled(name.to_owned(), name_style), Span::styled(count, style)]
        }
        _ => vec![Span::styled(text.to_owned(), name_style)],
    }
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
    fn a_click_hits_the_server_or_link_drawn_there_or_next_to_it() {
        let nodes = vec![node("A", (0.0, 0.0)), node("B", (1.0, 0.0)), node("C", (0.5, 1.0))];
        let edges = [edge(0, 1, EdgeState::Up), edge(1, 2, EdgeState::Cut)];
        let view =
            GraphView { nodes: &nodes, edges: &edges, tokens: &[], block: Some(Block::bordered()) };
        let area = Rect::new(3, 2, 41, 12);
        let mut buf = Buffer::empty(Rect::new(0, 0, 50, 16));
        view.render_ref(area, &mut buf);
        let screen = text(&buf);
        let glyphs = find(&buf, "●");
        assert_eq!(glyphs.len(), 3, "{screen}");
        // Every glyph, and every letter of every name, is its server.
        for (i, name) in ["A", "B", "C"].into_iter().enumerate() {
            let (x, y) = find_text(&buf, &format!("● {name}")).expect(name);
            assert_eq!(view.hit(area, (x, y)), Some(Hit::Node(i)), "{name}\n{screen}");
            assert_eq!(view.hit(area, (x + 2, y)), Some(Hit::Node(i)), "{name}");
            // A row below the glyph is near enough, unless a link is drawn nearer: under B,
            // B–C's first dot is a column away.
            let below = if name == "B" { Hit::Link(1) } else { Hit::Node(i) };
            assert_eq!(view.hit(area, (x, y + 1)), Some(below), "{name}\n{screen}");
        }
        // Along A–B (level, on A's row): every braille cell of it, and the row under it.
        let (a, b) = (find_text(&buf, "● A").unwrap(), find_text(&buf, "● B").unwrap());
        let line: Vec<u16> =
            (a.0 + 4..b.0 - 1).filter(|&x| is_braille(buf[(x, a.1)].symbol())).collect();
        assert!(line.len() > 10, "{screen}");
        for &x in &line[1..line.len() - 1] {
            assert_eq!(view.hit(area, (x, a.1)), Some(Hit::Link(0)), "({x}, {})\n{screen}", a.1);
            assert_eq!(view.hit(area, (x, a.1 + 1)), Some(Hit::Link(0)), "below ({x})");
        }
        // B–C's cut mark, and the braille cells of its line.
        let (mx, my) = find(&buf, "╳")[0];
        assert_eq!(view.hit(area, (mx, my)), Some(Hit::Link(1)), "{screen}");
        let c = find_text(&buf, "● C").unwrap();
        let drawn: Vec<(u16, u16)> = (b.1 + 1..c.1)
            .flat_map(|y| (area.x..area.right()).map(move |x| (x, y)))
            .filter(|&(x, y)| is_braille(buf[(x, y)].symbol()) && x > c.0)
            .collect();
        assert!(!drawn.is_empty(), "{screen}");
        for cell in drawn {
            assert_eq!(view.hit(area, cell), Some(Hit::Link(1)), "{cell:?}\n{screen}");
        }
        // Far from everything: nothing; outside the pane: nothing.
        assert_eq!(view.hit(area, (a.0, a.1 + 6)), None, "{screen}");
        assert_eq!(view.hit(area, (0, 0)), None);
        assert_eq!(view.hit(area, (area.right(), a.1)), None);
        // No nodes, or no room: nothing, and no panic.
        assert_eq!(GraphView::default().hit(area, (10, 5)), None);
        assert_eq!(view.hit(Rect::new(3, 2, 2, 2), (3, 2)), None);
    }

    #[test]
    fn a_selected_server_is_hit_on_its_brackets() {
        let mut nodes = vec![node("Left", (0.0, 0.5)), node("Right", (1.0, 0.5))];
        nodes[1].selected = true;
        nodes[1].clients = 2;
        let edges = [edge(0, 1, EdgeState::Up)];
        let view = GraphView { nodes: &nodes, edges: &edges, tokens: &[], block: None };
        let area = Rect::new(0, 0, 40, 3);
        let buf = render(&view, 40, 3);
        let (x, y) = find_text(&buf, "[● Right 2]").unwrap_or_else(|| panic!("{}", text(&buf)));
        for dx in 0..11 {
            assert_eq!(view.hit(area, (x + dx, y)), Some(Hit::Node(1)), "{dx}");
        }
        // The cell left of the bracket is on the link's line, and the link's.
        assert!(is_braille(buf[(x - 2, y)].symbol()), "{}", text(&buf));
        assert_eq!(view.hit(area, (x - 2, y)), Some(Hit::Link(0)));
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
        // The long name fits nowhere whole: shortened to the widest room (the row above its
        // glyph), its glyph kept.
        assert!(screen.contains("│AVeryLongServerNameIn…│"), "{screen}");
        assert_eq!(find(&buf, "●").len(), 3, "{screen}");
        // The selected one, pushed to the left by the border.
        assert!(screen.contains("│[Bottom 12345 ●]"), "{screen}");

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
    /// Checks `placed` against the rules of [`place_labels`]; returns how many were placed.
    fn check_placement(
        what: &str,
        glyphs: &[(u16, u16)],
        texts: &[Vec<String>],
        selected: Option<usize>,
        size: (u16, u16),
        placed: &[Option<Placed>],
    ) -> usize {
        assert_eq!(placed.len(), glyphs.len(), "{what}");
        let spans: Vec<(usize, Placed)> =
            placed.iter().enumerate().filter_map(|(i, p)| Some((i, (*p)?))).collect();
        for &(i, p) in &spans {
            assert!(p.start < p.end && p.end <= size.0 && p.row < size.1, "{what}: {p:?}");
            let width = Span::raw(texts[i][p.form].as_str()).width() as u16
                + 2 * u16::from(selected == Some(i))
                + if matches!(p.side, Side::Right | Side::Left) { 2 } else { 0 };
            assert_eq!(p.end - p.start, width, "{what}: {i} {p:?}");
            let (gx, gy) = glyphs[i];
            match p.side {
                Side::Right | Side::Left => {
                    assert!(p.row == gy && (p.start..p.end).contains(&gx), "{what}: {p:?}");
                }
                Side::Above => assert_eq!(p.row + 1, gy, "{what}"),
                Side::Below => assert_eq!(p.row, gy + 1, "{what}"),
            }
            // No other glyph under it or right beside it.
            for (j, &(x, y)) in glyphs.iter().enumerate() {
                if j != i && y == p.row {
                    assert!(
                        x + 1 < p.start || x > p.end,
                        "{what}: label of {i} {p:?} on or by the glyph of {j} at {x}"
                    );
                }
            }
            // No other label over it or right beside it.
            for &(j, q) in &spans {
                if j != i && q.row == p.row {
                    assert!(
                        q.end < p.start || p.end < q.start,
                        "{what}: labels of {i} {p:?} and {j} {q:?} touch"
                    );
                }
            }
        }
        spans.len()
    }

    type Scene = (Vec<NodeView>, Vec<(u16, u16)>, Vec<Vec<String>>);

    /// The nodes, glyph cells and label texts of `spec` mapped into `width × height`.
    fn scene(spec: &str, width: u16, height: u16) -> Scene {
        let (_, nodes, _) = herd(spec);
        let frame = Frame::new(Rect::new(0, 0, width, height), &nodes);
        let texts = nodes.iter().map(|n| label_texts(&n.name, None)).collect();
        (nodes, frame.cells, texts)
    }

    #[test]
    fn labels_never_overlap_and_the_selected_one_is_always_shown() {
        // Topology panes at 80×24, 120×36 and 200×60, and some smaller ones.
        let sizes = [(78, 18), (74, 15), (124, 27), (40, 12), (30, 10)];
        for spec in ["tree:30", "ring:30", "grid:5x6", "full:12", "cs131", "star:12"] {
            for (width, height) in sizes {
                let (nodes, glyphs, texts) = scene(spec, width, height);
                for selected in [None, Some(0), Some(nodes.len() / 2), Some(nodes.len() - 1)] {
                    let what = format!("{spec} at {width}×{height}, {selected:?} selected");
                    let placed = place_labels(&glyphs, &texts, selected, (width, height));
                    let shown =
                        check_placement(&what, &glyphs, &texts, selected, (width, height), &placed);
                    if let Some(s) = selected {
                        let label = placed[s].unwrap_or_else(|| panic!("{what}: not shown"));
                        assert_eq!(label.form, 0, "{what}: {label:?}");
                    }
                    // Roomy panes show every name whole.
                    if width >= 74 {
                        assert_eq!(shown, nodes.len(), "{what}: {placed:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_glyph_is_drawn_and_labels_hold_no_glyph() {
        for spec in ["tree:30", "ring:30", "grid:5x6", "full:12", "cs131"] {
            for (width, height) in [(78, 18), (74, 15), (40, 12)] {
                let (_, mut nodes, edges) = herd(spec);
                nodes[1].selected = true;
                nodes[1].clients = 3;
                let view = GraphView { nodes: &nodes, edges: &edges, tokens: &[], block: None };
                let buf = render(&view, width, height);
                let cells = Frame::new(Rect::new(0, 0, width, height), &nodes).cells;
                for (node, &(x, y)) in nodes.iter().zip(&cells) {
                    assert_eq!(buf[(x, y)].symbol(), "●", "{spec} {}:\n{}", node.name, text(&buf));
                }
                assert_eq!(find(&buf, "●").len(), nodes.len(), "{spec}:\n{}", text(&buf));
                let screen = text(&buf);
                assert!(screen.contains(&format!("{} 3", nodes[1].name)), "{spec}:\n{screen}");
            }
        }
    }

    #[test]
    fn crowded_labels_go_round_their_glyph() {
        // Three in a row, two cells apart: no room on the right of the first two.
        let glyphs = [(4, 2), (7, 2), (10, 2)];
        let texts: Vec<Vec<String>> =
            ["A1", "B2", "C3"].iter().map(|n| label_texts(n, None)).collect();
        let placed = place_labels(&glyphs, &texts, Some(1), (20, 5));
        check_placement("row", &glyphs, &texts, Some(1), (20, 5), &placed);
        let sides: Vec<Option<Side>> = placed.iter().map(|p| p.map(|p| p.side)).collect();
        // The selected one first: no room beside it, so above as `[B2]`; then A on the left,
        // C on the right.
        assert_eq!(sides, [Some(Side::Left), Some(Side::Above), Some(Side::Right)]);

        // Long names that fit nowhere whole are shortened, then left off.
        let glyphs = [(1, 0), (9, 0), (17, 0)];
        let texts: Vec<Vec<String>> =
            ["Campbell", "Jaquez", "Bona"].iter().map(|n| label_texts(n, Some(2))).collect();
        let placed = place_labels(&glyphs, &texts, None, (20, 1));
        check_placement("one row", &glyphs, &texts, None, (20, 1), &placed);
        let shown: Vec<Option<&str>> =
            placed.iter().zip(&texts).map(|(p, texts)| p.map(|p| texts[p.form].as_str())).collect();
        assert_eq!(shown, [Some("Camp…"), Some("Jaqu…"), None]);
    }

    #[test]
    fn names_are_shortened_to_three_letters_at_least() {
        assert_eq!(label_texts("S12", None), ["S12"]);
        assert_eq!(label_texts("Bona", Some(2)), ["Bona 2", "Bona"]);
        assert_eq!(label_texts("Clark", None), ["Clark", "Cla…"]);
        assert_eq!(
            label_texts("Campbell", None),
            ["Campbell", "Campbe…", "Campb…", "Camp…", "Cam…"]
        );
        // By letters, not bytes.
        assert_eq!(label_texts("Zürich1", None).last().map(String::as_str), Some("Zür…"));
    }

    /// Where `text` is drawn, cell by cell, in `buf`.
    fn find_text(buf: &Buffer, text: &str) -> Option<(u16, u16)> {
        let chars: Vec<String> = text.chars().map(String::from).collect();
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

    /// The pane drawing `mark`: two servers on one row and the link between, with `mark` on
    /// the first server, the link or an update on it.
    fn drawing_of(mark: Mark) -> Buffer {
        let mut nodes = vec![node("A", (0.0, 0.5)), node("B", (1.0, 0.5))];
        let mut link = edge(0, 1, EdgeState::Up);
        let mut tokens = Vec::new();
        let fault = EdgeFaults::default();
        let colour = look(mark).style.fg.unwrap_or(Color::Cyan);
        match mark {
            Mark::Up | Mark::Link => {}
            Mark::Stored => nodes[0].flash = Some(Flash::Stored),
            Mark::Suppressed => nodes[0].flash = Some(Flash::Suppressed),
            Mark::Hung => nodes[0].state = NodeState::Hung,
            Mark::Killed => nodes[0].state = NodeState::Killed,
            Mark::Unseen => nodes[0].state = NodeState::Unseen,
            Mark::Reconnecting => link.state = EdgeState::Reconnecting,
            Mark::Stalled => link.state = EdgeState::Stalled,
            Mark::Cut => link.state = EdgeState::Cut,
            Mark::Idle => link.state = EdgeState::Idle,
            Mark::CutOneWay => link.a_to_b = EdgeFaults { cut: true, ..fault },
            Mark::Loss => {
                let loss = EdgeFaults { loss: true, ..fault };
                (link.a_to_b, link.b_to_a) = (loss, loss);
            }
            Mark::Delay => {
                let delay = EdgeFaults { delay: true, ..fault };
                (link.a_to_b, link.b_to_a) = (delay, delay);
            }
            Mark::Dup => {
                let dup = EdgeFaults { dup: true, ..fault };
                (link.a_to_b, link.b_to_a) = (dup, dup);
            }
            Mark::OneWay => link.a_to_b = EdgeFaults { loss: true, ..fault },
            Mark::SelectedLink => link.selected = true,
            Mark::Flood => {
                tokens.push(TokenView { colour, ..token(0, 1, 0.3, TokenState::Moving) });
            }
            Mark::Held => {
                tokens.push(TokenView { colour, ..token(0, 1, 0.0, TokenState::Held) });
            }
            Mark::Dropped => tokens.push(token(0, 1, 0.3, TokenState::Dropped)),
        }
        let view = GraphView { nodes: &nodes, edges: &[link], tokens: &tokens, block: None };
        render(&view, 60, 3)
    }

    #[test]
    fn the_legend_shows_what_the_pane_draws() {
        let legend = legend();
        assert_eq!(legend.len(), 2 * LOOKS.len());
        // As the README shows them.
        let samples: Vec<String> = [Mark::Link, Mark::Reconnecting, Mark::Stalled, Mark::Cut]
            .into_iter()
            .chain([Mark::Idle])
            .map(|mark| look(mark).sample())
            .collect();
        assert_eq!(samples, ["⠤⠤", "⠠⠠?", "⠄⠤⠠⠄≈", "⠤  ⠠⠤╳", "⠠ ⠠"]);
        for (look, pair) in LOOKS.iter().zip(legend.chunks(2)) {
            let (sample, name) = (&pair[0], &pair[1]);
            assert_eq!(sample.content, look.sample());
            assert_eq!(sample.style, look.style);
            assert_eq!(name.content.trim(), look.name);
            let buf = drawing_of(look.mark);
            let screen = text(&buf);
            if look.dash.is_some() {
                // The legend's stretch of line is on the link's row, in the link's colour.
                let line = sample.content.strip_suffix(look.glyph).unwrap_or_default();
                assert!(line.chars().any(|c| c != ' ') && !line.contains('─'), "{look:?}");
                let (x, y) = find_text(&buf, line)
                    .unwrap_or_else(|| panic!("{:?}: no {line:?} in\n{screen}", look.mark));
                assert_eq!(buf[(x, y)].fg, look.style.fg.unwrap_or_default(), "{look:?}");
            }
            if !look.glyph.is_empty() {
                let (x, y) = find_text(&buf, look.glyph)
                    .unwrap_or_else(|| panic!("{:?}: no {} in\n{screen}", look.mark, look.glyph));
                let cell = &buf[(x, y)];
                assert_eq!(cell.fg, look.style.fg.unwrap_or_default(), "{look:?}\n{screen}");
                if look.dash.is_none() {
                    assert!(cell.modifier.contains(look.style.add_modifier), "{look:?}");
                }
            }
        }
    }
}
