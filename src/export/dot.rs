//! The topology as Graphviz, with its faults: a link cut both ways is a red dashed line, a
//! link cut one way a red dashed arrow in the cut direction beside a plain one; loss, delay
//! and dup are written on the link (per direction when they differ); a stopped server is
//! grey, a hung one blue.

use std::fmt::Write as _;

use super::{Faults, fault_labels, name};
use crate::herd::LinkFaultsView;
use crate::herd::control::Directed;
use crate::trace::Trace;

/// Graphviz (`dot`) text of a herd: `names` by server id, `links` as `(a, b)` pairs once each,
/// `faults` the state to draw.
pub fn dot(names: &[String], links: &[(usize, usize)], faults: &Faults) -> String {
    let mut out = String::from(
        "digraph herd {\n  layout=neato;\n  overlap=false;\n  splines=true;\n  \
         node [shape=ellipse, style=filled, fillcolor=white, fontname=\"Helvetica\"];\n  \
         edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (id, server) in names.iter().enumerate() {
        let mut attrs = Vec::new();
        if faults.down.contains(&id) {
            attrs.push("fillcolor=grey70, fontcolor=grey30, color=grey50".to_owned());
            attrs.push(format!("tooltip={}", quote(&format!("{server}: stopped"))));
        } else if faults.hung.contains(&id) {
            attrs.push("fillcolor=lightblue, color=blue, penwidth=2".to_owned());
            attrs.push(format!("tooltip={}", quote(&format!("{server}: hung"))));
        }
        let _ = write!(out, "  {}", quote(server));
        if !attrs.is_empty() {
            let _ = write!(out, " [{}]", attrs.join(", "));
        }
        out.push_str(";\n");
    }
    for &(a, b) in links {
        let ab = faults.link(Directed::new(a, b));
        let ba = faults.link(Directed::new(b, a));
        let (na, nb) = (quote(&name(names, a)), quote(&name(names, b)));
        if ab == ba {
            let _ = writeln!(out, "  {na} -> {nb} [{}];", edge_attrs(&ab, false));
        } else {
            let _ = writeln!(out, "  {na} -> {nb} [{}];", edge_attrs(&ab, true));
            let _ = writeln!(out, "  {nb} -> {na} [{}];", edge_attrs(&ba, true));
        }
    }
    out.push_str("}\n");
    out
}

/// [`dot`] of a trace's herd, in the state the trace ends in.
pub fn dot_from_trace(trace: &Trace) -> String {
    dot(&trace.header.servers, &trace.header.links, &Faults::at_end(trace))
}

/// The attributes of one edge: `directed` when it stands for one direction only.
fn edge_attrs(view: &LinkFaultsView, directed: bool) -> String {
    let mut attrs = Vec::new();
    if !directed {
        attrs.push("dir=none".to_owned());
    }
    if view.cut {
        attrs.push("color=red, fontcolor=red, style=dashed".to_owned());
    } else if !view.is_clear() {
        attrs.push("color=darkorange, fontcolor=darkorange3".to_owned());
    } else if directed {
        attrs.push("color=grey40".to_owned());
    }
    let labels = fault_labels(view);
    if !labels.is_empty() {
        attrs.push(format!("label={}", quote(&labels.join("\\n"))));
    }
    attrs.join(", ")
}

/// A DOT quoted string (`\n` sequences already in `text` are kept as line breaks).
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' if chars.peek() == Some(&'n') => out.push('\\'),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::sample;

    #[test]
    fn draws_cuts_delays_and_stopped_servers() {
        let text = dot_from_trace(&sample::trace());
        print!("{text}");
        assert!(text.starts_with("digraph herd {"), "{text}");
        // B->C cut one way: two directed edges, the cut one red and dashed.
        assert!(
            text.contains("\"B\" -> \"C\" [color=red, fontcolor=red, style=dashed, label=\"cut\"]"),
            "{text}"
        );
        assert!(text.contains("\"C\" -> \"B\" [color=grey40]"), "{text}");
        assert!(text.contains("label=\"delay 50ms\""), "{text}");
        assert!(text.contains("\"C\" [fillcolor=grey70"), "{text}");
        assert!(text.trim_end().ends_with('}'));
    }

    #[test]
    fn a_link_alike_both_ways_is_one_undirected_edge() {
        let names = vec!["x\"y".to_owned(), "z".to_owned()];
        let mut faults = Faults::default();
        faults.hung.insert(1);
        for link in [Directed::new(0, 1), Directed::new(1, 0)] {
            faults.links.insert(link, LinkFaultsView { cut: true, ..LinkFaultsView::default() });
        }
        let text = dot(&names, &[(0, 1)], &faults);
        assert!(text.contains("\"x\\\"y\" -> \"z\" [dir=none, color=red"), "{text}");
        assert!(text.contains("\"z\" [fillcolor=lightblue"), "{text}");
    }
}
