//! Topologies: the herd's servers, their ports and the "talks with" graph, loaded from TOML or
//! from a built-in preset, validated into a [`Topology`] (pure, table-tested).
//!
//! # File shape
//!
//! ```toml
//! [[server]]
//! name = "Bailey"
//! port = 12401            # 0 = pick a free port
//! neighbours = ["Bona", "Campbell"]
//! # host = "127.0.0.1"    # where it listens: the default; binding elsewhere must be explicit
//! # dial = "bailey"       # where its neighbours connect (default: `host`), looked up again
//! #                       # on every connect attempt, so a name may resolve only later
//! # admin = "bailey:9100" # its process's admin endpoint (`serve --admin`), for `attach`
//! # x = 0.0               # optional layout position for the dashboard,
//! # y = 1.0               # x and y given together or not at all
//! ```
//!
//! A name is at most 64 bytes of letters, digits, `.`, `_` and `-`, does not start with `.`
//! and is not a word the console's commands reserve (`all`): it names the server's log file.
//! `neighbours` may be left out. A link listed on one side only is enough: links are
//! symmetric. Unknown keys are rejected. Every error names the file, and where it can the line,
//! column and server.
//!
//! # Presets
//!
//! [`Topology::load`] first tries the spec as a preset (see [`preset_names`]); only when it is
//! not one does it read the spec as a file path (write `./ring` to read a file called `ring`).
//!
//! * `cs131`: the 2023 herd Bailey, Bona, Campbell, Clark, Jaquez.
//! * `cs131-2019`: the 2019 herd Goloman, Hands, Holiday, Welsh, Wilkes.
//! * `ring:N` (N >= 3; smaller rings are rejected, use `line:N`), `line:N`, `star:N` (`S1` is
//!   the hub), `full:N`, `grid:RxC` (R rows of C servers, numbered row-major, 4-neighbour
//!   links), `tree:N` (binary tree: `Si`'s children are `S(2i)` and `S(2i+1)`).
//!
//! Generated servers are named `S1..SN`; a preset's servers get ports `base_port`,
//! `base_port + 1`, … in order (with `base_port` 0 every server picks a free port), at most
//! [`MAX_PRESET_SERVERS`] of them, and layout positions with `x` and `y` in `[0, 1]`.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

mod presets;

pub use presets::{DEFAULT_BASE_PORT, MAX_PRESET_SERVERS, preset_names};

/// Host a server binds to when its entry names none.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// One server of the herd.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub name: String,
    /// Host to bind. Default `127.0.0.1`.
    pub host: String,
    /// Name or address its neighbours connect to, looked up on every connect attempt.
    /// Default: `host`.
    pub dial: String,
    /// `HOST:PORT` of the admin endpoint of the process that runs it (`serve --admin`), where
    /// `herdctl attach` reads its events and sends its controls. Optional.
    pub admin: Option<String>,
    /// 0 = pick a free port.
    pub port: u16,
    /// Indices into [`Topology::servers`] of this server's neighbours: symmetric, sorted, no
    /// duplicates, never itself.
    pub neighbours: Vec<usize>,
    /// Optional layout position for the dashboard (any unit; the view scales it). Presets use
    /// `[0, 1]`. Either both `x` and `y` are set or neither.
    pub x: Option<f64>,
    pub y: Option<f64>,
}

/// A validated herd: at least one server, unique names and non-zero ports, symmetric links.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub servers: Vec<ServerSpec>,
}

/// Where in a topology file something is: `origin:line:column` (1-based, column in
/// characters), or just `origin` when the position is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub origin: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl Location {
    /// The location of byte `offset` of `text`.
    fn at(text: &str, origin: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self {
            origin: origin.to_owned(),
            line: Some(u32::try_from(line).unwrap_or(u32::MAX)),
            column: Some(u32::try_from(column).unwrap_or(u32::MAX)),
        }
    }

    fn unknown(origin: &str) -> Self {
        Self { origin: origin.to_owned(), line: None, column: None }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// Which of a server's addresses: where it listens or where it is dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKey {
    Host,
    Dial,
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Host => "host",
            Self::Dial => "dial",
        })
    }
}

/// Why a topology could not be loaded. Messages name the file (with line and column where
/// known) and the server concerned, or the preset spec.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The topology file could not be read.
    #[error("cannot read topology file {}: {source}{}", path.display(), not_found_hint(source))]
    Io { path: PathBuf, source: std::io::Error },
    /// The text is not TOML, or not of the expected shape (unknown key, wrong type, …).
    #[error("{at}: invalid topology: {message}")]
    Toml { at: Location, message: String },
    /// No `[[server]]` entries at all.
    #[error("{origin}: empty herd: no [[server]] entries")]
    EmptyHerd { origin: String },
    /// A name that is empty, could not be sent in a protocol line, or is not a plain word
    /// that is safe as a file name (see [`RESERVED_NAMES`] and [`MAX_NAME_LEN`]).
    #[error("{at}: bad server name {name:?}: {problem}")]
    BadName { at: Location, name: String, problem: &'static str },
    /// Two servers with the same name.
    #[error("{at}: duplicate server name {name:?} (first defined on line {first_line})")]
    DuplicateName { at: Location, name: String, first_line: u32 },
    /// A `host` or `dial` that is empty or contains white space or control characters.
    #[error("{at}: server {server:?}: bad {key} {host:?}: {problem}")]
    BadHost { at: Location, server: String, key: HostKey, host: String, problem: &'static str },
    /// An `admin` that is not `HOST:PORT`.
    #[error("{at}: server {server:?}: bad admin {admin:?}: {problem}")]
    BadAdmin { at: Location, server: String, admin: String, problem: &'static str },
    /// A server entry without `port`.
    #[error("{at}: server {server:?}: missing `port` (use 0 to pick a free port)")]
    MissingPort { at: Location, server: String },
    /// Two servers with the same non-zero port on the same host.
    #[error(
        "{at}: server {server:?}: duplicate port {port} on {host} \
         (already used by server {other:?})"
    )]
    DuplicatePort { at: Location, server: String, other: String, host: String, port: u16 },
    /// A server listing itself as a neighbour.
    #[error("{at}: server {server:?} lists itself as a neighbour")]
    SelfLink { at: Location, server: String },
    /// A neighbour name that no server has.
    #[error("{at}: server {server:?}: unknown neighbour {neighbour:?}")]
    UnknownNeighbour { at: Location, server: String, neighbour: String },
    /// `x` without `y` or `y` without `x`.
    #[error("{at}: server {server:?}: `{given}` given without `{missing}` (give both or neither)")]
    HalfPosition { at: Location, server: String, given: &'static str, missing: &'static str },
    /// A layout coordinate that is NaN or infinite.
    #[error("{at}: server {server:?}: `{coordinate}` must be a finite number, not {value}")]
    BadPosition { at: Location, server: String, coordinate: &'static str, value: f64 },
    /// A malformed or out-of-range preset spec.
    #[error("bad preset {spec:?}: {problem}")]
    BadPreset { spec: String, problem: String },
    /// A preset whose ports would run past 65535.
    #[error(
        "preset {spec:?}: {count} servers from base port {base_port} need ports up to {}, \
         past 65535 (use a lower base port)",
        *base_port as usize + *count - 1
    )]
    PortOverflow { spec: String, base_port: u16, count: usize },
}

fn not_found_hint(source: &std::io::Error) -> String {
    if source.kind() == std::io::ErrorKind::NotFound {
        format!(" (and it is not a preset: {})", preset_names().join(", "))
    } else {
        String::new()
    }
}

/// The file shape, as read by serde.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    server: Vec<RawServer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    name: Spanned<String>,
    port: Option<Spanned<u16>>,
    #[serde(default)]
    neighbours: Vec<Spanned<String>>,
    host: Option<Spanned<String>>,
    dial: Option<Spanned<String>>,
    admin: Option<Spanned<String>>,
    x: Option<Spanned<f64>>,
    y: Option<Spanned<f64>>,
}

/// Words a server may not be named because the console's command grammar gives them a meaning
/// of their own (compared case-insensitively).
pub const RESERVED_NAMES: &[&str] = &["all"];

/// The longest server name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// What is wrong with a server name, if anything. A name becomes a log file name and a word
/// of console commands, so it is kept to letters, digits, `.`, `_` and `-`, does not start
/// with `.`, is at most [`MAX_NAME_LEN`] bytes and is not one of [`RESERVED_NAMES`].
fn name_problem(name: &str) -> Option<&'static str> {
    if let Some(problem) = word_problem(name) {
        Some(problem)
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 64 bytes")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        Some("only letters, digits, '.', '_' and '-' are allowed")
    } else if name.starts_with('.') {
        Some("it starts with '.'")
    } else if RESERVED_NAMES.iter().any(|word| name.eq_ignore_ascii_case(word)) {
        Some("it is a reserved word of the console's commands")
    } else {
        None
    }
}

/// What is wrong with a name or host, if anything.
fn word_problem(word: &str) -> Option<&'static str> {
    if word.is_empty() {
        Some("it is empty")
    } else if word.chars().any(char::is_whitespace) {
        Some("it contains white space")
    } else if word.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    }
}

/// What is wrong with a `host` (`dial` false) or a `dial` (`dial` true), if anything. A
/// host is a word; a dial is also only what a host name or an IP address is made of, since
/// other processes look it up.
fn host_problem(host: &str, dial: bool) -> Option<&'static str> {
    if let Some(problem) = word_problem(host) {
        Some(problem)
    } else if dial
        && !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'))
    {
        Some(
            "only letters, digits, '.', '-', '_', ':' and '%' are allowed (a host name or an IP address)",
        )
    } else if dial && host.matches(':').count() == 1 {
        Some("it holds a port: give the name or address alone (the port is the server's `port`)")
    } else {
        None
    }
}

/// What is wrong with an `admin` address, if anything: it is `HOST:PORT` (`[V6]:PORT` for an
/// IPv6 address), the host as a `dial` is, the port not 0.
pub fn admin_problem(admin: &str) -> Option<&'static str> {
    let Some((host, port)) = admin.rsplit_once(':') else {
        return Some("give HOST:PORT");
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if port.parse::<u16>().is_err() {
        Some("the port is not a number from 1 to 65535")
    } else if port.parse::<u16>() == Ok(0) {
        Some("the port is 0: give the port the endpoint listens on")
    } else if host.contains(':') && !admin.starts_with('[') {
        Some("write an IPv6 address in brackets: [::1]:9100")
    } else {
        host_problem(host, true)
    }
}

/// The text being parsed and the name of where it came from, for error locations.
#[derive(Clone, Copy)]
struct Source<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Source<'_> {
    fn at<T>(self, spanned: &Spanned<T>) -> Location {
        Location::at(self.text, self.origin, spanned.span().start)
    }

    fn toml_error(self, err: &toml::de::Error) -> ConfigError {
        let at = err.span().map_or_else(
            || Location::unknown(self.origin),
            |span| Location::at(self.text, self.origin, span.start),
        );
        let message = err
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError::Toml { at, message }
    }

    /// Checks names are well-formed and unique; returns the index of each.
    fn check_names(self, raw: &[RawServer]) -> Result<HashMap<&str, usize>, ConfigError> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, s) in raw.iter().enumerate() {
            let name = s.name.get_ref().as_str();
            if let Some(problem) = name_problem(name) {
                return Err(ConfigError::BadName {
                    at: self.at(&s.name),
                    name: name.to_owned(),
                    problem,
                });
            }
            if let Some(&first) = index.get(name) {
                return Err(ConfigError::DuplicateName {
                    at: self.at(&s.name),
                    name: name.to_owned(),
                    first_line: self.at(&raw[first].name).line.unwrap_or(0),
                });
            }
            index.insert(name, i);
        }
        Ok(index)
    }

    /// Checks hosts, ports and positions; returns the servers, not yet linked.
    fn servers(self, raw: &[RawServer]) -> Result<Vec<ServerSpec>, ConfigError> {
        let mut taken: HashMap<(&str, u16), usize> = HashMap::new();
        let mut servers = Vec::with_capacity(raw.len());
        for (i, s) in raw.iter().enumerate() {
            let name = s.name.get_ref().as_str();
            let host = self.host(name, HostKey::Host, s.host.as_ref())?.unwrap_or(DEFAULT_HOST);
            let dial = self.host(name, HostKey::Dial, s.dial.as_ref())?.unwrap_or(host);
            let Some(port_at) = &s.port else {
                return Err(ConfigError::MissingPort {
                    at: self.at(&s.name),
                    server: name.to_owned(),
                });
            };
            let port = *port_at.get_ref();
            if port != 0 {
                if let Some(&other) = taken.get(&(host, port)) {
                    return Err(ConfigError::DuplicatePort {
                        at: self.at(port_at),
                        server: name.to_owned(),
                        other: raw[other].name.get_ref().clone(),
                        host: host.to_owned(),
                        port,
                    });
                }
                taken.insert((host, port), i);
            }
            let (x, y) = self.position(s)?;
            let admin = match &s.admin {
                Some(admin) => match admin_problem(admin.get_ref()) {
                    Some(problem) => {
                        return Err(ConfigError::BadAdmin {
                            at: self.at(admin),
                            server: name.to_owned(),
                            admin: admin.get_ref().clone(),
                            problem,
                        });
                    }
                    None => Some(admin.get_ref().clone()),
                },
                None => None,
            };
            servers.push(ServerSpec {
                name: name.to_owned(),
                host: host.to_owned(),
                dial: dial.to_owned(),
                admin,
                port,
                neighbours: Vec::new(),
                x,
                y,
            });
        }
        Ok(servers)
    }

    /// A server's `host` or `dial` (`key`), if given and well-formed (see [`host_problem`]).
    fn host<'h>(
        self,
        server: &str,
        key: HostKey,
        value: Option<&'h Spanned<String>>,
    ) -> Result<Option<&'h str>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        match host_problem(value.get_ref(), key == HostKey::Dial) {
            Some(problem) => Err(ConfigError::BadHost {
                at: self.at(value),
                server: server.to_owned(),
                key,
                host: value.get_ref().clone(),
                problem,
            }),
            None => Ok(Some(value.get_ref().as_str())),
        }
    }

    /// A server's layout position: both coordinates finite, or neither given.
    fn position(self, s: &RawServer) -> Result<(Option<f64>, Option<f64>), ConfigError> {
        let server = s.name.get_ref();
        for (value, coordinate) in [(&s.x, "x"), (&s.y, "y")] {
            if let Some(v) = value
                && !v.get_ref().is_finite()
            {
                return Err(ConfigError::BadPosition {
                    at: self.at(v),
                    server: server.clone(),
                    coordinate,
                    value: *v.get_ref(),
                });
            }
        }
        let half = match (&s.x, &s.y) {
            (Some(x), Some(y)) => return Ok((Some(*x.get_ref()), Some(*y.get_ref()))),
            (None, None) => return Ok((None, None)),
            (Some(x), None) => (x, "x", "y"),
            (None, Some(y)) => (y, "y", "x"),
        };
        Err(ConfigError::HalfPosition {
            at: self.at(half.0),
            server: server.clone(),
            given: half.1,
            missing: half.2,
        })
    }

    /// Checks every neighbour is another known server; returns the links as listed.
    fn links(
        self,
        raw: &[RawServer],
        index: &HashMap<&str, usize>,
    ) -> Result<Vec<(usize, usize)>, ConfigError> {
        let mut links = Vec::new();
        for (i, s) in raw.iter().enumerate() {
            let name = s.name.get_ref().as_str();
            for n in &s.neighbours {
                let neighbour = n.get_ref().as_str();
                if neighbour == name {
                    return Err(ConfigError::SelfLink { at: self.at(n), server: name.to_owned() });
                }
                let Some(&j) = index.get(neighbour) else {
                    return Err(ConfigError::UnknownNeighbour {
                        at: self.at(n),
                        server: name.to_owned(),
                        neighbour: neighbour.to_owned(),
                    });
                };
                links.push((i, j));
            }
        }
        Ok(links)
    }
}

/// A TOML basic string holding `s`.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `v` rounded to 3 decimals (left alone if that would overflow), without negative zero.
fn round3(v: f64) -> f64 {
    let r = (v * 1000.0).round() / 1000.0;
    if r.is_finite() { r + 0.0 } else { v }
}

/// A TOML float literal for `v` rounded to 3 decimals.
fn float_literal(v: f64) -> String {
    format!("{:?}", round3(v))
}

impl Topology {
    /// Parse and validate TOML text; `origin` names the file in error messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let source = Source { text, origin };
        let raw: RawFile = toml::from_str(text).map_err(|e| source.toml_error(&e))?;
        if raw.server.is_empty() {
            return Err(ConfigError::EmptyHerd { origin: origin.to_owned() });
        }
        let index = source.check_names(&raw.server)?;
        let mut servers = source.servers(&raw.server)?;
        let links = source.links(&raw.server, &index)?;
        link_all(&mut servers, &links);
        Ok(Self { servers })
    }

    /// A preset (see [`preset_names`]) or else a path to a TOML file.
    pub fn load(spec: &str, base_port: u16) -> Result<Self, ConfigError> {
        if let Some(preset) = Self::preset(spec, base_port) {
            return preset;
        }
        let path = Path::new(spec);
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        Self::from_toml(&text, spec)
    }

    /// The topology as TOML in the file shape `from_toml` reads (each link listed once).
    ///
    /// Links appear on the lower-numbered server, `host` only when not [`DEFAULT_HOST`],
    /// `dial` only when not `host`, and positions rounded to 3 decimals.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let links = self.links().len();
        let _ = writeln!(
            out,
            "# herd topology: {} server{}, {links} link{}; links are symmetric, each listed once",
            self.servers.len(),
            if self.servers.len() == 1 { "" } else { "s" },
            if links == 1 { "" } else { "s" },
        );
        for (i, s) in self.servers.iter().enumerate() {
            let _ = writeln!(out, "\n[[server]]\nname = {}", quoted(&s.name));
            if s.host != DEFAULT_HOST {
                let _ = writeln!(out, "host = {}", quoted(&s.host));
            }
            if s.dial != s.host {
                let _ = writeln!(out, "dial = {}", quoted(&s.dial));
            }
            if let Some(admin) = &s.admin {
                let _ = writeln!(out, "admin = {}", quoted(admin));
            }
            let _ = writeln!(out, "port = {}", s.port);
            let later: Vec<String> = s
                .neighbours
                .iter()
                .filter(|&&j| j > i)
                .filter_map(|&j| self.servers.get(j))
                .map(|n| quoted(&n.name))
                .collect();
            if !later.is_empty() {
                let _ = writeln!(out, "neighbours = [{}]", later.join(", "));
            }
            if let Some(x) = s.x {
                let _ = writeln!(out, "x = {}", float_literal(x));
            }
            if let Some(y) = s.y {
                let _ = writeln!(out, "y = {}", float_literal(y));
            }
        }
        out
    }

    /// A herd of `names` joined by `links` (server indices), every server on the default
    /// host with port 0 and no position: the shape of a herd known only from a trace.
    pub fn from_links(names: &[String], links: &[(usize, usize)]) -> Self {
        let mut servers: Vec<ServerSpec> = names
            .iter()
            .map(|name| ServerSpec {
                name: name.clone(),
                host: DEFAULT_HOST.to_owned(),
                dial: DEFAULT_HOST.to_owned(),
                admin: None,
                port: 0,
                neighbours: Vec::new(),
                x: None,
                y: None,
            })
            .collect();
        link_all(&mut servers, links);
        Self { servers }
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }

    /// Every undirected link once, as `(a, b)` with `a < b`.
    pub fn links(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (a, server) in self.servers.iter().enumerate() {
            for &b in &server.neighbours {
                if a < b {
                    out.push((a, b));
                }
            }
        }
        out
    }
}

/// Adds every link in both directions, then sorts and deduplicates each neighbour list.
fn link_all(servers: &mut [ServerSpec], links: &[(usize, usize)]) {
    for &(a, b) in links {
        if a == b || a >= servers.len() || b >= servers.len() {
            continue;
        }
        servers[a].neighbours.push(b);
        servers[b].neighbours.push(a);
    }
    for s in servers {
        s.neighbours.sort_unstable();
        s.neighbours.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match Topology::from_toml(text, "herd.toml") {
            Ok(t) => panic!("expected an error, got {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    pub(super) fn names(t: &Topology, i: usize) -> Vec<&str> {
        t.servers[i].neighbours.iter().map(|&j| t.servers[j].name.as_str()).collect()
    }

    pub(super) fn check_invariants(t: &Topology) {
        for (i, s) in t.servers.iter().enumerate() {
            assert!(!s.neighbours.contains(&i), "{} links to itself", s.name);
            assert!(s.neighbours.windows(2).all(|w| w[0] < w[1]), "{}: unsorted", s.name);
            for &j in &s.neighbours {
                assert!(t.servers[j].neighbours.contains(&i), "asymmetric {i}-{j}");
            }
            assert_eq!(s.x.is_some(), s.y.is_some());
        }
    }

    #[test]
    fn parses_the_file_shape() {
        let text = r#"
[[server]]
name = "Bailey"
port = 12401
neighbours = ["Bona", "Campbell"]

[[server]]
name = "Bona"
port = 0
host = "0.0.0.0"
x = 0.25
y = -3

[[server]]
name = "Campbell"
port = 12403
"#;
        let t = Topology::from_toml(text, "herd.toml").unwrap();
        check_invariants(&t);
        assert_eq!(t.servers.len(), 3);
        assert_eq!(t.servers[0].host, DEFAULT_HOST);
        assert_eq!(t.servers[1].host, "0.0.0.0");
        assert_eq!(t.servers[1].port, 0);
        assert_eq!((t.servers[1].x, t.servers[1].y), (Some(0.25), Some(-3.0)));
        assert_eq!((t.servers[0].x, t.servers[0].y), (None, None));
        assert_eq!(names(&t, 0), ["Bona", "Campbell"]);
        assert_eq!(names(&t, 1), ["Bailey"]);
        assert_eq!(names(&t, 2), ["Bailey"]);
        assert_eq!(t.index_of("Campbell"), Some(2));
        assert_eq!(t.index_of("Nobody"), None);
    }

    #[test]
    fn links_are_symmetric_sorted_and_deduplicated() {
        let text = r#"
[[server]]
name = "C"
port = 1
neighbours = ["A"]
[[server]]
name = "A"
port = 2
neighbours = ["C", "B", "C"]
[[server]]
name = "B"
port = 3
neighbours = ["A"]
"#;
        let t = Topology::from_toml(text, "f").unwrap();
        check_invariants(&t);
        assert_eq!(t.servers[0].neighbours, [1]);
        assert_eq!(t.servers[1].neighbours, [0, 2]);
        assert_eq!(t.servers[2].neighbours, [1]);
        assert_eq!(t.links(), [(0, 1), (1, 2)]);
    }

    #[test]
    fn ports_may_repeat_when_zero_or_on_other_hosts() {
        let text = r#"
[[server]]
name = "A"
port = 0
[[server]]
name = "B"
port = 0
[[server]]
name = "C"
port = 5000
[[server]]
name = "D"
port = 5000
host = "127.0.0.2"
"#;
        assert_eq!(Topology::from_toml(text, "f").unwrap().servers.len(), 4);
    }

    #[test]
    #[allow(clippy::too_many_lines)]
    fn errors_name_file_line_and_server() {
        // (what, text, fragments the message must contain)
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "bad toml",
                "[[server]]\nname = \"A\"\nport = = 3\n",
                &["herd.toml:3:", "invalid topology"],
            ),
            (
                "unknown key",
                "[[server]]\nname = \"A\"\nport = 1\nneighbors = [\"B\"]\n",
                &["herd.toml:4:1", "unknown field `neighbors`"],
            ),
            (
                "unknown top-level table",
                "[[servers]]\nname = \"A\"\nport = 1\n",
                &["herd.toml:1:", "unknown field `servers`"],
            ),
            (
                "missing port",
                "[[server]]\nname = \"A\"\n",
                &["herd.toml:2:8", "server \"A\"", "missing `port`"],
            ),
            ("missing name", "[[server]]\nport = 1\n", &["herd.toml:1:", "missing field `name`"]),
            (
                "port out of range",
                "[[server]]\nname = \"A\"\nport = 70000\n",
                &["herd.toml:3:8", "invalid topology"],
            ),
            ("empty file", "", &["herd.toml: empty herd"]),
            ("comments only", "# nothing\n", &["herd.toml: empty herd"]),
            (
                "empty name",
                "[[server]]\nname = \"\"\nport = 1\n",
                &["herd.toml:2:8", "bad server name \"\"", "empty"],
            ),
            (
                "space in name",
                "[[server]]\nname = \"A\"\nport = 1\n[[server]]\nname = \"Bad Name\"\nport = 2\n",
                &["herd.toml:5:8", "\"Bad Name\"", "white space"],
            ),
            (
                "vertical tab in name",
                "[[server]]\nname = \"A\\u000Bb\"\nport = 1\n",
                &["herd.toml:2:", "white space"],
            ),
            (
                "tab in name",
                "[[server]]\nname = \"A\\tb\"\nport = 1\n",
                &["herd.toml:2:", "white space"],
            ),
            (
                "control character in name",
                "[[server]]\nname = \"A\\u0001\"\nport = 1\n",
                &["herd.toml:2:", "control character"],
            ),
            (
                "duplicate name",
                "[[server]]\nname = \"A\"\nport = 1\n\n[[server]]\nname = \"A\"\nport = 2\n",
                &["herd.toml:6:8", "duplicate server name \"A\"", "line 2"],
            ),
            (
                "duplicate port",
                "[[server]]\nname = \"A\"\nport = 7\n[[server]]\nname = \"B\"\nport = 7\n",
                &["herd.toml:6:8", "server \"B\"", "duplicate port 7 on 127.0.0.1", "server \"A\""],
            ),
            (
                "duplicate port, explicit default host",
                "[[server]]\nname = \"A\"\nport = 7\n\
                 [[server]]\nname = \"B\"\nhost = \"127.0.0.1\"\nport = 7\n",
                &["herd.toml:7:8", "duplicate port 7"],
            ),
            (
                "empty host",
                "[[server]]\nname = \"A\"\nhost = \"\"\nport = 7\n",
                &["herd.toml:3:8", "server \"A\"", "bad host"],
            ),
            (
                "self link",
                "[[server]]\nname = \"A\"\nport = 1\nneighbours = [\"A\"]\n",
                &["herd.toml:4:", "server \"A\" lists itself"],
            ),
            (
                "unknown neighbour",
                "[[server]]\nname = \"A\"\nport = 1\nneighbours = [\n  \"A2\",\n  \"Ghost\",\n]\n\
                 [[server]]\nname = \"A2\"\nport = 2\n",
                &["herd.toml:6:3", "server \"A\"", "unknown neighbour \"Ghost\""],
            ),
            (
                "x without y",
                "[[server]]\nname = \"A\"\nport = 1\nx = 0.5\n",
                &["herd.toml:4:5", "server \"A\"", "`x` given without `y`"],
            ),
            (
                "y without x",
                "[[server]]\nname = \"A\"\nport = 1\ny = 2\n",
                &["herd.toml:4:5", "server \"A\"", "`y` given without `x`"],
            ),
            (
                "non-finite x",
                "[[server]]\nname = \"A\"\nport = 1\nx = nan\ny = 0.0\n",
                &["herd.toml:4:5", "server \"A\"", "finite"],
            ),
        ];
        for (what, text, fragments) in cases {
            let message = err(text);
            for fragment in *fragments {
                assert!(message.contains(fragment), "{what}: {message:?} lacks {fragment:?}");
            }
            assert!(!message.contains('\n'), "{what}: multi-line message {message:?}");
        }
    }

    #[test]
    fn error_variants_carry_their_fields() {
        let e =
            Topology::from_toml("[[server]]\nname = \"A\"\nport = 1\nneighbours = [\"Z\"]\n", "t")
                .unwrap_err();
        match e {
            ConfigError::UnknownNeighbour { at, server, neighbour } => {
                assert_eq!((at.origin.as_str(), at.line, at.column), ("t", Some(4), Some(15)));
                assert_eq!((server.as_str(), neighbour.as_str()), ("A", "Z"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn to_toml_lists_each_link_once() {
        let t = Topology::load("cs131", DEFAULT_BASE_PORT).unwrap();
        let text = t.to_toml();
        assert!(text.starts_with('#'));
        assert_eq!(text.matches("[[server]]").count(), 5);
        assert!(
            text.contains("name = \"Bailey\"\nport = 12401\nneighbours = [\"Bona\", \"Campbell\"]")
        );
        assert!(text.contains("name = \"Jaquez\"\nport = 12405\nx ="));
        assert!(!text.contains("host"));
    }

    #[test]
    fn to_toml_keeps_hosts_quoted_and_rounds_positions() {
        let text = r#"
[[server]]
name = "q.b-s_1"
host = "odd\"ho\\st"
port = 9
x = 0.123456
y = -1e-9
[[server]]
name = "p"
port = 0
neighbours = ["q.b-s_1"]
"#;
        let t = Topology::from_toml(text, "f").unwrap();
        let out = t.to_toml();
        assert!(out.contains("host = \"odd\\\"ho\\\\st\""), "{out}");
        assert!(out.contains("x = 0.123\ny = 0.0\n"), "{out}");
        let back = Topology::from_toml(&out, "f").unwrap();
        assert_eq!(back.servers[0].name, "q.b-s_1");
        assert_eq!(back.servers[0].host, "odd\"ho\\st");
        assert_eq!(back.links(), t.links());
        assert_eq!(back.servers[1].x, None);
    }

    #[test]
    fn dial_defaults_to_host_and_prints_only_when_it_differs() {
        let text = r#"
[[server]]
name = "A"
port = 1
neighbours = ["B", "C"]
[[server]]
name = "B"
host = "0.0.0.0"
dial = "herd-b"
port = 2
[[server]]
name = "C"
host = "127.0.0.2"
dial = "127.0.0.2"
port = 3
[[server]]
name = "D"
dial = "::1"
port = 4
"#;
        let t = Topology::from_toml(text, "f").unwrap();
        let dials: Vec<_> = t.servers.iter().map(|s| (s.host.as_str(), s.dial.as_str())).collect();
        assert_eq!(
            dials,
            [
                (DEFAULT_HOST, DEFAULT_HOST),
                ("0.0.0.0", "herd-b"),
                ("127.0.0.2", "127.0.0.2"),
                (DEFAULT_HOST, "::1")
            ]
        );
        let out = t.to_toml();
        assert!(out.contains("host = \"0.0.0.0\"\ndial = \"herd-b\"\nport = 2"), "{out}");
        assert!(out.contains("host = \"127.0.0.2\"\nport = 3"), "{out}");
        assert!(out.contains("name = \"D\"\ndial = \"::1\"\nport = 4"), "{out}");
        assert_eq!(out.matches("dial").count(), 2, "{out}");
        assert_eq!(Topology::from_toml(&out, "f").unwrap(), t);
    }

    #[test]
    fn admin_is_host_and_port_printed_back() {
        let text = "[[server]]\nname = \"A\"\nport = 1\nadmin = \"a.example:9100\"\n";
        let t = Topology::from_toml(text, "herd.toml").unwrap();
        assert_eq!(t.servers[0].admin.as_deref(), Some("a.example:9100"));
        assert!(t.to_toml().contains("admin = \"a.example:9100\"\n"), "{}", t.to_toml());
        assert_eq!(admin_problem("[::1]:9100"), None);
        for (admin, problem) in [
            ("a.example", "HOST:PORT"),
            ("a:0", "port is 0"),
            ("a:99999", "not a number"),
            ("::1:9100", "brackets"),
            ("a b:1", "white space"),
        ] {
            let text = format!("[[server]]\nname = \"A\"\nport = 1\nadmin = {}\n", quoted(admin));
            let message = Topology::from_toml(&text, "herd.toml").unwrap_err().to_string();
            assert!(message.starts_with("herd.toml:4:9: server \"A\": bad admin "), "{message}");
            assert!(message.contains(problem), "{admin}: {message}");
        }
    }

    #[test]
    fn bad_dials_name_file_line_and_server() {
        for (dial, problem) in [
            ("", "empty"),
            ("a b", "white space"),
            ("a\u{1}", "control character"),
            ("herd-b:12401", "holds a port"),
            ("fe80::1%eth0", ""),
            ("http://herd-b", "only letters, digits"),
            ("[::1]", "only letters, digits"),
            ("caf\u{e9}", "only letters, digits"),
            ("a\\\"b", "only letters, digits"),
        ] {
            let text = format!("[[server]]\nname = \"A\"\nport = 1\ndial = {}\n", quoted(dial));
            if problem.is_empty() {
                // An IPv6 literal's colons (and zone) are allowed.
                assert!(Topology::from_toml(&text, "herd.toml").is_ok(), "{dial}");
                continue;
            }
            let message = err(&text);
            assert!(message.starts_with("herd.toml:4:8: server \"A\": bad dial "), "{message}");
            assert!(message.contains(problem), "{dial}: {message}");
        }
        let message = err("[[server]]\nname = \"A\"\nhost = \"a b\"\nport = 1\n");
        assert!(message.starts_with("herd.toml:3:8: server \"A\": bad host "), "{message}");
    }

    #[test]
    fn names_are_plain_words_safe_as_file_names() {
        let server = |name: &str| format!("[[server]]\nname = {}\nport = 1\n", quoted(name));
        let longest = "n".repeat(MAX_NAME_LEN);
        for good in ["Bailey", "S1", "a.b", "x_y-z", "a..b", "ALLx", "-dash", longest.as_str()] {
            let t = Topology::from_toml(&server(good), "herd.toml");
            assert_eq!(t.map(|t| t.servers[0].name.clone()).ok().as_deref(), Some(good));
        }
        let too_long = "n".repeat(MAX_NAME_LEN + 1);
        for (bad, problem) in [
            ("a/b", "only letters"),
            ("../../tmp/evil", "only letters"),
            ("/abs", "only letters"),
            ("a\\b", "only letters"),
            ("caf\u{e9}", "only letters"),
            ("q\"b", "only letters"),
            (".hidden", "starts with '.'"),
            ("..", "starts with '.'"),
            ("all", "reserved"),
            ("ALL", "reserved"),
            ("All", "reserved"),
            (too_long.as_str(), "longer than 64 bytes"),
        ] {
            let message = err(&format!("[[server]]\nname = \"A\"\nport = 2\n{}", server(bad)));
            assert!(message.starts_with("herd.toml:5:8: bad server name "), "{bad}: {message}");
            assert!(message.contains(&format!("{bad:?}")), "{bad}: {message}");
            assert!(message.contains(problem), "{bad}: {message}");
        }
    }

    #[test]
    fn load_reads_files_and_reports_unreadable_ones() {
        let path =
            std::env::temp_dir().join(format!("herd-config-test-{}.toml", std::process::id()));
        std::fs::write(&path, Topology::load("tree:5", 3000).unwrap().to_toml()).unwrap();
        let spec = path.to_str().unwrap();
        let t = Topology::load(spec, DEFAULT_BASE_PORT).unwrap();
        assert_eq!(t, Topology::load("tree:5", 3000).unwrap());

        std::fs::write(&path, "[[server]]\nname = \"A\"\nport = 1\nneighbours = [\"B\"]\n")
            .unwrap();
        let message = Topology::load(spec, DEFAULT_BASE_PORT).unwrap_err().to_string();
        assert!(message.starts_with(&format!("{spec}:4:")), "{message}");
        std::fs::remove_file(&path).unwrap();

        let e = Topology::load(spec, DEFAULT_BASE_PORT).unwrap_err();
        assert!(matches!(e, ConfigError::Io { .. }));
        let message = e.to_string();
        assert!(message.contains(spec) && message.contains("not a preset"), "{message}");

        let message = Topology::load("cs132", DEFAULT_BASE_PORT).unwrap_err().to_string();
        assert!(message.contains("cs132") && message.contains("cs131"), "{message}");
    }
}
