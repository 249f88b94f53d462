//! Limits users expect: a per-server cap on client connections, a herd-wide descriptor budget
//! that one server's clients cannot exhaust for the others, a clear error when a topology
//! needs more descriptors than the process may open, and a prompt stop on SIGTERM.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{PATIENCE, grading_at};
use herdctl::herd::HerdError;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Opens a connection to `addr` and asks it one IAMAT: `Some(stream)` if it was answered (the
/// connection was admitted), `None` if the server closed it at once.
async fn admitted(addr: std::net::SocketAddr, n: usize) -> Option<BufReader<TcpStream>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut stream = BufReader::new(stream);
    let line = format!("IAMAT held{n} +1+1 {}\n", common::now_text());
    if stream.get_mut().write_all(line.as_bytes()).await.is_err() {
        return None;
    }
    let mut reply = String::new();
    match timeout(PATIENCE, stream.read_line(&mut reply)).await.unwrap() {
        Ok(n) if n > 0 => {
            assert!(reply.starts_with("AT "), "{reply}");
            Some(stream)
        }
        _ => None,
    }
}

/// Fills `addr` with connections until one is closed at once; returns the admitted ones.
async fn fill(addr: std::net::SocketAddr, most: usize) -> Vec<BufReader<TcpStream>> {
    let mut held = Vec::new();
    for n in 0..most {
        match admitted(addr, n).await {
            Some(stream) => held.push(stream),
            None => return held,
        }
    }
    panic!("{most} connections were all admitted");
}

#[tokio::test]
async fn a_server_holds_at_most_max_connections_clients() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().to_path_buf();
    let t = common::start_with("cs131", |c| {
        c.max_connections = 5;
        c.log_dir = Some(logs);
    })
    .await;
    let held = fill(t.addr("Bailey"), 50).await;
    assert_eq!(held.len(), 5);
    let bailey = t.herd.snapshot().servers.into_iter().find(|s| s.name == "Bailey").unwrap();
    assert_eq!((bailey.connections, bailey.refused), (5, 1));
    // Its neighbours' links are not clients: the flood of every admitted IAMAT went on.
    assert!(grading_at(t.addr("Bona"), b"WHATSAT held4 10 1").await.starts_with("AT Bailey"));
    // A place comes free when a client leaves.
    drop(held);
    let deadline = Instant::now() + PATIENCE;
    while t.herd.snapshot().servers.iter().any(|s| s.name == "Bailey" && s.connections > 0) {
        assert!(Instant::now() < deadline, "Bailey never saw its clients leave");
        tokio::task::yield_now().await;
    }
    assert!(admitted(t.addr("Bailey"), 99).await.is_some());
    t.herd.shutdown().await;
    let log = std::fs::read_to_string(dir.path().join("Bailey.log")).unwrap();
    assert!(log.contains("closed at once: this server holds --max-connections"), "{log}");
}

#[tokio::test]
async fn one_servers_clients_cannot_take_every_descriptor() {
    // Room for about 200 client connections in all.
    let t = common::start_with("cs131", |c| c.descriptor_limit = 64 + 34 + 200).await;
    let budget = t.herd.client_budget();
    assert_eq!(budget, 200);
    let bailey = fill(t.addr("Bailey"), budget + 1).await;
    assert!(bailey.len() < budget, "Bailey took the whole budget");
    // The other servers still accept, answer, and flood over their links.
    let mut others = Vec::new();
    for (i, server) in ["Bona", "Campbell", "Clark", "Jaquez"].into_iter().enumerate() {
        for n in 0..8 {
            let held = admitted(t.addr(server), 1000 + 10 * i + n).await;
            others.push(held.unwrap_or_else(|| panic!("{server} refused a client")));
        }
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = grading_at(t.addr("Jaquez"), b"WHATSAT held1000 10 1").await;
        if reply.starts_with("AT Bona") {
            break;
        }
        assert!(Instant::now() < deadline, "Bona's report never reached Jaquez: {reply}");
    }
}

#[tokio::test]
async fn a_topology_needing_more_descriptors_than_allowed_fails_at_start() {
    let topology = herdctl::config::Topology::load("ring:100", 0).unwrap();
    let mut config = herdctl::herd::HerdConfig::new(topology);
    config.descriptor_limit = 300;
    match herdctl::herd::Herd::start(config).await {
        Err(err @ HerdError::Descriptors { needed, limit }) => {
            assert_eq!(limit, 300);
            assert!(needed > 600, "{needed}");
            assert!(err.to_string().contains("ulimit -n"), "{err}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("ring:100 started with 300 descriptors"),
    }
}

#[test]
fn the_binary_says_so_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "ulimit -n 300 && exec {} --headless -t ring:100 --base-port 0 --log-dir none",
        env!("CARGO_BIN_EXE_herdctl")
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("file descriptors") && stderr.contains("300"), "{stderr}");
}

/// `serve` with its neighbours connected stops promptly on SIGTERM.
#[tokio::test]
async fn serve_stops_promptly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (topology, path) = common::fixed_port_herd(dir.path());
    let mut children = Vec::new();
    for server in &topology.servers {
        let mut child = Command::new(env!("CARGO_BIN_EXE_herdctl"))
            .args(["serve", &server.name, "--topology"])
            .arg(&path)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        children.push(child);
    }
    let bailey = std::net::SocketAddr::from(([127, 0, 0, 1], topology.servers[0].port));
    let jaquez = std::net::SocketAddr::from(([127, 0, 0, 1], topology.servers[4].port));
    // Every link up, and a client connected.
    grading_at(bailey, format!("IAMAT up +1+1 {}", common::now_text()).as_bytes()).await;
    let deadline = Instant::now() + PATIENCE;
    while grading_at(jaquez, b"WHATSAT up 1 1").await.starts_with("? ") {
        assert!(Instant::now() < deadline, "the report never reached Jaquez");
    }
    let _client = TcpStream::connect(bailey).await.unwrap();
    let mut slowest = Duration::ZERO;
    for child in &mut children {
        let started = Instant::now();
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{status}");
        slowest = slowest.max(started.elapsed());
    }
    // 200 ms on an idle machine; the bound leaves room for a loaded one.
    assert!(slowest < Duration::from_secs(1), "slowest stop: {slowest:?}");
}
