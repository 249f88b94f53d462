//! Memory per idle connection: a herd (`herdctl --headless`, the default herd) holding many
//! open client connections to one server on which nothing is sent, and what it gives back
//! once they are closed. Resident memory is read before, with every connection accepted (the
//! server process's descriptor count up by as many), and after they are closed and its
//! descriptor count is back where it started. The baseline is the bare echo server holding
//! the same connections in the same run.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use color_eyre::eyre::{Result, bail, eyre};
use futures::future::join_all;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep};

use super::baseline::{self, Kind, System};
use super::{Settings, drain, progress, scale};

/// Connections opened at once.
const BATCH: usize = 500;
/// Longest the server may take to accept every connection, or to close them all.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// Between two looks at the server's descriptors.
const POLL_PAUSE: Duration = Duration::from_millis(20);

/// One system's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Connections {
    pub system: Kind,
    /// Connections asked for, and those open and silent once all were accepted.
    pub wanted: usize,
    pub idle: usize,
    pub rss_start: u64,
    pub rss_loaded: u64,
    pub rss_after: u64,
    pub fds_start: usize,
    pub fds_loaded: usize,
    pub fds_after: usize,
    /// From closing the last connection until the descriptors were back.
    pub release_secs: Option<f64>,
}

impl Connections {
    /// Resident bytes each idle connection adds.
    pub fn per_connection(&self) -> Option<f64> {
        (self.idle > 0).then(|| (self.rss_loaded as f64 - self.rss_start as f64) / self.idle as f64)
    }

    /// Resident memory after closing, as a percentage above (negative: below) the start.
    pub fn after_close_pct(&self) -> f64 {
        (self.rss_after as f64 / self.rss_start.max(1) as f64 - 1.0) * 100.0
    }
}

/// Measures herdctl, then the echo server.
pub async fn measure_all(settings: &Settings) -> Result<Vec<Connections>> {
    let limit = scale::raise_nofile();
    let wanted = settings.idle_connections;
    let mut results = Vec::new();
    for kind in [Kind::Herdctl, Kind::Echo] {
        progress(format_args!(
            "connections: {wanted} idle on {} (open files limit {limit})",
            kind.label()
        ));
        let system = match kind {
            Kind::Herdctl => baseline::start_herdctl(super::throughput::TOPOLOGY).await?,
            _ => baseline::start_echo(super::throughput::TOPOLOGY).await?,
        };
        if kind == Kind::Herdctl {
            // Every link up: the idle herd the memory part measures.
            let settled = drain::settle(&system.addrs(), "cwarm", &[], settings.drain_limit).await;
            if settled.at.is_none() {
                bail!("connections: the warm-up update did not reach every server");
            }
        }
        let measured = measure(&system, wanted).await;
        system.stop().await;
        results.push(measured?);
    }
    Ok(results)
}

/// Open descriptors of process `pid`.
fn fds_of(pid: u32) -> Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// Polls the descriptors of `pid` until `done` says so; the count then, or an error past
/// [`SETTLE_LIMIT`].
async fn wait_fds(pid: u32, what: &str, done: impl Fn(usize) -> bool) -> Result<usize> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let fds = fds_of(pid)?;
        if done(fds) {
            return Ok(fds);
        }
        if Instant::now() >= deadline {
            bail!("{what}: {fds} descriptors open after {SETTLE_LIMIT:?}");
        }
        sleep(POLL_PAUSE).await;
    }
}

async fn measure(system: &System, wanted: usize) -> Result<Connections> {
    let pid = system.pids().first().copied().ok_or_else(|| eyre!("no process"))?;
    let addr = system.addrs().first().copied().ok_or_else(|| eyre!("no server"))?;
    let fds_start = fds_of(pid)?;
    let rss_start = baseline::rss_of(pid)?;
    let streams = open(addr, wanted).await?;
    let label = system.kind.label();
    let fds_loaded =
        wait_fds(pid, &format!("{label} accepting"), |fds| fds >= fds_start + wanted).await?;
    let idle = streams.iter().filter(|s| silent(s)).count();
    let rss_loaded = baseline::rss_of(pid)?;
    drop(streams);
    let closed = Instant::now();
    let fds_after = wait_fds(pid, &format!("{label} closing"), |fds| fds <= fds_start).await?;
    let release_secs = Some(closed.elapsed().as_secs_f64());
    let rss_after = baseline::rss_of(pid)?;
    Ok(Connections {
        system: system.kind,
        wanted,
        idle,
        rss_start,
        rss_loaded,
        rss_after,
        fds_start,
        fds_loaded,
        fds_after,
        release_secs,
    })
}

/// Opens `count` connections to `addr`, [`BATCH`] at a time.
async fn open(addr: SocketAddr, count: usize) -> Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(count);
    while streams.len() < count {
        let batch = BATCH.min(count - streams.len());
        let opened = join_all((0..batch).map(|_| TcpStream::connect(addr))).await;
        for stream in opened {
            streams.push(stream.map_err(|err| {
                eyre!("connection {} of {count} to {addr}: {err}", streams.len() + 1)
            })?);
        }
    }
    Ok(streams)
}

/// Open, and nothing has arrived on it.
fn silent(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(err) if err.kind() == io::ErrorKind::WouldBlock)
}
