//! What the flood laboratory's faults cost on the per-message path, and where they act: one
//! herd (driven through `--control stdin`) under pipelined IAMAT load with no fault, and
//! another with a lossy link, a jittered link and a duplicating link set, in the same run;
//! then the drops per directed link, from the logs (only the lossy link may drop).

use color_eyre::eyre::Result;
use serde::Serialize;

use super::baseline::{self, LinkDrops, System};
use super::load::Framing;
use super::throughput::{Measured, iamat_on};
use super::{Settings, progress};

/// The faults of the faulted run, as typed on the console.
pub const FAULTS: &[&str] =
    &["loss Bona->Clark 20%", "delay Campbell->Jaquez 1ms jitter 500us", "dup Clark->Jaquez 10%"];
/// The lossy link of [`FAULTS`], as the logs name it.
pub const LOSSY: (&str, &str) = ("Bona", "Clark");
/// Clients of both runs, each with this many lines outstanding.
pub const CLIENTS: usize = 16;
pub const WINDOW: usize = 16;
const TOPOLOGY: &str = "cs131";
const SEED: u64 = 7;

/// Both runs.
#[derive(Debug, Clone, Serialize)]
pub struct FaultCost {
    pub clean: Measured,
    pub faulted: Measured,
    pub faults: Vec<String>,
    /// Drops of the faulted run, per directed link and reason.
    pub drops: Vec<LinkDrops>,
}

impl FaultCost {
    /// Drops of the faulted run on links other than the lossy one.
    pub fn dropped_elsewhere(&self) -> u64 {
        let lossy = |d: &&LinkDrops| (d.from.as_str(), d.to.as_str()) == LOSSY;
        self.drops.iter().filter(|d| !lossy(d)).map(|d| d.count).sum()
    }
}

pub async fn measure(settings: &Settings) -> Result<FaultCost> {
    let framing = Framing::Persistent { window: WINDOW };
    progress(format_args!("faults: IAMAT c={CLIENTS} pipelined, no fault"));
    let clean = run(settings, framing, &[]).await?.0;
    progress(format_args!("faults: IAMAT c={CLIENTS} pipelined, {}", FAULTS.join(", ")));
    let (faulted, drops) = run(settings, framing, FAULTS).await?;
    let faults = FAULTS.iter().map(|f| (*f).to_owned()).collect();
    Ok(FaultCost { clean, faulted, faults, drops })
}

async fn run(
    settings: &Settings,
    framing: Framing,
    faults: &[&str],
) -> Result<(Measured, Vec<LinkDrops>)> {
    let mut system: System = baseline::start_herdctl_controlled(TOPOLOGY, SEED).await?;
    for fault in faults {
        system.control(fault).await?;
    }
    let tag = if faults.is_empty() { "fclean" } else { "ffault" };
    let measured = iamat_on(&system, settings, framing, CLIENTS, tag).await?;
    let counts = system.log_counts()?;
    system.stop().await;
    Ok((measured, counts.link_drops()))
}
