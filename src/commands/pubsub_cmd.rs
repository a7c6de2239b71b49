//! Pub/sub: PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBSUB CHANNELS|NUMSUB|NUMPAT.
//!
//! (Un)subscribe confirmations are one frame per channel, as Redis sends them: the reply is
//! [`Reply::Many`], so they stay in order with the replies to pipelined commands around them.

use bytes::Bytes;

use super::{Ctx, Outcome};
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn publish(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (channel, msg) = (args.bytes()?, args.bytes()?);
    Ok(Reply::Int(ctx.shared.pubsub.publish(&channel, &msg) as i64).into())
}

fn confirm(ctx: &Ctx, out: &mut Vec<Reply>, kind: &'static str, name: Option<Bytes>) {
    let n = ctx.session.subscriptions() as i64;
    out.push(Reply::Push(vec![
        Reply::lit(kind),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(n),
    ]));
}

pub fn subscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut out = Vec::new();
    for ch in args.rest() {
        ctx.shared
            .pubsub
            .subscribe(ch.clone(), ctx.session.id(), ctx.session.sink.clone());
        ctx.session.channels.insert(ch.clone());
        confirm(ctx, &mut out, "subscribe", Some(ch));
    }
    ctx.session.sync_info();
    Ok(Reply::Many(out).into())
}

pub fn psubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut out = Vec::new();
    for p in args.rest() {
        ctx.shared
            .pubsub
            .psubscribe(p.clone(), ctx.session.id(), ctx.session.sink.clone());
        ctx.session.patterns.insert(p.clone());
        confirm(ctx, &mut out, "psubscribe", Some(p));
    }
    ctx.session.sync_info();
    Ok(Reply::Many(out).into())
}

pub fn unsubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut out = Vec::new();
    let mut names = args.rest();
    if names.is_empty() {
        names = ctx.session.channels.iter().cloned().collect();
        if names.is_empty() {
            confirm(ctx, &mut out, "unsubscribe", None);
        }
    }
    for ch in names {
        ctx.shared.pubsub.unsubscribe(&ch, ctx.session.id());
        ctx.session.channels.remove(&ch);
        confirm(ctx, &mut out, "unsubscribe", Some(ch));
    }
    ctx.session.sync_info();
    Ok(Reply::Many(out).into())
}

pub fn punsubscribe(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut out = Vec::new();
    let mut names = args.rest();
    if names.is_empty() {
        names = ctx.session.patterns.iter().cloned().collect();
        if names.is_empty() {
            confirm(ctx, &mut out, "punsubscribe", None);
        }
    }
    for p in names {
        ctx.shared.pubsub.punsubscribe(&p, ctx.session.id());
        ctx.session.patterns.remove(&p);
        confirm(ctx, &mut out, "punsubscribe", Some(p));
    }
    ctx.session.sync_info();
    Ok(Reply::Many(out).into())
}

/// Drops every subscription of this client without confirmations (RESET, disconnect).
pub fn unsubscribe_all(ctx: &mut Ctx) {
    let id = ctx.session.id();
    for ch in std::mem::take(&mut ctx.session.channels) {
        ctx.shared.pubsub.unsubscribe(&ch, id);
    }
    for p in std::mem::take(&mut ctx.session.patterns) {
        ctx.shared.pubsub.punsubscribe(&p, id);
    }
}

pub fn pubsub(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    let reply = if eq_ic(&sub, "CHANNELS") {
        let pattern = args.next();
        Reply::bulks(ctx.shared.pubsub.channel_names(pattern.as_deref()))
    } else if eq_ic(&sub, "NUMSUB") {
        let mut out = Vec::new();
        for ch in args.rest() {
            let n = ctx.shared.pubsub.numsub(&ch);
            out.push(Reply::Bulk(ch));
            out.push(Reply::Int(n as i64));
        }
        Reply::Array(out)
    } else if eq_ic(&sub, "NUMPAT") {
        Reply::Int(ctx.shared.pubsub.numpat() as i64)
    } else {
        return Err(CmdError::UnknownSubcommand {
            sub: lossy(&sub),
            cmd: "PUBSUB".into(),
        });
    };
    Ok(reply.into())
}
