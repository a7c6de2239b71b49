//! The effect stream: every write the keyspace applies, as the RESP command that reproduces it, in apply
//! order. It is the one feed for the AOF and replicas (later issues) and is appended to only while the
//! keyspace lock is held (`commands::dispatch`), so stream order is apply order by construction.
//!
//! Each effect is encoded once, as the RESP multibulk the AOF will write and a replica will read, into a
//! buffer of its own (so it never pins a client's read buffer). The stream keeps a bounded backlog of recent
//! effects with their offsets (bytes of RESP since start, as Redis's replication offset): `DEBUG EFFECTS`
//! reads it today, partial resynchronisation will tomorrow.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::resp::request::RequestParser;

/// One propagated write, e.g. `SET k v PXAT 1700000000000` or `AI.TENSORSET k FLOAT 2 BLOB <..>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// Stream offset just after this effect.
    pub offset: u64,
    /// The effect as a RESP multibulk.
    pub resp: Bytes,
}

impl Effect {
    /// The effect's arguments, parsed back from its RESP encoding.
    pub fn argv(&self) -> Vec<Bytes> {
        let mut buf = BytesMut::from(&self.resp[..]);
        RequestParser::new(usize::MAX, usize::MAX)
            .next(&mut buf)
            .ok()
            .flatten()
            .unwrap_or_default()
    }
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

/// Encodes `argv` as a RESP multibulk.
pub fn encode_command(argv: &[Bytes]) -> Bytes {
    let len = 16 + argv.iter().map(|a| a.len() + 16).sum::<usize>();
    let mut out = BytesMut::with_capacity(len);
    let header = |prefix: u8, n: usize, out: &mut BytesMut| {
        out.put_u8(prefix);
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        out.put_slice(&digits[i..]);
        out.put_slice(b"\r\n");
    };
    header(b'*', argv.len(), &mut out);
    for a in argv {
        header(b'$', a.len(), &mut out);
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
    out.freeze()
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
        let resp = encode_command(&argv);
        let len = resp.len();
        self.offset += len as u64;
        let effect = Effect {
            offset: self.offset,
            resp,
        };
        for s in &mut self.sinks {
            s.accept(&effect);
        }
        self.backlog_bytes += len;
        self.backlog.push_back(effect);
        while self.backlog_bytes > self.max_backlog && self.backlog.len() > 1 {
            if let Some(old) = self.backlog.pop_front() {
                self.backlog_bytes -= old.resp.len();
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
        assert_eq!(log.recent(1).next().unwrap().argv(), vec!["SET", "k", "v"]);
        for _ in 0..10 {
            log.append(vec![Bytes::from("DEL"), Bytes::from("k")]);
        }
        assert!(log.recent(100).count() < 11);
        assert_eq!(log.recent(1).next().unwrap().offset, log.offset());
    }
}
