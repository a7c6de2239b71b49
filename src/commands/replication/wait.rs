//! WAIT numreplicas timeout: blocks until that many replicas acknowledged every write the server had
//! applied when WAIT ran (so every earlier write of this client), or the timeout (ms, 0 = for ever) passes;
//! answers how many did.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};

pub fn wait(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let want = args.int()?;
    let timeout = args
        .int()
        .map_err(|_| CmdError::err("timeout is not an integer or out of range"))?;
    args.finish()?;
    if timeout < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let shared = ctx.shared;
    if crate::repl::of(shared).is_replica() {
        return Err(CmdError::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let target = ctx.engine().effects.repl_offset();
    // Inside EXEC it cannot block (Redis answers at once there too).
    let may_block = !ctx.in_exec;
    ctx.unlock();
    Ok(crate::repl::wait(
        shared,
        target,
        want.max(0) as usize,
        timeout as u64,
        may_block,
    ))
}
