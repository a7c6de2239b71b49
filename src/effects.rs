//! The effect stream: every write the keyspace applies, as the RESP command that reproduces it, in apply
//! order. It is the one feed for the AOF and replicas (later issues) and is appended to only by
//! `commands::dispatch::propagate`, while the keyspace lock is held, so stream order is apply order by
//! construction.
//!
//! The stream keeps a bounded backlog of recent effects with their offsets (bytes of RESP since start, as
//! Redis's replication offset), which `DEBUG EFFECTS` reads and replication will serve partial resyncs from.

use std::collections::VecDeque;

use bytes::Bytes;

/// One propagated write, e.g. `SET k v PXAT 1700000000000` or `AI.TENSORSET k FLOAT 2 BLOB <..>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// Stream offset just after this effect.
    pub offset: u64,
    pub argv: Vec<Bytes>,
}

/// A consumer of the effect stream (the AOF writer, the replication feed).
pub trait EffectSink: Send {
    /// Receives each effect, in order, while the keyspace lock is held: it must not block.
    fn accept(&mut self, effect: &Effect);
}

#[derive(Default)]
pub struct EffectLog {
    offset: u64,
    backlog: VecDeque<Effect>,
    backlog_bytes: usize,
    /// Most bytes of effects the backlog keeps (`effect-backlog-size`).
    pub max_backlog: usize,
    sinks: Vec<Box<dyn EffectSink>>,
}

impl std::fmt::Debug for EffectLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EffectLog")
            .field("offset", &self.offset)
            .field("backlog", &self.backlog.len())
            .finish()
    }
}

/// Length of `argv` encoded as a RESP multibulk.
pub fn resp_len(argv: &[Bytes]) -> usize {
    let digits = |n: usize| n.to_string().len();
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

    /// Registers a consumer that sees every effect from now on.
    pub fn add_sink(&mut self, sink: Box<dyn EffectSink>) {
        self.sinks.push(sink);
    }

    /// Appends one effect.
    pub fn append(&mut self, argv: Vec<Bytes>) {
        let len = resp_len(&argv);
        self.offset += len as u64;
        let effect = Effect {
            offset: self.offset,
            argv,
        };
        for s in &mut self.sinks {
            s.accept(&effect);
        }
        self.backlog_bytes += len;
        self.backlog.push_back(effect);
        while self.backlog_bytes > self.max_backlog && self.backlog.len() > 1 {
            if let Some(old) = self.backlog.pop_front() {
                self.backlog_bytes -= resp_len(&old.argv);
            }
        }
    }

    /// The newest `n` effects in the backlog, oldest first.
    pub fn recent(&self, n: usize) -> impl Iterator<Item = &Effect> {
        self.backlog
            .iter()
            .skip(self.backlog.len().saturating_sub(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_resp_bytes_and_backlog_is_bounded() {
        let mut log = EffectLog::new(100);
        log.append(vec![Bytes::from("SET"), Bytes::from("k"), Bytes::from("v")]);
        // *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n = 4 + 9 + 7 + 7
        assert_eq!(log.offset(), 27);
        for _ in 0..10 {
            log.append(vec![Bytes::from("DEL"), Bytes::from("k")]);
        }
        assert!(log.recent(100).count() < 11);
        assert_eq!(log.recent(1).next().unwrap().offset, log.offset());
    }
}
