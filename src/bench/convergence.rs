//! Flood convergence, timed inside the process through the engine's
//! events. One update at a time goes to each server in turn; its time is from the origin
//! storing it (the IAMAT accepted) until the last server stores it, and its cost the reports
//! written between servers (`FloodSent`) on its behalf.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Result, eyre};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{Instant, sleep, timeout};

use super::baseline::TempDir;
use super::histogram::Histogram;
use super::load;
use super::{Settings, progress};
use crate::config::Topology;
use crate::herd::{EventKind, Herd, HerdConfig, Subscription};

/// Longest one update may take to reach every server.
const UPDATE_LIMIT: Duration = Duration::from_secs(10);

/// Updates sent before measuring, so that every link is up.
const WARM_UP: usize = 3;

/// What one topology measured.
#[derive(Debug, Clone, Serialize)]
pub struct Convergence {
    pub topology: String,
    pub servers: usize,
    pub links: usize,
    pub updates: usize,
    /// Updates that reached every server in time.
    pub converged: usize,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub max_us: Option<f64>,
    /// Reports written between servers per update, measured.
    pub messages_per_update: f64,
    /// What the flooding rule predicts: every server forwards once to every neighbour but the
    /// one it heard from, `2 × links − (servers − 1)`.
    pub expected_messages: usize,
    /// Events the observer missed (it lagged); timings are then incomplete.
    pub lagged: u64,
}

/// Per update: when each server stored it, and how many reports it cost.
#[derive(Debug, Default)]
struct Track {
    first: Option<Instant>,
    stored: usize,
    sent: usize,
}

/// Measures every topology of `settings.topologies` in turn.
pub async fn measure_all(settings: &Settings) -> Result<Vec<Convergence>> {
    let mut results = Vec::new();
    for (spec, updates) in &settings.topologies {
        progress(format_args!("convergence on {spec} ({updates} updates)"));
        results.push(measure(spec, *updates).await?);
    }
    Ok(results)
}

async fn measure(spec: &str, updates: usize) -> Result<Convergence> {
    let topology = Topology::load(spec, 0)?;
    let servers = topology.servers.len();
    let links = topology.links().len();
    let logs = TempDir::new("convergence")?;
    let mut config = HerdConfig::new(topology);
    config.log_dir = Some(logs.path().to_path_buf());
    let herd = Herd::start(config).await?;
    let addrs: Vec<SocketAddr> = (0..servers)
        .map(|id| herd.addr(id).ok_or_else(|| eyre!("server {id} has no address")))
        .collect::<Result<_>>()?;
    let (converged_tx, mut converged_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let recorder = tokio::spawn(record(herd.events(), servers, converged_tx, stop_rx));
    let mut connections: Vec<Option<BufReader<TcpStream>>> = (0..servers).map(|_| None).collect();
    let mut histogram = Histogram::default();
    let mut converged = 0;
    let tag = format!("conv{}", spec.replace([':', 'x'], ""));
    for k in 0..WARM_UP + updates {
        let origin = (k * 7) % servers;
        let client: Arc<str> = format!("{tag}-{k}").into();
        send(&mut connections[origin], addrs[origin], &client).await?;
        let done = timeout(UPDATE_LIMIT, async {
            while let Some((who, time)) = converged_rx.recv().await {
                if who == client {
                    return Some(time);
                }
            }
            None
        })
        .await;
        if let Ok(Some(time)) = done
            && k >= WARM_UP
        {
            histogram.record(time);
            converged += 1;
        }
        // Let the duplicates of this flood die out before the next one starts.
        sleep(Duration::from_millis(1)).await;
    }
    sleep(Duration::from_millis(100)).await;
    let _ = stop_tx.send(());
    let (tracks, lagged) = recorder.await.map_err(|_| eyre!("the event recorder failed"))?;
    herd.shutdown().await;
    let measured: Vec<usize> = tracks
        .iter()
        .filter(|(client, _)| {
            client
                .rsplit('-')
                .next()
                .and_then(|k| k.parse::<usize>().ok())
                .is_some_and(|k| k >= WARM_UP)
        })
        .map(|(_, track)| track.sent)
        .collect();
    let messages_per_update = if measured.is_empty() {
        0.0
    } else {
        measured.iter().sum::<usize>() as f64 / measured.len() as f64
    };
    let micros = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e6);
    Ok(Convergence {
        topology: spec.to_owned(),
        servers,
        links,
        updates,
        converged,
        p50_us: micros(histogram.quantile(0.5)),
        p99_us: micros(histogram.quantile(0.99)),
        max_us: micros(histogram.max()),
        messages_per_update,
        expected_messages: (2 * links).saturating_sub(servers - 1),
        lagged,
    })
}

/// Sends one IAMAT for `client` to a server over a kept connection and reads its reply.
async fn send(
    connection: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    client: &str,
) -> Result<()> {
    if connection.is_none() {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        *connection = Some(BufReader::new(stream));
    }
    let stream = connection.as_mut().ok_or_else(|| eyre!("no connection"))?;
    stream.get_mut().write_all(load::iamat_line(client).as_bytes()).await?;
    let mut reply = String::new();
    timeout(load::REPLY_TIMEOUT, stream.read_line(&mut reply)).await??;
    if !reply.starts_with("AT ") {
        return Err(eyre!("unexpected reply {reply:?} from {addr}"));
    }
    Ok(())
}

/// Follows the events until told to stop: when an update has been stored by all `servers`,
/// sends its convergence time; at the end returns every update's track and the events missed.
async fn record(
    mut events: Subscription,
    servers: usize,
    converged: mpsc::UnboundedSender<(Arc<str>, Duration)>,
    mut stop: oneshot::Receiver<()>,
) -> (HashMap<Arc<str>, Track>, u64) {
    let mut tracks: HashMap<Arc<str>, Track> = HashMap::new();
    let mut lagged = 0;
    loop {
        let event = tokio::select! {
            biased;
            event = events.recv() => event,
            _ = &mut stop => break,
        };
        let now = Instant::now();
        match event.map(|e| e.kind) {
            Ok(EventKind::LocationStored { update, .. }) => {
                let client = update.client;
                let track = tracks.entry(client.clone()).or_default();
                track.first.get_or_insert(now);
                track.stored += 1;
                if track.stored == servers
                    && let Some(first) = track.first
                {
                    let _ = converged.send((client, now - first));
                }
            }
            Ok(EventKind::FloodSent { update, .. }) => {
                tracks.entry(update.client).or_default().sent += 1;
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(missed)) => lagged += missed,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    (tracks, lagged)
}
