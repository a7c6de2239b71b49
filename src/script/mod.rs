//! Scripts: Python source stored under a key (RedisAI's script commands, with Python instead of
//! TorchScript). The value keeps the source (for SCRIPTGET, persistence and replicas), its entry points, its
//! run statistics (AI.INFO) and the compiled module. `python.rs` holds every use of pyo3; a build without the
//! `python` feature refuses to store scripts.

#[cfg(feature = "python")]
pub mod python;

#[cfg(feature = "python")]
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;

use crate::model::RunStats;
use crate::tensor::Tensor;

#[cfg(feature = "python")]
type Compiled = python::Compiled;
#[cfg(not(feature = "python"))]
#[derive(Debug)]
struct Compiled;

#[cfg(not(feature = "python"))]
const NO_PYTHON: &str = "this tensorcell-server was built without Python (cargo feature `python`)";

/// Pins the embedded Python to the installation it was built against (the `PYO3_PYTHON` of the build, by
/// default Debian's `/usr/bin/python3`), unless `PYTHONHOME` is already set. Without it, embedded Python
/// finds its home by looking for `python3` on `PATH`, and a `PATH` that starts with another Python (pyenv, a
/// venv) would give the server that one's standard library and packages, not the ones it was built for. Call
/// it first thing in `main`, before any thread starts (it sets an environment variable).
pub fn prepare_python() {
    let Some(exe) = option_env!("PYO3_PYTHON") else {
        return;
    };
    if std::env::var_os("PYTHONHOME").is_some() {
        return;
    }
    // Python's own rule: the prefix is two levels above the interpreter (`/usr/bin/python3` -> `/usr`).
    if let Some(home) = std::path::Path::new(exe).parent().and_then(|p| p.parent()) {
        std::env::set_var("PYTHONHOME", home);
    }
}

/// Starts the embedded Python now, at start-up, instead of at the first script: an installation that cannot
/// initialize then stops the server before it serves anyone (Python aborts the process), and a missing numpy
/// is reported in the log. A build without Python has nothing to start.
pub fn warm_up() -> Result<(), String> {
    #[cfg(feature = "python")]
    return python::warm_up();
    #[cfg(not(feature = "python"))]
    Ok(())
}

/// A value a server command returned to a script (`redis.execute`).
#[derive(Debug, Clone, PartialEq)]
pub enum HostValue {
    Nil,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    List(Vec<HostValue>),
}

/// What scripts can reach of the server: commands, models, cells and pools. The engine side implements it
/// (`commands::ai::script_host`); `python.rs` exposes it to Python. Every write goes through the server's
/// one propagation path, so it is an effect like any other.
pub trait Host: Send + Sync {
    /// Runs a (non-blocking) server command; an error reply is `Err` with its text.
    fn execute(&self, argv: Vec<Bytes>) -> Result<HostValue, String>;
    /// Runs a stored model on this thread (scripts already run on a worker).
    fn model_execute(&self, key: &[u8], inputs: Vec<Tensor>) -> Result<Vec<Tensor>, String>;
    /// A cell's JSON text, or None.
    fn cell_get(&self, name: &[u8]) -> Result<Option<Bytes>, String>;
    /// Sets a cell to `new` if its JSON text is still `old` (None: absent); false if it changed meanwhile.
    fn cell_swap(&self, name: &[u8], old: Option<&[u8]>, new: &[u8]) -> Result<bool, String>;
    /// A pool field's JSON text, or None.
    fn pool_get(&self, name: &[u8], field: &[u8]) -> Result<Option<Bytes>, String>;
    /// Sets a pool field to `new` if its JSON text is still `old`; false if it changed meanwhile.
    fn pool_swap(
        &self,
        name: &[u8],
        field: &[u8],
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, String>;
    /// The pool's fields.
    fn pool_keys(&self, name: &[u8]) -> Result<Vec<Bytes>, String>;
    /// Removes a field; true if it was there.
    fn pool_delete(&self, name: &[u8], field: &[u8]) -> Result<bool, String>;
}

static HOST: std::sync::OnceLock<Box<dyn Host>> = std::sync::OnceLock::new();

/// Installs the host scripts call into (once per process: a process runs one server).
pub fn set_host(host: Box<dyn Host>) {
    let _ = HOST.set(host);
}

/// The installed host.
pub fn host() -> Option<&'static dyn Host> {
    HOST.get().map(|h| h.as_ref())
}

/// FastScore model settings read from the script's smart comments (`# fastscore.input: int`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct FastScore {
    pub input: String,
    pub output: String,
    /// `# fastscore.snapshots: eof`: snapshot the script's state at AI.SCORE ... EOF (the snapshots issue).
    pub snapshots_eof: bool,
}

/// The types a FastScore model may declare.
pub const FASTSCORE_TYPES: [&str; 7] = [
    "int", "long", "float", "double", "string", "boolean", "json",
];

/// Reads the smart comments; a script is a FastScore model when it has any, or defines `action` at top level.
pub fn fastscore_of(source: &[u8]) -> Result<Option<FastScore>, String> {
    let text = String::from_utf8_lossy(source);
    let mut fs = FastScore {
        input: "json".into(),
        output: "json".into(),
        snapshots_eof: false,
    };
    let mut any = false;
    for line in text.lines() {
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            any |= line.starts_with("def action(");
            continue;
        };
        let Some((key, value)) = comment
            .trim()
            .strip_prefix("fastscore.")
            .and_then(|r| r.split_once(':'))
        else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        any = true;
        match key.trim() {
            k @ ("input" | "output") => {
                if !FASTSCORE_TYPES.contains(&value.as_str()) {
                    return Err(format!(
                        "unknown fastscore.{k} type '{value}' (expected one of {})",
                        FASTSCORE_TYPES.join(", ")
                    ));
                }
                if k == "input" {
                    fs.input = value;
                } else {
                    fs.output = value;
                }
            }
            "snapshots" => fs.snapshots_eof = value == "eof",
            _ => {}
        }
    }
    Ok(any.then_some(fs))
}

/// The kind name of a state entry (`cell` or `pool`, any case), as the static string a [`State`] holds.
pub fn state_kind(name: &[u8]) -> Option<&'static str> {
    if name.eq_ignore_ascii_case(b"cell") {
        Some("cell")
    } else if name.eq_ignore_ascii_case(b"pool") {
        Some("pool")
    } else {
        None
    }
}

/// The cells and pools a script has touched (its *state*, what a snapshot of it captures): (kind, name)
/// with kind `cell` or `pool`.
pub type State =
    std::sync::Arc<parking_lot::Mutex<std::collections::BTreeSet<(&'static str, Bytes)>>>;

thread_local! {
    /// The state of the script running on this thread, if any.
    static RECORDING: std::cell::RefCell<Option<State>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with `state` recording what the script touches on this thread.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
fn recording<T>(state: &State, f: impl FnOnce() -> T) -> T {
    RECORDING.with(|r| *r.borrow_mut() = Some(state.clone()));
    let out = f();
    RECORDING.with(|r| *r.borrow_mut() = None);
    out
}

/// Notes that the running script (if any) used a cell or pool (the host calls this).
pub fn touched(kind: &'static str, name: &[u8]) {
    RECORDING.with(|r| {
        if let Some(state) = r.borrow().as_ref() {
            state.lock().insert((kind, Bytes::copy_from_slice(name)));
        }
    });
}

/// A stored script.
#[derive(Debug)]
pub struct Script {
    pub id: u64,
    /// As the client wrote it; RedisAI does not validate a script's device.
    pub device: Bytes,
    pub tag: Bytes,
    pub entry_points: Vec<String>,
    pub source: Bytes,
    /// Set for FastScore models (AI.SCORE).
    pub fastscore: Option<FastScore>,
    /// The cells and pools it has touched, from `begin()` on.
    pub state: State,
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    compiled: Compiled,
    pub stats: RunStats,
}

impl Script {
    pub fn mem_size(&self) -> usize {
        self.source.len() * 4 + 256
    }

    /// Runs `func(tensors, keys, args)` (CPU work under the GIL: call it on a worker); a call still running
    /// after `limit` is interrupted and fails with `script timed out`.
    pub fn call(
        &self,
        func: &str,
        tensors: &[&Tensor],
        keys: &[Bytes],
        args: &[Bytes],
        limit: std::time::Duration,
    ) -> Result<Vec<Tensor>, String> {
        #[cfg(feature = "python")]
        return recording(&self.state, || {
            python::call(&self.compiled, func, tensors, keys, args, limit)
        });
        #[cfg(not(feature = "python"))]
        {
            let _ = (func, tensors, keys, args, limit);
            Err(NO_PYTHON.into())
        }
    }
}

impl Script {
    /// Runs a FastScore model's `begin()` (once at start-up on a primary that loaded it from disk), recording
    /// the state it touches.
    pub fn begin(&self) -> Result<(), String> {
        if self.fastscore.is_none() {
            return Ok(());
        }
        #[cfg(feature = "python")]
        return recording(&self.state, || python::begin(&self.compiled));
        #[cfg(not(feature = "python"))]
        Err(NO_PYTHON.into())
    }
}

#[cfg(feature = "python")]
pub use python::Scored;

/// What AI.SCORE replies per produced value.
#[cfg(not(feature = "python"))]
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    Int(i64),
    Double(f64),
    Text(String),
}

impl Script {
    /// AI.SCORE: runs the FastScore action over `records` (on a worker), then `end()` when `eof`.
    pub fn score(
        &self,
        action: &str,
        records: &[Bytes],
        eof: bool,
        limit: std::time::Duration,
    ) -> Result<Vec<Scored>, String> {
        let Some(fs) = &self.fastscore else {
            return Err(
                "ERR the script is not a FastScore model (no action, no fastscore comments)".into(),
            );
        };
        #[cfg(feature = "python")]
        return recording(&self.state, || {
            python::score(
                &self.compiled,
                action,
                records,
                &fs.input,
                &fs.output,
                eof,
                limit,
            )
        });
        #[cfg(not(feature = "python"))]
        {
            let _ = (fs, action, records, eof, limit);
            Err(NO_PYTHON.into())
        }
    }
}

/// Compiles a script: runs its top level, and a FastScore model's `begin()` when `run_begin` (CPU work: call
/// it on a worker). Loading from disk and replicas pass false: they must not run Python for effect.
pub fn compile(
    key: &[u8],
    device: Bytes,
    tag: Bytes,
    entry_points: Vec<String>,
    source: Bytes,
    run_begin: bool,
) -> Result<Script, String> {
    #[cfg(not(feature = "python"))]
    {
        let _ = (key, device, tag, entry_points, source, run_begin);
        Err(NO_PYTHON.into())
    }
    #[cfg(feature = "python")]
    {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Relaxed);
        // A module name Python accepts, unique per load.
        let name: String = key
            .iter()
            .map(|&c| {
                if c.is_ascii_alphanumeric() {
                    c as char
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let fastscore = fastscore_of(&source)?;
        let state = State::default();
        let compiled = recording(&state, || {
            python::compile(
                &format!("{name}_{id}"),
                &source,
                &entry_points,
                fastscore.is_some(),
                run_begin,
            )
        })?;
        Ok(Script {
            id,
            device,
            tag,
            entry_points,
            source,
            fastscore,
            state,
            compiled,
            stats: RunStats::default(),
        })
    }
}
