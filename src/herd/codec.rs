//! Framing: raw byte lines split at `\n`, bounded in length, with a final unterminated line at
//! EOF treated as a command (the grading client half-closes without a trailing newline).

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

/// The longest line served; anything longer is answered `? <prefix>` and skipped.
pub const MAX_LINE: usize = 1 << 20;

/// How much of an over-long line the `? ` reply copies.
const TOO_LONG_PREFIX: usize = 256;

/// One framed unit from a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A line, with its `\n` (and any `\r`) still attached.
    Line(Bytes),
    /// The start of a line longer than the limit; the rest is discarded.
    TooLong(Bytes),
}

/// Splits bytes into [`Frame`]s without ever buffering more than `max` bytes of one line.
#[derive(Debug)]
pub struct LineDecoder {
    max: usize,
    /// Bytes already scanned for `\n` in the current partial line.
    scanned: usize,
    /// Inside an over-long line: drop everything up to its `\n`.
    discarding: bool,
}

impl LineDecoder {
    pub fn new(max: usize) -> Self {
        Self { max, scanned: 0, discarding: false }
    }

    /// The start of an over-long line, for its `? ` reply: never past the line's end.
    fn prefix(line: &[u8]) -> Bytes {
        Bytes::copy_from_slice(&line[..line.len().min(TOO_LONG_PREFIX)])
    }
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new(MAX_LINE)
    }
}

impl Decoder for LineDecoder {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        loop {
            let newline = buf[self.scanned..].iter().position(|&b| b == b'\n');
            let newline = newline.map(|i| i + self.scanned);
            if self.discarding {
                self.scanned = 0;
                let Some(end) = newline else {
                    buf.clear();
                    return Ok(None);
                };
                buf.advance(end + 1);
                self.discarding = false;
                continue;
            }
            return Ok(match newline {
                Some(end) if end <= self.max => {
                    self.scanned = 0;
                    Some(Frame::Line(buf.split_to(end + 1).freeze()))
                }
                Some(end) => {
                    self.scanned = 0;
                    let prefix = Self::prefix(&buf[..end]);
                    buf.advance(end + 1);
                    Some(Frame::TooLong(prefix))
                }
                None if buf.len() > self.max => {
                    self.scanned = 0;
                    self.discarding = true;
                    let prefix = Self::prefix(buf);
                    buf.clear();
                    Some(Frame::TooLong(prefix))
                }
                None => {
                    self.scanned = buf.len();
                    None
                }
            });
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        self.scanned = 0;
        if buf.is_empty() || self.discarding {
            buf.clear();
            return Ok(None);
        }
        Ok(Some(Frame::Line(buf.split().freeze())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(decoder: &mut LineDecoder, buf: &mut BytesMut) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(frame) = decoder.decode(buf).expect("decode") {
            out.push(frame);
        }
        out
    }

    fn line(text: &str) -> Frame {
        Frame::Line(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn splits_pipelined_and_partial_lines() {
        let mut decoder = LineDecoder::new(64);
        let mut buf = BytesMut::from(&b"A 1\nB 2\r\nC"[..]);
        assert_eq!(frames(&mut decoder, &mut buf), vec![line("A 1\n"), line("B 2\r\n")]);
        buf.extend_from_slice(b" 3");
        assert!(frames(&mut decoder, &mut buf).is_empty());
        buf.extend_from_slice(b"\n");
        assert_eq!(frames(&mut decoder, &mut buf), vec![line("C 3\n")]);
    }

    #[test]
    fn unterminated_final_line_is_a_command_at_eof() {
        let mut decoder = LineDecoder::new(64);
        let mut buf = BytesMut::from(&b"IAMAT x +1+1 1"[..]);
        assert_eq!(decoder.decode(&mut buf).expect("decode"), None);
        let last = decoder.decode_eof(&mut buf).expect("eof");
        assert_eq!(last, Some(line("IAMAT x +1+1 1")));
        assert_eq!(decoder.decode_eof(&mut buf).expect("eof"), None);
    }

    #[test]
    fn over_long_lines_are_reported_once_and_skipped() {
        let mut decoder = LineDecoder::new(8);
        let mut buf = BytesMut::from(&b"0123456789"[..]);
        let got = frames(&mut decoder, &mut buf);
        assert!(matches!(&got[..], [Frame::TooLong(p)] if p.as_ref() == b"0123456789"));
        assert!(buf.is_empty());
        buf.extend_from_slice(b"more junk\nok\n");
        assert_eq!(frames(&mut decoder, &mut buf), vec![line("ok\n")]);
        let mut buf = BytesMut::from(&b"0123456789ab\nok\n"[..]);
        let got = frames(&mut decoder, &mut buf);
        assert!(matches!(&got[..], [Frame::TooLong(_), Frame::Line(_)]));
    }

    #[test]
    fn the_prefix_of_an_over_long_line_stops_at_its_end() {
        // The whole line and the next one arrive together: the `? ` reply must copy neither
        // the newline nor the next line.
        let mut decoder = LineDecoder::new(8);
        let mut buf = BytesMut::from(&b"0123456789ab\nnext\n"[..]);
        let got = frames(&mut decoder, &mut buf);
        assert_eq!(got, vec![Frame::TooLong(Bytes::from_static(b"0123456789ab")), line("next\n")]);
    }
}
