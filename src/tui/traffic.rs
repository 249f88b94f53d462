//! The traffic pane's memory: the latest lines each server received and sent, and the
//! operator's actions between them, bounded.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::time::Instant;

use crate::herd::ServerId;

/// Most lines kept.
pub const CAPACITY: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from a client or a neighbour.
    In,
    /// A reply written back.
    Out,
    /// A report written to a neighbour (or duplicated or dropped on its way there).
    Flood(ServerId),
    /// An operator action or a fault healing itself (no server: shown under any filter).
    Operator,
}

#[derive(Debug, Clone)]
pub struct TrafficLine {
    /// Its number, one more than the line before (set by [`TrafficLog::push`]).
    pub id: u64,
    pub at: Instant,
    /// The server that received or sent the line; `None` for an operator line.
    pub server: Option<ServerId>,
    pub direction: Direction,
    /// The peer's address, for client lines.
    pub peer: Option<Arc<str>>,
    pub text: Arc<str>,
}

/// A ring of the latest lines.
#[derive(Debug, Default)]
pub struct TrafficLog {
    lines: VecDeque<TrafficLine>,
    next_id: u64,
}

/// The lines a traffic pane shows, and how many more there are either side.
#[derive(Debug, Default)]
pub struct Window<'a> {
    /// Oldest first.
    pub lines: Vec<&'a TrafficLine>,
    /// Older lines that match, above the window.
    pub above: usize,
    /// Newer lines that match, below it (scrolled back or frozen).
    pub below: usize,
}

/// Does `line` involve `server` (or is any server asked for)? Operator lines always do.
fn involves(line: &TrafficLine, server: Option<ServerId>) -> bool {
    server.is_none_or(|s| {
        line.server.is_none_or(|server| server == s) || line.direction == Direction::Flood(s)
    })
}

impl TrafficLog {
    pub fn clear(&mut self) {
        self.lines.clear();
    }

    pub fn push(&mut self, mut line: TrafficLine) {
        if self.lines.len() == CAPACITY {
            self.lines.pop_front();
        }
        line.id = self.next_id;
        self.next_id += 1;
        self.lines.push_back(line);
    }

    /// The id the next line will get: a pane frozen now shows the lines before it.
    pub fn newest_id(&self) -> u64 {
        self.next_id
    }

    /// Up to `n` lines involving `server` (or any) and holding `text`, ending `skip` matching
    /// lines back from the newest before `until` (or the newest of all).
    pub fn window(
        &self,
        n: usize,
        server: Option<ServerId>,
        text: &str,
        until: Option<u64>,
        skip: usize,
    ) -> Window<'_> {
        let matching: Vec<&TrafficLine> = self
            .lines
            .iter()
            .filter(|l| involves(l, server) && (text.is_empty() || l.text.contains(text)))
            .collect();
        let end = until.map_or(matching.len(), |id| matching.partition_point(|l| l.id < id));
        let newer = matching.len() - end;
        let skip = skip.min(end.saturating_sub(n.min(end)));
        let last = end - skip;
        let first = last.saturating_sub(n);
        Window { lines: matching[first..last].to_vec(), above: first, below: newer + skip }
    }

    /// The newest `n` lines involving `filter` (or any server), oldest first; operator lines
    /// are always among them.
    pub fn latest(&self, n: usize, filter: Option<ServerId>) -> Vec<&TrafficLine> {
        self.window(n, filter, "", None, 0).lines
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}
