//! A [`Control`] written back as the command line that gives it.

use std::fmt::Write as _;

use super::{format_duration, server_name};
use crate::herd::ServerId;
use crate::herd::control::{Control, Directed, Links, Spread};

/// A [`Control`] as its canonical command line, servers named from `names` (index = id;
/// `#id` when out of range): `cut Bona->Clark for 5s`, `loss Bona->Clark 20% burst 3`,
/// `partition Bailey,Bona / Campbell,Clark,Jaquez`. [`parse`](super::parse) gives the same
/// `Control` back for every control it can produce. Only code can build the others, and
/// they are written as best they can be: a link list other than one directed link or both
/// directions of one link comes out as its links joined by commas (which `parse` refuses);
/// partition groups not sorted by id, or leaving servers out, come back sorted and complete;
/// a value out of the grammar's range (a delay over 10s, a burst under 1) is refused.
pub fn render(control: &Control, names: &[String]) -> String {
    let name = |id: ServerId| server_name(id, names);
    let links = |links: &[Directed]| render_links(links, names);
    let (line, lasting) = match control {
        Control::Kill { server } => (format!("kill {}", name(*server)), None),
        Control::Restart { server } => (format!("restart {}", name(*server)), None),
        Control::Hang { server, lasting } => (format!("hang {}", name(*server)), *lasting),
        Control::Unhang { server } => (format!("unhang {}", name(*server)), None),
        Control::Cut { links: cut, lasting } => (format!("cut {}", links(cut)), *lasting),
        Control::Heal { links: healed } => (format!("heal {}", links(healed)), None),
        Control::HealAll => ("heal all".to_owned(), None),
        Control::Partition { groups, lasting } => {
            let groups: Vec<String> = groups
                .iter()
                .map(|group| group.iter().map(|&id| name(id)).collect::<Vec<_>>().join(","))
                .collect();
            (format!("partition {}", groups.join(" / ")), *lasting)
        }
        Control::Isolate { server, lasting } => (format!("isolate {}", name(*server)), *lasting),
        Control::Delay { links: delayed, delay, lasting } => {
            let target = match delayed {
                Links::All => "all".to_owned(),
                Links::Some(some) => links(some),
            };
            let value = match delay.delay {
                zero if zero.is_zero() && delay.jitter.is_zero() => "off".to_owned(),
                zero if zero.is_zero() => "0".to_owned(),
                value => format_duration(value),
            };
            let mut line = format!("delay {target} {value}");
            if !delay.jitter.is_zero() {
                let _ = write!(line, " jitter {}", format_duration(delay.jitter));
            }
            if delay.spread == Spread::Normal {
                line.push_str(" normal");
            }
            (line, *lasting)
        }
        Control::Loss { links: lossy, loss, lasting } => {
            let mut line = format!("loss {} {}", links(lossy), format_rate(loss.rate));
            #[allow(clippy::float_cmp, reason = "1 exactly is the default, left unsaid")]
            if loss.burst != 1.0 {
                let _ = write!(line, " burst {}", loss.burst);
            }
            (line, *lasting)
        }
        Control::Dup { links: doubled, rate, lasting } => {
            (format!("dup {} {}", links(doubled), format_rate(*rate)), *lasting)
        }
        Control::Reset => ("reset".to_owned(), None),
        Control::Pause => ("pause".to_owned(), None),
        Control::Step => ("step".to_owned(), None),
        Control::Resume => ("resume".to_owned(), None),
        Control::Faults => ("faults".to_owned(), None),
        Control::Policy { policy } => (format!("policy {policy}"), None),
        Control::AntiEntropy { every: None } => ("anti-entropy off".to_owned(), None),
        Control::AntiEntropy { every: Some(every) } => {
            (format!("anti-entropy every={}", format_duration(*every)), None)
        }
    };
    match lasting {
        Some(lasting) => format!("{line} for {}", format_duration(lasting)),
        None => line,
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
pub(super) fn format_rate(fraction: f64) -> String {
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
