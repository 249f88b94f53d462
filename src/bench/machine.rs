//! The machine a bench ran on, as `/proc` describes it: cores, CPU model, memory, kernel.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_gib: f64,
    pub kernel: String,
    /// `release` or `debug`: how this herdctl was built.
    pub build: &'static str,
    pub herdctl: &'static str,
    pub python: Option<String>,
}

impl Machine {
    pub fn describe(python: Option<String>) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| {
                line.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim())
            })
            .unwrap_or("unknown")
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".into(), |k| k.trim().to_owned());
        Self {
            cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            cpu,
            memory_gib: (kib / (1024.0 * 1024.0) * 10.0).round() / 10.0,
            kernel,
            build: if cfg!(debug_assertions) { "debug" } else { "release" },
            herdctl: env!("CARGO_PKG_VERSION"),
            python,
        }
    }

    /// One line: `2 cores, AMD EPYC, 23.4 GiB, Linux 6.18.44, release build`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} cores, {}, {} GiB, Linux {}, {} build",
            self.cores, self.cpu, self.memory_gib, self.kernel, self.build
        );
        if let Some(python) = &self.python {
            line.push_str(", ");
            line.push_str(python);
        }
        line
    }
}
