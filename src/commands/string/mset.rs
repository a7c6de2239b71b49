//! MSET: Sets several keys.

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::{own, Value};
use crate::reply::Reply;

pub fn mset(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let pairs = args.rest();
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Arity("mset".into()));
    }
    let mut effect = vec![word("MSET")];
    let mut out = Outcome::new(Reply::OK);
    for kv in pairs.chunks(2) {
        let (k, v) = (kv[0].clone(), own(kv[1].clone()));
        ctx.db().set(k.clone(), Value::Str(v.clone()), None);
        effect.extend([k.clone(), v]);
        out = out.event(notify::STRING, "set", k);
    }
    Ok(out.effect(effect))
}
