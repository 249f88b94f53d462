//! A neighbour that stops reading (a frozen process: its sockets stay open, nothing reads
//! them) costs its neighbours nothing but the reports meant for it: their clients are still
//! answered, the reports for the frozen neighbour are dropped with the reason
//! `neighbour stalled`, nothing is dropped on any other link, and the link recovers by
//! itself when the neighbour reads again.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use herdctl::herd::{DropReason, HerdSnapshot, LinkState, ServerId};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::timeout;

/// The bound a fresh IAMAT must be answered within while the neighbour is frozen: far above
/// the release build's figure (1.5 ms at p99, `herdctl bench --only stall`), so that a debug
/// build on a loaded 2-core machine cannot make it flake, and far below "never".
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// Listens where `addr` was, accepts every connection and never reads from it. The accepted
/// sockets are kept (open) until `frozen` is dropped; small receive buffers make the senders'
/// writes block soon.
struct Frozen {
    accepted: Arc<tokio::sync::Mutex<Vec<TcpStream>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Frozen {
    fn start(addr: std::net::SocketAddr) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.bind(addr).unwrap();
        let listener: TcpListener = socket.listen(64).unwrap();
        let accepted = Arc::new(tokio::sync::Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let accepted = accepted.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    accepted.lock().await.push(stream);
                }
            }
        });
        Self { accepted, task }
    }

    /// Starts reading again: everything sent so far and from now on is drained.
    async fn thaw(self) {
        self.task.abort();
        for mut stream in self.accepted.lock().await.drain(..) {
            tokio::spawn(async move {
                let mut sink = vec![0u8; 64 * 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    }
}

/// The two tests load the machine: they take turns, so that neither measures the other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One client that pipelines IAMATs at `addr` (windows of 16, `pause` between windows) until
/// `stop` is set.
async fn pipeline(
    addr: std::net::SocketAddr,
    client: usize,
    pause: Duration,
    stop: Arc<AtomicBool>,
) -> usize {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut replies = BufReader::new(read).lines();
    let mut sent = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let mut batch = String::new();
        for _ in 0..16 {
            sent += 1;
            let _ = writeln!(batch, "IAMAT load{client} +34.0-118.0 1700000000.{sent:09}");
        }
        write.write_all(batch.as_bytes()).await.unwrap();
        for _ in 0..16 {
            replies.next_line().await.unwrap().unwrap();
        }
        tokio::time::sleep(pause).await;
    }
    sent
}

/// A fresh one-shot IAMAT (the grading client's way) and how long its answer took.
async fn probe(addr: std::net::SocketAddr, n: usize) -> Duration {
    let started = Instant::now();
    let command = format!("IAMAT probe{n} +34.0-118.0 {}\n", common::now_text());
    let reply = timeout(ANSWER_WITHIN * 10, common::grading_at(addr, command.as_bytes()))
        .await
        .unwrap_or_else(|_| panic!("probe {n} got no answer within {:?}", ANSWER_WITHIN * 10));
    assert!(reply.starts_with("AT "), "probe {n}: {reply:?}");
    started.elapsed()
}

/// The state of the directed link `from -> to`.
fn direction(snapshot: &HerdSnapshot, from: ServerId, to: ServerId) -> LinkState {
    let link = snapshot.links.iter().find(|l| (l.a, l.b) == (from.min(to), from.max(to)));
    let link = link.unwrap();
    if link.a == from { link.a_to_b } else { link.b_to_a }
}

/// Waits (polling the herd's snapshot: under this load an event subscriber lags) until
/// `cond` holds, failing after `limit`.
async fn until(
    t: &common::TestHerd,
    limit: Duration,
    what: &str,
    cond: impl Fn(&HerdSnapshot) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !cond(&t.herd.snapshot()) {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_neighbour_costs_its_neighbours_only_its_own_reports() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let logs = tempfile::tempdir().unwrap();
    let dir = logs.path().to_path_buf();
    let t = common::start_with("cs131", |c| c.log_dir = Some(dir)).await;
    let (bona, bona_addr) = (t.id("Bona"), t.addr("Bona"));
    t.control("kill Bona").await;
    let frozen = Frozen::start(bona_addr);

    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..24)
        .map(|c| {
            tokio::spawn(pipeline(t.addr("Bailey"), c, Duration::from_millis(1), stop.clone()))
        })
        .collect();

    // The load fills the frozen neighbour's buffers until Bailey's link to it stalls.
    let bailey = t.id("Bailey");
    until(&t, Duration::from_secs(60), "Bailey's link to Bona to stall", |s| {
        direction(s, bailey, bona) == LinkState::Stalled
    })
    .await;

    // Several seconds frozen, under load: Bailey and Campbell keep answering.
    let frozen_until = Instant::now() + Duration::from_secs(3);
    let mut slowest = Duration::ZERO;
    let mut n = 0;
    while Instant::now() < frozen_until {
        for server in ["Bailey", "Campbell"] {
            n += 1;
            slowest = slowest.max(probe(t.addr(server), n).await);
        }
    }
    assert!(slowest < ANSWER_WITHIN, "slowest answer while Bona was frozen: {slowest:?}");

    // Bona reads again: the link recovers by itself and reports reach it.
    frozen.thaw().await;
    until(&t, Duration::from_secs(30), "Bailey's link to Bona to recover", |s| {
        direction(s, bailey, bona) == LinkState::Up
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for loader in loaders {
        sent += loader.await.unwrap();
    }
    assert!(sent > 0);

    let snapshot = t.herd.snapshot();
    for link in &snapshot.links {
        let touches_bona = link.a == bona || link.b == bona;
        if !touches_bona && link.dropped > 0 {
            t.herd.shutdown().await;
            let notes: Vec<String> = std::fs::read_dir(logs.path())
                .unwrap()
                .flat_map(|f| {
                    std::fs::read_to_string(f.unwrap().path())
                        .unwrap()
                        .lines()
                        .filter(|l| l.contains(" -- ") && !l.contains("Bona"))
                        .take(20)
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .collect();
            panic!("a link away from Bona dropped reports: {link:?}\n{notes:#?}");
        }
    }
    let stalled: u64 =
        snapshot.links.iter().filter(|l| l.a == bona || l.b == bona).map(|l| l.dropped).sum();
    assert!(stalled > 0, "no report for the frozen Bona was dropped");
    assert_eq!(DropReason::NeighbourStalled.as_str(), "neighbour stalled");
}

/// A `herdctl serve` process: its `NAME HOST:PORT` line, and SIGKILL when dropped.
struct Serve(std::process::Child);

impl Serve {
    fn spawn(name: &str, topology: &std::path::Path, dir: &std::path::Path) -> (Self, String) {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_herdctl"))
            .args(["serve", name, "--topology"])
            .arg(topology)
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        (Self(child), line)
    }

    fn signal(&self, signal: &str) {
        let pid = self.0.id().to_string();
        let status = std::process::Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Five `herdctl serve` processes on the cs131 herd; Bona's process is stopped with SIGSTOP
/// (its sockets stay open, nothing reads them) while 24 clients load Bailey.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_serve_process_does_not_stall_its_neighbours() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (topology, path) = common::fixed_port_herd(dir.path());
    let mut procs = Vec::new();
    for server in &topology.servers {
        let (serve, line) = Serve::spawn(&server.name, &path, dir.path());
        assert!(line.starts_with(&server.name), "{line}");
        procs.push((server.name.clone(), serve));
    }
    let addr = |name: &str| {
        let server = topology.servers.iter().find(|s| s.name == name).unwrap();
        std::net::SocketAddr::from(([127, 0, 0, 1], server.port))
    };
    let bona = &procs.iter().find(|(n, _)| n == "Bona").unwrap().1;
    bona.signal("-STOP");

    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..24)
        .map(|c| tokio::spawn(pipeline(addr("Bailey"), c, Duration::ZERO, stop.clone())))
        .collect();
    // The kernel buffers a few MB for the stopped process before Bailey's writes block and
    // the link stalls; Bailey's log says when.
    let log = dir.path().join("logs").join("Bailey.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("link to Bona stalled")) {
        assert!(Instant::now() < deadline, "Bailey's link to Bona never stalled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Several seconds frozen, under load: Bailey and Campbell keep answering.
    let until = Instant::now() + Duration::from_secs(3);
    let mut slowest = Duration::ZERO;
    let mut n = 0;
    while Instant::now() < until {
        for server in ["Bailey", "Campbell"] {
            n += 1;
            slowest = slowest.max(probe(addr(server), n).await);
        }
    }
    stop.store(true, Ordering::Relaxed);
    bona.signal("-CONT");
    for loader in loaders {
        loader.await.unwrap();
    }
    assert!(slowest < ANSWER_WITHIN, "slowest answer while Bona was stopped: {slowest:?}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("for Bona: neighbour stalled"), "Bailey's log shows no dropped report");
}

/// A busy herd is not a stalled one: clients pipelining at every server of a herd with tiny
/// link queues (so that every queue is full most of the time) lose no report, and every
/// flood completes. Servers that waited for room in each other's queues around a cycle of the
/// graph would stop reading each other until their links counted as stalled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_herd_with_full_queues_drops_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let t = common::start_with("cs131", |c| {
        c.link_queue = 2;
        // Short, so that a wait around a cycle shows as a stall within the test's time.
        c.link_stall = Duration::from_millis(500);
    })
    .await;
    let names = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..40)
        .map(|c| tokio::spawn(pipeline(t.addr(names[c % 5]), c, Duration::ZERO, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut sent = Vec::new();
    for loader in loaders {
        sent.push(loader.await.unwrap());
    }
    // Every client's last report reaches every server, and nothing was dropped on the way.
    let last: Vec<String> = sent
        .iter()
        .enumerate()
        .map(|(c, &n)| format!("load{c} +34.0-118.0 1700000000.{n:09}"))
        .collect();
    until(&t, Duration::from_secs(30), "every flood to complete", |s| {
        s.servers.iter().all(|server| {
            last.iter().all(|tail| server.clients.iter().any(|line| line.ends_with(tail.as_str())))
        })
    })
    .await;
    let snapshot = t.herd.snapshot();
    let dropped: u64 = snapshot.links.iter().map(|l| l.dropped).sum();
    assert_eq!(dropped, 0, "{:?}", snapshot.links);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_stalls_its_neighbours_links_and_they_keep_serving() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let t = common::start("cs131").await;
    let (bailey, bona) = (t.id("Bailey"), t.id("Bona"));
    t.control("hang Bona").await;
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..24)
        .map(|c| {
            tokio::spawn(pipeline(t.addr("Bailey"), c, Duration::from_millis(1), stop.clone()))
        })
        .collect();
    // Nothing reads what Bailey writes to Bona: the kernel's buffers fill, the link stalls.
    until(&t, Duration::from_secs(60), "Bailey's link to the hung Bona to stall", |s| {
        direction(s, bailey, bona) == LinkState::Stalled
    })
    .await;
    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        slowest = slowest.max(probe(t.addr("Campbell"), n).await);
    }
    assert!(slowest < ANSWER_WITHIN, "slowest answer while Bona hung: {slowest:?}");
    // Unhung, Bona works through its backlog and the link recovers.
    t.control("unhang Bona").await;
    until(&t, Duration::from_secs(30), "Bailey's link to Bona to recover", |s| {
        direction(s, bailey, bona) == LinkState::Up
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.await.unwrap();
    }
}
