//! Wall-clock time as herdctl prints it, in the local time zone, so one moment reads the same
//! everywhere: `HH:MM:SS.mmm` on the dashboard, and RFC 3339 with microseconds and the zone's
//! offset at the start of every log line (`2026-12-01T14:03:07.512345+01:00`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, Local, Offset, SecondsFormat, Utc};
use tokio::time::Instant;

/// Ties the dashboard's instants to wall-clock time in one zone (the local one, as it was
/// when the dashboard opened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wall {
    /// An instant, and the wall-clock time it stands for.
    pub instant: Instant,
    pub at: SystemTime,
    pub offset: FixedOffset,
}

impl Wall {
    /// `instant` is now, in the local zone.
    pub fn now(instant: Instant) -> Self {
        Self::local(instant, SystemTime::now())
    }

    /// `instant` stands for `at`, in the local zone.
    pub fn local(instant: Instant, at: SystemTime) -> Self {
        Self { instant, at, offset: *Local::now().offset() }
    }

    /// `instant` stands for `at`, in UTC.
    pub fn utc(instant: Instant, at: SystemTime) -> Self {
        Self { instant, at, offset: Utc.fix() }
    }

    /// `14:03:07.512`: the wall-clock time of `instant`.
    pub fn clock(&self, instant: Instant) -> String {
        let at = if instant >= self.instant {
            self.at + (instant - self.instant)
        } else {
            self.at - (self.instant - instant)
        };
        DateTime::<Utc>::from(at).with_timezone(&self.offset).format("%H:%M:%S%.3f").to_string()
    }
}

/// The log stamp of a whole second, split where its microseconds go:
/// (`2026-12-01T14:03:07.`, `+01:00`), local. UTC reads `Z`.
pub fn log_second(secs: u64) -> (String, String) {
    let at = DateTime::<Local>::from(UNIX_EPOCH + Duration::from_secs(secs));
    let text = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    // `…T14:03:07+01:00` or `…T14:03:07Z`: the date and time are the first 19 characters.
    let (time, offset) = text.split_at(19.min(text.len()));
    (format!("{time}."), offset.to_owned())
}

/// `2026-12-01T14:03:07+01:00`, local, to the second.
pub fn seconds(at: SystemTime) -> String {
    DateTime::<Local>::from(at).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads a log stamp back (any offset).
pub fn parse_log(stamp: &str) -> Option<SystemTime> {
    DateTime::parse_from_rfc3339(stamp).ok().map(SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_stamp_reads_back_as_the_same_moment_and_shows_the_same_clock() {
        let at = UNIX_EPOCH + Duration::from_micros(1_764_547_387_512_345);
        let (prefix, offset) = log_second(1_764_547_387);
        let stamp = format!("{prefix}512345{offset}");
        assert_eq!(parse_log(&stamp), Some(at));
        // The dashboard's clock is the stamp's time of day, to the millisecond.
        let now = Instant::now();
        let shown = Wall::local(now, at).clock(now);
        assert_eq!(shown.len(), 12);
        assert!(stamp.contains(&format!("T{}", &shown[..8])), "{stamp} vs {shown}");
        assert!(stamp[20..].starts_with(&shown[9..]), "{stamp} vs {shown}");
        let later = Wall::utc(now, UNIX_EPOCH).clock(now + Duration::from_millis(3_723_004));
        assert_eq!(later, "01:02:03.004");
    }
}
