//! What ROLE and INFO say about replication, with Redis's field names and shapes, for both roles.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::SeqCst;

use super::{LinkState, ONLINE, SEND_BULK};
use crate::reply::Reply;
use crate::shared::{Engine, Shared};

fn state_name(state: u8) -> &'static str {
    match state {
        ONLINE => "online",
        SEND_BULK => "send_bulk",
        _ => "wait_bgsave",
    }
}

/// ROLE: `[master, offset, [[ip, port, ack], ...]]` or `[slave, host, port, state, offset]`.
pub fn role(shared: &Shared, g: &Engine) -> Reply {
    let offset = g.effects.repl_offset() as i64;
    if let Some(u) = super::of(shared).upstream.lock().as_ref() {
        let shown = if u.state == LinkState::Connected {
            offset
        } else {
            -1
        };
        return Reply::Array(vec![
            Reply::lit("slave"),
            Reply::Bulk(u.host.clone().into()),
            Reply::Int(u.port as i64),
            Reply::lit(u.state.name()),
            Reply::Int(shown),
        ]);
    }
    let peers = super::of(shared)
        .peers()
        .iter()
        .filter(|p| p.state.load(SeqCst) == ONLINE)
        .map(|p| {
            Reply::Array(vec![
                Reply::Bulk(p.ip.clone().into()),
                Reply::Bulk(p.port.to_string().into()),
                Reply::Bulk(p.ack.load(SeqCst).to_string().into()),
            ])
        })
        .collect();
    Reply::Array(vec![
        Reply::lit("master"),
        Reply::Int(offset),
        Reply::Array(peers),
    ])
}

/// The `# Replication` section's lines.
pub fn info(shared: &Shared, g: &Engine, out: &mut String) {
    let log = &g.effects;
    let offset = log.repl_offset();
    let mut line = |k: &str, v: &dyn std::fmt::Display| {
        let _ = write!(out, "{k}:{v}\r\n");
    };
    let upstream = super::of(shared).upstream.lock();
    match upstream.as_ref() {
        Some(u) => {
            line("role", &"slave");
            line("master_host", &u.host);
            line("master_port", &u.port);
            let up = super::of(shared).link_up();
            line("master_link_status", &if up { "up" } else { "down" });
            let io = if up {
                u.last_io.elapsed().as_secs() as i64
            } else {
                -1
            };
            line("master_last_io_seconds_ago", &io);
            line("master_sync_in_progress", &u8::from(u.sync_read.is_some()));
            line("slave_read_repl_offset", &offset);
            line("slave_repl_offset", &offset);
            if let Some(read) = u.sync_read {
                // The snapshot is streamed: its size is known only at its end mark (Redis says -1 too).
                line("master_sync_total_bytes", &-1);
                line("master_sync_read_bytes", &read);
                line("master_sync_left_bytes", &-1);
                line("master_sync_perc", &"0.00");
                line(
                    "master_sync_last_io_seconds_ago",
                    &u.last_io.elapsed().as_secs(),
                );
            }
            if !up {
                line(
                    "master_link_down_since_seconds",
                    &u.down_since.elapsed().as_secs(),
                );
            }
            line("slave_priority", &100);
            line("slave_read_only", &1);
            line("replica_announced", &1);
        }
        None => line("role", &"master"),
    }
    drop(upstream);
    let peers = super::of(shared).peers();
    line("connected_slaves", &peers.len());
    let now = crate::util::now_ms();
    for (i, p) in peers.iter().enumerate() {
        let lag = now.saturating_sub(p.ack_ms.load(SeqCst)) / 1000;
        line(
            &format!("slave{i}"),
            &format!(
                "ip={},port={},state={},offset={},lag={lag}",
                p.ip,
                p.port,
                state_name(p.state.load(SeqCst)),
                p.ack.load(SeqCst)
            ),
        );
    }
    line("master_failover_state", &"no-failover");
    line("master_replid", &log.ids.id);
    line("master_replid2", &log.ids.id2);
    line("master_repl_offset", &offset);
    line("second_repl_offset", &log.ids.second);
    let backlog = log.backlog_state();
    line("repl_backlog_active", &u8::from(backlog.is_some()));
    line("repl_backlog_size", &log.max_backlog);
    let (histlen, first) = backlog.unwrap_or((0, 0));
    line("repl_backlog_first_byte_offset", &first);
    line("repl_backlog_histlen", &histlen);
}

/// The replication counters of `# Stats`.
pub fn stats(shared: &Shared, out: &mut String) {
    let r = &super::of(shared);
    let _ = write!(
        out,
        "sync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n",
        r.sync_full.load(SeqCst),
        r.sync_partial_ok.load(SeqCst),
        r.sync_partial_err.load(SeqCst)
    );
}
