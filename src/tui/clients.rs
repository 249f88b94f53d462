//! The dashboard's picture of the clients: for each, its newest report and which servers hold
//! it, from `LocationStored` events. A store the flood animation has not shown yet (its token
//! still travels) waits here until it is, so the table and the counts agree with the picture;
//! how far the view is behind the herd is the wait of the last one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::herd::ServerId;
use crate::protocol::{ClientTime, Command, parse_line};

/// One client's newest report, parsed for display.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: Arc<str>,
    pub line: Arc<str>,
    pub origin: String,
    pub diff: String,
    pub coords: String,
    pub lat: f64,
    pub lng: f64,
    pub time_text: String,
    time: ClientTime,
    /// Which servers hold this very report.
    pub known_by: Vec<bool>,
    pub updated: Instant,
}

impl ClientRow {
    pub fn known_count(&self) -> usize {
        self.known_by.iter().filter(|k| **k).count()
    }
}

/// Every client seen, by id.
#[derive(Debug, Default)]
pub struct ClientBook {
    rows: BTreeMap<Arc<str>, ClientRow>,
    servers: usize,
    /// Stores that happened but are not shown yet, with when they will be.
    pending: Vec<Pending>,
}

/// A store waiting for the animation to show it.
#[derive(Debug)]
struct Pending {
    shown: Instant,
    server: ServerId,
    client: Arc<str>,
    line: Arc<str>,
    /// The herd's time of the store (the row's age counts from it).
    at: Instant,
}

impl ClientBook {
    pub fn new(servers: usize) -> Self {
        Self { rows: BTreeMap::new(), servers, pending: Vec::new() }
    }

    /// Server `server` stored `line` for `client` at `at`; the view shows it at `shown` (now,
    /// or when its token arrives), and the table takes it in then.
    pub fn stored_shown(
        &mut self,
        server: ServerId,
        client: &Arc<str>,
        line: &Arc<str>,
        at: Instant,
        shown: Instant,
        now: Instant,
    ) {
        if shown <= now {
            self.stored(server, client, line, at);
        } else {
            let (client, line) = (client.clone(), line.clone());
            self.pending.push(Pending { shown, server, client, line, at });
        }
    }

    /// Takes in the stores shown by `now`; returns whether any was.
    pub fn show_due(&mut self, now: Instant) -> bool {
        if self.pending.iter().all(|p| p.shown > now) {
            return false;
        }
        let (due, waiting) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition::<Vec<_>, _>(|p| p.shown <= now);
        self.pending = waiting;
        for p in due {
            self.stored(p.server, &p.client, &p.line, p.at);
        }
        true
    }

    /// Takes in every store at once (the view jumps to the live herd); returns how many waited.
    pub fn show_all(&mut self) -> usize {
        let pending = std::mem::take(&mut self.pending);
        let count = pending.len();
        for p in pending {
            self.stored(p.server, &p.client, &p.line, p.at);
        }
        count
    }

    /// How far the table is behind the herd at `now`: until the last waiting store is shown.
    pub fn behind(&self, now: Instant) -> Option<Duration> {
        self.pending.iter().map(|p| p.shown).max().map(|last| last.saturating_duration_since(now))
    }

    /// Server `server` stored `line` for `client`.
    pub fn stored(&mut self, server: ServerId, client: &Arc<str>, line: &Arc<str>, now: Instant) {
        let Ok(Some(Command::At(report))) = parse_line(line.as_bytes()) else {
            return;
        };
        match self.rows.get_mut(client) {
            Some(row) if row.time == report.time => {
                if let Some(known) = row.known_by.get_mut(server) {
                    *known = true;
                }
            }
            Some(row) if row.time > report.time => {}
            _ => {
                let mut known_by = vec![false; self.servers];
                if let Some(known) = known_by.get_mut(server) {
                    *known = true;
                }
                let row = ClientRow {
                    id: client.clone(),
                    line: line.clone(),
                    origin: report.server.to_owned(),
                    diff: report.diff.to_owned(),
                    coords: report.coords.as_str().to_owned(),
                    lat: report.coords.lat(),
                    lng: report.coords.lng(),
                    time_text: report.time_text.to_owned(),
                    time: report.time,
                    known_by,
                    updated: now,
                };
                self.rows.insert(client.clone(), row);
            }
        }
    }

    /// A server stopped: it no longer holds anything, shown or not.
    pub fn forget_server(&mut self, server: ServerId) {
        self.pending.retain(|p| p.server != server);
        for row in self.rows.values_mut() {
            if let Some(known) = row.known_by.get_mut(server) {
                *known = false;
            }
        }
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.pending.clear();
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn rows(&self) -> impl Iterator<Item = &ClientRow> {
        self.rows.values()
    }

    /// Client ids, for completion.
    pub fn ids(&self) -> Vec<String> {
        self.rows.keys().map(ToString::to_string).collect()
    }

    /// How many clients server `server` holds (as far as the view knows).
    pub fn held_by(&self, server: ServerId) -> usize {
        self.rows.values().filter(|r| r.known_by.get(server).copied().unwrap_or(false)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_reports_replace_and_equal_ones_add_a_server() {
        let now = Instant::now();
        let mut book = ClientBook::new(3);
        let kiwi: Arc<str> = "kiwi".into();
        let first: Arc<str> = "AT A +0.5 kiwi +34.5-118.25 100.5".into();
        book.stored(0, &kiwi, &first, now);
        book.stored(1, &kiwi, &first, now);
        let row = book.rows().next().unwrap();
        assert_eq!((row.known_count(), row.origin.as_str(), row.lat), (2, "A", 34.5));
        let older: Arc<str> = "AT C +0.5 kiwi +1+1 99".into();
        book.stored(2, &kiwi, &older, now);
        assert_eq!(book.rows().next().unwrap().known_count(), 2);
        let newer: Arc<str> = "AT C +0.5 kiwi +1+1 101".into();
        book.stored(2, &kiwi, &newer, now);
        let row = book.rows().next().unwrap();
        assert_eq!((row.known_count(), row.origin.as_str()), (1, "C"));
        book.forget_server(2);
        assert_eq!(book.rows().next().unwrap().known_count(), 0);
    }

    #[test]
    fn a_store_not_shown_yet_waits_and_says_how_far_behind() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut book = ClientBook::new(3);
        let kiwi: Arc<str> = "kiwi".into();
        let line: Arc<str> = "AT A +0.5 kiwi +34.5-118.25 100.5".into();
        book.stored_shown(0, &kiwi, &line, t0, t0, t0);
        book.stored_shown(1, &kiwi, &line, t0, t0 + ms(600), t0);
        book.stored_shown(2, &kiwi, &line, t0, t0 + ms(1200), t0);
        assert_eq!(book.rows().next().unwrap().known_count(), 1);
        assert_eq!(book.behind(t0 + ms(100)), Some(ms(1100)));
        assert!(!book.show_due(t0 + ms(599)));
        assert!(book.show_due(t0 + ms(600)));
        assert_eq!(book.rows().next().unwrap().known_count(), 2);
        // A server that stops before its store is shown never shows it.
        book.forget_server(2);
        assert_eq!(book.behind(t0 + ms(700)), None);
        book.stored_shown(2, &kiwi, &line, t0, t0 + ms(2000), t0 + ms(700));
        assert_eq!(book.show_all(), 1);
        assert_eq!(book.rows().next().unwrap().known_count(), 3);
    }
}
