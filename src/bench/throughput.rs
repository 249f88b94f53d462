//! IAMAT throughput and latency at each concurrency and framing,
//! and WHATSAT throughput with the offline Places backend, each measured on herdctl, the
//! asyncio herd and the echo ceiling, every system freshly started for every run. IAMAT
//! throughput is counted sustained: replies divided by the time until every flood has
//! finished (see [`drain`](super::drain)), next to the answer-only rate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::Result;
use serde::Serialize;
use tokio::time::sleep;

use super::baseline::{self, AsyncioScript, Kind, System};
use super::drain;
use super::load::{self, Expect, Framing, LoadOutcome, LoadSpec, Shape, Workload};
use super::{Settings, progress};

/// The herd every throughput run uses (the default course herd).
pub const TOPOLOGY: &str = "cs131";

/// One system's figures for one run.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub system: Kind,
    pub replies: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Replies per second until the last reply.
    pub answer_rate: f64,
    /// Replies per second until every flood finished; `None` if the herd did not settle in
    /// time. For the echo server, the answer rate.
    pub sustained_rate: Option<f64>,
    /// From the last reply until the last flood finished, in seconds.
    pub drain_secs: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub mean_us: Option<f64>,
    /// Reports written between servers per update (from the servers' logs).
    pub messages_per_update: Option<f64>,
    /// Reports the servers' logs say were dropped, by reason.
    pub dropped: Option<BTreeMap<String, u64>>,
    /// Replies per second in six equal slices of the run.
    pub timeline: Vec<f64>,
}

/// One configuration measured on each system.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub request: &'static str,
    pub framing: &'static str,
    pub clients: usize,
    pub systems: Vec<Measured>,
}

impl Run {
    pub fn of(&self, kind: Kind) -> Option<&Measured> {
        self.systems.iter().find(|m| m.system == kind)
    }
}

fn micros(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1e6)
}

/// Per-command, persistent one request at a time, and pipelined `window` deep.
fn framings(settings: &Settings) -> Vec<Framing> {
    let mut framings = vec![Framing::PerCommand, Framing::Persistent { window: 1 }];
    if settings.window > 1 {
        framings.push(Framing::Persistent { window: settings.window });
    }
    framings
}

/// The systems to run, in order.
fn kinds(script: Option<&AsyncioScript>) -> Vec<Kind> {
    let mut kinds = vec![Kind::Herdctl];
    if script.is_some() {
        kinds.push(Kind::Asyncio);
    }
    kinds.push(Kind::Echo);
    kinds
}

async fn start(kind: Kind, script: Option<&AsyncioScript>) -> Result<System> {
    match (kind, script) {
        (Kind::Herdctl, _) => baseline::start_herdctl(TOPOLOGY).await,
        (Kind::Asyncio, Some(script)) => baseline::start_asyncio(script, TOPOLOGY).await,
        _ => baseline::start_echo(TOPOLOGY).await,
    }
}

/// IAMAT at every concurrency and framing on every system.
pub async fn iamat(settings: &Settings, script: Option<&AsyncioScript>) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for framing in framings(settings) {
        for &clients in &settings.concurrency {
            let mut run =
                Run { request: "IAMAT", framing: framing.label(), clients, systems: Vec::new() };
            for kind in kinds(script) {
                progress(format_args!("iamat {} c={clients} on {}", framing.label(), kind.label()));
                let system = start(kind, script).await?;
                let tag = format!("i{}c{clients}{}", &framing.label()[..3], kind.label());
                let measured = iamat_on(&system, settings, framing, clients, &tag).await;
                system.stop().await;
                run.systems.push(measured?);
            }
            runs.push(run);
        }
    }
    Ok(runs)
}

pub(super) async fn iamat_on(
    system: &System,
    settings: &Settings,
    framing: Framing,
    clients: usize,
    tag: &str,
) -> Result<Measured> {
    let herd = system.kind != Kind::Echo;
    let spec = LoadSpec {
        addrs: system.addrs(),
        clients,
        framing,
        workload: Workload::IAmAt { tag: tag.to_owned() },
        shape: Shape::Line,
        expect: if herd { Expect::At } else { Expect::Echo },
        duration: settings.duration,
        max_per_task: settings.max_per_task,
        pace: None,
    };
    let outcome = load::run(spec).await;
    let mut measured = measured(system.kind, &outcome);
    if !herd {
        measured.sustained_rate = Some(measured.answer_rate);
        return Ok(measured);
    }
    let settled =
        drain::settle(&system.addrs(), tag, &outcome.last_clients, settings.drain_limit).await;
    if let Some(at) = settled.at {
        let total = at - outcome.start;
        measured.sustained_rate = Some(load::rate(outcome.replies, total));
        measured.drain_secs = Some(total.saturating_sub(outcome.answer_time).as_secs_f64());
    }
    // herdctl flushes its logs every 200 ms.
    sleep(Duration::from_millis(400)).await;
    if let Ok(counts) = system.log_counts() {
        let updates = outcome.replies + settled.markers;
        if updates > 0 {
            measured.messages_per_update = Some(counts.sent as f64 / updates as f64);
        }
        measured.dropped = Some(counts.dropped);
    }
    Ok(measured)
}

fn measured(system: Kind, outcome: &LoadOutcome) -> Measured {
    Measured {
        system,
        replies: outcome.replies,
        errors: outcome.errors,
        first_error: outcome.first_error.clone(),
        answer_rate: outcome.answer_rate(),
        sustained_rate: None,
        drain_secs: None,
        p50_us: micros(outcome.latency.quantile(0.5)),
        p99_us: micros(outcome.latency.quantile(0.99)),
        mean_us: micros(outcome.latency.mean()),
        messages_per_update: None,
        dropped: None,
        timeline: outcome.timeline.clone(),
    }
}

/// Clients stored before WHATSAT runs, asked about round robin.
const WHATSAT_CLIENTS: usize = 64;
/// Concurrency of the WHATSAT runs.
pub const WHATSAT_CONCURRENCY: usize = 16;

/// WHATSAT (offline Places) with both framings on every system.
pub async fn whatsat(settings: &Settings, script: Option<&AsyncioScript>) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for framing in framings(settings) {
        let clients = WHATSAT_CONCURRENCY;
        let mut run =
            Run { request: "WHATSAT", framing: framing.label(), clients, systems: Vec::new() };
        for kind in kinds(script) {
            progress(format_args!("whatsat {} c={clients} on {}", framing.label(), kind.label()));
            let system = start(kind, script).await?;
            let measured = whatsat_on(&system, settings, framing, clients).await;
            system.stop().await;
            run.systems.push(measured?);
        }
        runs.push(run);
    }
    Ok(runs)
}

async fn whatsat_on(
    system: &System,
    settings: &Settings,
    framing: Framing,
    clients: usize,
) -> Result<Measured> {
    let herd = system.kind != Kind::Echo;
    let known: Arc<[String]> = (0..WHATSAT_CLIENTS).map(|i| format!("w-{i}")).collect();
    if herd {
        let addrs = system.addrs();
        let mut reply = Vec::new();
        for (i, client) in known.iter().enumerate() {
            let line = load::iamat_line(client);
            load::exchange(addrs[i % addrs.len()], line.as_bytes(), &mut reply).await?;
        }
        let last: Vec<(usize, String)> = known.iter().cloned().enumerate().collect();
        let settled = drain::settle(&addrs, "wpop", &last, settings.drain_limit).await;
        if settled.at.is_none() {
            color_eyre::eyre::bail!(
                "{}: stored clients did not reach every server",
                system.kind.label()
            );
        }
    }
    let spec = LoadSpec {
        addrs: system.addrs(),
        clients,
        framing,
        workload: Workload::WhatsAt { clients: known },
        shape: if herd { Shape::Whatsat } else { Shape::Line },
        expect: if herd { Expect::At } else { Expect::Echo },
        duration: settings.duration,
        max_per_task: settings.max_per_task,
        pace: None,
    };
    let outcome = load::run(spec).await;
    let mut measured = measured(system.kind, &outcome);
    measured.sustained_rate = Some(measured.answer_rate);
    Ok(measured)
}
