//! Places backends for WHATSAT: a deterministic offline generator (the default, no key, no
//! network) and the legacy Google Places Nearby Search over HTTP, plus the trimming and
//! pretty-printing rules of protocol.md §5.

use std::time::Duration;

use serde_json::Value;

/// One Nearby Search request, with its fields already in the wire form Google expects:
/// `lat` and `lng` plain decimal without a `+`, `radius_m` in metres as plain decimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearbyQuery {
    pub lat: String,
    pub lng: String,
    pub radius_m: String,
}

/// Where WHATSAT answers come from.
#[derive(Debug, Clone)]
pub enum Places {
    /// Deterministic made-up places around the location.
    Offline,
    /// Legacy Nearby Search over HTTP.
    Google(GooglePlaces),
}

/// HTTP client for `{base}/maps/api/place/nearbysearch/json`.
#[derive(Debug, Clone)]
pub struct GooglePlaces {
    // filled in by the implementation
}

impl GooglePlaces {
    /// `base` without trailing slash, e.g. `https://maps.googleapis.com`.
    pub fn new(base: &str, key: &str, timeout: Duration) -> Self {
        let _ = (base, key, timeout);
        todo!()
    }
}

impl Places {
    /// The full Nearby Search response (untrimmed). Never fails: when the service cannot be
    /// reached or answers garbage, returns an object of the same shape with status
    /// `UNKNOWN_ERROR`, empty `results` and an `error_message` that never contains the key.
    pub async fn nearby(&self, query: &NearbyQuery) -> Value {
        let _ = query;
        todo!()
    }
}

/// `results` cut to the first `bound` entries, pretty-printed with no blank line and no
/// trailing newline (protocol.md §5).
pub fn render_trimmed(response: &Value, bound: usize) -> String {
    let _ = (response, bound);
    todo!()
}

/// The `status` field of a response, or `""`.
pub fn status_of(response: &Value) -> &str {
    response.get("status").and_then(Value::as_str).unwrap_or("")
}
