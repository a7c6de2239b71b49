//! Server commands: DBSIZE, FLUSHALL/FLUSHDB, TIME, SHUTDOWN, SLOWLOG, MONITOR.

use bytes::Bytes;

use super::{Ctx, Outcome};
use crate::args::Args;
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::shared::ShutdownMode;
use crate::util::{eq_ic, lossy};

pub fn dbsize(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    Ok(Reply::Int(ctx.db().len() as i64).into())
}

/// FLUSHALL and FLUSHDB [SYNC|ASYNC]: there is one database, so both empty it. Values are freed after the
/// lock is released either way, so ASYNC and SYNC differ only in name.
pub fn flushall(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if let Some(mode) = args.next() {
        if !(eq_ic(&mode, "SYNC") || eq_ic(&mode, "ASYNC")) {
            return Err(CmdError::Syntax);
        }
    }
    args.finish()?;
    ctx.db().clear();
    Ok(Outcome::new(Reply::OK)
        .effect(vec![Bytes::from_static(b"FLUSHALL")])
        .event(notify::GENERIC, "flushdb", Bytes::new()))
}

pub fn time(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    let _ = ctx;
    let us = crate::util::now_us();
    Ok(Reply::Array(vec![
        Reply::text((us / 1_000_000).to_string()),
        Reply::text((us % 1_000_000).to_string()),
    ])
    .into())
}

pub fn shutdown(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut mode = ShutdownMode::Default;
    while let Some(opt) = args.next() {
        if eq_ic(&opt, "NOSAVE") {
            mode = ShutdownMode::NoSave;
        } else if eq_ic(&opt, "SAVE") {
            mode = ShutdownMode::Save;
        } else if eq_ic(&opt, "NOW") || eq_ic(&opt, "FORCE") {
            // Nothing to wait for or to fail on: there are no replicas or persistence yet.
        } else if eq_ic(&opt, "ABORT") {
            return Err(CmdError::err("No shutdown in progress."));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if mode == ShutdownMode::Save {
        // Persistence arrives with its own issue; refusing is honest, pretending to save is not.
        return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    if !ctx.shared.request_shutdown(mode) {
        return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
    }
    // Redis closes the connection without a reply when shutdown goes ahead.
    ctx.session.suppress_reply = true;
    ctx.session.close_after_reply = true;
    Ok(Outcome::default())
}

pub fn slowlog(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    let reply = if eq_ic(&sub, "GET") {
        let count = match args.next() {
            None => 10,
            Some(n) => match crate::util::parse_i64(&n) {
                Some(-1) => usize::MAX,
                Some(n) if n >= 0 => n as usize,
                _ => return Err(CmdError::err("count should be greater than or equal to -1")),
            },
        };
        ctx.shared.slowlog.lock().reply(count)
    } else if eq_ic(&sub, "LEN") {
        Reply::Int(ctx.shared.slowlog.lock().len() as i64)
    } else if eq_ic(&sub, "RESET") {
        ctx.shared.slowlog.lock().reset();
        Reply::OK
    } else if eq_ic(&sub, "HELP") {
        Reply::Array(
            ["SLOWLOG GET [<count>]", "SLOWLOG LEN", "SLOWLOG RESET"]
                .iter()
                .map(|s| Reply::Status((*s).into()))
                .collect(),
        )
    } else {
        return Err(CmdError::UnknownSubcommand {
            sub: lossy(&sub),
            cmd: "SLOWLOG".into(),
        });
    };
    Ok(reply.into())
}

pub fn monitor(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    if !ctx.session.monitor {
        ctx.session.monitor = true;
        ctx.shared
            .monitors
            .lock()
            .push((ctx.session.id(), ctx.session.sink.clone()));
        ctx.shared
            .hot
            .monitors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.session.sync_info();
    }
    Ok(Reply::OK.into())
}
