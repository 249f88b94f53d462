//! Reading a scenario file: headers, timings, steps and conditions, each refusal placed at
//! `file:line:column` and saying what was expected there. Commands are checked by the
//! console's own grammar, so a scenario refuses exactly what the console would.

use std::time::Duration;

use super::{
    Action, Condition, Metric, Op, Quantile, Scenario, ScenarioError, Step, Timing, Value,
};
use crate::command::{self, Context, words};
use crate::herd::ServerId;

/// What stands for the number of a command in an `every` series.
pub(super) const NUMBER: &str = "{n}";

/// The file's `topology` and `seed` headers (the first of each), read without checking the
/// rest, so that the herd the file needs can be built before [`parse`] checks it against
/// that herd.
pub fn header(text: &str) -> (Option<String>, Option<u64>) {
    let (mut topology, mut seed) = (None, None);
    for line in text.lines() {
        let words = words(line);
        match words.as_slice() {
            [(_, key), (_, value)] if key.eq_ignore_ascii_case("topology") => {
                topology.get_or_insert_with(|| (*value).to_owned());
            }
            [(_, key), (_, value)] if key.eq_ignore_ascii_case("seed") => {
                if let Ok(value) = value.parse() {
                    seed.get_or_insert(value);
                }
            }
            _ => {}
        }
    }
    (topology, seed)
}

/// Parses the scenario `text` (named `file` in errors) against the herd of `context`.
pub fn parse(text: &str, file: &str, context: &Context) -> Result<Scenario, ScenarioError> {
    let mut scenario =
        Scenario { file: file.to_owned(), topology: None, seed: None, steps: Vec::new() };
    for (index, raw) in text.lines().enumerate() {
        let words = words(raw);
        if words.first().is_none_or(|(_, w)| w.starts_with('#')) {
            continue;
        }
        let mut cursor = Cursor { file, line: index + 1, raw, words, next: 0, context };
        cursor.line_into(&mut scenario)?;
    }
    Ok(scenario)
}

/// One line being read, word by word.
struct Cursor<'a> {
    file: &'a str,
    line: usize,
    raw: &'a str,
    /// Each word with the byte index where it starts.
    words: Vec<(usize, &'a str)>,
    next: usize,
    context: &'a Context,
}

impl<'a> Cursor<'a> {
    /// An error at byte `at` of the line.
    fn error_at(&self, at: usize, message: impl Into<String>) -> ScenarioError {
        let column = self.raw.get(..at).map_or(1, |before| before.chars().count() + 1);
        ScenarioError {
            file: self.file.to_owned(),
            line: self.line,
            column,
            message: message.into(),
        }
    }

    /// Where the next word starts (the end of the line when there is none).
    fn here(&self) -> usize {
        self.words.get(self.next).map_or(self.raw.trim_end().len(), |&(at, _)| at)
    }

    /// An error at the next word: `expected WHAT, got "WORD"` (or just `expected WHAT` at
    /// the end of the line).
    fn expected(&self, what: &str) -> ScenarioError {
        match self.words.get(self.next) {
            Some(&(at, word)) => self.error_at(at, format!("expected {what}, got {word:?}")),
            None => self.error_at(self.here(), format!("expected {what}")),
        }
    }

    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.next).map(|&(_, w)| w)
    }

    fn word(&mut self, what: &str) -> Result<&'a str, ScenarioError> {
        let word = self.peek().ok_or_else(|| self.expected(what))?;
        self.next += 1;
        Ok(word)
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), ScenarioError> {
        match self.peek() {
            Some(word) if word.eq_ignore_ascii_case(keyword) => {
                self.next += 1;
                Ok(())
            }
            _ => Err(self.expected(&format!("{keyword:?}"))),
        }
    }

    fn finish(&self) -> Result<(), ScenarioError> {
        match self.words.get(self.next) {
            Some(&(at, word)) => {
                Err(self.error_at(at, format!("expected the end of the line, got {word:?}")))
            }
            None => Ok(()),
        }
    }

    fn duration(&mut self) -> Result<Duration, ScenarioError> {
        const WHAT: &str = "a duration such as 50ms";
        let word = self.peek().ok_or_else(|| self.expected(WHAT))?;
        let value = humantime::parse_duration(word).map_err(|_| self.expected(WHAT))?;
        self.next += 1;
        Ok(value)
    }

    fn line_into(&mut self, scenario: &mut Scenario) -> Result<(), ScenarioError> {
        match self.peek().map(str::to_ascii_lowercase).as_deref() {
            Some("topology") => {
                self.next += 1;
                let name = self.word("a topology such as cs131 or ring:5")?;
                self.finish()?;
                scenario.topology.get_or_insert_with(|| name.to_owned());
                return Ok(());
            }
            Some("seed") => {
                const WHAT: &str = "a seed such as 7 (a whole number)";
                self.next += 1;
                let word = self.peek().ok_or_else(|| self.expected(WHAT))?;
                let seed = word.parse::<u64>().map_err(|_| self.expected(WHAT))?;
                self.next += 1;
                self.finish()?;
                scenario.seed.get_or_insert(seed);
                return Ok(());
            }
            _ => {}
        }
        let timing = self.timing()?;
        let action = self.action(timing)?;
        scenario.steps.push(Step {
            line: self.line,
            text: self.raw.trim().to_owned(),
            timing,
            action,
        });
        Ok(())
    }

    fn timing(&mut self) -> Result<Timing, ScenarioError> {
        let timing = match self.peek().map(str::to_ascii_lowercase).as_deref() {
            Some("at") => {
                self.next += 1;
                Timing::At(self.duration()?)
            }
            Some("after") => {
                self.next += 1;
                Timing::After(self.duration()?)
            }
            Some("every") => {
                self.next += 1;
                let at = self.here();
                let every = self.duration()?;
                if every.is_zero() {
                    return Err(self.error_at(at, "expected a period over 0, got 0"));
                }
                self.keyword("for")?;
                let lasting = self.duration()?;
                Timing::Every { every, lasting }
            }
            _ => Timing::Next,
        };
        Ok(timing)
    }

    fn action(&mut self, timing: Timing) -> Result<Action, ScenarioError> {
        const STEP: &str = "a step (a command, expect, wait until, say or wait key)";
        let start = self.here();
        let verb = self.peek().ok_or_else(|| self.expected(STEP))?;
        let series = matches!(timing, Timing::Every { .. });
        let lower = verb.to_ascii_lowercase();
        if series && matches!(lower.as_str(), "expect" | "wait" | "say") {
            return Err(self.error_at(start, format!("expected a command to repeat, got {verb:?}")));
        }
        let action = match lower.as_str() {
            "expect" => {
                self.next += 1;
                Action::Expect(self.condition()?)
            }
            "wait" => {
                self.next += 1;
                if self.peek().is_some_and(|w| w.eq_ignore_ascii_case("key")) {
                    self.next += 1;
                    Action::WaitKey
                } else {
                    if self.peek().is_none_or(|w| !w.eq_ignore_ascii_case("until")) {
                        return Err(self.expected("\"until\" or \"key\""));
                    }
                    self.next += 1;
                    let condition = self.condition()?;
                    self.keyword("within")?;
                    let within = self.duration()?;
                    Action::WaitUntil { condition, within }
                }
            }
            "say" => {
                self.next += 1;
                let at = self.here();
                let rest = self.raw.get(at..).unwrap_or_default().trim_end();
                let text = rest
                    .strip_prefix('"')
                    .and_then(|r| r.strip_suffix('"'))
                    .filter(|_| rest.len() >= 2)
                    .ok_or_else(|| self.expected("a quoted text such as \"hello\""))?;
                self.next = self.words.len();
                Action::Say(text.to_owned())
            }
            _ => {
                let template = self.raw.get(start..).unwrap_or_default().trim_end();
                let has_number = template.contains(NUMBER);
                if has_number && !series {
                    let at = start + template.find(NUMBER).unwrap_or_default();
                    return Err(
                        self.error_at(at, "expected {n} only in a command of an every series")
                    );
                }
                let text = template.replace(NUMBER, "1");
                let command = command::parse(&text, self.context).map_err(|err| {
                    let message = match err.usage {
                        Some(usage) => format!("{} (expected: {usage})", err.message),
                        None => err.message,
                    };
                    self.error_at(start, message)
                })?;
                if command.console_only() {
                    return Err(self.error_at(
                        start,
                        format!("expected a command for the herd, got the console's {verb:?}"),
                    ));
                }
                self.next = self.words.len();
                Action::Command { template: template.to_owned(), command }
            }
        };
        self.finish()?;
        Ok(action)
    }

    fn condition(&mut self) -> Result<Condition, ScenarioError> {
        const WHAT: &str = "a condition such as \"Bailey knows kiwi\" or \"drops == 0\"";
        let word = self.peek().ok_or_else(|| self.expected(WHAT))?;
        let condition = match word.to_ascii_lowercase().as_str() {
            "not" => {
                self.next += 1;
                Condition::Not(Box::new(self.condition()?))
            }
            "converged" => {
                self.next += 1;
                let client = self.word("a client id")?.to_owned();
                self.keyword("within")?;
                Condition::Converged { client, within: self.duration()? }
            }
            "msgs_per_update" => {
                self.next += 1;
                self.compare(Metric::MsgsPerUpdate)?
            }
            "unconverged" => {
                self.next += 1;
                self.compare(Metric::Unconverged)?
            }
            "drops" => {
                self.next += 1;
                self.compare(Metric::Drops)?
            }
            "coverage" => {
                self.next += 1;
                let client = self.word("a client id")?.to_owned();
                self.compare(Metric::Coverage(client))?
            }
            "convergence" => {
                const QUANTILE: &str = "p50, p95 or max";
                self.next += 1;
                let quantile = match self.peek().map(str::to_ascii_lowercase).as_deref() {
                    Some("p50") => Quantile::P50,
                    Some("p95") => Quantile::P95,
                    Some("max") => Quantile::Max,
                    _ => return Err(self.expected(QUANTILE)),
                };
                self.next += 1;
                self.compare(Metric::Convergence(quantile))?
            }
            _ => {
                let at = self.here();
                let server = self.server(word).ok_or_else(|| {
                    let names = self.context.servers.join(", ");
                    self.error_at(
                        at,
                        format!(
                            "expected a condition or a server ({names}) that knows a client, \
                             got {word:?}"
                        ),
                    )
                })?;
                self.next += 1;
                self.keyword("knows")?;
                let client = self.word("a client id")?.to_owned();
                let newest = self.peek().is_some_and(|w| w.eq_ignore_ascii_case("newest"));
                if newest {
                    self.next += 1;
                }
                Condition::Knows { server, client, newest }
            }
        };
        Ok(condition)
    }

    /// A server by its exact name, else by its one case-insensitive match.
    fn server(&self, word: &str) -> Option<ServerId> {
        let servers = &self.context.servers;
        if let Some(id) = servers.iter().position(|s| s == word) {
            return Some(id);
        }
        let folded: Vec<ServerId> =
            (0..servers.len()).filter(|&id| servers[id].eq_ignore_ascii_case(word)).collect();
        match folded.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// `OP VALUE` after a metric.
    fn compare(&mut self, metric: Metric) -> Result<Condition, ScenarioError> {
        const OPS: &str = "a comparison (<, <=, ==, >=, >)";
        let op = match self.peek() {
            Some("<") => Op::Lt,
            Some("<=") => Op::Le,
            Some("==") => Op::Eq,
            Some(">=") => Op::Ge,
            Some(">") => Op::Gt,
            _ => return Err(self.expected(OPS)),
        };
        self.next += 1;
        let value = match metric {
            Metric::Convergence(_) => Value::Duration(self.duration()?),
            Metric::Coverage(_) => {
                const WHAT: &str = "a number of servers such as 5, or a share such as 100%";
                let word = self.peek().ok_or_else(|| self.expected(WHAT))?;
                let value = match word.strip_suffix('%') {
                    Some(share) => number(share).map(Value::Percent),
                    None => number(word).map(Value::Number),
                };
                let value = value.ok_or_else(|| self.expected(WHAT))?;
                self.next += 1;
                value
            }
            _ => {
                const WHAT: &str = "a number such as 8";
                let word = self.peek().ok_or_else(|| self.expected(WHAT))?;
                let value = number(word).ok_or_else(|| self.expected(WHAT))?;
                self.next += 1;
                Value::Number(value)
            }
        };
        Ok(Condition::Compare { metric, op, value })
    }
}

/// A finite, non-negative decimal.
fn number(text: &str) -> Option<f64> {
    let digits = text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    text.parse::<f64>().ok().filter(|v| digits && v.is_finite())
}
