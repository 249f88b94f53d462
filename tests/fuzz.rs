//! Fuzz target for what a connection's bytes go through first: the line framing
//! (`LineDecoder`, fed in arbitrary chunks, compared with a plain split at `\n`) and the line
//! parser on every framed line. Under `cargo test` it runs on random inputs for about a
//! second; docs/testing.md shows how to run it coverage-guided for longer.
#![allow(clippy::unwrap_used)]

use bolero::check;
use bytes::BytesMut;
use herdctl::herd::{Frame, LineDecoder};
use herdctl::protocol::{
    Command, at_line, digest_lines, format_diff, invalid_reply, is_blank, parse_line,
};
use tokio_util::codec::Decoder;

/// How much of an over-long line its `? ` reply may copy.
const TOO_LONG_PREFIX: usize = 256;

/// What framing `data` must give with line limit `max`: each `\n`-terminated piece (and an
/// unterminated last one) is a line if its content fits, else reported as too long.
fn expected(data: &[u8], max: usize) -> Vec<Result<&[u8], &[u8]>> {
    data.split_inclusive(|&b| b == b'\n')
        .map(|piece| {
            let content = piece.strip_suffix(b"\n").unwrap_or(piece);
            if content.len() <= max { Ok(piece) } else { Err(piece) }
        })
        .collect()
}

/// Feeds `data` to a decoder in chunks of the given sizes, as reads would deliver it.
fn frames(data: &[u8], chunk_sizes: &[u8], max: usize) -> Vec<Frame> {
    let mut decoder = LineDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = data;
    let mut sizes = chunk_sizes.iter().map(|&s| usize::from(s) + 1).cycle();
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        buf.extend_from_slice(chunk);
        while let Some(frame) = decoder.decode(&mut buf).unwrap() {
            out.push(frame);
        }
        assert!(buf.len() <= max, "{} bytes buffered over a limit of {max}", buf.len());
    }
    while let Some(frame) = decoder.decode_eof(&mut buf).unwrap() {
        out.push(frame);
    }
    assert!(buf.is_empty(), "bytes left after EOF");
    out
}

/// What a server does with one framed line must not panic, and its reply must be well formed.
fn check_line(line: &[u8]) {
    match parse_line(line) {
        Ok(None) => assert!(is_blank(line)),
        Ok(Some(Command::IAmAt(iamat))) => {
            let diff = format_diff(0, &iamat.time);
            let reply = at_line("S", &diff, iamat.client, iamat.coords.as_str(), iamat.time_text);
            let Ok(Some(Command::At(at))) = parse_line(reply.as_bytes()) else {
                panic!("reply {reply:?} to {line:?} is not an AT line");
            };
            assert_eq!(
                (at.client, at.coords, at.time_text),
                (iamat.client, iamat.coords, iamat.time_text)
            );
        }
        Ok(Some(Command::At(at))) => {
            let again = at.canonical_line();
            assert!(matches!(parse_line(again.as_bytes()), Ok(Some(Command::At(_)))), "{again:?}");
        }
        Ok(Some(Command::WhatsAt(whatsat))) => assert!((1..=20).contains(&whatsat.bound)),
        Ok(Some(Command::Digest(digest))) => {
            let entries = digest.entries.iter().map(|e| (e.client, e.time_text));
            let lines = digest_lines(digest.sender, digest.ask, entries, usize::MAX);
            for again in &lines {
                let Ok(Some(Command::Digest(back))) = parse_line(again.as_bytes()) else {
                    panic!("{again:?} from {line:?} is not a digest");
                };
                assert_eq!((back.sender, back.ask), (digest.sender, digest.ask));
            }
        }
        Err(_) => {
            let reply = invalid_reply(line);
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            assert_eq!(reply, [&b"? "[..], body, b"\n"].concat());
        }
    }
}

/// `max_seed` picks the line limit, `chunk_sizes` how reads split the bytes.
fn framing_and_parsing(max_seed: u16, chunk_sizes: &[u8], data: &[u8]) {
    let max = usize::from(max_seed % 600) + 1;
    let got = frames(data, chunk_sizes, max);
    let want = expected(data, max);
    assert_eq!(got.len(), want.len(), "{got:?} for {want:?}");
    for (frame, want) in got.iter().zip(want) {
        match (frame, want) {
            (Frame::Line(line), Ok(piece)) => {
                assert_eq!(line.as_ref(), piece);
                check_line(line);
            }
            (Frame::TooLong(prefix), Err(piece)) => {
                assert!(!prefix.is_empty() && prefix.len() <= TOO_LONG_PREFIX.min(piece.len()));
                assert!(piece.starts_with(prefix), "{prefix:?} does not start {piece:?}");
                check_line(prefix);
            }
            (frame, want) => panic!("framed {frame:?} where {want:?} was due"),
        }
    }
}

#[test]
fn fuzz_framing_and_parsing() {
    check!().with_type::<(u16, Vec<u8>, Vec<u8>)>().for_each(|(max_seed, chunk_sizes, data)| {
        framing_and_parsing(*max_seed, chunk_sizes, data);
    });
}

#[test]
fn framing_examples() {
    framing_and_parsing(7, &[2], b"IAMAT a +1+1 1\nWHATSAT a 1 1\r\n0123456789\nAT");
    framing_and_parsing(0, &[], b"\n\n\nx");
    framing_and_parsing(599, &[255, 0, 3], &[b'x'; 2000]);
    // Found by this target: an over-long line's `? ` prefix ran on into the next line.
    framing_and_parsing(7, &[255], b"0123456789ab\nnext\n");
}
