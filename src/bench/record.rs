//! What recording costs (`--record`): the same pipelined IAMAT load on a herd with no
//! recorder and on one recording every event, in the same run, and the recording's bytes
//! per event.

use color_eyre::eyre::Result;
use serde::Serialize;

use super::baseline::{self, RECORDING};
use super::load::Framing;
use super::throughput::{Measured, iamat_on};
use super::{Settings, progress};

/// Clients of both runs, each with this many lines outstanding.
pub const CLIENTS: usize = 16;
pub const WINDOW: usize = 16;
const TOPOLOGY: &str = "cs131";

/// Both runs and the trace's size.
#[derive(Debug, Clone, Serialize)]
pub struct RecordCost {
    pub plain: Measured,
    pub recorded: Measured,
    /// Event lines in the trace, and its bytes.
    pub events: u64,
    pub bytes: u64,
    /// Gap records in the trace (the recorder fell behind).
    pub gaps: u64,
}

impl RecordCost {
    pub fn bytes_per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| self.bytes as f64 / self.events as f64)
    }
}

pub async fn measure(settings: &Settings) -> Result<RecordCost> {
    let framing = Framing::Persistent { window: WINDOW };
    progress(format_args!("record: IAMAT c={CLIENTS} pipelined, no recording"));
    let system = baseline::start_herdctl(TOPOLOGY).await?;
    let plain = iamat_on(&system, settings, framing, CLIENTS, "rplain").await?;
    system.stop().await;
    progress(format_args!("record: IAMAT c={CLIENTS} pipelined, --record"));
    let system = baseline::start_herdctl_recording(TOPOLOGY).await?;
    let mut system = system;
    let recorded = iamat_on(&system, settings, framing, CLIENTS, "rrec").await?;
    // A clean stop (SIGTERM) writes out the whole trace; the file goes with the system.
    system.terminate(&[], std::time::Duration::from_secs(10)).await;
    let text = std::fs::read_to_string(system.file(RECORDING))?;
    system.stop().await;
    let (mut events, mut gaps) = (0, 0);
    for line in text.lines().skip(1) {
        if line.starts_with("{\"seq\"") {
            events += 1;
        } else if line.starts_with("{\"gap\"") {
            gaps += 1;
        }
    }
    Ok(RecordCost { plain, recorded, events, bytes: text.len() as u64, gaps })
}
