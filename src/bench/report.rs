//! The bench's results: rows of absolute figures with the ratios herdctl ÷ asyncio and
//! herdctl ÷ echo (and, for parts whose baseline is herdctl itself in another state, herdctl
//! ÷ that baseline), the targets of docs/benchmarks.md judged against them, an aligned text
//! table and JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::baseline::{Kind, LinkDrops};
use super::connections::Connections;
use super::convergence::Convergence;
use super::faults::{self, FaultCost};
use super::frame::FrameTime;
use super::machine::Machine;
use super::memory::{self, Memory};
use super::record::{self, RecordCost};
use super::scale::{self, Scale};
use super::stall::{self, Stall};
use super::stream::StreamCost;
use super::throughput::{Measured, Run};

/// What the parts measured (empty or `None` for parts not run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Parts {
    pub iamat: Vec<Run>,
    pub whatsat: Vec<Run>,
    pub convergence: Vec<Convergence>,
    pub memory: Vec<Memory>,
    pub frame: Option<FrameTime>,
    pub connections: Vec<Connections>,
    pub scale: Vec<Scale>,
    pub stall: Option<Stall>,
    pub faults: Option<FaultCost>,
    pub record: Option<RecordCost>,
    pub stream: Option<StreamCost>,
}

/// Everything one bench run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub settings: serde_json::Value,
    pub rows: Vec<Row>,
    pub targets: Vec<Target>,
    #[serde(flatten)]
    pub parts: Parts,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub section: &'static str,
    pub name: String,
    pub unit: &'static str,
    pub herdctl: Option<f64>,
    pub asyncio: Option<f64>,
    pub echo: Option<f64>,
    pub vs_asyncio: Option<f64>,
    pub vs_echo: Option<f64>,
    /// herdctl measured the same way in a reference state (a healthy herd, the default herd),
    /// for parts that have no other system to compare with.
    pub baseline: Option<f64>,
    pub vs_baseline: Option<f64>,
    pub note: String,
}

impl Row {
    fn new(section: &'static str, name: String, unit: &'static str) -> Self {
        Self {
            section,
            name,
            unit,
            herdctl: None,
            asyncio: None,
            echo: None,
            vs_asyncio: None,
            vs_echo: None,
            baseline: None,
            vs_baseline: None,
            note: String::new(),
        }
    }

    fn baseline(mut self, baseline: Option<f64>) -> Self {
        self.vs_baseline = match (self.herdctl, baseline) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        self.baseline = baseline;
        self
    }

    fn values(mut self, herdctl: Option<f64>, asyncio: Option<f64>, echo: Option<f64>) -> Self {
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        self.vs_asyncio = ratio(herdctl, asyncio);
        self.vs_echo = ratio(herdctl, echo);
        self.herdctl = herdctl;
        self.asyncio = asyncio;
        self.echo = echo;
        self
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

/// Whether a target was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Met,
    Missed,
    /// Reported, with no pass or fail.
    Info,
    NotMeasured,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::Missed => "MISSED",
            Status::Info => "info",
            Status::NotMeasured => "not run",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub goal: &'static str,
    pub status: Status,
    pub detail: String,
}

/// Builds the rows and judges the targets.
pub fn build(machine: Machine, settings: serde_json::Value, parts: Parts) -> Report {
    let rows = rows(&parts);
    let targets = targets(&parts);
    Report { machine, settings, rows, targets, parts }
}

fn pick(run: &Run, kind: Kind, f: impl Fn(&Measured) -> Option<f64>) -> Option<f64> {
    run.of(kind).and_then(f)
}

fn triple(run: &Run, f: impl Fn(&Measured) -> Option<f64> + Copy) -> [Option<f64>; 3] {
    [pick(run, Kind::Herdctl, f), pick(run, Kind::Asyncio, f), pick(run, Kind::Echo, f)]
}

fn problems(run: &Run) -> String {
    let mut notes = Vec::new();
    for m in &run.systems {
        if m.errors > 0 {
            let first = m.first_error.as_deref().unwrap_or("");
            notes.push(format!("{} errors {} ({first})", m.system.label(), m.errors));
        }
        if let Some(dropped) = m.dropped.as_ref().filter(|d| !d.is_empty()) {
            let total: u64 = dropped.values().sum();
            let why: Vec<String> =
                dropped.iter().map(|(r, n)| format!("{r} {}", group(*n as f64))).collect();
            notes.push(format!(
                "{} dropped {} reports ({})",
                m.system.label(),
                group(total as f64),
                why.join(", ")
            ));
        }
        if m.system != Kind::Echo && m.sustained_rate.is_none() && m.replies > 0 {
            notes.push(format!("{} floods did not finish in time", m.system.label()));
        }
    }
    notes.join("; ")
}

/// How herdctl's reply rate moved from the first sixth of the run to the last.
fn trend(run: &Run) -> String {
    let Some(m) = run.of(Kind::Herdctl) else { return String::new() };
    match (m.timeline.first(), m.timeline.last()) {
        (Some(&first), Some(&last)) if m.timeline.len() > 1 => {
            format!("herdctl first→last sixth {}→{}", group(first), group(last))
        }
        _ => String::new(),
    }
}

fn join_notes(notes: &[String]) -> String {
    notes.iter().filter(|n| !n.is_empty()).cloned().collect::<Vec<_>>().join("; ")
}

fn rows(report: &Parts) -> Vec<Row> {
    let mut rows = Vec::new();
    throughput_rows(report, &mut rows);
    convergence_rows(report, &mut rows);
    memory_rows(report, &mut rows);
    frame_rows(report, &mut rows);
    connections_rows(report, &mut rows);
    scale_rows(report, &mut rows);
    stall_rows(report, &mut rows);
    fault_rows(report, &mut rows);
    record_rows(report, &mut rows);
    stream_rows(report, &mut rows);
    rows
}

fn record_rows(report: &Parts, rows: &mut Vec<Row>) {
    let Some(cost) = &report.record else { return };
    let section = "recording";
    let load = format!("IAMAT {} clients × {} pipelined, cs131", record::CLIENTS, record::WINDOW);
    rows.push(
        Row::new(section, format!("{load}, watched, not recorded (--control stdin)"), "req/s")
            .values(cost.watched.sustained_rate, None, None)
            .baseline(cost.plain.sustained_rate)
            .note("baseline: the same load, not watched; events built and broadcast, none read"),
    );
    let gaps = if cost.gaps == 0 {
        "no gap: every event recorded".to_owned()
    } else {
        format!("{} GAP RECORDS: the recorder fell behind", cost.gaps)
    };
    rows.push(
        Row::new(section, format!("{load}, recording every event (--record)"), "req/s")
            .values(cost.recorded.sustained_rate, None, None)
            .baseline(cost.plain.sustained_rate)
            .note(format!("baseline: the same load, not recorded; {gaps}")),
    );
    rows.push(
        Row::new(section, "trace bytes per event".to_owned(), "bytes")
            .values(cost.bytes_per_event(), None, None)
            .note(format!(
                "{} events, {} bytes",
                group(cost.events as f64),
                group(cost.bytes as f64)
            )),
    );
    let kinds: Vec<String> = cost
        .kinds
        .iter()
        .take(6)
        .map(|(kind, n)| format!("{kind} {:.1}", *n as f64 / cost.recorded.replies.max(1) as f64))
        .collect();
    rows.push(
        Row::new(section, "events recorded per IAMAT answered".to_owned(), "events")
            .values(cost.events_per_request(), None, None)
            .note(format!("most: {}", kinds.join(", "))),
    );
}

fn stream_rows(report: &Parts, rows: &mut Vec<Row>) {
    let Some(cost) = &report.stream else { return };
    let section = "event streaming";
    let load = format!("IAMAT {} clients × {} pipelined, cs131", record::CLIENTS, record::WINDOW);
    rows.push(
        Row::new(section, format!("{load}, --admin, no /events consumer"), "req/s")
            .values(cost.idle.sustained_rate, None, None)
            .baseline(cost.plain.sustained_rate)
            .note("baseline: the same load, no admin endpoint"),
    );
    let gaps = if cost.gaps == 0 {
        "no gap: the consumer saw every event".to_owned()
    } else {
        format!(
            "{} GAP LINES: the consumer missed {} events",
            group(cost.gaps as f64),
            group(cost.missed as f64)
        )
    };
    rows.push(
        Row::new(section, format!("{load}, --admin, one /events consumer"), "req/s")
            .values(cost.streamed.sustained_rate, None, None)
            .baseline(cost.plain.sustained_rate)
            .note(format!("baseline: the same load, no admin endpoint; {gaps}")),
    );
    rows.push(
        Row::new(section, "/events lines per IAMAT answered".to_owned(), "events")
            .values(cost.events_per_request(), None, None)
            .note(format!(
                "{} events, {} bytes per event",
                group(cost.events as f64),
                cost.bytes_per_event().map_or_else(|| "—".to_owned(), |b| format!("{b:.0}"))
            )),
    );
    rows.push(
        Row::new(section, "/events bytes per IAMAT answered".to_owned(), "bytes")
            .values(cost.bytes_per_request(), None, None)
            .note(format!("{} bytes", group(cost.bytes as f64))),
    );
}

fn fault_rows(report: &Parts, rows: &mut Vec<Row>) {
    let Some(cost) = &report.faults else { return };
    let section = "faults";
    let name = format!(
        "IAMAT {} clients × {} pipelined, cs131, with {}",
        faults::CLIENTS,
        faults::WINDOW,
        cost.faults.join(", ")
    );
    rows.push(
        Row::new(section, name, "req/s")
            .values(cost.faulted.sustained_rate, None, None)
            .baseline(cost.clean.sustained_rate)
            .note("baseline: the same load on a herd with no fault"),
    );
    let (from, to) = faults::LOSSY;
    let lossy: u64 = cost
        .drops
        .iter()
        .filter(|d| (d.from.as_str(), d.to.as_str()) == faults::LOSSY)
        .map(|d| d.count)
        .sum();
    let elsewhere = cost.dropped_elsewhere();
    let verdict = if elsewhere == 0 {
        "no other link dropped anything".to_owned()
    } else {
        format!("OTHER LINKS DROPPED REPORTS: {}", drop_list(cost.drops.iter()))
    };
    rows.push(
        Row::new(section, format!("reports dropped on {from}→{to}"), "reports")
            .values(Some(lossy as f64), None, None)
            .note(verdict),
    );
    rows.push(
        Row::new(section, "messages per update, with the faults".to_owned(), "msgs")
            .values(cost.faulted.messages_per_update, None, None)
            .baseline(cost.clean.messages_per_update),
    );
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn connections_rows(report: &Parts, rows: &mut Vec<Row>) {
    let of = |kind| report.connections.iter().find(|c| c.system == kind);
    let (herd, echo) = (of(Kind::Herdctl), of(Kind::Echo));
    let Some(any) = herd.or(echo) else { return };
    let section = "idle connections";
    let notes: Vec<String> = [herd, echo]
        .into_iter()
        .flatten()
        .map(|c| {
            let mut text = format!(
                "{} {} of {} held idle, RSS {:.1} → {:.1} MiB",
                c.system.label(),
                group(c.held() as f64),
                group(c.wanted as f64),
                mib(c.rss_start),
                mib(c.rss_loaded)
            );
            if let Some(error) = &c.error {
                let _ = write!(text, " ({error})");
            }
            text
        })
        .collect();
    rows.push(
        Row::new(section, format!("RSS per idle connection ({} to one server)", any.wanted), "B")
            .values(
                herd.and_then(Connections::per_connection),
                None,
                echo.and_then(Connections::per_connection),
            )
            .note(notes.join("; ")),
    );
    let notes: Vec<String> = [herd, echo]
        .into_iter()
        .flatten()
        .map(|c| {
            let release = c.release_secs.map_or("—".into(), seconds);
            format!(
                "{} RSS {:.1} MiB {} after, descriptors {}→{}→{} ({release} to close)",
                c.system.label(),
                mib(c.rss_after),
                seconds(c.memory_secs),
                c.fds_start,
                c.fds_loaded,
                c.fds_after
            )
        })
        .collect();
    let mut row = Row::new(section, "RSS after closing them, above the start".to_owned(), "%")
        .values(
            herd.map(Connections::after_close_pct),
            None,
            echo.map(Connections::after_close_pct),
        )
        .note(notes.join("; "));
    // A ratio of two percentages means nothing.
    row.vs_echo = None;
    rows.push(row);
}

fn scale_rows(report: &Parts, rows: &mut Vec<Row>) {
    let section = "scale (one process)";
    let base = report.scale.iter().find(|s| s.topology == scale::BASELINE);
    let with_base = |row: Row, f: &dyn Fn(&Scale) -> Option<f64>| {
        let baseline = base.and_then(f);
        row.baseline(baseline)
    };
    for s in report.scale.iter().filter(|s| s.topology != scale::BASELINE) {
        let shape = format!("{} ({} servers, {} links)", s.topology, s.servers, s.links);
        let error = s.error.as_deref().map(|e| {
            let e: String = e.chars().take(300).collect();
            e.replace('\n', " ")
        });
        if s.start_secs.is_none() {
            let note = format!("did not start: {}", error.unwrap_or_default());
            rows.push(Row::new(section, format!("{shape} start"), "ms").note(note));
            continue;
        }
        let ms = |v: Option<f64>| v.map(|v| v * 1e3);
        let started = Row::new(section, format!("{shape} start"), "ms")
            .values(ms(s.start_secs), None, None)
            .note(format!("baseline: {} measured the same way", scale::BASELINE));
        rows.push(with_base(started, &|b| ms(b.start_secs)));
        let rss = Row::new(section, format!("{shape} RSS after start"), "MiB").values(
            s.rss_start.map(mib),
            None,
            None,
        );
        rows.push(with_base(rss, &|b| b.rss_start.map(mib)));
        let per = Row::new(section, format!("{shape} RSS per server"), "KiB").values(
            s.rss_per_server().map(|v| v / 1024.0),
            None,
            None,
        );
        rows.push(with_base(per, &|b| b.rss_per_server().map(|v| v / 1024.0)));
        let converged = Row::new(section, format!("{shape} one IAMAT reaches every server"), "ms")
            .values(ms(s.converge_secs), None, None)
            .note(format!(
                "{}/{} servers confirmed{}",
                s.confirmed,
                s.servers,
                error.map(|e| format!("; {e}")).unwrap_or_default()
            ));
        rows.push(with_base(converged, &|b| ms(b.converge_secs)));
        let after = Row::new(section, format!("{shape} RSS after the update"), "MiB").values(
            s.rss_after.map(mib),
            None,
            None,
        );
        rows.push(with_base(after, &|b| b.rss_after.map(mib)));
    }
}

/// `Bailey→Bona neighbour stalled 1,234, …`, or `none`.
fn drop_list<'a>(drops: impl Iterator<Item = &'a LinkDrops>) -> String {
    let parts: Vec<String> = drops
        .map(|d| format!("{}→{} {} {}", d.from, d.to, d.reason, group(d.count as f64)))
        .collect();
    if parts.is_empty() { "none".to_owned() } else { parts.join(", ") }
}

fn stall_rows(report: &Parts, rows: &mut Vec<Row>) {
    let Some(st) = &report.stall else { return };
    let section = "frozen neighbour";
    let (healthy, stalled) = (&st.healthy, &st.stalled);
    let prefix = format!("{} stopped, one-shot IAMAT probe at {}", st.frozen_server, st.target);
    let probes = |r: &stall::StallRun| {
        let mut text = format!("{} probes", group(r.probes as f64));
        if r.probe_errors > 0 {
            let _ = write!(
                text,
                ", {} failed ({})",
                r.probe_errors,
                r.probe_first_error.as_deref().unwrap_or("")
            );
        }
        text
    };
    let note = format!(
        "every {:.0} ms for {}; stalled {}, healthy {}; baseline: no process stopped",
        st.probe_every_ms,
        seconds(st.duration_secs),
        probes(stalled),
        probes(healthy)
    );
    for (q, f) in [
        ("p50", (|r: &stall::StallRun| r.probe_p50_us) as fn(&stall::StallRun) -> Option<f64>),
        ("p99", |r| r.probe_p99_us),
        ("max", |r| r.probe_max_us),
    ] {
        let row = Row::new(section, format!("{prefix} {q}"), "µs")
            .values(f(stalled), None, None)
            .baseline(f(healthy));
        rows.push(if q == "p50" { row.note(note.clone()) } else { row });
    }
    let load_note = |r: &stall::StallRun| {
        if r.load_errors == 0 {
            String::new()
        } else {
            format!("{} errors ({})", r.load_errors, r.load_first_error.as_deref().unwrap_or(""))
        }
    };
    rows.push(
        Row::new(
            section,
            format!(
                "IAMAT load at {} ({} clients × {} pipelined, paced at {}/s)",
                st.target,
                st.clients,
                st.window,
                super::stall::LOAD_RATE
            ),
            "req/s",
        )
        .values(Some(stalled.load_rate), None, None)
        .baseline(Some(healthy.load_rate))
        .note(join_notes(&[load_note(stalled), load_note(healthy)])),
    );
    rows.push(
        Row::new(section, format!("reports dropped on links to {}", st.frozen_server), "reports")
            .values(Some(stalled.dropped_where(true) as f64), None, None)
            .baseline(Some(healthy.dropped_where(true) as f64))
            .note(drop_list(stalled.drops(true))),
    );
    let elsewhere = stalled.dropped_where(false);
    let verdict = if elsewhere == 0 {
        format!("no link not touching {} dropped anything", st.frozen_server)
    } else {
        format!(
            "LINKS NOT TOUCHING {} DROPPED REPORTS: {}",
            st.frozen_server,
            drop_list(stalled.drops(false))
        )
    };
    rows.push(
        Row::new(section, "reports dropped on every other link".to_owned(), "reports")
            .values(Some(elsewhere as f64), None, None)
            .baseline(Some(healthy.dropped_where(false) as f64))
            .note(verdict),
    );
}

fn throughput_rows(report: &Parts, rows: &mut Vec<Row>) {
    for run in &report.iamat {
        let label = format!("{} c={}", run.framing, run.clients);
        let [h, a, e] = triple(run, |m| m.sustained_rate);
        let drains: Vec<String> = run
            .systems
            .iter()
            .filter_map(|m| m.drain_secs.map(|d| format!("{} {}", m.system.label(), seconds(d))))
            .collect();
        let drains =
            if drains.is_empty() { String::new() } else { format!("drain {}", drains.join(", ")) };
        rows.push(
            Row::new("IAMAT", format!("{label} sustained"), "req/s").values(h, a, e).note(drains),
        );
        let [h, a, e] = triple(run, |m| Some(m.answer_rate));
        rows.push(
            Row::new("IAMAT", format!("{label} answer-only"), "req/s")
                .values(h, a, e)
                .note(join_notes(&[trend(run), problems(run)])),
        );
        let [h, a, e] = triple(run, |m| m.p50_us);
        rows.push(Row::new("IAMAT", format!("{label} p50"), "µs").values(h, a, e));
        let [h, a, e] = triple(run, |m| m.p99_us);
        rows.push(Row::new("IAMAT", format!("{label} p99"), "µs").values(h, a, e));
        let [h, a, _] = triple(run, |m| m.messages_per_update);
        rows.push(Row::new("IAMAT", format!("{label} messages/update"), "msg").values(h, a, None));
    }
    for run in &report.whatsat {
        let label = format!("{} c={}", run.framing, run.clients);
        let [h, a, e] = triple(run, |m| Some(m.answer_rate));
        rows.push(Row::new("WHATSAT", label.clone(), "req/s").values(h, a, e).note(problems(run)));
        let [h, a, e] = triple(run, |m| m.p50_us);
        rows.push(Row::new("WHATSAT", format!("{label} p50"), "µs").values(h, a, e));
        let [h, a, e] = triple(run, |m| m.p99_us);
        rows.push(Row::new("WHATSAT", format!("{label} p99"), "µs").values(h, a, e));
    }
}

fn convergence_rows(report: &Parts, rows: &mut Vec<Row>) {
    for c in &report.convergence {
        let shape = format!("{} ({} servers, {} links)", c.topology, c.servers, c.links);
        let mut note = format!("{}/{} updates converged", c.converged, c.updates);
        if c.lagged > 0 {
            let _ = write!(note, "; observer missed {} events", c.lagged);
        }
        rows.push(
            Row::new("flood convergence", format!("{shape} p50"), "µs")
                .values(c.p50_us, None, None)
                .note(note),
        );
        rows.push(
            Row::new("flood convergence", format!("{shape} p99"), "µs")
                .values(c.p99_us, None, None),
        );
        rows.push(
            Row::new("flood convergence", format!("{shape} messages/update"), "msg")
                .values(Some(c.messages_per_update), None, None)
                .note(format!("flooding rule predicts {}", c.expected_messages)),
        );
    }
}

fn memory_rows(report: &Parts, rows: &mut Vec<Row>) {
    let herd_mem = report.memory.iter().find(|m| m.system == Kind::Herdctl);
    let py_mem = report.memory.iter().find(|m| m.system == Kind::Asyncio);
    if herd_mem.is_some() || py_mem.is_some() {
        let kib = |v: Option<f64>| v.map(|v| v / 1024.0);
        let servers = herd_mem.or(py_mem).map_or(0, |m| m.idle_servers);
        rows.push(
            Row::new(
                "memory",
                format!("idle RSS per server ({} total ÷ {servers})", super::throughput::TOPOLOGY),
                "KiB",
            )
            .values(
                kib(herd_mem.map(Memory::idle_per_server)),
                kib(py_mem.map(Memory::idle_per_server)),
                None,
            )
            .note("asyncio: one process per server"),
        );
        if let Some(m) = herd_mem {
            let large = m.large_total.map(|t| t as f64 / m.large_servers.max(1) as f64);
            rows.push(
                Row::new(
                    "memory",
                    format!("idle RSS per server ({} total ÷ {})", memory::LARGE, m.large_servers),
                    "KiB",
                )
                .values(kib(large), None, None),
            );
            rows.push(
                Row::new(
                    "memory",
                    format!(
                        "idle RSS per extra server ({} − {})",
                        memory::LARGE,
                        super::throughput::TOPOLOGY
                    ),
                    "KiB",
                )
                .values(kib(m.per_extra_server()), None, None),
            );
        }
        let clients = |m: Option<&Memory>| {
            m.map(|m| format!("{} {} clients", m.system.label(), group(m.clients as f64)))
        };
        let note = [clients(herd_mem), clients(py_mem)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(
            Row::new(
                "memory",
                format!("RSS per stored client per server ({servers} servers)"),
                "B",
            )
            .values(
                herd_mem.and_then(Memory::per_stored_client),
                py_mem.and_then(Memory::per_stored_client),
                None,
            )
            .note(note),
        );
    }
}

fn frame_rows(report: &Parts, rows: &mut Vec<Row>) {
    if let Some(f) = &report.frame {
        let name = |q| {
            format!("{}×{}, {} servers, {} clients {q}", f.width, f.height, f.servers, f.clients)
        };
        let note = format!("{} frames", f.frames);
        rows.push(
            Row::new("dashboard frame", name("p50"), "ms")
                .values(Some(f.p50_ms), None, None)
                .note(note),
        );
        rows.push(Row::new("dashboard frame", name("p99"), "ms").values(
            Some(f.p99_ms),
            None,
            None,
        ));
        rows.push(
            Row::new("dashboard frame", "engine events taken in".to_owned(), "events/s")
                .values(Some(f.events_per_sec), None, None)
                .note("flood events of a 5-server line".to_owned()),
        );
    }
}

fn find<'a>(runs: &'a [Run], framing: &str, clients: usize) -> Option<&'a Run> {
    runs.iter().find(|r| r.framing == framing && r.clients == clients)
}

fn targets(report: &Parts) -> Vec<Target> {
    let mut targets = throughput_targets(report);
    latency_targets(report, &mut targets);
    other_targets(report, &mut targets);
    hard_targets(report, &mut targets);
    targets
}

/// The targets of the stall, scale and connections parts.
fn hard_targets(report: &Parts, targets: &mut Vec<Target>) {
    let stalled = report.stall.as_ref().map(|s| &s.stalled);
    targets.push(judge(
        "probe p99 < 10 ms at a server whose neighbour's process is stopped, under load",
        stalled.map(|r| (format!("{} probes", group(r.probes as f64)), r.probe_p99_us)).into_iter(),
        |v| v < 10_000.0,
        |v| format!("{:.2} ms", v / 1e3),
    ));
    targets.push(judge(
        "nothing dropped on links not touching the stopped server",
        stalled
            .map(|r| {
                let touching =
                    format!("({} dropped on its own links)", group(r.dropped_where(true) as f64));
                (touching, Some(r.dropped_where(false) as f64))
            })
            .into_iter(),
        |v| v == 0.0,
        |v| format!("{} dropped elsewhere", group(v)),
    ));
    let herd = report.connections.iter().find(|c| c.system == Kind::Herdctl);
    targets.push(judge(
        "≤ 4 KiB resident per idle connection",
        herd.map(|c| (format!("{} connections", group(c.held() as f64)), c.per_connection()))
            .into_iter(),
        |v| v <= 4096.0,
        |v| format!("{v:.0} B"),
    ));
    targets.push(judge(
        "resident memory within 10 % of the start after the idle connections close",
        herd.map(|c| {
            (
                format!("{:.1} → {:.1} MiB", mib(c.rss_start), mib(c.rss_after)),
                Some(c.after_close_pct()),
            )
        })
        .into_iter(),
        |v| v <= 10.0,
        |v| format!("{v:+.1} %"),
    ));
    let large: Vec<&Scale> =
        report.scale.iter().filter(|s| s.topology != scale::BASELINE).collect();
    let goal = "ring:2000 and grid:40x40 start in one process and one update reaches every server";
    targets.push(if large.is_empty() {
        Target { goal, status: Status::NotMeasured, detail: String::new() }
    } else {
        let ok = large.iter().all(|s| s.error.is_none() && s.converge_secs.is_some());
        let detail: Vec<String> = large
            .iter()
            .map(|s| match (s.start_secs, s.converge_secs) {
                (Some(start), Some(conv)) => format!(
                    "{} started in {}, converged in {}",
                    s.topology,
                    seconds(start),
                    seconds(conv)
                ),
                (Some(start), None) => {
                    format!("{} started in {}, did not converge", s.topology, seconds(start))
                }
                _ => format!("{} did not start", s.topology),
            })
            .collect();
        Target {
            goal,
            status: if ok { Status::Met } else { Status::Missed },
            detail: detail.join(", "),
        }
    });
}

/// herdctl's sustained rate over `other`'s in one run.
fn ratio_of(run: &Run, other: Kind) -> Option<f64> {
    let h = run.of(Kind::Herdctl)?.sustained_rate?;
    let o = run.of(other)?.sustained_rate?;
    (o > 0.0).then(|| h / o)
}

fn throughput_targets(report: &Parts) -> Vec<Target> {
    let mut targets = Vec::new();
    // Sustained throughput ≥ 10× the asyncio herd.
    let with_python: Vec<&Run> =
        report.iamat.iter().filter(|r| r.of(Kind::Asyncio).is_some()).collect();
    targets.push(judge(
        "sustained IAMAT ≥ 10× the asyncio herd at every concurrency and framing",
        with_python
            .iter()
            .map(|r| (format!("{} c={}", r.framing, r.clients), ratio_of(r, Kind::Asyncio))),
        |v| v >= 10.0,
        ratio,
    ));
    let per_command: Vec<&Run> =
        report.iamat.iter().filter(|r| r.framing == "per-command").collect();
    targets.push(judge(
        "per-command sustained IAMAT ≥ ½ the echo ceiling",
        per_command.iter().map(|r| (format!("c={}", r.clients), ratio_of(r, Kind::Echo))),
        |v| v >= 0.5,
        ratio,
    ));
    let persistent: Vec<&Run> = report.iamat.iter().filter(|r| r.framing == "pipelined").collect();
    let detail: Vec<String> = persistent
        .iter()
        .map(|r| {
            let msgs = r.of(Kind::Herdctl).and_then(|m| m.messages_per_update);
            // Every update is one client line in and `msgs` lines between servers: at best
            // the echo's rate of lines divided by that many.
            let adjusted = match (ratio_of(r, Kind::Echo), msgs) {
                (Some(v), Some(m)) => format!(
                    " ({} of the echo's lines ÷ {:.0} per update)",
                    ratio(v * (1.0 + m)),
                    1.0 + m
                ),
                _ => String::new(),
            };
            format!(
                "c={}: {} of the ceiling at {} messages/update{adjusted}",
                r.clients,
                ratio_of(r, Kind::Echo).map_or("—".into(), ratio),
                msgs.map_or("—".into(), |m| format!("{m:.1}"))
            )
        })
        .collect();
    targets.push(Target {
        goal: "pipelined sustained IAMAT as close to the echo ceiling as flooding allows",
        status: if detail.is_empty() { Status::NotMeasured } else { Status::Info },
        detail: detail.join("; "),
    });
    let dropped: Vec<(String, Option<f64>)> = report
        .iamat
        .iter()
        .filter_map(|r| {
            let m = r.of(Kind::Herdctl)?;
            let total = m.dropped.as_ref().map(|d| d.values().sum::<u64>() as f64);
            Some((format!("{} c={}", r.framing, r.clients), total))
        })
        .collect();
    targets.push(judge(
        "no report dropped under IAMAT load (every flood complete)",
        dropped.into_iter(),
        |v| v == 0.0,
        |v| format!("{} dropped", group(v)),
    ));
    targets
}

fn latency_targets(report: &Parts, targets: &mut Vec<Target>) {
    let p99 = |framing: &str, kind: Kind| {
        find(&report.iamat, framing, 16).and_then(|r| r.of(kind)?.p99_us)
    };
    targets.push(judge(
        "p99 IAMAT latency at 16 clients < 1 ms, persistent (each client waits for its reply)",
        [("c=16".to_owned(), p99("persistent", Kind::Herdctl))].into_iter(),
        |v| v < 1000.0,
        |v| format!("{v:.0} µs"),
    ));
    let vs_echo = match (p99("per-command", Kind::Herdctl), p99("per-command", Kind::Echo)) {
        (Some(h), Some(e)) if e > 0.0 => Some(h / e),
        _ => None,
    };
    targets.push(judge(
        "p99 IAMAT latency at 16 clients within 1.5× the echo's, per-command",
        [("herdctl ÷ echo".to_owned(), vs_echo)].into_iter(),
        |v| v <= 1.5,
        ratio,
    ));
}

fn other_targets(report: &Parts, targets: &mut Vec<Target>) {
    let default = report.convergence.iter().find(|c| c.topology == super::throughput::TOPOLOGY);
    targets.push(judge(
        "flood convergence p50 < 1 ms on the default herd",
        default.map(|c| (c.topology.clone(), c.p50_us)).into_iter(),
        |v| v < 1000.0,
        |v| format!("{v:.0} µs"),
    ));
    targets.push(ring_target(report));
    targets.push(judge(
        "event streaming (one /events consumer) at full IAMAT load costs ≤ 10 % of sustained \
         throughput",
        report
            .stream
            .as_ref()
            .map(|s| {
                let ratio = match (s.streamed.sustained_rate, s.plain.sustained_rate) {
                    (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                    _ => None,
                };
                ("streamed ÷ no endpoint".to_owned(), ratio)
            })
            .into_iter(),
        |v| v >= 0.9,
        ratio,
    ));
    let herd_mem = report.memory.iter().find(|m| m.system == Kind::Herdctl);
    targets.push(judge(
        "< 1 MiB resident per idle server (each server beyond the default herd)",
        herd_mem
            .map(|m| {
                (
                    format!("{} − {}", memory::LARGE, super::throughput::TOPOLOGY),
                    m.per_extra_server(),
                )
            })
            .into_iter(),
        |v| v < 1024.0 * 1024.0,
        |v| format!("{:.0} KiB", v / 1024.0),
    ));
    targets.push(judge(
        "< 300 bytes per stored client",
        herd_mem
            .map(|m| (format!("{} clients", group(m.clients as f64)), m.per_stored_client()))
            .into_iter(),
        |v| v < 300.0,
        |v| format!("{v:.0} B"),
    ));
}

/// `ring:500` converges every update and costs messages linear in its size.
fn ring_target(report: &Parts) -> Target {
    let goal = "ring:500 converges, messages per update linear in the ring's size";
    let ring = |n: &str| report.convergence.iter().find(|c| c.topology == n);
    let (Some(big), Some(small)) = (ring("ring:500"), ring("ring:50")) else {
        return Target { goal, status: Status::NotMeasured, detail: String::new() };
    };
    let per_server = |c: &Convergence| c.messages_per_update / c.servers as f64;
    let as_predicted = |c: &Convergence| {
        (c.messages_per_update / c.expected_messages.max(1) as f64 - 1.0).abs() < 0.01
    };
    let linear = (per_server(big) / per_server(small) - 1.0).abs() < 0.05
        && as_predicted(big)
        && as_predicted(small);
    let converged = big.converged == big.updates && big.updates > 0;
    Target {
        goal,
        status: if linear && converged { Status::Met } else { Status::Missed },
        detail: format!(
            "{}/{} converged; {:.1} messages/update on ring:500 vs {:.1} on ring:50 ({:.3} vs {:.3} per server)",
            big.converged,
            big.updates,
            big.messages_per_update,
            small.messages_per_update,
            per_server(big),
            per_server(small)
        ),
    }
}

/// Met when every measured case passes `ok`; cases without a figure are listed and ignored.
fn judge(
    goal: &'static str,
    cases: impl Iterator<Item = (String, Option<f64>)>,
    ok: impl Fn(f64) -> bool,
    show: impl Fn(f64) -> String,
) -> Target {
    let (mut measured, mut missed, mut parts) = (0, 0, Vec::new());
    for (name, value) in cases {
        match value {
            Some(v) => {
                measured += 1;
                if !ok(v) {
                    missed += 1;
                }
                parts.push(format!("{name} {}", show(v)));
            }
            None => parts.push(format!("{name} not measured")),
        }
    }
    let status = match (measured, missed) {
        (0, _) => Status::NotMeasured,
        (_, 0) => Status::Met,
        _ => Status::Missed,
    };
    Target { goal, status, detail: parts.join(", ") }
}

fn ratio(v: f64) -> String {
    if v >= 10.0 { format!("{v:.1}×") } else { format!("{v:.2}×") }
}

fn seconds(secs: f64) -> String {
    if secs < 1.0 { format!("{:.0} ms", secs * 1e3) } else { format!("{secs:.1} s") }
}

/// An integer with thousands separated by commas.
fn group(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

fn figure(v: Option<f64>, unit: &str) -> String {
    let Some(v) = v else { return "—".into() };
    match unit {
        "req/s" | "B" | "reports" => group(v),
        "msg" => format!("{v:.1}"),
        "ms" => format!("{v:.2}"),
        _ if v.abs() < 10.0 => format!("{v:.2}"),
        _ if v.abs() < 1000.0 => format!("{v:.1}"),
        _ => group(v),
    }
}

/// Whether any row has a baseline of herdctl itself (then the table has its two columns).
fn has_baseline(report: &Report) -> bool {
    report.rows.iter().any(|r| r.baseline.is_some())
}

/// The header, and the cells of `row`, in table order; the note is last.
fn columns(with_baseline: bool) -> Vec<&'static str> {
    let mut header = vec!["benchmark", "unit", "herdctl", "asyncio", "echo", "÷asyncio", "÷echo"];
    if with_baseline {
        header.extend(["baseline", "÷baseline"]);
    }
    header.push("note");
    header
}

fn cells(row: &Row, name: String, with_baseline: bool) -> Vec<String> {
    let mut cells = vec![
        name,
        row.unit.to_owned(),
        figure(row.herdctl, row.unit),
        figure(row.asyncio, row.unit),
        figure(row.echo, row.unit),
        row.vs_asyncio.map_or("—".into(), ratio),
        row.vs_echo.map_or("—".into(), ratio),
    ];
    if with_baseline {
        cells.push(figure(row.baseline, row.unit));
        cells.push(row.vs_baseline.map_or("—".into(), ratio));
    }
    cells.push(row.note.clone());
    cells
}

/// The report as an aligned text table followed by the targets.
pub fn table(report: &Report) -> String {
    let with_baseline = has_baseline(report);
    let header: Vec<String> = columns(with_baseline).into_iter().map(str::to_owned).collect();
    let last = header.len() - 1;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut sections = Vec::new();
    for row in &report.rows {
        if sections.last() != Some(&row.section) {
            sections.push(row.section);
            let mut cells = vec![String::new(); header.len()];
            cells[0] = format!("[{}]", row.section);
            rows.push(cells);
        }
        rows.push(cells(row, format!("  {}", row.name), with_baseline));
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "herdctl bench on {}", report.machine.summary());
    let line = |out: &mut String, row: &[String]| {
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i == last {
                out.push_str(cell);
            } else if (2..last).contains(&i) {
                let _ = write!(out, "{}{cell}  ", " ".repeat(pad));
            } else {
                let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(&mut out, &header);
    for row in &rows {
        line(&mut out, row);
    }
    out.push_str("\ntargets\n");
    for t in &report.targets {
        let detail = if t.detail.is_empty() { "—" } else { &t.detail };
        let _ = writeln!(out, "  {:<7}  {}: {detail}", t.status.label(), t.goal);
    }
    out
}

/// The rows as a Markdown table (for docs/benchmarks.md).
pub fn markdown(report: &Report) -> String {
    let with_baseline = has_baseline(report);
    let header = columns(with_baseline);
    let mut out = format!("| {} |\n|", header.join(" | "));
    for (i, _) in header.iter().enumerate() {
        out.push_str(if i < 2 || i == header.len() - 1 { " --- |" } else { " ---: |" });
    }
    out.push('\n');
    for row in &report.rows {
        let cells = cells(row, format!("{} {}", row.section, row.name), with_baseline);
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push_str("\n| target | status | figures |\n| --- | --- | --- |\n");
    for t in &report.targets {
        let _ = writeln!(out, "| {} | {} | {} |", t.goal, t.status.label(), t.detail);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_grouped_and_rounded() {
        assert_eq!(group(1_234_567.4), "1,234,567");
        assert_eq!(group(999.0), "999");
        assert_eq!(figure(Some(4.56789), "µs"), "4.57");
        assert_eq!(figure(Some(456.789), "µs"), "456.8");
        assert_eq!(figure(Some(45_678.9), "µs"), "45,679");
        assert_eq!(figure(None, "µs"), "—");
        assert_eq!(ratio(12.345), "12.3×");
        assert_eq!(ratio(0.456), "0.46×");
    }

    #[test]
    fn a_target_is_met_only_when_every_measured_case_passes() {
        let ok = |v: f64| v > 1.0;
        let cases = [("a".to_owned(), Some(2.0)), ("b".to_owned(), None)];
        assert_eq!(judge("t", cases.into_iter(), ok, ratio).status, Status::Met);
        let cases = [("a".to_owned(), Some(2.0)), ("b".to_owned(), Some(0.5))];
        assert_eq!(judge("t", cases.into_iter(), ok, ratio).status, Status::Missed);
        assert_eq!(judge("t", std::iter::empty(), ok, ratio).status, Status::NotMeasured);
    }
}
