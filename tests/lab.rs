//! The flood laboratory over real TCP: directed faults (cut, partition, isolate, loss, dup,
//! delay, hang, `for`), their attribution, seeded fates, and the flood policies.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::TestHerd;
use herdctl::herd::{Applied, DropReason, EventKind};

const HERD: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
const T: &str = "1621464827.5";

/// Which servers hold `client` now.
fn holders(t: &TestHerd, client: &str) -> Vec<String> {
    HERD.iter().filter(|n| t.knows(t.id(n), client)).map(|n| (*n).to_owned()).collect()
}

/// Waits for the report of `client` from `from` to `to` to be dropped; returns the reason and
/// the fault named.
async fn dropped(t: &mut TestHerd, client: &str, from: &str, to: &str) -> (DropReason, String) {
    let (from, to) = (t.id(from), t.id(to));
    let event = t
        .wait_for(&format!("{client} dropped on {from}->{to}"), |e| {
            matches!(e, EventKind::FloodDropped { from: f, to: d, update, .. }
                if (*f, *d) == (from, to) && &*update.client == client)
        })
        .await;
    let EventKind::FloodDropped { reason, fault, .. } = event else { unreachable!() };
    (reason, fault.map(|f| f.to_string()).unwrap_or_default())
}

#[tokio::test]
async fn total_loss_on_one_link_makes_its_receiver_learn_the_other_way() {
    let mut t = common::start("cs131").await;
    let applied = t.control("loss Bona->Clark 100%").await;
    assert_eq!(applied, Applied::changed("loss Bona->Clark 100%"));
    let line = t.iamat("Bona", "kiwi", "+1+2", T).await;
    let (reason, fault) = dropped(&mut t, "kiwi", "Bona", "Clark").await;
    assert_eq!((reason, fault.as_str()), (DropReason::Lost, "loss Bona->Clark 100%"));
    let (clark, jaquez) = (t.id("Clark"), t.id("Jaquez"));
    let via = t
        .wait_for(
            "Clark stores kiwi",
            |e| matches!(e, EventKind::LocationStored { server, .. } if *server == clark),
        )
        .await;
    assert!(matches!(via, EventKind::LocationStored { from: Some(f), .. } if f == jaquez));
    t.wait_line_at(&HERD, "kiwi", &line).await;
    // The fault counted it; no other link dropped anything.
    let faults = t.control("faults").await;
    let Applied::Faults { faults } = faults else { panic!("{faults:?}") };
    assert_eq!((faults.len(), faults[0].dropped), (1, 1), "{faults:?}");
    let snapshot = t.herd.snapshot();
    let dropped: u64 = snapshot.links.iter().map(|l| l.dropped).sum();
    assert_eq!(dropped, 1);
}

#[tokio::test]
async fn a_one_way_cut_lets_reports_flow_the_other_way() {
    let mut t = common::start("line:3").await;
    assert_eq!(t.control("cut S1->S2").await, Applied::changed("cut S1->S2"));
    assert_eq!(t.control("cut S1->S2").await, Applied::unchanged("S1->S2 is already cut"));
    t.iamat("S1", "east", "+1+2", T).await;
    let (reason, fault) = dropped(&mut t, "east", "S1", "S2").await;
    assert_eq!((reason, fault.as_str()), (DropReason::Cut, "cut S1->S2"));
    let west = t.iamat("S3", "west", "+1+2", T).await;
    t.wait_line_at(&["S1", "S2", "S3"], "west", &west).await;
    assert!(!t.knows(t.id("S2"), "east") && !t.knows(t.id("S3"), "east"));
    // The connection stayed up: healed, the next report goes straight through.
    assert_eq!(t.control("heal S1->S2").await, Applied::changed("healed S1->S2"));
    assert_eq!(t.control("heal S1->S2").await, Applied::unchanged("S1->S2 is not cut"));
    let again = t.iamat("S1", "east", "+1+2", "1621464828.5").await;
    t.wait_line_at(&["S1", "S2", "S3"], "east", &again).await;
}

#[tokio::test]
async fn a_partition_splits_coverage_along_its_groups() {
    let mut t = common::start("cs131").await;
    // Clark and Jaquez are not named: they join the last group.
    t.control("partition Bailey,Bona / Campbell").await;
    // Each crossing link drops its copy (the positive signal that it was decided there).
    let left = t.iamat("Bailey", "left", "+1+2", T).await;
    dropped(&mut t, "left", "Bona", "Clark").await;
    let right = t.iamat("Jaquez", "right", "+1+2", T).await;
    dropped(&mut t, "right", "Clark", "Bona").await;
    t.wait_line_at(&["Bailey", "Bona"], "left", &left).await;
    t.wait_line_at(&["Campbell", "Clark", "Jaquez"], "right", &right).await;
    t.settle(Duration::from_millis(100)).await;
    assert_eq!(holders(&t, "left"), ["Bailey", "Bona"]);
    assert_eq!(holders(&t, "right"), ["Campbell", "Clark", "Jaquez"]);
    let Applied::Faults { faults } = t.control("faults").await else { panic!() };
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].label, "partition Bailey,Bona / Campbell,Clark,Jaquez");
    assert_eq!(faults[0].dropped, 6, "three crossing links, both ways: {faults:?}");
    t.control("heal all").await;
    let after = t.iamat("Bailey", "after", "+1+2", T).await;
    t.wait_line_at(&HERD, "after", &after).await;
}

#[tokio::test]
async fn isolate_cuts_every_link_of_one_server() {
    let mut t = common::start("cs131").await;
    t.control("isolate Campbell").await;
    let line = t.iamat("Bailey", "kiwi", "+1+2", T).await;
    t.wait_line_at(&["Bailey", "Bona", "Clark", "Jaquez"], "kiwi", &line).await;
    dropped(&mut t, "kiwi", "Jaquez", "Campbell").await;
    t.settle(Duration::from_millis(100)).await;
    assert!(!t.knows(t.id("Campbell"), "kiwi"));
}

#[tokio::test]
async fn a_fault_given_for_heals_itself_on_time() {
    let mut t = common::start("line:3").await;
    let started = Instant::now();
    t.control("cut S1 S2 for 300ms").await;
    let label =
        t.wait_for("the cut to heal", |e| matches!(e, EventKind::FaultExpired { .. })).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(label, EventKind::FaultExpired { label } if &*label == "cut S1<->S2 for 300ms")
    );
    assert!(elapsed >= Duration::from_millis(300), "healed after {elapsed:?}");
    assert!(elapsed < Duration::from_millis(600), "healed after {elapsed:?}");
    let Applied::Faults { faults } = t.control("faults").await else { panic!() };
    assert!(faults.is_empty(), "{faults:?}");
    let line = t.iamat("S1", "kiwi", "+1+2", T).await;
    t.wait_line_at(&["S1", "S2", "S3"], "kiwi", &line).await;
}

#[tokio::test]
async fn a_duplicated_report_is_stored_once() {
    let mut t = common::start("line:2").await;
    t.control("dup S1->S2 100%").await;
    let line = t.iamat("S1", "kiwi", "+1+2", T).await;
    let s2 = t.id("S2");
    t.wait_for(
        "the second copy to be suppressed",
        |e| matches!(e, EventKind::FloodSuppressed { server, .. } if *server == s2),
    )
    .await;
    t.wait_line_at(&["S2"], "kiwi", &line).await;
    let Applied::Faults { faults } = t.control("faults").await else { panic!() };
    assert_eq!(faults[0].duplicated, 1);
}

#[tokio::test]
async fn a_delayed_link_delivers_late_and_names_its_delay() {
    let mut t = common::start("line:3").await;
    t.control("delay S1->S2 200ms").await;
    let started = Instant::now();
    let reply = t.grading("S1", &format!("IAMAT kiwi +1+1 {}", common::now_text())).await;
    assert!(started.elapsed() < Duration::from_millis(200), "the client waited: {reply}");
    let queued =
        t.wait_for("the delayed hop", |e| matches!(e, EventKind::FloodQueued { .. })).await;
    let EventKind::FloodQueued { delay_ns, delayed_by, .. } = queued else { unreachable!() };
    assert_eq!((delay_ns, delayed_by.as_deref()), (200_000_000, Some("delay S1->S2 200ms")));
    t.wait_stored_at(&["S3"], "kiwi").await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_freezes_while_its_neighbours_keep_answering() {
    let mut t = common::start("cs131").await;
    assert_eq!(t.control("hang Bona").await, Applied::changed("hung Bona"));
    // Bona takes the connection (the kernel does) but answers nothing.
    let bona = t.addr("Bona");
    let mut frozen = tokio::net::TcpStream::connect(bona).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut frozen, b"IAMAT frozen +1+1 1621464827.5\n")
        .await
        .unwrap();
    // Its neighbours answer at once, again and again.
    for i in 0..20 {
        let started = Instant::now();
        let reply = t.grading("Bailey", &format!("IAMAT c{i} +1+1 {T}\n")).await;
        assert!(reply.starts_with("AT Bailey "), "{reply}");
        let took = started.elapsed();
        assert!(took < Duration::from_millis(10), "Bailey took {took:?} while Bona hangs");
    }
    t.wait_stored_at(&["Clark", "Jaquez"], "c19").await;
    assert!(!t.knows(t.id("Bona"), "c0"), "a hung server stores nothing");
    // Unhung, it works through what waited: the frozen connection is answered.
    t.control("unhang Bona").await;
    let mut reply = String::new();
    let mut reader = tokio::io::BufReader::new(&mut frozen);
    tokio::time::timeout(
        common::PATIENCE,
        tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut reply),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(reply.starts_with("AT Bona "), "{reply}");
    t.wait_stored_at(&["Bona"], "c19").await;
}

/// The clients whose report S1 lost on its link to S2, for 60 updates under `seed`.
async fn lost_under(seed: u64, burst: &str) -> Vec<String> {
    let mut t = common::start_with("line:2", |c| c.seed = seed).await;
    t.control(&format!("loss S1->S2 50%{burst}")).await;
    let mut lost = Vec::new();
    for i in 0..60 {
        let client = format!("c{i}");
        t.iamat("S1", &client, "+1+2", T).await;
        let s2 = t.id("S2");
        let fate = t
            .wait_for("the fate of the report", |e| match e {
                EventKind::FloodDropped { update, .. } => *update.client == *client,
                EventKind::LocationStored { server, update, .. } => {
                    *server == s2 && *update.client == *client
                }
                _ => false,
            })
            .await;
        if matches!(fate, EventKind::FloodDropped { .. }) {
            lost.push(client);
        }
    }
    lost
}

#[tokio::test]
async fn the_same_seed_gives_the_same_fates() {
    let first = lost_under(7, "").await;
    assert!((15..=45).contains(&first.len()), "lost {} of 60", first.len());
    assert_eq!(lost_under(7, "").await, first);
    assert_ne!(lost_under(8, "").await, first);
    let burst = lost_under(7, " burst 3").await;
    assert_eq!(lost_under(7, " burst 3").await, burst, "bursts follow the order of lines");
}

/// Every server-to-server line written for `client` until the herd goes quiet.
async fn messages_for(t: &mut TestHerd, client: &str) -> usize {
    let events = t.collect_quiet(Duration::from_millis(200)).await;
    events
        .iter()
        .filter(|e| matches!(e, EventKind::FloodSent { update, .. } if &*update.client == client))
        .count()
}

#[tokio::test]
async fn storm_sends_the_number_of_messages_its_rule_gives() {
    let mut t = common::start("cs131").await;
    let applied = t.control("policy storm ttl=4").await;
    assert_eq!(applied, Applied::changed("policy storm ttl=4 (off-spec)"));
    let topology = t.herd.topology().clone();
    let adjacency: Vec<Vec<usize>> = (0..topology.servers.len())
        .map(|id| {
            let links = topology.links();
            let mut n: Vec<usize> = links
                .iter()
                .filter_map(|&(a, b)| (a == id).then_some(b).or((b == id).then_some(a)))
                .collect();
            n.sort_unstable();
            n
        })
        .collect();
    let expected = herdctl::herd::storm_messages(&adjacency, t.id("Bailey"), 4);
    assert_eq!(expected, 28, "worked by hand: 2 + 4 + 6 + 6 + 10");
    t.iamat("Bailey", "storm", "+1+2", T).await;
    assert_eq!(messages_for(&mut t, "storm").await as u64, expected);
    assert_eq!(holders(&t, "storm").len(), 5);
    // Back to the course's rule: 8 messages for one update on cs131.
    t.control("policy spec").await;
    t.iamat("Bailey", "spec", "+1+2", T).await;
    assert_eq!(messages_for(&mut t, "spec").await, 8);
    assert_eq!(holders(&t, "spec").len(), 5);
}

#[tokio::test]
async fn echo_also_answers_the_sender_and_gossip_sends_to_fewer() {
    let mut t = common::start_with("cs131", |c| c.seed = 3).await;
    t.control("policy echo").await;
    t.iamat("Bailey", "echo", "+1+2", T).await;
    // Every server sends to every neighbour once: the sum of the degrees.
    assert_eq!(messages_for(&mut t, "echo").await, 12);
    assert_eq!(holders(&t, "echo").len(), 5);

    t.control("policy gossip fanout=1").await;
    t.iamat("Bailey", "gossip", "+1+2", T).await;
    let sent = messages_for(&mut t, "gossip").await;
    let knows = holders(&t, "gossip").len();
    assert_eq!(sent, knows, "one message per server that stored it (each forwards to one)");
}

#[tokio::test]
async fn anti_entropy_brings_a_restarted_server_up_to_date() {
    let mut t = common::start("cs131").await;
    t.control("kill Bona").await;
    let missed = t.iamat("Bailey", "missed", "+1+2", T).await;
    t.wait_line_at(&["Bailey", "Campbell", "Clark", "Jaquez"], "missed", &missed).await;
    t.control("restart Bona").await;
    let born = t.iamat("Jaquez", "born", "+1+2", T).await;
    t.wait_line_at(&HERD, "born", &born).await;
    assert!(!t.knows(t.id("Bona"), "missed"), "a restarted server is born empty");
    let on = t.control("anti-entropy every=50ms").await;
    assert_eq!(on, Applied::changed("anti-entropy every 50ms (off-spec repair)"));
    t.wait_line_at(&["Bona"], "missed", &missed).await;
    t.control("anti-entropy off").await;
}

#[tokio::test]
async fn anti_entropy_repairs_a_healed_partition() {
    let mut t = common::start("cs131").await;
    t.control("partition Bailey / Bona").await;
    let inside = t.iamat("Bailey", "inside", "+1+2", T).await;
    dropped(&mut t, "inside", "Bailey", "Bona").await;
    let outside = t.iamat("Clark", "outside", "+1+2", T).await;
    t.wait_line_at(&["Bona", "Campbell", "Clark", "Jaquez"], "outside", &outside).await;
    t.control("heal all").await;
    t.control("anti-entropy every=50ms").await;
    t.wait_line_at(&HERD, "inside", &inside).await;
    t.wait_line_at(&HERD, "outside", &outside).await;
}

#[tokio::test]
async fn a_digest_is_not_a_command_while_anti_entropy_is_off() {
    let t = common::start("cs131").await;
    let line = "DIGEST Bona 1 kiwi 5.5\n";
    assert_eq!(t.grading("Bailey", line).await, format!("? {line}"));
}

#[tokio::test]
async fn events_are_numbered_without_gaps_timed_and_written_out_and_back() {
    let mut t = common::start("cs131").await;
    let mut watcher = t.herd.events();
    t.control("loss Bona->Clark 100%").await;
    t.control("dup Bailey->Campbell 100%").await;
    t.control("delay Campbell->Jaquez 5ms").await;
    t.iamat("Bailey", "kiwi", "+1+2", T).await;
    t.iamat("Bailey", "kiwi", "+1+2", "1621464828.5").await;
    t.settle(Duration::from_millis(200)).await;
    let mut seen = Vec::new();
    while let Ok(event) = watcher.try_recv() {
        seen.push(event);
    }
    assert!(seen.len() > 30, "{} events", seen.len());
    for pair in seen.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "{pair:?}");
        assert!(pair[1].t_ns >= pair[0].t_ns, "{pair:?}");
    }
    for event in &seen {
        let json = serde_json::to_string(event).unwrap();
        let back: herdctl::herd::HerdEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, event, "{json}");
    }
    // Two floods of the same client are two updates.
    let updates: std::collections::HashSet<String> = seen
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LocationStored { update, .. } => Some(update.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(updates.len(), 2, "{updates:?}");
    let kinds: Vec<&str> = seen
        .iter()
        .map(|e| match &e.kind {
            EventKind::FloodDuplicated { .. } => "dup",
            EventKind::FloodDropped { .. } => "drop",
            EventKind::FloodQueued { delay_ns, .. } if *delay_ns > 0 => "delay",
            EventKind::Controlled { .. } => "control",
            _ => "",
        })
        .collect();
    for kind in ["dup", "drop", "delay", "control"] {
        assert!(kinds.contains(&kind), "no {kind} event");
    }
}

#[tokio::test]
async fn reset_clears_every_fault_and_says_when_there_was_none() {
    let t = common::start_with("line:3", |c| c.link_delay = Duration::from_millis(50)).await;
    let reset = t.control("reset").await;
    assert!(matches!(reset, Applied::Changed { .. }), "the herd-wide delay is a fault: {reset:?}");
    assert_eq!(t.herd.link_delay(), Duration::ZERO);
    t.control("cut S1->S2 for 1h").await;
    t.control("hang S3").await;
    t.control("pause").await;
    let reset = t.control("reset").await.text();
    assert!(reset.contains("unhung S3") && reset.contains("resumed"), "{reset}");
    let Applied::Faults { faults } = t.control("faults").await else { panic!() };
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(
        t.control("reset").await,
        Applied::unchanged("nothing to reset: no faults, not paused")
    );
}

#[tokio::test]
async fn a_healed_timed_fault_announces_nothing_when_its_time_comes() {
    let mut t = common::start("line:3").await;
    t.control("cut S1->S2 for 100ms").await;
    t.control("heal S1->S2").await;
    t.control("loss S2->S3 20%").await;
    t.control("cut S1->S2 for 300ms").await;
    // The one expiry announced is the second cut's, and the loss is still in force.
    let expired = t.wait_for("an expiry", |e| matches!(e, EventKind::FaultExpired { .. })).await;
    assert!(
        matches!(expired, EventKind::FaultExpired { label } if &*label == "cut S1->S2 for 300ms")
    );
    let Applied::Faults { faults } = t.control("faults").await else { panic!() };
    let labels: Vec<&str> = faults.iter().map(|f| f.label.as_str()).collect();
    assert_eq!(labels, ["loss S2->S3 20%"]);
}

#[tokio::test]
async fn anti_entropy_repairs_what_a_lossy_link_lost() {
    let mut t = common::start_with("line:2", |c| c.seed = 11).await;
    t.control("loss S1->S2 50%").await;
    let mut lines = Vec::new();
    for i in 0..20 {
        lines.push(t.iamat("S1", &format!("c{i}"), "+1+2", T).await);
    }
    // The loss is decided before each reply: these reports can reach S2 only by repair.
    let Applied::Faults { faults } = t.control("faults").await else { panic!() };
    assert!(faults[0].dropped > 0, "the lossy link lost nothing: {faults:?}");
    t.control("anti-entropy every=20ms").await;
    for (i, line) in lines.iter().enumerate() {
        t.wait_line_at(&["S2"], &format!("c{i}"), line).await;
    }
}
