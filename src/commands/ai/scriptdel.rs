//! AI.SCRIPTDEL: Deletes a script.

use crate::args::Args;
use crate::commands::{word, Ctx, Outcome};
use crate::config::notify;
use crate::error::CmdResult;
use crate::keyspace::Store;
use crate::reply::Reply;

/// Deletes the key and its run statistics. Propagates `DEL key`.
pub fn scriptdel(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    super::script_at(ctx, &key)?;
    ctx.store().remove(&key);
    Ok(Outcome::new(Reply::OK)
        .effect(vec![word("DEL"), key.clone()])
        .event(notify::MODULE, "ai.scriptdel", key))
}
