//! The operator's command language: the one grammar shared by the console's `:` line, the
//! headless `--control stdin` mode and scenario files. It owns the table of verbs
//! ([`COMMANDS`]) and everything that table drives: parsing one line into a [`Command`] (every
//! herd change as a typed [`Control`]), refusals that name the offending word and show the
//! usage, Tab completion, the usage hint, the help text, and [`render`], which writes a
//! [`Control`] back as its canonical line.
//!
//! Words are separated by runs of the protocol's white space (space, tab, CR, LF, FF, VT).
//! Verbs and keywords are case-insensitive; server names are matched exactly, or else by a
//! unique case-insensitive match, and always come back as ids.
//!
//! Decisions the grammar makes:
//! * A LINK is `A->B` (what A sends to B, one direction), or `A<->B` or the two words `A B`
//!   (both directions: `A->B` then `B->A`). Arrow forms are one word, with no spaces.
//! * Every fault but `kill` may end with `for DURATION` (over 0, at most 1h); any other
//!   change to the herd refuses `for`. Client traffic and console verbs do not treat `for`
//!   specially (it may be a client id or part of a raw line).
//! * A RATE needs its `%` (`20%`, `0.5%`): a bare `20` or `0.2` is refused rather than
//!   guessed at. `0%` turns the fault off.
//! * `delay` accepts a jitter with a zero delay (`delay all 0 jitter 50ms`: delays spread
//!   from zero), and `normal`/`uniform` with no jitter (harmless: the spread only matters
//!   with a jitter).
//! * `delay DURATION` (no LINK) means `delay all DURATION`.
//! * Options (`jitter DURATION`, `normal`/`uniform`, `burst N`) follow the value they qualify
//!   in any order, each at most once; `for DURATION` comes last.
//! * `for` is accepted on a fault that turns something off (`delay all off for 5s`,
//!   `loss A->B 0% for 5s`): harmless, and every control the grammar can say reads back.
//! * `burst N` is a decimal from 1 (independent losses, the default) to 1000.
//! * In `partition`, names within a group are separated by commas or spaces, groups by `/`.
//!   Each group comes back sorted by id, the servers not named appended to the last group.
//!
//! Completion and the usage hint live in `complete`, [`render`] in `render`.

use std::fmt;
use std::time::Duration;

use crate::config::Topology;
use crate::herd::ServerId;
use crate::herd::control::{
    Control, Delay, Directed, Links, Loss, MAX_DELAY, Policy, Spread, fmt_duration, server_name,
};
use crate::protocol::time::split_decimal;
use crate::protocol::{ClientTime, Coords};

mod complete;
#[cfg(test)]
mod tests;

pub use complete::{Completion, apply_completion, complete, hint};

/// The longest `for DURATION` a fault accepts.
pub const MAX_LASTING: Duration = Duration::from_secs(3600);

/// The longest period `anti-entropy every=DURATION` accepts.
pub const MAX_EVERY: Duration = Duration::from_secs(3600);

/// The longest average loss burst `loss … burst N` accepts.
pub const MAX_BURST: f64 = 1000.0;

/// The largest `policy storm ttl=N`.
pub const MAX_TTL: u32 = 64;

/// A validated operator command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Everything that changes (or lists the faults of) the herd.
    Herd(Control),
    /// `iamat SERVER CLIENT COORDS [TIME]`; `coords` in wire form (`+34.07-118.44`), `time`
    /// `None` = now.
    IAmAt {
        server: ServerId,
        client: String,
        coords: String,
        time: Option<String>,
    },
    /// `whatsat SERVER CLIENT RADIUS BOUND`
    WhatsAt {
        server: ServerId,
        client: String,
        radius: String,
        bound: String,
    },
    /// `send SERVER RAW-LINE`: any line, byte for byte (spaces kept).
    Send {
        server: ServerId,
        line: String,
    },
    /// `filter [SERVER]`: the traffic pane shows one server, or all (console only).
    /// `why CLIENT SERVER`: does SERVER hold CLIENT's newest update, and if not, what kept
    /// it away (answered from the herd's events).
    Why {
        client: String,
        server: ServerId,
    },
    /// `status`: each server as the console sees it (up, and for an attached herd whether
    /// its endpoint answers, its boot and version).
    Status,
    Filter(Option<ServerId>),
    /// `help [COMMAND]`; the topic is the command's canonical name (`q` → `quit`) (console
    /// only).
    Help(Option<String>),
    /// Leave herdctl (console only).
    Quit,
}

impl Command {
    /// Does only the console make sense of it (not `--control stdin` or a scenario)?
    pub fn console_only(&self) -> bool {
        matches!(self, Self::Filter(_) | Self::Help(_) | Self::Quit)
    }
}

/// What the command line knows about the herd, for validation and completion.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Server names; the index is the [`ServerId`].
    pub servers: Vec<String>,
    /// Undirected links, each once.
    pub links: Vec<(ServerId, ServerId)>,
    /// Client ids seen so far, for completion.
    pub clients: Vec<String>,
}

impl Context {
    /// The servers and links of a topology, with no clients yet.
    pub fn new(topology: &Topology) -> Self {
        Self {
            servers: topology.servers.iter().map(|s| s.name.clone()).collect(),
            links: topology.links(),
            clients: Vec::new(),
        }
    }

    /// The name of server `id` (`#id` for an id out of range).
    pub fn name(&self, id: ServerId) -> String {
        server_name(id, &self.servers)
    }

    /// The servers linked with `server`, sorted by name, without duplicates.
    pub fn neighbours(&self, server: ServerId) -> Vec<ServerId> {
        let mut found: Vec<ServerId> = self
            .links
            .iter()
            .filter_map(|&(a, b)| {
                if a == server {
                    Some(b)
                } else if b == server {
                    Some(a)
                } else {
                    None
                }
            })
            .collect();
        found.sort_unstable_by(|&x, &y| self.name(x).cmp(&self.name(y)).then(x.cmp(&y)));
        found.dedup();
        found
    }

    /// Are `a` and `b` linked, in either order?
    pub fn are_neighbours(&self, a: ServerId, b: ServerId) -> bool {
        self.links.iter().any(|&(x, y)| (x == a && y == b) || (x == b && y == a))
    }

    /// The neighbours of `server` by name, `, `-separated.
    fn neighbour_list(&self, server: ServerId) -> String {
        let names: Vec<String> =
            self.neighbours(server).into_iter().map(|id| self.name(id)).collect();
        names.join(", ")
    }
}

/// Why a command line was refused: what is wrong, and the expected form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    pub message: String,
    pub usage: Option<&'static str>,
}

impl CommandError {
    fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), usage: None }
    }

    fn with_usage(message: impl Into<String>, spec: &CommandSpec) -> Self {
        Self { message: message.into(), usage: Some(spec.usage) }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

/// What a verb is for: where it belongs in the help, and whether it takes `for DURATION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Client traffic sent to a server.
    Traffic,
    /// A fault that may end with `for DURATION`, after which it heals itself.
    Fault,
    /// Any other change to the herd (or a look at its faults): no `for`.
    Herd,
    /// The console's own business: not for `--control stdin` or scenarios.
    Console,
}

impl Kind {
    /// The heading of this kind's commands in the help.
    fn heading(self) -> &'static str {
        match self {
            Self::Traffic => "traffic:",
            Self::Fault => "faults (each may end with for DURATION, and then heals itself):",
            Self::Herd => "the herd:",
            Self::Console => "the console:",
        }
    }
}

/// What goes in one argument position of a verb. The list of a verb's arguments drives its
/// completion and the notes of its help; its parser reads them in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// One server name.
    Server,
    /// One server name, or `all` (or nothing).
    ServerOrAll,
    /// `A->B`, `A<->B` or `A B`.
    Link,
    /// A LINK, or `all`.
    LinkOrAll,
    /// A LINK, `all`, or nothing (then `all`): what `delay` applies to.
    DelayLinks,
    Client,
    Coords,
    /// An optional POSIX time.
    Time,
    Radius,
    Bound,
    /// The rest of the line, spaces kept.
    RawLine,
    /// A duration up to 10s, or `0`/`off`/`none`.
    Delay,
    /// Optional `jitter DURATION`.
    Jitter,
    /// Optional `normal` or `uniform`.
    Spread,
    /// `RATE%`.
    Rate,
    /// Optional `burst N`.
    Burst,
    /// The rest of the line: server names in groups separated by `/`.
    Groups,
    /// A policy name and its setting.
    Policy,
    /// `every=DURATION` or `off`.
    Every,
    /// A command name or alias.
    Topic,
}

impl Arg {
    /// The help lines that explain it.
    pub fn notes(self) -> &'static [&'static str] {
        match self {
            Self::Server => &["SERVER: a server's name, any case if that is unambiguous"],
            Self::ServerOrAll => &["SERVER: a server's name; all, or nothing, for every server"],
            Self::Link | Self::LinkOrAll => {
                &["LINK: A->B (what A sends to B), or A<->B or A B (both ways); A and B neighbours"]
            }
            Self::DelayLinks => &[
                "LINK: A->B (what A sends to B), or A<->B or A B (both ways); A and B neighbours",
                "all, or no LINK at all: every link both ways, replacing every per-link delay",
            ],
            Self::Client => &["CLIENT: a client id, one word without control characters"],
            Self::Coords => {
                &["COORDS: +34.07-118.44 (ISO 6709) or 34.07,-118.44 (one word, no space)"]
            }
            Self::Time => &["TIME: POSIX seconds such as 1621464827.959498503; omitted = now"],
            Self::Radius => &["RADIUS: km, a decimal with 0 < RADIUS <= 50"],
            Self::Bound => &["BOUND: an integer from 1 to 20"],
            Self::RawLine => &["RAW-LINE: everything after the space that follows SERVER"],
            Self::Delay => &["DURATION: 0 (or off), 300ms, 1s, 2s500ms … up to 10s"],
            Self::Jitter => &["jitter DURATION: a random spread around the delay, up to 10s"],
            Self::Spread => &[
                "uniform (the default): within delay ± jitter, evenly",
                "normal: jitter is the standard deviation around the delay (never below 0)",
            ],
            Self::Rate => &["RATE: a percentage from 0% to 100%, % included; 0% turns it off"],
            Self::Burst => {
                &["burst N: lines lost in a row on average, from 1 (the default) to 1000"]
            }
            Self::Groups => &[
                "GROUPS: server names separated by commas, groups by / (A,B / C,D,E)",
                "servers not named join the last group; a trailing / stands for the rest",
            ],
            Self::Policy => &[
                "spec: the course rule: store a newer report, forward it to all but the sender",
                "storm [ttl=N]: forward every report, new or not, N hops (0 to 64, default 4)",
                "echo: spec, and back to the sender too",
                "gossip fanout=K: a new report to K neighbours picked at random (K >= 1)",
            ],
            Self::Every => &[
                "every=DURATION: exchange digests with one neighbour this often (at most 1h)",
                "off: stop",
            ],
            Self::Topic => &["COMMAND: any command or alias"],
        }
    }

    /// Is it an optional keyword argument, in any order after the positional ones?
    fn is_option(self) -> bool {
        matches!(self, Self::Jitter | Self::Spread | Self::Burst)
    }
}

/// Reads a verb's arguments into a command.
type Parser = fn(&mut Args<'_>) -> Result<Command, CommandError>;

/// One command of the language: how it parses, completes and is explained.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    pub name: &'static str,
    /// Other spellings of the verb (`q`, `exit`).
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub usage: &'static str,
    pub summary: &'static str,
    /// Parses against the cs131 herd.
    pub example: &'static str,
    /// What goes in each argument position, in order (options last, in any order).
    pub args: &'static [Arg],
    /// Help lines of its own, after those of its arguments.
    pub notes: &'static [&'static str],
    parse: Parser,
}

/// Every command, in the order the help lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "iamat",
        aliases: &[],
        kind: Kind::Traffic,
        usage: "iamat SERVER CLIENT COORDS [TIME]",
        summary: "report a client's location to a server (TIME defaults to now)",
        example: "iamat Bailey kiwi.cs.ucla.edu +34.068930-118.445127",
        args: &[Arg::Server, Arg::Client, Arg::Coords, Arg::Time],
        notes: &[],
        parse: parse_iamat,
    },
    CommandSpec {
        name: "whatsat",
        aliases: &[],
        kind: Kind::Traffic,
        usage: "whatsat SERVER CLIENT RADIUS BOUND",
        summary: "ask a server for up to BOUND places within RADIUS km of a client",
        example: "whatsat Bona kiwi.cs.ucla.edu 10 5",
        args: &[Arg::Server, Arg::Client, Arg::Radius, Arg::Bound],
        notes: &[],
        parse: parse_whatsat,
    },
    CommandSpec {
        name: "send",
        aliases: &[],
        kind: Kind::Traffic,
        usage: "send SERVER RAW-LINE",
        summary: "send any line to a server exactly as typed, valid or not",
        example: "send Clark IAMAT kiwi +91+0 1621464827",
        args: &[Arg::Server, Arg::RawLine],
        notes: &[],
        parse: parse_send,
    },
    CommandSpec {
        name: "cut",
        aliases: &[],
        kind: Kind::Fault,
        usage: "cut LINK [for DURATION]",
        summary: "drop every report sent over a link (its connection stays up)",
        example: "cut Bona->Clark for 5s",
        args: &[Arg::Link],
        notes: &[],
        parse: parse_cut,
    },
    CommandSpec {
        name: "partition",
        aliases: &[],
        kind: Kind::Fault,
        usage: "partition GROUPS [for DURATION]",
        summary: "cut every link between servers of different groups, both ways",
        example: "partition Bailey,Bona / Campbell,Clark,Jaquez",
        args: &[Arg::Groups],
        notes: &[],
        parse: parse_partition,
    },
    CommandSpec {
        name: "isolate",
        aliases: &[],
        kind: Kind::Fault,
        usage: "isolate SERVER [for DURATION]",
        summary: "cut every link of one server, both ways",
        example: "isolate Jaquez for 30s",
        args: &[Arg::Server],
        notes: &[],
        parse: parse_isolate,
    },
    CommandSpec {
        name: "delay",
        aliases: &[],
        kind: Kind::Fault,
        usage: "delay [LINK | all] DURATION [jitter DURATION] [normal | uniform] [for DURATION]",
        summary: "delay the reports sent over a link, or over every link",
        example: "delay Bona->Clark 300ms jitter 50ms normal",
        args: &[Arg::DelayLinks, Arg::Delay, Arg::Jitter, Arg::Spread],
        notes: &["a jitter is allowed with delay 0: delays then spread up from zero"],
        parse: parse_delay,
    },
    CommandSpec {
        name: "loss",
        aliases: &[],
        kind: Kind::Fault,
        usage: "loss LINK RATE [burst N] [for DURATION]",
        summary: "drop a share of the AT lines sent over a link",
        example: "loss Bona->Clark 20% burst 3",
        args: &[Arg::Link, Arg::Rate, Arg::Burst],
        notes: &[],
        parse: parse_loss,
    },
    CommandSpec {
        name: "dup",
        aliases: &[],
        kind: Kind::Fault,
        usage: "dup LINK RATE [for DURATION]",
        summary: "deliver a share of the AT lines sent over a link twice",
        example: "dup Bona<->Clark 10%",
        args: &[Arg::Link, Arg::Rate],
        notes: &[],
        parse: parse_dup,
    },
    CommandSpec {
        name: "hang",
        aliases: &[],
        kind: Kind::Fault,
        usage: "hang SERVER [for DURATION]",
        summary: "freeze a server: it takes connections, then reads and sends nothing",
        example: "hang Jaquez for 10s",
        args: &[Arg::Server],
        notes: &[],
        parse: parse_hang,
    },
    CommandSpec {
        name: "heal",
        aliases: &[],
        kind: Kind::Herd,
        usage: "heal LINK | heal all",
        summary: "lift the cuts (partitions, isolations too) on a link, or every cut",
        example: "heal Bona->Clark",
        args: &[Arg::LinkOrAll],
        notes: &[],
        parse: parse_heal,
    },
    CommandSpec {
        name: "unhang",
        aliases: &[],
        kind: Kind::Herd,
        usage: "unhang SERVER",
        summary: "let a hung server run again",
        example: "unhang Jaquez",
        args: &[Arg::Server],
        notes: &[],
        parse: parse_unhang,
    },
    CommandSpec {
        name: "kill",
        aliases: &[],
        kind: Kind::Herd,
        usage: "kill SERVER",
        summary: "stop a server: its port closes, its links end, its table is gone",
        example: "kill Campbell",
        args: &[Arg::Server],
        notes: &["kill is the one fault without for: restart the server to bring it back"],
        parse: parse_kill,
    },
    CommandSpec {
        name: "restart",
        aliases: &[],
        kind: Kind::Herd,
        usage: "restart SERVER",
        summary: "start a stopped server again, with no stored locations",
        example: "restart Campbell",
        args: &[Arg::Server],
        notes: &[],
        parse: parse_restart,
    },
    CommandSpec {
        name: "reset",
        aliases: &[],
        kind: Kind::Herd,
        usage: "reset",
        summary: "clear every fault (not kills), resume traffic, no delay",
        example: "reset",
        args: &[],
        notes: &[],
        parse: |_| Ok(Command::Herd(Control::Reset)),
    },
    CommandSpec {
        name: "faults",
        aliases: &[],
        kind: Kind::Herd,
        usage: "faults",
        summary: "list the faults in force",
        example: "faults",
        args: &[],
        notes: &[],
        parse: |_| Ok(Command::Herd(Control::Faults)),
    },
    CommandSpec {
        name: "pause",
        aliases: &[],
        kind: Kind::Herd,
        usage: "pause",
        summary: "hold server-to-server reports instead of delivering them",
        example: "pause",
        args: &[],
        notes: &[],
        parse: |_| Ok(Command::Herd(Control::Pause)),
    },
    CommandSpec {
        name: "step",
        aliases: &[],
        kind: Kind::Herd,
        usage: "step",
        summary: "deliver the oldest held report while paused",
        example: "step",
        args: &[],
        notes: &[],
        parse: |_| Ok(Command::Herd(Control::Step)),
    },
    CommandSpec {
        name: "resume",
        aliases: &[],
        kind: Kind::Herd,
        usage: "resume",
        summary: "deliver the held reports and stop holding",
        example: "resume",
        args: &[],
        notes: &[],
        parse: |_| Ok(Command::Herd(Control::Resume)),
    },
    CommandSpec {
        name: "policy",
        aliases: &[],
        kind: Kind::Herd,
        usage: "policy spec | storm [ttl=N] | echo | gossip fanout=K",
        summary: "choose how servers flood a new report (all but spec are off-spec)",
        example: "policy storm ttl=3",
        args: &[Arg::Policy],
        notes: &[],
        parse: parse_policy,
    },
    CommandSpec {
        name: "anti-entropy",
        aliases: &[],
        kind: Kind::Herd,
        usage: "anti-entropy every=DURATION | anti-entropy off",
        summary: "exchange table digests with one neighbour periodically, or stop",
        example: "anti-entropy every=5s",
        args: &[Arg::Every],
        notes: &[],
        parse: parse_anti_entropy,
    },
    CommandSpec {
        name: "why",
        aliases: &[],
        kind: Kind::Herd,
        usage: "why CLIENT SERVER",
        summary: "say how SERVER got CLIENT's newest update, or what kept it away",
        example: "why kiwi.cs.ucla.edu Clark",
        args: &[Arg::Client, Arg::Server],
        notes: &[],
        parse: parse_why,
    },
    CommandSpec {
        name: "status",
        aliases: &[],
        kind: Kind::Herd,
        usage: "status",
        summary: "each server as this console sees it: up, seen (attached: its endpoint answers), boot, version",
        example: "status",
        args: &[],
        notes: &[],
        parse: |_| Ok(Command::Status),
    },
    CommandSpec {
        name: "filter",
        aliases: &[],
        kind: Kind::Console,
        usage: "filter [SERVER]",
        summary: "show one server's traffic, or everyone's with no argument or all",
        example: "filter Jaquez",
        args: &[Arg::ServerOrAll],
        notes: &[],
        parse: parse_filter,
    },
    CommandSpec {
        name: "help",
        aliases: &[],
        kind: Kind::Console,
        usage: "help [COMMAND]",
        summary: "list the commands, or explain one",
        example: "help iamat",
        args: &[Arg::Topic],
        notes: &[],
        parse: parse_help,
    },
    CommandSpec {
        name: "quit",
        aliases: &["q", "exit"],
        kind: Kind::Console,
        usage: "quit",
        summary: "leave herdctl",
        example: "quit",
        args: &[],
        notes: &[],
        parse: |_| Ok(Command::Quit),
    },
];

/// The help line on `for`, shown for every fault.
const FOR_NOTE: &str = "for DURATION: heal by itself after that long (5s, 2m; at most 1h)";

/// The flooding policies, by name.
const POLICIES: &[&str] = &["spec", "storm", "echo", "gossip"];

/// The command spec for a verb or alias, case-insensitively (`Q` → `quit`).
pub fn spec(verb: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|spec| {
        spec.name.eq_ignore_ascii_case(verb)
            || spec.aliases.iter().any(|alias| alias.eq_ignore_ascii_case(verb))
    })
}

/// Parses and validates one command line.
pub fn parse(input: &str, context: &Context) -> Result<Command, CommandError> {
    let words = words(input);
    let Some(&(_, verb)) = words.first() else {
        return Err(CommandError::new("empty command: try help"));
    };
    let Some(spec) = spec(verb) else {
        return Err(unknown_command(verb));
    };
    let (words, lasting) = split_lasting(spec, &words[1..])?;
    let mut args = Args { spec, context, input, words, next: 0, lasting };
    let command = (spec.parse)(&mut args)?;
    args.finish()?;
    Ok(command)
}

/// Splits a trailing `for DURATION` off a fault's arguments, and refuses `for` on any other
/// change to the herd. Traffic and console verbs keep `for` as a word like any other.
fn split_lasting<'a>(
    spec: &'static CommandSpec,
    words: &'a Words<'a>,
) -> Result<(&'a Words<'a>, Option<Duration>), CommandError> {
    if matches!(spec.kind, Kind::Traffic | Kind::Console) {
        return Ok((words, None));
    }
    let Some(at) = words.iter().position(|(_, word)| word.eq_ignore_ascii_case("for")) else {
        return Ok((words, None));
    };
    if spec.kind != Kind::Fault {
        let message = if spec.name == "kill" {
            "kill takes no \"for\": for applies to every fault but kill".to_owned()
        } else {
            let faults: Vec<&str> =
                COMMANDS.iter().filter(|s| s.kind == Kind::Fault).map(|s| s.name).collect();
            format!("{} takes no \"for\": only faults last ({})", spec.name, faults.join(", "))
        };
        return Err(CommandError::with_usage(message, spec));
    }
    let Some(&(_, text)) = words.get(at + 1) else {
        return Err(CommandError::with_usage("missing DURATION after for", spec));
    };
    if let Some((_, extra)) = words.get(at + 2) {
        return Err(CommandError::with_usage(
            format!("too many arguments: {extra:?} after \"for {text}\" (for comes last)"),
            spec,
        ));
    }
    let lasting = duration(text, "duration", false, MAX_LASTING)
        .map_err(|message| CommandError::with_usage(message, spec))?;
    Ok((&words[..at], Some(lasting)))
}

/// Words with the byte index in the line where each starts.
type Words<'a> = [(usize, &'a str)];

/// The arguments after the verb (and before `for`), read in order.
struct Args<'a> {
    spec: &'static CommandSpec,
    context: &'a Context,
    /// The whole line, for `send` and `partition`, which read it raw.
    input: &'a str,
    words: &'a Words<'a>,
    /// The next word to read.
    next: usize,
    /// The fault's `for`, if it had one.
    lasting: Option<Duration>,
}

impl<'a> Args<'a> {
    fn error(&self, message: impl Into<String>) -> CommandError {
        CommandError::with_usage(message, self.spec)
    }

    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.next).map(|&(_, word)| word)
    }

    fn next_word(&mut self) -> Option<&'a str> {
        let word = self.peek();
        if word.is_some() {
            self.next += 1;
        }
        word
    }

    /// The next word, or `missing FIELD`.
    fn take(&mut self, field: &str) -> Result<&'a str, CommandError> {
        self.next_word().ok_or_else(|| self.error(format!("missing {field}")))
    }

    /// The next word if it is `keyword` (any case).
    fn keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|word| word.eq_ignore_ascii_case(keyword));
        if found {
            self.next += 1;
        }
        found
    }

    /// Refuses any word left unread.
    fn finish(&self) -> Result<(), CommandError> {
        match self.peek() {
            None => Ok(()),
            Some(extra) => {
                Err(self.error(format!("too many arguments: {extra:?} is one too many")))
            }
        }
    }

    fn resolve(&self, word: &str) -> Result<ServerId, CommandError> {
        resolve_server(word, self.context).map_err(|message| self.error(message))
    }

    /// The next word as a server.
    fn server(&mut self, field: &str) -> Result<ServerId, CommandError> {
        let word = self.take(field)?;
        self.resolve(word)
    }

    /// The input from the next word to the end of the last, read whole.
    fn rest(&mut self) -> &'a str {
        let text = match (self.words.get(self.next), self.words.last()) {
            (Some(&(start, _)), Some(&(last, word))) => {
                self.input.get(start..last + word.len()).unwrap_or_default()
            }
            _ => "",
        };
        self.next = self.words.len();
        text
    }

    /// A LINK: `A->B` (one direction), or `A<->B` or `A B` (both).
    fn link(&mut self) -> Result<Vec<Directed>, CommandError> {
        let word = self.take("LINK")?;
        if let Some((a, both, b)) = split_arrow(word) {
            let (Some(a), Some(b)) = (a, b) else {
                return Err(self.error(bad_link(word)));
            };
            let (a, b) = (self.resolve(a)?, self.resolve(b)?);
            if !self.context.are_neighbours(a, b) {
                let arrow = if both { "<->" } else { "->" };
                let (name_a, name_b) = (self.context.name(a), self.context.name(b));
                return Err(self.error(format!(
                    "{name_a}{arrow}{name_b} is not a link ({})",
                    self.talks_with(a)
                )));
            }
            let link = Directed::new(a, b);
            return Ok(if both { vec![link, link.reversed()] } else { vec![link] });
        }
        let a = self.resolve(word)?;
        let Some(word_b) = self.next_word() else {
            let name = self.context.name(a);
            let message = match self.context.neighbour_list(a) {
                list if list.is_empty() => format!("missing B: {name} has no neighbours"),
                list => format!("missing B, a neighbour of {name} ({list})"),
            };
            return Err(self.error(message));
        };
        if word_b.contains("->") {
            return Err(self.error(bad_link(word_b)));
        }
        let b = self.resolve(word_b)?;
        if !self.context.are_neighbours(a, b) {
            let (name_a, name_b) = (self.context.name(a), self.context.name(b));
            return Err(self
                .error(format!("not neighbours: {name_a} and {name_b} ({})", self.talks_with(a))));
        }
        Ok(vec![Directed::new(a, b), Directed::new(b, a)])
    }

    /// `A talks with B, C` or `A has none`, for link errors.
    fn talks_with(&self, a: ServerId) -> String {
        let name = self.context.name(a);
        match self.context.neighbour_list(a) {
            list if list.is_empty() => format!("{name} has none"),
            list => format!("{name} talks with {list}"),
        }
    }

    /// `RATE%` as a fraction.
    fn rate(&mut self) -> Result<f64, CommandError> {
        let text = self.take("RATE")?;
        parse_rate(text).map_err(|message| self.error(message))
    }

    /// The word after a keyword option, which must not have been given already.
    fn option_value(
        &mut self,
        keyword: &str,
        field: &str,
        given: bool,
    ) -> Result<&'a str, CommandError> {
        if given {
            return Err(self.error(format!("{keyword} given twice")));
        }
        self.take(&format!("{field} after {keyword}"))
    }
}

/// `A->B` → `(A, false, B)`, `A<->B` → `(A, true, B)` (a side `None` when it is empty or
/// holds another arrow); `None` for a word without an arrow.
fn split_arrow(word: &str) -> Option<(Option<&str>, bool, Option<&str>)> {
    let (a, both, b) = if let Some((a, b)) = word.split_once("<->") {
        (a, true, b)
    } else {
        let (a, b) = word.split_once("->")?;
        (a, false, b)
    };
    Some((arrow_side(a), both, arrow_side(b)))
}

/// One side of an arrow: `None` when it is empty or holds another arrow.
fn arrow_side(side: &str) -> Option<&str> {
    (!side.is_empty() && !side.contains("->") && !side.contains("<-")).then_some(side)
}

fn bad_link(word: &str) -> String {
    format!("bad link {word:?}: expected A->B or A<->B, one word with no spaces")
}

fn parse_iamat(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let server = args.server("SERVER")?;
    let client = check_client(args.take("CLIENT")?).map_err(|message| args.error(message))?;
    let coords = normalise_coords(args.take("COORDS")?).map_err(|message| args.error(message))?;
    let time = match args.next_word() {
        None => None,
        Some(text) if ClientTime::parse(text).is_some() => Some(text.to_owned()),
        Some(text) => {
            return Err(args
                .error(format!("bad time {text:?}: expected POSIX seconds such as 1621464827.5")));
        }
    };
    Ok(Command::IAmAt { server, client, coords, time })
}

fn parse_whatsat(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let server = args.server("SERVER")?;
    let client = check_client(args.take("CLIENT")?).map_err(|message| args.error(message))?;
    let radius = args.take("RADIUS")?;
    check_radius(radius).map_err(|message| args.error(message))?;
    let bound = args.take("BOUND")?;
    if !whatsat_accepts("1", bound) {
        return Err(args.error(format!("bound must be 1..=20, got {bound:?}")));
    }
    Ok(Command::WhatsAt { server, client, radius: radius.to_owned(), bound: bound.to_owned() })
}

/// `send SERVER RAW-LINE`: the line is the input after the one separator following SERVER.
fn parse_send(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let server = args.server("SERVER")?;
    let line = args
        .words
        .first()
        .and_then(|&(start, word)| {
            let rest = args.input.get(start + word.len()..)?;
            let mut chars = rest.chars();
            chars.next().map(|_| chars.as_str())
        })
        .unwrap_or_default();
    if line.is_empty() {
        return Err(args.error("missing RAW-LINE"));
    }
    args.next = args.words.len();
    Ok(Command::Send { server, line: line.to_owned() })
}

fn parse_cut(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let links = args.link()?;
    Ok(Command::Herd(Control::Cut { links, lasting: args.lasting }))
}

fn parse_heal(args: &mut Args<'_>) -> Result<Command, CommandError> {
    if args.keyword("all") {
        return Ok(Command::Herd(Control::HealAll));
    }
    let links = args.link()?;
    Ok(Command::Herd(Control::Heal { links }))
}

/// `partition A,B / C,D,E`: groups by `/`, names by commas or spaces; the servers not named
/// join the last group, which may then be left empty as typed (`partition Bona /`).
fn parse_partition(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let text = args.rest();
    if text.is_empty() {
        return Err(args.error("missing GROUPS"));
    }
    let parts: Vec<&str> = text.split('/').collect();
    if parts.len() < 2 {
        return Err(args.error(
            "fewer than two groups: separate them with /, as in partition Bailey,Bona / Clark",
        ));
    }
    let mut named = vec![false; args.context.servers.len()];
    let mut groups: Vec<Vec<ServerId>> = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        let words: Vec<&str> =
            part.split(|c| c == ',' || is_separator(c)).filter(|s| !s.is_empty()).collect();
        let trailing = index + 1 == parts.len();
        if words.is_empty() && !trailing {
            return Err(args.error(format!("group {} is empty", index + 1)));
        }
        let mut group = Vec::with_capacity(words.len());
        for word in words {
            let id = args.resolve(word)?;
            if named.get(id).copied().unwrap_or(false) {
                return Err(args.error(format!("{} is named twice", args.context.name(id))));
            }
            if let Some(flag) = named.get_mut(id) {
                *flag = true;
            }
            group.push(id);
        }
        groups.push(group);
    }
    if let Some(last) = groups.last_mut() {
        last.extend(named.iter().enumerate().filter(|(_, named)| !**named).map(|(id, _)| id));
        if last.is_empty() {
            return Err(args.error("the last group is empty: every server is named before it"));
        }
    }
    for group in &mut groups {
        group.sort_unstable();
    }
    Ok(Command::Herd(Control::Partition { groups, lasting: args.lasting }))
}

fn parse_isolate(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let server = args.server("SERVER")?;
    Ok(Command::Herd(Control::Isolate { server, lasting: args.lasting }))
}

fn parse_hang(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let server = args.server("SERVER")?;
    Ok(Command::Herd(Control::Hang { server, lasting: args.lasting }))
}

fn parse_unhang(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let server = args.server("SERVER")?;
    Ok(Command::Herd(Control::Unhang { server }))
}

fn parse_kill(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let server = args.server("SERVER")?;
    Ok(Command::Herd(Control::Kill { server }))
}

fn parse_restart(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let server = args.server("SERVER")?;
    Ok(Command::Herd(Control::Restart { server }))
}

/// What the first argument of `delay` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DelayTarget {
    /// `all`.
    All,
    /// Already the DURATION: every link.
    Omitted,
    /// A LINK (or a word that is neither a server nor a duration).
    Link,
}

fn delay_target(word: &str, context: &Context) -> DelayTarget {
    if word.eq_ignore_ascii_case("all") {
        DelayTarget::All
    } else if word.contains("->") || resolve_server(word, context).is_ok() {
        DelayTarget::Link
    } else if word.eq_ignore_ascii_case("off")
        || word.eq_ignore_ascii_case("none")
        || word.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
    {
        DelayTarget::Omitted
    } else {
        DelayTarget::Link
    }
}

fn parse_delay(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let Some(first) = args.peek() else {
        return Err(args.error("missing DURATION"));
    };
    let links = match delay_target(first, args.context) {
        DelayTarget::All => {
            args.next += 1;
            Links::All
        }
        DelayTarget::Omitted => Links::All,
        DelayTarget::Link => {
            let servers = args.context.servers.iter().map(String::as_str);
            if !first.contains("->") && suggestion(first, servers).is_none() {
                return Err(args.error(format!(
                    "no server or duration {first:?}: expected LINK, all or DURATION (such as \
                     300ms)"
                )));
            }
            Links::Some(args.link()?)
        }
    };
    let text = args.take("DURATION")?;
    let delay = duration(text, "delay", true, MAX_DELAY).map_err(|message| args.error(message))?;
    let mut jitter = None;
    let mut spread = None;
    while let Some(word) = args.next_word() {
        if word.eq_ignore_ascii_case("jitter") {
            let text = args.option_value("jitter", "DURATION", jitter.is_some())?;
            jitter = Some(
                duration(text, "jitter", true, MAX_DELAY).map_err(|message| args.error(message))?,
            );
        } else if let Some(chosen) = spread_named(word) {
            if let Some((_, earlier)) = spread {
                return Err(args.error(format!("spread given twice: {earlier}, then {word}")));
            }
            spread = Some((chosen, word));
        } else {
            return Err(args.error(format!(
                "unexpected {word:?}: expected jitter DURATION, normal, uniform or for DURATION"
            )));
        }
    }
    let delay = Delay {
        delay,
        jitter: jitter.unwrap_or_default(),
        spread: spread.map(|(spread, _)| spread).unwrap_or_default(),
    };
    Ok(Command::Herd(Control::Delay { links, delay, lasting: args.lasting }))
}

fn spread_named(word: &str) -> Option<Spread> {
    if word.eq_ignore_ascii_case("uniform") {
        Some(Spread::Uniform)
    } else if word.eq_ignore_ascii_case("normal") {
        Some(Spread::Normal)
    } else {
        None
    }
}

fn parse_loss(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let links = args.link()?;
    let rate = args.rate()?;
    let mut burst = None;
    while let Some(word) = args.next_word() {
        if word.eq_ignore_ascii_case("burst") {
            let text = args.option_value("burst", "N", burst.is_some())?;
            burst = Some(parse_burst(text).map_err(|message| args.error(message))?);
        } else {
            return Err(
                args.error(format!("unexpected {word:?}: expected burst N or for DURATION"))
            );
        }
    }
    let loss = Loss { rate, burst: burst.unwrap_or(1.0) };
    Ok(Command::Herd(Control::Loss { links, loss, lasting: args.lasting }))
}

fn parse_dup(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let links = args.link()?;
    let rate = args.rate()?;
    Ok(Command::Herd(Control::Dup { links, rate, lasting: args.lasting }))
}

fn parse_policy(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let name = args.take("POLICY: spec, storm, echo or gossip")?;
    let policy = match name.to_ascii_lowercase().as_str() {
        "spec" => Policy::Spec,
        "echo" => Policy::Echo,
        "storm" => {
            let ttl = match args.next_word() {
                None => Policy::DEFAULT_TTL,
                Some(word) => {
                    let Some(value) = setting(word, "ttl") else {
                        return Err(args.error(format!(
                            "bad setting {word:?}: storm takes ttl=N (0 to {MAX_TTL})"
                        )));
                    };
                    match value.parse::<u32>() {
                        Ok(ttl) if ttl <= MAX_TTL && is_digits(value) => ttl,
                        _ => {
                            return Err(
                                args.error(format!("bad ttl {value:?}: expected 0 to {MAX_TTL}"))
                            );
                        }
                    }
                }
            };
            Policy::Storm { ttl }
        }
        "gossip" => {
            let Some(word) = args.next_word() else {
                return Err(args.error("missing fanout=K: gossip needs one, as in gossip fanout=2"));
            };
            let Some(value) = setting(word, "fanout") else {
                return Err(args.error(format!("bad setting {word:?}: gossip takes fanout=K")));
            };
            match value.parse::<usize>() {
                Ok(fanout) if fanout >= 1 && is_digits(value) => Policy::Gossip { fanout },
                _ => return Err(args.error(format!("bad fanout {value:?}: expected 1 or more"))),
            }
        }
        _ => {
            let message = match suggestion(name, POLICIES.iter().copied()) {
                Some(guess) => format!("unknown policy {name:?}; did you mean {guess}?"),
                None => format!("unknown policy {name:?}: expected spec, storm, echo or gossip"),
            };
            return Err(args.error(message));
        }
    };
    Ok(Command::Herd(Control::Policy { policy }))
}

/// The value of `key=value` (key in any case).
fn setting<'a>(word: &'a str, key: &str) -> Option<&'a str> {
    let (name, value) = word.split_once('=')?;
    name.eq_ignore_ascii_case(key).then_some(value)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_anti_entropy(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let word = args.take("every=DURATION or off")?;
    if word.eq_ignore_ascii_case("off") {
        return Ok(Command::Herd(Control::AntiEntropy { every: None }));
    }
    let Some(text) = setting(word, "every") else {
        return Err(
            args.error(format!("bad setting {word:?}: expected every=DURATION (every=5s) or off"))
        );
    };
    let every = duration(text, "every", false, MAX_EVERY).map_err(|message| args.error(message))?;
    Ok(Command::Herd(Control::AntiEntropy { every: Some(every) }))
}

fn parse_why(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let client = check_client(args.take("CLIENT")?).map_err(|message| args.error(message))?;
    let server = args.server("SERVER")?;
    Ok(Command::Why { client, server })
}

fn parse_filter(args: &mut Args<'_>) -> Result<Command, CommandError> {
    if args.peek().is_none() || args.keyword("all") {
        return Ok(Command::Filter(None));
    }
    Ok(Command::Filter(Some(args.server("SERVER")?)))
}

fn parse_help(args: &mut Args<'_>) -> Result<Command, CommandError> {
    let Some(topic) = args.next_word() else {
        return Ok(Command::Help(None));
    };
    args.finish()?;
    match spec(topic) {
        Some(found) => Ok(Command::Help(Some(found.name.to_owned()))),
        None => Err(unknown_command(topic)),
    }
}

/// A duration no longer than `max`; zero (also spelt `off` or `none`) only if `zero_ok`.
/// Errors name the value as `what`.
fn duration(text: &str, what: &str, zero_ok: bool, max: Duration) -> Result<Duration, String> {
    if zero_ok && (text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none")) {
        return Ok(Duration::ZERO);
    }
    let Ok(value) = humantime::parse_duration(text) else {
        let examples = if zero_ok { "300ms or 1s, or off" } else { "5s or 2m" };
        return Err(format!("bad {what} {text:?}: expected a duration such as {examples}"));
    };
    if value.is_zero() && !zero_ok {
        return Err(format!("{what} {text:?} must be over 0"));
    }
    if value > max {
        return Err(format!("{what} {text:?} is over the {} limit", fmt_duration(max)));
    }
    Ok(value)
}

/// `RATE%` (a decimal from 0 to 100, `%` included) as a fraction from 0 to 1, parsed
/// straight from the decimal so that every fraction has a percentage that gives it back.
fn parse_rate(text: &str) -> Result<f64, String> {
    let bad = || format!("bad rate {text:?}: expected a percentage such as 20%");
    let out_of_range = || format!("bad rate {text:?}: expected 0% to 100%");
    let number = text.strip_suffix('%').ok_or_else(bad)?;
    if number.strip_prefix('-').is_some_and(|rest| split_decimal(rest).is_some()) {
        return Err(out_of_range());
    }
    let (int, frac) = split_decimal(number).ok_or_else(bad)?;
    let int = int.trim_start_matches('0');
    let over = int.len() > 3
        || (int.len() == 3 && (int > "100" || (int == "100" && frac.bytes().any(|b| b != b'0'))));
    if over {
        return Err(out_of_range());
    }
    // Two places left: "20" → "0.20", "12.5" → "0.125", "100" → "1.00".
    let shifted = match int.len() {
        3 => format!("{}.{}{frac}", &int[..1], &int[1..]),
        _ => format!("0.{int:0>2}{frac}"),
    };
    shifted.parse::<f64>().map_err(|_| bad())
}

/// `burst N`: a decimal from 1 to [`MAX_BURST`].
fn parse_burst(text: &str) -> Result<f64, String> {
    let bad = || format!("bad burst {text:?}: expected a decimal from 1 to 1000");
    split_decimal(text).ok_or_else(bad)?;
    match text.parse::<f64>() {
        Ok(burst) if (1.0..=MAX_BURST).contains(&burst) => Ok(burst),
        _ => Err(bad()),
    }
}

/// A client id as the protocol sees one: no white space (ASCII or not), no control bytes.
fn check_client(text: &str) -> Result<String, String> {
    if text.chars().any(char::is_control) {
        return Err(format!("bad client {text:?}: control characters are not allowed"));
    }
    Ok(text.to_owned())
}

/// The operator's coordinates in wire form: `+34.07-118.44` as is, or `34.07,-118.44` /
/// `+34.07,-118.44` joined with a sign on both halves. The error names the value and why.
fn normalise_coords(text: &str) -> Result<String, String> {
    let wire = match text.split_once(',') {
        Some((lat, lng)) => format!("{}{}", signed(lat), signed(lng)),
        None => text.to_owned(),
    };
    if Coords::parse(&wire).is_some() {
        return Ok(wire);
    }
    Err(format!("bad coordinates {text:?}: {}", coords_problem(text, &wire)))
}

fn signed(half: &str) -> String {
    if half.starts_with(['+', '-']) { half.to_owned() } else { format!("+{half}") }
}

/// Why `wire` (normalised from `text`) is not valid coordinates, as best it can be told.
fn coords_problem(text: &str, wire: &str) -> &'static str {
    const FORM: &str = "expected +LAT-LNG or LAT,LNG such as +34.07-118.44";
    if text.ends_with(',') {
        return "no space after the comma: write 34.07,-118.44";
    }
    let Some(sign) = wire.chars().next().filter(|c| matches!(c, '+' | '-')) else {
        return FORM;
    };
    let Some(split) = wire[1..].find(['+', '-']).map(|i| i + 1) else {
        return FORM;
    };
    let (lat, lng) = (&wire[1..split], &wire[split + 1..]);
    if split_decimal(lat).is_none() || split_decimal(lng).is_none() {
        return FORM;
    }
    if Coords::parse(&format!("{sign}{lat}+0")).is_none() {
        "latitude must be within [-90, 90]"
    } else {
        "longitude must be within [-180, 180]"
    }
}

/// The radius rule of the protocol, with a message naming the value when it is broken.
fn check_radius(text: &str) -> Result<(), String> {
    if whatsat_accepts(text, "1") {
        return Ok(());
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    if split_decimal(unsigned).is_none() {
        Err(format!("bad radius {text:?}: expected km as a decimal, 0 < radius <= 50"))
    } else if text.starts_with('-') || unsigned.bytes().all(|b| matches!(b, b'0' | b'.')) {
        Err(format!("radius {text:?} must be over 0 km"))
    } else {
        Err(format!("radius {text:?} is over 50 km"))
    }
}

/// Would a server accept `WHATSAT c RADIUS BOUND`? (Both are single words.)
fn whatsat_accepts(radius: &str, bound: &str) -> bool {
    let line = format!("WHATSAT c {radius} {bound}");
    matches!(
        crate::protocol::parse_line(line.as_bytes()),
        Ok(Some(crate::protocol::Command::WhatsAt(_)))
    )
}

/// A server name: exact, else the one case-insensitive match. The error lists the servers or
/// suggests the nearest names.
fn resolve_server(word: &str, context: &Context) -> Result<ServerId, String> {
    if let Some(exact) = context.servers.iter().position(|s| s == word) {
        return Ok(exact);
    }
    let folded: Vec<ServerId> = (0..context.servers.len())
        .filter(|&id| context.servers[id].to_lowercase() == word.to_lowercase())
        .collect();
    match folded.as_slice() {
        [one] => return Ok(*one),
        [] => {}
        many => {
            let names: Vec<String> = many.iter().map(|&id| context.name(id)).collect();
            return Err(format!(
                "server {word:?} is ambiguous ({}): type it exactly",
                names.join(", ")
            ));
        }
    }
    let names = context.servers.iter().map(String::as_str);
    if let Some(guess) = suggestion(word, names) {
        return Err(format!("no server {word:?}; did you mean {guess}?"));
    }
    if context.servers.is_empty() {
        return Err(format!("no server {word:?} (the herd has no servers)"));
    }
    Err(format!("no server {word:?} (servers: {})", context.servers.join(", ")))
}

fn unknown_command(verb: &str) -> CommandError {
    let names = COMMANDS.iter().map(|spec| spec.name);
    match suggestion(verb, names) {
        Some(guess) => {
            CommandError::new(format!("unknown command {verb:?}; did you mean {guess}?"))
        }
        None => CommandError::new(format!("unknown command {verb:?}: try help")),
    }
}

/// The names nearest to `word` (case-insensitive edit distance at most 2, or 1 for a word of
/// four characters or fewer, which short verbs like `cut` and `dup` would otherwise all
/// match), as "A" or "A or B"; `None` when nothing is that close.
fn suggestion<'a>(word: &str, names: impl Iterator<Item = &'a str>) -> Option<String> {
    let word = word.to_lowercase();
    let mut best: Vec<&str> = Vec::new();
    let mut best_distance = if word.chars().count() <= 4 { 1 } else { 2 };
    for name in names {
        let distance = edit_distance(&word, &name.to_lowercase());
        if distance < best_distance {
            best_distance = distance;
            best.clear();
        }
        if distance <= best_distance && !best.contains(&name) {
            best.push(name);
        }
    }
    (!best.is_empty()).then(|| best.join(" or "))
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Is `c` a word separator (the protocol's white space)?
fn is_separator(c: char) -> bool {
    c.is_ascii() && crate::protocol::is_space(c as u8)
}

/// The words of `input` with the byte index where each starts.
pub(crate) fn words(input: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut start = None;
    for (i, c) in input.char_indices() {
        if is_separator(c) {
            if let Some(s) = start.take() {
                found.push((s, &input[s..i]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        found.push((s, &input[s..]));
    }
    found
}

/// Help lines: with no topic, one line per command (usage and summary) under a heading per
/// kind; with a topic (a verb or alias, any case), its usage, summary, the notes on its
/// arguments and its own, its aliases and an example.
pub fn help(topic: Option<&str>) -> Result<Vec<String>, CommandError> {
    let Some(topic) = topic else {
        // Usages longer than this put their summary on a line of its own.
        const WIDE: usize = 40;
        let width = COMMANDS.iter().map(|s| s.usage.len()).filter(|&w| w <= WIDE).max();
        let width = width.unwrap_or(0);
        let mut lines = Vec::new();
        let mut kind = None;
        for spec in COMMANDS {
            if kind != Some(spec.kind) {
                if kind.is_some() {
                    lines.push(String::new());
                }
                lines.push(spec.kind.heading().to_owned());
                kind = Some(spec.kind);
            }
            if spec.usage.len() > width {
                lines.push(spec.usage.to_owned());
                lines.push(format!("{:<width$}  {}", "", spec.summary));
            } else {
                lines.push(format!("{:<width$}  {}", spec.usage, spec.summary));
            }
        }
        lines.push(String::new());
        lines.push("help COMMAND shows details and an example".to_owned());
        return Ok(lines);
    };
    let spec = spec(topic).ok_or_else(|| unknown_command(topic))?;
    let mut lines = vec![spec.usage.to_owned(), format!("  {}", spec.summary)];
    let mut notes: Vec<&str> = Vec::new();
    for arg in spec.args {
        for note in arg.notes() {
            if !notes.contains(note) {
                notes.push(note);
            }
        }
    }
    if spec.kind == Kind::Fault {
        notes.push(FOR_NOTE);
    }
    notes.extend(spec.notes);
    lines.extend(notes.iter().map(|note| format!("  {note}")));
    if !spec.aliases.is_empty() {
        lines.push(format!("  also: {}", spec.aliases.join(", ")));
    }
    lines.push(format!("  example: {}", spec.example));
    Ok(lines)
}

/// What a client command sends: the server and the protocol line (an IAMAT without a time
/// is stamped now). `None` for the other commands.
pub fn client_line(command: &Command) -> Option<(ServerId, String)> {
    match command {
        Command::IAmAt { server, client, coords, time } => {
            let time = time.clone().unwrap_or_else(now_text);
            Some((*server, format!("IAMAT {client} {coords} {time}")))
        }
        Command::WhatsAt { server, client, radius, bound } => {
            Some((*server, format!("WHATSAT {client} {radius} {bound}")))
        }
        Command::Send { server, line } => Some((*server, line.clone())),
        _ => None,
    }
}

/// Wall-clock now as POSIX seconds with nine fraction digits (an IAMAT's default time).
pub fn now_text() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let now = now.unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// `control` as the command line that gives it (see [`Control::describe`]).
pub fn render(control: &Control, names: &[String]) -> String {
    control.describe(names)
}
