//! RedisAI commands: tensors, models, scripts, AI.INFO and AI.CONFIG. Model loading, script compiling and
//! all runs are deferred to the worker pool ([`crate::exec`]); the helpers here are the phases they share.

mod config;
mod dag;
mod dag_exec;
mod dag_run;
mod dagcancel;
mod dagexecute;
mod dagexecute_ro;
mod dagresult;
mod dagrun;
mod dagrun_ro;
mod dagrunasync;
mod dagrunro;
mod dagstatus;
mod info;
pub mod info_modules;
pub(crate) mod keys;
mod modeldel;
mod modelexecute;
mod modelget;
mod modelrun;
mod modelscan;
mod modelset;
mod modelstore;
mod score;
mod script_host;
mod scriptdel;
mod scriptexecute;
mod scriptget;
mod scriptrun;
mod scriptscan;
mod scriptset;
mod scriptstate;
mod scriptstore;
mod snapshot;
mod tensorget;
mod tensorset;

pub use config::config;
pub use dagcancel::dagcancel;
pub use dagexecute::dagexecute;
pub use dagexecute_ro::dagexecute_ro;
pub use dagresult::dagresult;
pub use dagrun::dagrun;
pub use dagrun_ro::dagrun_ro;
pub use dagrunasync::dagrunasync;
pub use dagrunro::dagrunro;
pub use dagstatus::dagstatus;
pub use info::info;
pub use modeldel::modeldel;
pub use modelexecute::modelexecute;
pub use modelget::modelget;
pub use modelrun::modelrun;
pub use modelscan::modelscan;
pub use modelset::modelset;
pub use modelstore::modelstore;
pub use score::score;
pub use scriptdel::scriptdel;
pub use scriptexecute::scriptexecute;
pub use scriptget::scriptget;
pub use scriptrun::scriptrun;
pub use scriptscan::scriptscan;
pub use scriptset::scriptset;
pub use scriptstate::scriptstate;
pub use scriptstore::scriptstore;
pub use snapshot::snapshot;
pub use tensorget::tensorget;
pub use tensorset::tensorset;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::commands::{word, Ctx, Effects, Event, Events, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::exec::{Job, ModelRequest, RunResult};
use crate::keyspace::Store;
use crate::keyspace::{own, Value};
use crate::model::{self, Backend, BatchOptions, Model};
use crate::reply::Reply;
use crate::script::Script;
use crate::tensor::Tensor;

/// The effect that records a script's state list: `AI._SCRIPTSTATE key kind name ...`.
fn state_effect(key: Bytes, script: &Script) -> Vec<Bytes> {
    let mut argv = vec![word("AI._SCRIPTSTATE"), key];
    // The lock-free copy: an AOF rewrite in the module runs this in a forked child.
    for (kind, name) in script.state.entries().iter() {
        argv.push(word(kind));
        argv.push(name.clone());
    }
    argv
}

/// After a script ran on a worker: if it touched a cell or pool it had not touched before, propagate its
/// state list (if `key` still holds it), so the AOF and replicas know what its snapshots cover.
fn propagate_state(
    shared: &crate::shared::Shared,
    key: &Bytes,
    script: &Arc<Script>,
    before: usize,
) {
    if script.state.lock().len() == before {
        return;
    }
    crate::commands::dispatch::commit(shared, Some(()), |db| {
        let same = matches!(db.get(key),
            Some(Value::Script(s)) if Arc::ptr_eq(s, script));
        let mut effects = Effects::new();
        if same {
            effects.push(state_effect(key.clone(), script));
        }
        ((), effects, Events::new())
    });
}

/// Lets scripts reach the keyspace (`redis.execute`, cells and pools); idempotent. Storing a script
/// installs it; start-up calls it before running loaded scripts' `begin()`.
pub fn install_script_host(shared: Arc<crate::shared::Shared>) {
    crate::script::set_host(Box::new(script_host::EngineHost::new(shared)));
}

/// The model stored at `key` (`ERR model key is empty`, `WRONGTYPE`).
fn model_at(ctx: &mut Ctx, key: &[u8]) -> CmdResult<Arc<Model>> {
    match ctx.store().get(key) {
        None => Err(CmdError::err("model key is empty")),
        Some(Value::Model(m)) => Ok(m.clone()),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The tensor stored at `key`, as a model input.
fn input_tensor(ctx: &mut Ctx, key: &[u8]) -> CmdResult<Arc<Tensor>> {
    match ctx.store().get(key) {
        None => Err(CmdError::err("tensor key is empty or in a different shard")),
        Some(Value::Tensor(t)) => Ok(t.clone()),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// A `TIMEOUT <ms>` value (RedisAI: an integer > 0).
fn parse_timeout(v: Option<Bytes>) -> CmdResult<Duration> {
    let v = v.ok_or_else(|| CmdError::err("No value provided for TIMEOUT"))?;
    match crate::util::parse_i64(&v) {
        Some(ms) if ms > 0 => Ok(Duration::from_millis(ms as u64)),
        _ => Err(CmdError::err("Invalid value for TIMEOUT")),
    }
}

/// A non-negative integer option (BATCHSIZE and friends), or RedisAI's `Invalid argument for <name>`.
fn unsigned(v: Option<Bytes>, name: &str) -> CmdResult<u64> {
    v.as_deref()
        .and_then(crate::util::parse_i64)
        .filter(|n| *n >= 0)
        .map(|n| n as u64)
        .ok_or_else(|| CmdError::err(format!("Invalid argument for {name}")))
}

/// Every argument left (the chunks after BLOB), joined into the model blob (no copy when there is one
/// chunk); none is RedisAI's `Insufficient arguments, missing model BLOB`.
fn blob_chunks(args: &mut crate::args::Args) -> CmdResult<Bytes> {
    let chunks = args.rest();
    if chunks.is_empty() {
        return Err(CmdError::err("Insufficient arguments, missing model BLOB"));
    }
    if chunks.len() == 1 {
        return Ok(own(chunks.into_iter().next().unwrap_or_default()));
    }
    let mut blob = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
    for c in &chunks {
        blob.extend_from_slice(c);
    }
    Ok(blob.freeze())
}

/// What MODELSTORE and MODELSET agree on once parsed.
struct StoreRequest {
    key: Bytes,
    backend: Backend,
    device: Bytes,
    tag: Bytes,
    batch: BatchOptions,
    blob: Bytes,
    /// Stored by the replication stream or the AOF (never refused as a client's write on a replica).
    replaying: bool,
}

/// `[[key, tag], ...]` of every value `tag_of` gives a tag for (AI._MODELSCAN, AI._SCRIPTSCAN), in key
/// order: the same in every front end (a Redis keyspace has no order of its own).
fn tagged(ctx: &mut Ctx, tag_of: fn(&Value) -> Option<&Bytes>) -> Reply {
    let mut pairs = Vec::new();
    ctx.store().for_each(&mut |k, v| {
        if let Some(tag) = tag_of(v) {
            pairs.push((k.clone(), tag.clone()));
        }
    });
    pairs.sort();
    Reply::Array(
        pairs
            .into_iter()
            .map(|(k, tag)| Reply::Array(vec![Reply::Bulk(k), Reply::Bulk(tag)]))
            .collect(),
    )
}

/// Every stored FastScore script (one with `begin()`), for a front end that has just loaded its data.
pub fn fastscore_scripts(shared: &crate::shared::Shared) -> Vec<(Bytes, Arc<Script>)> {
    let mut scripts = Vec::new();
    shared.node.read(shared, &mut |store| {
        store.for_each(&mut |k, v| match v {
            Value::Script(s) if s.fastscore.is_some() => scripts.push((k.clone(), s.clone())),
            _ => {}
        })
    });
    scripts
}

/// Runs `begin()` of every stored FastScore script once a front end has loaded its data (the standalone
/// server at start-up, the module when Redis ends loading), on a primary: the caller decides that. Loading
/// builds scripts without running anything; this is where their shared state starts.
pub fn run_begins(shared: &Arc<crate::shared::Shared>) {
    let scripts = fastscore_scripts(shared);
    if scripts.is_empty() {
        return;
    }
    install_script_host(shared.clone());
    let limit = Duration::from_millis(shared.settings().script_time_limit);
    for (k, s) in scripts {
        if let Err(e) = s.begin(limit) {
            crate::warning!(
                "begin() of the script at {} failed: {e}",
                String::from_utf8_lossy(&k)
            );
        }
    }
}

/// The commands that rebuild `value` at `key` from nothing (the Redis module's AOF rewrite): the effects
/// that store it, in RedisAI's AOF forms, a model's blob in `chunk`-byte pieces.
pub fn rebuild(key: &Bytes, value: &Value, chunk: usize) -> Vec<Vec<Bytes>> {
    match value {
        Value::Tensor(t) => vec![tensorset::tensorset_effect(key.clone(), t)],
        Value::Model(m) => vec![modelstore_effect(key.clone(), m, chunk)],
        Value::Script(s) => {
            let mut out = vec![scriptstore_effect(key.clone(), s)];
            if !s.state.entries().is_empty() {
                out.push(state_effect(key.clone(), s));
            }
            out
        }
        Value::Cell(c) => vec![vec![
            word("AI.CELLSET"),
            key.clone(),
            crate::state::text(&c.value),
        ]],
        Value::Pool(p) if p.fields.is_empty() => vec![],
        Value::Pool(p) => {
            let mut argv = vec![word("AI.POOLSET"), key.clone()];
            for (f, v) in &p.fields {
                argv.push(f.clone());
                argv.push(crate::state::text(v));
            }
            vec![argv]
        }
        Value::Str(v) => vec![vec![word("SET"), key.clone(), v.clone()]],
    }
}

/// The effect that recreates a model: RedisAI's AOF-rewrite form of MODELSTORE, blob in
/// `model-chunk-size` pieces so each stays under `proto-max-bulk-len`.
fn modelstore_effect(key: Bytes, m: &Model, chunk: usize) -> Vec<Bytes> {
    let mut argv = vec![
        word("AI.MODELSTORE"),
        key,
        word(m.backend.name()),
        m.device.clone(),
        word("TAG"),
        m.tag.clone(),
        word("BATCHSIZE"),
        Bytes::from(m.batch.batchsize.to_string()),
        word("MINBATCHSIZE"),
        Bytes::from(m.batch.minbatchsize.to_string()),
        word("MINBATCHTIMEOUT"),
        Bytes::from(m.batch.minbatchtimeout.to_string()),
        word("BLOB"),
    ];
    let size = chunk.max(1);
    let mut start = 0;
    loop {
        let end = (start + size).min(m.blob.len());
        argv.push(m.blob.slice(start..end));
        start = end;
        if start >= m.blob.len() {
            break;
        }
    }
    argv
}

/// Loads the model on a worker (parsing and optimizing is CPU work), then stores it under the lock. The key's
/// type is checked after loading, as RedisAI does.
fn store_model(ctx: &mut Ctx, req: StoreRequest) -> CmdResult<Outcome> {
    if req.backend != Backend::Onnx {
        return Err(CmdError::err("unsupported backend"));
    }
    if model::is_gpu(&req.device) {
        return Err(CmdError::err(
            "GPU requested but no GPU backend is available",
        ));
    }
    ctx.refuse_in_exec()?;
    if req.replaying && ctx.front_held() {
        // A front end replaying under its own lock (the module loading an AOF, or a replica applying its
        // primary's stream inside redis-server) cannot wait for a worker that would need that lock to
        // commit: the model is loaded here, as RedisAI always did.
        return Ok(Outcome::new(load_and_commit(ctx.shared, req)));
    }
    let shared = ctx.shared.arc();
    let device = String::from_utf8_lossy(&req.device).into_owned();
    Ok(Outcome::later(move |done| {
        let pool = shared.clone();
        pool.pool.submit(
            &device,
            Job::Task(Box::new(move |_cache| done(load_and_commit(&shared, req)))),
        );
    }))
}

/// The worker side of MODELSTORE: load, then store under the lock with its effect and event.
fn load_and_commit(shared: &crate::shared::Shared, req: StoreRequest) -> Reply {
    let threads = shared.pool.threads;
    let m = match model::load(
        req.backend,
        req.device,
        req.tag,
        req.batch,
        req.blob,
        threads,
    ) {
        Ok(m) => m,
        Err(e) => return Reply::Error(CmdError::err(e)),
    };
    let mut line = format!(
        "model '{}' runs on {}",
        String::from_utf8_lossy(&req.key),
        m.runtime().name()
    );
    if let (false, Some((single, batched))) = (m.batching, m.batch_probe) {
        line += &format!(
            "; BATCHSIZE {n} is not used: a batch of {n} rows took {batched} us, {n} single runs {} us",
            single * m.batch.batchsize,
            n = m.batch.batchsize
        );
    }
    if req.replaying {
        crate::verbose!("{line}");
    } else {
        crate::notice!("{line}");
    }
    let chunk = shared.config.read().settings.model_chunk_size;
    let key = req.key;
    let refused = (!req.replaying).then(|| Reply::Error(CmdError::ReadOnly));
    crate::commands::dispatch::commit(shared, refused, |db| {
        if db.get(&key).is_some_and(|v| !matches!(v, Value::Model(_))) {
            return (
                Reply::Error(CmdError::WrongType),
                Effects::new(),
                Events::new(),
            );
        }
        let effect = modelstore_effect(key.clone(), &m, chunk);
        db.set(key.clone(), Value::Model(Arc::new(m)));
        let mut events = Events::new();
        events.push(Event {
            class: notify::MODULE,
            name: "ai.modelstore",
            key,
        });
        (Reply::OK, Effects::from_elem(effect, 1), events)
    })
}

/// Queues a model run and, when it ends, commits its outputs (all or nothing, with their effects) and
/// replies: `OK`, `TIMEDOUT`, or the error.
fn run_model(
    ctx: &mut Ctx,
    model: Arc<Model>,
    inputs: Vec<Arc<Tensor>>,
    outputs: Vec<Bytes>,
    timeout: Option<Duration>,
) -> CmdResult<Outcome> {
    let shared = ctx.shared.arc();
    let device = String::from_utf8_lossy(&model.device).into_owned();
    let enqueued = Instant::now();
    Ok(Outcome::later(move |done| {
        let commit_shared = shared.clone();
        let request = ModelRequest {
            model,
            inputs,
            enqueued,
            timeout,
            done: Box::new(move |result| {
                let reply = match result {
                    RunResult::TimedOut => Reply::Simple("TIMEDOUT"),
                    RunResult::Failed(e) => Reply::Error(error_of(e)),
                    RunResult::Done {
                        outputs: tensors, ..
                    } => commit_outputs(&commit_shared, outputs, tensors),
                };
                done(reply);
            }),
        };
        shared.pool.submit(&device, Job::Model(request));
    }))
}

/// A backend or batching error as a reply: RedisAI's own messages carry their prefix, tract's get `ERR`.
fn error_of(e: String) -> CmdError {
    match e.strip_prefix("ERR ") {
        Some(rest) => CmdError::err(rest.to_string()),
        None => CmdError::err(e),
    }
}

/// Writes a run's outputs: every key is checked first, so a wrong-typed output key fails the whole commit
/// with one error (commands.md) and nothing is written.
fn commit_outputs(shared: &crate::shared::Shared, keys: Vec<Bytes>, tensors: Vec<Tensor>) -> Reply {
    if keys.len() != tensors.len() {
        return Reply::Error(CmdError::err(format!(
            "{} outputs were produced but OUTPUTS names {}",
            tensors.len(),
            keys.len()
        )));
    }
    crate::commands::dispatch::commit(shared, Some(Reply::Error(CmdError::ReadOnly)), |db| {
        let clash = keys
            .iter()
            .any(|k| db.get(k).is_some_and(|v| !matches!(v, Value::Tensor(_))));
        if clash {
            return (
                Reply::Error(CmdError::WrongType),
                Effects::new(),
                Events::new(),
            );
        }
        let mut effects = Effects::new();
        let mut events = Events::new();
        for (key, t) in keys.into_iter().zip(tensors) {
            effects.push(tensorset::tensorset_effect(key.clone(), &t));
            db.set(key.clone(), Value::Tensor(Arc::new(t)));
            events.push(Event {
                class: notify::MODULE,
                name: "ai.tensorset",
                key,
            });
        }
        (Reply::OK, effects, events)
    })
}

/// The script stored at `key` (`ERR script key is empty`, `WRONGTYPE`).
fn script_at(ctx: &mut Ctx, key: &[u8]) -> CmdResult<Arc<Script>> {
    match ctx.store().get(key) {
        None => Err(CmdError::err("script key is empty")),
        Some(Value::Script(s)) => Ok(s.clone()),
        Some(_) => Err(CmdError::WrongType),
    }
}

/// The effect that stores `script` at `key`: `AI.SCRIPTSTORE key device TAG t [LANGUAGE l] [RUNNERS n]
/// ENTRY_POINTS n ... SOURCE src` (RedisAI's AOF form, with the runner options only when not the defaults).
pub fn scriptstore_effect(key: Bytes, script: &Script) -> Vec<Bytes> {
    let mut effect = vec![
        word("AI.SCRIPTSTORE"),
        key,
        script.device.clone(),
        word("TAG"),
        script.tag.clone(),
    ];
    if script.language() != crate::runner::Language::Python {
        effect.extend([word("LANGUAGE"), word(script.language().name())]);
    }
    let runners = script.runners.target();
    if runners != 1 {
        effect.extend([word("RUNNERS"), Bytes::from(runners.to_string())]);
    }
    effect.extend([
        word("ENTRY_POINTS"),
        Bytes::from(script.entry_points.len().to_string()),
    ]);
    effect.extend(script.entry_points.iter().map(|e| Bytes::from(e.clone())));
    effect.extend([word("SOURCE"), script.source.clone()]);
    effect
}

/// Stores a script: its first runner loads it (running its top level and a FastScore model's `begin()`),
/// then it is stored under the lock with its effect. A replica or the AOF replaying the store only builds
/// it: no runner starts until the script is called.
fn store_script(ctx: &mut Ctx, parts: crate::script::Parts) -> CmdResult<Outcome> {
    ctx.refuse_in_exec()?;
    if !ctx.shared.config.read().settings.enable_python_scripts {
        return Err(CmdError::err(
            "Python scripts are disabled (enable-python-scripts no)",
        ));
    }
    let shared = ctx.shared.arc();
    install_script_host(shared.clone());
    let key = parts.key.clone();
    if ctx.session.replaying {
        // Applied under the lock the replay holds; the next effect sees the script.
        let script = Arc::new(crate::script::new(parts).map_err(error_of)?);
        let (reply, effects, events) = put_script(&mut ctx.store(), key, script);
        return Ok(Outcome {
            reply: Some(reply),
            effects,
            events,
            deferred: None,
        });
    }
    let script = Arc::new(crate::script::for_store(parts).map_err(error_of)?);
    Ok(Outcome::later(move |done| {
        script.submit(move |script, runner| {
            let reply = match script.load(runner) {
                Err(e) => Reply::Error(error_of(e)),
                Ok(()) => commit_script(
                    &shared,
                    Some(Reply::Error(CmdError::ReadOnly)),
                    key,
                    script.clone(),
                ),
            };
            done(reply);
        });
    }))
}

/// Writes a stored script and its effects (with what `begin()` touched).
fn commit_script(
    shared: &crate::shared::Shared,
    refused: Option<Reply>,
    key: Bytes,
    script: Arc<Script>,
) -> Reply {
    crate::commands::dispatch::commit(shared, refused, |db| put_script(db, key, script))
}

/// Puts a script at `key` (WRONGTYPE over another kind of value), with its effects and event: the store's
/// commit and a replayed store share it.
fn put_script(
    db: &mut dyn crate::keyspace::Store,
    key: Bytes,
    script: Arc<Script>,
) -> (Reply, Effects, Events) {
    if db.get(&key).is_some_and(|v| !matches!(v, Value::Script(_))) {
        return (
            Reply::Error(CmdError::WrongType),
            Effects::new(),
            Events::new(),
        );
    }
    let mut effects = Effects::from_elem(scriptstore_effect(key.clone(), &script), 1);
    if !script.state.lock().is_empty() {
        // What begin() touched.
        effects.push(state_effect(key.clone(), &script));
    }
    db.set(key.clone(), Value::Script(script));
    let mut events = Events::new();
    events.push(Event {
        class: notify::MODULE,
        name: "ai.scriptstore",
        key,
    });
    (Reply::OK, effects, events)
}

/// One SCRIPTEXECUTE/SCRIPTRUN call, parsed.
struct ScriptCall {
    /// Where the script is stored (its state list is propagated under this key).
    key: Bytes,
    script: Arc<Script>,
    func: String,
    tensors: Vec<Arc<Tensor>>,
    keys: Vec<Bytes>,
    args: Vec<Bytes>,
    outputs: Vec<Bytes>,
    timeout: Option<Duration>,
    /// The calling client's ACL user (`Session::user`).
    user: Option<Bytes>,
}

/// Queues a script call for the script's runners; on a runner's driver thread, runs it (never holding the
/// keyspace lock), then commits its outputs like a model run's.
fn run_script(ctx: &mut Ctx, call: ScriptCall) -> CmdResult<Outcome> {
    let shared = ctx.shared.arc();
    let enqueued = Instant::now();
    // TIMEOUT bounds the wait in the queue (RedisAI) and the run; without it, `script-time-limit` bounds the run.
    let limit = call.timeout.unwrap_or_else(|| {
        Duration::from_millis(ctx.shared.config.read().settings.script_time_limit)
    });
    Ok(Outcome::later(move |done| {
        let script = call.script.clone();
        script.submit(move |script, runner| {
            if call.timeout.is_some_and(|t| enqueued.elapsed() > t) {
                return done(Reply::Simple("TIMEDOUT"));
            }
            let start = Instant::now();
            let inputs: Vec<&Tensor> = call.tensors.iter().map(|t| t.as_ref()).collect();
            let before = script.state.lock().len();
            let result = script.call(
                runner,
                call.user.clone(),
                &call.func,
                &inputs,
                &call.keys,
                &call.args,
                limit,
            );
            propagate_state(&shared, &call.key, script, before);
            let us = start.elapsed().as_micros() as u64;
            script.stats.record(us, 0, result.is_err());
            done(match result {
                Err(e) => Reply::Error(error_of(e)),
                Ok(tensors) => commit_outputs(&shared, call.outputs, tensors),
            })
        });
    }))
}
