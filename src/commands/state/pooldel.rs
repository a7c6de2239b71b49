//! AI.POOLDEL: Removes fields from a pool.

use std::sync::Arc;

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::keyspace::Value;
use crate::reply::Reply;

/// `AI.POOLDEL pool field [field ...]`: replies how many were removed; a pool left empty is deleted (as a
/// Redis hash). Propagates only the fields actually removed.
pub fn pooldel(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let fields = args.rest();
    let Some(mut pool) = super::pool_at(ctx, &key)? else {
        return Ok(Reply::Int(0).into());
    };
    if !fields.iter().any(|f| pool.fields.contains_key(&f[..])) {
        return Ok(Reply::Int(0).into());
    }
    let now = ctx.now;
    let db = ctx.db();
    let expire_at = db.get(&key, now).and_then(|e| e.expire_at);
    db.remove(&key);
    let mut effect = vec![word("AI.POOLDEL"), key.clone()];
    let mut removed = 0;
    {
        let p = Arc::make_mut(&mut pool);
        for f in fields {
            if p.remove(&f) {
                removed += 1;
                effect.push(f);
            }
        }
    }
    let mut out = Outcome::new(Reply::Int(removed)).effect(effect).event(
        notify::MODULE,
        "ai.pooldel",
        key.clone(),
    );
    if pool.fields.is_empty() {
        out = out.event(notify::GENERIC, "del", key);
    } else {
        db.set(key, Value::Pool(pool), expire_at);
    }
    Ok(out)
}
