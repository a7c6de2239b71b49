//! AI.MODELDEL: Deletes a model.

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::keyspace::Store;
use crate::reply::Reply;

/// Deletes the key (its run statistics go with it). Runs already queued finish with the model they hold.
pub fn modeldel(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    super::model_at(ctx, &key)?;
    ctx.store().remove(&key);
    Ok(Outcome::new(Reply::OK)
        .effect(vec![word("DEL"), key.clone()])
        .event(notify::MODULE, "ai.modeldel", key))
}
