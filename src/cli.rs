//! The command line: flags shared by every face of the herd, and the subcommands.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::bench::BenchArgs;
use crate::config::{self, Topology};
use crate::herd::HerdConfig;
use crate::herd::control::{Control, MAX_DELAY, Policy};
use crate::places::{GooglePlaces, Places};
use crate::tui::theme::Theme;

/// Run a proxy herd on real loopback TCP: watch it flood, and break it on purpose.
#[derive(Debug, Parser)]
#[command(
    name = "herdctl",
    version,
    about,
    after_help = presets_help(),
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub herd: HerdArgs,
    /// Run without the dashboard: print each server's address and the seed, serve until
    /// Ctrl-C or SIGTERM.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: read command lines of the dashboard's grammar (cut Bona->Clark,
    /// loss Bona->Clark 20%, policy storm, faults, ...) from standard input and answer each
    /// with one line, `ok ...` or `error ...`. The end of the input leaves the herd running.
    #[arg(long, value_enum, requires = "headless", value_name = "FROM")]
    pub control: Option<ControlFrom>,
    /// With --headless: keep live flood metrics (per update: messages, duplicates, drops,
    /// coverage, convergence; per run: quantiles and totals) and write them as JSON to this
    /// file at exit and on SIGHUP or SIGUSR1.
    #[arg(long, requires = "headless", value_name = "FILE")]
    pub metrics_json: Option<PathBuf>,
    #[command(flatten)]
    pub lesson: LessonArgs,
    #[command(flatten)]
    pub view: ViewArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run only server NAME of the topology in this process (its neighbours may be other
    /// processes), like `python3 server.py NAME`.
    Serve {
        /// The server's name in the topology.
        name: String,
        #[command(flatten)]
        herd: HerdArgs,
    },
    /// Print a topology (a preset or a file) as TOML, to start a file of your own from.
    Topology {
        /// A preset or file; defaults to --topology.
        preset: Option<String>,
        /// Print the topology (what this subcommand does anyway; kept for older scripts).
        #[arg(long, hide = true)]
        print: bool,
        #[command(flatten)]
        at: TopologyArgs,
    },
    /// Run a scenario file (a lesson or a test in the console's grammar, with timing and
    /// expectations) headless on real sockets: each step is printed with ✓/✗. Exit 0 if every
    /// expectation held, 1 if one failed, 2 if the file or the command line is invalid, 3 if
    /// the herd could not start. Its `topology` and `seed` lines give way to --topology and
    /// --seed.
    Scenario {
        /// The scenario file.
        file: PathBuf,
        /// Also write the report as JSON to this file.
        #[arg(long, value_name = "PATH")]
        json: Option<PathBuf>,
        /// Run it against the servers of this topology through their admin endpoints
        /// (as `herdctl attach` does) instead of a herd of its own: the flags that shape a
        /// herd are then not used.
        #[arg(long, value_name = "TOPOLOGY")]
        attach: Option<String>,
        #[command(flatten)]
        reach: AdminReach,
        #[command(flatten)]
        herd: HerdArgs,
    },
    /// A newcomer's first minute: the dashboard over the default herd plays a short lesson
    /// with captions (a report floods, a link is cut, a server killed, the flood routes
    /// around, the server restarts). `n` skips ahead; the herd is yours once it ends.
    Tour {
        /// Start stepping, each step waiting for `n`.
        #[arg(long)]
        step: bool,
        #[command(flatten)]
        view: ViewArgs,
        #[command(flatten)]
        herd: HerdArgs,
    },
    /// Open the dashboard on a trace written by --record: play, pause, step event by event,
    /// change speed, jump to the next update or fault, scrub the timeline; every pane shows
    /// the herd as it was at that instant. Nothing runs: no port is opened.
    Replay {
        /// A trace written by --record.
        trace: PathBuf,
        /// Start playing at once rather than paused at the start.
        #[arg(long)]
        play: bool,
        /// The recording's time per wall-clock time (e.g. 0.25, 4).
        #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
        speed: f64,
        #[command(flatten)]
        view: ViewArgs,
    },
    /// Write a recorded trace (or a topology) in another format.
    Export {
        #[command(subcommand)]
        what: Export,
    },
    /// Open the dashboard over a herd whose servers run in other processes or on other hosts
    /// (each `herdctl serve NAME --admin HOST:PORT`), through their admin endpoints: their
    /// events merged, a server whose endpoint does not answer shown as unseen, faults sent
    /// to the processes that apply them, given the token of --token-file.
    Attach(AttachArgs),
    /// Print manifests that run each server of a topology in a container of its own
    /// (`herdctl serve NAME`): a compose file or Kubernetes manifests.
    Deploy {
        #[command(subcommand)]
        target: Deploy,
    },
    /// Measure the herd against an asyncio herd and a bare echo server started in the same
    /// run: throughput, latency, flood convergence, memory, dashboard frame time.
    Bench(BenchArgs),
}

/// `herdctl attach`.
#[derive(Debug, Clone, Args)]
pub struct AttachArgs {
    /// The herd's topology file (or a preset), naming each server's admin endpoint with
    /// `admin = "HOST:PORT"` (or see --admin-base-port).
    #[arg(value_name = "TOPOLOGY")]
    pub topology: String,
    /// First port of a preset's servers.
    #[arg(long, default_value_t = config::DEFAULT_BASE_PORT)]
    pub base_port: u16,
    #[command(flatten)]
    pub reach: AdminReach,
    /// Run without the dashboard: watch the herd until Ctrl-C or SIGTERM.
    #[arg(long)]
    pub headless: bool,
    /// With --headless: answer command lines from standard input, one line each (`ok ...`
    /// or `error ...`), as `herdctl --headless --control stdin` does; `status` says which
    /// servers are seen. The end of the input leaves the watch running.
    #[arg(long, value_enum, requires = "headless", value_name = "FROM")]
    pub control: Option<ControlFrom>,
    /// Record the merged stream of events to this file (a trace `herdctl replay` opens).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Stop recording (and say so in the trace) before the file would pass this size.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub record_max_size: u64,
    #[command(flatten)]
    pub lesson: LessonArgs,
    #[command(flatten)]
    pub view: ViewArgs,
}

/// A scenario the dashboard plays.
#[derive(Debug, Clone, Args)]
pub struct LessonArgs {
    /// Dashboard: play this scenario file over the herd: its `say` lines show as captions,
    /// `n` runs the next step at once, `N` switches to stepping (each `n` runs one step). Over
    /// a herd of its own, its `topology` and `seed` lines give way to --topology and --seed.
    #[arg(long, value_name = "FILE", conflicts_with = "headless")]
    pub scenario: Option<PathBuf>,
    /// With --scenario: start stepping, each step waiting for `n`.
    #[arg(long)]
    pub step: bool,
}

/// How an attached console reaches the servers' admin endpoints.
#[derive(Debug, Clone, Default, Args)]
pub struct AdminReach {
    /// Admin port of the first server, on its `dial` host, for servers whose topology entry
    /// names no `admin` (the next server's is one more).
    #[arg(long, value_name = "PORT")]
    pub admin_base_port: Option<u16>,
    /// Read the bearer token for the endpoints' POST /control from this file (trailing white
    /// space trimmed): without it, the herd is watched but not changed.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

impl AdminReach {
    /// What `herdctl attach` needs to reach the endpoints (the token read from its file).
    pub fn options(&self) -> Result<crate::attach::AttachOptions, UsageError> {
        let token = match &self.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| UsageError::TokenFile { path: path.clone(), source })?;
                Some(text.trim_end().to_owned())
            }
            None => None,
        };
        Ok(crate::attach::AttachOptions { base_port: self.admin_base_port, token })
    }
}

/// How the dashboard draws.
#[derive(Debug, Clone, Copy, Args)]
pub struct ViewArgs {
    /// Dashboard: how long each hop of a flood is shown in the slowed replay.
    #[arg(long, default_value = "600ms", value_parser = parse_duration)]
    pub hop_time: Duration,
    /// Dashboard: colours for a dark terminal background or a light one.
    #[arg(long, value_enum, default_value_t = Theme::Dark, env = "HERDCTL_THEME")]
    pub theme: Theme,
}

/// What `herdctl export` writes.
#[derive(Debug, Subcommand)]
pub enum Export {
    /// Graphviz DOT of the topology with its fault states: at the end of TRACE, or of
    /// --topology with none (`dot -Tsvg` renders it).
    Dot {
        /// A trace written by --record.
        trace: Option<PathBuf>,
        /// Write here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The topology drawn when no TRACE is given.
        #[command(flatten)]
        at: TopologyArgs,
    },
    /// A space-time (Lamport) diagram of TRACE as SVG: a column per server, an arrow per hop
    /// coloured by update, drops and faults marked.
    Svg {
        trace: PathBuf,
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// TRACE as Chrome Trace Event JSON with flow events (Perfetto shows it as a timeline).
    ChromeTrace {
        trace: PathBuf,
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// What `herdctl deploy` prints.
#[derive(Debug, Subcommand)]
pub enum Deploy {
    /// A compose file (`docker compose -f - up`): a service per server, the topology
    /// mounted, each server's port published.
    Compose(DeployArgs),
    /// Kubernetes manifests (`kubectl apply -f -`): the topology as a config map, a
    /// deployment and a service per server, scraped by Prometheus on the admin port.
    K8s(DeployArgs),
}

/// The topology a `herdctl deploy` target runs.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// A preset or file; defaults to --topology.
    #[arg(value_name = "TOPOLOGY")]
    pub spec: Option<String>,
    #[command(flatten)]
    pub at: TopologyArgs,
}

impl DeployArgs {
    fn topology(&self) -> Result<Topology, UsageError> {
        self.at.load(self.spec.as_deref())
    }
}

impl Deploy {
    /// The manifests, as text to print.
    pub fn render(&self) -> Result<String, UsageError> {
        Ok(match self {
            Self::Compose(args) => crate::deploy::compose(&args.topology()?)?,
            Self::K8s(args) => crate::deploy::kubernetes(&args.topology()?)?,
        })
    }
}

/// A replay speed: a positive number within the replay's range.
fn parse_speed(text: &str) -> Result<f64, String> {
    use crate::tui::replay::{MAX_SPEED, MIN_SPEED};
    let speed: f64 =
        text.parse().map_err(|_| format!("expected a number such as 0.5 or 4, got {text:?}"))?;
    if (MIN_SPEED..=MAX_SPEED).contains(&speed) {
        Ok(speed)
    } else {
        Err(format!("expected a speed from 1/64 to {MAX_SPEED}, got {text}"))
    }
}

/// Which topology, and where its presets listen.
#[derive(Debug, Clone, Args)]
pub struct TopologyArgs {
    /// A topology file, or a preset: cs131, cs131-2019, ring:N, line:N, star:N, full:N,
    /// grid:RxC, tree:N [default: cs131, or a scenario's own].
    #[arg(long, short = 't')]
    pub topology: Option<String>,
    /// First port of a preset's servers (0: free ports chosen by the system).
    #[arg(long, default_value_t = config::DEFAULT_BASE_PORT)]
    pub base_port: u16,
}

impl TopologyArgs {
    /// The topology asked for: `--topology`, else cs131.
    pub fn spec(&self) -> &str {
        self.topology.as_deref().unwrap_or(DEFAULT_TOPOLOGY)
    }

    /// `preset` if given, else `--topology`, else cs131, with its ports from `--base-port`.
    pub fn load(&self, preset: Option<&str>) -> Result<Topology, UsageError> {
        Ok(Topology::load(preset.unwrap_or(self.spec()), self.base_port)?)
    }
}

/// Flags of every face that runs a herd: the dashboard, `--headless`, `serve`, `scenario`
/// and `tour`.
#[derive(Debug, Clone, Args)]
pub struct HerdArgs {
    #[command(flatten)]
    pub at: TopologyArgs,
    /// Directory for the per-server log files (created if missing); `none` logs nowhere.
    #[arg(long, default_value = "logs")]
    pub log_dir: PathBuf,
    /// Rotate a server's log past this size (e.g. 64MiB, 10MB, 1048576), keeping 3 old files.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub log_max_size: u64,
    /// Where WHATSAT answers come from.
    #[arg(long, value_enum, default_value_t = PlacesKind::Offline)]
    pub places: PlacesKind,
    /// Base URL of the Places service (for --places google).
    #[arg(long, default_value = "https://maps.googleapis.com")]
    pub places_url: String,
    // The doc comments here are --help text, where backticks would show.
    #[allow(clippy::doc_markdown)]
    /// API key for --places google. Prefer --places-key-file or the GOOGLE_PLACES_API_KEY
    /// environment variable: a key given here shows in /proc/PID/cmdline to every user.
    #[arg(long, value_name = "KEY", conflicts_with = "places_key_file")]
    pub places_key: Option<String>,
    #[allow(clippy::doc_markdown)]
    /// Read the API key for --places google from this file (trailing white space and newline
    /// trimmed). With neither flag, the key comes from GOOGLE_PLACES_API_KEY.
    #[arg(long, value_name = "PATH")]
    pub places_key_file: Option<PathBuf>,
    /// A real delay on every hop between servers (e.g. 300ms), to watch floods and race them.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub link_delay: Duration,
    /// A link whose writes make no progress for this long is stalled (its neighbour stopped
    /// reading): reports for that neighbour are dropped, and counted, until it reads again.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub link_stall: Duration,
    /// Client connections each server holds at most; more are closed at once, counted and
    /// logged. Fewer are admitted when the process's file-descriptor limit leaves less room.
    #[arg(long, default_value_t = crate::herd::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Refuse an IAMAT or AT whose time is further than this ahead of the server clock (e.g.
    /// 1h): IAMAT is answered `? `, AT is dropped and logged. Off unless given.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_future: Option<Duration>,
    /// Seed of every fault's fate (loss, dup, jitter) and every random choice of a policy:
    /// the same seed and inputs give the same fates. Random unless given; printed at start.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// How servers flood: spec (the course rule), or the off-spec storm [ttl=N], echo,
    /// gossip fanout=K. Switchable live with the `policy` command.
    #[arg(long, default_value = "spec", value_parser = parse_policy)]
    pub policy: Policy,
    /// Record every event of the run to this file (NDJSON: a header line, then one line per
    /// event; a gap or a cut, if any, is written where it happened).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Stop recording (and say so in the trace) before the file would pass this size.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub record_max_size: u64,
    /// Give up on a Places request after this long.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub places_timeout: Duration,
    #[command(flatten)]
    pub admin: crate::admin::AdminArgs,
}

impl Cli {
    /// The herd flags of the face that runs a herd (the dashboard, `--headless`, `serve`,
    /// `scenario`, `tour`); `None` for the subcommands that run none.
    pub fn herd_args(&self) -> Option<&HerdArgs> {
        match &self.command {
            None => Some(&self.herd),
            Some(
                Command::Serve { herd, .. }
                | Command::Scenario { herd, .. }
                | Command::Tour { herd, .. },
            ) => Some(herd),
            Some(
                Command::Topology { .. }
                | Command::Replay { .. }
                | Command::Export { .. }
                | Command::Deploy { .. }
                | Command::Attach(_)
                | Command::Bench(_),
            ) => None,
        }
    }
}

/// The herd when no topology is named.
pub const DEFAULT_TOPOLOGY: &str = "cs131";

/// Where `--control` reads commands from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ControlFrom {
    Stdin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlacesKind {
    /// Deterministic made-up places near the location: no key, no network.
    Offline,
    /// The legacy Google Places Nearby Search over HTTP.
    Google,
}

/// The environment variable the Places API key is read from when no flag gives it.
pub const KEY_VARIABLE: &str = "GOOGLE_PLACES_API_KEY";

/// A problem with what the user asked for (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(
        "--places google needs an API key: set {KEY_VARIABLE} or pass --places-key-file \
         (or --places-key)"
    )]
    MissingKey,
    #[error("cannot read --places-key-file {}: {source}", path.display())]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error("--places-key-file {} holds no key (it is empty)", path.display())]
    EmptyKeyFile { path: PathBuf },
    #[error("--link-delay {} is too long: at most 10s", humantime::format_duration(*.0))]
    DelayTooLong(Duration),
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
    #[error("cannot read the scenario {}: {source}", path.display())]
    ScenarioFile { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),
    #[error("no server {name} in the topology (it has {known})")]
    UnknownServer { name: String, known: String },
    #[error("cannot read --token-file {}: {source}", path.display())]
    TokenFile { path: PathBuf, source: std::io::Error },
    /// `herdctl attach` cannot tell where to read a server (the message says which).
    #[error("{0}")]
    Attach(String),
}

impl HerdArgs {
    /// The topology asked for: `--topology`, else cs131.
    pub fn topology_spec(&self) -> &str {
        self.at.spec()
    }

    pub fn load_topology(&self) -> Result<Topology, UsageError> {
        self.at.load(None)
    }

    /// These flags with a scenario's own `topology` and `seed` lines where the command line
    /// gives none.
    #[must_use]
    pub fn or_scenario(mut self, topology: Option<String>, seed: Option<u64>) -> Self {
        self.at.topology = self.at.topology.or(topology);
        self.seed = self.seed.or(seed);
        self
    }

    pub fn places(&self) -> Result<Places, UsageError> {
        match self.places {
            PlacesKind::Offline => Ok(Places::Offline),
            PlacesKind::Google => {
                let key = self.api_key(std::env::var(KEY_VARIABLE).ok())?;
                Ok(Places::Google(GooglePlaces::new(&self.places_url, &key, self.places_timeout)))
            }
        }
    }

    /// Where the logs go: `None` for `--log-dir none`.
    pub fn log_directory(&self) -> Option<&Path> {
        Some(self.log_dir.as_path()).filter(|dir| dir.as_os_str() != "none")
    }

    /// The Places API key: `--places-key`, else the contents of `--places-key-file`, else
    /// `from_env` (the value of [`KEY_VARIABLE`]). The two flags never come together (clap
    /// refuses that).
    pub fn api_key(&self, from_env: Option<String>) -> Result<String, UsageError> {
        let key = if let Some(key) = &self.places_key {
            key.clone()
        } else if let Some(path) = &self.places_key_file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| UsageError::KeyFile { path: path.clone(), source })?;
            let key = text.trim_end();
            if key.is_empty() {
                return Err(UsageError::EmptyKeyFile { path: path.clone() });
            }
            key.to_owned()
        } else {
            from_env.unwrap_or_default()
        };
        if key.is_empty() { Err(UsageError::MissingKey) } else { Ok(key) }
    }

    /// The engine configuration these flags describe.
    pub fn herd_config(&self) -> Result<HerdConfig, UsageError> {
        if self.link_delay > MAX_DELAY {
            return Err(UsageError::DelayTooLong(self.link_delay));
        }
        let mut config = HerdConfig::new(self.load_topology()?);
        config.places = self.places()?;
        config.log_dir = self.log_directory().map(Path::to_path_buf);
        config.log_max_size = self.log_max_size;
        config.link_delay = self.link_delay;
        config.link_stall = self.link_stall.max(Duration::from_millis(1));
        config.max_connections = self.max_connections;
        config.max_future = self.max_future;
        config.seed = self.seed.unwrap_or_else(rand_seed);
        config.policy = self.policy;
        Ok(config)
    }
}

/// A duration flag: `300ms`, `1.5s`, `2m`, `1h 30m` (what humantime reads), with a message
/// that says what is expected rather than where the parse stopped.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| "expected a duration such as 300ms, 1.5s or 2m".to_owned())
}

/// A size in bytes: `1048576`, `10MB`, `10 kB` (powers of 1000), `64MiB`, `1GiB` (of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(format!("unknown unit {unit:?}: use B, kB, MB, GB, KiB, MiB or GiB")),
    };
    let size = number.parse::<u64>().ok().and_then(|n| n.checked_mul(scale));
    match size {
        Some(0) => Err("a log file needs room for at least one byte".into()),
        Some(size) => Ok(size),
        None => Err(format!("{text:?} is not a size like 64MiB, 10MB or 1048576")),
    }
}

/// A policy as the `policy` command takes it: `spec`, `storm ttl=4`, `gossip fanout=2`.
fn parse_policy(text: &str) -> Result<Policy, String> {
    let context = crate::command::Context::default();
    match crate::command::parse(&format!("policy {text}"), &context) {
        Ok(crate::command::Command::Herd(Control::Policy { policy })) => Ok(policy),
        Ok(_) => Err(format!("{text:?} is not a policy")),
        Err(err) => Err(err.message),
    }
}

/// A seed from the system's randomness (the clock, if that fails).
fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

fn presets_help() -> String {
    format!("Topology presets: {}", config::preset_names().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn herd_flags_belong_to_the_faces_that_run_a_herd() {
        let cli =
            Cli::try_parse_from(["herdctl", "serve", "Bona", "--topology", "ring:5"]).unwrap();
        assert_eq!(cli.herd_args().unwrap().topology_spec(), "ring:5");
        assert!(matches!(cli.command, Some(Command::Serve { ref name, .. }) if name == "Bona"));
        let cli = Cli::try_parse_from(["herdctl", "--places", "google", "--headless"]).unwrap();
        assert_eq!(cli.herd.places, PlacesKind::Google);
        assert!(cli.headless);
        let cli = Cli::try_parse_from(["herdctl", "tour", "--step", "--seed", "3"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Tour { step: true, .. })));
        assert_eq!(cli.herd_args().unwrap().seed, Some(3));

        // Before the subcommand they would be the dashboard's: refused, not ignored.
        let err = Cli::try_parse_from(["herdctl", "--seed", "7", "serve", "Bona"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict, "{err}");
        // Subcommands that run no herd take no herd flags.
        for args in [
            &["herdctl", "topology", "--seed", "7"][..],
            &["herdctl", "replay", "x.ndjson", "--link-delay", "1s"],
            &["herdctl", "export", "svg", "x.ndjson", "-t", "ring:3"],
            &["herdctl", "bench", "--log-dir", "none"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
        let cli = Cli::try_parse_from(["herdctl", "topology", "-t", "ring:3", "--base-port", "0"]);
        assert!(cli.unwrap().herd_args().is_none());
    }

    #[test]
    fn every_duration_flag_says_what_a_duration_looks_like() {
        for flag in
            ["--link-delay", "--link-stall", "--max-future", "--places-timeout", "--hop-time"]
        {
            let err = Cli::try_parse_from(["herdctl", flag, "banana"]).unwrap_err().to_string();
            assert!(err.contains("expected a duration such as 300ms, 1.5s or 2m"), "{err}");
            assert!(err.contains(flag) && err.contains("'banana'"), "{err}");
        }
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn log_sizes_take_plain_bytes_and_units() {
        for (text, size) in [
            ("1048576", 1 << 20),
            ("64MiB", 64 << 20),
            ("10MB", 10_000_000),
            ("10 kb", 10_000),
            ("2GiB", 2 << 30),
            ("512B", 512),
        ] {
            assert_eq!(parse_size(text), Ok(size), "{text}");
        }
        for text in ["", "MiB", "0", "1.5MiB", "10 parsecs", "-1", "99999999999GiB"] {
            assert!(parse_size(text).is_err(), "{text}");
        }
        let cli = Cli::try_parse_from(["herdctl", "--log-dir", "none"]).unwrap();
        assert_eq!(cli.herd.log_directory(), None);
        assert_eq!(cli.herd.log_max_size, 64 << 20);
        let cli = Cli::try_parse_from(["herdctl", "--log-dir", "./none"]).unwrap();
        assert_eq!(cli.herd.log_directory(), Some(Path::new("./none")));
    }

    #[test]
    fn max_future_is_off_unless_given() {
        let cli = Cli::try_parse_from(["herdctl", "-t", "ring:3"]).unwrap();
        assert_eq!(cli.herd.herd_config().unwrap().max_future, None);
        let cli = Cli::try_parse_from(["herdctl", "--max-future", "1h 30m"]).unwrap();
        let max = cli.herd.herd_config().unwrap().max_future;
        assert_eq!(max, Some(Duration::from_secs(5400)));
        assert!(Cli::try_parse_from(["herdctl", "--max-future", "soon"]).is_err());
    }

    #[test]
    fn policy_and_seed_flags() {
        let cli = Cli::try_parse_from(["herdctl", "--policy", "storm ttl=3", "--seed", "9"]);
        let config = cli.unwrap().herd.herd_config().unwrap();
        assert_eq!((config.policy, config.seed), (Policy::Storm { ttl: 3 }, 9));
        let cli = Cli::try_parse_from(["herdctl", "--policy", "gossip fanout=2"]).unwrap();
        assert_eq!(cli.herd.policy, Policy::Gossip { fanout: 2 });
        let err = Cli::try_parse_from(["herdctl", "--policy", "flood"]).unwrap_err().to_string();
        assert!(err.contains("flood"), "{err}");
        let a = Cli::try_parse_from(["herdctl"]).unwrap().herd.herd_config().unwrap().seed;
        let b = Cli::try_parse_from(["herdctl"]).unwrap().herd.herd_config().unwrap().seed;
        assert_ne!(a, b, "an unset seed is random");
        assert!(
            Cli::try_parse_from(["herdctl", "--control", "stdin"]).is_err(),
            "needs --headless"
        );
    }

    #[test]
    fn google_places_needs_a_key() {
        let cli = Cli::try_parse_from(["herdctl", "--places", "google"]).unwrap();
        assert!(matches!(cli.herd.api_key(None), Err(UsageError::MissingKey)));
        assert!(matches!(cli.herd.api_key(Some(String::new())), Err(UsageError::MissingKey)));
        assert_eq!(cli.herd.api_key(Some("from-env".into())).unwrap(), "from-env");
    }

    #[test]
    fn the_key_comes_from_a_file_trimmed_and_before_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "s3cret \r\n\n").unwrap();
        let file = path.to_str().unwrap();
        let cli = Cli::try_parse_from(["herdctl", "--places-key-file", file]).unwrap();
        assert_eq!(cli.herd.api_key(Some("from-env".into())).unwrap(), "s3cret");

        std::fs::write(&path, " \n").unwrap();
        let err = cli.herd.api_key(Some("from-env".into())).unwrap_err();
        assert!(matches!(err, UsageError::EmptyKeyFile { .. }), "{err}");
        assert!(err.to_string().contains(file), "{err}");

        let missing = dir.path().join("missing");
        let cli = Cli::try_parse_from(["herdctl", "--places-key-file", missing.to_str().unwrap()])
            .unwrap();
        let err = cli.herd.api_key(None).unwrap_err();
        assert!(matches!(err, UsageError::KeyFile { .. }), "{err}");
        assert!(err.to_string().contains("missing"), "{err}");

        let cli = Cli::try_parse_from(["herdctl", "--places-key", "flag"]).unwrap();
        assert_eq!(cli.herd.api_key(Some("from-env".into())).unwrap(), "flag");
    }

    #[test]
    fn the_key_flag_and_the_key_file_are_exclusive() {
        let both = ["herdctl", "--places-key", "k", "--places-key-file", "f"];
        let err = Cli::try_parse_from(both).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn help_prefers_the_file_or_the_environment_to_the_flag() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("--places-key-file <PATH>"), "{help}");
        assert!(help.contains("GOOGLE_PLACES_API_KEY"), "{help}");
        assert!(help.contains("/proc/PID/cmdline"), "{help}");
    }
}
