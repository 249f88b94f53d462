//! Parse tables: every step form, and every refusal with its place.

use std::time::Duration;

use super::{
    Action, Condition, Metric, Op, Quantile, Scenario, ScenarioError, Timing, Value, header, parse,
};
use crate::command::{Command, Context};
use crate::config::Topology;
use crate::herd::Control;

fn context() -> Context {
    Context::new(&Topology::load("cs131", 0).unwrap())
}

fn one(line: &str) -> (Timing, Action) {
    let scenario = parse(line, "t.herd", &context()).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    assert_eq!(scenario.steps.len(), 1, "{line:?}");
    let step = scenario.steps.into_iter().next().unwrap();
    assert_eq!((step.line, step.text.as_str()), (1, line.trim()));
    (step.timing, step.action)
}

fn refused(text: &str) -> String {
    match parse(text, "t.herd", &context()) {
        Ok(scenario) => panic!("{text:?} parsed: {scenario:?}"),
        Err(err) => err.to_string(),
    }
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn timings() {
    let table = [
        ("kill Bona", Timing::Next),
        ("at 0s kill Bona", Timing::At(Duration::ZERO)),
        ("at 1s500ms kill Bona", Timing::At(ms(1500))),
        ("AFTER 50ms kill Bona", Timing::After(ms(50))),
        ("every 100ms for 1s kill Bona", Timing::Every { every: ms(100), lasting: ms(1000) }),
    ];
    for (line, timing) in table {
        assert_eq!(one(line).0, timing, "{line:?}");
    }
}

#[test]
fn commands_go_through_the_console_grammar() {
    let (_, action) = one("at 0s   iamat Goloman kiwi +34.068930-118.445127"
        .replace("Goloman", "Bailey")
        .as_str());
    let Action::Command { template, command } = action else { panic!("{action:?}") };
    assert_eq!(template, "iamat Bailey kiwi +34.068930-118.445127");
    assert!(matches!(command, Command::IAmAt { server: 0, ref client, .. } if client == "kiwi"));
    let (_, action) = one("kill bona");
    assert!(matches!(
        action,
        Action::Command { command: Command::Herd(Control::Kill { server: 1 }), .. }
    ));
    let (timing, action) = one("every 10ms for 50ms iamat Bailey k{n} +1+2");
    assert!(matches!(timing, Timing::Every { .. }));
    let Action::Command { template, command } = action else { panic!() };
    assert_eq!(template, "iamat Bailey k{n} +1+2");
    assert!(matches!(command, Command::IAmAt { ref client, .. } if client == "k1"));
}

#[test]
fn narration_and_pauses() {
    assert_eq!(one("say \"hello, # world\"").1, Action::Say("hello, # world".to_owned()));
    assert_eq!(one("at 1s say \"\"").1, Action::Say(String::new()));
    assert_eq!(one("wait key").1, Action::WaitKey);
}

fn condition(text: &str) -> Condition {
    match one(&format!("expect {text}")).1 {
        Action::Expect(condition) => condition,
        other => panic!("{other:?}"),
    }
}

#[test]
fn conditions() {
    let compare = |metric, op, value| Condition::Compare { metric, op, value };
    let table = [
        ("Bailey knows kiwi", Condition::Knows { server: 0, client: "kiwi".into(), newest: false }),
        (
            "jaquez knows kiwi newest",
            Condition::Knows { server: 4, client: "kiwi".into(), newest: true },
        ),
        (
            "converged kiwi within 100ms",
            Condition::Converged { client: "kiwi".into(), within: ms(100) },
        ),
        ("msgs_per_update <= 8", compare(Metric::MsgsPerUpdate, Op::Le, Value::Number(8.0))),
        ("msgs_per_update == 2.5", compare(Metric::MsgsPerUpdate, Op::Eq, Value::Number(2.5))),
        (
            "convergence p50 < 5ms",
            compare(Metric::Convergence(Quantile::P50), Op::Lt, Value::Duration(ms(5))),
        ),
        (
            "convergence p95 >= 1s",
            compare(Metric::Convergence(Quantile::P95), Op::Ge, Value::Duration(ms(1000))),
        ),
        (
            "convergence max > 0s",
            compare(Metric::Convergence(Quantile::Max), Op::Gt, Value::Duration(Duration::ZERO)),
        ),
        ("unconverged == 0", compare(Metric::Unconverged, Op::Eq, Value::Number(0.0))),
        ("drops > 1", compare(Metric::Drops, Op::Gt, Value::Number(1.0))),
        (
            "coverage kiwi == 5",
            compare(Metric::Coverage("kiwi".into()), Op::Eq, Value::Number(5.0)),
        ),
        (
            "coverage kiwi >= 100%",
            compare(Metric::Coverage("kiwi".into()), Op::Ge, Value::Percent(100.0)),
        ),
        (
            "not not drops == 0",
            Condition::Not(Box::new(Condition::Not(Box::new(compare(
                Metric::Drops,
                Op::Eq,
                Value::Number(0.0),
            ))))),
        ),
    ];
    for (text, expected) in table {
        assert_eq!(condition(text), expected, "{text:?}");
    }
}

#[test]
fn wait_until_takes_a_condition_and_a_bound() {
    let (_, action) = one("wait until converged kiwi within 10ms within 2s");
    assert_eq!(
        action,
        Action::WaitUntil {
            condition: Condition::Converged { client: "kiwi".into(), within: ms(10) },
            within: ms(2000),
        }
    );
}

#[test]
fn headers_blank_lines_and_comments() {
    let text = "# a lesson\n\n  topology cs131-2019\nseed 7\n   # indented\nkill Bona\n";
    assert_eq!(header(text), (Some("cs131-2019".to_owned()), Some(7)));
    assert_eq!(header("kill Bona\n"), (None, None));
    let scenario: Scenario = parse(text, "t.herd", &context()).unwrap();
    assert_eq!((scenario.topology.as_deref(), scenario.seed), (Some("cs131-2019"), Some(7)));
    assert_eq!(scenario.steps.len(), 1);
    assert_eq!(scenario.steps[0].line, 6);
}

#[test]
fn refusals_name_their_place_and_what_was_expected() {
    let table = [
        ("after 50xs kill Bona", "t.herd:1:7: expected a duration such as 50ms, got \"50xs\""),
        ("at", "t.herd:1:3: expected a duration such as 50ms"),
        ("at 1s", "t.herd:1:6: expected a step (a command, expect, wait until, say or wait key)"),
        ("every 0s for 1s kill Bona", "t.herd:1:7: expected a period over 0, got 0"),
        ("every 1s during 1s kill Bona", "t.herd:1:10: expected \"for\", got \"during\""),
        (
            "every 1s for 2s expect drops == 0",
            "t.herd:1:17: expected a command to repeat, got \"expect\"",
        ),
        (
            "iamat Bailey k{n} +1+2",
            "t.herd:1:15: expected {n} only in a command of an every series",
        ),
        ("at 1s  kil Bona", "t.herd:1:8: unknown command \"kil\"; did you mean kill?"),
        (
            "after 0s  quit",
            "t.herd:1:11: expected a command for the herd, got the console's \"quit\"",
        ),
        (
            "expect",
            "t.herd:1:7: expected a condition such as \"Bailey knows kiwi\" or \"drops == 0\"",
        ),
        (
            "expect Nobody knows kiwi",
            "t.herd:1:8: expected a condition or a server (Bailey, Bona, Campbell, Clark, Jaquez) that knows a client, got \"Nobody\"",
        ),
        ("expect Bailey has kiwi", "t.herd:1:15: expected \"knows\", got \"has\""),
        (
            "expect Bailey knows kiwi soon",
            "t.herd:1:26: expected the end of the line, got \"soon\"",
        ),
        ("expect drops = 0", "t.herd:1:14: expected a comparison (<, <=, ==, >=, >), got \"=\""),
        ("expect drops == few", "t.herd:1:17: expected a number such as 8, got \"few\""),
        ("expect drops == -1", "t.herd:1:17: expected a number such as 8, got \"-1\""),
        ("expect convergence p99 < 5ms", "t.herd:1:20: expected p50, p95 or max, got \"p99\""),
        ("expect convergence p95 < 5", "t.herd:1:26: expected a duration such as 50ms, got \"5\""),
        (
            "expect coverage kiwi == all",
            "t.herd:1:25: expected a number of servers such as 5, or a share such as 100%, got \"all\"",
        ),
        ("expect converged kiwi", "t.herd:1:22: expected \"within\""),
        ("wait for 1s", "t.herd:1:6: expected \"until\" or \"key\", got \"for\""),
        ("wait until drops == 0", "t.herd:1:22: expected \"within\""),
        ("say hello", "t.herd:1:5: expected a quoted text such as \"hello\", got \"hello\""),
        ("say \"", "t.herd:1:5: expected a quoted text such as \"hello\", got \"\\\"\""),
        ("seed seven", "t.herd:1:6: expected a seed such as 7 (a whole number), got \"seven\""),
        ("topology", "t.herd:1:9: expected a topology such as cs131 or ring:5"),
        ("topology a b", "t.herd:1:12: expected the end of the line, got \"b\""),
    ];
    for (text, message) in table {
        assert_eq!(refused(text), message, "{text:?}");
    }
}

#[test]
fn a_command_refusal_keeps_the_grammar_message_and_usage() {
    let message = refused("# one\n\nat 1s  cut Bailey->Jaquez\n");
    assert!(message.starts_with("t.herd:3:8: "), "{message}");
    assert!(message.contains("Bailey"), "{message}");
    let message = refused("iamat Bailey\n");
    assert!(message.starts_with("t.herd:1:1: "), "{message}");
    assert!(message.contains("(expected: iamat SERVER CLIENT COORDS [TIME])"), "{message}");
}

#[test]
fn the_error_type_displays_file_line_column() {
    let err = ScenarioError { file: "f".into(), line: 2, column: 3, message: "m".into() };
    assert_eq!(err.to_string(), "f:2:3: m");
}

#[test]
fn the_documented_example_parses() {
    let text = "# cut-vertex.herd\ntopology cs131-2019\nseed 7\n\
                at 0s     iamat Goloman kiwi +34.068930-118.445127\n\
                after 50ms expect converged kiwi within 100ms\n\
                at 200ms  kill Holiday\n\
                after 0s  iamat Goloman kiwi +35.0-118.0\n\
                after 300ms expect not Welsh knows kiwi newest\n\
                expect Wilkes knows kiwi newest\n\
                every 100ms for 1s iamat Hands k{n} +34.0-118.0\n\
                expect msgs_per_update <= 8\n\
                expect convergence p95 < 5ms\n";
    let (topology, seed) = header(text);
    let topology = Topology::load(topology.as_deref().unwrap(), 0).unwrap();
    let scenario = parse(text, "cut-vertex.herd", &Context::new(&topology)).unwrap();
    assert_eq!(seed, Some(7));
    let lines: Vec<usize> = scenario.steps.iter().map(|s| s.line).collect();
    assert_eq!(lines, [4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Against the wrong herd, the server names are refused where they stand.
    let err = parse(text, "cut-vertex.herd", &context()).unwrap_err();
    assert_eq!((err.line, err.column), (4, 11), "{err}");
}
