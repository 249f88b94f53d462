//! Dashboard timing for benchmarks: a synthetic herd (a ring with chords) with many clients and
//! floods in flight, drawn into an off-screen buffer of the given size.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::time::Instant;

use super::app::App;
use super::history::History;
use super::view;
use crate::config::Topology;
use crate::herd::LinkState;
use crate::herd::{HerdEvent, HerdSnapshot, LinkSnapshot, ServerSnapshot};

/// A herd of `topology` with every server up on its configured port, every link up, and no
/// clients (for dashboards drawn without a running herd).
pub fn healthy_snapshot(topology: &Topology) -> HerdSnapshot {
    let servers = topology
        .servers
        .iter()
        .enumerate()
        .map(|(id, s)| ServerSnapshot {
            id,
            name: s.name.clone(),
            addr: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, s.port))),
            local: true,
            up: true,
            clients: Vec::new(),
            connections: 0,
            refused: 0,
            rejected_future: 0,
        })
        .collect();
    let links = topology
        .links()
        .into_iter()
        .map(|(a, b)| LinkSnapshot {
            a,
            b,
            cut: false,
            a_to_b: LinkState::Up,
            b_to_a: LinkState::Up,
            sent: 0,
            dropped: 0,
        })
        .collect();
    HerdSnapshot { servers, links }
}

/// An app over `ring:servers` holding `clients` clients (each known by every server) and one
/// flood in flight from every server.
pub fn busy_app(servers: usize, clients: usize) -> App {
    let topology = Topology::load(&format!("ring:{}", servers.max(3)), 20000)
        .unwrap_or_else(|_| Topology { servers: Vec::new() });
    let now = Instant::now();
    let snapshot = healthy_snapshot(&topology);
    let positions = super::layout::positions(&topology);
    let mut app = App::new("bench", &snapshot, positions, History::in_memory(), now);
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
            app.apply(&HerdEvent::LocationStored {
                server,
                client: client.clone(),
                line: line.clone(),
                from: None,
            });
            app.apply(&HerdEvent::LineIn {
                server,
                peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
                line: line.clone(),
            });
        }
    }
    for server in 0..n {
        let client: Arc<str> = format!("client-{:05}.example.org", server % clients.max(1)).into();
        app.apply(&HerdEvent::FloodQueued { from: server, to: (server + 1) % n, client });
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
        events.push(HerdEvent::LineIn { server: 0, peer, line: line.clone() });
        events.push(HerdEvent::LocationStored {
            server: 0,
            client: client.clone(),
            line: line.clone(),
            from: None,
        });
        for to in 1..5 {
            let from = to - 1;
            events.push(HerdEvent::FloodQueued { from, to, client: client.clone() });
            events.push(HerdEvent::FloodSent {
                from,
                to,
                client: client.clone(),
                line: line.clone(),
            });
            events.push(HerdEvent::LineIn { server: to, peer, line: line.clone() });
            events.push(HerdEvent::LocationStored {
                server: to,
                client: client.clone(),
                line: line.clone(),
                from: Some(from),
            });
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
