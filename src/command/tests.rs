//! The grammar against the cs131 herd: Bailey–Bona, Bailey–Campbell, Bona–Campbell,
//! Bona–Clark, Campbell–Jaquez, Clark–Jaquez.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::herd::control::{fmt_duration as format_duration, fmt_rate as format_rate};

const BAILEY: ServerId = 0;
const BONA: ServerId = 1;
const CAMPBELL: ServerId = 2;
const CLARK: ServerId = 3;
const JAQUEZ: ServerId = 4;

/// The cs131 herd, with three known clients.
fn herd() -> Context {
    let topology = Topology::load("cs131", 12401).unwrap();
    let mut context = Context::new(&topology);
    context.clients = ["kiwi.cs.ucla.edu", "apple", "avocado"].map(str::to_owned).to_vec();
    context
}

fn names() -> Vec<String> {
    herd().servers
}

fn ok(input: &str) -> Command {
    parse(input, &herd()).unwrap_or_else(|e| panic!("{input:?} refused: {}", e.message))
}

fn err(input: &str) -> CommandError {
    match parse(input, &herd()) {
        Ok(command) => panic!("{input:?} accepted as {command:?}"),
        Err(e) => e,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn one(from: ServerId, to: ServerId) -> Vec<Directed> {
    vec![Directed::new(from, to)]
}

fn both(a: ServerId, b: ServerId) -> Vec<Directed> {
    vec![Directed::new(a, b), Directed::new(b, a)]
}

fn iamat(server: ServerId, client: &str, coords: &str, time: Option<&str>) -> Command {
    Command::IAmAt {
        server,
        client: client.into(),
        coords: coords.into(),
        time: time.map(Into::into),
    }
}

fn whatsat(server: ServerId, client: &str, radius: &str, bound: &str) -> Command {
    Command::WhatsAt { server, client: client.into(), radius: radius.into(), bound: bound.into() }
}

fn delay(links: Links, delay: Duration, jitter: Duration, spread: Spread) -> Control {
    Control::Delay { links, delay: Delay { delay, jitter, spread }, lasting: None }
}

fn lasting(control: Control, d: Duration) -> Control {
    match control {
        Control::Delay { links, delay, .. } => Control::Delay { links, delay, lasting: Some(d) },
        other => panic!("no lasting for {other:?}"),
    }
}

fn loss(links: Vec<Directed>, rate: f64, burst: f64, lasting: Option<Duration>) -> Control {
    Control::Loss { links, loss: Loss { rate, burst }, lasting }
}

#[test]
#[allow(clippy::too_many_lines)]
fn parses_every_verb_in_every_form() {
    use Control as C;
    let h = Command::Herd;
    let s = |x: &str| x.to_owned();
    let rest = vec![CAMPBELL, CLARK, JAQUEZ];
    let cases: Vec<(&str, Command)> = vec![
        // Traffic.
        (
            "iamat Bailey kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503",
            iamat(
                BAILEY,
                "kiwi.cs.ucla.edu",
                "+34.068930-118.445127",
                Some("1621464827.959498503"),
            ),
        ),
        ("iamat Bailey kiwi +34.07-118.44", iamat(BAILEY, "kiwi", "+34.07-118.44", None)),
        (
            "IAMAT bailey new.client 34.07,-118.44",
            iamat(BAILEY, "new.client", "+34.07-118.44", None),
        ),
        ("iamat Bona kiwi +34.07,-118.44 12", iamat(BONA, "kiwi", "+34.07-118.44", Some("12"))),
        ("iamat Bona kiwi -1.5,2 12", iamat(BONA, "kiwi", "-1.5+2", Some("12"))),
        ("iamat Bona kiwi 90,180", iamat(BONA, "kiwi", "+90+180", None)),
        ("  iamat\tClark   kiwi  +12-118  ", iamat(CLARK, "kiwi", "+12-118", None)),
        ("iamat Bona for +1+1", iamat(BONA, "for", "+1+1", None)),
        ("whatsat Bona kiwi.cs.ucla.edu 10 5", whatsat(BONA, "kiwi.cs.ucla.edu", "10", "5")),
        ("WhatsAt jaquez nobody.knows 50 20", whatsat(JAQUEZ, "nobody.knows", "50", "20")),
        ("whatsat Bona kiwi 0.5 1", whatsat(BONA, "kiwi", "0.5", "1")),
        (
            "send Clark IAMAT  kiwi   +91+0 1",
            Command::Send { server: CLARK, line: s("IAMAT  kiwi   +91+0 1") },
        ),
        (
            "send Clark   two leading spaces kept ",
            Command::Send { server: CLARK, line: s("  two leading spaces kept ") },
        ),
        ("send Clark\tAT\tx", Command::Send { server: CLARK, line: s("AT\tx") }),
        ("send Clark x for 5s", Command::Send { server: CLARK, line: s("x for 5s") }),
        // cut: the three link forms, any case, with and without for.
        ("cut Bona->Clark", h(C::Cut { links: one(BONA, CLARK), lasting: None })),
        ("cut clark->BONA", h(C::Cut { links: one(CLARK, BONA), lasting: None })),
        ("cut Bona<->Clark", h(C::Cut { links: both(BONA, CLARK), lasting: None })),
        ("cut Clark<->Bona", h(C::Cut { links: both(CLARK, BONA), lasting: None })),
        ("cut Bailey Bona", h(C::Cut { links: both(BAILEY, BONA), lasting: None })),
        ("CUT bona bailey", h(C::Cut { links: both(BONA, BAILEY), lasting: None })),
        ("cut Bona->Clark for 5s", h(C::Cut { links: one(BONA, CLARK), lasting: Some(secs(5)) })),
        (
            "cut Bona Clark FOR 300ms",
            h(C::Cut { links: both(BONA, CLARK), lasting: Some(ms(300)) }),
        ),
        (
            "cut Bona Clark for 1h",
            h(C::Cut { links: both(BONA, CLARK), lasting: Some(secs(3600)) }),
        ),
        (
            "cut Bona Clark for 1m30s",
            h(C::Cut { links: both(BONA, CLARK), lasting: Some(secs(90)) }),
        ),
        // heal.
        ("heal Clark Jaquez", h(C::Heal { links: both(CLARK, JAQUEZ) })),
        ("heal Jaquez->Clark", h(C::Heal { links: one(JAQUEZ, CLARK) })),
        ("heal Jaquez<->Clark", h(C::Heal { links: both(JAQUEZ, CLARK) })),
        ("heal all", h(C::HealAll)),
        ("HEAL ALL", h(C::HealAll)),
        // partition.
        (
            "partition Bailey,Bona / Campbell,Clark,Jaquez",
            h(C::Partition { groups: vec![vec![BAILEY, BONA], rest.clone()], lasting: None }),
        ),
        (
            "partition Bailey, Bona / Clark",
            h(C::Partition { groups: vec![vec![BAILEY, BONA], rest.clone()], lasting: None }),
        ),
        (
            "partition bona ,bailey/clark",
            h(C::Partition { groups: vec![vec![BAILEY, BONA], rest.clone()], lasting: None }),
        ),
        (
            "partition Bona Bailey / Clark",
            h(C::Partition { groups: vec![vec![BAILEY, BONA], rest.clone()], lasting: None }),
        ),
        (
            "partition Bailey,Bona /",
            h(C::Partition { groups: vec![vec![BAILEY, BONA], rest.clone()], lasting: None }),
        ),
        (
            "partition Jaquez / Bailey / Clark",
            h(C::Partition {
                groups: vec![vec![JAQUEZ], vec![BAILEY], vec![BONA, CAMPBELL, CLARK]],
                lasting: None,
            }),
        ),
        (
            "partition Jaquez / Bailey / for 10s",
            h(C::Partition {
                groups: vec![vec![JAQUEZ], vec![BAILEY], vec![BONA, CAMPBELL, CLARK]],
                lasting: Some(secs(10)),
            }),
        ),
        (
            "partition Bailey,Bona / Campbell,Clark,Jaquez for 5s",
            h(C::Partition { groups: vec![vec![BAILEY, BONA], rest], lasting: Some(secs(5)) }),
        ),
        // isolate, hang, unhang, kill, restart.
        ("isolate Jaquez", h(C::Isolate { server: JAQUEZ, lasting: None })),
        ("isolate jaquez for 30s", h(C::Isolate { server: JAQUEZ, lasting: Some(secs(30)) })),
        ("hang Jaquez", h(C::Hang { server: JAQUEZ, lasting: None })),
        ("Hang Jaquez for 10s", h(C::Hang { server: JAQUEZ, lasting: Some(secs(10)) })),
        ("unhang jaquez", h(C::Unhang { server: JAQUEZ })),
        ("kill Campbell", h(C::Kill { server: CAMPBELL })),
        ("restart campbell", h(C::Restart { server: CAMPBELL })),
        // delay: every target form, zero, options in any order, for.
        ("delay 300ms", h(delay(Links::All, ms(300), Duration::ZERO, Spread::Uniform))),
        ("delay 1s", h(delay(Links::All, secs(1), Duration::ZERO, Spread::Uniform))),
        ("delay 10s", h(delay(Links::All, secs(10), Duration::ZERO, Spread::Uniform))),
        ("delay 2s500ms", h(delay(Links::All, ms(2500), Duration::ZERO, Spread::Uniform))),
        ("delay 0", h(delay(Links::All, Duration::ZERO, Duration::ZERO, Spread::Uniform))),
        ("delay 0s", h(delay(Links::All, Duration::ZERO, Duration::ZERO, Spread::Uniform))),
        ("delay off", h(delay(Links::All, Duration::ZERO, Duration::ZERO, Spread::Uniform))),
        ("delay NONE", h(delay(Links::All, Duration::ZERO, Duration::ZERO, Spread::Uniform))),
        ("delay all 300ms", h(delay(Links::All, ms(300), Duration::ZERO, Spread::Uniform))),
        ("delay ALL off", h(delay(Links::All, Duration::ZERO, Duration::ZERO, Spread::Uniform))),
        (
            "delay Bona->Clark 300ms",
            h(delay(Links::Some(one(BONA, CLARK)), ms(300), Duration::ZERO, Spread::Uniform)),
        ),
        (
            "delay Bona<->Clark 300ms",
            h(delay(Links::Some(both(BONA, CLARK)), ms(300), Duration::ZERO, Spread::Uniform)),
        ),
        (
            "delay Bona Clark 300ms",
            h(delay(Links::Some(both(BONA, CLARK)), ms(300), Duration::ZERO, Spread::Uniform)),
        ),
        (
            "delay Bona->Clark 300ms jitter 50ms normal",
            h(delay(Links::Some(one(BONA, CLARK)), ms(300), ms(50), Spread::Normal)),
        ),
        (
            "delay all 300ms NORMAL jitter 50ms",
            h(delay(Links::All, ms(300), ms(50), Spread::Normal)),
        ),
        (
            "delay 300ms jitter 10s uniform",
            h(delay(Links::All, ms(300), secs(10), Spread::Uniform)),
        ),
        ("delay all 0 jitter 50ms", h(delay(Links::All, Duration::ZERO, ms(50), Spread::Uniform))),
        ("delay all 1s normal", h(delay(Links::All, secs(1), Duration::ZERO, Spread::Normal))),
        ("delay all 1s jitter off", h(delay(Links::All, secs(1), Duration::ZERO, Spread::Uniform))),
        (
            "delay Bona->Clark 300ms jitter 50ms for 5s",
            h(lasting(
                delay(Links::Some(one(BONA, CLARK)), ms(300), ms(50), Spread::Uniform),
                secs(5),
            )),
        ),
        (
            "delay 300ms for 1m",
            h(lasting(delay(Links::All, ms(300), Duration::ZERO, Spread::Uniform), secs(60))),
        ),
        // loss and dup.
        ("loss Bona->Clark 20%", h(loss(one(BONA, CLARK), 0.2, 1.0, None))),
        ("loss Bona->Clark 20% burst 3", h(loss(one(BONA, CLARK), 0.2, 3.0, None))),
        ("loss Bona Clark 0.5% BURST 2.5", h(loss(both(BONA, CLARK), 0.005, 2.5, None))),
        ("loss Bona<->Clark 100%", h(loss(both(BONA, CLARK), 1.0, 1.0, None))),
        ("loss Bona->Clark 100.000%", h(loss(one(BONA, CLARK), 1.0, 1.0, None))),
        ("loss Bona->Clark 0%", h(loss(one(BONA, CLARK), 0.0, 1.0, None))),
        ("loss Bona->Clark 007%", h(loss(one(BONA, CLARK), 0.07, 1.0, None))),
        ("loss Bona->Clark 12.5%", h(loss(one(BONA, CLARK), 0.125, 1.0, None))),
        ("loss Bona->Clark 20% burst 1000", h(loss(one(BONA, CLARK), 0.2, 1000.0, None))),
        ("loss Bona->Clark 20% burst 3 for 5s", h(loss(one(BONA, CLARK), 0.2, 3.0, Some(secs(5))))),
        ("dup Bona<->Clark 10%", h(C::Dup { links: both(BONA, CLARK), rate: 0.1, lasting: None })),
        (
            "dup clark->jaquez 100% for 2s",
            h(C::Dup { links: one(CLARK, JAQUEZ), rate: 1.0, lasting: Some(secs(2)) }),
        ),
        // The herd's other verbs.
        ("reset", h(C::Reset)),
        ("faults", h(C::Faults)),
        ("pause", h(C::Pause)),
        ("Resume", h(C::Resume)),
        ("step", h(C::Step)),
        ("policy spec", h(C::Policy { policy: Policy::Spec })),
        ("policy ECHO", h(C::Policy { policy: Policy::Echo })),
        ("policy storm", h(C::Policy { policy: Policy::Storm { ttl: Policy::DEFAULT_TTL } })),
        ("policy storm ttl=0", h(C::Policy { policy: Policy::Storm { ttl: 0 } })),
        ("policy Storm TTL=64", h(C::Policy { policy: Policy::Storm { ttl: 64 } })),
        ("policy gossip fanout=1", h(C::Policy { policy: Policy::Gossip { fanout: 1 } })),
        ("policy gossip fanout=3", h(C::Policy { policy: Policy::Gossip { fanout: 3 } })),
        ("anti-entropy every=5s", h(C::AntiEntropy { every: Some(secs(5)) })),
        ("Anti-Entropy EVERY=1h", h(C::AntiEntropy { every: Some(secs(3600)) })),
        ("anti-entropy every=250ms", h(C::AntiEntropy { every: Some(ms(250)) })),
        ("anti-entropy off", h(C::AntiEntropy { every: None })),
        // The console.
        ("filter", Command::Filter(None)),
        ("filter all", Command::Filter(None)),
        ("filter jaquez", Command::Filter(Some(JAQUEZ))),
        ("help", Command::Help(None)),
        ("help IAMAT", Command::Help(Some(s("iamat")))),
        ("help q", Command::Help(Some(s("quit")))),
        ("help anti-entropy", Command::Help(Some(s("anti-entropy")))),
        ("quit", Command::Quit),
        ("q", Command::Quit),
        ("EXIT", Command::Quit),
    ];
    for (input, expected) in cases {
        assert_eq!(ok(input), expected, "{input:?}");
    }
}

#[test]
#[allow(clippy::too_many_lines)]
fn refuses_with_exact_messages_and_usage() {
    const SERVERS: &str = "(servers: Bailey, Bona, Campbell, Clark, Jaquez)";
    const NO_FOR: &str = "only faults last (cut, partition, isolate, delay, loss, dup, hang)";
    let iamat = Some("iamat SERVER CLIENT COORDS [TIME]");
    let whatsat = Some("whatsat SERVER CLIENT RADIUS BOUND");
    let send = Some("send SERVER RAW-LINE");
    let cut = Some("cut LINK [for DURATION]");
    let heal = Some("heal LINK | heal all");
    let partition = Some("partition GROUPS [for DURATION]");
    let delay = Some(spec("delay").unwrap().usage);
    let loss = Some("loss LINK RATE [burst N] [for DURATION]");
    let dup = Some("dup LINK RATE [for DURATION]");
    let policy = Some("policy spec | storm [ttl=N] | echo | gossip fanout=K");
    let anti_entropy = Some("anti-entropy every=DURATION | anti-entropy off");
    let coords = |text: &str, why: &str| format!("bad coordinates {text:?}: {why}");
    let form = "expected +LAT-LNG or LAT,LNG such as +34.07-118.44";
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        // The verb.
        ("", "empty command: try help".into(), None),
        ("   ", "empty command: try help".into(), None),
        ("foo", "unknown command \"foo\": try help".into(), None),
        ("iamt", "unknown command \"iamt\"; did you mean iamat?".into(), None),
        ("cutt Bona Clark", "unknown command \"cutt\"; did you mean cut?".into(), None),
        ("help nothing", "unknown command \"nothing\": try help".into(), None),
        (
            "help iamat whatsat",
            "too many arguments: \"whatsat\" is one too many".into(),
            Some("help [COMMAND]"),
        ),
        // iamat.
        ("iamat", "missing SERVER".into(), iamat),
        ("iamat Bailey", "missing CLIENT".into(), iamat),
        ("iamat Bailey kiwi", "missing COORDS".into(), iamat),
        (
            "iamat Bailey kiwi +91-118",
            coords("+91-118", "latitude must be within [-90, 90]"),
            iamat,
        ),
        (
            "iamat Bailey kiwi 91,-118",
            coords("91,-118", "latitude must be within [-90, 90]"),
            iamat,
        ),
        (
            "iamat Bailey kiwi +34-181",
            coords("+34-181", "longitude must be within [-180, 180]"),
            iamat,
        ),
        (
            "iamat Bailey kiwi 34,181.5",
            coords("34,181.5", "longitude must be within [-180, 180]"),
            iamat,
        ),
        ("iamat Bailey kiwi 34.07-118.44", coords("34.07-118.44", form), iamat),
        ("iamat Bailey kiwi abc", coords("abc", form), iamat),
        (
            "iamat Bailey kiwi 34.07,",
            coords("34.07,", "no space after the comma: write 34.07,-118.44"),
            iamat,
        ),
        ("iamat Bailey kiwi 34.07,-118.44,1", coords("34.07,-118.44,1", form), iamat),
        ("iamat Bailey kiwi +34.07,+-118", coords("+34.07,+-118", form), iamat),
        ("iamat Bailey kiwi +34.-118", coords("+34.-118", form), iamat),
        (
            "iamat Bailey kiwi +34-118 nan",
            "bad time \"nan\": expected POSIX seconds such as 1621464827.5".into(),
            iamat,
        ),
        (
            "iamat Bailey kiwi +34-118 1e9",
            "bad time \"1e9\": expected POSIX seconds such as 1621464827.5".into(),
            iamat,
        ),
        (
            "iamat Bailey ki\u{7}wi +34-118",
            "bad client \"ki\\u{7}wi\": control characters are not allowed".into(),
            iamat,
        ),
        (
            "iamat Bailey kiwi +34-118 12 extra",
            "too many arguments: \"extra\" is one too many".into(),
            iamat,
        ),
        ("iamat Clerk kiwi +1+1", "no server \"Clerk\"; did you mean Clark?".into(), iamat),
        // whatsat.
        ("whatsat Bona kiwi", "missing RADIUS".into(), whatsat),
        ("whatsat Bona kiwi 10", "missing BOUND".into(), whatsat),
        ("whatsat Bona kiwi 60 5", "radius \"60\" is over 50 km".into(), whatsat),
        ("whatsat Bona kiwi 50.001 5", "radius \"50.001\" is over 50 km".into(), whatsat),
        ("whatsat Bona kiwi 0 5", "radius \"0\" must be over 0 km".into(), whatsat),
        ("whatsat Bona kiwi 0.000 5", "radius \"0.000\" must be over 0 km".into(), whatsat),
        ("whatsat Bona kiwi -3 5", "radius \"-3\" must be over 0 km".into(), whatsat),
        (
            "whatsat Bona kiwi ten 5",
            "bad radius \"ten\": expected km as a decimal, 0 < radius <= 50".into(),
            whatsat,
        ),
        ("whatsat Bona kiwi 10 0", "bound must be 1..=20, got \"0\"".into(), whatsat),
        ("whatsat Bona kiwi 10 21", "bound must be 1..=20, got \"21\"".into(), whatsat),
        ("whatsat Bona kiwi 10 2.5", "bound must be 1..=20, got \"2.5\"".into(), whatsat),
        ("whatsat Bona kiwi 10 5 6", "too many arguments: \"6\" is one too many".into(), whatsat),
        // send.
        ("send", "missing SERVER".into(), send),
        ("send Bona", "missing RAW-LINE".into(), send),
        ("send Bona ", "missing RAW-LINE".into(), send),
        ("send Nope IAMAT", format!("no server \"Nope\" {SERVERS}"), send),
        // Servers.
        ("kill", "missing SERVER".into(), Some("kill SERVER")),
        ("kill Bailee", "no server \"Bailee\"; did you mean Bailey?".into(), Some("kill SERVER")),
        ("restart Zzzzzzz", format!("no server \"Zzzzzzz\" {SERVERS}"), Some("restart SERVER")),
        (
            "kill Bona Clark",
            "too many arguments: \"Clark\" is one too many".into(),
            Some("kill SERVER"),
        ),
        ("unhang", "missing SERVER".into(), Some("unhang SERVER")),
        ("hang", "missing SERVER".into(), Some("hang SERVER [for DURATION]")),
        ("isolate", "missing SERVER".into(), Some("isolate SERVER [for DURATION]")),
        (
            "isolate Bona Clark",
            "too many arguments: \"Clark\" is one too many".into(),
            Some("isolate SERVER [for DURATION]"),
        ),
        // Links.
        ("cut", "missing LINK".into(), cut),
        ("cut Bailey", "missing B, a neighbour of Bailey (Bona, Campbell)".into(), cut),
        (
            "cut Bailey Clark",
            "not neighbours: Bailey and Clark (Bailey talks with Bona, Campbell)".into(),
            cut,
        ),
        (
            "cut Bailey Bailey",
            "not neighbours: Bailey and Bailey (Bailey talks with Bona, Campbell)".into(),
            cut,
        ),
        (
            "cut Bona->Bona",
            "Bona->Bona is not a link (Bona talks with Bailey, Campbell, Clark)".into(),
            cut,
        ),
        (
            "cut bailey<->JAQUEZ",
            "Bailey<->Jaquez is not a link (Bailey talks with Bona, Campbell)".into(),
            cut,
        ),
        (
            "cut Bona->",
            "bad link \"Bona->\": expected A->B or A<->B, one word with no spaces".into(),
            cut,
        ),
        (
            "cut ->Clark",
            "bad link \"->Clark\": expected A->B or A<->B, one word with no spaces".into(),
            cut,
        ),
        (
            "cut Bona ->Clark",
            "bad link \"->Clark\": expected A->B or A<->B, one word with no spaces".into(),
            cut,
        ),
        (
            "cut Bona -> Clark",
            "bad link \"->\": expected A->B or A<->B, one word with no spaces".into(),
            cut,
        ),
        (
            "cut Bona->Clark->Jaquez",
            "bad link \"Bona->Clark->Jaquez\": expected A->B or A<->B, one word with no spaces"
                .into(),
            cut,
        ),
        (
            "cut Bona<-Clark",
            "no server \"Bona<-Clark\" (servers: Bailey, Bona, Campbell, Clark, Jaquez)".into(),
            cut,
        ),
        ("cut Bona->Zed", format!("no server \"Zed\" {SERVERS}"), cut),
        ("cut Bona Clak", "no server \"Clak\"; did you mean Clark?".into(), cut),
        ("cut Bailey Bona Clark", "too many arguments: \"Clark\" is one too many".into(), cut),
        ("heal", "missing LINK".into(), heal),
        (
            "heal Bailey Jaquez",
            "not neighbours: Bailey and Jaquez (Bailey talks with Bona, Campbell)".into(),
            heal,
        ),
        ("heal all now", "too many arguments: \"now\" is one too many".into(), heal),
        // for.
        ("cut Bona->Clark for", "missing DURATION after for".into(), cut),
        ("cut Bona->Clark for 0s", "duration \"0s\" must be over 0".into(), cut),
        ("cut Bona->Clark for 0", "duration \"0\" must be over 0".into(), cut),
        ("cut Bona->Clark for 2h", "duration \"2h\" is over the 1h limit".into(), cut),
        ("cut Bona->Clark for 1h1ns", "duration \"1h1ns\" is over the 1h limit".into(), cut),
        (
            "cut Bona->Clark for soon",
            "bad duration \"soon\": expected a duration such as 5s or 2m".into(),
            cut,
        ),
        (
            "cut Bona->Clark for off",
            "bad duration \"off\": expected a duration such as 5s or 2m".into(),
            cut,
        ),
        (
            "cut Bona->Clark for 5s now",
            "too many arguments: \"now\" after \"for 5s\" (for comes last)".into(),
            cut,
        ),
        (
            "hang Bona for 5s for 5s",
            "too many arguments: \"for\" after \"for 5s\" (for comes last)".into(),
            Some("hang SERVER [for DURATION]"),
        ),
        (
            "kill Bona for 5s",
            "kill takes no \"for\": for applies to every fault but kill".into(),
            Some("kill SERVER"),
        ),
        (
            "restart Bona for 5s",
            format!("restart takes no \"for\": {NO_FOR}"),
            Some("restart SERVER"),
        ),
        ("unhang Bona for 5s", format!("unhang takes no \"for\": {NO_FOR}"), Some("unhang SERVER")),
        ("heal Bona->Clark for 5s", format!("heal takes no \"for\": {NO_FOR}"), heal),
        ("heal all for 5s", format!("heal takes no \"for\": {NO_FOR}"), heal),
        ("reset for 5s", format!("reset takes no \"for\": {NO_FOR}"), Some("reset")),
        ("faults for 5s", format!("faults takes no \"for\": {NO_FOR}"), Some("faults")),
        ("pause for 5s", format!("pause takes no \"for\": {NO_FOR}"), Some("pause")),
        ("step for", format!("step takes no \"for\": {NO_FOR}"), Some("step")),
        ("resume for 1s", format!("resume takes no \"for\": {NO_FOR}"), Some("resume")),
        ("policy echo for 5s", format!("policy takes no \"for\": {NO_FOR}"), policy),
        (
            "anti-entropy every=1s for 5s",
            format!("anti-entropy takes no \"for\": {NO_FOR}"),
            anti_entropy,
        ),
        // partition.
        ("partition", "missing GROUPS".into(), partition),
        ("partition for 5s", "missing GROUPS".into(), partition),
        (
            "partition Bona",
            "fewer than two groups: separate them with /, as in partition Bailey,Bona / Clark"
                .into(),
            partition,
        ),
        (
            "partition Bailey,Bona,Campbell",
            "fewer than two groups: separate them with /, as in partition Bailey,Bona / Clark"
                .into(),
            partition,
        ),
        ("partition Bona / bona", "Bona is named twice".into(), partition),
        ("partition Bona,Bona / Clark", "Bona is named twice".into(), partition),
        ("partition / Bona", "group 1 is empty".into(), partition),
        ("partition , / Bona", "group 1 is empty".into(), partition),
        ("partition Bona // Clark", "group 2 is empty".into(), partition),
        ("partition Bona / / Clark", "group 2 is empty".into(), partition),
        ("partition Bona / /", "group 2 is empty".into(), partition),
        (
            "partition Bailey,Bona,Campbell,Clark,Jaquez /",
            "the last group is empty: every server is named before it".into(),
            partition,
        ),
        (
            "partition Bailey,Bona / Campbell,Clark,Jaquez /",
            "the last group is empty: every server is named before it".into(),
            partition,
        ),
        ("partition Bona / Zed", format!("no server \"Zed\" {SERVERS}"), partition),
        ("partition Bona / Clark for", "missing DURATION after for".into(), partition),
        // delay.
        ("delay", "missing DURATION".into(), delay),
        ("delay all", "missing DURATION".into(), delay),
        ("delay Bona->Clark", "missing DURATION".into(), delay),
        ("delay Bona Clark", "missing DURATION".into(), delay),
        ("delay for 5s", "missing DURATION".into(), delay),
        ("delay 11s", "delay \"11s\" is over the 10s limit".into(), delay),
        ("delay 1m", "delay \"1m\" is over the 10s limit".into(), delay),
        ("delay all 10s1ns", "delay \"10s1ns\" is over the 10s limit".into(), delay),
        (
            "delay -1s",
            "bad delay \"-1s\": expected a duration such as 300ms or 1s, or off".into(),
            delay,
        ),
        (
            "delay 5",
            "bad delay \"5\": expected a duration such as 300ms or 1s, or off".into(),
            delay,
        ),
        (
            "delay Bona->Clark soon",
            "bad delay \"soon\": expected a duration such as 300ms or 1s, or off".into(),
            delay,
        ),
        (
            "delay soon",
            "no server or duration \"soon\": expected LINK, all or DURATION (such as 300ms)".into(),
            delay,
        ),
        ("delay Bonx 1s", "no server \"Bonx\"; did you mean Bona?".into(), delay),
        (
            "delay Bailey Clark 1s",
            "not neighbours: Bailey and Clark (Bailey talks with Bona, Campbell)".into(),
            delay,
        ),
        (
            "delay 1s 2s",
            "unexpected \"2s\": expected jitter DURATION, normal, uniform or for DURATION".into(),
            delay,
        ),
        (
            "delay all 1s gaussian",
            "unexpected \"gaussian\": expected jitter DURATION, normal, uniform or for DURATION"
                .into(),
            delay,
        ),
        ("delay all 1s jitter", "missing DURATION after jitter".into(), delay),
        ("delay all 1s jitter 11s", "jitter \"11s\" is over the 10s limit".into(), delay),
        (
            "delay all 1s jitter x",
            "bad jitter \"x\": expected a duration such as 300ms or 1s, or off".into(),
            delay,
        ),
        ("delay all 1s jitter 1ms jitter 2ms", "jitter given twice".into(), delay),
        ("delay all 1s normal uniform", "spread given twice: normal, then uniform".into(), delay),
        ("delay all 1s for 0s", "duration \"0s\" must be over 0".into(), delay),
        // loss.
        ("loss", "missing LINK".into(), loss),
        ("loss Bona->Clark", "missing RATE".into(), loss),
        ("loss Bona->Clark 120%", "bad rate \"120%\": expected 0% to 100%".into(), loss),
        ("loss Bona->Clark 100.5%", "bad rate \"100.5%\": expected 0% to 100%".into(), loss),
        ("loss Bona->Clark 1000%", "bad rate \"1000%\": expected 0% to 100%".into(), loss),
        ("loss Bona->Clark -5%", "bad rate \"-5%\": expected 0% to 100%".into(), loss),
        ("loss Bona->Clark 20", "bad rate \"20\": expected a percentage such as 20%".into(), loss),
        (
            "loss Bona->Clark 0.2",
            "bad rate \"0.2\": expected a percentage such as 20%".into(),
            loss,
        ),
        (
            "loss Bona->Clark abc%",
            "bad rate \"abc%\": expected a percentage such as 20%".into(),
            loss,
        ),
        (
            "loss Bona->Clark 5.%",
            "bad rate \"5.%\": expected a percentage such as 20%".into(),
            loss,
        ),
        (
            "loss Bona->Clark 1e1%",
            "bad rate \"1e1%\": expected a percentage such as 20%".into(),
            loss,
        ),
        ("loss Bona->Clark %", "bad rate \"%\": expected a percentage such as 20%".into(), loss),
        ("loss Bona->Clark 20% burst", "missing N after burst".into(), loss),
        (
            "loss Bona->Clark 20% burst 0.5",
            "bad burst \"0.5\": expected a decimal from 1 to 1000".into(),
            loss,
        ),
        (
            "loss Bona->Clark 20% burst 1000.5",
            "bad burst \"1000.5\": expected a decimal from 1 to 1000".into(),
            loss,
        ),
        (
            "loss Bona->Clark 20% burst x",
            "bad burst \"x\": expected a decimal from 1 to 1000".into(),
            loss,
        ),
        (
            "loss Bona->Clark 20% burst inf",
            "bad burst \"inf\": expected a decimal from 1 to 1000".into(),
            loss,
        ),
        ("loss Bona->Clark 20% burst 2 burst 3", "burst given twice".into(), loss),
        (
            "loss Bona->Clark 20% extra",
            "unexpected \"extra\": expected burst N or for DURATION".into(),
            loss,
        ),
        (
            "loss Bona Jaquez 20%",
            "not neighbours: Bona and Jaquez (Bona talks with Bailey, Campbell, Clark)".into(),
            loss,
        ),
        // dup.
        ("dup Bona->Clark", "missing RATE".into(), dup),
        ("dup Bona->Clark 101%", "bad rate \"101%\": expected 0% to 100%".into(), dup),
        (
            "dup Bona->Clark 10% burst 2",
            "too many arguments: \"burst\" is one too many".into(),
            dup,
        ),
        // policy.
        ("policy", "missing POLICY: spec, storm, echo or gossip".into(), policy),
        (
            "policy flood",
            "unknown policy \"flood\": expected spec, storm, echo or gossip".into(),
            policy,
        ),
        ("policy stom", "unknown policy \"stom\"; did you mean storm?".into(), policy),
        ("policy storm ttl=65", "bad ttl \"65\": expected 0 to 64".into(), policy),
        ("policy storm ttl=", "bad ttl \"\": expected 0 to 64".into(), policy),
        ("policy storm ttl=+3", "bad ttl \"+3\": expected 0 to 64".into(), policy),
        ("policy storm 5", "bad setting \"5\": storm takes ttl=N (0 to 64)".into(), policy),
        (
            "policy storm fanout=2",
            "bad setting \"fanout=2\": storm takes ttl=N (0 to 64)".into(),
            policy,
        ),
        (
            "policy storm ttl=3 ttl=4",
            "too many arguments: \"ttl=4\" is one too many".into(),
            policy,
        ),
        (
            "policy gossip",
            "missing fanout=K: gossip needs one, as in gossip fanout=2".into(),
            policy,
        ),
        ("policy gossip fanout=0", "bad fanout \"0\": expected 1 or more".into(), policy),
        ("policy gossip fanout=x", "bad fanout \"x\": expected 1 or more".into(), policy),
        ("policy gossip ttl=2", "bad setting \"ttl=2\": gossip takes fanout=K".into(), policy),
        ("policy spec ttl=3", "too many arguments: \"ttl=3\" is one too many".into(), policy),
        ("policy echo now", "too many arguments: \"now\" is one too many".into(), policy),
        // anti-entropy.
        ("anti-entropy", "missing every=DURATION or off".into(), anti_entropy),
        (
            "anti-entropy 5s",
            "bad setting \"5s\": expected every=DURATION (every=5s) or off".into(),
            anti_entropy,
        ),
        ("anti-entropy every=0s", "every \"0s\" must be over 0".into(), anti_entropy),
        ("anti-entropy every=2h", "every \"2h\" is over the 1h limit".into(), anti_entropy),
        (
            "anti-entropy every=x",
            "bad every \"x\": expected a duration such as 5s or 2m".into(),
            anti_entropy,
        ),
        (
            "anti-entropy off now",
            "too many arguments: \"now\" is one too many".into(),
            anti_entropy,
        ),
        // Verbs without arguments, and the console.
        ("pause now", "too many arguments: \"now\" is one too many".into(), Some("pause")),
        ("resume x", "too many arguments: \"x\" is one too many".into(), Some("resume")),
        ("step 2", "too many arguments: \"2\" is one too many".into(), Some("step")),
        ("reset all", "too many arguments: \"all\" is one too many".into(), Some("reset")),
        ("faults x", "too many arguments: \"x\" is one too many".into(), Some("faults")),
        ("quit now", "too many arguments: \"now\" is one too many".into(), Some("quit")),
        ("filter Nobody", format!("no server \"Nobody\" {SERVERS}"), Some("filter [SERVER]")),
        (
            "filter Bona Clark",
            "too many arguments: \"Clark\" is one too many".into(),
            Some("filter [SERVER]"),
        ),
        ("filter for", format!("no server \"for\" {SERVERS}"), Some("filter [SERVER]")),
    ];
    for (input, message, usage) in cases {
        let e = err(input);
        assert_eq!(e.message, message, "{input:?}");
        assert_eq!(e.usage, usage, "{input:?}");
        assert_eq!(e.to_string(), e.message);
    }
}

#[test]
fn normalises_coordinates_to_wire_form() {
    for (text, wire) in [
        ("34.07,-118.44", "+34.07-118.44"),
        ("+34.07,-118.44", "+34.07-118.44"),
        ("-34.07,118.44", "-34.07+118.44"),
        ("34.07,+118.44", "+34.07+118.44"),
        ("0,0", "+0+0"),
        ("+34.07-118.44", "+34.07-118.44"),
        ("-90+180", "-90+180"),
    ] {
        assert_eq!(normalise_coords(text).as_deref(), Ok(wire), "{text:?}");
    }
}

#[test]
fn server_names_resolve_case_insensitively_and_exactly_first() {
    let mut context = herd();
    assert_eq!(resolve_server("BONA", &context), Ok(BONA));
    context.servers.push("bona".to_owned());
    assert_eq!(resolve_server("bona", &context), Ok(5));
    assert_eq!(resolve_server("Bona", &context), Ok(BONA));
    assert_eq!(
        resolve_server("BONA", &context),
        Err("server \"BONA\" is ambiguous (Bona, bona): type it exactly".to_owned())
    );
    assert_eq!(
        resolve_server("Clar", &herd()),
        Err("no server \"Clar\"; did you mean Clark?".to_owned())
    );
    assert_eq!(
        resolve_server("X", &Context::default()),
        Err("no server \"X\" (the herd has no servers)".to_owned())
    );
}

#[test]
fn context_knows_names_and_neighbours() {
    let context = herd();
    assert_eq!(context.servers, ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"]);
    assert_eq!(context.links.len(), 6);
    assert_eq!(context.neighbours(BONA), [BAILEY, CAMPBELL, CLARK]);
    assert_eq!(context.neighbours(JAQUEZ), [CAMPBELL, CLARK]);
    assert!(context.are_neighbours(CLARK, BONA));
    assert!(!context.are_neighbours(BONA, BONA));
    assert!(!context.are_neighbours(BAILEY, JAQUEZ));
    assert_eq!(context.name(CLARK), "Clark");
    assert_eq!(context.name(9), "#9");
    assert!(Context::new(&Topology::load("cs131", 12401).unwrap()).clients.is_empty());
    let lonely = Context { servers: vec!["Solo".into(), "Other".into()], ..Context::default() };
    assert_eq!(
        parse("cut Solo", &lonely).unwrap_err().message,
        "missing B: Solo has no neighbours"
    );
    assert_eq!(
        parse("cut Solo->Other", &lonely).unwrap_err().message,
        "Solo->Other is not a link (Solo has none)"
    );
}

#[test]
fn edit_distance_and_suggestions() {
    for (a, b, d) in [
        ("", "", 0),
        ("bailey", "bailee", 1),
        ("kitten", "sitting", 3),
        ("", "abc", 3),
        ("ab", "ba", 2),
    ] {
        assert_eq!(edit_distance(a, b), d, "{a} {b}");
    }
    let names = ["Bona", "Bone", "Clark"];
    assert_eq!(suggestion("bonx", names.into_iter()).as_deref(), Some("Bona or Bone"));
    assert_eq!(suggestion("zzzzzz", names.into_iter()), None);
}

#[test]
fn console_only_is_filter_help_and_quit() {
    for (input, console) in [
        ("filter", true),
        ("help", true),
        ("quit", true),
        ("iamat Bona kiwi +1+1", false),
        ("whatsat Bona kiwi 1 1", false),
        ("send Bona x", false),
        ("cut Bona Clark", false),
        ("faults", false),
    ] {
        assert_eq!(ok(input).console_only(), console, "{input:?}");
    }
}

#[test]
fn every_command_has_a_spec_help_and_working_example() {
    let verbs = [
        "iamat",
        "whatsat",
        "send",
        "cut",
        "partition",
        "isolate",
        "delay",
        "loss",
        "dup",
        "hang",
        "heal",
        "unhang",
        "kill",
        "restart",
        "reset",
        "faults",
        "pause",
        "step",
        "resume",
        "policy",
        "anti-entropy",
        "why",
        "status",
        "filter",
        "help",
        "quit",
    ];
    assert_eq!(COMMANDS.iter().map(|s| s.name).collect::<Vec<_>>(), verbs);
    for verb in verbs {
        let found = spec(verb).unwrap();
        assert!(found.usage.starts_with(verb), "{verb}");
        assert!(found.example.starts_with(verb), "{verb}");
        assert_eq!(found.kind == Kind::Fault, found.usage.ends_with("[for DURATION]"), "{verb}");
        let lines = help(Some(&verb.to_uppercase())).unwrap();
        assert_eq!(lines[0], found.usage);
        assert_eq!(lines.last().unwrap(), &format!("  example: {}", found.example));
        for arg in found.args {
            for note in arg.notes() {
                assert!(lines.contains(&format!("  {note}")), "{verb}: {note}");
            }
        }
        assert_eq!(lines.contains(&format!("  {FOR_NOTE}")), found.kind == Kind::Fault, "{verb}");
        let command = parse(found.example, &herd()).unwrap();
        assert_eq!(command.console_only(), found.kind == Kind::Console, "{verb}");
        assert_eq!(
            matches!(command, Command::Herd(_) | Command::Why { .. } | Command::Status),
            matches!(found.kind, Kind::Fault | Kind::Herd)
        );
    }
    let all = help(None).unwrap();
    for spec in COMMANDS {
        let column = format!("{}  ", spec.usage);
        let at = all.iter().position(|l| *l == spec.usage || l.starts_with(&column)).unwrap();
        assert!(all[at].ends_with(spec.summary) || all[at + 1].ends_with(spec.summary));
    }
    assert_eq!(all[0], "traffic:");
    assert!(all.iter().all(|line| line.len() <= 120), "{all:#?}");
    assert_eq!(all.last().unwrap(), "help COMMAND shows details and an example");
    assert!(help(Some("q")).unwrap().contains(&"  also: q, exit".to_owned()));
    let unknown = help(Some("wat")).unwrap_err();
    assert_eq!(unknown.message, "unknown command \"wat\": try help");
    assert_eq!(unknown.usage, None);
}

/// A line of the render table: the control and its canonical line.
fn render_cases() -> Vec<(Control, &'static str)> {
    use Control as C;
    let groups = vec![vec![BAILEY, BONA], vec![CAMPBELL, CLARK, JAQUEZ]];
    vec![
        (C::Kill { server: CAMPBELL }, "kill Campbell"),
        (C::Restart { server: CAMPBELL }, "restart Campbell"),
        (C::Hang { server: JAQUEZ, lasting: None }, "hang Jaquez"),
        (C::Hang { server: JAQUEZ, lasting: Some(secs(10)) }, "hang Jaquez for 10s"),
        (C::Unhang { server: JAQUEZ }, "unhang Jaquez"),
        (C::Cut { links: one(BONA, CLARK), lasting: Some(secs(5)) }, "cut Bona->Clark for 5s"),
        (C::Cut { links: both(CLARK, BONA), lasting: None }, "cut Clark<->Bona"),
        (C::Heal { links: one(BONA, CLARK) }, "heal Bona->Clark"),
        (C::Heal { links: both(BONA, CLARK) }, "heal Bona<->Clark"),
        (C::HealAll, "heal all"),
        (
            C::Partition { groups: groups.clone(), lasting: None },
            "partition Bailey,Bona / Campbell,Clark,Jaquez",
        ),
        (
            C::Partition {
                groups: vec![vec![JAQUEZ], vec![BAILEY], vec![BONA, CAMPBELL, CLARK]],
                lasting: Some(ms(1500)),
            },
            "partition Jaquez / Bailey / Bona,Campbell,Clark for 1s500ms",
        ),
        (C::Isolate { server: BONA, lasting: Some(secs(3600)) }, "isolate Bona for 1h"),
        (delay(Links::All, ms(300), Duration::ZERO, Spread::Uniform), "delay all 300ms"),
        (delay(Links::All, Duration::ZERO, Duration::ZERO, Spread::Uniform), "delay all off"),
        (delay(Links::All, Duration::ZERO, ms(50), Spread::Uniform), "delay all 0 jitter 50ms"),
        (delay(Links::All, secs(1), Duration::ZERO, Spread::Normal), "delay all 1s normal"),
        (
            lasting(
                delay(Links::Some(one(BONA, CLARK)), ms(300), ms(50), Spread::Normal),
                secs(90),
            ),
            "delay Bona->Clark 300ms jitter 50ms normal for 1m30s",
        ),
        (
            delay(
                Links::Some(both(BONA, CLARK)),
                Duration::new(1, 2_003_004),
                ms(1),
                Spread::Uniform,
            ),
            "delay Bona<->Clark 1s2ms3us4ns jitter 1ms",
        ),
        (loss(one(BONA, CLARK), 0.2, 3.0, None), "loss Bona->Clark 20% burst 3"),
        (loss(one(BONA, CLARK), 0.2, 1.0, None), "loss Bona->Clark 20%"),
        (
            loss(both(BONA, CLARK), 0.125, 2.5, Some(secs(5))),
            "loss Bona<->Clark 12.5% burst 2.5 for 5s",
        ),
        (loss(one(BONA, CLARK), 1.0, 1.0, None), "loss Bona->Clark 100%"),
        (loss(one(BONA, CLARK), 0.0, 1.0, None), "loss Bona->Clark 0%"),
        (loss(one(BONA, CLARK), 0.000_01, 1.0, None), "loss Bona->Clark 0.001%"),
        (C::Dup { links: both(BONA, CLARK), rate: 0.1, lasting: None }, "dup Bona<->Clark 10%"),
        (C::Reset, "reset"),
        (C::Pause, "pause"),
        (C::Step, "step"),
        (C::Resume, "resume"),
        (C::Faults, "faults"),
        (C::Policy { policy: Policy::Spec }, "policy spec"),
        (C::Policy { policy: Policy::Storm { ttl: 4 } }, "policy storm ttl=4"),
        (C::Policy { policy: Policy::Echo }, "policy echo"),
        (C::Policy { policy: Policy::Gossip { fanout: 2 } }, "policy gossip fanout=2"),
        (C::AntiEntropy { every: Some(secs(5)) }, "anti-entropy every=5s"),
        (C::AntiEntropy { every: None }, "anti-entropy off"),
    ]
}

#[test]
fn renders_canonical_lines_that_parse_back() {
    for (control, line) in render_cases() {
        assert_eq!(render(&control, &names()), line, "{control:?}");
        assert_eq!(ok(line), Command::Herd(control), "{line:?}");
    }
}

#[test]
fn renders_what_the_grammar_cannot_say_as_best_it_can() {
    let cut = Control::Cut {
        links: vec![Directed::new(BONA, CLARK), Directed::new(CLARK, JAQUEZ)],
        lasting: None,
    };
    assert_eq!(render(&cut, &names()), "cut Bona->Clark,Clark->Jaquez");
    assert!(parse(&render(&cut, &names()), &herd()).is_err());
    assert_eq!(render(&Control::Kill { server: 7 }, &names()), "kill #7");
}

#[test]
fn rates_and_durations_format_as_they_parse() {
    for (fraction, text) in [
        (0.0, "0%"),
        (1.0, "100%"),
        (0.5, "50%"),
        (0.07, "7%"),
        (0.123_456, "12.3456%"),
        (1e-7, "0.00001%"),
        (0.999_999_999, "99.9999999%"),
    ] {
        assert_eq!(format_rate(fraction), text);
        assert_eq!(parse_rate(text), Ok(fraction), "{text}");
    }
    for (duration, text) in [
        (Duration::ZERO, "0s"),
        (ms(300), "300ms"),
        (secs(3600), "1h"),
        (Duration::new(3661, 1_001_001), "1h1m1s1ms1us1ns"),
        (Duration::from_nanos(5), "5ns"),
    ] {
        assert_eq!(format_duration(duration), text);
        assert_eq!(humantime::parse_duration(text).ok(), Some(duration), "{text}");
    }
}

/// The links of cs131 as id pairs, for generating controls.
fn link_strategy() -> impl Strategy<Value = Vec<Directed>> {
    let links = herd().links;
    (0..links.len(), 0..3u8).prop_map(move |(index, shape)| {
        let (a, b) = links[index];
        match shape {
            0 => one(a, b),
            1 => one(b, a),
            _ => both(a, b),
        }
    })
}

fn duration_up_to(max: Duration, zero: bool) -> impl Strategy<Value = Duration> {
    let max = max.as_nanos() as u64;
    let least = u64::from(!zero);
    prop_oneof![
        (least..=max).prop_map(Duration::from_nanos),
        (least / 1_000_000..=max / 1_000_000).prop_map(Duration::from_millis),
    ]
}

fn lasting_strategy() -> impl Strategy<Value = Option<Duration>> {
    proptest::option::of(duration_up_to(MAX_LASTING, false))
}

fn control_strategy() -> impl Strategy<Value = Control> {
    let server = 0..5usize;
    let rate = prop_oneof![
        0.0..=1.0f64,
        Just(0.0),
        Just(1.0),
        (0..=100u32).prop_map(|p| f64::from(p) / 100.0)
    ];
    let burst = prop_oneof![Just(1.0), 1.0..=MAX_BURST, (1..=1000u32).prop_map(f64::from)];
    let spread = prop_oneof![Just(Spread::Uniform), Just(Spread::Normal)];
    let targets = prop_oneof![Just(Links::All), link_strategy().prop_map(Links::Some)];
    let policy = prop_oneof![
        Just(Policy::Spec),
        Just(Policy::Echo),
        (0..=MAX_TTL).prop_map(|ttl| Policy::Storm { ttl }),
        (1..=usize::MAX).prop_map(|fanout| Policy::Gossip { fanout }),
    ];
    // Each server goes to one of up to four groups; empty groups are dropped.
    let partition = (proptest::collection::vec(0..4usize, 5), lasting_strategy()).prop_filter_map(
        "two groups or more",
        |(choice, lasting)| {
            let groups: Vec<Vec<ServerId>> = (0..4)
                .map(|g| (0..5).filter(|&s| choice[s] == g).collect::<Vec<_>>())
                .filter(|group| !group.is_empty())
                .collect();
            (groups.len() >= 2).then_some(Control::Partition { groups, lasting })
        },
    );
    prop_oneof![
        server.clone().prop_map(|server| Control::Kill { server }),
        server.clone().prop_map(|server| Control::Restart { server }),
        (server.clone(), lasting_strategy())
            .prop_map(|(server, lasting)| Control::Hang { server, lasting }),
        server.clone().prop_map(|server| Control::Unhang { server }),
        (link_strategy(), lasting_strategy())
            .prop_map(|(links, lasting)| Control::Cut { links, lasting }),
        link_strategy().prop_map(|links| Control::Heal { links }),
        Just(Control::HealAll),
        partition,
        (server, lasting_strategy())
            .prop_map(|(server, lasting)| Control::Isolate { server, lasting }),
        (
            targets,
            duration_up_to(MAX_DELAY, true),
            duration_up_to(MAX_DELAY, true),
            spread,
            lasting_strategy()
        )
            .prop_map(|(links, delay, jitter, spread, lasting)| Control::Delay {
                links,
                delay: Delay { delay, jitter, spread },
                lasting
            }),
        (link_strategy(), rate.clone(), burst, lasting_strategy()).prop_map(
            |(links, rate, burst, lasting)| Control::Loss {
                links,
                loss: Loss { rate, burst },
                lasting
            }
        ),
        (link_strategy(), rate, lasting_strategy())
            .prop_map(|(links, rate, lasting)| Control::Dup { links, rate, lasting }),
        Just(Control::Reset),
        Just(Control::Pause),
        Just(Control::Step),
        Just(Control::Resume),
        Just(Control::Faults),
        policy.prop_map(|policy| Control::Policy { policy }),
        proptest::option::of(duration_up_to(MAX_EVERY, false))
            .prop_map(|every| Control::AntiEntropy { every }),
    ]
}

proptest! {
    #[test]
    fn every_control_survives_render_and_parse(control in control_strategy()) {
        let line = render(&control, &names());
        let parsed = parse(&line, &herd());
        prop_assert_eq!(parsed, Ok(Command::Herd(control)), "{}", line);
    }

    #[test]
    fn parse_and_complete_never_panic(input in "[ -~\\t]{0,40}") {
        let context = herd();
        let _ = parse(&input, &context);
        let completion = complete(&input, &context);
        let _ = apply_completion(&input, &completion, 1);
        let _ = hint(&input);
    }
}

fn completion(input: &str) -> (usize, Vec<String>) {
    let c = complete(input, &herd());
    (c.start, c.candidates)
}

#[test]
#[allow(clippy::too_many_lines)]
fn completes_each_position() {
    let v = |xs: &[&str]| xs.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let verbs: Vec<String> = {
        let mut names: Vec<String> = COMMANDS.iter().map(|s| s.name.to_owned()).collect();
        names.sort();
        names
    };
    let servers = v(&["Bailey", "Bona", "Campbell", "Clark", "Jaquez"]);
    let with_all = v(&["all", "Bailey", "Bona", "Campbell", "Clark", "Jaquez"]);
    let cases: Vec<(&str, usize, Vec<String>)> = vec![
        // Verbs.
        ("", 0, verbs.clone()),
        ("  ", 2, verbs.clone()),
        ("i", 0, v(&["iamat", "isolate"])),
        ("RE", 0, v(&["reset", "restart", "resume"])),
        ("  wh", 2, v(&["whatsat", "why"])),
        ("an", 0, v(&["anti-entropy"])),
        ("zz", 0, vec![]),
        ("nonsense ", 9, vec![]),
        // Traffic.
        ("iamat ", 6, servers.clone()),
        ("iamat b", 6, v(&["Bailey", "Bona"])),
        ("iamat C", 6, v(&["Campbell", "Clark"])),
        ("iamat Bailey ", 13, v(&["apple", "avocado", "kiwi.cs.ucla.edu"])),
        ("iamat Bailey a", 13, v(&["apple", "avocado"])),
        ("iamat Bailey brand.new", 13, vec![]),
        ("iamat Bailey kiwi ", 18, vec![]),
        ("iamat Bailey kiwi +1+1 ", 23, vec![]),
        ("whatsat bona K", 13, v(&["kiwi.cs.ucla.edu"])),
        ("whatsat bona kiwi 1", 18, vec![]),
        ("send j", 5, v(&["Jaquez"])),
        ("send Jaquez IAM", 12, vec![]),
        ("send Jaquez for ", 16, vec![]),
        // Servers.
        ("kill ", 5, servers.clone()),
        ("restart ja", 8, v(&["Jaquez"])),
        ("kill Bona ", 10, vec![]),
        ("unhang ", 7, servers.clone()),
        ("hang Jaquez ", 12, v(&["for"])),
        ("hang Jaquez for ", 16, v(&["1m", "30s", "5s"])),
        ("hang Jaquez for 5", 16, v(&["5s"])),
        ("hang Jaquez for 5s ", 19, vec![]),
        ("isolate b", 8, v(&["Bailey", "Bona"])),
        // Links.
        ("cut ", 4, servers.clone()),
        ("cut Bailey ", 11, v(&["Bona", "Campbell"])),
        ("cut bailey c", 11, v(&["Campbell"])),
        ("cut Jaquez ", 11, v(&["Campbell", "Clark"])),
        ("cut Nobody ", 11, vec![]),
        ("cut Bailey Bona ", 16, v(&["for"])),
        ("cut Bailey Bona f", 16, v(&["for"])),
        ("cut Bona->", 4, v(&["Bona->Bailey", "Bona->Campbell", "Bona->Clark"])),
        ("cut bona->c", 4, v(&["Bona->Campbell", "Bona->Clark"])),
        ("cut Jaquez<->", 4, v(&["Jaquez<->Campbell", "Jaquez<->Clark"])),
        ("cut Nobody->", 4, vec![]),
        ("cut ->", 4, vec![]),
        ("cut Bona->Clark ", 16, v(&["for"])),
        ("cut Bona->Clark for ", 20, v(&["1m", "30s", "5s"])),
        ("heal ", 5, with_all.clone()),
        ("heal A", 5, v(&["all"])),
        ("heal Bona ", 10, v(&["Bailey", "Campbell", "Clark"])),
        ("heal Bona->C", 5, v(&["Bona->Campbell", "Bona->Clark"])),
        ("heal all ", 9, vec![]),
        ("heal Bona Clark ", 16, vec![]),
        // partition.
        ("partition ", 10, servers.clone()),
        ("partition B", 10, v(&["Bailey", "Bona"])),
        ("partition Bailey,", 17, v(&["Bona", "Campbell", "Clark", "Jaquez"])),
        ("partition Bailey,b", 17, v(&["Bona"])),
        ("partition Bailey, ", 18, v(&["Bona", "Campbell", "Clark", "Jaquez"])),
        ("partition Bailey,Bona / ", 24, v(&["Campbell", "Clark", "Jaquez"])),
        ("partition Bailey,Bona/C", 22, v(&["Campbell", "Clark"])),
        ("partition Bailey Bona / Clark for ", 34, v(&["1m", "30s", "5s"])),
        // delay.
        ("delay ", 6, with_all.clone()),
        ("delay a", 6, v(&["all"])),
        ("delay all ", 10, v(&["100ms", "1s", "300ms", "off"])),
        ("delay Bona ", 11, v(&["Bailey", "Campbell", "Clark"])),
        ("delay Bona Clark ", 17, v(&["100ms", "1s", "300ms", "off"])),
        ("delay Bona->", 6, v(&["Bona->Bailey", "Bona->Campbell", "Bona->Clark"])),
        ("delay Bona->Clark ", 18, v(&["100ms", "1s", "300ms", "off"])),
        ("delay 300ms ", 12, v(&["for", "jitter", "normal", "uniform"])),
        ("delay all 300ms ", 16, v(&["for", "jitter", "normal", "uniform"])),
        ("delay all 300ms j", 16, v(&["jitter"])),
        ("delay all 300ms jitter ", 23, v(&["100ms", "10ms", "50ms"])),
        ("delay all 300ms jitter 10ms ", 28, v(&["for", "normal", "uniform"])),
        ("delay all 300ms normal ", 23, v(&["for", "jitter"])),
        ("delay all 300ms for ", 20, v(&["1m", "30s", "5s"])),
        // loss and dup.
        ("loss ", 5, servers.clone()),
        ("loss Bona->Clark ", 17, v(&["0%", "20%", "5%", "50%"])),
        ("loss Bona Clark 2", 16, v(&["20%"])),
        ("loss Bona->Clark 20% ", 21, v(&["burst", "for"])),
        ("loss Bona->Clark 20% burst ", 27, v(&["2", "3", "5"])),
        ("loss Bona->Clark 20% burst 3 ", 29, v(&["for"])),
        ("dup Bona->Clark ", 16, v(&["0%", "20%", "5%", "50%"])),
        ("dup Bona->Clark 5% ", 19, v(&["for"])),
        // The rest of the herd.
        ("policy ", 7, v(&["echo", "gossip", "spec", "storm"])),
        ("policy s", 7, v(&["spec", "storm"])),
        ("policy storm ", 13, v(&["ttl=4"])),
        ("policy gossip ", 14, v(&["fanout=2"])),
        ("policy echo ", 12, vec![]),
        ("policy storm ttl=4 ", 19, vec![]),
        ("anti-entropy ", 13, v(&["every=1s", "off"])),
        ("anti-entropy e", 13, v(&["every=1s"])),
        ("anti-entropy off ", 17, vec![]),
        ("pause ", 6, vec![]),
        ("reset ", 6, vec![]),
        // The console.
        ("filter ", 7, with_all),
        ("help ", 5, verbs),
        ("help w", 5, v(&["whatsat", "why"])),
        ("q ", 2, vec![]),
    ];
    for (input, start, candidates) in cases {
        assert_eq!(completion(input), (start, candidates), "{input:?}");
    }
}

#[test]
fn applies_completions() {
    let context = herd();
    let unique = complete("kill ja", &context);
    assert_eq!(apply_completion("kill ja", &unique, 0), "kill Jaquez ");
    let several = complete("iamat b", &context);
    assert_eq!(apply_completion("iamat b", &several, 0), "iamat Bailey");
    assert_eq!(apply_completion("iamat b", &several, 1), "iamat Bona");
    assert_eq!(apply_completion("iamat b", &several, 2), "iamat Bailey");
    let verbs = complete("", &context);
    assert_eq!(apply_completion("", &verbs, 0), "anti-entropy");
    let none = complete("zz", &context);
    assert_eq!(apply_completion("zz", &none, 3), "zz");
    let bad = Completion { start: 99, candidates: vec!["x".into()] };
    assert_eq!(apply_completion("ab", &bad, 0), "ab");
    let next = complete("cut Bailey ", &context);
    assert_eq!(apply_completion("cut Bailey ", &next, 1), "cut Bailey Campbell");
    let arrow = complete("cut bona->cl", &context);
    assert_eq!(apply_completion("cut bona->cl", &arrow, 0), "cut Bona->Clark ");
    let group = complete("partition Bailey,bo", &context);
    assert_eq!(apply_completion("partition Bailey,bo", &group, 0), "partition Bailey,Bona ");
}

#[test]
fn hints_the_usage_of_the_verb() {
    for (input, expected) in [
        ("", None),
        ("   ", None),
        ("iamat Bailey ", Some("iamat SERVER CLIENT COORDS [TIME]")),
        ("IAMAT", Some("iamat SERVER CLIENT COORDS [TIME]")),
        ("iam", Some("iamat SERVER CLIENT COORDS [TIME]")),
        ("re", None),
        ("res", None),
        ("rest", Some("restart SERVER")),
        ("heal ", Some("heal LINK | heal all")),
        ("lo", Some("loss LINK RATE [burst N] [for DURATION]")),
        ("exit", Some("quit")),
        ("iam ", None),
        ("foo bar", None),
    ] {
        assert_eq!(hint(input).as_deref(), expected, "{input:?}");
    }
}

#[test]
fn words_keep_byte_offsets() {
    assert_eq!(words(" a\tbc\u{b}d  é "), vec![(1, "a"), (3, "bc"), (6, "d"), (9, "é")]);
    assert!(words("").is_empty());
}
