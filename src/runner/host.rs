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
pub type State = std::sync::Arc<StateSet>;

/// One state entry: its kind (`cell` or `pool`) and key.
pub type StateEntry = (&'static str, Bytes);

/// The cells and pools a script has touched. The set is behind a lock; `copy` holds the same entries,
/// swapped in whole after each change, for readers that may take no lock: the Redis module's RDB save and
/// AOF rewrite run in a forked child, where a lock a runner's driver held at the fork is never released.
pub struct StateSet {
    set: parking_lot::Mutex<std::collections::BTreeSet<StateEntry>>,
    copy: arc_swap::ArcSwap<Vec<StateEntry>>,
}

impl Default for StateSet {
    fn default() -> Self {
        StateSet {
            set: Default::default(),
            copy: arc_swap::ArcSwap::from_pointee(Vec::new()),
        }
    }
}

impl std::fmt::Debug for StateSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries().iter()).finish()
    }
}

impl StateSet {
    /// The set, to read or change; a change refreshes the lock-free copy when the guard drops.
    pub fn lock(&self) -> StateGuard<'_> {
        StateGuard {
            set: self.set.lock(),
            owner: self,
            changed: false,
        }
    }

    /// The entries in order, without taking the lock.
    pub fn entries(&self) -> std::sync::Arc<Vec<StateEntry>> {
        self.copy.load_full()
    }
}

/// [`StateSet::lock`]'s guard.
pub struct StateGuard<'a> {
    set: parking_lot::MutexGuard<'a, std::collections::BTreeSet<StateEntry>>,
    owner: &'a StateSet,
    changed: bool,
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = std::collections::BTreeSet<StateEntry>;
    fn deref(&self) -> &Self::Target {
        &self.set
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.changed = true;
        &mut self.set
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        if self.changed {
            let copy: Vec<StateEntry> = self.set.iter().cloned().collect();
            self.owner.copy.store(std::sync::Arc::new(copy));
        }
    }
}

thread_local! {
    /// The state of the script this thread serves callbacks for (a driver serves one script for life).
    static RECORDING: std::cell::RefCell<Option<State>> = const { std::cell::RefCell::new(None) };
    /// That script's key.
    static HOME: std::cell::RefCell<Option<Bytes>> = const { std::cell::RefCell::new(None) };
    /// The ACL user of the client whose call this thread is serving (`Session::user`).
    static CALLER: std::cell::RefCell<Option<Bytes>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` (a script call, on a runner's driver thread) with its callbacks acting as `user`: the
/// `redis.execute` commands it makes run with that client's rights.
pub fn as_caller<T>(user: Option<Bytes>, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<Bytes>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let before = self.0.take();
            CALLER.with(|c| *c.borrow_mut() = before);
        }
    }
    let _reset = Reset(CALLER.with(|c| c.replace(user)));
    f()
}

/// The user the call being served acts as ([`as_caller`]).
pub fn caller() -> Option<Bytes> {
    CALLER.with(|c| c.borrow().clone())
}

/// Makes this thread serve the callbacks of the script stored at `key`, recording what they touch into
/// `state`.
pub fn serve(key: Bytes, state: State) {
    RECORDING.with(|r| *r.borrow_mut() = Some(state));
    HOME.with(|h| *h.borrow_mut() = Some(key));
}

/// The key of the script whose callbacks this thread serves (None off a runner's driver thread).
pub fn home() -> Option<Bytes> {
    HOME.with(|h| h.borrow().clone())
}

/// Notes that the script served on this thread (if any) used a cell or pool (the host calls this).
pub fn touched(kind: &'static str, name: &[u8]) {
    RECORDING.with(|r| {
        if let Some(state) = r.borrow().as_ref() {
            let entry = (kind, Bytes::copy_from_slice(name));
            let mut set = state.lock();
            // Only a new entry changes the set (and refreshes its copy): a lookup does not.
            if !set.contains(&entry) {
                set.insert(entry);
            }
        }
    });
}
