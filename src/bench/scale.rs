//! Large herds in one process: `ring:2000` and `grid:40x40` each run as
//! `herdctl --headless` (one process, every server in it), timed from spawn until every
//! server's address is printed, its resident memory read after the start and after one
//! update has reached every server, and that update's convergence seen from outside: one
//! IAMAT at the first server, then WHATSAT to the servers farthest from it first. The
//! baseline is the default herd measured the same way in the same run. A herd that does not
//! start is reported with its error, and the bench goes on.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use color_eyre::eyre::{Result, bail, eyre};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use tokio::time::{Instant, sleep};

use super::baseline;
use super::load;
use super::progress;
use crate::config::Topology;

/// The large herds.
pub const TOPOLOGIES: [&str; 2] = ["ring:2000", "grid:40x40"];
/// The baseline herd.
pub const BASELINE: &str = "cs131";
/// Longest a herd may take to print every address.
const START_LIMIT: Duration = Duration::from_secs(60);
/// Longest one update may take to reach every server.
const CONVERGE_LIMIT: Duration = Duration::from_secs(60);
/// Servers confirmed at once once the farthest knows the update.
const CONFIRM_AT_ONCE: usize = 32;
/// Between two questions to a server that did not know the update yet.
const POLL_PAUSE: Duration = Duration::from_millis(1);

/// One herd's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    pub topology: String,
    pub servers: usize,
    pub links: usize,
    /// Why the herd did not start (or did not converge), with its stderr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// From spawn until every address was printed.
    pub start_secs: Option<f64>,
    /// Resident bytes after the start.
    pub rss_start: Option<u64>,
    /// From sending the IAMAT until the last server was seen to know it.
    pub converge_secs: Option<f64>,
    /// Servers seen to know the update.
    pub confirmed: usize,
    /// Resident bytes after the update reached every server.
    pub rss_after: Option<u64>,
}

impl Scale {
    pub fn rss_per_server(&self) -> Option<f64> {
        self.rss_start.map(|rss| rss as f64 / self.servers.max(1) as f64)
    }
}

/// Raises this process's soft limit on open files to its hard limit (children inherit it).
pub fn raise_nofile() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0)
}

/// Measures the baseline, then every large herd.
pub async fn measure_all() -> Vec<Scale> {
    let limit = raise_nofile();
    progress(format_args!("scale: open files limit {limit}"));
    let mut results = Vec::new();
    for spec in std::iter::once(BASELINE).chain(TOPOLOGIES) {
        progress(format_args!("scale: {spec} in one process"));
        results.push(measure(spec).await);
    }
    results
}

async fn measure(spec: &str) -> Scale {
    // A topology that does not load is reported by `measure_into`.
    let (servers, links) =
        Topology::load(spec, 0).map_or((0, 0), |t| (t.servers.len(), t.links().len()));
    let mut scale = Scale {
        topology: spec.to_owned(),
        servers,
        links,
        error: None,
        start_secs: None,
        rss_start: None,
        converge_secs: None,
        confirmed: 0,
        rss_after: None,
    };
    if let Err(err) = measure_into(spec, &mut scale).await {
        progress(format_args!("scale: {spec}: {err:#}"));
        scale.error = Some(format!("{err:#}"));
    }
    scale
}

async fn measure_into(spec: &str, scale: &mut Scale) -> Result<()> {
    let topology = Topology::load(spec, 0)?;
    let began = Instant::now();
    let system = baseline::start_herdctl_within(spec, START_LIMIT).await?;
    scale.start_secs = Some(began.elapsed().as_secs_f64());
    let pid = system.pids().first().copied().ok_or_else(|| eyre!("no process"))?;
    scale.rss_start = Some(baseline::rss_of(pid)?);
    let (time, confirmed) = converge(&topology, &system.servers).await?;
    scale.confirmed = confirmed;
    scale.converge_secs = time.map(|t| t.as_secs_f64());
    scale.rss_after = Some(baseline::rss_of(pid)?);
    system.stop().await;
    if time.is_none() {
        bail!("the update reached {confirmed} of {} servers in {CONVERGE_LIMIT:?}", scale.servers);
    }
    Ok(())
}

/// Hops from server 0 to every server.
fn hops(topology: &Topology) -> Vec<usize> {
    let mut distance = vec![usize::MAX; topology.servers.len()];
    let mut queue = VecDeque::from([0]);
    if let Some(first) = distance.first_mut() {
        *first = 0;
    }
    while let Some(at) = queue.pop_front() {
        for &next in &topology.servers[at].neighbours {
            if distance[next] == usize::MAX {
                distance[next] = distance[at] + 1;
                queue.push_back(next);
            }
        }
    }
    distance
}

/// Sends one IAMAT to server 0 and waits until every server knows it: the farthest server is
/// asked until it does, then every other once (and again until it does, if it did not). The
/// time until the farthest knew, or until a server that did not know at the first question
/// did (`None` past [`CONVERGE_LIMIT`]), and how many servers were seen to know.
async fn converge(
    topology: &Topology,
    servers: &[(String, SocketAddr)],
) -> Result<(Option<Duration>, usize)> {
    let addr_of = |name: &str| servers.iter().find(|(n, _)| n == name).map(|(_, a)| *a);
    let distance = hops(topology);
    let mut order: Vec<usize> = (0..topology.servers.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(distance[i]));
    let addrs: Vec<SocketAddr> = order
        .iter()
        .map(|&i| {
            let name = &topology.servers[i].name;
            addr_of(name).ok_or_else(|| eyre!("{name} printed no address"))
        })
        .collect::<Result<_>>()?;
    let origin =
        addr_of(&topology.servers[0].name).ok_or_else(|| eyre!("the origin has no address"))?;
    let client = format!("scale-{}", load::posix_now().replace('.', ""));
    let mut reply = Vec::new();
    let began = Instant::now();
    let deadline = began + CONVERGE_LIMIT;
    load::exchange(origin, load::iamat_line(&client).as_bytes(), &mut reply).await?;
    if !reply.starts_with(b"AT ") {
        bail!("the IAMAT was answered {:?}", String::from_utf8_lossy(&reply));
    }
    // The farthest first, until it knows; its time is the convergence time unless another
    // server did not know yet when asked next.
    let Some((&farthest, others)) = addrs.split_first() else {
        return Ok((Some(began.elapsed()), 0));
    };
    let Some(mut latest) = known_by(farthest, &client, deadline).await else {
        return Ok((None, 0));
    };
    let checks = stream::iter(others.iter().map(|&addr| {
        let client = client.as_str();
        async move {
            if asks_once(addr, client).await {
                Some(None)
            } else {
                known_by(addr, client, deadline).await.map(Some)
            }
        }
    }))
    .buffer_unordered(CONFIRM_AT_ONCE)
    .collect::<Vec<_>>()
    .await;
    let mut confirmed = 1;
    for check in checks {
        match check {
            Some(later) => {
                confirmed += 1;
                latest = latest.max(later.unwrap_or(latest));
            }
            None => return Ok((None, confirmed)),
        }
    }
    Ok((Some(latest - began), confirmed))
}

/// Whether the server at `addr` knows `client` now.
async fn asks_once(addr: SocketAddr, client: &str) -> bool {
    let question = format!("WHATSAT {client} 1 1\n");
    let mut reply = Vec::new();
    load::exchange(addr, question.as_bytes(), &mut reply).await.is_ok() && knows(&reply)
}

/// A WHATSAT reply that is an answer, not `? `.
fn knows(reply: &[u8]) -> bool {
    !reply.is_empty() && !reply.starts_with(b"? ")
}

/// Asks the server at `addr` with `WHATSAT CLIENT 1 1` until the answer is not `? `; when it
/// first was, or `None` at `deadline`.
async fn known_by(addr: SocketAddr, client: &str, deadline: Instant) -> Option<Instant> {
    let question = format!("WHATSAT {client} 1 1\n");
    let mut reply = Vec::new();
    while Instant::now() < deadline {
        if load::exchange(addr, question.as_bytes(), &mut reply).await.is_ok() && knows(&reply) {
            return Some(Instant::now());
        }
        sleep(POLL_PAUSE).await;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_are_counted_from_the_first_server() {
        let ring = Topology::load("ring:6", 0).unwrap();
        assert_eq!(hops(&ring), [0, 1, 2, 3, 2, 1]);
        let grid = Topology::load("grid:40x40", 0).unwrap();
        assert_eq!(hops(&grid).iter().max(), Some(&78));
    }
}
