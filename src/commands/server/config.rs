//! CONFIG: Reads or changes configuration (GET, SET, RESETSTAT, REWRITE).

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::config::ConfigError;
use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn config(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    let reply = if eq_ic(&sub, "GET") {
        let patterns: Vec<String> = args.rest().iter().map(|b| lossy(b)).collect();
        if patterns.is_empty() {
            return Err(CmdError::Arity("config|get".into()));
        }
        let cfg = ctx.shared.config.read();
        let mut pairs: Vec<(String, String)> = Vec::new();
        // As Redis: a plain name is echoed as the client typed it, a pattern reports canonical names; each
        // directive once.
        for p in &patterns {
            let found: Vec<(String, String)> = if p.contains(['*', '?', '[']) {
                cfg.matching(std::slice::from_ref(p))
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v))
                    .collect()
            } else {
                cfg.get(p)
                    .map(|v| (p.clone(), v.to_string()))
                    .into_iter()
                    .collect()
            };
            for (n, v) in found {
                if !pairs.iter().any(|(m, _)| m.eq_ignore_ascii_case(&n)) {
                    pairs.push((n, v));
                }
            }
        }
        // `port 0` binds a free port: report the real one, which is what a client wants to know.
        for (name, value) in &mut pairs {
            if name.eq_ignore_ascii_case("port") {
                *value = ctx.shared.bound_port().to_string();
            }
        }
        Reply::Map(
            pairs
                .into_iter()
                .map(|(n, v)| (Reply::text(n), Reply::text(v)))
                .collect(),
        )
    } else if eq_ic(&sub, "SET") {
        let pairs = args.rest();
        if pairs.len() < 2 {
            return Err(CmdError::Arity("config|set".into()));
        }
        if !pairs.len().is_multiple_of(2) {
            return Err(CmdError::Syntax);
        }
        // All or nothing: apply to a copy, swap it in only if every pair is valid.
        let mut next = ctx.shared.config.read().clone();
        let mut seen: Vec<&'static str> = Vec::new();
        for kv in pairs.chunks(2) {
            let (name, value) = (lossy(&kv[0]), lossy(&kv[1]));
            if let Some(d) = crate::config::directive(&name) {
                if seen.contains(&d.name) {
                    return Err(CmdError::err(format!(
                        "CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
                    )));
                }
                seen.push(d.name);
            }
            next.set(&name, &value).map_err(|e| match e {
                ConfigError::Unknown(_) => CmdError::err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                )),
                other => CmdError::err(format!(
                    "CONFIG SET failed (possibly related to argument '{name}') - {other}"
                )),
            })?;
        }
        if seen.contains(&"dir") && !std::path::Path::new(&next.settings.dir).is_dir() {
            // Redis chdirs there and refuses a directory it cannot enter.
            return Err(CmdError::err(
                "CONFIG SET failed (possibly related to argument 'dir') - No such file or directory",
            ));
        }
        let backlog = next.settings.repl_backlog;
        let (aof_on, fsync) = (next.settings.appendonly, next.settings.appendfsync.clone());
        let was_on = ctx.shared.settings().appendonly;
        if aof_on != was_on && ctx.in_exec {
            // A new AOF would start, or the old one end, inside this transaction's MULTI ... EXEC.
            return Err(CmdError::err(
                "CONFIG SET appendonly is not allowed inside a transaction",
            ));
        }
        if aof_on != was_on {
            // Through the command's own lock: inside EXEC it is already held.
            let shared = ctx.shared;
            crate::persist::set_appendonly(shared, ctx.engine(), aof_on)
                .map_err(super::save::persist_error)?;
        }
        ctx.shared.set_config(next);
        crate::persist::of(ctx.shared).set_fsync(&fsync);
        ctx.engine().effects.max_backlog = backlog;
        Reply::OK
    } else if eq_ic(&sub, "RESETSTAT") {
        args.finish()?;
        ctx.shared.stats.reset();
        ctx.shared.slowlog.lock().reset();
        Reply::OK
    } else if eq_ic(&sub, "REWRITE") {
        args.finish()?;
        ctx.shared.config.read().rewrite().map_err(CmdError::Err)?;
        Reply::OK
    } else if eq_ic(&sub, "HELP") {
        Reply::help(&[
            "CONFIG GET <pattern> [<pattern> ...]",
            "CONFIG SET <directive> <value> [<directive> <value> ...]",
            "CONFIG RESETSTAT",
            "CONFIG REWRITE",
        ])
    } else {
        return Err(CmdError::UnknownSubcommand {
            sub: lossy(&sub),
            cmd: "CONFIG".into(),
        });
    };
    Ok(reply.into())
}
