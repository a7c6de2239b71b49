//! AI.TENSORSET and AI.TENSORGET, with RedisAI's argument order, checks and error texts.

use std::sync::Arc;

use bytes::Bytes;

use super::{Ctx, Outcome};
use crate::args::Args;
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::tensor::{parse_tensorset, tensor_reply, Tensor, TensorFormat, TensorSetArgs};
use crate::util::eq_ic;

/// The effect that recreates a tensor: `AI.TENSORSET key TYPE dims... BLOB data` (what RedisAI's AOF
/// rewrite emits, and what model and DAG outputs will propagate as).
pub fn tensorset_effect(key: Bytes, t: &Tensor) -> Vec<Bytes> {
    let mut argv = Vec::with_capacity(t.shape.len() + 5);
    argv.push(Bytes::from_static(b"AI.TENSORSET"));
    argv.push(key);
    argv.push(Bytes::from_static(t.dtype.name().as_bytes()));
    argv.extend(t.shape.iter().map(|d| Bytes::from(d.to_string())));
    argv.push(Bytes::from_static(b"BLOB"));
    argv.push(t.data.clone());
    argv
}

pub fn tensorset(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let now = ctx.now;
    // RedisAI checks the key's type before parsing anything else.
    if ctx
        .db()
        .get(&key, now)
        .is_some_and(|e| !matches!(e.value, Value::Tensor(_)))
    {
        return Err(CmdError::WrongType);
    }
    ctx.unlock();
    let limits = TensorSetArgs {
        max_bytes: ctx.shared.config.read().settings.proto_max_bulk_len,
    };
    let tensor = Arc::new(parse_tensorset(args, limits)?);
    let effect = tensorset_effect(key.clone(), &tensor);
    // The type may have changed while the arguments were parsed without the lock; check again.
    if ctx
        .db()
        .get(&key, now)
        .is_some_and(|e| !matches!(e.value, Value::Tensor(_)))
    {
        return Err(CmdError::WrongType);
    }
    ctx.db().set(key.clone(), Value::Tensor(tensor), None);
    Ok(Outcome::new(Reply::OK)
        .effect(effect)
        .event(notify::MODULE, "ai.tensorset", key))
}

pub fn tensorget(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.argv().len() > 4 {
        return Err(CmdError::Arity(args.name()));
    }
    let key = args.bytes()?;
    let now = ctx.now;
    let tensor = match ctx.db().get(&key, now).map(|e| &e.value) {
        None => return Err(CmdError::err("tensor key is empty or in a different shard")),
        Some(Value::Tensor(t)) => t.clone(),
        Some(_) => return Err(CmdError::WrongType),
    };
    // The reply is built from the Arc without the lock: a big VALUES reply never stalls other clients.
    ctx.unlock();
    let mut format = TensorFormat::default();
    for a in args.rest() {
        if eq_ic(&a, "META") {
            format.meta = true;
        } else if eq_ic(&a, "BLOB") {
            format.blob = true;
        } else if eq_ic(&a, "VALUES") {
            format.values = true;
        } else {
            return Err(CmdError::err("unsupported data format"));
        }
    }
    if format.blob && format.values {
        return Err(CmdError::err("both BLOB and VALUES specified"));
    }
    Ok(tensor_reply(&tensor, format).into())
}
