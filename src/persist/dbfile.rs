//! The keyspace snapshot file (a dump, or an AOF base): capturing the keyspace, writing a capture atomically
//! (temporary file, fsync, rename, directory fsync), and reading one back. The container is
//! [`super::container`]; one record per key is [`super::records`].

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use bytes::Bytes;

use crate::codec::container::{self, Reader, Writer};
use crate::codec::file::write_atomically;
use crate::codec::records::{entry_of, record_of, Header, Record};
use crate::codec::Codec;
use crate::keyspace::Entry;
use crate::notice;
use crate::shared::Engine;
use crate::shared::Shared;

/// Magic of a keyspace snapshot file (a dump or an AOF base).
pub const DB_MAGIC: &[u8; 8] = b"TCELLDB\0";

/// The keyspace at one instant: cheap clones of every live entry.
pub struct Capture {
    pub entries: Vec<(Bytes, Entry)>,
    pub replid: String,
    pub offset: u64,
    /// The flush epoch when it was taken (see [`Persist::dump_epoch`]).
    pub epoch: u64,
}

/// Clones every live entry, with the replication id and offset they correspond to (call under the engine
/// lock: the guard proves it).
pub fn capture(g: &Engine, shared: &Shared) -> Capture {
    // A replica keeps keys past their time until its primary's DEL (which may never come: a PEXPIREAT
    // extending them may be on its way), so its captures keep them too.
    let now = match g.db.expiry {
        crate::keyspace::Expiry::Delete => crate::util::now_ms(),
        _ => 0,
    };
    Capture {
        entries: g
            .db
            .iter(now)
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect(),
        replid: g.effects.ids.id.clone(),
        offset: g.effects.repl_offset(),
        epoch: *super::of(shared).dump_epoch.lock(),
    }
}

/// Writes a keyspace snapshot file; returns its size.
pub fn write_snapshot(path: &Path, c: &Capture, codec: Codec) -> std::io::Result<u64> {
    let mut size = 0;
    write_atomically(path, |w| {
        size = snapshot_body(w, c, codec)?;
        Ok(())
    })?;
    Ok(size)
}

/// The snapshot file's bytes (a file, or a replica's socket); returns their count.
pub fn snapshot_body<W: Write>(w: W, c: &Capture, codec: Codec) -> std::io::Result<u64> {
    let mut out = Writer::new(Counting(w, 0), DB_MAGIC, codec)?;
    out.record(&Header {
        created_ms: crate::util::now_ms(),
        replid: c.replid.clone(),
        offset: c.offset,
        keys: c.entries.len() as u64,
    })?;
    for (k, e) in &c.entries {
        out.record(&record_of(k, e))?;
    }
    Ok(out.finish()?.1)
}

/// Counts bytes written through it.
struct Counting<W>(W, u64);

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1 += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Reads a keyspace snapshot file, handing each live key to `put`. Models are loaded and scripts compiled
/// (`begin()` is not run); keys already expired are skipped, as Redis does loading an RDB on a primary, or
/// kept (`keep_expired`, a replica) for the primary's DEL.
pub fn read_snapshot(
    path: &Path,
    threads: crate::model::Threads,
    keep_expired: bool,
    put: impl FnMut(Bytes, Entry),
) -> Result<Header, String> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| format!("Can't open {shown}: {e}"))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    read_snapshot_from(reader, &shown.to_string(), threads, keep_expired, put)
}

/// Reads a snapshot from any reader (`name` for messages). A replica keeps keys already expired
/// (`keep_expired`): its primary's DEL removes them, as Redis replicas loading an RDB do.
pub fn read_snapshot_from(
    reader: impl std::io::Read,
    shown: &str,
    threads: crate::model::Threads,
    keep_expired: bool,
    mut put: impl FnMut(Bytes, Entry),
) -> Result<Header, String> {
    let fail = |e: container::FormatError| format!("{shown} is not a valid snapshot: {e}");
    let mut r = Reader::open(reader, DB_MAGIC, "snapshot").map_err(fail)?;
    let header: Header = r
        .next_record()
        .map_err(fail)?
        .ok_or_else(|| fail(container::FormatError::Truncated))?;
    let now = crate::util::now_ms();
    while let Some(frame) = r.next_frame().map_err(fail)? {
        let rec: Record<'_> = container::decode(&frame).map_err(fail)?;
        let (key, entry) = entry_of(rec, &frame, threads).map_err(|e| format!("{shown}: {e}"))?;
        if !keep_expired && entry.expire_at.is_some_and(|t| t <= now) {
            continue;
        }
        put(key, entry);
    }
    Ok(header)
}

/// Loads a snapshot file into the keyspace (start-up, DEBUG RELOAD); returns its header.
pub fn load_snapshot(shared: &Shared, path: &Path) -> Result<Header, String> {
    let started = Instant::now();
    let mut n = 0u64;
    let threads = shared.pool.threads;
    // Keys go in batches so the lock is not taken once per key nor held across model loads.
    let mut batch: Vec<(Bytes, Entry)> = Vec::new();
    let flush = |batch: &mut Vec<(Bytes, Entry)>| {
        let mut g = shared.engine.lock();
        for (k, e) in batch.drain(..) {
            g.db.set(k, e.value, e.expire_at);
        }
    };
    let header = read_snapshot(
        path,
        threads,
        crate::repl::of(shared).is_replica(),
        |k, e| {
            n += 1;
            batch.push((k, e));
            if batch.len() >= 1024 {
                flush(&mut batch);
            }
        },
    )?;
    flush(&mut batch);
    notice!(
        "DB loaded from {}: {n} keys in {:.3} seconds",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    super::of(shared).loaded_keys.store(n, SeqCst);
    Ok(header)
}
