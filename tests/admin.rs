//! The admin endpoint over a herd on port 0: /metrics parses and moves, /events streams with
//! the boot id and resumes exactly after `since`, /snapshot shows clients, /control is refused
//! and allowed as its flags say, and a non-loopback bind needs its explicit flag. Every wait is
//! on an event (or an event line), with a timeout.
#![allow(clippy::unwrap_used)]

mod common;

use common::{PATIENCE, TestHerd, now_text};
use herdctl::admin::{self, Admin, AdminError, AdminOptions};
use herdctl::herd::HerdHandle;
use serde_json::Value;
use tokio::time::timeout;

const TOKEN: &str = "t0ken-for-tests";

async fn endpoint(herd: &HerdHandle, options: AdminOptions) -> (Admin, String) {
    let listener = admin::bind("127.0.0.1:0", false).await.unwrap();
    let admin = admin::serve(listener, herd.clone(), options);
    let base = format!("http://{}", admin.addr());
    (admin, base)
}

/// An `/events` response read line by line.
struct Lines {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Lines {
    async fn open(url: &str) -> Self {
        let response = reqwest::get(url).await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        Self { response, buffer: Vec::new() }
    }

    /// The next line as JSON; fails the test after [`PATIENCE`].
    async fn next(&mut self) -> Value {
        timeout(PATIENCE, async {
            loop {
                if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.buffer.drain(..=end).collect();
                    return serde_json::from_slice(&line).unwrap();
                }
                let chunk = self.response.chunk().await.unwrap().expect("stream ended");
                self.buffer.extend_from_slice(&chunk);
            }
        })
        .await
        .expect("timed out waiting for an event line")
    }

    /// Reads until a line of `kind` for `client` has come from each of `count` stores.
    async fn until_stored(&mut self, client: &str, count: usize) -> Vec<Value> {
        let mut seen = Vec::new();
        let mut stored = 0;
        while stored < count {
            let line = self.next().await;
            if line["kind"] == "stored" && line["update"]["client"] == client {
                stored += 1;
            }
            seen.push(line);
        }
        seen
    }
}

async fn text(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

/// The sum of the samples of `metric` whose labels include `labels`.
/// (Every figure here is a count.)
fn sample(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> u64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum::<f64>() as u64
}

async fn scrape(base: &str) -> prometheus_parse::Scrape {
    let body = text(&format!("{base}/metrics")).await;
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

#[tokio::test]
async fn metrics_parse_and_count_a_flood() {
    let herd = common::start("cs131").await;
    let (_admin, base) = endpoint(&herd.herd, AdminOptions::default()).await;
    let before = scrape(&base).await;
    assert_eq!(sample(&before, "herd_server_up", &[]), 5);
    assert_eq!(sample(&before, "herd_stored_total", &[]), 0);
    assert_eq!(sample(&before, "herd_clients", &[("server", "Bailey")]), 0);

    let mut lines = Lines::open(&format!("{base}/events")).await;
    herd.iamat("Bailey", "kiwi", "+34.068930-118.445127", &now_text()).await;
    // The hub counts an event before it streams it: once the fifth store is read, all five
    // are counted.
    lines.until_stored("kiwi", 5).await;
    let started = std::time::Instant::now();
    let after = scrape(&base).await;
    let scrape_time = started.elapsed();
    println!("one /metrics scrape over cs131 took {scrape_time:?}");
    assert_eq!(sample(&after, "herd_stored_total", &[]), 5);
    assert_eq!(sample(&after, "herd_floods_total", &[("server", "Bailey")]), 1);
    assert!(sample(&after, "herd_link_messages_sent_total", &[("from", "Bailey")]) >= 1);
    assert!(sample(&after, "herd_lines_in_total", &[("server", "Bailey")]) >= 1);
    assert_eq!(sample(&after, "herd_clients", &[("server", "Jaquez")]), 1);
    let up = [("from", "Bailey"), ("to", "Bona"), ("state", "up")];
    assert_eq!(sample(&after, "herd_link_state", &up), 1);
    // The flood reached all five: its convergence is observed once.
    let body = text(&format!("{base}/metrics")).await;
    assert!(body.lines().any(|l| l == "herd_convergence_seconds_count 1"), "{body}");
}

#[tokio::test]
async fn metrics_count_drops_by_reason() {
    let mut herd = common::start("cs131").await;
    let (_admin, base) = endpoint(&herd.herd, AdminOptions::default()).await;
    herd.control("cut Bailey->Bona").await;
    let mut lines = Lines::open(&format!("{base}/events")).await;
    herd.iamat("Bailey", "kiwi", "+34.068930-118.445127", &now_text()).await;
    herd.wait_stored_at(&["Bona", "Campbell", "Clark", "Jaquez"], "kiwi").await;
    loop {
        let line = lines.next().await;
        if line["kind"] == "dropped" {
            break;
        }
    }
    let after = scrape(&base).await;
    let cut = [("from", "Bailey"), ("to", "Bona"), ("reason", "link_cut")];
    assert_eq!(sample(&after, "herd_drops_total", &cut), 1);
    assert_eq!(sample(&after, "herd_faults", &[]), 1);
}

#[tokio::test]
async fn events_carry_the_boot_id_and_resume_exactly_after_since() {
    let herd = common::start("cs131").await;
    let (admin, base) = endpoint(&herd.herd, AdminOptions::default()).await;
    let mut lines = Lines::open(&format!("{base}/events")).await;
    herd.iamat("Bailey", "kiwi", "+34.068930-118.445127", &now_text()).await;
    let seen = lines.until_stored("kiwi", 5).await;
    assert!(seen.iter().all(|line| line["boot"] == admin.boot()), "{seen:?}");
    let seqs: Vec<u64> = seen.iter().map(|line| line["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    // Same schema as --record: a line less its boot reads back as a HerdEvent.
    let mut first = seen[0].clone();
    first.as_object_mut().unwrap().remove("boot");
    serde_json::from_value::<herdctl::herd::HerdEvent>(first).unwrap();

    let since = seqs[2];
    let mut resumed = Lines::open(&format!("{base}/events?since={since}")).await;
    for expected in &seen[3..] {
        assert_eq!(&resumed.next().await, expected);
    }

    let ahead = reqwest::get(format!("{base}/events?since=999999")).await.unwrap();
    assert_eq!(ahead.status(), 400);
    let other = reqwest::get(format!("{base}/events?since=1&boot=0123")).await.unwrap();
    assert_eq!(other.status(), 409);
}

#[tokio::test]
async fn a_since_older_than_the_ring_is_announced_not_skipped() {
    let herd = common::start("cs131").await;
    let options = AdminOptions { ring: 4, ..AdminOptions::default() };
    let (_admin, base) = endpoint(&herd.herd, options).await;
    let mut lines = Lines::open(&format!("{base}/events")).await;
    herd.iamat("Bailey", "kiwi", "+34.068930-118.445127", &now_text()).await;
    let seen = lines.until_stored("kiwi", 5).await;
    let first = seen[0]["seq"].as_u64().unwrap();
    let last = seen.last().unwrap()["seq"].as_u64().unwrap();
    assert!(last - first > 4, "the flood should outrun the ring");

    let response = reqwest::get(format!("{base}/events?since={first}")).await.unwrap();
    let missed: u64 = response.headers()["x-herdctl-missed"].to_str().unwrap().parse().unwrap();
    assert!(missed > 0);
    let mut resumed = Lines { response, buffer: Vec::new() };
    let gap = resumed.next().await;
    assert_eq!(gap["gap"]["after_seq"], first);
    assert_eq!(gap["gap"]["missed"], missed);
    let next = resumed.next().await;
    assert_eq!(next["seq"].as_u64().unwrap(), first + missed + 1, "{gap} {next}");
}

#[tokio::test]
async fn snapshot_holds_the_client() {
    let mut herd = common::start("cs131").await;
    let (_admin, base) = endpoint(&herd.herd, AdminOptions::default()).await;
    herd.iamat("Bailey", "kiwi", "+34.068930-118.445127", &now_text()).await;
    herd.wait_stored_at(&["Bailey"], "kiwi").await;
    let snapshot: Value = serde_json::from_str(&text(&format!("{base}/snapshot")).await).unwrap();
    let bailey = &snapshot["servers"][0];
    assert_eq!(bailey["name"], "Bailey");
    let clients = bailey["clients"].as_array().unwrap();
    assert!(clients.iter().any(|line| line.as_str().unwrap().contains(" kiwi ")), "{clients:?}");
}

async fn post(base: &str, bearer: Option<&str>, line: &str) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut request = client.post(format!("{base}/control")).body(line.to_owned());
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn control_is_refused_without_the_flag() {
    let herd = common::start("cs131").await;
    let (_admin, base) = endpoint(&herd.herd, AdminOptions::default()).await;
    let (status, body) = post(&base, Some(TOKEN), "cut Bailey Bona").await;
    assert_eq!(status, 403, "{body}");
    assert!(herd.herd.snapshot().faults.is_empty());
}

#[tokio::test]
async fn control_needs_the_token_and_takes_effect() {
    let herd: TestHerd = common::start("cs131").await;
    let options = AdminOptions { control_token: Some(TOKEN.to_owned()), ..AdminOptions::default() };
    let (_admin, base) = endpoint(&herd.herd, options).await;

    let (status, body) = post(&base, None, "cut Bailey Bona").await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(&base, Some("guess-123"), "cut Bailey Bona").await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains(TOKEN) && !body.contains("guess-123"), "{body}");
    assert!(herd.herd.snapshot().faults.is_empty());

    let (status, body) = post(&base, Some(TOKEN), "cut Bailey Bona").await;
    assert_eq!((status, body.as_str()), (200, "ok cut Bailey<->Bona\n"));
    let snapshot: Value = serde_json::from_str(&text(&format!("{base}/snapshot")).await).unwrap();
    let link = snapshot["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["a"] == 0 && l["b"] == 1)
        .unwrap()
        .clone();
    assert_eq!(
        (link["a_faults"]["cut"].clone(), link["b_faults"]["cut"].clone()),
        (true.into(), true.into())
    );

    let (status, body) = post(&base, Some(TOKEN), "cut Bailey Nowhere").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.starts_with("error "), "{body}");
    let (status, _) = post(&base, Some(TOKEN), "heal all\ncut Bailey Bona").await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_public_address_needs_the_explicit_flag() {
    let refused = admin::bind("0.0.0.0:0", false).await.unwrap_err();
    assert!(matches!(refused, AdminError::NotLoopback { .. }), "{refused}");
    assert!(refused.to_string().contains("--admin-public"), "{refused}");
    admin::bind("127.0.0.1:0", false).await.unwrap();
    admin::bind("[::1]:0", false).await.ok();
}

#[test]
fn the_cli_refuses_a_public_address_with_a_clear_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_herdctl"))
        .args(["--headless", "--log-dir", "none", "--base-port", "0", "--admin", "0.0.0.0:0"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--admin-public"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_dropped_endpoint_ends_its_streams() {
    let herd = common::start("cs131").await;
    let (admin, base) = endpoint(&herd.herd, AdminOptions::default()).await;
    let mut response = reqwest::get(format!("{base}/events")).await.unwrap();
    drop(admin);
    let end = timeout(PATIENCE, async {
        while let Some(_chunk) = response.chunk().await.unwrap_or(None) {}
    })
    .await;
    assert!(end.is_ok(), "the stream did not end");
}

#[tokio::test]
async fn a_consumer_that_stops_reading_never_holds_the_herd_up() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let herd = common::start("cs131").await;
    let (admin, base) = endpoint(&herd.herd, AdminOptions::default()).await;
    // A raw connection that asks for /events and reads nothing until the end: the sockets
    // fill, then the stream lags.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut silent = socket.connect(admin.addr()).await.unwrap();
    silent.write_all(b"GET /events HTTP/1.1\r\nHost: admin\r\n\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut sent = 0;
    // Far more lines than the fan-out (16 384) and both sockets' buffers hold.
    let mut events = 0;
    while events < 100_000 {
        for _ in 0..250 {
            let client = format!("c{sent}");
            // Each reply comes within PATIENCE or the test fails.
            timeout(PATIENCE, herd.iamat("Bailey", &client, "+34.068930-118.445127", &now_text()))
                .await
                .expect("the herd was held up by a consumer that does not read");
            sent += 1;
        }
        events = sample(&scrape(&base).await, "herd_events_total", &[]);
    }
    println!("{sent} IAMATs ({events} events) in {:?}, none held up", started.elapsed());
    let found = timeout(PATIENCE * 4, async {
        let mut seen = Vec::new();
        let mut buffer = vec![0; 1 << 16];
        loop {
            let n = silent.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the stream ended without a gap line");
            seen.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&seen);
            // Each chunk holds whole lines, so a line is never split by chunk framing.
            if let Some(at) = text.find("\"gap\":{")
                && let Some(line) = text[at..].split('\n').next().filter(|l| l.ends_with("}}"))
            {
                return line.to_owned();
            }
            let keep = seen.len().saturating_sub(4096);
            seen.drain(..keep);
        }
    })
    .await
    .expect("no gap line in the lagging stream");
    assert!(found.contains("\"after_seq\":"), "{found}");
    let missed = sample(&scrape(&base).await, "herd_admin_event_stream_missed_total", &[]);
    assert!(missed > 0, "{found}");
}
