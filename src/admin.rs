//! The admin endpoint: one small HTTP server per process (`--admin HOST:PORT`) over every
//! herd server that process runs. It owns the flags, the loopback rule, the bearer-token check
//! and the routes:
//!
//! * `GET /metrics`: Prometheus text (see [`metrics`]).
//! * `GET /events`: the stamped event stream as NDJSON, live, resumable with `?since=SEQ`
//!   (see [`events`]).
//! * `GET /snapshot`: the herd's state as JSON.
//! * `POST /control`: one command line of the console's grammar, answered `ok …` (200) or
//!   `error …` (422); refused (403) unless `--admin-control`, and then only with the token of
//!   `--admin-token-file` as `Authorization: Bearer TOKEN` (401 otherwise).
//!
//! The endpoint never waits on the herd's behalf: it reads the herd's broadcast of events in a
//! task of its own, and a slow HTTP consumer only lags (and is told how many events it missed).
//! It serves no files and never writes the token or the Places key anywhere. Every response
//! names the version that answers ([`VERSION_HEADER`]).

mod events;
pub mod metrics;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::headless::Console;
use crate::herd::HerdHandle;
use events::Hub;
pub use events::{DEFAULT_RING, EventsQuery};
use metrics::HerdMetrics;

/// The admin endpoint's flags, shared by every face that runs a herd.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AdminArgs {
    /// Serve /metrics, /events, /snapshot and /control over HTTP on HOST:PORT, for every
    /// server this process runs (e.g. 127.0.0.1:9100; port 0 picks one). Off unless given.
    /// Loopback only, unless --admin-public.
    #[arg(long, value_name = "HOST:PORT")]
    pub admin: Option<String>,
    /// Let --admin listen on an address other than loopback (anyone who can reach it reads
    /// the herd's clients and events).
    #[arg(long, requires = "admin")]
    pub admin_public: bool,
    /// Accept POST /control on the admin endpoint (with the token of --admin-token-file).
    #[arg(long, requires_all = ["admin", "admin_token_file"])]
    pub admin_control: bool,
    /// The bearer token POST /control must carry, read from this file (trailing white space
    /// trimmed).
    #[arg(long, value_name = "PATH", requires = "admin_control")]
    pub admin_token_file: Option<PathBuf>,
}

/// What the endpoint may do.
#[derive(Clone, Default)]
pub struct AdminOptions {
    /// The bearer token `POST /control` needs; `None` refuses every control (403).
    pub control_token: Option<String>,
    /// Event lines kept to serve `?since=` (0: [`DEFAULT_RING`]).
    pub ring: usize,
}

impl std::fmt::Debug for AdminOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminOptions")
            .field("control", &self.control_token.is_some())
            .field("ring", &self.ring)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("--admin {addr}: not a HOST:PORT address ({reason})")]
    Address { addr: String, reason: String },
    #[error(
        "--admin {addr} is not a loopback address: anyone who reaches it reads the herd; \
         add --admin-public to mean it"
    )]
    NotLoopback { addr: String },
    #[error("--admin cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("--admin-token-file {}: {source}", path.display())]
    TokenFile { path: PathBuf, source: std::io::Error },
    #[error("--admin-token-file {} is empty", path.display())]
    EmptyToken { path: PathBuf },
}

/// A running endpoint; dropping it stops it (and ends every open `/events` stream).
#[derive(Debug)]
pub struct Admin {
    addr: SocketAddr,
    boot: Arc<str>,
    stop: CancellationToken,
}

impl Admin {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// This process's boot id, carried by every `/events` line.
    pub fn boot(&self) -> &str {
        &self.boot
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the endpoint `args` asks for, if any, and says where it listens on standard error.
pub async fn start(args: &AdminArgs, herd: &HerdHandle) -> Result<Option<Admin>, AdminError> {
    let Some(addr) = &args.admin else {
        return Ok(None);
    };
    let control_token = match (&args.admin_control, &args.admin_token_file) {
        (true, Some(path)) => Some(read_token(path)?),
        _ => None,
    };
    let listener = bind(addr, args.admin_public).await?;
    let options = AdminOptions { control_token, ring: DEFAULT_RING };
    let admin = serve(listener, herd.clone(), options);
    eprintln!("herdctl: admin endpoint on http://{} (boot {})", admin.addr(), admin.boot());
    Ok(Some(admin))
}

/// Reads the bearer token from `path`, trimmed.
fn read_token(path: &std::path::Path) -> Result<String, AdminError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| AdminError::TokenFile { path: path.to_path_buf(), source })?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(AdminError::EmptyToken { path: path.to_path_buf() });
    }
    Ok(token)
}

/// Binds `addr` (`HOST:PORT`), refusing any address that is not loopback unless `public`.
pub async fn bind(addr: &str, public: bool) -> Result<TcpListener, AdminError> {
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host(addr)
        .await
        .map_err(|err| AdminError::Address { addr: addr.to_owned(), reason: err.to_string() })?
        .collect();
    let Some(&first) = resolved.first() else {
        return Err(AdminError::Address {
            addr: addr.to_owned(),
            reason: "it names no address".to_owned(),
        });
    };
    if !public && !resolved.iter().all(|a| is_loopback(a.ip())) {
        return Err(AdminError::NotLoopback { addr: addr.to_owned() });
    }
    TcpListener::bind(first).await.map_err(|source| AdminError::Bind { addr: first, source })
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// What every route shares.
struct AdminState {
    herd: HerdHandle,
    hub: Arc<Hub>,
    metrics: Arc<HerdMetrics>,
    token: Option<String>,
    /// One control at a time, in order (and `why` answers from the events since start).
    console: Mutex<Console>,
}

/// Serves the admin routes on `listener` over `herd` until the returned [`Admin`] is dropped.
/// Must be called within a tokio runtime. The event fold starts before this returns: every
/// event the herd sends from now on is counted and kept for `?since=`.
pub fn serve(listener: TcpListener, herd: HerdHandle, options: AdminOptions) -> Admin {
    let stop = CancellationToken::new();
    let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let metrics = Arc::new(HerdMetrics::new(herd.names(), herd.topology()));
    let ring = if options.ring == 0 { DEFAULT_RING } else { options.ring };
    let hub = Hub::start(&herd, ring, metrics.clone(), stop.clone());
    let boot = hub.boot();
    let state = Arc::new(AdminState {
        console: Mutex::new(Console::new(&herd)),
        herd,
        hub,
        metrics,
        token: options.control_token,
    });
    let router = Router::new()
        .route("/metrics", get(get_metrics))
        .route("/events", get(get_events))
        .route("/snapshot", get(get_snapshot))
        .route("/control", post(post_control))
        .layer(axum::middleware::map_response(stamp_version))
        .with_state(state);
    let shutdown = stop.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(err) = served.await {
            tracing::warn!("admin endpoint stopped: {err}");
        }
    });
    Admin { addr, boot, stop }
}

type Shared = State<Arc<AdminState>>;

/// The header naming the herdctl version that answers, on every response (an attached
/// console warns when the servers it watches run different versions).
pub const VERSION_HEADER: &str = "x-herdctl-version";

/// On `POST /control` answers: `unchanged` when the control found nothing to change (its
/// text says why), else `said`.
pub const APPLIED_HEADER: &str = "x-herdctl-applied";

async fn stamp_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from_static(env!("CARGO_PKG_VERSION")));
    response
}

async fn get_metrics(State(state): Shared) -> Response {
    let snapshot = state.herd.snapshot();
    let extra = state.hub.stats();
    match state.metrics.encode(&snapshot, &extra) {
        Ok(text) => (
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            text,
        )
            .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("error encoding metrics: {err}\n"))
            .into_response(),
    }
}

async fn get_events(State(state): Shared, Query(query): Query<EventsQuery>) -> Response {
    state.hub.stream(&query)
}

async fn get_snapshot(State(state): Shared) -> Response {
    let snapshot = state.herd.snapshot();
    match serde_json::to_string(&snapshot) {
        Ok(mut json) => {
            json.push('\n');
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json)
                .into_response()
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("error {err}\n")).into_response(),
    }
}

async fn post_control(State(state): Shared, headers: HeaderMap, body: String) -> Response {
    let Some(token) = &state.token else {
        return (StatusCode::FORBIDDEN, "error control is off: start with --admin-control\n")
            .into_response();
    };
    let offered = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if !offered.is_some_and(|offered| same(offered.trim().as_bytes(), token.as_bytes())) {
        let why = if offered.is_some() { "a wrong bearer token" } else { "no bearer token" };
        tracing::warn!("admin: POST /control refused: {why}");
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            format!("error {why}\n"),
        )
            .into_response();
    }
    let mut lines = body.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "error send exactly one command line\n")
            .into_response();
    };
    tracing::info!("admin: POST /control {line:?}");
    let reply = state.console.lock().await.reply(&state.herd, line).await;
    let status = if reply.text.starts_with("ok") {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let applied = if reply.unchanged { "unchanged" } else { "said" };
    (status, [(APPLIED_HEADER, applied)], format!("{}\n", reply.text)).into_response()
}

/// Compares two secrets in time that depends only on their lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
