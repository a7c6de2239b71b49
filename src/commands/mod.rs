//! Commands: one table ([`table`]: the core's rows, plus the standalone server's Redis commands from
//! `redis_table.rs`) declares each command's name, arity, flags, ACL categories, key positions and summary;
//! dispatch, COMMAND, the policy checks and the Redis module derive from it.
//! Each command lives in its own file, in a folder per Redis command group, and returns an [`Outcome`]: a reply plus the effects
//! (propagated writes) and keyspace events it caused. Commands never touch sockets or logs.

mod ai;
mod connection;
pub mod dispatch;
mod generic;
#[cfg(test)]
mod over_store_tests;
pub(crate) mod pubsub;
pub mod redis_table;
mod replication;
pub(crate) mod server;
mod state;
mod string;
pub mod table;
pub(crate) mod transactions;

use bytes::Bytes;
use parking_lot::MutexGuard;
use smallvec::SmallVec;

pub use ai::{fastscore_scripts, info_modules, install_script_host, rebuild, run_begins};
pub use dispatch::execute;
pub use table::{lookup, CommandSpec};

use crate::args::Args;
use crate::error::CmdResult;
use crate::keyspace::{Db, Store};
use crate::reply::Reply;
use crate::session::Session;
use crate::shared::{Engine, Shared};

/// What [`Ctx::store`] gives: the engine's keyspace or the front end's keys, as one [`Store`].
pub enum StoreRef<'b> {
    Engine(crate::keyspace::DbStore<'b>),
    Front(&'b mut dyn Store),
}

impl StoreRef<'_> {
    fn inner(&mut self) -> &mut dyn Store {
        match self {
            StoreRef::Engine(s) => s,
            StoreRef::Front(s) => *s,
        }
    }
}

impl Store for StoreRef<'_> {
    fn get(&mut self, key: &[u8]) -> Option<&crate::keyspace::Value> {
        self.inner().get(key)
    }
    fn set(&mut self, key: Bytes, value: crate::keyspace::Value) {
        self.inner().set(key, value)
    }
    fn remove(&mut self, key: &[u8]) -> bool {
        self.inner().remove(key)
    }
    fn modify(
        &mut self,
        key: &[u8],
        f: &mut dyn FnMut(crate::keyspace::Value) -> Option<crate::keyspace::Value>,
    ) {
        self.inner().modify(key, f)
    }
    fn for_each(&mut self, f: &mut dyn FnMut(&Bytes, &crate::keyspace::Value)) {
        self.inner().for_each(f)
    }
    fn expire_at(&mut self, key: &[u8]) -> Option<u64> {
        self.inner().expire_at(key)
    }
    fn log_offset(&self) -> u64 {
        match self {
            StoreRef::Engine(s) => s.log_offset(),
            StoreRef::Front(s) => s.log_offset(),
        }
    }
}

/// Command flags (Redis's names in COMMAND output).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const LOADING: u32 = 1 << 6;
    pub const STALE: u32 = 1 << 7;
    pub const FAST: u32 = 1 << 8;
    pub const NO_AUTH: u32 = 1 << 9;
    /// Refused inside MULTI (RedisAI's blocking commands, WATCH).
    pub const NO_MULTI: u32 = 1 << 10;
    /// Allowed while a RESP2 client is subscribed.
    pub const SUBSCRIBED_OK: u32 = 1 << 11;
    /// Runs even while a MULTI is open instead of being queued (EXEC, DISCARD, ...).
    pub const TXN_CONTROL: u32 = 1 << 12;
    /// Not shown to MONITOR (AUTH, HELLO carry passwords).
    pub const SKIP_MONITOR: u32 = 1 << 13;
    pub const BLOCKING: u32 = 1 << 14;
    pub const RANDOM: u32 = 1 << 15;

    /// Names shown by COMMAND INFO, in bit order.
    pub const NAMES: [(u32, &str); 11] = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
    ];
}

/// A keyspace event for `notify-keyspace-events`: class bit, event name, key.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub class: u32,
    pub name: &'static str,
    pub key: Bytes,
}

/// Writes a command propagates; most commands have at most one, kept inline (no allocation).
pub type Effects = SmallVec<[Vec<Bytes>; 1]>;
/// Keyspace events a command raises; most raise one or two, kept inline.
pub type Events = SmallVec<[Event; 2]>;

/// Where a finished command's late reply goes (called from a worker thread).
pub type Completion = Box<dyn FnOnce(Reply) + Send>;

/// A command that finishes off the I/O thread (a model run): it has done its first phase (arguments checked,
/// inputs read under the lock); the front end starts the rest with a [`Completion`] and sends the reply that
/// arrives through it. The server awaits it without blocking its event loop; the Redis module will block
/// the client. Later requests of the same client wait for it, as a blocked Redis client's do.
pub struct Deferred(Box<dyn FnOnce(Completion) + Send>);

impl Deferred {
    pub fn new(start: impl FnOnce(Completion) + Send + 'static) -> Self {
        Deferred(Box::new(start))
    }

    pub fn start(self, done: Completion) {
        (self.0)(done)
    }
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Deferred")
    }
}

/// What a command produced: the reply (or the work that will produce it), the writes to propagate, the
/// keyspace events to raise.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reply: Option<Reply>,
    pub effects: Effects,
    pub events: Events,
    pub deferred: Option<Deferred>,
}

impl Outcome {
    pub fn new(reply: Reply) -> Self {
        Outcome {
            reply: Some(reply),
            ..Default::default()
        }
    }

    /// A command whose reply comes later, from `start`'s completion.
    pub fn later(start: impl FnOnce(Completion) + Send + 'static) -> Self {
        Outcome {
            deferred: Some(Deferred::new(start)),
            ..Default::default()
        }
    }

    /// Adds a write to propagate (the RESP command that reproduces it).
    pub fn effect(mut self, argv: Vec<Bytes>) -> Self {
        self.effects.push(argv);
        self
    }

    /// Adds a keyspace event.
    pub fn event(mut self, class: u32, name: &'static str, key: Bytes) -> Self {
        self.events.push(Event { class, name, key });
        self
    }
}

impl From<Reply> for Outcome {
    fn from(r: Reply) -> Self {
        Outcome::new(r)
    }
}

/// A static word as an argument of an effect (`SET`, `PXAT`, ...), without allocating.
pub(crate) fn word(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// The signature every command implements.
pub type Handler = fn(&mut Ctx, &mut Args) -> CmdResult<Outcome>;

/// What a command body can reach: the shared server state, its own session, and the engine, locked on first
/// use and released when the command (or the whole EXEC) ends.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub session: &'a mut Session,
    guard: Option<MutexGuard<'a, Engine>>,
    /// Keys the front end holds instead of the engine's keyspace (the Redis module's, under Redis's lock):
    /// [`Ctx::store`] reaches them; the engine is then not used.
    front: Option<&'a mut dyn Store>,
    /// Milliseconds time for this command: one clock read, so every expiry check in it agrees.
    pub now: u64,
    /// Monotonic time the running command's duration is measured from (see `dispatch::execute`).
    pub clock: std::time::Instant,
    /// Inside EXEC: effects are wrapped in MULTI/EXEC once the first one is propagated.
    pub(crate) in_exec: bool,
    pub(crate) exec_wrapped: bool,
    /// `expired` events of keys this command found expired, raised with its own events.
    pub(crate) expired_events: Events,
    /// Set when the command finishes later (see [`Deferred`]).
    pub(crate) deferred: Option<Deferred>,
}

impl<'a> Ctx<'a> {
    pub fn new(shared: &'a Shared, session: &'a mut Session, now: u64) -> Self {
        Ctx {
            shared,
            session,
            guard: None,
            front: None,
            now,
            clock: std::time::Instant::now(),
            in_exec: false,
            exec_wrapped: false,
            expired_events: Events::new(),
            deferred: None,
        }
    }

    /// Marks the command as running inside a transaction or a Lua script of the front end's (the module's
    /// MULTI/EXEC, where Redis cannot block a client): RedisAI's blocking commands refuse to run there.
    pub fn in_transaction(mut self) -> Self {
        self.in_exec = true;
        self
    }

    /// RedisAI's refusal of blocking commands inside a transaction (EXEC reports it per command).
    pub fn refuse_in_exec(&self) -> crate::error::CmdResult<()> {
        if self.in_exec {
            return Err(crate::error::CmdError::err(
                "Cannot run RedisAI command within a transaction or a LUA script",
            ));
        }
        Ok(())
    }

    /// The engine, locking it if this command has not yet.
    pub fn engine(&mut self) -> &mut Engine {
        if self.guard.is_none() {
            self.guard = Some(self.shared.engine.lock());
        }
        self.guard.as_mut().expect("locked above")
    }

    /// The keyspace.
    pub fn db(&mut self) -> &mut Db {
        &mut self.engine().db
    }

    /// Forgets the connection's MULTI queue and every WATCH (DISCARD, EXEC, RESET, a failed EXEC's cleanup).
    pub fn clear_transaction(&mut self) {
        self.session.multi = None;
        self.session.multi_failed = false;
        let watches = std::mem::take(&mut self.session.watches);
        if !watches.is_empty() {
            let db = self.db();
            for w in &watches {
                db.unwatch(&w.key);
            }
        }
        self.session.sync_info();
    }

    /// A command context over keys the front end holds (the Redis module's): the core's handlers reach them
    /// through [`Ctx::store`].
    pub fn over(
        shared: &'a Shared,
        session: &'a mut Session,
        now: u64,
        store: &'a mut dyn Store,
    ) -> Self {
        Ctx {
            front: Some(store),
            ..Ctx::new(shared, session, now)
        }
    }

    /// Whether this command runs over the front end's keys, under the front end's own lock (the module).
    pub fn front_held(&self) -> bool {
        self.front.is_some()
    }

    /// The keys as the core's handlers see them: the front end's, or the engine's keyspace at this
    /// command's time.
    pub fn store(&mut self) -> StoreRef<'_> {
        if self.front.is_some() {
            let front = self.front.as_deref_mut().expect("checked above");
            return StoreRef::Front(front);
        }
        let now = self.now;
        StoreRef::Engine(self.engine().store(now))
    }

    /// Releases the engine lock early, for read-only work on `Arc`s taken out of the keyspace (encoding a
    /// large tensor reply). Keys that expired during the lookup are propagated first, so the effect stream
    /// stays in apply order. A command that has effects of its own must not call this. Inside EXEC the lock
    /// stays held until the transaction ends.
    /// Ends a transaction's run (EXEC, or a replayed MULTI group): closes the propagated MULTI with EXEC if
    /// any effect opened one, so the EXEC marker is written in one place. The client's reply then waits
    /// (under appendfsync always) for the marker too: without it a crash would leave an unfinished MULTI,
    /// which loading drops.
    pub(crate) fn end_exec(&mut self) {
        if self.exec_wrapped {
            let log = &mut self.engine().effects;
            log.append(vec![Bytes::from_static(b"EXEC")]);
            self.session.wrote_upto = log.offset();
        }
        self.in_exec = false;
        self.exec_wrapped = false;
    }

    pub fn unlock(&mut self) {
        // Replayed effects keep the lock for the whole command: a replica records the primary's bytes in the
        // same hold, so nothing (a capture, a promotion) sees the write without its offset.
        if self.in_exec || self.session.replaying {
            return;
        }
        self.settle_expired();
        self.guard = None;
    }

    /// Propagates keys that lazy expiry deleted during this command (DEL effects now, events later).
    pub(crate) fn settle_expired(&mut self) {
        let Some(g) = self.guard.as_mut() else { return };
        let expired = g.db.take_expired();
        if expired.is_empty() {
            return;
        }
        crate::stats::Stats::add(&self.shared.stats.expired_keys, expired.len() as u64);
        crate::stats::Stats::add(&self.shared.stats.changes, expired.len() as u64);
        for k in expired {
            g.effects
                .append(vec![Bytes::from_static(b"DEL"), k.clone()]);
            self.expired_events.push(Event {
                class: crate::config::notify::EXPIRED,
                name: "expired",
                key: k,
            });
        }
    }
}
