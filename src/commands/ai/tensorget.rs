//! AI.TENSORGET: Returns a tensor's metadata, blob or values.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Store;
use crate::keyspace::Value;
use crate::tensor::{tensor_reply, TensorFormat};

pub fn tensorget(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.argv().len() > 4 {
        return Err(CmdError::Arity(args.name()));
    }
    let key = args.bytes()?;
    let tensor = match ctx.store().get(&key) {
        None => return Err(CmdError::err("tensor key is empty or in a different shard")),
        Some(Value::Tensor(t)) => t.clone(),
        Some(_) => return Err(CmdError::WrongType),
    };
    // The reply is built from the Arc without the lock: a big VALUES reply never stalls other clients.
    ctx.unlock();
    let format = TensorFormat::parse(&args.rest())?;
    Ok(tensor_reply(&tensor, format).into())
}
