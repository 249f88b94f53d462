//! The `herdctl` binary from outside: headless runs, one server per process, topology
//! printing, and clear exit-2 errors for bad configuration.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{PATIENCE, grading_at};
use herdctl::config::Topology;

fn herdctl() -> Command {
    Command::new(env!("CARGO_BIN_EXE_herdctl"))
}

/// A running herdctl process whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(args: &[&str], dir: &Path) -> Self {
        let mut child = herdctl()
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The `NAME HOST:PORT` lines printed once the servers listen.
    fn listening(&self, count: usize) -> Vec<(String, SocketAddr)> {
        (0..count)
            .map(|_| {
                let line = self.lines.recv_timeout(PATIENCE).expect("no listening line");
                let (name, addr) = line.split_once(' ').expect("NAME HOST:PORT");
                (name.to_owned(), addr.parse().expect("a socket address"))
            })
            .collect()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status();
        assert!(status.unwrap().success());
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "herdctl did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Free ports, found by binding port 0 and letting go (for multi-process herds, which need
/// each other's ports up front).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

fn write_topology(dir: &Path, topology: &Topology) -> String {
    let path = dir.join("herd.toml");
    std::fs::File::create(&path).unwrap().write_all(topology.to_toml().as_bytes()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn topology_print_gives_a_loadable_file() {
    for preset in ["cs131", "cs131-2019", "ring:6", "grid:3x4"] {
        let out = herdctl().args(["topology", "--print", preset]).output().unwrap();
        assert!(out.status.success(), "{preset}");
        let text = String::from_utf8(out.stdout).unwrap();
        let printed = Topology::from_toml(&text, "printed").unwrap();
        assert_eq!(printed, Topology::load(preset, 12401).unwrap(), "{preset}");
    }
}

#[test]
fn topology_prints_without_being_asked_to() {
    let cases: [(&[&str], &str, u16); 4] = [
        (&["topology"], "cs131", 12401),
        (&["topology", "cs131-2019"], "cs131-2019", 12401),
        (&["topology", "-t", "ring:4", "--base-port", "20000"], "ring:4", 20000),
        (&["topology", "--print"], "cs131", 12401),
    ];
    for (args, preset, base_port) in cases {
        let out = herdctl().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let printed = Topology::from_toml(&text, "printed").unwrap();
        assert_eq!(printed, Topology::load(preset, base_port).unwrap(), "{args:?}");
    }
}

#[test]
fn a_bad_duration_says_what_a_duration_looks_like() {
    let cases: [&[&str]; 6] = [
        &["--link-delay", "banana"],
        &["--headless", "--link-stall", "banana"],
        &["serve", "Bona", "--places-timeout", "banana"],
        &["scenario", "x.herd", "--max-future", "banana"],
        &["tour", "--hop-time", "banana"],
        &["replay", "x.ndjson", "--hop-time", "banana"],
    ];
    for args in cases {
        let out = herdctl().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let flag = args[args.len() - 2];
        let wanted = format!("invalid value 'banana' for '{flag} <");
        assert!(stderr.contains(&wanted), "{args:?}: {stderr}");
        assert!(
            stderr.contains("': expected a duration such as 300ms, 1.5s or 2m"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("expected number at"), "{args:?}: {stderr}");
    }
}

/// The long flags `herdctl ARGS --help` lists.
fn flags_in_help(args: &[&str]) -> Vec<String> {
    let out = herdctl().args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?}");
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.trim_start_matches("-t, ").trim_start_matches("-o, ");
            let line = line.trim_start_matches("-h, ").trim_start_matches("-V, ");
            let flag = line.strip_prefix("--")?;
            Some(flag.split([' ', '=']).next().unwrap_or(flag).to_owned())
        })
        .collect()
}

#[test]
fn each_subcommand_lists_only_the_flags_it_takes() {
    let herd = [
        "topology",
        "base-port",
        "log-dir",
        "log-max-size",
        "places",
        "places-url",
        "places-key",
        "places-key-file",
        "link-delay",
        "link-stall",
        "max-connections",
        "max-future",
        "seed",
        "policy",
        "record",
        "record-max-size",
        "places-timeout",
        "admin",
        "admin-public",
        "admin-control",
        "admin-token-file",
    ];
    let with = |more: &[&str]| -> Vec<String> {
        let mut flags: Vec<String> = more.iter().chain(&herd).map(|f| (*f).to_owned()).collect();
        flags.push("help".into());
        flags.sort();
        flags
    };
    let only = |flags: &[&str]| -> Vec<String> {
        let mut flags: Vec<String> = flags.iter().map(|f| (*f).to_owned()).collect();
        flags.push("help".into());
        flags.sort();
        flags
    };
    let cases: Vec<(&[&str], Vec<String>)> = vec![
        (&["topology"], only(&["topology", "base-port"])),
        (&["serve"], with(&[])),
        (&["scenario"], with(&["json", "attach", "admin-base-port", "token-file"])),
        (
            &["attach"],
            only(&[
                "base-port",
                "admin-base-port",
                "token-file",
                "headless",
                "control",
                "record",
                "record-max-size",
                "scenario",
                "step",
                "hop-time",
                "theme",
            ]),
        ),
        (&["tour"], with(&["step", "hop-time", "theme"])),
        (&["replay"], only(&["play", "speed", "hop-time", "theme"])),
        (&["export", "dot"], only(&["output", "topology", "base-port"])),
        (&["export", "svg"], only(&["output"])),
        (&["export", "chrome-trace"], only(&["output"])),
    ];
    for (args, wanted) in cases {
        let mut listed = flags_in_help(args);
        listed.sort();
        assert_eq!(listed, wanted, "herdctl {} --help", args.join(" "));
    }
    let top = flags_in_help(&[]);
    for flag in ["headless", "scenario", "step", "hop-time", "theme", "seed", "topology", "version"]
    {
        assert!(top.iter().any(|f| f == flag), "herdctl --help lacks --{flag}: {top:?}");
    }
    let bench = flags_in_help(&["bench"]);
    for flag in ["seed", "topology", "log-dir", "step", "hop-time", "theme"] {
        assert!(!bench.iter().any(|f| f == flag), "herdctl bench --help lists --{flag}");
    }
}

#[test]
fn bad_topology_is_a_clear_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[[server]]\nname = \"A\"\nport = 1\nneighbours = [\"Ghost\"]\n")
        .unwrap();
    let out = herdctl().args(["--headless", "--topology"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml") && stderr.contains("Ghost"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = herdctl().args(["--headless", "--topology", "ring:x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn server_names_that_are_not_plain_words_are_a_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let absolute = dir.path().join("abs").display().to_string();
    let long = "n".repeat(300);
    for name in ["a/b", "../../x", absolute.as_str(), "/abs", long.as_str(), ".hidden", "all"] {
        let path = dir.path().join("herd.toml");
        let text = format!(
            "[[server]]\nname = \"A\"\nport = 0\n\n[[server]]\nname = \"{name}\"\nport = 0\n\
             neighbours = [\"A\"]\n"
        );
        std::fs::write(&path, text).unwrap();
        let out = herdctl()
            .args(["--headless", "--log-dir", "logs", "--topology"])
            .arg(&path)
            .current_dir(&run)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        let location = format!("{}:6:8: bad server name {name:?}", path.display());
        assert!(stderr.starts_with(&format!("herdctl: error: {location}")), "{name}: {stderr}");
        assert!(!stderr.contains('\x1b'), "{name}: coloured: {stderr}");
        assert_eq!(files_under(dir.path()), ["herd.toml"], "{name}");
    }
}

#[test]
fn unusable_log_dir_is_a_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "not a directory").unwrap();
    let out = herdctl()
        .args(["--headless", "--topology", "ring:3", "--base-port", "0", "--log-dir", "file/logs"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("herdctl: error: cannot create log directory file/logs"),
        "{stderr}"
    );
}

#[test]
fn places_key_file_problems_are_a_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let google = ["--headless", "-t", "ring:3", "--base-port", "0", "--places", "google"];
    for (extra, wanted) in [
        (&["--places-key-file", "missing"][..], "cannot read --places-key-file missing"),
        (&["--places-key-file", "empty"][..], "--places-key-file empty holds no key"),
    ] {
        let out = herdctl()
            .args(google)
            .args(extra)
            .env("GOOGLE_PLACES_API_KEY", "ignored")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{extra:?}: {stderr}");
        assert!(stderr.starts_with(&format!("herdctl: error: {wanted}")), "{stderr}");
    }
    let both = ["--places-key", "k", "--places-key-file", "empty"];
    let out = herdctl().args(google).args(both).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn port_in_use_names_the_server_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut topology = Topology::load("line:2", 0).unwrap();
    topology.servers[1].port = port;
    let path = write_topology(dir.path(), &topology);
    let out = herdctl()
        .args(["--headless", "--topology", &path])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let wanted = format!("herdctl: error: S2 cannot listen on 127.0.0.1:{port}: address in use;");
    assert!(stderr.starts_with(&wanted), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // A preset on a taken port: named, with the way out.
    let out = herdctl()
        .args(["--headless", "--log-dir", "none", "-t", "line:2", "--base-port"])
        .arg(port.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let wanted = format!(
        "herdctl: error: S1 cannot listen on 127.0.0.1:{port}: address in use; another herd may \
         be running (try --base-port 0 for free ports, or --base-port N"
    );
    assert!(stderr.starts_with(&wanted), "{stderr}");
    drop(taken);
}

#[tokio::test(flavor = "multi_thread")]
async fn headless_serves_logs_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let topology = Topology::load("cs131", 0).unwrap();
    let path = write_topology(dir.path(), &topology);
    let mut herd =
        Running::spawn(&["--headless", "--topology", &path, "--log-dir", "herd-logs"], dir.path());
    let servers = herd.listening(5);
    let names: Vec<&str> = servers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"]);
    let addr = |name: &str| servers.iter().find(|(n, _)| n == name).unwrap().1;

    let reply =
        grading_at(addr("Bailey"), b"IAMAT kiwi +34.068930-118.445127 1621464827.959498503").await;
    assert!(reply.starts_with("AT Bailey +"), "{reply}");
    let whatsat = grading_at(addr("Jaquez"), b"WHATSAT kiwi 10 2").await;
    assert!(whatsat.starts_with("AT Bailey +") && whatsat.ends_with("}\n\n"), "{whatsat}");

    herd.signal("-TERM");
    assert!(herd.wait().success());
    let bailey = std::fs::read_to_string(dir.path().join("herd-logs/Bailey.log")).unwrap();
    assert!(bailey.contains("IN ") && bailey.contains("IAMAT kiwi"), "{bailey}");
    assert!(bailey.contains("OUT ") && bailey.contains("AT Bailey"), "{bailey}");
    assert!(bailey.contains("link to Bona up"), "{bailey}");
    let jaquez = std::fs::read_to_string(dir.path().join("herd-logs/Jaquez.log")).unwrap();
    assert!(jaquez.contains("WHATSAT kiwi 10 2"), "{jaquez}");
}

/// Five `herdctl serve NAME` processes, like five `python3 server.py NAME`: a killed process
/// is routed around, and once restarted it learns new updates.
#[tokio::test(flavor = "multi_thread")]
async fn one_server_per_process_survives_a_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut topology = Topology::load("cs131", 0).unwrap();
    for (server, port) in topology.servers.iter_mut().zip(free_ports(5)) {
        server.port = port;
    }
    let path = write_topology(dir.path(), &topology);
    let serve = |name: &str| Running::spawn(&["serve", name, "--topology", &path], dir.path());
    let mut procs: Vec<(String, Running)> =
        topology.servers.iter().map(|s| (s.name.clone(), serve(&s.name))).collect();
    let mut addrs = Vec::new();
    for (name, running) in &procs {
        let listening = running.listening(1);
        assert_eq!(&listening[0].0, name);
        addrs.push((name.clone(), listening[0].1));
    }
    let addr = |name: &str| addrs.iter().find(|(n, _)| n == name).unwrap().1;
    let knows = |name: &'static str, client: &'static str| async move {
        let reply = grading_at(addr(name), format!("WHATSAT {client} 1 1").as_bytes()).await;
        !reply.starts_with("? ")
    };
    let eventually = |name: &'static str, client: &'static str| async move {
        let deadline = Instant::now() + PATIENCE;
        while !knows(name, client).await {
            assert!(Instant::now() < deadline, "{name} never learned {client}");
            tokio::task::yield_now().await;
        }
    };

    let t = common::now_text();
    grading_at(addr("Bailey"), format!("IAMAT one +1+1 {t}").as_bytes()).await;
    eventually("Jaquez", "one").await;

    // Kill Campbell: Bailey's update still reaches Jaquez through Bona and Clark.
    let campbell = procs.iter().position(|(n, _)| n == "Campbell").unwrap();
    procs[campbell].1.signal("-KILL");
    procs[campbell].1.wait();
    let t = common::now_text();
    let reply = grading_at(addr("Bailey"), format!("IAMAT two +2+2 {t}").as_bytes()).await;
    assert!(reply.starts_with("AT Bailey"), "{reply}");
    eventually("Jaquez", "two").await;
    // Every neighbour of Campbell is done with its copy of "two" (given up on, or written
    // to the dead connection): none is still on its way, to reach the restarted Campbell.
    let deadline = Instant::now() + PATIENCE;
    for name in ["Bailey", "Bona", "Jaquez"] {
        let log = dir.path().join("logs").join(format!("{name}.log"));
        while !std::fs::read_to_string(&log).is_ok_and(|text| {
            text.lines().any(|l| {
                l.contains("dropped report of two for Campbell")
                    || (l.contains(" TO Campbell ") && l.contains(" two "))
            })
        }) {
            assert!(Instant::now() < deadline, "{name} never gave up on two for Campbell");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Restart it: it starts empty, and new updates reach it.
    procs[campbell].1 = serve("Campbell");
    procs[campbell].1.listening(1);
    assert!(!knows("Campbell", "two").await, "a restarted server must start empty");
    let t = common::now_text();
    grading_at(addr("Clark"), format!("IAMAT three +3+3 {t}").as_bytes()).await;
    eventually("Campbell", "three").await;
}

/// `count` IAMAT lines for clients `{prefix}000`…, sent on one grading connection; returns
/// once every one is answered (so each is already in the server's log).
async fn iamats(addr: SocketAddr, prefix: &str, count: usize) {
    let t = common::now_text();
    let lines: Vec<String> =
        (0..count).map(|n| format!("IAMAT {prefix}{n:03} +34.068930-118.445127 {t}\n")).collect();
    let lines = lines.concat();
    let reply = grading_at(addr, lines.as_bytes()).await;
    assert_eq!(reply.lines().filter(|l| l.starts_with("AT ")).count(), count, "{reply}");
}

/// The clients of the IAMAT lines a server logged as received.
fn logged_iamats(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once(" IAMAT "))
        .filter(|(head, _)| head.contains(" IN "))
        .map(|(_, rest)| rest.split(' ').next().unwrap().to_owned())
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reopens_the_logs_and_loses_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--headless", "-t", "line:2", "--base-port", "0", "--log-dir", "logs"];
    let mut herd = Running::spawn(&args, dir.path());
    let addr = herd.listening(2)[0].1;
    let log = dir.path().join("logs/S1.log");
    let old = dir.path().join("logs/S1.log.old");

    iamats(addr, "a", 300).await;
    herd.signal("-HUP");
    wait_until("300 IN lines in the log", || logged_iamats(&log).len() == 300);
    iamats(addr, "x", 1).await;
    assert!(herd.child.try_wait().unwrap().is_none(), "SIGHUP stopped the herd");

    // logrotate: move the file, more lines, SIGHUP, then lines for the fresh file.
    std::fs::rename(&log, &old).unwrap();
    iamats(addr, "b", 300).await;
    herd.signal("-HUP");
    wait_until("a fresh log file", || log.exists());
    iamats(addr, "c", 300).await;
    herd.signal("-TERM");
    assert!(herd.wait().success());

    let (before, after) = (logged_iamats(&old), logged_iamats(&log));
    let named = |prefix: &str| {
        (0..300).map(move |n| format!("{prefix}{n:03}")).collect::<std::collections::BTreeSet<_>>()
    };
    let before_set: std::collections::BTreeSet<_> = before.iter().cloned().collect();
    let after_set: std::collections::BTreeSet<_> = after.iter().cloned().collect();
    assert!(named("a").is_subset(&before_set), "the moved file lacks lines from before the move");
    assert!(named("c").is_subset(&after_set), "the fresh file lacks lines from after SIGHUP");
    let mut all: Vec<String> = before.into_iter().chain(after).collect();
    all.sort();
    let mut expected: Vec<String> = ["a", "b", "c"].iter().flat_map(|p| named(p)).collect();
    expected.push("x000".into());
    expected.sort();
    assert_eq!(all, expected, "every IN line exactly once across the two files");
    let old_text = std::fs::read_to_string(&old).unwrap();
    let new_text = std::fs::read_to_string(&log).unwrap();
    assert!(old_text.lines().next().unwrap().contains(" -- herdctl 0.1.0 started "), "{old_text}");
    assert!(new_text.ends_with(" -- herdctl 0.1.0 stopped\n"), "{new_text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn log_dir_none_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--headless", "-t", "line:2", "--base-port", "0", "--log-dir", "none"];
    let mut herd = Running::spawn(&args, dir.path());
    let addr = herd.listening(2)[0].1;
    iamats(addr, "a", 3).await;
    herd.signal("-INT");
    assert!(herd.wait().success());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn control_stdin_answers_each_command_with_one_line_and_outlives_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = herdctl()
        .args(["--headless", "--control", "stdin", "-t", "cs131", "--base-port", "0"])
        .args(["--seed", "7", "--log-dir", "none"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || lines.recv_timeout(PATIENCE).expect("an answer line");
    let servers: Vec<String> = (0..5).map(|_| next()).collect();
    assert!(servers[0].starts_with("Bailey 127.0.0.1:"), "{servers:?}");
    assert_eq!(next(), "seed 7");
    let mut ask = |command: &str| {
        writeln!(stdin, "{command}").unwrap();
        next()
    };
    assert_eq!(ask("cut Bona->Clark"), "ok cut Bona->Clark");
    assert_eq!(ask("cut Bona->Clark"), "ok Bona->Clark is already cut");
    let refused = ask("loss Bona->Clark 120%");
    assert!(refused.starts_with("error bad rate \"120%\": expected 0% to 100%"), "{refused}");
    let at = ask("iamat Bona kiwi +34.068930-118.445127 1621464827.5");
    assert!(
        at.starts_with("ok AT Bona ") && at.ends_with(" kiwi +34.068930-118.445127 1621464827.5")
    );
    let faults = ask("faults");
    let json: serde_json::Value =
        serde_json::from_str(faults.strip_prefix("ok ").unwrap()).unwrap();
    assert_eq!(json["faults"][0]["label"], "cut Bona->Clark", "{faults}");
    let places = ask("whatsat Bona kiwi 10 2");
    let json: serde_json::Value =
        serde_json::from_str(places.strip_prefix("ok ").unwrap()).unwrap();
    assert!(json["at"].as_str().unwrap().starts_with("AT Bona "), "{places}");
    assert!(json["places"]["results"].as_array().unwrap().len() <= 2, "{places}");
    let why = ask("why kiwi Clark");
    let json: serde_json::Value = serde_json::from_str(why.strip_prefix("ok ").unwrap()).unwrap();
    assert!(json["text"].as_str().unwrap().contains("Clark"), "{why}");
    let filter = ask("filter Bona");
    assert!(filter.starts_with("error ") && filter.contains("dashboard"), "{filter}");
    assert_eq!(ask("policy storm"), "ok policy storm ttl=4 (off-spec)");
    assert_eq!(ask("nonsense"), "error unknown command \"nonsense\": try help");
    // The end of the input leaves the herd serving.
    drop(stdin);
    let bailey: SocketAddr = servers[0].split_once(' ').unwrap().1.parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let reply = runtime.block_on(grading_at(bailey, b"IAMAT after +1+1 1621464827.5"));
    assert!(reply.starts_with("AT Bailey "), "{reply}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn scenario_exit_codes_say_passed_failed_invalid_or_no_herd() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let run = |file: &str, base_port: &str| {
        herdctl()
            .args(["scenario", file, "--base-port", base_port, "--log-dir", "none"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let passes = write(
        "pass.herd",
        "topology line:2\niamat S1 kiwi +1+2\nwait until S2 knows kiwi within 5s\n",
    );
    let out = run(&passes, "0");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let json = dir.path().join("report.json");
    let out = herdctl()
        .args(["scenario", &passes, "--base-port", "0", "--log-dir", "none", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["failed"], 0);
    assert_eq!(report["metrics"]["updates"], 1, "{report}");
    let fails = write(
        "fail.herd",
        "topology line:2\niamat S1 kiwi +1+2\nwait until S2 knows kiwi within 5s\nexpect not S2 knows kiwi\n",
    );
    let out = run(&fails, "0");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("✗"), "the failing step is shown");
    let bad = write("bad.herd", "topology line:2\nafter 5xs iamat S1 kiwi +1+2\n");
    let out = run(&bad, "0");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.herd:2:7: expected a duration"), "{stderr}");
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = run(&passes, &port);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn metrics_json_is_written_on_sigusr1_and_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.json");
    let args = ["--headless", "-t", "cs131", "--base-port", "0", "--log-dir", "none"];
    let mut herd = Running::spawn(
        &[&args[..], &["--metrics-json", path.to_str().unwrap()]].concat(),
        dir.path(),
    );
    let servers = herd.listening(5);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bailey = servers[0].1;
    let jaquez = servers[4].1;
    runtime.block_on(grading_at(bailey, b"IAMAT kiwi +1+1 1621464827.5"));
    // The flood has reached the far end once Jaquez answers for kiwi.
    let deadline = Instant::now() + PATIENCE;
    while runtime.block_on(grading_at(jaquez, b"WHATSAT kiwi 1 1")).starts_with("? ") {
        assert!(Instant::now() < deadline, "kiwi never reached Jaquez");
    }
    let read = || {
        let text = std::fs::read_to_string(&path).ok()?;
        serde_json::from_str::<serde_json::Value>(&text).ok()
    };
    herd.signal("-USR1");
    let deadline = Instant::now() + PATIENCE;
    let written = loop {
        if let Some(json) = read().filter(|j| j["updates"][0]["coverage"][0] == 5) {
            break json;
        }
        assert!(Instant::now() < deadline, "no metrics file after SIGUSR1");
        std::thread::sleep(Duration::from_millis(20));
        herd.signal("-USR1");
    };
    assert_eq!(written["updates"][0]["update"]["client"], "kiwi");
    assert_eq!(written["summary"]["updates"], 1);
    std::fs::remove_file(&path).unwrap();
    herd.signal("-TERM");
    assert!(herd.wait().success());
    assert_eq!(read().unwrap()["summary"]["updates"], 1, "written again at exit");
}

#[test]
fn a_scenario_recorded_twice_with_one_seed_has_the_same_fates_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("lossy.herd");
    let mut lines = String::new();
    for i in 0..20 {
        let _ = writeln!(lines, "iamat Bailey c{i} +1+2 1621464827.5");
        let _ = writeln!(lines, "wait until Bona knows c{i} within 5s");
    }
    std::fs::write(
        &scenario,
        format!("topology cs131\nseed 5\nloss Bailey->Campbell 50%\n{lines}"),
    )
    .unwrap();
    let record = |name: &str| {
        let trace = dir.path().join(name);
        let out = herdctl()
            .args(["scenario", scenario.to_str().unwrap(), "--base-port", "0", "--log-dir", "none"])
            .arg("--record")
            .arg(&trace)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
        let text = std::fs::read_to_string(&trace).unwrap();
        let lost: Vec<String> = text
            .lines()
            .filter(|l| l.contains(r#""kind":"dropped""#) && l.contains(r#""from":0,"to":2"#))
            .map(|l| {
                let event: serde_json::Value = serde_json::from_str(l).unwrap();
                event["update"]["client"].as_str().unwrap().to_owned()
            })
            .collect();
        (trace, lost)
    };
    let (trace, first) = record("one.ndjson");
    let (_, second) = record("two.ndjson");
    assert!(!first.is_empty() && first.len() < 20, "lost {first:?}");
    assert_eq!(first, second, "the same seed, the same fates");
    for (what, check) in [("svg", "<svg"), ("chrome-trace", "traceEvents"), ("dot", "digraph")] {
        let out = herdctl().args(["export", what]).arg(&trace).output().unwrap();
        assert!(out.status.success(), "{what}");
        assert!(String::from_utf8_lossy(&out.stdout).contains(check), "{what}");
    }
}

/// The dashboard's faces that read a file say what is wrong with it, with its place, and exit
/// 2 before any terminal or herd is opened.
#[test]
fn a_bad_scenario_or_trace_for_the_dashboard_is_named_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.herd");
    std::fs::write(&bad, "topology line:2\nkill S9\n").unwrap();
    let out = herdctl().arg("--scenario").arg(&bad).args(["--log-dir", "none"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.herd:2:1: no server \"S9\""), "{stderr}");

    let trace = dir.path().join("t.ndjson");
    std::fs::write(&trace, "{\"format\":1}\n").unwrap();
    let out = herdctl().arg("replay").arg(&trace).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("t.ndjson:1: "), "{stderr}");
    let out = herdctl().args(["replay", "no-such.ndjson"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = herdctl().args(["replay", "x.ndjson", "--speed", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a speed from 1/64"));
}
