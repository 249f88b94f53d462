//! A frozen neighbour, measured from outside the way a probe of a real herd would: the
//! default herd as five `herdctl serve NAME` processes, one of them stopped with `kill -STOP`
//! (its sockets stay open, nothing reads them), pipelined IAMAT load at one of its neighbours,
//! and a one-shot IAMAT probe at that neighbour every 10 ms whose latency is recorded. The
//! baseline is the same load and probe on a fresh herd with no process stopped. Afterwards the
//! servers' log files give the reports dropped on every directed link, by reason.

use std::time::Duration;

use color_eyre::eyre::{Result, bail, eyre};
use serde::Serialize;
use tokio::time::{Instant, MissedTickBehavior};

use super::baseline::{self, LinkDrops, System};
use super::drain;
use super::histogram::Histogram;
use super::load::{self, Expect, Framing, LoadSpec, Shape, Workload};
use super::{Settings, progress};

/// The herd.
pub const TOPOLOGY: &str = "cs131";
/// The server whose process is stopped.
pub const FROZEN: &str = "Bona";
/// The neighbour of [`FROZEN`] that takes the load and the probe.
pub const TARGET: &str = "Bailey";
/// Clients pipelining IAMATs at [`TARGET`].
pub const CLIENTS: usize = 24;
/// Lines outstanding on each of them.
pub const WINDOW: usize = 16;
/// The load's rate in all: IAMATs per second, spread over the clients. Far above what the
/// outside probe of a real herd sent (about 750 a second), and below what saturates both
/// cores of a small machine (then the healthy herd's own tail latency is the figure, not the
/// stall's).
pub const LOAD_RATE: u32 = 5_000;
/// Each client's interval between IAMATs.
const LOAD_PACE: Duration = Duration::from_nanos(1_000_000_000 * CLIENTS as u64 / LOAD_RATE as u64);
/// How often the probe starts a one-shot IAMAT.
pub const PROBE_EVERY: Duration = Duration::from_millis(10);
/// Longest the servers that keep running may take to shut down and flush their logs.
const SHUTDOWN: Duration = Duration::from_secs(10);

/// One run: the probe's latencies, the load's rate and the drops.
#[derive(Debug, Clone, Serialize)]
pub struct StallRun {
    /// Whether [`FROZEN`] was stopped.
    pub frozen: bool,
    pub probes: u64,
    pub probe_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_first_error: Option<String>,
    pub probe_p50_us: Option<f64>,
    pub probe_p99_us: Option<f64>,
    pub probe_max_us: Option<f64>,
    /// IAMAT replies per second to the pipelining clients, until their last reply.
    pub load_rate: f64,
    pub load_replies: u64,
    pub load_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_first_error: Option<String>,
    /// Reports written to neighbours, from the logs.
    pub sent: u64,
    pub dropped: Vec<LinkDrops>,
}

impl StallRun {
    /// Reports dropped on links to or from [`FROZEN`] (`touching`) or on every other link.
    pub fn dropped_where(&self, touching: bool) -> u64 {
        self.drops(touching).map(|d| d.count).sum()
    }

    pub fn drops(&self, touching: bool) -> impl Iterator<Item = &LinkDrops> {
        self.dropped.iter().filter(move |d| (d.from == FROZEN || d.to == FROZEN) == touching)
    }
}

/// The healthy baseline and the run with [`FROZEN`] stopped.
#[derive(Debug, Clone, Serialize)]
pub struct Stall {
    pub topology: &'static str,
    pub frozen_server: &'static str,
    pub target: &'static str,
    pub clients: usize,
    pub window: usize,
    pub duration_secs: f64,
    pub probe_every_ms: f64,
    pub healthy: StallRun,
    pub stalled: StallRun,
}

/// `kill -STOP` on a process, undone (`kill -CONT`) when dropped, on every exit path.
struct Stopped {
    pid: u32,
}

impl Stopped {
    async fn stop(pid: u32) -> Result<Self> {
        baseline::signal(pid, "STOP").await?;
        Ok(Self { pid })
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-CONT")
            .arg(self.pid.to_string())
            .stdin(std::process::Stdio::null())
            .status();
    }
}

/// Measures the healthy herd, then the herd with [`FROZEN`] stopped.
pub async fn measure(settings: &Settings) -> Result<Stall> {
    let duration = settings.stall_duration;
    progress(format_args!(
        "stall: healthy baseline, {CLIENTS} pipelined clients and a probe at {TARGET} for {}",
        humantime::format_duration(duration)
    ));
    let healthy = run(settings, false).await?;
    progress(format_args!("stall: {FROZEN} stopped, the same load and probe"));
    let stalled = run(settings, true).await?;
    Ok(Stall {
        topology: TOPOLOGY,
        frozen_server: FROZEN,
        target: TARGET,
        clients: CLIENTS,
        window: WINDOW,
        duration_secs: duration.as_secs_f64(),
        probe_every_ms: PROBE_EVERY.as_secs_f64() * 1e3,
        healthy,
        stalled,
    })
}

async fn run(settings: &Settings, freeze: bool) -> Result<StallRun> {
    let mut system = baseline::start_serve(TOPOLOGY).await?;
    let tag = if freeze { "stalled" } else { "healthy" };
    // Every link up before the clock starts.
    let settled = drain::settle(&system.addrs(), tag, &[], settings.drain_limit).await;
    if settled.at.is_none() {
        bail!("stall: the warm-up update did not reach every server");
    }
    let target = address(&system, TARGET)?;
    // Declared after `system`, so dropped first: the process is continued before it is killed.
    let stopped = if freeze {
        let pid = system.pid_of(FROZEN).ok_or_else(|| eyre!("no process for {FROZEN}"))?;
        Some(Stopped::stop(pid).await?)
    } else {
        None
    };
    let spec = LoadSpec {
        addrs: vec![target],
        clients: CLIENTS,
        framing: Framing::Persistent { window: WINDOW },
        workload: Workload::Moving { tag: format!("{tag}-load") },
        shape: Shape::Line,
        expect: Expect::At,
        duration: settings.stall_duration,
        max_per_task: u64::MAX,
        pace: Some(LOAD_PACE),
    };
    let (outcome, probe) =
        tokio::join!(load::run(spec), probe(target, settings.stall_duration, tag));
    // Until the floods of the load have finished on every server still running (a marker
    // sent to each has reached the others: links are FIFO) ...
    let running: Vec<_> = system
        .servers
        .iter()
        .filter(|(name, _)| !freeze || name != FROZEN)
        .map(|(_, addr)| *addr)
        .collect();
    let drained = drain::settle(&running, &format!("{tag}-end"), &[], settings.drain_limit).await;
    if drained.at.is_none() {
        progress(format_args!("stall: the load's floods did not finish in time ({tag})"));
    }
    // ... the drops logged count; then the servers still running shut down and flush their
    // logs (what they drop while going down, for neighbours already gone, is left out), the
    // stopped one stays stopped.
    let cutoff = std::time::SystemTime::now();
    let except: Vec<u32> = stopped.iter().map(|s| s.pid).collect();
    system.terminate(&except, SHUTDOWN).await;
    let counts = system.log_counts_before(Some(cutoff))?;
    drop(stopped);
    system.stop().await;
    let micros = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e6);
    let sent = counts.sent;
    let dropped = counts.link_drops();
    Ok(StallRun {
        frozen: freeze,
        probes: probe.latency_count,
        probe_errors: probe.errors,
        probe_first_error: probe.first_error,
        probe_p50_us: micros(probe.latency.quantile(0.5)),
        probe_p99_us: micros(probe.latency.quantile(0.99)),
        probe_max_us: micros(probe.latency.max()),
        load_rate: outcome.answer_rate(),
        load_replies: outcome.replies,
        load_errors: outcome.errors,
        load_first_error: outcome.first_error,
        sent,
        dropped,
    })
}

fn address(system: &System, name: &str) -> Result<std::net::SocketAddr> {
    system
        .servers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, addr)| *addr)
        .ok_or_else(|| eyre!("no server {name} in the herd"))
}

/// What the probe saw.
#[derive(Debug, Default)]
struct Probe {
    latency: Histogram,
    latency_count: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Every [`PROBE_EVERY`] for `duration`, one IAMAT the grading client's way (connect, write,
/// half-close, read to EOF), one at a time: a probe still waiting when the next is due
/// delays it (the count shows how many ran).
async fn probe(addr: std::net::SocketAddr, duration: Duration, tag: &str) -> Probe {
    let mut result = Probe::default();
    let client = format!("{tag}-probe");
    let end = Instant::now() + duration;
    let mut every = tokio::time::interval(PROBE_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut reply = Vec::with_capacity(256);
    loop {
        every.tick().await;
        if Instant::now() >= end {
            return result;
        }
        let line = load::iamat_line(&client);
        let sent = Instant::now();
        match load::exchange(addr, line.as_bytes(), &mut reply).await {
            Ok(()) if reply.starts_with(b"AT ") => {
                result.latency.record(sent.elapsed());
                result.latency_count += 1;
            }
            Ok(()) => {
                result.errors += 1;
                let text = String::from_utf8_lossy(&reply[..reply.len().min(80)]).into_owned();
                result.first_error.get_or_insert_with(|| format!("unexpected reply {text:?}"));
            }
            Err(err) => {
                result.errors += 1;
                result.first_error.get_or_insert_with(|| err.to_string());
            }
        }
    }
}
