//! AI.INFO: Returns (or resets) a model's or a script's run statistics.

use std::sync::atomic::Ordering::Relaxed;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Store;
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::util::eq_ic;

/// `AI.INFO key [RESETSTAT]`: RedisAI's 18-element list (key, type, backend, device, tag, duration in
/// microseconds, samples, calls, errors); scripts report backend PYTHON and samples -1. Any third argument
/// other than RESETSTAT is ignored.
pub fn info(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.argv().len() > 3 {
        return Err(CmdError::Arity(args.name()));
    }
    let key = args.bytes()?;
    // (type, backend, device, tag, stats, whether samples are counted)
    let (kind, backend, device, tag, holder): (_, _, _, _, Holder) = match ctx.store().get(&key) {
        Some(Value::Model(m)) => (
            "MODEL",
            m.backend.name(),
            m.device.clone(),
            m.tag.clone(),
            Holder::Model(m.clone()),
        ),
        Some(Value::Script(sc)) => (
            "SCRIPT",
            sc.language().name(),
            sc.device.clone(),
            sc.tag.clone(),
            Holder::Script(sc.clone()),
        ),
        _ => return Err(CmdError::err("cannot find run info for key")),
    };
    ctx.unlock();
    let s = holder.stats();
    if args.next().is_some_and(|a| eq_ic(&a, "RESETSTAT")) {
        s.reset();
        if let Holder::Script(sc) = &holder {
            // `calls / requests` says what batching saved: both start over.
            sc.runners.stats().requests.store(0, Relaxed);
        }
        return Ok(Reply::OK.into());
    }
    let n = |c: &std::sync::atomic::AtomicU64| Reply::Int(c.load(Relaxed) as i64);
    // RedisAI counts no samples for scripts.
    let samples = match holder {
        Holder::Model(_) => n(&s.samples),
        Holder::Script(_) => Reply::Int(-1),
    };
    let mut fields = vec![
        Reply::lit("key"),
        Reply::Bulk(key),
        Reply::lit("type"),
        Reply::lit(kind),
        Reply::lit("backend"),
        Reply::lit(backend),
        Reply::lit("device"),
        Reply::Bulk(device),
        Reply::lit("tag"),
        Reply::Bulk(tag),
        Reply::lit("duration"),
        n(&s.duration_us),
        Reply::lit("samples"),
        samples,
        Reply::lit("calls"),
        n(&s.calls),
        Reply::lit("errors"),
        n(&s.errors),
    ];
    if let Holder::Model(m) = &holder {
        // Beyond RedisAI's reply: which runtime runs it (tract or onnxruntime).
        fields.extend([Reply::lit("runtime"), Reply::lit(m.runtime().name())]);
    }
    if let Holder::Script(sc) = &holder {
        // Beyond RedisAI's reply: the script's runners (docs/runners.md).
        let r = sc.runners.summary();
        let int = |v: u64| Reply::Int(v as i64);
        fields.extend([
            Reply::lit("runners"),
            int(r.runners),
            Reply::lit("runners_alive"),
            int(r.alive),
            Reply::lit("runners_busy"),
            int(r.busy),
            Reply::lit("restarts"),
            int(r.restarts),
            Reply::lit("timeouts"),
            int(r.timeouts),
            Reply::lit("kills"),
            int(r.kills),
            Reply::lit("requests"),
            int(r.requests),
        ]);
    }
    Ok(Reply::Array(fields).into())
}

/// What AI.INFO reports on: a model or a script (both keep their statistics with them).
enum Holder {
    Model(std::sync::Arc<crate::model::Model>),
    Script(std::sync::Arc<crate::script::Script>),
}

impl Holder {
    fn stats(&self) -> &crate::model::RunStats {
        match self {
            Holder::Model(m) => &m.stats,
            Holder::Script(s) => &s.stats,
        }
    }
}
