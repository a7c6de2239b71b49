//! AI.INFO: Returns (or resets) a model's run statistics.

use std::sync::atomic::Ordering::Relaxed;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::util::eq_ic;

/// `AI.INFO key [RESETSTAT]`: RedisAI's 18-element list (key, type, backend, device, tag, duration in
/// microseconds, samples, calls, errors). Any third argument other than RESETSTAT is ignored.
pub fn info(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.argv().len() > 3 {
        return Err(CmdError::Arity(args.name()));
    }
    let key = args.bytes()?;
    let now = ctx.now;
    let model = match ctx.db().get(&key, now).map(|e| &e.value) {
        Some(Value::Model(m)) => m.clone(),
        _ => return Err(CmdError::err("cannot find run info for key")),
    };
    ctx.unlock();
    if args.next().is_some_and(|a| eq_ic(&a, "RESETSTAT")) {
        model.stats.reset();
        return Ok(Reply::OK.into());
    }
    let s = &model.stats;
    let n = |c: &std::sync::atomic::AtomicU64| Reply::Int(c.load(Relaxed) as i64);
    Ok(Reply::Array(vec![
        Reply::lit("key"),
        Reply::Bulk(key),
        Reply::lit("type"),
        Reply::lit("MODEL"),
        Reply::lit("backend"),
        Reply::lit(model.backend.name()),
        Reply::lit("device"),
        Reply::Bulk(model.device.clone()),
        Reply::lit("tag"),
        Reply::Bulk(model.tag.clone()),
        Reply::lit("duration"),
        n(&s.duration_us),
        Reply::lit("samples"),
        n(&s.samples),
        Reply::lit("calls"),
        n(&s.calls),
        Reply::lit("errors"),
        n(&s.errors),
    ])
    .into())
}
