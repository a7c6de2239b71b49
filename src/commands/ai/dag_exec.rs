//! Running a DAG in parallel: the ops are planned from their data dependencies (each input names the version
//! of a tensor that the last earlier op wrote, so a name written again is a new slot and only real
//! dependencies order the ops). Every op whose inputs exist is queued at once: model ops as ordinary model
//! requests on their device's queue (so they take part in auto-batching), script ops as tasks on theirs;
//! TENSORSET and TENSORGET run where their inputs become ready. The reply is assembled in op order with
//! RedisAI's rule (an op after a failed one is `NA`), and the PERSIST keys are written together at the end,
//! only if every op succeeded. No worker waits for another: a DAG holds a worker only while one of its ops runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::dag::Op;
use crate::commands::Completion;
use crate::exec::asyncdag::AsyncDag;
use crate::exec::{Job, ModelRequest, RunResult};
use crate::reply::Reply;
use crate::shared::Shared;
use crate::tensor::{tensor_reply, Tensor};

/// Where an input comes from.
#[derive(Clone)]
enum Source {
    /// A slot an earlier op of the DAG fills (or the LOADed value).
    Slot(usize),
    /// The `=>` form: a keyspace key nothing in the DAG wrote before this op, read when the op runs.
    Key(Bytes),
    /// A `~volatile~` name nothing wrote yet.
    Missing,
}

struct Node {
    op: Op,
    inputs: Vec<Source>,
    /// Slots this op fills, in output order.
    outputs: Vec<usize>,
    /// Ops that wait for this one.
    dependents: Vec<usize>,
    waiting: usize,
}

struct Run {
    nodes: Vec<Option<Node>>,
    slots: Vec<Option<Arc<Tensor>>>,
    replies: Vec<Option<Result<Reply, String>>>,
    /// The lowest op index that failed.
    failed_at: Option<usize>,
    timed_out: bool,
    pending: usize,
    done: Option<Completion>,
}

struct Plan {
    shared: Arc<Shared>,
    /// PERSIST names with the slot holding their last version.
    persist: Vec<(Bytes, usize)>,
    control: Option<Arc<AsyncDag>>,
    timeout: Option<(Instant, Duration)>,
    user: Option<Bytes>,
    run: Mutex<Run>,
}

/// A parsed DAG ready to run.
pub(super) struct DagJob {
    pub shared: Arc<Shared>,
    pub ops: Vec<Op>,
    /// The LOADed tensors.
    pub arena: HashMap<Bytes, Arc<Tensor>>,
    /// Names written to the keyspace at the end.
    pub persist: Vec<Bytes>,
    /// The `=>` form's rule: a non-volatile name no op wrote is read from the keyspace.
    pub keyspace: bool,
    /// Set for asynchronous runs.
    pub control: Option<Arc<AsyncDag>>,
    /// When the DAG was queued, and its TIMEOUT.
    pub timeout: Option<(Instant, Duration)>,
    /// The calling client's ACL user: its script ops' `redis.execute` runs as it.
    pub user: Option<Bytes>,
}

/// Plans and starts a DAG; `done` gets its reply.
pub(super) fn start(job: DagJob, done: Completion) {
    // The DAG itself waits in the CPU queue first (its status is `queued` there, and TIMEOUT counts from
    // then); the task that takes it only plans and launches, so it holds the worker for microseconds.
    let pool = job.shared.clone();
    pool.pool.submit(
        "CPU",
        Job::Task(Box::new(move |_cache| {
            if job.timeout.is_some_and(|(t0, limit)| t0.elapsed() > limit) {
                return done(Reply::Simple("TIMEDOUT"));
            }
            plan_and_launch(job, done)
        })),
    );
}

fn plan_and_launch(job: DagJob, done: Completion) {
    let DagJob {
        shared,
        ops,
        arena,
        persist,
        keyspace,
        control,
        timeout,
        user,
    } = job;
    if control.as_ref().is_some_and(|c| !c.start()) {
        return done(Reply::Simple("CANCELLED"));
    }
    let mut slots: Vec<Option<Arc<Tensor>>> = Vec::new();
    let mut current: HashMap<Bytes, usize> = HashMap::new();
    let mut writer: Vec<Option<usize>> = Vec::new();
    for (name, t) in arena {
        current.insert(name, slots.len());
        slots.push(Some(t));
        writer.push(None);
    }
    let mut nodes: Vec<Node> = Vec::with_capacity(ops.len());
    for (i, op) in ops.into_iter().enumerate() {
        let (reads, writes): (Vec<Bytes>, Vec<Bytes>) = match &op {
            Op::Set { name, .. } => (vec![], vec![name.clone()]),
            Op::Get { name, .. } => (vec![name.clone()], vec![]),
            Op::Model {
                inputs, outputs, ..
            }
            | Op::Script {
                inputs, outputs, ..
            } => (inputs.clone(), outputs.clone()),
        };
        let mut waiting = 0;
        let mut inputs = Vec::with_capacity(reads.len());
        for r in &reads {
            match current.get(r) {
                Some(&slot) => {
                    if let Some(w) = writer[slot] {
                        if !nodes[w].dependents.contains(&i) {
                            nodes[w].dependents.push(i);
                            waiting += 1;
                        }
                    }
                    inputs.push(Source::Slot(slot));
                }
                None if keyspace && !super::dag_run::volatile(r) => {
                    inputs.push(Source::Key(r.clone()))
                }
                None => inputs.push(Source::Missing),
            }
        }
        let outputs = writes
            .into_iter()
            .map(|w| {
                let slot = slots.len();
                slots.push(None);
                writer.push(Some(i));
                current.insert(w, slot);
                slot
            })
            .collect();
        nodes.push(Node {
            op,
            inputs,
            outputs,
            dependents: Vec::new(),
            waiting,
        });
    }
    let persist = persist
        .into_iter()
        .filter_map(|k| current.get(&k).map(|&s| (k, s)))
        .collect();
    let n = nodes.len();
    let ready: Vec<usize> = (0..n).filter(|&i| nodes[i].waiting == 0).collect();
    let plan = Arc::new(Plan {
        shared,
        persist,
        control,
        timeout,
        user,
        run: Mutex::new(Run {
            nodes: nodes.into_iter().map(Some).collect(),
            slots,
            replies: (0..n).map(|_| None).collect(),
            failed_at: None,
            timed_out: false,
            pending: n,
            done: Some(done),
        }),
    });
    for i in ready {
        launch(&plan, i);
    }
}

/// Starts op `i` (its inputs are ready).
fn launch(plan: &Arc<Plan>, i: usize) {
    let (node, inputs, stop) = {
        let mut run = plan.run.lock();
        let Some(node) = run.nodes[i].take() else {
            return;
        };
        let inputs: Result<Vec<Arc<Tensor>>, String> = node
            .inputs
            .iter()
            .map(|s| match s {
                Source::Slot(slot) => run.slots[*slot]
                    .clone()
                    .ok_or_else(|| "ERR INPUT key cannot be found in DAG".to_string()),
                Source::Key(k) => read_key(&plan.shared, k),
                Source::Missing => Err("ERR INPUT key cannot be found in DAG".to_string()),
            })
            .collect();
        let timed_out = plan.timeout.is_some_and(|(t0, limit)| t0.elapsed() > limit);
        run.timed_out |= timed_out;
        let cancelled = plan.control.as_ref().is_some_and(|c| c.cancelled());
        // After a failure (or a timeout, or a cancel) nothing new starts.
        (
            node,
            inputs,
            run.failed_at.is_some() || run.timed_out || cancelled,
        )
    };
    if stop {
        return finish_op(plan, i, &node, Err(String::new()), Vec::new());
    }
    let inputs = match inputs {
        Ok(v) => v,
        Err(e) => return finish_op(plan, i, &node, Err(e), Vec::new()),
    };
    enum Action {
        Set(Arc<Tensor>),
        Get(crate::tensor::TensorFormat),
        Model(Arc<crate::model::Model>),
        Script(Arc<crate::script::Script>, String, Vec<Bytes>, Vec<Bytes>),
    }
    let action = match &node.op {
        Op::Set { tensor, .. } => Action::Set(tensor.clone()),
        Op::Get { format, .. } => Action::Get(*format),
        Op::Model { model, .. } => Action::Model(model.clone()),
        Op::Script {
            script,
            func,
            keys,
            args,
            ..
        } => Action::Script(script.clone(), func.clone(), keys.clone(), args.clone()),
    };
    match action {
        Action::Set(t) => finish_op(plan, i, &node, Ok(Reply::OK), vec![t]),
        Action::Get(format) => {
            let reply = tensor_reply(&inputs[0], format);
            finish_op(plan, i, &node, Ok(reply), Vec::new());
        }
        Action::Model(model) => {
            let device = String::from_utf8_lossy(&model.device).into_owned();
            let plan2 = plan.clone();
            let request = ModelRequest {
                model,
                inputs,
                enqueued: Instant::now(),
                timeout: None,
                done: Box::new(move |result| {
                    let (reply, outs) = match result {
                        RunResult::Done { outputs, .. } => {
                            (Ok(Reply::OK), outputs.into_iter().map(Arc::new).collect())
                        }
                        RunResult::TimedOut => (Err("ERR TIMEDOUT".to_string()), Vec::new()),
                        RunResult::Failed(e) => (Err(e), Vec::new()),
                    };
                    finish_op(&plan2, i, &node, reply, outs);
                }),
            };
            plan.shared.pool.submit(&device, Job::Model(request));
        }
        Action::Script(script, func, keys, args) => {
            let plan2 = plan.clone();
            script.submit(move |script, runner| {
                let limit =
                    Duration::from_millis(plan2.shared.config.read().settings.script_time_limit);
                let tensors: Vec<&Tensor> = inputs.iter().map(|t| t.as_ref()).collect();
                let start = Instant::now();
                let user = plan2.user.clone();
                let out = script.call(runner, user, &func, &tensors, &keys, &args, limit);
                script
                    .stats
                    .record(start.elapsed().as_micros() as u64, 0, out.is_err());
                let (reply, outs) = match out {
                    Ok(ts) => (Ok(Reply::OK), ts.into_iter().map(Arc::new).collect()),
                    Err(e) => (Err(e), Vec::new()),
                };
                finish_op(&plan2, i, &node, reply, outs);
            });
        }
    }
}

fn read_key(shared: &Shared, key: &Bytes) -> Result<Arc<Tensor>, String> {
    match crate::commands::dispatch::read(shared, |s| s.get(key).cloned()) {
        Some(crate::keyspace::Value::Tensor(t)) => Ok(t),
        Some(_) => Err(crate::error::CmdError::WrongType.line()),
        None => Err("ERR tensor key is empty or in a different shard".into()),
    }
}

/// Records an op's result (`Err("")`: skipped), fills its slots, starts the ops now ready, and finishes the
/// DAG after its last op.
fn finish_op(
    plan: &Arc<Plan>,
    i: usize,
    node: &Node,
    reply: Result<Reply, String>,
    outs: Vec<Arc<Tensor>>,
) {
    let (ready, finished) = {
        let mut run = plan.run.lock();
        let mut reply = reply;
        if reply.is_ok() && outs.len() != node.outputs.len() {
            reply = Err(format!(
                "{} outputs were produced but OUTPUTS names {}",
                outs.len(),
                node.outputs.len()
            ));
        }
        match &reply {
            Ok(_) => {
                for (slot, t) in node.outputs.iter().zip(outs) {
                    run.slots[*slot] = Some(t);
                }
            }
            Err(e) if !e.is_empty() => {
                run.failed_at = Some(run.failed_at.map_or(i, |f| f.min(i)));
            }
            Err(_) => {}
        }
        run.replies[i] = Some(reply);
        run.pending -= 1;
        let mut ready = Vec::new();
        for &d in &node.dependents {
            if let Some(n) = run.nodes[d].as_mut() {
                n.waiting -= 1;
                if n.waiting == 0 {
                    ready.push(d);
                }
            }
        }
        (ready, run.pending == 0)
    };
    for d in ready {
        launch(plan, d);
    }
    if finished {
        complete(plan);
    }
}

/// Builds the reply in op order and writes the PERSIST keys if every op succeeded.
fn complete(plan: &Arc<Plan>) {
    let (replies, failed_at, timed_out, slots, done) = {
        let mut run = plan.run.lock();
        (
            std::mem::take(&mut run.replies),
            run.failed_at,
            run.timed_out,
            std::mem::take(&mut run.slots),
            run.done.take(),
        )
    };
    let Some(done) = done else { return };
    if timed_out {
        return done(Reply::Simple("TIMEDOUT"));
    }
    if plan.control.as_ref().is_some_and(|c| !c.begin_commit()) {
        return done(Reply::Simple("CANCELLED"));
    }
    let mut out: Vec<Reply> = replies
        .into_iter()
        .enumerate()
        .map(|(i, r)| match (failed_at, r) {
            (Some(f), _) if i > f => Reply::Simple("NA"),
            (_, Some(Ok(r))) => r,
            (_, Some(Err(e))) if !e.is_empty() => Reply::Error(super::error_of(e)),
            _ => Reply::Simple("NA"),
        })
        .collect();
    if failed_at.is_none() && !plan.persist.is_empty() {
        let arena: HashMap<Bytes, Arc<Tensor>> = plan
            .persist
            .iter()
            .filter_map(|(k, s)| slots[*s].clone().map(|t| (k.clone(), t)))
            .collect();
        let keys: Vec<Bytes> = plan.persist.iter().map(|(k, _)| k.clone()).collect();
        if let Err(e) = super::dag_run::persist_all(&plan.shared, &arena, &keys) {
            out.push(Reply::Error(e));
        }
    }
    done(Reply::Array(out))
}
