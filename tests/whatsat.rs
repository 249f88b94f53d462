//! WHATSAT (protocol.md §5, §7): reply framing with the offline backend, and the HTTP Places
//! backend against a local mock of the legacy Nearby Search API: request shape, trimming,
//! pass-through of statuses, failing and hanging services, and the key kept secret.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestHerd, at_fields, split_whatsat};
use herdctl::places::{GooglePlaces, Places};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HERD: [&str; 5] = ["Bailey", "Bona", "Campbell", "Clark", "Jaquez"];
const KEY: &str = "test-KEY_0123456789abcdef";
const NEARBY: &str = "/maps/api/place/nearbysearch/json";

/// A herd whose WHATSATs go to the mock at `server`.
async fn herd_with_places(server: &MockServer, timeout: Duration) -> TestHerd {
    let places = GooglePlaces::new(&server.uri(), KEY, timeout);
    common::start_with("cs131", move |c| c.places = Places::Google(places)).await
}

/// A Nearby Search response with `n` results, as Google shapes it.
fn nearby_response(n: usize) -> Value {
    let results: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "geometry": {"location": {"lat": 34.07 + i as f64 / 1000.0, "lng": -118.44}},
                "name": format!("Place number {i}"),
                "place_id": format!("ChIJ{i:04}"),
                "rating": 4.5,
                "types": ["cafe", "food"],
                "vicinity": "Westwood",
            })
        })
        .collect();
    json!({
        "html_attributions": [],
        "next_page_token": "AW30NdNextPage",
        "results": results,
        "status": "OK",
    })
}

/// Sends a WHATSAT the grading client's way and checks the whole reply came in one read.
async fn whatsat(t: &TestHerd, server: &str, command: &str) -> (String, Value, String) {
    let bytes = common::one_read(t.addr(server), command.as_bytes()).await;
    let reply = String::from_utf8(bytes).unwrap();
    assert!(reply.ends_with("\n\n"), "the first read did not hold the whole reply: {reply:?}");
    let (first, json) = split_whatsat(&reply);
    (first, json, reply)
}

fn results(json: &Value) -> &Vec<Value> {
    json["results"].as_array().unwrap()
}

// ---------------------------------------------------------------------------------------
// Offline backend
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn offline_reply_is_the_stored_line_then_trimmed_json_then_an_empty_line() {
    let t = common::start("cs131").await;
    let stored = t.iamat("Bailey", "kiwi", "+34.068930-118.445127", "1621464827.959498503").await;
    let (first, all, _) = whatsat(&t, "Bailey", "WHATSAT kiwi 50 20\n").await;
    assert_eq!(first, stored);
    assert_eq!(all["status"], "OK");
    let n = results(&all).len();
    assert!(n > 3 && n <= 20, "{n} results for bound 20");
    for bound in [1, 3] {
        let (first, some, _) = whatsat(&t, "Bailey", &format!("WHATSAT kiwi 50 {bound}")).await;
        assert_eq!(first, stored);
        assert_eq!(results(&some)[..], results(&all)[..bound], "bound {bound}");
        assert_eq!(some["status"], all["status"]);
    }
}

#[tokio::test]
async fn whatsat_at_another_server_answers_with_the_origins_line() {
    let mut t = common::start("cs131").await;
    let stored = t.iamat("Bailey", "far", "+34.068930-118.445127", "1621464827.5").await;
    t.wait_line_at(&HERD, "far", &stored).await;
    for server in HERD {
        let (first, _, _) = whatsat(&t, server, "WHATSAT far 10 5\n").await;
        assert_eq!(first, stored, "at {server}");
        assert_eq!(at_fields(&first)[1], "Bailey");
    }
    // After a newer report, the newer line.
    let newer = t.iamat("Jaquez", "far", "+1+2", "1621464828.5").await;
    t.wait_line_at(&HERD, "far", &newer).await;
    let (first, _, _) = whatsat(&t, "Bailey", "WHATSAT far 10 5\n").await;
    assert_eq!(first, newer);
}

#[tokio::test]
async fn whatsat_for_a_client_the_server_has_no_location_for_is_invalid() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(nearby_response(3)))
        .expect(0)
        .mount(&server)
        .await;
    let t = herd_with_places(&server, Duration::from_secs(2)).await;
    for server_name in HERD {
        assert_eq!(t.grading(server_name, "WHATSAT ghost 10 5\n").await, "? WHATSAT ghost 10 5\n");
    }
    // An invalid IAMAT leaves no location behind.
    let bad = t.grading("Bailey", "IAMAT ghost +91+0 1621464827.5\n").await;
    assert_eq!(bad, "? IAMAT ghost +91+0 1621464827.5\n");
    assert_eq!(t.grading("Bailey", "WHATSAT ghost 10 5").await, "? WHATSAT ghost 10 5\n");
}

// ---------------------------------------------------------------------------------------
// Google Places over HTTP, against a mock
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn places_request_has_the_documented_shape() {
    let server = MockServer::start().await;
    let cases = [
        ("a", "+34.068930-118.445127", "10", "34.068930,-118.445127", "10000"),
        ("b", "+12-118", "1.5", "12,-118", "1500"),
        ("c", "-33.8670522+151.1957362", "50", "-33.8670522,151.1957362", "50000"),
        ("d", "+0.5-0.5", "0.25", "0.5,-0.5", "250"),
    ];
    for (_, _, _, location, radius) in cases {
        Mock::given(method("GET"))
            .and(path(NEARBY))
            .and(query_param("location", location))
            .and(query_param("radius", radius))
            .and(query_param("key", KEY))
            .respond_with(ResponseTemplate::new(200).set_body_json(nearby_response(4)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let t = herd_with_places(&server, Duration::from_secs(2)).await;
    for (client, coords, radius_km, _, _) in cases {
        let stored = t.iamat("Clark", client, coords, "1621464827.5").await;
        let command = format!("WHATSAT {client} {radius_km} 4\n");
        let (first, json, reply) = whatsat(&t, "Clark", &command).await;
        assert_eq!(first, stored);
        assert_eq!(json["status"], "OK", "the mock did not match {command:?}: {json}");
        assert_eq!(results(&json).len(), 4);
        assert!(!reply.contains(KEY));
    }
    for request in server.received_requests().await.unwrap() {
        assert_eq!(request.method.as_str(), "GET");
        assert_eq!(request.url.path(), NEARBY);
        let query = request.url.query().unwrap_or("");
        let location = query.split('&').find_map(|p| p.strip_prefix("location=")).unwrap();
        assert!(
            !location.contains('+') && !location.contains("%2B") && !location.contains("%2b"),
            "location sent with a plus sign: {query}"
        );
    }
}

#[tokio::test]
async fn places_results_are_trimmed_to_the_bound_and_the_rest_passes_through() {
    let server = MockServer::start().await;
    let full = nearby_response(25);
    Mock::given(method("GET"))
        .and(path(NEARBY))
        .and(query_param("location", "34.068930,-118.445127"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&full))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(NEARBY))
        .and(query_param("location", "1,2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(nearby_response(2)))
        .mount(&server)
        .await;
    let t = herd_with_places(&server, Duration::from_secs(2)).await;
    t.iamat("Bona", "many", "+34.068930-118.445127", "1621464827.5").await;
    t.iamat("Bona", "few", "+1+2", "1621464827.5").await;
    for bound in [20, 5, 1] {
        let (_, json, reply) = whatsat(&t, "Bona", &format!("WHATSAT many 10 {bound}\n")).await;
        let mut want = full.clone();
        want["results"] = Value::Array(results(&full)[..bound].to_vec());
        assert_eq!(json, want, "bound {bound}");
        assert!(!reply.contains(KEY));
    }
    let (_, json, _) = whatsat(&t, "Bona", "WHATSAT few 10 20\n").await;
    assert_eq!(json, nearby_response(2));
}

#[tokio::test]
async fn places_statuses_other_than_ok_are_passed_through() {
    let server = MockServer::start().await;
    let t = herd_with_places(&server, Duration::from_secs(2)).await;
    let stored = t.iamat("Campbell", "status", "+34.068930-118.445127", "1621464827.5").await;
    for status in
        ["ZERO_RESULTS", "INVALID_REQUEST", "OVER_QUERY_LIMIT", "REQUEST_DENIED", "UNKNOWN_ERROR"]
    {
        let mut body = json!({"html_attributions": [], "results": [], "status": status});
        if status != "ZERO_RESULTS" {
            body["error_message"] = json!(format!("The service says {status}."));
        }
        server.reset().await;
        Mock::given(method("GET"))
            .and(path(NEARBY))
            .respond_with(ResponseTemplate::new(200).set_body_json(&body))
            .expect(1)
            .mount(&server)
            .await;
        let (first, json, reply) = whatsat(&t, "Campbell", "WHATSAT status 10 5\n").await;
        assert_eq!(first, stored);
        assert_eq!(json, body, "status {status}");
        assert!(!reply.contains(KEY));
        server.verify().await;
    }
}

/// Checks a reply to a WHATSAT the Places service could not answer.
fn assert_unknown_error(json: &Value, reply: &str) {
    assert_eq!(json["status"], "UNKNOWN_ERROR", "{json}");
    assert_eq!(json["results"], json!([]));
    assert_eq!(json["html_attributions"], json!([]));
    assert!(
        json["error_message"].as_str().is_some_and(|m| !m.is_empty()),
        "no error_message: {json}"
    );
    assert!(!reply.contains(KEY), "the key leaked: {reply}");
}

#[tokio::test]
async fn a_failing_places_service_gives_unknown_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_raw("<html><body>Internal Server Error</body></html>", "text/html"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let t = herd_with_places(&server, Duration::from_secs(2)).await;
    let stored = t.iamat("Jaquez", "broken", "+1+2", "1621464827.5").await;
    let (first, json, reply) = whatsat(&t, "Jaquez", "WHATSAT broken 10 5\n").await;
    assert_eq!(first, stored);
    assert_unknown_error(&json, &reply);
}

#[tokio::test]
async fn a_hanging_places_service_times_out_with_unknown_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(nearby_response(3))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let timeout = Duration::from_millis(300);
    let t = herd_with_places(&server, timeout).await;
    let stored = t.iamat("Bailey", "hung", "+1+2", "1621464827.5").await;
    let started = Instant::now();
    let (first, json, reply) = whatsat(&t, "Bailey", "WHATSAT hung 10 5\n").await;
    let elapsed = started.elapsed();
    assert_eq!(first, stored);
    assert_unknown_error(&json, &reply);
    assert!(
        elapsed < timeout + Duration::from_secs(1),
        "answered after {elapsed:?} with a {timeout:?} timeout"
    );
    // The server is not stuck: an IAMAT on the same server is answered at once.
    let again = t.iamat("Bailey", "hung", "+1+2", "1621464827.6").await;
    assert_eq!(at_fields(&again)[5], "1621464827.6");
}

#[tokio::test]
async fn an_unreachable_places_service_gives_unknown_error() {
    // A port that was just free: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let places = GooglePlaces::new(&format!("http://{addr}"), KEY, Duration::from_secs(2));
    let t = common::start_with("cs131", move |c| c.places = Places::Google(places)).await;
    let stored = t.iamat("Clark", "nowhere", "+1+2", "1621464827.5").await;
    let started = Instant::now();
    let (first, json, reply) = whatsat(&t, "Clark", "WHATSAT nowhere 10 5\n").await;
    assert_eq!(first, stored);
    assert_unknown_error(&json, &reply);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_slow_whatsat_is_answered_after_the_half_close_in_one_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(NEARBY))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(nearby_response(20))
                .set_delay(Duration::from_millis(150)),
        )
        .mount(&server)
        .await;
    let t = herd_with_places(&server, Duration::from_secs(3)).await;
    let stored = t.iamat("Bona", "slow", "+1+2", "1621464827.5").await;
    // The grading client half-closes at once and makes one read: the AT line must not have
    // gone out before the slow JSON.
    for command in ["WHATSAT slow 10 20\n", "WHATSAT slow 10 20"] {
        let (first, json, reply) = whatsat(&t, "Bona", command).await;
        assert_eq!(first, stored);
        assert_eq!(json["status"], "OK");
        assert_eq!(results(&json).len(), 20);
        assert!(!reply.contains(KEY));
    }
    // On one telnet connection, a slow WHATSAT is still answered before the next line.
    let mut c = t.telnet("Bona").await;
    c.send("WHATSAT slow 10 2").await;
    c.send("IAMAT next +1+2 1621464827.5").await;
    let reply = c.whatsat_reply().await;
    assert_eq!(split_whatsat(&format!("{reply}\n")).0, stored);
    assert_eq!(at_fields(&c.line().await)[3], "next");
}

#[tokio::test]
async fn whatsat_asks_places_about_the_newest_location() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(NEARBY))
        .and(query_param("location", "-45.5,170.25"))
        .and(query_param("radius", "2000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(nearby_response(1)))
        .expect(1)
        .mount(&server)
        .await;
    let mut t = herd_with_places(&server, Duration::from_secs(2)).await;
    t.iamat("Bailey", "mover", "+1+2", "1621464827.5").await;
    let newer = t.iamat("Clark", "mover", "-45.5+170.25", "1621464828.5").await;
    t.wait_line_at(&["Bailey"], "mover", &newer).await;
    let (first, json, _) = whatsat(&t, "Bailey", "WHATSAT mover 2 5\n").await;
    assert_eq!(first, newer);
    assert_eq!(json["status"], "OK", "{json}");
}
