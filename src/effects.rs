//! The effect stream: every write the keyspace applies, as the RESP command that reproduces it, in apply
//! order. It is the one feed for the AOF and replicas (later issues) and is appended to only while the
//! keyspace lock is held (`commands::dispatch`), so stream order is apply order by construction.
//!
//! Offsets count the bytes of RESP since start (Redis's replication offset) and are kept for every effect.
//! The bytes themselves are only produced when someone consumes them: a registered [`EffectSink`] (the AOF
//! writer, a replica feed) or the backlog, a ring of the newest `repl-backlog-size` bytes that is started by
//! its first reader (`DEBUG EFFECTS` today, a replica tomorrow), as Redis creates its replication backlog when
//! the first replica connects. A server nobody consumes from pays only the offset arithmetic.
//!
//! Two offsets: the local one ([`EffectLog::offset`]) only ever grows and is what the AOF and
//! `appendfsync always` waits count in; the replication offset ([`EffectLog::repl_offset`]) is the local one
//! plus a shift that changes when a replica adopts its primary's history after a full sync
//! ([`EffectLog::rebase`]). The replication ids ([`ReplIds`]) name that history and live here, under the same
//! lock, so a PSYNC decision sees ids, offset and backlog at one instant.
//!
//! A replica's log is a *follower*: commands applied from the primary's stream must not append their own
//! re-derived effects (nor lazily expired keys), so [`EffectLog::append`] is muted and the replication link
//! appends the primary's bytes verbatim with [`EffectLog::append_raw`]. Its offsets then equal the primary's,
//! byte for byte, which is what partial resynchronization and promotion rely on.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::resp::request::RequestParser;

/// One propagated write, e.g. `SET k v PXAT 1700000000000` or `AI.TENSORSET k FLOAT 2 BLOB <..>`, as seen by a
/// sink while it is appended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect<'a> {
    /// Stream offset just after this effect.
    pub offset: u64,
    /// The effect as a RESP multibulk.
    pub resp: &'a [u8],
}

/// Parses RESP-encoded effects back into argument vectors.
pub fn decode_commands(resp: &[u8]) -> Vec<Vec<Bytes>> {
    let mut buf = BytesMut::from(resp);
    let mut parser = RequestParser::new(usize::MAX, usize::MAX);
    std::iter::from_fn(|| parser.next(&mut buf).ok().flatten()).collect()
}

/// A consumer of the effect stream (the AOF writer, the replication feed).
pub trait EffectSink: Send {
    /// Receives each effect, in order, while the keyspace lock is held: it must not block.
    fn accept(&mut self, effect: Effect<'_>);
}

/// The replication ids of the history this stream continues (Redis's PSYNC2 `replid`/`replid2`).
#[derive(Debug, Clone)]
pub struct ReplIds {
    /// The current history's id.
    pub id: String,
    /// The id this node followed before its last promotion or primary change (`0`s when none).
    pub id2: String,
    /// The first replication offset (+1, as Redis counts) not shared with `id2`'s history; -1 when none.
    pub second: i64,
}

impl Default for ReplIds {
    fn default() -> Self {
        ReplIds {
            id: crate::util::random_hex(40),
            id2: "0".repeat(40),
            second: -1,
        }
    }
}

impl ReplIds {
    /// Starts a new history after this one's `offset` (promotion): peers that followed the old one can
    /// still continue from it up to that point.
    pub fn shift(&mut self, offset: u64) {
        self.id2 = std::mem::replace(&mut self.id, crate::util::random_hex(40));
        self.second = offset as i64 + 1;
    }
}

/// The stream: offsets, consumers, and (once started) the backlog ring.
#[derive(Default)]
pub struct EffectLog {
    offset: u64,
    /// Replication offset minus local offset (wrapping).
    shift: u64,
    pub ids: ReplIds,
    /// A replica's log: [`EffectLog::append`] is ignored, only the primary's stream is recorded.
    pub follower: bool,
    /// Encoding scratch, reused so appending allocates nothing once warm.
    scratch: BytesMut,
    backlog: Option<Backlog>,
    /// Most bytes of effects the backlog keeps (`repl-backlog-size`).
    pub max_backlog: usize,
    sinks: Vec<(u64, Box<dyn EffectSink>)>,
    next_sink: u64,
}

/// The newest effects' bytes, with the start offset of each effect wholly inside.
#[derive(Default)]
struct Backlog {
    data: VecDeque<u8>,
    starts: VecDeque<u64>,
}

impl std::fmt::Debug for EffectLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.backlog.as_ref().map(|b| b.data.len());
        f.debug_struct("EffectLog")
            .field("offset", &self.offset)
            .field("backlog", &len)
            .finish()
    }
}

/// Bytes `argv` takes as a RESP multibulk.
pub fn encoded_len(argv: &[Bytes]) -> usize {
    let digits = |n: usize| n.checked_ilog10().unwrap_or(0) as usize + 1;
    3 + digits(argv.len())
        + argv
            .iter()
            .map(|a| 5 + digits(a.len()) + a.len())
            .sum::<usize>()
}

impl EffectLog {
    pub fn new(max_backlog: usize) -> Self {
        EffectLog {
            max_backlog,
            ..Default::default()
        }
    }

    /// Offset after the last effect.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Registers a consumer that sees every effect from now on; the id removes it.
    pub fn add_sink(&mut self, sink: Box<dyn EffectSink>) -> u64 {
        self.next_sink += 1;
        self.sinks.push((self.next_sink, sink));
        self.next_sink
    }

    /// Stops feeding a consumer (the AOF being turned off, a replica gone).
    pub fn remove_sink(&mut self, id: u64) {
        self.sinks.retain(|(i, _)| *i != id);
    }

    /// Starts keeping the backlog (idempotent); effects from now on can be read back.
    pub fn start_backlog(&mut self) {
        self.backlog.get_or_insert_with(Backlog::default);
    }

    /// The replication offset (Redis's `master_repl_offset`).
    pub fn repl_offset(&self) -> u64 {
        self.offset.wrapping_add(self.shift)
    }

    /// The replication offset of a local offset.
    fn to_repl(&self, local: u64) -> u64 {
        local.wrapping_add(self.shift)
    }

    /// Adopts another history at `repl_offset` (a replica after a full sync): what the backlog kept belongs
    /// to the old history and is dropped. The local offset is untouched.
    pub fn rebase(&mut self, repl_offset: u64) {
        self.shift = repl_offset.wrapping_sub(self.offset);
        if let Some(b) = self.backlog.as_mut() {
            b.data.clear();
            b.starts.clear();
        }
    }

    /// The stream's bytes after replication offset `from`, if the backlog still holds them all (a partial
    /// resynchronization); `Some(empty)` when `from` is the current offset.
    pub fn since(&self, from: u64) -> Option<Vec<u8>> {
        let now = self.repl_offset();
        if from == now {
            return Some(Vec::new());
        }
        let b = self.backlog.as_ref()?;
        let kept_from = now - b.data.len() as u64;
        if from < kept_from || from > now {
            return None;
        }
        Some(
            b.data
                .range((from - kept_from) as usize..)
                .copied()
                .collect(),
        )
    }

    /// Appends one effect (ignored by a follower: see the module doc).
    pub fn append(&mut self, argv: Vec<Bytes>) {
        if self.follower {
            return;
        }
        let start = self.offset;
        self.offset += encoded_len(&argv) as u64;
        if self.sinks.is_empty() && self.backlog.is_none() {
            return;
        }
        self.scratch.clear();
        crate::resp::encode::encode_command(&argv, &mut self.scratch);
        let scratch = std::mem::take(&mut self.scratch);
        self.record(start, &scratch);
        self.scratch = scratch;
        if self.scratch.capacity() > 1 << 20 {
            self.scratch = BytesMut::new();
        }
    }

    /// Appends whole commands exactly as another node's stream carried them (a replica recording its
    /// primary's effects once they are applied).
    pub fn append_raw(&mut self, resp: &[u8]) {
        let start = self.offset;
        self.offset += resp.len() as u64;
        self.record(start, resp);
    }

    /// Hands bytes starting at local offset `start` to the sinks and the backlog.
    fn record(&mut self, start: u64, resp: &[u8]) {
        let effect = Effect {
            offset: self.offset,
            resp,
        };
        for (_, s) in &mut self.sinks {
            s.accept(effect);
        }
        if let Some(b) = self.backlog.as_mut() {
            // A single effect bigger than the backlog keeps only its tail, as Redis's backlog would.
            let bytes = &resp[resp.len().saturating_sub(self.max_backlog)..];
            let overflow = (b.data.len() + bytes.len()).saturating_sub(self.max_backlog);
            b.data.drain(..overflow);
            b.data.extend(bytes);
            b.starts.push_back(start);
            let kept_from = self.offset - b.data.len() as u64;
            while b.starts.front().is_some_and(|&s| s < kept_from) {
                b.starts.pop_front();
            }
        }
    }

    /// The backlog's state for INFO replication: `(bytes kept, offset of the first kept byte)` once started.
    pub fn backlog_state(&self) -> Option<(u64, u64)> {
        self.backlog.as_ref().map(|b| {
            let len = b.data.len() as u64;
            (len, self.repl_offset() - len + 1)
        })
    }

    /// The RESP bytes of the newest `n` effects wholly in the backlog, oldest first, with the offset at
    /// which they start. Empty until the backlog is started.
    pub fn recent(&self, n: usize) -> (u64, Vec<u8>) {
        let Some(b) = self.backlog.as_ref() else {
            return (self.offset, Vec::new());
        };
        let kept_from = self.offset - b.data.len() as u64;
        let from = match b.starts.len().checked_sub(n.min(b.starts.len())) {
            Some(i) if i < b.starts.len() => b.starts[i],
            _ => self.offset,
        };
        (
            self.to_repl(from),
            b.data
                .iter()
                .skip((from - kept_from) as usize)
                .copied()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_resp_bytes_and_backlog_is_bounded() {
        let mut log = EffectLog::new(100);
        log.append(vec![
            Bytes::from("SET"),
            Bytes::from("before"),
            Bytes::from("v"),
        ]);
        assert_eq!(log.offset(), 32);
        assert!(
            log.recent(10).1.is_empty(),
            "nothing kept before a consumer starts the backlog"
        );
        log.start_backlog();
        log.append(vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("v")]);
        // *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n = 4 + 9 + 7 + 7
        assert_eq!(log.offset(), 32 + 27);
        assert_eq!(
            decode_commands(&log.recent(1).1),
            vec![vec!["SET", "k", "v"]]
        );
        for i in 0..10 {
            log.append(vec![Bytes::from("DEL"), Bytes::from(format!("k{i}"))]);
        }
        // 100 bytes hold the last 4 whole DELs (21 bytes each) and part of an older one.
        let all = decode_commands(&log.recent(100).1);
        assert_eq!(all.len(), 4);
        assert_eq!(all[3], vec!["DEL", "k9"]);
        let (from, last) = log.recent(1);
        assert_eq!(from + last.len() as u64, log.offset());
        assert_eq!(decode_commands(&last), vec![vec!["DEL", "k9"]]);
    }

    #[test]
    fn partial_resync_reads_the_backlog_in_replication_offsets() {
        let mut log = EffectLog::new(1000);
        log.append(vec![Bytes::from("DEL"), Bytes::from("a")]);
        log.start_backlog();
        let at = log.repl_offset();
        log.append(vec![Bytes::from("DEL"), Bytes::from("b")]);
        assert_eq!(
            decode_commands(&log.since(at).unwrap()),
            vec![vec!["DEL", "b"]]
        );
        assert_eq!(log.since(log.repl_offset()), Some(Vec::new()));
        assert_eq!(log.since(0), None, "bytes from before the backlog started");
        // A replica adopting its primary's history at offset 5000: local offsets go on growing.
        let local = log.offset();
        log.rebase(5000);
        log.follower = true;
        log.append(vec![Bytes::from("DEL"), Bytes::from("ignored")]);
        assert_eq!(log.repl_offset(), 5000, "a follower records only raw bytes");
        log.append_raw(b"*2\r\n$3\r\nDEL\r\n$1\r\nc\r\n");
        assert_eq!(log.repl_offset(), 5020);
        assert_eq!(log.offset(), local + 20);
        assert_eq!(log.since(4990), None);
        assert_eq!(
            decode_commands(&log.since(5000).unwrap()),
            vec![vec!["DEL", "c"]]
        );
        assert_eq!(log.backlog_state(), Some((20, 5001)));
        let old = log.ids.id.clone();
        log.ids.shift(log.repl_offset());
        assert_eq!((log.ids.id2.as_str(), log.ids.second), (old.as_str(), 5021));
    }
}
