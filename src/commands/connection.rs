//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET.

use bytes::Bytes;

use super::{multi, pubsub_cmd, Ctx, Outcome};
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::resp::Protocol;
use crate::util::eq_ic;

pub fn ping(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.remaining() > 1 {
        return Err(CmdError::Arity("ping".into()));
    }
    let msg = args.next();
    // A RESP2 client in subscribed mode gets the pub/sub shape, as Redis does.
    if ctx.session.protocol == Protocol::Resp2 && ctx.session.subscriptions() > 0 {
        let m = msg.unwrap_or_default();
        return Ok(Reply::Array(vec![Reply::lit("pong"), Reply::Bulk(m)]).into());
    }
    Ok(match msg {
        Some(m) => Reply::Bulk(m),
        None => Reply::Simple("PONG"),
    }
    .into())
}

pub fn echo(_ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    Ok(Reply::Bulk(args.bytes()?).into())
}

fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> CmdResult<()> {
    let required = ctx.shared.config.read().settings.requirepass.clone();
    if user != b"default" || required.as_bytes() != pass {
        return Err(CmdError::WrongPass);
    }
    Ok(())
}

pub fn auth(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.remaining() > 2 {
        return Err(CmdError::Syntax);
    }
    let first = args.bytes()?;
    let (user, pass) = match args.next() {
        Some(p) => (first, p),
        None => (Bytes::from_static(b"default"), first),
    };
    if ctx.shared.config.read().settings.requirepass.is_empty() && args.argv().len() == 2 {
        return Err(CmdError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    check_password(ctx, &user, &pass)?;
    ctx.session.authenticated = true;
    Ok(Reply::OK.into())
}

pub fn hello(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let mut proto = ctx.session.protocol;
    if let Some(v) = args.next() {
        proto = match crate::util::parse_i64(&v) {
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => return Err(CmdError::Raw("NOPROTO unsupported protocol version".into())),
            None => {
                return Err(CmdError::err(
                    "Protocol version is not an integer or out of range",
                ))
            }
        };
    }
    let mut setname = None;
    let mut authed = false;
    while let Some(opt) = args.next() {
        if eq_ic(&opt, "AUTH") && args.remaining() >= 2 {
            let (u, p) = (args.bytes()?, args.bytes()?);
            check_password(ctx, &u, &p)?;
            authed = true;
        } else if eq_ic(&opt, "SETNAME") && args.remaining() >= 1 {
            let name = args.bytes()?;
            super::client::check_name(&name)?;
            setname = Some(name);
        } else {
            return Err(CmdError::err(format!(
                "Syntax error in HELLO option '{}'",
                crate::util::lossy(&opt)
            )));
        }
    }
    let needs_auth = !ctx.shared.config.read().settings.requirepass.is_empty();
    if needs_auth && !ctx.session.authenticated && !authed {
        return Err(CmdError::Raw(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    if authed {
        ctx.session.authenticated = true;
    }
    if let Some(n) = setname {
        ctx.session.client.info.lock().name = Some(n);
    }
    ctx.session.protocol = proto;
    ctx.session.sync_info();
    let n = if proto == Protocol::Resp3 { 3 } else { 2 };
    Ok(Reply::Map(vec![
        (Reply::lit("server"), Reply::lit("redis")),
        (
            Reply::lit("version"),
            Reply::lit(crate::commands::info::REDIS_COMPAT_VERSION),
        ),
        (Reply::lit("proto"), Reply::Int(n)),
        (Reply::lit("id"), Reply::Int(ctx.session.id() as i64)),
        (Reply::lit("mode"), Reply::lit("standalone")),
        (Reply::lit("role"), Reply::lit("master")),
        (Reply::lit("modules"), Reply::Array(vec![])),
    ])
    .into())
}

pub fn select(_ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    match args.int() {
        Ok(0) => Ok(Reply::OK.into()),
        Ok(_) => Err(CmdError::err("DB index is out of range")),
        Err(_) => Err(CmdError::err("invalid DB index")),
    }
}

pub fn quit(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    ctx.session.close_after_reply = true;
    Ok(Reply::OK.into())
}

pub fn reset(ctx: &mut Ctx, _args: &mut Args) -> CmdResult<Outcome> {
    multi::clear_transaction(ctx);
    pubsub_cmd::unsubscribe_all(ctx);
    if ctx.session.monitor {
        let id = ctx.session.id();
        ctx.shared.monitors.lock().retain(|(m, _)| *m != id);
        ctx.shared
            .hot
            .monitors
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        ctx.session.monitor = false;
    }
    ctx.session.protocol = Protocol::Resp2;
    ctx.session.authenticated = ctx.shared.config.read().settings.requirepass.is_empty();
    ctx.session.client.info.lock().name = None;
    ctx.session.sync_info();
    Ok(Reply::Simple("RESET").into())
}
