//! Server counters for INFO stats and INFO commandstats. Atomics, so no lock is taken to count.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::commands::{table, CommandSpec};

/// Per-command call statistics (atomics: counted on every command without a lock).
#[derive(Debug, Default)]
pub struct CommandStat {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

#[derive(Debug)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub error_replies: AtomicU64,
    /// Writes since start (Redis's dirty counter shown as rdb_changes_since_last_save).
    pub changes: AtomicU64,
    /// One entry per row of the command table, in table order.
    pub commands: Vec<CommandStat>,
}

/// A command's row in the table.
pub fn table_index(spec: &CommandSpec) -> usize {
    table::index_of(spec)
}

impl Default for Stats {
    fn default() -> Self {
        let z = || AtomicU64::new(0);
        Stats {
            connections_received: z(),
            rejected_connections: z(),
            net_input_bytes: z(),
            net_output_bytes: z(),
            expired_keys: z(),
            keyspace_hits: z(),
            keyspace_misses: z(),
            error_replies: z(),
            changes: z(),
            commands: (0..table::count())
                .map(|_| CommandStat::default())
                .collect(),
        }
    }
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }

    /// Records one execution of `spec`.
    pub fn record(&self, spec: &CommandSpec, usec: u64, failed: bool) {
        let s = &self.commands[table_index(spec)];
        s.calls.fetch_add(1, Relaxed);
        s.usec.fetch_add(usec, Relaxed);
        if failed {
            s.failed.fetch_add(1, Relaxed);
        }
    }

    /// Commands executed since start (or RESETSTAT): the sum of the per-command counts.
    pub fn commands_processed(&self) -> u64 {
        self.commands.iter().map(|c| c.calls.load(Relaxed)).sum()
    }

    /// Records a command refused before it ran (arity, auth, OOM, ...).
    pub fn record_rejected(&self, spec: &CommandSpec) {
        self.commands[table_index(spec)]
            .rejected
            .fetch_add(1, Relaxed);
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.expired_keys,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.error_replies,
        ] {
            c.store(0, Relaxed);
        }
        for c in &self.commands {
            for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                a.store(0, Relaxed);
            }
        }
    }
}
