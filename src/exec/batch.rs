//! Auto-batching with RedisAI's rules (`background_workers.c`, `RAI_DagOpBatchable`):
//!
//! - only requests on a model stored with `BATCHSIZE > 0` batch, and only when a batch of BATCHSIZE rows ran
//!   cheaper than that many single runs when the model was loaded (`Model::batching`); a request's size is dim 0 of its inputs
//!   (0, so never batched, when its inputs disagree on dim 0); a request already at least BATCHSIZE runs
//!   alone;
//! - from the oldest request, later requests on the same model object with the same input count, dtypes
//!   and dims except dim 0 are appended until the total reaches BATCHSIZE (so it may exceed it);
//! - with MINBATCHSIZE, a batch below it waits, for ever without MINBATCHTIMEOUT, or until the oldest
//!   request has waited MINBATCHTIMEOUT ms;
//! - inputs are concatenated along dim 0, outputs split back by each request's dim 0; a model whose output
//!   dim 0 is not the total fails every request of the batch.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::{Job, ModelRequest, RunResult, WorkerCache};
use crate::tensor::{DType, Tensor};

pub enum Work {
    Task(Box<dyn FnOnce(&mut WorkerCache) + Send>),
    Batch(Vec<ModelRequest>),
}

pub enum Take {
    Work(Work),
    /// Nothing can run before this instant (a MINBATCHTIMEOUT expires) unless a new job arrives.
    WaitUntil(Instant),
    Wait,
}

/// A request's batch size: dim 0 shared by all its inputs, or 0.
fn batch_size(r: &ModelRequest) -> usize {
    let mut dims = r
        .inputs
        .iter()
        .map(|t| t.shape.first().copied().unwrap_or(0));
    match dims.next() {
        Some(first) if dims.all(|d| d == first) => first,
        _ => 0,
    }
}

/// Whether `b` can join a batch started by `a`.
fn compatible(a: &ModelRequest, b: &ModelRequest) -> bool {
    Arc::ptr_eq(&a.model, &b.model)
        && a.inputs.len() == b.inputs.len()
        && a.inputs.iter().zip(&b.inputs).all(|(x, y)| {
            x.dtype == y.dtype
                && x.shape.len() == y.shape.len()
                && x.shape.get(1..) == y.shape.get(1..)
        })
}

/// Picks the next work in queue order: a task, a request that runs alone, or a complete batch. Requests
/// held back for MINBATCHSIZE stay queued while later work runs.
pub fn take_ready(jobs: &mut VecDeque<Job>, now: Instant) -> Take {
    let mut wake: Option<Instant> = None;
    let mut held: Vec<*const crate::model::Model> = Vec::new();
    let mut i = 0;
    while i < jobs.len() {
        let Job::Model(head) = &jobs[i] else {
            let Some(Job::Task(f)) = jobs.remove(i) else {
                unreachable!("checked above")
            };
            return Take::Work(Work::Task(f));
        };
        if held.contains(&Arc::as_ptr(&head.model)) {
            i += 1;
            continue;
        }
        let opts = head.model.batch;
        let size = batch_size(head) as u64;
        if !head.model.batching || size == 0 || size >= opts.batchsize {
            let Some(Job::Model(r)) = jobs.remove(i) else {
                unreachable!("checked above")
            };
            return Take::Work(Work::Batch(vec![r]));
        }
        let mut members = vec![i];
        let mut total = size;
        for (j, job) in jobs.iter().enumerate().skip(i + 1) {
            if total >= opts.batchsize {
                break;
            }
            if let Job::Model(r) = job {
                let n = batch_size(r) as u64;
                if n > 0 && compatible(head, r) {
                    members.push(j);
                    total += n;
                }
            }
        }
        if opts.minbatchsize > 0 && total < opts.minbatchsize {
            let waited = now.saturating_duration_since(head.enqueued);
            let limit = Duration::from_millis(opts.minbatchtimeout);
            if opts.minbatchtimeout == 0 || waited < limit {
                if opts.minbatchtimeout > 0 {
                    let at = head.enqueued + limit;
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                }
                held.push(Arc::as_ptr(&head.model));
                i += 1;
                continue;
            }
        }
        let mut batch = Vec::with_capacity(members.len());
        for &j in members.iter().rev() {
            if let Some(Job::Model(r)) = jobs.remove(j) {
                batch.push(r);
            }
        }
        batch.reverse();
        return Take::Work(Work::Batch(batch));
    }
    match wake {
        Some(t) => Take::WaitUntil(t),
        None => Take::Wait,
    }
}

/// Runs a batch (one or more requests on one model) and completes each request.
pub fn run(reqs: Vec<ModelRequest>, cache: &mut WorkerCache, exec_timeout: Duration) {
    let now = Instant::now();
    let mut live = Vec::with_capacity(reqs.len());
    for r in reqs {
        if r.timeout
            .is_some_and(|t| now.saturating_duration_since(r.enqueued) > t)
        {
            (r.done)(RunResult::TimedOut);
        } else {
            live.push(r);
        }
    }
    let Some(first) = live.first() else { return };
    let model = first.model.clone();
    let start = Instant::now();
    let deadline = (!exec_timeout.is_zero()).then_some(exec_timeout);
    let mut sizes: Vec<usize> = live.iter().map(batch_size).collect();
    let rows: usize = sizes.iter().sum();
    let batchsize = model.batch.batchsize as usize;
    // Zero rows the runtime would rather run (see `OnnxModel::batch_rows`): only in a batch of several
    // requests (a request alone runs as sent), never for STRING inputs, whose rows have no fixed size.
    let pad =
        if batchsize > 0 && live.len() > 1 && first.inputs.iter().all(|t| t.dtype != DType::String)
        {
            model.onnx.batch_rows(rows, batchsize) - rows
        } else {
            0
        };
    let result = if live.len() == 1 {
        let inputs: Vec<&Tensor> = first.inputs.iter().map(|t| t.as_ref()).collect();
        model
            .onnx
            .check_inputs(&inputs)
            .and_then(|()| model.onnx.run(model.id, &mut cache.onnx, &inputs, deadline))
            .map(|outs| vec![outs])
    } else {
        let joined: Vec<Tensor> = (0..first.inputs.len())
            .map(|k| padded(concat(live.iter().map(|r| r.inputs[k].as_ref())), rows, pad))
            .collect();
        let inputs: Vec<&Tensor> = joined.iter().collect();
        if pad > 0 {
            sizes.push(pad);
        }
        model
            .onnx
            .check_inputs(&inputs)
            .and_then(|()| model.onnx.run(model.id, &mut cache.onnx, &inputs, deadline))
            .and_then(|outs| split_outputs(outs, &sizes))
            .map(|mut per_request| {
                // The padding's outputs go nowhere.
                per_request.truncate(live.len());
                per_request
            })
    };
    let micros = start.elapsed().as_micros() as u64;
    match result {
        Ok(per_request) => {
            for (r, outputs) in live.into_iter().zip(per_request) {
                let samples = outputs
                    .first()
                    .and_then(|t| t.shape.first().copied())
                    .unwrap_or(0) as u64;
                model.stats.record(micros, samples, false);
                (r.done)(RunResult::Done { outputs, micros });
            }
        }
        Err(e) => {
            for r in live {
                model.stats.record(micros, 0, true);
                (r.done)(RunResult::Failed(e.clone()));
            }
        }
    }
}

/// Concatenates tensors of one dtype and equal trailing dims along dim 0.
pub fn concat<'a>(parts: impl Iterator<Item = &'a Tensor> + Clone) -> Tensor {
    let mut shape: Vec<usize> = Vec::new();
    let mut dtype = DType::Float;
    let mut total = 0;
    let mut bytes = 0;
    for t in parts.clone() {
        if shape.is_empty() {
            shape = t.shape.clone();
            dtype = t.dtype;
        }
        total += t.shape.first().copied().unwrap_or(0);
        bytes += t.data.len();
    }
    let mut data = BytesMut::with_capacity(bytes);
    for t in parts {
        data.extend_from_slice(&t.data);
    }
    if let Some(d0) = shape.first_mut() {
        *d0 = total;
    }
    Tensor {
        dtype,
        shape,
        data: data.freeze(),
    }
}

/// `t` (dim 0: `rows`) with `pad` zero rows appended.
fn padded(t: Tensor, rows: usize, pad: usize) -> Tensor {
    if pad == 0 || rows == 0 {
        return t;
    }
    let row = t.data.len() / rows;
    let mut data = BytesMut::with_capacity(t.data.len() + row * pad);
    data.extend_from_slice(&t.data);
    data.resize(t.data.len() + row * pad, 0);
    let mut shape = t.shape;
    shape[0] = rows + pad;
    Tensor {
        dtype: t.dtype,
        shape,
        data: data.freeze(),
    }
}

/// Splits each output along dim 0 into `sizes` pieces; per request, its outputs in order.
fn split_outputs(outputs: Vec<Tensor>, sizes: &[usize]) -> Result<Vec<Vec<Tensor>>, String> {
    let total: usize = sizes.iter().sum();
    let mut per_request: Vec<Vec<Tensor>> = sizes.iter().map(|_| Vec::new()).collect();
    for out in outputs {
        if out.shape.first() != Some(&total) {
            return Err("Model did not generate the expected batch size".into());
        }
        for (k, piece) in split(&out, sizes).into_iter().enumerate() {
            per_request[k].push(piece);
        }
    }
    Ok(per_request)
}

/// Splits a tensor along dim 0 (its dim 0 is the sum of `sizes`).
fn split(t: &Tensor, sizes: &[usize]) -> Vec<Tensor> {
    let total: usize = sizes.iter().sum();
    let row_elems: usize = t.shape[1..].iter().product();
    let pieces: Vec<Bytes> = if t.dtype == DType::String {
        // Variable-length elements: cut after the right number of terminators.
        let mut out = Vec::new();
        let mut start = 0;
        let ends: Vec<usize> = t
            .data
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == 0)
            .map(|(i, _)| i + 1)
            .collect();
        let mut seen = 0;
        for &n in sizes {
            seen += n * row_elems;
            let end = if seen == 0 {
                0
            } else {
                ends.get(seen - 1).copied().unwrap_or(t.data.len())
            };
            out.push(t.data.slice(start..end.max(start)));
            start = end.max(start);
        }
        out
    } else {
        let row = t.data.len().checked_div(total).unwrap_or(0);
        let mut start = 0;
        sizes
            .iter()
            .map(|&n| {
                let piece = t.data.slice(start..start + n * row);
                start += n * row;
                piece
            })
            .collect()
    };
    sizes
        .iter()
        .zip(pieces)
        .map(|(&n, data)| {
            let mut shape = t.shape.clone();
            shape[0] = n;
            Tensor {
                dtype: t.dtype,
                shape,
                data,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], vals: &[f32]) -> Tensor {
        Tensor {
            dtype: DType::Float,
            shape: shape.to_vec(),
            data: vals
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
                .into(),
        }
    }

    #[test]
    fn concat_and_split_round_trip() {
        let a = t(&[1, 2], &[1.0, 2.0]);
        let b = t(&[2, 2], &[3.0, 4.0, 5.0, 6.0]);
        let joined = concat([&a, &b].into_iter());
        assert_eq!(joined.shape, vec![3, 2]);
        let parts = split(&joined, &[1, 2]);
        assert_eq!(parts[0], a);
        assert_eq!(parts[1], b);
        let s = Tensor {
            dtype: DType::String,
            shape: vec![3],
            data: Bytes::from_static(b"a\0bb\0ccc\0"),
        };
        let parts = split(&s, &[2, 1]);
        assert_eq!(parts[0].data.as_ref(), b"a\0bb\0");
        assert_eq!(parts[1].data.as_ref(), b"ccc\0");
    }

    #[test]
    fn padding_adds_zero_rows_that_split_drops() {
        let a = t(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let p = padded(a.clone(), 3, 1);
        assert_eq!(p.shape, vec![4, 2]);
        assert_eq!(&p.data[..24], &a.data[..]);
        assert!(p.data[24..].iter().all(|&b| b == 0));
        // Outputs of the padded batch: the requests get their rows, the padding's go nowhere.
        let per = split_outputs(vec![p], &[1, 2, 1]).unwrap();
        assert_eq!(per[0][0], t(&[1, 2], &[1.0, 2.0]));
        assert_eq!(per[1][0], t(&[2, 2], &[3.0, 4.0, 5.0, 6.0]));
        assert_eq!(padded(a.clone(), 3, 0), a);
    }
}
