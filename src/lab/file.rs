//! `--metrics-json FILE`: the live metrics of a headless herd, folded on a task of their own
//! from its events and written out as JSON on demand (at exit, on SIGHUP and SIGUSR1).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::metrics::Metrics;
use crate::herd::Herdlike;

/// The fold and where it is written.
pub struct MetricsFile {
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

struct State {
    metrics: Metrics,
    /// Events the fold missed because it fell behind.
    missed: u64,
}

impl MetricsFile {
    /// Starts folding `herd`'s events (from now on).
    pub fn start(herd: &impl Herdlike, path: &Path) -> Self {
        let state =
            Arc::new(Mutex::new(State { metrics: Metrics::new(herd.topology()), missed: 0 }));
        let mut events = herd.events();
        let fold = state.clone();
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let mut state = fold.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    Ok(event) => state.metrics.apply(&event),
                    Err(RecvError::Lagged(missed)) => state.missed += missed,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Self { path: path.to_path_buf(), state }
    }

    /// Writes the summary and every kept update's metrics to the file (replacing it whole:
    /// written to a sibling and renamed, so a reader never sees half a file).
    pub fn write(&self) -> std::io::Result<()> {
        let text = {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let updates: Vec<_> = state.metrics.updates().collect();
            let report = json!({
                "summary": state.metrics.summary(),
                "missed_events": state.missed,
                "updates": updates,
            });
            serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?
        };
        let partial = self.path.with_extension("json.partial");
        std::fs::write(&partial, text + "\n")?;
        std::fs::rename(&partial, &self.path)
    }
}
