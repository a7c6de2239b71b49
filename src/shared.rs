//! The state one server shares across connections: the engine (keyspace + effect stream, behind one lock),
//! configuration, pub/sub, clients, statistics. It is a plain struct behind one `Arc`; it knows nothing of
//! tokio, so the Redis module can build the same pieces its own way.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::clients::Clients;
use crate::config::Config;
use crate::effects::EffectLog;
use crate::keyspace::Db;
use crate::pubsub::{PubSub, Subscriber};
use crate::slowlog::SlowLog;
use crate::stats::Stats;

/// The keyspace and its effect stream under one lock: appending to the stream while the keyspace lock is
/// held is what makes stream order equal apply order.
#[derive(Debug)]
pub struct Engine {
    pub db: Db,
    pub effects: EffectLog,
}

/// What the front end registers to be told to stop.
pub type ShutdownHook = Box<dyn Fn(ShutdownMode) + Send + Sync>;

/// How SHUTDOWN asked the server to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    Default,
    NoSave,
    Save,
}

pub struct Shared {
    /// std-style mutex (parking_lot): held only for in-memory key work, never across I/O, `.await`, model or
    /// script work.
    pub engine: Mutex<Engine>,
    pub config: RwLock<Config>,
    pub pubsub: PubSub,
    pub clients: Clients,
    pub monitors: Mutex<Vec<(u64, std::sync::Arc<dyn Subscriber>)>>,
    pub slowlog: Mutex<SlowLog>,
    pub stats: Stats,
    pub started: Instant,
    pub run_id: String,
    /// The port actually bound (differs from config when `port 0`).
    pub port: AtomicU16,
    /// `DEBUG SET-ACTIVE-EXPIRE 0` turns the active expiry cycle off (tests of lazy expiry).
    pub active_expire: AtomicBool,
    shutdown: Mutex<Option<ShutdownHook>>,
}

impl Shared {
    pub fn new(config: Config) -> Self {
        let backlog = config.settings.effect_backlog;
        Shared {
            engine: Mutex::new(Engine {
                db: Db::new(),
                effects: EffectLog::new(backlog),
            }),
            config: RwLock::new(config),
            pubsub: PubSub::default(),
            clients: Clients::default(),
            monitors: Mutex::new(Vec::new()),
            slowlog: Mutex::new(SlowLog::default()),
            stats: Stats::default(),
            started: Instant::now(),
            run_id: (0..40)
                .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
                .collect(),
            port: AtomicU16::new(0),
            active_expire: AtomicBool::new(true),
            shutdown: Mutex::new(None),
        }
    }

    /// The front end registers how to stop itself.
    pub fn on_shutdown(&self, f: ShutdownHook) {
        *self.shutdown.lock() = Some(f);
    }

    /// Asks the front end to shut down; false if none is registered.
    pub fn request_shutdown(&self, mode: ShutdownMode) -> bool {
        match self.shutdown.lock().as_ref() {
            Some(f) => {
                f(mode);
                true
            }
            None => false,
        }
    }

    /// A copy of the hot-path settings (cheap: read lock + clone of a small struct).
    pub fn settings(&self) -> crate::config::Settings {
        self.config.read().settings.clone()
    }

    pub fn bound_port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }
}
