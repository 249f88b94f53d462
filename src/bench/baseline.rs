//! The systems under test, each in processes of its own so the load generator never shares
//! their runtime: herdctl (`--headless`), the Python asyncio herd of `bench/asyncio_herd.py`
//! (one process per server), and the bare line-echo server (`herdctl bench --echo-server`).
//! Every process is killed when its [`System`] is dropped, on every exit path, and every
//! temporary directory is removed.

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::timeout;

use crate::config::Topology;

/// The Python herd, built into the binary so the bench runs from any directory.
const ASYNCIO_HERD: &str = include_str!("../../bench/asyncio_herd.py");

/// How long a system may take to print its addresses.
const STARTUP: Duration = Duration::from_secs(15);

/// Which system a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Herdctl,
    Asyncio,
    Echo,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Herdctl => "herdctl",
            Kind::Asyncio => "asyncio",
            Kind::Echo => "echo",
        }
    }
}

/// A directory under the system's temporary directory, removed with everything in it when
/// dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(what: &str) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "herdctl-bench-{}-{what}-{n}-{}",
            std::process::id(),
            super::load::posix_now().replace('.', "")
        ));
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One child process, killed when dropped.
#[derive(Debug)]
struct Proc {
    child: Child,
    /// Kept open: the echo server exits when it closes, and nothing the child prints later
    /// meets a closed pipe. A herd run with `--control stdin` reads its commands here.
    stdin: Option<ChildStdin>,
    stdout: Option<tokio::io::Lines<BufReader<ChildStdout>>>,
}

/// A running system: its servers' names and addresses, its processes and its log directory.
#[derive(Debug)]
pub struct System {
    pub kind: Kind,
    pub servers: Vec<(String, SocketAddr)>,
    // Declared before `logs`: processes are killed before their log directory is removed.
    procs: Vec<Proc>,
    logs: TempDir,
}

impl System {
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(|(_, addr)| *addr).collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().filter_map(|p| p.child.id()).collect()
    }

    /// The process serving `name`: its own in a one-process-per-server system, else the one
    /// process.
    pub fn pid_of(&self, name: &str) -> Option<u32> {
        let pids = self.pids();
        match pids.as_slice() {
            [one] => Some(*one),
            _ if pids.len() == self.servers.len() => {
                let index = self.servers.iter().position(|(n, _)| n == name)?;
                pids.get(index).copied()
            }
            _ => None,
        }
    }

    /// Sends one command line to a herd started by [`start_herdctl_controlled`] and returns
    /// its answer (`ok …`), or fails with the `error …` it got.
    pub async fn control(&mut self, line: &str) -> Result<String> {
        use tokio::io::AsyncWriteExt as _;
        let proc = self.procs.first_mut().ok_or_else(|| eyre!("no process"))?;
        let (Some(stdin), Some(stdout)) = (proc.stdin.as_mut(), proc.stdout.as_mut()) else {
            bail!("this system takes no commands");
        };
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        stdin.flush().await?;
        loop {
            let answer = timeout(STARTUP, stdout.next_line())
                .await
                .map_err(|_| eyre!("no answer to {line:?}"))??
                .ok_or_else(|| eyre!("herdctl exited before answering {line:?}"))?;
            if answer.starts_with("ok") {
                return Ok(answer);
            }
            if answer.starts_with("error") {
                bail!("{line:?}: {answer}");
            }
        }
    }

    /// A file in the system's log directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.logs.path().join(name)
    }

    /// Resident memory of every process of the system, in bytes.
    pub fn rss(&self) -> Result<Vec<u64>> {
        self.pids().into_iter().map(rss_of).collect()
    }

    /// Counts, over every log file, the reports written to neighbours and those dropped.
    pub fn log_counts(&self) -> io::Result<LogCounts> {
        self.log_counts_before(None)
    }

    /// [`log_counts`](Self::log_counts), leaving out drops logged at or after `cutoff` (a
    /// herd being shut down drops what it still held, for neighbours already gone).
    pub fn log_counts_before(&self, cutoff: Option<SystemTime>) -> io::Result<LogCounts> {
        let mut counts = LogCounts { cutoff, ..LogCounts::default() };
        for entry in std::fs::read_dir(self.logs.path())? {
            let path = entry?.path();
            let debug = path.file_stem().is_some_and(|s| s == "herdctl-debug");
            if path.extension().is_some_and(|e| e == "log") && !debug {
                counts.add_file(&path)?;
            }
        }
        Ok(counts)
    }

    /// Asks every process but those of `except` to shut down (SIGTERM: a herd flushes its logs)
    /// and waits up to `limit` for each to exit.
    pub async fn terminate(&mut self, except: &[u32], limit: Duration) {
        let mut asked = Vec::new();
        for (i, proc) in self.procs.iter().enumerate() {
            if let Some(pid) = proc.child.id().filter(|pid| !except.contains(pid)) {
                let _ = signal(pid, "TERM").await;
                asked.push(i);
            }
        }
        for i in asked {
            let _ = timeout(limit, self.procs[i].child.wait()).await;
        }
    }

    /// Kills every process and waits for it.
    pub async fn stop(mut self) {
        for proc in &mut self.procs {
            let _ = proc.child.kill().await;
        }
    }
}

/// Sends `SIG{name}` to process `pid` with `kill` (this crate has no unsafe code to call
/// `kill(2)` itself).
pub async fn signal(pid: u32, name: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .status()
        .await
        .wrap_err("running kill")?;
    if !status.success() {
        bail!("kill -{name} {pid} failed ({status})");
    }
    Ok(())
}

/// A directed link, `(sender, neighbour)`, by server name.
pub type DirectedLink = (String, String);

/// Reports one directed link dropped for one reason.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkDrops {
    pub from: String,
    pub to: String,
    pub reason: String,
    pub count: u64,
}

/// What the log files say about flooding.
#[derive(Debug, Default, Clone)]
pub struct LogCounts {
    /// Reports written to a neighbour (`TO` lines).
    pub sent: u64,
    /// Reports given up on (`dropped report` notes), by the reason logged.
    pub dropped: BTreeMap<String, u64>,
    /// The same, per directed link: the sender from its log file's name, the neighbour from
    /// the note's `for NEIGHBOUR`.
    pub dropped_by_link: BTreeMap<DirectedLink, BTreeMap<String, u64>>,
    /// Drops logged at or after this time are not counted.
    cutoff: Option<SystemTime>,
}

/// The time a herdctl log line starts with (`2026-11-25T08:45:25.123456Z `, or with the
/// local zone's offset).
fn logged_at(line: &str) -> Option<SystemTime> {
    crate::wall::parse_log(line.split(' ').next()?)
}

/// `(neighbour, reason)` of a note `… dropped report of CLIENT for NEIGHBOUR: REASON`.
fn parse_drop(text: &str) -> Option<(&str, &str)> {
    let (_, rest) = text.split_once("dropped report of ")?;
    let (_, rest) = rest.split_once(" for ")?;
    let (neighbour, reason) = rest.split_once(": ")?;
    Some((neighbour.trim(), reason.trim()))
}

impl LogCounts {
    /// The drops, one entry per directed link and reason.
    pub fn link_drops(self) -> Vec<LinkDrops> {
        self.dropped_by_link
            .into_iter()
            .flat_map(|((from, to), reasons)| {
                reasons.into_iter().map(move |(reason, count)| LinkDrops {
                    from: from.clone(),
                    to: to.clone(),
                    reason,
                    count,
                })
            })
            .collect()
    }

    fn add_file(&mut self, path: &Path) -> io::Result<()> {
        let sender = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut reader = io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                return Ok(());
            }
            let head = &line[..line.len().min(48)];
            // herdctl: `TIME TO peer …`; the Python herd: `DATE TIME TO peer …`.
            if head.split(|&b| b == b' ').take(3).any(|field| field == b"TO") {
                self.sent += 1;
            } else if line.windows(14).any(|w| w == b"dropped report") {
                // `… dropped report of CLIENT for NEIGHBOUR: REASON`
                let text = String::from_utf8_lossy(&line);
                if let Some(cutoff) = self.cutoff
                    && logged_at(&text).is_some_and(|at| at >= cutoff)
                {
                    continue;
                }
                let reason = text.rsplit(": ").next().unwrap_or("").trim();
                let reason: String = reason.chars().take(40).collect();
                if let Some((neighbour, _)) = parse_drop(&text) {
                    let key = (sender.clone(), neighbour.to_owned());
                    let reasons = self.dropped_by_link.entry(key).or_default();
                    *reasons.entry(reason.clone()).or_default() += 1;
                }
                *self.dropped.entry(reason).or_default() += 1;
            }
        }
    }
}

/// `VmRSS` of process `pid`, in bytes.
pub fn rss_of(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .wrap_err_with(|| format!("reading the status of process {pid}"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| eyre!("no VmRSS for process {pid}"))?;
    Ok(kib * 1024)
}

/// Spawns `command` and reads `count` lines of `NAME HOST:PORT` from its stdout.
async fn spawn(
    mut command: Command,
    count: usize,
    logs: &Path,
    what: &str,
    limit: Duration,
) -> Result<(Proc, Vec<(String, SocketAddr)>)> {
    let stderr_path = logs.join(format!("{what}.stderr"));
    let stderr = std::fs::File::create(&stderr_path)?;
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        .kill_on_drop(true);
    let mut child = command.spawn().wrap_err_with(|| format!("starting {what}"))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().ok_or_else(|| eyre!("{what}: no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut servers = Vec::with_capacity(count);
    let read = timeout(limit, async {
        while servers.len() < count {
            let Some(line) = lines.next_line().await? else { break };
            let mut fields = line.split_whitespace();
            if let (Some(name), Some(addr)) = (fields.next(), fields.next())
                && let Ok(addr) = addr.parse::<SocketAddr>()
            {
                servers.push((name.to_owned(), addr));
            }
        }
        io::Result::Ok(())
    })
    .await;
    let proc = Proc { child, stdin, stdout: Some(lines) };
    if servers.len() < count {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let why = match read {
            Err(_) => "timed out".to_owned(),
            Ok(Err(err)) => err.to_string(),
            Ok(Ok(())) => "exited".to_owned(),
        };
        drop(proc);
        bail!("{what} did not start ({why}): {}", stderr.trim());
    }
    Ok((proc, servers))
}

/// herdctl itself: `herdctl --headless --topology SPEC --base-port 0 --log-dir TMP`.
pub async fn start_herdctl(spec: &str) -> Result<System> {
    start_herdctl_within(spec, STARTUP).await
}

/// The bench counts messages from whole logs: none may be rotated away.
const NO_ROTATION: &str = "1000GiB";

/// [`start_herdctl`], allowing `limit` for every address to be printed.
pub async fn start_herdctl_within(spec: &str, limit: Duration) -> Result<System> {
    start_herdctl_with(spec, limit, &[]).await
}

/// [`start_herdctl`] taking commands on its standard input (see [`System::control`]), with
/// this seed.
pub async fn start_herdctl_controlled(spec: &str, seed: u64) -> Result<System> {
    let seed = seed.to_string();
    start_herdctl_with(spec, STARTUP, &["--control", "stdin", "--seed", &seed]).await
}

/// [`start_herdctl`] recording every event (`--record`) to [`RECORDING`] in its log
/// directory.
pub async fn start_herdctl_recording(spec: &str) -> Result<System> {
    start_herdctl_with(spec, STARTUP, &["--record", RECORDING]).await
}

/// [`start_herdctl`] serving its admin endpoint on a port of its choosing
/// (`--admin 127.0.0.1:0`); it says where on its standard error, in the log directory's
/// `herdctl.stderr`.
pub async fn start_herdctl_admin(spec: &str) -> Result<System> {
    start_herdctl_with(spec, STARTUP, &["--admin", "127.0.0.1:0"]).await
}

/// The trace file of [`start_herdctl_recording`], relative to the system's log directory.
pub const RECORDING: &str = "run.ndjson";

async fn start_herdctl_with(spec: &str, limit: Duration, extra: &[&str]) -> Result<System> {
    let count = Topology::load(spec, 0)?.servers.len();
    let logs = TempDir::new("herdctl")?;
    let exe = std::env::current_exe().wrap_err("finding the herdctl binary")?;
    let mut command = Command::new(exe);
    command.args(["--headless", "--topology", spec, "--base-port", "0", "--log-dir"]);
    command.arg(logs.path()).args(["--log-max-size", NO_ROTATION]).args(extra);
    // Relative paths among `extra` (a recording) land in the log directory.
    command.current_dir(logs.path());
    let (proc, servers) = spawn(command, count, logs.path(), "herdctl", limit).await?;
    Ok(System { kind: Kind::Herdctl, servers, procs: vec![proc], logs })
}

/// herdctl as one process per server, the way a herd of separate machines runs:
/// `herdctl serve NAME --topology FILE --log-dir TMP` for each server of `spec`, on ports found
/// free up front and written into FILE.
pub async fn start_serve(spec: &str) -> Result<System> {
    let mut topology = Topology::load(spec, 0)?;
    let logs = TempDir::new("serve")?;
    let ports = free_ports(topology.servers.len())?;
    for (server, port) in topology.servers.iter_mut().zip(&ports) {
        server.port = *port;
    }
    let file = logs.path().join("topology.toml");
    std::fs::write(&file, topology.to_toml())?;
    let exe = std::env::current_exe().wrap_err("finding the herdctl binary")?;
    let mut procs = Vec::with_capacity(ports.len());
    let mut addrs = Vec::with_capacity(ports.len());
    for server in &topology.servers {
        let mut command = Command::new(&exe);
        command.arg("serve").arg(&server.name).arg("--topology").arg(&file);
        command.arg("--log-dir").arg(logs.path()).args(["--log-max-size", NO_ROTATION]);
        let what = format!("serve-{}", server.name);
        let (proc, mut listening) = spawn(command, 1, logs.path(), &what, STARTUP).await?;
        procs.push(proc);
        addrs.append(&mut listening);
    }
    Ok(System { kind: Kind::Herdctl, servers: addrs, procs, logs })
}

/// The bare tokio line-echo server, the loopback ceiling for request and response, listening
/// on as many ports as `spec` has servers.
pub async fn start_echo(spec: &str) -> Result<System> {
    let count = Topology::load(spec, 0)?.servers.len();
    let logs = TempDir::new("echo")?;
    let exe = std::env::current_exe().wrap_err("finding the herdctl binary")?;
    let mut command = Command::new(exe);
    command.args(["bench", "--echo-server", "--echo-ports", &count.to_string()]);
    let (proc, servers) = spawn(command, count, logs.path(), "echo", STARTUP).await?;
    Ok(System { kind: Kind::Echo, servers, procs: vec![proc], logs })
}

/// The Python herd's script, written out once per bench run.
#[derive(Debug)]
pub struct AsyncioScript {
    dir: TempDir,
    pub python: String,
}

impl AsyncioScript {
    /// Writes the script; `Err` with the reason if no usable `python3` is found.
    pub async fn install() -> Result<Self> {
        let python = "python3".to_owned();
        let version = Command::new(&python)
            .args([
                "-c",
                "import sys; assert sys.version_info >= (3, 8); print(sys.version.split()[0])",
            ])
            .stdin(Stdio::null())
            .output()
            .await
            .wrap_err("running python3")?;
        if !version.status.success() {
            bail!("python3 is older than 3.8");
        }
        let dir = TempDir::new("asyncio")?;
        std::fs::write(dir.path().join("asyncio_herd.py"), ASYNCIO_HERD)?;
        Ok(Self { dir, python })
    }

    pub async fn version(&self) -> String {
        let out = Command::new(&self.python).arg("--version").output().await;
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("asyncio_herd.py")
    }
}

/// Ports that were free a moment ago, distinct.
fn free_ports(count: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    listeners.iter().map(|l| l.local_addr().map(|a| a.port())).collect()
}

/// The Python asyncio herd over `spec`: one process per server, ports chosen up front.
pub async fn start_asyncio(script: &AsyncioScript, spec: &str) -> Result<System> {
    let topology = Topology::load(spec, 0)?;
    let logs = TempDir::new("asyncio-logs")?;
    let ports = free_ports(topology.servers.len())?;
    let servers: BTreeMap<&str, serde_json::Value> = topology
        .servers
        .iter()
        .zip(&ports)
        .map(|(server, port)| {
            let neighbours: Vec<&str> =
                server.neighbours.iter().map(|&n| topology.servers[n].name.as_str()).collect();
            (server.name.as_str(), json!({"port": port, "neighbours": neighbours}))
        })
        .collect();
    let config = logs.path().join("herd.json");
    let text = json!({"log_dir": logs.path(), "servers": servers}).to_string();
    std::fs::write(&config, text)?;
    let mut procs = Vec::with_capacity(ports.len());
    let mut addrs = Vec::with_capacity(ports.len());
    for server in &topology.servers {
        let mut command = Command::new(&script.python);
        command.arg(script.path()).arg(&server.name).arg("--config").arg(&config);
        command.arg("--exit-with-stdin");
        let what = format!("asyncio-{}", server.name);
        let (proc, mut listening) = spawn(command, 1, logs.path(), &what, STARTUP).await?;
        procs.push(proc);
        addrs.append(&mut listening);
    }
    Ok(System { kind: Kind::Asyncio, servers: addrs, procs, logs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_notes_name_the_neighbour_and_the_reason() {
        let note =
            "2026-11-25T08:45:25.123456Z -- dropped report of load-3 for Bona: neighbour stalled";
        assert_eq!(parse_drop(note), Some(("Bona", "neighbour stalled")));
        assert_eq!(parse_drop("2026-11-25T08:45:25.123456Z TO Bona AT x"), None);
        let at = logged_at(note).unwrap();
        assert_eq!(at, humantime::parse_rfc3339("2026-11-25T08:45:25.123456Z").unwrap());
    }

    #[test]
    fn drops_are_counted_per_directed_link() {
        let dir = TempDir::new("logcounts").unwrap();
        let text = "t -- dropped report of a for Bona: neighbour stalled\n\
                    t TO Campbell AT x\n\
                    t -- dropped report of b for Bona: neighbour stalled\n\
                    t -- dropped report of c for Campbell: queue full\n";
        std::fs::write(dir.path().join("Bailey.log"), text).unwrap();
        let counts =
            System { kind: Kind::Herdctl, servers: Vec::new(), procs: Vec::new(), logs: dir }
                .log_counts()
                .unwrap();
        assert_eq!(counts.sent, 1);
        let link = |to: &str| counts.dropped_by_link[&("Bailey".to_owned(), to.to_owned())].clone();
        assert_eq!(link("Bona")["neighbour stalled"], 2);
        assert_eq!(link("Campbell")["queue full"], 1);
        assert_eq!(counts.dropped["neighbour stalled"], 2);
    }
}
