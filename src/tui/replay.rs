//! Replaying a recorded trace (`herdctl replay FILE`): a clock over the trace's events that
//! plays at a chosen speed, pauses, steps one event at a time and jumps (to an update, to a
//! fault or control, anywhere on the timeline). The dashboard's model is brought to any
//! instant by applying the events up to it; going back starts again from the herd's state
//! when the recording began, so every pane shows exactly what the trace says held then.
//!
//! Two clocks: the replay clock (the recording's time, frozen while paused) stamps traffic
//! and client ages; the flood animation keeps the live dashboard's pace on the wall clock, so
//! a stepped hop still travels its edge.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::app::App;
use super::timeline::fmt_at;
use crate::config::Topology;
use crate::herd::control::{ActiveFault, Directed};
use crate::herd::{EventKind, HerdEvent, HerdSnapshot};
use crate::lab::metrics::Metrics;
use crate::trace::Trace;

/// Slowest and fastest replay speeds (the recording's time per wall-clock time).
pub const MIN_SPEED: f64 = 1.0 / 64.0;
pub const MAX_SPEED: f64 = 1024.0;

/// The answer to a key or command that would change the herd.
pub const NO_HERD: &str = "a replay shows a recording: it cannot change the herd";

/// What the faults did on one directed link since the recording began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounts {
    pub dropped: u64,
    pub duplicated: u64,
    pub delayed: u64,
}

/// A recording being replayed.
#[derive(Debug)]
pub struct Replay {
    /// The file, as the operator named it.
    pub name: String,
    /// The herd when the recording began.
    pub start: HerdSnapshot,
    /// The herd's shape, for the metrics fold.
    pub topology: Topology,
    pub events: Arc<[HerdEvent]>,
    /// `events[..applied]` are in the picture.
    pub applied: usize,
    /// The replay clock: the recording's time shown, in ns from its first event.
    pub at: u64,
    pub playing: bool,
    pub speed: f64,
    /// The first event's stamp (the clock's zero).
    origin: u64,
    /// The instant the replay clock's zero stands for.
    pub base: Instant,
    /// The wall-clock time the recording began (from its header).
    pub began: Option<std::time::SystemTime>,
    /// `(after_seq, missed)` per gap the recorder left, and whether the trace was cut short.
    pub gaps: Vec<(u64, u64)>,
    pub cut: bool,
    /// Per directed link, what its faults did so far.
    pub counts: HashMap<Directed, LinkCounts>,
    /// When each update began and each mark happened, on the replay clock (for the timeline).
    pub update_times: Vec<u64>,
    pub mark_times: Vec<u64>,
}

impl Replay {
    /// A replay of `trace` named `name`, at its start, paused; `topology` is the herd's
    /// (see [`topology_of`]).
    pub fn new(name: &str, trace: Trace, topology: Topology, base: Instant) -> Self {
        let start = trace.header.state.clone().unwrap_or_else(|| assumed_start(&trace));
        let origin = trace.events.first().map_or(0, |e| e.t_ns);
        let times = |wanted: fn(&EventKind) -> bool| -> Vec<u64> {
            let picked = trace.events.iter().filter(|e| wanted(&e.kind));
            picked.map(|e| e.t_ns.saturating_sub(origin)).collect()
        };
        let (update_times, mark_times) = (times(is_update), times(is_mark));
        Self {
            name: name.to_owned(),
            start,
            topology,
            events: trace.events.into(),
            applied: 0,
            at: 0,
            playing: false,
            speed: 1.0,
            origin,
            base,
            began: crate::wall::parse_log(&trace.header.started),
            gaps: trace.gaps,
            cut: trace.cut,
            counts: HashMap::new(),
            update_times,
            mark_times,
        }
    }

    /// An event's time on the replay clock.
    pub fn time_of(&self, event: &HerdEvent) -> u64 {
        event.t_ns.saturating_sub(self.origin)
    }

    /// The replay clock at its last event.
    pub fn end(&self) -> u64 {
        self.events.last().map_or(0, |e| self.time_of(e))
    }

    /// The instant that stands for `at` on the replay clock.
    pub fn instant(&self, at: u64) -> Instant {
        self.base + Duration::from_nanos(at)
    }

    /// How many events happened at or before `at`.
    pub fn upto(&self, at: u64) -> usize {
        self.events.partition_point(|e| self.time_of(e) <= at)
    }

    /// Events missed by the recorder, in all.
    pub fn missed(&self) -> u64 {
        self.gaps.iter().map(|&(_, missed)| missed).sum()
    }

    /// The next event after those applied that `wanted` picks (its index).
    pub fn next(&self, wanted: fn(&EventKind) -> bool) -> Option<usize> {
        (self.applied..self.events.len()).find(|&i| wanted(&self.events[i].kind))
    }

    /// The last such event before the newest applied one (its index).
    pub fn previous(&self, wanted: fn(&EventKind) -> bool) -> Option<usize> {
        (0..self.applied.saturating_sub(1)).rev().find(|&i| wanted(&self.events[i].kind))
    }

    /// Counts what a fault did to one report.
    fn count(&mut self, kind: &EventKind) {
        let (link, field): (Directed, fn(&mut LinkCounts) -> &mut u64) = match kind {
            EventKind::FloodDropped { from, to, fault: Some(_), .. } => {
                (Directed::new(*from, *to), |c| &mut c.dropped)
            }
            EventKind::FloodDuplicated { from, to, .. } => {
                (Directed::new(*from, *to), |c| &mut c.duplicated)
            }
            EventKind::FloodQueued { from, to, delayed_by: Some(_), .. } => {
                (Directed::new(*from, *to), |c| &mut c.delayed)
            }
            _ => return,
        };
        *field(self.counts.entry(link).or_default()) += 1;
    }

    /// The faults in force as the Faults overlay lists them in a replay: one row per
    /// directed link with faults (from the links' views at this instant), with what they
    /// did since the recording began; `names` by server id.
    pub fn faults(&self, app: &App) -> Vec<ActiveFault> {
        let names = app.names();
        let name = |id: usize| names.get(id).map_or("?", String::as_str);
        let mut rows = Vec::new();
        for link in &app.links {
            for (direction, view) in [
                (Directed::new(link.a, link.b), &link.a_faults),
                (Directed::new(link.b, link.a), &link.b_faults),
            ] {
                if view.is_clear() {
                    continue;
                }
                let words = super::app::fault_words(view);
                let counts = self.counts.get(&direction).copied().unwrap_or_default();
                rows.push(ActiveFault {
                    label: format!("{}->{} {words}", name(direction.from), name(direction.to)),
                    dropped: counts.dropped,
                    duplicated: counts.duplicated,
                    delayed: counts.delayed,
                    remaining: None,
                });
            }
        }
        rows
    }
}

/// Is this event the start of an update (a store straight from a client)?
pub fn is_update(kind: &EventKind) -> bool {
    matches!(kind, EventKind::LocationStored { from: None, .. })
}

/// Is this event an operator's action, a fault healing itself, or a server stopping or
/// starting (the marks on the timeline)?
pub fn is_mark(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Controlled { .. }
            | EventKind::FaultExpired { .. }
            | EventKind::ServerStopped { .. }
            | EventKind::ServerStarted { .. }
    )
}

/// The herd a trace was recorded from: its preset or file when that still names the same
/// servers and links (for its layout), else one built from the trace's header.
pub fn topology_of(trace: &Trace) -> Topology {
    let header = &trace.header;
    Topology::load(&header.topology, 0)
        .ok()
        .filter(|t| {
            t.servers.iter().map(|s| &s.name).eq(header.servers.iter()) && t.links() == header.links
        })
        .unwrap_or_else(|| Topology::from_links(&header.servers, &header.links))
}

/// A trace without the herd's starting state (written before it was recorded): every
/// server up, no client, no fault, every link connected.
fn assumed_start(trace: &Trace) -> HerdSnapshot {
    let header = &trace.header;
    let mut start = HerdSnapshot::healthy(&header.servers, &header.links);
    (start.policy, start.seed) = (header.policy, header.seed);
    start
}

impl App {
    pub(super) fn set_speed(&mut self, speed: f64) {
        let Some(replay) = &mut self.replay else { return };
        replay.speed = speed.clamp(MIN_SPEED, MAX_SPEED);
        let text = format!("replay speed {}", super::timeline::fmt_speed(replay.speed));
        self.say(text);
    }

    /// Jumps to event `index` and says what it was, or says `none`.
    pub(super) fn jump(&mut self, index: Option<usize>, none: &str) {
        let Some(replay) = &self.replay else { return };
        let Some(event) = index.and_then(|i| replay.events.get(i)) else {
            self.say(none);
            return;
        };
        let text = format!("{}: {}", fmt_at(replay.time_of(event)), self.describe(&event.kind));
        if let Some(index) = index {
            self.replay_jump(index);
        }
        self.say(text);
    }

    /// A jump's target in words.
    fn describe(&self, kind: &EventKind) -> String {
        match kind {
            EventKind::LocationStored { server, update, .. } => {
                format!("update {}@{} at {}", update.client, update.time, self.name(*server))
            }
            EventKind::Controlled { text, .. } => format!("⚙ {text}"),
            EventKind::FaultExpired { label } => format!("⚙ {label}: healed"),
            EventKind::ServerStopped { server } => format!("{} stopped", self.name(*server)),
            EventKind::ServerStarted { server, .. } => format!("{} started", self.name(*server)),
            _ => "an event".to_owned(),
        }
    }

    /// Opens `replay` in this view, at the recording's start.
    pub fn start_replay(&mut self, replay: Replay) {
        self.wall = match replay.began {
            Some(began) => crate::wall::Wall::local(replay.base, began),
            None => crate::wall::Wall::now(replay.base),
        };
        self.replay = Some(replay);
        self.rewind();
    }

    /// Back to the recording's start: the herd as it was, nothing applied.
    fn rewind(&mut self) {
        let Some(replay) = &mut self.replay else { return };
        replay.applied = 0;
        replay.at = 0;
        replay.counts.clear();
        let start = replay.start.clone();
        self.herd_clock = Some(replay.base);
        self.metrics = Some(Metrics::new(&replay.topology));
        self.traffic.clear();
        self.lagged = 0;
        self.drops.clear();
        self.playback.skipped = 0;
        self.load(&start);
    }

    /// Applies the events up to (not including) `target`, from the start again if it lies
    /// behind; the replay clock moves to `at` (at least the last applied event's time).
    fn replay_to(&mut self, target: usize, at: u64) {
        let Some(replay) = &self.replay else { return };
        if target < replay.applied {
            self.rewind();
        }
        let Some(replay) = &self.replay else { return };
        let events = replay.events.clone();
        let target = target.min(events.len());
        for i in replay.applied..target {
            let Some(replay) = &mut self.replay else { return };
            let event = &events[i];
            let t = replay.time_of(event);
            replay.count(&event.kind);
            replay.applied = i + 1;
            self.herd_clock = Some(replay.instant(t));
            self.apply(event);
        }
        if let Some(replay) = &mut self.replay {
            let last = replay.applied.checked_sub(1).map_or(0, |i| replay.time_of(&events[i]));
            replay.at = at.max(last);
            self.herd_clock = Some(replay.instant(replay.at));
        }
    }

    /// Jumps to the instant `at` on the replay clock: what happened by then is shown, and the
    /// flood animation starts afresh there.
    pub fn replay_seek(&mut self, at: u64) {
        let Some(replay) = &self.replay else { return };
        let at = at.min(replay.end());
        let target = replay.upto(at);
        self.replay_to(target, at);
        self.settle();
    }

    /// After a jump: nothing is animated, every store is shown.
    fn settle(&mut self) {
        self.playback.clear();
        self.clients.show_all();
    }

    /// Jumps to just after event `index` (it is the newest shown).
    pub fn replay_jump(&mut self, index: usize) {
        let Some(replay) = &self.replay else { return };
        let Some(event) = replay.events.get(index) else { return };
        let at = replay.time_of(event);
        self.replay_to(index + 1, at);
        self.settle();
    }

    /// One event forward (its hop is animated as live) or back.
    pub fn replay_step(&mut self, forward: bool) {
        let Some(replay) = &self.replay else { return };
        if forward {
            if let Some(event) = replay.events.get(replay.applied) {
                let at = replay.time_of(event);
                self.replay_to(replay.applied + 1, at);
            }
        } else if let Some(last) = replay.applied.checked_sub(2) {
            self.replay_jump(last);
        } else {
            self.rewind();
        }
    }

    /// Moves the replay clock by `elapsed` of wall-clock time at its speed while playing,
    /// applying the events it passes; stops at the end.
    pub fn replay_advance(&mut self, elapsed: Duration) {
        let Some(replay) = &self.replay else { return };
        if !replay.playing {
            return;
        }
        let step = (elapsed.as_secs_f64() * replay.speed * 1e9) as u64;
        let at = replay.at.saturating_add(step).min(replay.end());
        let target = replay.upto(at);
        let ended = at >= replay.end();
        self.replay_to(target, at);
        if let Some(replay) = &mut self.replay
            && ended
        {
            replay.playing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::herd::Update;
    use crate::herd::control::Policy;
    use crate::trace::{FORMAT, Header};
    use crate::tui::history::History;

    fn trace() -> Trace {
        let stored = |server, from, time: &str| EventKind::LocationStored {
            server,
            update: Update { client: "kiwi".into(), time: time.into() },
            line: format!("AT S{server} +0.1 kiwi +1+2 {time}").into(),
            from,
        };
        let kinds = vec![
            stored(0, None, "1.0"),
            stored(1, Some(0), "1.0"),
            EventKind::ServerStopped { server: 1 },
            stored(0, None, "2.0"),
        ];
        let events = kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| HerdEvent { seq: 10 + i as u64, t_ns: 5_000 + i as u64 * 1_000, kind })
            .collect();
        Trace {
            header: Header {
                format: FORMAT,
                herdctl: "0.1.0".into(),
                topology: "no such topology".into(),
                servers: vec!["S0".into(), "S1".into()],
                links: vec![(0, 1)],
                seed: 3,
                policy: Policy::Spec,
                started: "2024-01-01T00:00:00.000Z".into(),
                state: None,
            },
            events,
            gaps: Vec::new(),
            cut: false,
        }
    }

    fn app() -> App {
        let trace = trace();
        let topology = topology_of(&trace);
        let now = Instant::now();
        let replay = Replay::new("t.ndjson", trace, topology, now);
        let start = replay.start.clone();
        let mut app = App::new("t", &start, vec![(0.0, 0.0); 2], History::in_memory(), now);
        app.start_replay(replay);
        app
    }

    fn knows(app: &App, server: usize) -> bool {
        app.clients.rows().any(|row| row.known_by[server])
    }

    #[test]
    fn the_clock_starts_at_the_first_event_and_ends_at_the_last() {
        let app = app();
        let replay = app.replay.as_ref().unwrap();
        assert_eq!((replay.at, replay.end(), replay.applied), (0, 3_000, 0));
        assert_eq!(replay.upto(0), 1);
        assert_eq!(replay.upto(2_999), 3);
    }

    #[test]
    fn stepping_and_seeking_show_the_state_at_that_instant() {
        let mut app = app();
        app.replay_step(true);
        assert!(knows(&app, 0) && !knows(&app, 1));
        app.replay_step(true);
        assert!(knows(&app, 1));
        app.replay_step(true);
        assert!(!app.servers[1].up, "S1 was killed");
        app.replay_step(false);
        assert!(app.servers[1].up && knows(&app, 1), "back one event: S1 is up again");
        app.replay_seek(0);
        assert_eq!(app.replay.as_ref().unwrap().applied, 1);
        assert!(!knows(&app, 1));
        app.replay_seek(u64::MAX);
        assert_eq!(app.replay.as_ref().unwrap().applied, 4);
        assert_eq!(app.metrics.as_ref().unwrap().summary().updates, 2);
    }

    #[test]
    fn playing_moves_the_clock_at_its_speed_and_stops_at_the_end() {
        let mut app = app();
        app.replay.as_mut().unwrap().playing = true;
        app.replay.as_mut().unwrap().speed = 1e-6;
        app.replay_advance(Duration::from_millis(1500));
        let replay = app.replay.as_ref().unwrap();
        assert_eq!((replay.at, replay.applied), (1_500, 2));
        app.replay_advance(Duration::from_secs(60));
        let replay = app.replay.as_ref().unwrap();
        assert_eq!((replay.at, replay.applied, replay.playing), (3_000, 4, false));
    }

    #[test]
    fn jumps_find_the_next_and_previous_update_and_mark() {
        let mut app = app();
        let replay = app.replay.as_ref().unwrap();
        assert_eq!(replay.next(is_update), Some(0));
        assert_eq!(replay.next(is_mark), Some(2));
        app.replay_jump(3);
        let replay = app.replay.as_ref().unwrap();
        assert_eq!(replay.previous(is_update), Some(0));
        assert_eq!(replay.next(is_update), None);
    }
}
