//! AI.CONFIG: RedisAI's run-time settings (BACKENDSPATH, LOADBACKEND, MODEL_CHUNK_SIZE, GET), and a stored
//! script's runner count (SCRIPT_RUNNERS, FastScore's `job scale`).

use bytes::Bytes;

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::config::notify;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Store;
use crate::keyspace::{own, Value};
use crate::model::Backend;
use crate::reply::Reply;
use crate::util::eq_ic;

/// MODEL_CHUNK_SIZE is the `model-chunk-size` directive (CONFIG GET shows the same value). LOADBACKEND ONNX
/// <path> loads ONNX Runtime (tract is built in and needs no loading); the other backends are not available.
pub fn config(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    let reply = if eq_ic(&sub, "BACKENDSPATH") {
        let path = args
            .next()
            .ok_or_else(|| CmdError::err("BACKENDSPATH: missing path argument"))?;
        *ctx.shared.backends_path.lock() = String::from_utf8_lossy(&path).into_owned();
        Reply::OK
    } else if eq_ic(&sub, "LOADBACKEND") {
        if args.remaining() < 2 {
            return Err(CmdError::Arity(args.name()));
        }
        match Backend::parse(&args.bytes()?) {
            None => return Err(CmdError::err("unsupported backend")),
            Some(Backend::Onnx) => {}
            Some(_) => return Err(CmdError::err("unsupported backend")),
        }
        // RedisAI's way to ONNX Runtime: a path relative to BACKENDSPATH, or absolute.
        let path = String::from_utf8_lossy(&args.bytes()?).into_owned();
        let path = match ctx.shared.backends_path.lock().as_str() {
            dir if !dir.is_empty() && !path.starts_with('/') => format!("{dir}/{path}"),
            _ => path,
        };
        match crate::model::onnx::load_backend(&path) {
            Ok(lib) => {
                match crate::model::onnx::active() {
                    Ok(crate::model::onnx::Runtime::OnnxRuntime) => crate::notice!(
                        "ONNX models now load on ONNX Runtime {} ({})",
                        lib.version,
                        lib.path
                    ),
                    _ => crate::notice!(
                        "ONNX Runtime {} loaded ({}); onnx-backend tract keeps models on tract",
                        lib.version,
                        lib.path
                    ),
                }
                Reply::OK
            }
            Err(e) => return Err(CmdError::err(format!("error loading backend: {e}"))),
        }
    } else if eq_ic(&sub, "MODEL_CHUNK_SIZE") {
        let v = args
            .next()
            .ok_or_else(|| CmdError::err("MODEL_CHUNK_SIZE: missing chunk size"))?;
        let n = crate::util::parse_i64(&v)
            .filter(|n| *n > 0)
            .ok_or_else(|| CmdError::err("MODEL_CHUNK_SIZE: invalid chunk size"))?;
        let mut next = ctx.shared.config.read().clone();
        next.set("model-chunk-size", &n.to_string())
            .map_err(|_| CmdError::err("MODEL_CHUNK_SIZE: invalid chunk size"))?;
        ctx.shared.set_config(next);
        Reply::OK
    } else if eq_ic(&sub, "SCRIPT_RUNNERS") {
        return script_runners(ctx, args);
    } else if eq_ic(&sub, "GET") {
        let name = args.next().ok_or_else(|| CmdError::Arity(args.name()))?;
        if eq_ic(&name, "MODEL_CHUNK_SIZE") {
            Reply::Int(ctx.shared.config.read().settings.model_chunk_size as i64)
        } else if eq_ic(&name, "BACKENDSPATH") {
            Reply::text(ctx.shared.backends_path.lock().clone())
        } else {
            Reply::Nil
        }
    } else {
        return Err(CmdError::err("unsupported subcommand"));
    };
    Ok(reply.into())
}

/// `AI.CONFIG SCRIPT_RUNNERS key n`: the script gets `n` runners, started (or stopped after their current
/// call) at once; propagated as itself, so replicas and the AOF keep the count with the script.
fn script_runners(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let (Some(key), Some(n)) = (args.next(), args.next()) else {
        return Err(CmdError::Arity(args.name()));
    };
    if args.remaining() > 0 {
        return Err(CmdError::Arity(args.name()));
    }
    let key = own(key);
    let n = super::scriptstore::parse_runners(Some(n))?;
    let script = match ctx.store().get(&key) {
        Some(Value::Script(s)) => s.clone(),
        Some(_) => return Err(CmdError::WrongType),
        None => return Err(CmdError::err("script key is empty")),
    };
    // A replica (or the AOF at start-up) records the count; runners start where scripts run.
    script.runners.scale(n, !ctx.session.replaying);
    Ok(Outcome::new(Reply::OK)
        .effect(vec![
            Bytes::from_static(b"AI.CONFIG"),
            Bytes::from_static(b"SCRIPT_RUNNERS"),
            key.clone(),
            Bytes::from(n.to_string()),
        ])
        .event(notify::MODULE, "ai.scriptrunners", key))
}
