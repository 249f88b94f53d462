//! A scenario played in the dashboard (`herdctl --scenario FILE`, `herdctl tour`): which step
//! runs or waits, the caption its `say` steps put on screen, and the tally of expectations.
//! The run itself is [`crate::scenario::present`] on a task of the event loop; this is the
//! view's picture of it, changed by the run's [`Cue`]s and by the presenter's `n` and `N`.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::view::{ACCENT, DIM, WARN};
use crate::scenario::{Cue, Scenario, Status};

/// Where a played scenario stands.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// The file, as the operator named it.
    pub file: String,
    /// Per step: its line number in the file and its text.
    pub steps: Vec<(usize, String)>,
    /// The step running, or the last that ran.
    pub current: Option<usize>,
    /// The run holds before this step until `n`.
    pub waiting: Option<usize>,
    /// Every step waits for `n` (timings ignored).
    pub stepping: bool,
    /// The newest `say`, until the next one (an empty one clears it).
    pub caption: Option<String>,
    pub passed: usize,
    pub failed: usize,
    /// The newest failed expectation's line, kept in view.
    pub last_failure: Option<String>,
    pub finished: bool,
}

impl Lesson {
    pub fn new(file: &str, scenario: &Scenario, stepping: bool) -> Self {
        Self {
            file: file.to_owned(),
            steps: scenario.steps.iter().map(|s| (s.line, s.text.clone())).collect(),
            current: None,
            waiting: None,
            stepping,
            caption: None,
            passed: 0,
            failed: 0,
            last_failure: None,
            finished: false,
        }
    }

    /// Takes in what the run says; returns a line for the traffic pane, if the cue has one.
    pub fn cue(&mut self, cue: Cue) -> Option<String> {
        match cue {
            Cue::Started { index } => {
                self.current = Some(index);
                self.waiting = None;
                None
            }
            Cue::Waiting { index } => {
                self.waiting = Some(index);
                None
            }
            Cue::Say(text) => {
                self.caption = (!text.is_empty()).then_some(text);
                None
            }
            Cue::Outcome { status, line, .. } => {
                match status {
                    Status::Passed => self.passed += 1,
                    Status::Failed => {
                        self.failed += 1;
                        self.last_failure = Some(line.clone());
                    }
                    Status::Done => {}
                }
                // An action's own line comes from the herd (`⚙ cut …`): only checks are logged.
                (status != Status::Done).then_some(line)
            }
            Cue::Finished(report) => {
                self.finished = true;
                self.waiting = None;
                (self.passed, self.failed) = (report.passed, report.failed);
                Some(format!(
                    "{} {}: {} passed, {} failed",
                    if report.failed == 0 { "✓" } else { "✗" },
                    self.file,
                    report.passed,
                    report.failed
                ))
            }
        }
    }
}

/// The lesson's row: its file, the step shown with its line number, the tally, and what `n`
/// would do.
pub fn line(lesson: &Lesson, width: u16) -> Paragraph<'static> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let (badge, style) = if lesson.finished {
        if lesson.failed == 0 {
            (" ✓ done ", Style::new().fg(Color::Black).bg(Color::Green))
        } else {
            (" ✗ done ", Style::new().fg(Color::White).bg(Color::Red))
        }
    } else if lesson.waiting.is_some() {
        (" ⏸ press n ", Style::new().fg(Color::Black).bg(Color::Yellow))
    } else if lesson.stepping {
        (" ▶ step ", Style::new().fg(Color::Black).bg(ACCENT))
    } else {
        (" ▶ lesson ", Style::new().fg(Color::Black).bg(ACCENT))
    };
    let mut spans = vec![Span::styled(badge, style.add_modifier(Modifier::BOLD))];
    spans.push(Span::styled(format!(" {} ", lesson.file), DIM));
    let tally = if lesson.failed > 0 {
        Span::styled(format!(" ✓{} ✗{} ", lesson.passed, lesson.failed), WARN.fg(Color::LightRed))
    } else {
        Span::styled(format!(" ✓{} ", lesson.passed), Style::new().fg(Color::Green))
    };
    let shown = if lesson.finished { None } else { lesson.waiting.or(lesson.current) };
    let step = shown.and_then(|i| lesson.steps.get(i).map(|(line, text)| (i, *line, text)));
    let used: usize = spans.iter().map(Span::width).sum::<usize>() + tally.width();
    let room = usize::from(width).saturating_sub(used + 1);
    if let Some((i, line, text)) = step {
        let label = if lesson.waiting == Some(i) { "next" } else { "line" };
        let text = format!("{label} {line}: {text}");
        let text: String = if text.chars().count() > room {
            text.chars().take(room.saturating_sub(1)).chain(['…']).collect()
        } else {
            text
        };
        spans.push(Span::styled(text, bold));
        spans.push(Span::raw(" "));
    }
    spans.push(tally);
    Paragraph::new(Line::from(spans))
}

/// Rows the caption takes at `width` columns: its words wrapped, at most three.
pub fn caption_rows(caption: &str, width: u16) -> u16 {
    let width = usize::from(width.saturating_sub(2)).max(10);
    let rows = super::view::wrap_hanging(caption, 0, width).len();
    u16::try_from(rows.clamp(1, 3)).unwrap_or(3)
}

/// The caption, like a subtitle: centred, wrapped, bold on a band of its own.
pub fn caption(text: &str) -> Paragraph<'static> {
    Paragraph::new(text.to_owned())
        .style(Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD))
        .wrap(Wrap { trim: true })
        .centered()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_and_outcomes_are_kept() {
        let scenario = Scenario { file: "t".into(), topology: None, seed: None, steps: Vec::new() };
        let mut lesson = Lesson::new("t.herd", &scenario, false);
        assert_eq!(lesson.cue(Cue::Say("hello".into())), None);
        assert_eq!(lesson.caption.as_deref(), Some("hello"));
        lesson.cue(Cue::Say(String::new()));
        assert_eq!(lesson.caption, None);
        let line = "✗ 0.100s expect Bona knows kiwi (Bona holds nothing for kiwi)".to_owned();
        let shown =
            lesson.cue(Cue::Outcome { index: 0, status: Status::Failed, line: line.clone() });
        assert_eq!(shown.as_deref(), Some(line.as_str()));
        assert_eq!((lesson.failed, lesson.last_failure.as_deref()), (1, Some(line.as_str())));
    }
}
