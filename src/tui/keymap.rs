//! The dashboard's one table of keys: what each does and when it applies. Key handling looks
//! actions up here, the footer shows the bindings that apply now from it, and the help overlay
//! and the README's key table are written from it, so the three cannot drift apart. What
//! the mouse does is listed here too ([`MOUSE`]), for the help.

use std::fmt::Write as _;

use crossterm::event::KeyCode;

/// When a binding applies. A binding applies when every one of its conditions holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Over a live herd (not a replay).
    Live,
    /// Replaying a recording.
    Replay,
    /// A scenario plays and has not ended.
    Lesson,
    /// A server is selected.
    Server,
    /// A server that runs is selected.
    UpServer,
    /// A link is selected.
    Link,
    /// The topology pane has the focus.
    GraphFocus,
    /// A list pane (clients, traffic) has the focus.
    ListFocus,
    /// The view (animation and tables) is behind the herd.
    Behind,
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Help,
    Command,
    Quit,
    Focus(super::panes::Pane),
    Zoom,
    Arrange,
    Find,
    Freeze,
    NextServer,
    PreviousServer,
    NextLink,
    PreviousLink,
    Nearest(Direction),
    Scroll(Scroll),
    IAmAt,
    WhatsAt,
    Kill,
    Restart,
    Hang,
    Cut,
    Heal,
    OneWay(usize),
    Loss,
    Delay,
    Dup,
    DelayUp,
    DelayDown,
    HealAll,
    Reset,
    Faults,
    Metrics,
    Why,
    Pause,
    Step,
    HopSlower,
    HopFaster,
    FilterServer,
    Dismiss,
    Live,
    LessonNext,
    LessonStepping,
    PlayPause,
    EventForward,
    EventBack,
    NextUpdate,
    PreviousUpdate,
    NextMark,
    PreviousMark,
    Faster,
    Slower,
    Start,
    End,
    ScrubForward,
    ScrubBack,
}

/// An arrow's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Left,
    Right,
    Up,
    Down,
}

/// How a list pane scrolls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    Up,
    Down,
    PageUp,
    PageDown,
    Oldest,
    Newest,
}

/// One key binding.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys as the footer and help write them.
    pub keys: &'static str,
    pub codes: &'static [KeyCode],
    /// The footer's word for it; empty keeps it out of the footer.
    pub hint: &'static str,
    /// The help overlay's line.
    pub help: &'static str,
    pub when: &'static [When],
    pub action: Action,
}

const fn bind(
    keys: &'static str,
    codes: &'static [KeyCode],
    hint: &'static str,
    help: &'static str,
    when: &'static [When],
    action: Action,
) -> Binding {
    Binding { keys, codes, hint, help, when, action }
}

use super::panes::Pane;
use Action as A;
use KeyCode::{BackTab, Char, End, Esc, Home, PageDown, PageUp, Tab};
use When::{GraphFocus, Link, ListFocus, Live, Replay, Server, UpServer};

/// Every binding, in the order the footer offers them (most useful first) and the help lists
/// them. A key may appear twice for different conditions: the first that applies wins.
pub const BINDINGS: &[Binding] = &[
    // A played scenario and a replay first: their keys are what matters then.
    bind(
        "n",
        &[Char('n')],
        "next step",
        "run the scenario's next step now",
        &[When::Lesson],
        A::LessonNext,
    ),
    bind(
        "N",
        &[Char('N')],
        "step mode",
        "stepping on/off: each n runs one step, timings ignored",
        &[When::Lesson],
        A::LessonStepping,
    ),
    bind(
        "space",
        &[Char(' '), Char('p')],
        "play/pause",
        "play / pause the recording (at its end: from the start)",
        &[Replay],
        A::PlayPause,
    ),
    bind(
        ". ,",
        &[Char('.')],
        "step",
        "one event forward (its hop animated) / back",
        &[Replay],
        A::EventForward,
    ),
    bind(",", &[Char(',')], "", "", &[Replay], A::EventBack),
    bind(
        "n N",
        &[Char('n')],
        "update",
        "jump to the next / previous update (a client's report)",
        &[Replay],
        A::NextUpdate,
    ),
    bind("N", &[Char('N')], "", "", &[Replay], A::PreviousUpdate),
    bind(
        "> <",
        &[Char('>')],
        "fault",
        "jump to the next / previous action, fault healing, kill or start",
        &[Replay],
        A::NextMark,
    ),
    bind("<", &[Char('<')], "", "", &[Replay], A::PreviousMark),
    bind(
        "+ -",
        &[Char('+'), Char('=')],
        "speed",
        "replay twice / half as fast (1/64× to 1024×)",
        &[Replay],
        A::Faster,
    ),
    bind("-", &[Char('-'), Char('_')], "", "", &[Replay], A::Slower),
    bind(
        "home end",
        &[Home],
        "ends",
        "the recording's start / end",
        &[Replay, GraphFocus],
        A::Start,
    ),
    bind("end", &[End], "", "", &[Replay, GraphFocus], A::End),
    bind(
        "pgup pgdn",
        &[PageDown],
        "scrub",
        "a twentieth of the recording forward / back",
        &[Replay, GraphFocus],
        A::ScrubForward,
    ),
    bind("pgup", &[PageUp], "", "", &[Replay, GraphFocus], A::ScrubBack),
    bind(
        "L",
        &[Char('L')],
        "live",
        "jump to the live herd: the animation's backlog is skipped, the tables catch up",
        &[When::Behind],
        A::Live,
    ),
    // Anywhere.
    bind(
        "?",
        &[Char('?')],
        "help",
        "this help: every key, every command, the legend",
        &[],
        A::Help,
    ),
    bind(":", &[Char(':')], "cmd", "the command line (Tab completes, ↑↓ history)", &[], A::Command),
    // The selected server.
    bind(
        "i",
        &[Char('i')],
        "iamat",
        "iamat at the selected server (edit, then Enter)",
        &[Live, UpServer],
        A::IAmAt,
    ),
    bind(
        "w",
        &[Char('w')],
        "whatsat",
        "whatsat at the selected server",
        &[Live, UpServer],
        A::WhatsAt,
    ),
    bind(
        "k",
        &[Char('k')],
        "kill",
        "kill the selected server (asks first)",
        &[Live, UpServer],
        A::Kill,
    ),
    bind("r", &[Char('r')], "restart", "restart the selected server", &[Live, Server], A::Restart),
    bind(
        "g",
        &[Char('g')],
        "hang",
        "hang / unhang the selected server",
        &[Live, UpServer],
        A::Hang,
    ),
    // The selected link.
    bind(
        "c h",
        &[Char('c')],
        "cut/heal",
        "cut / heal the selected link both ways",
        &[Live, Link],
        A::Cut,
    ),
    bind("h", &[Char('h')], "", "", &[Live, Link], A::Heal),
    bind(
        "> <",
        &[Char('>')],
        "1-way",
        "cut (or heal) one way of the selected link A–B: A->B / B->A",
        &[Live, Link],
        A::OneWay(0),
    ),
    bind("<", &[Char('<')], "", "", &[Live, Link], A::OneWay(1)),
    bind(
        "l d u",
        &[Char('l')],
        "loss/delay/dup",
        "loss / delay / dup on the selected link (edit, then Enter)",
        &[Live, Link],
        A::Loss,
    ),
    bind("d", &[Char('d')], "", "", &[Live, Link], A::Delay),
    bind("u", &[Char('u')], "", "", &[Live, Link], A::Dup),
    // With a server selected, the link keys start the line from it, for Tab to complete.
    bind(
        "c h > < l d u",
        &[Char('c')],
        "",
        "cut, heal, one-way cut, loss, delay or dup from the server (edit, then Enter)",
        &[Live, Server],
        A::Cut,
    ),
    bind("h", &[Char('h')], "", "", &[Live, Server], A::Heal),
    bind(">", &[Char('>')], "", "", &[Live, Server], A::OneWay(0)),
    bind("<", &[Char('<')], "", "", &[Live, Server], A::OneWay(1)),
    bind("l", &[Char('l')], "", "", &[Live, Server], A::Loss),
    bind("d", &[Char('d')], "", "", &[Live, Server], A::Delay),
    bind("u", &[Char('u')], "", "", &[Live, Server], A::Dup),
    bind(
        "+ -",
        &[Char('+'), Char('=')],
        "",
        "the selected link's delay ± 100ms (a server: every link's)",
        &[Live],
        A::DelayUp,
    ),
    bind("-", &[Char('-'), Char('_')], "", "", &[Live], A::DelayDown),
    // The lab's overlays.
    bind("F", &[Char('F')], "faults", "the faults in force: counters, time left", &[], A::Faults),
    bind(
        "M",
        &[Char('M')],
        "metrics",
        "metrics per update: convergence, messages, reach",
        &[],
        A::Metrics,
    ),
    // Selection and panes.
    bind("tab", &[Tab], "server", "select the next / previous server (S-Tab)", &[], A::NextServer),
    bind("S-tab", &[BackTab], "", "", &[], A::PreviousServer),
    bind("e E", &[Char('e')], "link", "select the next / previous link", &[], A::NextLink),
    bind("E", &[Char('E')], "", "", &[], A::PreviousLink),
    bind(
        "1-4",
        &[Char('1')],
        "pane",
        "focus the topology / clients / traffic / world pane",
        &[],
        A::Focus(Pane::Graph),
    ),
    bind("2", &[Char('2')], "", "", &[], A::Focus(Pane::Clients)),
    bind("3", &[Char('3')], "", "", &[], A::Focus(Pane::Traffic)),
    bind("4", &[Char('4')], "", "", &[], A::Focus(Pane::Map)),
    bind(
        "z",
        &[Char('z')],
        "zoom",
        "zoom the focused pane to the whole body, or back",
        &[],
        A::Zoom,
    ),
    bind(
        "v",
        &[Char('v')],
        "layout",
        "layout: all panes / presenter (topology + traffic) / presenter (topology + metrics)",
        &[],
        A::Arrange,
    ),
    bind(
        "y",
        &[Char('y')],
        "why",
        "why: did the selected server get the newest update it lacks?",
        &[Server],
        A::Why,
    ),
    bind(
        "/",
        &[Char('/')],
        "find",
        "filter the focused pane: clients by id, traffic by text (Esc clears)",
        &[ListFocus],
        A::Find,
    ),
    bind(
        "↑↓",
        &[KeyCode::Up],
        "scroll",
        "scroll the focused list (PgUp/PgDn, Home/End; End follows again)",
        &[ListFocus],
        A::Scroll(Scroll::Up),
    ),
    bind("↓", &[KeyCode::Down], "", "", &[ListFocus], A::Scroll(Scroll::Down)),
    bind("pgup", &[PageUp], "", "", &[ListFocus], A::Scroll(Scroll::PageUp)),
    bind("pgdn", &[PageDown], "", "", &[ListFocus], A::Scroll(Scroll::PageDown)),
    bind("home", &[Home], "", "", &[ListFocus], A::Scroll(Scroll::Oldest)),
    bind("end", &[End], "", "", &[ListFocus], A::Scroll(Scroll::Newest)),
    bind(
        "←↑→↓",
        &[KeyCode::Left],
        "",
        "select the nearest server that way",
        &[GraphFocus],
        A::Nearest(Direction::Left),
    ),
    bind("→", &[KeyCode::Right], "", "", &[GraphFocus], A::Nearest(Direction::Right)),
    bind("↑", &[KeyCode::Up], "", "", &[GraphFocus], A::Nearest(Direction::Up)),
    bind("↓", &[KeyCode::Down], "", "", &[GraphFocus], A::Nearest(Direction::Down)),
    // The herd at large.
    bind("p", &[Char('p')], "pause", "pause / resume traffic between servers", &[Live], A::Pause),
    bind(
        "s",
        &[Char('s'), Char('.')],
        "step",
        "release one held report (while paused)",
        &[Live],
        A::Step,
    ),
    bind("H", &[Char('H')], "heal all", "heal every cut", &[Live], A::HealAll),
    bind(
        "x",
        &[Char('x')],
        "reset",
        "reset: lift every fault but kills (asks first)",
        &[Live],
        A::Reset,
    ),
    bind(
        "space",
        &[Char(' ')],
        "freeze",
        "freeze / unfreeze the traffic pane (the herd runs on)",
        &[Live],
        A::Freeze,
    ),
    bind(
        "f",
        &[Char('f')],
        "filter",
        "traffic pane: only the selected server / all",
        &[],
        A::FilterServer,
    ),
    bind(
        "[ ]",
        &[Char('[')],
        "",
        "flood animation slower / faster (display time per hop)",
        &[],
        A::HopSlower,
    ),
    bind("]", &[Char(']')], "", "", &[], A::HopFaster),
    bind("esc", &[Esc], "", "clear the message and the focused pane's filter", &[], A::Dismiss),
    bind(
        "q",
        &[Char('q')],
        "quit",
        "quit (asks first while the herd has clients or faults; Ctrl-C does not)",
        &[],
        A::Quit,
    ),
];

/// One thing the mouse does (see [`super::mouse`]), for the help.
#[derive(Debug, Clone, Copy)]
pub struct Click {
    /// What is clicked, as the help writes it.
    pub what: &'static str,
    pub help: &'static str,
    pub when: &'static [When],
}

/// What the mouse does, in the help's order. Each click has a key that does the same (the
/// timeline's: the scrub keys, in coarser steps).
pub const MOUSE: &[Click] = &[
    Click { what: "click tab", help: "focus that pane (as 1-4)", when: &[] },
    Click { what: "click pane", help: "focus it", when: &[] },
    Click {
        what: "click server",
        help: "select it: on its glyph or name, or a cell beside them",
        when: &[],
    },
    Click {
        what: "click link",
        help: "select it: on its line or marks, or a cell beside them (as e)",
        when: &[],
    },
    Click {
        what: "wheel",
        help: "scroll the list under the pointer, focusing it (as ↑↓: the traffic freezes)",
        when: &[],
    },
    Click { what: "click bar", help: "go to that instant of the timeline", when: &[Replay] },
    Click {
        what: "click",
        help: "over help, faults, metrics or a reply: close it (the wheel scrolls it)",
        when: &[],
    },
    Click {
        what: "shift-drag",
        help: "select text to copy, in most terminals (plain clicks go to the dashboard)",
        when: &[],
    },
];

/// The bindings of `code`, in table order.
pub fn of(code: KeyCode) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.codes.contains(&code))
}

/// The rows the help overlay and the README list: one per binding with a help text.
pub fn help_rows() -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(|b| !b.help.is_empty())
}

/// The README's key table, as markdown.
pub fn markdown() -> String {
    let mut out = String::from("| key | when | action |\n| --- | --- | --- |\n");
    for binding in help_rows() {
        let when = describe(binding.when);
        let keys: Vec<String> = binding.keys.split(' ').map(|key| format!("`{key}`")).collect();
        let _ = writeln!(out, "| {} | {when} | {} |", keys.join(" "), binding.help);
    }
    out
}

/// Conditions in words, for the help and the README.
pub fn describe(when: &[When]) -> String {
    let words: Vec<&str> = when
        .iter()
        .map(|w| match w {
            Live => "live",
            Replay => "replay",
            When::Lesson => "scenario playing",
            Server => "a server selected",
            UpServer => "a running server selected",
            Link => "a link selected",
            GraphFocus => "topology focused",
            ListFocus => "a list focused",
            When::Behind => "the view behind the herd",
        })
        .collect();
    if words.is_empty() { "anywhere".to_owned() } else { words.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_key_table_is_the_keymap() {
        let readme = include_str!("../../README.md");
        let table = markdown();
        assert!(
            readme.contains(&table),
            "README.md's key table is not the keymap's; put this in its place:\n{table}"
        );
    }

    #[test]
    fn every_key_that_shows_in_the_footer_has_help() {
        for binding in BINDINGS {
            if !binding.hint.is_empty() {
                assert!(!binding.help.is_empty(), "{}", binding.keys);
            }
            assert!(!binding.codes.is_empty(), "{}", binding.keys);
        }
    }
}
