//! The Google Places backend against a mock HTTP server: request shape, pass-through of
//! whatever JSON object comes back, `UNKNOWN_ERROR` when the service cannot be used, and
//! the key never leaking into answers, `Debug` output or tracing events.

#![allow(clippy::unwrap_used)]

use std::fmt::{self, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herdctl::places::{GooglePlaces, NearbyQuery, Places, render_trimmed, status_of};
use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "SECRET-KEY-123";
const NEARBY_PATH: &str = "/maps/api/place/nearbysearch/json";

fn ucla() -> NearbyQuery {
    NearbyQuery { lat: "34.068930".into(), lng: "-118.445127".into(), radius_m: "10000".into() }
}

fn google(base: &str, timeout: Duration) -> Places {
    Places::Google(GooglePlaces::new(base, KEY, timeout))
}

/// The key appears nowhere in the value, nor in its rendering.
fn assert_no_key(value: &Value) {
    let text = serde_json::to_string(value).unwrap();
    assert!(!text.contains(KEY), "key leaked: {text}");
    assert!(!render_trimmed(value, 20).contains(KEY));
}

fn assert_unknown_error(value: &Value) -> String {
    assert_eq!(status_of(value), "UNKNOWN_ERROR", "{value}");
    assert_eq!(value["html_attributions"], json!([]));
    assert_eq!(value["results"], json!([]));
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["html_attributions", "results", "status", "error_message"]);
    assert_no_key(value);
    let rendered = render_trimmed(value, 5);
    assert!(!rendered.contains("\n\n"));
    assert!(!rendered.ends_with('\n'));
    value["error_message"].as_str().unwrap().to_owned()
}

/// Compact text of a JSON document with its field order kept.
fn canonical(text: &str) -> String {
    serde_json::to_string(&serde_json::from_str::<Value>(text).unwrap()).unwrap()
}

fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

/// Records every span and event field as text, to check what would be logged.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct TextVisitor<'a>(&'a mut String);

impl Visit for TextVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl Capture {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = self.0.lock().unwrap();
        let _ = write!(text, "\nspan {}", span.metadata().name());
        span.record(&mut TextVisitor(&mut text));
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut TextVisitor(&mut self.0.lock().unwrap()));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = self.0.lock().unwrap();
        let _ = write!(text, "\nevent {}", event.metadata().target());
        event.record(&mut TextVisitor(&mut text));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[tokio::test]
async fn sends_the_documented_request_and_passes_the_answer_through() {
    let server = MockServer::start().await;
    let body = r#"{
        "html_attributions": [],
        "next_page_token": "NEXT",
        "results": [
            {"name": "Zeta", "geometry": {"location": {"lng": -118.44, "lat": 34.07}}},
            {"vicinity": "1 Main St", "name": "Alpha"}
        ],
        "status": "OK"
    }"#;
    Mock::given(method("GET"))
        .and(path(NEARBY_PATH))
        .and(query_param("location", "34.068930,-118.445127"))
        .and(query_param("radius", "10000"))
        .and(query_param("key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .expect(1)
        .mount(&server)
        .await;

    let value = google(&server.uri(), Duration::from_secs(5)).nearby(&ucla()).await;
    assert_eq!(serde_json::to_string(&value).unwrap(), canonical(body));
    assert_eq!(status_of(&value), "OK");

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let url = &requests[0].url;
    assert_eq!(url.path(), NEARBY_PATH);
    let pairs: Vec<(String, String)> =
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let expected = [("location", "34.068930,-118.445127"), ("radius", "10000"), ("key", KEY)]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(pairs, expected);
    assert!(!url.query().unwrap_or("").contains('+'));
}

#[tokio::test]
async fn trailing_slash_in_base_is_ignored() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(NEARBY_PATH))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                r#"{"html_attributions":[],"results":[],"status":"ZERO_RESULTS"}"#,
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/", server.uri());
    let value = google(&base, Duration::from_secs(5)).nearby(&ucla()).await;
    assert_eq!(status_of(&value), "ZERO_RESULTS");
}

#[tokio::test]
async fn error_statuses_are_passed_through() {
    for body in [
        r#"{"html_attributions":[],"results":[],"status":"OVER_QUERY_LIMIT"}"#,
        r#"{"error_message":"The provided API key is invalid.","html_attributions":[],"results":[],"status":"REQUEST_DENIED"}"#,
        r#"{"html_attributions":[],"results":[],"status":"INVALID_REQUEST"}"#,
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(NEARBY_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
        let value = google(&server.uri(), Duration::from_secs(5)).nearby(&ucla()).await;
        assert_eq!(serde_json::to_string(&value).unwrap(), canonical(body));
    }
}

#[tokio::test]
async fn non_200_json_is_passed_through() {
    let server = MockServer::start().await;
    let body = r#"{"error_message":"You have exceeded your daily request quota.","html_attributions":[],"results":[],"status":"OVER_QUERY_LIMIT"}"#;
    Mock::given(method("GET"))
        .and(path(NEARBY_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("content-type", "application/json")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    let value = google(&server.uri(), Duration::from_secs(5)).nearby(&ucla()).await;
    assert_eq!(serde_json::to_string(&value).unwrap(), canonical(body));
    assert_eq!(status_of(&value), "OVER_QUERY_LIMIT");
}

#[tokio::test]
async fn html_error_page_becomes_unknown_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(500)
                .insert_header("content-type", "text/html")
                .set_body_string("<html><body><h1>500 Internal Server Error</h1></body></html>"),
        )
        .mount(&server)
        .await;
    let value = google(&server.uri(), Duration::from_secs(5)).nearby(&ucla()).await;
    let message = assert_unknown_error(&value);
    assert!(message.contains("HTTP 500"), "{message}");
    assert!(message.contains("non-JSON"), "{message}");
}

#[tokio::test]
async fn json_that_is_not_an_object_becomes_unknown_error() {
    for (code, body) in [(200, "[1, 2, 3]"), (502, "\"bad gateway\""), (200, "")] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(code).set_body_string(body))
            .mount(&server)
            .await;
        let value = google(&server.uri(), Duration::from_secs(5)).nearby(&ucla()).await;
        let message = assert_unknown_error(&value);
        assert!(message.contains(&format!("HTTP {code}")), "{message}");
    }
}

#[tokio::test]
async fn hanging_server_times_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"html_attributions":[],"results":[],"status":"OK"}"#)
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let timeout = Duration::from_millis(300);
    let places = google(&server.uri(), timeout);
    let started = Instant::now();
    let value = places.nearby(&ucla()).await;
    let elapsed = started.elapsed();
    assert!(elapsed < timeout + Duration::from_secs(1), "{elapsed:?}");
    let message = assert_unknown_error(&value);
    assert!(message.contains("timed out after 300ms"), "{message}");
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let value = google(&base, Duration::from_secs(5)).nearby(&ucla()).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let message = assert_unknown_error(&value);
    assert!(message.contains("unreachable"), "{message}");
    assert!(message.contains("connection refused"), "{message}");
}

#[tokio::test]
async fn key_is_never_logged() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let closed = google(&format!("http://127.0.0.1:{}", closed_port()), Duration::from_secs(5));
    assert_no_key(&closed.nearby(&ucla()).await);

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("{}").set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let hanging = google(&server.uri(), Duration::from_millis(200));
    assert_no_key(&hanging.nearby(&ucla()).await);

    let denied = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string(
            r#"{"error_message":"denied","html_attributions":[],"results":[],"status":"REQUEST_DENIED"}"#,
        ))
        .mount(&denied)
        .await;
    let value = google(&denied.uri(), Duration::from_secs(5)).nearby(&ucla()).await;
    assert_eq!(status_of(&value), "REQUEST_DENIED");

    let logged = capture.text();
    assert!(logged.contains("event"), "nothing was logged: {logged}");
    assert!(!logged.contains(KEY), "key logged: {logged}");
}

#[test]
fn debug_output_hides_the_key() {
    let places = google("https://maps.googleapis.com", Duration::from_secs(5));
    let shown = format!("{places:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("maps.googleapis.com"));
}
