//! `herdctl attach` over herds of other processes: the cs131 servers each in a herd of its own
//! (`only`, as `serve NAME` runs), each with its admin endpoint on port 0, and an attached
//! console over them. It sees a flood in causal order, a process that dies as unseen and its
//! new boot read from the start, a broken stream resumed with `since` with nothing lost,
//! controls applied by the processes that send, an endpoint of another herd not trusted, and
//! malformed lines and another version reported. Every wait has a timeout.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{PATIENCE, grading_at, now_text};
use herdctl::admin::{self, Admin, AdminOptions};
use herdctl::attach::{AttachOptions, Remote};
use herdctl::command::{self, Command, Context};
use herdctl::config::Topology;
use herdctl::herd::{
    Applied, EventKind, Herd, HerdConfig, HerdEvent, HerdHandle, HerdSnapshot, Herdlike,
    Subscription,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};

const TOKEN: &str = "attach-t0ken";

/// One `serve NAME`: a herd running one server, and its admin endpoint.
struct Process {
    herd: HerdHandle,
    _admin: Admin,
}

/// The cs131 servers, each in a process of its own.
struct Lab {
    topology: Topology,
    processes: Vec<Option<Process>>,
}

impl Lab {
    /// Every server on a free port, every admin endpoint on port 0; also the topology for
    /// the console (the same, naming each endpoint).
    async fn start() -> (Self, Topology) {
        let dir = std::env::temp_dir().join(format!("herdctl-attach-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut topology, _) = common::fixed_port_herd(&dir);
        let mut listeners = Vec::new();
        for server in &mut topology.servers {
            let listener = admin::bind("127.0.0.1:0", false).await.unwrap();
            server.admin = Some(listener.local_addr().unwrap().to_string());
            listeners.push(listener);
        }
        let mut processes = Vec::new();
        for (id, listener) in listeners.into_iter().enumerate() {
            processes.push(Some(process(&topology, id, listener).await));
        }
        let console = topology.clone();
        (Self { topology, processes }, console)
    }

    fn id(&self, name: &str) -> usize {
        self.topology.index_of(name).unwrap()
    }

    fn herd(&self, name: &str) -> &HerdHandle {
        &self.processes[self.id(name)].as_ref().unwrap().herd
    }

    fn addr(&self, name: &str) -> SocketAddr {
        let server = &self.topology.servers[self.id(name)];
        format!("127.0.0.1:{}", server.port).parse().unwrap()
    }

    fn admin(&self, name: &str) -> String {
        self.topology.servers[self.id(name)].admin.clone().unwrap()
    }

    /// The process of `name` ends: its server and its endpoint stop.
    async fn kill(&mut self, name: &str) {
        let id = self.id(name);
        let process = self.processes[id].take().unwrap();
        process.herd.shutdown().await;
    }

    /// A new process for `name`, on the same ports (a new boot).
    async fn restart(&mut self, name: &str) {
        let id = self.id(name);
        let addr = self.admin(name);
        let deadline = Instant::now() + PATIENCE;
        let listener = loop {
            match admin::bind(&addr, false).await {
                Ok(listener) => break listener,
                Err(err) if Instant::now() < deadline => {
                    let _ = err;
                    tokio::task::yield_now().await;
                }
                Err(err) => panic!("cannot listen on {addr} again: {err}"),
            }
        };
        self.processes[id] = Some(process(&self.topology, id, listener).await);
    }
}

async fn process(topology: &Topology, id: usize, listener: TcpListener) -> Process {
    let mut config = HerdConfig::new(topology.clone());
    config.only = Some(id);
    let herd = Herd::start(config).await.unwrap();
    let options = AdminOptions { control_token: Some(TOKEN.to_owned()), ring: 0 };
    let admin = admin::serve(listener, herd.clone(), options);
    Process { herd, _admin: admin }
}

async fn attach(topology: &Topology, token: Option<&str>) -> Remote {
    let options = AttachOptions { base_port: None, token: token.map(str::to_owned) };
    Remote::attach(topology.clone(), options).await.unwrap()
}

/// Waits until `done` holds (checked again whenever the runtime has run other tasks).
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The next event of `events`, failing after [`PATIENCE`].
async fn next(events: &mut Subscription, waiting_for: &str) -> HerdEvent {
    timeout(PATIENCE, events.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {waiting_for}"))
        .unwrap()
}

/// Reads `events` until `client`'s report is stored on each of `servers`; returns them all.
async fn until_stored(
    events: &mut Subscription,
    client: &str,
    servers: &[usize],
) -> Vec<EventKind> {
    let mut seen = Vec::new();
    let mut stored = Vec::new();
    while !servers.iter().all(|s| stored.contains(s)) {
        let event =
            next(events, &format!("{client} stored on {servers:?} (so far {stored:?})")).await;
        if let EventKind::LocationStored { server, update, .. } = &event.kind
            && &*update.client == client
        {
            stored.push(*server);
        }
        seen.push(event.kind);
    }
    seen
}

async fn iamat(addr: SocketAddr, client: &str) -> String {
    let line = format!("IAMAT {client} +34.068930-118.445127 {}\n", now_text());
    let reply = grading_at(addr, line.as_bytes()).await;
    assert!(reply.starts_with("AT "), "{reply}");
    reply
}

async fn control(remote: &Remote, line: &str) -> Result<Applied, String> {
    match command::parse(line, &Context::new(remote.topology())).unwrap() {
        Command::Herd(control) => remote.apply(control).await.map_err(|e| e.to_string()),
        other => panic!("{other:?}"),
    }
}

const ALL: [usize; 5] = [0, 1, 2, 3, 4];

#[tokio::test]
async fn a_flood_across_processes_arrives_each_hop_after_its_send() {
    let (lab, topology) = Lab::start().await;
    let remote = attach(&topology, None).await;
    until("every server is seen", || ALL.iter().all(|&id| remote.seen(id))).await;
    let mut events = remote.events();
    iamat(lab.addr("Bailey"), "kiwi").await;
    let seen = until_stored(&mut events, "kiwi", &ALL).await;
    for (i, kind) in seen.iter().enumerate() {
        if let EventKind::LocationStored { server, update, from: Some(from), .. } = kind {
            let sent = seen[..i].iter().any(|earlier| {
                matches!(earlier, EventKind::FloodSent { from: f, to, update: u, .. }
                    if f == from && to == server && u == update)
            });
            assert!(sent, "stored on {server} from {from} before its sent: {seen:#?}");
        }
    }
    let status = remote.status();
    assert!(status.iter().all(|s| s.known && s.up && s.boot.is_some()), "{status:?}");
    assert_eq!(status[0].version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    // The console's picture: every server holds kiwi.
    let snapshot = remote.snapshot();
    assert!(snapshot.servers.iter().all(|s| s.clients.iter().any(|l| l.contains(" kiwi "))));
}

#[tokio::test]
async fn a_process_that_dies_is_unseen_and_its_new_boot_is_read_from_the_start() {
    let (mut lab, topology) = Lab::start().await;
    let clark = lab.id("Clark");
    let remote = attach(&topology, None).await;
    until("every server is seen", || ALL.iter().all(|&id| remote.seen(id))).await;
    let old_boot = remote.status()[clark].boot.clone();
    lab.kill("Clark").await;
    until("Clark is unseen", || !remote.seen(clark)).await;
    let status = &remote.status()[clark];
    assert!(!status.known, "{status:?}");
    // Unknown, not down: the last state seen stands.
    assert!(status.up, "{status:?}");
    lab.restart("Clark").await;
    until("Clark is seen with a new boot", || {
        remote.seen(clark) && remote.status()[clark].boot != old_boot
    })
    .await;
    let mut events = remote.events();
    iamat(lab.addr("Bailey"), "after-restart").await;
    until_stored(&mut events, "after-restart", &ALL).await;
    let notices = remote.take_news().notices.join("\n");
    assert!(notices.contains("Clark (") && notices.contains("unreachable"), "{notices}");
    assert!(notices.contains("a new process"), "{notices}");
}

/// A TCP relay to `target` that can break every connection and refuse new ones.
struct Relay {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    broken: Arc<tokio::sync::Notify>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let broken = Arc::new(tokio::sync::Notify::new());
        let (gate, breaks) = (open.clone(), broken.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if !gate.load(Ordering::SeqCst) {
                    continue;
                }
                let target = target.clone();
                let breaks = breaks.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = breaks.notified() => {}
                    }
                });
            }
        });
        Self { addr, open, broken }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.broken.notify_waiters();
    }

    fn mend(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_broken_stream_resumes_with_since_and_loses_nothing() {
    // Bona's endpoint is reached through a relay that the test breaks.
    let (lab, _) = Lab::start().await;
    let relay = Relay::start(lab.admin("Bona")).await;
    let mut topology = lab.topology.clone();
    topology.servers[lab.id("Bona")].admin = Some(relay.addr.to_string());
    let bona = lab.id("Bona");
    let remote = attach(&topology, None).await;
    until("every server is seen", || ALL.iter().all(|&id| remote.seen(id))).await;
    let boot = remote.status()[bona].boot.clone();
    remote.take_news();
    let mut events = remote.events();
    relay.cut();
    until("Bona is unseen", || !remote.seen(bona)).await;
    // While the console cannot see Bona, a report floods through it.
    let mut local = lab.herd("Bona").events();
    iamat(lab.addr("Bailey"), "in-the-dark").await;
    until_stored(&mut local, "in-the-dark", &[bona]).await;
    relay.mend();
    until("Bona is seen again", || remote.seen(bona)).await;
    until_stored(&mut events, "in-the-dark", &ALL).await;
    assert_eq!(remote.status()[bona].boot, boot, "the same process");
    let news = remote.take_news();
    assert_eq!(news.resync, None, "resumed, not rebuilt: {news:?}");
    assert!(news.notices.iter().any(|n| n.contains("unreachable")), "{news:?}");
    assert!(!news.notices.iter().any(|n| n.contains("lost")), "{news:?}");
}

#[tokio::test]
async fn faults_are_applied_by_the_processes_that_send() {
    let (lab, topology) = Lab::start().await;
    let watching = attach(&topology, None).await;
    let refused = control(&watching, "cut Bona<->Clark").await.unwrap_err();
    assert!(refused.contains("--token-file"), "{refused}");
    let remote = attach(&topology, Some(TOKEN)).await;
    let answer = control(&remote, "cut Bona<->Clark").await.unwrap();
    assert_eq!(answer, Applied::changed("cut Bona->Clark; cut Clark->Bona"));
    let (bona, clark) = (lab.id("Bona"), lab.id("Clark"));
    let link = |snapshot: HerdSnapshot| {
        let l = snapshot.links.into_iter().find(|l| (l.a, l.b) == (bona, clark)).unwrap();
        (l.a_faults.cut, l.b_faults.cut)
    };
    assert_eq!(link(lab.herd("Bona").snapshot()), (true, false), "Bona cuts what it sends");
    assert_eq!(link(lab.herd("Clark").snapshot()), (false, true), "Clark cuts what it sends");
    until("the console shows both directions cut", || link(remote.snapshot()) == (true, true))
        .await;
    let again = control(&remote, "cut Bona->Clark").await.unwrap();
    assert!(matches!(again, Applied::Unchanged { .. }), "{again:?}");
    let faults = control(&remote, "faults").await.unwrap();
    let Applied::Faults { faults } = faults else { panic!("{faults:?}") };
    assert_eq!(faults.len(), 2, "{faults:?}");
    let wrong = attach(&topology, Some("not-the-token")).await;
    let refused = control(&wrong, "heal all").await.unwrap_err();
    assert!(refused.contains("refused (401)"), "{refused}");
    let kill = control(&remote, "kill Jaquez").await.unwrap();
    assert_eq!(kill, Applied::changed("killed Jaquez"));
    let jaquez = lab.id("Jaquez");
    until("the console shows Jaquez down", || !remote.snapshot().servers[jaquez].up).await;
    assert!(remote.seen(jaquez), "killed, not unseen: its process still answers");
}

#[tokio::test]
async fn an_endpoint_of_another_herd_is_not_trusted() {
    let (lab, mut topology) = Lab::start().await;
    // Jaquez's entry names Bailey's endpoint: that process does not run Jaquez.
    let jaquez = lab.id("Jaquez");
    topology.servers[jaquez].admin = Some(lab.admin("Bailey"));
    let remote = attach(&topology, None).await;
    until("the mismatch is reported", || {
        !remote.seen(jaquez) && {
            let news = remote.take_news();
            news.notices.iter().any(|n| n.contains("not trusted: it does not run Jaquez"))
        }
    })
    .await;
    assert!(!remote.seen(lab.id("Bailey")), "the shared endpoint is not trusted for either");
}

/// An endpoint that answers as herdctl does, but from another version, with a line of
/// garbage before a real event.
async fn odd_endpoint(snapshot: String, events: String) -> SocketAddr {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/snapshot",
            get(move || {
                let snapshot = snapshot.clone();
                async move { ([("x-herdctl-version", "0.0.1-other")], snapshot) }
            }),
        )
        .route(
            "/events",
            get(move || {
                let events = events.clone();
                async move {
                    ([("x-herdctl-version", "0.0.1-other"), ("x-herdctl-boot", "b007")], events)
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn malformed_lines_are_skipped_and_counted_and_another_version_is_reported() {
    let names = vec!["Solo".to_owned()];
    let snapshot = serde_json::to_string(&HerdSnapshot::healthy(&names, &[])).unwrap();
    let event = HerdEvent {
        seq: 0,
        t_ns: 1,
        kind: EventKind::LineIn {
            server: 0,
            peer: "127.0.0.1:5".parse().unwrap(),
            line: Arc::from("hello"),
        },
    };
    let line = serde_json::to_string(&event).unwrap();
    let body = format!("not json at all\n{{\"seq\":\"wrong\"}}\n{line}\n");
    let addr = odd_endpoint(snapshot, body).await;
    let text = format!("[[server]]\nname = \"Solo\"\nport = 1\nadmin = \"{addr}\"\n");
    let topology = Topology::from_toml(&text, "odd.toml").unwrap();
    let remote = attach(&topology, None).await;
    let mut events = remote.events();
    let mut notices = Vec::new();
    loop {
        let event = next(&mut events, "the good line").await;
        if matches!(&event.kind, EventKind::LineIn { line, .. } if &**line == "hello") {
            break;
        }
    }
    until("the notices are out", || {
        notices.extend(remote.take_news().notices);
        notices.iter().any(|n| n.contains("2 malformed event lines skipped"))
    })
    .await;
    let all = notices.join("\n");
    assert!(all.contains("runs herdctl 0.0.1-other"), "{all}");
    assert!(all.contains("1 malformed event line skipped"), "{all}");
}

#[test]
fn a_scenario_runs_against_an_attached_herd() {
    let dir = std::env::temp_dir().join(format!("herdctl-attach-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_herd, attached) = common::one_process_herd(&dir, TOKEN);
    let lesson = dir.join("lesson.herd");
    std::fs::write(
        &lesson,
        "iamat Bailey kiwi +34.068930-118.445127\n\
         wait until Clark knows kiwi newest within 5s\n\
         kill Jaquez\n\
         expect not Jaquez knows kiwi\n\
         restart Jaquez\n\
         iamat Campbell kiwi +34.1-118.4\n\
         wait until Jaquez knows kiwi newest within 5s\n",
    )
    .unwrap();
    let run = |token: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_herdctl"));
        command.arg("scenario").arg(&lesson).arg("--attach").arg(&attached);
        if token {
            command.arg("--token-file").arg(dir.join("admin.token"));
        }
        command.output().unwrap()
    };
    let watched = run(false);
    let text = String::from_utf8_lossy(&watched.stdout);
    assert_eq!(watched.status.code(), Some(1), "{text}");
    assert!(text.contains("--token-file"), "the kill is refused, and says why: {text}");
    let steered = run(true);
    let text = String::from_utf8_lossy(&steered.stdout);
    assert_eq!(
        steered.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&steered.stderr)
    );
    assert_eq!(text.matches('✓').count(), 3, "{text}");
}

#[tokio::test]
async fn an_endpoint_that_never_answers_holds_nothing_up() {
    let (lab, mut topology) = Lab::start().await;
    // Jaquez's endpoint takes connections and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jaquez = lab.id("Jaquez");
    topology.servers[jaquez].admin = Some(silent.local_addr().unwrap().to_string());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let started = Instant::now();
    let remote = attach(&topology, Some(TOKEN)).await;
    assert!(started.elapsed() < PATIENCE, "attaching waited {:?}", started.elapsed());
    until("the others are seen", || (0..4).all(|id| remote.seen(id))).await;
    assert!(!remote.seen(jaquez));
    // The console works on: a flood is seen, a control on the others is applied.
    let mut events = remote.events();
    iamat(lab.addr("Bailey"), "despite").await;
    until_stored(&mut events, "despite", &[0, 1, 2, 3]).await;
    let cut = control(&remote, "cut Bailey->Bona").await.unwrap();
    assert_eq!(cut, Applied::changed("cut Bailey->Bona"));
    held.abort();
}

/// One failed snapshot poll makes a server unseen; the next good one brings it back, its event
/// stream never having broken.
#[tokio::test]
async fn a_failed_poll_is_unseen_until_the_next_one_answers() {
    use std::sync::atomic::AtomicUsize;

    use axum::http::StatusCode;
    use axum::routing::get;
    let names = vec!["Solo".to_owned()];
    let snapshot = serde_json::to_string(&HerdSnapshot::healthy(&names, &[])).unwrap();
    let polls = Arc::new(AtomicUsize::new(0));
    let counted = polls.clone();
    let app = axum::Router::new()
        .route(
            "/snapshot",
            get(move || {
                let (snapshot, polls) = (snapshot.clone(), counted.clone());
                // The second read fails: the first poll after connecting.
                async move {
                    match polls.fetch_add(1, Ordering::SeqCst) {
                        1 => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
                        _ => (StatusCode::OK, snapshot),
                    }
                }
            }),
        )
        .route(
            "/events",
            get(|| async {
                // Open, and silent, for good.
                let open = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
                ([("x-herdctl-boot", "b007")], axum::body::Body::from_stream(open))
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let text = format!("[[server]]\nname = \"Solo\"\nport = 1\nadmin = \"{addr}\"\n");
    let remote = attach(&Topology::from_toml(&text, "solo.toml").unwrap(), None).await;
    until("Solo is seen", || remote.seen(0)).await;
    until("the failed poll makes Solo unseen", || !remote.seen(0)).await;
    until("the next poll brings Solo back", || remote.seen(0)).await;
    assert!(polls.load(Ordering::SeqCst) >= 3);
}
