//! CLIENT: Inspects and manages client connections (ID, SETNAME, GETNAME, SETINFO, LIST, INFO, KILL).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn client(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    let sub_l = lossy(&sub).to_ascii_lowercase();
    let arity = |ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(CmdError::Arity(format!("client|{sub_l}")))
        }
    };
    let reply = match sub_l.as_str() {
        "id" => {
            arity(args.remaining() == 0)?;
            Reply::Int(ctx.session.id() as i64)
        }
        "setname" => {
            arity(args.remaining() == 1)?;
            let name = args.bytes()?;
            check_name(&name)?;
            ctx.session.client.info.lock().name = if name.is_empty() { None } else { Some(name) };
            Reply::OK
        }
        "getname" => {
            arity(args.remaining() == 0)?;
            match ctx.session.client.info.lock().name.clone() {
                Some(n) => Reply::Bulk(n),
                None => Reply::Nil,
            }
        }
        "setinfo" => {
            arity(args.remaining() == 2)?;
            let (attr, value) = (args.bytes()?, args.bytes()?);
            check_name(&value).map_err(|_| {
                CmdError::err(format!(
                    "{} cannot contain spaces, newlines or special characters.",
                    lossy(&attr)
                ))
            })?;
            let mut info = ctx.session.client.info.lock();
            if eq_ic(&attr, "LIB-NAME") {
                info.lib_name = Some(value);
            } else if eq_ic(&attr, "LIB-VER") {
                info.lib_ver = Some(value);
            } else {
                return Err(CmdError::err(format!(
                    "Unrecognized option '{}'",
                    lossy(&attr)
                )));
            }
            Reply::OK
        }
        "info" => {
            arity(args.remaining() == 0)?;
            Reply::Verbatim(format!("{}\n", ctx.session.client.line()))
        }
        "list" => {
            let mut ids: Option<Vec<u64>> = None;
            while let Some(opt) = args.next() {
                if eq_ic(&opt, "TYPE") {
                    let t = args.text()?.to_ascii_lowercase();
                    if !["normal", "pubsub", "master", "replica", "slave"].contains(&t.as_str()) {
                        return Err(CmdError::err(format!("Unknown client type '{t}'")));
                    }
                    let all = ctx.shared.clients.all();
                    let keep = all.iter().filter(|c| c.kind() == t).map(|c| c.id).collect();
                    ids = Some(keep);
                } else if eq_ic(&opt, "ID") {
                    let mut v = Vec::new();
                    while let Some(a) = args.next() {
                        // Any integer is a valid filter; ids start at 1, so 0 or less matches nobody.
                        match crate::util::parse_i64(&a) {
                            Some(n) => v.push(n.max(0) as u64),
                            None => return Err(CmdError::err("Invalid client ID")),
                        }
                    }
                    if v.is_empty() {
                        return Err(CmdError::Syntax);
                    }
                    ids = Some(v);
                } else {
                    return Err(CmdError::Syntax);
                }
            }
            let mut out = String::new();
            for c in ctx.shared.clients.all() {
                if ids.as_ref().is_none_or(|v| v.contains(&c.id)) {
                    out.push_str(&c.line());
                    out.push('\n');
                }
            }
            Reply::Verbatim(out)
        }
        "kill" => kill(ctx, args)?,
        "help" => Reply::help(&[
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ID",
            "SETNAME <name>",
            "GETNAME",
            "SETINFO <LIB-NAME|LIB-VER> <value>",
            "LIST [TYPE normal|pubsub] [ID id ...]",
            "INFO",
            "KILL <ip:port> | KILL [ID id] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no]",
        ]),
        _ => {
            return Err(CmdError::UnknownSubcommand {
                sub: lossy(&sub),
                cmd: "CLIENT".into(),
            })
        }
    };
    ctx.session.sync_info();
    Ok(reply.into())
}

/// Client names may not contain spaces, newlines or other special characters (Redis's rule).
pub fn check_name(name: &[u8]) -> CmdResult<()> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn kill(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Reply> {
    // Old form: CLIENT KILL ip:port -> OK or an error.
    if args.remaining() == 1 {
        let addr = args.text()?;
        let target = ctx
            .shared
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr == addr);
        return match target {
            Some(c) => {
                kill_one(ctx, &c);
                Ok(Reply::OK)
            }
            None => Err(CmdError::err("No such client")),
        };
    }
    let (mut id, mut addr, mut laddr, mut skipme) = (None, None, None, true);
    let mut kind: Option<String> = None;
    while let Some(opt) = args.next() {
        let Some(val) = args.next() else {
            return Err(CmdError::Syntax);
        };
        if eq_ic(&opt, "ID") {
            id = Some(
                crate::util::parse_i64(&val)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| CmdError::err("client-id should be greater than 0"))?
                    as u64,
            );
        } else if eq_ic(&opt, "ADDR") {
            addr = Some(lossy(&val));
        } else if eq_ic(&opt, "LADDR") {
            laddr = Some(lossy(&val));
        } else if eq_ic(&opt, "SKIPME") {
            skipme = if eq_ic(&val, "yes") {
                true
            } else if eq_ic(&val, "no") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else if eq_ic(&opt, "USER") {
            // Every connection is the `default` user (there are no ACL users yet).
            if val.as_ref() != b"default" {
                return Err(CmdError::err(format!("No such user '{}'", lossy(&val))));
            }
        } else if eq_ic(&opt, "TYPE") {
            let t = lossy(&val).to_ascii_lowercase();
            if !["normal", "pubsub", "master", "replica", "slave"].contains(&t.as_str()) {
                return Err(CmdError::err(format!(
                    "Unknown client type '{}'",
                    lossy(&val)
                )));
            }
            kind = Some(t);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let me = ctx.session.id();
    let mut n = 0;
    for c in ctx.shared.clients.all() {
        if id.is_some_and(|i| i != c.id)
            || addr.as_ref().is_some_and(|a| *a != c.addr)
            || laddr.as_ref().is_some_and(|a| *a != c.laddr)
            || (skipme && c.id == me)
            || kind.as_deref().is_some_and(|k| k != c.kind())
        {
            continue;
        }
        kill_one(ctx, &c);
        n += 1;
    }
    Ok(Reply::Int(n))
}

fn kill_one(ctx: &mut Ctx, c: &crate::clients::ClientHandle) {
    if c.id == ctx.session.id() {
        // Killing yourself: the reply is still sent, then the connection closes.
        ctx.session.close_after_reply = true;
    } else {
        c.kill();
    }
}
