//! Built-in topology presets: the course herds `cs131` and `cs131-2019`, the generated shapes
//! (`ring:N`, `line:N`, `star:N`, `full:N`, `grid:RxC`, `tree:N`) with their layouts, the
//! parsing of preset specs, and the ports a preset's servers get.

use std::f64::consts::TAU;

use super::{ConfigError, DEFAULT_HOST, ServerSpec, Topology, link_all, round3};

/// First port of a preset herd unless told otherwise.
pub const DEFAULT_BASE_PORT: u16 = 12401;

/// Largest herd a generated preset may have.
pub const MAX_PRESET_SERVERS: usize = 2000;

/// The preset names and forms [`Topology::load`] accepts, for help text.
pub fn preset_names() -> &'static [&'static str] {
    &["cs131", "cs131-2019", "ring:N", "line:N", "star:N", "full:N", "grid:RxC", "tree:N"]
}

impl Topology {
    /// The preset `spec` with ports from `base_port`, or `None` when `spec` is not of a preset
    /// form at all (neither a fixed name nor `kind` / `kind:…` for a generated kind).
    pub fn preset(spec: &str, base_port: u16) -> Option<Result<Self, ConfigError>> {
        match spec {
            "cs131" => return Some(CS131.build(spec, base_port)),
            "cs131-2019" => return Some(CS131_2019.build(spec, base_port)),
            _ => {}
        }
        let (kind, arg) = match spec.split_once(':') {
            Some((kind, arg)) => (kind, Some(arg)),
            None => (spec, None),
        };
        Some(Generated::parse(kind)?.build(spec, arg, base_port))
    }
}

/// Ports `base_port..base_port + count`, or all 0 when `base_port` is 0.
fn preset_ports(spec: &str, base_port: u16, count: usize) -> Result<Vec<u16>, ConfigError> {
    if base_port == 0 {
        return Ok(vec![0; count]);
    }
    (0..count)
        .map(|i| {
            u16::try_from(usize::from(base_port) + i).map_err(|_| ConfigError::PortOverflow {
                spec: spec.to_owned(),
                base_port,
                count,
            })
        })
        .collect()
}

/// A preset herd from names, layout positions and links.
fn build(
    spec: &str,
    base_port: u16,
    names: Vec<String>,
    positions: &[(f64, f64)],
    links: &[(usize, usize)],
) -> Result<Topology, ConfigError> {
    let ports = preset_ports(spec, base_port, names.len())?;
    let mut servers: Vec<ServerSpec> = names
        .into_iter()
        .zip(ports)
        .zip(positions)
        .map(|((name, port), &(x, y))| ServerSpec {
            name,
            host: DEFAULT_HOST.to_owned(),
            dial: DEFAULT_HOST.to_owned(),
            admin: None,
            port,
            neighbours: Vec::new(),
            x: Some(round3(x)),
            y: Some(round3(y)),
        })
        .collect();
    link_all(&mut servers, links);
    Ok(Topology { servers })
}

/// A named herd: `(name, x, y)` per server, and links by name.
/// A herd with fixed names: `(name, x, y)` per server, and links by name.
struct Named {
    layout: &'static [(&'static str, f64, f64)],
    links: &'static [(&'static str, &'static str)],
}

impl Named {
    fn build(&self, spec: &str, base_port: u16) -> Result<Topology, ConfigError> {
        let at = |name: &str| self.layout.iter().position(|&(n, _, _)| n == name);
        let links: Vec<(usize, usize)> =
            self.links.iter().filter_map(|&(a, b)| Some((at(a)?, at(b)?))).collect();
        let names = self.layout.iter().map(|&(n, _, _)| n.to_owned()).collect();
        let positions: Vec<(f64, f64)> = self.layout.iter().map(|&(_, x, y)| (x, y)).collect();
        build(spec, base_port, names, &positions, &links)
    }
}

/// The 2023 herd, laid out as a "house": Bailey on the left, Bona–Clark along the top,
/// Campbell–Jaquez along the bottom.
const CS131: Named = Named {
    layout: &[
        ("Bailey", 0.1, 0.5),
        ("Bona", 0.45, 0.2),
        ("Campbell", 0.45, 0.8),
        ("Clark", 0.9, 0.2),
        ("Jaquez", 0.9, 0.8),
    ],
    links: &[
        ("Bailey", "Bona"),
        ("Bailey", "Campbell"),
        ("Bona", "Campbell"),
        ("Bona", "Clark"),
        ("Campbell", "Jaquez"),
        ("Clark", "Jaquez"),
    ],
};

/// The 2019 herd: two triangles sharing Goloman–Wilkes, with Welsh hanging off Holiday.
const CS131_2019: Named = Named {
    layout: &[
        ("Goloman", 0.35, 0.15),
        ("Hands", 0.08, 0.5),
        ("Holiday", 0.65, 0.5),
        ("Welsh", 0.92, 0.5),
        ("Wilkes", 0.35, 0.85),
    ],
    links: &[
        ("Goloman", "Hands"),
        ("Goloman", "Holiday"),
        ("Goloman", "Wilkes"),
        ("Hands", "Wilkes"),
        ("Holiday", "Welsh"),
        ("Holiday", "Wilkes"),
    ],
};

/// The generated preset kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generated {
    Ring,
    Line,
    Star,
    Full,
    Grid,
    Tree,
}

/// `i` of `n` evenly spread over `[0.05, 0.95]`, or the middle when alone.
fn spread(i: usize, n: usize) -> f64 {
    if n <= 1 { 0.5 } else { 0.05 + 0.9 * i as f64 / (n - 1) as f64 }
}

/// `i` of `n` on a circle round the centre, starting at the top.
fn on_circle(i: usize, n: usize) -> (f64, f64) {
    let angle = TAU * i as f64 / n.max(1) as f64 - TAU / 4.0;
    (0.5 + 0.45 * angle.cos(), 0.5 + 0.45 * angle.sin())
}

/// A size for a preset: decimal digits only.
/// A size for a preset: decimal digits only, at least 1.
fn parse_size(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n > 0)
}

impl Generated {
    fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "ring" => Self::Ring,
            "line" => Self::Line,
            "star" => Self::Star,
            "full" => Self::Full,
            "grid" => Self::Grid,
            "tree" => Self::Tree,
            _ => return None,
        })
    }

    fn form(self) -> &'static str {
        match self {
            Self::Ring => "ring:N",
            Self::Line => "line:N",
            Self::Star => "star:N",
            Self::Full => "full:N",
            Self::Grid => "grid:RxC",
            Self::Tree => "tree:N",
        }
    }

    /// `(rows, columns)` for a grid, `(1, n)` for the others.
    fn shape(self, spec: &str, arg: Option<&str>) -> Result<(usize, usize), ConfigError> {
        let bad = |problem: String| ConfigError::BadPreset { spec: spec.to_owned(), problem };
        let malformed = || {
            let sizes = match self {
                Self::Grid => "R and C whole numbers of at least 1",
                Self::Ring => "N a whole number of at least 3",
                _ => "N a whole number of at least 1",
            };
            bad(format!("expected {}, with {sizes}", self.form()))
        };
        let arg = arg.ok_or_else(malformed)?;
        let (rows, columns) = if self == Self::Grid {
            let (r, c) = arg.split_once('x').ok_or_else(malformed)?;
            (parse_size(r).ok_or_else(malformed)?, parse_size(c).ok_or_else(malformed)?)
        } else {
            (1, parse_size(arg).ok_or_else(malformed)?)
        };
        let count = rows.saturating_mul(columns);
        if self == Self::Ring && count < 3 {
            return Err(bad(format!(
                "a ring needs at least 3 servers (use line:{count} for fewer)"
            )));
        }
        if count > MAX_PRESET_SERVERS {
            return Err(bad(format!("{count} servers is too many (at most {MAX_PRESET_SERVERS})")));
        }
        Ok((rows, columns))
    }

    fn build(self, spec: &str, arg: Option<&str>, base_port: u16) -> Result<Topology, ConfigError> {
        let (rows, columns) = self.shape(spec, arg)?;
        let n = rows * columns;
        let mut links = Vec::new();
        let positions: Vec<(f64, f64)> = match self {
            Self::Ring => {
                links.extend((0..n).map(|i| (i, (i + 1) % n)));
                (0..n).map(|i| on_circle(i, n)).collect()
            }
            Self::Line => {
                links.extend((1..n).map(|i| (i - 1, i)));
                (0..n).map(|i| (spread(i, n), 0.5)).collect()
            }
            Self::Star => {
                links.extend((1..n).map(|i| (0, i)));
                std::iter::once((0.5, 0.5)).chain((1..n).map(|i| on_circle(i - 1, n - 1))).collect()
            }
            Self::Full => {
                links.extend((0..n).flat_map(|a| (a + 1..n).map(move |b| (a, b))));
                (0..n).map(|i| on_circle(i, n)).collect()
            }
            Self::Grid => {
                for r in 0..rows {
                    for c in 0..columns {
                        let i = r * columns + c;
                        if c + 1 < columns {
                            links.push((i, i + 1));
                        }
                        if r + 1 < rows {
                            links.push((i, i + columns));
                        }
                    }
                }
                (0..n).map(|i| (spread(i % columns, columns), spread(i / columns, rows))).collect()
            }
            Self::Tree => {
                // Server k (1-based) has parent k / 2; depth d holds k in 2^d..2^(d+1).
                links.extend((2..=n).map(|k| (k / 2 - 1, k - 1)));
                let depths = (n.ilog2() + 1) as usize;
                (1..=n)
                    .map(|k| {
                        let depth = k.ilog2();
                        let width = 1usize << depth;
                        let slot = k - width;
                        ((slot as f64 + 0.5) / width as f64, spread(depth as usize, depths))
                    })
                    .collect()
            }
        };
        let names = (1..=n).map(|i| format!("S{i}")).collect();
        build(spec, base_port, names, &positions, &links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{check_invariants, names};

    #[test]
    fn presets_have_the_right_sizes() {
        // (spec, servers, links)
        let cases: &[(&str, usize, usize)] = &[
            ("cs131", 5, 6),
            ("cs131-2019", 5, 6),
            ("ring:3", 3, 3),
            ("ring:12", 12, 12),
            ("line:1", 1, 0),
            ("line:2", 2, 1),
            ("line:9", 9, 8),
            ("star:1", 1, 0),
            ("star:7", 7, 6),
            ("full:1", 1, 0),
            ("full:6", 6, 15),
            ("grid:1x1", 1, 0),
            ("grid:1x5", 5, 4),
            ("grid:3x4", 12, 3 * 3 + 4 * 2),
            ("grid:5x2", 10, 5 + 2 * 4),
            ("tree:1", 1, 0),
            ("tree:10", 10, 9),
            ("ring:2000", 2000, 2000),
            ("grid:40x50", 2000, 40 * 49 + 50 * 39),
        ];
        for &(spec, servers, links) in cases {
            let t = Topology::load(spec, DEFAULT_BASE_PORT).unwrap();
            check_invariants(&t);
            assert_eq!(t.servers.len(), servers, "{spec}: servers");
            assert_eq!(t.links().len(), links, "{spec}: links");
            for (i, s) in t.servers.iter().enumerate() {
                assert_eq!(usize::from(s.port), usize::from(DEFAULT_BASE_PORT) + i, "{spec}");
                assert_eq!(s.host, DEFAULT_HOST);
                let (x, y) = (s.x.unwrap(), s.y.unwrap());
                assert!((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y), "{spec}: {x},{y}");
            }
        }
    }

    #[test]
    fn named_presets_have_the_course_graphs() {
        let t = Topology::load("cs131", 12401).unwrap();
        let expected: &[(&str, u16, &[&str])] = &[
            ("Bailey", 12401, &["Bona", "Campbell"]),
            ("Bona", 12402, &["Bailey", "Campbell", "Clark"]),
            ("Campbell", 12403, &["Bailey", "Bona", "Jaquez"]),
            ("Clark", 12404, &["Bona", "Jaquez"]),
            ("Jaquez", 12405, &["Campbell", "Clark"]),
        ];
        for (i, &(name, port, neighbours)) in expected.iter().enumerate() {
            assert_eq!((t.servers[i].name.as_str(), t.servers[i].port), (name, port));
            assert_eq!(names(&t, i), neighbours, "{name}");
        }

        let t = Topology::load("cs131-2019", 20000).unwrap();
        let expected: &[(&str, u16, &[&str])] = &[
            ("Goloman", 20000, &["Hands", "Holiday", "Wilkes"]),
            ("Hands", 20001, &["Goloman", "Wilkes"]),
            ("Holiday", 20002, &["Goloman", "Welsh", "Wilkes"]),
            ("Welsh", 20003, &["Holiday"]),
            ("Wilkes", 20004, &["Goloman", "Hands", "Holiday"]),
        ];
        for (i, &(name, port, neighbours)) in expected.iter().enumerate() {
            assert_eq!((t.servers[i].name.as_str(), t.servers[i].port), (name, port));
            assert_eq!(names(&t, i), neighbours, "{name}");
        }
    }

    #[test]
    fn generated_shapes() {
        let t = Topology::load("ring:4", 1000).unwrap();
        assert_eq!(t.links(), [(0, 1), (0, 3), (1, 2), (2, 3)]);
        assert_eq!(t.servers[3].name, "S4");

        let t = Topology::load("star:4", 1000).unwrap();
        assert_eq!(t.servers[0].neighbours, [1, 2, 3]);
        assert_eq!((t.servers[0].x, t.servers[0].y), (Some(0.5), Some(0.5)));

        // grid:2x3 is S1 S2 S3 over S4 S5 S6.
        let t = Topology::load("grid:2x3", 1000).unwrap();
        assert_eq!(names(&t, 0), ["S2", "S4"]);
        assert_eq!(names(&t, 4), ["S2", "S4", "S6"]);
        assert!(t.servers[0].y < t.servers[3].y && t.servers[0].x < t.servers[1].x);

        // tree:7: S1 -> S2, S3; S2 -> S4, S5; S3 -> S6, S7.
        let t = Topology::load("tree:7", 1000).unwrap();
        assert_eq!(names(&t, 0), ["S2", "S3"]);
        assert_eq!(names(&t, 1), ["S1", "S4", "S5"]);
        assert_eq!(names(&t, 2), ["S1", "S6", "S7"]);
        assert_eq!(names(&t, 6), ["S3"]);
        assert!(t.servers[0].y < t.servers[1].y && t.servers[1].y < t.servers[3].y);

        let t = Topology::load("line:3", 1000).unwrap();
        assert_eq!(t.links(), [(0, 1), (1, 2)]);

        // Base port 0: every server picks a free port.
        let t = Topology::load("full:4", 0).unwrap();
        assert!(t.servers.iter().all(|s| s.port == 0));
    }

    #[test]
    fn presets_round_trip_through_toml() {
        for spec in [
            "cs131",
            "cs131-2019",
            "ring:3",
            "ring:17",
            "line:1",
            "line:6",
            "star:9",
            "full:7",
            "grid:3x5",
            "grid:1x1",
            "tree:1",
            "tree:12",
        ] {
            let t = Topology::load(spec, DEFAULT_BASE_PORT).unwrap();
            let text = t.to_toml();
            let back = Topology::from_toml(&text, "x").unwrap();
            assert_eq!(back, t, "{spec}:\n{text}");
            assert_eq!(back.to_toml(), text, "{spec}");
        }
    }

    #[test]
    fn bad_preset_specs() {
        // (spec, fragments the message must contain)
        let cases: &[(&str, &[&str])] = &[
            ("ring:x", &["\"ring:x\"", "expected ring:N"]),
            ("ring:", &["\"ring:\"", "expected ring:N"]),
            ("ring", &["\"ring\"", "expected ring:N"]),
            ("ring:+5", &["expected ring:N"]),
            ("ring:-1", &["expected ring:N"]),
            ("ring:1", &["at least 3", "line:1"]),
            ("ring:2", &["at least 3", "line:2"]),
            ("line:0", &["\"line:0\"", "expected line:N"]),
            ("star:2.5", &["expected star:N"]),
            ("full:0", &["expected full:N"]),
            ("tree:0", &["expected tree:N"]),
            ("grid:3", &["\"grid:3\"", "expected grid:RxC"]),
            ("grid:0x4", &["\"grid:0x4\"", "expected grid:RxC"]),
            ("grid:4x0", &["expected grid:RxC"]),
            ("grid:3x", &["expected grid:RxC"]),
            ("grid:3x4x5", &["expected grid:RxC"]),
            ("grid:99999999999999999999x2", &["expected grid:RxC"]),
            ("line:2001", &["\"line:2001\"", "too many", "2000"]),
            ("grid:1000x1000000", &["too many"]),
        ];
        for &(spec, fragments) in cases {
            let e = Topology::load(spec, DEFAULT_BASE_PORT).unwrap_err();
            assert!(matches!(e, ConfigError::BadPreset { .. }), "{spec}: {e:?}");
            let message = e.to_string();
            for fragment in fragments {
                assert!(message.contains(fragment), "{spec}: {message:?} lacks {fragment:?}");
            }
        }
    }

    #[test]
    fn port_overflow() {
        // (spec, base port, overflows)
        let cases: &[(&str, u16, bool)] = &[
            ("line:10", 65526, false),
            ("line:11", 65526, true),
            ("cs131", 65531, false),
            ("cs131", 65532, true),
            ("cs131-2019", 65535, true),
            ("grid:2x2", 65535, true),
            ("line:1", 65535, false),
        ];
        for &(spec, base, overflows) in cases {
            match Topology::load(spec, base) {
                Ok(t) => {
                    assert!(!overflows, "{spec} from {base} should overflow");
                    let last = usize::from(base) + t.servers.len() - 1;
                    assert_eq!(t.servers.last().map(|s| usize::from(s.port)), Some(last));
                }
                Err(e) => {
                    assert!(overflows, "{spec} from {base}: {e}");
                    let message = e.to_string();
                    assert!(matches!(e, ConfigError::PortOverflow { .. }));
                    assert!(message.contains(spec) && message.contains("65535"), "{message}");
                }
            }
        }
    }

    #[test]
    fn preset_names_all_load() {
        for form in preset_names() {
            let spec = form.replace("RxC", "2x3").replace('N', "4");
            assert!(Topology::load(&spec, DEFAULT_BASE_PORT).is_ok(), "{spec}");
        }
        assert!(Topology::preset("herd.toml", 1).is_none());
        assert!(Topology::preset("C:\\herd.toml", 1).is_none());
    }
}
