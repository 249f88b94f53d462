//! Faults (protocol.md §4, §5): killed and restarted servers, neighbours down, cut and healed
//! links. Who learns a report is checked in the servers' tables after the herd has settled.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestHerd, at_fields, split_whatsat};
use herdctl::herd::EventKind;
use tokio::net::TcpStream;

const HERD: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
const HERD_2019: [&str; 5] = ["Goloman", "Hands", "Holiday", "Welsh", "Wilkes"];
const QUIET: Duration = Duration::from_millis(200);

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Checks that exactly `expected` (in topology order) hold a report for `client`, after the
/// herd has had every chance to spread it further.
async fn assert_holders(t: &mut TestHerd, client: &str, expected: &[&str]) {
    t.settle(QUIET).await;
    assert_eq!(t.holders(client), names(expected), "who knows {client}");
}

async fn assert_refused(t: &TestHerd, name: &str) {
    let refused = TcpStream::connect(t.addr(name)).await;
    assert!(refused.is_err(), "{name} still accepts connections");
}

#[tokio::test]
async fn a_killed_server_refuses_connections_and_the_rest_keep_flooding() {
    let mut t = common::start("cs131").await;
    t.control("kill Clark").await;
    assert_refused(&t, "Clark").await;
    let reply = t.iamat("Bailey", "while-down", "+1+2", "1621464827.5").await;
    assert_eq!(at_fields(&reply)[1], "Bailey");
    t.wait_line_at(&["Bailey", "Bona", "Campbell", "Jaquez"], "while-down", &reply).await;
    // Clark's neighbours answer as usual.
    for server in ["Bona", "Jaquez"] {
        let answer = t.grading(server, "WHATSAT while-down 10 2\n").await;
        assert_eq!(split_whatsat(&answer).0, reply);
        let mine = t.iamat(server, "neighbour", "+1+2", "1621464827.5").await;
        assert_eq!(at_fields(&mine)[1], server);
    }
    assert_holders(&mut t, "while-down", &["Bailey", "Bona", "Campbell", "Jaquez"]).await;
}

#[tokio::test]
async fn a_restarted_server_starts_empty_and_learns_new_reports() {
    let mut t = common::start("cs131").await;
    let old = t.iamat("Bailey", "old", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "old", &old).await;
    t.control("kill Clark").await;
    assert_refused(&t, "Clark").await;
    t.control("restart Clark").await;
    // The grading client floods through a restarted server right away.
    let through = t.iamat("Clark", "through", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "through", &through).await;
    // Old reports are not replayed to it.
    assert_holders(&mut t, "old", &["Bailey", "Bona", "Campbell", "Jaquez"]).await;
    assert_eq!(t.grading("Clark", "WHATSAT old 10 5\n").await, "? WHATSAT old 10 5\n");
    // New reports reach it, from a neighbour and from afar, new clients and old ones.
    let fresh = t.iamat("Bailey", "fresh", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "fresh", &fresh).await;
    let newer = t.iamat("Jaquez", "old", "+3+4", "1621464828.5").await;
    t.wait_line_at(&HERD, "old", &newer).await;
    let reply = t.grading("Clark", "WHATSAT old 10 5\n").await;
    assert_eq!(split_whatsat(&reply).0, newer);
}

#[tokio::test]
async fn a_restarted_neighbour_is_reached_at_once_despite_the_dead_connection() {
    // Welsh talks only with Holiday: if Holiday writes a report into its dead connection to
    // the old Welsh, the new Welsh never learns it.
    let mut t = common::start("cs131-2019").await;
    for round in 0..5 {
        let before = format!("before{round}");
        let reply = t.iamat("Holiday", &before, "+1+2", "1621464827.5").await;
        t.wait_line_at(&["Welsh"], &before, &reply).await;
        t.control("kill Welsh").await;
        t.control("restart Welsh").await;
        let origin = if round % 2 == 0 { "Holiday" } else { "Hands" };
        let after = format!("after{round}");
        let reply = t.iamat(origin, &after, "+1+2", "1621464827.5").await;
        let started = Instant::now();
        t.wait_line_at(&["Welsh"], &after, &reply).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "round {round}: Welsh learned the report only after {:?}",
            started.elapsed()
        );
        assert!(!t.knows(t.id("Welsh"), &before), "round {round}: old report replayed");
    }
}

#[tokio::test]
async fn holiday_down_cuts_welsh_off_the_2019_herd() {
    let mut t = common::start("cs131-2019").await;
    t.control("kill Holiday").await;
    let split = t.iamat("Goloman", "split", "+1+2", "1621464827.5").await;
    t.wait_line_at(&["Goloman", "Hands", "Wilkes"], "split", &split).await;
    assert_holders(&mut t, "split", &["Goloman", "Hands", "Wilkes"]).await;
    assert_eq!(t.grading("Welsh", "WHATSAT split 10 5\n").await, "? WHATSAT split 10 5\n");

    t.control("restart Holiday").await;
    assert_holders(&mut t, "split", &["Goloman", "Hands", "Wilkes"]).await;
    let whole = t.iamat("Goloman", "whole", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD_2019, "whole", &whole).await;
    let from_welsh = t.iamat("Welsh", "from-welsh", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD_2019, "from-welsh", &from_welsh).await;
}

#[tokio::test]
async fn with_two_servers_down_exactly_the_right_servers_learn() {
    let mut t = common::start("cs131").await;
    t.control("kill Bona").await;
    t.control("kill Jaquez").await;
    // Clark's only neighbours are down.
    t.iamat("Bailey", "c1", "+1+2", "1621464827.5").await;
    assert_holders(&mut t, "c1", &["Bailey", "Campbell"]).await;
    t.iamat("Clark", "c2", "+1+2", "1621464827.5").await;
    assert_holders(&mut t, "c2", &["Clark"]).await;

    t.control("restart Bona").await;
    t.control("restart Jaquez").await;
    t.settle(QUIET).await;
    let snapshot = t.herd.snapshot();
    for name in ["Bona", "Jaquez"] {
        let server = &snapshot.servers[t.id(name)];
        assert!(server.up);
        assert!(server.clients.is_empty(), "{name} restarted with {:?}", server.clients);
    }
    assert_holders(&mut t, "c1", &["Bailey", "Campbell"]).await;
    assert_holders(&mut t, "c2", &["Clark"]).await;
    let c3 = t.iamat("Clark", "c3", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "c3", &c3).await;

    // Bailey's two neighbours down: nobody else learns.
    t.control("kill Bona").await;
    t.control("kill Campbell").await;
    t.iamat("Bailey", "c4", "+1+2", "1621464827.5").await;
    t.iamat("Jaquez", "c5", "+1+2", "1621464827.5").await;
    assert_holders(&mut t, "c4", &["Bailey"]).await;
    assert_holders(&mut t, "c5", &["Clark", "Jaquez"]).await;
}

#[tokio::test]
async fn neighbours_down_do_not_stop_a_server_serving() {
    let mut t = common::start("cs131").await;
    t.control("kill Bona").await;
    t.control("kill Campbell").await;
    let mut c = t.telnet("Bailey").await;
    let started = Instant::now();
    let mut last = String::new();
    for i in 0..10 {
        c.send(&format!("IAMAT alone{i} +1+2 1621464827.5")).await;
        last = c.line().await;
        assert_eq!(at_fields(&last)[3], format!("alone{i}"));
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "replies waited for dead neighbours: {:?}",
        started.elapsed()
    );
    c.send("WHATSAT alone9 10 2").await;
    let reply = c.whatsat_reply().await;
    assert_eq!(split_whatsat(&format!("{reply}\n")).0, last);
    t.control("restart Bona").await;
    let back = t.iamat("Bailey", "back", "+1+2", "1621464827.5").await;
    t.wait_line_at(&["Bailey", "Bona", "Clark", "Jaquez"], "back", &back).await;
}

#[tokio::test]
async fn a_cut_link_is_routed_around() {
    let mut t = common::start("cs131").await;
    let (bailey, bona) = (t.id("Bailey"), t.id("Bona"));
    t.control("cut Bailey Bona").await;
    let around = t.iamat("Bailey", "around", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "around", &around).await;
    let events = t.collect_quiet(QUIET).await;
    assert!(
        !events.iter().any(|e| matches!(e, EventKind::FloodSent { from, to, .. }
            if (*from, *to) == (bailey, bona) || (*from, *to) == (bona, bailey))),
        "a report crossed the cut link"
    );
    // Healed, and made Bona's only way in: the link carries reports again.
    t.control("heal Bailey Bona").await;
    t.control("cut Bona Campbell").await;
    t.control("cut Bona Clark").await;
    let healed = t.iamat("Bailey", "healed", "+1+2", "1621464827.5").await;
    t.wait_line_at(&["Bona"], "healed", &healed).await;
    let from_bona = t.iamat("Bona", "from-bona", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "from-bona", &from_bona).await;
}

#[tokio::test]
async fn a_server_cut_off_from_the_herd_learns_nothing_until_healed() {
    let mut t = common::start("cs131").await;
    t.control("cut Bailey Bona").await;
    t.control("cut Bailey Campbell").await;
    let c1 = t.iamat("Clark", "c1", "+1+2", "1621464827.5").await;
    t.wait_line_at(&["Bona", "Campbell", "Clark", "Jaquez"], "c1", &c1).await;
    assert_holders(&mut t, "c1", &["Bona", "Campbell", "Clark", "Jaquez"]).await;
    // An unknown client on the isolated server is answered `? `, the grading client's way
    // and telnet's way.
    assert_eq!(t.grading("Bailey", "WHATSAT c1 10 5\n").await, "? WHATSAT c1 10 5\n");
    let mut c = t.telnet("Bailey").await;
    c.send("WHATSAT c1 10 5").await;
    assert_eq!(c.line().await, "? WHATSAT c1 10 5");
    c.send("IAMAT c2 +1+2 1621464827.5").await;
    assert_eq!(at_fields(&c.line().await)[3], "c2");
    assert_holders(&mut t, "c2", &["Bailey"]).await;

    t.control("heal Bailey Bona").await;
    t.control("heal Bailey Campbell").await;
    let c3 = t.iamat("Clark", "c3", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "c3", &c3).await;
    let c4 = t.iamat("Bailey", "c4", "+1+2", "1621464827.5").await;
    t.wait_line_at(&HERD, "c4", &c4).await;
}
