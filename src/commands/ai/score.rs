//! AI.SCORE: Runs a FastScore-style model over records (commands.md section 6).

use std::time::Duration;

use bytes::Bytes;

use super::{error_of, script_at};
use crate::args::Args;
use crate::codec::Codec;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;
use crate::reply::Reply;
use crate::script::Scored;
use crate::state::snapshots;

/// `AI.SCORE key [ACTION fn] RECORDS n record... [EOF]`: runs the action once per record, in order, on a
/// worker, and replies with everything it returned or yielded, typed by `fastscore.output`. Concurrent calls
/// on one script are concurrent runners over its shared cells and pools.
pub fn score(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    ctx.refuse_in_exec()?;
    let key = own(args.bytes()?);
    let script = script_at(ctx, &key)?;
    let action = if args.eat("ACTION") {
        String::from_utf8_lossy(&args.bytes()?).into_owned()
    } else {
        "action".to_string()
    };
    if !args.eat("RECORDS") {
        return Err(CmdError::err("RECORDS not specified"));
    }
    let n = args
        .next()
        .as_deref()
        .and_then(crate::util::parse_i64)
        .filter(|n| *n >= 0)
        .ok_or_else(|| CmdError::err("Invalid argument for records count"))? as usize;
    if args.remaining() < n {
        return Err(CmdError::err(
            "number of records to AI.SCORE command does not match the number of given arguments",
        ));
    }
    let records: Vec<Bytes> = (0..n).filter_map(|_| args.next()).map(own).collect();
    let eof = args.eat("EOF");
    if let Some(extra) = args.next() {
        return Err(CmdError::Raw(format!(
            "Invalid argument: {}",
            String::from_utf8_lossy(&extra)
        )));
    }
    let limit = Duration::from_millis(ctx.shared.config.read().settings.script_time_limit);
    if script.fastscore.is_none() {
        return Err(CmdError::err(
            "the script is not a FastScore model (no action, no fastscore comments)",
        ));
    }
    let shared = ctx.shared.arc();
    let user = ctx.session.user.clone();
    let start = std::time::Instant::now();
    Ok(Outcome::later(move |done| {
        let before = script.state.lock().len();
        let queued =
            script
                .clone()
                .score(user, action, records, eof, limit, move |script, result| {
                    super::propagate_state(&shared, &key, script, before);
                    if eof
                        && result.is_ok()
                        && script.fastscore.as_ref().is_some_and(|f| f.snapshots_eof)
                    {
                        // `fastscore.snapshots: eof`: the end-of-stream snapshot is taken before the reply, so a
                        // client that saw the reply finds it in AI.SNAPSHOT LIST.
                        let settings = shared.settings();
                        let codec =
                            Codec::parse(settings.snapshot_codec.as_bytes()).unwrap_or(Codec::Gzip);
                        if let Err(e) = snapshots::save_state(&shared, &key, script, codec) {
                            crate::warning!(
                                "End-of-stream snapshot of {} failed: {e}",
                                String::from_utf8_lossy(&key)
                            );
                        }
                    }
                    script
                        .stats
                        .record(start.elapsed().as_micros() as u64, 0, result.is_err());
                    done(match result {
                        Err(e) => Reply::Error(error_of(e)),
                        Ok(values) => Reply::Array(
                            values
                                .into_iter()
                                .map(|v| match v {
                                    Scored::Int(i) => Reply::Int(i),
                                    Scored::Double(d) => Reply::Double(d),
                                    Scored::Text(t) => Reply::Bulk(Bytes::from(t)),
                                })
                                .collect(),
                        ),
                    })
                });
        // Checked above: a FastScore model always queues.
        debug_assert!(queued.is_ok());
    }))
}
