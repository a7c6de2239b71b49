//! Configuration: one table of directives (name, kind, default, mutability, doc) from which the config file
//! parser, `--directive value` overrides, CONFIG GET/SET/REWRITE and `redis.conf.example` (checked by a
//! test) all derive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::glob;
use crate::util::parse_memory;

/// The type of a directive's value, which decides how it is parsed and shown.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// An integer accepted in `min..=max` and then clamped into `lo..=hi`, as Redis does for `hz`.
    Clamped {
        min: i64,
        max: i64,
        lo: i64,
        hi: i64,
    },
    /// A byte size with Redis's units (`1gb`, `512mb`) and a lower bound; shown as plain bytes.
    Memory {
        min: u64,
    },
    Str,
    Enum(&'static [&'static str]),
    /// `notify-keyspace-events` flag letters.
    Notify,
    /// `save`: `<seconds> <changes>` pairs, or empty for none.
    SavePoints,
}

/// One configuration directive.
#[derive(Debug)]
pub struct Directive {
    pub name: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    /// Whether CONFIG SET may change it at run time.
    pub mutable: bool,
    pub doc: &'static str,
}

pub(crate) const fn d(
    name: &'static str,
    kind: Kind,
    default: &'static str,
    mutable: bool,
    doc: &'static str,
) -> Directive {
    Directive {
        name,
        kind,
        default,
        mutable,
        doc,
    }
}

pub(crate) const INT: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};

mod directives;
pub use directives::DIRECTIVES;

/// Looks a directive up by name, case-insensitively.
/// The directives of the engine itself, which mean the same in every front end: the Redis module takes
/// them as load arguments and module configs (`ai.<name>`); the others are the standalone server's own
/// (Redis has its own of those).
pub const ENGINE_DIRECTIVES: &[&str] = &[
    "threads-per-queue",
    "intra-op-parallelism",
    "inter-op-parallelism",
    "onnx-backend",
    "onnxruntime-library",
    "model-execution-timeout",
    "model-chunk-size",
    "enable-python-scripts",
    "script-time-limit",
    "script-memory-limit",
    "script-user",
    "script-python",
    "script-venv",
    "script-python-native",
    "script-rscript",
    "dag-result-ttl",
    "snapshot-dir",
    "snapshot-store",
    "snapshot-codec",
    "loglevel",
];

pub fn directive(name: &str) -> Option<&'static Directive> {
    DIRECTIVES
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigError {
    #[error("Bad directive or wrong number of arguments")]
    Unknown(String),
    #[error("argument must be 'yes' or 'no'")]
    Bool,
    #[error("argument couldn't be parsed into an integer")]
    Int,
    #[error("argument must be between {0} and {1} inclusive")]
    Range(i64, i64),
    #[error("argument must be a memory value")]
    Memory,
    #[error("argument(s) must be one of the following: {0}")]
    Enum(String),
    #[error("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")]
    Notify,
    #[error("Invalid save parameters")]
    SavePoints,
    #[error("can't set immutable config")]
    Immutable,
}

/// Typed values the server reads on hot paths, re-derived after every change.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub requirepass: String,
    pub maxclients: usize,
    pub timeout: u64,
    pub tcp_backlog: u32,
    pub io_threads: usize,
    pub hz: u64,
    pub proto_max_bulk_len: usize,
    pub query_buffer_limit: usize,
    pub maxmemory: u64,
    pub notify: u32,
    pub slowlog_slower_than: i64,
    pub slowlog_max_len: usize,
    pub loglevel: crate::log::Level,
    pub logfile: String,
    pub repl_backlog: usize,
    pub replicaof: String,
    pub masterauth: String,
    pub masteruser: String,
    pub replica_serve_stale_data: bool,
    pub min_replicas_to_write: usize,
    pub min_replicas_max_lag: u64,
    pub repl_timeout: u64,
    pub repl_ping_replica_period: u64,
    pub threads_per_queue: usize,
    pub intra_op_parallelism: usize,
    pub inter_op_parallelism: usize,
    pub onnx_backend: crate::model::onnx::Choice,
    pub onnxruntime_library: String,
    pub model_execution_timeout: u64,
    pub model_chunk_size: usize,
    pub enable_python_scripts: bool,
    pub script_time_limit: u64,
    pub script_memory_limit: u64,
    pub script_user: String,
    pub script_python: String,
    pub script_venv: String,
    pub script_python_native: String,
    pub script_rscript: String,
    pub dag_result_ttl: u64,
    pub dir: String,
    pub dbfilename: String,
    pub save: Vec<(u64, u64)>,
    pub rdbcompression: bool,
    pub stop_writes_on_bgsave_error: bool,
    pub appendonly: bool,
    pub appendfsync: String,
    pub appendfilename: String,
    pub appenddirname: String,
    pub aof_load_truncated: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub snapshot_dir: String,
    pub snapshot_store: String,
    pub snapshot_codec: String,
}

/// The configuration: canonical text per directive plus the typed view.
#[derive(Debug, Clone)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    pub settings: Settings,
    /// The file the server was started with (CONFIG REWRITE writes it back).
    pub file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        let values = DIRECTIVES
            .iter()
            .map(|d| (d.name, d.default.to_string()))
            .collect();
        let mut c = Config {
            values,
            settings: Settings::default(),
            file: None,
        };
        c.derive();
        c
    }
}

impl Config {
    /// Loads `file` (if any) and then applies `overrides` (`--name value ...` style pairs already split).
    pub fn load(file: Option<&Path>, overrides: &[String]) -> Result<Config, String> {
        let mut c = Config::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("Can't open config file '{}': {e}", path.display()))?;
            c.apply_text(&text)?;
            c.file = Some(path.to_path_buf());
        }
        let mut text = String::new();
        for a in overrides {
            if let Some(name) = a.strip_prefix("--") {
                text.push('\n');
                text.push_str(name);
            } else {
                text.push(' ');
                text.push_str(&quote(a));
            }
        }
        c.apply_text(&text)?;
        Ok(c)
    }

    /// Applies redis.conf-style text; errors name the line like Redis's FATAL CONFIG FILE ERROR.
    pub fn apply_text(&mut self, text: &str) -> Result<(), String> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |why: String| format!(">>> 'line {}': {line}\n{why}", i + 1);
            let argv = crate::resp::request::split_args(line.as_bytes())
                .ok_or_else(|| fail("Unbalanced quotes in configuration line".into()))?;
            let name = String::from_utf8_lossy(&argv[0]).into_owned();
            let value = argv[1..]
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            if argv.len() < 2
                && !matches!(
                    directive(&name).map(|d| d.kind),
                    Some(Kind::Str | Kind::Notify | Kind::SavePoints)
                )
            {
                return Err(fail("Bad directive or wrong number of arguments".into()));
            }
            self.set_inner(&name, &value, true)
                .map_err(|e| fail(e.to_string()))?;
        }
        Ok(())
    }

    /// One directive given at start-up (the module's load arguments): immutable ones may be set too.
    pub fn set_at_start(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.set_inner(name, value, true)
    }

    /// CONFIG SET of one directive.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.set_inner(name, value, false)
    }

    fn set_inner(&mut self, name: &str, value: &str, at_start: bool) -> Result<(), ConfigError> {
        let d = directive(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        if !d.mutable && !at_start {
            return Err(ConfigError::Immutable);
        }
        let canonical = canonicalize(d, value)?;
        self.values.insert(d.name, canonical);
        self.derive();
        Ok(())
    }

    /// The canonical value of a directive.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(directive(name)?.name).map(String::as_str)
    }

    /// Every (name, value) whose name matches any of `patterns` (CONFIG GET).
    pub fn matching(&self, patterns: &[String]) -> Vec<(&'static str, String)> {
        self.values
            .iter()
            .filter(|(n, _)| {
                patterns
                    .iter()
                    .any(|p| glob::matches(p.as_bytes(), n.as_bytes(), true))
            })
            .map(|(n, v)| (*n, v.clone()))
            .collect()
    }

    /// Every directive whose value differs from its default.
    pub fn changed(&self) -> Vec<(&'static str, String)> {
        DIRECTIVES
            .iter()
            .filter_map(|d| {
                let v = &self.values[d.name];
                (canonicalize(d, d.default).ok().as_ref() != Some(v)).then(|| (d.name, v.clone()))
            })
            .collect()
    }

    /// CONFIG REWRITE: rewrites directive lines of the config file in place with current values and
    /// appends changed directives the file did not mention; comments and unknown lines are kept.
    pub fn rewrite(&self) -> Result<(), String> {
        let path = self
            .file
            .as_ref()
            .ok_or("The server is running without a config file")?;
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        let mut out = String::new();
        for line in old.lines() {
            let t = line.trim();
            let name = t.split_whitespace().next().unwrap_or("");
            match directive(name) {
                Some(d) if !t.starts_with('#') => {
                    if seen.insert(d.name) {
                        out.push_str(&format!("{} {}\n", d.name, quote(&self.values[d.name])));
                    }
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        for (name, v) in self.changed() {
            if !seen.contains(name) {
                out.push_str(&format!("{name} {}\n", quote(&v)));
            }
        }
        let tmp = path.with_extension("rewrite.tmp");
        std::fs::write(&tmp, out)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| format!("Rewriting config file: {e}"))
    }

    fn derive(&mut self) {
        let v = &self.values;
        let int = |n: &str| v[n].parse::<i64>().unwrap_or(0);
        let s = Settings {
            port: int("port") as u16,
            bind: v["bind"].split_whitespace().map(str::to_string).collect(),
            protected_mode: v["protected-mode"] == "yes",
            requirepass: v["requirepass"].clone(),
            maxclients: int("maxclients") as usize,
            timeout: int("timeout") as u64,
            tcp_backlog: int("tcp-backlog") as u32,
            io_threads: int("io-threads") as usize,
            hz: int("hz") as u64,
            proto_max_bulk_len: int("proto-max-bulk-len") as usize,
            query_buffer_limit: int("client-query-buffer-limit") as usize,
            maxmemory: int("maxmemory") as u64,
            notify: notify_flags(&v["notify-keyspace-events"]).unwrap_or(0),
            slowlog_slower_than: int("slowlog-log-slower-than"),
            slowlog_max_len: int("slowlog-max-len") as usize,
            loglevel: crate::log::Level::parse(&v["loglevel"]).unwrap_or(crate::log::Level::Notice),
            logfile: v["logfile"].clone(),
            repl_backlog: int("repl-backlog-size") as usize,
            replicaof: v["replicaof"].clone(),
            masterauth: v["masterauth"].clone(),
            masteruser: v["masteruser"].clone(),
            replica_serve_stale_data: v["replica-serve-stale-data"] == "yes",
            min_replicas_to_write: int("min-replicas-to-write") as usize,
            min_replicas_max_lag: int("min-replicas-max-lag") as u64,
            repl_timeout: int("repl-timeout") as u64,
            repl_ping_replica_period: int("repl-ping-replica-period") as u64,
            threads_per_queue: int("threads-per-queue") as usize,
            intra_op_parallelism: int("intra-op-parallelism") as usize,
            inter_op_parallelism: int("inter-op-parallelism") as usize,
            onnx_backend: crate::model::onnx::Choice::parse(&v["onnx-backend"])
                .unwrap_or(crate::model::onnx::Choice::Auto),
            onnxruntime_library: v["onnxruntime-library"].clone(),
            model_execution_timeout: int("model-execution-timeout") as u64,
            model_chunk_size: int("model-chunk-size") as usize,
            enable_python_scripts: v["enable-python-scripts"] == "yes",
            script_time_limit: int("script-time-limit") as u64,
            script_memory_limit: int("script-memory-limit") as u64,
            script_user: v["script-user"].clone(),
            script_python: v["script-python"].clone(),
            script_venv: v["script-venv"].clone(),
            script_python_native: v["script-python-native"].clone(),
            script_rscript: v["script-rscript"].clone(),
            dag_result_ttl: int("dag-result-ttl") as u64,
            dir: v["dir"].clone(),
            dbfilename: v["dbfilename"].clone(),
            save: save_points(&v["save"]).unwrap_or_default(),
            rdbcompression: v["rdbcompression"] == "yes",
            stop_writes_on_bgsave_error: v["stop-writes-on-bgsave-error"] == "yes",
            appendonly: v["appendonly"] == "yes",
            appendfsync: v["appendfsync"].clone(),
            appendfilename: v["appendfilename"].clone(),
            appenddirname: v["appenddirname"].clone(),
            aof_load_truncated: v["aof-load-truncated"] == "yes",
            auto_aof_rewrite_percentage: int("auto-aof-rewrite-percentage") as u64,
            auto_aof_rewrite_min_size: int("auto-aof-rewrite-min-size") as u64,
            snapshot_dir: v["snapshot-dir"].clone(),
            snapshot_store: v["snapshot-store"].clone(),
            snapshot_codec: v["snapshot-codec"].clone(),
        };
        self.settings = s;
    }
}

/// Quotes a value for a config line when it is empty or has spaces or quotes.
fn quote(v: &str) -> String {
    if v.is_empty() || v.contains([' ', '"', '\'', '\\']) {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        v.to_string()
    }
}

/// An integer with Redis's `string2ll` rules (no `+`, no leading zeros) inside `min..=max`.
fn int_in(value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    let n = crate::util::parse_i64(value.as_bytes()).ok_or(ConfigError::Int)?;
    if n < min || n > max {
        return Err(ConfigError::Range(min, max));
    }
    Ok(n)
}

fn canonicalize(d: &Directive, value: &str) -> Result<String, ConfigError> {
    match d.kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err(ConfigError::Bool),
        },
        Kind::Int { min, max } => Ok(int_in(value, min, max)?.to_string()),
        Kind::Clamped { min, max, lo, hi } => {
            Ok(int_in(value, min, max)?.clamp(lo, hi).to_string())
        }
        // Redis reads an empty memory value as 0.
        Kind::Memory { min } => {
            let n = if value.is_empty() {
                0
            } else {
                parse_memory(value).ok_or(ConfigError::Memory)?
            };
            if n < min || n > i64::MAX as u64 {
                return Err(ConfigError::Range(min as i64, i64::MAX));
            }
            Ok(n.to_string())
        }
        Kind::Str => Ok(value.to_string()),
        Kind::Enum(opts) => opts
            .iter()
            .find(|o| o.eq_ignore_ascii_case(value))
            .map(|o| o.to_string())
            .ok_or_else(|| ConfigError::Enum(opts.join(", "))),
        Kind::Notify => notify_flags(value)
            .map(notify_string)
            .ok_or(ConfigError::Notify),
        Kind::SavePoints => save_points(value)
            .map(|p| {
                p.iter()
                    .map(|(s, c)| format!("{s} {c}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .ok_or(ConfigError::SavePoints),
    }
}

/// `save` pairs: `3600 1 300 100` -> [(3600, 1), (300, 100)]; empty is none.
pub fn save_points(value: &str) -> Option<Vec<(u64, u64)>> {
    let nums = value
        .split_whitespace()
        .map(|w| {
            crate::util::parse_i64(w.as_bytes())
                .filter(|n| *n >= 0)
                .map(|n| n as u64)
        })
        .collect::<Option<Vec<u64>>>()?;
    if nums.len() % 2 != 0 {
        return None;
    }
    Some(nums.chunks(2).map(|c| (c[0], c[1])).collect())
}

/// Keyspace notification classes (Redis's NOTIFY_* bits).
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const KEYEVENT: u32 = 1 << 1;
    pub const GENERIC: u32 = 1 << 2;
    pub const STRING: u32 = 1 << 3;
    pub const LIST: u32 = 1 << 4;
    pub const SET: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const ZSET: u32 = 1 << 7;
    pub const EXPIRED: u32 = 1 << 8;
    pub const EVICTED: u32 = 1 << 9;
    pub const STREAM: u32 = 1 << 10;
    pub const KEY_MISS: u32 = 1 << 11;
    pub const MODULE: u32 = 1 << 12;
    pub const NEW: u32 = 1 << 13;
    /// `A`: every class but key-miss and new.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

const NOTIFY_LETTERS: [(char, u32); 13] = [
    ('g', notify::GENERIC),
    ('$', notify::STRING),
    ('l', notify::LIST),
    ('s', notify::SET),
    ('h', notify::HASH),
    ('z', notify::ZSET),
    ('x', notify::EXPIRED),
    ('e', notify::EVICTED),
    ('t', notify::STREAM),
    ('d', notify::MODULE),
    ('m', notify::KEY_MISS),
    ('n', notify::NEW),
    ('K', notify::KEYSPACE),
];

/// Parses flag letters; `None` on an unknown letter.
pub fn notify_flags(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => notify::ALL,
            'E' => notify::KEYEVENT,
            _ => NOTIFY_LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(f)
}

/// Renders flags in Redis's canonical order (`AKE`, `gxKE`, ...).
pub fn notify_string(f: u32) -> String {
    let mut s = String::new();
    if f & notify::ALL == notify::ALL {
        s.push('A');
    } else {
        for (c, bit) in &NOTIFY_LETTERS[..10] {
            if f & bit != 0 {
                s.push(*c);
            }
        }
    }
    // Redis prints `n` with the class letters and drops it after `A`; dropping it would lose the flag
    // here (the string is the stored value), so after `A` it stays.
    if f & notify::NEW != 0 {
        s.push('n');
    }
    if f & notify::KEYSPACE != 0 {
        s.push('K');
    }
    if f & notify::KEYEVENT != 0 {
        s.push('E');
    }
    if f & notify::KEY_MISS != 0 {
        s.push('m');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_overrides() {
        let dir = std::env::temp_dir().join(format!("tc-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.conf");
        std::fs::write(&f, "# c\nport 7000\nmaxmemory 1mb\nrequirepass \"a b\"\n").unwrap();
        let c = Config::load(
            Some(&f),
            &["--port".into(), "7001".into(), "--hz".into(), "20".into()],
        )
        .unwrap();
        assert_eq!(c.settings.port, 7001);
        assert_eq!(c.settings.maxmemory, 1 << 20);
        assert_eq!(c.settings.requirepass, "a b");
        assert_eq!(c.get("hz"), Some("20"));
        let err = Config::load(None, &["--nosuch".into(), "1".into()]).unwrap_err();
        assert!(err.contains("Bad directive"), "{err}");
    }

    #[test]
    fn set_validates_and_canonicalizes() {
        let mut c = Config::default();
        assert_eq!(c.set("maxclients", "x"), Err(ConfigError::Int));
        assert_eq!(c.set("port", "1"), Err(ConfigError::Immutable));
        c.set("notify-keyspace-events", "KEA").unwrap();
        assert_eq!(c.get("notify-keyspace-events"), Some("AKE"));
        c.set("notify-keyspace-events", "Kx$").unwrap();
        assert_eq!(c.get("notify-keyspace-events"), Some("$xK"));
        assert_eq!(
            c.set("notify-keyspace-events", "Q"),
            Err(ConfigError::Notify)
        );
        c.set("PROTECTED-MODE", "NO").unwrap();
        assert_eq!(c.get("protected-mode"), Some("no"));
    }

    #[test]
    fn example_file_documents_every_directive() {
        let example = include_str!("../../redis.conf.example");
        let mut documented = std::collections::HashSet::new();
        for line in example.lines() {
            let t = line.trim_start_matches('#').trim();
            if let Some(name) = t.split_whitespace().next() {
                if directive(name).is_some() && line.starts_with(name)
                    || line.starts_with(&format!("# {name} "))
                {
                    documented.insert(name.to_string());
                }
            }
        }
        for d in DIRECTIVES {
            assert!(
                documented.contains(d.name),
                "redis.conf.example lacks {}",
                d.name
            );
        }
        // And the example must load as a real config file.
        let mut c = Config::default();
        c.apply_text(example).unwrap();
    }
}
