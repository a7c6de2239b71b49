//! AI.MODELSET: Stores a model (deprecated RedisAI syntax, kept for old clients).

use super::{blob_chunks, store_model, StoreRequest};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;
use crate::model::Backend;
use crate::util::eq_ic;

/// `AI.MODELSET key backend device [TAG t] [BATCHSIZE n [MINBATCHSIZE m [MINBATCHTIMEOUT ms]]]
/// [INPUTS name... OUTPUTS name...] BLOB chunk...`: the device is free-form (up to 10 characters, not a
/// keyword) and input/output names have no counts. ONNX takes its names from the model, so any given here
/// are read and ignored.
pub fn modelset(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = own(args.bytes()?);
    let backend =
        Backend::parse(&args.bytes()?).ok_or_else(|| CmdError::err("unsupported backend"))?;
    let device = args.bytes()?;
    let keywords = [
        "TAG",
        "BATCHSIZE",
        "MINBATCHSIZE",
        "MINBATCHTIMEOUT",
        "INPUTS",
        "OUTPUTS",
        "BLOB",
    ];
    if device.len() > 10 || keywords.iter().any(|k| eq_ic(&device, k)) {
        return Err(CmdError::err("Invalid DEVICE"));
    }
    let tag = if args.eat("TAG") {
        args.next().unwrap_or_default()
    } else {
        Default::default()
    };
    let batch = super::modelstore::batch_options(args, Some(backend == Backend::Tflite))?;
    if args.eat("INPUTS") {
        while args
            .peek()
            .is_some_and(|a| !eq_ic(a, "OUTPUTS") && !eq_ic(a, "BLOB"))
        {
            args.next();
        }
        if !args.eat("OUTPUTS") {
            return Err(CmdError::err("OUTPUTS not specified"));
        }
        while args.peek().is_some_and(|a| !eq_ic(a, "BLOB")) {
            args.next();
        }
    }
    if !args.eat("BLOB") {
        return Err(CmdError::err("Insufficient arguments, missing model BLOB"));
    }
    let blob = blob_chunks(args)?;
    store_model(
        ctx,
        StoreRequest {
            key,
            backend,
            device: own(device),
            tag: own(tag),
            batch,
            blob,
            replaying: ctx.session.replaying,
        },
    )
}
