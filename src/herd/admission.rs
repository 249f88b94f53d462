//! File descriptors and connections: what a herd needs for itself (listeners, logs, both ends
//! of every link it runs), how many client connections that leaves under the process's limit,
//! and whether one more client connection is admitted. One server's clients may not take the
//! descriptors the herd's own links and logs need, nor the last ones the other servers of the
//! same process need to keep accepting.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Descriptors the process needs besides its servers: standard streams, the runtime's epoll
/// and wake-up descriptors, signal handling, the debug log, HTTP connections to Places, and
/// the few a log rotation holds open for a moment.
pub const FIXED_DESCRIPTORS: u64 = 64;

/// Client connections each other server of the process can always still accept, however many
/// one busy server holds (at most this, or an even share when descriptors are scarce).
const FLOOR: usize = 64;

/// Descriptors the herd needs for itself, given for each server it runs its number of
/// neighbours and how many of them run in this same process. Per server: its listener and its
/// log file; per neighbour: its outbound connection, and for a neighbour in this process the
/// accepted end of that neighbour's connection too.
pub fn herd_descriptors(servers: impl IntoIterator<Item = (usize, usize)>) -> u64 {
    let per_server: u64 = servers
        .into_iter()
        .map(|(degree, local_neighbours)| 2 + degree as u64 + local_neighbours as u64)
        .sum();
    FIXED_DESCRIPTORS + per_server
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server already holds `--max-connections` client connections.
    ServerFull,
    /// One more would leave too few descriptors for the herd's links and logs, or for the
    /// other servers of the process.
    Descriptors,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerFull => "this server holds --max-connections client connections",
            Self::Descriptors => {
                "one more would leave too few file descriptors for the herd's links and logs"
            }
        }
    }
}

/// Whether a server holding `here` client connections (of at most `max_here`) may take one
/// more, when the process holds `total` client connections in all, may hold `budget`, and
/// must keep `kept_for_others` of them free for its other servers.
pub fn verdict(
    here: usize,
    max_here: usize,
    total: usize,
    budget: usize,
    kept_for_others: usize,
) -> Result<(), Refusal> {
    if here >= max_here {
        Err(Refusal::ServerFull)
    } else if total + 1 + kept_for_others > budget {
        Err(Refusal::Descriptors)
    } else {
        Ok(())
    }
}

/// The herd's count of client connections against its budget.
#[derive(Debug)]
pub struct Admission {
    /// Client connections the process may hold in all.
    budget: usize,
    max_per_server: usize,
    /// Kept free for each local server however busy the others are.
    floor: usize,
    total: AtomicUsize,
    per_server: Vec<AtomicUsize>,
    refused: Vec<AtomicU64>,
    local_servers: usize,
}

impl Admission {
    /// `limit` is the process's descriptor limit, `reserved` what the herd needs for itself
    /// (see [`herd_descriptors`]); `servers` the number of servers in the topology, of which
    /// `local_servers` run here.
    pub fn new(
        limit: u64,
        reserved: u64,
        max_per_server: usize,
        servers: usize,
        local_servers: usize,
    ) -> Self {
        let budget = usize::try_from(limit.saturating_sub(reserved)).unwrap_or(usize::MAX);
        let share = budget / (2 * local_servers.max(1));
        Self {
            budget,
            max_per_server,
            floor: FLOOR.min(share),
            total: AtomicUsize::new(0),
            per_server: (0..servers).map(|_| AtomicUsize::new(0)).collect(),
            refused: (0..servers).map(|_| AtomicU64::new(0)).collect(),
            local_servers,
        }
    }

    /// Client connections the process may hold in all.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Admits one more client connection to `server`, or says why not (and counts it).
    pub fn admit(self: &Arc<Self>, server: usize) -> Result<Ticket, Refusal> {
        let here = self.per_server[server].load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed);
        // Only near the budget is it worth adding up what the other servers are owed.
        let others_owed = if total + 1 + self.local_servers * self.floor > self.budget {
            self.per_server
                .iter()
                .enumerate()
                .filter(|&(id, _)| id != server)
                .map(|(_, held)| self.floor.saturating_sub(held.load(Ordering::Relaxed)))
                .sum::<usize>()
                .min(self.floor * self.local_servers.saturating_sub(1))
        } else {
            0
        };
        if let Err(refusal) = verdict(here, self.max_per_server, total, self.budget, others_owed) {
            self.refused[server].fetch_add(1, Ordering::Relaxed);
            return Err(refusal);
        }
        self.per_server[server].fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        Ok(Ticket { admission: self.clone(), server })
    }

    /// Client connections `server` holds now.
    pub fn held(&self, server: usize) -> usize {
        self.per_server[server].load(Ordering::Relaxed)
    }

    /// Connections `server` closed at once since the herd started.
    pub fn refused(&self, server: usize) -> u64 {
        self.refused[server].load(Ordering::Relaxed)
    }
}

/// One admitted client connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    server: usize,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.per_server[self.server].fetch_sub(1, Ordering::Relaxed);
        self.admission.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The local ports of this process's own outbound link connections, so that a server that
/// accepts one knows it for a neighbour's link (whose descriptor is in the herd's reserve), not
/// a client. A link registers right after it connects (binding a port up front to register it
/// before the connect made each of a large herd's first connects search the port range: one
/// update took 3.2 s instead of 0.2 s to cross `grid:40x40`), so a server may accept it first:
/// it waits for such a connection's first byte, or briefly for its registration.
#[derive(Debug, Default)]
pub struct LinkEnds(Mutex<HashSet<u16>>);

impl LinkEnds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<u16>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a link connection's local port until the returned guard is dropped.
    pub fn register(self: &Arc<Self>, port: u16) -> LinkEnd {
        self.lock().insert(port);
        LinkEnd { ends: self.clone(), port }
    }

    pub fn contains(&self, port: u16) -> bool {
        self.lock().contains(&port)
    }
}

/// One registered link connection; see [`LinkEnds`].
#[derive(Debug)]
pub struct LinkEnd {
    ends: Arc<LinkEnds>,
    port: u16,
}

impl Drop for LinkEnd {
    fn drop(&mut self) {
        self.ends.lock().remove(&self.port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_herd_reserves_listeners_logs_and_both_ends_of_local_links() {
        // cs131 in one process: degrees 2, 3, 3, 2, 2 and every neighbour local.
        let cs131 = [(2, 2), (3, 3), (3, 3), (2, 2), (2, 2)];
        assert_eq!(herd_descriptors(cs131), FIXED_DESCRIPTORS + 5 * 2 + 2 * 12);
        // One server of a ring alone: its two outbound links, no accepted ends reserved.
        assert_eq!(herd_descriptors([(2, 0)]), FIXED_DESCRIPTORS + 4);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(0, 10, 0, 100, 0), Ok(()));
        assert_eq!(verdict(10, 10, 10, 100, 0), Err(Refusal::ServerFull));
        assert_eq!(verdict(5, 10, 99, 100, 0), Ok(()));
        assert_eq!(verdict(5, 10, 100, 100, 0), Err(Refusal::Descriptors));
        assert_eq!(verdict(5, 10, 90, 100, 10), Err(Refusal::Descriptors));
        assert_eq!(verdict(5, 10, 89, 100, 10), Ok(()));
    }

    #[test]
    fn one_busy_server_leaves_the_others_room() {
        let admission = Arc::new(Admission::new(FIXED_DESCRIPTORS + 1000, 0, 10_000, 3, 3));
        let mut tickets = Vec::new();
        while let Ok(ticket) = admission.admit(0) {
            tickets.push(ticket);
        }
        assert_eq!(admission.admit(0).unwrap_err(), Refusal::Descriptors);
        assert_eq!(admission.refused(0), 2, "the loop's last try and this one");
        let floor = admission.floor;
        assert_eq!(tickets.len(), admission.budget() - 2 * floor);
        let others: Vec<_> = (0..floor).map(|_| admission.admit(1).unwrap()).collect();
        assert_eq!(others.len(), floor);
        assert!(admission.admit(2).is_ok(), "server 2 was starved by server 0");
        drop(tickets);
        assert_eq!(admission.held(0), 0);
        assert!(admission.admit(0).is_ok());
    }

    #[test]
    fn the_per_server_cap_holds_with_room_to_spare() {
        let admission = Arc::new(Admission::new(100_000, 0, 3, 1, 1));
        let tickets: Vec<_> = (0..3).map(|_| admission.admit(0).unwrap()).collect();
        assert_eq!(admission.admit(0).unwrap_err(), Refusal::ServerFull);
        drop(tickets);
    }
}
