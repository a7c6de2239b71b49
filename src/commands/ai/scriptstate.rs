//! AI._SCRIPTSTATE: Sets the list of cells and pools a script's snapshots cover (an effect).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Store;
use crate::keyspace::Value;
use crate::reply::Reply;

/// `AI._SCRIPTSTATE key [cell|pool name] ...`: a script's state is recorded in memory as it runs; this is
/// the effect that carries it to the AOF and replicas (which never run the script), emitted when the list
/// grows. Not meant for clients, though harmless: it only changes what `AI.SNAPSHOT` captures.
pub fn scriptstate(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = args.bytes()?;
    let rest = args.rest();
    if !rest.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut list = Vec::new();
    for pair in rest.chunks(2) {
        let kind = crate::script::state_kind(&pair[0]).ok_or(CmdError::Syntax)?;
        list.push((kind, crate::keyspace::own(pair[1].clone())));
    }
    let script = match ctx.store().get(&key) {
        Some(Value::Script(s)) => s.clone(),
        Some(_) => return Err(CmdError::WrongType),
        None => return Err(CmdError::err("script key is empty")),
    };
    let effect = super::state_effect(key, &script);
    let mut state = script.state.lock();
    state.clear();
    state.extend(list);
    drop(state);
    Ok(Outcome::new(Reply::OK).effect(effect))
}
