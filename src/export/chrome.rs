//! A trace as Chrome's Trace Event JSON (`{"traceEvents":[…]}`), which Perfetto and
//! `chrome://tracing` open: one thread per server, a short slice per `sent`, `stored` and
//! `duplicate`, an instant per drop, server stop/start/hang and link change, a global instant
//! per control and expiry, and a flow (`"ph":"s"` at the send, `"ph":"f"` at the receipt, one
//! id per hop) so that every hop is drawn as an arrow.
//!
//! Times are microseconds since the herd started. A receipt announced before its send (the
//! engine announces a send after the write) is placed at the send's time, so that no arrow
//! points back in time; its own time is in its `args`.

use serde_json::{Value, json};

use super::{hops, name};
use crate::herd::{EventKind, HerdEvent, ServerId};
use crate::trace::Trace;

const PID: u64 = 1;
/// Each slice's length, µs.
const SLICE_US: f64 = 1.0;

fn tid(server: ServerId) -> u64 {
    server as u64 + 1
}

fn us(t_ns: u64) -> f64 {
    t_ns as f64 / 1000.0
}

/// The slice or instant of one event at `ts` (µs), if it has one.
fn event_value(event: &HerdEvent, ts: f64, names: &[String]) -> Option<Value> {
    let base = |name: String, tid_of: ServerId, ph: &str, args: Value| {
        let mut value = json!({
            "name": name, "cat": "herd", "ph": ph, "ts": ts, "pid": PID,
            "tid": tid(tid_of), "args": args,
        });
        if ph == "X" {
            value["dur"] = json!(SLICE_US);
        } else {
            value["s"] = json!("t");
        }
        value
    };
    let seq = event.seq;
    let value = match &event.kind {
        EventKind::FloodSent { from, to, update, line } => base(
            format!("sent {update} → {}", name(names, *to)),
            *from,
            "X",
            json!({"seq": seq, "line": line}),
        ),
        EventKind::LocationStored { server, update, line, from } => base(
            format!("stored {update}{}", if from.is_none() { " (client)" } else { "" }),
            *server,
            "X",
            json!({"seq": seq, "line": line, "from": from.map(|f| name(names, f)),
                   "t_ns": event.t_ns}),
        ),
        EventKind::FloodSuppressed { server, update, from } => base(
            format!("duplicate {update}"),
            *server,
            "X",
            json!({"seq": seq, "from": from.map(|f| name(names, f)), "t_ns": event.t_ns}),
        ),
        EventKind::FloodDropped { from, to, update, reason, fault } => base(
            format!("✗ dropped {update} → {}", name(names, *to)),
            *from,
            "i",
            json!({"seq": seq, "reason": reason.as_str(), "fault": fault}),
        ),
        EventKind::ServerStarted { server, addr } => {
            base("server up".into(), *server, "i", json!({"seq": seq, "addr": addr.to_string()}))
        }
        EventKind::ServerStopped { server } => {
            base("server down".into(), *server, "i", json!({"seq": seq}))
        }
        EventKind::ServerHung { server, hung } => {
            base(if *hung { "hung" } else { "thawed" }.into(), *server, "i", json!({"seq": seq}))
        }
        EventKind::LinkUp { from, to } => {
            base(format!("link up → {}", name(names, *to)), *from, "i", json!({"seq": seq}))
        }
        EventKind::LinkDropped { from, to, reason } => base(
            format!("link down → {}", name(names, *to)),
            *from,
            "i",
            json!({"seq": seq, "reason": reason}),
        ),
        EventKind::Controlled { text, .. } => global(text, ts, seq),
        EventKind::FaultExpired { label } => global(&format!("expired: {label}"), ts, seq),
        _ => return None,
    };
    Some(value)
}

/// An instant across the whole process (a control, an expiry).
fn global(text: &str, ts: f64, seq: u64) -> Value {
    json!({
        "name": text, "cat": "control", "ph": "i", "s": "g",
        "ts": ts, "pid": PID, "tid": tid(0), "args": {"seq": seq},
    })
}

/// The Chrome Trace Event JSON of `trace`.
pub fn chrome_trace(trace: &Trace) -> String {
    let names = &trace.header.servers;
    let hops = hops(trace);
    // Where each receipt goes: no earlier than its send.
    let mut at: Vec<f64> = trace.events.iter().map(|e| us(e.t_ns)).collect();
    for hop in &hops {
        if let Some(received) = hop.received {
            at[received] = at[received].max(at[hop.sent]);
        }
    }
    let mut events = Vec::with_capacity(trace.events.len() + hops.len() * 2 + names.len() + 1);
    events.push(json!({
        "ph": "M", "pid": PID, "name": "process_name",
        "args": {"name": format!("herd {}", trace.header.topology)},
    }));
    for (id, server) in names.iter().enumerate() {
        events.push(json!({
            "ph": "M", "pid": PID, "tid": tid(id), "name": "thread_name",
            "args": {"name": server},
        }));
        events.push(json!({
            "ph": "M", "pid": PID, "tid": tid(id), "name": "thread_sort_index",
            "args": {"sort_index": id},
        }));
    }
    for (event, &ts) in trace.events.iter().zip(&at) {
        if let Some(value) = event_value(event, ts, names) {
            events.push(value);
        }
    }
    for (id, hop) in hops.iter().enumerate() {
        let Some(received) = hop.received else { continue };
        events.push(json!({
            "name": "hop", "cat": "flood", "ph": "s", "id": id, "ts": at[hop.sent],
            "pid": PID, "tid": tid(hop.from),
        }));
        events.push(json!({
            "name": "hop", "cat": "flood", "ph": "f", "bp": "e", "id": id, "ts": at[received],
            "pid": PID, "tid": tid(hop.to),
        }));
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample;

    #[test]
    fn slices_instants_and_a_flow_per_hop() {
        let text = chrome_trace(&sample::trace());
        println!("{text}");
        let value: Value = serde_json::from_str(&text).unwrap();
        let events = value["traceEvents"].as_array().unwrap();
        let of = |ph: &str| events.iter().filter(|e| e["ph"] == ph).collect::<Vec<_>>();
        assert_eq!(of("s").len(), 2);
        assert_eq!(of("f").len(), 2);
        assert_eq!(of("X").len(), 5, "two sends, two stores, one duplicate");
        let names: Vec<&str> = of("i").iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["cut B->C", "✗ dropped kiwi@1.5 → C", "server down"]);
        // The receipt announced first is moved to its send's time.
        let flow_end = of("f")[1];
        let flow_start = of("s")[1];
        assert_eq!(flow_end["ts"], flow_start["ts"]);
        assert_eq!((flow_start["tid"].as_u64(), flow_end["tid"].as_u64()), (Some(2), Some(1)));
    }
}
