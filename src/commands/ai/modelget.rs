//! AI.MODELGET: Returns a model's metadata and blob.

use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::model::chunks;
use crate::reply::Reply;
use crate::util::eq_ic;

/// `AI.MODELGET key [META] [BLOB]`: META alone gives the 16-element metadata list, BLOB alone the blob (an
/// array of chunks when longer than `model-chunk-size`), neither or both the 18-element list. Unknown extra
/// arguments are ignored, as in RedisAI.
pub fn modelget(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    if args.argv().len() > 4 {
        return Err(CmdError::Arity(args.name()));
    }
    let key = args.bytes()?;
    let model = super::model_at(ctx, &key)?;
    ctx.unlock();
    let (mut meta, mut blob) = (false, false);
    for a in args.rest() {
        meta |= eq_ic(&a, "META");
        blob |= eq_ic(&a, "BLOB");
    }
    let chunk_size = ctx.shared.config.read().settings.model_chunk_size;
    let blob_reply = || {
        if model.blob.len() > chunk_size {
            Reply::Array(
                chunks(&model.blob, chunk_size)
                    .into_iter()
                    .map(Reply::Bulk)
                    .collect(),
            )
        } else {
            Reply::Bulk(model.blob.clone())
        }
    };
    if blob && !meta {
        return Ok(blob_reply().into());
    }
    let names = |v: Vec<&str>| Reply::Array(v.into_iter().map(Reply::text).collect());
    let mut out = vec![
        Reply::lit("backend"),
        Reply::lit(model.backend.name()),
        Reply::lit("device"),
        Reply::Bulk(model.device.clone()),
        Reply::lit("tag"),
        Reply::Bulk(model.tag.clone()),
        Reply::lit("batchsize"),
        Reply::Int(model.batch.batchsize as i64),
        Reply::lit("minbatchsize"),
        Reply::Int(model.batch.minbatchsize as i64),
        Reply::lit("inputs"),
        names(model.input_names().collect()),
        Reply::lit("outputs"),
        names(model.output_names().collect()),
        Reply::lit("minbatchtimeout"),
        Reply::Int(model.batch.minbatchtimeout as i64),
    ];
    if meta == blob {
        out.push(Reply::lit("blob"));
        out.push(blob_reply());
    }
    Ok(Reply::Array(out).into())
}
