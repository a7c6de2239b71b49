//! The slow log: commands slower than `slowlog-log-slower-than` microseconds, newest first.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::reply::Reply;

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    pub time: u64,
    pub usec: u64,
    pub argv: Vec<Bytes>,
    pub addr: String,
    pub name: String,
}

#[derive(Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<Entry>,
    next_id: u64,
}

/// Redis keeps at most 32 arguments and 128 bytes of each.
const MAX_ARGS: usize = 32;
const MAX_ARG_LEN: usize = 128;

impl SlowLog {
    /// Adds an entry, keeping at most `max_len`.
    pub fn push(&mut self, usec: u64, argv: &[Bytes], addr: String, name: String, max_len: usize) {
        let mut kept: Vec<Bytes> = argv
            .iter()
            .take(if argv.len() > MAX_ARGS {
                MAX_ARGS - 1
            } else {
                MAX_ARGS
            })
            .map(|a| {
                if a.len() > MAX_ARG_LEN {
                    let more = a.len() - MAX_ARG_LEN;
                    let mut s = a[..MAX_ARG_LEN].to_vec();
                    s.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
                    Bytes::from(s)
                } else {
                    a.clone()
                }
            })
            .collect();
        if argv.len() > MAX_ARGS {
            kept.push(Bytes::from(format!(
                "... ({} more arguments)",
                argv.len() - MAX_ARGS + 1
            )));
        }
        self.entries.push_front(Entry {
            id: self.next_id,
            time: crate::util::now_ms() / 1000,
            usec,
            argv: kept,
            addr,
            name,
        });
        self.next_id += 1;
        self.entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// SLOWLOG GET reply for the newest `count` entries.
    pub fn reply(&self, count: usize) -> Reply {
        Reply::Array(
            self.entries
                .iter()
                .take(count)
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Int(e.id as i64),
                        Reply::Int(e.time as i64),
                        Reply::Int(e.usec as i64),
                        Reply::bulks(e.argv.clone()),
                        Reply::text(&e.addr),
                        Reply::text(&e.name),
                    ])
                })
                .collect(),
        )
    }
}
