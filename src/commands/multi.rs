//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. EXEC holds the engine lock across every queued
//! command, so no other client sees the transaction half done; its effects reach the stream wrapped in
//! MULTI/EXEC.

use bytes::Bytes;

use super::{dispatch, Ctx, Outcome};
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;

pub fn multi(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    if ctx.session.multi.is_some() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    ctx.session.multi = Some(Vec::new());
    ctx.session.multi_failed = false;
    ctx.session.sync_info();
    Ok(Reply::OK.into())
}

/// Forgets the queue and every WATCH (DISCARD, EXEC, RESET).
pub fn clear_transaction(ctx: &mut Ctx) {
    ctx.session.multi = None;
    ctx.session.multi_failed = false;
    let watches = std::mem::take(&mut ctx.session.watches);
    if !watches.is_empty() {
        let db = ctx.db();
        for w in &watches {
            db.unwatch(&w.key);
        }
    }
    ctx.session.sync_info();
}

pub fn exec(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    let Some(queue) = ctx.session.multi.take() else {
        return Err(CmdError::err("EXEC without MULTI"));
    };
    let failed = ctx.session.multi_failed;
    let watches = ctx.session.watches.clone();
    let now = ctx.now;
    let broken = watches.iter().any(|w| ctx.db().watch_broken(w, now));
    clear_transaction(ctx);
    if failed {
        return Err(CmdError::ExecAbort);
    }
    if broken {
        return Ok(Reply::NilArray.into());
    }
    ctx.in_exec = true;
    ctx.engine();
    let mut replies = Vec::with_capacity(queue.len());
    for (spec, args) in queue {
        replies.push(dispatch::call(ctx, spec, args).unwrap_or(Reply::Nil));
    }
    if ctx.exec_wrapped {
        ctx.engine()
            .effects
            .append(vec![Bytes::from_static(b"EXEC")]);
    }
    ctx.in_exec = false;
    ctx.exec_wrapped = false;
    Ok(Reply::Array(replies).into())
}

pub fn discard(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    if ctx.session.multi.is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    clear_transaction(ctx);
    Ok(Reply::OK.into())
}

pub fn watch(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let now = ctx.now;
    for key in args.rest() {
        if ctx.session.watches.iter().any(|w| w.key == key) {
            continue;
        }
        let mark = ctx.db().watch(key, now);
        ctx.session.watches.push(mark);
    }
    Ok(Reply::OK.into())
}

pub fn unwatch(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    let watches = std::mem::take(&mut ctx.session.watches);
    let db = ctx.db();
    for w in &watches {
        db.unwatch(&w.key);
    }
    Ok(Reply::OK.into())
}
