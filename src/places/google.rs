//! The Google Places backend: an HTTP client for the legacy Nearby Search endpoint that never
//! fails (errors become `UNKNOWN_ERROR` answers) and never lets the API key out, whether in
//! answers, `Debug` output or log events.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::{NearbyQuery, failure_response, status_of};

/// Path of the legacy Nearby Search endpoint, appended to the base URL.
pub const NEARBY_SEARCH_PATH: &str = "/maps/api/place/nearbysearch/json";

/// Upper bound of the connect timeout, whatever the request timeout is.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Responses larger than this are treated as garbage rather than buffered without end.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// HTTP client for `{base}/maps/api/place/nearbysearch/json`.
///
/// Cloning is cheap (the connection pool and the strings are shared). `Debug` never shows
/// the key.
#[derive(Clone)]
pub struct GooglePlaces {
    /// The reason (key-free) when the HTTP client could not be built; every request then
    /// answers `UNKNOWN_ERROR` with it as the message.
    client: Result<reqwest::Client, Arc<str>>,
    endpoint: Arc<str>,
    key: Arc<str>,
    timeout: Duration,
}

impl fmt::Debug for GooglePlaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GooglePlaces")
            .field("endpoint", &self.endpoint)
            .field("key", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl GooglePlaces {
    /// `base` without trailing slash, e.g. `https://maps.googleapis.com`.
    pub fn new(base: &str, key: &str, timeout: Duration) -> Self {
        let base = base.strip_suffix('/').unwrap_or(base);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            // A redirect would resend the key to wherever it points; Google never redirects.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| {
                let message =
                    format!("places HTTP client could not be initialised: {}", describe_error(err));
                redact(&message, key).into()
            });
        Self {
            client,
            endpoint: format!("{base}{NEARBY_SEARCH_PATH}").into(),
            key: key.into(),
            timeout,
        }
    }

    /// The full URL requests go to, without the query string (hence without the key).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// One Nearby Search request; see [`Places::nearby`](super::Places::nearby).
    pub async fn nearby(&self, query: &NearbyQuery) -> Value {
        tracing::debug!(
            endpoint = %self.endpoint,
            lat = %query.lat,
            lng = %query.lng,
            radius_m = %query.radius_m,
            "places nearby search"
        );
        // reqwest enforces the timeout itself; this outer guard only makes "never hang"
        // independent of that.
        let outcome = tokio::time::timeout(self.timeout, self.fetch(query))
            .await
            .unwrap_or_else(|_| Err(timeout_message(self.timeout)));
        match outcome {
            Ok(response) => {
                let status = status_of(&response);
                if status != "OK" && status != "ZERO_RESULTS" {
                    tracing::warn!(status, "places service answered with a non-OK status");
                }
                response
            }
            Err(message) => {
                let message = redact(&message, &self.key);
                tracing::warn!(error = %message, "places request failed");
                failure_response("UNKNOWN_ERROR", &message)
            }
        }
    }

    /// Sends the request and reads the body; `Err` carries a key-free explanation.
    async fn fetch(&self, query: &NearbyQuery) -> Result<Value, String> {
        let client = self.client.as_ref().map_err(ToString::to_string)?;
        let location = format!("{},{}", query.lat, query.lng);
        let request = client.get(&*self.endpoint).query(&[
            ("location", location.as_str()),
            ("radius", query.radius_m.as_str()),
            ("key", &*self.key),
        ]);
        let mut response = request.send().await.map_err(|err| self.request_error(err))?;
        let code = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(format!(
                            "places service answered HTTP {code} with a body larger than {} MiB",
                            MAX_BODY_BYTES / (1024 * 1024)
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) if err.is_timeout() => return Err(timeout_message(self.timeout)),
                Err(err) => {
                    return Err(format!(
                        "places service answer (HTTP {code}) could not be read: {}",
                        describe_error(err)
                    ));
                }
            }
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => {
                Err(format!("places service answered HTTP {code} with JSON that is not an object"))
            }
            Err(_) => Err(format!("places service answered HTTP {code} with a non-JSON body")),
        }
    }

    fn request_error(&self, err: reqwest::Error) -> String {
        if err.is_timeout() {
            timeout_message(self.timeout)
        } else if err.is_connect() {
            format!("places service unreachable: {}", describe_error(err))
        } else {
            format!("places request failed: {}", describe_error(err))
        }
    }
}

fn timeout_message(timeout: Duration) -> String {
    format!("places request timed out after {}", human_duration(timeout))
}

/// `5s`, `300ms`, `1.5s`.
fn human_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 && Duration::from_millis(u64::from(d.subsec_millis())) == d {
        format!("{}ms", d.subsec_millis())
    } else {
        format!("{d:?}")
    }
}

/// A short reason for a reqwest error, without the URL (which carries the key): the
/// innermost I/O error if there is one, else the innermost cause.
fn describe_error(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut innermost: &dyn StdError = &err;
    let mut io_error: Option<&io::Error> = None;
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            io_error = Some(io);
        }
        innermost = cause;
        source = cause.source();
    }
    if let Some(io) = io_error {
        let phrase = match io.kind() {
            io::ErrorKind::ConnectionRefused => Some("connection refused"),
            io::ErrorKind::ConnectionReset => Some("connection reset"),
            io::ErrorKind::ConnectionAborted => Some("connection aborted"),
            io::ErrorKind::TimedOut => Some("timed out"),
            io::ErrorKind::HostUnreachable => Some("host unreachable"),
            io::ErrorKind::NetworkUnreachable => Some("network unreachable"),
            io::ErrorKind::AddrNotAvailable => Some("address not available"),
            _ => None,
        };
        return phrase.map_or_else(|| io.to_string(), str::to_owned);
    }
    innermost.to_string()
}

/// Defence in depth: whatever a message was built from, the key never leaves.
fn redact(message: &str, key: &str) -> String {
    if key.is_empty() { message.to_owned() } else { message.replace(key, "<redacted>") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::places::Places;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_secs(5)), "5s");
        assert_eq!(human_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn debug_redacts_the_key() {
        let google =
            GooglePlaces::new("http://127.0.0.1:9/", "SECRET-KEY-123", Duration::from_secs(1));
        assert_eq!(google.endpoint(), "http://127.0.0.1:9/maps/api/place/nearbysearch/json");
        let shown = format!("{:?}", Places::Google(google.clone()));
        assert!(!shown.contains("SECRET-KEY-123"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn redact_removes_the_key() {
        assert_eq!(redact("a KEY b", "KEY"), "a <redacted> b");
        assert_eq!(redact("a b", ""), "a b");
    }
}
