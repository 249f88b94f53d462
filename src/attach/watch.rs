//! One admin endpoint, watched: its `/events` stream read line by line and resumed after a
//! break with `?from=` the next event it expects (the same boot) or read anew from its start (a new boot), reconnecting
//! with a growing backoff; its `/snapshot` read at each (re)connection and polled, so that a
//! process that stops answering is noticed even while its stream stays silent. What it learns
//! goes to the attached herd as [`Report`]s; nothing here waits on the console.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::admin::VERSION_HEADER;
use crate::herd::{HerdEvent, HerdSnapshot};
use crate::trace::GapLine;

/// The first wait before reconnecting, doubled after each failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a connection or a snapshot may take.
const TIMEOUT: Duration = Duration::from_secs(3);
/// How often the snapshot is read while nothing asks for it sooner.
pub const POLL: Duration = Duration::from_secs(1);

/// What a watcher learned about its endpoint `endpoint`.
#[derive(Debug)]
pub enum Report {
    /// The stream (re)opened: `fresh` when this is a boot not seen before (the first
    /// connection, or a process started anew), whose state is `snapshot`.
    Reached {
        endpoint: usize,
        boot: String,
        version: Option<String>,
        fresh: bool,
        snapshot: Box<HerdSnapshot>,
    },
    Event {
        endpoint: usize,
        event: HerdEvent,
    },
    /// The endpoint lost `missed` events for this stream.
    Gap {
        endpoint: usize,
        missed: u64,
    },
    /// A line that is neither an event nor a gap.
    Malformed {
        endpoint: usize,
    },
    /// A fresh snapshot (a poll).
    Polled {
        endpoint: usize,
        snapshot: Box<HerdSnapshot>,
    },
    /// The stream broke.
    Lost {
        endpoint: usize,
        why: String,
    },
    /// A snapshot poll failed (the endpoint stopped answering, though its stream may be open).
    Unanswered {
        endpoint: usize,
        why: String,
    },
}

/// One line of `/events`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Gap(GapLine),
    Event(HerdEvent),
}

/// An endpoint to watch, and where to tell what is seen.
#[derive(Clone)]
pub struct Watched {
    /// Its index in the plan.
    pub endpoint: usize,
    /// `http://HOST:PORT`.
    pub base: String,
    pub http: reqwest::Client,
    pub reports: mpsc::UnboundedSender<Report>,
}

impl Watched {
    fn report(&self, report: Report) -> bool {
        self.reports.send(report).is_ok()
    }
}

/// Follows the endpoint's stream, and polls its snapshot (at once when `poll_now` is
/// notified), until `stop`.
pub async fn watch(watched: Watched, poll_now: std::sync::Arc<Notify>, stop: CancellationToken) {
    let endpoint = watched.endpoint;
    let poller = tokio::spawn(poll(watched.clone(), poll_now, stop.clone()));
    let mut stream = Stream { watched, boot: None, next: None };
    let mut backoff = MIN_BACKOFF;
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => break,
            outcome = stream.follow() => outcome,
        };
        match outcome {
            Ok(()) => backoff = MIN_BACKOFF,
            Err(why) => {
                stream.watched.report(Report::Lost { endpoint, why });
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    poller.abort();
}

/// The stream's position: the boot it reads and the number of the next event it expects.
struct Stream {
    watched: Watched,
    boot: Option<String>,
    next: Option<u64>,
}

impl Stream {
    fn report(&self, report: Report) {
        self.watched.report(report);
    }

    /// Opens the stream (resuming where it can) and reads it until it ends: `Ok` when it
    /// could not resume and must be opened anew at once, `Err` why it broke.
    async fn follow(&mut self) -> Result<(), String> {
        let Watched { endpoint, base, http, .. } = self.watched.clone();
        let url = match (&self.boot, self.next) {
            (Some(boot), Some(next)) => format!("{base}/events?from={next}&boot={boot}"),
            _ => format!("{base}/events"),
        };
        let response = tokio::time::timeout(TIMEOUT, http.get(&url).send())
            .await
            .map_err(|_| format!("no answer from {base} within {TIMEOUT:?}"))?
            .map_err(|err| reason(&err))?;
        let status = response.status();
        if status == reqwest::StatusCode::CONFLICT || status == reqwest::StatusCode::BAD_REQUEST {
            // Another boot, or a stream that cannot resume there: read it from its start.
            (self.boot, self.next) = (None, None);
            return Ok(());
        }
        if !status.is_success() {
            return Err(format!("GET /events answered {status}"));
        }
        let header = |name: &str| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let boot = header("x-herdctl-boot").unwrap_or_default();
        let version = header(VERSION_HEADER);
        let snapshot = snapshot(&http, &base).await?;
        let fresh = self.boot.as_deref() != Some(boot.as_str());
        self.next = header("x-herdctl-next").and_then(|next| next.parse().ok());
        self.boot = Some(boot.clone());
        self.report(Report::Reached {
            endpoint,
            boot,
            version,
            fresh,
            snapshot: Box::new(snapshot),
        });
        self.read(response).await
    }

    /// Reads lines until the body ends.
    async fn read(&mut self, mut response: reqwest::Response) -> Result<(), String> {
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => return Err("the event stream ended".to_owned()),
                Err(err) => return Err(format!("its event stream broke: {}", reason(&err))),
            };
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
                self.line(&pending[start..start + end]);
                start += end + 1;
            }
            pending.drain(..start);
        }
    }

    fn line(&mut self, line: &[u8]) {
        let endpoint = self.watched.endpoint;
        match serde_json::from_slice::<Line>(line) {
            Ok(Line::Event(event)) => {
                self.next = Some(event.seq + 1);
                self.report(Report::Event { endpoint, event });
            }
            Ok(Line::Gap(gap)) => {
                let first = gap.gap.after_seq.map_or(0, |after| after + 1);
                self.next = Some(first + gap.gap.missed);
                self.report(Report::Gap { endpoint, missed: gap.gap.missed });
            }
            Err(_) if line.iter().all(u8::is_ascii_whitespace) => {}
            Err(_) => self.report(Report::Malformed { endpoint }),
        }
    }
}

/// Polls the snapshot every [`POLL`], or at once when asked, until `stop`.
async fn poll(watched: Watched, poll_now: std::sync::Arc<Notify>, stop: CancellationToken) {
    let endpoint = watched.endpoint;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(POLL) => {}
            () = poll_now.notified() => {}
        }
        let report = match snapshot(&watched.http, &watched.base).await {
            Ok(snapshot) => Report::Polled { endpoint, snapshot: Box::new(snapshot) },
            Err(why) => Report::Unanswered { endpoint, why },
        };
        if !watched.report(report) {
            return;
        }
    }
}

/// `GET /snapshot`.
pub async fn snapshot(http: &reqwest::Client, base: &str) -> Result<HerdSnapshot, String> {
    let read = async {
        let response = http.get(format!("{base}/snapshot")).send().await.map_err(|e| reason(&e))?;
        if !response.status().is_success() {
            return Err(format!("GET /snapshot answered {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| reason(&e))?;
        serde_json::from_slice::<HerdSnapshot>(&body).map_err(|err| format!("GET /snapshot: {err}"))
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .map_err(|_| format!("no snapshot from {base} within {TIMEOUT:?}"))?
}

/// A request's failure in a few words (the innermost cause says most: `Connection refused`).
fn reason(err: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(inner) = source.source() {
        source = inner;
    }
    source.to_string()
}
