//! AI.MODELSTORE: Stores a model (ONNX), loading it on a worker.

use super::{blob_chunks, store_model, unsigned, StoreRequest};
use crate::args::Args;
use crate::commands::{Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::own;
use crate::model::{valid_device, Backend, BatchOptions};

/// `AI.MODELSTORE key backend device [TAG t] [BATCHSIZE n [MINBATCHSIZE m [MINBATCHTIMEOUT ms]]]
/// BLOB chunk...`, checked in RedisAI's order with its messages.
pub fn modelstore(ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let key = own(args.bytes()?);
    let backend =
        Backend::parse(&args.bytes()?).ok_or_else(|| CmdError::err("unsupported backend"))?;
    let device = args.bytes()?;
    if !valid_device(&device) {
        return Err(CmdError::err("Invalid DEVICE"));
    }
    let tag = if args.eat("TAG") {
        args.next().unwrap_or_default()
    } else {
        Default::default()
    };
    let batch = batch_options(args, None)?;
    if args.remaining() == 0 {
        return Err(CmdError::err("Insufficient arguments, missing model BLOB"));
    }
    if args
        .peek()
        .is_some_and(|a| a.eq_ignore_ascii_case(b"INPUTS"))
        && backend != Backend::Tf
    {
        return Err(CmdError::err(
            "INPUTS argument should not be specified for this backend",
        ));
    }
    if !args.eat("BLOB") {
        return Err(CmdError::err("Invalid argument, expected BLOB"));
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

/// `[BATCHSIZE n [MINBATCHSIZE m [MINBATCHTIMEOUT ms]]]`, in that order only. `legacy` adds the checks of
/// RedisAI's deprecated MODELSET parser: `tflite` refuses BATCHSIZE, and MINBATCHTIMEOUT needs BATCHSIZE.
pub(super) fn batch_options(args: &mut Args, legacy: Option<bool>) -> CmdResult<BatchOptions> {
    let mut b = BatchOptions::default();
    if args.eat("BATCHSIZE") {
        b.batchsize = unsigned(args.next(), "BATCHSIZE")?;
        if legacy == Some(true) {
            return Err(CmdError::err(
                "Auto-batching not supported by the TFLITE backend",
            ));
        }
    }
    if args.eat("MINBATCHSIZE") {
        b.minbatchsize = unsigned(args.next(), "MINBATCHSIZE")?;
    }
    if args.eat("MINBATCHTIMEOUT") {
        b.minbatchtimeout = unsigned(args.next(), "MINBATCHTIMEOUT")?;
    }
    if b.minbatchsize > 0 && b.batchsize == 0 {
        return Err(CmdError::err("MINBATCHSIZE specified without BATCHSIZE"));
    }
    if legacy.is_some() && b.minbatchtimeout > 0 && b.batchsize == 0 {
        return Err(CmdError::err("MINBATCHTIMEOUT specified without BATCHSIZE"));
    }
    if b.minbatchtimeout > 0 && b.minbatchsize == 0 {
        return Err(CmdError::err(
            "MINBATCHTIMEOUT specified without MINBATCHSIZE",
        ));
    }
    Ok(b)
}
