//! DEBUG: Debugging hooks (SLEEP, EFFECTS, RELOAD, SET-ACTIVE-EXPIRE, SCRIPT-STATE).

use std::sync::atomic::Ordering;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn debug(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    let reply = if eq_ic(&sub, "SLEEP") {
        let secs = args.float()?;
        args.finish()?;
        // Like Redis, this blocks the thread serving this client on purpose; it holds no lock while asleep.
        ctx.unlock();
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
        Reply::OK
    } else if eq_ic(&sub, "EFFECTS") {
        let count = match args.next() {
            Some(n) => crate::util::parse_i64(&n)
                .filter(|n| *n >= 0)
                .ok_or(CmdError::NotInteger)? as usize,
            None => 10,
        };
        // Like a replica connecting, the first reader starts the backlog; it lists effects from then on.
        let log = &mut ctx.engine().effects;
        log.start_backlog();
        let (start, resp) = log.recent(count);
        let mut offset = start;
        let mut out = Vec::new();
        for argv in crate::effects::decode_commands(&resp) {
            offset += crate::effects::encoded_len(&argv) as u64;
            out.push(Reply::Array(vec![
                Reply::Int(offset as i64),
                Reply::bulks(argv),
            ]));
        }
        Reply::Array(out)
    } else if eq_ic(&sub, "RELOAD") {
        args.finish()?;
        if ctx.in_exec {
            return Err(CmdError::err(
                "DEBUG RELOAD is not allowed inside a transaction",
            ));
        }
        ctx.unlock();
        crate::persist::debug_reload(ctx.shared).map_err(super::save::persist_error)?;
        Reply::OK
    } else if eq_ic(&sub, "SET-ACTIVE-EXPIRE") {
        let on = args.int()?;
        ctx.shared.active_expire.store(on != 0, Ordering::Relaxed);
        Reply::OK
    } else if eq_ic(&sub, "SCRIPT-STATE") {
        // The cells and pools a script has touched: what a snapshot of it will capture.
        let key = args.bytes()?;
        args.finish()?;
        let now = ctx.now;
        let state = match ctx.db().get(&key, now).map(|e| &e.value) {
            Some(crate::keyspace::Value::Script(s)) => s.state.clone(),
            _ => return Err(CmdError::err("script key is empty")),
        };
        let pairs: Vec<Reply> = state
            .lock()
            .iter()
            .map(|(kind, name)| Reply::Array(vec![Reply::lit(kind), Reply::Bulk(name.clone())]))
            .collect();
        Reply::Array(pairs)
    } else if eq_ic(&sub, "HELP") {
        Reply::help(&[
            "DEBUG SLEEP <seconds>",
            "DEBUG EFFECTS [<count>]",
            "DEBUG RELOAD",
            "DEBUG SET-ACTIVE-EXPIRE <0|1>",
            "DEBUG SCRIPT-STATE <script-key>",
        ])
    } else {
        return Err(CmdError::UnknownSubcommand {
            sub: lossy(&sub),
            cmd: "DEBUG".into(),
        });
    };
    Ok(reply.into())
}
