//! Scenario files: a lesson or an experiment written in the console's grammar, one step per
//! line, run against a live herd on real sockets, with expectations checked as it goes.
//!
//! ```text
//! # assets/scenarios/cut-vertex.herd
//! topology cs131-2019
//! seed 7
//! at 0s     iamat Goloman kiwi +34.068930-118.445127
//! after 50ms expect converged kiwi within 100ms
//! at 200ms  kill Holiday
//! every 100ms for 1s iamat Hands k{n} +34.0-118.0
//! expect msgs_per_update <= 8
//! ```
//!
//! A line is blank, a comment (its first word starts with `#`), a header (`topology NAME`,
//! `seed N`: defaults that the command line's options override, read by [`header`]) or a
//! step: an optional timing, then what to do.
//!
//! Timings: `at T` (from the start of the run), `after D` (from the start of the previous
//! step; an `every` series counts as one step lasting its `for`), `every D for T` (a command
//! repeated every D while under T, `{n}` in it numbered from 1), none (right after the
//! previous step ends).
//!
//! Steps: any command of the console's grammar but the console's own (`filter`, `help`,
//! `quit`); `expect CONDITION`; `wait until CONDITION within D` (the run fails, and stops, if
//! it does not hold in time); `say "text"` (printed, or a caption when presented); `wait key`
//! (a pause for a presenter, nothing in a headless run).
//!
//! Conditions: `S knows C` (S holds a report of C), `S knows C newest` (the newest update of
//! C seen in the run), `converged C within D` (C's newest update reached every server
//! reachable from its origin within D of its start: it is checked, not waited for), and
//! metrics compared with `<`, `<=`, `==`, `>=`, `>`: `msgs_per_update`, `convergence p50`,
//! `convergence p95`, `convergence max` (against a duration), `unconverged`, `drops`,
//! `coverage C` (servers holding C's newest update, or with `%` the share of those reachable).
//! `not CONDITION` negates one.
//!
//! [`run`] plays a scenario headless, printing each step; [`present`] plays it for whoever
//! shows the herd, telling it each step as a [`Cue`] and taking its pace from a presenter's
//! [`Key`]s.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::command::Command;
use crate::herd::ServerId;

mod parse;
mod present;
mod run;
#[cfg(test)]
mod tests;

pub use parse::{header, parse};
pub use present::{Cue, Key, present};
pub use run::run;

/// A parsed scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file's name, as errors and reports cite it.
    pub file: String,
    /// The `topology` header, if any.
    pub topology: Option<String>,
    /// The `seed` header, if any.
    pub seed: Option<u64>,
    pub steps: Vec<Step>,
}

/// One line that does something.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based line number in the file.
    pub line: usize,
    /// The line as written, trimmed.
    pub text: String,
    pub timing: Timing,
    pub action: Action,
}

/// When a step starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// Right after the previous step ends.
    Next,
    /// This long after the run started.
    At(Duration),
    /// This long after the previous step started.
    After(Duration),
    /// Repeated every `every` while under `lasting` (the step lasts `lasting`).
    Every { every: Duration, lasting: Duration },
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A command of the console's grammar; `template` is its text, with `{n}` where a series
    /// numbers it.
    Command { template: String, command: Command },
    /// Check a condition now.
    Expect(Condition),
    /// Wait for a condition, failing after `within`.
    WaitUntil { condition: Condition, within: Duration },
    /// Print a line of narration.
    Say(String),
    /// Wait for a key (a no-op headless).
    WaitKey,
}

/// Something true or false of the herd now.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `S knows C [newest]`.
    Knows { server: ServerId, client: String, newest: bool },
    /// `converged C within D`.
    Converged { client: String, within: Duration },
    /// `METRIC OP VALUE`.
    Compare { metric: Metric, op: Op, value: Value },
    /// `not CONDITION`.
    Not(Box<Condition>),
}

/// A measure of the run so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    MsgsPerUpdate,
    Convergence(Quantile),
    Unconverged,
    Drops,
    /// Servers holding the client's newest update.
    Coverage(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    P50,
    P95,
    Max,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Self::Lt => left < right,
            Self::Le => left <= right,
            Self::Eq => (left - right).abs() < 1e-9,
            Self::Ge => left >= right,
            Self::Gt => left > right,
        }
    }
}

/// What a metric is compared against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Number(f64),
    /// Compared in seconds.
    Duration(Duration),
    /// A share from 0 to 100 (`coverage C >= 100%`).
    Percent(f64),
}

/// Why a scenario file was refused: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A command, narration or pause that did its work.
    Done,
    /// An expectation (or wait) that held.
    Passed,
    /// An expectation that did not hold, a wait that timed out, or a command that failed.
    Failed,
}

/// One step as it ran (each run of a series is one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub line: usize,
    /// What ran (a series' command with its number filled in).
    pub text: String,
    /// Seconds from the start of the run.
    pub at_s: f64,
    pub status: Status,
    /// The measured value, the answer, or why it failed.
    pub detail: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub steps: Vec<StepReport>,
    /// Expectations and waits that held.
    pub passed: usize,
    /// Steps that failed.
    pub failed: usize,
    /// The run's flood metrics when it ended (convergence quantiles, messages per update,
    /// totals).
    pub metrics: crate::lab::metrics::Summary,
}

impl Report {
    /// The first failed step, if any.
    pub fn first_failure(&self) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.status == Status::Failed)
    }
}

/// How an attempt to run a scenario ended, for [`exit_code`].
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    /// It ran.
    Ran(&'a Report),
    /// The file was refused.
    Invalid(&'a ScenarioError),
    /// The herd did not start.
    NoHerd,
}

/// Every step did its work and every expectation held.
pub const EXIT_PASSED: i32 = 0;
/// The scenario ran, and at least one step failed.
pub const EXIT_FAILED: i32 = 1;
/// The file is not a valid scenario (nothing ran).
pub const EXIT_INVALID: i32 = 2;
/// The herd failed to start (nothing ran).
pub const EXIT_NO_HERD: i32 = 3;

/// The process exit code of `herdctl scenario`: `0` when every step held, `1` when one
/// failed, `2` for an invalid file, `3` when the herd failed to start.
pub fn exit_code(ending: Ending<'_>) -> i32 {
    match ending {
        Ending::Ran(report) if report.failed == 0 => EXIT_PASSED,
        Ending::Ran(_) => EXIT_FAILED,
        Ending::Invalid(_) => EXIT_INVALID,
        Ending::NoHerd => EXIT_NO_HERD,
    }
}
