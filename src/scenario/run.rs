//! Running a scenario against a live herd: each step at its time, on real sockets (client
//! commands as one connection each, controls through [`Herdlike::apply`]), expectations
//! checked against the herd's stored reports and a fold of its events. The same loop serves a
//! headless run, which prints its account, and a presented one, which sends it as cues and
//! takes its pace from a presenter's keys.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use tokio::sync::broadcast::error::TryRecvError;
use tokio::time::{Instant, sleep_until, timeout};

use super::parse::NUMBER;
use super::present::Presenter;
use super::{
    Action, Condition, Metric, Quantile, Report, Scenario, Status, Step, StepReport, Timing, Value,
};
use crate::command::{self, Command, Context};
use crate::herd::{Applied, EventKind, HerdEvent, Herdlike, Subscription};
use crate::lab::metrics::{Metrics, Summary};
use crate::protocol::ClientTime;

/// How often a `wait until` looks again when no event comes.
const RECHECK: Duration = Duration::from_millis(10);

/// Runs `scenario` against `herd`, printing each step on `out` as it runs (`✓`/`✗` and the
/// measured value for expectations), and returns what happened. A `wait until` that times
/// out ends the run there.
pub async fn run(scenario: &Scenario, herd: &impl Herdlike, out: &mut impl Write) -> Report {
    perform(scenario, herd, &mut Printer(out), None).await
}

/// Where a run's account of itself goes: lines on a writer, or cues for whoever shows it.
pub(super) trait Account {
    /// Step `index` starts now.
    fn started(&mut self, _index: usize) {}
    /// The run holds before step `index` until the presenter's next key.
    fn waiting(&mut self, _index: usize) {}
    /// What step `index` (or one command of its series) did, as one line.
    fn outcome(&mut self, index: usize, status: Status, line: String);
    /// A line of narration.
    fn say(&mut self, text: &str);
    /// The run is over.
    fn finished(&mut self, report: &Report);
}

/// The headless account: a line per step on a writer, `» text` for narration, and the tally.
struct Printer<'a, W>(&'a mut W);

impl<W: Write> Account for Printer<'_, W> {
    fn outcome(&mut self, _index: usize, _status: Status, line: String) {
        writeln!(self.0, "{line}").ok();
    }

    fn say(&mut self, text: &str) {
        writeln!(self.0, "» {text}").ok();
    }

    fn finished(&mut self, report: &Report) {
        writeln!(self.0, "{} passed, {} failed", report.passed, report.failed).ok();
    }
}

/// When a step with `timing` is due, given when the run and the previous step started and
/// when the previous step ended.
fn planned(
    timing: Timing,
    started: Instant,
    previous_start: Instant,
    previous_end: Instant,
) -> Instant {
    match timing {
        Timing::Next | Timing::Every { .. } => previous_end,
        Timing::At(at) => started + at,
        Timing::After(after) => previous_start + after,
    }
}

/// Runs `scenario` against `herd`, telling `account` what happens. Without a presenter each
/// step starts at its planned time; with one, the presenter's keys may hold a step, start it
/// early, or end the run.
pub(super) async fn perform(
    scenario: &Scenario,
    herd: &impl Herdlike,
    account: &mut impl Account,
    mut presenter: Option<&mut Presenter>,
) -> Report {
    let mut runner = Runner::new(herd);
    let (mut previous_start, mut previous_end) = (runner.started, runner.started);
    for (index, step) in scenario.steps.iter().enumerate() {
        let planned = planned(step.timing, runner.started, previous_start, previous_end);
        let begin = if let Some(presenter) = presenter.as_deref_mut() {
            presenter.until(index, planned, account).await
        } else {
            sleep_until(planned).await;
            Some(planned.max(Instant::now()))
        };
        let Some(mut begin) = begin else { break };
        account.started(index);
        let go_on = if let Some(presenter) = presenter.as_deref_mut() {
            if step.action == Action::WaitKey {
                if !presenter.wait_key(index, account).await {
                    break;
                }
                // What follows counts from the release.
                begin = Instant::now();
            }
            tokio::select! {
                go_on = runner.step(index, step, begin, account) => go_on,
                () = presenter.watch() => false,
            }
        } else {
            runner.step(index, step, begin, account).await
        };
        previous_start = begin;
        previous_end = Instant::now();
        if !go_on {
            break;
        }
    }
    runner.drain();
    let mut report = runner.report;
    report.metrics = runner.metrics.summary();
    account.finished(&report);
    report
}

struct Runner<'a, H: Herdlike> {
    herd: &'a H,
    context: Context,
    events: Subscription,
    metrics: Metrics,
    /// The newest client time stored anywhere, per client.
    newest: HashMap<String, String>,
    started: Instant,
    report: Report,
}

impl<'a, H: Herdlike> Runner<'a, H> {
    fn new(herd: &'a H) -> Self {
        Runner {
            herd,
            context: Context::new(herd.topology()),
            events: herd.events(),
            metrics: Metrics::new(herd.topology()),
            newest: HashMap::new(),
            started: Instant::now(),
            report: Report { steps: Vec::new(), passed: 0, failed: 0, metrics: Summary::default() },
        }
    }

    /// Runs one step (a whole series for `every`); `false` ends the run.
    async fn step(
        &mut self,
        index: usize,
        step: &Step,
        begin: Instant,
        out: &mut impl Account,
    ) -> bool {
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
                        self.record(index, step.line, &text, outcome.map(Some), out);
                        n += 1;
                    }
                    sleep_until(begin + lasting).await;
                } else {
                    let outcome = self.command(command).await;
                    self.record(index, step.line, template, outcome.map(Some), out);
                }
                true
            }
            Action::Expect(condition) => {
                self.drain();
                let (held, detail) = self.check(condition);
                self.verdict(index, step, held, detail, out);
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
                        self.verdict(index, step, held, detail, out);
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
                out.say(text);
                self.push(step.line, &step.text, at_s, Status::Done, None);
                true
            }
            Action::WaitKey => {
                self.record(index, step.line, &step.text, Ok(None), out);
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

    /// Tells and records what a command (or pause) of step `index` on `line` did: done, or
    /// failed and why.
    fn record(
        &mut self,
        index: usize,
        line: usize,
        text: &str,
        outcome: Result<Option<String>, String>,
        out: &mut impl Account,
    ) {
        let at_s = self.elapsed();
        let (status, detail, mark) = match outcome {
            Ok(detail) => (Status::Done, detail, ' '),
            Err(why) => (Status::Failed, Some(why), '✗'),
        };
        let shown = match &detail {
            Some(detail) if !detail.is_empty() => format!("{mark} {at_s:.3}s {text} → {detail}"),
            _ => format!("{mark} {at_s:.3}s {text}"),
        };
        out.outcome(index, status, shown);
        self.push(line, text, at_s, status, detail);
    }

    /// Tells and records whether the condition of step `index` held, with what was measured.
    fn verdict(
        &mut self,
        index: usize,
        step: &Step,
        held: bool,
        detail: String,
        out: &mut impl Account,
    ) {
        let at_s = self.elapsed();
        let (status, mark) = if held { (Status::Passed, '✓') } else { (Status::Failed, '✗') };
        out.outcome(index, status, format!("{mark} {at_s:.3}s {} ({detail})", step.text));
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
