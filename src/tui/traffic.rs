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
}

impl TrafficLog {
    pub fn clear(&mut self) {
        self.lines.clear();
    }

    pub fn push(&mut self, line: TrafficLine) {
        if self.lines.len() == CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// The newest `n` lines involving `filter` (or any server), oldest first; operator lines
    /// are always among them.
    pub fn latest(&self, n: usize, filter: Option<ServerId>) -> Vec<&TrafficLine> {
        let involves = |l: &&TrafficLine| {
            filter.is_none_or(|s| {
                l.server.is_none_or(|server| server == s) || l.direction == Direction::Flood(s)
            })
        };
        let mut out: Vec<&TrafficLine> = self.lines.iter().rev().filter(involves).take(n).collect();
        out.reverse();
        out
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}
