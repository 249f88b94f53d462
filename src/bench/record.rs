//! What recording costs (`--record`): the same pipelined IAMAT load on a herd with no
//! recorder, on one that is watched but not recorded, and on one recording every event, in
//! the same run, and the recording's bytes and events per request by kind.
//!
//! The watched herd runs with `--control stdin`: its control loop holds a subscription from
//! the start and reads it only to answer `why`, which the bench never asks, so the herd builds,
//! stamps and broadcasts every event and nobody reads them. The cost of recording splits
//! into that (paid by the herd's own tasks) and the rest (the recorder reading, serializing
//! and writing, on a thread of its own that competes for the same cores).

use std::collections::BTreeMap;

use color_eyre::eyre::Result;
use serde::Serialize;

use super::baseline::{self, RECORDING};
use super::load::Framing;
use super::throughput::{Measured, iamat_on};
use super::{Settings, progress};

/// Clients of every run, each with this many lines outstanding.
pub const CLIENTS: usize = 16;
pub const WINDOW: usize = 16;
const TOPOLOGY: &str = "cs131";
/// The watched herd's seed (it draws nothing at random: no fault is set).
const SEED: u64 = 1;

/// The three runs and the trace's size.
#[derive(Debug, Clone, Serialize)]
pub struct RecordCost {
    pub plain: Measured,
    /// Watched (`--control stdin`), not recorded.
    pub watched: Measured,
    pub recorded: Measured,
    /// Event lines in the trace, and its bytes.
    pub events: u64,
    pub bytes: u64,
    /// Gap records in the trace (the recorder fell behind).
    pub gaps: u64,
    /// Event lines by kind, most first.
    pub kinds: Vec<(String, u64)>,
}

impl RecordCost {
    pub fn bytes_per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| self.bytes as f64 / self.events as f64)
    }

    /// Events recorded per IAMAT answered (the trace also holds the herd's start and the
    /// floods still running after the last answer).
    pub fn events_per_request(&self) -> Option<f64> {
        (self.recorded.replies > 0).then(|| self.events as f64 / self.recorded.replies as f64)
    }
}

pub async fn measure(settings: &Settings) -> Result<RecordCost> {
    let framing = Framing::Persistent { window: WINDOW };
    progress(format_args!("record: IAMAT c={CLIENTS} pipelined, no recording"));
    let system = baseline::start_herdctl(TOPOLOGY).await?;
    let plain = iamat_on(&system, settings, framing, CLIENTS, "rplain").await?;
    system.stop().await;
    progress(format_args!("record: IAMAT c={CLIENTS} pipelined, watched, not recorded"));
    let system = baseline::start_herdctl_controlled(TOPOLOGY, SEED).await?;
    let watched = iamat_on(&system, settings, framing, CLIENTS, "rwatch").await?;
    system.stop().await;
    progress(format_args!("record: IAMAT c={CLIENTS} pipelined, --record"));
    let mut system = baseline::start_herdctl_recording(TOPOLOGY).await?;
    let recorded = iamat_on(&system, settings, framing, CLIENTS, "rrec").await?;
    // A clean stop (SIGTERM) writes out the whole trace; the file goes with the system.
    system.terminate(&[], std::time::Duration::from_secs(10)).await;
    let text = std::fs::read_to_string(system.file(RECORDING))?;
    system.stop().await;
    let (mut events, mut gaps) = (0, 0);
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        if line.starts_with("{\"seq\"") {
            events += 1;
            *kinds.entry(kind_of(line)).or_default() += 1;
        } else if line.starts_with("{\"gap\"") {
            gaps += 1;
        }
    }
    let mut kinds: Vec<(String, u64)> =
        kinds.into_iter().map(|(kind, n)| (kind.to_owned(), n)).collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(RecordCost { plain, watched, recorded, events, bytes: text.len() as u64, gaps, kinds })
}

/// The `kind` of an event line (`{"seq":…,"t_ns":…,"kind":"stored",…}`).
fn kind_of(line: &str) -> &str {
    const KEY: &str = "\"kind\":\"";
    line.find(KEY)
        .map(|at| &line[at + KEY.len()..])
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("?")
}
