//! `herdctl attach`: a herd whose servers run in other processes, on this host or others,
//! seen and steered through their admin endpoints ([`crate::admin`]). [`Remote`] offers the
//! console what a herd in this process does ([`Herdlike`]), so the dashboard, `--control
//! stdin`, scenarios and recordings work on it unchanged.
//!
//! * Events: each endpoint's `/events` is followed by a watcher ([`watch`]) and the streams
//!   are merged in causal order ([`merge`]) into one stream of this process's own.
//! * State: each endpoint's `/snapshot`, read at every (re)connection and polled, gives the
//!   servers its process runs and the directions of the links they send on; stores seen in
//!   the streams since keep the clients current between polls.
//! * Sight: a server whose endpoint cannot be reached, or answers for another herd, is
//!   *unseen*: its state is unknown, which is not down. A process started anew (a new boot) is
//!   read from its start and the view rebuilt from its snapshot.
//! * Controls go to the processes that must carry them out ([`route`]), as command lines on
//!   `POST /control` with the bearer token of `--token-file`.

mod merge;
mod plan;
mod route;
mod watch;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::config::Topology;
use crate::herd::control::{Links, Policy};
use crate::herd::{
    Applied, Control, ControlError, EventBus, EventKind, HerdSnapshot, Herdlike, LinkFaultsView,
    LinkSnapshot, LinkState, News, ServerId, ServerSnapshot, ServerStatus, Subscription,
};
use merge::Merge;
pub use plan::{Endpoint, Plan, plan};
use watch::Report;

/// Events the merged stream keeps for a slow reader before it lags.
const BUFFER: usize = 65_536;

/// How long attaching waits for every endpoint to answer before it goes on without the
/// silent ones (they are watched all the same).
const READY: Duration = Duration::from_secs(2);

/// How an attached console reaches the herd.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Admin port of the first server when the topology names none (`--admin-base-port`).
    pub base_port: Option<u16>,
    /// The bearer token for `POST /control` (`--token-file`).
    pub token: Option<String>,
}

/// A herd attached over its servers' admin endpoints. Cheap to clone; the watch stops when
/// the last clone is dropped.
#[derive(Clone)]
pub struct Remote {
    inner: Arc<Inner>,
}

struct Inner {
    topology: Topology,
    names: Vec<String>,
    plan: Plan,
    bus: EventBus,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
    token: Option<String>,
    poll_now: Vec<Arc<Notify>>,
    /// Where clients reach each server (its `dial` and `port`, looked up at attach).
    addrs: Vec<Option<SocketAddr>>,
    _stop: DropGuard,
}

/// What the console knows of one endpoint.
#[derive(Debug, Default)]
struct Sight {
    boot: Option<String>,
    version: Option<String>,
    /// Its event stream is open.
    streaming: bool,
    /// Its last snapshot poll answered.
    answering: bool,
    snapshot: Option<HerdSnapshot>,
    /// It answers for another herd: why (its events are not used).
    mismatch: Option<String>,
    /// Lines of its stream that were neither events nor gaps.
    malformed: u64,
}

impl Sight {
    fn seen(&self) -> bool {
        self.streaming && self.answering && self.mismatch.is_none()
    }
}

#[derive(Debug, Default)]
struct State {
    endpoints: Vec<Sight>,
    /// Stores passed on since each server's snapshot: client → AT line.
    stores: Vec<HashMap<Arc<str>, Arc<str>>>,
    /// `delay all` as last announced.
    delay: Duration,
    news: News,
}

impl State {
    /// Takes in a fresh snapshot of `endpoint`: the stores it holds need no longer be kept
    /// apart.
    fn polled(&mut self, plan: &Plan, endpoint: usize, snapshot: HerdSnapshot) {
        if self.endpoints[endpoint].mismatch.is_none() {
            for &id in &plan.endpoints[endpoint].servers {
                if let Some(theirs) = snapshot.servers.get(id) {
                    self.stores[id].retain(|_, line| !theirs.clients.contains(line));
                }
            }
        }
        let sight = &mut self.endpoints[endpoint];
        sight.snapshot = Some(snapshot);
        sight.answering = true;
    }
}

impl Remote {
    /// Starts watching every endpoint of `topology`. Fails only on a topology that names no
    /// endpoint for some server; unreachable endpoints are watched until they answer.
    pub async fn attach(topology: Topology, options: AttachOptions) -> Result<Self, String> {
        let plan = plan(&topology, options.base_port)?;
        let names: Vec<String> = topology.servers.iter().map(|s| s.name.clone()).collect();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|err| format!("cannot start an HTTP client: {err}"))?;
        let mut addrs = Vec::with_capacity(topology.servers.len());
        for server in &topology.servers {
            let found = tokio::net::lookup_host((server.dial.as_str(), server.port)).await;
            addrs.push(found.ok().and_then(|mut found| found.next()));
        }
        let stop = CancellationToken::new();
        let state = Arc::new(Mutex::new(State {
            endpoints: plan.endpoints.iter().map(|_| Sight::default()).collect(),
            stores: vec![HashMap::new(); names.len()],
            ..State::default()
        }));
        let bus = EventBus::new(BUFFER);
        let poll_now: Vec<Arc<Notify>> = plan.endpoints.iter().map(|_| Arc::default()).collect();
        let (reports, received) = mpsc::unbounded_channel();
        let (reached, mut ready) = tokio::sync::watch::channel(0usize);
        for (i, endpoint) in plan.endpoints.iter().enumerate() {
            let watched = watch::Watched {
                endpoint: i,
                base: endpoint.base_url(),
                http: http.clone(),
                reports: reports.clone(),
            };
            tokio::spawn(watch::watch(watched, poll_now[i].clone(), stop.clone()));
        }
        let merger = Merger {
            names: names.clone(),
            plan: plan.clone(),
            merge: Merge::new(plan.owner.clone(), plan.endpoints.len()),
            bus: bus.clone(),
            state: state.clone(),
            poll_now: poll_now.clone(),
            addrs: addrs.clone(),
            reached,
        };
        tokio::spawn(merger.run(received, stop.clone()));
        let endpoints = plan.endpoints.len();
        let _ = tokio::time::timeout(READY, ready.wait_for(|&n| n >= endpoints)).await;
        Ok(Self {
            inner: Arc::new(Inner {
                topology,
                names,
                plan,
                bus,
                state,
                http,
                token: options.token,
                poll_now,
                addrs,
                _stop: stop.drop_guard(),
            }),
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.inner.plan
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Bailey, Bona (10.0.0.1:9100)`: an endpoint as the operator knows it.
    fn label(&self, endpoint: usize) -> String {
        label(&self.inner.names, &self.inner.plan.endpoints[endpoint])
    }

    /// Sends `control` (one process's part) to `endpoint`'s `POST /control`.
    async fn send(&self, endpoint: usize, control: Control) -> Result<Applied, String> {
        let inner = &self.inner;
        let Some(token) = &inner.token else {
            return Err("attach was given no --token-file: the endpoints take controls only \
                        with their token"
                .to_owned());
        };
        let url = format!("{}/control", inner.plan.endpoints[endpoint].base_url());
        let line = control.describe(&inner.names);
        let request = inner.http.post(url).bearer_auth(token).body(line).send();
        let response = tokio::time::timeout(Duration::from_secs(10), request)
            .await
            .map_err(|_| "no answer within 10s".to_owned())?
            .map_err(|err| err.to_string())?;
        let status = response.status();
        let unchanged = response
            .headers()
            .get(crate::admin::APPLIED_HEADER)
            .is_some_and(|value| value == "unchanged");
        let text = response.text().await.map_err(|err| err.to_string())?;
        let text = text.trim();
        if status.is_success() {
            let said = text.strip_prefix("ok").unwrap_or(text).trim();
            if let Some(faults) = said
                .starts_with('{')
                .then(|| serde_json::from_str::<FaultsAnswer>(said).ok())
                .flatten()
            {
                return Ok(Applied::Faults { faults: faults.faults });
            }
            return Ok(if unchanged { Applied::unchanged(said) } else { Applied::changed(said) });
        }
        let said = text.strip_prefix("error").unwrap_or(text).trim();
        match status.as_u16() {
            422 => Err(said.to_owned()),
            code => Err(format!("refused ({code}): {said}")),
        }
    }
}

#[derive(serde::Deserialize)]
struct FaultsAnswer {
    faults: Vec<crate::herd::control::ActiveFault>,
}

fn label(names: &[String], endpoint: &Endpoint) -> String {
    let servers: Vec<&str> =
        endpoint.servers.iter().filter_map(|&id| names.get(id)).map(String::as_str).collect();
    format!("{} ({})", servers.join(", "), endpoint.addr)
}

impl Herdlike for Remote {
    fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    fn names(&self) -> &[String] {
        &self.inner.names
    }

    fn events(&self) -> Subscription {
        self.inner.bus.subscribe()
    }

    fn snapshot(&self) -> HerdSnapshot {
        let state = self.state();
        merged(&self.inner.topology, &self.inner.plan, &state, &self.inner.addrs)
    }

    #[allow(clippy::manual_async_fn, reason = "the trait's future must be Send")]
    fn apply(
        &self,
        control: Control,
    ) -> impl Future<Output = Result<Applied, ControlError>> + Send + '_ {
        async move {
            let held: Vec<usize> = {
                let state = self.state();
                state.endpoints.iter().map(|e| e.snapshot.as_ref().map_or(0, |s| s.held)).collect()
            };
            let parts = route::route(&control, &self.inner.plan.owner, &held);
            let sends = parts
                .into_iter()
                .map(|(endpoint, part)| async move { (endpoint, self.send(endpoint, part).await) });
            let answers = futures::future::join_all(sends).await;
            // What the control changed shows in the snapshot once this returns (a scenario's
            // next expectation reads it at once).
            let reads = answers.iter().map(|&(endpoint, _)| async move {
                let base = self.inner.plan.endpoints[endpoint].base_url();
                (endpoint, watch::snapshot(&self.inner.http, &base).await)
            });
            for (endpoint, read) in futures::future::join_all(reads).await {
                match read {
                    Ok(snapshot) => self.state().polled(&self.inner.plan, endpoint, snapshot),
                    Err(_) => self.inner.poll_now[endpoint].notify_one(),
                }
            }
            route::combine(
                answers
                    .into_iter()
                    .map(|(endpoint, answer)| (self.label(endpoint), answer))
                    .collect(),
            )
        }
    }

    fn addr(&self, id: ServerId) -> Option<SocketAddr> {
        self.inner.addrs.get(id).copied().flatten()
    }

    fn paused(&self) -> bool {
        self.state().endpoints.iter().any(|e| e.snapshot.as_ref().is_some_and(|s| s.paused))
    }

    fn held(&self) -> usize {
        self.state().endpoints.iter().filter_map(|e| e.snapshot.as_ref()).map(|s| s.held).sum()
    }

    fn link_delay(&self) -> Duration {
        self.state().delay
    }

    fn policy(&self) -> Policy {
        let state = self.state();
        state
            .endpoints
            .iter()
            .find_map(|e| e.snapshot.as_ref())
            .map_or_else(Policy::default, |s| s.policy)
    }

    fn status(&self) -> Vec<ServerStatus> {
        let snapshot = self.snapshot();
        let state = self.state();
        let owner = &self.inner.plan.owner;
        snapshot
            .servers
            .into_iter()
            .map(|server| {
                let sight = &state.endpoints[owner[server.id]];
                ServerStatus {
                    name: server.name,
                    known: sight.seen(),
                    up: server.up,
                    boot: sight.boot.clone(),
                    version: sight.version.clone(),
                }
            })
            .collect()
    }

    fn seen(&self, id: ServerId) -> bool {
        let owner = self.inner.plan.owner.get(id).copied().unwrap_or(0);
        self.state().endpoints.get(owner).is_some_and(Sight::seen)
    }

    fn take_news(&self) -> News {
        std::mem::take(&mut self.state().news)
    }
}

/// The herd as the endpoints last told it: each server from its own process's snapshot (and
/// the stores seen since), each link direction from its sender's.
fn merged(
    topology: &Topology,
    plan: &Plan,
    state: &State,
    addrs: &[Option<SocketAddr>],
) -> HerdSnapshot {
    let names: Vec<String> = topology.servers.iter().map(|s| s.name.clone()).collect();
    let mut herd = HerdSnapshot::healthy(&names, &topology.links());
    let of = |id: ServerId| {
        state
            .endpoints
            .get(plan.owner[id])
            .and_then(|e| e.snapshot.as_ref().filter(|_| e.mismatch.is_none()))
    };
    for (id, server) in herd.servers.iter_mut().enumerate() {
        server.addr = addrs.get(id).copied().flatten();
        let Some(theirs) = of(id).and_then(|s| s.servers.get(id)) else {
            server.up = false;
            continue;
        };
        *server = ServerSnapshot { addr: server.addr, ..theirs.clone() };
        let stores = &state.stores[id];
        if server.up && !stores.is_empty() {
            let mut lines: HashMap<&str, Arc<str>> = HashMap::new();
            for line in &server.clients {
                lines.insert(client_of(line), line.clone());
            }
            for (client, line) in stores {
                let newer = lines.get(&**client).is_none_or(|old| time_of(line) > time_of(old));
                if newer {
                    lines.insert(client, line.clone());
                }
            }
            server.clients = lines.into_values().collect();
            server.clients.sort();
        }
    }
    for (i, link) in herd.links.iter_mut().enumerate() {
        // Every process lists the links in the topology's order: the same index, checked.
        let direction =
            |from: ServerId, to: ServerId| -> Option<(LinkFaultsView, LinkState, u64, u64)> {
                let links = &of(from)?.links;
                let same = |l: &&LinkSnapshot| (l.a, l.b) == (from, to) || (l.b, l.a) == (from, to);
                let theirs = links.get(i).filter(same).or_else(|| links.iter().find(same))?;
                Some(if theirs.a == from {
                    (theirs.a_faults.clone(), theirs.a_to_b, theirs.sent, theirs.dropped)
                } else {
                    (theirs.b_faults.clone(), theirs.b_to_a, theirs.sent, theirs.dropped)
                })
            };
        let LinkSnapshot { a, b, .. } = *link;
        let same = plan.owner[a] == plan.owner[b];
        let there = direction(a, b);
        let back = direction(b, a);
        link.sent = 0;
        link.dropped = 0;
        if let Some((faults, state, sent, dropped)) = there {
            (link.a_faults, link.a_to_b, link.sent, link.dropped) = (faults, state, sent, dropped);
        } else {
            link.a_to_b = LinkState::Idle;
        }
        if let Some((faults, state, sent, dropped)) = back {
            (link.b_faults, link.b_to_a) = (faults, state);
            if !same {
                link.sent += sent;
                link.dropped += dropped;
            }
        } else {
            link.b_to_a = LinkState::Idle;
        }
    }
    let snapshots: Vec<&HerdSnapshot> = state
        .endpoints
        .iter()
        .filter(|e| e.mismatch.is_none())
        .filter_map(|e| e.snapshot.as_ref())
        .collect();
    if let Some(first) = snapshots.first() {
        (herd.policy, herd.anti_entropy, herd.seed) =
            (first.policy, first.anti_entropy, first.seed);
    }
    herd.paused = snapshots.iter().any(|s| s.paused);
    herd.held = snapshots.iter().map(|s| s.held).sum();
    for snapshot in snapshots {
        for fault in &snapshot.faults {
            route::add_fault(&mut herd.faults, fault.clone());
        }
    }
    herd
}

/// The client of a stored AT line (`AT Server +diff client coords time`).
fn client_of(line: &str) -> &str {
    line.split(' ').nth(3).unwrap_or_default()
}

/// The client time of a stored AT line, as a number (0 if it is not one).
fn time_of(line: &str) -> f64 {
    line.split(' ').nth(5).and_then(|t| t.parse().ok()).unwrap_or(0.0)
}

/// Why `snapshot`, from the endpoint that should run `servers`, is not of this herd (names by
/// id from the topology), if it is not.
pub fn mismatch(snapshot: &HerdSnapshot, names: &[String], servers: &[ServerId]) -> Option<String> {
    if snapshot.servers.len() != names.len() {
        return Some(format!(
            "it runs a herd of {} servers, the topology has {}",
            snapshot.servers.len(),
            names.len()
        ));
    }
    for (id, (theirs, ours)) in snapshot.servers.iter().zip(names).enumerate() {
        if theirs.name != *ours {
            return Some(format!(
                "its server #{id} is {:?}, the topology's is {ours:?}",
                theirs.name
            ));
        }
    }
    servers
        .iter()
        .find(|&&id| !snapshot.servers[id].local)
        .map(|&id| format!("it does not run {}", names[id]))
}

/// The task that takes every watcher's reports, merges the streams and keeps the state.
struct Merger {
    names: Vec<String>,
    plan: Plan,
    merge: Merge,
    bus: EventBus,
    state: Arc<Mutex<State>>,
    poll_now: Vec<Arc<Notify>>,
    addrs: Vec<Option<SocketAddr>>,
    /// How many endpoints have been reached once.
    reached: tokio::sync::watch::Sender<usize>,
}

impl Merger {
    async fn run(mut self, mut reports: mpsc::UnboundedReceiver<Report>, stop: CancellationToken) {
        loop {
            let deadline = self.merge.deadline();
            tokio::select! {
                () = stop.cancelled() => return,
                report = reports.recv() => match report {
                    Some(report) => self.take(report),
                    None => return,
                },
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    let out = self.merge.expire(Instant::now());
                    self.pass_on(out);
                }
            }
        }
    }

    fn label(&self, endpoint: usize) -> String {
        label(&self.names, &self.plan.endpoints[endpoint])
    }

    fn take(&mut self, report: Report) {
        let now = Instant::now();
        match report {
            Report::Reached { endpoint, boot, version, fresh, snapshot } => {
                self.reached(endpoint, boot, version.as_deref(), fresh, *snapshot);
            }
            Report::Event { endpoint, event } => {
                if self.lock().endpoints[endpoint].mismatch.is_some() {
                    return;
                }
                let out = self.merge.push(endpoint, event.kind, now);
                self.pass_on(out);
            }
            Report::Gap { endpoint, missed } => {
                let mut state = self.lock();
                state.news.resync = Some(state.news.resync.unwrap_or(0) + missed);
                state.news.notices.push(format!(
                    "{}: its endpoint lost {missed} events for this console; the view is \
                     rebuilt from its snapshot",
                    self.label(endpoint)
                ));
                drop(state);
                self.poll_now[endpoint].notify_one();
            }
            Report::Malformed { endpoint } => {
                let mut state = self.lock();
                let sight = &mut state.endpoints[endpoint];
                sight.malformed += 1;
                if sight.malformed.is_power_of_two() {
                    let count = sight.malformed;
                    state.news.notices.push(format!(
                        "{}: {count} malformed event line{} skipped",
                        self.label(endpoint),
                        if count == 1 { "" } else { "s" }
                    ));
                }
            }
            Report::Polled { endpoint, snapshot } => {
                let mut state = self.lock();
                self.checked(&mut state, endpoint, &snapshot);
                state.polled(&self.plan, endpoint, *snapshot);
            }
            Report::Lost { endpoint, why } => self.lost(endpoint, &why, true, now),
            Report::Unanswered { endpoint, why } => self.lost(endpoint, &why, false, now),
        }
    }

    /// `endpoint`'s stream broke (`stream`), or its snapshot poll failed: its servers are
    /// unseen until both work again; the operator is told when they become so.
    fn lost(&mut self, endpoint: usize, why: &str, stream: bool, now: Instant) {
        let mut state = self.lock();
        let sight = &mut state.endpoints[endpoint];
        let was = sight.seen();
        if stream {
            sight.streaming = false;
        } else {
            sight.answering = false;
        }
        if was {
            let text =
                format!("{}: unreachable ({why}); its state is unknown", self.label(endpoint));
            tracing::warn!("{text}");
            state.news.notices.push(text);
        }
        drop(state);
        if stream {
            let out = self.merge.flush(endpoint, now);
            self.pass_on(out);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Is `snapshot` of this herd? Marks the endpoint, and tells the operator when that
    /// changes.
    fn checked(&self, state: &mut State, endpoint: usize, snapshot: &HerdSnapshot) -> bool {
        let found = mismatch(snapshot, &self.names, &self.plan.endpoints[endpoint].servers);
        let sight = &mut state.endpoints[endpoint];
        if found != sight.mismatch {
            if let Some(why) = &found {
                let text = format!("{}: not trusted: {why}", self.label(endpoint));
                tracing::warn!("{text}");
                state.news.notices.push(text);
            }
            state.endpoints[endpoint].mismatch.clone_from(&found);
        }
        found.is_none()
    }

    fn reached(
        &mut self,
        endpoint: usize,
        boot: String,
        version: Option<&str>,
        fresh: bool,
        snapshot: HerdSnapshot,
    ) {
        let mut state = self.lock();
        let trusted = self.checked(&mut state, endpoint, &snapshot);
        let first = state.endpoints[endpoint].boot.is_none();
        let restarted = fresh && !first;
        let mine = env!("CARGO_PKG_VERSION");
        let theirs = version.unwrap_or("unknown");
        if state.endpoints[endpoint].version.as_deref() != Some(theirs) && theirs != mine {
            let text = format!(
                "{} runs herdctl {theirs}, this console {mine}: events or controls may differ",
                self.label(endpoint)
            );
            tracing::warn!("{text}");
            state.news.notices.push(text);
        }
        if restarted {
            state.news.notices.push(format!(
                "{}: a new process (boot {boot}); read from its start",
                self.label(endpoint)
            ));
        }
        let sight = &mut state.endpoints[endpoint];
        sight.boot = Some(boot);
        sight.version = Some(theirs.to_owned());
        sight.snapshot = Some(snapshot);
        sight.streaming = true;
        sight.answering = true;
        let servers = &self.plan.endpoints[endpoint].servers;
        let mut announced = Vec::new();
        if fresh && trusted {
            for &id in servers {
                state.stores[id].clear();
            }
            state.news.resync = Some(state.news.resync.unwrap_or(0));
            // What the stream will not say: which of its servers run and which of their links
            // are up (that happened before the console looked).
            if let Some(snapshot) = &state.endpoints[endpoint].snapshot {
                announced = servers
                    .iter()
                    .filter_map(|&server| {
                        let theirs = snapshot.servers.get(server)?;
                        let addr = self.addrs[server].or(theirs.addr);
                        Some(match addr.filter(|_| theirs.up) {
                            Some(addr) => EventKind::ServerStarted { server, addr },
                            None => EventKind::ServerStopped { server },
                        })
                    })
                    .collect();
                for link in &snapshot.links {
                    for (from, to, state) in
                        [(link.a, link.b, link.a_to_b), (link.b, link.a, link.b_to_a)]
                    {
                        if servers.contains(&from) && state == LinkState::Up {
                            announced.push(EventKind::LinkUp { from, to });
                        }
                    }
                }
            }
        }
        drop(state);
        self.pass_on(announced);
        if first {
            self.reached.send_modify(|n| *n += 1);
        }
    }

    /// Passes merged events on to the console, keeping the stores and the delay current.
    fn pass_on(&self, out: Vec<EventKind>) {
        if out.is_empty() {
            return;
        }
        let mut state = self.lock();
        for kind in out {
            match &kind {
                EventKind::LocationStored { server, update, line, .. } => {
                    if let Some(stores) = state.stores.get_mut(*server) {
                        stores.insert(update.client.clone(), line.clone());
                    }
                }
                EventKind::ServerStopped { server } => {
                    if let Some(stores) = state.stores.get_mut(*server) {
                        stores.clear();
                    }
                }
                EventKind::Controlled {
                    control: Control::Delay { links: Links::All, delay, .. },
                    ..
                } => {
                    state.delay = delay.delay;
                }
                EventKind::Controlled { control: Control::Reset, .. } => {
                    state.delay = Duration::ZERO;
                }
                _ => {}
            }
            self.bus.emit(|| kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_of_another_herd_is_not_trusted() {
        let names: Vec<String> = ["A", "B"].map(String::from).to_vec();
        let mut snapshot = HerdSnapshot::healthy(&names, &[(0, 1)]);
        assert_eq!(mismatch(&snapshot, &names, &[0, 1]), None);
        snapshot.servers[1].local = false;
        assert_eq!(mismatch(&snapshot, &names, &[0, 1]).as_deref(), Some("it does not run B"));
        snapshot.servers[0].name = "Z".into();
        assert_eq!(
            mismatch(&snapshot, &names, &[0]).as_deref(),
            Some("its server #0 is \"Z\", the topology's is \"A\"")
        );
        let three: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        assert!(mismatch(&snapshot, &three, &[0]).unwrap().contains("2 servers"));
    }
}
