//! The one command table. Dispatch, COMMAND (INFO, DOCS, COUNT, LIST, GETKEYS), the policy checks and the
//! Redis module all read it; adding a command is one row plus its handler. The core's rows are here
//! ([`CORE`]); the standalone server's Redis commands are in `redis_table.rs` and join at start-up
//! ([`install`]), so the core never names the server's own command bodies.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::flags::*;
use super::{ai, state, Handler};

/// Finds a command's key positions in its full argv.
pub type GetKeys = fn(&[bytes::Bytes]) -> Vec<usize>;

/// One command's declaration.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis convention: N = exactly N arguments (name included); -N = at least N.
    pub arity: i32,
    pub flags: u32,
    /// ACL categories, without the `@`.
    pub acl: &'static [&'static str],
    /// First key, last key (-1 = last argument), step; all 0 for no keys.
    pub keys: (i32, i32, i32),
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
    /// Container commands (CONFIG, CLIENT, ...): each subcommand's lower-case name and Redis arity (the
    /// command and subcommand names counted), checked by policy so MULTI refuses a bad one at queue time.
    pub subs: &'static [(&'static str, i32)],
    /// For commands whose keys are found by reading the arguments (RedisAI's getkeys-api; COMMAND INFO
    /// says `movablekeys`): the key positions in a full argv. `keys` then keeps RedisAI's declared range,
    /// which COMMAND INFO shows; COMMAND GETKEYS uses this.
    pub getkeys: Option<GetKeys>,
}

/// Whether `argc` satisfies a Redis arity: N = exactly N, -N = at least N.
pub fn arity_fits(arity: i32, argc: usize) -> bool {
    (arity > 0 && argc == arity as usize) || (arity < 0 && argc >= (-arity) as usize)
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        arity_fits(self.arity, argc)
    }

    /// The declared subcommand `name` (any case), with its canonical name and arity.
    pub fn sub(&self, name: &[u8]) -> Option<(&'static str, i32)> {
        self.subs
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .copied()
    }

    /// Indexes of the key arguments in `argv` (COMMAND GETKEYS, and later cluster routing).
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let (first, last, step) = self.keys;
        if first <= 0 || step <= 0 {
            return vec![];
        }
        let last = if last < 0 {
            argc as i32 + last
        } else {
            last.min(argc as i32 - 1)
        };
        (first..=last)
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, [$($acl:literal),*], ($f:expr, $l:expr, $s:expr), $group:literal, $since:literal, $summary:literal, $h:path) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: &[$($acl),*],
            keys: ($f, $l, $s),
            group: $group,
            since: $since,
            summary: $summary,
            handler: $h,
            subs: &[],
            getkeys: None,
        }
    };
    ($name:literal, $arity:expr, $flags:expr, [$($acl:literal),*], ($f:expr, $l:expr, $s:expr), $group:literal, $since:literal, $summary:literal, $h:path, subs [$(($sn:literal, $sa:expr)),*]) => {
        CommandSpec {
            subs: &[$(($sn, $sa)),*],
            ..cmd!($name, $arity, $flags, [$($acl),*], ($f, $l, $s), $group, $since, $summary, $h)
        }
    };
}

pub(crate) use cmd;

pub const RW: u32 = WRITE | DENYOOM;

/// The engine core's commands: the AI.* commands, cells and pools. Both front ends serve these; the
/// standalone server adds the Redis commands ([`install`]).
#[rustfmt::skip]
pub static CORE: &[CommandSpec] = &[
    // AI tensors
    cmd!("ai.tensorset", -4, RW, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Stores a tensor.", ai::tensorset),
    cmd!("ai.tensorget", -2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "1.0.0", "Returns a tensor's metadata, blob or values.", ai::tensorget),
    // AI models (loads and runs happen on the worker pool; see src/exec)
    cmd!("ai.modelstore", -6, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.2.0", "Stores an ONNX model.", ai::modelstore),
    cmd!("ai.modelset", -4, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Stores a model (deprecated syntax).", ai::modelset),
    cmd!("ai.modelget", -2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "1.0.0", "Returns a model's metadata and blob.", ai::modelget),
    cmd!("ai.modeldel", 2, WRITE, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Deletes a model.", ai::modeldel),
    CommandSpec { getkeys: Some(ai::keys::modelexecute), ..cmd!("ai.modelexecute", -8, RW | BLOCKING, ["write", "ai"], (4, 4, 1), "ai", "1.2.0", "Runs a model and stores its outputs.", ai::modelexecute) },
    CommandSpec { getkeys: Some(ai::keys::modelrun), ..cmd!("ai.modelrun", -6, RW | BLOCKING, ["write", "ai"], (3, 3, 1), "ai", "1.0.0", "Runs a model (deprecated syntax).", ai::modelrun) },
    cmd!("ai._modelscan", 1, READONLY, ["read", "ai"], (0, 0, 0), "ai", "1.2.0", "Lists models and their tags (experimental).", ai::modelscan),
    cmd!("ai.info", -2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "1.0.0", "Returns or resets a model's or script's run statistics.", ai::info),
    cmd!("ai.config", -2, WRITE, ["write", "ai"], (0, 0, 0), "ai", "1.0.0", "Reads or changes RedisAI settings (BACKENDSPATH, LOADBACKEND, MODEL_CHUNK_SIZE, GET) and a script's runner count (SCRIPT_RUNNERS).", ai::config),
    // AI scripts (Python; compiled and run on the worker pool)
    cmd!("ai._scriptstate", -2, WRITE | ADMIN, ["write", "ai"], (1, 1, 1), "ai", "1.2.0", "Sets the cells and pools a script's snapshots cover (the effect that carries a script's state list).", ai::scriptstate),
    cmd!("ai.snapshot", -2, WRITE | BLOCKING, ["write", "ai"], (2, 2, 1), "ai", "1.2.0", "Saves, lists, restores or deletes snapshots of a script's state (its cells and pools).", ai::snapshot, subs [("save", -3), ("list", -3), ("restore", -3), ("del", 4), ("help", 2)]),
    cmd!("ai.scriptstore", -8, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.2.0", "Stores a script (Python or R) with its entry points and runner count.", ai::scriptstore),
    cmd!("ai.scriptset", -5, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Stores a script (deprecated syntax).", ai::scriptset),
    cmd!("ai.scriptget", -2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "1.0.0", "Returns a script's metadata and source.", ai::scriptget),
    cmd!("ai.scriptdel", 2, WRITE, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Deletes a script.", ai::scriptdel),
    CommandSpec { getkeys: Some(ai::keys::scriptexecute), ..cmd!("ai.scriptexecute", -3, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.2.0", "Runs a script function and stores its outputs.", ai::scriptexecute) },
    CommandSpec { getkeys: Some(ai::keys::scriptrun), ..cmd!("ai.scriptrun", -4, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Runs a script function (deprecated syntax).", ai::scriptrun) },
    cmd!("ai._scriptscan", 1, READONLY, ["read", "ai"], (0, 0, 0), "ai", "1.2.0", "Lists scripts and their tags (experimental).", ai::scriptscan),
    cmd!("ai.score", -4, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "0.1.0", "Runs a FastScore-style model over records.", ai::score),
    // DAGs (the |> form; src/commands/ai/dag.rs)
    CommandSpec { getkeys: Some(ai::keys::dag), ..cmd!("ai.dagexecute", -2, RW | BLOCKING, ["write", "ai"], (3, 3, 1), "ai", "1.2.0", "Runs a DAG of tensor, model and script ops in one round trip.", ai::dagexecute) },
    CommandSpec { getkeys: Some(ai::keys::dag), ..cmd!("ai.dagexecute_ro", -2, READONLY | BLOCKING, ["read", "ai"], (3, 3, 1), "ai", "1.2.0", "Runs a read-only DAG (no PERSIST, no scripts).", ai::dagexecute_ro) },
    CommandSpec { getkeys: Some(ai::keys::dagrun), ..cmd!("ai.dagrun", -2, RW | BLOCKING, ["write", "ai"], (3, 3, 1), "ai", "1.0.0", "Runs a DAG (deprecated syntax).", ai::dagrun) },
    CommandSpec { getkeys: Some(ai::keys::dagrun), ..cmd!("ai.dagrun_ro", -2, READONLY | BLOCKING, ["read", "ai"], (3, 3, 1), "ai", "1.0.0", "Runs a read-only DAG (deprecated syntax).", ai::dagrun_ro) },
    CommandSpec { getkeys: Some(ai::keys::dagrun), ..cmd!("ai.dagrunro", -2, READONLY | BLOCKING, ["read", "ai"], (3, 3, 1), "ai", "0.1.0", "AI.DAGRUN_RO under its original name.", ai::dagrunro) },
    CommandSpec { getkeys: Some(ai::keys::dagrun), ..cmd!("ai.dagrunasync", -2, RW, ["write", "ai"], (0, 0, 0), "ai", "0.1.0", "Starts a DAG in the background and returns its id.", ai::dagrunasync) },
    cmd!("ai.dagstatus", 2, READONLY | FAST, ["read", "ai", "fast"], (0, 0, 0), "ai", "0.1.0", "Reports an asynchronous DAG's status.", ai::dagstatus),
    cmd!("ai.dagresult", -2, READONLY, ["read", "ai"], (0, 0, 0), "ai", "0.1.0", "Returns an asynchronous DAG's reply, optionally waiting for it.", ai::dagresult),
    cmd!("ai.dagcancel", 2, WRITE, ["write", "ai"], (0, 0, 0), "ai", "0.1.0", "Cancels an asynchronous DAG before it commits.", ai::dagcancel),
    // cells and pools: shared model state (src/state)
    cmd!("ai.cellset", 3, RW, ["write", "ai"], (1, 1, 1), "ai", "0.1.0", "Sets a cell's JSON value.", state::cellset),
    cmd!("ai.cellget", 2, READONLY | FAST, ["read", "ai", "fast"], (1, 1, 1), "ai", "0.1.0", "Returns a cell's JSON value.", state::cellget),
    cmd!("ai.poolset", -4, RW, ["write", "ai"], (1, 1, 1), "ai", "0.1.0", "Sets fields of a pool to JSON values.", state::poolset),
    cmd!("ai.poolget", 3, READONLY | FAST, ["read", "ai", "fast"], (1, 1, 1), "ai", "0.1.0", "Returns one field of a pool.", state::poolget),
    cmd!("ai.pooldel", -3, WRITE, ["write", "ai"], (1, 1, 1), "ai", "0.1.0", "Removes fields from a pool.", state::pooldel),
    cmd!("ai.poolkeys", 2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "0.1.0", "Lists a pool's fields.", state::poolkeys),
    cmd!("ai.poolgetall", 2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "0.1.0", "Returns every field and value of a pool.", state::poolgetall),
    cmd!("ai.poollen", 2, READONLY | FAST, ["read", "ai", "fast"], (1, 1, 1), "ai", "0.1.0", "Counts a pool's fields.", state::poollen),
];

/// Every command of this front end: the rows installed by the front end, then the core's.
struct Registry {
    extra: &'static [CommandSpec],
    index: HashMap<&'static str, &'static CommandSpec>,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

fn registry() -> &'static Registry {
    REGISTRY.get_or_init(|| registry_of(&[]))
}

fn registry_of(extra: &'static [CommandSpec]) -> Registry {
    Registry {
        extra,
        index: extra.iter().chain(CORE).map(|c| (c.name, c)).collect(),
    }
}

/// Adds a front end's own commands (the standalone server's Redis commands) to the core's. Called once,
/// before any command is looked up: a table read before it would lack them, which is a bug, so it panics.
pub fn install(extra: &'static [CommandSpec]) {
    let r = REGISTRY.get_or_init(|| registry_of(extra));
    assert!(
        std::ptr::eq(r.extra, extra),
        "the command table was read before the front end installed its commands"
    );
}

/// Every command, in table order.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    registry().extra.iter().chain(CORE)
}

/// How many commands there are.
pub fn count() -> usize {
    registry().extra.len() + CORE.len()
}

/// A command's position in [`all`] (its row of per-command statistics).
pub fn index_of(spec: &CommandSpec) -> usize {
    let extra = registry().extra;
    let at = |rows: &[CommandSpec]| {
        let base = rows.as_ptr() as usize;
        let p = spec as *const CommandSpec as usize;
        (p >= base && p < base + std::mem::size_of_val(rows))
            .then(|| (p - base) / std::mem::size_of::<CommandSpec>())
    };
    at(extra)
        .or_else(|| at(CORE).map(|i| extra.len() + i))
        .expect("every CommandSpec is a row of the table")
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if name.len() > 32 {
        return None;
    }
    let mut buf = [0u8; 32];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    registry()
        .index
        .get(std::str::from_utf8(lower).ok()?)
        .copied()
}
