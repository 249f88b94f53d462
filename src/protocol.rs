//! The proxy-herd wire protocol as pure functions: the white-space rule, parsing a line into a
//! [`Command`], the `? ` reply, and formatting AT lines (protocol.md §2–§6), plus this
//! implementation's own server-to-server forms: the AT line's sender and TTL fields and the
//! anti-entropy `DIGEST` line.

pub mod coords;
pub mod digest;
pub mod time;

pub use coords::Coords;
pub use digest::{
    DIGEST_ENTRIES, DIGEST_LINE_BYTES, Digest, DigestEntry, Lacking, digest_lines, lacking,
};
pub use time::{ClientTime, format_diff, now_nanos, too_far_ahead};

use time::split_decimal;

/// The protocol's white space: space, tab, CR, LF, FF, VT, and nothing else.
pub const fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | 0x0c | 0x0b)
}

/// The fields of a line, split on runs of [`is_space`].
pub fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| c.is_ascii() && is_space(c as u8)).filter(|field| !field.is_empty())
}

/// A valid command, borrowing the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    IAmAt(IAmAt<'a>),
    WhatsAt(WhatsAt<'a>),
    At(AtReport<'a>),
    /// A server's anti-entropy digest (ours, between servers only).
    Digest(Digest<'a>),
}

/// `IAMAT client coords time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IAmAt<'a> {
    pub client: &'a str,
    pub coords: Coords<'a>,
    pub time_text: &'a str,
    pub time: ClientTime,
}

/// `WHATSAT client radius bound`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAt<'a> {
    pub client: &'a str,
    /// Radius in metres as plain decimal text (`10.5` km → `10500`).
    pub radius_m: String,
    pub bound: usize,
}

/// `AT server diff client coords time [sender [ttl=N]]`: a location report between servers.
/// The optional sixth and seventh fields are this implementation's own: the name of the server
/// that forwarded it, so the flood skips it, and under the `storm` policy the TTL it travels
/// with. A plain five-field AT from outside is accepted as well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtReport<'a> {
    pub server: &'a str,
    pub diff: &'a str,
    pub client: &'a str,
    pub coords: Coords<'a>,
    pub time_text: &'a str,
    pub time: ClientTime,
    pub sender: Option<&'a str>,
    pub ttl: Option<u32>,
}

impl AtReport<'_> {
    /// The report as the origin server wrote it, without the sender and TTL fields, one space
    /// apart.
    pub fn canonical_line(&self) -> String {
        at_line(self.server, self.diff, self.client, self.coords.as_str(), self.time_text)
    }
}

/// Why a line is not a valid command (for logs and the dashboard; the wire only says `? `).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("not UTF-8 text")]
    NotText,
    #[error("contains a NUL byte")]
    Nul,
    #[error("unknown command")]
    UnknownVerb,
    #[error("wrong number of fields")]
    FieldCount,
    #[error("bad coordinates")]
    Coords,
    #[error("bad time")]
    Time,
    #[error("bad time difference")]
    Diff,
    #[error("the seventh field of an AT line must be ttl=N")]
    Ttl,
    #[error("a digest's ask flag must be 0 or 1")]
    Ask,
    #[error("radius must be a decimal with 0 < radius <= 50")]
    Radius,
    #[error("bound must be an integer with 0 < bound <= 20")]
    Bound,
    #[error("no location known for this client")]
    UnknownClient,
    #[error("line longer than the limit")]
    TooLong,
    #[error("time is further ahead of the server clock than --max-future allows")]
    TooFarAhead,
}

/// Parses one line (its line ending may still be attached). `Ok(None)` is an empty or
/// all-white-space line, which gets no reply.
pub fn parse_line(line: &[u8]) -> Result<Option<Command<'_>>, Invalid> {
    let text = std::str::from_utf8(line).map_err(|_| Invalid::NotText)?;
    if text.contains('\0') {
        return Err(Invalid::Nul);
    }
    let mut parts = fields(text);
    let Some(verb) = parts.next() else {
        return Ok(None);
    };
    if verb == "DIGEST" {
        return digest::parse_digest(parts).map(|digest| Some(Command::Digest(digest)));
    }
    // One more than any command takes, to tell a surplus field.
    let args: Vec<&str> = parts.take(8).collect();
    let command = match verb {
        "IAMAT" => Command::IAmAt(parse_iamat(&args)?),
        "WHATSAT" => Command::WhatsAt(parse_whatsat(&args)?),
        "AT" => Command::At(parse_at(&args)?),
        _ => return Err(Invalid::UnknownVerb),
    };
    Ok(Some(command))
}

fn parse_iamat<'a>(args: &[&'a str]) -> Result<IAmAt<'a>, Invalid> {
    let &[client, coords, time_text] = args else {
        return Err(Invalid::FieldCount);
    };
    Ok(IAmAt {
        client,
        coords: Coords::parse(coords).ok_or(Invalid::Coords)?,
        time_text,
        time: ClientTime::parse(time_text).ok_or(Invalid::Time)?,
    })
}

fn parse_whatsat<'a>(args: &[&'a str]) -> Result<WhatsAt<'a>, Invalid> {
    let &[client, radius, bound] = args else {
        return Err(Invalid::FieldCount);
    };
    Ok(WhatsAt {
        client,
        radius_m: radius_metres(radius).ok_or(Invalid::Radius)?,
        bound: parse_bound(bound).ok_or(Invalid::Bound)?,
    })
}

fn parse_at<'a>(args: &[&'a str]) -> Result<AtReport<'a>, Invalid> {
    let (&[server, diff, client, coords, time_text], ours) = args.split_at(args.len().min(5))
    else {
        return Err(Invalid::FieldCount);
    };
    let (sender, ttl) = match *ours {
        [] => (None, None),
        [sender] => (Some(sender), None),
        [sender, ttl] => (Some(sender), Some(parse_ttl(ttl)?)),
        _ => return Err(Invalid::FieldCount),
    };
    let unsigned = diff.strip_prefix(['+', '-']).ok_or(Invalid::Diff)?;
    split_decimal(unsigned).ok_or(Invalid::Diff)?;
    Ok(AtReport {
        server,
        diff,
        client,
        coords: Coords::parse(coords).ok_or(Invalid::Coords)?,
        time_text,
        time: ClientTime::parse(time_text).ok_or(Invalid::Time)?,
        sender,
        ttl,
    })
}

/// `ttl=N` with N decimal digits that fit a `u32`; a field without the `ttl=` prefix is one
/// field too many.
fn parse_ttl(field: &str) -> Result<u32, Invalid> {
    let digits = field.strip_prefix("ttl=").ok_or(Invalid::FieldCount)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::Ttl);
    }
    digits.parse().map_err(|_| Invalid::Ttl)
}

/// Radius in km (`digits[.digits]`, 0 < r <= 50) converted to metres as plain decimal text.
fn radius_metres(km: &str) -> Option<String> {
    let (int, frac) = split_decimal(km)?;
    let nonzero = km.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if !nonzero || !coords::within(km, 50) {
        return None;
    }
    let (whole_frac, rest) = frac.split_at(frac.len().min(3));
    let mut metres = format!("{int}{whole_frac:0<3}");
    metres = metres.trim_start_matches('0').to_owned();
    if metres.is_empty() {
        metres.push('0');
    }
    let rest = rest.trim_end_matches('0');
    if !rest.is_empty() {
        metres.push('.');
        metres.push_str(rest);
    }
    Some(metres)
}

/// An integer with 0 < bound <= 20 (leading zeros allowed).
fn parse_bound(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    let value: usize = if digits.len() > 2 { 21 } else { digits.parse().unwrap_or(0) };
    (1..=20).contains(&value).then_some(value)
}

/// `AT server diff client coords time`, without a line ending.
pub fn at_line(server: &str, diff: &str, client: &str, coords: &str, time: &str) -> String {
    let mut line = String::with_capacity(
        8 + server.len() + diff.len() + client.len() + coords.len() + time.len(),
    );
    for (i, field) in ["AT", server, diff, client, coords, time].into_iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(field);
    }
    line
}

/// The reply to an invalid line: `? ` and the line with its line ending removed, then `\n`.
pub fn invalid_reply(line: &[u8]) -> Vec<u8> {
    let body = strip_line_ending(line);
    let mut reply = Vec::with_capacity(body.len() + 3);
    reply.extend_from_slice(b"? ");
    reply.extend_from_slice(body);
    reply.push(b'\n');
    reply
}

/// The line without one trailing `\n` and then one trailing `\r`.
pub fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Is this line empty or all white space (no reply at all)?
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().copied().all(is_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Option<Command<'_>>, Invalid> {
        parse_line(line.as_bytes())
    }

    #[test]
    fn white_space_is_exactly_the_six_bytes() {
        let spaces: Vec<u8> = (0..=255u8).filter(|&b| is_space(b)).collect();
        assert_eq!(spaces, vec![0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20]);
        let line = "\x0b IAMAT\tkiwi\x0c+1+2\x0b\x0b 5 \r\n";
        assert!(matches!(parse(line), Ok(Some(Command::IAmAt(_)))));
        assert_eq!(parse("IAMAT\u{a0}kiwi +1+2 5"), Err(Invalid::UnknownVerb));
        assert_eq!(parse("IAMAT kiwi\u{a0} +1+2 5").map(|_| ()), Ok(()));
    }

    #[test]
    fn parses_iamat() {
        let Ok(Some(Command::IAmAt(cmd))) =
            parse("IAMAT kiwi.cs.ucla.edu +34.068930-118.445127 1621464827.959498503\r\n")
        else {
            panic!("not an IAMAT");
        };
        assert_eq!(cmd.client, "kiwi.cs.ucla.edu");
        assert_eq!(cmd.coords.as_str(), "+34.068930-118.445127");
        assert_eq!(cmd.time_text, "1621464827.959498503");
    }

    #[test]
    fn parses_whatsat_radius_in_metres() {
        for (radius, metres) in [
            ("10", "10000"),
            ("50", "50000"),
            ("50.000", "50000"),
            ("10.5", "10500"),
            ("0.0001", "0.1"),
            ("1.2345", "1234.5"),
            ("007", "7000"),
        ] {
            let line = format!("WHATSAT kiwi {radius} 5");
            let Ok(Some(Command::WhatsAt(cmd))) = parse(&line) else {
                panic!("{line} rejected");
            };
            assert_eq!((cmd.radius_m.as_str(), cmd.bound), (metres, 5));
        }
    }

    #[test]
    fn parses_at_with_and_without_sender() {
        let plain = "AT Clark +0.263873386 kiwi +34.068930-118.445127 1621464827.959498503";
        let Ok(Some(Command::At(at))) = parse(plain) else {
            panic!("plain AT rejected");
        };
        assert_eq!((at.server, at.sender), ("Clark", None));
        assert_eq!(at.canonical_line(), plain);
        let spaced =
            "  AT\tClark +0.263873386  kiwi +34.068930-118.445127 1621464827.959498503 Bona\n";
        let Ok(Some(Command::At(at))) = parse(spaced) else {
            panic!("AT with sender rejected");
        };
        assert_eq!((at.canonical_line().as_str(), at.sender), (plain, Some("Bona")));
    }

    #[test]
    fn parses_at_with_a_ttl() {
        let plain = "AT Clark +0.263873386 kiwi +34.068930-118.445127 1621464827.959498503";
        for (suffix, ttl) in
            [("ttl=0", 0), ("ttl=4", 4), ("ttl=007", 7), ("ttl=4294967295", u32::MAX)]
        {
            let line = format!("{plain} Bona\t{suffix}\r\n");
            let Ok(Some(Command::At(at))) = parse(&line) else {
                panic!("{line:?} rejected");
            };
            assert_eq!((at.sender, at.ttl), (Some("Bona"), Some(ttl)), "{line:?}");
            assert_eq!(at.canonical_line(), plain);
        }
        let line = format!("{plain} Bona");
        let Ok(Some(Command::At(at))) = parse(&line) else {
            panic!("AT with sender rejected");
        };
        assert_eq!(at.ttl, None);
    }

    #[test]
    fn parses_digests() {
        let Ok(Some(Command::Digest(digest))) = parse("DIGEST Bona 1 kiwi 5.25 fig -3\r\n") else {
            panic!("digest rejected");
        };
        assert_eq!((digest.sender, digest.ask, digest.is_end()), ("Bona", true, false));
        let pairs: Vec<_> = digest.entries.iter().map(|e| (e.client, e.time_text)).collect();
        assert_eq!(pairs, [("kiwi", "5.25"), ("fig", "-3")]);
        assert_eq!(digest.entries[0].time, ClientTime::parse("5.250").unwrap());
        let Ok(Some(Command::Digest(end))) = parse(" DIGEST\tClark 0 ") else {
            panic!("end of digest rejected");
        };
        assert_eq!((end.sender, end.ask, end.is_end()), ("Clark", false, true));
    }

    #[test]
    fn classifies_invalid_lines() {
        use Invalid::*;
        for (line, why) in [
            ("HELLO", UnknownVerb),
            ("iamat kiwi +1+2 5", UnknownVerb),
            ("IAMAT", FieldCount),
            ("IAMAT kiwi +1+2", FieldCount),
            ("IAMAT kiwi +1+2 5 extra", FieldCount),
            ("IAMAT kiwi 34-118 5", Coords),
            ("IAMAT kiwi +91-118 5", Coords),
            ("IAMAT kiwi +34-181 5", Coords),
            ("IAMAT kiwi +34-118 nan", Time),
            ("IAMAT kiwi +34-118 1e9", Time),
            ("IAMAT kiwi +34-118 .5", Time),
            ("WHATSAT kiwi 0 5", Radius),
            ("WHATSAT kiwi 0.000 5", Radius),
            ("WHATSAT kiwi 50.001 5", Radius),
            ("WHATSAT kiwi -5 5", Radius),
            ("WHATSAT kiwi ten 5", Radius),
            ("WHATSAT kiwi 1e1 5", Radius),
            ("WHATSAT kiwi 10 0", Bound),
            ("WHATSAT kiwi 10 21", Bound),
            ("WHATSAT kiwi 10 -1", Bound),
            ("WHATSAT kiwi 10 2.5", Bound),
            ("WHATSAT kiwi 10 100000000000000000000", Bound),
            ("WHATSAT kiwi 10", FieldCount),
            ("AT Clark +0.1 kiwi +1+2", FieldCount),
            ("AT Clark +0.1 kiwi +1+2 5 Bona extra", FieldCount),
            ("AT Clark +0.1 kiwi +1+2 5 Bona ttl=1 extra", FieldCount),
            ("AT Clark +0.1 kiwi +1+2 5 Bona TTL=1", FieldCount),
            ("AT Clark +0.1 kiwi +1+2 5 Bona ttl=", Ttl),
            ("AT Clark +0.1 kiwi +1+2 5 Bona ttl=-1", Ttl),
            ("AT Clark +0.1 kiwi +1+2 5 Bona ttl=+1", Ttl),
            ("AT Clark +0.1 kiwi +1+2 5 Bona ttl=1.5", Ttl),
            ("AT Clark +0.1 kiwi +1+2 5 Bona ttl=4294967296", Ttl),
            ("AT Clark +0.1 kiwi +1+2 never Bona ttl=1", Time),
            ("DIGEST", FieldCount),
            ("DIGEST Bona", FieldCount),
            ("DIGEST Bona 1 kiwi", FieldCount),
            ("DIGEST Bona 1 kiwi 5 fig", FieldCount),
            ("DIGEST Bona 2 kiwi 5", Ask),
            ("DIGEST Bona yes", Ask),
            ("DIGEST Bona 1 kiwi 5 fig soon", Time),
            ("digest Bona 1", UnknownVerb),
            ("AT Clark fast kiwi +1+2 5", Diff),
            ("AT Clark 0.1 kiwi +1+2 5", Diff),
            ("AT Clark +0.1 kiwi +1+2 never", Time),
            ("IAMAT ki\0wi +1+2 5", Nul),
        ] {
            assert_eq!(parse(line).map(|_| ()), Err(why), "{line:?}");
        }
        assert_eq!(parse_line(b"IAMAT \xff\xfe +1+2 5").map(|_| ()), Err(NotText));
    }

    #[test]
    fn blank_lines_get_no_reply() {
        for line in ["", "\n", "\r\n", " \t\x0b\x0c\r\n"] {
            assert_eq!(parse(line), Ok(None));
            assert!(is_blank(line.as_bytes()));
        }
    }

    #[test]
    fn invalid_reply_copies_the_line_without_its_ending() {
        assert_eq!(invalid_reply(b"  bad  line \r\n"), b"?   bad  line \n");
        assert_eq!(invalid_reply(b"bad"), b"? bad\n");
        assert_eq!(invalid_reply(b"\xff\x00\n"), b"? \xff\x00\n");
    }
}
