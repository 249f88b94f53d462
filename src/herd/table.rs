//! One server's client table: per client, the AT line of the report with the greatest client
//! time. A std `Mutex` guards it; nothing awaits while holding it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::protocol::ClientTime;

#[derive(Debug)]
struct Entry {
    time: ClientTime,
    line: Arc<str>,
}

/// Why a report was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// The same client time as the stored report: another copy of it.
    Duplicate,
    /// Older than the stored report.
    Older,
}

impl Stale {
    /// How the log labels it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate, not stored",
            Self::Older => "older than stored, not stored",
        }
    }
}

/// Client id → newest report.
#[derive(Debug, Default)]
pub struct ClientTable {
    entries: Mutex<HashMap<Box<str>, Entry, foldhash::fast::RandomState>>,
    /// Lookups waiting for a report that may be in flight, and their wake-up.
    waiting: AtomicUsize,
    stored: Notify,
}

impl ClientTable {
    /// Stores `line` if `time` is newer than what is held for `client`; returns the stored
    /// line, or why nothing changed.
    pub fn accept(&self, client: &str, time: &ClientTime, line: &str) -> Result<Arc<str>, Stale> {
        let stored: Arc<str> = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            // Allocate only for a report that is kept: most reports a busy server receives
            // are duplicates of what it has.
            if let Some(entry) = entries.get_mut(client) {
                match time.cmp(&entry.time) {
                    std::cmp::Ordering::Equal => return Err(Stale::Duplicate),
                    std::cmp::Ordering::Less => return Err(Stale::Older),
                    std::cmp::Ordering::Greater => {}
                }
                entry.time = time.clone();
                entry.line = line.into();
                entry.line.clone()
            } else {
                let entry = Entry { time: time.clone(), line: line.into() };
                let stored = entry.line.clone();
                entries.insert(client.into(), entry);
                stored
            }
        };
        if self.waiting.load(Ordering::Acquire) > 0 {
            self.stored.notify_waiters();
        }
        Ok(stored)
    }

    /// The stored line for `client`; if there is none yet, waits up to `limit` for one to be
    /// stored (a neighbour's report may be arriving on another connection at this moment).
    pub async fn get_or_wait(&self, client: &str, limit: Duration) -> Option<Arc<str>> {
        if let Some(line) = self.get(client) {
            return Some(line);
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let deadline = tokio::time::Instant::now() + limit;
        let found = loop {
            let stored = self.stored.notified();
            tokio::pin!(stored);
            stored.as_mut().enable();
            if let Some(line) = self.get(client) {
                break Some(line);
            }
            if tokio::time::timeout_at(deadline, stored).await.is_err() {
                break self.get(client);
            }
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        found
    }

    /// The stored AT line for `client`.
    pub fn get(&self, client: &str) -> Option<Arc<str>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(client).map(|entry| entry.line.clone())
    }

    /// Every client with its newest client time and stored line, in no particular order.
    pub fn entries(&self) -> Vec<(Box<str>, ClientTime, Arc<str>)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.iter().map(|(client, e)| (client.clone(), e.time.clone(), e.line.clone())).collect()
    }

    /// Every stored line, in no particular order.
    pub fn lines(&self) -> Vec<Arc<str>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.values().map(|entry| entry.line.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> ClientTime {
        ClientTime::parse(text).expect("valid time")
    }

    #[test]
    fn newer_wins_and_equal_or_older_is_ignored() {
        let table = ClientTable::default();
        assert!(table.accept("kiwi", &time("10.5"), "AT A +0 kiwi +1+1 10.5").is_ok());
        let again = table.accept("kiwi", &time("10.50"), "AT B +0 kiwi +1+1 10.50");
        assert_eq!(again.unwrap_err(), Stale::Duplicate);
        let older = table.accept("kiwi", &time("9"), "AT B +0 kiwi +1+1 9");
        assert_eq!(older.unwrap_err(), Stale::Older);
        assert_eq!(table.get("kiwi").as_deref(), Some("AT A +0 kiwi +1+1 10.5"));
        assert!(table.accept("kiwi", &time("10.500000001"), "AT C +0 kiwi +1+1 x").is_ok());
        assert_eq!(table.get("kiwi").as_deref(), Some("AT C +0 kiwi +1+1 x"));
        assert!(table.get("apple").is_none());
        assert_eq!(table.lines().len(), 1);
    }

    #[tokio::test]
    async fn a_lookup_waits_briefly_for_a_report_in_flight() {
        let table = Arc::new(ClientTable::default());
        let waiter = tokio::spawn({
            let table = table.clone();
            async move { table.get_or_wait("kiwi", Duration::from_secs(5)).await }
        });
        tokio::task::yield_now().await;
        let _ = table.accept("kiwi", &time("1"), "AT A +0 kiwi +1+1 1");
        assert_eq!(waiter.await.unwrap().as_deref(), Some("AT A +0 kiwi +1+1 1"));
        let missing = table.get_or_wait("apple", Duration::from_millis(10)).await;
        assert!(missing.is_none());
    }
}
