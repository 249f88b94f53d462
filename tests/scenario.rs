//! Scenario files end to end: every shipped lesson runs and passes on a real herd, a failing
//! expectation ends in exit code 1 naming its step, and a malformed file in exit code 2 with
//! its place. A presented run holds and skips at a presenter's keys, and tells its steps as
//! cues in order.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use herdctl::command::Context;
use herdctl::config::Topology;
use herdctl::herd::{Herd, HerdConfig, HerdHandle};
use herdctl::places::Places;
use herdctl::scenario::{self, Cue, Ending, Key, Report, Scenario, Status, StepReport};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::timeout;

/// Parses `text` against its own topology header and starts a fresh herd for it (every port
/// 0).
async fn start(text: &str, file: &str) -> (Scenario, HerdHandle) {
    let (topology, seed) = scenario::header(text);
    let topology = Topology::load(topology.as_deref().unwrap_or("cs131"), 0).unwrap();
    let context = Context::new(&topology);
    let parsed = scenario::parse(text, file, &context).unwrap_or_else(|e| panic!("{e}"));
    let mut config = HerdConfig::new(topology);
    config.places = Places::Offline;
    config.seed = seed.unwrap_or(0);
    let herd: HerdHandle = Herd::start(config).await.unwrap();
    (parsed, herd)
}

/// Runs `text` headless on a fresh herd, and returns the report and what was printed.
async fn play(text: &str, file: &str) -> (Report, String) {
    let (parsed, herd) = start(text, file).await;
    let mut out = Vec::new();
    let report = scenario::run(&parsed, &herd, &mut out).await;
    herd.shutdown().await;
    (report, String::from_utf8(out).unwrap())
}

fn lesson_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios").join(name);
    std::fs::read_to_string(&path).unwrap()
}

async fn lesson(name: &str) {
    let (report, printed) = play(&lesson_text(name), name).await;
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
            "storm.herd",
            "tour.herd"
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

/// How long a test waits for a cue that is due.
const DUE: Duration = Duration::from_secs(10);

/// How long a test listens to be sure that no cue comes.
const QUIET: Duration = Duration::from_millis(200);

async fn cue(cues: &mut UnboundedReceiver<Cue>) -> Cue {
    timeout(DUE, cues.recv()).await.expect("a cue in time").expect("the cues still open")
}

/// No cue comes for a while: the run holds.
async fn holds(cues: &mut UnboundedReceiver<Cue>) {
    if let Ok(cue) = timeout(QUIET, cues.recv()).await {
        panic!("the run went on: {cue:?}");
    }
}

/// Every cue up to and including `Finished`, and its report.
async fn the_rest(cues: &mut UnboundedReceiver<Cue>) -> (Vec<Cue>, Report) {
    let mut seen = Vec::new();
    loop {
        match cue(cues).await {
            Cue::Finished(report) => return (seen, report),
            other => seen.push(other),
        }
    }
}

type Channel<T> = (UnboundedSender<T>, UnboundedReceiver<T>);

/// The cues' channel and the keys'.
fn channels() -> (Channel<Cue>, Channel<Key>) {
    (unbounded_channel(), unbounded_channel())
}

fn outcome_of(cue: &Cue) -> (usize, Status, &str) {
    match cue {
        Cue::Outcome { index, status, line } => (*index, *status, line),
        other => panic!("expected an outcome, got {other:?}"),
    }
}

fn clients(herd: &HerdHandle) -> usize {
    herd.snapshot().servers.iter().map(|s| s.clients.len()).sum()
}

#[tokio::test]
async fn stepping_holds_each_step_until_next() {
    let text = "topology line:2\n\
                iamat S1 kiwi +1+2\n\
                wait until S2 knows kiwi within 5s\n";
    let (parsed, herd) = start(text, "stepping.herd").await;
    let ((cue_tx, mut cues), (keys, key_rx)) = channels();
    let presenter = async {
        assert_eq!(cue(&mut cues).await, Cue::Waiting { index: 0 });
        holds(&mut cues).await;
        assert_eq!(clients(&herd), 0, "applied before Next");
        keys.send(Key::Next).unwrap();
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 0 });
        let sent = cue(&mut cues).await;
        let (index, status, line) = outcome_of(&sent);
        assert_eq!((index, status), (0, Status::Done), "{line}");
        assert!(line.contains(" iamat S1 kiwi +1+2 → AT S1 "), "{line}");
        assert_eq!(cue(&mut cues).await, Cue::Waiting { index: 1 });
        keys.send(Key::Next).unwrap();
        let (seen, report) = the_rest(&mut cues).await;
        assert_eq!(seen[0], Cue::Started { index: 1 });
        assert_eq!(outcome_of(&seen[1]).1, Status::Passed, "{seen:?}");
        assert_eq!(seen.len(), 2, "{seen:?}");
        report
    };
    let (report, finished) =
        tokio::join!(scenario::present(&parsed, &herd, true, cue_tx, key_rx), presenter);
    herd.shutdown().await;
    assert_eq!(report, finished);
    assert_eq!((report.passed, report.failed), (1, 0));
}

#[tokio::test]
async fn a_wait_key_holds_while_playing() {
    let text = "topology line:2\nsay \"look\"\nwait key\nkill S2\n";
    let (parsed, herd) = start(text, "pause.herd").await;
    let ((cue_tx, mut cues), (keys, key_rx)) = channels();
    let presenter = async {
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 0 });
        assert_eq!(cue(&mut cues).await, Cue::Say("look".to_owned()));
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 1 });
        assert_eq!(cue(&mut cues).await, Cue::Waiting { index: 1 });
        holds(&mut cues).await;
        // Playing on does not end a pause; only Next does.
        keys.send(Key::Stepping(false)).unwrap();
        holds(&mut cues).await;
        assert!(herd.snapshot().servers[1].up);
        keys.send(Key::Next).unwrap();
        let (seen, report) = the_rest(&mut cues).await;
        let (index, status, line) = outcome_of(&seen[0]);
        assert_eq!((index, status), (1, Status::Done));
        assert!(line.ends_with("s wait key"), "{line}");
        assert_eq!(seen[1], Cue::Started { index: 2 });
        assert_eq!(outcome_of(&seen[2]).1, Status::Done, "{seen:?}");
        report
    };
    let (report, _) =
        tokio::join!(scenario::present(&parsed, &herd, false, cue_tx, key_rx), presenter);
    assert!(!herd.snapshot().servers[1].up);
    herd.shutdown().await;
    assert_eq!(scenario::exit_code(Ending::Ran(&report)), 0, "{report:?}");
}

#[tokio::test]
async fn next_skips_the_wait_for_a_steps_time() {
    let text = "topology line:2\nsay \"soon\"\nat 30s iamat S1 kiwi +1+2\nafter 20s say \"\"\n";
    let (parsed, herd) = start(text, "skip.herd").await;
    let ((cue_tx, mut cues), (keys, key_rx)) = channels();
    let started = Instant::now();
    let presenter = async {
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 0 });
        assert_eq!(cue(&mut cues).await, Cue::Say("soon".to_owned()));
        holds(&mut cues).await;
        keys.send(Key::Next).unwrap();
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 1 });
        assert_eq!(outcome_of(&cue(&mut cues).await).1, Status::Done);
        // The next `after` counts from when the step really started.
        keys.send(Key::Next).unwrap();
        the_rest(&mut cues).await
    };
    let (report, (seen, _)) =
        tokio::join!(scenario::present(&parsed, &herd, false, cue_tx, key_rx), presenter);
    herd.shutdown().await;
    assert_eq!(seen, [Cue::Started { index: 2 }, Cue::Say(String::new())]);
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert_eq!(report.steps.len(), 3);
    assert!(report.steps[1].at_s < 15.0, "{report:?}");
}

#[tokio::test]
async fn stepping_switches_on_and_off_while_held() {
    let text = "topology line:2\n\
                say \"a\"\n\
                at 30s say \"b\"\n\
                wait key\n\
                say \"c\"\n";
    let (parsed, herd) = start(text, "switch.herd").await;
    let ((cue_tx, mut cues), (keys, key_rx)) = channels();
    let presenter = async {
        assert_eq!(cue(&mut cues).await, Cue::Waiting { index: 0 });
        // Playing again releases a hold for stepping: step 0 is due at once.
        keys.send(Key::Stepping(false)).unwrap();
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 0 });
        assert_eq!(cue(&mut cues).await, Cue::Say("a".to_owned()));
        // Step 1 waits for its time until stepping holds it for Next instead.
        holds(&mut cues).await;
        keys.send(Key::Stepping(true)).unwrap();
        assert_eq!(cue(&mut cues).await, Cue::Waiting { index: 1 });
        keys.send(Key::Next).unwrap();
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 1 });
        assert_eq!(cue(&mut cues).await, Cue::Say("b".to_owned()));
        // While stepping, the hold before a pause is the pause.
        assert_eq!(cue(&mut cues).await, Cue::Waiting { index: 2 });
        keys.send(Key::Stepping(false)).unwrap();
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 2 });
        // Playing, the pause holds on its own.
        assert_eq!(cue(&mut cues).await, Cue::Waiting { index: 2 });
        keys.send(Key::Next).unwrap();
        the_rest(&mut cues).await
    };
    let (report, (seen, _)) =
        tokio::join!(scenario::present(&parsed, &herd, true, cue_tx, key_rx), presenter);
    herd.shutdown().await;
    assert_eq!(outcome_of(&seen[0]).0, 2);
    assert_eq!(seen[1..], [Cue::Started { index: 3 }, Cue::Say("c".to_owned())]);
    assert_eq!(report.steps.len(), 4);
}

#[tokio::test]
async fn closing_the_keys_while_held_ends_the_run() {
    let text = "topology line:2\niamat S1 kiwi +1+2\n";
    let (parsed, herd) = start(text, "closed.herd").await;
    let ((cue_tx, mut cues), (keys, key_rx)) = channels();
    let presenter = async {
        assert_eq!(cue(&mut cues).await, Cue::Waiting { index: 0 });
        drop(keys);
        the_rest(&mut cues).await
    };
    let (report, (seen, finished)) =
        tokio::join!(scenario::present(&parsed, &herd, true, cue_tx, key_rx), presenter);
    assert_eq!(clients(&herd), 0);
    herd.shutdown().await;
    assert!(seen.is_empty(), "{seen:?}");
    assert!(report.steps.is_empty(), "{report:?}");
    assert_eq!(report, finished);
}

#[tokio::test]
async fn closing_the_keys_cuts_a_running_step_short() {
    let text = "topology line:2\nwait until S1 knows nobody within 60s\nkill S2\n";
    let (parsed, herd) = start(text, "closed.herd").await;
    let ((cue_tx, mut cues), (keys, key_rx)) = channels();
    let started = Instant::now();
    let presenter = async {
        assert_eq!(cue(&mut cues).await, Cue::Started { index: 0 });
        drop(keys);
        the_rest(&mut cues).await
    };
    let (report, (seen, _)) =
        tokio::join!(scenario::present(&parsed, &herd, false, cue_tx, key_rx), presenter);
    herd.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert!(seen.is_empty(), "{seen:?}");
    assert!(report.steps.is_empty(), "{report:?}");
}

#[tokio::test]
async fn a_closed_cue_channel_does_not_stop_the_run() {
    let text = "topology line:2\niamat S1 kiwi +1+2\nwait until S2 knows kiwi within 5s\n";
    let (parsed, herd) = start(text, "unwatched.herd").await;
    let ((cue_tx, cues), (_keys, key_rx)) = channels();
    drop(cues);
    let report = scenario::present(&parsed, &herd, false, cue_tx, key_rx).await;
    herd.shutdown().await;
    assert_eq!((report.passed, report.failed), (1, 0), "{report:?}");
}

/// The line a run prints for a step it recorded.
fn printed_line(step: &StepReport) -> String {
    let at = format!("{:.3}s", step.at_s);
    let text = &step.text;
    match (step.status, step.detail.as_deref()) {
        (Status::Done, Some(detail)) if !detail.is_empty() => format!("  {at} {text} → {detail}"),
        (Status::Done, _) => format!("  {at} {text}"),
        (Status::Passed, detail) => format!("✓ {at} {text} ({})", detail.unwrap_or_default()),
        (Status::Failed, detail) => format!("✗ {at} {text} ({})", detail.unwrap_or_default()),
    }
}

#[tokio::test]
async fn a_presented_run_cues_what_a_headless_run_prints() {
    let text = "topology line:2\n\
                say \"hello\"\n\
                iamat S1 kiwi +1+2\n\
                wait until S2 knows kiwi newest within 5s\n\
                after 50ms expect drops == 0\n";
    let (parsed, herd) = start(text, "cues.herd").await;
    let ((cue_tx, mut cues), (_keys, key_rx)) = channels();
    let (report, (seen, finished)) =
        tokio::join!(scenario::present(&parsed, &herd, false, cue_tx, key_rx), the_rest(&mut cues));
    herd.shutdown().await;
    assert_eq!(report, finished);
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(seen[..2], [Cue::Started { index: 0 }, Cue::Say("hello".to_owned())]);
    for (i, pair) in seen[2..].chunks(2).enumerate() {
        let index = i + 1;
        assert_eq!(pair[0], Cue::Started { index });
        let (told, status, line) = outcome_of(&pair[1]);
        let step = &report.steps[index];
        assert_eq!((told, status, line), (index, step.status, printed_line(step).as_str()));
    }

    let (headless, printed) = play(text, "cues.herd").await;
    let shape = |r: &Report| -> Vec<(usize, String, Status)> {
        r.steps.iter().map(|s| (s.line, s.text.clone(), s.status)).collect()
    };
    assert_eq!(shape(&headless), shape(&report));
    assert_eq!((headless.passed, headless.failed), (report.passed, report.failed));
    let mut expected = vec!["» hello".to_owned()];
    expected.extend(headless.steps[1..].iter().map(printed_line));
    expected.push("2 passed, 0 failed".to_owned());
    assert_eq!(printed.lines().collect::<Vec<_>>(), expected);
}

/// The tour's timings add up to most of a minute; stepping through it answers each hold at once.
#[tokio::test]
async fn the_tour_steps_through_at_a_presenters_pace() {
    let text = lesson_text("tour.herd");
    let (parsed, herd) = start(&text, "tour.herd").await;
    let ((cue_tx, mut cues), (keys, key_rx)) = channels();
    let started = Instant::now();
    let presenter = async {
        let (mut seen, mut holds) = (Vec::new(), 0);
        loop {
            match cue(&mut cues).await {
                Cue::Waiting { .. } => {
                    holds += 1;
                    keys.send(Key::Next).unwrap();
                }
                Cue::Finished(report) => return (seen, holds, report),
                other => seen.push(other),
            }
        }
    };
    let (report, (seen, holds, _)) =
        tokio::join!(scenario::present(&parsed, &herd, true, cue_tx, key_rx), presenter);
    herd.shutdown().await;
    assert_eq!(holds, parsed.steps.len());
    assert_eq!(report.steps.len(), parsed.steps.len(), "{report:?}");
    let failed: Vec<&StepReport> =
        report.steps.iter().filter(|s| s.status == Status::Failed).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(scenario::exit_code(Ending::Ran(&report)), 0, "{report:?}");
    assert!(report.passed > 0);
    let captions = seen.iter().filter(|c| matches!(c, Cue::Say(_))).count();
    assert!(captions >= 8, "{seen:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}
