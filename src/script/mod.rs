//! Scripts: source stored under a key (RedisAI's script commands, with Python instead of TorchScript), run
//! in runner processes (`crate::runner`). The value keeps the source (for SCRIPTGET, persistence and
//! replicas), its entry points, its run statistics (AI.INFO) and its runner pool; no process starts before
//! the script is first used, so loading a snapshot or following a primary never runs a script.

use bytes::Bytes;

use crate::model::RunStats;
use crate::runner::{Language, Runner, Runners, Spec};
use crate::tensor::Tensor;

pub use crate::runner::host::{host, set_host, touched, Host, HostValue, State, Swapped};
pub use crate::runner::Scored;

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

/// Reads the smart comments; a script is a FastScore model when it has any, or defines `action` at top level
/// (in Python or R).
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
            // Python's `def action(`, R's `action <- function(` (or `=`).
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            any |= line.starts_with("def action(")
                || compact.starts_with("action<-function(")
                || compact.starts_with("action=function(");
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
    pub stats: RunStats,
    /// Its runner processes (RUNNERS n).
    pub runners: Runners,
}

/// What a script is made of, as AI.SCRIPTSTORE, a snapshot record or the stream give it.
#[derive(Debug, Clone)]
pub struct Parts {
    pub key: Bytes,
    pub device: Bytes,
    pub tag: Bytes,
    pub language: Language,
    pub runners: usize,
    pub entry_points: Vec<String>,
    pub source: Bytes,
}

impl Script {
    pub fn mem_size(&self) -> usize {
        self.source.len() * 4 + 256
    }

    pub fn language(&self) -> Language {
        self.runners.spec().language
    }

    /// Queues `f` for the script's next free runner (its driver thread runs it; never an I/O thread).
    pub fn submit(
        self: &std::sync::Arc<Self>,
        f: impl FnOnce(&std::sync::Arc<Script>, &mut Runner) + Send + 'static,
    ) {
        let me = self.clone();
        self.runners
            .submit(crate::runner::Task::Run(Box::new(move |r| f(&me, r))));
    }

    /// Runs `func(tensors, keys, args)` on `runner`, its `redis.execute` calls as `user` (the calling
    /// client's ACL user, `Session::user`); a call still running after `limit` is interrupted and fails with
    /// `script timed out`.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        runner: &mut Runner,
        user: Option<Bytes>,
        func: &str,
        tensors: &[&Tensor],
        keys: &[Bytes],
        args: &[Bytes],
        limit: std::time::Duration,
    ) -> Result<Vec<Tensor>, String> {
        crate::runner::host::as_caller(user, || runner.call(func, tensors, keys, args, limit))
            .map_err(|f| f.message())
    }

    /// AI.SCORE: queues the FastScore action over `records` (then `end()` when `eof`); `done` gets the
    /// values on the runner's driver thread. Calls waiting together may share one request to a runner.
    #[allow(clippy::too_many_arguments)]
    pub fn score(
        self: &std::sync::Arc<Self>,
        user: Option<Bytes>,
        action: String,
        records: Vec<Bytes>,
        eof: bool,
        limit: std::time::Duration,
        done: impl FnOnce(&std::sync::Arc<Script>, Result<Vec<Scored>, String>) + Send + 'static,
    ) -> Result<(), String> {
        let Some(fs) = &self.fastscore else {
            return Err(
                "ERR the script is not a FastScore model (no action, no fastscore comments)".into(),
            );
        };
        let me = self.clone();
        self.runners
            .submit(crate::runner::Task::Score(crate::runner::score::ScoreJob {
                action,
                records,
                input: fs.input.clone(),
                output: fs.output.clone(),
                eof,
                limit,
                user,
                done: Box::new(move |_runner, result| done(&me, result.map_err(|f| f.message()))),
            }));
        Ok(())
    }

    /// Loads the script in `runner` (started now if it has none): its errors are the store's.
    pub fn load(&self, runner: &mut Runner) -> Result<(), String> {
        runner.load().map_err(|f| f.message())
    }

    /// For a front end that loaded this script while serving clients (the module): `begin()` runs as its
    /// first runner loads it, before any call, and that load starts now, on a thread of its own. Nothing for a
    /// script without `begin()`.
    pub fn begin_before_first_call(self: &std::sync::Arc<Self>) {
        if self.fastscore.is_none() || !self.runners.begin_at_first_load() {
            return;
        }
        let me = self.clone();
        let _ = std::thread::Builder::new()
            .name("tc-begin".into())
            .spawn(move || {
                if let Ok(Err(e)) = me.runners.run(|r| r.load()) {
                    crate::warning!(
                        "begin() of the script at {}: {}",
                        me.runners.name(),
                        e.message()
                    );
                }
            });
    }

    /// Runs a FastScore model's `begin()` for effect (once at start-up on a primary that loaded it from
    /// disk), waiting for it, and records the state it touches.
    pub fn begin(self: &std::sync::Arc<Self>, limit: std::time::Duration) -> Result<(), String> {
        if self.fastscore.is_none() {
            return Ok(());
        }
        self.runners
            .run(move |r| r.begin(limit).map_err(|f| f.message()))?
    }
}

/// A script from its parts, with no runner started: loads from disk and replicas must not run code.
pub fn new(p: Parts) -> Result<Script, String> {
    build(p, false)
}

/// A script being stored: its first runner runs a FastScore model's `begin()` live when it loads it.
pub fn for_store(p: Parts) -> Result<Script, String> {
    build(p, true)
}

fn build(p: Parts, begin: bool) -> Result<Script, String> {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Relaxed);
    let fastscore = fastscore_of(&p.source)?;
    let state = State::default();
    let spec = Spec {
        state: state.clone(),
        name: String::from_utf8_lossy(&p.key).into_owned(),
        key: p.key.clone(),
        language: p.language,
        source: p.source.clone(),
        entry_points: p.entry_points.clone(),
        fastscore: fastscore.is_some(),
    };
    Ok(Script {
        id,
        device: p.device,
        tag: p.tag,
        entry_points: p.entry_points,
        source: p.source,
        fastscore,
        state,
        stats: RunStats::default(),
        runners: Runners::new(spec, p.runners, begin),
    })
}
