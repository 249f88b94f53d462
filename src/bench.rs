//! `herdctl bench`: measures herdctl against baselines started and measured in the same run —
//! a Python asyncio herd in the course design (`bench/asyncio_herd.py`) and a bare tokio
//! line-echo server, the loopback ceiling for request and response.
//!
//! Measured: IAMAT throughput and latency at several concurrencies with a connection per
//! command and with persistent pipelined connections (throughput counted until every flood
//! has finished); WHATSAT throughput with the offline Places backend; flood convergence time
//! and messages per update on several topologies; resident memory when idle and per stored
//! client; the dashboard's frame time; memory per idle connection. Outside the default set:
//! a frozen neighbour (one server's process stopped) under load, and herds of 1 600 and 2 000
//! servers in one process. The systems under test run as separate processes; the convergence
//! timing runs the engine in this process to read its events.
//!
//! Output: an aligned table (absolute figures and ratios) on stdout, optionally JSON.

mod baseline;
mod connections;
mod convergence;
pub mod dashboard;
mod drain;
mod echo;
mod faults;
mod frame;
mod histogram;
mod load;
mod machine;
mod memory;
mod record;
mod report;
mod scale;
mod stall;
mod stream;
mod throughput;

use std::fmt::Display;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use color_eyre::eyre::{Result, WrapErr, eyre};
use serde_json::json;

pub use report::Report;

/// Flags of `herdctl bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Smaller durations and sizes: the whole run in well under a minute.
    #[arg(long)]
    pub quick: bool,
    /// How long each throughput run issues requests [default: 3s, 300ms with --quick].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Also write the table as Markdown to this file.
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Leave out the Python asyncio baseline.
    #[arg(long)]
    pub no_python: bool,
    /// Run only these parts (comma-separated). The default set is every part but `stall`
    /// (two runs of 60 s, 8 s with --quick) and `scale` (herds of 2 000 and 1 600 servers,
    /// about a minute); `connections` is in it (10 000 idle connections, 2 000 with --quick).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "NAME,...")]
    pub only: Vec<Part>,
    /// Concurrent clients of the IAMAT runs (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,16,256", value_name = "N,...")]
    pub concurrency: Vec<usize>,
    /// Lines outstanding on each pipelined connection (1 leaves the pipelined runs out).
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Run the bare line-echo baseline server instead, printing `echo 127.0.0.1:PORT`.
    #[arg(long, hide = true)]
    pub echo_server: bool,
    /// First port for --echo-server (0 = any free ports).
    #[arg(long, hide = true, default_value_t = 0)]
    pub echo_port: u16,
    /// How many ports --echo-server listens on.
    #[arg(long, hide = true, default_value_t = 1)]
    pub echo_ports: usize,
}

/// The parts of the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// IAMAT throughput and latency at each concurrency and framing.
    Iamat,
    /// WHATSAT throughput with the offline Places backend.
    Whatsat,
    /// Flood convergence time and messages per update on several topologies.
    Convergence,
    /// Resident memory: idle per server, and per stored client.
    Memory,
    /// The dashboard's frame time.
    Frame,
    /// A frozen neighbour: one `herdctl serve` process of five stopped, load and a latency
    /// probe at its neighbour, drops per link (not in the default set).
    Stall,
    /// ring:2000 and grid:40x40 in one process: start time, memory, convergence (not in the
    /// default set).
    Scale,
    /// Resident memory per idle client connection, and what closing them gives back.
    Connections,
    /// IAMAT throughput with a lossy, a jittered and a duplicating link against none, and
    /// where the drops fell.
    Faults,
    /// IAMAT throughput while recording every event (`--record`) against none, and the
    /// trace's bytes per event.
    Record,
    /// IAMAT throughput with the admin endpoint (`--admin`), idle and with one consumer
    /// reading `GET /events`, against none; the stream's events and bytes per request.
    Stream,
}

/// Sizes and durations of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub quick: bool,
    pub duration: Duration,
    pub concurrency: Vec<usize>,
    pub window: usize,
    /// Bound on requests per client task in one throughput run.
    pub max_per_task: u64,
    /// Longest wait for floods to finish after a load.
    pub drain_limit: Duration,
    /// Topologies for convergence, with the number of updates timed on each.
    pub topologies: Vec<(String, usize)>,
    /// New clients stored for the memory figure, on herdctl and on the asyncio herd.
    pub memory_clients: u64,
    pub asyncio_memory_clients: u64,
    /// Longest the memory load may take.
    pub memory_limit: Duration,
    pub frames: usize,
    /// How long the stall part's load and probe run, healthy and stalled each.
    pub stall_duration: Duration,
    /// Idle connections the connections part opens.
    pub idle_connections: usize,
}

impl Settings {
    pub fn new(args: &BenchArgs) -> Self {
        let quick = args.quick;
        let topologies = [
            ("cs131", pick(quick, 300, 30)),
            ("ring:50", pick(quick, 300, 20)),
            ("grid:10x10", pick(quick, 300, 20)),
            ("ring:500", pick(quick, 100, 10)),
        ];
        Self {
            quick,
            duration: args.duration.unwrap_or(pick(
                quick,
                Duration::from_secs(3),
                Duration::from_millis(300),
            )),
            concurrency: args.concurrency.iter().map(|&c| c.max(1)).collect(),
            window: args.window.max(1),
            max_per_task: 10_000_000,
            drain_limit: pick(quick, Duration::from_secs(60), Duration::from_secs(20)),
            topologies: topologies.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
            memory_clients: pick(quick, 100_000, 10_000),
            asyncio_memory_clients: pick(quick, 10_000, 1_000),
            memory_limit: pick(quick, Duration::from_secs(120), Duration::from_secs(30)),
            frames: pick(quick, 300, 30),
            stall_duration: pick(quick, Duration::from_secs(60), Duration::from_secs(8)),
            idle_connections: pick(quick, 10_000, 2_000),
        }
    }

    fn to_json(&self, parts: &[Part], python: bool) -> serde_json::Value {
        json!({
            "quick": self.quick,
            "duration_secs": self.duration.as_secs_f64(),
            "concurrency": self.concurrency,
            "window": self.window,
            "topology": throughput::TOPOLOGY,
            "convergence": self.topologies,
            "memory_clients": self.memory_clients,
            "asyncio_memory_clients": self.asyncio_memory_clients,
            "frames": self.frames,
            "stall_duration_secs": self.stall_duration.as_secs_f64(),
            "idle_connections": self.idle_connections,
            "parts": parts.iter().map(|p| format!("{p:?}").to_lowercase()).collect::<Vec<_>>(),
            "asyncio": python,
        })
    }
}

/// `full`, or `small` for a quick run.
fn pick<T>(quick: bool, full: T, small: T) -> T {
    if quick { small } else { full }
}

/// A progress line on stderr (the table goes to stdout).
fn progress(what: impl Display) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "bench: {what}");
}

/// Runs `herdctl bench` (or, with `--echo-server`, the echo baseline server).
pub async fn run(args: BenchArgs) -> Result<()> {
    if args.echo_server {
        return echo::serve(args.echo_port, args.echo_ports).await;
    }
    let settings = Settings::new(&args);
    let parts = if args.only.is_empty() {
        vec![
            Part::Frame,
            Part::Convergence,
            Part::Iamat,
            Part::Whatsat,
            Part::Memory,
            Part::Connections,
            Part::Faults,
            Part::Record,
            Part::Stream,
        ]
    } else {
        args.only.clone()
    };
    // Ctrl-C or SIGTERM drops the measurement, and with it every child process and temporary
    // directory.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let report = tokio::select! {
        report = measure(&settings, &parts, !args.no_python) => report?,
        _ = tokio::signal::ctrl_c() => return Err(eyre!("interrupted")),
        _ = term.recv() => return Err(eyre!("terminated")),
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(report::table(&report).as_bytes())?;
    stdout.flush()?;
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.markdown {
        std::fs::write(path, report::markdown(&report))
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Runs the chosen parts and builds the report.
pub async fn measure(settings: &Settings, parts: &[Part], python: bool) -> Result<Report> {
    let wants = |part| parts.contains(&part);
    let needs_python =
        python && (wants(Part::Iamat) || wants(Part::Whatsat) || wants(Part::Memory));
    let script = if needs_python {
        match baseline::AsyncioScript::install().await {
            Ok(script) => Some(script),
            Err(err) => {
                progress(format_args!("no asyncio baseline: {err:#}"));
                None
            }
        }
    } else {
        None
    };
    let python_version = match &script {
        Some(script) => Some(script.version().await),
        None => None,
    };
    let machine = machine::Machine::describe(python_version);
    progress(format_args!("on {}", machine.summary()));
    let frame = if wants(Part::Frame) {
        progress(format_args!("dashboard frame time ({} frames)", settings.frames));
        Some(frame::measure(settings.frames))
    } else {
        None
    };
    let convergence = if wants(Part::Convergence) {
        convergence::measure_all(settings).await?
    } else {
        Vec::new()
    };
    let iamat = if wants(Part::Iamat) {
        throughput::iamat(settings, script.as_ref()).await?
    } else {
        Vec::new()
    };
    let whatsat = if wants(Part::Whatsat) {
        throughput::whatsat(settings, script.as_ref()).await?
    } else {
        Vec::new()
    };
    let memory = if wants(Part::Memory) {
        memory::measure_all(settings, script.as_ref()).await?
    } else {
        Vec::new()
    };
    let connections = if wants(Part::Connections) {
        connections::measure_all(settings).await?
    } else {
        Vec::new()
    };
    let scale = if wants(Part::Scale) { scale::measure_all().await } else { Vec::new() };
    let stall = if wants(Part::Stall) { Some(stall::measure(settings).await?) } else { None };
    let faults = if wants(Part::Faults) { Some(faults::measure(settings).await?) } else { None };
    let record = if wants(Part::Record) { Some(record::measure(settings).await?) } else { None };
    let stream = if wants(Part::Stream) { Some(stream::measure(settings).await?) } else { None };
    let settings_json = settings.to_json(parts, script.is_some());
    let parts = report::Parts {
        iamat,
        whatsat,
        convergence,
        memory,
        frame,
        connections,
        scale,
        stall,
        faults,
        record,
        stream,
    };
    Ok(report::build(machine, settings_json, parts))
}
