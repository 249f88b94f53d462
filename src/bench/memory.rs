//! Resident memory (`VmRSS`) of a herd process when idle, per server,
//! and what stored clients add. An idle herd is measured after one update has flooded it
//! (every link up); per extra server from the difference between the default herd and a
//! larger ring; per stored client after that many new clients reached every server.

use std::time::Duration;

use color_eyre::eyre::{Result, bail};
use serde::Serialize;
use tokio::time::sleep;

use super::baseline::{self, AsyncioScript, Kind, System};
use super::drain;
use super::load::{self, Expect, Framing, LoadSpec, Shape, Workload};
use super::{Settings, progress};

/// The larger herd that gives the cost of one more server.
pub const LARGE: &str = "ring:100";

/// One system's memory figures.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    pub system: Kind,
    /// Resident bytes of the idle default herd, all processes.
    pub idle_total: u64,
    pub idle_servers: usize,
    /// Resident bytes of the idle larger herd (`None` when not measured).
    pub large_total: Option<u64>,
    pub large_servers: usize,
    /// Clients stored on every server of the default herd.
    pub clients: u64,
    /// Resident bytes of the default herd holding them.
    pub loaded_total: Option<u64>,
}

impl Memory {
    pub fn idle_per_server(&self) -> f64 {
        self.idle_total as f64 / self.idle_servers.max(1) as f64
    }

    /// Bytes each server beyond the default herd's adds.
    pub fn per_extra_server(&self) -> Option<f64> {
        let large = self.large_total? as f64;
        let extra = self.large_servers.checked_sub(self.idle_servers).filter(|&n| n > 0)?;
        Some((large - self.idle_total as f64) / extra as f64)
    }

    /// Bytes per client per server holding it.
    pub fn per_stored_client(&self) -> Option<f64> {
        let loaded = self.loaded_total? as f64;
        let copies = self.clients as f64 * self.idle_servers as f64;
        (copies > 0.0).then(|| (loaded - self.idle_total as f64) / copies)
    }
}

async fn start(kind: Kind, spec: &str, script: Option<&AsyncioScript>) -> Result<System> {
    match (kind, script) {
        (Kind::Asyncio, Some(script)) => baseline::start_asyncio(script, spec).await,
        _ => baseline::start_herdctl(spec).await,
    }
}

fn total(system: &System) -> Result<u64> {
    Ok(system.rss()?.iter().sum())
}

/// Floods one update through `system` and waits until it has settled.
async fn warm(system: &System, settings: &Settings, tag: &str) -> Result<()> {
    let settled = drain::settle(&system.addrs(), tag, &[], settings.drain_limit).await;
    if settled.at.is_none() {
        bail!("{}: the warm-up update did not reach every server", system.kind.label());
    }
    sleep(Duration::from_millis(300)).await;
    Ok(())
}

/// Measures herdctl, and the asyncio herd when given its script.
pub async fn measure_all(
    settings: &Settings,
    script: Option<&AsyncioScript>,
) -> Result<Vec<Memory>> {
    let mut results = vec![measure(Kind::Herdctl, settings, None, settings.memory_clients).await?];
    if let Some(script) = script {
        let clients = settings.asyncio_memory_clients;
        results.push(measure(Kind::Asyncio, settings, Some(script), clients).await?);
    }
    Ok(results)
}

async fn measure(
    kind: Kind,
    settings: &Settings,
    script: Option<&AsyncioScript>,
    clients: u64,
) -> Result<Memory> {
    // One process per server in the asyncio herd: its per-server cost is a process's.
    let (large_total, large_servers) = if kind == Kind::Herdctl {
        progress(format_args!("memory of {} idle ({LARGE})", kind.label()));
        let large = start(kind, LARGE, script).await?;
        warm(&large, settings, "mwarm").await?;
        let measured = (Some(total(&large)?), large.servers.len());
        large.stop().await;
        measured
    } else {
        (None, 0)
    };

    progress(format_args!("memory of {} idle and with {clients} clients", kind.label()));
    let system = start(kind, super::throughput::TOPOLOGY, script).await?;
    warm(&system, settings, "mwarm").await?;
    let idle_total = total(&system)?;
    let idle_servers = system.servers.len();
    let tasks = 16;
    let spec = LoadSpec {
        addrs: system.addrs(),
        clients: tasks,
        framing: Framing::Persistent { window: settings.window },
        workload: Workload::IAmAt { tag: "m".into() },
        shape: Shape::Line,
        expect: Expect::At,
        duration: settings.memory_limit,
        max_per_task: clients.div_ceil(tasks as u64),
        pace: None,
    };
    let outcome = load::run(spec).await;
    let settled =
        drain::settle(&system.addrs(), "mdone", &outcome.last_clients, settings.drain_limit).await;
    sleep(Duration::from_millis(300)).await;
    let loaded_total =
        if settled.at.is_some() && outcome.errors == 0 { Some(total(&system)?) } else { None };
    system.stop().await;
    Ok(Memory {
        system: kind,
        idle_total,
        idle_servers,
        large_total,
        large_servers,
        clients: outcome.replies,
        loaded_total,
    })
}
