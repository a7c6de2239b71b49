//! One client connection: read into a buffer, run every complete request in it, write all replies with one
//! flush; deliver pub/sub and MONITOR pushes in between. A protocol error gets Redis's `-ERR Protocol error`
//! line and closes this connection only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, Notify};

use crate::commands;
use crate::commands::dispatch::Response;
use crate::pubsub::Subscriber;
use crate::reply::Reply;
use crate::resp::encode::encode;
use crate::resp::request::RequestParser;
use crate::session::Session;
use crate::shared::Shared;
use crate::stats::Stats;

/// Most bytes of pushed messages a slow subscriber may have queued before it is disconnected (Redis's
/// default `client-output-buffer-limit pubsub 32mb`).
const PUSH_LIMIT: usize = 32 << 20;

/// Largest big-argument buffer allocated before its data has arrived.
const BIG_PREALLOC: usize = 16 << 20;

/// Replies collected from back-to-back reads before they are written out.
const WRITE_BATCH: usize = 64 * 1024;

/// Messages for this connection other than replies: pushes, and the late reply of a deferred command.
struct Io {
    sink: Arc<Sink>,
    rx: mpsc::UnboundedReceiver<Reply>,
    /// Set while a deferred command (a model run) is in flight: later requests wait for its reply.
    pending: Option<oneshot::Receiver<Reply>>,
}

/// The connection's push queue, seen by the core as a [`Subscriber`].
struct Sink {
    tx: mpsc::UnboundedSender<Reply>,
    queued: AtomicUsize,
    kill: Arc<Notify>,
}

fn approx_size(r: &Reply) -> usize {
    match r {
        Reply::Bulk(b) => b.len() + 16,
        Reply::Status(s) => s.len() + 4,
        Reply::Push(v) | Reply::Array(v) => v.iter().map(approx_size).sum::<usize>() + 8,
        _ => 16,
    }
}

impl Subscriber for Sink {
    fn deliver(&self, msg: Reply) {
        let size = approx_size(&msg);
        if self.queued.fetch_add(size, Ordering::Relaxed) + size > PUSH_LIMIT {
            crate::warning!("Client closed for overcoming of output buffer limits (pubsub).");
            self.kill.notify_one();
            return;
        }
        let _ = self.tx.send(msg);
    }
}

pub async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: broadcast::Receiver<()>,
) {
    Stats::add(&shared.stats.connections_received, 1);
    let settings = shared.settings();
    if shared.clients.len() >= settings.maxclients {
        Stats::add(&shared.stats.rejected_connections, 1);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    if settings.protected_mode && settings.requirepass.is_empty() && !peer.ip().is_loopback() {
        let _ = stream
            .write_all(b"-DENIED tensorcell is running in protected mode because protected mode is enabled and no password is set for the default user. Set requirepass or turn protected-mode off.\r\n")
            .await;
        return;
    }
    let laddr = stream
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let kill = Arc::new(Notify::new());
    let k2 = kill.clone();
    let client =
        shared
            .clients
            .register(peer.to_string(), laddr, Box::new(move || k2.notify_one()));
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = Arc::new(Sink {
        tx,
        queued: AtomicUsize::new(0),
        kill: kill.clone(),
    });
    let mut session = Session::new(
        client.clone(),
        sink.clone(),
        settings.requirepass.is_empty(),
    );
    let mut io = Io {
        sink,
        rx,
        pending: None,
    };
    let mut parser = RequestParser::new(settings.proto_max_bulk_len, settings.query_buffer_limit);
    parser.unauthenticated = !session.authenticated;

    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut wbuf = BytesMut::with_capacity(16 * 1024);
    let mut open = true;
    while open {
        if let Some(wait) = io.pending.as_mut() {
            // A deferred command is running: deliver pushes meanwhile, and once its reply arrives go on
            // with the requests that were already read.
            tokio::select! {
                reply = wait => {
                    io.pending = None;
                    // The completion is dropped unsent only if its job died (a panic, or shutdown): the
                    // client still gets one reply for its command.
                    let r = reply.unwrap_or_else(|_| {
                        Reply::Error(crate::error::CmdError::err("the request was lost: its worker failed"))
                    });
                    if crate::persist::of(&shared).always.load(Ordering::Relaxed) {
                        // The command committed on a worker: its effects are in the AOF buffer by now.
                        if let Some(aof) = crate::persist::of(&shared).aof() {
                            session.wrote_upto = session.wrote_upto.max(aof.appended.load(Ordering::SeqCst));
                        }
                    }
                    encode(&mut wbuf, r, session.protocol);
                    open = process(&shared, &mut session, &mut parser, &mut rbuf, &mut wbuf, &mut io);
                }
                Some(msg) = io.rx.recv() => {
                    push(&io.sink, &session, msg, &mut wbuf);
                }
                _ = kill.notified() => break,
                _ = stop.recv() => break,
            }
            if !wbuf.is_empty() {
                durable(&shared, &session).await;
                Stats::add(&shared.stats.net_output_bytes, wbuf.len() as u64);
                if stream.write_all(&wbuf).await.is_err() {
                    break;
                }
                wbuf.clear();
            }
            continue;
        }
        let idle = shared.hot.timeout.load(Ordering::Relaxed);
        let idle_timer = async {
            if idle == 0 || session.subscriptions() > 0 || session.monitor {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_secs(idle)).await;
        };
        tokio::select! {
            read = stream.read_buf(&mut rbuf) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        Stats::add(&shared.stats.net_input_bytes, n as u64);
                        open = process(&shared, &mut session, &mut parser, &mut rbuf, &mut wbuf, &mut io);
                        // Keep reading what has already arrived (a pipeline larger than one read) before
                        // writing, so one write answers the whole pipeline instead of one per read.
                        let mut extra_reads = 0;
                        while open && io.pending.is_none() && extra_reads < 16 && wbuf.len() < WRITE_BATCH {
                            rbuf.reserve(16 * 1024);
                            match stream.try_read_buf(&mut rbuf) {
                                Ok(0) => open = false,
                                Ok(n) => {
                                    Stats::add(&shared.stats.net_input_bytes, n as u64);
                                    open = process(&shared, &mut session, &mut parser, &mut rbuf, &mut wbuf, &mut io);
                                }
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                                Err(_) => open = false,
                            }
                            extra_reads += 1;
                        }
                    }
                }
            }
            Some(msg) = io.rx.recv() => {
                push(&io.sink, &session, msg, &mut wbuf);
                while let Ok(m) = io.rx.try_recv() {
                    push(&io.sink, &session, m, &mut wbuf);
                }
            }
            _ = kill.notified() => break,
            _ = stop.recv() => break,
            _ = idle_timer => break,
        }
        if !wbuf.is_empty() {
            durable(&shared, &session).await;
            Stats::add(&shared.stats.net_output_bytes, wbuf.len() as u64);
            if stream.write_all(&wbuf).await.is_err() {
                break;
            }
            wbuf.clear();
            // Don't keep a huge buffer around after one large reply.
            if wbuf.capacity() > 1 << 20 {
                wbuf = BytesMut::with_capacity(16 * 1024);
            }
        }
        if let Some(need) = parser.pending_big_arg(&rbuf) {
            // A big argument gets a buffer of its own, so the keyspace can keep it without a copy. Sizes up
            // to BIG_PREALLOC are allocated at once; beyond that the buffer grows with the bytes that have
            // actually arrived, so a header promising 512 MB costs nothing until the data comes.
            let target = need.min(rbuf.len() * 2 + BIG_PREALLOC);
            if rbuf.capacity() < target {
                let mut fresh = BytesMut::with_capacity(target);
                fresh.extend_from_slice(&rbuf);
                rbuf = fresh;
            }
        } else if rbuf.is_empty() && rbuf.capacity() > 1 << 20 {
            rbuf = BytesMut::with_capacity(16 * 1024);
        }
    }
    if let Some(handoff) = session
        .takeover
        .take()
        .and_then(|t| t.downcast::<crate::repl::Handoff>().ok())
    {
        let handoff = *handoff;
        // PSYNC: the +FULLRESYNC/+CONTINUE line is written; the socket now belongs to the replica's feed
        // threads, with whatever the replica sent after PSYNC.
        match stream.into_std() {
            Ok(std) => crate::repl::serve_replica(shared.clone(), std, rbuf.to_vec(), handoff),
            Err(_) => crate::repl::abandon(&shared, handoff),
        }
    }
    cleanup(&shared, session);
}

/// Under `appendfsync always`, waits (without blocking the I/O thread) until the AOF holds every write
/// this client made before it sees the replies: an acknowledged write survives a crash.
async fn durable(shared: &Shared, session: &Session) {
    if session.wrote_upto == 0 || !crate::persist::of(shared).always.load(Ordering::Relaxed) {
        return;
    }
    let Some(aof) = crate::persist::of(shared).aof() else {
        return;
    };
    if aof.synced() >= session.wrote_upto {
        return;
    }
    // Let every other client that is ready run its commands first, so one fsync covers all of them; the
    // first to come back writes and fsyncs for all (blocking this I/O thread for the fsync, as Redis's
    // event loop does under `always`), the others find their writes already on disk.
    tokio::task::yield_now().await;
    if aof.sync_inline(session.wrote_upto) {
        return;
    }
    let (tx, rx) = oneshot::channel();
    aof.when_synced(
        session.wrote_upto,
        Box::new(move || {
            let _ = tx.send(());
        }),
    );
    let _ = rx.await;
}

fn push(sink: &Sink, session: &Session, msg: Reply, wbuf: &mut BytesMut) {
    sink.queued.fetch_sub(approx_size(&msg), Ordering::Relaxed);
    encode(wbuf, msg, session.protocol);
}

/// Runs every complete request in `rbuf`, encoding replies into `wbuf`. Returns false to close.
fn process(
    shared: &Shared,
    session: &mut Session,
    parser: &mut RequestParser,
    rbuf: &mut BytesMut,
    wbuf: &mut BytesMut,
    io: &mut Io,
) -> bool {
    let now = crate::util::now_ms();
    let mut clock = std::time::Instant::now();
    parser.max_bulk = shared.hot.proto_max_bulk_len.load(Ordering::Relaxed);
    parser.max_request = shared.hot.query_buffer_limit.load(Ordering::Relaxed);
    loop {
        match parser.next(rbuf) {
            Ok(Some(argv)) => {
                session.suppress_reply = false;
                let reply = commands::execute(shared, session, argv, now, &mut clock);
                parser.unauthenticated = !session.authenticated;
                // Messages this command caused for its own client (a RESP3 subscriber publishing to its
                // channel, or notified of its own write) come before its reply, as in Redis.
                if session.subscriptions() > 0 {
                    while let Ok(m) = io.rx.try_recv() {
                        push(&io.sink, session, m, wbuf);
                    }
                }
                match reply {
                    Response::Reply(r) if !session.suppress_reply => {
                        encode(wbuf, r, session.protocol)
                    }
                    Response::Reply(_) | Response::Nothing => {}
                    Response::Later(d) => {
                        // Requests after this one wait (unparsed in `rbuf`) until its reply arrives.
                        let (tx, rx) = oneshot::channel();
                        d.start(Box::new(move |r| {
                            let _ = tx.send(r);
                        }));
                        io.pending = Some(rx);
                        return true;
                    }
                }
                if session.close_after_reply || session.takeover.is_some() {
                    return false;
                }
            }
            Ok(None) => return true,
            Err(e) => {
                crate::verbose!(
                    "Protocol error ({}) from client: {}",
                    e.0,
                    session.client.addr
                );
                Stats::add(&shared.stats.error_replies, 1);
                encode(
                    wbuf,
                    Reply::Error(crate::error::CmdError::Err(
                        e.0.trim_start_matches("ERR ").to_string(),
                    )),
                    session.protocol,
                );
                return false;
            }
        }
    }
}

/// Releases everything a closing connection held: subscriptions, watches, MONITOR, its registry entry.
fn cleanup(shared: &Shared, mut session: Session) {
    let id = session.id();
    for ch in std::mem::take(&mut session.channels) {
        shared.pubsub.unsubscribe(&ch, id);
    }
    for p in std::mem::take(&mut session.patterns) {
        shared.pubsub.punsubscribe(&p, id);
    }
    if !session.watches.is_empty() {
        let mut g = shared.engine.lock();
        for w in &session.watches {
            g.db.unwatch(&w.key);
        }
    }
    if session.monitor {
        shared.monitors.lock().retain(|(m, _)| *m != id);
        shared.hot.monitors.fetch_sub(1, Ordering::Relaxed);
    }
    shared.clients.unregister(id);
}
