//! What streaming events over the admin endpoint costs (`--admin`, `GET /events`): the same
//! pipelined IAMAT load as the record part on a herd with no admin endpoint, on one with an
//! endpoint and no `/events` consumer, and on one with a consumer reading `/events` as fast as
//! it can, in the same run; the consumer's lines and bytes per request, and its gap lines.
//!
//! The consumer runs in the bench process (as the load does), reads the response body in the
//! chunks it arrives in and only counts: lines, bytes, and gap lines (with the events they
//! say were missed). It competes with the herd and the load for the same cores, as any
//! consumer on the same machine would.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;
use tokio::task::JoinHandle;

use super::baseline::{self, System};
use super::load::Framing;
use super::record::{CLIENTS, WINDOW};
use super::throughput::{Measured, iamat_on};
use super::{Settings, progress};

const TOPOLOGY: &str = "cs131";

/// The three runs and what the consumer read.
#[derive(Debug, Clone, Serialize)]
pub struct StreamCost {
    /// No admin endpoint.
    pub plain: Measured,
    /// `--admin 127.0.0.1:0`, nobody reading `/events`.
    pub idle: Measured,
    /// The same with one consumer reading `/events`.
    pub streamed: Measured,
    /// Event lines the consumer read, and the body's bytes.
    pub events: u64,
    pub bytes: u64,
    /// Gap lines the consumer read, and the events they say it missed.
    pub gaps: u64,
    pub missed: u64,
}

impl StreamCost {
    fn per_request(&self, n: u64) -> Option<f64> {
        (self.streamed.replies > 0).then(|| n as f64 / self.streamed.replies as f64)
    }

    /// Event lines per IAMAT answered (the stream also holds the floods of the drain markers).
    pub fn events_per_request(&self) -> Option<f64> {
        self.per_request(self.events)
    }

    pub fn bytes_per_request(&self) -> Option<f64> {
        self.per_request(self.bytes)
    }

    pub fn bytes_per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| self.bytes as f64 / self.events as f64)
    }
}

pub async fn measure(settings: &Settings) -> Result<StreamCost> {
    let framing = Framing::Persistent { window: WINDOW };
    progress(format_args!("stream: IAMAT c={CLIENTS} pipelined, no admin endpoint"));
    let system = baseline::start_herdctl(TOPOLOGY).await?;
    let plain = iamat_on(&system, settings, framing, CLIENTS, "splain").await;
    system.stop().await;
    progress(format_args!("stream: IAMAT c={CLIENTS} pipelined, --admin, no consumer"));
    let system = baseline::start_herdctl_admin(TOPOLOGY).await?;
    let idle = iamat_on(&system, settings, framing, CLIENTS, "sidle").await;
    system.stop().await;
    progress(format_args!("stream: IAMAT c={CLIENTS} pipelined, --admin, one /events consumer"));
    let system = baseline::start_herdctl_admin(TOPOLOGY).await?;
    let streamed = streamed_on(&system, settings, framing).await;
    system.stop().await;
    let (streamed, tally) = streamed?;
    Ok(StreamCost {
        plain: plain?,
        idle: idle?,
        streamed,
        events: tally.lines.saturating_sub(tally.gaps),
        bytes: tally.bytes,
        gaps: tally.gaps,
        missed: tally.missed,
    })
}

/// The load on `system` with a consumer of its `/events` open from before the first request
/// until the floods have finished.
async fn streamed_on(
    system: &System,
    settings: &Settings,
    framing: Framing,
) -> Result<(Measured, Tally)> {
    let addr = admin_addr(system).await?;
    let consumer = Consumer::open(&format!("http://{addr}/events")).await?;
    let measured = iamat_on(system, settings, framing, CLIENTS, "sstream").await?;
    // Let the consumer read what the herd sent last.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tally = consumer.finish().await?;
    Ok((measured, tally))
}

/// The endpoint's address, from the line `herdctl: admin endpoint on http://ADDR (boot …)`
/// on the herd's standard error (written before the herd prints its servers' addresses).
async fn admin_addr(system: &System) -> Result<String> {
    const SAYS: &str = "admin endpoint on http://";
    for _ in 0..50 {
        let text = std::fs::read_to_string(system.file("herdctl.stderr")).unwrap_or_default();
        if let Some(addr) = text
            .lines()
            .find_map(|line| line.split_once(SAYS))
            .and_then(|(_, rest)| rest.split_whitespace().next())
        {
            return Ok(addr.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("herdctl did not say where its admin endpoint listens")
}

/// What a consumer read.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    lines: u64,
    bytes: u64,
    gaps: u64,
    missed: u64,
}

/// Counts lines and gap lines in a body that arrives in pieces.
#[derive(Debug, Default)]
struct Counter {
    tally: Tally,
    /// The start of a line not yet ended.
    carry: Vec<u8>,
}

/// What only a gap line holds: a string in an event line has its quotes escaped.
const GAP: &str = "\"gap\":{\"missed\":";

impl Counter {
    fn feed(&mut self, piece: &[u8]) {
        self.tally.bytes += piece.len() as u64;
        // The compiler vectorizes this loop; the crate clippy suggests is no dependency here.
        #[expect(clippy::naive_bytecount)]
        let newlines = piece.iter().filter(|&&b| b == b'\n').count();
        self.tally.lines += newlines as u64;
        let Some(end) = piece.iter().rposition(|&b| b == b'\n') else {
            self.carry.extend_from_slice(piece);
            return;
        };
        // The lines ended in this piece, with the start of the first from the last piece.
        let (ended, rest) = piece.split_at(end + 1);
        if self.carry.is_empty() {
            self.count_gaps(ended);
        } else {
            let mut whole = std::mem::take(&mut self.carry);
            whole.extend_from_slice(ended);
            self.count_gaps(&whole);
        }
        self.carry.clear();
        self.carry.extend_from_slice(rest);
    }

    fn count_gaps(&mut self, lines: &[u8]) {
        let text = String::from_utf8_lossy(lines);
        if !text.contains(GAP) {
            return;
        }
        for (_, after) in text.match_indices(GAP).map(|(at, _)| text.split_at(at + GAP.len())) {
            self.tally.gaps += 1;
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            self.tally.missed += digits.parse::<u64>().unwrap_or(0);
        }
    }
}

/// A task reading one `/events` response until told to stop.
struct Consumer {
    stop: Arc<AtomicBool>,
    read: Arc<AtomicU64>,
    task: JoinHandle<Result<Tally>>,
}

impl Consumer {
    /// Opens the stream and returns once its headers arrived (the endpoint subscribed).
    async fn open(url: &str) -> Result<Self> {
        let mut response = reqwest::get(url).await.wrap_err_with(|| format!("GET {url}"))?;
        if !response.status().is_success() {
            bail!("GET {url}: {}", response.status());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let read = Arc::new(AtomicU64::new(0));
        let (stopped, bytes) = (stop.clone(), read.clone());
        let task = tokio::spawn(async move {
            let mut counter = Counter::default();
            while !stopped.load(Ordering::Relaxed) {
                let piece = tokio::time::timeout(Duration::from_millis(100), response.chunk());
                match piece.await {
                    Ok(Ok(Some(piece))) => {
                        counter.feed(&piece);
                        bytes.store(counter.tally.bytes, Ordering::Relaxed);
                    }
                    Ok(Ok(None)) => break,
                    Ok(Err(err)) => return Err(eyre!("reading /events: {err}")),
                    Err(_) => {}
                }
            }
            Ok(counter.tally)
        });
        Ok(Self { stop, read, task })
    }

    /// Waits until nothing more arrives for a moment, then stops reading.
    async fn finish(self) -> Result<Tally> {
        let mut seen = u64::MAX;
        loop {
            let now = self.read.load(Ordering::Relaxed);
            if now == seen {
                break;
            }
            seen = now;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.wrap_err("the /events consumer")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_gaps_are_counted_across_pieces() {
        let mut counter = Counter::default();
        let text = "{\"boot\":\"b\",\"seq\":0,\"line\":\"\\\"gap\\\":{\\\"missed\\\":9\"}\n\
                    {\"boot\":\"b\",\"gap\":{\"missed\":12,\"after_seq\":0}}\n\
                    {\"boot\":\"b\",\"seq\":13}\n";
        for piece in text.as_bytes().chunks(7) {
            counter.feed(piece);
        }
        assert_eq!(counter.tally.lines, 3);
        assert_eq!(counter.tally.bytes, text.len() as u64);
        assert_eq!(counter.tally.gaps, 1);
        assert_eq!(counter.tally.missed, 12);
    }
}
