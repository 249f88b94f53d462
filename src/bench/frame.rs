//! How long the dashboard takes to draw one frame of a busy herd (a ring
//! of 30 servers, 1000 clients, floods in flight) into an off-screen 200×60 terminal, and how
//! many engine events per second its model takes in.

use std::time::Duration;

use serde::Serialize;

use super::dashboard::{apply_rate, busy_app, frame_times};

pub const WIDTH: u16 = 200;
pub const HEIGHT: u16 = 60;
pub const SERVERS: usize = 30;
pub const CLIENTS: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct FrameTime {
    pub width: u16,
    pub height: u16,
    pub servers: usize,
    pub clients: usize,
    pub frames: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Engine events per second the dashboard's model takes in.
    pub events_per_sec: f64,
}

/// Draws `frames` frames and returns their times' quantiles.
pub fn measure(frames: usize) -> FrameTime {
    let app = busy_app(SERVERS, CLIENTS);
    let mut times = frame_times(&app, WIDTH, HEIGHT, frames.max(1));
    times.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len().max(1));
        times.get(rank - 1).copied().unwrap_or(Duration::ZERO).as_secs_f64() * 1e3
    };
    FrameTime {
        width: WIDTH,
        height: HEIGHT,
        servers: SERVERS,
        clients: CLIENTS,
        frames: times.len(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: at(1.0),
        events_per_sec: apply_rate(20_000),
    }
}
