//! The dashboard's model: everything the view shows, built from engine events and changed by
//! the operator's keys. Pure: time comes in as `now`, side effects go out as [`Effect`]s for
//! the event loop to carry out, and their results come back as [`Feedback`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::time::Instant;

use super::clients::ClientBook;
use super::command::{self, Command, Context};
use crate::herd::control::MAX_DELAY;
use super::editor::LineEditor;
use super::history::History;
use super::playback::{Outcome, Playback};
use super::traffic::{Direction, TrafficLine, TrafficLog};
use crate::herd::control::{Control, Directed, Links};
use crate::herd::{EventKind, HerdEvent, HerdSnapshot, LinkFaultsView, LinkState, ServerId};

/// The default display time of one hop in the replay.
pub const DEFAULT_HOP: Duration = Duration::from_millis(600);
/// Step of the `+`/`-` keys on the real link delay.
pub const DELAY_STEP: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct ServerModel {
    pub name: String,
    pub addr: Option<SocketAddr>,
    pub up: bool,
    /// Frozen by `hang`.
    pub hung: bool,
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

/// How a link is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkLook {
    Up,
    Reconnecting,
    /// A neighbour stopped reading: reports for it are dropped.
    Stalled,
    Cut,
    /// One end is killed.
    Idle,
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

    pub fn look(&self, servers: &[ServerModel]) -> LinkLook {
        if self.cut() {
            LinkLook::Cut
        } else if !servers[self.a].up || !servers[self.b].up {
            LinkLook::Idle
        } else if self.a_to_b == LinkState::Stalled || self.b_to_a == LinkState::Stalled {
            LinkLook::Stalled
        } else if self.a_to_b == LinkState::Up && self.b_to_a == LinkState::Up {
            LinkLook::Up
        } else {
            LinkLook::Reconnecting
        }
    }
}

/// The engine's traffic controls, as last read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStatus {
    pub paused: bool,
    pub held: usize,
    pub delay: Duration,
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
    Confirm { prompt: String, effect: Effect },
    Help { scroll: u16 },
    Popup { title: String, lines: Vec<String>, scroll: u16 },
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
        server: String,
        line: String,
        kind: SendKind,
    },
    /// Apply a control to the herd.
    Control(Control),
    Quit,
}

/// The result of an [`Effect`].
#[derive(Debug, Clone)]
pub enum Feedback {
    Reply { server: String, kind: SendKind, request: String, reply: String },
    Done(String),
    Failed(String),
}

/// A one-line message under the panes.
#[derive(Debug, Clone)]
pub struct Status {
    pub text: String,
    pub error: bool,
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
    /// When the dashboard started (traffic times are shown relative to it).
    pub started: Instant,
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
    pub engine: EngineStatus,
    pub mode: Mode,
    pub selection: Selection,
    /// The traffic pane shows only this server.
    pub filter: Option<ServerId>,
    pub status: Option<Status>,
    pub history: History,
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
            started: now,
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
            engine: EngineStatus::default(),
            mode: Mode::Normal,
            selection: Selection::Node(0),
            filter: None,
            status: None,
            history,
            quit: false,
        };
        app.load(snapshot);
        app
    }

    /// Rebuilds servers, links and clients from a snapshot of the herd.
    pub fn load(&mut self, snapshot: &HerdSnapshot) {
        self.servers = snapshot
            .servers
            .iter()
            .map(|s| ServerModel { name: s.name.clone(), addr: s.addr, up: s.up, hung: s.hung })
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
        for server in &snapshot.servers {
            for line in &server.clients {
                if let Some(client) = line.split(' ').nth(3) {
                    self.clients.stored(server.id, &client.into(), line, self.now);
                }
            }
        }
        self.engine.paused = snapshot.paused;
        self.engine.held = snapshot.held;
        self.playback.clear();
    }

    /// The view fell behind and missed `missed` events: count it and start over from the truth.
    pub fn resync(&mut self, missed: u64, snapshot: &HerdSnapshot) {
        self.lagged += missed;
        self.load(snapshot);
    }

    pub fn name(&self, id: ServerId) -> &str {
        self.servers.get(id).map_or("?", |s| s.name.as_str())
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
            }
            EventKind::LineIn { server, peer, line } => {
                self.rate.add(now);
                self.log(*server, Direction::In, Some(peer), line);
            }
            EventKind::LineOut { server, peer, line } => {
                self.log(*server, Direction::Out, Some(peer), line);
            }
            EventKind::LocationStored { server, update, line, from } => {
                let client = &update.client;
                self.clients.stored(*server, client, line, now);
                match from {
                    None => self.playback.origin(*server, client, now),
                    Some(from) => {
                        self.playback.arrived(*from, *server, client, Outcome::Stored, now);
                    }
                }
            }
            EventKind::FloodSuppressed { server, update, from: Some(from) } => {
                self.playback.arrived(*from, *server, &update.client, Outcome::Suppressed, now);
            }
            EventKind::FloodSuppressed { from: None, .. }
            | EventKind::PlacesAnswered { .. }
            | EventKind::FaultExpired { .. } => {}
            EventKind::FloodQueued { from, to, update, .. } => {
                self.playback.queued(*from, *to, &update.client, now, false);
            }
            EventKind::FloodDuplicated { from, to, update, fault } => {
                self.playback.queued(*from, *to, &update.client, now, false);
                let text: Arc<str> =
                    format!("duplicated report of {} by {fault}", update.client).into();
                self.log(*from, Direction::Flood(*to), None, &text);
            }
            EventKind::FloodHeld { from, to, update } => {
                self.playback.queued(*from, *to, &update.client, now, true);
            }
            EventKind::FloodReleased { from, to, update } => {
                self.playback.released(*from, *to, &update.client, now);
            }
            EventKind::FloodSent { from, to, line, .. } => {
                self.log(*from, Direction::Flood(*to), None, line);
            }
            EventKind::FloodDropped { from, to, update, reason, fault } => {
                self.playback.dropped(*from, *to, &update.client, now);
                let by = fault.as_ref().map_or(String::new(), |f| format!(" by {f}"));
                let text: Arc<str> = format!(
                    "dropped report of {} for {}: {}{by}",
                    update.client,
                    self.name(*to),
                    reason.as_str()
                )
                .into();
                self.log(*from, Direction::Flood(*to), None, &text);
            }
            EventKind::LinkUp { from, to } | EventKind::LinkRecovered { from, to } => {
                self.set_direction(*from, *to, LinkState::Up);
            }
            EventKind::LinkStalled { from, to } => {
                self.set_direction(*from, *to, LinkState::Stalled);
            }
            EventKind::LinkDropped { from, to, .. } => {
                self.set_direction(*from, *to, LinkState::Down);
            }
            EventKind::LinkFaults { link, faults } => self.link_faults(*link, faults),
            EventKind::Controlled { control, .. } => self.controlled(control),
        }
    }

    fn link_faults(&mut self, link: Directed, faults: &LinkFaultsView) {
        if let Some(&i) = self.link_of.get(&(link.from, link.to)) {
            *self.links[i].faults_mut(link.from) = faults.clone();
        }
    }

    fn controlled(&mut self, control: &Control) {
        match control {
            Control::Pause => self.engine.paused = true,
            Control::Resume | Control::Reset => {
                self.engine.paused = false;
                self.engine.held = 0;
                if matches!(control, Control::Reset) {
                    self.engine.delay = Duration::ZERO;
                }
            }
            Control::Delay { links: Links::All, delay, .. } => self.engine.delay = delay.delay,
            _ => {}
        }
    }

    fn log(
        &mut self,
        server: ServerId,
        direction: Direction,
        peer: Option<&SocketAddr>,
        text: &Arc<str>,
    ) {
        self.traffic.push(TrafficLine {
            at: self.now,
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
        let rate = self.rate.roll(now);
        moved || rate || self.playback.animating(now)
    }

    /// Does the view need frames even when nothing happens (something is moving)?
    pub fn animating(&self) -> bool {
        self.playback.animating(self.now)
    }

    pub fn context(&self) -> Context {
        Context {
            servers: self.servers.iter().map(|s| s.name.clone()).collect(),
            links: self
                .links
                .iter()
                .map(|l| (self.servers[l.a].name.clone(), self.servers[l.b].name.clone()))
                .collect(),
            clients: self.clients.ids(),
        }
    }

    fn say(&mut self, text: impl Into<String>) {
        self.status = Some(Status { text: text.into(), error: false });
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.status = Some(Status { text: text.into(), error: true });
    }

    pub fn selected_server(&self) -> Option<ServerId> {
        match self.selection {
            Selection::Node(id) => Some(id),
            Selection::Link(_) => None,
        }
    }

    /// Takes in the result of an effect.
    pub fn feedback(&mut self, feedback: Feedback) {
        match feedback {
            Feedback::Done(text) => self.say(text),
            Feedback::Failed(text) => self.complain(text),
            Feedback::Reply { server, kind, request, reply } => {
                let first = reply.lines().next().unwrap_or("").to_owned();
                if reply.is_empty() {
                    self.say(format!("{server}: (no reply) to {request}"));
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
                    self.say(format!("{server}: {first}"));
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
            Mode::Confirm { effect, .. } => {
                let effect = effect.clone();
                match key.code {
                    KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                        self.mode = Mode::Normal;
                        vec![effect]
                    }
                    KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {
                        self.mode = Mode::Normal;
                        self.say("cancelled");
                        vec![]
                    }
                    _ => vec![],
                }
            }
            Mode::Help { scroll } | Mode::Popup { scroll, .. } => {
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q' | '?') | KeyCode::Enter => {
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

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let selected = self.selected_server().map(|id| self.servers[id].name.clone());
        let link = match self.selection {
            Selection::Link(i) => {
                let (a, b) = (self.links[i].a, self.links[i].b);
                Some(vec![Directed::new(a, b), Directed::new(b, a)])
            }
            Selection::Node(_) => None,
        };
        match key.code {
            KeyCode::Char('q') => return vec![Effect::Quit],
            KeyCode::Char('?') => self.mode = Mode::Help { scroll: 0 },
            KeyCode::Char(':') => self.open_command(""),
            KeyCode::Char('i') => self.open_command(&with_server("iamat", selected.as_deref())),
            KeyCode::Char('w') => self.open_command(&with_server("whatsat", selected.as_deref())),
            KeyCode::Tab => self.cycle_selection(true),
            KeyCode::BackTab => self.cycle_selection(false),
            KeyCode::Left | KeyCode::Right | KeyCode::Up | KeyCode::Down => {
                self.move_selection(key.code);
            }
            KeyCode::Char('k') => match selected {
                Some(name) if self.servers.iter().any(|s| s.name == name && s.up) => {
                    self.mode = Mode::Confirm {
                        prompt: format!(
                            "kill {name}? its port closes and its clients are forgotten (y/n)"
                        ),
                        effect: self.control_on(&name, |server| Control::Kill { server }),
                    };
                }
                Some(name) => self.complain(format!("{name} is not running (r restarts it)")),
                None => self.complain("select a server first (Tab or arrows)"),
            },
            KeyCode::Char('r') => match selected {
                Some(name) => return vec![self.control_on(&name, |server| Control::Restart { server })],
                None => self.complain("select a server first (Tab or arrows)"),
            },
            KeyCode::Char('c') => match (link, selected) {
                (Some(links), _) => return vec![Effect::Control(Control::Cut { links, lasting: None })],
                (None, selected) => self.open_command(&with_server("cut", selected.as_deref())),
            },
            KeyCode::Char('h') => match (link, selected) {
                (Some(links), _) => return vec![Effect::Control(Control::Heal { links })],
                (None, selected) => self.open_command(&with_server("heal", selected.as_deref())),
            },
            KeyCode::Char('H') => return vec![Effect::Control(Control::HealAll)],
            KeyCode::Char('p') => {
                let control = if self.engine.paused { Control::Resume } else { Control::Pause };
                return vec![Effect::Control(control)];
            }
            KeyCode::Char('s' | '.') => return vec![Effect::Control(Control::Step)],
            KeyCode::Char('+' | '=') => {
                return vec![delay_all((self.engine.delay + DELAY_STEP).min(MAX_DELAY))];
            }
            KeyCode::Char('-' | '_') => {
                return vec![delay_all(self.engine.delay.saturating_sub(DELAY_STEP))];
            }
            KeyCode::Char(']') => self.set_hop(self.playback.hop.mul_f64(2.0 / 3.0)),
            KeyCode::Char('[') => self.set_hop(self.playback.hop.mul_f64(1.5)),
            KeyCode::Char('f') => {
                self.filter = match (self.filter, self.selected_server()) {
                    (None, Some(id)) => Some(id),
                    _ => None,
                };
                let shown = self.filter.map_or("all servers", |id| self.name(id)).to_owned();
                self.say(format!("traffic: {shown}"));
            }
            KeyCode::Esc => self.status = None,
            _ => {}
        }
        vec![]
    }

    fn set_hop(&mut self, hop: Duration) {
        self.playback.hop = hop.clamp(Duration::from_millis(50), Duration::from_secs(5));
        self.say(format!("replay: one hop shown for {}", fmt_duration(self.playback.hop)));
    }

    fn open_command(&mut self, text: &str) {
        self.history.reset_cursor();
        self.mode = Mode::Command(LineEditor::new(text));
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
                        return self.run(command);
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
    fn run(&mut self, command: Command) -> Vec<Effect> {
        let effect = match command {
            Command::IAmAt { server, client, coords, time } => {
                let time = time.unwrap_or_else(now_text);
                Effect::Send {
                    line: format!("IAMAT {client} {coords} {time}"),
                    server,
                    kind: SendKind::IAmAt,
                }
            }
            Command::WhatsAt { server, client, radius, bound } => Effect::Send {
                line: format!("WHATSAT {client} {radius} {bound}"),
                server,
                kind: SendKind::WhatsAt,
            },
            Command::Send { server, line } => Effect::Send { server, line, kind: SendKind::Raw },
            Command::Cut(a, b) => self.control_on_link(&a, &b, |links| Control::Cut { links, lasting: None }),
            Command::Heal(a, b) => self.control_on_link(&a, &b, |links| Control::Heal { links }),
            Command::HealAll => Effect::Control(Control::HealAll),
            Command::Kill(name) => self.control_on(&name, |server| Control::Kill { server }),
            Command::Restart(name) => self.control_on(&name, |server| Control::Restart { server }),
            Command::Pause => Effect::Control(Control::Pause),
            Command::Resume => Effect::Control(Control::Resume),
            Command::Step => Effect::Control(Control::Step),
            Command::Delay(delay) => delay_all(delay),
            Command::Quit => Effect::Quit,
            Command::Filter(server) => {
                self.filter =
                    server.and_then(|name| self.servers.iter().position(|s| s.name == name));
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
        vec![effect]
    }

    fn id(&self, name: &str) -> ServerId {
        self.servers.iter().position(|s| s.name == name).unwrap_or(usize::MAX)
    }

    fn control_on(&self, name: &str, control: impl FnOnce(ServerId) -> Control) -> Effect {
        Effect::Control(control(self.id(name)))
    }

    fn control_on_link(&self, a: &str, b: &str, control: impl FnOnce(Vec<Directed>) -> Control) -> Effect {
        let (a, b) = (self.id(a), self.id(b));
        Effect::Control(control(vec![Directed::new(a, b), Directed::new(b, a)]))
    }

    fn cycle_selection(&mut self, forward: bool) {
        let nodes = self.servers.len();
        let total = nodes + self.links.len();
        if total == 0 {
            return;
        }
        let current = match self.selection {
            Selection::Node(i) => i,
            Selection::Link(i) => nodes + i,
        };
        let next = if forward { (current + 1) % total } else { (current + total - 1) % total };
        self.selection =
            if next < nodes { Selection::Node(next) } else { Selection::Link(next - nodes) };
    }

    /// Arrows: the nearest node in that direction from the selected one.
    fn move_selection(&mut self, code: KeyCode) {
        let from = match self.selection {
            Selection::Node(i) => i,
            Selection::Link(i) => self.links[i].a,
        };
        let Some(&(x0, y0)) = self.positions.get(from) else { return };
        let (dx, dy) = match code {
            KeyCode::Left => (-1.0, 0.0),
            KeyCode::Right => (1.0, 0.0),
            KeyCode::Up => (0.0, -1.0),
            _ => (0.0, 1.0),
        };
        let best = self
            .positions
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != from)
            .filter_map(|(i, &(x, y))| {
                let (vx, vy) = (x - x0, y - y0);
                let along = vx * dx + vy * dy;
                let across = (vx * dy - vy * dx).abs();
                (along > 1e-9).then_some((i, along + 2.0 * across))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, _)) = best {
            self.selection = Selection::Node(i);
        }
    }
}

fn delay_all(delay: Duration) -> Effect {
    let delay = crate::herd::control::Delay { delay, ..Default::default() };
    Effect::Control(Control::Delay { links: Links::All, delay, lasting: None })
}

fn with_server(verb: &str, server: Option<&str>) -> String {
    match server {
        Some(server) => format!("{verb} {server} "),
        None => format!("{verb} "),
    }
}

/// Wall-clock now as POSIX seconds with nine fraction digits (an IAMAT's default time).
fn now_text() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

pub fn fmt_duration(d: Duration) -> String {
    if d.is_zero() {
        "0".into()
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
