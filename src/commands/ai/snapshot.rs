//! AI.SNAPSHOT: Saves, lists, restores and deletes snapshots of a script's state (its cells and pools).

use bytes::Bytes;

use super::script_at;
use crate::args::Args;
use crate::codec::Codec;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;
use crate::reply::Reply;
use crate::state::snapshots::{self, Meta, SnapError, Store};
use crate::util::eq_ic;

/// `AI.SNAPSHOT SAVE key [CODEC c] | LIST key [SINCE ms] [UNTIL ms] [COUNT n] | RESTORE key [id-or-prefix] |
/// DEL key id-or-prefix`. Store I/O and compression run on a thread of their own, never the event loop.
pub fn snapshot(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let sub = args.bytes()?;
    if eq_ic(&sub, "HELP") {
        return Ok(Reply::help(&[
            "AI.SNAPSHOT SAVE <script-key> [CODEC none|snappy|gzip|bzip2|xz|zstd]",
            "AI.SNAPSHOT LIST <script-key> [SINCE <unix-ms>] [UNTIL <unix-ms>] [COUNT <n>]",
            "AI.SNAPSHOT RESTORE <script-key> [<id-or-unique-prefix>]",
            "AI.SNAPSHOT DEL <script-key> <id-or-unique-prefix>",
        ])
        .into());
    }
    ctx.refuse_in_exec()?;
    let key = own(args.bytes()?);
    let script = script_at(ctx, &key)?;
    let settings = ctx.shared.settings();
    let store = Store::configured(&settings);
    let shared = ctx.shared.arc();
    if eq_ic(&sub, "SAVE") {
        let codec = match args.next() {
            None => Codec::parse(settings.snapshot_codec.as_bytes()).unwrap_or(Codec::Gzip),
            Some(w) if eq_ic(&w, "CODEC") => {
                let c = args.bytes()?;
                Codec::parse(&c).ok_or_else(|| {
                    CmdError::err(format!(
                        "unknown codec '{}' (none, snappy, gzip, bzip2, xz, zstd)",
                        String::from_utf8_lossy(&c)
                    ))
                })?
            }
            Some(_) => return Err(CmdError::Syntax),
        };
        args.finish()?;
        return Ok(off_loop(move || {
            snapshots::save_state(&shared, &key, &script, codec)
                .map(|m| Reply::Bulk(Bytes::from(m.id)))
        }));
    }
    if eq_ic(&sub, "LIST") {
        let (mut since, mut until, mut count) = (0u64, u64::MAX, usize::MAX);
        while let Some(opt) = args.next() {
            let n = args.int()?;
            if n < 0 {
                return Err(CmdError::err("value is out of range, must be positive"));
            }
            if eq_ic(&opt, "SINCE") {
                since = n as u64;
            } else if eq_ic(&opt, "UNTIL") {
                until = n as u64;
            } else if eq_ic(&opt, "COUNT") {
                count = n as usize;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        return Ok(off_loop(move || {
            let all = store.list(&key)?;
            Ok(Reply::Array(
                all.into_iter()
                    .filter(|m| m.created >= since && m.created <= until)
                    .take(count)
                    .map(entry)
                    .collect(),
            ))
        }));
    }
    if eq_ic(&sub, "RESTORE") || eq_ic(&sub, "DEL") {
        let restore = eq_ic(&sub, "RESTORE");
        let prefix = match args.next() {
            Some(p) => Some(String::from_utf8_lossy(&p).into_owned()),
            None if restore => None,
            None => return Err(CmdError::Arity("ai.snapshot|del".into())),
        };
        args.finish()?;
        return Ok(off_loop(move || {
            let meta = store.resolve(&key, prefix.as_deref())?;
            if restore {
                let data = store.get(&key, &meta)?;
                let decoded = snapshots::decode(&data)?;
                snapshots::restore_state(&shared, decoded);
            } else {
                store.delete(&key, &meta)?;
            }
            Ok(Reply::OK)
        }));
    }
    Err(CmdError::UnknownSubcommand {
        sub: String::from_utf8_lossy(&sub).into_owned(),
        cmd: "AI.SNAPSHOT".into(),
    })
}

/// LIST's flat entry.
fn entry(m: Meta) -> Reply {
    Reply::Array(vec![
        Reply::lit("id"),
        Reply::Bulk(Bytes::from(m.id)),
        Reply::lit("created"),
        Reply::Int(m.created as i64),
        Reply::lit("codec"),
        Reply::lit(m.codec.name()),
        Reply::lit("size"),
        Reply::Int(m.size as i64),
    ])
}

/// Runs store work on a thread of its own and replies with its result.
fn off_loop(work: impl FnOnce() -> Result<Reply, SnapError> + Send + 'static) -> Outcome {
    Outcome::later(move |done| {
        std::thread::spawn(move || {
            done(match work() {
                Ok(r) => r,
                Err(e) => Reply::Error(CmdError::err(e.to_string())),
            })
        });
    })
}
