//! Storing and flooding locations (protocol.md §4): every server learns every report, the
//! newest report wins everywhere, floods follow the configured links and end, and a neighbour
//! already knows a report by the time its IAMAT is answered.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{TestHerd, at_fields, split_whatsat};
use herdctl::herd::EventKind;

const HERD: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
const HERD_2019: [&str; 5] = ["Goloman", "Hands", "Holiday", "Welsh", "Wilkes"];
const QUIET: Duration = Duration::from_millis(200);

/// The first line of a WHATSAT reply from `server` about `client`.
async fn whatsat_first_line(t: &TestHerd, server: &str, client: &str) -> String {
    let reply = t.grading(server, &format!("WHATSAT {client} 10 1\n")).await;
    split_whatsat(&reply).0
}

/// Every server in `names` holds exactly `line` for `client`.
fn assert_all_hold(t: &TestHerd, names: &[&str], client: &str, line: &str) {
    for name in names {
        assert_eq!(
            t.stored(t.id(name), client).as_deref(),
            Some(line),
            "{name}'s report for {client}"
        );
    }
}

#[tokio::test]
async fn an_iamat_at_any_server_reaches_all_five_unchanged() {
    let mut t = common::start("cs131").await;
    for origin in HERD {
        let client = format!("from-{origin}");
        let reply = t.iamat(origin, &client, "+34.068930-118.445127", "1621464827.959498503").await;
        assert_eq!(at_fields(&reply)[1], origin);
        t.wait_line_at(&HERD, &client, &reply).await;
        for server in HERD {
            assert_eq!(whatsat_first_line(&t, server, &client).await, reply);
        }
    }
}

#[tokio::test]
async fn the_2019_herd_floods_through_its_cut_vertex() {
    let mut t = common::start("cs131-2019").await;
    for origin in ["Hands", "Welsh"] {
        let client = format!("from-{origin}");
        let reply = t.iamat(origin, &client, "+1+2", "1621464827.5").await;
        t.wait_line_at(&HERD_2019, &client, &reply).await;
    }
}

#[tokio::test]
async fn floods_follow_configured_links_once_and_end() {
    for (preset, names) in [("cs131", HERD), ("cs131-2019", HERD_2019)] {
        let mut t = common::start(preset).await;
        let links: HashSet<(usize, usize)> =
            t.herd.topology().links().into_iter().flat_map(|(a, b)| [(a, b), (b, a)]).collect();
        for origin in names {
            let client = format!("traced-{origin}");
            t.iamat(origin, &client, "+1+2", "1621464827.5").await;
            // Every event from the IAMAT on, until the herd is quiet: the flood has ended.
            let events = t.collect_quiet(QUIET).await;
            let mut stored = Vec::new();
            let mut sent = HashSet::new();
            for event in &events {
                match event {
                    EventKind::LocationStored { server, from, .. } => {
                        stored.push((*server, *from));
                    }
                    EventKind::FloodSent { from, to, .. } => {
                        assert!(
                            links.contains(&(*from, *to)),
                            "{preset}: sent over a non-link {from}->{to}"
                        );
                        assert!(sent.insert((*from, *to)), "{preset}: {from}->{to} twice");
                    }
                    _ => {}
                }
            }
            let servers: HashSet<usize> = stored.iter().map(|(s, _)| *s).collect();
            assert_eq!(stored.len(), 5, "{preset}: not stored once per server: {stored:?}");
            assert_eq!(servers.len(), 5);
            for (server, from) in stored {
                if let Some(from) = from {
                    assert!(
                        !sent.contains(&(server, from)),
                        "{preset}: {server} sent the report back to {from}"
                    );
                }
            }
        }
        if preset == "cs131-2019" {
            // Welsh talks only with Holiday.
            let welsh = t.id("Welsh");
            let holiday = t.id("Holiday");
            assert!(links.iter().filter(|(_, to)| *to == welsh).all(|(from, _)| *from == holiday));
        }
    }
}

#[tokio::test]
async fn server_to_server_messages_get_no_reply() {
    let mut t = common::start("cs131").await;
    let mut c = t.telnet("Bailey").await;
    let me = c.writer.local_addr().unwrap();
    c.send("IAMAT quiet +1+2 1621464827.5").await;
    c.line().await;
    // An older report at another server: answered, and its flood (if any) suppressed.
    t.iamat("Clark", "quiet", "+1+2", "1621464827.4").await;
    // An AT line from outside: no reply either.
    c.send("AT Elsewhere +0.100000000 quiet2 +1+2 1621464827.5").await;
    let events = t.collect_quiet(QUIET).await;
    let mut neighbour_lines = 0;
    for event in &events {
        match event {
            EventKind::LineOut { server, peer, line } => {
                let from_clark_client = *server == t.id("Clark") && line.contains("1621464827.4");
                assert!(
                    *peer == me || from_clark_client,
                    "{server} wrote {line:?} to {peer}, a neighbour"
                );
                assert!(!line.starts_with("? "), "{server} answered `? ` to {peer}");
            }
            EventKind::LineIn { peer, .. } if *peer != me => neighbour_lines += 1,
            _ => {}
        }
    }
    assert!(neighbour_lines >= 8, "too little neighbour traffic seen: {neighbour_lines}");
    c.assert_silent(QUIET).await;
}

#[tokio::test]
async fn an_older_iamat_is_answered_but_neither_stored_nor_flooded() {
    let mut t = common::start("cs131").await;
    let newer = t.iamat("Bailey", "kiwi", "+34.068930-118.445127", "1621464827.959498503").await;
    t.wait_line_at(&HERD, "kiwi", &newer).await;
    t.settle(QUIET).await;
    let older = t.iamat("Jaquez", "kiwi", "+1+2", "1621464826.959498503").await;
    let f = at_fields(&older);
    assert_eq!((&f[1][..], &f[4][..], &f[5][..]), ("Jaquez", "+1+2", "1621464826.959498503"));
    let events = t.collect_quiet(QUIET).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, EventKind::LocationStored { .. } | EventKind::FloodSent { .. })),
        "an older report was stored or flooded"
    );
    assert_all_hold(&t, &HERD, "kiwi", &newer);
    assert_eq!(whatsat_first_line(&t, "Jaquez", "kiwi").await, newer);
}

#[tokio::test]
async fn an_equal_time_does_not_replace() {
    let mut t = common::start("cs131").await;
    let first = t.iamat("Bailey", "tie", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "tie", &first).await;
    t.settle(QUIET).await;
    let same = t.iamat("Clark", "tie", "+3+4", "1621464827.5").await;
    assert_eq!(at_fields(&same)[1], "Clark");
    let same_value = t.iamat("Campbell", "tie", "+5+6", "1621464827.500000000").await;
    assert_eq!(at_fields(&same_value)[5], "1621464827.500000000");
    t.settle(QUIET).await;
    assert_all_hold(&t, &HERD, "tie", &first);
}

#[tokio::test]
async fn times_compare_as_exact_numbers() {
    let mut t = common::start("cs131").await;
    // Not as text: 999999999.9 sorts after 1000000000.1 as a string.
    let big = t.iamat("Bailey", "num", "+1+2", "1000000000.1").await;
    t.wait_line_at(&HERD, "num", &big).await;
    t.iamat("Clark", "num", "+3+4", "999999999.9").await;
    t.settle(QUIET).await;
    assert_all_hold(&t, &HERD, "num", &big);

    let small = t.iamat("Bailey", "num2", "+1+2", "999999999.9").await;
    t.wait_line_at(&HERD, "num2", &small).await;
    let big = t.iamat("Clark", "num2", "+3+4", "1000000000.1").await;
    t.wait_line_at(&HERD, "num2", &big).await;

    // Not as f64: one nanosecond newer wins, and a 6-digit time compares with a 9-digit one.
    let mut latest = String::new();
    for (server, time) in [
        ("Bailey", "1621464827.959498503"),
        ("Jaquez", "1621464827.959498504"),
        ("Bona", "1621464827.959499"),
    ] {
        latest = t.iamat(server, "nano", "+1+2", time).await;
        t.wait_line_at(&HERD, "nano", &latest).await;
    }
    t.iamat("Campbell", "nano", "+1+2", "1621464827.959498").await;
    t.iamat("Clark", "nano", "+1+2", "1621464827.959498999").await;
    t.settle(QUIET).await;
    assert_all_hold(&t, &HERD, "nano", &latest);
}

#[tokio::test]
async fn at_lines_from_outside_are_stored_and_flooded() {
    let mut t = common::start("cs131").await;
    let mut c = t.telnet("Bailey").await;
    let report = "AT Elsewhere +0.500000000 outsider +34.068930-118.445127 1621464827.5";
    c.send(report).await;
    t.wait_line_at(&HERD, "outsider", report).await;
    // An older one from outside changes nothing.
    c.send("AT Elsewhere +0.500000000 outsider +1+2 1621464827.4").await;
    t.settle(QUIET).await;
    assert_all_hold(&t, &HERD, "outsider", report);
    c.assert_silent(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn an_outside_at_line_naming_a_herd_server_reaches_that_server_too() {
    let mut t = common::start("cs131").await;
    let mut c = t.telnet("Bailey").await;
    let report = "AT Clark +0.500000000 named +1+2 1621464827.5";
    c.send(report).await;
    t.wait_line_at(&["Bailey", "Bona", "Campbell", "Jaquez"], "named", report).await;
    t.settle(QUIET).await;
    assert_all_hold(&t, &HERD, "named", report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flood_first_then_reply_a_neighbour_already_knows() {
    let t = common::start("cs131").await;
    let links = t.herd.topology().links();
    let names: Vec<String> = t.herd.topology().servers.iter().map(|s| s.name.clone()).collect();
    for i in 0..50 {
        let (a, b) = links[i % links.len()];
        let (origin, neighbour) = if i % 2 == 0 { (a, b) } else { (b, a) };
        let client = format!("hop{i}");
        let reply = t.iamat(&names[origin], &client, "+1+2", "1621464827.5").await;
        let answer = t.grading(&names[neighbour], &format!("WHATSAT {client} 10 1\n")).await;
        assert!(
            answer.starts_with(&format!("{reply}\n")),
            "{} did not know {client} when {} answered: {answer:?}",
            names[neighbour],
            names[origin]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reports_converge_on_the_newest() {
    let mut t = common::start("cs131").await;
    let mut tasks = Vec::new();
    for i in 1..=20 {
        let addr = t.addr(HERD[i % 5]);
        tasks.push(tokio::spawn(async move {
            let command = format!("IAMAT racer +{i}+{i} 1621464827.{i:02}\n");
            (i, common::grading_at(addr, command.as_bytes()).await)
        }));
        let addr = t.addr(HERD[(i + 2) % 5]);
        tasks.push(tokio::spawn(async move {
            let command = format!("IAMAT many{i} +1+2 1621464827.5\n");
            (0, common::grading_at(addr, command.as_bytes()).await)
        }));
    }
    let mut newest = String::new();
    for task in tasks {
        let (i, reply) = task.await.unwrap();
        at_fields(&reply);
        if i == 20 {
            newest = reply.trim_end().to_owned();
        }
    }
    t.wait_line_at(&HERD, "racer", &newest).await;
    for i in 1..=20 {
        t.wait_stored_at(&HERD, &format!("many{i}")).await;
    }
    t.settle(QUIET).await;
    assert_all_hold(&t, &HERD, "racer", &newest);
}

#[tokio::test]
async fn only_locations_flood() {
    let mut t = common::start("cs131").await;
    t.iamat("Bailey", "placed", "+34.068930-118.445127", "1621464827.5").await;
    t.wait_stored_at(&HERD, "placed").await;
    t.settle(QUIET).await;
    let reply = t.grading("Bailey", "WHATSAT placed 50 20\n").await;
    split_whatsat(&reply);
    let bailey = t.id("Bailey");
    let events = t.collect_quiet(QUIET).await;
    for event in &events {
        match event {
            EventKind::FloodSent { .. } | EventKind::LocationStored { .. } => {
                panic!("a WHATSAT caused {event:?}")
            }
            EventKind::LineIn { server, .. } => assert_eq!(*server, bailey, "{event:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_configured_herd_floods_along_its_own_links_both_ways() {
    // Links listed on one side only; Island talks with nobody.
    let toml = r#"
[[server]]
name = "North"
port = 0
neighbours = ["Middle"]

[[server]]
name = "Middle"
port = 0

[[server]]
name = "South"
port = 0
neighbours = ["Middle"]

[[server]]
name = "Island"
port = 0
"#;
    let mut t = common::start(toml).await;
    let down = t.iamat("North", "down", "+1+2", "1621464827.5").await;
    t.wait_line_at(&["North", "Middle", "South"], "down", &down).await;
    let up = t.iamat("South", "up", "+1+2", "1621464827.5").await;
    t.wait_line_at(&["North", "Middle", "South"], "up", &up).await;
    let alone = t.iamat("Island", "alone", "+1+2", "1621464827.5").await;
    assert_eq!(at_fields(&alone)[1], "Island");
    t.settle(QUIET).await;
    assert_eq!(t.holders("down"), ["North", "Middle", "South"]);
    assert_eq!(t.holders("up"), ["North", "Middle", "South"]);
    assert_eq!(t.holders("alone"), ["Island"]);
}
