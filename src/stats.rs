//! Server counters for INFO stats and INFO commandstats. Atomics, so no lock is taken to count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

/// Per-command call statistics.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected: u64,
    pub failed: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub error_replies: AtomicU64,
    /// Writes since start (Redis's dirty counter shown as rdb_changes_since_last_save).
    pub changes: AtomicU64,
    /// Keyed by command name; a mutex because it is touched once per command with a short critical section.
    pub commands: Mutex<HashMap<&'static str, CommandStat>>,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    /// Records one execution of `name`.
    pub fn record(&self, name: &'static str, usec: u64, rejected: bool, failed: bool) {
        let mut m = self.commands.lock();
        let s = m.entry(name).or_default();
        if rejected {
            s.rejected += 1;
            return;
        }
        s.calls += 1;
        s.usec += usec;
        if failed {
            s.failed += 1;
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.expired_keys,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.error_replies,
        ] {
            c.store(0, Relaxed);
        }
        self.commands.lock().clear();
    }
}
