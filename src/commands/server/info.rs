//! INFO: Returns information and statistics about the server.

use super::REDIS_COMPAT_VERSION;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::CmdResult;
use crate::keyspace::ValueKind;
use crate::reply::Reply;
use crate::stats::Stats;

pub fn info(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let asked: Vec<String> = args
        .rest()
        .iter()
        .map(|b| crate::util::lossy(b).to_ascii_lowercase())
        .collect();
    let mut sections: Vec<&str> = Vec::new();
    if asked.is_empty() || asked.iter().any(|s| s == "default") {
        sections.extend(DEFAULT);
    }
    if asked.iter().any(|s| s == "all" || s == "everything") {
        sections.extend(DEFAULT);
        sections.push("commandstats");
    }
    // As Redis: module sections come with `modules` and `everything`, not with the default or `all`.
    if asked.iter().any(|s| s == "everything") {
        sections.push("modules");
    }
    for s in &asked {
        if let Some(known) = DEFAULT
            .iter()
            .chain(["commandstats", "modules"].iter())
            .find(|k| *k == s)
        {
            if !sections.contains(known) {
                sections.push(known);
            }
        }
    }
    let mut out = String::new();
    for (i, s) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        section(ctx, s, &mut out);
    }
    Ok(Reply::Verbatim(out).into())
}

const DEFAULT: [&str; 9] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "keyspace",
    "ai",
];

fn section(ctx: &mut Ctx, name: &str, out: &mut String) {
    let shared = ctx.shared;
    let s = &shared.stats;
    let settings = shared.settings();
    match name {
        "server" => {
            out.push_str("# Server\r\n");
            line(out, "redis_version", REDIS_COMPAT_VERSION);
            line(out, "tensorcell_version", env!("CARGO_PKG_VERSION"));
            line(out, "redis_mode", "standalone");
            line(
                out,
                "os",
                format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            );
            line(out, "arch_bits", usize::BITS);
            line(out, "process_id", std::process::id());
            line(out, "run_id", &shared.run_id);
            line(out, "tcp_port", shared.bound_port());
            let up = shared.started.elapsed().as_secs();
            line(out, "uptime_in_seconds", up);
            line(out, "uptime_in_days", up / 86400);
            line(out, "hz", settings.hz);
            line(out, "io_threads_active", settings.io_threads);
            line(
                out,
                "executable",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
            let file = shared
                .config
                .read()
                .file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            line(out, "config_file", file);
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            let all = shared.clients.all();
            let pubsub = all
                .iter()
                .filter(|c| {
                    let i = c.info.lock();
                    i.sub + i.psub > 0
                })
                .count();
            line(out, "connected_clients", all.len());
            line(out, "maxclients", settings.maxclients);
            line(out, "blocked_clients", 0);
            line(out, "pubsub_clients", pubsub);
        }
        "memory" => {
            out.push_str("# Memory\r\n");
            let used = ctx.db().used_memory() as u64;
            line(out, "used_memory", used);
            line(out, "used_memory_human", human(used));
            line(out, "used_memory_rss", rss_bytes());
            line(out, "used_memory_rss_human", human(rss_bytes()));
            line(out, "maxmemory", settings.maxmemory);
            line(out, "maxmemory_human", human(settings.maxmemory));
            line(out, "maxmemory_policy", "noeviction");
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            crate::persist::info(shared, out);
        }
        "stats" => {
            out.push_str("# Stats\r\n");
            line(
                out,
                "total_connections_received",
                Stats::get(&s.connections_received),
            );
            line(out, "total_commands_processed", s.commands_processed());
            line(out, "total_net_input_bytes", Stats::get(&s.net_input_bytes));
            line(
                out,
                "total_net_output_bytes",
                Stats::get(&s.net_output_bytes),
            );
            line(
                out,
                "rejected_connections",
                Stats::get(&s.rejected_connections),
            );
            line(out, "expired_keys", Stats::get(&s.expired_keys));
            line(out, "evicted_keys", 0);
            line(out, "keyspace_hits", Stats::get(&s.keyspace_hits));
            line(out, "keyspace_misses", Stats::get(&s.keyspace_misses));
            line(out, "pubsub_channels", shared.pubsub.channel_count());
            line(out, "pubsub_patterns", shared.pubsub.numpat());
            line(out, "total_error_replies", Stats::get(&s.error_replies));
            crate::repl::stats(shared, out);
        }
        "replication" => {
            out.push_str("# Replication\r\n");
            let shared = ctx.shared;
            crate::repl::info(shared, ctx.engine(), out);
        }
        "modules" => {
            // RedisAI's sections, as the module reports them inside redis-server (its tests split this
            // on `#` and read the sections by position after `# Modules`).
            out.push_str("# Modules\r\n");
            for sec in crate::commands::ai::info_modules::sections(ctx.shared) {
                out.push_str("\r\n# ");
                out.push_str(sec.name);
                out.push_str("\r\n");
                for (k, v) in sec.fields {
                    line(out, &k, v);
                }
            }
        }
        "cpu" => {
            out.push_str("# CPU\r\n");
            let (user, sys) = cpu_times();
            line(out, "used_cpu_sys", format!("{sys:.6}"));
            line(out, "used_cpu_user", format!("{user:.6}"));
        }
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            let db = ctx.db();
            if !db.is_empty() {
                line(
                    out,
                    "db0",
                    format!("keys={},expires={},avg_ttl=0", db.len(), db.expires_count()),
                );
            }
        }
        "ai" => {
            out.push_str("# AI\r\n");
            let db = ctx.db();
            let counts =
                [ValueKind::Tensor, ValueKind::Model, ValueKind::Script].map(|k| db.count_kind(k));
            for (k, v) in crate::commands::ai::info_modules::ai_section(ctx.shared, counts).fields {
                line(out, &k, v);
            }
        }
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            let mut rows: Vec<_> = crate::commands::table::all().zip(&s.commands).collect();
            rows.sort_by_key(|(spec, _)| spec.name);
            for (spec, c) in rows {
                let (calls, usec) = (Stats::get(&c.calls), Stats::get(&c.usec));
                let (rejected, failed) = (Stats::get(&c.rejected), Stats::get(&c.failed));
                if calls + rejected == 0 {
                    continue;
                }
                let per = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                line(
                    out,
                    &format!("cmdstat_{}", spec.name),
                    format!("calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}"),
                );
            }
        }
        _ => {}
    }
}

fn line(out: &mut String, k: &str, v: impl std::fmt::Display) {
    out.push_str(k);
    out.push(':');
    out.push_str(&v.to_string());
    out.push_str("\r\n");
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..=1023 => format!("{bytes}B"),
        1024..=1_048_575 => format!("{:.2}K", b / 1024.0),
        1_048_576..=1_073_741_823 => format!("{:.2}M", b / 1_048_576.0),
        _ => format!("{:.2}G", b / 1_073_741_824.0),
    }
}

/// (user, system) CPU seconds of this process, from /proc (0 where unavailable).
fn cpu_times() -> (f64, f64) {
    let (user, sys) = crate::util::proc_cpu_us("/proc/self/stat");
    (user as f64 / 1e6, sys as f64 / 1e6)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 4096
}
