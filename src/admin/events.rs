//! `/events`: the hub that reads the herd's event broadcast for the admin endpoint, folds
//! each event into the metrics, keeps a bounded ring of recent lines to serve `?since=SEQ`,
//! and fans the lines out to HTTP consumers on a broadcast channel of its own.
//!
//! Each line is one [`HerdEvent`] exactly as `--record` writes it, with `"boot"` (this
//! process's boot id, new at each start) first. Where events were lost, a line says so in the
//! trace's gap form, `{"boot":…,"gap":{"missed":N,"after_seq":S}}`: when the hub itself fell
//! behind the herd, when a consumer fell behind the hub, and when `since` is older than the
//! ring holds. Nothing is skipped silently.
//!
//! A consumer never slows the herd: the herd's broadcast does not wait for the hub, and the
//! hub's broadcast does not wait for a consumer, whose body pulls lines only as fast as its
//! connection takes them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio_util::sync::CancellationToken;

use super::metrics::{HerdMetrics, HubStats};
use crate::herd::{HerdEvent, HerdHandle};
use crate::trace::{Gap, GapLine};

/// Lines kept by default to serve `?since=`.
pub const DEFAULT_RING: usize = 16_384;

/// How long the hub lets events gather after reading a batch.
const BATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(2);

/// Lines a consumer may fall behind the hub before it lags.
const FAN_OUT: usize = 16_384;

/// The most bytes one chunk of the body gathers from lines already waiting.
const CHUNK: usize = 64 * 1024;

/// `GET /events?since=SEQ&boot=ID` (or `from=SEQ`)
#[derive(Debug, Default, Deserialize)]
pub struct EventsQuery {
    /// Resume after the event numbered `since`.
    pub since: Option<u64>,
    /// Resume at the event numbered `from` (`since` + 1; `from=0` is the boot's first event,
    /// which no `since` can say). The response's `x-herdctl-next` header gives the number of
    /// the next event, for a consumer to resume at even before any event came.
    pub from: Option<u64>,
    /// The boot id the consumer saw last: refused (409) if it is not this process's.
    pub boot: Option<String>,
}

/// One NDJSON line, `\n` included; `key` orders it in the stream (an event's `seq`, or for
/// a gap the number of the first event it lost).
#[derive(Debug, Clone)]
struct Line {
    key: u64,
    text: Bytes,
}

struct Ring {
    lines: VecDeque<Line>,
    capacity: usize,
    /// The number of the next event the herd will send.
    next: u64,
}

/// The admin endpoint's reader of the herd's events.
pub struct Hub {
    boot: Arc<str>,
    ring: Mutex<Ring>,
    /// Sent to while `ring` is locked, so a consumer that copies the ring and subscribes
    /// under the same lock sees every line once.
    fan_out: broadcast::Sender<Line>,
    consumers: AtomicUsize,
    /// Lines consumers fell too far behind to get (each told so by a gap line).
    stream_missed: AtomicU64,
    stop: CancellationToken,
}

impl Hub {
    /// Subscribes to `herd` now and reads it in a task until `stop`.
    pub fn start(
        herd: &HerdHandle,
        capacity: usize,
        metrics: Arc<HerdMetrics>,
        stop: CancellationToken,
    ) -> Arc<Self> {
        let hub = Arc::new(Self {
            boot: Arc::from(boot_id()),
            ring: Mutex::new(Ring { lines: VecDeque::new(), capacity, next: 0 }),
            fan_out: broadcast::channel(FAN_OUT).0,
            consumers: AtomicUsize::new(0),
            stream_missed: AtomicU64::new(0),
            stop,
        });
        let mut events = herd.events();
        let reader = hub.clone();
        tokio::spawn(async move {
            // The hub waits for an event, takes it and every one waiting, then lets a batch
            // gather for a moment: a waiting reader must be woken for each event sent, which
            // would cost the sending server a wake-up (often a system call) per event. An idle
            // herd wakes it not at all.
            loop {
                let first = tokio::select! {
                    () = reader.stop.cancelled() => return,
                    received = events.recv() => received,
                };
                let mut next = first.map_err(|err| match err {
                    RecvError::Lagged(missed) => TryRecvError::Lagged(missed),
                    RecvError::Closed => TryRecvError::Closed,
                });
                loop {
                    match next {
                        Ok(event) => {
                            metrics.apply(&event);
                            reader.push_event(&event);
                        }
                        Err(TryRecvError::Lagged(missed)) => {
                            metrics.missed(missed);
                            reader.push_gap(missed);
                        }
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Closed) => return,
                    }
                    next = events.try_recv();
                }
                tokio::select! {
                    () = reader.stop.cancelled() => return,
                    () = tokio::time::sleep(BATCH_EVERY) => {}
                }
            }
        });
        hub
    }

    pub fn boot(&self) -> Arc<str> {
        self.boot.clone()
    }

    /// Figures about the hub itself, for `/metrics`.
    pub fn stats(&self) -> HubStats {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        HubStats {
            ring: ring.lines.len(),
            consumers: self.consumers.load(Ordering::Relaxed),
            stream_missed: self.stream_missed.load(Ordering::Relaxed),
        }
    }

    fn push_event(&self, event: &HerdEvent) {
        let Some(text) = self.event_line(event) else {
            return;
        };
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.next = event.seq + 1;
        self.push(&mut ring, Line { key: event.seq, text });
    }

    /// The herd sent `missed` events the hub never read.
    fn push_gap(&self, missed: u64) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let first = ring.next;
        let text = self.gap_line(missed, first.checked_sub(1));
        ring.next += missed;
        self.push(&mut ring, Line { key: first, text });
    }

    fn push(&self, ring: &mut Ring, line: Line) {
        if ring.lines.len() >= ring.capacity {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line.clone());
        // No consumer is not an error: the line waits in the ring.
        let _ = self.fan_out.send(line);
    }

    /// `json` (an object) with `"boot"` first, as one line.
    fn with_boot(&self, json: &str) -> Bytes {
        let body = json.strip_prefix('{').unwrap_or(json);
        let mut text = String::with_capacity(json.len() + self.boot.len() + 12);
        text.push_str("{\"boot\":\"");
        text.push_str(&self.boot);
        text.push('"');
        if body != "}" {
            text.push(',');
        }
        text.push_str(body);
        text.push('\n');
        Bytes::from(text)
    }

    /// `event` as one line with `"boot"` first, serialized once straight into the line's
    /// buffer (the same text as [`with_boot`](Self::with_boot) of its JSON).
    fn event_line(&self, event: &HerdEvent) -> Option<Bytes> {
        let head = self.boot.len() + 11;
        let mut text = Vec::with_capacity(head + 256);
        text.extend_from_slice(b"{\"boot\":\"");
        text.extend_from_slice(self.boot.as_bytes());
        text.push(b'"');
        let open = text.len();
        serde_json::to_writer(&mut text, event).ok()?;
        // The event's own `{` becomes the comma after the boot id.
        if text.get(open..) == Some(b"{}") {
            text.truncate(open);
            text.push(b'}');
        } else {
            text[open] = b',';
        }
        text.push(b'\n');
        Some(Bytes::from(text))
    }

    fn gap_line(&self, missed: u64, after_seq: Option<u64>) -> Bytes {
        let gap = GapLine { gap: Gap { missed, after_seq } };
        let json = serde_json::to_string(&gap).unwrap_or_else(|_| "{}".to_owned());
        self.with_boot(&json)
    }

    /// The response to `GET /events`.
    pub fn stream(self: &Arc<Self>, query: &EventsQuery) -> Response {
        if let Some(boot) = &query.boot
            && **boot != *self.boot
        {
            let text = format!(
                "error boot {boot} is not this process's ({}): its events are gone; \
                 reconnect without since\n",
                self.boot
            );
            return (StatusCode::CONFLICT, text).into_response();
        }
        let (backlog, receiver, missed, start) = {
            let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
            let receiver = self.fan_out.subscribe();
            let mut backlog = VecDeque::new();
            let mut missed = 0;
            let start = query.from.or_else(|| query.since.map(|since| since.saturating_add(1)));
            if let Some(start) = start {
                if start > ring.next {
                    let text = format!(
                        "error event {start} is ahead of this stream (the next event is {}, \
                         boot {}): reconnect without since\n",
                        ring.next, self.boot
                    );
                    return (StatusCode::BAD_REQUEST, text).into_response();
                }
                let oldest = ring.lines.front().map_or(ring.next, |line| line.key);
                if oldest > start {
                    missed = oldest - start;
                    backlog.push_back(self.gap_line(missed, start.checked_sub(1)));
                }
                backlog.extend(
                    ring.lines.iter().filter(|line| line.key >= start).map(|l| l.text.clone()),
                );
            }
            (backlog, receiver, missed, start.unwrap_or(ring.next))
        };
        let last = start.checked_sub(1);
        let consumer = Consumer { hub: self.clone(), backlog, receiver, last };
        self.consumers.fetch_add(1, Ordering::Relaxed);
        let body = Body::from_stream(futures::stream::unfold(consumer, |mut consumer| async {
            let chunk = consumer.next_chunk().await?;
            Some((Ok::<_, std::convert::Infallible>(chunk), consumer))
        }));
        let mut response = body.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        if let Ok(boot) = HeaderValue::from_str(&self.boot) {
            headers.insert("x-herdctl-boot", boot);
        }
        headers.insert("x-herdctl-missed", HeaderValue::from(missed));
        headers.insert("x-herdctl-next", HeaderValue::from(start));
        response
    }
}

/// One `/events` response's reader.
struct Consumer {
    hub: Arc<Hub>,
    /// Lines from the ring still to send.
    backlog: VecDeque<Bytes>,
    receiver: broadcast::Receiver<Line>,
    /// The key of the last line sent (for the gap line of a lag).
    last: Option<u64>,
}

impl Consumer {
    /// The next lines to write, as many as are waiting (up to [`CHUNK`]); `None` ends the
    /// body (the endpoint stops).
    async fn next_chunk(&mut self) -> Option<Bytes> {
        if !self.backlog.is_empty() {
            let mut chunk = BytesMut::new();
            while chunk.len() < CHUNK {
                let Some(line) = self.backlog.pop_front() else { break };
                chunk.extend_from_slice(&line);
            }
            return Some(chunk.freeze());
        }
        let first = tokio::select! {
            () = self.hub.stop.cancelled() => return None,
            received = self.receiver.recv() => received,
        };
        let mut chunk = BytesMut::new();
        self.take(first, &mut chunk)?;
        while chunk.len() < CHUNK {
            match self.receiver.try_recv() {
                Ok(line) => self.take(Ok(line), &mut chunk)?,
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    self.take(Err(RecvError::Lagged(missed)), &mut chunk)?;
                }
                Err(_) => break,
            }
        }
        Some(chunk.freeze())
    }

    fn take(&mut self, received: Result<Line, RecvError>, chunk: &mut BytesMut) -> Option<()> {
        match received {
            Ok(line) => {
                self.last = Some(line.key);
                chunk.extend_from_slice(&line.text);
            }
            Err(RecvError::Lagged(missed)) => {
                self.hub.stream_missed.fetch_add(missed, Ordering::Relaxed);
                chunk.extend_from_slice(&self.hub.gap_line(missed, self.last));
            }
            Err(RecvError::Closed) => return None,
        }
        Some(())
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.hub.consumers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A new random id for this process's run: 16 hex digits.
fn boot_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(fan_out: usize) -> Arc<Hub> {
        Arc::new(Hub {
            boot: Arc::from("b007"),
            ring: Mutex::new(Ring { lines: VecDeque::new(), capacity: 8, next: 0 }),
            fan_out: broadcast::channel(fan_out).0,
            consumers: AtomicUsize::new(0),
            stream_missed: AtomicU64::new(0),
            stop: CancellationToken::new(),
        })
    }

    fn line(hub: &Hub, seq: u64) {
        let mut ring = hub.ring.lock().unwrap();
        ring.next = seq + 1;
        let text = hub.with_boot(&format!("{{\"seq\":{seq}}}"));
        hub.push(&mut ring, Line { key: seq, text });
    }

    #[tokio::test]
    async fn a_consumer_that_falls_behind_is_told_how_many_it_missed() {
        let hub = hub(2);
        let mut consumer = Consumer {
            hub: hub.clone(),
            backlog: VecDeque::new(),
            receiver: hub.fan_out.subscribe(),
            last: None,
        };
        line(&hub, 0);
        let chunk = consumer.next_chunk().await.unwrap();
        assert_eq!(&chunk[..], b"{\"boot\":\"b007\",\"seq\":0}\n");
        for seq in 1..=5 {
            line(&hub, seq);
        }
        let chunk = consumer.next_chunk().await.unwrap();
        assert_eq!(
            std::str::from_utf8(&chunk).unwrap(),
            "{\"boot\":\"b007\",\"gap\":{\"missed\":3,\"after_seq\":0}}\n\
             {\"boot\":\"b007\",\"seq\":4}\n{\"boot\":\"b007\",\"seq\":5}\n"
        );
    }

    #[test]
    fn an_event_line_is_its_json_with_the_boot_id_first() {
        use crate::herd::EventKind;
        let hub = hub(4);
        let event = HerdEvent {
            seq: 7,
            t_ns: 42,
            kind: EventKind::LineIn {
                server: 1,
                peer: "127.0.0.1:9".parse().unwrap(),
                line: Arc::from("IAMAT a \"b\" 1"),
            },
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(hub.event_line(&event).unwrap(), hub.with_boot(&json));
    }

    #[test]
    fn the_hub_falling_behind_leaves_a_gap_in_the_ring() {
        let hub = hub(4);
        line(&hub, 0);
        hub.push_gap(7);
        let ring = hub.ring.lock().unwrap();
        assert_eq!(ring.next, 8);
        let gap = ring.lines.back().unwrap();
        assert_eq!(gap.key, 1);
        assert_eq!(&gap.text[..], b"{\"boot\":\"b007\",\"gap\":{\"missed\":7,\"after_seq\":0}}\n");
    }
}
