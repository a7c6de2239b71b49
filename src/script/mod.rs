//! Scripts: Python source stored under a key (RedisAI's script commands, with Python instead of
//! TorchScript). The value keeps the source (for SCRIPTGET, persistence and replicas), its entry points, its
//! run statistics (AI.INFO) and the compiled module. `python.rs` holds every use of pyo3; a build without the
//! `python` feature refuses to store scripts.

#[cfg(feature = "python")]
pub mod python;

#[cfg(feature = "python")]
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;

use crate::model::RunStats;
use crate::tensor::Tensor;

#[cfg(feature = "python")]
type Compiled = python::Compiled;
#[cfg(not(feature = "python"))]
#[derive(Debug)]
struct Compiled;

#[cfg(not(feature = "python"))]
const NO_PYTHON: &str = "this tensorcell-server was built without Python (cargo feature `python`)";

/// A stored script.
#[derive(Debug)]
pub struct Script {
    pub id: u64,
    /// As the client wrote it; RedisAI does not validate a script's device.
    pub device: Bytes,
    pub tag: Bytes,
    pub entry_points: Vec<String>,
    pub source: Bytes,
    #[cfg_attr(not(feature = "python"), allow(dead_code))]
    compiled: Compiled,
    pub stats: RunStats,
}

impl Script {
    pub fn mem_size(&self) -> usize {
        self.source.len() * 4 + 256
    }

    /// Runs `func(tensors, keys, args)` (CPU work under the GIL: call it on a worker); a call still running
    /// after `limit` is interrupted and fails with `script timed out`.
    pub fn call(
        &self,
        func: &str,
        tensors: &[&Tensor],
        keys: &[Bytes],
        args: &[Bytes],
        limit: std::time::Duration,
    ) -> Result<Vec<Tensor>, String> {
        #[cfg(feature = "python")]
        return python::call(&self.compiled, func, tensors, keys, args, limit);
        #[cfg(not(feature = "python"))]
        {
            let _ = (func, tensors, keys, args, limit);
            Err(NO_PYTHON.into())
        }
    }
}

/// Compiles a script (runs its top level: call it on a worker).
pub fn compile(
    key: &[u8],
    device: Bytes,
    tag: Bytes,
    entry_points: Vec<String>,
    source: Bytes,
) -> Result<Script, String> {
    #[cfg(not(feature = "python"))]
    {
        let _ = (key, device, tag, entry_points, source);
        Err(NO_PYTHON.into())
    }
    #[cfg(feature = "python")]
    {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Relaxed);
        // A module name Python accepts, unique per load.
        let name: String = key
            .iter()
            .map(|&c| {
                if c.is_ascii_alphanumeric() {
                    c as char
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let compiled = python::compile(&format!("{name}_{id}"), &source, &entry_points)?;
        Ok(Script {
            id,
            device,
            tag,
            entry_points,
            source,
            compiled,
            stats: RunStats::default(),
        })
    }
}
