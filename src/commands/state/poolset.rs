//! AI.POOLSET: Sets fields of a pool.

use std::sync::Arc;

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::{own, Value};
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
    let current = super::pool_at(ctx, &key)?;
    let now = ctx.now;
    let db = ctx.db();
    let expire_at = db.get(&key, now).and_then(|e| e.expire_at);
    let mut pool = current.unwrap_or_else(|| Arc::new(Pool::default()));
    // Drop the keyspace's reference first so the update happens in place unless a reader still holds it.
    db.remove(&key);
    let mut effect = vec![word("AI.POOLSET"), key.clone()];
    let mut added = 0;
    {
        let p = Arc::make_mut(&mut pool);
        for (field, value) in values {
            effect.push(field.clone());
            effect.push(text(&value));
            added += i64::from(p.set(field, value));
        }
    }
    db.set(key.clone(), Value::Pool(pool), expire_at);
    Ok(Outcome::new(Reply::Int(added))
        .effect(effect)
        .event(notify::MODULE, "ai.poolset", key))
}
