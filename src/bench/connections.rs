//! Memory per idle connection: a herd (`herdctl --headless`, the default herd) holding many
//! open client connections to one server on which nothing is sent, and what it gives back
//! once they are closed. Resident memory is read before, with every connection accepted (the
//! server process's descriptor count up by as many), and after they are closed and its
//! descriptor count is back where it started, once the memory is back within 10 % of the start
//! or has stopped falling. The baseline is the bare echo server holding
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
/// How long resident memory may stay flat after the connections close before it is read as
/// final, and the longest it is watched.
const MEMORY_SETTLE: Duration = Duration::from_secs(15);
const MEMORY_LIMIT: Duration = Duration::from_secs(40);

/// Longest the server may take to accept every connection, or to close them all.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// Between two looks at the server's descriptors.
const POLL_PAUSE: Duration = Duration::from_millis(20);
/// Descriptors the server may have had open for a moment when its count was first read (a
/// warm-up question still closing): accepting counts as done this close to the full count.
const SLACK: usize = 16;

/// One system's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Connections {
    pub system: Kind,
    /// Connections asked for, and those open and silent once all were accepted (or the wait
    /// for that gave up).
    pub wanted: usize,
    pub idle: usize,
    /// What went wrong, if anything: the figures are then of the connections that were held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rss_start: u64,
    pub rss_loaded: u64,
    pub rss_after: u64,
    pub fds_start: usize,
    pub fds_loaded: usize,
    pub fds_after: usize,
    /// From closing the last connection until the descriptors were back.
    pub release_secs: Option<f64>,
    /// From then until `rss_after` was read.
    pub memory_secs: f64,
}

impl Connections {
    /// Resident bytes each idle connection adds.
    pub fn per_connection(&self) -> Option<f64> {
        let held = self.held();
        (held > 0).then(|| (self.rss_loaded as f64 - self.rss_start as f64) / held as f64)
    }

    /// Connections the server held: open and silent, and as many more descriptors open.
    pub fn held(&self) -> usize {
        self.idle.min(self.fds_loaded.saturating_sub(self.fds_start))
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

/// Polls the descriptors of `pid` until `done` says so: `Ok` with the count then, or `Err`
/// with the count past [`SETTLE_LIMIT`].
async fn wait_fds(pid: u32, done: impl Fn(usize) -> bool) -> Result<Result<usize, usize>> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let fds = fds_of(pid)?;
        if done(fds) {
            return Ok(Ok(fds));
        }
        if Instant::now() >= deadline {
            return Ok(Err(fds));
        }
        sleep(POLL_PAUSE).await;
    }
}

async fn measure(system: &System, wanted: usize) -> Result<Connections> {
    let pid = system.pids().first().copied().ok_or_else(|| eyre!("no process"))?;
    let addr = system.addrs().first().copied().ok_or_else(|| eyre!("no server"))?;
    let fds_start = fds_of(pid)?;
    let rss_start = baseline::rss_of(pid)?;
    let mut errors = Vec::new();
    let streams = open(addr, wanted, &mut errors).await;
    let accepted = wait_fds(pid, |fds| fds + SLACK >= fds_start + streams.len()).await?;
    let fds_loaded = accepted.unwrap_or_else(|fds| {
        errors.push(format!("{fds} descriptors open after {SETTLE_LIMIT:?}, from {fds_start}"));
        fds
    });
    let idle = streams.iter().filter(|s| silent(s)).count();
    if idle < streams.len() {
        errors.push(format!(
            "{} of {} connections closed or answered",
            streams.len() - idle,
            streams.len()
        ));
    }
    let rss_loaded = baseline::rss_of(pid)?;
    drop(streams);
    let closed = Instant::now();
    let (fds_after, release_secs) = match wait_fds(pid, |fds| fds <= fds_start).await? {
        Ok(fds) => (fds, Some(closed.elapsed().as_secs_f64())),
        Err(fds) => {
            errors.push(format!("{fds} descriptors still open {SETTLE_LIMIT:?} after closing"));
            (fds, None)
        }
    };
    // The allocator hands freed memory back to the system over seconds, not at once: read
    // the memory until it is back within 10 % of the start, or has not fallen for a while.
    let mut rss_after = baseline::rss_of(pid)?;
    let mut last_fall = Instant::now();
    let give_back = Instant::now();
    while rss_after > rss_start + rss_start / 10
        && last_fall.elapsed() < MEMORY_SETTLE
        && give_back.elapsed() < MEMORY_LIMIT
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = baseline::rss_of(pid)?;
        if now < rss_after {
            last_fall = Instant::now();
        }
        rss_after = now;
    }
    let memory_secs = give_back.elapsed().as_secs_f64();
    Ok(Connections {
        system: system.kind,
        wanted,
        idle,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
        rss_start,
        rss_loaded,
        rss_after,
        fds_start,
        fds_loaded,
        fds_after,
        release_secs,
        memory_secs,
    })
}

/// Opens `count` connections to `addr`, [`BATCH`] at a time, stopping at the first batch
/// with a failure (noted in `errors`).
async fn open(addr: SocketAddr, count: usize, errors: &mut Vec<String>) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    while streams.len() < count {
        let batch = BATCH.min(count - streams.len());
        let opened = join_all((0..batch).map(|_| TcpStream::connect(addr))).await;
        let mut failed = None;
        for stream in opened {
            match stream {
                Ok(stream) => streams.push(stream),
                Err(err) => failed = failed.or(Some(err)),
            }
        }
        if let Some(err) = failed {
            errors.push(format!("opened {} of {count} connections: {err}", streams.len()));
            break;
        }
    }
    streams
}

/// Open, and nothing has arrived on it.
fn silent(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(err) if err.kind() == io::ErrorKind::WouldBlock)
}
