//! Replication for the standalone server, Redis-style: a replica connects to its primary over the normal
//! port, says `PSYNC <replid> <offset+1>`, and gets either the rest of the effect stream from the backlog
//! (`+CONTINUE`) or a snapshot in the persistence format followed by the live stream (`+FULLRESYNC`).
//!
//! - Primary side ([`feed`]): PSYNC registers an [`crate::effects::EffectSink`] per replica under the engine
//!   lock, so the snapshot capture (or the backlog bytes) and the live stream meet at one offset with
//!   nothing lost or repeated. Two threads per replica write the feed and read `REPLCONF ACK`s.
//! - Replica side ([`link`]): one thread keeps the link up, loads full syncs, applies the stream through
//!   the command bodies ([`crate::persist::apply`], no policy, never a model run or Python) and records the
//!   primary's bytes verbatim in its own effect log, so its offsets are the primary's, its AOF holds what it
//!   applied, and its own replicas (or peers after a promotion) can continue from it.
//! - WAIT ([`wait`]) counts replicas whose acknowledged offset has reached the stream's offset.
//!
//! Everything here is std threads and blocking sockets: no tokio, so the core rule holds, and applying a
//! model load from the stream never blocks an event loop.

mod feed;
mod link;
mod report;
mod wait;

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

pub use feed::serve_replica;
pub use report::{info, role, stats};
pub use wait::wait;

use crate::commands::flags::STALE;
use crate::commands::{CommandSpec, Completion};
use crate::error::CmdError;
use crate::keyspace::Expiry;
use crate::notice;
use crate::persist::Capture;
use crate::shared::{Engine, Shared};

/// Where a replica's link to its primary is, as ROLE names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connect,
    Connecting,
    Sync,
    Connected,
}

impl LinkState {
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// A replica's primary and the state of the link to it.
#[derive(Debug)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// A clone of the link's socket, shut down to break the link at once (REPLICAOF elsewhere).
    socket: Option<TcpStream>,
    pub last_io: Instant,
    pub down_since: Instant,
    /// Bytes of a full sync's snapshot read so far, while one is in progress.
    pub sync_read: Option<u64>,
    generation: u64,
}

/// A replica's feed as its [`Peer`] reports it.
pub const WAIT_BGSAVE: u8 = 0;
pub const SEND_BULK: u8 = 1;
pub const ONLINE: u8 = 2;

/// A replica connected to this node.
pub struct Peer {
    pub id: u64,
    pub ip: String,
    pub port: u16,
    pub state: AtomicU8,
    /// Replication offset the replica last acknowledged.
    pub ack: AtomicU64,
    /// When it did (Unix ms).
    pub ack_ms: AtomicU64,
    feed: Arc<feed::Feed>,
    sink: u64,
    gone: AtomicBool,
}

/// What PSYNC hands the connection: after the reply, the socket becomes this replica's feed.
pub struct Handoff {
    peer: Arc<Peer>,
    /// The keyspace to send first (a full sync).
    full: Option<Capture>,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handoff(replica {})", self.peer.id)
    }
}

/// A WAIT in progress.
struct Waiter {
    target: u64,
    want: usize,
    deadline: Option<Instant>,
    done: Completion,
}

/// The standalone server's replication state.
pub fn of(shared: &Shared) -> &Repl {
    shared
        .part::<Repl>()
        .expect("the standalone server's node has replication")
}

/// Replication state shared by the command bodies, the link thread and the feeds.
#[derive(Default)]
pub struct Repl {
    upstream: Mutex<Option<Upstream>>,
    /// Mirrors `upstream.is_some()` for the hot path (policy).
    replica: AtomicBool,
    /// The link is up and in step (Redis's `master_link_status:up`).
    link_up: AtomicBool,
    /// Bumped by every REPLICAOF: a link thread of an older generation stops.
    generation: AtomicU64,
    peers: Mutex<Vec<Arc<Peer>>>,
    next_peer: AtomicU64,
    waiters: Mutex<Vec<Waiter>>,
    wake: Condvar,
    /// A replica configured at start-up with no history of its own (no snapshot file with a replication
    /// id): it asks `PSYNC ? -1`, as Redis does, instead of offering an id nobody knows.
    pub fresh: AtomicBool,
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
}

impl Repl {
    pub fn is_replica(&self) -> bool {
        self.replica.load(SeqCst)
    }

    pub fn link_up(&self) -> bool {
        self.link_up.load(SeqCst)
    }

    fn current(&self, generation: u64) -> bool {
        self.generation.load(SeqCst) == generation
    }

    /// Runs `f` on the upstream state if the link of `generation` still owns it (under its lock).
    fn upstream_of<T>(&self, generation: u64, f: impl FnOnce(&mut Upstream) -> T) -> Option<T> {
        self.upstream
            .lock()
            .as_mut()
            .filter(|u| u.generation == generation)
            .map(f)
    }

    /// The refusal policy owes to replication, if any: writes on a replica, stale reads with
    /// `replica-serve-stale-data no`, writes without `min-replicas-to-write` good replicas.
    pub fn refuses(&self, shared: &Shared, spec: &CommandSpec, writes: bool) -> Option<CmdError> {
        let hot = &shared.hot;
        if self.is_replica() {
            if writes {
                return Some(CmdError::ReadOnly);
            }
            if !spec.has(STALE) && !self.link_up() && !hot.replica_serve_stale_data.load(SeqCst) {
                return Some(CmdError::MasterDown);
            }
            return None;
        }
        let need = hot.min_replicas_to_write.load(SeqCst);
        if need > 0 && writes && self.good_replicas(hot) < need {
            return Some(CmdError::NoReplicas);
        }
        None
    }

    /// Online replicas that acknowledged within `min-replicas-max-lag` seconds.
    fn good_replicas(&self, hot: &crate::shared::Hot) -> usize {
        let max_lag = hot.min_replicas_max_lag.load(SeqCst).saturating_mul(1000);
        let now = crate::util::now_ms();
        self.peers
            .lock()
            .iter()
            .filter(|p| {
                p.state.load(SeqCst) == ONLINE
                    && now.saturating_sub(p.ack_ms.load(SeqCst)) <= max_lag
            })
            .count()
    }

    /// Snapshot of the connected replicas.
    pub fn peers(&self) -> Vec<Arc<Peer>> {
        self.peers.lock().clone()
    }

    /// Disconnects every replica of this node (its history changed: they reconnect and learn the new id,
    /// partially when they can).
    fn drop_peers(&self) {
        for p in self.peers() {
            p.feed.close();
        }
    }
}

/// `replicaof <host> <port>` from the configuration, before loading: the node loads as a replica (never
/// runs `begin()`, keeps expired keys for the primary's DEL). [`start`] connects once loading is done.
pub fn configure(shared: &Shared) -> Result<(), String> {
    let spec = shared.settings().replicaof;
    if spec.trim().is_empty() {
        return Ok(());
    }
    let mut words = spec.split_whitespace();
    let (Some(host), Some(port), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("replicaof must be '<host> <port>', not '{spec}'"));
    };
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("replicaof: invalid port '{port}'"))?;
    let mut g = shared.engine.lock();
    follow(shared, &mut g, host, port);
    of(shared).fresh.store(true, SeqCst);
    Ok(())
}

/// Starts the WAIT timer and, on a configured replica, its link.
pub fn start(shared: &Arc<Shared>) {
    wait::start_timer(shared.clone());
    if let Some(generation) = of(shared).upstream.lock().as_ref().map(|u| u.generation) {
        link::spawn(shared.clone(), generation);
    }
}

/// REPLICAOF host port: becomes (or stays) a replica of that primary. The caller holds the engine.
pub fn replicaof(shared: &Shared, g: &mut Engine, host: &str, port: u16) -> &'static str {
    let same = of(shared)
        .upstream
        .lock()
        .as_ref()
        .is_some_and(|u| u.host.eq_ignore_ascii_case(host) && u.port == port);
    if same {
        return "OK Already connected to specified master";
    }
    let generation = follow(shared, g, host, port);
    link::spawn(shared.arc(), generation);
    "OK"
}

/// Switches this node to following `host:port` and returns the link generation to run.
fn follow(shared: &Shared, g: &mut Engine, host: &str, port: u16) -> u64 {
    let repl = &of(shared);
    let generation = repl.generation.fetch_add(1, SeqCst) + 1;
    let was_replica = repl.replica.swap(true, SeqCst);
    crate::log::set_replica(true);
    let old = repl.upstream.lock().replace(Upstream {
        host: host.to_string(),
        port,
        state: LinkState::Connect,
        socket: None,
        last_io: Instant::now(),
        down_since: Instant::now(),
        sync_read: None,
        generation,
    });
    if let Some(s) = old.and_then(|u| u.socket) {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    repl.link_up.store(false, SeqCst);
    g.effects.follower = true;
    // Kept so that, once promoted, this node can serve its peers' partial resyncs.
    g.effects.start_backlog();
    g.db.expiry = Expiry::Hide;
    if !was_replica {
        // Our replicas must learn the new history: they reconnect (through us, to the new primary's data).
        repl.drop_peers();
        fail_waiters(shared);
    }
    notice!("Connecting to MASTER {host}:{port} (REPLICAOF)");
    generation
}

/// REPLICAOF NO ONE: a replica becomes a primary with a new replication id, keeping the old one (up to
/// the current offset) so its former peers can continue partially from it.
pub fn promote(shared: &Shared, g: &mut Engine) {
    let repl = &of(shared);
    if !repl.replica.swap(false, SeqCst) {
        return;
    }
    crate::log::set_replica(false);
    repl.generation.fetch_add(1, SeqCst);
    if let Some(s) = repl.upstream.lock().take().and_then(|u| u.socket) {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    repl.link_up.store(false, SeqCst);
    repl.fresh.store(false, SeqCst);
    g.effects.follower = false;
    g.db.expiry = Expiry::Delete;
    let offset = g.effects.repl_offset();
    g.effects.ids.shift(offset);
    repl.drop_peers();
    notice!(
        "MASTER MODE enabled (new replication id {}, previous {} up to offset {offset})",
        g.effects.ids.id,
        g.effects.ids.id2
    );
}

/// PSYNC: decides between a partial and a full resynchronization and registers the replica's feed, all
/// under the engine lock. Returns the status line to answer and what the connection hands over.
pub fn psync(
    shared: &Shared,
    g: &mut Engine,
    replid: &str,
    offset: i64,
    ip: String,
    port: u16,
) -> Result<(String, Handoff), CmdError> {
    let repl = &of(shared);
    if repl.is_replica() && !repl.link_up() {
        return Err(CmdError::NoMasterLink);
    }
    let log = &mut g.effects;
    log.start_backlog();
    let ids = &log.ids;
    let ours = replid == ids.id || (replid == ids.id2 && offset <= ids.second);
    let backlog = if ours && offset >= 1 {
        log.since(offset as u64 - 1)
    } else {
        None
    };
    let feed = Arc::new(feed::Feed::default());
    let (line, full, state) = match backlog {
        Some(bytes) => {
            repl.sync_partial_ok.fetch_add(1, SeqCst);
            notice!(
                "Partial resynchronization request from {ip}:{port} accepted. Sending {} bytes of backlog starting from offset {offset}.",
                bytes.len()
            );
            feed.prime(&bytes);
            (format!("CONTINUE {}", log.ids.id), None, ONLINE)
        }
        None => {
            if replid != "?" {
                repl.sync_partial_err.fetch_add(1, SeqCst);
            }
            repl.sync_full.fetch_add(1, SeqCst);
            notice!("Full resync requested by replica {ip}:{port}");
            let capture = crate::persist::capture(g, shared);
            let line = format!("FULLRESYNC {} {}", capture.replid, capture.offset);
            (line, Some(capture), WAIT_BGSAVE)
        }
    };
    let sink = g.effects.add_sink(Box::new(feed::FeedSink(feed.clone())));
    let peer = Arc::new(Peer {
        id: repl.next_peer.fetch_add(1, SeqCst) + 1,
        ip,
        port,
        state: AtomicU8::new(state),
        ack: AtomicU64::new(0),
        ack_ms: AtomicU64::new(crate::util::now_ms()),
        feed,
        sink,
        gone: AtomicBool::new(false),
    });
    repl.peers.lock().push(peer.clone());
    Ok((line, Handoff { peer, full }))
}

/// A PSYNC whose connection could not be handed over: forgets its replica.
pub fn abandon(shared: &Shared, handoff: Handoff) {
    remove_peer(shared, &handoff.peer);
}

/// Forgets a replica whose connection ended (idempotent).
fn remove_peer(shared: &Shared, peer: &Peer) {
    if peer.gone.swap(true, SeqCst) {
        return;
    }
    peer.feed.close();
    shared.engine.lock().effects.remove_sink(peer.sink);
    of(shared).peers.lock().retain(|p| p.id != peer.id);
    notice!("Connection with replica {}:{} lost.", peer.ip, peer.port);
}

/// Answers every WAIT at once (this node stopped being a primary).
fn fail_waiters(shared: &Shared) {
    let waiters = std::mem::take(&mut *of(shared).waiters.lock());
    for w in waiters {
        (w.done)(crate::reply::Reply::Int(0));
    }
}
