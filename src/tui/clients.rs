//! The dashboard's picture of the clients: for each, its newest report and which servers hold
//! it, kept up to date from `LocationStored` events (the truth, not the slowed replay).

use std::collections::BTreeMap;
use std::sync::Arc;

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
}

impl ClientBook {
    pub fn new(servers: usize) -> Self {
        Self { rows: BTreeMap::new(), servers }
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

    /// A server stopped: it no longer holds anything.
    pub fn forget_server(&mut self, server: ServerId) {
        for row in self.rows.values_mut() {
            if let Some(known) = row.known_by.get_mut(server) {
                *known = false;
            }
        }
    }

    pub fn clear(&mut self) {
        self.rows.clear();
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
}
