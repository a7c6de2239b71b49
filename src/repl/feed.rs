//! The primary's side of one replica: its output buffer (filled by an effect sink under the engine lock,
//! never blocking), a writer thread that sends the snapshot of a full sync and then the buffer, and a
//! reader thread that takes the replica's `REPLCONF ACK`s.
//!
//! Control messages (`PING` while idle, `REPLCONF GETACK *` for WAIT) are slipped in between whole effects
//! and are not part of the stream: replicas do not count their bytes, so offsets stay equal on both sides.

use std::io::{BufWriter, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use parking_lot::{Condvar, Mutex};

use super::{remove_peer, Handoff, Peer, ONLINE, SEND_BULK};
use crate::codec::Codec;
use crate::effects::{Effect, EffectSink};
use crate::resp::request::RequestParser;
use crate::shared::Shared;
use crate::util::eq_ic;
use crate::{notice, warning};

/// Most bytes a replica may fall behind by before it is disconnected (Redis's default
/// `client-output-buffer-limit replica 256mb`): it reconnects and resyncs, partially if it can.
const FEED_LIMIT: usize = 256 << 20;

/// How long a woken writer lets effects gather before it writes them.
const GATHER: Duration = Duration::from_millis(1);

/// `REPLCONF GETACK *`: asks the replica for its offset now.
pub(super) const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// A replica's output buffer.
#[derive(Default)]
pub struct Feed {
    buf: Mutex<FeedBuf>,
    ready: Condvar,
    /// Shut down on close, so both threads stop at once even if the replica stalls.
    socket: Mutex<Option<TcpStream>>,
}

#[derive(Default)]
struct FeedBuf {
    data: Vec<u8>,
    closed: bool,
}

impl Feed {
    /// Queues bytes (whole effects, or a control message); nothing once the feed is closed.
    pub fn push(&self, bytes: &[u8]) {
        let mut b = self.buf.lock();
        if b.closed {
            return;
        }
        if b.data.len() + bytes.len() > FEED_LIMIT {
            warning!("Replica output buffer over {FEED_LIMIT} bytes: disconnecting the replica");
            drop(b);
            self.close();
            return;
        }
        // The writer only sleeps on an empty buffer, so only the first bytes need to wake it.
        let wake = b.data.is_empty();
        b.data.extend_from_slice(bytes);
        if wake {
            self.ready.notify_one();
        }
    }

    /// The backlog bytes a partial resync starts with: whatever `repl-backlog-size` allows, outside the
    /// output limit (which is for a replica falling behind, not for catching up).
    pub fn prime(&self, bytes: &[u8]) {
        self.buf.lock().data.extend_from_slice(bytes);
    }

    pub fn close(&self) {
        self.buf.lock().closed = true;
        self.ready.notify_all();
        if let Some(s) = self.socket.lock().take() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Waits up to `idle` for bytes and swaps them into `out` (which must be empty). `None` once closed.
    ///
    /// Once bytes are there it lets more gather for [`GATHER`] before taking them: the writer then sleeps
    /// without waiting on the condition variable, so the effects that arrive meanwhile wake nobody, and one
    /// write carries them all. Waking the writer for every effect cost the primary about 4x its throughput.
    fn next(&self, out: &mut Vec<u8>, idle: Duration) -> Option<()> {
        let mut b = self.buf.lock();
        if b.data.is_empty() && !b.closed {
            self.ready.wait_for(&mut b, idle);
        }
        if b.closed {
            return None;
        }
        if !b.data.is_empty() {
            drop(b);
            std::thread::sleep(GATHER);
            b = self.buf.lock();
            if b.closed {
                return None;
            }
        }
        std::mem::swap(&mut b.data, out);
        Some(())
    }
}

/// Feeds the effect stream into a replica's buffer.
pub struct FeedSink(pub Arc<Feed>);

impl EffectSink for FeedSink {
    fn accept(&mut self, effect: Effect<'_>) {
        self.0.push(effect.resp);
    }
}

/// Serves a replica on the socket its PSYNC came on; `leftover` is what was read after the PSYNC.
pub fn serve_replica(shared: Arc<Shared>, stream: TcpStream, leftover: Vec<u8>, handoff: Handoff) {
    let peer = handoff.peer.clone();
    let spawned = (|| {
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        // A replica that takes nothing for repl-timeout is dropped (it reconnects and resyncs); one that
        // acknowledges nothing for as long, once online, too (see `read_acks`).
        let timeout = Some(Duration::from_secs(shared.settings().repl_timeout.max(1)));
        stream.set_write_timeout(timeout)?;
        let reader = stream.try_clone()?;
        *peer.feed.socket.lock() = Some(stream.try_clone()?);
        if peer.feed.buf.lock().closed {
            // Closed before the socket was known (a primary change meanwhile).
            let _ = stream.shutdown(Shutdown::Both);
        }
        let (s2, s3, p2) = (shared.clone(), shared.clone(), peer.clone());
        std::thread::Builder::new()
            .name("repl-feed".into())
            .spawn(move || write_feed(&s2, stream, handoff))?;
        std::thread::Builder::new()
            .name("repl-acks".into())
            .spawn(move || read_acks(&s3, reader, leftover, &p2))?;
        std::io::Result::Ok(())
    })();
    if let Err(e) = spawned {
        warning!("Can't serve replica {}:{}: {e}", peer.ip, peer.port);
        remove_peer(&shared, &peer);
    }
}

/// The writer: the snapshot of a full sync, then the stream as it comes, with a PING when idle.
fn write_feed(shared: &Shared, stream: TcpStream, handoff: Handoff) {
    let Handoff { peer, full } = handoff;
    let result = (|| {
        if let Some(capture) = full {
            peer.state.store(SEND_BULK, SeqCst);
            // Streamed as it is encoded (Redis's diskless sync framing): `$EOF:<mark>`, the snapshot, then
            // the mark again. Uncompressed: replicas are near, and encoding must keep up with the socket.
            let mark = crate::util::random_hex(40);
            let mut w = BufWriter::with_capacity(1 << 20, &stream);
            write!(w, "$EOF:{mark}\r\n")?;
            let size = crate::persist::snapshot_body(&mut w, &capture, Codec::None)?;
            w.write_all(mark.as_bytes())?;
            w.flush()?;
            drop(w);
            drop(capture);
            notice!(
                "Synchronization with replica {}:{} succeeded ({size} bytes)",
                peer.ip,
                peer.port
            );
            // The replica now loads what it got (models too) and reads nothing meanwhile: no write timeout
            // until its first acknowledgement puts it online (`read_acks`).
            stream.set_write_timeout(None)?;
        }
        let idle = Duration::from_secs(shared.settings().repl_ping_replica_period.max(1));
        let mut out = Vec::new();
        let mut w = &stream;
        while peer.feed.next(&mut out, idle).is_some() {
            if out.is_empty() {
                w.write_all(PING)?;
            } else {
                w.write_all(&out)?;
                out.clear();
                if out.capacity() > 4 << 20 {
                    out = Vec::new();
                }
            }
        }
        std::io::Result::Ok(())
    })();
    if let Err(e) = result {
        crate::verbose!("Replica {}:{} feed ended: {e}", peer.ip, peer.port);
    }
    let _ = stream.shutdown(Shutdown::Both);
    remove_peer(shared, &peer);
}

/// The reader: `REPLCONF ACK <offset>` moves the replica's acknowledged offset and wakes WAITs.
fn read_acks(shared: &Shared, mut stream: TcpStream, leftover: Vec<u8>, peer: &Peer) {
    let mut buf = BytesMut::from(&leftover[..]);
    let mut parser = RequestParser::new(1 << 20, 1 << 20);
    let mut chunk = [0u8; 4096];
    let mut timed = false;
    'read: loop {
        loop {
            match parser.next(&mut buf) {
                Ok(Some(argv)) => {
                    let ack =
                        argv.len() >= 3 && eq_ic(&argv[0], "REPLCONF") && eq_ic(&argv[1], "ACK");
                    if let Some(off) = ack.then(|| crate::util::parse_i64(&argv[2])).flatten() {
                        peer.ack.fetch_max(off.max(0) as u64, SeqCst);
                        peer.ack_ms.store(crate::util::now_ms(), SeqCst);
                        if peer.state.swap(ONLINE, SeqCst) != ONLINE || !timed {
                            // Online (a full sync is loaded): from now on it acknowledges every second,
                            // so repl-timeout without a byte either way means it is gone.
                            timed = true;
                            let t =
                                Some(Duration::from_secs(shared.settings().repl_timeout.max(1)));
                            let _ = stream.set_read_timeout(t).and(stream.set_write_timeout(t));
                        }
                        super::wait::acked(shared);
                    }
                }
                Ok(None) => break,
                Err(_) => break 'read,
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    remove_peer(shared, peer);
}
