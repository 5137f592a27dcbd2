//! How idle the CPUs this process may run on have been: the share of their time the kernel
//! counted as idle (`/proc/stat`) since the last look, over the CPUs in this process's
//! affinity (`/proc/self/status`).
//!
//! Why: the checkpoint thread runs at `SCHED_IDLE`, so it only gets a core that would
//! otherwise be idle. Whether it will is what decides where the checkpoints go
//! (`checkpoints.rs`), and waiting to see if it answers is a costly way to find out: a
//! checkpoint it started and cannot finish holds SQLite's checkpoint lock. The kernel's own
//! count says so before anything is started. Its unit is the clock tick (10 ms), so a look
//! over 100 ms is coarse, but busy (a tick or none idle on each CPU) and not busy are far apart.
//! Elsewhere than Linux there is nothing to read, and the thread keeps its normal priority.

use std::collections::BTreeSet;

/// Reads the idle share of this process's CPUs.
#[derive(Debug, Default)]
pub(crate) struct CpuIdle {
    /// The CPUs this process may run on; all of them if unknown.
    cpus: Option<BTreeSet<usize>>,
    /// The last look: (idle ticks, all ticks) over those CPUs.
    last: Option<(u64, u64)>,
}

impl CpuIdle {
    /// A reader for this process's CPUs as they are now.
    pub(crate) fn new() -> Self {
        let cpus = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| allowed_cpus(&status));
        Self { cpus, last: None }
    }

    /// The share of the time since the last call (0.0–1.0) that the CPUs were idle; `None`
    /// the first time, when nothing is to be read, or when no tick passed.
    pub(crate) fn share_since_last(&mut self) -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let now = idle_and_total(&stat, self.cpus.as_ref())?;
        let last = self.last.replace(now)?;
        let (idle, total) = (now.0.checked_sub(last.0)?, now.1.checked_sub(last.1)?);
        (total > 0).then(|| idle as f64 / total as f64)
    }
}

/// `Cpus_allowed_list` (`0-3,8`) as a set.
fn allowed_cpus(status: &str) -> Option<BTreeSet<usize>> {
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
        .trim();
    let mut cpus = BTreeSet::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        let (low, high) = part.split_once('-').unwrap_or((part, part));
        let (low, high): (usize, usize) = (low.trim().parse().ok()?, high.trim().parse().ok()?);
        cpus.extend(low..=high.min(low + 4096));
    }
    (!cpus.is_empty()).then_some(cpus)
}

/// Idle (idle + iowait) and all ticks of the `cpuN` lines of `/proc/stat` for `cpus` (every
/// CPU when `None`).
fn idle_and_total(stat: &str, cpus: Option<&BTreeSet<usize>>) -> Option<(u64, u64)> {
    let mut sums = None;
    for line in stat.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|name| name.strip_prefix("cpu")) else {
            continue;
        };
        // The first line, `cpu`, is the sum of all of them.
        let Ok(n) = cpu.parse::<usize>() else {
            continue;
        };
        if cpus.is_some_and(|set| !set.contains(&n)) {
            continue;
        }
        let ticks: Vec<u64> = fields.take(8).filter_map(|f| f.parse().ok()).collect();
        let (Some(idle), Some(iowait)) = (ticks.get(3), ticks.get(4)) else {
            continue;
        };
        let (i, t) = sums.get_or_insert((0u64, 0u64));
        *i += idle + iowait;
        *t += ticks.iter().sum::<u64>();
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 0 50 800 50 0 0 0 0 0\n\
                        cpu0 90 0 10 0 0 0 0 0 0 0\n\
                        cpu1 10 0 40 800 50 0 0 0 0 0\n\
                        intr 12345\n";

    #[test]
    fn the_affinity_list_is_read() {
        let status = "Name:\tmolts\nCpus_allowed:\t5\nCpus_allowed_list:\t0,2-3\n";
        assert_eq!(allowed_cpus(status), Some(BTreeSet::from([0, 2, 3])));
        assert_eq!(allowed_cpus("Name:\tmolts\n"), None);
    }

    #[test]
    fn only_the_allowed_cpus_count() {
        let only0 = BTreeSet::from([0]);
        assert_eq!(idle_and_total(STAT, Some(&only0)), Some((0, 100)));
        let only1 = BTreeSet::from([1]);
        assert_eq!(idle_and_total(STAT, Some(&only1)), Some((850, 900)));
        assert_eq!(idle_and_total(STAT, None), Some((850, 1000)));
        assert_eq!(idle_and_total("intr 1\n", None), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_machine_is_read() {
        let mut reader = CpuIdle::new();
        assert_eq!(
            reader.share_since_last(),
            None,
            "nothing to compare the first time"
        );
        // Look again until a clock tick has passed, so the look has something to say.
        let mut share = None;
        for _ in 0..1000 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            share = reader.share_since_last();
            if share.is_some() {
                break;
            }
        }
        assert!(share.is_some_and(|s| (0.0..=1.0).contains(&s)), "{share:?}");
    }
}
