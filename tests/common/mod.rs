//! Test harness: a herd on port 0, clients that talk like the grading client (connection per
//! command, half-close, read to EOF) and like telnet (one open connection, CRLF lines), and
//! waiting on engine events with timeouts instead of sleeping.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use herdctl::command::{self, Command, Context};
use herdctl::config::Topology;
use herdctl::herd::{Applied, EventKind, Herd, HerdConfig, HerdHandle, ServerId, Subscription};
use herdctl::places::Places;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::broadcast;
use tokio::time::timeout;

/// Applies one line of the console's grammar to `herd`: what it did, or why not.
pub async fn control(herd: &HerdHandle, line: &str) -> Result<Applied, String> {
    let context = Context::new(herd.topology());
    match command::parse(line, &context).map_err(|e| e.message)? {
        Command::Herd(control) => herd.apply(control).await.map_err(|e| e.to_string()),
        other => Err(format!("not a control: {other:?}")),
    }
}

/// How long any single wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub struct TestHerd {
    pub herd: HerdHandle,
    pub events: Subscription,
}

/// Starts `preset` (or a TOML text when it contains `[[server]]`) with every port 0.
pub async fn start(topology: &str) -> TestHerd {
    start_with(topology, |_| {}).await
}

pub async fn start_with(topology: &str, tweak: impl FnOnce(&mut HerdConfig)) -> TestHerd {
    let topology = if topology.contains("[[server]]") {
        Topology::from_toml(topology, "test.toml").unwrap()
    } else {
        Topology::load(topology, 0).unwrap()
    };
    let mut config = HerdConfig::new(topology);
    config.places = Places::Offline;
    tweak(&mut config);
    let herd = Herd::start(config).await.unwrap();
    let events = herd.events();
    TestHerd { herd, events }
}

impl TestHerd {
    pub fn id(&self, name: &str) -> ServerId {
        self.herd.id(name).unwrap_or_else(|| panic!("no server {name}"))
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.herd.addr_of(name).unwrap()
    }

    /// The grading client's way: connect, write, half-close, read until the server closes.
    pub async fn grading(&self, server: &str, command: &str) -> String {
        grading_at(self.addr(server), command.as_bytes()).await
    }

    pub async fn telnet(&self, server: &str) -> Telnet {
        Telnet::connect(self.addr(server)).await
    }

    /// Applies one line of the console's grammar (`cut Bona->Clark`); panics if it is
    /// refused.
    pub async fn control(&self, line: &str) -> Applied {
        control(&self.herd, line).await.unwrap_or_else(|err| panic!("{line:?}: {err}"))
    }

    /// Waits for the first event matching `pred`; returns what happened.
    pub async fn wait_for(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&EventKind) -> bool,
    ) -> EventKind {
        let found = timeout(PATIENCE, async {
            loop {
                match self.events.recv().await {
                    Ok(event) if pred(&event.kind) => return event.kind,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => panic!("event bus closed"),
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Waits until every server in `names` has stored a report for `client`.
    pub async fn wait_stored_at(&mut self, names: &[&str], client: &str) {
        let mut missing: Vec<ServerId> = names.iter().map(|n| self.id(n)).collect();
        missing.retain(|&id| !self.knows(id, client));
        while !missing.is_empty() {
            let what = format!("{client} stored at {missing:?}");
            let event = self
                .wait_for(
                    &what,
                    |e| matches!(e, EventKind::LocationStored { update, .. } if &*update.client == client),
                )
                .await;
            if let EventKind::LocationStored { server, .. } = event {
                missing.retain(|&id| id != server);
            }
        }
    }

    /// The AT line server `id` holds for `client`, if any.
    pub fn stored(&self, id: ServerId, client: &str) -> Option<String> {
        let snapshot = self.herd.snapshot();
        snapshot.servers[id]
            .clients
            .iter()
            .find(|line| line.split(' ').nth(3) == Some(client))
            .map(ToString::to_string)
    }

    pub fn knows(&self, id: ServerId, client: &str) -> bool {
        self.stored(id, client).is_some()
    }

    /// Waits until the herd has been quiet (no event) for `quiet`, so that a flood that should
    /// not reach somewhere has had every chance to.
    pub async fn settle(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match timeout(quiet, self.events.recv()).await {
                Err(_) => return,
                Ok(_) if tokio::time::Instant::now() > deadline => panic!("herd never went quiet"),
                Ok(_) => {}
            }
        }
    }
}

/// Connection per command: write, half-close, read to EOF.
pub async fn grading_at(addr: SocketAddr, command: &[u8]) -> String {
    let bytes = grading_bytes(addr, command).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

pub async fn grading_bytes(addr: SocketAddr, command: &[u8]) -> Vec<u8> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(command).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        reply
    };
    timeout(PATIENCE, exchange).await.expect("server did not close the connection")
}

/// A telnet-like client: one connection, CRLF lines, read replies line by line.
pub struct Telnet {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

impl Telnet {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (read, writer) = stream.into_split();
        Self { reader: BufReader::new(read), writer }
    }

    pub async fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    }

    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next reply line, without its `\n`.
    pub async fn line(&mut self) -> String {
        let mut line = Vec::new();
        let read = timeout(PATIENCE, self.reader.read_until(b'\n', &mut line)).await;
        let n = read.expect("no reply line in time").unwrap();
        assert!(n > 0, "connection closed while waiting for a line");
        assert_eq!(line.pop(), Some(b'\n'), "reply line not ended by \\n");
        String::from_utf8_lossy(&line).into_owned()
    }

    /// A whole WHATSAT reply: everything up to and including the empty line.
    pub async fn whatsat_reply(&mut self) -> String {
        let mut reply = String::new();
        loop {
            let line = self.line().await;
            if line.is_empty() {
                return reply;
            }
            reply.push_str(&line);
            reply.push('\n');
        }
    }

    /// Asserts nothing arrives within `quiet`.
    pub async fn assert_silent(&mut self, quiet: Duration) {
        let mut byte = [0u8; 1];
        if let Ok(read) = timeout(quiet, self.reader.read(&mut byte)).await {
            panic!("unexpected data: {read:?} {byte:?}");
        }
    }
}

/// An AT reply's fields, checked for shape.
pub fn at_fields(reply: &str) -> Vec<String> {
    let fields: Vec<String> = reply.trim_end_matches('\n').split(' ').map(str::to_owned).collect();
    assert_eq!(fields.len(), 6, "not an AT line: {reply:?}");
    assert_eq!(fields[0], "AT");
    fields
}

/// Now as POSIX seconds with nine fraction digits.
pub fn now_text() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

impl TestHerd {
    /// The names of the servers that hold a report for `client`, in topology order.
    pub fn holders(&self, client: &str) -> Vec<String> {
        let snapshot = self.herd.snapshot();
        snapshot
            .servers
            .iter()
            .filter(|s| s.clients.iter().any(|line| line.split(' ').nth(3) == Some(client)))
            .map(|s| s.name.clone())
            .collect()
    }

    /// Waits until every server in `names` holds exactly `line` for `client`.
    pub async fn wait_line_at(&mut self, names: &[&str], client: &str, line: &str) {
        loop {
            let missing: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| self.stored(self.id(n), client).as_deref() != Some(line))
                .collect();
            if missing.is_empty() {
                return;
            }
            let what = format!("{line:?} stored at {missing:?}");
            self.wait_for(
                &what,
                |e| matches!(e, EventKind::LocationStored { update, .. } if &*update.client == client),
            )
            .await;
        }
    }

    /// Like [`TestHerd::settle`], but returns every event seen until the herd went quiet.
    pub async fn collect_quiet(&mut self, quiet: Duration) -> Vec<EventKind> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            match timeout(quiet, self.events.recv()).await {
                Err(_) => return seen,
                Ok(_) if tokio::time::Instant::now() > deadline => panic!("herd never went quiet"),
                Ok(Ok(event)) => seen.push(event.kind),
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => panic!("lost {n} events"),
                Ok(Err(broadcast::error::RecvError::Closed)) => panic!("event bus closed"),
            }
        }
    }

    /// Sends an IAMAT the grading client's way and returns its reply line without `\n`.
    pub async fn iamat(&self, server: &str, client: &str, coords: &str, time: &str) -> String {
        let reply = self.grading(server, &format!("IAMAT {client} {coords} {time}\n")).await;
        at_fields(&reply);
        assert!(reply.ends_with('\n') && reply.matches('\n').count() == 1, "{reply:?}");
        reply.trim_end_matches('\n').to_owned()
    }
}

/// The grading client's read: connect, write, half-close, then one single read of up to 1 MB.
pub async fn one_read(addr: SocketAddr, command: &[u8]) -> Vec<u8> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(command).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let n = stream.read(&mut buf).await.unwrap();
        buf.truncate(n);
        buf
    };
    timeout(PATIENCE, exchange).await.expect("no reply in time")
}

/// Checks the framing of one whole WHATSAT reply (protocol.md §5) and returns its first line
/// and its JSON, parsed.
pub fn split_whatsat(reply: &str) -> (String, serde_json::Value) {
    let (first, rest) =
        reply.split_once('\n').unwrap_or_else(|| panic!("no first line: {reply:?}"));
    at_fields(first);
    let json = rest
        .strip_suffix("\n\n")
        .unwrap_or_else(|| panic!("WHATSAT reply not ended by an empty line: {reply:?}"));
    assert!(!json.ends_with('\n'), "JSON ends with a newline of its own: {reply:?}");
    assert!(!json.contains("\n\n"), "blank line inside the JSON: {reply:?}");
    assert!(json.starts_with('{') && json.ends_with('}'), "not a JSON object: {json:?}");
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad JSON ({e}): {json:?}"));
    assert!(value["html_attributions"].is_array(), "no html_attributions: {json}");
    assert!(value["results"].is_array(), "no results: {json}");
    assert!(value["status"].is_string(), "no status: {json}");
    (first.to_owned(), value)
}

/// Is `diff` a time difference as an AT line writes it: a sign, digits, a dot, 9 digits?
pub fn is_diff(diff: &str) -> bool {
    let Some(unsigned) = diff.strip_prefix(['+', '-']) else {
        return false;
    };
    let Some((int, frac)) = unsigned.split_once('.') else {
        return false;
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 9
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// A time difference in nanoseconds.
pub fn diff_nanos(diff: &str) -> i128 {
    assert!(is_diff(diff), "malformed time difference {diff:?}");
    let negative = diff.starts_with('-');
    let (int, frac) = diff[1..].split_once('.').unwrap();
    let magnitude = int.parse::<i128>().unwrap() * 1_000_000_000 + frac.parse::<i128>().unwrap();
    if negative { -magnitude } else { magnitude }
}

/// Now in nanoseconds since the epoch.
pub fn now_nanos() -> i128 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i128::try_from(now.as_nanos()).unwrap()
}

/// `nanos` since the epoch as POSIX seconds with nine fraction digits.
pub fn time_text(nanos: i128) -> String {
    format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
}

/// The cs131 herd with every port fixed (free ports found up front, as separate `serve`
/// processes need to find their neighbours), written as a topology file into `dir`.
pub fn fixed_port_herd(dir: &std::path::Path) -> (Topology, std::path::PathBuf) {
    let mut topology = Topology::load("cs131", 0).unwrap();
    for server in &mut topology.servers {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        server.port = probe.local_addr().unwrap().port();
    }
    let path = dir.join("herd.toml");
    std::fs::write(&path, topology.to_toml()).unwrap();
    (topology, path)
}

/// A headless herd running every server of a topology file in one process, with its admin
/// endpoint taking controls (with a token file's token); killed when dropped.
pub struct HerdProcess {
    child: std::process::Child,
    /// `HOST:PORT` of its admin endpoint.
    pub admin: String,
}

impl HerdProcess {
    /// Starts `herdctl --headless` on `topology`, its endpoint at `admin` (`127.0.0.1:0` picks
    /// a port), and waits until the endpoint is named on its standard error (kept in `dir`).
    pub fn start(
        dir: &std::path::Path,
        topology: &std::path::Path,
        token_file: &std::path::Path,
        admin: &str,
    ) -> Self {
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr = dir.join(format!("herd-{n}.stderr"));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_herdctl"))
            .args(["--headless", "--log-dir", "none", "--admin", admin, "--admin-control"])
            .arg("--topology")
            .arg(topology)
            .arg("--admin-token-file")
            .arg(token_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut process = Self { child, admin: String::new() };
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let text = std::fs::read_to_string(&stderr).unwrap_or_default();
            let named = text.lines().find_map(|line| {
                line.strip_prefix("herdctl: admin endpoint on http://")
                    .and_then(|rest| rest.split(' ').next())
            });
            if let Some(addr) = named {
                addr.clone_into(&mut process.admin);
                return process;
            }
            assert!(
                std::time::Instant::now() < deadline && process.child.try_wait().unwrap().is_none(),
                "the herd did not name its admin endpoint: {text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for HerdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In `dir`: the cs131 herd on fixed free ports (`herd.toml`), a token file (`admin.token`),
/// a process running the whole herd with its endpoint on port 0, and the topology an attached
/// console reads (`attach.toml`: that endpoint named for every server).
pub fn one_process_herd(dir: &std::path::Path, token: &str) -> (HerdProcess, std::path::PathBuf) {
    let (mut topology, path) = fixed_port_herd(dir);
    let token_file = dir.join("admin.token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let process = HerdProcess::start(dir, &path, &token_file, "127.0.0.1:0");
    for server in &mut topology.servers {
        server.admin = Some(process.admin.clone());
    }
    let attached = dir.join("attach.toml");
    std::fs::write(&attached, topology.to_toml()).unwrap();
    (process, attached)
}
