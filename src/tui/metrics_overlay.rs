//! The Metrics overlay (`M`): what each update cost and how fast it converged, drawn from
//! [`App::metrics`] every frame (the fold takes in every engine event in [`App::apply`], so
//! the overlay is live without asking the herd anything).
//!
//! ```text
//! ╭ Metrics · updates 1–11 of 40, newest first · ↑↓ scroll · esc closes ───────────────╮
//! │ 40 updates: 38 converged, 2 not · p50 1.35ms p95 2.10ms max 12.50ms                │
//! │ 8.0 msgs/update · 2 duplicates · 1 drop                                            │
//! │                                                                                    │
//! │ convergence · max 12.50ms · 2 not converged  messages per update · max 12          │
//! │ ▂▃▅ ▇█▃▂▂▃                                   ▃▃▃▃▅▅▅▃▃▃█                           │
//! │                                                                                    │
//! │ client           origin   cover  msgs dups drops hop   rmr convergence             │
//! │ kiwi.cs.ucla.edu Bailey     5/5     6    1     0   2  0.50 1.35ms                  │
//! │ plum             Clark      3/5     4    0     1   1  1.00 not converged           │
//! │                    ↳ stranded: Bona, Jaquez                                        │
//! ╰────────────────────────────────────────────────────────────────────────────────────╯
//! ```
//!
//! One bar per update in the sparklines, the last ones that fit, oldest on the left; an
//! update not converged is an empty bar in the convergence line, and counted in its title.
//! The table scrolls by update (↑↓, PgUp/PgDn); the stranded servers of an update not
//! converged go on its row when they fit, else on a line of their own under it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Sparkline, SparklineBar};

use super::app::App;
use super::view::{ACCENT, DIM, WARN, centered, ellipsize, pane};
use crate::lab::metrics::{Summary, UpdateMetrics};

/// The widest the overlay gets.
const MAX_WIDTH: u16 = 116;
/// Widths of the table's numeric columns: coverage, messages, duplicates, drops, last hop,
/// RMR.
const COVER: usize = 5;
const MSGS: usize = 5;
const DUPS: usize = 4;
const DROPS: usize = 5;
const HOP: usize = 3;
const RMR: usize = 5;
/// The narrowest the convergence column gets (`not converged`).
const CONVERGENCE: usize = 13;

const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const GOOD: Style = Style::new().fg(Color::Green);
const BAD: Style = Style::new().fg(Color::LightRed);

/// Draws the overlay over `area`, the table scrolled down by `scroll` updates.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, scroll: u16) {
    draw_in(frame, app, area, Some(scroll));
}

/// The same figures as a pane of the presenter layout: the whole of `area`, the newest updates
/// (no scrolling), the sparklines only where there is room for the table too.
pub fn draw_pane(frame: &mut Frame, app: &App, area: Rect) {
    draw_in(frame, app, area, None);
}

/// Draws the metrics over `area`: as the scrollable overlay (`scroll`), or as a pane (`None`).
fn draw_in(frame: &mut Frame, app: &App, area: Rect, scroll: Option<u16>) {
    let overlay = scroll.is_some();
    let close = if overlay { " · esc closes" } else { "" };
    let Some(metrics) = &app.metrics else {
        note(frame, area, "no metrics: this view does not take in the herd's events", close);
        return;
    };
    let summary = metrics.summary();
    if summary.updates == 0 {
        note(frame, area, "no updates yet: :iamat (or i on a server) reports one", close);
        return;
    }
    let updates: Vec<&UpdateMetrics> = metrics.updates().collect();
    let width = if overlay { area.width.saturating_sub(4).min(MAX_WIDTH) } else { area.width };
    let most = if overlay { area.height.saturating_sub(2) } else { area.height };
    let inner_width = usize::from(width.saturating_sub(2));
    let head = flow(summary_segments(&summary, app.lagged), inner_width);
    let table = Table::new(app, &updates, inner_width);
    let spark_rows = match most {
        30.. => 5,
        14.. => 3,
        _ if overlay => 3,
        // A small pane keeps its rows for the table.
        _ => 0,
    };
    let sparks = if spark_rows == 0 { 0 } else { spark_rows + 2 };
    // No taller than its lines: the summary, the sparklines and the table, with a blank
    // line between each and a border around.
    let wanted = head.len() + 1 + usize::from(sparks) + 1 + table.lines_needed() + 2;
    let popup = if overlay {
        centered(area, width, u16::try_from(wanted).unwrap_or(u16::MAX).min(most))
    } else {
        area
    };
    let inner = Rect {
        x: popup.x.saturating_add(1),
        y: popup.y.saturating_add(1),
        width: popup.width.saturating_sub(2),
        height: popup.height.saturating_sub(2),
    };
    let [head_area, _, sparks_area, table_area] = Layout::vertical([
        Constraint::Length(u16::try_from(head.len()).unwrap_or(u16::MAX)),
        Constraint::Length(1),
        Constraint::Length(sparks),
        Constraint::Fill(1),
    ])
    .areas(inner);
    let rows = usize::from(table_area.height.saturating_sub(1));
    let skip = usize::from(scroll.unwrap_or(0)).min(table.max_skip(rows));
    let (lines, shown) = table.lines(skip, rows);
    let total = updates.len();
    let title = if shown < total {
        let scroll = if overlay { " · ↑↓ scroll" } else { "" };
        format!(
            " Metrics · updates {}–{} of {total}, newest first{scroll}{close} ",
            skip + 1,
            skip + shown
        )
    } else {
        let noun = if total == 1 { "update" } else { "updates" };
        format!(" Metrics · {total} {noun}, newest first{close} ")
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(pane(title).border_style(Style::new().fg(ACCENT)), popup);
    frame.render_widget(Paragraph::new(head), head_area);
    if spark_rows > 0 {
        let [sparks_area, _] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(sparks_area);
        draw_sparklines(frame, &updates, sparks_area);
    }
    frame.render_widget(Paragraph::new(lines), table_area);
}

/// A small overlay saying one thing.
fn note(frame: &mut Frame, area: Rect, text: &str, close: &str) {
    let width = u16::try_from(text.chars().count() + 4).unwrap_or(u16::MAX);
    let popup = centered(area, width.min(area.width.saturating_sub(2)), 3);
    let block = pane(format!(" Metrics{close} ")).border_style(Style::new().fg(ACCENT));
    let inner = usize::from(popup.width.saturating_sub(2));
    let line = Line::styled(format!(" {}", ellipsize(text, inner.saturating_sub(1))), DIM);
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(line).block(block), popup);
}

/// A time for the eye: `850µs`, `1.35ms`, `2.10s`.
pub fn fmt_ns(ns: u64) -> String {
    let ns = ns as f64;
    if ns < 1e6 {
        format!("{:.0}µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2}ms", ns / 1e6)
    } else {
        format!("{:.2}s", ns / 1e9)
    }
}

/// `n` and its noun, made plural unless `n` is one.
fn count(n: impl Into<u64>, noun: &str) -> [Span<'static>; 2] {
    let n = n.into();
    let noun = if n == 1 { format!(" {noun}") } else { format!(" {noun}s") };
    [Span::styled(n.to_string(), BOLD), Span::styled(noun, DIM)]
}

/// The run's summary as segments, most important first.
fn summary_segments(summary: &Summary, lagged: u64) -> Vec<Vec<Span<'static>>> {
    let mut segments = Vec::new();
    let mut updates = count(summary.updates as u64, "update").to_vec();
    updates.push(Span::styled(": ", DIM));
    match (summary.converged, summary.unconverged) {
        (_, 0) => updates.push(Span::styled("all converged", GOOD)),
        (0, _) => updates.push(Span::styled("none converged", WARN)),
        (converged, unconverged) => updates.extend([
            Span::styled(converged.to_string(), GOOD.add_modifier(Modifier::BOLD)),
            Span::styled(" converged, ", DIM),
            Span::styled(unconverged.to_string(), WARN),
            Span::styled(" not", DIM),
        ]),
    }
    segments.push(updates);
    let quantiles = [
        ("p50 ", summary.convergence_p50_ns),
        (" p95 ", summary.convergence_p95_ns),
        (" max ", summary.convergence_max_ns),
    ];
    if quantiles.iter().all(|(_, ns)| ns.is_some()) {
        segments.push(
            quantiles
                .into_iter()
                .flat_map(|(name, ns)| {
                    [Span::styled(name, DIM), Span::styled(fmt_ns(ns.unwrap_or(0)), BOLD)]
                })
                .collect(),
        );
    }
    if let Some(mean) = summary.msgs_per_update {
        segments.push(vec![
            Span::styled(format!("{mean:.1}"), BOLD),
            Span::styled(" msgs/update", DIM),
        ]);
    }
    segments.push(count(summary.duplicates, "duplicate").to_vec());
    let [number, noun] = count(summary.drops, "drop");
    let number = if summary.drops > 0 { number.patch_style(BAD) } else { number };
    segments.push(vec![number, noun]);
    if summary.forgotten > 0 {
        segments.push(vec![
            Span::styled(summary.forgotten.to_string(), WARN),
            Span::styled(" forgotten (oldest)", DIM),
        ]);
    }
    if lagged > 0 {
        segments.push(vec![Span::styled(
            format!("view lagged: {lagged} events missed, figures may fall short"),
            BAD,
        )]);
    }
    segments
}

/// Segments joined by ` · `, broken into lines of at most `width` columns between segments.
fn flow(segments: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut line = vec![Span::raw(" ")];
    let mut used = 1;
    for segment in segments {
        let wide: usize = segment.iter().map(Span::width).sum();
        if used > 1 && used + 3 + wide > width {
            lines.push(Line::from(std::mem::replace(&mut line, vec![Span::raw(" ")])));
            used = 1;
        } else if used > 1 {
            line.push(Span::styled(" · ", DIM));
            used += 3;
        }
        used += wide;
        line.extend(segment);
    }
    if used > 1 {
        lines.push(Line::from(line));
    }
    lines
}

/// The first of `titles` that fits in `width`, else the last one cut to fit.
fn fitting(titles: &[String], width: usize) -> String {
    titles
        .iter()
        .find(|title| title.chars().count() <= width)
        .cloned()
        .unwrap_or_else(|| ellipsize(titles.last().map_or("", String::as_str), width))
}

/// Bars for `values` on `rows` rows: every present value (every one above zero, unless
/// `zero_shows`) at least an eighth of a row high, so that it can't pass for an absent one.
/// Returns the bars and the scale's top.
fn floored(values: &[Option<u64>], rows: u16, zero_shows: bool) -> (Vec<SparklineBar>, u64) {
    let ticks = 8 * u64::from(rows.max(1));
    let top = values.iter().flatten().copied().max().unwrap_or(0);
    let scale = if top == 0 { ticks } else { top };
    let least = scale.div_ceil(ticks);
    let bars = values
        .iter()
        .map(|value| {
            let value = value.map(|v| if v > 0 || zero_shows { v.max(least) } else { v });
            SparklineBar::from(value)
        })
        .collect();
    (bars, scale)
}

/// Convergence time and messages of the last updates that fit, side by side, one bar each.
fn draw_sparklines(frame: &mut Frame, updates: &[&UpdateMetrics], area: Rect) {
    let [_, left, _, right, _] = Layout::horizontal([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let bars = usize::from(left.width.min(right.width));
    let last = &updates[updates.len().saturating_sub(bars)..];
    let n = last.len();
    let rows = area.height.saturating_sub(1);

    let times: Vec<Option<u64>> = last.iter().map(|u| u.convergence_ns).collect();
    let not = times.iter().filter(|t| t.is_none()).count();
    let top = times.iter().flatten().max().map(|&ns| fmt_ns(ns));
    let not_text = |long: bool| match (not, long) {
        (0, _) => String::new(),
        (_, true) => format!(" · {not} not converged"),
        (_, false) => format!(" · {not} unconverged"),
    };
    let titles: Vec<String> = match &top {
        Some(top) => vec![
            format!("convergence, last {n}: max {top}{}", not_text(true)),
            format!("convergence · max {top}{}", not_text(true)),
            format!("convergence ≤{top}{}", not_text(false)),
            format!("conv. ≤{top}{}", not_text(false)),
        ],
        None => vec![format!("convergence{}", not_text(true)), format!("conv.{}", not_text(false))],
    };
    let (data, scale) = floored(&times, rows, true);
    draw_sparkline(frame, left, &fitting(&titles, usize::from(left.width)), data, scale, GOOD);

    let messages: Vec<Option<u64>> = last.iter().map(|u| Some(u.messages)).collect();
    let top = last.iter().map(|u| u.messages).max().unwrap_or(0);
    let titles = [
        format!("messages per update, last {n}: max {top}"),
        format!("messages per update · max {top}"),
        format!("msgs/update ≤{top}"),
    ];
    let (data, scale) = floored(&messages, rows, false);
    let title = fitting(&titles, usize::from(right.width));
    draw_sparkline(frame, right, &title, data, scale, Style::new().fg(ACCENT));
}

fn draw_sparkline(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    data: Vec<SparklineBar>,
    scale: u64,
    style: Style,
) {
    let [title_area, bars_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    frame.render_widget(Paragraph::new(Line::styled(title.to_owned(), DIM)), title_area);
    frame.render_widget(Sparkline::default().data(data).max(scale).style(style), bars_area);
}

/// The table of updates, newest first.
struct Table<'a> {
    app: &'a App,
    /// Newest first.
    updates: Vec<&'a UpdateMetrics>,
    client: usize,
    origin: usize,
    convergence: usize,
}

impl<'a> Table<'a> {
    fn new(app: &'a App, updates: &[&'a UpdateMetrics], width: usize) -> Self {
        let updates: Vec<&UpdateMetrics> = updates.iter().rev().copied().collect();
        let origin = app.servers.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).max(6);
        // A blank at either end and one between columns.
        let fixed = 2 + origin + COVER + MSGS + DUPS + DROPS + HOP + RMR + 8;
        let rest = width.saturating_sub(fixed);
        let widest =
            updates.iter().take(200).map(|u| u.update.client.chars().count()).max().unwrap_or(0);
        let client = widest.max(6).min(rest.saturating_sub(CONVERGENCE).max(6));
        let convergence = rest.saturating_sub(client).max(CONVERGENCE);
        Self { app, updates, client, origin, convergence }
    }

    /// `not converged: Bona, Jaquez`, or the convergence time.
    fn verdict(&self, update: &UpdateMetrics) -> Option<String> {
        if update.converged() || update.stranded.is_empty() {
            return None;
        }
        let names: Vec<&str> = update.stranded.iter().map(|&id| self.app.name(id)).collect();
        Some(names.join(", "))
    }

    /// Lines one update takes: two when its stranded servers do not fit on its row.
    fn height(&self, update: &UpdateMetrics) -> usize {
        match self.verdict(update) {
            Some(names) if "not converged: ".len() + names.chars().count() > self.convergence => 2,
            _ => 1,
        }
    }

    /// Lines every update takes, counted up to a screenful.
    fn lines_needed(&self) -> usize {
        self.updates.iter().take(200).map(|update| self.height(update)).sum()
    }

    /// The most updates that can be skipped with the oldest ones still filling `rows`.
    fn max_skip(&self, rows: usize) -> usize {
        let mut used = 0;
        let mut fit = 0;
        for update in self.updates.iter().rev() {
            used += self.height(update);
            if used > rows {
                break;
            }
            fit += 1;
        }
        self.updates.len() - fit
    }

    /// The header and the rows from the `skip`th newest, `rows` lines at most; and how many
    /// updates they show.
    fn lines(&self, skip: usize, rows: usize) -> (Vec<Line<'static>>, usize) {
        let (cw, ow) = (self.client, self.origin);
        let header = format!(
            " {:<cw$} {:<ow$} {:>COVER$} {:>MSGS$} {:>DUPS$} {:>DROPS$} {:>HOP$} {:>RMR$} {}",
            "client", "origin", "cover", "msgs", "dups", "drops", "hop", "rmr", "convergence"
        );
        let mut lines = vec![Line::styled(header, DIM.add_modifier(Modifier::BOLD))];
        let mut shown = 0;
        for update in self.updates.iter().skip(skip) {
            if lines.len() > rows {
                break;
            }
            lines.extend(self.row(update));
            shown += 1;
        }
        lines.truncate(rows + 1);
        (lines, shown)
    }

    fn row(&self, update: &UpdateMetrics) -> Vec<Line<'static>> {
        let (cw, ow) = (self.client, self.origin);
        let (k, n) = update.coverage;
        let cover = Span::styled(
            format!(" {:>COVER$}", format!("{k}/{n}")),
            if k == n { GOOD } else { WARN.remove_modifier(Modifier::BOLD) },
        );
        let drops: u64 = update.drops.values().sum();
        let hop = update.last_hop.map_or_else(|| "-".to_owned(), |hop| hop.to_string());
        let rmr = update.rmr.map_or_else(|| "-".to_owned(), |rmr| format!("{rmr:.2}"));
        let mut spans = vec![
            Span::styled(format!(" {:<cw$}", ellipsize(&update.update.client, cw)), BOLD),
            Span::raw(format!(" {:<ow$}", self.app.name(update.origin))),
            cover,
            Span::raw(format!(" {:>MSGS$} {:>DUPS$}", update.messages, update.duplicates)),
            Span::styled(format!(" {drops:>DROPS$}"), if drops > 0 { BAD } else { Style::new() }),
            Span::raw(format!(" {hop:>HOP$} {rmr:>RMR$} ")),
        ];
        let mut more = None;
        match (update.convergence_ns, self.verdict(update)) {
            (Some(ns), _) => spans.push(Span::styled(fmt_ns(ns), GOOD)),
            (None, None) => spans.push(Span::styled("not converged", WARN)),
            (None, Some(names)) if self.height(update) == 1 => {
                spans.push(Span::styled("not converged: ", WARN));
                spans.push(Span::styled(names, BAD));
            }
            (None, Some(names)) => {
                spans.push(Span::styled("not converged", WARN));
                let indent = 1 + cw + 1;
                let room =
                    (1 + cw + ow + COVER + MSGS + DUPS + DROPS + HOP + RMR + 8 + self.convergence)
                        .saturating_sub(indent + 13);
                more = Some(Line::from(vec![
                    Span::raw(" ".repeat(indent)),
                    Span::styled("↳ stranded: ", DIM),
                    Span::styled(ellipsize(&names, room), BAD),
                ]));
            }
        }
        let mut lines = vec![Line::from(spans)];
        lines.extend(more);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_microseconds_milliseconds_or_seconds() {
        assert_eq!(fmt_ns(0), "0µs");
        assert_eq!(fmt_ns(864_400), "864µs");
        assert_eq!(fmt_ns(1_153_000), "1.15ms");
        assert_eq!(fmt_ns(2_100_000_000), "2.10s");
    }

    #[test]
    fn small_bars_still_show_and_zero_shows_only_when_asked() {
        let values = [Some(1_000_000), Some(10), None, Some(0)];
        let (bars, scale) = floored(&values, 3, true);
        assert_eq!(scale, 1_000_000);
        let least = 1_000_000_u64.div_ceil(24);
        let expected: Vec<SparklineBar> =
            [Some(1_000_000), Some(least), None, Some(least)].into_iter().map(Into::into).collect();
        assert_eq!(bars, expected);
        let (bars, _) = floored(&[Some(8), Some(0)], 3, false);
        assert_eq!(bars, vec![SparklineBar::from(Some(8)), SparklineBar::from(Some(0))]);
    }

    #[test]
    fn the_summary_flows_onto_as_few_lines_as_fit() {
        let summary = Summary {
            updates: 40,
            converged: 38,
            unconverged: 2,
            convergence_p50_ns: Some(1_350_000),
            convergence_p95_ns: Some(2_100_000),
            convergence_max_ns: Some(12_500_000),
            msgs_per_update: Some(8.0),
            messages: 320,
            duplicates: 2,
            drops: 1,
            forgotten: 0,
        };
        let text = |lines: &[Line]| -> Vec<String> {
            lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
        };
        let wide = flow(summary_segments(&summary, 0), 114);
        assert_eq!(
            text(&wide),
            [" 40 updates: 38 converged, 2 not · p50 1.35ms p95 2.10ms max 12.50ms · 8.0 \
              msgs/update · 2 duplicates · 1 drop"]
        );
        let narrow = flow(summary_segments(&summary, 0), 74);
        assert_eq!(narrow.len(), 2);
        assert!(narrow.iter().all(|line| line.width() <= 74));
    }
}
