//! Soak: mixed client load while servers are killed and restarted and links cut and healed at
//! random; then everything is healed, every client sends one more update, and every server of
//! the final herd must hold each client's newest location. Nothing may panic, and (in the long
//! run) resident memory stays flat. The short run is part of `cargo test`; the long one is
//! `cargo test --release --test soak -- --ignored`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use herdctl::herd::HerdHandle;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const CLIENTS: usize = 12;

/// One IAMAT the grading client's way; the reply, or `None` if the server is down.
async fn try_iamat(addr: SocketAddr, client: &str, coords: &str) -> Option<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let line = format!("IAMAT {client} {coords} {}\n", common::now_text());
        stream.write_all(line.as_bytes()).await.ok()?;
        stream.shutdown().await.ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.ok()?;
        Some(reply)
    };
    timeout(common::PATIENCE, exchange).await.ok().flatten()
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Kills, restarts, cuts and heals at random until `stop`.
async fn chaos(herd: HerdHandle, seed: u64, stop: Arc<AtomicBool>) -> u64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let names: Vec<String> = herd.topology().servers.iter().map(|s| s.name.clone()).collect();
    let links = herd.topology().links();
    let mut actions = 0;
    while !stop.load(Ordering::Relaxed) {
        let name = &names[rng.gen_range(0..names.len())];
        let (a, b) = links[rng.gen_range(0..links.len())];
        let (a, b) = (&names[a], &names[b]);
        // Errors (killing a server already down, say) are part of the game.
        let line = match rng.gen_range(0..4) {
            0 => format!("kill {name}"),
            1 => format!("restart {name}"),
            2 => format!("cut {a} {b}"),
            _ => format!("heal {a} {b}"),
        };
        drop(common::control(&herd, &line).await);
        actions += 1;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..60))).await;
    }
    actions
}

async fn soak(duration: Duration, seed: u64) {
    let t = common::start("cs131").await;
    let names: Vec<String> = t.herd.topology().servers.iter().map(|s| s.name.clone()).collect();
    let addrs: Vec<SocketAddr> = names.iter().map(|n| t.addr(n)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let rss_start = rss_kib();
    let loaders: Vec<_> = (0..4u64)
        .map(|task| {
            let (addrs, stop, answered) = (addrs.clone(), stop.clone(), answered.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed + task + 1);
                while !stop.load(Ordering::Relaxed) {
                    let client = format!("soak{}", rng.gen_range(0..CLIENTS));
                    let addr = addrs[rng.gen_range(0..addrs.len())];
                    let coords = format!("+{}.0-{}.0", rng.gen_range(1..80), rng.gen_range(1..170));
                    if let Some(reply) = try_iamat(addr, &client, &coords).await {
                        assert!(reply.starts_with("AT ") || reply.is_empty(), "{reply:?}");
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let chaos = tokio::spawn(chaos(t.herd.clone(), seed, stop.clone()));
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.await.unwrap();
    }
    let actions = chaos.await.unwrap();
    assert!(answered.load(Ordering::Relaxed) > 0 && actions > 0);

    // Heal everything, then one more update per client.
    t.control("heal all").await;
    for name in &names {
        let _ = common::control(&t.herd, &format!("restart {name}")).await;
    }
    let mut newest = HashMap::new();
    for c in 0..CLIENTS {
        let client = format!("soak{c}");
        let reply = try_iamat(addrs[c % addrs.len()], &client, "+1.5-2.5").await.unwrap();
        newest.insert(client, reply.trim_end().to_owned());
    }
    let deadline = Instant::now() + common::PATIENCE * 2;
    loop {
        let snapshot = t.herd.snapshot();
        let missing: Vec<String> = snapshot
            .servers
            .iter()
            .flat_map(|s| {
                let held: Vec<&str> = s.clients.iter().map(|l| &**l).collect();
                newest
                    .values()
                    .filter(move |line| !held.contains(&line.as_str()))
                    .map(move |line| format!("{} lacks {line}", s.name))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "after healing: {missing:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rss_end = rss_kib();
    eprintln!(
        "soak {duration:?}: {} answered, {actions} faults, RSS {rss_start} → {rss_end} KiB",
        answered.load(Ordering::Relaxed)
    );
    if duration >= Duration::from_secs(30) {
        assert!(rss_end < rss_start * 3 / 2 + 16 * 1024, "RSS grew {rss_start} → {rss_end} KiB");
    }
    t.herd.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_soak_with_random_faults_ends_with_every_newest_location_everywhere() {
    soak(Duration::from_secs(3), 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a minute long: cargo test --release --test soak -- --ignored"]
async fn long_soak() {
    soak(Duration::from_secs(60), 11).await;
}
