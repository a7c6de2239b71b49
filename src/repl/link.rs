//! The replica's link to its primary, on a thread of its own: connect, handshake (`AUTH`, `PING`,
//! `REPLCONF listening-port`, `REPLCONF capa`), `PSYNC`, then either load a full sync or continue, and apply
//! the stream. It reconnects every second while this node follows the same primary (its generation).
//!
//! Applying runs the primary's effects through the command bodies ([`Replayer`]) and then records their
//! bytes in this node's effect log (a follower log ignores what the bodies propagate): offsets stay
//! byte-for-byte equal to the primary's. `PING` and `REPLCONF GETACK` are control messages, not counted.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::LinkState;
use crate::effects::ReplIds;
use crate::keyspace::Db;
use crate::persist::apply::{ApplyError, Replayer};
use crate::resp::request::RequestParser;
use crate::shared::Shared;
use crate::util::eq_ic;
use crate::{notice, warning};

pub(super) fn spawn(shared: Arc<Shared>, generation: u64) {
    let _ = std::thread::Builder::new()
        .name("repl-link".into())
        .spawn(move || run(&shared, generation));
}

/// Keeps the link up until this node stops following this primary.
fn run(shared: &Shared, generation: u64) {
    let repl = &super::of(shared);
    while repl.current(generation) {
        let result = session(shared, generation);
        if !repl.current(generation) {
            return;
        }
        let target = repl.upstream_of(generation, |u| {
            u.state = LinkState::Connect;
            u.socket = None;
            u.sync_read = None;
            if repl.link_up.swap(false, SeqCst) {
                u.down_since = Instant::now();
            }
            (u.host.clone(), u.port)
        });
        if let (Err(e), Some((host, port))) = (result, target) {
            // Once per failure: the link retries every second.
            warning!("Replication with MASTER {host}:{port}: {e}");
        }
        for _ in 0..10 {
            if !repl.current(generation) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A connected socket with its read buffer.
struct Link {
    stream: TcpStream,
    buf: BytesMut,
    chunk: Vec<u8>,
    /// `repl-timeout`: this long without a byte from the primary ends the link.
    timeout: Duration,
}

impl Link {
    fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        let mut out = BytesMut::new();
        crate::resp::encode::encode_command(&argv, &mut out);
        self.stream
            .write_all(&out)
            .map_err(|e| format!("sending to MASTER: {e}"))
    }

    /// One read into the buffer; `Ok(false)` on a read timeout (the socket's is one second).
    fn fill(&mut self) -> Result<bool, String> {
        match self.stream.read(&mut self.chunk) {
            Ok(0) => Err("connection lost".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&self.chunk[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) => Err(format!("reading from MASTER: {e}")),
        }
    }

    /// Reads until more bytes arrive, or fails after `repl-timeout` of silence.
    fn fill_or_timeout(&mut self, since: &mut Instant) -> Result<(), String> {
        loop {
            if self.fill()? {
                *since = Instant::now();
                return Ok(());
            }
            if since.elapsed() > self.timeout {
                return Err("timeout: no data from MASTER".into());
            }
        }
    }

    /// The next non-empty reply line (the primary may send bare newlines as keepalives).
    fn line(&mut self) -> Result<String, String> {
        let mut since = Instant::now();
        loop {
            while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(end + 1);
                let text = String::from_utf8_lossy(&line).trim().to_string();
                if !text.is_empty() {
                    return Ok(text);
                }
            }
            self.fill_or_timeout(&mut since)?;
        }
    }
}

/// One connection: handshake, sync, then the stream until it fails or this node follows elsewhere.
fn session(shared: &Shared, generation: u64) -> Result<(), String> {
    let repl = &super::of(shared);
    let Some((host, port)) = repl.upstream_of(generation, |u| {
        u.state = LinkState::Connecting;
        (u.host.clone(), u.port)
    }) else {
        return Ok(());
    };
    let s = shared.settings();
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("no address for {host}"))?;
    let timeout = Duration::from_secs(s.repl_timeout.max(1));
    let stream = TcpStream::connect_timeout(&addr, timeout.min(Duration::from_secs(10)))
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .map_err(|e| e.to_string())?;
    if repl
        .upstream_of(generation, |u| u.socket = stream.try_clone().ok())
        .is_none()
    {
        return Ok(());
    }
    notice!("MASTER <-> REPLICA sync started with {host}:{port}");
    let mut link = Link {
        stream,
        buf: BytesMut::new(),
        chunk: vec![0; 64 * 1024],
        timeout,
    };
    if !s.masterauth.is_empty() {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if !s.masteruser.is_empty() {
            args.push(s.masteruser.as_bytes());
        }
        args.push(s.masterauth.as_bytes());
        link.send(&args)?;
        let reply = link.line()?;
        if !reply.starts_with('+') {
            return Err(format!("Unable to AUTH to MASTER: {reply}"));
        }
    }
    link.send(&[b"PING"])?;
    let reply = link.line()?;
    if reply.starts_with('-') {
        return Err(format!("Error reply to PING from master: '{reply}'"));
    }
    let port_arg = shared.bound_port().to_string();
    link.send(&[b"REPLCONF", b"listening-port", port_arg.as_bytes()])?;
    let reply = link.line()?;
    if reply.starts_with('-') {
        notice!("(Non critical) Master does not understand REPLCONF listening-port: {reply}");
    }
    link.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
    let _ = link.line()?;
    let (id, offset) = {
        let g = shared.engine.lock();
        (g.effects.ids.id.clone(), g.effects.repl_offset())
    };
    let (id, next) = match repl.fresh.load(SeqCst) {
        true => ("?".to_string(), "-1".to_string()),
        false => (id, (offset + 1).to_string()),
    };
    link.send(&[b"PSYNC", id.as_bytes(), next.as_bytes()])?;
    let reply = link.line()?;
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut w = rest.split_whitespace();
        let (Some(new_id), Some(Ok(at))) = (w.next(), w.next().map(str::parse::<u64>)) else {
            return Err(format!("bad FULLRESYNC reply: {reply}"));
        };
        notice!("Full resync from master: {new_id}:{at}");
        full_sync(shared, &mut link, generation, new_id, at)?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        notice!("Successful partial resynchronization with master.");
        continue_with(shared, generation, rest.trim());
    } else {
        return Err(format!("unexpected reply to PSYNC from master: {reply}"));
    }
    let connected = repl.upstream_of(generation, |u| {
        u.state = LinkState::Connected;
        u.sync_read = None;
        u.last_io = Instant::now();
        // Under the upstream lock: a REPLICAOF elsewhere (which clears it) cannot slip in between.
        repl.link_up.store(true, SeqCst);
    });
    if connected.is_none() {
        return Ok(());
    }
    notice!("MASTER <-> REPLICA sync: Finished with success");
    follow_stream(shared, &mut link, generation)
}

/// `+CONTINUE <id>`: the primary's history may have a new id (it was promoted); the old one stays
/// reachable as id2, and our own replicas reconnect to learn it.
fn continue_with(shared: &Shared, generation: u64, new_id: &str) {
    let mut g = shared.engine.lock();
    if !super::of(shared).current(generation) || new_id.is_empty() || new_id == g.effects.ids.id {
        return;
    }
    let offset = g.effects.repl_offset();
    g.effects.ids.shift(offset);
    g.effects.ids.id = new_id.to_string();
    drop(g);
    notice!("Master replication id changed to {new_id}");
    super::of(shared).drop_peers();
}

/// Reads the snapshot that follows `+FULLRESYNC`, loads it into a fresh keyspace off the lock, then swaps
/// it in and adopts the primary's history at `offset`.
fn full_sync(
    shared: &Shared,
    link: &mut Link,
    generation: u64,
    replid: &str,
    offset: u64,
) -> Result<(), String> {
    let repl = &super::of(shared);
    let set_read = |n: u64| {
        repl.upstream_of(generation, |u| {
            u.state = LinkState::Sync;
            u.sync_read = Some(n);
            u.last_io = Instant::now();
        });
    };
    set_read(0);
    let header = link.line()?;
    let mut since = Instant::now();
    let payload = if let Some(mark) = header.strip_prefix("$EOF:") {
        let mark = mark.as_bytes().to_vec();
        let finder = memchr::memmem::Finder::new(&mark);
        let mut searched: usize = 0;
        loop {
            // Only new bytes (and the mark's length before them) need searching.
            let from = searched.saturating_sub(mark.len());
            if let Some(at) = finder.find(&link.buf[from..]) {
                let body = link.buf.split_to(from + at);
                let _ = link.buf.split_to(mark.len());
                break body;
            }
            searched = link.buf.len();
            link.fill_or_timeout(&mut since)?;
            set_read(link.buf.len() as u64);
        }
    } else if let Some(len) = header
        .strip_prefix('$')
        .and_then(|n| n.parse::<usize>().ok())
    {
        while link.buf.len() < len {
            link.fill_or_timeout(&mut since)?;
            set_read(link.buf.len() as u64);
        }
        link.buf.split_to(len)
    } else {
        return Err(format!("bad snapshot header from MASTER: {header}"));
    };
    let size = payload.len();
    let started = Instant::now();
    let mut db = Db::new();
    let threads = shared.pool.threads;
    crate::persist::read_snapshot_from(
        &payload[..],
        "the primary's snapshot",
        threads,
        true,
        |k, e| db.set(k, e.value, e.expire_at),
    )?;
    drop(payload);
    let keys = db.len();
    let mut g = shared.engine.lock();
    if !repl.current(generation) {
        return Ok(());
    }
    let old = g.db.replace_with(db);
    g.effects.rebase(offset);
    // The primary's history from here: no previous id of its own.
    g.effects.ids = ReplIds {
        id: replid.to_string(),
        ..ReplIds::default()
    };
    repl.fresh.store(false, SeqCst);
    if crate::persist::of(shared).aof().is_some() {
        // The AOF describes the old keyspace: rewrite it from the new one, switched at this instant (or,
        // when a rewrite of the old one is running, right after it: its base is the old keyspace).
        if let Some((crate::persist::Job::Rewrite, _)) = crate::persist::of(shared).job() {
            crate::persist::of(shared)
                .rewrite_scheduled
                .store(true, SeqCst);
        } else if let Err(e) = crate::persist::bgrewriteaof(shared, &mut g) {
            warning!("Can't rewrite the AOF after a full sync: {e}");
        }
    }
    drop(g);
    drop(old);
    // Our own replicas followed the old history.
    repl.drop_peers();
    notice!(
        "MASTER <-> REPLICA sync: Loaded {keys} keys ({size} bytes) in {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Applies the stream until the link fails; acknowledges its offset every second and when asked.
fn follow_stream(shared: &Shared, link: &mut Link, generation: u64) -> Result<(), String> {
    let repl = &super::of(shared);
    let mut replayer = Replayer::for_stream(move |s: &Shared| super::of(s).current(generation));
    let mut parser = RequestParser::new(usize::MAX, usize::MAX);
    // The parser consumes a command's bytes as they arrive, across reads: count them until it is whole.
    let mut used = 0;
    let mut raw = BytesMut::new();
    let mut last_ack = Instant::now();
    let mut since = Instant::now();
    ack(shared, link)?;
    loop {
        let mut ask = false;
        loop {
            let before = link.buf.len();
            let next = parser.next(&mut link.buf);
            used += before - link.buf.len();
            let argv = match next {
                Ok(Some(argv)) => argv,
                Ok(None) => break,
                Err(e) => return Err(format!("protocol error from MASTER: {}", e.0)),
            };
            let len = std::mem::take(&mut used);
            if eq_ic(&argv[0], "PING") {
                continue;
            }
            if eq_ic(&argv[0], "REPLCONF") {
                ask |= argv.len() > 1 && eq_ic(&argv[1], "GETACK");
                continue;
            }
            raw.clear();
            crate::resp::encode::encode_command(&argv, &mut raw);
            if raw.len() != len {
                // Offsets count the primary's bytes; a command we cannot re-encode byte for byte would
                // make ours drift, so resync instead.
                return Err("the replication stream is not in canonical RESP".into());
            }
            match replayer.apply_raw(shared, argv, &raw) {
                Ok(()) => {}
                Err(ApplyError::Stale) => return Ok(()),
                Err(ApplyError::Failed(e)) | Err(ApplyError::Invalid(e)) => {
                    warning!("== CRITICAL == This replica could not apply its master's effect: {e}")
                }
            }
        }
        if !repl.current(generation) {
            return Ok(());
        }
        if ask || last_ack.elapsed() >= Duration::from_secs(1) {
            ack(shared, link)?;
            last_ack = Instant::now();
        }
        if link.fill()? {
            since = Instant::now();
            repl.upstream_of(generation, |u| u.last_io = since);
        } else if since.elapsed() > link.timeout {
            return Err("timeout: no data from MASTER".into());
        }
    }
}

/// `REPLCONF ACK <offset>`: what this replica has applied.
fn ack(shared: &Shared, link: &mut Link) -> Result<(), String> {
    let offset = shared.engine.lock().effects.repl_offset().to_string();
    link.send(&[b"REPLCONF", b"ACK", offset.as_bytes()])
}
