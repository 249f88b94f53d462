//! Playing a scenario for a presenter: the run tells whoever shows the herd what happens as
//! [`Cue`]s, and takes its pace from the presenter's [`Key`]s: `n` starts the next step at
//! once, and stepping holds before every step until `n`.

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::{Instant, sleep_until};

use super::run::{Account, perform};
use super::{Report, Scenario, Status};
use crate::herd::Herdlike;

/// What a played scenario tells whoever shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cue {
    /// Step `index` (into `scenario.steps`) starts now.
    Started { index: usize },
    /// What a step (or one command of an `every` series) did: the line a headless run prints
    /// for it, without the newline, and its status. A `say` sends [`Cue::Say`] instead.
    Outcome { index: usize, status: Status, line: String },
    /// `say "text"`: a caption to show until the next `say` (an empty text clears it).
    Say(String),
    /// The run holds before step `index` until the presenter presses `n` (a `wait key` step,
    /// or any step while stepping).
    Waiting { index: usize },
    /// The run is over.
    Finished(Report),
}

/// What the presenter does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `n`: run the next step now (ends a `wait key`, or the wait for a step's time).
    Next,
    /// Step through the rest one step per `Next`, timings ignored (`true`), or play on the
    /// file's timings again (`false`).
    Stepping(bool),
}

/// Plays `scenario` against `herd` for a presenter: each step at its planned time (or, when
/// `stepping`, each after a [`Key::Next`]), sending [`Cue`]s on `cues` as it goes; returns the
/// same report as [`run`](super::run), also sent as [`Cue::Finished`].
///
/// A `Next` starts the next step at once (later `after` timings count from when it really
/// started); one pressed while a step runs counts for the next hold. A `wait key` step holds
/// until `Next` while playing; while stepping, the hold before it is its pause. Switching to
/// playing releases a hold for stepping (the step then waits for its planned time, at once if
/// that has passed), never a `wait key`. When `keys` closes the run ends at once, cutting the
/// running step short; when `cues` closes the run goes on untold.
pub async fn present(
    scenario: &Scenario,
    herd: &impl Herdlike,
    stepping: bool,
    cues: UnboundedSender<Cue>,
    keys: UnboundedReceiver<Key>,
) -> Report {
    let mut presenter = Presenter { keys, stepping, pending: false, closed: false };
    perform(scenario, herd, &mut Cues(cues), Some(&mut presenter)).await
}

/// The presented account: every line, caption and hold as a cue.
struct Cues(UnboundedSender<Cue>);

impl Cues {
    /// Sends `cue`; a closed channel is nobody watching, which the run does not mind.
    fn send(&self, cue: Cue) {
        self.0.send(cue).ok();
    }
}

impl Account for Cues {
    fn started(&mut self, index: usize) {
        self.send(Cue::Started { index });
    }

    fn waiting(&mut self, index: usize) {
        self.send(Cue::Waiting { index });
    }

    fn outcome(&mut self, index: usize, status: Status, line: String) {
        self.send(Cue::Outcome { index, status, line });
    }

    fn say(&mut self, text: &str) {
        self.send(Cue::Say(text.to_owned()));
    }

    fn finished(&mut self, report: &Report) {
        self.send(Cue::Finished(report.clone()));
    }
}

/// The presenter's side of a run: the keys, and what they have said so far.
pub(super) struct Presenter {
    keys: UnboundedReceiver<Key>,
    /// Holding before every step.
    stepping: bool,
    /// A `Next` pressed while a step ran, kept for the next hold.
    pending: bool,
    /// The keys channel closed: the run is to end.
    closed: bool,
}

impl Presenter {
    /// The next key, with a `Stepping` switch already applied; `None` once the keys close.
    async fn key(&mut self) -> Option<Key> {
        if self.closed {
            return None;
        }
        let key = self.keys.recv().await;
        match key {
            Some(Key::Stepping(stepping)) => self.stepping = stepping,
            Some(Key::Next) => {}
            None => self.closed = true,
        }
        key
    }

    /// Whether a `Next` was pressed since the last hold (forgetting it).
    fn take_next(&mut self) -> bool {
        std::mem::take(&mut self.pending)
    }

    /// Holds step `index` until it may start: until `planned` while playing, until a `Next`
    /// while stepping (telling `account` it waits). When it starts, or `None` when the keys
    /// closed.
    pub(super) async fn until(
        &mut self,
        index: usize,
        planned: Instant,
        account: &mut impl Account,
    ) -> Option<Instant> {
        let mut held = false;
        loop {
            if self.closed {
                return None;
            }
            if !self.stepping && planned <= Instant::now() {
                return Some(Instant::now());
            }
            if self.take_next() {
                return Some(Instant::now());
            }
            let key = if self.stepping {
                if !held {
                    account.waiting(index);
                }
                held = true;
                self.key().await
            } else {
                held = false;
                tokio::select! {
                    () = sleep_until(planned) => return Some(planned.max(Instant::now())),
                    key = self.key() => key,
                }
            };
            match key {
                None => return None,
                Some(Key::Next) => return Some(Instant::now()),
                Some(Key::Stepping(_)) => {}
            }
        }
    }

    /// Holds at the `wait key` step `index` until a `Next` (at once while stepping: the hold
    /// before the step was its pause); `false` when the keys closed.
    pub(super) async fn wait_key(&mut self, index: usize, account: &mut impl Account) -> bool {
        if self.closed {
            return false;
        }
        if self.stepping || self.take_next() {
            return true;
        }
        account.waiting(index);
        loop {
            match self.key().await {
                None => return false,
                Some(Key::Next) => return true,
                Some(Key::Stepping(_)) => {}
            }
        }
    }

    /// Listens while a step runs, keeping a `Next` for the next hold; returns once the keys
    /// close.
    pub(super) async fn watch(&mut self) {
        while let Some(key) = self.key().await {
            if key == Key::Next {
                self.pending = true;
            }
        }
    }
}
