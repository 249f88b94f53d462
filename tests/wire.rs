//! The wire contract seen from a client socket: white space, IAMAT replies, invalid input,
//! framing (telnet and the grading client), WHATSAT framing and output discipline
//! (protocol.md §2, §3, §5, §6, §7, §8).
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use common::{Telnet, at_fields, diff_nanos, is_diff, now_nanos, split_whatsat, time_text};
use herdctl::herd::EventKind;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const MIB: usize = 1 << 20;
const HERD: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];

/// The next reply line on `t` as raw bytes, without its `\n`.
async fn raw_line(t: &mut Telnet) -> Vec<u8> {
    let mut line = Vec::new();
    let read = timeout(common::PATIENCE, t.reader.read_until(b'\n', &mut line)).await;
    let n = read.expect("no reply line in time").unwrap();
    assert!(n > 0, "connection closed while waiting for a line");
    assert_eq!(line.pop(), Some(b'\n'), "reply line not ended by \\n");
    line
}

/// Writes `bytes` while reading, half-closes, and returns everything read until EOF.
async fn exchange(addr: SocketAddr, bytes: Vec<u8>) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        write.write_all(&bytes).await.unwrap();
        write.shutdown().await.unwrap();
    });
    let mut reply = Vec::new();
    timeout(common::PATIENCE, read.read_to_end(&mut reply))
        .await
        .expect("server did not close the connection")
        .unwrap();
    writer.await.unwrap();
    reply
}

/// The expected `? ` reply to a line (with its line ending): the line minus `\n` then `\r`.
fn question(line: &[u8]) -> Vec<u8> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    [b"? ", body, b"\n"].concat()
}

fn is_protocol_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

// ---------------------------------------------------------------------------------------
// §3 IAMAT replies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn iamat_reply_copies_the_clients_fields_byte_for_byte() {
    let t = common::start("cs131").await;
    let cases = [
        ("kiwi.cs.ucla.edu", "+34.068930-118.445127", "1621464827.959498503"),
        ("zeros", "+034.0689300-118.4451270", "1621464827.959498500"),
        ("ü-client_#1/é", "+12-118", "1621464827"),
        ("edge", "-90+180", "1621464827.959498"),
        ("long-fraction", "+90.000-180.0", "1621464827.9594985031234"),
        ("+34-118", "+0.5-0.5", "0.000001"),
    ];
    for (i, (client, coords, time)) in cases.into_iter().enumerate() {
        let server = HERD[i % HERD.len()];
        let reply = t.grading(server, &format!("IAMAT  {client}\t{coords}   {time}\n")).await;
        let f = at_fields(&reply);
        assert!(is_diff(&f[2]), "bad time difference in {reply:?}");
        assert_eq!(reply, format!("AT {server} {} {client} {coords} {time}\n", f[2]));
    }
}

#[tokio::test]
async fn time_difference_is_exact_signed_with_nine_digits() {
    let t = common::start("cs131").await;
    // Nine-digit and six-digit client times taken just before sending: the difference is
    // the server's receive time minus the client time, so it lies in a known window.
    for digits in [9, 6] {
        let before = now_nanos();
        let client_nanos = if digits == 9 { before } else { before / 1000 * 1000 };
        let text = if digits == 9 {
            time_text(client_nanos)
        } else {
            format!("{}.{:06}", client_nanos / 1_000_000_000, client_nanos % 1_000_000_000 / 1000)
        };
        let reply = t.grading("Clark", &format!("IAMAT skew{digits} +1+2 {text}")).await;
        let after = now_nanos();
        let f = at_fields(&reply);
        assert_eq!(f[5], text, "time not copied");
        assert!(f[2].starts_with('+'), "difference not signed: {reply:?}");
        let diff = diff_nanos(&f[2]);
        assert!(
            (before - client_nanos..=after - client_nanos).contains(&diff),
            "difference {} outside [{}, {}] ns",
            f[2],
            before - client_nanos,
            after - client_nanos
        );
    }
}

#[tokio::test]
async fn client_time_in_the_future_gives_a_negative_difference() {
    let t = common::start("cs131").await;
    for ahead in [100_500_000_000_i128, 250_000_000, 1] {
        let before = now_nanos();
        let client_nanos = before + ahead;
        let reply =
            t.grading("Bona", &format!("IAMAT future +1+2 {}", time_text(client_nanos))).await;
        let after = now_nanos();
        let diff = &at_fields(&reply)[2];
        let nanos = diff_nanos(diff);
        assert!(
            (before - client_nanos..=after - client_nanos).contains(&nanos),
            "difference {diff} for a client {ahead} ns ahead"
        );
        if nanos < 0 {
            assert!(diff.starts_with('-') && !diff.starts_with("--"), "{diff}");
        }
    }
    let reply = t.grading("Bona", "IAMAT future +1+2 99999999999.999999999").await;
    let diff = &at_fields(&reply)[2];
    assert!(diff.starts_with('-') && is_diff(diff), "{diff}");
}

#[tokio::test]
async fn time_difference_is_plain_decimal_for_huge_values() {
    let t = common::start("cs131").await;
    for time in ["0.000001", "0", "1", "99999999999.000000001"] {
        let reply = t.grading("Jaquez", &format!("IAMAT huge +1+2 {time}")).await;
        let f = at_fields(&reply);
        assert!(is_diff(&f[2]), "time {time} gave difference {:?}", f[2]);
        assert_eq!(f[5], time);
    }
}

// ---------------------------------------------------------------------------------------
// §2 White space
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn white_space_is_exactly_space_tab_cr_lf_ff_vt() {
    let t = common::start("cs131").await;
    let mut c = t.telnet("Bailey").await;

    c.write_raw(b"\x0b\x0c IAMAT\x0bvt-ff\x0c+1+2\t\x0b 1621464827.5 \x0c\x0b\r\n").await;
    let reply = c.line().await;
    let f = at_fields(&reply);
    assert_eq!(
        (&f[1][..], &f[3][..], &f[4][..], &f[5][..]),
        ("Bailey", "vt-ff", "+1+2", "1621464827.5")
    );

    // A no-break space is part of a field, not a separator.
    c.send("IAMAT\u{a0}nbsp +1+2 1621464827.5").await;
    assert_eq!(c.line().await, "? IAMAT\u{a0}nbsp +1+2 1621464827.5");
    c.send("IAMAT nbsp\u{a0} +1+2 1621464827.5").await;
    let reply = c.line().await;
    assert_eq!(at_fields(&reply)[3], "nbsp\u{a0}");

    // Other characters some languages call white space are not separators either.
    for sep in ["\u{1c}", "\u{1f}", "\u{85}", "\u{2003}", "\u{3000}", "\u{feff}"] {
        let line = format!("IAMAT{sep}other +1+2 1621464827.5");
        c.send(&line).await;
        assert_eq!(c.line().await, format!("? {line}"), "separator {sep:?}");
        let line = format!("IAMAT other +1+2{sep}1621464827.5");
        c.send(&line).await;
        assert_eq!(c.line().await, format!("? {line}"), "separator {sep:?}");
    }
    c.send("WHATSAT other 10 5").await;
    assert_eq!(c.line().await, "? WHATSAT other 10 5");
}

// ---------------------------------------------------------------------------------------
// §6 Invalid input
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_invalid_input_class_is_answered_with_a_copy() {
    let t = common::start("cs131").await;
    let mut c = t.telnet("Campbell").await;
    c.send("IAMAT known +34.068930-118.445127 1621464827.959498503").await;
    at_fields(&c.line().await);
    let invalid = [
        // unknown verb
        "HELLO",
        "iamat bad +1+2 1621464827.5",
        "IAMATT bad +1+2 1621464827.5",
        "whatsat known 10 5",
        "WHATSATknown 10 5",
        "at Bailey +0.1 bad +1+2 1621464827.5",
        "?",
        "  HELLO  there \t",
        // wrong field count
        "IAMAT",
        "IAMAT bad",
        "IAMAT bad +1+2",
        "IAMAT bad +1+2 1621464827.5 extra",
        "WHATSAT",
        "WHATSAT known",
        "WHATSAT known 10",
        "WHATSAT known 10 5 extra",
        "AT",
        "AT Bailey +0.1 bad +1+2",
        "AT Bailey +0.1 bad +1+2 1621464827.5 Bona extra",
        // bad coordinates
        "IAMAT bad 34.068930-118.445127 1621464827.5",
        "IAMAT bad +34.068930 1621464827.5",
        "IAMAT bad +34.068930- 1621464827.5",
        "IAMAT bad +91-118 1621464827.5",
        "IAMAT bad -90.0000001+0 1621464827.5",
        "IAMAT bad +0+180.5 1621464827.5",
        "IAMAT bad +0-181 1621464827.5",
        "IAMAT bad +1000+0 1621464827.5",
        "IAMAT bad +34.-118 1621464827.5",
        "IAMAT bad +.5-118 1621464827.5",
        "IAMAT bad +34--118 1621464827.5",
        "IAMAT bad +34+-118 1621464827.5",
        "IAMAT bad +1e1-118 1621464827.5",
        "IAMAT bad +nan+0 1621464827.5",
        "IAMAT bad +inf+0 1621464827.5",
        "IAMAT bad +34,5-118 1621464827.5",
        "IAMAT bad +34.0-118.0+1 1621464827.5",
        "AT Bailey +0.1 bad +91+0 1621464827.5",
        // bad time
        "IAMAT bad +1+2 nan",
        "IAMAT bad +1+2 NaN",
        "IAMAT bad +1+2 inf",
        "IAMAT bad +1+2 -inf",
        "IAMAT bad +1+2 infinity",
        "IAMAT bad +1+2 1e9",
        "IAMAT bad +1+2 1.6214648e9",
        "IAMAT bad +1+2 1E9",
        "IAMAT bad +1+2 .5",
        "IAMAT bad +1+2 .959498503",
        "IAMAT bad +1+2 1.2.3",
        "IAMAT bad +1+2 1,5",
        "IAMAT bad +1+2 0x10",
        "IAMAT bad +1+2 12a",
        "IAMAT bad +1+2 now",
        "AT Bailey +0.1 bad +1+2 never",
        "AT Bailey fast bad +1+2 1621464827.5",
        // bad radius (the client is known)
        "WHATSAT known 0 5",
        "WHATSAT known 0.0 5",
        "WHATSAT known 00 5",
        "WHATSAT known -5 5",
        "WHATSAT known -0 5",
        "WHATSAT known 50.001 5",
        "WHATSAT known 51 5",
        "WHATSAT known 1000 5",
        "WHATSAT known ten 5",
        "WHATSAT known 1e1 5",
        "WHATSAT known nan 5",
        "WHATSAT known inf 5",
        "WHATSAT known 10km 5",
        // bad bound
        "WHATSAT known 10 0",
        "WHATSAT known 10 00",
        "WHATSAT known 10 21",
        "WHATSAT known 10 100",
        "WHATSAT known 10 -1",
        "WHATSAT known 10 2.5",
        "WHATSAT known 10 five",
        "WHATSAT known 10 1e1",
        "WHATSAT known 10 100000000000000000000",
        // unknown client
        "WHATSAT nobody 10 5",
        "WHATSAT bad 10 5",
        "WHATSAT KNOWN 10 5",
    ];
    for line in invalid {
        c.send(line).await;
        assert_eq!(c.line().await, format!("? {line}"), "for {line:?}");
    }
    // Still open and serving, and nothing invalid was stored.
    c.send("IAMAT after +1+2 1621464827.5").await;
    assert_eq!(at_fields(&c.line().await)[3], "after");
    assert!(t.holders("bad").is_empty(), "an invalid report was stored");
    // A fresh connection is served too.
    assert_eq!(t.grading("Campbell", "HELLO again\n").await, "? HELLO again\n");
}

#[tokio::test]
async fn whatsat_bounds_are_inclusive() {
    let t = common::start("cs131").await;
    let stored = t.iamat("Bailey", "edge", "+34.068930-118.445127", "1621464827.5").await;
    let mut c = t.telnet("Bailey").await;
    for (radius, bound) in [("50", "20"), ("50.000", "1"), ("0.001", "20"), ("0.5", "3")] {
        c.send(&format!("WHATSAT edge {radius} {bound}")).await;
        let reply = c.whatsat_reply().await;
        let (first, json) = split_whatsat(&format!("{reply}\n"));
        assert_eq!(first, stored, "WHATSAT edge {radius} {bound}");
        let bound: usize = bound.parse().unwrap();
        assert!(json["results"].as_array().unwrap().len() <= bound);
    }
}

#[tokio::test]
async fn blank_lines_get_no_reply() {
    let t = common::start("cs131").await;
    let mut c = t.telnet("Bailey").await;
    c.send("").await;
    c.send("   ").await;
    c.send("\t\x0b\x0c ").await;
    c.write_raw(b"\n\r\n \r\n\x0b\n").await;
    c.send("IAMAT blank +1+2 1621464827.5").await;
    assert_eq!(at_fields(&c.line().await)[3], "blank");
    for blank in ["", "\n", "   ", " \t\x0b\x0c\r\n", "\r\n\r\n"] {
        assert_eq!(t.grading("Bailey", blank).await, "", "for {blank:?}");
    }
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let t = common::start("cs131").await;
    let batch = "IAMAT p1 +1+2 1621464827.1\nWHATSAT p1 10 2\nHELLO\n\n\
                 IAMAT p2 +3+4 1621464827.2\r\nWHATSAT p2 5 1\r\nWHATSAT p3 5 1\nIAMAT p3 +5+6 7";
    let reply = t.grading("Bona", batch).await;
    let mut rest = reply.as_str();
    let mut take_line = || {
        let (line, tail) = rest.split_once('\n').expect("reply too short");
        rest = tail;
        line.to_owned()
    };
    let at1 = take_line();
    assert_eq!(at_fields(&at1)[3], "p1");
    let w1 = take_line();
    assert_eq!(w1, at1, "WHATSAT p1 did not come second");
    let mut json = String::new();
    loop {
        let line = take_line();
        if line.is_empty() {
            break;
        }
        json.push_str(&line);
    }
    serde_json::from_str::<serde_json::Value>(&json).unwrap();
    assert_eq!(take_line(), "? HELLO");
    let at2 = take_line();
    assert_eq!(at_fields(&at2)[3], "p2");
    let after = rest.to_owned();
    let (w2, tail) = after.split_once("\n\n").expect("second WHATSAT reply");
    split_whatsat(&format!("{w2}\n\n"));
    assert!(w2.starts_with(&format!("{at2}\n")));
    let mut lines = tail.lines();
    assert_eq!(lines.next(), Some("? WHATSAT p3 5 1"));
    let at3 = lines.next().expect("final command without newline not answered");
    assert_eq!(at_fields(at3)[3], "p3");
    assert_eq!(lines.next(), None);
    assert!(tail.ends_with('\n'));

    // telnet style: several lines in one segment, answered in order on the open connection.
    let mut c = t.telnet("Clark").await;
    let mut segment = String::new();
    for i in 0..10 {
        write!(segment, "IAMAT tel{i} +1+2 1621464827.{i}\r\n").unwrap();
    }
    c.write_raw(segment.as_bytes()).await;
    for i in 0..10 {
        assert_eq!(at_fields(&c.line().await)[3], format!("tel{i}"));
    }
}

#[tokio::test]
async fn a_command_dribbled_byte_by_byte_is_answered_when_it_ends() {
    let t = common::start("cs131").await;
    let mut c = t.telnet("Jaquez").await;
    c.writer.as_ref().set_nodelay(true).unwrap();
    let command = "IAMAT drip +34.068930-118.445127 1621464827.959498503";
    for byte in command.bytes() {
        c.write_raw(&[byte]).await;
        tokio::task::yield_now().await;
    }
    c.write_raw(b"\r").await;
    c.assert_silent(Duration::from_millis(100)).await;
    c.write_raw(b"\n").await;
    let reply = c.line().await;
    let f = at_fields(&reply);
    assert_eq!(format!("IAMAT {} {} {}", f[3], f[4], f[5]), command, "{reply:?}");
    // Split inside a field, then two commands and a half in one segment.
    c.write_raw(b"IAMAT dr").await;
    c.write_raw(b"ip2 +1+2 1621464827.5\nHEL").await;
    c.write_raw(b"LO\nIAMAT drip3 +1+2 16214").await;
    assert_eq!(at_fields(&c.line().await)[3], "drip2");
    assert_eq!(c.line().await, "? HELLO");
    c.write_raw(b"64827.5\n").await;
    assert_eq!(at_fields(&c.line().await)[5], "1621464827.5");
}

#[tokio::test]
async fn an_over_long_line_is_rejected_and_serving_goes_on() {
    let t = common::start("cs131").await;
    let mut c = t.telnet("Bailey").await;
    let long = vec![b'X'; MIB + 4096];
    c.write_raw(&long).await;
    c.write_raw(b"\r\nIAMAT after-long +1+2 1621464827.5\r\n").await;
    let first = c.line().await;
    let prefix = first
        .strip_prefix("? ")
        .unwrap_or_else(|| panic!("not a ? reply: {:?}", &first[..first.len().min(40)]));
    assert!(
        !prefix.is_empty() && prefix.len() <= long.len() && prefix.bytes().all(|b| b == b'X'),
        "reply is not `? ` and a prefix of the line"
    );
    assert_eq!(at_fields(&c.line().await)[3], "after-long");

    // Several MiB with no newline at all, then a normal line on the same connection.
    c.write_raw(&vec![b'Y'; 4 * MIB]).await;
    c.write_raw(b"\nIAMAT after-huge +1+2 1621464827.5\n").await;
    assert!(c.line().await.starts_with("? Y"));
    assert_eq!(at_fields(&c.line().await)[3], "after-huge");

    // The grading client's way: the over-long line is its last, unterminated command.
    let reply = exchange(t.addr("Bailey"), vec![b'Z'; 2 * MIB]).await;
    assert!(reply.is_empty() || reply.starts_with(b"? Z"));
    // And a fresh connection is served.
    let reply = t.grading("Bailey", "IAMAT fresh +1+2 1621464827.5\n").await;
    assert_eq!(at_fields(&reply)[3], "fresh");
}

#[tokio::test]
async fn binary_garbage_is_an_invalid_command() {
    let t = common::start("cs131").await;
    let mut c = t.telnet("Bona").await;
    let cases: [&[u8]; 7] = [
        b"\xff\xfe\xfd\n",
        b"IAMAT ki\xffwi +1+2 1621464827.5\n",
        b"IAMAT ki\x00wi +1+2 1621464827.5\n",
        b"\x00\x00\x00\r\n",
        b"\xc3\x28 WHATSAT kiwi 10 5\n",
        b"WHATSAT kiwi 10 5\x00\n",
        b"\x1b[2J\x07\x08\x7f\n",
    ];
    for line in cases {
        c.write_raw(line).await;
        let mut want = question(line);
        want.pop();
        assert_eq!(raw_line(&mut c).await, want, "for {line:?}");
    }
    c.send("IAMAT clean +1+2 1621464827.5").await;
    assert_eq!(at_fields(&c.line().await)[3], "clean");
    let reply = t.grading("Bona", "WHATSAT clean 10 1").await;
    assert!(reply.starts_with("AT "), "server stopped serving: {reply:?}");
}

#[tokio::test]
async fn random_garbage_gets_exactly_one_reply_per_non_blank_line() {
    let t = common::start("cs131").await;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut garbage = Vec::with_capacity(64 * 1024);
    while garbage.len() < 64 * 1024 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let byte = (state >> 24) as u8;
        // No 'A' means no line can start with a valid verb.
        let byte = match byte {
            b'A' => b'B',
            _ if state.is_multiple_of(40) => b'\n',
            _ => byte,
        };
        garbage.push(byte);
    }
    let mut expected = Vec::new();
    let mut lines: Vec<&[u8]> = garbage.split_inclusive(|&b| b == b'\n').collect();
    if garbage.ends_with(b"\n") {
        lines.retain(|l| !l.is_empty());
    }
    for line in &lines {
        if !line.iter().copied().all(is_protocol_space) {
            expected.extend_from_slice(&question(line));
        }
    }
    assert!(lines.len() > 100);
    let reply = exchange(t.addr("Clark"), garbage).await;
    assert!(reply == expected, "replies differ from one `? ` per non-blank line");
    let reply = t.grading("Clark", "IAMAT survivor +1+2 1621464827.5").await;
    assert_eq!(at_fields(&reply)[3], "survivor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abrupt_disconnects_leave_the_server_serving() {
    let mut t = common::start("cs131").await;
    let stored = t.iamat("Campbell", "known", "+1+2", "1621464827.5").await;
    let addr = t.addr("Campbell");
    let mut drops = Vec::new();
    for i in 0..20 {
        drops.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            match i % 4 {
                // Half a line, then a reset.
                0 => {
                    stream.write_all(b"IAMAT half-a-li").await.unwrap();
                    stream.set_zero_linger().unwrap();
                }
                // A whole WHATSAT, then a reset before reading the reply.
                1 => {
                    stream.write_all(b"WHATSAT known 50 20\n").await.unwrap();
                    stream.set_zero_linger().unwrap();
                }
                // Half a line, then a plain close.
                2 => stream.write_all(b"WHATSAT kno").await.unwrap(),
                // Nothing at all.
                _ => {}
            }
            drop(stream);
        }));
    }
    for handle in drops {
        handle.await.unwrap();
    }
    let reply = t.grading("Campbell", "WHATSAT known 10 3\n").await;
    let (first, _) = split_whatsat(&reply);
    assert_eq!(first, stored);
    let reply = t.iamat("Campbell", "later", "+1+2", "1621464827.5").await;
    assert_eq!(at_fields(&reply)[1], "Campbell");
    t.wait_stored_at(&HERD, "later").await;
}

// ---------------------------------------------------------------------------------------
// §7 Framing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_grading_clients_final_command_without_newline_is_answered_then_closed() {
    let t = common::start("cs131").await;
    let reply = t.grading("Bailey", "IAMAT last +1+2 1621464827.5").await;
    let f = at_fields(&reply);
    assert_eq!(reply, format!("AT Bailey {} last +1+2 1621464827.5\n", f[2]));
    let stored = reply.trim_end().to_owned();

    let reply = t.grading("Bailey", "WHATSAT last 10 3").await;
    let (first, _) = split_whatsat(&reply);
    assert_eq!(first, stored);

    assert_eq!(t.grading("Bailey", "HELLO").await, "? HELLO\n");
    assert_eq!(t.grading("Bailey", "  HELLO\t").await, "?   HELLO\t\n");

    let reply =
        t.grading("Bailey", "IAMAT first +1+2 1621464827.5\nIAMAT second +1+2 1621464827.5").await;
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.len(), 2, "{reply:?}");
    assert_eq!(at_fields(lines[0])[3], "first");
    assert_eq!(at_fields(lines[1])[3], "second");
}

#[tokio::test]
async fn whatsat_reply_arrives_whole_in_one_read() {
    let t = common::start("cs131").await;
    let stored = t.iamat("Bailey", "oneread", "+34.068930-118.445127", "1621464827.5").await;
    for i in 0..20 {
        let command = if i % 2 == 0 { "WHATSAT oneread 50 20\n" } else { "WHATSAT oneread 50 20" };
        let bytes = common::one_read(t.addr("Bailey"), command.as_bytes()).await;
        let reply = String::from_utf8(bytes).unwrap();
        assert!(
            reply.ends_with("\n\n"),
            "first read held only part of the reply: {} bytes",
            reply.len()
        );
        let (first, json) = split_whatsat(&reply);
        assert_eq!(first, stored);
        assert!(json["results"].as_array().unwrap().len() <= 20);
    }
}

#[tokio::test]
async fn telnet_lines_are_answered_on_the_open_connection() {
    let t = common::start("cs131").await;
    let mut c = t.telnet("Clark").await;
    // No greeting, no prompt.
    c.assert_silent(Duration::from_millis(100)).await;
    c.send("IAMAT tel +34.068930-118.445127 1621464827.5").await;
    let stored = c.line().await;
    assert_eq!(at_fields(&stored)[3], "tel");
    c.send("WHATSAT tel 10 2").await;
    let reply = c.whatsat_reply().await;
    let (first, json) = split_whatsat(&format!("{reply}\n"));
    assert_eq!(first, stored);
    assert!(json["results"].as_array().unwrap().len() <= 2);
    c.send("HELLO").await;
    assert_eq!(c.line().await, "? HELLO");
    // Nothing more is sent and the connection stays open.
    c.assert_silent(Duration::from_millis(100)).await;
    c.send("IAMAT tel +34.068930-118.445127 1621464827.6").await;
    assert_eq!(at_fields(&c.line().await)[5], "1621464827.6");
}

// ---------------------------------------------------------------------------------------
// §8 Output discipline and logs
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn at_lines_from_outside_get_no_reply_but_are_stored() {
    let mut t = common::start("cs131").await;
    let mut c = t.telnet("Bailey").await;
    let report = "AT Elsewhere +0.500000000 outsider +1+2 1621464827.5";
    c.send(report).await;
    t.wait_stored_at(&["Bailey"], "outsider").await;
    c.assert_silent(Duration::from_millis(100)).await;
    c.send("IAMAT probe +1+2 1621464827.5").await;
    assert_eq!(at_fields(&c.line().await)[3], "probe", "the AT line was answered");
    c.send("WHATSAT outsider 10 1").await;
    let reply = c.whatsat_reply().await;
    assert_eq!(split_whatsat(&format!("{reply}\n")).0, report);
}

#[tokio::test]
async fn each_server_logs_its_traffic_and_neighbour_links() {
    let dir =
        std::env::temp_dir().join(format!("herdctl-logs-{}-{}", std::process::id(), now_nanos()));
    let logs = dir.join("nested").join("logs");
    let logs_for_config = logs.clone();
    let mut t = common::start_with("cs131", move |c| c.log_dir = Some(logs_for_config)).await;
    let reply = t.iamat("Bailey", "logged", "+34.068930-118.445127", "1621464827.5").await;
    assert_eq!(t.grading("Bailey", "HELLO log\n").await, "? HELLO log\n");
    t.wait_stored_at(&HERD, "logged").await;
    let bailey = t.id("Bailey");
    let bona = t.id("Bona");
    t.control("kill Bona").await;
    t.wait_for(
        "Bailey to notice Bona is gone",
        |e| matches!(e, EventKind::LinkDropped { from, to, .. } if *from == bailey && *to == bona),
    )
    .await;
    t.herd.shutdown().await;

    let read = |name: &str| {
        std::fs::read_to_string(logs.join(format!("{name}.log")))
            .unwrap_or_else(|e| panic!("no log for {name}: {e}"))
    };
    let bailey_log = read("Bailey");
    assert!(bailey_log.contains("IAMAT logged +34.068930-118.445127 1621464827.5"));
    assert!(bailey_log.contains(&reply), "reply not logged");
    assert!(bailey_log.contains("HELLO log"));
    let bona_notes =
        bailey_log.lines().filter(|l| l.contains("Bona") && !l.contains("logged")).count();
    assert!(
        bona_notes >= 2,
        "Bailey's log should show its link to Bona opening and dropping:\n{bailey_log}"
    );
    for name in HERD {
        let log = read(name);
        assert!(log.contains("logged"), "{name} did not log the report");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn logs_label_stale_reports_and_note_a_cut_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().to_path_buf();
    let mut t = common::start_with("cs131", move |c| c.log_dir = Some(logs)).await;
    t.iamat("Bailey", "kiwi", "+34.068930-118.445127", "1621464827.5").await;
    t.wait_stored_at(&HERD, "kiwi").await;
    let mut c = t.telnet("Clark").await;
    c.send("AT Elsewhere +0.5 kiwi +1+2 1621464800.0").await;
    c.send("IAMAT after +1+2 1621464827.5").await;
    c.line().await;
    t.control("cut Bailey Bona").await;
    t.control("heal Bailey Bona").await;
    t.herd.shutdown().await;

    let read =
        |name: &str| std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap();
    let all: String = HERD.iter().map(|name| read(name)).collect();
    assert!(all.contains("-- report of kiwi: duplicate, not stored"), "{all}");
    assert!(read("Clark").contains("-- report of kiwi: older than stored, not stored"));
    for name in ["Bailey", "Bona"] {
        let log = read(name);
        let cut: Vec<&str> = log.lines().filter(|l| l.contains(" cut")).collect();
        let healed: Vec<&str> = log.lines().filter(|l| l.contains(" healed")).collect();
        assert_eq!((cut.len(), healed.len()), (1, 1), "{name}:\n{log}");
    }
}
