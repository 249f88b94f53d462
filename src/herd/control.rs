//! The operator's vocabulary: every change a console, a `--control stdin` script, a scenario
//! or an admin endpoint can make to a running herd, as one typed [`Control`], applied by
//! `HerdHandle::apply`, and what applying it answered ([`Applied`] or [`ControlError`]).
//! Servers are ids here; names belong to the command grammar that parses into this.

use std::fmt::Write as _;
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

    #[must_use]
    pub fn reversed(self) -> Self {
        Self { from: self.to, to: self.from }
    }
}

/// The shortest period of anti-entropy (each round opens a connection per server).
pub const MIN_ANTI_ENTROPY: Duration = Duration::from_millis(10);

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
    Kill {
        server: ServerId,
    },
    /// Start a stopped server again, empty, on the address it had.
    Restart {
        server: ServerId,
    },
    /// Freeze a server like a stopped process: connections still complete, but it reads,
    /// answers and forwards nothing.
    Hang {
        server: ServerId,
        lasting: Option<Duration>,
    },
    Unhang {
        server: ServerId,
    },
    /// Drop every report sent over these directed links (connections stay up).
    Cut {
        links: Vec<Directed>,
        lasting: Option<Duration>,
    },
    /// Lift the cuts (and partitions, isolations) on these directed links.
    Heal {
        links: Vec<Directed>,
    },
    /// Lift every cut.
    HealAll,
    /// Cut every link between servers of different groups, both ways. Servers not named
    /// belong to the last group.
    Partition {
        groups: Vec<Vec<ServerId>>,
        lasting: Option<Duration>,
    },
    /// Cut every link of one server, both ways.
    Isolate {
        server: ServerId,
        lasting: Option<Duration>,
    },
    Delay {
        links: Links,
        delay: Delay,
        lasting: Option<Duration>,
    },
    Loss {
        links: Vec<Directed>,
        loss: Loss,
        lasting: Option<Duration>,
    },
    /// Deliver this fraction (`0.0..=1.0`) of AT lines twice.
    Dup {
        links: Vec<Directed>,
        rate: f64,
        lasting: Option<Duration>,
    },
    /// Clear every fault (not kills), resume traffic, delay 0.
    Reset,
    /// Hold every report between servers until `step` or `resume`.
    Pause,
    /// Release the oldest held report.
    Step,
    /// Release every held report and stop holding.
    Resume,
    Policy {
        policy: Policy,
    },
    /// Periodic digest exchange with one neighbour (`None`: off).
    AntiEntropy {
        every: Option<Duration>,
    },
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

/// A directed link by name: `Bona->Clark`.
pub fn link_name(link: Directed, names: &[String]) -> String {
    format!("{}->{}", server_name(link.from, names), server_name(link.to, names))
}

pub fn server_name(id: ServerId, names: &[String]) -> String {
    names.get(id).cloned().unwrap_or_else(|| format!("#{id}"))
}

/// A duration as one word humantime reads back exactly: `1h2m3s4ms5us6ns`, `0s`.
pub fn fmt_duration(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_owned();
    }
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    let parts = [
        (secs / 3600, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos / 1000 % 1000), "us"),
        (u64::from(nanos % 1000), "ns"),
    ];
    let mut text = String::new();
    for (value, unit) in parts {
        if value > 0 {
            let _ = write!(text, "{value}{unit}");
        }
    }
    text
}

impl Control {
    /// The control as its canonical command line, servers named from `names` (index = id;
    /// `#id` when out of range): `cut Bona->Clark for 5s`, `loss Bona->Clark 20% burst 3`,
    /// `partition Bailey,Bona / Campbell,Clark,Jaquez`. The console's grammar parses it back
    /// to the same control for every control it can produce; a link list other than one
    /// directed link or both directions of one link comes out as its links joined by commas.
    pub fn describe(&self, names: &[String]) -> String {
        let control = self;
        let name = |id: ServerId| server_name(id, names);
        let links = |links: &[Directed]| render_links(links, names);
        let (line, lasting) = match control {
            Self::Kill { server } => (format!("kill {}", name(*server)), None),
            Self::Restart { server } => (format!("restart {}", name(*server)), None),
            Self::Hang { server, lasting } => (format!("hang {}", name(*server)), *lasting),
            Self::Unhang { server } => (format!("unhang {}", name(*server)), None),
            Self::Cut { links: cut, lasting } => (format!("cut {}", links(cut)), *lasting),
            Self::Heal { links: healed } => (format!("heal {}", links(healed)), None),
            Self::HealAll => ("heal all".to_owned(), None),
            Self::Partition { groups, lasting } => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|group| group.iter().map(|&id| name(id)).collect::<Vec<_>>().join(","))
                    .collect();
                (format!("partition {}", groups.join(" / ")), *lasting)
            }
            Self::Isolate { server, lasting } => (format!("isolate {}", name(*server)), *lasting),
            Self::Delay { links: delayed, delay, lasting } => {
                let target = match delayed {
                    Links::All => "all".to_owned(),
                    Links::Some(some) => links(some),
                };
                let value = match delay.delay {
                    zero if zero.is_zero() && delay.jitter.is_zero() => "off".to_owned(),
                    zero if zero.is_zero() => "0".to_owned(),
                    value => fmt_duration(value),
                };
                let mut line = format!("delay {target} {value}");
                if !delay.jitter.is_zero() {
                    let _ = write!(line, " jitter {}", fmt_duration(delay.jitter));
                }
                if delay.spread == Spread::Normal {
                    line.push_str(" normal");
                }
                (line, *lasting)
            }
            Self::Loss { links: lossy, loss, lasting } => {
                let mut line = format!("loss {} {}", links(lossy), fmt_rate(loss.rate));
                #[allow(clippy::float_cmp, reason = "1 exactly is the default, left unsaid")]
                if loss.burst != 1.0 {
                    let _ = write!(line, " burst {}", loss.burst);
                }
                (line, *lasting)
            }
            Self::Dup { links: doubled, rate, lasting } => {
                (format!("dup {} {}", links(doubled), fmt_rate(*rate)), *lasting)
            }
            Self::Reset => ("reset".to_owned(), None),
            Self::Pause => ("pause".to_owned(), None),
            Self::Step => ("step".to_owned(), None),
            Self::Resume => ("resume".to_owned(), None),
            Self::Faults => ("faults".to_owned(), None),
            Self::Policy { policy } => (format!("policy {policy}"), None),
            Self::AntiEntropy { every: None } => ("anti-entropy off".to_owned(), None),
            Self::AntiEntropy { every: Some(every) } => {
                (format!("anti-entropy every={}", fmt_duration(*every)), None)
            }
        };
        match lasting {
            Some(lasting) => format!("{line} for {}", fmt_duration(lasting)),
            None => line,
        }
    }
}

/// One directed link as `A->B`, both directions of one link as `A<->B`, anything else as
/// its links joined by commas.
fn render_links(links: &[Directed], names: &[String]) -> String {
    let arrow = |link: &Directed, arrow: &str| {
        format!("{}{arrow}{}", server_name(link.from, names), server_name(link.to, names))
    };
    match links {
        [one] => arrow(one, "->"),
        [there, back] if *back == there.reversed() && there.from != there.to => arrow(there, "<->"),
        many => many.iter().map(|link| arrow(link, "->")).collect::<Vec<_>>().join(","),
    }
}

/// A fraction from 0 to 1 as the percentage `parse_rate` reads back exactly (`20%`).
pub fn fmt_rate(fraction: f64) -> String {
    if fraction == 0.0 {
        return "0%".to_owned();
    }
    if !(0.0..=1.0).contains(&fraction) {
        // Out of range (or NaN): written plainly, for `parse` to refuse.
        return format!("{}%", fraction * 100.0);
    }
    let text = format!("{fraction}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = format!("{frac:0<2}");
    let (moved, rest) = frac.split_at(2);
    let whole = format!("{int}{moved}");
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    if rest.is_empty() { format!("{whole}%") } else { format!("{whole}.{rest}%") }
}
