//! The dashboard's model: everything the view shows, built from engine events and changed by
//! the operator's keys. Pure: time comes in as `now`, side effects go out as [`Effect`]s for
//! the event loop to carry out, and their results come back as [`Feedback`].
//!
//! The `:` line speaks the shared grammar of [`crate::command`]: every change to the herd
//! comes out as one typed [`Control`] ([`Effect::Control`]), client traffic as the protocol
//! line to send ([`Effect::Send`]); `filter`, `help` and `quit` stay here.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::time::Instant;

use super::clients::ClientBook;
use super::editor::LineEditor;
use super::graph::{EdgeFaults, EdgeState};
use super::history::History;
use super::panes::{Arrangement, Lists, Pane};
use super::playback::{Outcome, Playback};
use super::traffic::{Direction, TrafficLine, TrafficLog};
use crate::command::{self, Command, Context};
use crate::herd::control::{
    ActiveFault, Applied, Control, ControlError, Directed, Links, Policy,
    fmt_duration as canonical_duration, fmt_rate,
};
use crate::herd::{EventKind, HerdEvent, HerdSnapshot, LinkFaultsView, LinkState, ServerId};

/// The default display time of one hop in the replay.
pub const DEFAULT_HOP: Duration = Duration::from_millis(600);
/// Step of the `+`/`-` keys on a link's delay, or on every link's.
pub const DELAY_STEP: Duration = Duration::from_millis(100);
/// How often the Faults overlay reads the counters and time left again while it is open.
pub const FAULTS_REFRESH: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct ServerModel {
    pub name: String,
    pub addr: Option<SocketAddr>,
    pub up: bool,
    /// Frozen by `hang`.
    pub hung: bool,
    /// False while an attached console cannot see it: `up` and `hung` are as last seen.
    pub seen: bool,
}

impl ServerModel {
    /// `unseen` (its state unknown), `killed`, `hung` or `up`, the first that holds.
    pub fn state(&self) -> &'static str {
        if !self.seen {
            "unseen"
        } else if !self.up {
            "killed"
        } else if self.hung {
            "hung"
        } else {
            "up"
        }
    }
}

#[derive(Debug, Clone)]
pub struct LinkModel {
    pub a: ServerId,
    pub b: ServerId,
    /// The faults on what `a` sends to `b`, and on what `b` sends to `a`.
    pub a_faults: LinkFaultsView,
    pub b_faults: LinkFaultsView,
    pub a_to_b: LinkState,
    pub b_to_a: LinkState,
}

impl LinkModel {
    /// Is either direction cut?
    pub fn cut(&self) -> bool {
        self.a_faults.cut || self.b_faults.cut
    }

    /// The faults of the direction from `from`.
    pub fn faults_mut(&mut self, from: ServerId) -> &mut LinkFaultsView {
        if from == self.a { &mut self.a_faults } else { &mut self.b_faults }
    }

    /// Both directions, `a`→`b` first.
    pub fn directions(&self) -> [Directed; 2] {
        [Directed::new(self.a, self.b), Directed::new(self.b, self.a)]
    }

    /// The state of the connection, cuts aside (a cut link stays connected).
    pub fn connection(&self, servers: &[ServerModel]) -> EdgeState {
        let up = |id: ServerId| servers.get(id).is_some_and(|s| s.up);
        let connected = |state: LinkState| state == LinkState::Up;
        if !up(self.a) || !up(self.b) {
            EdgeState::Idle
        } else if self.a_to_b == LinkState::Stalled || self.b_to_a == LinkState::Stalled {
            EdgeState::Stalled
        } else if connected(self.a_to_b) && connected(self.b_to_a) {
            EdgeState::Up
        } else {
            EdgeState::Reconnecting
        }
    }

    /// How the link is drawn: cut when cut both ways, else its connection's state (a cut one
    /// way is drawn from the faults of each direction).
    pub fn look(&self, servers: &[ServerModel]) -> EdgeState {
        if self.a_faults.cut && self.b_faults.cut {
            EdgeState::Cut
        } else {
            self.connection(servers)
        }
    }

    /// Does every report get through: connected both ways, and cut neither way?
    pub fn is_up(&self, servers: &[ServerModel]) -> bool {
        !self.cut() && self.connection(servers) == EdgeState::Up
    }

    /// Does anything of the operator's affect it?
    pub fn has_faults(&self) -> bool {
        !self.a_faults.is_clear() || !self.b_faults.is_clear()
    }

    /// The faults in words, for the selected link's title: `cut, loss 20% both ways`, or
    /// direction by direction (`Bona->Clark cut; Clark->Bona delay 200ms`).
    pub fn faults_text(&self, names: &[String]) -> String {
        let name = |id: ServerId| names.get(id).map_or("?", String::as_str);
        let (there, back) = (fault_words(&self.a_faults), fault_words(&self.b_faults));
        if there.is_empty() && back.is_empty() {
            return String::new();
        }
        if there == back {
            return format!("{there} both ways");
        }
        let mut parts = Vec::new();
        if !there.is_empty() {
            parts.push(format!("{}->{} {there}", name(self.a), name(self.b)));
        }
        if !back.is_empty() {
            parts.push(format!("{}->{} {back}", name(self.b), name(self.a)));
        }
        parts.join("; ")
    }
}

/// What the graph marks of one direction's faults.
pub fn edge_faults(view: &LinkFaultsView) -> EdgeFaults {
    EdgeFaults {
        cut: view.cut,
        loss: view.loss.is_some(),
        delay: view.delay.is_some_and(|d| !d.delay.is_zero() || !d.jitter.is_zero()),
        dup: view.dup.is_some(),
    }
}

/// One direction's faults in words: `cut, loss 20%, delay 200ms±50ms, dup 10%`.
pub(super) fn fault_words(view: &LinkFaultsView) -> String {
    let mut words = Vec::new();
    if view.cut {
        words.push("cut".to_owned());
    }
    if let Some(loss) = view.loss {
        words.push(format!("loss {}", fmt_rate(loss.rate)));
    }
    if let Some(delay) = view.delay.filter(|d| !d.delay.is_zero() || !d.jitter.is_zero()) {
        let mut text = format!("delay {}", fmt_duration(delay.delay));
        if !delay.jitter.is_zero() {
            let _ = write!(text, "±{}", fmt_duration(delay.jitter));
        }
        words.push(text);
    }
    if let Some(rate) = view.dup {
        words.push(format!("dup {}", fmt_rate(rate)));
    }
    words.join(", ")
}

/// The engine's traffic controls and flooding rule, as last read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStatus {
    pub paused: bool,
    pub held: usize,
    /// `delay all`.
    pub delay: Duration,
    pub policy: Policy,
    /// Anti-entropy's period, if it is on.
    pub anti_entropy: Option<Duration>,
    pub seed: u64,
}

/// The faults in force, as last read from the herd.
#[derive(Debug, Clone, Default)]
pub struct FaultList {
    pub faults: Vec<ActiveFault>,
    /// When they were read: each `remaining` counts down from then.
    pub read_at: Option<Instant>,
    /// An event said they changed since they were read.
    pub stale: bool,
}

impl FaultList {
    pub fn set(&mut self, faults: Vec<ActiveFault>, now: Instant) {
        self.faults = faults;
        self.read_at = Some(now);
        self.stale = false;
    }

    /// Time left at `now` before `fault` heals itself, if it was given `for`.
    pub fn remaining(&self, fault: &ActiveFault, now: Instant) -> Option<Duration> {
        let read_at = self.read_at.unwrap_or(now);
        fault.remaining.map(|left| left.saturating_sub(now.saturating_duration_since(read_at)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    Node(ServerId),
    Link(usize),
}

/// What the operator is doing.
#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    Command(LineEditor),
    Confirm {
        prompt: String,
        effect: Effect,
    },
    Help {
        scroll: u16,
    },
    Popup {
        title: String,
        lines: Vec<String>,
        scroll: u16,
    },
    /// The active faults, their counters and time left.
    Faults {
        scroll: u16,
    },
    /// What each update cost and how fast it converged, from [`App::metrics`]; `scroll`
    /// counts updates skipped from the newest.
    Metrics {
        scroll: u16,
    },
    /// Typing the focused list's filter (`/`): it applies as typed.
    Find(LineEditor),
}

/// How a line sent to a server should be shown when its reply comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendKind {
    IAmAt,
    WhatsAt,
    Raw,
}

/// Something for the event loop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send `line` to `server` over TCP, like `nc`, and report the reply.
    Send {
        server: ServerId,
        line: String,
        kind: SendKind,
    },
    /// Apply a control to the herd.
    Control(Control),
    /// Tell the scenario being played what the presenter pressed.
    Lesson(crate::scenario::Key),
    Quit,
}

/// The result of an [`Effect`].
#[derive(Debug, Clone)]
pub enum Feedback {
    Reply {
        server: String,
        kind: SendKind,
        request: String,
        reply: String,
    },
    /// What the herd answered a control.
    Control(Result<Applied, ControlError>),
    /// A line could not be sent.
    Failed(String),
}

/// What a status message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Something the console did itself (a filter, a cancelled prompt).
    Info,
    /// The herd changed, or a server answered.
    Done,
    /// Nothing needed changing (`Bona->Clark is already cut`): not an error, not a change.
    Unchanged,
    Error,
}

/// A one-line message under the panes.
#[derive(Debug, Clone)]
pub struct Status {
    pub text: String,
    pub tone: Tone,
}

/// Messages per second over the last full second.
#[derive(Debug, Default)]
pub struct Rate {
    window_start: Option<Instant>,
    count: u64,
    pub last: u64,
}

impl Rate {
    fn add(&mut self, now: Instant) {
        self.roll(now);
        self.count += 1;
    }

    fn roll(&mut self, now: Instant) -> bool {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed < Duration::from_secs(1) {
            return false;
        }
        let before = self.last;
        self.last = if elapsed < Duration::from_secs(2) { self.count } else { 0 };
        self.count = 0;
        self.window_start = Some(now);
        before != self.last
    }
}

pub struct App {
    pub now: Instant,
    /// The wall-clock time of the view's instants (traffic lines show it).
    pub wall: crate::wall::Wall,
    pub title: String,
    pub servers: Vec<ServerModel>,
    pub links: Vec<LinkModel>,
    link_of: HashMap<(ServerId, ServerId), usize>,
    /// Node positions in [0,1]², y down.
    pub positions: Vec<(f64, f64)>,
    pub clients: ClientBook,
    pub traffic: TrafficLog,
    pub playback: Playback,
    pub rate: Rate,
    /// Events the view missed because it lagged behind the herd.
    pub lagged: u64,
    /// Reports the herd dropped between servers, by reason (every `dropped` event).
    pub drops: BTreeMap<&'static str, u64>,
    pub engine: EngineStatus,
    pub faults: FaultList,
    pub mode: Mode,
    pub selection: Selection,
    /// The traffic pane shows only this server.
    pub filter: Option<ServerId>,
    pub status: Option<Status>,
    pub history: History,
    /// Every update's flood so far, for `why` and the Metrics overlay (`M`); kept by the
    /// dashboard over a live herd.
    pub metrics: Option<crate::lab::metrics::Metrics>,
    /// The pane the keys for lists act on (and shown alone on small screens).
    pub focus: Pane,
    /// The focused pane fills the body.
    pub zoom: bool,
    pub arrangement: Arrangement,
    /// The colours, for a dark or a light terminal.
    pub theme: super::theme::Theme,
    /// Where the list panes are scrolled to, and what they are filtered by.
    pub lists: Lists,
    /// A scenario being played over the herd (`--scenario`, `herdctl tour`).
    pub lesson: Option<super::lesson::Lesson>,
    /// A recording shown instead of a live herd (`herdctl replay`).
    pub replay: Option<super::replay::Replay>,
    /// The herd's time when it is not `now`: in a replay, the instant of the recording shown
    /// (traffic and client ages count on it; the flood animation keeps `now`).
    pub herd_clock: Option<Instant>,
    pub quit: bool,
}

impl App {
    pub fn new(
        title: &str,
        snapshot: &HerdSnapshot,
        positions: Vec<(f64, f64)>,
        history: History,
        now: Instant,
    ) -> Self {
        let mut app = Self {
            now,
            wall: crate::wall::Wall::now(now),
            title: title.to_owned(),
            servers: Vec::new(),
            links: Vec::new(),
            link_of: HashMap::new(),
            positions,
            clients: ClientBook::new(snapshot.servers.len()),
            traffic: TrafficLog::default(),
            playback: Playback::new(DEFAULT_HOP),
            rate: Rate::default(),
            lagged: 0,
            drops: BTreeMap::new(),
            engine: EngineStatus::default(),
            faults: FaultList::default(),
            mode: Mode::Normal,
            selection: Selection::Node(0),
            filter: None,
            status: None,
            history,
            metrics: None,
            focus: Pane::Graph,
            zoom: false,
            arrangement: Arrangement::default(),
            theme: super::theme::Theme::default(),
            lists: Lists::default(),
            lesson: None,
            replay: None,
            herd_clock: None,
            quit: false,
        };
        app.load(snapshot);
        app
    }

    /// Rebuilds servers, links, clients and faults from a snapshot of the herd.
    pub fn load(&mut self, snapshot: &HerdSnapshot) {
        self.servers = snapshot
            .servers
            .iter()
            .map(|s| ServerModel {
                name: s.name.clone(),
                addr: s.addr,
                up: s.up,
                hung: s.hung,
                seen: true,
            })
            .collect();
        self.links = snapshot
            .links
            .iter()
            .map(|l| LinkModel {
                a: l.a,
                b: l.b,
                a_faults: l.a_faults.clone(),
                b_faults: l.b_faults.clone(),
                a_to_b: l.a_to_b,
                b_to_a: l.b_to_a,
            })
            .collect();
        self.link_of.clear();
        for (i, link) in self.links.iter().enumerate() {
            self.link_of.insert((link.a, link.b), i);
            self.link_of.insert((link.b, link.a), i);
        }
        self.clients.clear();
        let at = self.herd_now();
        for server in &snapshot.servers {
            for line in &server.clients {
                if let Some(client) = line.split(' ').nth(3) {
                    self.clients.stored(server.id, &client.into(), line, at);
                }
            }
        }
        self.engine.seed = snapshot.seed;
        self.refresh(snapshot);
        self.playback.clear();
    }

    /// Takes in the faults from a fresh snapshot: the list with its counters and time left
    /// (which change without events), each link's faults and each server's hang (which
    /// events announce, but a snapshot is the truth after a control whose announcement fell
    /// short), and the herd-wide settings. Clients, connections and the replay are left
    /// alone.
    pub fn refresh(&mut self, snapshot: &HerdSnapshot) {
        self.faults.set(snapshot.faults.clone(), self.now);
        for link in &snapshot.links {
            if let Some(&i) = self.link_of.get(&(link.a, link.b)) {
                let model = &mut self.links[i];
                let (there, back) = if model.a == link.a {
                    (&link.a_faults, &link.b_faults)
                } else {
                    (&link.b_faults, &link.a_faults)
                };
                model.a_faults = there.clone();
                model.b_faults = back.clone();
            }
        }
        for (model, server) in self.servers.iter_mut().zip(&snapshot.servers) {
            model.hung = server.hung;
        }
        self.engine.paused = snapshot.paused;
        self.engine.held = snapshot.held;
        self.engine.policy = snapshot.policy;
        self.engine.anti_entropy = snapshot.anti_entropy;
    }

    /// Should the faults be read again now (before this frame is drawn)?
    pub fn faults_due(&self, now: Instant) -> bool {
        self.faults.stale
            || (matches!(self.mode, Mode::Faults { .. })
                && self
                    .faults
                    .read_at
                    .is_none_or(|read| now.saturating_duration_since(read) >= FAULTS_REFRESH))
    }

    /// The view fell behind and missed `missed` events: count it and start over from the truth.
    pub fn resync(&mut self, missed: u64, snapshot: &HerdSnapshot) {
        self.lagged += missed;
        self.load(snapshot);
    }

    /// The herd's time: [`App::herd_clock`] in a replay, else `now`.
    pub fn herd_now(&self) -> Instant {
        self.herd_clock.unwrap_or(self.now)
    }

    pub fn name(&self, id: ServerId) -> &str {
        self.servers.get(id).map_or("?", |s| s.name.as_str())
    }

    /// Server names by id.
    pub fn names(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.name.clone()).collect()
    }

    fn set_direction(&mut self, from: ServerId, to: ServerId, state: LinkState) {
        if let Some(&i) = self.link_of.get(&(from, to)) {
            let link = &mut self.links[i];
            if link.a == from {
                link.a_to_b = state;
            } else {
                link.b_to_a = state;
            }
        }
    }

    /// Takes in one engine event.
    pub fn apply(&mut self, event: &HerdEvent) {
        if let Some(metrics) = &mut self.metrics {
            metrics.apply(event);
        }
        let now = self.now;
        match &event.kind {
            EventKind::ServerStarted { server, addr } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    s.up = true;
                    s.addr = Some(*addr);
                }
            }
            EventKind::ServerStopped { server } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    s.up = false;
                    s.hung = false;
                }
                for link in &mut self.links {
                    if link.a == *server {
                        link.a_to_b = LinkState::Idle;
                    }
                    if link.b == *server {
                        link.b_to_a = LinkState::Idle;
                    }
                }
                self.clients.forget_server(*server);
                self.playback.server_stopped(*server);
            }
            EventKind::ServerHung { server, hung } => {
                if let Some(s) = self.servers.get_mut(*server) {
                    s.hung = *hung;
                }
                self.faults.stale = true;
            }
            EventKind::LineIn { server, peer, line } => {
                self.rate.add(now);
                self.log(Some(*server), Direction::In, Some(peer), line);
            }
            EventKind::LineOut { server, peer, line } => {
                self.log(Some(*server), Direction::Out, Some(peer), line);
            }
            EventKind::LocationStored { server, update, line, from } => {
                let client = &update.client;
                // The table takes the store in when the animation shows it.
                let shown = match from {
                    None => {
                        self.playback.origin(*server, client, now);
                        now
                    }
                    Some(from) => {
                        self.playback.arrived(*from, *server, client, Outcome::Stored, now)
                    }
                };
                self.clients.stored_shown(*server, client, line, self.herd_now(), shown, now);
            }
            EventKind::FloodSuppressed { .. }
            | EventKind::FloodQueued { .. }
            | EventKind::FloodDuplicated { .. }
            | EventKind::FloodHeld { .. }
            | EventKind::FloodReleased { .. }
            | EventKind::FloodSent { .. }
            | EventKind::FloodDropped { .. } => self.apply_flood(&event.kind),
            EventKind::PlacesAnswered { .. } => {}
            EventKind::LinkUp { from, to } | EventKind::LinkRecovered { from, to } => {
                self.set_direction(*from, *to, LinkState::Up);
            }
            EventKind::LinkStalled { from, to } => {
                self.set_direction(*from, *to, LinkState::Stalled);
            }
            EventKind::LinkDropped { from, to, .. } => {
                self.set_direction(*from, *to, LinkState::Down);
            }
            EventKind::LinkFaults { link, faults } => {
                if let Some(&i) = self.link_of.get(&(link.from, link.to)) {
                    *self.links[i].faults_mut(link.from) = faults.clone();
                }
                self.faults.stale = true;
            }
            EventKind::Controlled { control, text } => {
                self.controlled(control);
                self.faults.stale = true;
                self.log(None, Direction::Operator, None, &format!("⚙ {text}").into());
            }
            EventKind::FaultExpired { label } => {
                self.faults.stale = true;
                self.log(None, Direction::Operator, None, &format!("⚙ {label}: healed").into());
            }
        }
    }

    /// Takes in one event of a report's flood between servers.
    fn apply_flood(&mut self, kind: &EventKind) {
        let now = self.now;
        match kind {
            EventKind::FloodSuppressed { server, update, from: Some(from) } => {
                self.playback.arrived(*from, *server, &update.client, Outcome::Suppressed, now);
            }
            EventKind::FloodQueued { from, to, update, .. } => {
                self.playback.queued(*from, *to, &update.client, now, false);
            }
            EventKind::FloodDuplicated { from, to, update, fault } => {
                self.playback.queued(*from, *to, &update.client, now, false);
                // The traffic line names the receiver: the text need not.
                let text: Arc<str> =
                    format!("duplicated report of {} by {fault}", update.client).into();
                self.log(Some(*from), Direction::Flood(*to), None, &text);
            }
            EventKind::FloodHeld { from, to, update } => {
                self.playback.queued(*from, *to, &update.client, now, true);
            }
            EventKind::FloodReleased { from, to, update } => {
                self.playback.released(*from, *to, &update.client, now);
            }
            EventKind::FloodSent { from, to, line, .. } => {
                self.log(Some(*from), Direction::Flood(*to), None, line);
            }
            EventKind::FloodDropped { from, to, update, reason, fault } => {
                *self.drops.entry(reason.as_str()).or_default() += 1;
                self.playback.dropped(*from, *to, &update.client, now);
                // The fault says why when there is one (a cut, a loss); the traffic line
                // names the receiver.
                let text: Arc<str> = match fault {
                    Some(fault) => format!("dropped report of {} by {fault}", update.client),
                    None => format!(
                        "dropped report of {} for {}: {}",
                        update.client,
                        self.name(*to),
                        reason.as_str()
                    ),
                }
                .into();
                self.log(Some(*from), Direction::Flood(*to), None, &text);
            }
            _ => {}
        }
    }

    /// What a control the herd carried out changes in the picture (the faults themselves come
    /// as `LinkFaults` and `ServerHung` events).
    fn controlled(&mut self, control: &Control) {
        match control {
            Control::Pause => self.engine.paused = true,
            Control::Resume => {
                self.engine.paused = false;
                self.engine.held = 0;
            }
            Control::Reset => {
                self.engine.paused = false;
                self.engine.held = 0;
                self.engine.delay = Duration::ZERO;
            }
            Control::Delay { links: Links::All, delay, .. } => self.engine.delay = delay.delay,
            Control::Policy { policy } => self.engine.policy = *policy,
            Control::AntiEntropy { every } => self.engine.anti_entropy = *every,
            _ => {}
        }
    }

    fn log(
        &mut self,
        server: Option<ServerId>,
        direction: Direction,
        peer: Option<&SocketAddr>,
        text: &Arc<str>,
    ) {
        self.traffic.push(TrafficLine {
            id: 0,
            at: self.herd_now(),
            server,
            direction,
            peer: peer.map(|p| p.to_string().into()),
            text: text.clone(),
        });
    }

    /// Moves the clock; returns whether the picture changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        self.now = now;
        let moved = self.playback.advance(now);
        let shown = self.clients.show_due(now);
        let rate = self.rate.roll(now);
        moved || shown || rate || self.animating()
    }

    /// Does the view need frames even when nothing happens (something is moving)?
    pub fn animating(&self) -> bool {
        self.playback.animating(self.now) || self.clients.behind(self.now).is_some()
    }

    /// How far the view (the animation and the tables) is behind the herd, if it is.
    pub fn behind(&self) -> Option<Duration> {
        self.clients.behind(self.now)
    }

    /// `L`: the view skips the animation's backlog and shows the herd as it is now; the hops
    /// not animated are counted as skipped.
    pub fn jump_to_live(&mut self) {
        let stores = self.clients.show_all();
        let hops = self.playback.skip_all();
        self.say(format!(
            "live: {hops} hop{} and {stores} store{} shown at once (skipped)",
            if hops == 1 { "" } else { "s" },
            if stores == 1 { "" } else { "s" }
        ));
    }

    /// How long an idle view may sleep before its next frame, if it must wake at all: soon
    /// while messages flow (the rate falls back to 0), and every refresh of the Faults
    /// overlay while it is open (its counters and time left move without events), and every
    /// second while clients are listed (their ages move).
    pub fn idle_wake(&self) -> Option<Duration> {
        if self.rate.last > 0 {
            Some(Duration::from_millis(250))
        } else if matches!(self.mode, Mode::Faults { .. }) {
            Some(FAULTS_REFRESH)
        } else if !self.clients.is_empty() {
            // The clients' ages count seconds.
            Some(Duration::from_secs(1))
        } else {
            None
        }
    }

    /// What the command line knows: the servers, the links and the clients seen so far.
    pub fn context(&self) -> Context {
        Context {
            servers: self.names(),
            links: self.links.iter().map(|l| (l.a, l.b)).collect(),
            clients: self.clients.ids(),
        }
    }

    pub(super) fn say(&mut self, text: impl Into<String>) {
        self.status = Some(Status { text: text.into(), tone: Tone::Info });
    }

    fn done(&mut self, text: impl Into<String>) {
        self.status = Some(Status { text: text.into(), tone: Tone::Done });
    }

    pub(super) fn complain(&mut self, text: impl Into<String>) {
        self.status = Some(Status { text: text.into(), tone: Tone::Error });
    }

    pub fn selected_server(&self) -> Option<ServerId> {
        match self.selection {
            Selection::Node(id) => Some(id),
            Selection::Link(_) => None,
        }
    }

    pub fn selected_link(&self) -> Option<&LinkModel> {
        match self.selection {
            Selection::Link(i) => self.links.get(i),
            Selection::Node(_) => None,
        }
    }

    /// Takes in what the scenario being played says.
    pub fn cue(&mut self, cue: crate::scenario::Cue) {
        let Some(lesson) = &mut self.lesson else { return };
        if let Some(line) = lesson.cue(cue) {
            self.log(None, Direction::Operator, None, &line.into());
        }
    }

    /// A key while typing a list's filter: it applies as typed; Enter keeps it, Esc clears it.
    fn find_key(&mut self, key: KeyEvent) {
        let Mode::Find(editor) = &mut self.mode else { return };
        match key.code {
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Esc => {
                self.mode = Mode::Normal;
                self.lists.set_find(self.focus, String::new());
                return;
            }
            KeyCode::Backspace => editor.backspace(),
            KeyCode::Left => editor.left(),
            KeyCode::Right => editor.right(),
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => editor.set(""),
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => editor.insert(c),
            _ => {}
        }
        if let Mode::Find(editor) = &self.mode {
            let text = editor.text.clone();
            self.lists.set_find(self.focus, text);
        }
    }

    /// A warning about the herd (an attached server's endpoint lost, versions that differ): in
    /// the traffic pane and on the status line.
    pub fn notice(&mut self, text: String) {
        self.log(None, Direction::Operator, None, &format!("⚠ {text}").into());
        self.complain(text);
    }

    /// Takes in the result of an effect.
    pub fn feedback(&mut self, feedback: Feedback) {
        if matches!(feedback, Feedback::Control(_)) {
            // Read the faults again after every answer, changed or not.
            self.faults.stale = true;
        }
        match feedback {
            Feedback::Control(Ok(Applied::Changed { text })) => self.done(text),
            Feedback::Control(Ok(Applied::Unchanged { text })) => {
                self.status = Some(Status { text, tone: Tone::Unchanged });
            }
            Feedback::Control(Ok(applied @ Applied::Faults { .. })) => {
                self.say(applied.text());
                if let Applied::Faults { faults } = applied {
                    self.faults.set(faults, self.now);
                }
                self.mode = Mode::Faults { scroll: 0 };
            }
            Feedback::Control(Err(err)) => self.complain(err.to_string()),
            Feedback::Failed(text) => self.complain(text),
            Feedback::Reply { server, kind, request, reply } => {
                let first = reply.lines().next().unwrap_or("").to_owned();
                if reply.is_empty() {
                    self.done(format!("{server}: (no reply) to {request}"));
                } else if kind == SendKind::WhatsAt && !first.starts_with("? ") {
                    let mut lines = vec![format!("> {request}")];
                    lines.extend(reply.lines().map(str::to_owned));
                    self.mode = Mode::Popup {
                        title: format!(" WHATSAT reply from {server} "),
                        lines,
                        scroll: 0,
                    };
                } else if reply.lines().count() > 1 {
                    let mut lines = vec![format!("> {request}")];
                    lines.extend(reply.lines().map(str::to_owned));
                    self.mode =
                        Mode::Popup { title: format!(" reply from {server} "), lines, scroll: 0 };
                } else if first.starts_with("? ") {
                    self.complain(format!("{server}: {first}"));
                } else {
                    self.done(format!("{server}: {first}"));
                }
            }
        }
    }

    /// Takes in one key; returns what the event loop must do.
    pub fn key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return vec![Effect::Quit];
        }
        match &mut self.mode {
            Mode::Normal => self.normal_key(key),
            Mode::Command(_) => self.command_key(key),
            Mode::Find(_) => {
                self.find_key(key);
                vec![]
            }
            Mode::Confirm { effect, .. } => {
                let effect = effect.clone();
                // Only `y` confirms (and a second `q` a quit): Enter, pressed out of habit,
                // must not kill a server.
                let again = effect == Effect::Quit && key.code == KeyCode::Char('q');
                match key.code {
                    KeyCode::Char('y' | 'Y') => {
                        self.mode = Mode::Normal;
                        vec![effect]
                    }
                    _ if again => vec![effect],
                    KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {
                        self.mode = Mode::Normal;
                        self.say("cancelled");
                        vec![]
                    }
                    _ => vec![],
                }
            }
            Mode::Faults { .. } if key.code == KeyCode::Char('H') => {
                vec![Effect::Control(Control::HealAll)]
            }
            Mode::Faults { .. } if key.code == KeyCode::Char('x') => self.normal_key(key),
            // One overlay's key opens it over the other.
            Mode::Faults { .. } if key.code == KeyCode::Char('M') => self.normal_key(key),
            Mode::Metrics { .. } if key.code == KeyCode::Char('F') => self.normal_key(key),
            Mode::Help { scroll }
            | Mode::Popup { scroll, .. }
            | Mode::Faults { scroll }
            | Mode::Metrics { scroll } => {
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q' | '?' | 'F' | 'M') | KeyCode::Enter => {
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
                    KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                    KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(10),
                    KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                    KeyCode::Home => *scroll = 0,
                    _ => {}
                }
                vec![]
            }
        }
    }

    fn command_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let context = self.context();
        let Mode::Command(editor) = &mut self.mode else {
            return vec![];
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                let line = editor.text.trim().to_owned();
                if line.is_empty() {
                    self.mode = Mode::Normal;
                    return vec![];
                }
                match command::parse(&line, &context) {
                    Ok(command) => {
                        self.history.push(&line);
                        self.mode = Mode::Normal;
                        return self.run(&command);
                    }
                    Err(err) => {
                        editor.error = Some(match err.usage {
                            Some(usage) => format!("{} · expected: {usage}", err.message),
                            None => err.message,
                        });
                    }
                }
            }
            KeyCode::Tab => editor.complete(&context, false),
            KeyCode::BackTab => editor.complete(&context, true),
            KeyCode::Up => editor.older(&mut self.history),
            KeyCode::Down => editor.newer(&mut self.history),
            KeyCode::Left => editor.left(),
            KeyCode::Right => editor.right(),
            KeyCode::Home => editor.home(),
            KeyCode::End => editor.end(),
            KeyCode::Backspace if editor.text.is_empty() => self.mode = Mode::Normal,
            KeyCode::Backspace => editor.backspace(),
            KeyCode::Delete => editor.delete(),
            KeyCode::Char('w') if ctrl => editor.delete_word(),
            KeyCode::Char('u') if ctrl => editor.set(""),
            KeyCode::Char('a') if ctrl => editor.home(),
            KeyCode::Char('e') if ctrl => editor.end(),
            KeyCode::Char(c) if !ctrl => editor.insert(c),
            _ => {}
        }
        vec![]
    }

    /// Carries out a parsed command: local ones here, the rest as effects.
    fn run(&mut self, command: &Command) -> Vec<Effect> {
        let local = matches!(
            command,
            Command::Quit
                | Command::Why { .. }
                | Command::Status
                | Command::Filter(_)
                | Command::Help(_)
        );
        if self.replay.is_some() && !local {
            self.complain(super::replay::NO_HERD);
            return vec![];
        }
        let kind = match command {
            Command::Herd(control) => return vec![Effect::Control(control.clone())],
            Command::IAmAt { .. } => SendKind::IAmAt,
            Command::WhatsAt { .. } => SendKind::WhatsAt,
            Command::Send { .. } => SendKind::Raw,
            Command::Quit => return vec![Effect::Quit],
            Command::Why { client, server } => {
                let names: Vec<String> = self.servers.iter().map(|s| s.name.clone()).collect();
                match &self.metrics {
                    Some(metrics) => {
                        let why = crate::lab::why::why(metrics, client, *server, &names);
                        let lines = why.text(&names).lines().map(str::to_owned).collect();
                        let title = format!(" why {client} {} ", self.name(*server));
                        self.mode = Mode::Popup { title, lines, scroll: 0 };
                    }
                    None => self.complain("why needs the herd's events, which this view lacks"),
                }
                return vec![];
            }
            Command::Status => {
                let lines = self
                    .servers
                    .iter()
                    .map(|s| {
                        let addr = s.addr.map_or_else(String::new, |a| format!("  {a}"));
                        format!("{:<12} {}{addr}", s.name, s.state())
                    })
                    .collect();
                self.mode = Mode::Popup { title: " status ".into(), lines, scroll: 0 };
                return vec![];
            }
            Command::Filter(server) => {
                self.filter = server.filter(|&id| id < self.servers.len());
                let shown = self.filter.map_or("all servers", |id| self.name(id)).to_owned();
                self.say(format!("traffic: {shown}"));
                return vec![];
            }
            Command::Help(topic) => {
                match command::help(topic.as_deref()) {
                    Ok(lines) if topic.is_some() => {
                        self.mode = Mode::Popup { title: " help ".into(), lines, scroll: 0 };
                    }
                    Ok(_) => self.mode = Mode::Help { scroll: 0 },
                    Err(err) => self.complain(err.message),
                }
                return vec![];
            }
        };
        let Some((server, line)) = command::client_line(command) else { return vec![] };
        if self.servers.get(server).is_some_and(|s| s.hung) {
            let name = self.name(server).to_owned();
            self.say(format!("{name} is hung: it answers once unhung (g), or the wait times out"));
        }
        vec![Effect::Send { server, line, kind }]
    }
}

/// A duration for the eye: `0`, `350ms`, `1.5s`.
pub fn fmt_duration(d: Duration) -> String {
    if d.is_zero() {
        "0".into()
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// A time left, whole seconds rounded up (`5s`, `1m05s`), as the Faults overlay counts down.
pub fn fmt_left(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if secs < 60 { format!("{secs}s") } else { format!("{}m{:02}s", secs / 60, secs % 60) }
}

/// A period as the grammar writes it (`5s`, `1m30s`).
pub fn fmt_period(d: Duration) -> String {
    canonical_duration(d)
}
