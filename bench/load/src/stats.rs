//! Latencies and outcomes per operation.

use std::collections::BTreeMap;
use std::time::Duration;

/// One operation's record: latencies of its successes, counts of everything else.
#[derive(Default, Debug, Clone)]
pub struct OpStats {
    pub ok_micros: Vec<u32>,
    /// Answers other than 2xx by status, and transport failures as `conn` / `timeout`.
    pub failures: BTreeMap<String, u64>,
    /// The slowest attempt of any outcome.
    pub slowest: Duration,
}

impl OpStats {
    pub fn ok(&mut self, took: Duration) {
        self.ok_micros
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        self.slowest = self.slowest.max(took);
    }

    pub fn failed(&mut self, what: impl Into<String>, took: Duration) {
        *self.failures.entry(what.into()).or_default() += 1;
        self.slowest = self.slowest.max(took);
    }

    pub fn merge(&mut self, other: OpStats) {
        self.ok_micros.extend(other.ok_micros);
        for (k, v) in other.failures {
            *self.failures.entry(k).or_default() += v;
        }
        self.slowest = self.slowest.max(other.slowest);
    }

    pub fn count(&self) -> usize {
        self.ok_micros.len()
    }

    /// The `p`-th percentile (0-100) of successful latencies, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.ok_micros.is_empty() {
            return f64::NAN;
        }
        let mut v = self.ok_micros.clone();
        v.sort_unstable();
        let rank = ((p / 100.0) * (v.len() as f64)).ceil() as usize;
        f64::from(v[rank.clamp(1, v.len()) - 1]) / 1000.0
    }

    pub fn failure_summary(&self) -> String {
        if self.failures.is_empty() {
            return "none".into();
        }
        self.failures
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A Markdown table row: operation, share, ops/s, p50, p99, failures.
pub fn row(name: &str, s: &OpStats, total: usize, secs: f64) -> String {
    format!(
        "| {name} | {:.0}% | {:.0} | {:.1} | {:.1} | {} |",
        100.0 * s.count() as f64 / total.max(1) as f64,
        s.count() as f64 / secs,
        s.percentile_ms(50.0),
        s.percentile_ms(99.0),
        s.failure_summary()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut s = OpStats::default();
        for ms in 1..=100 {
            s.ok(Duration::from_millis(ms));
        }
        assert_eq!(s.percentile_ms(50.0), 50.0);
        assert_eq!(s.percentile_ms(99.0), 99.0);
        assert_eq!(s.percentile_ms(100.0), 100.0);
        s.failed("503", Duration::from_secs(2));
        s.failed("503", Duration::from_millis(1));
        assert_eq!(s.failure_summary(), "503×2");
        assert_eq!(s.slowest, Duration::from_secs(2));
    }
}

/// CPU time (user + system) of processes, from `/proc`: where a run's time went, process by
/// process.
pub mod cpu {
    /// Clock ticks per second of `/proc/*/stat` (USER_HZ, 100 on Linux).
    const HZ: f64 = 100.0;

    fn ticks_of(stat: &str) -> Option<u64> {
        // The command name is in parentheses and may hold spaces: count from the last ')'.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the name.
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }

    /// CPU seconds of one process so far.
    pub fn seconds(pid: u32) -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| ticks_of(&s))
            .map_or(0.0, |t| t as f64 / HZ)
    }

    /// CPU seconds so far of every process whose name is `name` (e.g. every PostgreSQL
    /// backend, `postgres`).
    pub fn seconds_named(name: &str) -> f64 {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return 0.0;
        };
        dir.filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim_end() == name)
            })
            .map(seconds)
            .sum()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn reads_user_and_system_time_after_the_name() {
            let stat = "42 (tokio (worker)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0";
            assert_eq!(super::ticks_of(stat), Some(300));
            assert!(super::seconds(std::process::id()) >= 0.0);
        }
    }
}
