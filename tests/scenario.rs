//! Scenario files end to end: every shipped lesson runs and passes on a real herd, a failing
//! expectation ends in exit code 1 naming its step, and a malformed file in exit code 2 with
//! its place.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use herdctl::command::Context;
use herdctl::config::Topology;
use herdctl::herd::{Herd, HerdConfig, HerdHandle};
use herdctl::places::Places;
use herdctl::scenario::{self, Ending, Report, Status};

/// Parses `text` against its own topology header, runs it on a fresh herd (every port 0),
/// and returns the report and what was printed.
async fn play(text: &str, file: &str) -> (Report, String) {
    let (topology, seed) = scenario::header(text);
    let topology = Topology::load(topology.as_deref().unwrap_or("cs131"), 0).unwrap();
    let context = Context::new(&topology);
    let parsed = scenario::parse(text, file, &context).unwrap_or_else(|e| panic!("{e}"));
    let mut config = HerdConfig::new(topology);
    config.places = Places::Offline;
    config.seed = seed.unwrap_or(0);
    let herd: HerdHandle = Herd::start(config).await.unwrap();
    let mut out = Vec::new();
    let report = scenario::run(&parsed, &herd, &mut out).await;
    herd.shutdown().await;
    (report, String::from_utf8(out).unwrap())
}

async fn lesson(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let (report, printed) = play(&text, name).await;
    assert_eq!(scenario::exit_code(Ending::Ran(&report)), 0, "{name}:\n{printed}");
    assert!(report.passed > 0, "{name} checks nothing:\n{printed}");
    let skipped = report.steps.iter().filter(|s| s.status == Status::Failed).count();
    assert_eq!(skipped, 0);
}

#[tokio::test]
async fn first_flood() {
    lesson("first-flood.herd").await;
}

#[tokio::test]
async fn cut_vertex() {
    lesson("cut-vertex.herd").await;
}

#[tokio::test]
async fn partition_heal() {
    lesson("partition-heal.herd").await;
}

#[tokio::test]
async fn storm() {
    lesson("storm.herd").await;
}

#[tokio::test]
async fn lossy_link() {
    lesson("lossy-link.herd").await;
}

#[tokio::test]
async fn kill_restart() {
    lesson("kill-restart.herd").await;
}

#[test]
fn every_shipped_scenario_has_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cut-vertex.herd",
            "first-flood.herd",
            "kill-restart.herd",
            "lossy-link.herd",
            "partition-heal.herd",
            "storm.herd"
        ]
    );
}

#[tokio::test]
async fn a_failed_expectation_exits_1_and_names_its_step() {
    let text = "topology cs131\n\
                iamat Bailey kiwi +1+2\n\
                wait until Jaquez knows kiwi within 3s\n\
                expect msgs_per_update < 3\n\
                expect Clark knows kiwi\n";
    let (report, printed) = play(text, "fails.herd").await;
    assert_eq!(scenario::exit_code(Ending::Ran(&report)), 1, "{printed}");
    assert_eq!((report.passed, report.failed), (2, 1), "{printed}");
    let failure = report.first_failure().unwrap();
    assert_eq!(failure.line, 4);
    assert_eq!(failure.text, "expect msgs_per_update < 3");
    assert!(printed.contains("✗"), "{printed}");
    assert!(printed.contains("✓"), "{printed}");
    // The report serializes for machines.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["failed"], 1);
    assert_eq!(json["steps"][2]["status"], "failed");
}

#[tokio::test]
async fn a_wait_that_times_out_ends_the_run() {
    let text = "topology line:2\n\
                wait until S1 knows nobody within 50ms\n\
                iamat S1 kiwi +1+2\n";
    let (report, printed) = play(text, "wait.herd").await;
    assert_eq!(scenario::exit_code(Ending::Ran(&report)), 1, "{printed}");
    assert_eq!(report.steps.len(), 1, "{printed}");
    assert_eq!(report.steps[0].line, 2);
}

#[tokio::test]
async fn a_refused_command_fails_its_step() {
    let text = "topology line:2\nkill S2\nkill S2\n";
    let (report, printed) = play(text, "twice.herd").await;
    assert_eq!(report.failed, 1, "{printed}");
    assert_eq!(report.first_failure().unwrap().line, 3);
}

#[tokio::test]
async fn a_series_numbers_its_commands_and_lasts_its_span() {
    let text = "topology line:2\n\
                every 50ms for 200ms iamat S1 k{n} +1+2\n\
                expect S1 knows k4\n\
                expect not S1 knows k5\n";
    let started = std::time::Instant::now();
    let (report, printed) = play(text, "series.herd").await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    assert_eq!(scenario::exit_code(Ending::Ran(&report)), 0, "{printed}");
    let sent: Vec<&str> = report.steps.iter().take(4).map(|s| s.text.as_str()).collect();
    assert_eq!(
        sent,
        ["iamat S1 k1 +1+2", "iamat S1 k2 +1+2", "iamat S1 k3 +1+2", "iamat S1 k4 +1+2"]
    );
}

#[test]
fn a_malformed_file_exits_2_with_its_place() {
    let text =
        "topology cs131\n# a comment\niamat Bailey kiwi +1+2\nafter 50xs expect drops == 0\n";
    let context = Context::new(&Topology::load("cs131", 0).unwrap());
    let err = scenario::parse(text, "bad.herd", &context).unwrap_err();
    assert_eq!(err.to_string(), "bad.herd:4:7: expected a duration such as 50ms, got \"50xs\"");
    assert_eq!(scenario::exit_code(Ending::Invalid(&err)), 2);
    assert_eq!(scenario::exit_code(Ending::NoHerd), 3);
}

#[tokio::test]
async fn a_run_prints_each_step_with_its_measure() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/first-flood.herd");
    let (_, printed) = play(&std::fs::read_to_string(path).unwrap(), "first-flood.herd").await;
    println!("{printed}");
    assert!(printed.contains("» Bailey learns where kiwi is"), "{printed}");
    assert!(printed.contains("expect msgs_per_update == 8 (8.0)"), "{printed}");
    assert!(printed.lines().any(|l| l.starts_with("✓ ") && l.contains("expect drops == 0 (0)")));
    assert!(printed.ends_with("passed, 0 failed\n"), "{printed}");
}
