//! `herdctl bench` from outside: a quick run of small parts prints the expected rows and
//! writes JSON that parses, with every update converged and the flooding rule's message count.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let output = Command::new(env!("CARGO_BIN_EXE_herdctl"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (stdout, report)
}

fn target<'a>(report: &'a Value, starts: &str) -> &'a Value {
    let targets = report["targets"].as_array().unwrap();
    targets.iter().find(|t| t["goal"].as_str().unwrap().starts_with(starts)).unwrap()
}

#[test]
fn convergence_and_frame_time_on_every_topology() {
    let (stdout, report) = bench(&["--quick", "--no-python", "--only", "convergence,frame"]);
    for expected in [
        "[flood convergence]",
        "cs131 (5 servers, 6 links) p50",
        "ring:50 ",
        "grid:10x10 ",
        "ring:500 (500 servers, 500 links) messages/update",
        "[dashboard frame]",
        "200×60, 30 servers, 1000 clients p99",
        "targets",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in\n{stdout}");
    }
    let convergence = report["convergence"].as_array().unwrap();
    let topologies: Vec<&str> =
        convergence.iter().map(|c| c["topology"].as_str().unwrap()).collect();
    assert_eq!(topologies, ["cs131", "ring:50", "grid:10x10", "ring:500"]);
    for c in convergence {
        assert_eq!(c["converged"], c["updates"], "{c}");
        assert_eq!(c["messages_per_update"].as_f64(), c["expected_messages"].as_f64(), "{c}");
        assert!(c["p50_us"].as_f64().unwrap() > 0.0, "{c}");
    }
    assert!(report["frame"]["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(report["rows"].as_array().unwrap().iter().all(|r| r["herdctl"].is_number()));
    assert_eq!(target(&report, "ring:500 converges")["status"], "met");
    assert_eq!(target(&report, "sustained IAMAT")["status"], "not_measured");
    assert!(report["iamat"].as_array().unwrap().is_empty());
}

#[test]
fn whatsat_against_the_echo_ceiling_in_separate_processes() {
    let (stdout, report) =
        bench(&["--quick", "--no-python", "--only", "whatsat", "--duration", "50ms"]);
    assert!(stdout.contains("[WHATSAT]"), "{stdout}");
    let runs = report["whatsat"].as_array().unwrap();
    let framings: Vec<&str> = runs.iter().map(|r| r["framing"].as_str().unwrap()).collect();
    assert_eq!(framings, ["per-command", "persistent", "pipelined"]);
    for run in runs {
        let systems: Vec<&str> = run["systems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["system"].as_str().unwrap())
            .collect();
        assert_eq!(systems, ["herdctl", "echo"], "{run}");
        for m in run["systems"].as_array().unwrap() {
            assert!(m["replies"].as_u64().unwrap() > 0, "{m}");
            assert_eq!(m["errors"], 0, "{m}");
        }
    }
    let row =
        report["rows"].as_array().unwrap().iter().find(|r| r["name"] == "persistent c=16").unwrap();
    assert!(row["vs_echo"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["asyncio"].is_null());
}

#[test]
fn idle_connections_against_the_echo_server() {
    let (stdout, report) = bench(&["--quick", "--only", "connections"]);
    for expected in ["[idle connections]", "RSS per idle connection (2000 to one server)"] {
        assert!(stdout.contains(expected), "no {expected:?} in\n{stdout}");
    }
    let systems: Vec<&str> = report["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["herdctl", "echo"]);
    for c in report["connections"].as_array().unwrap() {
        assert_eq!(c["idle"], 2000, "{c}");
        assert!(c["rss_loaded"].as_u64().unwrap() > c["rss_start"].as_u64().unwrap(), "{c}");
    }
    assert_ne!(target(&report, "≤ 4 KiB resident per idle connection")["status"], "not_measured");
}

/// Two 8 s runs of five `herdctl serve` processes under load: slow in a debug build.
#[test]
#[ignore = "about 30 s; run with --ignored"]
fn a_stopped_neighbour_costs_only_its_own_links() {
    let (stdout, report) = bench(&["--quick", "--only", "stall"]);
    assert!(stdout.contains("[frozen neighbour]"), "{stdout}");
    assert!(stdout.contains("÷baseline"), "{stdout}");
    let stalled = &report["stall"]["stalled"];
    assert!(stalled["probes"].as_u64().unwrap() > 0, "{stalled}");
    let dropped = stalled["dropped"].as_array().unwrap();
    assert!(
        dropped.iter().all(|d| d["to"] == "Bona" && d["reason"] == "neighbour stalled"),
        "{stalled}"
    );
    assert_eq!(report["stall"]["healthy"]["dropped"].as_array().unwrap().len(), 0);
}
