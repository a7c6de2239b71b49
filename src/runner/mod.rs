//! Script runners: every stored script runs in a pool of runner processes (FastScore's runners, `RUNNERS n`),
//! started and supervised here. Each runner has a driver thread in the server that owns its process and takes
//! the script's queued calls one at a time, so concurrent calls on one script spread over its runners and no
//! I/O thread or model worker ever waits on one. A runner that dies (a segfault, `os._exit`, the OOM killer)
//! fails only the call it was running; its driver starts a replacement.
//!
//! `begin()` runs for effect once per store or load: the first runner's init runs it live, every later
//! runner (a scale-up, a replacement) replays it with its writes skipped, so its module's globals are set
//! while the shared state it would reset is kept (docs/runners.md).
//!
//! Layout: [`wire`] frames, [`process`] one OS process, [`call`] one request and its callbacks, [`host`] the
//! callbacks' engine side, [`python`] and [`r`] how each language's runner starts; `driver` the thread that
//! serves one runner, `pacing` how hard both ends poll.

pub mod call;
mod driver;
pub mod host;
mod pacing;
pub mod process;
pub mod python;
pub mod r;
pub mod score;
pub mod wire;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};
use serde_json::{json, Value};

use crate::tensor::Tensor;
pub use call::{Failure, Mode};
use driver::{grow, start_driver};
use process::{Launch, Process};
use wire::Out;

/// The languages runners speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    R,
}

impl Language {
    pub fn parse(name: &[u8]) -> Option<Language> {
        if name.eq_ignore_ascii_case(b"PYTHON") {
            Some(Language::Python)
        } else if name.eq_ignore_ascii_case(b"R") {
            Some(Language::R)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "PYTHON",
            Language::R => "R",
        }
    }
}

/// Server-wide runner settings (the `script-*` directives), read when a runner starts.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `script-python`: the interpreter, when no venv is set.
    pub python: String,
    /// `script-venv`: a virtualenv whose Python (and so packages) runners use.
    pub venv: String,
    /// `script-python-native`: the Python runner's native half; empty: found beside the server or the
    /// module; `no`: none.
    pub native: String,
    /// `script-rscript`.
    pub rscript: String,
    /// `script-memory-limit` in bytes; 0 for none.
    pub memory_limit: u64,
    /// `script-user`: the user runners run as (empty: the server's).
    pub user: String,
    /// `script-time-limit`: a script's load gets at least this long.
    pub time_limit_ms: u64,
}

static SETTINGS: RwLock<Settings> = RwLock::new(Settings {
    python: String::new(),
    venv: String::new(),
    native: String::new(),
    rscript: String::new(),
    memory_limit: 0,
    user: String::new(),
    time_limit_ms: 5000,
});

/// Installs the runner settings (at start-up and on CONFIG SET); runners started from now on use them.
pub fn configure(s: Settings) {
    *SETTINGS.write() = s;
}

pub fn settings() -> Settings {
    SETTINGS.read().clone()
}

/// Most runners one script may have (AI.SCRIPTSTORE ... RUNNERS, AI.CONFIG SCRIPT_RUNNERS).
pub const MAX_RUNNERS: usize = 64;

/// After SIGINT, how long a runner has to stop before it is killed.
pub const GRACE: Duration = Duration::from_millis(500);

/// The longest a runner may take to start and load its script (imports can be slow), at least.
const INIT_LIMIT: Duration = Duration::from_secs(30);

/// How each language's runner starts, from the settings.
fn launch(language: Language, s: &Settings) -> Result<Launch, String> {
    let user = if s.user.is_empty() {
        None
    } else {
        match nix::unistd::User::from_name(&s.user) {
            Ok(Some(u)) => Some((u.uid.as_raw(), u.gid.as_raw())),
            Ok(None) => return Err(format!("script-user {}: no such user", s.user)),
            Err(e) => return Err(format!("script-user {}: {e}", s.user)),
        }
    };
    let mut l = match language {
        Language::Python => python::launch(s),
        Language::R => r::launch(s),
    };
    l.user = user;
    Ok(l)
}

/// What a pool's runners load.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The script's key, for process titles and module names.
    pub name: String,
    /// The script's key as stored: in a sharded keyspace (Redis Cluster), the keys its callbacks touch
    /// must hash to its slot.
    pub key: Bytes,
    pub language: Language,
    pub source: Bytes,
    pub entry_points: Vec<String>,
    /// A FastScore model (its entry points take one datum; it may have begin/action/end).
    pub fastscore: bool,
    /// Where the runners' callbacks record the cells and pools the script touches.
    pub state: host::State,
}

/// Per-script runner counters (AI.INFO, INFO).
#[derive(Debug, Default)]
pub struct Stats {
    pub alive: AtomicU64,
    pub busy: AtomicU64,
    /// Runners started to replace one that died or was killed.
    pub restarts: AtomicU64,
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    /// Runners killed for overrunning their time limit.
    pub kills: AtomicU64,
    /// Requests sent to runners: AI.SCORE calls batched into one request count once here and each in
    /// `calls`, so `calls / requests` is what batching saved.
    pub requests: AtomicU64,
    /// The latest runner started loaded the Python runner's native half (python.rs).
    pub native: AtomicBool,
}

/// A unit of work for one runner, run on its driver thread: any closure, or an AI.SCORE call (which the
/// driver may batch with others, [`score`]).
pub enum Task {
    Run(Box<dyn FnOnce(&mut Runner) + Send>),
    Score(score::ScoreJob),
}

struct Queue {
    tasks: VecDeque<Task>,
    /// How many runners the script should have.
    target: usize,
    /// Which driver slots have a thread.
    slots: Vec<bool>,
    /// Drivers waiting for work, the most recently idle last: a task goes to the hottest runner (its
    /// process and caches warm), so a second runner only works when the first is busy.
    idle: Vec<usize>,
    /// A driver woken to take joined calls if the busy runner does not come back for them soon (so an
    /// outlier request never holds them long); at most one at a time.
    backup: Option<usize>,
    /// Drivers running a task.
    running: usize,
    stopping: bool,
}

struct Inner {
    spec: Spec,
    queue: Mutex<Queue>,
    /// `queue.target`, readable without the queue's lock: a save in a forked child (the module's RDB and
    /// AOF rewrite) must take no lock another thread may have held at the fork.
    target: AtomicUsize,
    /// One per driver slot: a task wakes exactly the driver chosen for it.
    wakers: Vec<Condvar>,
    stats: Stats,
    /// `begin()` has yet to run live (true from a store until its first runner loaded the script).
    begin_pending: AtomicBool,
    /// Some runner has loaded the script: the others may start (and restart) on their own.
    healthy: AtomicBool,
    /// How long a request takes, in microseconds (a moving average: each new one counts 1/8).
    average_us: AtomicU64,
    /// When each driver's current request started (microseconds since `epoch`; 0 when idle).
    started_us: Vec<AtomicU64>,
    epoch: Instant,
    contention: pacing::Contention,
}

/// Requests shorter than this on average are worth batching rather than spreading over runners.
const SHORT_US: u64 = 1000;

impl Inner {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64 + 1
    }

    /// Whether a new call should wait for a busy runner rather than wake an idle one: requests are short
    /// on average, and some runner is in one that started recently (so it will be free soon).
    fn worth_joining(&self) -> bool {
        let average = self.average_us.load(Relaxed);
        if average == 0 || average >= SHORT_US {
            return false;
        }
        let now = self.now_us();
        self.started_us.iter().any(|s| {
            let t = s.load(Relaxed);
            t != 0 && now.saturating_sub(t) < 2 * average + SHORT_US
        })
    }

    fn request_began(&self, index: usize) {
        self.started_us[index].store(self.now_us(), Relaxed);
    }

    fn request_ended(&self, index: usize) {
        let start = self.started_us[index].swap(0, Relaxed);
        if start == 0 {
            return;
        }
        let took = self.now_us().saturating_sub(start);
        let old = self.average_us.load(Relaxed);
        let new = if old == 0 {
            took
        } else {
            old - old / 8 + took / 8
        };
        self.average_us.store(new, Relaxed);
    }
}

/// A script's runner pool. Dropping it (the script deleted or replaced) stops its runners once their
/// current call ends.
pub struct Runners {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Runners({}, {})", self.inner.spec.name, self.target())
    }
}

impl Runners {
    /// A pool of `target` runners; none starts before the first task. `begin` says whether the first runner
    /// runs `begin()` live (a store) or not (a load: start-up runs it through [`Runner::begin`]).
    pub fn new(spec: Spec, target: usize, begin: bool) -> Runners {
        let runners = Runners {
            inner: Arc::new(Inner {
                spec,
                target: AtomicUsize::new(target.clamp(1, MAX_RUNNERS)),
                queue: Mutex::new(Queue {
                    tasks: VecDeque::new(),
                    target: target.clamp(1, MAX_RUNNERS),
                    slots: Vec::new(),
                    idle: Vec::new(),
                    backup: None,
                    running: 0,
                    stopping: false,
                }),
                wakers: (0..MAX_RUNNERS).map(|_| Condvar::new()).collect(),
                stats: Stats::default(),
                begin_pending: AtomicBool::new(begin),
                healthy: AtomicBool::new(false),
                average_us: AtomicU64::new(0),
                started_us: (0..MAX_RUNNERS).map(|_| AtomicU64::new(0)).collect(),
                epoch: Instant::now(),
                contention: pacing::Contention::default(),
            }),
        };
        let mut all = POOLS.lock();
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&runners.inner));
        runners
    }

    /// The counters as AI.INFO and INFO show them.
    pub fn summary(&self) -> Summary {
        summary(&self.inner)
    }

    pub fn spec(&self) -> &Spec {
        &self.inner.spec
    }

    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    pub fn target(&self) -> usize {
        self.inner.target.load(Relaxed)
    }

    /// Queues a task for the next free runner. The first task starts the first runner; the others start
    /// once it has loaded the script.
    pub fn submit(&self, task: Task) {
        let score = matches!(task, Task::Score(_));
        let mut q = self.inner.queue.lock();
        q.tasks.push_back(task);
        // Read under the lock, after the push: a driver marks its request ended before it takes the lock
        // to look at the queue, so either it finds this task or this sees it idle.
        let join = score && self.inner.worth_joining();
        if !q.slots.iter().any(|s| *s) {
            start_driver(&self.inner, &mut q, 0);
        }
        // A short AI.SCORE call while a runner is busy with a short request waits for it and joins its next
        // batch: a hot runner taking the waiting calls together outruns two runners contending (one cell,
        // two cold processes). Anything else goes to the most recently idle runner, if any; with none idle,
        // the first driver to finish its task takes it.
        if join && q.tasks.len() < score::MAX_JOBS {
            if q.backup.is_none() {
                if let Some(i) = q.idle.pop() {
                    q.backup = Some(i);
                    self.inner.wakers[i].notify_one();
                }
            }
            return;
        }
        if let Some(i) = q.idle.pop() {
            self.inner.wakers[i].notify_one();
        }
    }

    /// Runs `f` on a runner and waits for it (start-up's `begin()`); an error if the task panicked.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Runner) -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(Task::Run(Box::new(move |r| {
            let _ = tx.send(f(r));
        })));
        rx.recv()
            .map_err(|_| "the script's runner task failed".to_string())
    }

    /// The script's key, as its runners know it.
    pub fn name(&self) -> &str {
        &self.inner.spec.name
    }

    /// Makes the first runner's load run `begin()` live, before it serves any call (a front end that loaded
    /// the script while already serving clients: the module at the end of Redis's loading). Only while no
    /// runner has loaded the script yet; whether it was set.
    pub fn begin_at_first_load(&self) -> bool {
        if self.inner.healthy.load(Relaxed) {
            return false;
        }
        self.inner.begin_pending.store(true, Relaxed);
        true
    }

    /// Changes the runner count (AI.CONFIG SCRIPT_RUNNERS): new runners start at once when `start` and the
    /// script has loaded (a replica applying the count only records it); extra ones stop after their
    /// current call.
    pub fn scale(&self, n: usize, start: bool) {
        let mut q = self.inner.queue.lock();
        q.target = n.clamp(1, MAX_RUNNERS);
        self.inner.target.store(q.target, Relaxed);
        if start && self.inner.healthy.load(Relaxed) {
            grow(&self.inner, &mut q);
        }
        wake_all(&self.inner, &mut q);
    }
}

impl Drop for Runners {
    fn drop(&mut self) {
        let mut q = self.inner.queue.lock();
        q.stopping = true;
        wake_all(&self.inner, &mut q);
    }
}

/// Wakes every idle driver (to stop, or to look at a changed target).
fn wake_all(inner: &Inner, q: &mut Queue) {
    for i in q.idle.drain(..) {
        inner.wakers[i].notify_one();
    }
}

/// Every pool that still exists (INFO lists them without walking the keyspace).
static POOLS: Mutex<Vec<std::sync::Weak<Inner>>> = Mutex::new(Vec::new());

/// A pool's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub name: String,
    pub language: Language,
    /// RUNNERS n.
    pub runners: u64,
    pub alive: u64,
    pub busy: u64,
    pub restarts: u64,
    pub calls: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub kills: u64,
    pub requests: u64,
    pub native: bool,
}

fn summary(inner: &Inner) -> Summary {
    let s = &inner.stats;
    Summary {
        name: inner.spec.name.clone(),
        language: inner.spec.language,
        runners: inner.queue.lock().target as u64,
        alive: s.alive.load(Relaxed),
        busy: s.busy.load(Relaxed),
        restarts: s.restarts.load(Relaxed),
        calls: s.calls.load(Relaxed),
        errors: s.errors.load(Relaxed),
        timeouts: s.timeouts.load(Relaxed),
        kills: s.kills.load(Relaxed),
        requests: s.requests.load(Relaxed),
        native: s.native.load(Relaxed),
    }
}

/// Every live script's runner counters, by name.
pub fn all() -> Vec<Summary> {
    let mut v: Vec<Summary> = POOLS
        .lock()
        .iter()
        .filter_map(|w| w.upgrade())
        .filter(|i| !i.queue.lock().stopping)
        .map(|i| summary(&i))
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// What AI.SCORE replies per produced value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    Int(i64),
    Double(f64),
    Text(String),
}

/// One driver's runner: its process (started on demand) and how to talk to it.
pub struct Runner {
    inner: Arc<Inner>,
    proc: Option<Process>,
    /// Start a process without waiting for a task.
    warm: bool,
    /// This driver has had a process before (the next one is a restart).
    started_before: bool,
}

impl Runner {
    /// The running process, started and loaded with the script if there is none.
    fn ensure(&mut self) -> Result<&mut Process, Failure> {
        // A runner that died while idle (the OOM killer, a kill) is replaced before this call, which it
        // must not fail.
        if self.proc.as_mut().is_some_and(|p| p.exited()) {
            self.lose();
        }
        if self.proc.is_none() {
            self.proc = Some(self.start()?);
        }
        Ok(self.proc.as_mut().expect("started"))
    }

    /// Starts a process and loads the script in it.
    fn start(&mut self) -> Result<Process, Failure> {
        let inner = self.inner.clone();
        let settings = settings();
        let launch = launch(inner.spec.language, &settings).map_err(Failure::Script)?;
        let mut p = Process::spawn(&launch, &inner.spec.name).map_err(Failure::Script)?;
        // Built before anything is counted or `begin()` is claimed: a failure here leaves both as they were.
        let frame = {
            let mut out = Out::new("init", &p.shm);
            let source = out
                .blob(&inner.spec.source)
                .map_err(|e| Failure::Died(format!("shared memory: {e}")))?;
            out.set("name", Value::String(inner.spec.name.clone()))
                .set("source", source)
                .set("entry_points", json!(inner.spec.entry_points))
                .set("fastscore", Value::Bool(inner.spec.fastscore))
                .set("begin", Value::Bool(true))
                .set("memory_limit", json!(settings.memory_limit));
            out.frame()
        };
        inner.stats.alive.fetch_add(1, Relaxed);
        if self.started_before {
            inner.stats.restarts.fetch_add(1, Relaxed);
        }
        self.started_before = true;
        let live = inner.begin_pending.swap(false, Relaxed);
        let mode = if live { Mode::Live } else { Mode::Replay };
        let limit = INIT_LIMIT.max(Duration::from_millis(settings.time_limit_ms));
        match call::exchange(
            &mut p,
            frame,
            mode,
            limit,
            GRACE,
            Duration::ZERO,
            &inner.contention,
        ) {
            Ok(reply) => {
                native_loaded(&inner, &reply.header["native"]);
                self.warm = true;
                if !inner.healthy.swap(true, Relaxed) {
                    let mut q = inner.queue.lock();
                    grow(&inner, &mut q);
                }
                Ok(p)
            }
            Err(e) => {
                if live {
                    // The load failed: the next runner's load is the live one.
                    inner.begin_pending.store(true, Relaxed);
                }
                drop(p);
                inner.stats.alive.fetch_sub(1, Relaxed);
                Err(e)
            }
        }
    }

    /// Loads the script now (a store reports its errors).
    pub fn load(&mut self) -> Result<(), Failure> {
        self.ensure().map(|_| ())
    }

    /// Sends one request (its header filled by `fill`) and waits for its answer, serving callbacks.
    pub(crate) fn request(
        &mut self,
        op: &str,
        fill: impl FnOnce(&mut Out) -> std::io::Result<()>,
        limit: Duration,
        calls: usize,
    ) -> Result<wire::In, Failure> {
        let inner = self.inner.clone();
        let p = self.ensure()?;
        let spin = pacing::spin();
        let frame = {
            let mut out = Out::new(op, &p.shm);
            fill(&mut out).map_err(|e| Failure::Died(format!("shared memory: {e}")))?;
            out.set("spin_us", json!(spin.as_micros() as u64));
            if out.size() > wire::MAX_FRAME {
                return Err(Failure::Script(
                    "the request is too large for a runner (its records, keys and arguments pass 2 GiB)"
                        .into(),
                ));
            }
            out.frame()
        };
        let stats = &inner.stats;
        stats.calls.fetch_add(calls as u64, Relaxed);
        stats.requests.fetch_add(1, Relaxed);
        let result = call::exchange(p, frame, Mode::Live, limit, GRACE, spin, &inner.contention);
        if result.is_ok() && p.has_pending() {
            // The runner sent more than one answer: it is out of step; never trust it again.
            self.lose();
            return result;
        }
        if let Err(e) = &result {
            stats.errors.fetch_add(calls as u64, Relaxed);
            if matches!(e, Failure::TimedOut { .. }) {
                stats.timeouts.fetch_add(1, Relaxed);
            }
            if matches!(e, Failure::TimedOut { killed: true }) {
                stats.kills.fetch_add(1, Relaxed);
            }
            // R cannot drop an interrupt that arrived after it stopped: recycle an interrupted R runner.
            let stale = matches!(e, Failure::TimedOut { .. }) && inner.spec.language == Language::R;
            if e.lost_runner() || stale {
                self.lose();
            }
        }
        result
    }

    /// Forgets a dead (or killed) process; the driver starts its replacement.
    fn lose(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
            self.inner.stats.alive.fetch_sub(1, Relaxed);
        }
    }

    /// Calls `func(tensors, keys, args)`; returns its output tensors.
    pub fn call(
        &mut self,
        func: &str,
        tensors: &[&Tensor],
        keys: &[Bytes],
        args: &[Bytes],
        limit: Duration,
    ) -> Result<Vec<Tensor>, Failure> {
        let reply = self.request(
            "call",
            |out| {
                out.set("fn", Value::String(func.into()))
                    .set_tensors("tensors", tensors.iter().copied())?
                    .set_bytes("keys", keys.iter().map(|k| &k[..]))
                    .set_bytes("args", args.iter().map(|a| &a[..]));
                Ok(())
            },
            limit,
            1,
        )?;
        let shm = &self.proc.as_ref().ok_or(Failure::Died("gone".into()))?.shm;
        reply.tensors(shm).map_err(Failure::Script)
    }

    /// Runs `begin()` live (start-up, for a script loaded from disk), whatever the runner's own load did.
    pub fn begin(&mut self, limit: Duration) -> Result<(), Failure> {
        self.request("begin", |_| Ok(()), limit, 1).map(|_| ())
    }
}

/// Records whether a runner loaded its native half (a Python runner's `init` answer says, with the reason
/// when not); a configured one that fails to load is logged once.
fn native_loaded(inner: &Inner, said: &Value) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    inner
        .stats
        .native
        .store(said == &Value::Bool(true), Relaxed);
    if let Some(why) = said.as_str() {
        if why != "not configured" && !WARNED.swap(true, Relaxed) {
            crate::warning!(
                "Python script runners cannot load their native half ({why}): they run in pure Python, \
                 with a higher cost per call"
            );
        }
    }
}

/// Start-up checks, logged: which Python runners use (and whether it has numpy), and a warning when runners
/// would run as root.
pub fn check_at_start() {
    let s = settings();
    if s.user.is_empty() && nix::unistd::Uid::effective().is_root() {
        crate::warning!(
            "Script runners run as root: set script-user to an unprivileged user (e.g. nobody) so a script \
             cannot read or change the server's files"
        );
    }
    let python = python::interpreter(&s);
    let probe =
        "import sys\ntry:\n    import numpy\n    n = numpy.__version__\nexcept ImportError:\n    \
                 n = None\nprint(sys.version.split()[0], n)";
    match std::process::Command::new(&python).args(["-c", probe]).output() {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let (version, numpy) = text.split_once(' ').unwrap_or((&text, "None"));
            if numpy == "None" {
                crate::warning!(
                    "Python script runners ({}, Python {version}) cannot import numpy: scripts with tensors \
                     will fail (install python3-numpy, or set script-venv)",
                    python.display()
                );
            } else {
                crate::verbose!(
                    "Python script runners: {} (Python {version}, numpy {numpy})",
                    python.display()
                );
            }
        }
        _ => crate::warning!(
            "Python script runners cannot start: {} does not run (set script-python or script-venv)",
            python.display()
        ),
    }
    match python::native(&s) {
        Some(path) if !path.is_file() => crate::warning!(
            "script-python-native {} is not a file: Python script runners will run in pure Python",
            path.display()
        ),
        Some(path) => crate::verbose!("Python script runners' native half: {}", path.display()),
        None if s.native == "no" => {}
        None => crate::notice!(
            "Python script runners run in pure Python: no {} beside the server (build it with `cargo \
             build --release --workspace`, or set script-python-native)",
            python::NATIVE_FILE
        ),
    }
}
