//! What the dashboard's keys do in its normal mode: each key is looked up in the
//! [`keymap`](super::keymap) table, the first binding whose conditions hold gives the
//! action, and a key that means something only elsewhere says why it did nothing.

use std::time::Duration;

use crossterm::event::KeyEvent;

use super::app::{App, DELAY_STEP, Effect, Mode, Selection, fmt_duration};
use super::editor::LineEditor;
use super::keymap::{self, Action, Binding, Direction, Scroll, When};
use super::panes::{Arrangement, Pane};
use super::replay::{self, NO_HERD};
use crate::herd::control::{Control, Delay, Links, MAX_DELAY, Spread};
use crate::scenario::Key;

/// The values a prefilled fault line (`l`, `d`, `u`) starts with.
const PREFILL_LOSS: &str = "20%";
const PREFILL_DELAY: &str = "200ms";
const PREFILL_DUP: &str = "10%";

/// Rows a page key moves a list.
const PAGE: usize = 10;

/// What to say when a key applies only to a selected server.
const SELECT_SERVER: &str = "select a server first (Tab, arrows or a click)";

impl App {
    /// Does `when` hold now?
    pub fn holds(&self, when: When) -> bool {
        match when {
            When::Live => self.replay.is_none(),
            When::Replay => self.replay.is_some(),
            When::Lesson => self.lesson.as_ref().is_some_and(|l| !l.finished),
            When::Server => self.selected_server().is_some(),
            When::UpServer => {
                self.selected_server().is_some_and(|id| self.servers.get(id).is_some_and(|s| s.up))
            }
            When::Link => self.selected_link().is_some(),
            When::GraphFocus => matches!(self.focus, Pane::Graph | Pane::Map),
            When::ListFocus => self.focus.is_list(),
            When::Behind => self.behind().is_some(),
        }
    }

    /// Does `binding` apply now?
    pub fn applies(&self, binding: &Binding) -> bool {
        binding.when.iter().all(|&w| self.holds(w))
    }

    /// Takes a key in the normal mode.
    pub(super) fn normal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let mut elsewhere = None;
        for binding in keymap::of(key.code) {
            if self.applies(binding) {
                return self.act(binding.action);
            }
            elsewhere.get_or_insert(binding);
        }
        if let Some(binding) = elsewhere {
            self.explain(binding);
        }
        vec![]
    }

    /// Says why a key did nothing: what it needs that is not so now.
    fn explain(&mut self, binding: &Binding) {
        let missing = binding.when.iter().copied().find(|&w| !self.holds(w));
        let text = match missing {
            Some(When::Live) => NO_HERD.to_owned(),
            Some(When::Replay) => format!("{} works in a replay", binding.keys),
            Some(When::Lesson) => format!("{} steps a scenario: none is playing", binding.keys),
            Some(When::UpServer) => match self.selected_server() {
                Some(id) => format!("{} is not running (r restarts it)", self.name(id)),
                None => format!("{}: {SELECT_SERVER}", binding.keys),
            },
            Some(When::Server) => format!("{}: {SELECT_SERVER}", binding.keys),
            Some(When::Link) => format!("{}: select a link first (e)", binding.keys),
            Some(When::GraphFocus) => format!("{} acts on the topology: press 1", binding.keys),
            Some(When::Behind) => {
                "the view shows the herd as it is: nothing to catch up".to_owned()
            }
            Some(When::ListFocus) => {
                format!("{} acts on a list: press 2 (clients) or 3 (traffic)", binding.keys)
            }
            None => return,
        };
        self.complain(text);
    }

    /// Carries out one action (a key's, or a click's that does what a key does).
    pub(super) fn act(&mut self, action: Action) -> Vec<Effect> {
        let control = |control: Control| vec![Effect::Control(control)];
        match action {
            Action::Help => self.mode = Mode::Help { scroll: 0 },
            Action::Command => self.open_command(""),
            Action::Quit => return self.quit(),
            Action::IAmAt => self.open_command(&self.with_selected("iamat ")),
            Action::WhatsAt => self.open_command(&self.with_selected("whatsat ")),
            Action::Kill => self.confirm_kill(),
            Action::Restart => match self.selected_server() {
                Some(server) => return control(Control::Restart { server }),
                None => self.complain(SELECT_SERVER),
            },
            Action::Hang => return self.toggle_hang(),
            Action::Cut => match self.selected_link() {
                Some(link) => {
                    return control(Control::Cut {
                        links: link.directions().into(),
                        lasting: None,
                    });
                }
                None => self.open_command(&self.with_selected("cut ")),
            },
            Action::Heal => match self.selected_link() {
                Some(link) => return control(Control::Heal { links: link.directions().into() }),
                None => self.open_command(&self.with_selected("heal ")),
            },
            Action::OneWay(way) => return self.toggle_one_way(way),
            Action::Loss => self.prefill("loss", PREFILL_LOSS),
            Action::Delay => self.prefill("delay", PREFILL_DELAY),
            Action::Dup => self.prefill("dup", PREFILL_DUP),
            Action::DelayUp => return vec![self.step_delay(true)],
            Action::DelayDown => return vec![self.step_delay(false)],
            Action::HealAll => return control(Control::HealAll),
            Action::Reset => {
                self.mode = Mode::Confirm {
                    prompt: "reset? every fault is lifted (not kills), held reports go (y/n)"
                        .to_owned(),
                    effect: Effect::Control(Control::Reset),
                };
            }
            Action::Faults => {
                self.faults.stale = true;
                self.mode = Mode::Faults { scroll: 0 };
            }
            Action::Metrics => self.mode = Mode::Metrics { scroll: 0 },
            Action::Why => self.open_why(),
            Action::Pause => {
                return control(if self.engine.paused { Control::Resume } else { Control::Pause });
            }
            Action::Step => return control(Control::Step),
            Action::HopSlower => self.set_hop(self.playback.hop.mul_f64(1.5)),
            Action::HopFaster => self.set_hop(self.playback.hop.mul_f64(2.0 / 3.0)),
            Action::FilterServer => match (self.filter, self.selected_server()) {
                (None, None) => self.complain(format!("f: {SELECT_SERVER}")),
                (None, Some(id)) => {
                    self.filter = Some(id);
                    self.say(format!("traffic: {} only (f shows all)", self.name(id)));
                }
                (Some(_), _) => {
                    self.filter = None;
                    self.say("traffic: all servers");
                }
            },
            Action::Dismiss => {
                if self.lists.find(self.focus).is_empty() {
                    self.status = None;
                } else {
                    self.lists.set_find(self.focus, String::new());
                    self.say("filter cleared");
                }
            }
            Action::Live => self.jump_to_live(),
            Action::LessonNext => return vec![Effect::Lesson(Key::Next)],
            Action::LessonStepping => return self.toggle_stepping(),
            _ => self.view_action(action),
        }
        vec![]
    }

    /// The actions on the view itself: panes, layouts, selection, lists.
    fn view_action(&mut self, action: Action) {
        match action {
            Action::Focus(pane) => self.focus(pane),
            Action::Zoom => {
                self.zoom = !self.zoom;
                self.say(if self.zoom { "zoomed: z shows every pane" } else { "every pane" });
            }
            Action::Arrange => {
                self.arrangement = self.arrangement.next();
                self.zoom = false;
                if self.arrangement != Arrangement::All && !self.focus_shown() {
                    self.focus = Pane::Graph;
                }
                let name = self.arrangement.name();
                self.say(format!("layout: {name} (v for the next)"));
            }
            Action::Find => {
                let text = self.lists.find(self.focus).to_owned();
                self.mode = Mode::Find(LineEditor::new(&text));
            }
            Action::Freeze => self.freeze(),
            Action::NextServer | Action::PreviousServer => {
                self.cycle_servers(action == Action::NextServer);
            }
            Action::NextLink | Action::PreviousLink => self.cycle_links(action == Action::NextLink),
            Action::Nearest(direction) => self.move_selection(direction),
            Action::Scroll(scroll) => self.scroll(scroll),
            _ => self.replay_action(action),
        }
    }

    /// The replay's actions.
    fn replay_action(&mut self, action: Action) {
        let Some(replay) = &self.replay else { return };
        let (speed, at, end) = (replay.speed, replay.at, replay.end());
        let scrub = (end / 20).max(1);
        let next = |wanted| replay.next(wanted);
        let previous = |wanted| replay.previous(wanted);
        match action {
            Action::PlayPause => {
                if !replay.playing && at >= end {
                    self.replay_seek(0);
                }
                if let Some(replay) = &mut self.replay {
                    replay.playing = !replay.playing;
                }
            }
            Action::EventForward => self.replay_step(true),
            Action::EventBack => self.replay_step(false),
            Action::NextUpdate => self.jump(next(replay::is_update), "no later update"),
            Action::PreviousUpdate => self.jump(previous(replay::is_update), "no earlier update"),
            Action::NextMark => self.jump(next(replay::is_mark), "no later fault or action"),
            Action::PreviousMark => {
                self.jump(previous(replay::is_mark), "no earlier fault or action");
            }
            Action::Faster => self.set_speed(speed * 2.0),
            Action::Slower => self.set_speed(speed / 2.0),
            Action::Start => self.replay_seek(0),
            Action::End => self.replay_seek(u64::MAX),
            Action::ScrubForward => self.replay_seek(at.saturating_add(scrub)),
            Action::ScrubBack => self.replay_seek(at.saturating_sub(scrub)),
            _ => {}
        }
    }

    /// `q`: quits at once unless the herd holds clients or faults; then it asks (a second `q`
    /// or `y` confirms).
    fn quit(&mut self) -> Vec<Effect> {
        let faults = self.faults.faults.len();
        let clients = self.clients.len();
        if self.replay.is_some() || (faults == 0 && clients == 0) {
            return vec![Effect::Quit];
        }
        let mut held = Vec::new();
        if clients > 0 {
            held.push(format!("{clients} client{}", if clients == 1 { "" } else { "s" }));
        }
        if faults > 0 {
            held.push(format!("{faults} fault{}", if faults == 1 { "" } else { "s" }));
        }
        let held = held.join(" and ");
        self.mode = Mode::Confirm {
            prompt: format!("quit? the herd stops, with its {held} (q or y quits, n stays)"),
            effect: Effect::Quit,
        };
        vec![]
    }

    /// Focuses `pane`, showing it zoomed when the layout leaves it out.
    fn focus(&mut self, pane: Pane) {
        self.focus = pane;
        if !self.focus_shown() {
            self.zoom = true;
        }
        self.say(format!("{} pane", pane.title()));
    }

    /// Does the current layout show the focused pane (at any size)?
    fn focus_shown(&self) -> bool {
        match self.arrangement {
            Arrangement::All => true,
            Arrangement::PresentTraffic => matches!(self.focus, Pane::Graph | Pane::Traffic),
            Arrangement::PresentMetrics => self.focus == Pane::Graph,
        }
    }

    /// `space`: the traffic pane stops following (the herd runs on), or follows again.
    fn freeze(&mut self) {
        if self.lists.frozen.take().is_some() {
            self.lists.traffic_scroll = 0;
            self.say("traffic follows the herd again");
        } else {
            self.lists.frozen = Some(self.traffic.newest_id());
            self.say("traffic frozen: the herd runs on (space follows again)");
        }
    }

    /// Scrolls the focused list; scrolling the traffic back freezes it, `End` follows again.
    fn scroll(&mut self, scroll: Scroll) {
        let lists = &mut self.lists;
        let offset = match self.focus {
            Pane::Clients => &mut lists.clients_scroll,
            Pane::Traffic => {
                if lists.frozen.is_none()
                    && matches!(scroll, Scroll::Up | Scroll::PageUp | Scroll::Oldest)
                {
                    lists.frozen = Some(self.traffic.newest_id());
                }
                &mut lists.traffic_scroll
            }
            Pane::Graph | Pane::Map => return,
        };
        *offset = match scroll {
            Scroll::Up => offset.saturating_add(1),
            Scroll::Down => offset.saturating_sub(1),
            Scroll::PageUp => offset.saturating_add(PAGE),
            Scroll::PageDown => offset.saturating_sub(PAGE),
            Scroll::Oldest => usize::MAX / 2,
            Scroll::Newest => 0,
        };
        if self.focus == Pane::Traffic && scroll == Scroll::Newest {
            lists.frozen = None;
        }
    }

    /// `N` while a scenario plays: stepping on or off.
    fn toggle_stepping(&mut self) -> Vec<Effect> {
        let Some(lesson) = &mut self.lesson else { return vec![] };
        lesson.stepping = !lesson.stepping;
        let stepping = lesson.stepping;
        self.say(if stepping {
            "stepping: each n runs the next step, timings ignored"
        } else {
            "playing on the file's timings (n runs the next step at once)"
        });
        vec![Effect::Lesson(Key::Stepping(stepping))]
    }

    /// `verb` followed by the selected server's name and a space (or just `verb`).
    fn with_selected(&self, verb: &str) -> String {
        match self.selected_server() {
            Some(id) => format!("{verb}{} ", self.name(id)),
            None => verb.to_owned(),
        }
    }

    /// `y`: opens `why CLIENT SERVER` for the selected server, about the newest client whose
    /// newest report it lacks (else the newest client), for Enter to ask or Tab to change.
    fn open_why(&mut self) {
        let Some(server) = self.selected_server() else {
            self.complain(SELECT_SERVER);
            return;
        };
        let newest = |lacking: bool| {
            let rows = self.clients.rows();
            let rows =
                rows.filter(|row| !lacking || !row.known_by.get(server).copied().unwrap_or(false));
            rows.max_by_key(|row| row.updated).map(|row| row.id.clone())
        };
        match newest(true).or_else(|| newest(false)) {
            Some(client) => {
                let line = format!("why {client} {}", self.name(server));
                self.open_command(&line);
            }
            None => self.complain("no client yet: why asks about a client's update"),
        }
    }

    /// `k`: asks before killing the selected server (which runs: the keymap checked).
    fn confirm_kill(&mut self) {
        let Some(server) = self.selected_server() else { return };
        let name = self.name(server);
        self.mode = Mode::Confirm {
            prompt: format!("kill {name}? its port closes and its clients are forgotten (y/n)"),
            effect: Effect::Control(Control::Kill { server }),
        };
    }

    /// `g`: hangs the selected server, or lets it run again if it is hung.
    fn toggle_hang(&mut self) -> Vec<Effect> {
        let Some(server) = self.selected_server() else { return vec![] };
        let control = if self.servers[server].hung {
            Control::Unhang { server }
        } else {
            Control::Hang { server, lasting: None }
        };
        vec![Effect::Control(control)]
    }

    /// `>` (`way` 0: a to b) and `<` (1: b to a): cuts that one direction of the selected
    /// link, or heals it if it is cut. With a server selected, opens `cut NAME->`.
    fn toggle_one_way(&mut self, way: usize) -> Vec<Effect> {
        let Some(link) = self.selected_link() else {
            let line = match self.selected_server() {
                Some(id) => format!("cut {}->", self.name(id)),
                None => "cut ".to_owned(),
            };
            self.open_command(&line);
            return vec![];
        };
        let direction = link.directions()[way];
        let cut = if way == 0 { link.a_faults.cut } else { link.b_faults.cut };
        let control = if cut {
            Control::Heal { links: vec![direction] }
        } else {
            Control::Cut { links: vec![direction], lasting: None }
        };
        vec![Effect::Control(control)]
    }

    /// Opens `verb A<->B value` for the selected link, or `verb NAME->` for the selected
    /// server (Tab then offers its neighbours).
    fn prefill(&mut self, verb: &str, value: &str) {
        let line = match (self.selected_link(), self.selected_server()) {
            (Some(link), _) => {
                format!("{verb} {}<->{} {value}", self.name(link.a), self.name(link.b))
            }
            (None, Some(id)) => format!("{verb} {}->", self.name(id)),
            (None, None) => format!("{verb} "),
        };
        self.open_command(&line);
    }

    /// `+`/`-`: the selected link's delay (both ways) up or down a step, keeping its jitter;
    /// with a server selected, every link's (`delay all`).
    fn step_delay(&self, up: bool) -> Effect {
        let step = |delay: Duration| {
            if up { (delay + DELAY_STEP).min(MAX_DELAY) } else { delay.saturating_sub(DELAY_STEP) }
        };
        let (links, delay) = if let Some(link) = self.selected_link() {
            let current = [link.a_faults.delay, link.b_faults.delay]
                .into_iter()
                .flatten()
                .max_by_key(|d| d.delay)
                .unwrap_or_default();
            let delay = Delay { delay: step(current.delay), ..current };
            (Links::Some(link.directions().into()), delay)
        } else {
            let delay = step(self.engine.delay);
            (Links::All, Delay { delay, jitter: Duration::ZERO, spread: Spread::Uniform })
        };
        Effect::Control(Control::Delay { links, delay, lasting: None })
    }

    fn set_hop(&mut self, hop: Duration) {
        self.playback.hop = hop.clamp(Duration::from_millis(50), Duration::from_secs(5));
        self.say(format!("flood animation: one hop shown for {}", fmt_duration(self.playback.hop)));
    }

    pub(super) fn open_command(&mut self, text: &str) {
        self.history.reset_cursor();
        self.mode = Mode::Command(LineEditor::new(text));
    }

    /// Tab and Shift-Tab: the next or previous server (from a link: its first end).
    fn cycle_servers(&mut self, forward: bool) {
        let n = self.servers.len();
        if n == 0 {
            return;
        }
        let next = match self.selection {
            Selection::Node(i) if forward => (i + 1) % n,
            Selection::Node(i) => (i + n - 1) % n,
            Selection::Link(i) => self.links.get(i).map_or(0, |l| l.a),
        };
        self.selection = Selection::Node(next);
    }

    /// `e` and `E`: the next or previous link (from a server: its first link).
    fn cycle_links(&mut self, forward: bool) {
        let n = self.links.len();
        if n == 0 {
            self.complain("this herd has no links");
            return;
        }
        let next = match self.selection {
            Selection::Link(i) if forward => (i + 1) % n,
            Selection::Link(i) => (i + n - 1) % n,
            Selection::Node(id) => {
                self.links.iter().position(|l| l.a == id || l.b == id).unwrap_or(0)
            }
        };
        self.select_link(next);
    }

    /// Selects link `i`, naming it in the status line.
    pub(super) fn select_link(&mut self, i: usize) {
        let Some(link) = self.links.get(i) else { return };
        let text = format!("link {}–{}", self.name(link.a), self.name(link.b));
        self.selection = Selection::Link(i);
        self.say(text);
    }

    /// Arrows: the nearest node in that direction from the selected one.
    fn move_selection(&mut self, direction: Direction) {
        let from = match self.selection {
            Selection::Node(i) => i,
            Selection::Link(i) => self.links[i].a,
        };
        let Some(&(x0, y0)) = self.positions.get(from) else { return };
        let (dx, dy) = match direction {
            Direction::Left => (-1.0, 0.0),
            Direction::Right => (1.0, 0.0),
            Direction::Up => (0.0, -1.0),
            Direction::Down => (0.0, 1.0),
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
