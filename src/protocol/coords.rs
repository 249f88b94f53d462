//! ISO 6709 coordinates as IAMAT carries them (`+34.068930-118.445127`), validated exactly and
//! kept as the client's own text.

use super::time::split_decimal;

/// Validated coordinates, borrowing the client's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coords<'a> {
    text: &'a str,
    /// Byte index where the longitude's sign starts.
    split: usize,
}

impl<'a> Coords<'a> {
    /// A sign, digits, optional `.digits`, then a sign, digits, optional `.digits`; latitude in
    /// [-90, 90] and longitude in [-180, 180], checked on the decimal text (no rounding).
    pub fn parse(text: &'a str) -> Option<Self> {
        let bytes = text.as_bytes();
        if !matches!(bytes.first(), Some(b'+' | b'-')) {
            return None;
        }
        let split = 1 + bytes[1..].iter().position(|&b| b == b'+' || b == b'-')?;
        let coords = Self { text, split };
        (within(&text[1..split], 90) && within(&text[split + 1..], 180)).then_some(coords)
    }

    /// The text exactly as the client sent it.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// Latitude as plain decimal text without a `+` (`34.068930`, `-1.5`).
    pub fn lat_text(&self) -> &'a str {
        self.text[..self.split].trim_start_matches('+')
    }

    /// Longitude as plain decimal text without a `+`.
    pub fn lng_text(&self) -> &'a str {
        self.text[self.split..].trim_start_matches('+')
    }

    /// Latitude in degrees (for display and the offline places generator).
    pub fn lat(&self) -> f64 {
        self.lat_text().parse().unwrap_or(0.0)
    }

    /// Longitude in degrees.
    pub fn lng(&self) -> f64 {
        self.lng_text().parse().unwrap_or(0.0)
    }
}

/// `digits[.digits]` whose value lies in `[0, limit]`, compared on the text.
pub(crate) fn within(unsigned: &str, limit: u32) -> bool {
    let Some((int, frac)) = split_decimal(unsigned) else {
        return false;
    };
    let int = int.trim_start_matches('0');
    if int.len() > 3 {
        return false;
    }
    let value: u32 = int.parse().unwrap_or(0);
    let fraction_zero = frac.bytes().all(|b| b == b'0');
    value < limit || (value == limit && fraction_zero)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_coordinates() {
        for (text, lat, lng) in [
            ("+34.068930-118.445127", "34.068930", "-118.445127"),
            ("+12-118", "12", "-118"),
            ("-90+180", "-90", "180"),
            ("+90.000-180.0", "90.000", "-180.0"),
            ("-0.5+0.5", "-0.5", "0.5"),
            ("+034.1+007", "034.1", "007"),
        ] {
            let c = Coords::parse(text).expect(text);
            assert_eq!((c.as_str(), c.lat_text(), c.lng_text()), (text, lat, lng));
        }
        let c = Coords::parse("+34.068930-118.445127").expect("valid");
        assert!((c.lat() - 34.068_93).abs() < 1e-9 && (c.lng() + 118.445_127).abs() < 1e-9);
    }

    #[test]
    fn rejects_invalid_coordinates() {
        for text in [
            "",
            "+",
            "34.0-118.0",
            "+34.0",
            "+34.0-",
            "+34.0--118.0",
            "+34.0+-118.0",
            "+90.0000001+0",
            "+91+0",
            "-90.1+0",
            "+0+180.0000000001",
            "+0-181",
            "+1000+0",
            "+34.-118.4",
            "+.5-118",
            "+34.5-.5",
            "+34.5-118.",
            "+3a-118",
            "+34.0-118.0+1",
            "+1e1-118",
            "+nan-118",
            "+inf+0",
            "+34,5-118",
            "+ 34-118",
        ] {
            assert!(Coords::parse(text).is_none(), "{text:?} accepted");
        }
    }
}
