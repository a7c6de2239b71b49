//! SETNX: Sets a key only if it does not exist.

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::keyspace::{own, Value};
use crate::reply::Reply;

pub fn setnx(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (key, value) = (args.bytes()?, args.bytes()?);
    let now = ctx.now;
    if ctx.db().exists(&key, now) {
        return Ok(Reply::Int(0).into());
    }
    let value = own(value);
    ctx.db().set(key.clone(), Value::Str(value.clone()), None);
    Ok(Outcome::new(Reply::Int(1))
        .effect(vec![word("SET"), key.clone(), value])
        .event(notify::STRING, "set", key))
}
