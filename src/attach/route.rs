//! Which process carries out a control of an attached console, and one answer from theirs
//! (pure). A fault on a directed link goes to the process that runs its sending server (the
//! sender applies it); a server's kill, restart or hang to the process that runs it; what
//! concerns the whole herd (partition, isolate, heal, reset, pause, resume, policy,
//! anti-entropy, `delay all`, `faults`) to every process; `step` to the first process that
//! holds a report.

use std::collections::BTreeMap;

use crate::herd::control::{ActiveFault, Directed, Links};
use crate::herd::{Applied, Control, ControlError, ServerId};

/// `(endpoint, control)` pairs that together carry out `control`; `owner[server]` is the
/// endpoint running it, `held[endpoint]` the reports its process holds.
pub fn route(control: &Control, owner: &[usize], held: &[usize]) -> Vec<(usize, Control)> {
    let endpoints = held.len();
    let everyone = || (0..endpoints).map(|e| (e, control.clone())).collect();
    let of = |server: ServerId| owner.get(server).copied().unwrap_or(0);
    let by_sender = |links: &[Directed], make: &dyn Fn(Vec<Directed>) -> Control| {
        let mut split: BTreeMap<usize, Vec<Directed>> = BTreeMap::new();
        for link in links {
            split.entry(of(link.from)).or_default().push(*link);
        }
        split.into_iter().map(|(e, links)| (e, make(links))).collect()
    };
    match control {
        Control::Kill { server }
        | Control::Restart { server }
        | Control::Hang { server, .. }
        | Control::Unhang { server } => vec![(of(*server), control.clone())],
        Control::Cut { links, lasting } => {
            by_sender(links, &|links| Control::Cut { links, lasting: *lasting })
        }
        Control::Loss { links, loss, lasting } => {
            by_sender(links, &|links| Control::Loss { links, loss: *loss, lasting: *lasting })
        }
        Control::Dup { links, rate, lasting } => {
            by_sender(links, &|links| Control::Dup { links, rate: *rate, lasting: *lasting })
        }
        Control::Delay { links: Links::Some(links), delay, lasting } => {
            by_sender(links, &|links| Control::Delay {
                links: Links::Some(links),
                delay: *delay,
                lasting: *lasting,
            })
        }
        Control::Step => {
            let holder = held.iter().position(|&n| n > 0).unwrap_or(0);
            if endpoints == 0 { Vec::new() } else { vec![(holder, Control::Step)] }
        }
        // A heal goes everywhere: a partition or isolation set every process's cuts.
        Control::Heal { .. }
        | Control::HealAll
        | Control::Partition { .. }
        | Control::Isolate { .. }
        | Control::Delay { links: Links::All, .. }
        | Control::Reset
        | Control::Pause
        | Control::Resume
        | Control::Policy { .. }
        | Control::AntiEntropy { .. }
        | Control::Faults => everyone(),
    }
}

/// One answer from the answers of every process a control went to (`name` says which): the
/// failures, if any (and what the others did), else what changed, or the faults of all of
/// them, each listed once with its counters added up.
pub fn combine(answers: Vec<(String, Result<Applied, String>)>) -> Result<Applied, ControlError> {
    let failed: Vec<String> = answers
        .iter()
        .filter_map(|(name, answer)| answer.as_ref().err().map(|why| format!("{name}: {why}")))
        .collect();
    if !failed.is_empty() {
        let done: Vec<String> = answers
            .iter()
            .filter_map(|(name, answer)| {
                answer.as_ref().ok().map(|a| format!("{name}: {}", a.text()))
            })
            .collect();
        let text = failed.join("; ");
        return Err(ControlError::Invalid(if done.is_empty() {
            text
        } else {
            format!("{text} (done: {})", done.join("; "))
        }));
    }
    let mut faults: Vec<ActiveFault> = Vec::new();
    let mut changed: Vec<String> = Vec::new();
    let mut unchanged: Vec<String> = Vec::new();
    let mut listed = false;
    for (_, answer) in answers {
        match answer {
            Ok(Applied::Faults { faults: theirs }) => {
                listed = true;
                for fault in theirs {
                    add_fault(&mut faults, fault);
                }
            }
            Ok(Applied::Changed { text }) => push_once(&mut changed, text),
            Ok(Applied::Unchanged { text }) => push_once(&mut unchanged, text),
            Err(_) => {}
        }
    }
    Ok(if listed {
        Applied::Faults { faults }
    } else if changed.is_empty() {
        Applied::Unchanged { text: unchanged.join("; ") }
    } else {
        Applied::Changed { text: changed.join("; ") }
    })
}

/// Adds `fault` to `faults`, into the entry of the same label if there is one (a fault every
/// process holds, like a partition, is one fault: its counts add up, the least time left
/// holds).
pub fn add_fault(faults: &mut Vec<ActiveFault>, fault: ActiveFault) {
    match faults.iter_mut().find(|f| f.label == fault.label) {
        Some(same) => {
            same.dropped += fault.dropped;
            same.duplicated += fault.duplicated;
            same.delayed += fault.delayed;
            same.remaining = match (same.remaining, fault.remaining) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        None => faults.push(fault),
    }
}

fn push_once(texts: &mut Vec<String>, text: String) {
    if !text.is_empty() && !texts.contains(&text) {
        texts.push(text);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::command::{self, Command, Context};
    use crate::config::Topology;

    /// cs131: Bailey 0, Bona 1, Campbell 2, Clark 3, Jaquez 4; Bailey and Bona in one
    /// process (endpoint 0), the others each in their own (1, 2, 3).
    const OWNER: [usize; 5] = [0, 0, 1, 2, 3];

    fn control(line: &str) -> Control {
        let topology = Topology::load("cs131", 0).unwrap();
        match command::parse(line, &Context::new(&topology)).unwrap() {
            Command::Herd(control) => control,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn routed(line: &str, held: &[usize]) -> Vec<(usize, String)> {
        let topology = Topology::load("cs131", 0).unwrap();
        let names: Vec<String> = topology.servers.iter().map(|s| s.name.clone()).collect();
        route(&control(line), &OWNER, held)
            .into_iter()
            .map(|(e, c)| (e, c.describe(&names)))
            .collect()
    }

    #[test]
    fn a_link_fault_goes_to_each_sender() {
        let none = [0; 4];
        assert_eq!(
            routed("cut Bona<->Clark for 5s", &none),
            [(0, "cut Bona->Clark for 5s".to_owned()), (2, "cut Clark->Bona for 5s".to_owned()),]
        );
        assert_eq!(
            routed("loss Campbell->Jaquez 20%", &none),
            [(1, "loss Campbell->Jaquez 20%".to_owned())]
        );
        assert_eq!(routed("kill Jaquez", &none), [(3, "kill Jaquez".to_owned())]);
        assert_eq!(routed("pause", &none).len(), 4);
        assert_eq!(routed("heal Bona<->Clark", &none).len(), 4);
        assert_eq!(routed("step", &[0, 0, 3, 0]), [(2, "step".to_owned())]);
    }

    #[test]
    fn every_routed_control_is_a_line_the_endpoint_parses_back() {
        let topology = Topology::load("cs131", 0).unwrap();
        let names: Vec<String> = topology.servers.iter().map(|s| s.name.clone()).collect();
        for line in [
            "cut Bona<->Clark for 5s",
            "delay Bailey<->Bona 20ms jitter 5ms",
            "dup Bona->Clark 10%",
            "loss Bailey<->Campbell 30% burst 2",
            "partition Bailey,Bona / Campbell",
            "hang Clark for 2s",
        ] {
            for (_, part) in route(&control(line), &OWNER, &[0; 4]) {
                assert_eq!(control(&part.describe(&names)), part, "{line}");
            }
        }
    }

    #[test]
    fn answers_combine_into_one() {
        let fault = |label: &str, dropped, remaining| ActiveFault {
            label: label.into(),
            dropped,
            duplicated: 0,
            delayed: 0,
            remaining,
        };
        let faults = combine(vec![
            ("a".into(), Ok(Applied::Faults { faults: vec![fault("p", 2, None)] })),
            (
                "b".into(),
                Ok(Applied::Faults {
                    faults: vec![fault("p", 3, None), fault("q", 1, Some(Duration::from_secs(1)))],
                }),
            ),
        ]);
        assert_eq!(
            faults,
            Ok(Applied::Faults {
                faults: vec![fault("p", 5, None), fault("q", 1, Some(Duration::from_secs(1)))]
            })
        );
        let mixed = combine(vec![
            ("a".into(), Ok(Applied::changed("paused"))),
            ("b".into(), Ok(Applied::unchanged("already paused"))),
        ]);
        assert_eq!(mixed, Ok(Applied::changed("paused")));
        let failed = combine(vec![
            ("a".into(), Ok(Applied::changed("cut Bona->Clark"))),
            ("b".into(), Err("unreachable".into())),
        ]);
        assert_eq!(
            failed,
            Err(ControlError::Invalid("b: unreachable (done: a: cut Bona->Clark)".into()))
        );
    }
}
