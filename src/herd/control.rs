//! The operator's vocabulary: every change a console, a `--control stdin` script, a scenario
//! or an admin endpoint can make to a running herd, as one typed [`Control`], applied by
//! `HerdHandle::apply`, and what applying it answered ([`Applied`] or [`ControlError`]).
//! Servers are ids here; names belong to the command grammar that parses into this.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::events::ServerId;

/// A directed link: what `from` sends to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Directed {
    pub from: ServerId,
    pub to: ServerId,
}

impl Directed {
    pub fn new(from: ServerId, to: ServerId) -> Self {
        Self { from, to }
    }

    pub fn reversed(self) -> Self {
        Self { from: self.to, to: self.from }
    }
}

/// The longest delay (and jitter) a link accepts.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// How a link's jitter is spread around its delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// Uniform within delay ± jitter (the default).
    #[default]
    Uniform,
    /// Normal with mean delay and standard deviation jitter, never below zero.
    Normal,
}

/// Which links a delay applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Links {
    /// Every link of the herd, both ways (replaces every per-link delay).
    All,
    Some(Vec<Directed>),
}

/// A link delay: `delay` plus a jitter sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delay {
    pub delay: Duration,
    pub jitter: Duration,
    pub spread: Spread,
}

/// A loss rate: a fraction of AT lines in `0.0..=1.0` dropped, in bursts of `burst` lines on
/// average (1 = independent losses).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Loss {
    pub rate: f64,
    pub burst: f64,
}

/// How servers flood a newly received report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Policy {
    /// The course rule: store if newer, forward to every neighbour but the sender.
    #[default]
    Spec,
    /// Forward every report received, new or not, to every neighbour but the sender, until
    /// its TTL runs out (off-spec).
    Storm { ttl: u32 },
    /// `spec`, but also back to the sender (off-spec).
    Echo,
    /// Forward a new report to `fanout` neighbours chosen by the seeded RNG (off-spec).
    Gossip { fanout: usize },
}

impl Policy {
    pub const DEFAULT_TTL: u32 = 4;

    /// Is this the course's own rule?
    pub fn is_spec(self) -> bool {
        self == Self::Spec
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spec => f.write_str("spec"),
            Self::Storm { ttl } => write!(f, "storm ttl={ttl}"),
            Self::Echo => f.write_str("echo"),
            Self::Gossip { fanout } => write!(f, "gossip fanout={fanout}"),
        }
    }
}

/// One operator action on a running herd. Every fault but `kill` may carry `lasting`: it
/// heals itself after that long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "control", rename_all = "kebab-case")]
pub enum Control {
    /// Stop a server: its port closes, its connections and links end, its table is gone.
    Kill { server: ServerId },
    /// Start a stopped server again, empty, on the address it had.
    Restart { server: ServerId },
    /// Freeze a server like a stopped process: connections still complete, but it reads,
    /// answers and forwards nothing.
    Hang { server: ServerId, lasting: Option<Duration> },
    Unhang { server: ServerId },
    /// Drop every report sent over these directed links (connections stay up).
    Cut { links: Vec<Directed>, lasting: Option<Duration> },
    /// Lift the cuts (and partitions, isolations) on these directed links.
    Heal { links: Vec<Directed> },
    /// Lift every cut.
    HealAll,
    /// Cut every link between servers of different groups, both ways. Servers not named
    /// belong to the last group.
    Partition { groups: Vec<Vec<ServerId>>, lasting: Option<Duration> },
    /// Cut every link of one server, both ways.
    Isolate { server: ServerId, lasting: Option<Duration> },
    Delay { links: Links, delay: Delay, lasting: Option<Duration> },
    Loss { links: Vec<Directed>, loss: Loss, lasting: Option<Duration> },
    /// Deliver this fraction (`0.0..=1.0`) of AT lines twice.
    Dup { links: Vec<Directed>, rate: f64, lasting: Option<Duration> },
    /// Clear every fault (not kills), resume traffic, delay 0.
    Reset,
    /// Hold every report between servers until `step` or `resume`.
    Pause,
    /// Release the oldest held report.
    Step,
    /// Release every held report and stop holding.
    Resume,
    Policy { policy: Policy },
    /// Periodic digest exchange with one neighbour (`None`: off).
    AntiEntropy { every: Option<Duration> },
    /// List the active faults (changes nothing).
    Faults,
}

/// What a [`Control`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "applied", rename_all = "kebab-case")]
pub enum Applied {
    /// The herd changed; the text says how (`cut Bona->Clark`).
    Changed { text: String },
    /// Nothing needed changing; the text says why (`Bona->Clark is already cut`).
    Unchanged { text: String },
    /// The active faults (for `faults`).
    Faults { faults: Vec<ActiveFault> },
}

impl Applied {
    pub fn changed(text: impl Into<String>) -> Self {
        Self::Changed { text: text.into() }
    }

    pub fn unchanged(text: impl Into<String>) -> Self {
        Self::Unchanged { text: text.into() }
    }

    /// One line for an operator.
    pub fn text(&self) -> String {
        match self {
            Self::Changed { text } | Self::Unchanged { text } => text.clone(),
            Self::Faults { faults } if faults.is_empty() => "no active faults".to_owned(),
            Self::Faults { faults } => {
                let labels: Vec<&str> = faults.iter().map(|f| f.label.as_str()).collect();
                format!("{} active: {}", faults.len(), labels.join("; "))
            }
        }
    }
}

/// A fault in force, for `faults`, snapshots and the Faults pane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveFault {
    /// As the operator would type it (`loss Bona->Clark 20%`, `hang Jaquez`).
    pub label: String,
    /// Reports it dropped, duplicated and delayed so far.
    pub dropped: u64,
    pub duplicated: u64,
    pub delayed: u64,
    /// Time left before it heals itself, if it was given `for`.
    pub remaining: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ControlError {
    #[error("no server {0} in this herd")]
    NoSuchServer(String),
    #[error("{0} is not running")]
    NotRunning(String),
    #[error("{0} is already running")]
    AlreadyRunning(String),
    #[error("{0} is not run by this process")]
    NotLocal(String),
    #[error("{0} and {1} are not neighbours")]
    NoSuchLink(String, String),
    #[error("cannot listen for {0} again: {1}")]
    Rebind(String, String),
    #[error("{0}")]
    Invalid(String),
}

/// A duration as the command grammar writes it: `300ms`, `5s`, `1500ms`, `0`.
pub fn fmt_duration(d: Duration) -> String {
    if d.is_zero() {
        "0".to_owned()
    } else if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos() % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}us", d.as_micros())
    }
}

/// A fraction as a percentage: `0.2` → `20%`, `0.125` → `12.5%`.
pub fn fmt_percent(rate: f64) -> String {
    let text = format!("{:.3}", rate * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// A directed link by name: `Bona->Clark`.
pub fn link_name(link: Directed, names: &[String]) -> String {
    let name = |id: ServerId| names.get(id).map_or("?", String::as_str);
    format!("{}->{}", name(link.from), name(link.to))
}

/// `links` as one argument of the grammar: `A->B`, or `A B` for both ways.
fn links_text(links: &[Directed], names: &[String]) -> String {
    let name = |id: ServerId| names.get(id).map_or("?", String::as_str);
    match links {
        [one] => link_name(*one, names),
        [a, b] if a.reversed() == *b => format!("{} {}", name(a.from), name(a.to)),
        many => many.iter().map(|l| link_name(*l, names)).collect::<Vec<_>>().join(" "),
    }
}

impl Control {
    /// The control as a command line of the console's grammar (`cut Bona->Clark for 5s`).
    pub fn describe(&self, names: &[String]) -> String {
        let name = |id: ServerId| names.get(id).map_or("?", String::as_str).to_owned();
        let lasting = |lasting: &Option<Duration>| {
            lasting.map_or(String::new(), |d| format!(" for {}", fmt_duration(d)))
        };
        match self {
            Self::Kill { server } => format!("kill {}", name(*server)),
            Self::Restart { server } => format!("restart {}", name(*server)),
            Self::Hang { server, lasting: l } => format!("hang {}{}", name(*server), lasting(l)),
            Self::Unhang { server } => format!("unhang {}", name(*server)),
            Self::Cut { links, lasting: l } => format!("cut {}{}", links_text(links, names), lasting(l)),
            Self::Heal { links } => format!("heal {}", links_text(links, names)),
            Self::HealAll => "heal all".to_owned(),
            Self::Partition { groups, lasting: l } => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|g| g.iter().map(|&id| name(id)).collect::<Vec<_>>().join(","))
                    .collect();
                format!("partition {}{}", groups.join(" / "), lasting(l))
            }
            Self::Isolate { server, lasting: l } => format!("isolate {}{}", name(*server), lasting(l)),
            Self::Delay { links, delay, lasting: l } => {
                let target = match links {
                    Links::All => "all".to_owned(),
                    Links::Some(links) => links_text(links, names),
                };
                let mut text = format!("delay {target} {}", fmt_duration(delay.delay));
                if !delay.jitter.is_zero() {
                    text.push_str(&format!(" jitter {}", fmt_duration(delay.jitter)));
                    if delay.spread == Spread::Normal {
                        text.push_str(" normal");
                    }
                }
                text + &lasting(l)
            }
            Self::Loss { links, loss, lasting: l } => {
                let burst =
                    if loss.burst > 1.0 { format!(" burst {}", loss.burst) } else { String::new() };
                let rate = fmt_percent(loss.rate);
                format!("loss {} {rate}{burst}{}", links_text(links, names), lasting(l))
            }
            Self::Dup { links, rate, lasting: l } => {
                format!("dup {} {}{}", links_text(links, names), fmt_percent(*rate), lasting(l))
            }
            Self::Reset => "reset".to_owned(),
            Self::Pause => "pause".to_owned(),
            Self::Step => "step".to_owned(),
            Self::Resume => "resume".to_owned(),
            Self::Policy { policy } => format!("policy {policy}"),
            Self::AntiEntropy { every: Some(every) } => {
                format!("anti-entropy every={}", fmt_duration(*every))
            }
            Self::AntiEntropy { every: None } => "anti-entropy off".to_owned(),
            Self::Faults => "faults".to_owned(),
        }
    }
}
