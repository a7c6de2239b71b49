//! AI.TENSORSET: Stores a tensor.

use std::sync::Arc;

use bytes::Bytes;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Store;
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::tensor::{parse_tensorset, Tensor, TensorSetArgs};

pub fn tensorset(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    // RedisAI checks the key's type before parsing anything else.
    if ctx
        .store()
        .get(&key)
        .is_some_and(|v| !matches!(v, Value::Tensor(_)))
    {
        return Err(CmdError::WrongType);
    }
    ctx.unlock();
    let limits = TensorSetArgs {
        max_bytes: ctx
            .shared
            .hot
            .proto_max_bulk_len
            .load(std::sync::atomic::Ordering::Relaxed),
    };
    let tensor = Arc::new(parse_tensorset(args, limits)?);
    let effect = tensorset_effect(key.clone(), &tensor);
    // The type may have changed while the arguments were parsed without the lock; check again.
    if ctx
        .store()
        .get(&key)
        .is_some_and(|v| !matches!(v, Value::Tensor(_)))
    {
        return Err(CmdError::WrongType);
    }
    ctx.store().set(key.clone(), Value::Tensor(tensor));
    Ok(Outcome::new(Reply::OK)
        .effect(effect)
        .event(notify::MODULE, "ai.tensorset", key))
}

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
