//! The operator console: a ratatui dashboard over a running herd. One `select!` loop takes
//! engine events, keys, signals and the results of the operator's commands; frames are drawn only
//! when something changed or moves, at most about 30 a second, so an idle dashboard costs
//! nothing and a busy herd never waits on the view (a lagging view drops events, says so,
//! and rebuilds from a snapshot).
//!
//! It owns the terminal while it runs ([`Console`]): raw mode, the alternate screen and mouse
//! reporting, all handed back on every exit, signals and panics included.

pub mod actions;
pub mod app;
pub mod clients;
pub mod editor;
pub mod graph;
pub mod history;
pub mod keymap;
pub mod layout;
pub mod lesson;
pub mod metrics_overlay;
pub mod mouse;
pub mod panes;
pub mod playback;
pub mod replay;
pub mod theme;
pub mod timeline;
pub mod traffic;
pub mod view;

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use crossterm::event::{DisableMouseCapture, Event, EventStream, KeyEventKind, MouseEventKind};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use ratatui::layout::{Position, Rect};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::herd::Herdlike;
use crate::scenario::{self, Cue, Scenario};
use crate::trace::Trace;
use app::{App, Effect, Feedback};
use history::History;
use lesson::Lesson;
use replay::Replay;

/// How the dashboard starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Shown in the header (the topology's name).
    pub title: String,
    /// Display time of one hop in the flood replay.
    pub hop: Duration,
    /// The colours.
    pub theme: theme::Theme,
    /// Where the command history is kept; `None` keeps it for this run only.
    pub history: Option<PathBuf>,
    /// A scenario to play over the herd.
    pub lesson: Option<Play>,
}

/// A scenario to play in the dashboard.
#[derive(Debug, Clone)]
pub struct Play {
    /// The file, as the operator named it.
    pub file: String,
    pub scenario: Scenario,
    /// Each step waits for `n` (else they run on the file's timings).
    pub stepping: bool,
}

/// Frame period while something moves.
const FRAME: Duration = Duration::from_millis(33);
/// Most engine events taken in before the picture is brought up to date.
const EVENT_BATCH: usize = 4096;

/// Opens the dashboard over `herd` and runs it until the operator quits. The terminal is
/// restored on every exit, panics included.
pub async fn run(herd: impl Herdlike, options: Options) -> color_eyre::Result<()> {
    let mut console = Console::open("--headless runs without one")?;
    event_loop(&mut console.terminal, &herd, options).await
}

/// Opens the dashboard on a recorded trace (`herdctl replay`), `name` being its file, and
/// runs it until the operator quits.
pub async fn replay(
    trace: Trace,
    name: &str,
    options: Options,
    play: bool,
    speed: f64,
) -> color_eyre::Result<()> {
    let topology = replay::topology_of(&trace);
    let positions = layout::positions(&topology);
    let now = Instant::now();
    let replay = Replay::new(name, trace, topology, now);
    let history = History::load(options.history);
    let mut app = App::new(name, &replay.start, positions, history, now);
    app.playback.hop = options.hop;
    app.theme = options.theme;
    app.start_replay(replay);
    if let Some(replay) = &mut app.replay {
        (replay.playing, replay.speed) = (play, speed);
    }
    let mut console = Console::open("herdctl export turns a trace into a picture instead")?;
    replay_loop(&mut console.terminal, &mut app).await
}

/// The terminal while the dashboard has it: raw mode, the alternate screen and mouse
/// reporting. Dropping it hands all three back, however the dashboard ends (a quit, a signal,
/// an error, a panic unwinding); a panic's hook turns the mouse off before ratatui's puts the
/// screen back, so a panic message lands on a usable terminal.
struct Console {
    terminal: DefaultTerminal,
}

impl Console {
    fn open(hint: &str) -> color_eyre::Result<Self> {
        static HOOK: Once = Once::new();
        let terminal = ratatui::try_init().map_err(|err| {
            ratatui::restore();
            color_eyre::eyre::eyre!("cannot open the dashboard ({err}); {hint}")
        })?;
        HOOK.call_once(|| {
            let restore = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                release_mouse();
                restore(info);
            }));
        });
        // Without the mouse the dashboard still works: every click has its key.
        let _ = crossterm::execute!(std::io::stdout(), CaptureClicks);
        Ok(Self { terminal })
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        // A panic's hooks handed the terminal back already: twice would move the cursor
        // back over the panic's message.
        if !std::thread::panicking() {
            release_mouse();
            ratatui::restore();
        }
    }
}

/// The whole screen (what a click lands on: frames are drawn over all of it).
fn whole(terminal: &DefaultTerminal) -> Rect {
    Rect::from((Position::ORIGIN, terminal.size().unwrap_or_default()))
}

/// Mouse reporting of presses, releases and the wheel (xterm's mode 1000), in the SGR
/// encoding (1006: no limit on columns). Unlike crossterm's `EnableMouseCapture` it asks for
/// no motion: nothing here follows the pointer, so a moving mouse sends nothing.
struct CaptureClicks;

impl crossterm::Command for CaptureClicks {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str("\x1b[?1000h\x1b[?1006h")
    }
}

/// Stops mouse reporting, every mode of it (nothing to do if the terminal is gone).
fn release_mouse() {
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
}

/// Is `event` a key or a click for the app? Not a key's release, nor the mouse moving,
/// dragging or letting go: they change nothing, and cost no frame.
fn acts(event: &Event) -> bool {
    match event {
        Event::Key(key) => key.kind != KeyEventKind::Release,
        Event::Mouse(mouse) => matches!(
            mouse.kind,
            MouseEventKind::Down(_) | MouseEventKind::ScrollUp | MouseEventKind::ScrollDown
        ),
        _ => false,
    }
}

/// Hands a key or a click on a screen of `area` to the app; returns what it asks for.
fn take(app: &mut App, event: &Event, area: Rect) -> Vec<app::Effect> {
    match *event {
        Event::Key(key) => app.key(key),
        Event::Mouse(mouse) => app.mouse(mouse, area),
        _ => Vec::new(),
    }
}

async fn replay_loop(terminal: &mut DefaultTerminal, app: &mut App) -> color_eyre::Result<()> {
    let mut keys = EventStream::new();
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut last = Instant::now();
    loop {
        let now = Instant::now();
        app.replay_advance(now.saturating_duration_since(last));
        last = now;
        app.tick(now);
        if let Some(replay) = &app.replay {
            let faults = replay.faults(app);
            app.faults.set(faults, now);
        }
        terminal.draw(|frame| view::draw(frame, app))?;
        let moving = app.animating() || app.replay.as_ref().is_some_and(|r| r.playing);
        let wake = moving.then(|| now + FRAME);
        tokio::select! {
            input = keys.next() => match input {
                Some(Ok(event)) if acts(&event) => {
                    app.now = Instant::now();
                    for effect in take(app, &event, whole(terminal)) {
                        match effect {
                            Effect::Quit => return Ok(()),
                            // Commands that change the herd were refused already.
                            Effect::Send { .. } | Effect::Control(_) | Effect::Lesson(_) => {}
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.into()),
                None => return Ok(()),
            },
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
            () = sleep_until(wake.unwrap_or(now)), if wake.is_some() => {}
        }
    }
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    herd: &impl Herdlike,
    options: Options,
) -> color_eyre::Result<()> {
    let mut events = herd.events();
    let mut keys = EventStream::new();
    let (feedback_tx, mut feedback) = mpsc::channel::<Feedback>(64);
    let positions = layout::positions(herd.topology());
    let history = History::load(options.history);
    let mut app = App::new(&options.title, &herd.snapshot(), positions, history, Instant::now());
    app.metrics = Some(crate::lab::metrics::Metrics::new(herd.topology()));
    app.playback.hop = options.hop;
    app.theme = options.theme;
    let (mut cues, lesson_keys) = start_lesson(options.lesson, herd, &mut app);
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut dirty = true;
    let mut next_frame = Instant::now();
    loop {
        let now = Instant::now();
        if dirty && now >= next_frame {
            app.tick(now);
            app.engine.paused = herd.paused();
            app.engine.held = herd.held();
            app.engine.delay = herd.link_delay();
            app.engine.policy = herd.policy();
            watch(herd, &mut app);
            if app.faults_due(now) {
                app.refresh(&herd.snapshot());
            }
            terminal.draw(|frame| view::draw(frame, &app))?;
            tracing::debug!(draw = ?now.elapsed(), "frame");
            dirty = false;
            next_frame = now + FRAME;
        }
        let wake = if dirty || app.animating() {
            Some(next_frame)
        } else {
            app.idle_wake().map(|after| now + after)
        };
        tokio::select! {
            event = events.recv() => {
                app.now = Instant::now();
                match event {
                    Ok(event) => {
                        app.apply(&event);
                        for _ in 0..EVENT_BATCH {
                            match events.try_recv() {
                                Ok(event) => app.apply(&event),
                                Err(TryRecvError::Lagged(missed)) => app.resync(missed, &herd.snapshot()),
                                Err(_) => break,
                            }
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "view lagged");
                        app.resync(missed, &herd.snapshot());
                    }
                    Err(RecvError::Closed) => return Ok(()),
                }
                dirty = true;
            }
            input = keys.next() => {
                match input {
                    Some(Ok(event)) if acts(&event) => {
                        app.now = Instant::now();
                        for effect in take(&mut app, &event, whole(terminal)) {
                            match effect {
                                Effect::Quit => return Ok(()),
                                Effect::Lesson(key) => {
                                    let _ = lesson_keys.send(key);
                                }
                                effect => execute(effect, herd, &feedback_tx, &mut app),
                            }
                        }
                    }
                    Some(Ok(Event::Resize(..))) => {}
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => return Err(err.into()),
                    None => return Ok(()),
                }
                dirty = true;
                next_frame = Instant::now();
            }
            _ = terminate.recv() => return Ok(()),
            _ = hangup.recv() => return Ok(()),
            Some(result) = feedback.recv() => {
                app.feedback(result);
                dirty = true;
            }
            Some(cue) = cues.recv() => {
                app.now = Instant::now();
                app.cue(cue);
                dirty = true;
            }
            () = sleep_until(wake.unwrap_or(now)), if wake.is_some() => {
                dirty = true;
            }
        }
    }
}

/// Takes in what the watch of an attached herd learned: servers it cannot see, a view to
/// rebuild, warnings.
fn watch(herd: &impl Herdlike, app: &mut App) {
    let news = herd.take_news();
    if let Some(missed) = news.resync {
        app.resync(missed, &herd.snapshot());
    }
    for (id, server) in app.servers.iter_mut().enumerate() {
        server.seen = herd.seen(id);
    }
    for notice in news.notices {
        app.notice(notice);
    }
}

/// Plays `lesson` (if there is one) over `herd` on a task of its own: the run's cues come
/// back on the receiver, the presenter's keys go to it through the sender.
fn start_lesson(
    lesson: Option<Play>,
    herd: &impl Herdlike,
    app: &mut App,
) -> (mpsc::UnboundedReceiver<Cue>, mpsc::UnboundedSender<scenario::Key>) {
    let (cue_tx, cues) = mpsc::unbounded_channel();
    let (keys, key_rx) = mpsc::unbounded_channel();
    if let Some(play) = lesson {
        app.lesson = Some(Lesson::new(&play.file, &play.scenario, play.stepping));
        let herd = herd.clone();
        tokio::spawn(async move {
            scenario::present(&play.scenario, &herd, play.stepping, cue_tx, key_rx).await;
        });
    }
    (cues, keys)
}

/// Carries out one effect: engine controls at once, network sends on their own task.
fn execute(effect: Effect, herd: &impl Herdlike, feedback: &mpsc::Sender<Feedback>, app: &mut App) {
    match effect {
        Effect::Send { server: id, line, kind } => {
            let server = herd.names().get(id).cloned().unwrap_or_else(|| format!("#{id}"));
            let Some(addr) = herd.addr(id) else {
                app.feedback(Feedback::Failed(format!("{server} has no address")));
                return;
            };
            let feedback = feedback.clone();
            tokio::spawn(async move {
                let result = match crate::client::send_line(addr, &line).await {
                    Ok(reply) => Feedback::Reply { server, kind, request: line, reply },
                    Err(err) => Feedback::Failed(format!("{server} ({addr}): {err}")),
                };
                let _ = feedback.send(result).await;
            });
        }
        Effect::Control(control) => {
            let (herd, feedback) = (herd.clone(), feedback.clone());
            tokio::spawn(async move {
                let result = herd.apply(control).await;
                let _ = feedback.send(Feedback::Control(result)).await;
            });
        }
        Effect::Quit | Effect::Lesson(_) => {}
    }
}
