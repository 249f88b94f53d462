//! Property tests of the wire protocol's pure functions: coordinates, times and AT lines
//! survive formatting and parsing, the parser never panics and answers every line it rejects
//! with `? ` and that exact line, and the reply to any accepted IAMAT is itself an AT line
//! carrying the same client fields. `PROPTEST_CASES` raises the case count (default 256).
#![allow(clippy::unwrap_used)]

use herdctl::protocol::{
    ClientTime, Command, Coords, at_line, format_diff, invalid_reply, parse_line,
};
use proptest::prelude::*;

/// A signed decimal `[+-]int[.frac]` with `int` in `0..=limit` (zero-padded at times) and at
/// most 12 fraction digits, and whether it lies in `[-limit, limit]`.
fn decimal(limit: u32) -> impl Strategy<Value = (String, bool)> {
    (any::<bool>(), 0..=limit + 2, 0usize..3, proptest::option::of("[0-9]{1,12}")).prop_map(
        move |(negative, int, pad, frac)| {
            let sign = if negative { '-' } else { '+' };
            let zeros = "0".repeat(pad);
            let in_range = int < limit
                || (int == limit && frac.as_deref().is_none_or(|f| f.bytes().all(|b| b == b'0')));
            let text = match frac {
                Some(frac) => format!("{sign}{zeros}{int}.{frac}"),
                None => format!("{sign}{zeros}{int}"),
            };
            (text, in_range)
        },
    )
}

/// Coordinates that are valid: latitude within 90, longitude within 180.
fn coords() -> impl Strategy<Value = String> {
    (decimal(90), decimal(180))
        .prop_filter("in range", |((_, lat_ok), (_, lng_ok))| *lat_ok && *lng_ok)
        .prop_map(|((lat, _), (lng, _))| format!("{lat}{lng}"))
}

/// A time as a client writes it: optional sign, seconds, optional fraction of any length.
fn time_text() -> impl Strategy<Value = String> {
    time_text_within(u64::MAX)
}

/// [`time_text`] with at most `max_secs` whole seconds.
fn time_text_within(max_secs: u64) -> impl Strategy<Value = String> {
    ("[+-]?", 0..=max_secs, proptest::option::of("[0-9]{1,15}")).prop_map(|(sign, secs, frac)| {
        match frac {
            Some(frac) => format!("{sign}{secs}.{frac}"),
            None => format!("{sign}{secs}"),
        }
    })
}

/// A server name as a topology allows it.
fn server_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}"
}

/// A client name: any characters but the protocol's white space and NUL.
fn client_name() -> impl Strategy<Value = String> {
    "[^\t\n\x0b\x0c\r \x00]{1,40}"
}

/// A run of the protocol's white space.
fn gap() -> impl Strategy<Value = String> {
    "[ \t\x0b\x0c]{1,3}"
}

proptest! {
    #[test]
    fn coordinates_parse_exactly_when_in_range(
        (lat, lat_ok) in decimal(90),
        (lng, lng_ok) in decimal(180),
    ) {
        let text = format!("{lat}{lng}");
        let parsed = Coords::parse(&text);
        prop_assert_eq!(parsed.is_some(), lat_ok && lng_ok, "{}", text);
        if let Some(coords) = parsed {
            prop_assert_eq!(coords.as_str(), text.as_str());
            prop_assert_eq!(coords.lat_text(), lat.trim_start_matches('+'));
            prop_assert_eq!(coords.lng_text(), lng.trim_start_matches('+'));
        }
    }

    #[test]
    fn times_round_trip_through_nanoseconds(negative: bool, secs: u64, nanos in 0u32..1_000_000_000) {
        let sign = if negative { "-" } else { "" };
        let time = ClientTime::parse(&format!("{sign}{secs}.{nanos:09}")).unwrap();
        let magnitude = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        let expected = if negative { -magnitude } else { magnitude };
        prop_assert_eq!(time.as_nanos(), expected);
        prop_assert_eq!(ClientTime::from_nanos(expected), Some(time));
    }

    #[test]
    fn times_order_like_their_values(a in time_text(), b in time_text()) {
        let (ta, tb) = (ClientTime::parse(&a).unwrap(), ClientTime::parse(&b).unwrap());
        if ta.as_nanos() != tb.as_nanos() {
            prop_assert_eq!(ta.cmp(&tb), ta.as_nanos().cmp(&tb.as_nanos()), "{} {}", a, b);
        }
        prop_assert_eq!(ta.cmp(&tb), tb.cmp(&ta).reverse());
    }

    #[test]
    fn a_time_difference_parses_back_to_itself(
        received in any::<i64>(),
        client in time_text_within(u64::MAX / 2),
    ) {
        let time = ClientTime::parse(&client).unwrap();
        let received = i128::from(received);
        let diff = format_diff(received, &time);
        prop_assert!(diff.starts_with(['+', '-']), "{}", diff);
        prop_assert_eq!(diff.split_once('.').map(|(_, frac)| frac.len()), Some(9));
        let back = ClientTime::parse(&diff).unwrap();
        prop_assert_eq!(back.as_nanos(), received - time.as_nanos());
    }

    #[test]
    fn at_lines_round_trip(
        server in server_name(),
        received in any::<i64>(),
        client in client_name(),
        coords in coords(),
        time in time_text(),
        sender in proptest::option::of(server_name()),
    ) {
        let diff = format_diff(i128::from(received), &ClientTime::parse(&time).unwrap());
        let line = at_line(&server, &diff, &client, &coords, &time);
        let wire = match &sender {
            Some(sender) => format!("{line} {sender}\n"),
            None => format!("{line}\r\n"),
        };
        let Ok(Some(Command::At(at))) = parse_line(wire.as_bytes()) else {
            return Err(TestCaseError::fail(format!("{wire:?} not an AT")));
        };
        prop_assert_eq!(at.server, server.as_str());
        prop_assert_eq!(at.diff, diff.as_str());
        prop_assert_eq!(at.client, client.as_str());
        prop_assert_eq!(at.coords.as_str(), coords.as_str());
        prop_assert_eq!(at.time_text, time.as_str());
        prop_assert_eq!(at.sender, sender.as_deref());
        prop_assert_eq!(at.canonical_line(), line);
    }

    #[test]
    fn rejected_lines_are_answered_with_the_exact_line(
        body in proptest::collection::vec(any::<u8>().prop_filter("no newline", |&b| b != b'\n'), 0..120),
        ending in prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b""[..])],
    ) {
        // A CR before the end of the line is part of its line ending, not of the line.
        prop_assume!(!body.ends_with(b"\r"));
        let line = [&body[..], ending].concat();
        if parse_line(&line).is_err() {
            prop_assert_eq!(invalid_reply(&line), [&b"? "[..], &body, b"\n"].concat());
        }
    }

    #[test]
    fn the_parser_never_panics_on_near_misses(
        verb in prop_oneof![Just("IAMAT"), Just("WHATSAT"), Just("AT"), Just("iamat")],
        words in proptest::collection::vec("[-+0-9.a-zA-Z\u{a0}\u{0}]{0,12}", 0..8),
    ) {
        let line = format!("{verb} {}", words.join(" "));
        if let Err(why) = parse_line(line.as_bytes()) {
            prop_assert!(!why.to_string().is_empty());
            prop_assert_eq!(invalid_reply(line.as_bytes()), format!("? {line}\n").into_bytes());
        }
    }

    #[test]
    fn the_reply_to_an_accepted_iamat_is_an_at_line_with_its_fields(
        lead in "[ \t]{0,2}",
        gaps in proptest::collection::vec(gap(), 3),
        client in client_name(),
        coords in coords(),
        time in time_text(),
        server in server_name(),
        now in any::<i64>(),
    ) {
        let line = format!(
            "{lead}IAMAT{}{client}{}{coords}{}{time}\r\n", gaps[0], gaps[1], gaps[2]
        );
        let Ok(Some(Command::IAmAt(iamat))) = parse_line(line.as_bytes()) else {
            return Err(TestCaseError::fail(format!("{line:?} not an IAMAT")));
        };
        // As the server replies.
        let diff = format_diff(i128::from(now), &iamat.time);
        let reply = at_line(&server, &diff, iamat.client, iamat.coords.as_str(), iamat.time_text);
        let Ok(Some(Command::At(at))) = parse_line(reply.as_bytes()) else {
            return Err(TestCaseError::fail(format!("reply {reply:?} not an AT")));
        };
        prop_assert_eq!(at.server, server.as_str());
        prop_assert_eq!(at.client, iamat.client);
        prop_assert_eq!(at.coords, iamat.coords);
        prop_assert_eq!(at.time_text, iamat.time_text);
        prop_assert_eq!(&at.time, &iamat.time);
        prop_assert_eq!(at.sender, None);
    }
}
