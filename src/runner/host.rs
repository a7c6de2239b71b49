//! What runners can reach of the server while a call runs: commands, models, cells and pools. The engine
//! side implements [`Host`] (`commands::ai::script_host`); the runner protocol exposes it to every runner
//! language. Every write goes through the server's one propagation path, so it is an effect like any other.

use bytes::Bytes;

use crate::tensor::Tensor;

/// A value a server command returned to a script (`redis.execute`).
#[derive(Debug, Clone, PartialEq)]
pub enum HostValue {
    Nil,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    List(Vec<HostValue>),
}

/// What a compare-and-swap did: `done` when the value was still the expected one and was replaced; `text` is
/// then the canonical JSON text stored, else the current one (None: unset), so the runner can retry (or next
/// time swap) without reading first.
#[derive(Debug, Clone, PartialEq)]
pub struct Swapped {
    pub done: bool,
    pub text: Option<Bytes>,
}

pub trait Host: Send + Sync {
    /// Runs a (non-blocking) server command; an error reply is `Err` with its text.
    fn execute(&self, argv: Vec<Bytes>) -> Result<HostValue, String>;
    /// Whether a command writes (a runner replaying `begin()` skips those).
    fn writes(&self, argv: &[Bytes]) -> bool;
    /// Runs a stored model on this thread (the runner's driver thread).
    fn model_execute(&self, key: &[u8], inputs: Vec<Tensor>) -> Result<Vec<Tensor>, String>;
    /// A cell's JSON text, or None.
    fn cell_get(&self, name: &[u8]) -> Result<Option<Bytes>, String>;
    /// Sets a cell to `new` if its JSON text is still `old` (None: absent).
    fn cell_swap(&self, name: &[u8], old: Option<&[u8]>, new: &[u8]) -> Result<Swapped, String>;
    /// A pool field's JSON text, or None.
    fn pool_get(&self, name: &[u8], field: &[u8]) -> Result<Option<Bytes>, String>;
    /// Sets a pool field to `new` if its JSON text is still `old`.
    fn pool_swap(
        &self,
        name: &[u8],
        field: &[u8],
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Swapped, String>;
    /// The pool's fields.
    fn pool_keys(&self, name: &[u8]) -> Result<Vec<Bytes>, String>;
    /// Removes a field; true if it was there.
    fn pool_delete(&self, name: &[u8], field: &[u8]) -> Result<bool, String>;
}

static HOST: std::sync::OnceLock<Box<dyn Host>> = std::sync::OnceLock::new();

/// Installs the host runners call into (once per process: a process runs one server).
pub fn set_host(host: Box<dyn Host>) {
    let _ = HOST.set(host);
}

/// The installed host.
pub fn host() -> Option<&'static dyn Host> {
    HOST.get().map(|h| h.as_ref())
}

/// The cells and pools a script has touched (its *state*, what a snapshot of it captures): (kind, name)
/// with kind `cell` or `pool`.
pub type State =
    std::sync::Arc<parking_lot::Mutex<std::collections::BTreeSet<(&'static str, Bytes)>>>;

thread_local! {
    /// The state of the script this thread serves callbacks for (a driver serves one script for life).
    static RECORDING: std::cell::RefCell<Option<State>> = const { std::cell::RefCell::new(None) };
}

/// Makes this thread record what the callbacks it serves touch into `state`.
pub fn record_into(state: State) {
    RECORDING.with(|r| *r.borrow_mut() = Some(state));
}

/// Notes that the script served on this thread (if any) used a cell or pool (the host calls this).
pub fn touched(kind: &'static str, name: &[u8]) {
    RECORDING.with(|r| {
        if let Some(state) = r.borrow().as_ref() {
            state.lock().insert((kind, Bytes::copy_from_slice(name)));
        }
    });
}
