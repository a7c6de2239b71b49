//! The state one server shares across connections: the engine (keyspace + effect stream, behind one lock),
//! configuration, pub/sub, clients, statistics. It is a plain struct behind one `Arc`; it knows nothing of
//! tokio, so the Redis module can build the same pieces its own way.

use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};

use crate::clients::Clients;
use crate::config::{Config, Settings};
use crate::effects::EffectLog;
use crate::exec::Pool;
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

impl Engine {
    /// The keyspace as the core's [`crate::keyspace::Store`] at time `now` (Unix ms), with the stream's
    /// offset while it is held.
    pub fn store(&mut self, now: u64) -> crate::keyspace::DbStore<'_> {
        crate::keyspace::DbStore {
            offset: self.effects.offset(),
            db: &mut self.db,
            now,
        }
    }
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

/// Settings read on every command, mirrored in atomics so the hot path takes no lock to read them.
#[derive(Debug, Default)]
pub struct Hot {
    pub auth_required: AtomicBool,
    pub maxmemory: AtomicU64,
    pub notify: AtomicU32,
    pub slowlog_slower_than: AtomicI64,
    pub slowlog_max_len: AtomicUsize,
    pub timeout: AtomicU64,
    /// Request limits every connection's parser re-reads before each batch, so CONFIG SET applies to open
    /// connections too.
    pub proto_max_bulk_len: AtomicUsize,
    pub query_buffer_limit: AtomicUsize,
    /// Clients in MONITOR mode, so commands skip the monitor list's lock when there are none.
    pub monitors: AtomicUsize,
    /// `stop-writes-on-bgsave-error yes` and save points are set.
    pub stop_writes_on_bgsave_error: AtomicBool,
    pub replica_serve_stale_data: AtomicBool,
    pub min_replicas_to_write: AtomicUsize,
    pub min_replicas_max_lag: AtomicU64,
}

impl Hot {
    fn load(&self, s: &Settings) {
        let r = Ordering::Relaxed;
        self.auth_required.store(!s.requirepass.is_empty(), r);
        self.maxmemory.store(s.maxmemory, r);
        self.notify.store(s.notify, r);
        self.slowlog_slower_than.store(s.slowlog_slower_than, r);
        self.slowlog_max_len.store(s.slowlog_max_len, r);
        self.timeout.store(s.timeout, r);
        self.proto_max_bulk_len.store(s.proto_max_bulk_len, r);
        self.query_buffer_limit.store(s.query_buffer_limit, r);
        self.stop_writes_on_bgsave_error
            .store(s.stop_writes_on_bgsave_error && !s.save.is_empty(), r);
        self.replica_serve_stale_data
            .store(s.replica_serve_stale_data, r);
        self.min_replicas_to_write.store(s.min_replicas_to_write, r);
        self.min_replicas_max_lag.store(s.min_replicas_max_lag, r);
    }
}

pub struct Shared {
    /// std-style mutex (parking_lot): held only for in-memory key work, never across I/O, `.await`, model or
    /// script work.
    pub engine: Mutex<Engine>,
    /// Change it only through [`Shared::set_config`], which keeps `hot` in step.
    pub config: RwLock<Config>,
    pub hot: Hot,
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
    /// The model worker pool (RedisAI's per-device run queues).
    pub pool: Pool,
    /// Asynchronous DAG runs (AI.DAGRUNASYNC) by id.
    pub async_dags: crate::exec::asyncdag::Registry,
    /// The front end's own part of the command path (the standalone server: persistence and replication).
    pub node: Box<dyn crate::node::Node>,
    /// `AI.CONFIG BACKENDSPATH`: kept and reported for RedisAI clients; backends are built in.
    pub backends_path: Mutex<String>,
    shutdown: Mutex<Option<ShutdownHook>>,
    /// How SHUTDOWN asked to stop (`None` for a signal), for the front end's last persistence step.
    pub shutdown_mode: Mutex<Option<ShutdownMode>>,
    /// This value's own `Arc`, for work that outlives a command (a model run commits from a worker).
    me: Weak<Shared>,
}

impl Shared {
    pub fn new(config: Config, node: Box<dyn crate::node::Node>) -> Arc<Self> {
        let backlog = config.settings.repl_backlog;
        let hot = Hot::default();
        hot.load(&config.settings);
        crate::runner::configure(runner_settings(&config.settings));
        let s = &config.settings;
        // ONNX Runtime's environment is process-wide: the runtime of new models is chosen once, here.
        match crate::model::onnx::select(s.onnx_backend, &s.onnxruntime_library) {
            Ok(line) => crate::notice!("{line}"),
            Err(e) => crate::warning!("{e}: ONNX model loads are refused"),
        }
        let pool = Pool::new(
            s.threads_per_queue,
            crate::model::Threads {
                intra: s.intra_op_parallelism,
                inter: s.inter_op_parallelism,
            },
            s.model_execution_timeout,
        );
        Arc::new_cyclic(|me| Shared {
            me: me.clone(),
            pool,
            backends_path: Mutex::new(String::new()),
            node,
            async_dags: Default::default(),
            hot,
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
            run_id: crate::util::random_hex(40),
            port: AtomicU16::new(0),
            active_expire: AtomicBool::new(true),
            shutdown: Mutex::new(None),
            shutdown_mode: Mutex::new(None),
        })
    }

    /// Installs a new configuration (CONFIG SET) and everything derived from it.
    ///
    /// It does not touch the engine (the caller may hold its lock, as inside EXEC): the caller applies
    /// engine-side settings (`repl-backlog-size`) itself.
    pub fn set_config(&self, next: Config) {
        crate::log::set_level(next.settings.loglevel);
        self.hot.load(&next.settings);
        crate::runner::configure(runner_settings(&next.settings));
        *self.config.write() = next;
    }

    /// A counted reference to this server state, for work that finishes off the calling thread.
    pub fn arc(&self) -> Arc<Shared> {
        self.me.upgrade().expect("Shared is always owned by an Arc")
    }

    /// The front end registers how to stop itself.
    pub fn on_shutdown(&self, f: ShutdownHook) {
        *self.shutdown.lock() = Some(f);
    }

    /// Asks the front end to shut down; false if none is registered.
    pub fn request_shutdown(&self, mode: ShutdownMode) -> bool {
        *self.shutdown_mode.lock() = Some(mode);
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

    /// One of the node's parts by type (`persist::of`, `repl::of`).
    pub fn part<T: 'static>(&self) -> Option<&T> {
        self.node
            .part(std::any::TypeId::of::<T>())
            .and_then(|p| p.downcast_ref())
    }

    pub fn bound_port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }
}

/// What script runners read of the configuration when they start.
fn runner_settings(s: &crate::config::Settings) -> crate::runner::Settings {
    let python = if !s.script_python.is_empty() {
        s.script_python.clone()
    } else if std::path::Path::new("/usr/bin/python3").exists() {
        // Debian's, whose numpy comes from python3-numpy, rather than whatever `python3` a PATH finds first.
        "/usr/bin/python3".into()
    } else {
        "python3".into()
    };
    crate::runner::Settings {
        python,
        venv: s.script_venv.clone(),
        // A relative path is the configuration's directory's: the module's Redis changes directory on
        // `CONFIG SET dir`, and runners start later.
        native: match s.script_python_native.as_str() {
            "" | "no" => s.script_python_native.clone(),
            path => std::path::absolute(path)
                .map_or_else(|_| path.to_string(), |p| p.display().to_string()),
        },
        rscript: s.script_rscript.clone(),
        memory_limit: s.script_memory_limit,
        user: s.script_user.clone(),
        time_limit_ms: s.script_time_limit,
    }
}
