//! The operator's faults in force: per directed link (cut, delay, loss, dup), the herd-wide
//! delay, and hung servers. Each fault is a [`Record`] with the label an operator would type,
//! its counters and its expiry; one command (a partition, a two-way cut) is one record shared
//! by every link it touches. [`Board::verdict`] gives each report its fate on a link: one
//! atomic load when the link has no fault.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::control::{ActiveFault, Delay, Directed, Loss};
use super::events::{DropReason, LinkFaultsView, ServerId, Update};
use super::fate::{self, Fate, FateKey, LossChain};

/// One fault as the operator set it.
#[derive(Debug)]
pub struct Record {
    pub id: u64,
    pub label: Arc<str>,
    until: Option<Instant>,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    delayed: AtomicU64,
}

impl Record {
    /// Time left before it heals itself, if it was given `for`.
    pub fn remaining(&self) -> Option<Duration> {
        self.until.map(|until| until.saturating_duration_since(Instant::now()))
    }

    fn active(&self) -> ActiveFault {
        ActiveFault {
            label: self.label.to_string(),
            dropped: self.dropped.load(Ordering::Relaxed),
            duplicated: self.duplicated.load(Ordering::Relaxed),
            delayed: self.delayed.load(Ordering::Relaxed),
            remaining: self.remaining(),
        }
    }
}

/// The faults on one directed link.
#[derive(Debug, Default)]
struct Slots {
    cut: Option<Arc<Record>>,
    delay: Option<(Delay, Arc<Record>)>,
    loss: Option<(Loss, Option<LossChain>, Arc<Record>)>,
    dup: Option<(f64, Arc<Record>)>,
}

impl Slots {
    fn is_clear(&self) -> bool {
        self.cut.is_none() && self.delay.is_none() && self.loss.is_none() && self.dup.is_none()
    }

    fn records(&self) -> impl Iterator<Item = &Arc<Record>> {
        let delay = self.delay.as_ref().map(|(_, r)| r);
        let loss = self.loss.as_ref().map(|(_, _, r)| r);
        let dup = self.dup.as_ref().map(|(_, r)| r);
        self.cut.iter().chain(delay).chain(loss).chain(dup)
    }

    /// Removes every fault of record `id`; returns whether there was one.
    fn remove(&mut self, id: u64) -> bool {
        let had = self.records().any(|r| r.id == id);
        if self.cut.as_ref().is_some_and(|r| r.id == id) {
            self.cut = None;
        }
        if self.delay.as_ref().is_some_and(|(_, r)| r.id == id) {
            self.delay = None;
        }
        if self.loss.as_ref().is_some_and(|(_, _, r)| r.id == id) {
            self.loss = None;
        }
        if self.dup.as_ref().is_some_and(|(_, r)| r.id == id) {
            self.dup = None;
        }
        had
    }
}

#[derive(Debug, Default)]
struct Cell {
    /// Any fault on this link? Read on every report; the slots are locked only when set.
    any: AtomicBool,
    slots: Mutex<Slots>,
}

impl Cell {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What happens to one report handed to a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Drop { reason: DropReason, fault: Arc<str> },
    Deliver { copies: u8, delay: Duration, delayed_by: Option<Arc<str>>, dup_by: Option<Arc<str>> },
}

impl Verdict {
    const CLEAR: Self =
        Self::Deliver { copies: 1, delay: Duration::ZERO, delayed_by: None, dup_by: None };
}

/// Which kind of link fault a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cut,
    Delay,
    Loss,
    Dup,
}

/// A new value for one kind of fault on a link.
#[derive(Debug, Clone, Copy)]
pub enum Setting {
    Cut,
    Delay(Delay),
    Loss(Loss),
    Dup(f64),
}

/// Whether one server is hung: one atomic load to ask (its sessions and links ask before
/// each line and batch), and a wait until it is not.
#[derive(Debug, Clone)]
pub struct Freeze {
    hung: Arc<AtomicBool>,
    thaw: watch::Receiver<bool>,
}

impl Freeze {
    pub fn is_hung(&self) -> bool {
        self.hung.load(Ordering::Relaxed)
    }

    /// Waits while the server is hung; `false` if the herd is gone.
    pub async fn thawed(&mut self) -> bool {
        while self.is_hung() {
            if self.thaw.changed().await.is_err() {
                return false;
            }
        }
        true
    }
}

/// Every fault of a herd.
#[derive(Debug)]
pub struct Board {
    seed: u64,
    links: HashMap<Directed, Cell, foldhash::fast::RandomState>,
    /// `delay all`: the delay of every link without one of its own.
    all_delay: Mutex<Option<(Delay, Arc<Record>)>>,
    any_all: AtomicBool,
    hung: Vec<Mutex<Option<Arc<Record>>>>,
    freezes: Vec<(Arc<AtomicBool>, watch::Sender<bool>)>,
    next_id: AtomicU64,
}

impl Board {
    /// A board for these directed links and `servers` servers.
    pub fn new(seed: u64, links: impl IntoIterator<Item = Directed>, servers: usize) -> Self {
        Self {
            seed,
            links: links.into_iter().map(|l| (l, Cell::default())).collect(),
            all_delay: Mutex::default(),
            any_all: AtomicBool::new(false),
            hung: (0..servers).map(|_| Mutex::default()).collect(),
            freezes: (0..servers).map(|_| (Arc::default(), watch::channel(false).0)).collect(),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn has_link(&self, link: Directed) -> bool {
        self.links.contains_key(&link)
    }

    /// A new record for a fault labelled `label`, healing itself after `lasting`.
    pub fn record(&self, label: String, lasting: Option<Duration>) -> Arc<Record> {
        Arc::new(Record {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            label: label.into(),
            until: lasting.map(|d| Instant::now() + d),
            dropped: AtomicU64::new(0),
            duplicated: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
        })
    }

    /// The fate of `update` sent over `link`, counted on the fault that decided it. `hop`
    /// tells copies of one update on one link apart: the TTL a storm copy travels with, a
    /// repair's number for anti-entropy, 0 for the course's flooding (which sends an update
    /// over a link once).
    pub fn verdict(&self, link: Directed, update: &Update, hop: u32) -> Verdict {
        let Some(cell) = self.links.get(&link) else { return Verdict::CLEAR };
        let all = self.any_all.load(Ordering::Relaxed);
        if !all && !cell.any.load(Ordering::Relaxed) {
            return Verdict::CLEAR;
        }
        let all_delay = if all { lock(&self.all_delay).clone() } else { None };
        let mut slots = cell.lock();
        let delay = slots.delay.clone().or(all_delay);
        let faults = LinkFaultsView {
            cut: slots.cut.is_some(),
            delay: delay.as_ref().map(|(d, _)| *d),
            loss: slots.loss.as_ref().map(|(l, _, _)| *l),
            dup: slots.dup.as_ref().map(|(d, _)| *d),
        };
        let key =
            FateKey { seed: self.seed, link, client: &update.client, time: &update.time, hop };
        let chain = slots.loss.as_mut().and_then(|(_, chain, _)| chain.as_mut());
        match fate::fate(&key, &faults, chain) {
            Fate::Cut => drop_by(slots.cut.as_ref(), DropReason::Cut),
            Fate::Lost => drop_by(slots.loss.as_ref().map(|(_, _, r)| r), DropReason::Lost),
            Fate::Deliver { copies, delay: wait } => {
                let delayed_by = delay.filter(|_| !wait.is_zero()).map(|(_, record)| {
                    record.delayed.fetch_add(1, Ordering::Relaxed);
                    record.label.clone()
                });
                let dup_by = slots.dup.as_ref().filter(|_| copies > 1).map(|(_, record)| {
                    record.duplicated.fetch_add(1, Ordering::Relaxed);
                    record.label.clone()
                });
                Verdict::Deliver { copies, delay: wait, delayed_by, dup_by }
            }
        }
    }

    /// Sets one kind of fault on `link` under `record` (a later one of the same kind replaces
    /// the earlier); returns whether anything changed (the same value again, not timed, does
    /// not).
    pub fn set(&self, link: Directed, setting: Setting, record: &Arc<Record>) -> bool {
        let Some(cell) = self.links.get(&link) else { return false };
        let mut slots = cell.lock();
        let timed = record.until.is_some();
        let record = record.clone();
        let changed = match setting {
            Setting::Cut => replace(&mut slots.cut, record, timed, |_| true, |r| r),
            Setting::Delay(delay) => {
                replace(&mut slots.delay, record, timed, |(d, _)| *d == delay, |r| (delay, r))
            }
            Setting::Loss(loss) => {
                let chain = LossChain::needed(loss).then(|| LossChain::new(self.seed, link, loss));
                replace(
                    &mut slots.loss,
                    record,
                    timed,
                    |(l, _, _)| *l == loss,
                    |r| (loss, chain, r),
                )
            }
            Setting::Dup(rate) => replace(
                &mut slots.dup,
                record,
                timed,
                |(d, _)| d.to_bits() == rate.to_bits(),
                |r| (rate, r),
            ),
        };
        cell.any.store(!slots.is_clear(), Ordering::Relaxed);
        changed
    }

    /// Lifts one kind of fault from `link`; returns whether it was set.
    pub fn lift(&self, link: Directed, kind: Kind) -> bool {
        let Some(cell) = self.links.get(&link) else { return false };
        let mut slots = cell.lock();
        let lifted = match kind {
            Kind::Cut => slots.cut.take().is_some(),
            Kind::Delay => slots.delay.take().is_some(),
            Kind::Loss => slots.loss.take().is_some(),
            Kind::Dup => slots.dup.take().is_some(),
        };
        cell.any.store(!slots.is_clear(), Ordering::Relaxed);
        lifted
    }

    /// Is this kind of fault set on `link`?
    pub fn has(&self, link: Directed, kind: Kind) -> bool {
        self.links.get(&link).is_some_and(|cell| {
            let slots = cell.lock();
            match kind {
                Kind::Cut => slots.cut.is_some(),
                Kind::Delay => slots.delay.is_some(),
                Kind::Loss => slots.loss.is_some(),
                Kind::Dup => slots.dup.is_some(),
            }
        })
    }

    /// Sets (or with `None` lifts) the delay of every link, and lifts every link's own.
    pub fn set_all_delay(&self, delay: Option<(Delay, Arc<Record>)>) {
        self.any_all.store(delay.is_some(), Ordering::Relaxed);
        *lock(&self.all_delay) = delay;
        for &link in self.links.keys() {
            self.lift(link, Kind::Delay);
        }
    }

    pub fn all_delay(&self) -> Option<Delay> {
        lock(&self.all_delay).as_ref().map(|(d, _)| *d)
    }

    /// Lifts every fault of record `id`; returns the links it was on (and whether it was
    /// the herd-wide delay or a hang, which the caller announces).
    pub fn remove(&self, id: u64) -> (Vec<Directed>, bool) {
        let mut links = Vec::new();
        for (&link, cell) in &self.links {
            let mut slots = cell.lock();
            if slots.remove(id) {
                links.push(link);
            }
            cell.any.store(!slots.is_clear(), Ordering::Relaxed);
        }
        let mut all = lock(&self.all_delay);
        let was_all = all.as_ref().is_some_and(|(_, r)| r.id == id);
        if was_all {
            *all = None;
            self.any_all.store(false, Ordering::Relaxed);
        }
        links.sort_unstable();
        (links, was_all)
    }

    /// Lifts every link fault and the herd-wide delay; returns the links whose faults
    /// changed (every link when there was a herd-wide delay).
    pub fn clear_links(&self) -> Vec<Directed> {
        let had_all = lock(&self.all_delay).take().is_some();
        self.any_all.store(false, Ordering::Relaxed);
        let mut links = Vec::new();
        for (&link, cell) in &self.links {
            let mut slots = cell.lock();
            if had_all || !slots.is_clear() {
                links.push(link);
            }
            *slots = Slots::default();
            cell.any.store(false, Ordering::Relaxed);
        }
        links.sort_unstable();
        links
    }

    /// The faults on `link`, for observers (its own delay, or the herd-wide one).
    pub fn view(&self, link: Directed) -> LinkFaultsView {
        let Some(cell) = self.links.get(&link) else { return LinkFaultsView::default() };
        let slots = cell.lock();
        LinkFaultsView {
            cut: slots.cut.is_some(),
            delay: slots.delay.as_ref().map(|(d, _)| *d).or_else(|| self.all_delay()),
            loss: slots.loss.as_ref().map(|(l, _, _)| *l),
            dup: slots.dup.as_ref().map(|(d, _)| *d),
        }
    }

    /// Freezes (or with `None` thaws) `server`; returns whether that changed anything.
    pub fn set_hung(&self, server: ServerId, record: Option<Arc<Record>>) -> bool {
        let Some(slot) = self.hung.get(server) else { return false };
        let mut slot = lock(slot);
        let timed = record.as_ref().is_some_and(|r| r.until.is_some());
        let changed = match &record {
            Some(_) => slot.is_none() || timed,
            None => slot.is_some(),
        };
        let hung = record.is_some();
        *slot = record;
        let (flag, thaw) = &self.freezes[server];
        flag.store(hung, Ordering::Relaxed);
        thaw.send_replace(hung);
        changed
    }

    pub fn is_hung(&self, server: ServerId) -> bool {
        self.hung.get(server).is_some_and(|slot| lock(slot).is_some())
    }

    /// Thaws the server whose hang is record `id` (checked and cleared under one lock, so a
    /// hang applied again since is left alone); returns which server that was.
    pub fn unhang_record(&self, id: u64) -> Option<ServerId> {
        for (server, slot) in self.hung.iter().enumerate() {
            let mut slot = lock(slot);
            if slot.as_ref().is_some_and(|r| r.id == id) {
                *slot = None;
                let (flag, thaw) = &self.freezes[server];
                flag.store(false, Ordering::Relaxed);
                thaw.send_replace(false);
                return Some(server);
            }
        }
        None
    }

    /// Whether `server` is hung, for its tasks to stop and go on.
    pub fn freeze(&self, server: ServerId) -> Freeze {
        let (flag, thaw) = &self.freezes[server];
        Freeze { hung: flag.clone(), thaw: thaw.subscribe() }
    }

    /// Every fault in force, each once, oldest first.
    pub fn active(&self) -> Vec<ActiveFault> {
        let mut records: Vec<Arc<Record>> = Vec::new();
        let mut add = |record: &Arc<Record>| {
            if !records.iter().any(|r| r.id == record.id) {
                records.push(record.clone());
            }
        };
        if let Some((_, record)) = lock(&self.all_delay).as_ref() {
            add(record);
        }
        for cell in self.links.values() {
            for record in cell.lock().records() {
                add(record);
            }
        }
        for slot in &self.hung {
            if let Some(record) = lock(slot).as_ref() {
                add(record);
            }
        }
        records.sort_by_key(|r| r.id);
        records.iter().map(|r| r.active()).collect()
    }
}

/// Puts `record` in `slot` unless the slot already holds the same value (`same`) and the new
/// one is not timed; returns whether it did.
fn replace<T>(
    slot: &mut Option<T>,
    record: Arc<Record>,
    timed: bool,
    same: impl Fn(&T) -> bool,
    make: impl FnOnce(Arc<Record>) -> T,
) -> bool {
    if !timed && slot.as_ref().is_some_and(same) {
        return false;
    }
    *slot = Some(make(record));
    true
}

fn drop_by(record: Option<&Arc<Record>>, reason: DropReason) -> Verdict {
    let fault = record.map_or_else(
        || Arc::from(reason.as_str()),
        |record| {
            record.dropped.fetch_add(1, Ordering::Relaxed);
            record.label.clone()
        },
    );
    Verdict::Drop { reason, fault }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
