//! A trace as a space-time (Lamport) diagram in SVG: one column per server, time running
//! down, an arrow per hop from the sender's `sent` to the receiver's `stored` or `duplicate`,
//! coloured by update. Time is scaled from `t_ns` logarithmically, so that a burst spreads
//! out and an idle stretch shrinks (one longer than [`IDLE_MARK_NS`] is marked with its
//! length). Drops are a red ✗ part way to their receiver, titled with their reason and fault;
//! controls and expiries are horizontal lines across the herd, server stops, restarts and
//! hangs marks on their column (whose lifeline is dotted while the server is down, blue
//! while hung). Every event is drawn: 100 000 render in well under a second.

use std::fmt::Write as _;

use super::{hops, hue, name, xml_escape};
use crate::herd::{EventKind, HerdEvent, ServerId};
use crate::trace::Trace;

/// An idle stretch at least this long is marked on the diagram with its length.
pub const IDLE_MARK_NS: u64 = 50_000_000;

const LEFT: f64 = 80.0;
const RIGHT: f64 = 220.0;
const TOP: f64 = 60.0;
const COLUMN: f64 = 130.0;
/// Vertical room every drawn event takes at least.
const STEP: f64 = 3.0;
/// The most an idle stretch adds.
const MAX_IDLE: f64 = 48.0;

/// The diagram of `trace`.
pub fn svg(trace: &Trace) -> String {
    let names = &trace.header.servers;
    let servers = names
        .len()
        .max(trace.events.iter().filter_map(|e| server_of(&e.kind)).max().map_or(0, |s| s + 1));
    let x = |server: ServerId| LEFT + COLUMN * (server as f64 + 0.5);
    let width = LEFT + COLUMN * servers as f64 + RIGHT;

    let (ys, idle, bottom) = layout(trace);
    let height = bottom + 40.0;

    let mut out = String::with_capacity(trace.events.len() * 160 + 4096);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"Helvetica, Arial, sans-serif\" \
         font-size=\"11\">\n<title>{} — {} events</title>\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"6\" \
         markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" \
         fill=\"context-stroke\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        xml_escape(&trace.header.topology),
        trace.events.len(),
    );
    // Column heads and lifelines.
    for server in 0..servers {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\" \
             font-size=\"13\">{}</text>",
            x(server),
            TOP - 25.0,
            xml_escape(&name(names, server)),
        );
    }
    lifelines(&mut out, trace, &ys, servers, height - 20.0, x);
    // Time axis: a label about every 100 px.
    let mut next_label = TOP;
    for (event, &y) in trace.events.iter().zip(&ys) {
        if y >= next_label && drawn(&event.kind) {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"end\" fill=\"grey\" \
                 font-size=\"9\">{:.3} ms</text>",
                LEFT - 8.0,
                event.t_ns as f64 / 1e6,
            );
            next_label = y + 100.0;
        }
    }
    for (y, dt) in idle {
        let _ = writeln!(
            out,
            "<g><title>idle {:.1} ms</title><line x1=\"{LEFT:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" \
             y2=\"{y:.1}\" stroke=\"#ccc\" stroke-dasharray=\"1,4\"/><text x=\"{:.1}\" \
             y=\"{:.1}\" fill=\"#999\" font-size=\"9\">≈ {:.1} ms idle</text></g>",
            dt as f64 / 1e6,
            width - RIGHT,
            width - RIGHT + 6.0,
            y + 3.0,
            dt as f64 / 1e6,
        );
    }
    arrows(&mut out, trace, &ys, x);
    // Points and marks.
    for (event, &y) in trace.events.iter().zip(&ys) {
        point(&mut out, event, y, names, width, x);
    }
    out.push_str("</svg>\n");
    out
}

/// Where each event sits (events not drawn take no room), the idle stretches to mark, and
/// the last height used.
fn layout(trace: &Trace) -> (Vec<f64>, Vec<(f64, u64)>, f64) {
    let mut ys = vec![TOP; trace.events.len()];
    let mut idle = Vec::new();
    let mut y = TOP;
    let mut last_t = trace.events.first().map_or(0, |e| e.t_ns);
    for (slot, event) in ys.iter_mut().zip(&trace.events) {
        if !drawn(&event.kind) {
            *slot = y;
            continue;
        }
        let dt = event.t_ns.saturating_sub(last_t);
        last_t = event.t_ns;
        let advance = (6.0 * (dt as f64 / 20_000.0).ln_1p()).min(MAX_IDLE);
        if dt >= IDLE_MARK_NS {
            idle.push((y + advance / 2.0, dt));
        }
        y += STEP + advance;
        *slot = y;
    }
    (ys, idle, y)
}

/// An arrow per hop received, a dashed stub per hop not.
fn arrows(out: &mut String, trace: &Trace, ys: &[f64], x: impl Fn(ServerId) -> f64) {
    let names = &trace.header.servers;
    for hop in hops(trace) {
        let HerdEvent { kind: EventKind::FloodSent { update, line, .. }, .. } =
            &trace.events[hop.sent]
        else {
            continue;
        };
        let colour = hue(update);
        let (x1, y1) = (x(hop.from), ys[hop.sent]);
        let _ = write!(
            out,
            "<g stroke=\"hsl({colour},70%,42%)\"><title>{} → {}: {}</title>",
            xml_escape(&name(names, hop.from)),
            xml_escape(&name(names, hop.to)),
            xml_escape(line),
        );
        if let Some(received) = hop.received {
            // The receiver can announce first; draw it no earlier than the send.
            let y2 = ys[received].max(y1);
            let _ = write!(
                out,
                "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{:.1}\" y2=\"{y2:.1}\" \
                 marker-end=\"url(#arrow)\"/>",
                x(hop.to),
            );
        } else {
            let x2 = x1 + (x(hop.to) - x1) * 0.5;
            let _ = write!(
                out,
                "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{:.1}\" \
                 stroke-dasharray=\"3,3\"/><text x=\"{x2:.1}\" y=\"{:.1}\" stroke=\"none\" \
                 fill=\"grey\">?</text>",
                y1 + 6.0,
                y1 + 10.0,
            );
        }
        out.push_str("</g>\n");
    }
}

/// Is this kind of event drawn (and given room)?
fn drawn(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::LocationStored { .. }
            | EventKind::FloodSuppressed { .. }
            | EventKind::FloodSent { .. }
            | EventKind::FloodDropped { .. }
            | EventKind::Controlled { .. }
            | EventKind::FaultExpired { .. }
            | EventKind::ServerStarted { .. }
            | EventKind::ServerStopped { .. }
            | EventKind::ServerHung { .. }
            | EventKind::LinkDropped { .. }
    )
}

/// The highest server id an event names, for sizing.
fn server_of(kind: &EventKind) -> Option<ServerId> {
    match kind {
        EventKind::ServerStarted { server, .. }
        | EventKind::ServerStopped { server }
        | EventKind::ServerHung { server, .. }
        | EventKind::LineIn { server, .. }
        | EventKind::LineOut { server, .. }
        | EventKind::LocationStored { server, .. }
        | EventKind::FloodSuppressed { server, .. }
        | EventKind::PlacesAnswered { server, .. } => Some(*server),
        EventKind::FloodQueued { from, to, .. }
        | EventKind::FloodDuplicated { from, to, .. }
        | EventKind::FloodHeld { from, to, .. }
        | EventKind::FloodReleased { from, to, .. }
        | EventKind::FloodSent { from, to, .. }
        | EventKind::FloodDropped { from, to, .. }
        | EventKind::LinkUp { from, to }
        | EventKind::LinkDropped { from, to, .. }
        | EventKind::LinkStalled { from, to }
        | EventKind::LinkRecovered { from, to } => Some((*from).max(*to)),
        EventKind::LinkFaults { link, .. } => Some(link.from.max(link.to)),
        EventKind::Controlled { .. } | EventKind::FaultExpired { .. } => None,
    }
}

/// Each server's lifeline: solid while up, dotted while stopped, blue while hung.
fn lifelines(
    out: &mut String,
    trace: &Trace,
    ys: &[f64],
    servers: usize,
    bottom: f64,
    x: impl Fn(ServerId) -> f64,
) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Up,
        Down,
        Hung,
    }
    let mut state = vec![(State::Up, TOP - 12.0); servers];
    let segment = |out: &mut String, server: ServerId, from: (State, f64), to: f64| {
        let style = match from.0 {
            State::Up => "stroke=\"#888\"",
            State::Down => "stroke=\"#bbb\" stroke-dasharray=\"2,4\"",
            State::Hung => "stroke=\"#3a6fd8\" stroke-width=\"3\"",
        };
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{to:.1}\" {style}/>",
            x(server),
            from.1,
        );
    };
    for (event, &y) in trace.events.iter().zip(ys) {
        let (server, next) = match event.kind {
            EventKind::ServerStopped { server } => (server, State::Down),
            EventKind::ServerStarted { server, .. } => (server, State::Up),
            EventKind::ServerHung { server, hung } => {
                (server, if hung { State::Hung } else { State::Up })
            }
            _ => continue,
        };
        let Some(current) = state.get_mut(server) else { continue };
        if current.0 != next {
            segment(out, server, *current, y);
            *current = (next, y);
        }
    }
    for (server, current) in state.into_iter().enumerate() {
        segment(out, server, current, bottom);
    }
}

/// The mark of one event at height `y`.
fn point(
    out: &mut String,
    event: &HerdEvent,
    y: f64,
    names: &[String],
    width: f64,
    x: impl Fn(ServerId) -> f64,
) {
    let t_ms = event.t_ns as f64 / 1e6;
    match &event.kind {
        EventKind::LocationStored { server, update, line, from } => {
            let (r, stroke) = if from.is_none() { (4.5, "black") } else { (3.5, "none") };
            let _ = writeln!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"{r}\" fill=\"hsl({},70%,42%)\" \
                 stroke=\"{stroke}\"><title>{t_ms:.3} ms #{}: {} stored {}{}</title></circle>",
                x(*server),
                hue(update),
                event.seq,
                xml_escape(&name(names, *server)),
                xml_escape(line),
                if from.is_none() { " (from a client)" } else { "" },
            );
        }
        EventKind::FloodSuppressed { server, update, .. } => {
            let _ = writeln!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"white\" \
                 stroke=\"hsl({},70%,42%)\"><title>{t_ms:.3} ms #{}: {} already had {}</title>\
                 </circle>",
                x(*server),
                hue(update),
                event.seq,
                xml_escape(&name(names, *server)),
                xml_escape(&update.to_string()),
            );
        }
        EventKind::FloodDropped { from, to, update, reason, fault } => {
            let (x1, x2) = (x(*from), x(*from) + (x(*to) - x(*from)) * 0.35);
            let _ = writeln!(
                out,
                "<g><title>{t_ms:.3} ms #{}: {} → {} {} dropped: {}{}</title><line \
                 x1=\"{x1:.1}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\" \
                 stroke=\"hsl({},70%,42%)\" stroke-dasharray=\"2,2\"/><text x=\"{x2:.1}\" \
                 y=\"{:.1}\" text-anchor=\"middle\" fill=\"red\" font-size=\"13\">✗</text></g>",
                event.seq,
                xml_escape(&name(names, *from)),
                xml_escape(&name(names, *to)),
                xml_escape(&update.to_string()),
                reason.as_str(),
                fault.as_deref().map(|f| format!(" ({})", xml_escape(f))).unwrap_or_default(),
                hue(update),
                y + 4.5,
            );
        }
        EventKind::Controlled { text, .. } => rule(out, y, width, "#555", event.seq, t_ms, text),
        EventKind::FaultExpired { label } => {
            rule(out, y, width, "#2a8f3a", event.seq, t_ms, &format!("expired: {label}"));
        }
        EventKind::ServerStarted { server, .. } => {
            tick(out, x(*server), y, "#2a8f3a", &format!("{} up", name(names, *server)));
        }
        EventKind::ServerStopped { server } => {
            tick(out, x(*server), y, "#555", &format!("{} down", name(names, *server)));
        }
        EventKind::ServerHung { server, hung } => {
            let what = if *hung { "hung" } else { "thawed" };
            tick(out, x(*server), y, "#3a6fd8", &format!("{} {what}", name(names, *server)));
        }
        EventKind::LinkDropped { from, to, reason } => {
            let (x1, x2) = (x(*from), x(*from) + (x(*to) - x(*from)) * 0.2);
            let _ = writeln!(
                out,
                "<g><title>{t_ms:.3} ms: link {} → {} down: {}</title><line x1=\"{x1:.1}\" \
                 y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\" stroke=\"darkorange\" \
                 stroke-width=\"2\"/></g>",
                xml_escape(&name(names, *from)),
                xml_escape(&name(names, *to)),
                xml_escape(reason),
            );
        }
        _ => {}
    }
}

/// A horizontal line across the herd, labelled at the right.
fn rule(out: &mut String, y: f64, width: f64, colour: &str, seq: u64, t_ms: f64, text: &str) {
    let _ = writeln!(
        out,
        "<g><title>{t_ms:.3} ms #{seq}: {text}</title><line x1=\"{LEFT:.1}\" y1=\"{y:.1}\" \
         x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-dasharray=\"6,3\"/><text \
         x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{text}</text></g>",
        width - RIGHT,
        width - RIGHT + 6.0,
        y + 4.0,
        text = xml_escape(text),
    );
}

/// A short horizontal mark on one column, labelled beside it.
fn tick(out: &mut String, x: f64, y: f64, colour: &str, text: &str) {
    let _ = writeln!(
        out,
        "<g><line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" \
         stroke-width=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\" \
         font-size=\"9\">{}</text></g>",
        x - 10.0,
        x + 10.0,
        x + 12.0,
        y + 3.0,
        xml_escape(text),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample;

    #[test]
    fn draws_hops_drops_controls_and_stops() {
        let text = svg(&sample::trace());
        print!("{text}");
        assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(text.matches("marker-end=\"url(#arrow)\"").count(), 2, "two hops");
        assert_eq!(text.matches(">✗</text>").count(), 1, "one drop");
        assert!(text.contains("dropped: link cut (cut B-&gt;C)"), "{text}");
        assert!(text.contains("cut B-&gt;C</text>"), "the control's rule");
        assert!(text.contains("C down"));
        assert!(text.trim_end().ends_with("</svg>"));
    }
}
