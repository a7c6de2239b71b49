//! AI.POOLSET: Sets fields of a pool.

use std::sync::Arc;

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::{own, Store, Value};
use crate::reply::Reply;
use crate::state::{text, Pool};

/// `AI.POOLSET pool field json [field json ...]`: every value is checked before any is written; replies
/// the number of fields added (as HSET). The pool keeps its TTL.
pub fn poolset(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Arity(args.name()));
    }
    let mut values = Vec::with_capacity(pairs.len() / 2);
    for kv in pairs.chunks(2) {
        values.push((own(kv[0].clone()), super::json_arg(&kv[1])?));
    }
    let exists = super::pool_at(ctx, &key)?.is_some();
    let mut effect = vec![word("AI.POOLSET"), key.clone()];
    let mut added = 0;
    let mut update = |mut pool: Arc<Pool>| {
        let p = Arc::make_mut(&mut pool);
        for (field, value) in values.drain(..) {
            effect.push(field.clone());
            effect.push(text(&value));
            added += i64::from(p.set(field, value));
        }
        Value::Pool(pool)
    };
    if exists {
        // Taken out of the keyspace first, so the pool changes in place unless a reader still holds it.
        ctx.store().modify(&key, &mut |v| match v {
            Value::Pool(pool) => Some(update(pool)),
            other => Some(other),
        });
    } else {
        let pool = update(Arc::new(Pool::default()));
        ctx.store().set(key.clone(), pool);
    }
    Ok(Outcome::new(Reply::Int(added))
        .effect(effect)
        .event(notify::MODULE, "ai.poolset", key))
}
