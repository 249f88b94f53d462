//! The replay's timeline row: playing or paused, the speed, the recording's time and event
//! shown, and a bar across the rest of the width with where the replay stands, where
//! updates began (`│`) and where the operator acted or a server stopped or started (`▼`).
//! Gaps the recorder left and a recording cut short are said on it, never hidden. A click on
//! the bar seeks there ([`time_at`]).

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::replay::Replay;
use super::view::{ACCENT, DIM, WARN};

/// A time on the replay clock for the eye: `12.345s`, `3m05.200s`.
pub fn fmt_at(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let (minutes, ms) = (ms / 60_000, ms % 60_000);
    if minutes == 0 {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    } else {
        format!("{minutes}m{:02}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// A speed for the eye: `1×`, `16×`, `1/4×`.
pub fn fmt_speed(speed: f64) -> String {
    if speed >= 1.0 { format!("{speed:.0}×") } else { format!("1/{:.0}×", 1.0 / speed) }
}

/// What one column of the bar shows, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Mark,
    Update,
    Plain,
}

/// The bar's cells: each column covers an equal share of the recording.
fn cells(replay: &Replay, width: usize) -> Vec<Cell> {
    let end = replay.end().max(1);
    let column = |t: u64| (u128::from(t) * width as u128 / (u128::from(end) + 1)) as usize;
    let mut cells = vec![Cell::Plain; width];
    for &t in &replay.update_times {
        if let Some(cell) = cells.get_mut(column(t)) {
            *cell = Cell::Update;
        }
    }
    for &t in &replay.mark_times {
        if let Some(cell) = cells.get_mut(column(t)) {
            *cell = Cell::Mark;
        }
    }
    cells
}

/// The row's text before the bar (state, speed, time and event shown) and after it (gaps,
/// a cut).
fn ends(replay: &Replay) -> (Vec<Span<'static>>, Vec<Span<'static>>) {
    let state = if replay.playing {
        Span::styled(
            format!(" ▶ {} ", fmt_speed(replay.speed)),
            Style::new().fg(Color::Green).bold(),
        )
    } else {
        let speed = fmt_speed(replay.speed);
        Span::styled(format!(" ‖ {speed} "), Style::new().fg(Color::Black).bg(Color::Yellow).bold())
    };
    let total = replay.events.len();
    let head = vec![
        state,
        Span::styled(format!(" {} ", fmt_at(replay.at)), Style::new().bold()),
        Span::styled(format!("/ {} ", fmt_at(replay.end())), DIM),
        Span::styled(format!("#{}/{total} ", replay.applied), DIM),
    ];
    let mut tail = Vec::new();
    if !replay.gaps.is_empty() {
        let text = format!(" {} gaps, {} events missed ", replay.gaps.len(), replay.missed());
        tail.push(Span::styled(text, WARN));
    }
    if replay.cut {
        tail.push(Span::styled(" cut at its size bound ", WARN));
    }
    (head, tail)
}

/// The bar's first column and width in a row `width` wide, if there is room for one.
fn bar(head: &[Span], tail: &[Span], width: u16) -> Option<(usize, usize)> {
    let start: usize = head.iter().map(Span::width).sum();
    let used = start + tail.iter().map(Span::width).sum::<usize>();
    let room = usize::from(width).saturating_sub(used + 1);
    (room >= 8).then_some((start, room))
}

/// The timeline row for `replay`, `width` columns wide.
pub fn line(replay: &Replay, width: u16) -> Paragraph<'static> {
    let (mut spans, tail) = ends(replay);
    if let Some((_, room)) = bar(&spans, &tail, width) {
        let end = replay.end().max(1);
        let here = (u128::from(replay.at) * room as u128 / (u128::from(end) + 1)) as usize;
        for (i, cell) in cells(replay, room).into_iter().enumerate() {
            let span = match (i == here, cell) {
                (true, _) => Span::styled("●", Style::new().fg(ACCENT).bold()),
                (false, Cell::Mark) => Span::styled("▼", WARN),
                (false, Cell::Update) => {
                    let style = if i < here { Style::new().fg(ACCENT) } else { DIM.fg(ACCENT) };
                    Span::styled("│", style)
                }
                (false, Cell::Plain) if i < here => Span::styled("━", Style::new().fg(ACCENT)),
                (false, Cell::Plain) => Span::styled("─", DIM),
            };
            spans.push(span);
        }
        spans.push(Span::raw(" "));
    }
    spans.extend(tail);
    Paragraph::new(Line::from(spans))
}

/// The time on the replay clock that column `x` of the bar stands for, in a row `width` wide:
/// the first instant whose marker is drawn there (the end for the last column), or `None`
/// off the bar.
pub fn time_at(replay: &Replay, width: u16, x: u16) -> Option<u64> {
    let (head, tail) = ends(replay);
    let (start, room) = bar(&head, &tail, width)?;
    let column = usize::from(x).checked_sub(start).filter(|&c| c < room)?;
    if column + 1 == room {
        return Some(replay.end());
    }
    let end = u128::from(replay.end().max(1)) + 1;
    let at = (column as u128 * end).div_ceil(room as u128);
    Some(u64::try_from(at).unwrap_or(u64::MAX).min(replay.end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_speeds_read_as_written() {
        assert_eq!(fmt_at(0), "0.000s");
        assert_eq!(fmt_at(12_345_678_901), "12.345s");
        assert_eq!(fmt_at(185_200_000_000), "3m05.200s");
        assert_eq!(fmt_speed(1.0), "1×");
        assert_eq!(fmt_speed(16.0), "16×");
        assert_eq!(fmt_speed(0.25), "1/4×");
    }
}
