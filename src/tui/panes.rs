//! The dashboard's panes and how the screen is shared among them at every size: all four at
//! 100×30 and up; below that (or zoomed) a tab strip and the focused pane; the presenter
//! layouts (the topology large, with the traffic or the metrics under it) for a projector.
//! One pure function places everything, for drawing and for finding what a click hit.

use ratatui::layout::{Constraint, Layout, Rect};

/// Smallest size that shows every pane at once.
pub const FULL_WIDTH: u16 = 100;
pub const FULL_HEIGHT: u16 = 30;

/// A pane of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Graph,
    Clients,
    Traffic,
    Map,
}

impl Pane {
    /// In the order of their keys, `1` to `4`.
    pub const ALL: [Pane; 4] = [Pane::Graph, Pane::Clients, Pane::Traffic, Pane::Map];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Graph => "Topology",
            Pane::Clients => "Clients",
            Pane::Traffic => "Traffic",
            Pane::Map => "World",
        }
    }

    /// Its key.
    pub fn key(self) -> char {
        match self {
            Pane::Graph => '1',
            Pane::Clients => '2',
            Pane::Traffic => '3',
            Pane::Map => '4',
        }
    }

    /// Does it list rows that scroll?
    pub fn is_list(self) -> bool {
        matches!(self, Pane::Clients | Pane::Traffic)
    }
}

/// How the body is shared (`v` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrangement {
    /// Every pane (at 100×30 and up; else the focused one with a tab strip).
    #[default]
    All,
    /// The topology large, the traffic under it.
    PresentTraffic,
    /// The topology large, the metrics under it.
    PresentMetrics,
}

impl Arrangement {
    #[must_use]
    pub fn next(self) -> Self {
        match self {
            Arrangement::All => Arrangement::PresentTraffic,
            Arrangement::PresentTraffic => Arrangement::PresentMetrics,
            Arrangement::PresentMetrics => Arrangement::All,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arrangement::All => "all panes",
            Arrangement::PresentTraffic => "presenter: topology and traffic",
            Arrangement::PresentMetrics => "presenter: topology and metrics",
        }
    }
}

/// What decides the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub focus: Pane,
    pub zoom: bool,
    pub arrangement: Arrangement,
    /// Servers in the herd (big herds get more of the width for their graph).
    pub servers: usize,
    /// Clients listed (the clients pane is no taller than its rows need).
    pub clients: usize,
    /// Rows of the caption band, the replay's or lesson's row, and the command line.
    pub caption: u16,
    pub timeline: bool,
    pub command: u16,
}

/// Where everything goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub header: Rect,
    /// The tab strip, when not every pane shows (below full size, zoomed, presenting).
    pub tabs: Option<Rect>,
    /// The panes shown, each with its area.
    pub panes: Vec<(Pane, Rect)>,
    /// The presenter's metrics.
    pub metrics: Option<Rect>,
    /// The whole body (overlays draw over it).
    pub body: Rect,
    pub caption: Rect,
    pub timeline: Rect,
    pub command: Rect,
    pub footer: Rect,
}

impl Screen {
    /// The pane at a cell, if any.
    pub fn pane_at(&self, x: u16, y: u16) -> Option<(Pane, Rect)> {
        let hit = |r: &Rect| x >= r.x && x < r.right() && y >= r.y && y < r.bottom();
        self.panes.iter().copied().find(|(_, rect)| hit(rect))
    }

    /// The tab at a cell of the strip, if any (tabs as [`tab_spans`] lays them out).
    pub fn tab_at(&self, x: u16, y: u16) -> Option<Pane> {
        let strip = self.tabs?;
        if y != strip.y || x < strip.x {
            return None;
        }
        let mut left = strip.x;
        for pane in Pane::ALL {
            let width = tab_label(pane).chars().count() as u16;
            if x < left + width {
                return Some(pane);
            }
            left += width;
        }
        None
    }
}

/// A tab's text in the strip: ` 2 Clients `.
pub fn tab_label(pane: Pane) -> String {
    format!(" {} {} ", pane.key(), pane.title())
}

/// Places the header, body, caption, timeline, command line and footer in `area`, and the
/// panes in the body.
pub fn split(area: Rect, shape: Shape) -> Screen {
    let [header, body, caption, timeline, command, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(shape.caption),
        Constraint::Length(u16::from(shape.timeline)),
        Constraint::Length(shape.command),
        Constraint::Length(1),
    ])
    .areas(area);
    let full = area.width >= FULL_WIDTH && area.height >= FULL_HEIGHT;
    let (tabs, panes, metrics) = match shape.arrangement {
        _ if shape.zoom => single(body, shape.focus),
        Arrangement::All if full => (None, all(body, shape.servers, shape.clients), None),
        Arrangement::All => single(body, shape.focus),
        Arrangement::PresentTraffic => {
            let (tabs, [graph, traffic]) = present(body);
            (Some(tabs), vec![(Pane::Graph, graph), (Pane::Traffic, traffic)], None)
        }
        Arrangement::PresentMetrics => {
            let (tabs, [graph, metrics]) = present(body);
            (Some(tabs), vec![(Pane::Graph, graph)], Some(metrics))
        }
    };
    Screen { header, tabs, panes, metrics, body, caption, timeline, command, footer }
}

/// The tab strip and the one pane under it.
fn single(body: Rect, focus: Pane) -> (Option<Rect>, Vec<(Pane, Rect)>, Option<Rect>) {
    let [tabs, pane] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(body);
    (Some(tabs), vec![(focus, pane)], None)
}

/// Every pane: the graph and the map side by side, the clients (as tall as their rows need,
/// up to a quarter of the body), then the traffic.
fn all(body: Rect, servers: usize, clients: usize) -> Vec<(Pane, Rect)> {
    let most = (body.height / 4).max(5);
    let clients = u16::try_from(clients.saturating_add(3)).unwrap_or(u16::MAX).clamp(5, most);
    let [top, clients, traffic] = Layout::vertical([
        Constraint::Percentage(50),
        Constraint::Length(clients),
        Constraint::Fill(1),
    ])
    .areas(body);
    let graph_share = if servers > 12 { 64 } else { 50 };
    let [graph, map] =
        Layout::horizontal([Constraint::Percentage(graph_share), Constraint::Fill(1)]).areas(top);
    vec![(Pane::Graph, graph), (Pane::Map, map), (Pane::Clients, clients), (Pane::Traffic, traffic)]
}

/// The presenter's split: the tab strip (naming the panes left out), the topology large and
/// the other pane under it.
fn present(body: Rect) -> (Rect, [Rect; 2]) {
    let [tabs, rest] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(body);
    (tabs, Layout::vertical([Constraint::Percentage(62), Constraint::Fill(1)]).areas(rest))
}

/// Where the list panes are scrolled to, and what they are filtered by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lists {
    /// Client rows skipped from the top (newest first).
    pub clients_scroll: usize,
    /// Traffic lines skipped back from the newest shown.
    pub traffic_scroll: usize,
    /// The traffic pane stopped following at this line (its id): newer lines wait below.
    pub frozen: Option<u64>,
    /// Shows only clients whose id holds this.
    pub clients_find: String,
    /// Shows only traffic lines whose text holds this.
    pub traffic_find: String,
}

impl Lists {
    /// The filter of `pane` (empty: none).
    pub fn find(&self, pane: Pane) -> &str {
        match pane {
            Pane::Clients => &self.clients_find,
            Pane::Traffic => &self.traffic_find,
            Pane::Graph | Pane::Map => "",
        }
    }

    /// Sets the filter of `pane`, back at the top of the list.
    pub fn set_find(&mut self, pane: Pane, text: String) {
        match pane {
            Pane::Clients => {
                self.clients_find = text;
                self.clients_scroll = 0;
            }
            Pane::Traffic => {
                self.traffic_find = text;
                self.traffic_scroll = 0;
            }
            Pane::Graph | Pane::Map => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(arrangement: Arrangement, zoom: bool) -> Shape {
        Shape {
            focus: Pane::Traffic,
            zoom,
            arrangement,
            servers: 5,
            clients: 0,
            caption: 0,
            timeline: false,
            command: 1,
        }
    }

    #[test]
    fn every_pane_is_shown_or_has_a_tab_at_every_size() {
        for (w, h) in [(80, 24), (99, 30), (140, 26), (200, 29), (100, 30), (200, 60)] {
            let area = Rect::new(0, 0, w, h);
            let screen = split(area, shape(Arrangement::All, false));
            let shown: Vec<Pane> = screen.panes.iter().map(|(p, _)| *p).collect();
            if w >= FULL_WIDTH && h >= FULL_HEIGHT {
                assert_eq!(shown.len(), 4, "{w}×{h}");
                assert!(screen.tabs.is_none());
            } else {
                assert_eq!(shown, [Pane::Traffic], "{w}×{h}: the focused pane");
                let tabs = screen.tabs.unwrap();
                assert!(tabs.width >= 60, "{w}×{h}: the strip has room for every tab");
            }
            for (_, rect) in &screen.panes {
                assert!(rect.height >= 3 && rect.width >= 20, "{w}×{h}: {rect:?}");
            }
        }
    }

    #[test]
    fn zoom_and_presenter_layouts() {
        let area = Rect::new(0, 0, 120, 36);
        let zoomed = split(area, shape(Arrangement::All, true));
        assert_eq!(zoomed.panes.len(), 1);
        assert_eq!(zoomed.panes[0].1.height, zoomed.body.height - 1);
        let present = split(area, shape(Arrangement::PresentMetrics, false));
        assert_eq!(present.panes[0].0, Pane::Graph);
        assert!(present.panes[0].1.height > present.metrics.unwrap().height);
    }

    #[test]
    fn clicks_find_their_pane_and_tab() {
        let screen = split(Rect::new(0, 0, 80, 24), shape(Arrangement::All, false));
        let tabs = screen.tabs.unwrap();
        assert_eq!(screen.tab_at(1, tabs.y), Some(Pane::Graph));
        let second = tab_label(Pane::Graph).chars().count() as u16;
        assert_eq!(screen.tab_at(second, tabs.y), Some(Pane::Clients));
        let (pane, _) = screen.pane_at(40, 10).unwrap();
        assert_eq!(pane, Pane::Traffic);
        assert_eq!(screen.pane_at(0, 0), None, "the header is no pane");
    }
}
