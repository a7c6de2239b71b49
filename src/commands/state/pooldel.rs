//! AI.POOLDEL: Removes fields from a pool.

use std::sync::Arc;

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::keyspace::{Store, Value};
use crate::reply::Reply;

/// `AI.POOLDEL pool field [field ...]`: replies how many were removed; a pool left empty is deleted (as a
/// Redis hash). Propagates only the fields actually removed.
pub fn pooldel(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let fields = args.rest();
    let Some(pool) = super::pool_at(ctx, &key)? else {
        return Ok(Reply::Int(0).into());
    };
    if !fields.iter().any(|f| pool.fields.contains_key(&f[..])) {
        return Ok(Reply::Int(0).into());
    }
    // Only the keyspace's reference stays, so the pool changes in place.
    drop(pool);
    let mut effect = vec![word("AI.POOLDEL"), key.clone()];
    let (mut removed, mut emptied) = (0, false);
    ctx.store().modify(&key, &mut |v| {
        let Value::Pool(mut pool) = v else {
            return Some(v);
        };
        let p = Arc::make_mut(&mut pool);
        for f in &fields {
            if p.remove(f) {
                removed += 1;
                effect.push(f.clone());
            }
        }
        emptied = pool.fields.is_empty();
        (!emptied).then_some(Value::Pool(pool))
    });
    let mut out = Outcome::new(Reply::Int(removed)).effect(effect).event(
        notify::MODULE,
        "ai.pooldel",
        key.clone(),
    );
    if emptied {
        out = out.event(notify::GENERIC, "del", key);
    }
    Ok(out)
}
