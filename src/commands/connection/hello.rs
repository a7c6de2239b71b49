//! HELLO: Handshakes with the server, optionally switching protocol and authenticating.

use super::check_password;
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::resp::Protocol;
use crate::util::eq_ic;

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
        // As CLIENT SETNAME: an empty name clears it.
        ctx.session.client.info.lock().name = if n.is_empty() { None } else { Some(n) };
    }
    ctx.session.protocol = proto;
    ctx.session.sync_info();
    let n = if proto == Protocol::Resp3 { 3 } else { 2 };
    Ok(Reply::Map(vec![
        (Reply::lit("server"), Reply::lit("redis")),
        (
            Reply::lit("version"),
            Reply::lit(crate::commands::server::REDIS_COMPAT_VERSION),
        ),
        (Reply::lit("proto"), Reply::Int(n)),
        (Reply::lit("id"), Reply::Int(ctx.session.id() as i64)),
        (Reply::lit("mode"), Reply::lit("standalone")),
        (Reply::lit("role"), Reply::lit("master")),
        (Reply::lit("modules"), Reply::Array(vec![])),
    ])
    .into())
}
