//! The dashboard under load, for the frame benchmark: a synthetic herd (a ring) with many
//! clients and floods in flight, its model's event intake, and full draws into an off-screen
//! buffer of a given size.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::time::Instant;

use crate::config::Topology;
use crate::herd::{EventKind, HerdEvent, HerdSnapshot, Update};
use crate::tui::app::App;
use crate::tui::history::History;
use crate::tui::{layout, view};

/// A herd of `topology` with every server up on its configured port, every link up, and no
/// clients (for dashboards drawn without a running herd).
pub fn healthy_snapshot(topology: &Topology) -> HerdSnapshot {
    let names: Vec<String> = topology.servers.iter().map(|s| s.name.clone()).collect();
    let mut snapshot = HerdSnapshot::healthy(&names, &topology.links());
    for (server, s) in snapshot.servers.iter_mut().zip(&topology.servers) {
        server.addr = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, s.port)));
    }
    snapshot
}

/// An app over `ring:servers` holding `clients` clients (each known by every server) and one
/// flood in flight from every server.
pub fn busy_app(servers: usize, clients: usize) -> App {
    let topology = Topology::load(&format!("ring:{}", servers.max(3)), 20000)
        .unwrap_or_else(|_| Topology { servers: Vec::new() });
    let now = Instant::now();
    let snapshot = healthy_snapshot(&topology);
    let positions = layout::positions(&topology);
    let mut app = App::new("bench", &snapshot, positions, History::in_memory(), now);
    // As over a live herd: every event also feeds the flood metrics.
    app.metrics = Some(crate::lab::metrics::Metrics::new(&topology));
    let n = snapshot.servers.len();
    if n == 0 {
        return app;
    }
    for c in 0..clients {
        let client: Arc<str> = format!("client-{c:05}.example.org").into();
        let lat = (c as f64 * 7.3) % 170.0 - 85.0;
        let lng = (c as f64 * 13.7) % 350.0 - 175.0;
        let origin = &snapshot.servers[c % n].name;
        let line: Arc<str> =
            format!("AT {origin} +0.000123456 {client} {lat:+.6}{lng:+.6} 1700000000.{c:09}")
                .into();
        for server in 0..n {
            let update = update(&client, c);
            app.apply(&event(EventKind::LocationStored {
                server,
                update,
                line: line.clone(),
                from: None,
            }));
            app.apply(&event(EventKind::LineIn {
                server,
                peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
                line: line.clone(),
            }));
        }
    }
    for server in 0..n {
        let client: Arc<str> = format!("client-{:05}.example.org", server % clients.max(1)).into();
        let update = update(&client, 0);
        let (from, to) = (server, (server + 1) % n);
        app.apply(&event(EventKind::FloodQueued {
            from,
            to,
            update,
            delay_ns: 0,
            delayed_by: None,
        }));
    }
    app.tick(now + Duration::from_millis(200));
    app
}

/// Engine events per second the dashboard's model takes in: `updates` floods over a 5-server
/// line, each as the events a real flood produces (line in, store, queue, send, arrival).
pub fn apply_rate(updates: usize) -> f64 {
    let mut app = busy_app(5, 100);
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 40000));
    let mut events = Vec::with_capacity(updates * 18);
    for i in 0..updates {
        let client: Arc<str> = format!("client-{}", i % 500).into();
        let line: Arc<str> =
            format!("AT S1 +0.000123456 {client} +34.1-118.4 1800000000.{i:09}").into();
        let update = update(&client, i);
        events.push(event(EventKind::LineIn { server: 0, peer, line: line.clone() }));
        events.push(event(EventKind::LocationStored {
            server: 0,
            update: update.clone(),
            line: line.clone(),
            from: None,
        }));
        for to in 1..5 {
            let from = to - 1;
            events.push(event(EventKind::FloodQueued {
                from,
                to,
                update: update.clone(),
                delay_ns: 0,
                delayed_by: None,
            }));
            events.push(event(EventKind::FloodSent {
                from,
                to,
                update: update.clone(),
                line: line.clone(),
            }));
            events.push(event(EventKind::LineIn { server: to, peer, line: line.clone() }));
            events.push(event(EventKind::LocationStored {
                server: to,
                update: update.clone(),
                line: line.clone(),
                from: Some(from),
            }));
        }
    }
    let start = std::time::Instant::now();
    for event in &events {
        app.apply(event);
    }
    events.len() as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

/// Times `frames` full draws of `app` at `width`×`height`.
pub fn frame_times(app: &App, width: u16, height: u16, frames: usize) -> Vec<Duration> {
    let Ok(mut terminal) = Terminal::new(TestBackend::new(width, height));
    (0..frames)
        .map(|_| {
            let start = std::time::Instant::now();
            let _ = terminal.draw(|frame| view::draw(frame, app));
            start.elapsed()
        })
        .collect()
}

/// An event as the herd would stamp it (sequence and time do not matter to the view).
fn event(kind: EventKind) -> HerdEvent {
    HerdEvent { seq: 0, t_ns: 0, kind }
}

/// Update `i` of `client`.
fn update(client: &Arc<str>, i: usize) -> Update {
    Update { client: client.clone(), time: format!("1800000000.{i:09}").into() }
}
