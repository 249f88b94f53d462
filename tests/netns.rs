//! A herd across machines, on one machine: five network namespaces joined by a bridge, one
//! `herdctl serve` per namespace (each with its admin endpoint on its own address), and
//! `herdctl attach` in the root namespace watching the five of them. Two reports flood the
//! herd, one server is killed and restarted between them, and the attach's recording must
//! hold every hop of both floods.
//!
//! Needs root and `ip` (iproute2). Without them (or when `ip netns add`, the bridge or the
//! veths fail) the test is skipped with a note, except under CI (`CI` set, as `.ci/run` runs),
//! where it fails. Every wait polls for an observable condition with a deadline, never a
//! fixed sleep; everything the test creates (namespaces, bridge, veths, processes) is removed
//! by a guard, also when it fails.
#![cfg(target_os = "linux")]

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herdctl::config::{DEFAULT_BASE_PORT, Topology};
use herdctl::herd::{EventKind, Update};
use serde_json::Value;

const HERDCTL: &str = env!("CARGO_BIN_EXE_herdctl");

/// How long any one condition may take to come true.
const PATIENCE: Duration = Duration::from_secs(60);
/// Pause between two looks while waiting.
const POLL: Duration = Duration::from_millis(50);

/// The cs131 preset's servers, in its order (ids in traces are indices into this).
const NAMES: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
/// The server killed and restarted.
const VICTIM: &str = "Clark";
/// Where each server's admin endpoint listens, on its namespace's address.
const ADMIN_PORT: u16 = 9100;
const CLIENT: &str = "kiwi.cs.ucla.edu";
const COORDS: &str = "+34.068930-118.445127";

/// Runs `ip ARGS`; its stderr when it fails.
fn ip(args: &[&str]) -> Result<String, String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|err| format!("ip {}: {err}", args.join(" ")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "ip {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Sends SIGKILL or SIGTERM (`signal` as `kill` names it) to `pid`.
fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).output();
}

/// Waits up to `patience` for `child` to exit.
fn reap(child: &mut Child, patience: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + patience;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => return None,
        }
    }
}

fn read_or_empty(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Five namespaces on a bridge, and the herd's processes in them. Dropping it kills the
/// processes and removes every namespace, veth and the bridge it created.
struct Lab {
    /// This run's namespaces, one per server of [`NAMES`].
    namespaces: Vec<String>,
    /// The root ends of the veth pairs.
    veths: Vec<String>,
    bridge: Option<String>,
    /// `10.213.X` of the lab's /24.
    subnet: [u8; 3],
    /// The running `serve` of each server, if any.
    servers: Vec<Option<Child>>,
    /// How many times each server was started (names its stderr file).
    boots: Vec<u32>,
    dir: tempfile::TempDir,
}

impl Lab {
    /// Builds the network, or says what failed (whatever it built by then is removed).
    fn create() -> Result<Lab, String> {
        ip(&["-V"])?;
        let pid = std::process::id();
        let dir = tempfile::tempdir().map_err(|err| format!("temporary directory: {err}"))?;
        let mut lab = Lab {
            namespaces: Vec::new(),
            veths: Vec::new(),
            bridge: None,
            subnet: [10, 213, free_subnet(pid)?],
            servers: NAMES.iter().map(|_| None).collect(),
            boots: vec![0; NAMES.len()],
            dir,
        };
        // Names are per run (the pid), and interface names stay within 15 bytes.
        let bridge = format!("hdbr{pid}");
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        lab.bridge = Some(bridge.clone());
        let bridge_addr = format!("{}/24", lab.bridge_ip());
        ip(&["addr", "add", &bridge_addr, "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        for i in 0..NAMES.len() {
            let ns = format!("herdctl-{pid}-{i}");
            ip(&["netns", "add", &ns])?;
            lab.namespaces.push(ns.clone());
            let outer = format!("hd{pid}v{i}");
            let inner = format!("hd{pid}n{i}");
            ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns", &ns])?;
            lab.veths.push(outer.clone());
            ip(&["link", "set", &outer, "master", &bridge])?;
            ip(&["link", "set", &outer, "up"])?;
            let addr = format!("{}/24", lab.server_ip(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &inner])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    fn bridge_ip(&self) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, 254)
    }

    /// Server `i`'s address, in its own namespace: `.i+1`.
    fn server_ip(&self, i: usize) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, i as u8 + 1)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `herdctl serve` for server `i` in its namespace.
    fn serve(&mut self, i: usize, topology: &Path) {
        self.boots[i] += 1;
        let stderr_path = self.stderr_of(i);
        let stderr = File::create(&stderr_path).expect("create a serve's stderr file");
        let admin = SocketAddr::from((self.server_ip(i), ADMIN_PORT)).to_string();
        // `ip netns exec` execs the command in place: the child's pid is herdctl's.
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespaces[i], HERDCTL, "serve", NAMES[i]])
            .arg("--topology")
            .arg(topology)
            .args(["--log-dir", "none", "--admin", &admin, "--admin-public"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start serve {} in its namespace: {err}", NAMES[i])
            });
        self.servers[i] = Some(child);
    }

    fn stderr_of(&self, i: usize) -> PathBuf {
        self.path(&format!("{}-{}.stderr", NAMES[i], self.boots[i]))
    }

    /// What server `i` wrote to stderr in its latest run, and whether it still runs.
    fn describe(&mut self, i: usize) -> String {
        let state = match self.servers[i].as_mut().map(Child::try_wait) {
            None => "not running".to_owned(),
            Some(Ok(None)) => "running".to_owned(),
            Some(Ok(Some(status))) => format!("exited ({status})"),
            Some(Err(err)) => format!("unknown ({err})"),
        };
        format!("{} {state}, stderr: {:?}", NAMES[i], read_or_empty(&self.stderr_of(i)))
    }

    /// SIGKILLs server `i` and reaps it.
    fn kill(&mut self, i: usize) {
        let mut child = self.servers[i].take().expect("the server to kill is running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the killed server");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in self.servers.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.namespaces {
            // Anything else still running in the namespace (nothing, normally).
            if let Ok(pids) = ip(&["netns", "pids", ns]) {
                for pid in pids.split_whitespace().filter_map(|p| p.parse().ok()) {
                    signal(pid, "KILL");
                }
            }
            if let Err(err) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {err}");
            }
        }
        // Deleting a namespace deletes its veth end and so the pair; this is for the rest.
        for veth in &self.veths {
            let _ = ip(&["link", "del", veth]);
        }
        if let Some(bridge) = &self.bridge
            && let Err(err) = ip(&["link", "del", bridge])
        {
            eprintln!("cleanup: {err}");
        }
    }
}

/// An `X` for 10.213.X.0/24 that no address of the root namespace is in yet, starting from
/// one derived from the pid (so that two runs at once take two different ones).
fn free_subnet(pid: u32) -> Result<u8, String> {
    let taken = ip(&["-4", "-o", "addr", "show"])?;
    let start = (pid % 200) as u8;
    (0..200u8)
        .map(|k| (start + k) % 200 + 20)
        .find(|x| !taken.contains(&format!(" 10.213.{x}.")))
        .ok_or_else(|| "every 10.213.X.0/24 is in use".to_owned())
}

/// The lab, or `None` (with a note) when this machine cannot build it. Under CI it must.
fn lab_or_skip() -> Option<Lab> {
    match Lab::create() {
        Ok(lab) => Some(lab),
        Err(reason) => {
            if std::env::var_os("CI").is_none() {
                eprintln!(
                    "note: cannot build network namespaces ({reason}); the netns test is \
                     skipped (it needs root and iproute2's `ip`)"
                );
                return None;
            }
            panic!(
                "under CI this test needs root and iproute2's `ip` to build network namespaces \
                 joined by a bridge; it could not: {reason}"
            );
        }
    }
}

/// The cs131 preset with every server on its namespace's address. Each namespace has a port
/// space of its own, so the preset's fixed ports (and the one admin port) clash with nothing:
/// not with each other, and not with anything listening in the root namespace.
fn topology_toml(lab: &Lab) -> String {
    let preset = Topology::load("cs131", DEFAULT_BASE_PORT).expect("the cs131 preset loads");
    let names: Vec<&str> = preset.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, NAMES, "the cs131 preset's servers");
    let mut out = String::from(
        "# cs131 across five network namespaces: each server on its namespace's address, with\n\
         # the preset's port (every namespace has its own port space) and its admin endpoint.\n",
    );
    for (i, server) in preset.servers.iter().enumerate() {
        let host = lab.server_ip(i);
        let neighbours: Vec<String> =
            server.neighbours.iter().map(|&j| format!("{:?}", NAMES[j])).collect();
        let _ = write!(
            out,
            "\n[[server]]\nname = {:?}\nhost = \"{host}\"\nport = {}\nadmin = \"{host}:{ADMIN_PORT}\"\n\
             neighbours = [{}]\n",
            server.name,
            server.port,
            neighbours.join(", "),
        );
    }
    out
}

/// Polls `look` until it gives `Ok`, or panics after [`PATIENCE`] naming `what`, what `look`
/// last saw, and `context()`.
fn wait_until<T>(
    what: &str,
    context: impl FnOnce() -> String,
    mut look: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        match look() {
            Ok(found) => return found,
            Err(seen) if start.elapsed() > PATIENCE => panic!(
                "timed out after {:?} waiting for {what}; last seen: {seen}\n{}",
                start.elapsed(),
                context()
            ),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// `herdctl attach … --headless --control stdin`: one answer line per command line.
struct Attach {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
}

impl Attach {
    fn start(topology: &Path, trace: &Path, stderr: PathBuf) -> Attach {
        let stderr_file = File::create(&stderr).expect("create the attach's stderr file");
        let mut child = Command::new(HERDCTL)
            .arg("attach")
            .arg(topology)
            .args(["--headless", "--control", "stdin", "--record"])
            .arg(trace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr_file)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start herdctl attach: {err}"));
        let stdout = child.stdout.take().expect("the attach's stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Attach { child, stdin, lines, stderr }
    }

    fn stderr_text(&self) -> String {
        format!("attach stderr: {:?}", read_or_empty(&self.stderr))
    }

    /// Sends one command line and returns its answer (`ok …` or `error …`); lines that are
    /// neither (what the attach prints at start) are skipped.
    fn ask(&mut self, command: &str) -> String {
        let stdin = self.stdin.as_mut().expect("the attach's stdin is open");
        if let Err(err) = writeln!(stdin, "{command}").and_then(|()| stdin.flush()) {
            panic!("cannot send {command:?} to the attach: {err}\n{}", self.stderr_text());
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("ok") || line.starts_with("error") => return line,
                Ok(_) => {}
                Err(err) => {
                    let status = self.child.try_wait();
                    panic!(
                        "no answer to {command:?} from the attach ({err}; process: {status:?})\n{}",
                        self.stderr_text()
                    );
                }
            }
        }
    }

    /// The JSON after `ok ` of the answer to `command`; panics on `error …`.
    fn ask_json(&mut self, command: &str) -> Value {
        let answer = self.ask(command);
        let Some(json) = answer.strip_prefix("ok ") else {
            panic!("{command:?} answered {answer:?}\n{}", self.stderr_text());
        };
        serde_json::from_str(json)
            .unwrap_or_else(|err| panic!("{command:?} answered {answer:?}, not JSON: {err}"))
    }

    /// `status`: each server's entry, by name.
    fn status(&mut self) -> Vec<Value> {
        let status = self.ask_json("status");
        status["servers"].as_array().cloned().unwrap_or_default()
    }

    /// Ends the attach as an operator would (SIGTERM) and waits for it to finish its
    /// recording and exit.
    fn stop(&mut self) {
        drop(self.stdin.take());
        signal(self.child.id(), "TERM");
        let status = reap(&mut self.child, PATIENCE);
        assert!(
            status.is_some_and(|s| s.success()),
            "the attach did not exit cleanly on SIGTERM: {status:?}\n{}",
            self.stderr_text()
        );
    }
}

impl Drop for Attach {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `status` entry of `name`, as one line for failure messages.
fn entry<'a>(servers: &'a [Value], name: &str) -> Option<&'a Value> {
    servers.iter().find(|s| s["name"] == name)
}

/// Seconds since the epoch with nine fractional digits, as clients send them.
fn unix_time() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970");
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// Sends one IAMAT as the grading client does (connection, line, half-close, read to EOF).
fn iamat(addr: SocketAddr, time: &str) -> String {
    let line = format!("IAMAT {CLIENT} {COORDS} {time}\n");
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE)
        .unwrap_or_else(|err| panic!("cannot connect to {addr}: {err}"));
    stream.set_read_timeout(Some(PATIENCE)).expect("set a read timeout");
    stream.write_all(line.as_bytes()).expect("write the IAMAT");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap_or_else(|err| panic!("IAMAT to {addr}: {err}"));
    reply
}

/// Waits until `why CLIENT S` says every server holds the update of client time `time`.
fn wait_everywhere(attach: &mut Attach, time: &str) {
    let stderr = attach.stderr.clone();
    let context = || format!("attach stderr: {:?}", read_or_empty(&stderr));
    for name in NAMES {
        wait_until(&format!("{name} to store {CLIENT} at {time}"), context, || {
            let answer = attach.ask_json(&format!("why {CLIENT} {name}"));
            let why = &answer["why"];
            if why["why"] == "knows" && why["update"]["time"] == time {
                Ok(())
            } else {
                Err(answer.to_string())
            }
        });
    }
}

#[test]
fn a_herd_over_five_network_namespaces_floods_and_survives_a_restart() {
    let Some(mut lab) = lab_or_skip() else { return };
    let started = Instant::now();
    let topology = lab.path("herd.toml");
    std::fs::write(&topology, topology_toml(&lab)).expect("write the topology");
    let servers: Vec<SocketAddr> = Topology::load("cs131", DEFAULT_BASE_PORT)
        .expect("the cs131 preset loads")
        .servers
        .iter()
        .enumerate()
        .map(|(i, s)| SocketAddr::from((lab.server_ip(i), s.port)))
        .collect();

    for i in 0..NAMES.len() {
        lab.serve(i, &topology);
    }
    // Each server accepts connections from the root namespace, across the bridge.
    for (i, &addr) in servers.iter().enumerate() {
        let stderr = lab.stderr_of(i);
        let context = || format!("{} stderr: {:?}", NAMES[i], read_or_empty(&stderr));
        let what = format!("{} to accept TCP connections at {addr}", NAMES[i]);
        wait_until(&what, context, || {
            if let Some(Ok(Some(status))) = lab.servers[i].as_mut().map(Child::try_wait) {
                panic!("{} exited ({status}) before {what}; {}", NAMES[i], lab.describe(i));
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                .map(drop)
                .map_err(|err| err.to_string())
        });
    }

    let trace_path = lab.path("herd.trace");
    let mut attach = Attach::start(&topology, &trace_path, lab.path("attach.stderr"));
    let stderr = attach.stderr.clone();
    let context = || format!("attach stderr: {:?}", read_or_empty(&stderr));

    // All five known, then the first report.
    let boots: Vec<Value> = wait_until("status to know all five servers", context, || {
        let servers = attach.status();
        let known = NAMES.iter().all(|name| {
            entry(&servers, name).is_some_and(|s| s["known"] == true && s["boot"].is_string())
        });
        if known {
            Ok(NAMES
                .iter()
                .map(|n| entry(&servers, n).map(|s| s["boot"].clone()).unwrap_or_default())
                .collect())
        } else {
            Err(format!("{servers:?}"))
        }
    });
    let first = unix_time();
    let reply = iamat(servers[0], &first);
    assert!(reply.starts_with("AT Bailey "), "Bailey answered the IAMAT with {reply:?}");
    wait_everywhere(&mut attach, &first);

    // Clark dies: the attach notices, Clark comes back as a new boot, the attach sees it.
    let victim = NAMES.iter().position(|&n| n == VICTIM).expect("the victim is in the herd");
    lab.kill(victim);
    wait_until(&format!("status to show {VICTIM} not known"), context, || {
        let servers = attach.status();
        match entry(&servers, VICTIM) {
            Some(s) if s["known"] == false => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    lab.serve(victim, &topology);
    let old_boot = &boots[victim];
    wait_until(
        &format!("status to show {VICTIM} known again with a boot other than {old_boot}"),
        || format!("{}\n{}", context(), lab.describe(victim)),
        || {
            let servers = attach.status();
            match entry(&servers, VICTIM) {
                Some(s)
                    if s["known"] == true && s["boot"].is_string() && s["boot"] != *old_boot =>
                {
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            }
        },
    );

    // A newer report of the same client reaches all five, the new Clark too.
    let second = unix_time();
    assert!(second.parse::<f64>().ok() > first.parse::<f64>().ok(), "{second} is after {first}");
    let reply = iamat(servers[0], &second);
    assert!(reply.starts_with("AT Bailey "), "Bailey answered the second IAMAT with {reply:?}");
    wait_everywhere(&mut attach, &second);

    attach.stop();
    let trace = herdctl::trace::read(&trace_path)
        .unwrap_or_else(|err| panic!("cannot read the attach's trace: {err}"));
    check_trace(&trace, &[&first, &second]);
    eprintln!("netns: passed in {:?} ({} events recorded)", started.elapsed(), trace.events.len());
}

/// Every hop of every update is in the trace: stored at each server, and each store that came
/// from a neighbour preceded by that neighbour's send; no event lost.
fn check_trace(trace: &herdctl::trace::Trace, times: &[&str]) {
    assert!(trace.gaps.is_empty(), "the trace lost events: gaps {:?}", trace.gaps);
    assert!(!trace.cut, "the trace was cut at its size bound");
    let index = |name: &str| trace.header.servers.iter().position(|s| s == name);
    for time in times {
        let update = Update { client: CLIENT.into(), time: (*time).into() };
        for name in NAMES {
            let server =
                index(name).unwrap_or_else(|| panic!("{name} is not in the trace's header"));
            let stores: Vec<(usize, Option<usize>)> = trace
                .events
                .iter()
                .enumerate()
                .filter_map(|(at, event)| match &event.kind {
                    EventKind::LocationStored { server: s, update: u, from, .. }
                        if *s == server && *u == update =>
                    {
                        Some((at, *from))
                    }
                    _ => None,
                })
                .collect();
            assert!(!stores.is_empty(), "no `stored` of {update} at {name} in the trace");
            // Bailey took it from the client; everyone else from a neighbour.
            let origin = name == NAMES[0];
            assert!(
                stores.iter().all(|&(_, from)| from.is_none() == origin),
                "{name} stored {update} from {:?}",
                stores.iter().map(|&(_, from)| from).collect::<Vec<_>>()
            );
            for (at, from) in stores {
                let Some(from) = from else { continue };
                let sent = trace.events[..at].iter().any(|event| {
                    matches!(&event.kind, EventKind::FloodSent { from: f, to, update: u, .. }
                        if *f == from && *to == server && *u == update)
                });
                assert!(
                    sent,
                    "{name} stored {update} from {} (event {at}) with no `sent` of it before",
                    trace.header.servers[from]
                );
            }
        }
    }
}
