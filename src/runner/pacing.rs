//! How hard runners and their drivers work at waiting: when the two ends of a request poll for each
//! other rather than sleep, and when a script's runners take turns because they collide.
//!
//! Contention: runners update shared state by compare-and-swap (`update(fn)`: swap the value last seen for
//! the new one). When two runners keep updating one cell, each one's swap fails against the other's write and
//! is retried, so a second runner doubles the round trips instead of the throughput: the seed cell model ran
//! at 0.7x with 2 runners of what 1 runner gave. A pool whose swaps fail that often runs one request at a
//! time for a while (the busy runner takes the queued work as it frees up, its cell values fresh), then tries
//! all its runners again. Scripts whose runners do not collide (a CPU-bound action, cells of their own) never
//! see the cap, and the cap never stops work: it only orders it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

/// How long a waiting driver or runner polls its channel before it sleeps, when polling pays.
pub const SPIN: Duration = Duration::from_micros(50);

/// Drivers with a request in flight, over every script.
pub static BUSY: AtomicUsize = AtomicUsize::new(0);

/// How long the two ends of a request poll for each other's next frame before they sleep. A runner's
/// answer or callback, and the driver's reply to a callback, usually come within tens of microseconds: on
/// a virtual machine a sleep and its wake-up cost about as much, so polling halves a callback's cost (the
/// seed cell model at 100 records per call: 1.4x). Polling only pays while the pollers have cores to
/// themselves: with more requests in flight than half the cores it only takes time from the ones working
/// (2 runners of the cell model on 2 cores: 0.7x), so then nobody polls.
pub fn spin() -> Duration {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cpus = *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if BUSY.load(Relaxed) * 2 <= cpus {
        SPIN
    } else {
        Duration::ZERO
    }
}

/// Swaps judged together.
const WINDOW: u64 = 64;

/// One request at a time for this long once a window's swaps failed too often.
const HOLD_US: u64 = 1_000_000;

#[derive(Debug, Default)]
pub struct Contention {
    swaps: AtomicU64,
    failed: AtomicU64,
    /// Until when (the pool's microsecond clock) requests run one at a time; 0: never set.
    until_us: AtomicU64,
}

impl Contention {
    /// Counts one compare-and-swap a runner made; `done`: it wrote (else another writer came first).
    pub fn swapped(&self, done: bool) {
        self.swaps.fetch_add(1, Relaxed);
        if !done {
            self.failed.fetch_add(1, Relaxed);
        }
    }

    /// After a request: once a window of swaps is in, caps the pool when more than one in five failed.
    /// Swaps made while capped are not judged (one runner alone never collides with itself).
    pub fn judge(&self, now_us: u64) {
        if self.capped(now_us).is_some() {
            self.swaps.store(0, Relaxed);
            self.failed.store(0, Relaxed);
            return;
        }
        let swaps = self.swaps.load(Relaxed);
        if swaps < WINDOW {
            return;
        }
        // Counters read and reset without a lock: a swap counted in between lands in one window or the
        // next, which a heuristic can afford.
        let failed = self.failed.swap(0, Relaxed);
        self.swaps.store(0, Relaxed);
        if failed * 5 > swaps {
            self.until_us.store(now_us + HOLD_US, Relaxed);
        }
    }

    /// How much longer requests run one at a time, if they do.
    pub fn capped(&self, now_us: u64) -> Option<u64> {
        let until = self.until_us.load(Relaxed);
        (until > now_us).then(|| until - now_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_swaps_cap_the_pool_for_a_while() {
        let c = Contention::default();
        for i in 0..WINDOW {
            c.swapped(i % 2 == 0);
        }
        c.judge(10);
        assert_eq!(c.capped(11), Some(HOLD_US - 1));
        assert_eq!(c.capped(10 + HOLD_US), None);
    }

    #[test]
    fn rare_failures_and_short_windows_do_not() {
        let c = Contention::default();
        for i in 0..WINDOW {
            c.swapped(i % 10 != 0);
        }
        c.judge(10);
        assert_eq!(c.capped(11), None);
        for _ in 0..WINDOW - 1 {
            c.swapped(false);
        }
        c.judge(20);
        assert_eq!(c.capped(21), None);
    }
}
