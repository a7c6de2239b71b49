//! Models: the value a MODELSTORE key holds. It keeps the original blob (for MODELGET, persistence and
//! replicas, which load models from the MODELSTORE effect), the options RedisAI stores with a model, its run
//! statistics (AI.INFO), and the loaded backend model shared by every worker.

mod io;
pub mod onnx;
mod ort;
pub mod tract;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;

/// Backends RedisAI knew; only ONNX runs here (commands.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Tf,
    Tflite,
    Torch,
    Onnx,
}

impl Backend {
    pub fn parse(s: &[u8]) -> Option<Backend> {
        Some(match s.to_ascii_uppercase().as_slice() {
            b"TF" => Backend::Tf,
            b"TFLITE" => Backend::Tflite,
            b"TORCH" => Backend::Torch,
            b"ONNX" => Backend::Onnx,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Tf => "TF",
            Backend::Tflite => "TFLITE",
            Backend::Torch => "TORCH",
            Backend::Onnx => "ONNX",
        }
    }
}

/// RedisAI's device rule for MODELSTORE: `CPU`, `GPU`, `CPU:<digits>` or `GPU:<digits>`, shorter than 10.
pub fn valid_device(d: &[u8]) -> bool {
    if d.len() >= 10 {
        return false;
    }
    let upper = d.to_ascii_uppercase();
    let (kind, rest) = upper.split_at(3.min(upper.len()));
    if kind != b"CPU" && kind != b"GPU" {
        return false;
    }
    match rest {
        [] => true,
        [b':', digits @ ..] => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Whether a device string names a GPU (refused: there is no GPU backend).
pub fn is_gpu(d: &[u8]) -> bool {
    d.len() >= 3 && d[..3].eq_ignore_ascii_case(b"GPU")
}

/// RedisAI's auto-batching options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOptions {
    pub batchsize: u64,
    pub minbatchsize: u64,
    /// Milliseconds.
    pub minbatchtimeout: u64,
}

/// AI.INFO counters. Kept with the model, so re-storing a key starts from zero and deleting it drops them,
/// as RedisAI's per-key run-stats dictionary did.
#[derive(Debug, Default)]
pub struct RunStats {
    pub duration_us: AtomicU64,
    pub samples: AtomicU64,
    pub calls: AtomicU64,
    pub errors: AtomicU64,
}

impl RunStats {
    pub fn record(&self, us: u64, samples: u64, failed: bool) {
        self.duration_us.fetch_add(us, Relaxed);
        self.samples.fetch_add(samples, Relaxed);
        self.calls.fetch_add(1, Relaxed);
        if failed {
            self.errors.fetch_add(1, Relaxed);
        }
    }

    pub fn reset(&self) {
        for c in [&self.duration_us, &self.samples, &self.calls, &self.errors] {
            c.store(0, Relaxed);
        }
    }
}

/// A stored model.
#[derive(Debug)]
pub struct Model {
    /// Unique per load, so workers can key their run states by it.
    pub id: u64,
    pub backend: Backend,
    /// As the client wrote it (RedisAI echoes `cpu` back as `cpu`).
    pub device: Bytes,
    pub tag: Bytes,
    pub batch: BatchOptions,
    /// The original ONNX bytes (the concatenated BLOB chunks).
    pub blob: Bytes,
    pub onnx: onnx::OnnxModel,
    pub stats: RunStats,
    /// Whether requests batch (BATCHSIZE > 0 and, measured at load, a batch runs cheaper than its requests
    /// one by one: see [`onnx::OnnxModel::batching_pays`]). BATCHSIZE never makes a model slower.
    pub batching: bool,
    /// What that measurement found: (single run us, batch run us), for the log.
    pub batch_probe: Option<(u64, u64)>,
}

impl Model {
    pub fn input_names(&self) -> impl Iterator<Item = &str> {
        self.onnx.inputs.iter().map(|s| s.name.as_str())
    }

    pub fn output_names(&self) -> impl Iterator<Item = &str> {
        self.onnx.outputs.iter().map(|s| s.name.as_str())
    }

    pub fn mem_size(&self) -> usize {
        // The loaded plan's weights are about the size of the blob again.
        self.blob.len() * 2 + 256
    }

    /// The runtime that runs it (tract or ONNX Runtime).
    pub fn runtime(&self) -> onnx::Runtime {
        self.onnx.runtime()
    }
}

/// Threads one model run may use: `intra` for an operator's work, `inter` for independent operators at
/// once (ONNX Runtime only; tract runs operators in order).
#[derive(Debug, Clone, Copy)]
pub struct Threads {
    pub intra: usize,
    pub inter: usize,
}

/// Loads a model from its blob on the active ONNX runtime (CPU work: call it off the I/O threads).
pub fn load(
    backend: Backend,
    device: Bytes,
    tag: Bytes,
    batch: BatchOptions,
    blob: Bytes,
    threads: Threads,
) -> Result<Model, String> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let onnx = onnx::load(&blob, threads.intra, threads.inter)?;
    let (batching, batch_probe) = match batch.batchsize {
        0 => (false, None),
        n => match onnx.batching_pays(n as usize) {
            Some((pays, single, batched)) => (pays, Some((single, batched))),
            None => (true, None),
        },
    };
    Ok(Model {
        batching,
        batch_probe,
        id: NEXT_ID.fetch_add(1, Relaxed),
        backend,
        device,
        tag,
        batch,
        blob,
        onnx,
        stats: RunStats::default(),
    })
}

/// RedisAI's chunking of a model blob (MODELGET, AOF rewrite): `len / size + 1` chunks, the last one
/// `len % size` bytes long, so a blob that is an exact multiple of the size ends with an empty chunk.
pub fn chunks(blob: &Bytes, size: usize) -> Vec<Bytes> {
    let size = size.max(1);
    let n = blob.len() / size + 1;
    (0..n)
        .map(|i| blob.slice(i * size..((i + 1) * size).min(blob.len())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_follow_redisai() {
        for ok in ["CPU", "cpu", "GPU", "CPU:0", "gpu:12"] {
            assert!(valid_device(ok.as_bytes()), "{ok}");
        }
        for bad in ["bad_device", "CPU::", "CPU:1.8", "CPU:123456", "CPU:", "CP"] {
            assert!(!valid_device(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn chunking_adds_a_final_chunk() {
        let blob = Bytes::from(vec![7u8; 1352]);
        let c = chunks(&blob, 450);
        assert_eq!(c.len(), 4);
        assert_eq!(c[3].len(), 2);
        let c = chunks(&Bytes::from(vec![1u8; 900]), 450);
        assert_eq!(
            c.iter().map(Bytes::len).collect::<Vec<_>>(),
            vec![450, 450, 0]
        );
    }
}
