//! The operator's command language (the `:` line): parsing with validation and usage hints,
//! Tab completion of verbs, server names and client ids, and the help text of every command.
//!
//! Words are separated by runs of the protocol's white space (space, tab, CR, LF, FF, VT).
//! Verbs are case-insensitive; server names are matched exactly, or else by a unique
//! case-insensitive match, and always come back spelled as the herd spells them.

use std::fmt;
use std::time::Duration;

use crate::protocol::time::split_decimal;
use crate::protocol::{ClientTime, Coords};

/// A validated operator command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `iamat SERVER CLIENT COORDS [TIME]`; `coords` in wire form (`+34.07-118.44`), `time`
    /// `None` = now.
    IAmAt {
        server: String,
        client: String,
        coords: String,
        time: Option<String>,
    },
    /// `whatsat SERVER CLIENT RADIUS BOUND`
    WhatsAt {
        server: String,
        client: String,
        radius: String,
        bound: String,
    },
    /// `send SERVER RAW-LINE`: any line, byte for byte (spaces kept).
    Send {
        server: String,
        line: String,
    },
    Cut(String, String),
    Heal(String, String),
    HealAll,
    Kill(String),
    Restart(String),
    Pause,
    Resume,
    Step,
    /// `delay DURATION`: `Duration::ZERO` means no delay.
    Delay(Duration),
    /// `filter [SERVER]`: the traffic pane shows one server, or all.
    Filter(Option<String>),
    /// `help [COMMAND]`; the topic is the command's canonical name (`q` → `quit`).
    Help(Option<String>),
    Quit,
}

/// What the command line knows about the herd, for validation and completion.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub servers: Vec<String>,
    /// Undirected links as server-name pairs.
    pub links: Vec<(String, String)>,
    pub clients: Vec<String>,
}

impl Context {
    /// The servers linked with `server` (exact name), sorted, without duplicates.
    pub fn neighbours(&self, server: &str) -> Vec<&str> {
        let mut found: Vec<&str> = self
            .links
            .iter()
            .filter_map(|(a, b)| {
                if a == server {
                    Some(b.as_str())
                } else if b == server {
                    Some(a.as_str())
                } else {
                    None
                }
            })
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Are `a` and `b` (exact names) linked, in either order?
    pub fn are_neighbours(&self, a: &str, b: &str) -> bool {
        self.links.iter().any(|(x, y)| (x == a && y == b) || (x == b && y == a))
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

/// One command of the language, for the help overlay, `help COMMAND` and usage hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    pub name: &'static str,
    pub usage: &'static str,
    pub summary: &'static str,
    pub example: &'static str,
}

/// Every command, in the order the help lists them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "iamat",
        usage: "iamat SERVER CLIENT COORDS [TIME]",
        summary: "report a client's location to a server (TIME defaults to now)",
        example: "iamat Bailey kiwi.cs.ucla.edu +34.068930-118.445127",
    },
    CommandSpec {
        name: "whatsat",
        usage: "whatsat SERVER CLIENT RADIUS BOUND",
        summary: "ask a server for up to BOUND places within RADIUS km of a client",
        example: "whatsat Bona kiwi.cs.ucla.edu 10 5",
    },
    CommandSpec {
        name: "send",
        usage: "send SERVER RAW-LINE",
        summary: "send any line to a server exactly as typed, valid or not",
        example: "send Clark IAMAT kiwi +91+0 1621464827",
    },
    CommandSpec {
        name: "cut",
        usage: "cut A B",
        summary: "cut the link between neighbours A and B",
        example: "cut Bailey Bona",
    },
    CommandSpec {
        name: "heal",
        usage: "heal A B | heal all",
        summary: "restore the link between neighbours A and B, or every cut link",
        example: "heal Bailey Bona",
    },
    CommandSpec {
        name: "kill",
        usage: "kill SERVER",
        summary: "stop a server; its neighbours see it go down",
        example: "kill Campbell",
    },
    CommandSpec {
        name: "restart",
        usage: "restart SERVER",
        summary: "start a stopped server again, with no stored locations",
        example: "restart Campbell",
    },
    CommandSpec {
        name: "pause",
        usage: "pause",
        summary: "hold server-to-server reports instead of delivering them",
        example: "pause",
    },
    CommandSpec {
        name: "resume",
        usage: "resume",
        summary: "deliver the held reports and stop holding",
        example: "resume",
    },
    CommandSpec {
        name: "step",
        usage: "step",
        summary: "deliver one held report while paused",
        example: "step",
    },
    CommandSpec {
        name: "delay",
        usage: "delay DURATION",
        summary: "delay every server-to-server report (off, 300ms, 1s; at most 10s)",
        example: "delay 300ms",
    },
    CommandSpec {
        name: "filter",
        usage: "filter [SERVER]",
        summary: "show one server's traffic, or everyone's with no argument or all",
        example: "filter Jaquez",
    },
    CommandSpec {
        name: "help",
        usage: "help [COMMAND]",
        summary: "list the commands, or explain one",
        example: "help iamat",
    },
    CommandSpec {
        name: "quit",
        usage: "quit",
        summary: "leave herdctl (also q, exit)",
        example: "quit",
    },
];

/// Other spellings of a verb: (alias, canonical name).
const ALIASES: &[(&str, &str)] = &[("q", "quit"), ("exit", "quit")];

/// Extra lines `help COMMAND` shows after the summary.
const NOTES: &[(&str, &[&str])] = &[
    (
        "iamat",
        &[
            "COORDS: +34.07-118.44 (ISO 6709) or 34.07,-118.44 (one word, no space)",
            "TIME: POSIX seconds such as 1621464827.959498503; omitted = now",
        ],
    ),
    ("whatsat", &["RADIUS: km, a decimal with 0 < RADIUS <= 50", "BOUND: an integer from 1 to 20"]),
    ("send", &["RAW-LINE: everything after the space that follows SERVER, spaces kept"]),
    ("delay", &["DURATION: 0, off, 300ms, 1s, 2s500ms … up to 10s"]),
];

/// The longest delay `delay` accepts.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// The command spec for a verb or alias, case-insensitively (`Q` → `quit`).
pub fn spec(verb: &str) -> Option<&'static CommandSpec> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(verb))
        .map_or(verb, |&(_, name)| name);
    COMMANDS.iter().find(|spec| spec.name.eq_ignore_ascii_case(name))
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
    let args = Args { spec, words: &words[1..] };
    match spec.name {
        "iamat" => parse_iamat(&args, context),
        "whatsat" => parse_whatsat(&args, context),
        "send" => parse_send(input, &args, context),
        "cut" => {
            let (a, b) = parse_link(&args, context)?;
            Ok(Command::Cut(a, b))
        }
        "heal" => {
            if args.words.len() == 1 && args.words[0].1.eq_ignore_ascii_case("all") {
                return Ok(Command::HealAll);
            }
            let (a, b) = parse_link(&args, context)?;
            Ok(Command::Heal(a, b))
        }
        "kill" => {
            args.at_most(1)?;
            Ok(Command::Kill(args.server(0, "SERVER", context)?))
        }
        "restart" => {
            args.at_most(1)?;
            Ok(Command::Restart(args.server(0, "SERVER", context)?))
        }
        "pause" => args.at_most(0).map(|()| Command::Pause),
        "resume" => args.at_most(0).map(|()| Command::Resume),
        "step" => args.at_most(0).map(|()| Command::Step),
        "quit" => args.at_most(0).map(|()| Command::Quit),
        "delay" => {
            args.at_most(1)?;
            parse_delay(args.get(0, "DURATION")?, spec).map(Command::Delay)
        }
        "filter" => {
            args.at_most(1)?;
            match args.words.first() {
                None => Ok(Command::Filter(None)),
                Some((_, word)) if word.eq_ignore_ascii_case("all") => Ok(Command::Filter(None)),
                Some(_) => Ok(Command::Filter(Some(args.server(0, "SERVER", context)?))),
            }
        }
        "help" => {
            args.at_most(1)?;
            match args.words.first() {
                None => Ok(Command::Help(None)),
                Some(&(_, topic)) => match self::spec(topic) {
                    Some(found) => Ok(Command::Help(Some(found.name.to_owned()))),
                    None => Err(unknown_command(topic)),
                },
            }
        }
        _ => Err(unknown_command(verb)),
    }
}

/// The arguments after the verb, with the command they belong to (for usage in errors).
struct Args<'a> {
    spec: &'static CommandSpec,
    words: &'a [(usize, &'a str)],
}

impl<'a> Args<'a> {
    /// Argument `index`, or `missing FIELD`.
    fn get(&self, index: usize, field: &str) -> Result<&'a str, CommandError> {
        self.words
            .get(index)
            .map(|&(_, word)| word)
            .ok_or_else(|| CommandError::with_usage(format!("missing {field}"), self.spec))
    }

    /// Refuses arguments past the first `count`.
    fn at_most(&self, count: usize) -> Result<(), CommandError> {
        match self.words.get(count) {
            None => Ok(()),
            Some((_, extra)) => Err(CommandError::with_usage(
                format!("too many arguments: {extra:?} is one too many"),
                self.spec,
            )),
        }
    }

    /// Argument `index` resolved to a server name.
    fn server(&self, index: usize, field: &str, context: &Context) -> Result<String, CommandError> {
        let word = self.get(index, field)?;
        resolve_server(word, context)
            .map_err(|message| CommandError::with_usage(message, self.spec))
    }
}

fn parse_iamat(args: &Args<'_>, context: &Context) -> Result<Command, CommandError> {
    args.at_most(4)?;
    let server = args.server(0, "SERVER", context)?;
    let client = check_client(args.get(1, "CLIENT")?, args.spec)?;
    let coords = normalise_coords(args.get(2, "COORDS")?)
        .map_err(|message| CommandError::with_usage(message, args.spec))?;
    let time = match args.words.get(3) {
        None => None,
        Some(&(_, text)) => {
            if ClientTime::parse(text).is_none() {
                return Err(CommandError::with_usage(
                    format!("bad time {text:?}: expected POSIX seconds such as 1621464827.5"),
                    args.spec,
                ));
            }
            Some(text.to_owned())
        }
    };
    Ok(Command::IAmAt { server, client, coords, time })
}

fn parse_whatsat(args: &Args<'_>, context: &Context) -> Result<Command, CommandError> {
    args.at_most(4)?;
    let server = args.server(0, "SERVER", context)?;
    let client = check_client(args.get(1, "CLIENT")?, args.spec)?;
    let radius = args.get(2, "RADIUS")?;
    check_radius(radius).map_err(|message| CommandError::with_usage(message, args.spec))?;
    let bound = args.get(3, "BOUND")?;
    if !whatsat_accepts("1", bound) {
        return Err(CommandError::with_usage(
            format!("bound must be 1..=20, got {bound:?}"),
            args.spec,
        ));
    }
    Ok(Command::WhatsAt { server, client, radius: radius.to_owned(), bound: bound.to_owned() })
}

/// `send SERVER RAW-LINE`: the line is the input after the one separator following SERVER.
fn parse_send(input: &str, args: &Args<'_>, context: &Context) -> Result<Command, CommandError> {
    let server = args.server(0, "SERVER", context)?;
    let line = args
        .words
        .first()
        .and_then(|&(start, word)| {
            let rest = &input[start + word.len()..];
            let mut chars = rest.chars();
            chars.next().map(|_| chars.as_str())
        })
        .unwrap_or_default();
    if line.is_empty() {
        return Err(CommandError::with_usage("missing RAW-LINE", args.spec));
    }
    Ok(Command::Send { server, line: line.to_owned() })
}

/// `cut A B` / `heal A B`: two servers that are neighbours.
fn parse_link(args: &Args<'_>, context: &Context) -> Result<(String, String), CommandError> {
    args.at_most(2)?;
    let a = args.server(0, "A", context)?;
    if args.words.len() < 2 {
        let message = match context.neighbours(&a).as_slice() {
            [] => format!("missing B: {a} has no neighbours"),
            list => format!("missing B, a neighbour of {a} ({})", list.join(", ")),
        };
        return Err(CommandError::with_usage(message, args.spec));
    }
    let b = args.server(1, "B", context)?;
    if !context.are_neighbours(&a, &b) {
        let message = match context.neighbours(&a).as_slice() {
            [] => format!("not neighbours: {a} and {b} ({a} has none)"),
            list => format!("not neighbours: {a} and {b} ({a} talks with {})", list.join(", ")),
        };
        return Err(CommandError::with_usage(message, args.spec));
    }
    Ok((a, b))
}

fn parse_delay(text: &str, spec: &CommandSpec) -> Result<Duration, CommandError> {
    if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
        return Ok(Duration::ZERO);
    }
    let delay = humantime::parse_duration(text).map_err(|_| {
        CommandError::with_usage(
            format!("bad delay {text:?}: expected a duration such as 300ms or 1s, or off"),
            spec,
        )
    })?;
    if delay > MAX_DELAY {
        return Err(CommandError::with_usage(
            format!("delay {text:?} is over the 10s limit"),
            spec,
        ));
    }
    Ok(delay)
}

/// A client id as the protocol sees one: no white space (ASCII or not), no control bytes.
fn check_client(text: &str, spec: &CommandSpec) -> Result<String, CommandError> {
    if text.chars().any(char::is_control) {
        return Err(CommandError::with_usage(
            format!("bad client {text:?}: control characters are not allowed"),
            spec,
        ));
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
fn resolve_server(word: &str, context: &Context) -> Result<String, String> {
    if let Some(exact) = context.servers.iter().find(|s| *s == word) {
        return Ok(exact.clone());
    }
    let folded: Vec<&String> =
        context.servers.iter().filter(|s| s.to_lowercase() == word.to_lowercase()).collect();
    match folded.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        many => {
            let names: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
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

/// The names nearest to `word` (case-insensitive edit distance at most 2), as "A" or
/// "A or B"; `None` when nothing is that close.
fn suggestion<'a>(word: &str, names: impl Iterator<Item = &'a str>) -> Option<String> {
    let word = word.to_lowercase();
    let mut best: Vec<&str> = Vec::new();
    let mut best_distance = 3;
    for name in names {
        let distance = edit_distance(&word, &name.to_lowercase());
        if distance < best_distance {
            best_distance = distance;
            best.clear();
        }
        if distance == best_distance && !best.contains(&name) {
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
fn words(input: &str) -> Vec<(usize, &str)> {
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

/// Help lines: with no topic, one line per command (usage and summary); with a topic (a
/// verb or alias, any case), its usage, summary, notes and an example.
pub fn help(topic: Option<&str>) -> Result<Vec<String>, CommandError> {
    let Some(topic) = topic else {
        let width = COMMANDS.iter().map(|s| s.usage.len()).max().unwrap_or(0);
        let mut lines: Vec<String> =
            COMMANDS.iter().map(|s| format!("{:<width$}  {}", s.usage, s.summary)).collect();
        lines.push(String::new());
        lines.push("help COMMAND shows details and an example".to_owned());
        return Ok(lines);
    };
    let spec = spec(topic).ok_or_else(|| unknown_command(topic))?;
    let mut lines = vec![spec.usage.to_owned(), format!("  {}", spec.summary)];
    let notes =
        NOTES.iter().find(|(name, _)| *name == spec.name).map_or(&[][..], |(_, notes)| notes);
    lines.extend(notes.iter().map(|note| format!("  {note}")));
    let aliases: Vec<&str> =
        ALIASES.iter().filter(|(_, name)| *name == spec.name).map(|(alias, _)| *alias).collect();
    if !aliases.is_empty() {
        lines.push(format!("  also: {}", aliases.join(", ")));
    }
    lines.push(format!("  example: {}", spec.example));
    Ok(lines)
}

/// Tab completion of the word at the end of an input line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// Byte index in the input where the word being completed starts (the input's length
    /// when the input ends in a separator: the completion is a new word).
    pub start: usize,
    /// Sorted case-insensitively, filtered by case-insensitive prefix; empty when nothing
    /// fits.
    pub candidates: Vec<String>,
}

/// Completes the word at the end of `input`: verbs first; then server names where a server
/// goes (for `cut`/`heal` B, only the neighbours of A; `heal` and `filter` also offer `all`),
/// client ids where a client goes, verbs after `help`, and a few durations after `delay`.
pub fn complete(input: &str, context: &Context) -> Completion {
    let words = words(input);
    let new_word = input.chars().last().is_none_or(is_separator);
    let (start, prefix, index) = match words.last() {
        Some(&(start, word)) if !new_word => (start, word, words.len() - 1),
        _ => (input.len(), "", words.len()),
    };
    let servers = || context.servers.iter().map(String::as_str).collect::<Vec<_>>();
    let pool: Vec<&str> = if index == 0 {
        COMMANDS.iter().map(|s| s.name).collect()
    } else {
        let verb = spec(words[0].1).map_or("", |s| s.name);
        match (verb, index) {
            ("iamat" | "whatsat" | "send" | "kill" | "restart" | "cut", 1) => servers(),
            ("heal" | "filter", 1) => {
                let mut pool = servers();
                pool.push("all");
                pool
            }
            ("iamat" | "whatsat", 2) => context.clients.iter().map(String::as_str).collect(),
            ("cut" | "heal", 2) => match resolve_server(words[1].1, context) {
                Ok(a) => context.neighbours(&a),
                Err(_) => Vec::new(),
            },
            ("help", 1) => COMMANDS.iter().map(|s| s.name).collect(),
            ("delay", 1) => vec!["off", "100ms", "300ms", "1s"],
            _ => Vec::new(),
        }
    };
    let folded = prefix.to_lowercase();
    let mut candidates: Vec<String> = pool
        .into_iter()
        .filter(|c| c.to_lowercase().starts_with(&folded))
        .map(str::to_owned)
        .collect();
    candidates.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
    candidates.dedup();
    Completion { start, candidates }
}

/// The input with the completed word replaced by candidate `choice` (taken modulo the number
/// of candidates, so a caller can cycle by passing the original input and 0, 1, 2, …).
/// A unique candidate gets a trailing space, ready for the next word; with several, none is
/// added so cycling keeps working. With no candidates the input comes back unchanged.
pub fn apply_completion(input: &str, completion: &Completion, choice: usize) -> String {
    let count = completion.candidates.len();
    let (Some(head), Some(candidate)) = (
        input.get(..completion.start),
        completion.candidates.get(choice.checked_rem(count).unwrap_or(0)),
    ) else {
        return input.to_owned();
    };
    let mut out = format!("{head}{candidate}");
    if count == 1 {
        out.push(' ');
    }
    out
}

/// The usage of the verb typed so far, to show under the command line: the verb is the first
/// word (or, while it is still being typed, the one verb it is a prefix of). `None` for an
/// empty line or an unknown verb.
pub fn hint(input: &str) -> Option<String> {
    let words = words(input);
    let &(_, verb) = words.first()?;
    if let Some(spec) = spec(verb) {
        return Some(spec.usage.to_owned());
    }
    let still_typing = words.len() == 1 && !input.chars().last().is_none_or(is_separator);
    if !still_typing {
        return None;
    }
    let folded = verb.to_lowercase();
    let mut matches = COMMANDS.iter().filter(|s| s.name.starts_with(&folded));
    match (matches.next(), matches.next()) {
        (Some(only), None) => Some(only.usage.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cs131 herd, with three known clients.
    fn herd() -> Context {
        let topology = crate::config::Topology::load("cs131", 12401).unwrap();
        let name = |id: usize| topology.servers[id].name.clone();
        Context {
            servers: (0..topology.servers.len()).map(name).collect(),
            links: topology.links().into_iter().map(|(a, b)| (name(a), name(b))).collect(),
            clients: ["kiwi.cs.ucla.edu", "apple", "avocado"].map(str::to_owned).to_vec(),
        }
    }

    fn ok(input: &str) -> Command {
        parse(input, &herd()).unwrap_or_else(|e| panic!("{input:?} refused: {}", e.message))
    }

    fn err(input: &str) -> CommandError {
        match parse(input, &herd()) {
            Ok(command) => panic!("{input:?} accepted as {command:?}"),
            Err(e) => e,
        }
    }

    fn iamat(server: &str, client: &str, coords: &str, time: Option<&str>) -> Command {
        Command::IAmAt {
            server: server.into(),
            client: client.into(),
            coords: coords.into(),
            time: time.map(Into::into),
        }
    }

    #[test]
    #[allow(clippy::too_many_lines)]
    fn parses_every_command() {
        let s = |x: &str| x.to_owned();
        let cases: Vec<(&str, Command)> = vec![
            (
                "iamat Bailey kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
                iamat(
                    "Bailey",
                    "kiwi.cs.ucla.edu",
                    "+34.068930-118.445127",
                    Some("1621464827.959498503"),
                ),
            ),
            ("iamat Bailey kiwi +34.07-118.44", iamat("Bailey", "kiwi", "+34.07-118.44", None)),
            (
                "IAMAT bailey new.client 34.07,-118.44",
                iamat("Bailey", "new.client", "+34.07-118.44", None),
            ),
            (
                "iamat Bona kiwi +34.07,-118.44 12",
                iamat("Bona", "kiwi", "+34.07-118.44", Some("12")),
            ),
            ("iamat Bona kiwi -1.5,2 12", iamat("Bona", "kiwi", "-1.5+2", Some("12"))),
            ("iamat Bona kiwi 90,180", iamat("Bona", "kiwi", "+90+180", None)),
            ("  iamat\tClark   kiwi  +12-118  ", iamat("Clark", "kiwi", "+12-118", None)),
            (
                "whatsat Bona kiwi.cs.ucla.edu 10 5",
                Command::WhatsAt {
                    server: s("Bona"),
                    client: s("kiwi.cs.ucla.edu"),
                    radius: s("10"),
                    bound: s("5"),
                },
            ),
            (
                "WhatsAt jaquez nobody.knows 50 20",
                Command::WhatsAt {
                    server: s("Jaquez"),
                    client: s("nobody.knows"),
                    radius: s("50"),
                    bound: s("20"),
                },
            ),
            (
                "whatsat Bona kiwi 0.5 1",
                Command::WhatsAt {
                    server: s("Bona"),
                    client: s("kiwi"),
                    radius: s("0.5"),
                    bound: s("1"),
                },
            ),
            (
                "send Clark IAMAT  kiwi   +91+0 1",
                Command::Send { server: s("Clark"), line: s("IAMAT  kiwi   +91+0 1") },
            ),
            (
                "send Clark   two leading spaces kept ",
                Command::Send { server: s("Clark"), line: s("  two leading spaces kept ") },
            ),
            ("send Clark\tAT\tx", Command::Send { server: s("Clark"), line: s("AT\tx") }),
            ("cut Bailey Bona", Command::Cut(s("Bailey"), s("Bona"))),
            ("cut bona bailey", Command::Cut(s("Bona"), s("Bailey"))),
            ("heal Clark Jaquez", Command::Heal(s("Clark"), s("Jaquez"))),
            ("heal all", Command::HealAll),
            ("HEAL ALL", Command::HealAll),
            ("kill Campbell", Command::Kill(s("Campbell"))),
            ("restart campbell", Command::Restart(s("Campbell"))),
            ("pause", Command::Pause),
            ("Resume", Command::Resume),
            ("step", Command::Step),
            ("delay 300ms", Command::Delay(Duration::from_millis(300))),
            ("delay 1s", Command::Delay(Duration::from_secs(1))),
            ("delay 10s", Command::Delay(Duration::from_secs(10))),
            ("delay 0", Command::Delay(Duration::ZERO)),
            ("delay 0s", Command::Delay(Duration::ZERO)),
            ("delay off", Command::Delay(Duration::ZERO)),
            ("delay OFF", Command::Delay(Duration::ZERO)),
            ("filter", Command::Filter(None)),
            ("filter all", Command::Filter(None)),
            ("filter jaquez", Command::Filter(Some(s("Jaquez")))),
            ("help", Command::Help(None)),
            ("help IAMAT", Command::Help(Some(s("iamat")))),
            ("help q", Command::Help(Some(s("quit")))),
            ("quit", Command::Quit),
            ("q", Command::Quit),
            ("EXIT", Command::Quit),
        ];
        for (input, expected) in cases {
            assert_eq!(ok(input), expected, "{input:?}");
        }
    }

    #[test]
    #[allow(clippy::too_many_lines)]
    fn refuses_with_named_field_and_value() {
        // (input, words the message must contain, expected usage)
        let iamat_usage = Some("iamat SERVER CLIENT COORDS [TIME]");
        let whatsat_usage = Some("whatsat SERVER CLIENT RADIUS BOUND");
        let cases: Vec<(&str, &[&str], Option<&str>)> = vec![
            ("", &["empty command"], None),
            ("   ", &["empty command"], None),
            ("foo", &["unknown command \"foo\""], None),
            ("iamt", &["unknown command \"iamt\"", "did you mean iamat?"], None),
            // Coordinates, both forms.
            (
                "iamat Bailey kiwi +91-118",
                &["bad coordinates \"+91-118\"", "latitude must be within [-90, 90]"],
                iamat_usage,
            ),
            (
                "iamat Bailey kiwi 91,-118",
                &["bad coordinates \"91,-118\"", "latitude"],
                iamat_usage,
            ),
            (
                "iamat Bailey kiwi +34-181",
                &["bad coordinates \"+34-181\"", "longitude must be within [-180, 180]"],
                iamat_usage,
            ),
            (
                "iamat Bailey kiwi 34,181.5",
                &["bad coordinates \"34,181.5\"", "longitude"],
                iamat_usage,
            ),
            (
                "iamat Bailey kiwi 34.07-118.44",
                &["bad coordinates \"34.07-118.44\"", "expected"],
                iamat_usage,
            ),
            ("iamat Bailey kiwi abc", &["bad coordinates \"abc\""], iamat_usage),
            (
                "iamat Bailey kiwi 34.07,",
                &["bad coordinates \"34.07,\"", "no space after the comma"],
                iamat_usage,
            ),
            (
                "iamat Bailey kiwi 34.07,-118.44,1",
                &["bad coordinates \"34.07,-118.44,1\""],
                iamat_usage,
            ),
            ("iamat Bailey kiwi +34.07,+-118", &["bad coordinates \"+34.07,+-118\""], iamat_usage),
            ("iamat Bailey kiwi +34.-118", &["bad coordinates \"+34.-118\""], iamat_usage),
            ("iamat Bailey kiwi +34-118 nan", &["bad time \"nan\""], iamat_usage),
            ("iamat Bailey kiwi +34-118 1e9", &["bad time \"1e9\""], iamat_usage),
            ("iamat Bailey ki\u{7}wi +34-118", &["bad client"], iamat_usage),
            ("iamat", &["missing SERVER"], iamat_usage),
            ("iamat Bailey", &["missing CLIENT"], iamat_usage),
            ("iamat Bailey kiwi", &["missing COORDS"], iamat_usage),
            (
                "iamat Bailey kiwi +34-118 12 extra",
                &["too many arguments", "\"extra\""],
                iamat_usage,
            ),
            // Radius and bound.
            ("whatsat Bona kiwi 60 5", &["radius \"60\" is over 50 km"], whatsat_usage),
            ("whatsat Bona kiwi 50.001 5", &["radius \"50.001\" is over 50 km"], whatsat_usage),
            ("whatsat Bona kiwi 0 5", &["radius \"0\" must be over 0 km"], whatsat_usage),
            ("whatsat Bona kiwi 0.000 5", &["radius \"0.000\" must be over 0 km"], whatsat_usage),
            ("whatsat Bona kiwi -3 5", &["radius \"-3\" must be over 0 km"], whatsat_usage),
            ("whatsat Bona kiwi ten 5", &["bad radius \"ten\""], whatsat_usage),
            ("whatsat Bona kiwi 10 0", &["bound must be 1..=20, got \"0\""], whatsat_usage),
            ("whatsat Bona kiwi 10 21", &["bound must be 1..=20, got \"21\""], whatsat_usage),
            ("whatsat Bona kiwi 10 2.5", &["bound must be 1..=20, got \"2.5\""], whatsat_usage),
            ("whatsat Bona kiwi", &["missing RADIUS"], whatsat_usage),
            ("whatsat Bona kiwi 10", &["missing BOUND"], whatsat_usage),
            ("whatsat Bona kiwi 10 5 6", &["too many arguments", "\"6\""], whatsat_usage),
            // Servers.
            ("kill Bailee", &["no server \"Bailee\"", "did you mean Bailey?"], Some("kill SERVER")),
            ("iamat Clerk kiwi +1+1", &["no server \"Clerk\"", "did you mean Clark?"], iamat_usage),
            (
                "restart Zzzzzzz",
                &["no server \"Zzzzzzz\"", "servers: Bailey, Bona, Campbell, Clark, Jaquez"],
                Some("restart SERVER"),
            ),
            ("kill", &["missing SERVER"], Some("kill SERVER")),
            ("kill Bona Clark", &["too many arguments", "\"Clark\""], Some("kill SERVER")),
            ("send Bona", &["missing RAW-LINE"], Some("send SERVER RAW-LINE")),
            ("send Bona ", &["missing RAW-LINE"], Some("send SERVER RAW-LINE")),
            ("send", &["missing SERVER"], Some("send SERVER RAW-LINE")),
            ("send Nope IAMAT", &["no server \"Nope\""], Some("send SERVER RAW-LINE")),
            // Links.
            (
                "cut Bailey Clark",
                &["not neighbours: Bailey and Clark", "Bona, Campbell"],
                Some("cut A B"),
            ),
            ("heal Bailey Jaquez", &["not neighbours"], Some("heal A B | heal all")),
            ("cut Bailey Bailey", &["not neighbours"], Some("cut A B")),
            ("cut", &["missing A"], Some("cut A B")),
            ("cut Bailey", &["missing B", "Bona, Campbell"], Some("cut A B")),
            ("heal", &["missing A"], Some("heal A B | heal all")),
            ("cut Bailey Bona Clark", &["too many arguments"], Some("cut A B")),
            // Everything else.
            ("pause now", &["too many arguments"], Some("pause")),
            ("resume x", &["too many arguments"], Some("resume")),
            ("step 2", &["too many arguments"], Some("step")),
            ("quit now", &["too many arguments"], Some("quit")),
            ("delay", &["missing DURATION"], Some("delay DURATION")),
            ("delay 11s", &["delay \"11s\" is over the 10s limit"], Some("delay DURATION")),
            ("delay 1m", &["over the 10s limit"], Some("delay DURATION")),
            ("delay soon", &["bad delay \"soon\""], Some("delay DURATION")),
            ("delay -1s", &["bad delay \"-1s\""], Some("delay DURATION")),
            ("delay 1s 2s", &["too many arguments"], Some("delay DURATION")),
            ("filter Nobody", &["no server \"Nobody\""], Some("filter [SERVER]")),
            ("filter Bona Clark", &["too many arguments"], Some("filter [SERVER]")),
            ("help nothing", &["unknown command \"nothing\""], None),
            ("help iamat whatsat", &["too many arguments"], Some("help [COMMAND]")),
        ];
        for (input, needles, usage) in cases {
            let e = err(input);
            for needle in needles {
                assert!(e.message.contains(needle), "{input:?}: {:?} lacks {needle:?}", e.message);
            }
            assert_eq!(e.usage, usage, "{input:?}");
            let first = e.message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{input:?}: {:?}", e.message);
            assert_eq!(e.to_string(), e.message);
        }
    }

    #[test]
    fn normalises_coordinates_to_wire_form() {
        for (text, wire) in [
            ("34.07,-118.44", "+34.07-118.44"),
            ("+34.07,-118.44", "+34.07-118.44"),
            ("-34.07,118.44", "-34.07+118.44"),
            ("34.07,+118.44", "+34.07+118.44"),
            ("0,0", "+0+0"),
            ("+34.07-118.44", "+34.07-118.44"),
            ("-90+180", "-90+180"),
        ] {
            assert_eq!(normalise_coords(text).as_deref(), Ok(wire), "{text:?}");
        }
    }

    #[test]
    fn server_names_resolve_case_insensitively_and_exactly_first() {
        let mut context = herd();
        assert_eq!(resolve_server("BONA", &context), Ok("Bona".to_owned()));
        context.servers.push("bona".to_owned());
        assert_eq!(resolve_server("bona", &context), Ok("bona".to_owned()));
        assert_eq!(resolve_server("Bona", &context), Ok("Bona".to_owned()));
        let ambiguous = resolve_server("BONA", &context).unwrap_err();
        assert!(ambiguous.contains("ambiguous"), "{ambiguous}");
        let near = resolve_server("Clar", &herd()).unwrap_err();
        assert!(near.contains("did you mean Clark?"), "{near}");
        let empty = resolve_server("X", &Context::default()).unwrap_err();
        assert!(empty.contains("no servers"), "{empty}");
    }

    #[test]
    fn edit_distance_and_suggestions() {
        for (a, b, d) in [
            ("", "", 0),
            ("bailey", "bailee", 1),
            ("kitten", "sitting", 3),
            ("", "abc", 3),
            ("ab", "ba", 2),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} {b}");
        }
        let names = ["Bona", "Bone", "Clark"];
        assert_eq!(suggestion("bonx", names.into_iter()).as_deref(), Some("Bona or Bone"));
        assert_eq!(suggestion("zzzzzz", names.into_iter()), None);
    }

    #[test]
    fn every_command_has_a_spec_and_help() {
        let verbs = [
            "iamat", "whatsat", "send", "cut", "heal", "kill", "restart", "pause", "resume",
            "step", "delay", "filter", "help", "quit",
        ];
        assert_eq!(COMMANDS.len(), verbs.len());
        for verb in verbs {
            let found = spec(verb).unwrap();
            assert!(found.usage.starts_with(verb), "{verb}");
            assert!(found.example.starts_with(verb), "{verb}");
            let lines = help(Some(&verb.to_uppercase())).unwrap();
            assert_eq!(lines[0], found.usage);
            assert!(lines.iter().any(|l| l.contains(found.example)), "{verb}");
            // Every example parses against the default herd.
            assert!(parse(found.example, &herd()).is_ok(), "example {:?}", found.example);
        }
        let all = help(None).unwrap();
        for spec in COMMANDS {
            assert!(all.iter().any(|l| l.starts_with(spec.usage)), "{}", spec.name);
        }
        assert!(help(Some("q")).unwrap().iter().any(|l| l.contains("also: q, exit")));
        let e = help(Some("wat")).unwrap_err();
        assert!(e.message.starts_with("unknown command \"wat\""), "{}", e.message);
    }

    fn completion(input: &str) -> (usize, Vec<String>) {
        let c = complete(input, &herd());
        (c.start, c.candidates)
    }

    #[test]
    fn completes_each_position() {
        let v = |xs: &[&str]| xs.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let verbs: Vec<String> = {
            let mut names: Vec<String> = COMMANDS.iter().map(|s| s.name.to_owned()).collect();
            names.sort();
            names
        };
        let servers = v(&["Bailey", "Bona", "Campbell", "Clark", "Jaquez"]);
        let cases: Vec<(&str, usize, Vec<String>)> = vec![
            ("", 0, verbs.clone()),
            ("  ", 2, verbs.clone()),
            ("i", 0, v(&["iamat"])),
            ("RE", 0, v(&["restart", "resume"])),
            ("  wh", 2, v(&["whatsat"])),
            ("zz", 0, vec![]),
            ("iamat ", 6, servers.clone()),
            ("iamat b", 6, v(&["Bailey", "Bona"])),
            ("iamat C", 6, v(&["Campbell", "Clark"])),
            ("iamat Bailey ", 13, v(&["apple", "avocado", "kiwi.cs.ucla.edu"])),
            ("iamat Bailey a", 13, v(&["apple", "avocado"])),
            ("iamat Bailey brand.new", 13, vec![]),
            ("iamat Bailey kiwi ", 18, vec![]),
            ("whatsat bona K", 13, v(&["kiwi.cs.ucla.edu"])),
            ("whatsat bona kiwi 1", 18, vec![]),
            ("send j", 5, v(&["Jaquez"])),
            ("send Jaquez IAM", 12, vec![]),
            ("kill ", 5, servers.clone()),
            ("restart ja", 8, v(&["Jaquez"])),
            ("cut ", 4, servers.clone()),
            ("cut Bailey ", 11, v(&["Bona", "Campbell"])),
            ("cut bailey c", 11, v(&["Campbell"])),
            ("cut Jaquez ", 11, v(&["Campbell", "Clark"])),
            ("cut Nobody ", 11, vec![]),
            ("cut Bailey Bona ", 16, vec![]),
            ("heal ", 5, {
                let mut pool = servers.clone();
                pool.insert(0, "all".to_owned());
                pool
            }),
            ("heal A", 5, v(&["all"])),
            ("heal Bona ", 10, v(&["Bailey", "Campbell", "Clark"])),
            ("heal all ", 9, vec![]),
            ("filter ", 7, {
                let mut pool = servers.clone();
                pool.insert(0, "all".to_owned());
                pool
            }),
            ("help ", 5, verbs.clone()),
            ("help w", 5, v(&["whatsat"])),
            ("delay ", 6, v(&["100ms", "1s", "300ms", "off"])),
            ("pause ", 6, vec![]),
            ("q ", 2, vec![]),
            ("nonsense ", 9, vec![]),
        ];
        for (input, start, candidates) in cases {
            assert_eq!(completion(input), (start, candidates), "{input:?}");
        }
    }

    #[test]
    fn applies_completions() {
        let context = herd();
        let unique = complete("kill ja", &context);
        assert_eq!(apply_completion("kill ja", &unique, 0), "kill Jaquez ");
        let several = complete("iamat b", &context);
        assert_eq!(apply_completion("iamat b", &several, 0), "iamat Bailey");
        assert_eq!(apply_completion("iamat b", &several, 1), "iamat Bona");
        assert_eq!(apply_completion("iamat b", &several, 2), "iamat Bailey");
        let verbs = complete("", &context);
        assert_eq!(apply_completion("", &verbs, 0), "cut");
        let none = complete("zz", &context);
        assert_eq!(apply_completion("zz", &none, 3), "zz");
        let bad = Completion { start: 99, candidates: vec!["x".into()] };
        assert_eq!(apply_completion("ab", &bad, 0), "ab");
        let next = complete("cut Bailey ", &context);
        assert_eq!(apply_completion("cut Bailey ", &next, 1), "cut Bailey Campbell");
    }

    #[test]
    fn hints_the_usage_of_the_verb() {
        for (input, expected) in [
            ("", None),
            ("   ", None),
            ("iamat Bailey ", Some("iamat SERVER CLIENT COORDS [TIME]")),
            ("IAMAT", Some("iamat SERVER CLIENT COORDS [TIME]")),
            ("iam", Some("iamat SERVER CLIENT COORDS [TIME]")),
            ("re", None),
            ("res", None),
            ("rest", Some("restart SERVER")),
            ("heal ", Some("heal A B | heal all")),
            ("exit", Some("quit")),
            ("iam ", None),
            ("foo bar", None),
        ] {
            assert_eq!(hint(input).as_deref(), expected, "{input:?}");
        }
    }

    #[test]
    fn words_keep_byte_offsets() {
        assert_eq!(words(" a\tbc\u{b}d  é "), vec![(1, "a"), (3, "bc"), (6, "d"), (9, "é")]);
        assert!(words("").is_empty());
    }
}
