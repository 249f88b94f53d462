//! Running a scenario against a live herd: each step at its time, on real sockets (client
//! commands as one connection each, controls through [`HerdHandle::apply`]), expectations
//! checked against the herd's stored reports and a fold of its events.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use tokio::sync::broadcast::error::TryRecvError;
use tokio::time::{Instant, sleep_until, timeout};

use super::parse::NUMBER;
use super::{
    Action, Condition, Metric, Quantile, Report, Scenario, Status, Step, StepReport, Timing, Value,
};
use crate::command::{self, Command, Context};
use crate::herd::{Applied, EventKind, HerdEvent, HerdHandle, Subscription};
use crate::lab::metrics::{Metrics, Summary};
use crate::protocol::ClientTime;

/// How often a `wait until` looks again when no event comes.
const RECHECK: Duration = Duration::from_millis(10);

/// Runs `scenario` against `herd`, printing each step on `out` as it runs (`✓`/`✗` and the
/// measured value for expectations), and returns what happened. A `wait until` that times
/// out ends the run there.
pub async fn run(scenario: &Scenario, herd: &HerdHandle, out: &mut impl Write) -> Report {
    let mut runner = Runner {
        herd,
        context: Context::new(herd.topology()),
        events: herd.events(),
        metrics: Metrics::new(herd.topology()),
        newest: HashMap::new(),
        started: Instant::now(),
        report: Report { steps: Vec::new(), passed: 0, failed: 0, metrics: Summary::default() },
    };
    let (mut previous_start, mut previous_end) = (runner.started, runner.started);
    for step in &scenario.steps {
        let planned = match step.timing {
            Timing::Next | Timing::Every { .. } => previous_end,
            Timing::At(at) => runner.started + at,
            Timing::After(after) => previous_start + after,
        };
        sleep_until(planned).await;
        let begin = planned.max(Instant::now());
        let go_on = runner.step(step, begin, out).await;
        previous_start = begin;
        previous_end = Instant::now();
        if !go_on {
            break;
        }
    }
    runner.drain();
    let mut report = runner.report;
    report.metrics = runner.metrics.summary();
    writeln!(out, "{} passed, {} failed", report.passed, report.failed).ok();
    report
}

struct Runner<'a> {
    herd: &'a HerdHandle,
    context: Context,
    events: Subscription,
    metrics: Metrics,
    /// The newest client time stored anywhere, per client.
    newest: HashMap<String, String>,
    started: Instant,
    report: Report,
}

impl Runner<'_> {
    /// Runs one step (a whole series for `every`); `false` ends the run.
    async fn step(&mut self, step: &Step, begin: Instant, out: &mut impl Write) -> bool {
        self.drain();
        match &step.action {
            Action::Command { template, command } => {
                if let Timing::Every { every, lasting } = step.timing {
                    let mut n: u32 = 1;
                    loop {
                        let offset = every * (n - 1);
                        if offset >= lasting {
                            break;
                        }
                        sleep_until(begin + offset).await;
                        let text = template.replace(NUMBER, &n.to_string());
                        let outcome = match command::parse(&text, &self.context) {
                            Ok(command) => self.command(&command).await,
                            Err(err) => Err(err.message),
                        };
                        self.record(step.line, &text, outcome.map(Some), out);
                        n += 1;
                    }
                    sleep_until(begin + lasting).await;
                } else {
                    let outcome = self.command(command).await;
                    self.record(step.line, template, outcome.map(Some), out);
                }
                true
            }
            Action::Expect(condition) => {
                self.drain();
                let (held, detail) = self.check(condition);
                self.verdict(step, held, detail, out);
                true
            }
            Action::WaitUntil { condition, within } => {
                let deadline = Instant::now() + *within;
                loop {
                    self.drain();
                    let (held, detail) = self.check(condition);
                    let now = Instant::now();
                    if held || now >= deadline {
                        let detail = if held {
                            detail
                        } else {
                            format!("{detail}; not within {}", humantime::format_duration(*within))
                        };
                        self.verdict(step, held, detail, out);
                        return held;
                    }
                    let pause = (deadline - now).min(RECHECK);
                    if let Ok(Ok(event)) = timeout(pause, self.events.recv()).await {
                        self.fold(&event);
                    }
                }
            }
            Action::Say(text) => {
                let at_s = self.elapsed();
                writeln!(out, "» {text}").ok();
                self.push(step.line, &step.text, at_s, Status::Done, None);
                true
            }
            Action::WaitKey => {
                self.record(step.line, &step.text, Ok(None), out);
                true
            }
        }
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn push(&mut self, line: usize, text: &str, at_s: f64, status: Status, detail: Option<String>) {
        match status {
            Status::Passed => self.report.passed += 1,
            Status::Failed => self.report.failed += 1,
            Status::Done => {}
        }
        let text = text.to_owned();
        self.report.steps.push(StepReport { line, text, at_s, status, detail });
    }

    /// Prints and records a command (or pause): done, or failed and why.
    fn record(
        &mut self,
        line: usize,
        text: &str,
        outcome: Result<Option<String>, String>,
        out: &mut impl Write,
    ) {
        let at_s = self.elapsed();
        let (status, detail, mark) = match outcome {
            Ok(detail) => (Status::Done, detail, ' '),
            Err(why) => (Status::Failed, Some(why), '✗'),
        };
        match &detail {
            Some(detail) if !detail.is_empty() => {
                writeln!(out, "{mark} {at_s:.3}s {text} → {detail}").ok();
            }
            _ => {
                writeln!(out, "{mark} {at_s:.3}s {text}").ok();
            }
        }
        self.push(line, text, at_s, status, detail);
    }

    /// Prints and records whether a condition held, with what was measured.
    fn verdict(&mut self, step: &Step, held: bool, detail: String, out: &mut impl Write) {
        let at_s = self.elapsed();
        let (status, mark) = if held { (Status::Passed, '✓') } else { (Status::Failed, '✗') };
        writeln!(out, "{mark} {at_s:.3}s {} ({detail})", step.text).ok();
        self.push(step.line, &step.text, at_s, status, Some(detail));
    }

    /// Runs one command: what it did, or why it failed.
    async fn command(&self, command: &Command) -> Result<String, String> {
        if let Command::Herd(control) = command {
            return match self.herd.apply(control.clone()).await {
                Ok(Applied::Faults { faults }) => Ok(format!("{} faults", faults.len())),
                Ok(applied) => Ok(applied.text()),
                Err(err) => Err(err.to_string()),
            };
        }
        let (server, request) =
            command::client_line(command).ok_or_else(|| "cannot be run here".to_owned())?;
        let name = self.context.name(server);
        let addr = self.herd.addr(server).ok_or_else(|| format!("{name} has no address"))?;
        let reply = crate::client::send_line(addr, &request)
            .await
            .map_err(|err| format!("{name} ({addr}): {err}"))?;
        let first = reply.lines().find(|l| !l.is_empty()).unwrap_or_default();
        if first.is_empty() {
            return Err(format!("{name} did not answer"));
        }
        if first.starts_with("? ") {
            return Err(format!("{name} answered {first}"));
        }
        Ok(first.to_owned())
    }

    /// Folds every event already sent.
    fn drain(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(event) => self.fold(&event),
                Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }

    fn fold(&mut self, event: &HerdEvent) {
        self.metrics.apply(event);
        if let EventKind::LocationStored { update, .. } = &event.kind {
            let newer = self.newest.get(&*update.client).is_none_or(|known| {
                match (ClientTime::parse(known), ClientTime::parse(&update.time)) {
                    (Some(known), Some(time)) => time > known,
                    _ => false,
                }
            });
            if newer {
                self.newest.insert(update.client.to_string(), update.time.to_string());
            }
        }
    }

    /// Does `condition` hold now, and what was measured.
    fn check(&self, condition: &Condition) -> (bool, String) {
        match condition {
            Condition::Not(inner) => {
                let (held, detail) = self.check(inner);
                (!held, detail)
            }
            Condition::Knows { server, client, newest } => self.knows(*server, client, *newest),
            Condition::Converged { client, within } => {
                let Some(update) = self.metrics.newest(client) else {
                    return (false, format!("no update of {client}"));
                };
                if let Some(ns) = update.convergence_ns {
                    let took = Duration::from_nanos(ns);
                    (took <= *within, format!("in {:.3}s", took.as_secs_f64()))
                } else {
                    let (held, of) = update.coverage;
                    (false, format!("not converged: {held}/{of} servers"))
                }
            }
            Condition::Compare { metric, op, value } => {
                let (measured, shown) = self.measure(metric, value);
                let right = match value {
                    Value::Number(v) | Value::Percent(v) => *v,
                    Value::Duration(d) => d.as_secs_f64(),
                };
                match measured {
                    Some(left) => (op.holds(left, right), shown),
                    None => (false, "no value yet".to_owned()),
                }
            }
        }
    }

    fn knows(&self, server: usize, client: &str, newest: bool) -> (bool, String) {
        let snapshot = self.herd.snapshot();
        let name = self.context.name(server);
        let line = snapshot.servers.get(server).and_then(|s| {
            s.clients.iter().find(|line| line.split(' ').nth(3) == Some(client)).cloned()
        });
        let time = line.as_deref().and_then(|l| l.split(' ').nth(5)).map(str::to_owned);
        let Some(time) = time else {
            return (false, format!("{name} holds nothing for {client}"));
        };
        if !newest {
            return (true, format!("holds {client}@{time}"));
        }
        match self.newest.get(client) {
            Some(latest) if *latest == time => (true, format!("holds {client}@{time}")),
            Some(latest) => (false, format!("holds {client}@{time}, newest {client}@{latest}")),
            None => (false, format!("holds {client}@{time}, no update seen in the run")),
        }
    }

    /// A metric's value (in seconds for times), and how to show it.
    fn measure(&self, metric: &Metric, value: &Value) -> (Option<f64>, String) {
        let summary = self.metrics.summary();
        let seconds = |ns: Option<u64>| ns.map(|ns| ns as f64 / 1e9);
        let (measured, shown) = match metric {
            Metric::MsgsPerUpdate => {
                let v = summary.msgs_per_update;
                (v, v.map(|v| format!("{v:.1}")))
            }
            Metric::Convergence(quantile) => {
                let ns = match quantile {
                    Quantile::P50 => summary.convergence_p50_ns,
                    Quantile::P95 => summary.convergence_p95_ns,
                    Quantile::Max => summary.convergence_max_ns,
                };
                let v = seconds(ns);
                (v, v.map(|v| format!("{v:.3}s")))
            }
            Metric::Unconverged => {
                let v = summary.unconverged as f64;
                (Some(v), Some(format!("{v}")))
            }
            Metric::Drops => {
                let v = summary.drops as f64;
                (Some(v), Some(format!("{v}")))
            }
            Metric::Coverage(client) => match self.metrics.newest(client) {
                Some(update) => {
                    let (held, of) = update.coverage;
                    let shown = format!("{held}/{of}");
                    if matches!(value, Value::Percent(_)) {
                        let share = if of == 0 { 0.0 } else { held as f64 * 100.0 / of as f64 };
                        (Some(share), Some(format!("{shown} = {share:.0}%")))
                    } else {
                        (Some(held as f64), Some(shown))
                    }
                }
                None => (None, None),
            },
        };
        (measured, shown.unwrap_or_else(|| "no value yet".to_owned()))
    }
}
