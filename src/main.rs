//! The `herdctl` binary: parse the command line, then run the chosen face of the herd.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use color_eyre::eyre::{Result, WrapErr};
use herdctl::attach::Remote;
use herdctl::cli::{AdminReach, AttachArgs};
use herdctl::cli::{Cli, Command, ControlFrom, Export, HerdArgs, UsageError, ViewArgs};
use herdctl::config::ConfigError;
use herdctl::export;
use herdctl::herd::{Herd, HerdError, HerdHandle, Herdlike};
use herdctl::lab::file::MetricsFile;
use herdctl::scenario::{self, Ending};
use herdctl::trace::{self, Header, Recorder};
use herdctl::tui::{self, history};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// jemalloc, with its background thread on (below): memory freed when clients leave goes back
/// to the system within seconds, so a herd that held ten thousand connections returns to its
/// idle size once they close (the system allocator kept most of it).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = color_eyre::install() {
        eprintln!("herdctl: {err}");
    }
    // Subcommands that run no herd keep their debug log where a herd's would go by default.
    let debug_dir =
        cli.herd_args().map_or(Some(Path::new(DEFAULT_LOG_DIR)), HerdArgs::log_directory);
    if let Some(dir) = debug_dir {
        init_debug_log(dir);
    }
    herdctl::herd::raise_descriptor_limit();
    // Without it, freed pages are returned only while the process keeps allocating.
    let _ = tikv_jemalloc_ctl::background_thread::write(true);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("herdctl: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Nothing left running (a name lookup on a blocking thread, say) may delay the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(50));
    match result {
        Ok(code) => code,
        Err(report) => {
            eprintln!("herdctl: error: {}", one_line(&report));
            if is_usage(&report) { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}

/// Is this error about what the user asked for or configured (exit 2), rather than something
/// that went wrong while running (exit 1)? Every [`HerdError`] is: each comes from the
/// topology, the ports or the log directory the user chose.
fn is_usage(report: &color_eyre::Report) -> bool {
    if let Some(err) = report.downcast_ref::<HerdError>() {
        return match err {
            HerdError::Bind { .. }
            | HerdError::LogDir { .. }
            | HerdError::LogFile { .. }
            | HerdError::UnknownNeighbourPort { .. }
            | HerdError::Descriptors { .. } => true,
        };
    }
    report.downcast_ref::<UsageError>().is_some()
        || report.downcast_ref::<ConfigError>().is_some()
        || report.downcast_ref::<herdctl::admin::AdminError>().is_some()
}

/// The error and its causes on one line, `: ` apart, leaving out a cause whose text the line
/// already holds (most messages quote their source).
fn one_line(report: &color_eyre::Report) -> String {
    let mut line = String::new();
    for cause in report.chain() {
        let text = cause.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Headless herds have no dashboard watching their events: a token buffer instead of the
/// dashboard's (which is allocated in full up front).
const UNWATCHED_EVENT_BUFFER: usize = 16;

/// Where `RUST_LOG` debug logging goes for the subcommands without `--log-dir`.
const DEFAULT_LOG_DIR: &str = "logs";

async fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(Command::Scenario { file, json, attach, reach, herd }) = &cli.command {
        return match attach {
            Some(spec) => attached_scenario(herd, reach, spec, file, json.as_deref()).await,
            None => scenario(herd, file, json.as_deref()).await,
        };
    }
    run_face(&cli).await.map(|()| ExitCode::SUCCESS)
}

async fn run_face(cli: &Cli) -> Result<()> {
    match &cli.command {
        Some(Command::Topology { preset, print: _, at }) => {
            let topology = at.load(preset.as_deref())?;
            print!("{}", topology.to_toml());
            Ok(())
        }
        Some(Command::Attach(args)) => attach(args).await,
        Some(Command::Deploy { target }) => {
            print!("{}", target.render()?);
            Ok(())
        }
        Some(Command::Bench(args)) => herdctl::bench::run(args.clone()).await,
        Some(Command::Export { what }) => export(what),
        Some(Command::Replay { trace: path, play, speed, view }) => {
            let trace = trace::read(path).map_err(UsageError::from)?;
            let options = tui::Options {
                title: String::new(),
                hop: view.hop_time,
                theme: view.theme,
                history: history::default_path(),
                lesson: None,
            };
            let name = path.display().to_string();
            tui::replay(trace, &name, options, *play, *speed).await
        }
        Some(Command::Scenario { .. }) => Ok(()),
        Some(Command::Serve { name, herd: args }) => {
            let mut config = args.herd_config()?;
            if args.record.is_none() && args.admin.admin.is_none() {
                config.event_buffer = UNWATCHED_EVENT_BUFFER;
            }
            let id = config.topology.index_of(name).ok_or_else(|| UsageError::UnknownServer {
                name: name.clone(),
                known: config
                    .topology
                    .servers
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            config.only = Some(id);
            let herd = Herd::start(config).await?;
            let _admin = herdctl::admin::start(&args.admin, &herd).await?;
            let recording = record(args, &herd)?;
            serve_headless(herd, None, None).await?;
            finish(recording).await
        }
        None if cli.headless => {
            let mut config = cli.herd.herd_config()?;
            let watched = cli.control.is_some()
                || cli.metrics_json.is_some()
                || cli.herd.admin.admin.is_some();
            if !watched && cli.herd.record.is_none() {
                config.event_buffer = UNWATCHED_EVENT_BUFFER;
            }
            let herd = Herd::start(config).await?;
            let _admin = herdctl::admin::start(&cli.herd.admin, &herd).await?;
            let metrics = cli.metrics_json.as_deref().map(|path| MetricsFile::start(&herd, path));
            let recording = record(&cli.herd, &herd)?;
            serve_headless(herd, cli.control, metrics).await?;
            finish(recording).await
        }
        Some(Command::Tour { step, view, herd }) => {
            let (args, play) = prepare(herd, TOUR, "tour", *step)?;
            dashboard(&args, *view, Some(play)).await
        }
        None => match &cli.lesson.scenario {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|source| UsageError::ScenarioFile { path: file.clone(), source })?;
                let name = file.display().to_string();
                let (args, play) = prepare(&cli.herd, &text, &name, cli.lesson.step)?;
                dashboard(&args, cli.view, Some(play)).await
            }
            None => dashboard(&cli.herd, cli.view, None).await,
        },
    }
}

/// The lesson `herdctl tour` plays.
const TOUR: &str = include_str!("../assets/scenarios/tour.herd");

/// The herd's flags for a scenario (its `topology` and `seed` lines, where the command line
/// gives none) and the scenario parsed against that herd, ready to play.
fn prepare(
    herd: &HerdArgs,
    text: &str,
    name: &str,
    stepping: bool,
) -> Result<(HerdArgs, tui::Play)> {
    let (topology, seed) = scenario::header(text);
    let args = herd.clone().or_scenario(topology, seed);
    let topology = args.load_topology()?;
    let context = herdctl::command::Context::new(&topology);
    let parsed = scenario::parse(text, name, &context).map_err(UsageError::from)?;
    let play = tui::Play { file: name.to_owned(), scenario: parsed, stepping };
    Ok((args, play))
}

/// The dashboard over a herd started from `args`, playing `lesson` if there is one.
async fn dashboard(args: &HerdArgs, view: ViewArgs, lesson: Option<tui::Play>) -> Result<()> {
    let herd = Herd::start(args.herd_config()?).await?;
    let _admin = herdctl::admin::start(&args.admin, &herd).await?;
    let recording = record(args, &herd)?;
    let options = tui::Options {
        title: args.topology_spec().to_owned(),
        hop: view.hop_time,
        theme: view.theme,
        history: history::default_path(),
        lesson,
    };
    let result = tui::run(herd.clone(), options).await;
    herd.shutdown().await;
    finish(recording).await?;
    result
}

/// `herdctl scenario FILE`: runs it headless and exits with its code (0 every expectation
/// held, 1 one failed, 2 the file or command line is invalid, 3 the herd did not start).
async fn scenario(herd: &HerdArgs, file: &Path, json: Option<&Path>) -> Result<ExitCode> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|source| UsageError::ScenarioFile { path: file.to_path_buf(), source })?;
    let (topology, seed) = scenario::header(&text);
    let args = herd.clone().or_scenario(topology, seed);
    let config = args.herd_config()?;
    let context = herdctl::command::Context::new(&config.topology);
    let parsed = match scenario::parse(&text, &name, &context) {
        Ok(parsed) => parsed,
        Err(err) => {
            eprintln!("herdctl: error: {err}");
            return Ok(exit(scenario::exit_code(Ending::Invalid(&err))));
        }
    };
    let herd = match Herd::start(config).await {
        Ok(herd) => herd,
        Err(err) => {
            eprintln!("herdctl: error: {err}");
            return Ok(exit(scenario::exit_code(Ending::NoHerd)));
        }
    };
    let _admin = herdctl::admin::start(&args.admin, &herd).await?;
    let recording = record(&args, &herd)?;
    let report = scenario::run(&parsed, &herd, &mut std::io::stdout()).await;
    herd.shutdown().await;
    finish(recording).await?;
    report_scenario(&report, json)
}

/// Writes a scenario's report as JSON if asked, and gives its exit code.
fn report_scenario(report: &scenario::Report, json: Option<&Path>) -> Result<ExitCode> {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(report)?;
        std::fs::write(path, text + "\n")
            .wrap_err_with(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(exit(scenario::exit_code(Ending::Ran(report))))
}

/// `herdctl scenario FILE --attach TOPOLOGY`: runs it against an attached herd (the herd's
/// own flags unused but `--base-port` for a preset and `--record`).
async fn attached_scenario(
    herd: &HerdArgs,
    reach: &AdminReach,
    spec: &str,
    file: &Path,
    json: Option<&Path>,
) -> Result<ExitCode> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|source| UsageError::ScenarioFile { path: file.to_path_buf(), source })?;
    let topology = herdctl::config::Topology::load(spec, herd.at.base_port)?;
    let context = herdctl::command::Context::new(&topology);
    let parsed = match scenario::parse(&text, &name, &context) {
        Ok(parsed) => parsed,
        Err(err) => {
            eprintln!("herdctl: error: {err}");
            return Ok(exit(scenario::exit_code(Ending::Invalid(&err))));
        }
    };
    let remote = Remote::attach(topology, reach.options()?).await.map_err(UsageError::Attach)?;
    let recording = start_recording(&remote, herd.record.as_deref(), spec, herd.record_max_size)?;
    let report = scenario::run(&parsed, &remote, &mut std::io::stdout()).await;
    finish(recording).await?;
    report_scenario(&report, json)
}

/// `herdctl attach`: the dashboard (or a headless watch) over a herd of other processes.
async fn attach(args: &AttachArgs) -> Result<()> {
    let topology = herdctl::config::Topology::load(&args.topology, args.base_port)?;
    let lesson = match &args.lesson.scenario {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|source| UsageError::ScenarioFile { path: file.clone(), source })?;
            let name = file.display().to_string();
            let context = herdctl::command::Context::new(&topology);
            let parsed = scenario::parse(&text, &name, &context).map_err(UsageError::from)?;
            Some(tui::Play { file: name, scenario: parsed, stepping: args.lesson.step })
        }
        None => None,
    };
    let remote =
        Remote::attach(topology, args.reach.options()?).await.map_err(UsageError::Attach)?;
    let recording =
        start_recording(&remote, args.record.as_deref(), &args.topology, args.record_max_size)?;
    let result = if args.headless {
        watch_headless(&remote, args.control).await
    } else {
        let options = tui::Options {
            title: format!("attach {}", args.topology),
            hop: args.view.hop_time,
            theme: args.view.theme,
            history: history::default_path(),
            lesson,
        };
        tui::run(remote.clone(), options).await
    };
    finish(recording).await?;
    result
}

/// Watches an attached herd until Ctrl-C or SIGTERM, answering command lines from `control`
/// while it lasts. Which endpoint serves which server goes to standard error, and so does
/// each notice (an endpoint lost or back, another version, malformed lines), as it comes.
async fn watch_headless(remote: &Remote, control: Option<ControlFrom>) -> Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    for endpoint in &remote.plan().endpoints {
        let names: Vec<&str> =
            endpoint.servers.iter().map(|&id| remote.names()[id].as_str()).collect();
        eprintln!("attach {} {}", endpoint.addr, names.join(","));
    }
    let commands = async {
        if control == Some(ControlFrom::Stdin) {
            let input = tokio::io::BufReader::new(tokio::io::stdin());
            let answered = herdctl::headless::control_loop(remote, input, tokio::io::stdout());
            if let Err(err) = answered.await {
                eprintln!("herdctl: --control stdin: {err}");
            }
        }
        // The end of the input leaves the watch running.
        std::future::pending::<()>().await;
    };
    tokio::pin!(commands);
    let mut notices = tokio::time::interval(std::time::Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
            () = &mut commands => {}
            _ = notices.tick() => {
                for notice in remote.take_news().notices {
                    eprintln!("herdctl: {notice}");
                }
            }
        }
    }
}

/// Starts `--record`, if asked for.
fn record(args: &HerdArgs, herd: &HerdHandle) -> Result<Option<Recorder>> {
    start_recording(herd, args.record.as_deref(), args.topology_spec(), args.record_max_size)
}

/// Records `herd` to `path` (if given), its topology named `topology`.
fn start_recording(
    herd: &impl Herdlike,
    path: Option<&Path>,
    topology: &str,
    max_size: u64,
) -> Result<Option<Recorder>> {
    let Some(path) = path else { return Ok(None) };
    let header = Header::new(herd, topology);
    let recorder = Recorder::start(herd, path, header, max_size)
        .wrap_err_with(|| format!("cannot record to {}", path.display()))?;
    Ok(Some(recorder))
}

/// Ends a recording, saying on stderr if it has gaps or was cut short.
async fn finish(recording: Option<Recorder>) -> Result<()> {
    let Some(recorder) = recording else { return Ok(()) };
    let stats = recorder.finish().await.wrap_err("finishing the recording")?;
    if stats.gaps > 0 {
        eprintln!("herdctl: the recording missed {} events in {} gaps", stats.missed, stats.gaps);
    }
    if stats.cut {
        eprintln!("herdctl: the recording stopped at --record-max-size");
    }
    Ok(())
}

/// `herdctl export`.
fn export(what: &Export) -> Result<()> {
    let read = |path: &Path| trace::read(path).map_err(UsageError::from);
    let (text, output) = match what {
        Export::Dot { trace: Some(path), output, at: _ } => {
            (export::dot_from_trace(&read(path)?), output)
        }
        Export::Dot { trace: None, output, at } => {
            let topology = at.load(None)?;
            let names: Vec<String> = topology.servers.iter().map(|s| s.name.clone()).collect();
            (export::dot(&names, &topology.links(), &export::Faults::default()), output)
        }
        Export::Svg { trace, output } => (export::svg(&read(trace)?), output),
        Export::ChromeTrace { trace, output } => (export::chrome_trace(&read(trace)?), output),
    };
    match output {
        Some(path) => {
            std::fs::write(path, text).wrap_err_with(|| format!("writing {}", path.display()))
        }
        None => Ok(std::io::stdout().write_all(text.as_bytes())?),
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Prints `NAME HOST:PORT` for each server this process runs and `seed N`, then serves until
/// Ctrl-C or SIGTERM and shuts down cleanly (answering command lines from `control` while
/// it lasts). SIGHUP reopens the log files and keeps serving.
async fn serve_headless(
    herd: HerdHandle,
    control: Option<ControlFrom>,
    metrics: Option<MetricsFile>,
) -> Result<()> {
    let mut signals = Signals::new(metrics).wrap_err("installing signal handlers")?;
    let snapshot = herd.snapshot();
    let mut startup = String::new();
    for server in snapshot.servers.iter().filter(|s| s.local) {
        if let Some(addr) = server.addr {
            let _ = writeln!(startup, "{} {addr}", server.name);
        }
    }
    let _ = writeln!(startup, "seed {}", snapshot.seed);
    // Best effort: a reader that stopped listening (a closed pipe) does not stop the herd.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(startup.as_bytes()).and_then(|()| stdout.flush());
    drop(stdout);
    if control == Some(ControlFrom::Stdin) {
        let input = tokio::io::BufReader::new(tokio::io::stdin());
        let commands = herdctl::headless::control_loop(&herd, input, tokio::io::stdout());
        tokio::select! {
            () = signals.serve(&herd) => {
                herd.shutdown().await;
                signals.write_metrics();
                return Ok(());
            }
            result = commands => {
                if let Err(err) = result {
                    eprintln!("herdctl: --control stdin: {err}");
                }
            }
        }
    }
    signals.serve(&herd).await;
    herd.shutdown().await;
    signals.write_metrics();
    Ok(())
}

/// The signals a headless herd answers.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
    user1: Signal,
    metrics: Option<MetricsFile>,
}

impl Signals {
    fn new(metrics: Option<MetricsFile>) -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            user1: signal(SignalKind::user_defined1())?,
            metrics,
        })
    }

    /// Returns on Ctrl-C or SIGTERM; on SIGHUP flushes and reopens every log file (the
    /// daemon convention after logrotate moves them) and writes the metrics file; on SIGUSR1
    /// writes the metrics file; and keeps serving.
    async fn serve(&mut self, herd: &HerdHandle) {
        loop {
            tokio::select! {
                _ = self.interrupt.recv() => return,
                _ = self.terminate.recv() => return,
                _ = self.hangup.recv() => {
                    if let Err(err) = herd.reopen_logs() {
                        eprintln!("herdctl: {err}");
                    }
                    self.write_metrics();
                }
                _ = self.user1.recv() => self.write_metrics(),
            }
        }
    }

    /// Writes `--metrics-json`, if asked for.
    fn write_metrics(&self) {
        if let Some(metrics) = &self.metrics
            && let Err(err) = metrics.write()
        {
            eprintln!("herdctl: --metrics-json: {err}");
        }
    }
}

/// With `RUST_LOG` set, debug logging goes to `{log_dir}/herdctl-debug.log`, never to the
/// terminal the dashboard owns.
fn init_debug_log(log_dir: &std::path::Path) {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() else {
        return;
    };
    if std::fs::create_dir_all(log_dir).is_err() {
        return;
    }
    let Ok(file) = std::fs::File::create(log_dir.join("herdctl-debug.log")) else {
        return;
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .init();
}
