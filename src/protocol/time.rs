//! Client timestamps (POSIX seconds with a fraction of any length) kept exact, and the signed
//! 9-digit time difference of an AT reply computed in integer nanoseconds.

use std::cmp::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// A client's timestamp, exact: integer seconds, the first nine fraction digits as
/// nanoseconds, and any further digits kept as text so that ordering never rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTime {
    negative: bool,
    secs: u64,
    nanos: u32,
    /// Fraction digits after the ninth, trailing zeros removed (almost always empty).
    beyond_nanos: Box<str>,
}

impl ClientTime {
    /// `1621464827.959498503`, `+12`, `-3.5`. Rejects `nan`, `inf`, exponents, a missing
    /// integer part (`.5`), an empty fraction (`5.`) and integers too large for `u64`.
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'+' => (false, &text[1..]),
            b'-' => (true, &text[1..]),
            _ => (false, text),
        };
        let (int, frac) = split_decimal(rest)?;
        let secs: u64 = int.parse().ok()?;
        let head = &frac[..frac.len().min(9)];
        let mut nanos: u32 = 0;
        for (i, digit) in head.bytes().enumerate() {
            nanos += u32::from(digit - b'0') * 10u32.pow(8 - i as u32);
        }
        let beyond = frac.get(9..).unwrap_or("").trim_end_matches('0');
        let zero = secs == 0 && nanos == 0 && beyond.is_empty();
        Some(Self { negative: negative && !zero, secs, nanos, beyond_nanos: beyond.into() })
    }

    /// The time in nanoseconds since the epoch, digits past the ninth dropped.
    pub fn as_nanos(&self) -> i128 {
        let magnitude = i128::from(self.secs) * NANOS_PER_SEC + i128::from(self.nanos);
        if self.negative { -magnitude } else { magnitude }
    }

    /// The time `nanos` nanoseconds from the epoch; `None` when its whole seconds do not fit
    /// in a `u64` (no client time is that far from the epoch).
    pub fn from_nanos(nanos: i128) -> Option<Self> {
        let magnitude = nanos.unsigned_abs();
        let secs = u64::try_from(magnitude / NANOS_PER_SEC.unsigned_abs()).ok()?;
        let nanos_part = (magnitude % NANOS_PER_SEC.unsigned_abs()) as u32;
        Some(Self { negative: nanos < 0, secs, nanos: nanos_part, beyond_nanos: Box::default() })
    }

    fn cmp_magnitude(&self, other: &Self) -> Ordering {
        (self.secs, self.nanos)
            .cmp(&(other.secs, other.nanos))
            .then_with(|| self.beyond_nanos.cmp(&other.beyond_nanos))
    }
}

impl Ord for ClientTime {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
        }
    }
}

impl PartialOrd for ClientTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Splits `digits[.digits]` into its integer and fraction parts (fraction may be empty when
/// there is no dot). Both parts must be ASCII digits; the integer part must be non-empty, and
/// so must the fraction when a dot is present.
pub(crate) fn split_decimal(text: &str) -> Option<(&str, &str)> {
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) if !frac.is_empty() => (int, frac),
        Some(_) => return None,
        None => (text, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (!int.is_empty() && all_digits(int) && all_digits(frac)).then_some((int, frac))
}

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

/// Is `client` more than `max` ahead of the server clock `now_nanos` (nanoseconds since the
/// epoch)? Exact: a time only a fraction of a nanosecond past the limit is ahead of it.
pub fn too_far_ahead(client: &ClientTime, now_nanos: i128, max: Duration) -> bool {
    let max = i128::try_from(max.as_nanos()).unwrap_or(i128::MAX);
    let limit = now_nanos.saturating_add(max);
    // A limit past every client time leaves nothing ahead of it; one before them all, nothing
    // behind.
    ClientTime::from_nanos(limit).map_or(limit < 0, |limit| *client > limit)
}

/// `received - client` as the AT reply prints it: always signed, plain decimal, 9 fraction
/// digits (`+0.263873386`, `-1.500000000`).
pub fn format_diff(received_nanos: i128, client: &ClientTime) -> String {
    let diff = received_nanos - client.as_nanos();
    let sign = if diff < 0 { '-' } else { '+' };
    let magnitude = diff.unsigned_abs();
    let secs = magnitude / 1_000_000_000;
    let nanos = magnitude % 1_000_000_000;
    format!("{sign}{secs}.{nanos:09}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> ClientTime {
        ClientTime::parse(text).expect(text)
    }

    #[test]
    fn parses_valid_times() {
        for (text, nanos) in [
            ("1621464827.959498503", 1_621_464_827_959_498_503),
            ("1621464827.959498", 1_621_464_827_959_498_000),
            ("1621464827", 1_621_464_827_000_000_000),
            ("0", 0),
            ("+5.5", 5_500_000_000),
            ("-5.25", -5_250_000_000),
            ("007.000000001", 7_000_000_001),
            ("1.1234567899", 1_123_456_789),
        ] {
            assert_eq!(t(text).as_nanos(), nanos, "{text}");
        }
    }

    #[test]
    fn rejects_invalid_times() {
        for text in [
            "",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "infinity",
            "1e9",
            "1.5e3",
            "1E9",
            ".5",
            "5.",
            "+",
            "-",
            "--5",
            "+-5",
            "1.2.3",
            "1,5",
            "0x10",
            "12a",
            " 1",
            "1 ",
            "١٢",
            "99999999999999999999999",
        ] {
            assert!(ClientTime::parse(text).is_none(), "{text:?} accepted");
        }
    }

    #[test]
    fn orders_exactly() {
        assert!(t("1621464827.959498503") > t("1621464827.959498502"));
        assert!(t("1621464827.9594985031") > t("1621464827.959498503"));
        assert_eq!(t("1.50").cmp(&t("1.5")), Ordering::Equal);
        assert_eq!(t("-0.0").cmp(&t("0")), Ordering::Equal);
        assert!(t("-1") < t("0"));
        assert!(t("-2") < t("-1"));
        assert!(t("-1.0000000001") < t("-1"));
        assert!(t("10") > t("9.999999999999"));
    }

    #[test]
    fn from_nanos_round_trips_through_as_nanos() {
        for nanos in [0, 1, -1, 1_621_464_827_959_498_503, -5_250_000_000, 999_999_999] {
            assert_eq!(ClientTime::from_nanos(nanos).map(|t| t.as_nanos()), Some(nanos));
        }
        assert_eq!(ClientTime::from_nanos(-1_500_000_000), Some(t("-1.5")));
        assert_eq!(ClientTime::from_nanos(i128::MAX), None);
    }

    #[test]
    fn too_far_ahead_is_exact_at_the_limit() {
        let now = 1_621_464_827_000_000_000;
        let hour = Duration::from_secs(3600);
        for (client, ahead) in [
            ("1621464827", false),
            ("1621468427", false),
            ("1621468427.000000000", false),
            ("1621468427.0000000000000", false),
            ("1621468427.0000000001", true),
            ("1621468427.000000001", true),
            ("1621468428", true),
            ("1621464826.5", false),
            ("0", false),
            ("-99999999999", false),
            ("18446744073709551615.999999999", true),
        ] {
            assert_eq!(too_far_ahead(&t(client), now, hour), ahead, "{client}");
        }
        assert!(!too_far_ahead(&t("1621464827"), now, Duration::ZERO));
        assert!(too_far_ahead(&t("1621464827.0000000001"), now, Duration::ZERO));
        assert!(!too_far_ahead(&t("18446744073709551615.9"), now, Duration::MAX));
        assert!(too_far_ahead(&t("-18446744073709551615"), i128::MIN, Duration::ZERO));
        assert!(!too_far_ahead(&t("-5"), -10_000_000_000, Duration::from_secs(5)));
        assert!(too_far_ahead(&t("-4.9"), -10_000_000_000, Duration::from_secs(5)));
    }

    #[test]
    fn formats_signed_nine_digit_differences() {
        let client = t("1621464827.959498503");
        for (received, want) in [
            (1_621_464_828_223_371_889, "+0.263873386"),
            (1_621_464_827_959_498_503, "+0.000000000"),
            (1_621_464_826_459_498_503, "-1.500000000"),
            (1_621_464_827_959_498_502, "-0.000000001"),
            (1_621_464_927_959_498_504, "+100.000000001"),
        ] {
            assert_eq!(format_diff(received, &client), want);
        }
        assert_eq!(format_diff(1_000_000_000, &t("0.000001")), "+0.999999000");
    }
}
