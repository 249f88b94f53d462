//! Node positions for the topology pane.
//!
//! [`positions`] gives every server a point in the unit square `[0, 1] × [0, 1]`, with **x to
//! the right and y downwards** (screen order, as in the presets: `y = 0` is the top row). The
//! graph widget ([`super::graph`]) maps these points into its area the same way.
//!
//! * When every server has an explicit `x` and `y` (all presets do), those are used, scaled
//!   uniformly and centred so the longer side spans `[0, 1]` (aspect kept).
//! * Otherwise an automatic layout is computed: a circle for rings, complete graphs, graphs
//!   without links and herds of up to three; for everything else, stress majorization: points
//!   placed so that their distances match the hop counts between servers, started from a
//!   classical multidimensional scaling of those counts and turned so the layout's long axis
//!   runs across the screen (at most [`AUTO_MAX_NODES`] servers; larger herds go on a grid).
//!   No step uses randomness, so the same topology always gets the same picture.
//!
//! In both cases points closer than [`min_separation`] are then pushed apart, so no two nodes
//! land on top of each other.

use std::collections::VecDeque;
use std::f64::consts::TAU;

use crate::config::Topology;

/// Largest herd laid out from its links; larger ones (only possible from a file without
/// positions) are put on a square grid.
pub const AUTO_MAX_NODES: usize = 300;

/// Most rounds of stress majorization.
const STRESS_ROUNDS: usize = 300;

/// Rounds of power iteration per eigenvector in the classical scaling.
const POWER_ROUNDS: usize = 200;

/// Most rounds of the push-apart pass that enforces [`min_separation`].
const SEPARATION_ROUNDS: usize = 200;

/// Pair visits a pass may spend in all, so large herds still lay out in milliseconds.
const PAIR_BUDGET: usize = 20_000_000;

/// Rounds of an all-pairs pass over `n` points: at most `most`, fewer when the budget says so,
/// at least `least`.
fn rounds(n: usize, most: usize, least: usize) -> usize {
    let pairs = (n * n.saturating_sub(1) / 2).max(1);
    (PAIR_BUDGET / pairs).clamp(least, most)
}

/// The least distance between two nodes after layout, in unit-square units, for a herd of `n`.
///
/// About a third of the spacing of `n` points packed evenly in the unit square, and never
/// more than 0.12, so that evenly spread presets (a ring of 100, a 40×50 grid) are left alone.
pub fn min_separation(n: usize) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    (0.3 / (n as f64).sqrt()).min(0.12)
}

/// A point in `[0, 1] × [0, 1]` (x right, y down) for each server of `topology`, in order.
pub fn positions(topology: &Topology) -> Vec<(f64, f64)> {
    let n = topology.servers.len();
    let explicit: Option<Vec<(f64, f64)>> =
        topology.servers.iter().map(|s| Some((s.x?, s.y?))).collect();
    let mut points = match explicit {
        Some(points) => points,
        None => automatic(topology),
    };
    normalise(&mut points);
    separate(&mut points, min_separation(n));
    normalise(&mut points);
    points
}

/// Scales and shifts `points` uniformly so the longer side of their bounding box spans
/// `[0, 1]` and the shorter one is centred. A single point, or all equal, go to the centre.
/// Non-finite coordinates are treated as the centre.
pub fn normalise(points: &mut [(f64, f64)]) {
    for p in points.iter_mut() {
        if !p.0.is_finite() || !p.1.is_finite() {
            *p = (0.5, 0.5);
        }
    }
    let Some(&(x0, y0)) = points.first() else {
        return;
    };
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (x0, x0, y0, y0);
    for &(x, y) in points.iter() {
        min_x = min_x.min(x);
        max_x = max_x.max(x);
        min_y = min_y.min(y);
        max_y = max_y.max(y);
    }
    let span = (max_x - min_x).max(max_y - min_y);
    if span <= f64::EPSILON * (1.0 + min_x.abs().max(min_y.abs())) {
        points.fill((0.5, 0.5));
        return;
    }
    let off_x = (1.0 - (max_x - min_x) / span) / 2.0;
    let off_y = (1.0 - (max_y - min_y) / span) / 2.0;
    for p in points.iter_mut() {
        p.0 = ((p.0 - min_x) / span + off_x).clamp(0.0, 1.0);
        p.1 = ((p.1 - min_y) / span + off_y).clamp(0.0, 1.0);
    }
}

/// `i` of `n` on the circle of radius 0.5 round the centre, starting at the top, clockwise.
fn on_circle(i: usize, n: usize) -> (f64, f64) {
    let angle = TAU * i as f64 / n.max(1) as f64 - TAU / 4.0;
    (0.5 + 0.5 * angle.cos(), 0.5 + 0.5 * angle.sin())
}

/// An automatic layout, not yet normalised.
fn automatic(topology: &Topology) -> Vec<(f64, f64)> {
    let n = topology.servers.len();
    let links = topology.links();
    if n <= 3 || links.is_empty() || is_cycle(topology) || links.len() == n * (n - 1) / 2 {
        let mut points = vec![(0.5, 0.5); n];
        for (slot, server) in depth_first(topology).into_iter().enumerate() {
            points[server] = on_circle(slot, n);
        }
        return points;
    }
    if n > AUTO_MAX_NODES {
        let columns = (n as f64).sqrt().ceil() as usize;
        return (0..n).map(|i| ((i % columns) as f64, (i / columns) as f64)).collect();
    }
    let distances = hop_distances(topology);
    let start = classical_scaling(&distances, n).unwrap_or_else(|| {
        let mut points = vec![(0.5, 0.5); n];
        for (slot, server) in depth_first(topology).into_iter().enumerate() {
            points[server] = on_circle(slot, n);
        }
        points
    });
    let mut points = majorize(start, &distances, n);
    face_the_screen(&mut points);
    points
}

/// Whether the herd is one simple cycle (every server has two neighbours, all connected).
fn is_cycle(topology: &Topology) -> bool {
    let n = topology.servers.len();
    n >= 3
        && topology.servers.iter().all(|s| s.neighbours.len() == 2)
        && depth_first(topology).len() == n
}

/// Servers in depth-first order from server 0 (neighbours in index order), then any other
/// components the same way: walking a ring this way goes round it.
fn depth_first(topology: &Topology) -> Vec<usize> {
    let n = topology.servers.len();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut stack = Vec::new();
    for root in 0..n {
        if seen[root] {
            continue;
        }
        stack.push(root);
        while let Some(v) = stack.pop() {
            if seen[v] {
                continue;
            }
            seen[v] = true;
            order.push(v);
            for &w in topology.servers[v].neighbours.iter().rev() {
                if w < n && !seen[w] {
                    stack.push(w);
                }
            }
        }
    }
    order
}

/// Hops between every pair of servers, row-major `n × n`. Servers in different components
/// are put one hop further apart than the farthest connected pair.
fn hop_distances(topology: &Topology) -> Vec<f64> {
    let n = topology.servers.len();
    let mut hops = vec![usize::MAX; n * n];
    let mut queue = VecDeque::new();
    for source in 0..n {
        let row = &mut hops[source * n..(source + 1) * n];
        row[source] = 0;
        queue.push_back(source);
        while let Some(v) = queue.pop_front() {
            for &w in &topology.servers[v].neighbours {
                if w < n && row[w] == usize::MAX {
                    row[w] = row[v] + 1;
                    queue.push_back(w);
                }
            }
        }
    }
    let farthest = hops.iter().copied().filter(|&h| h != usize::MAX).max().unwrap_or(0);
    hops.into_iter().map(|h| if h == usize::MAX { farthest + 1 } else { h } as f64).collect()
}

/// Classical multidimensional scaling: the two leading eigenvectors of the double-centred
/// squared distances, by power iteration from fixed starting vectors. `None` when the
/// distances give no spread.
fn classical_scaling(distances: &[f64], n: usize) -> Option<Vec<(f64, f64)>> {
    // B = -½ J D² J, with J the centring matrix.
    let mut b: Vec<f64> = distances.iter().map(|d| -0.5 * d * d).collect();
    let row_means: Vec<f64> =
        (0..n).map(|i| b[i * n..(i + 1) * n].iter().sum::<f64>() / n as f64).collect();
    let mean = row_means.iter().sum::<f64>() / n as f64;
    for i in 0..n {
        for j in 0..n {
            b[i * n + j] += mean - row_means[i] - row_means[j];
        }
    }
    let multiply = |v: &[f64], out: &mut [f64]| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = b[i * n..(i + 1) * n].iter().zip(v).map(|(x, y)| x * y).sum();
        }
    };
    let mut axes: Vec<(Vec<f64>, f64)> = Vec::with_capacity(2);
    for axis in 0..2 {
        // A fixed, irregular start, so it is unlikely to miss the leading direction.
        let mut v: Vec<f64> = (0..n)
            .map(|i| ((i * (2 * axis + 3) + 1) as f64 * 0.618_033_988_75).fract() - 0.5)
            .collect();
        let mut next = vec![0.0; n];
        let mut value = 0.0;
        for _ in 0..POWER_ROUNDS {
            // Keep orthogonal to the axes already found (deflation by projection).
            for (u, _) in &axes {
                let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                for (x, ux) in v.iter_mut().zip(u) {
                    *x -= dot * ux;
                }
            }
            multiply(&v, &mut next);
            let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-12 {
                return None;
            }
            value = next.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>();
            let mut change = 0.0_f64;
            for (x, y) in v.iter_mut().zip(&next) {
                change = change.max((*x - y / norm).abs());
                *x = y / norm;
            }
            if change < 1e-10 {
                break;
            }
        }
        if value <= 1e-9 {
            return None;
        }
        axes.push((v, value));
    }
    let scale: Vec<f64> = axes.iter().map(|(_, value)| value.sqrt()).collect();
    Some((0..n).map(|i| (axes[0].0[i] * scale[0], axes[1].0[i] * scale[1])).collect())
}

/// Stress majorization: moves each point in turn to where its distances to the others best
/// match the hop counts, weighting near pairs most (weight `1 / d²`).
fn majorize(mut points: Vec<(f64, f64)>, distances: &[f64], n: usize) -> Vec<(f64, f64)> {
    for _ in 0..rounds(n, STRESS_ROUNDS, 20) {
        let mut moved = 0.0_f64;
        for i in 0..n {
            let (mut sum_x, mut sum_y, mut weights) = (0.0, 0.0, 0.0);
            let (xi, yi) = points[i];
            for (j, &(xj, yj)) in points.iter().enumerate() {
                let d = distances[i * n + j];
                if j == i || d <= 0.0 {
                    continue;
                }
                let w = 1.0 / (d * d);
                let (dx, dy) = (xi - xj, yi - yj);
                let len = (dx * dx + dy * dy).sqrt();
                let (ux, uy) = if len > 1e-9 {
                    (dx / len, dy / len)
                } else {
                    // Coincident: a direction fixed by the indices.
                    let angle = (i * 7 + j * 13) as f64;
                    (angle.cos(), angle.sin())
                };
                sum_x += w * (xj + d * ux);
                sum_y += w * (yj + d * uy);
                weights += w;
            }
            if weights > 0.0 {
                let next = (sum_x / weights, sum_y / weights);
                moved = moved.max((next.0 - xi).abs().max((next.1 - yi).abs()));
                points[i] = next;
            }
        }
        if moved < 1e-5 {
            break;
        }
    }
    points
}

/// Turns the points about their centre so their long axis runs along x (terminal panes are
/// wide), then mirrors them so server 0 is in the upper left, for a stable orientation.
fn face_the_screen(points: &mut [(f64, f64)]) {
    let n = points.len() as f64;
    if points.is_empty() {
        return;
    }
    let cx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let cy = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for p in points.iter_mut() {
        p.0 -= cx;
        p.1 -= cy;
        sxx += p.0 * p.0;
        syy += p.1 * p.1;
        sxy += p.0 * p.1;
    }
    // The angle of the principal axis of the covariance.
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (sin, cos) = angle.sin_cos();
    for p in points.iter_mut() {
        *p = (p.0 * cos + p.1 * sin, -p.0 * sin + p.1 * cos);
    }
    if let Some(&(x0, y0)) = points.first() {
        // Round away noise so symmetric layouts do not flip on the last bit.
        let (flip_x, flip_y) = (x0 > 1e-9, y0 > 1e-9);
        for p in points.iter_mut() {
            if flip_x {
                p.0 = -p.0;
            }
            if flip_y {
                p.1 = -p.1;
            }
        }
    }
}

/// Pushes apart every pair closer than `min`, keeping points in the unit square, until none
/// is (or the rounds run out). Pairs already far enough apart are not moved.
fn separate(points: &mut [(f64, f64)], min: f64) {
    let n = points.len();
    if n < 2 || min <= 0.0 {
        return;
    }
    // Aim slightly past the minimum so clamping does not leave pairs just short.
    let target = min * 1.02;
    for _ in 0..rounds(n, SEPARATION_ROUNDS, 1) {
        let mut moved = false;
        for i in 0..n {
            for j in i + 1..n {
                let (dx, dy) = (points[j].0 - points[i].0, points[j].1 - points[i].1);
                let d = (dx * dx + dy * dy).sqrt();
                if d >= min {
                    continue;
                }
                let (ux, uy) = if d < 1e-9 {
                    // Coincident: split them along a direction fixed by the indices.
                    let angle = (i * 7 + j * 13) as f64;
                    (angle.cos(), angle.sin())
                } else {
                    (dx / d, dy / d)
                };
                let half = (target - d) / 2.0;
                move_apart(points, i, j, ux * half, uy * half);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
}

/// Moves `i` back by `(dx, dy)` and `j` forward by it, clamped to the unit square; when one
/// end is stuck at the border the other takes the whole move.
fn move_apart(points: &mut [(f64, f64)], i: usize, j: usize, dx: f64, dy: f64) {
    let clamp = |v: f64| v.clamp(0.0, 1.0);
    let (want_i, want_j) =
        ((points[i].0 - dx, points[i].1 - dy), (points[j].0 + dx, points[j].1 + dy));
    let (got_i, got_j) = ((clamp(want_i.0), clamp(want_i.1)), (clamp(want_j.0), clamp(want_j.1)));
    // Whatever a clamp swallowed on one side, the other side takes.
    points[j] = (clamp(got_j.0 + (got_i.0 - want_i.0)), clamp(got_j.1 + (got_i.1 - want_i.1)));
    points[i] = (clamp(got_i.0 - (want_j.0 - got_j.0)), clamp(got_i.1 - (want_j.1 - got_j.1)));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPES: &[&str] = &["ring:30", "grid:5x6", "full:8", "tree:15", "star:12"];

    fn load(spec: &str) -> Topology {
        Topology::load(spec, 12401).unwrap()
    }

    /// The same herd with its positions removed, so the automatic layout runs.
    fn without_positions(spec: &str) -> Topology {
        let mut t = load(spec);
        for s in &mut t.servers {
            s.x = None;
            s.y = None;
        }
        t
    }

    fn closest_pair(points: &[(f64, f64)]) -> f64 {
        let mut best = f64::INFINITY;
        for i in 0..points.len() {
            for j in i + 1..points.len() {
                let (dx, dy) = (points[i].0 - points[j].0, points[i].1 - points[j].1);
                best = best.min((dx * dx + dy * dy).sqrt());
            }
        }
        best
    }

    fn check(what: &str, points: &[(f64, f64)], n: usize) {
        assert_eq!(points.len(), n, "{what}");
        for &(x, y) in points {
            assert!(
                (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y),
                "{what}: ({x}, {y}) out of range"
            );
        }
        if n > 1 {
            let closest = closest_pair(points);
            assert!(
                closest >= min_separation(n) * 0.999,
                "{what}: closest pair {closest} < {}",
                min_separation(n)
            );
            // Filling the square: the longer side spans it.
            let span = |f: fn(&(f64, f64)) -> f64| {
                let v: Vec<f64> = points.iter().map(f).collect();
                v.iter().copied().fold(f64::MIN, f64::max)
                    - v.iter().copied().fold(f64::MAX, f64::min)
            };
            let longest = span(|p| p.0).max(span(|p| p.1));
            assert!((longest - 1.0).abs() < 1e-9, "{what}: spans {longest}");
        }
    }

    #[test]
    fn preset_positions_are_in_range_and_separated() {
        for spec in SHAPES.iter().chain(&["cs131", "cs131-2019", "ring:100", "line:9"]) {
            let t = load(spec);
            check(spec, &positions(&t), t.servers.len());
        }
    }

    #[test]
    fn automatic_positions_are_in_range_and_separated() {
        for spec in SHAPES.iter().chain(&[
            "cs131",
            "line:9",
            "ring:3",
            "tree:100",
            "grid:10x10",
            "star:100",
            "full:30",
        ]) {
            let t = without_positions(spec);
            check(spec, &positions(&t), t.servers.len());
        }
    }

    #[test]
    fn layouts_are_deterministic() {
        for spec in SHAPES {
            assert_eq!(positions(&load(spec)), positions(&load(spec)), "{spec}");
            let t = without_positions(spec);
            let first = positions(&t);
            for _ in 0..3 {
                assert_eq!(positions(&t), first, "{spec}: automatic");
            }
        }
    }

    #[test]
    fn tiny_herds_go_to_the_centre_or_apart() {
        let one = without_positions("line:1");
        assert_eq!(positions(&one), [(0.5, 0.5)]);
        let one = load("line:1");
        assert_eq!(positions(&one), [(0.5, 0.5)]);

        // All at the same explicit point: pushed apart, not stacked.
        let mut t = load("line:4");
        for s in &mut t.servers {
            s.x = Some(3.0);
            s.y = Some(3.0);
        }
        check("stacked", &positions(&t), 4);
    }

    #[test]
    fn explicit_positions_are_honoured() {
        let t = load("cs131");
        let p = positions(&t);
        // Bailey left of Bona left of Clark; Bona above Campbell; Clark level with Bona.
        let at = |name: &str| p[t.index_of(name).unwrap()];
        assert!(at("Bailey").0 < at("Bona").0 && at("Bona").0 < at("Clark").0);
        assert!(at("Bona").1 < at("Campbell").1);
        assert!((at("Bona").1 - at("Clark").1).abs() < 1e-9);
        // x spans 0.1..0.9 and y 0.2..0.8: x fills [0, 1], y is centred, aspect kept.
        assert!((at("Bailey").0 - 0.0).abs() < 1e-9);
        assert!((at("Clark").0 - 1.0).abs() < 1e-9);
        assert!((at("Bona").1 - 0.125).abs() < 1e-9, "{p:?}");
        assert!((at("Campbell").1 - 0.875).abs() < 1e-9, "{p:?}");

        // Arbitrary units, y growing downwards, relative order kept on both axes.
        let mut t = load("line:4");
        let given = [(10.0, -5.0), (30.0, 5.0), (20.0, 0.0), (40.0, 15.0)];
        for (s, &(x, y)) in t.servers.iter_mut().zip(&given) {
            s.x = Some(x);
            s.y = Some(y);
        }
        let p = positions(&t);
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(given[i].0 < given[j].0, p[i].0 < p[j].0, "x order {i} {j}: {p:?}");
                assert_eq!(given[i].1 < given[j].1, p[i].1 < p[j].1, "y order {i} {j}: {p:?}");
            }
        }
        // The grid preset keeps its rows and columns exactly.
        let t = load("grid:5x6");
        let p = positions(&t);
        for r in 0..5 {
            for c in 0..5 {
                let (a, b) = (p[r * 6 + c], p[r * 6 + c + 1]);
                assert!(a.0 < b.0 && (a.1 - b.1).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn automatic_ring_is_a_circle_in_walking_order() {
        let t = without_positions("ring:12");
        let p = positions(&t);
        for (i, &(x, y)) in p.iter().enumerate() {
            let r = ((x - 0.5).powi(2) + (y - 0.5).powi(2)).sqrt();
            assert!((r - 0.5).abs() < 1e-6, "{i}: radius {r}");
        }
        // Neighbours in the ring are neighbours on the circle.
        for (a, b) in t.links() {
            let d = ((p[a].0 - p[b].0).powi(2) + (p[a].1 - p[b].1).powi(2)).sqrt();
            assert!(d < 0.3, "{a}-{b}: {d}");
        }
    }

    #[test]
    fn automatic_grid_and_tree_have_even_links() {
        for spec in ["grid:5x6", "tree:15", "cs131"] {
            let t = without_positions(spec);
            let p = positions(&t);
            let lengths: Vec<f64> = t
                .links()
                .iter()
                .map(|&(a, b)| ((p[a].0 - p[b].0).powi(2) + (p[a].1 - p[b].1).powi(2)).sqrt())
                .collect();
            let longest = lengths.iter().copied().fold(0.0, f64::max);
            let shortest = lengths.iter().copied().fold(f64::MAX, f64::min);
            assert!(longest < shortest * 1.6, "{spec}: links {shortest}..{longest}");
        }
        // The grid comes out as a grid, long side across: 6 columns of distinct x.
        let p = positions(&without_positions("grid:5x6"));
        let mut xs: Vec<i64> = p.iter().map(|q| (q.0 * 20.0).round() as i64).collect();
        xs.sort_unstable();
        xs.dedup();
        assert_eq!(xs.len(), 6, "{p:?}");
    }

    #[test]
    fn automatic_layout_keeps_linked_servers_closer() {
        // Mean linked distance well under the mean distance of all pairs.
        for spec in ["tree:15", "grid:5x6", "star:12", "cs131"] {
            let t = without_positions(spec);
            let p = positions(&t);
            let dist =
                |a: usize, b: usize| ((p[a].0 - p[b].0).powi(2) + (p[a].1 - p[b].1).powi(2)).sqrt();
            let links = t.links();
            let linked = links.iter().map(|&(a, b)| dist(a, b)).sum::<f64>() / links.len() as f64;
            let n = p.len();
            let pairs = n * (n - 1) / 2;
            let all = (0..n)
                .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                .map(|(a, b)| dist(a, b))
                .sum::<f64>()
                / pairs as f64;
            assert!(linked < all * 0.8, "{spec}: linked {linked} vs all {all}");
        }
    }
}
