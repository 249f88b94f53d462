//! Flood playback: real hops on loopback take microseconds, so the view replays them at a
//! watchable pace. Each hop is a token that travels its edge for the display time, starting
//! when the sending server's own store was shown, so the replay keeps the causal order of
//! what really happened. A hop's outcome (stored, or suppressed as a duplicate) is shown when
//! its token arrives, or when the real arrival is seen if the network itself is slower.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ratatui::style::Color;
use tokio::time::Instant;

use crate::herd::ServerId;

/// Colours given to successive updates, so two floods in flight can be told apart.
pub const PALETTE: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::Green,
    Color::LightBlue,
    Color::LightYellow,
    Color::LightRed,
];

/// A token whose arrival is not seen this long after it was due is given up on.
const STALE: Duration = Duration::from_secs(30);

/// Most tokens animated at once; past that, hops are counted as skipped instead of drawn.
pub const MAX_TOKENS: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    Suppressed,
}

/// One hop being shown.
#[derive(Debug, Clone)]
pub struct Token {
    pub from: ServerId,
    pub to: ServerId,
    pub client: Arc<str>,
    pub colour: Color,
    /// When it starts moving (may be in the future: it waits for its sender's store).
    pub start: Instant,
    /// Held in the engine (paused): it waits at the sender's end.
    pub held: bool,
    /// Set when the real arrival has been seen: what happened there, and when it was seen.
    pub arrival: Option<(Outcome, Instant)>,
    /// Set when the engine dropped it.
    pub dropped: Option<Instant>,
}

/// A server's look after the latest shown arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub colour: Color,
    pub outcome: Outcome,
    pub at: Instant,
}

/// The replay state.
#[derive(Debug)]
pub struct Playback {
    pub hop: Duration,
    pub tokens: Vec<Token>,
    /// Per server, the latest shown arrival.
    pub marks: HashMap<ServerId, Mark>,
    /// Per client, its current update's colour and when each server's store is shown.
    updates: HashMap<Arc<str>, Update>,
    next_colour: usize,
    /// Hops not animated: too many were in flight, or the view jumped to the live herd.
    pub skipped: u64,
}

#[derive(Debug)]
struct Update {
    colour: Color,
    shown_at: HashMap<ServerId, Instant>,
}

impl Playback {
    pub fn new(hop: Duration) -> Self {
        Self {
            hop,
            tokens: Vec::new(),
            marks: HashMap::new(),
            updates: HashMap::new(),
            next_colour: 0,
            skipped: 0,
        }
    }

    /// A server stored a report straight from a client (or from outside the herd): a new
    /// update begins, with a colour of its own.
    pub fn origin(&mut self, server: ServerId, client: &Arc<str>, now: Instant) {
        let colour = PALETTE[self.next_colour % PALETTE.len()];
        self.next_colour += 1;
        let shown_at = HashMap::from([(server, now)]);
        self.updates.insert(client.clone(), Update { colour, shown_at });
        self.marks.insert(server, Mark { colour, outcome: Outcome::Stored, at: now });
    }

    /// A server handed a report to its link: a token leaves once the sender's store is shown.
    pub fn queued(
        &mut self,
        from: ServerId,
        to: ServerId,
        client: &Arc<str>,
        now: Instant,
        held: bool,
    ) {
        if self.tokens.len() >= MAX_TOKENS {
            self.skipped += 1;
            return;
        }
        let (colour, start) = match self.updates.get(client) {
            Some(update) => {
                (update.colour, update.shown_at.get(&from).copied().unwrap_or(now).max(now))
            }
            None => (PALETTE[0], now),
        };
        self.tokens.push(Token {
            from,
            to,
            client: client.clone(),
            colour,
            start,
            held,
            arrival: None,
            dropped: None,
        });
    }

    /// A held report was released: its token may move from now.
    pub fn released(&mut self, from: ServerId, to: ServerId, client: &str, now: Instant) {
        if let Some(token) = self.find(from, to, client, |t| t.held) {
            token.held = false;
            token.start = token.start.max(now);
        }
    }

    /// The engine dropped a report on its way.
    pub fn dropped(&mut self, from: ServerId, to: ServerId, client: &str, now: Instant) {
        if let Some(token) =
            self.find(from, to, client, |t| t.dropped.is_none() && t.arrival.is_none())
        {
            token.dropped = Some(now);
            token.held = false;
        }
    }

    /// The report arrived at `to` and was stored or suppressed there. Returns when the view
    /// will show it.
    pub fn arrived(
        &mut self,
        from: ServerId,
        to: ServerId,
        client: &Arc<str>,
        outcome: Outcome,
        now: Instant,
    ) -> Instant {
        let hop = self.hop;
        let shown =
            match self.find(from, to, client, |t| t.arrival.is_none() && t.dropped.is_none()) {
                Some(token) => {
                    token.arrival = Some((outcome, now));
                    token.held = false;
                    (token.start + hop).max(now)
                }
                None => now,
            };
        if outcome == Outcome::Stored
            && let Some(update) = self.updates.get_mut(client)
        {
            update.shown_at.insert(to, shown);
        }
        shown
    }

    fn find(
        &mut self,
        from: ServerId,
        to: ServerId,
        client: &str,
        pred: impl Fn(&Token) -> bool,
    ) -> Option<&mut Token> {
        self.tokens
            .iter_mut()
            .find(|t| t.from == from && t.to == to && &*t.client == client && pred(t))
    }

    /// How far along its edge a token is drawn at `now` (it waits just short of the end until
    /// its real arrival is seen).
    pub fn progress(&self, token: &Token, now: Instant) -> f64 {
        if token.held || now <= token.start {
            return 0.0;
        }
        let moved = (now - token.start).as_secs_f64() / self.hop.as_secs_f64().max(1e-3);
        let ceiling = if token.arrival.is_some() || token.dropped.is_some() { 1.0 } else { 0.9 };
        moved.min(ceiling)
    }

    /// Advances to `now`: tokens whose arrival is due are removed and their outcome marks the
    /// receiving server. Returns whether anything changed.
    pub fn advance(&mut self, now: Instant) -> bool {
        let hop = self.hop;
        let before = self.tokens.len();
        let mut marks = Vec::new();
        self.tokens.retain(|token| {
            if let Some(dropped) = token.dropped {
                return now < dropped.max(token.start) + hop / 2;
            }
            let Some((outcome, seen)) = token.arrival else {
                // An arrival never seen (its event was lost) must not animate forever.
                return token.held || now < token.start + hop + STALE;
            };
            let due = (token.start + hop).max(seen);
            if now < due {
                return true;
            }
            marks.push((token.to, Mark { colour: token.colour, outcome, at: due }));
            false
        });
        for (server, mark) in marks {
            let keep_stored = mark.outcome == Outcome::Suppressed
                && self
                    .marks
                    .get(&server)
                    .is_some_and(|m| m.outcome == Outcome::Stored && m.at + hop > now);
            if !keep_stored {
                self.marks.insert(server, mark);
            }
        }
        before != self.tokens.len()
    }

    /// Is anything moving or flashing (so the view needs frames)?
    pub fn animating(&self, now: Instant) -> bool {
        !self.tokens.is_empty() || self.marks.values().any(|m| now < m.at + self.hop)
    }

    /// Drops every token at once (the view jumps to the live herd): those not yet shown
    /// arriving count as skipped. Returns how many.
    pub fn skip_all(&mut self) -> usize {
        let unshown = self.tokens.iter().filter(|t| t.dropped.is_none()).count();
        self.skipped += unshown as u64;
        self.tokens.clear();
        unshown
    }

    /// Forget everything shown (after the view lagged and rebuilt from a snapshot).
    pub fn clear(&mut self) {
        self.tokens.clear();
        self.updates.clear();
    }

    /// A server was killed: its marks and the tokens into or out of it go.
    pub fn server_stopped(&mut self, server: ServerId) {
        self.marks.remove(&server);
        self.tokens.retain(|t| t.from != server && t.to != server);
        for update in self.updates.values_mut() {
            update.shown_at.remove(&server);
        }
    }

    /// Tokens in flight (shown or waiting to be).
    pub fn in_flight(&self) -> usize {
        self.tokens.iter().filter(|t| t.dropped.is_none()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Arc<str> {
        "kiwi".into()
    }

    #[test]
    fn a_hop_waits_for_its_senders_store_to_be_shown() {
        let t0 = Instant::now();
        let hop = Duration::from_millis(500);
        let mut p = Playback::new(hop);
        p.origin(0, &client(), t0);
        p.queued(0, 1, &client(), t0, false);
        // The real arrival is seen microseconds later; the view shows it one hop later.
        let shown = p.arrived(0, 1, &client(), Outcome::Stored, t0);
        assert_eq!(shown, t0 + hop);
        p.queued(1, 2, &client(), t0, false);
        assert_eq!(p.tokens[1].start, t0 + hop, "second hop starts when the first is shown");
        assert!(!p.advance(t0 + hop / 2));
        assert!((p.progress(&p.tokens[0], t0 + hop / 2) - 0.5).abs() < 1e-9);
        assert!(p.advance(t0 + hop));
        assert_eq!(p.marks[&1].outcome, Outcome::Stored);
        assert_eq!(p.tokens.len(), 1);
    }

    #[test]
    fn an_unseen_arrival_stops_short_of_the_end() {
        let t0 = Instant::now();
        let mut p = Playback::new(Duration::from_millis(100));
        p.queued(0, 1, &client(), t0, false);
        assert!((p.progress(&p.tokens[0], t0 + Duration::from_secs(5)) - 0.9).abs() < 1e-9);
        assert!(!p.advance(t0 + Duration::from_secs(5)));
        let seen = t0 + Duration::from_secs(5);
        assert_eq!(p.arrived(0, 1, &client(), Outcome::Suppressed, seen), seen);
        assert!(p.advance(seen));
        assert_eq!(p.marks[&1].outcome, Outcome::Suppressed);
    }

    #[test]
    fn held_tokens_wait_and_dropped_ones_fade() {
        let t0 = Instant::now();
        let hop = Duration::from_millis(100);
        let mut p = Playback::new(hop);
        p.queued(0, 1, &client(), t0, true);
        assert!(p.progress(&p.tokens[0], t0 + hop * 10) < 1e-9);
        p.released(0, 1, "kiwi", t0 + hop * 10);
        assert!(p.progress(&p.tokens[0], t0 + hop * 10 + hop / 2) > 0.4);
        p.dropped(0, 1, "kiwi", t0 + hop * 11);
        assert!(p.advance(t0 + hop * 12));
        assert!(p.tokens.is_empty());
    }

    #[test]
    fn too_many_tokens_are_counted_not_drawn() {
        let t0 = Instant::now();
        let mut p = Playback::new(Duration::from_millis(100));
        for _ in 0..MAX_TOKENS + 5 {
            p.queued(0, 1, &client(), t0, false);
        }
        assert_eq!((p.tokens.len(), p.skipped), (MAX_TOKENS, 5));
    }
}
