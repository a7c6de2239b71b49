//! Model-state snapshots (FastScore/Veles): a script's state (the cells and pools it touched) saved under an
//! 8-character id, compressed with a chosen codec, in a store: a directory (`<snapshot-dir>/<hex key>/
//! <created-ms>-<id>.<codec>`) or an SQLite database with Veles's columns. The data is the same container
//! as the snapshot file (magic `TCSTATE`), so it is versioned and checksummed, never pickled.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::codec::container::{self, Reader, Writer};
use crate::codec::records::{entry_of, record_of, Record};
use crate::codec::Codec;
use crate::keyspace::Entry;

pub const STATE_MAGIC: &[u8; 8] = b"TCSTATE\0";

/// One stored snapshot, as LIST shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub id: String,
    pub created: u64,
    pub codec: Codec,
    pub size: u64,
}

/// Why a snapshot operation failed; the command maps these to its error replies.
#[derive(Debug, thiserror::Error)]
pub enum SnapError {
    #[error("no such snapshot")]
    NotFound,
    #[error("snapshot id prefix is ambiguous")]
    Ambiguous,
    #[error("snapshot is corrupt")]
    Corrupt,
    #[error("snapshot store: {0}")]
    Store(String),
}

/// The first record of a state snapshot: which script, and the state list (so RESTORE also deletes what
/// did not exist when the snapshot was taken).
#[derive(Debug, Serialize, Deserialize)]
struct StateHeader {
    script: serde_bytes::ByteBuf,
    created_ms: u64,
    state: Vec<(String, serde_bytes::ByteBuf)>,
}

/// What a snapshot holds once decoded: the state list, and the entries that existed.
pub struct Decoded {
    pub state: Vec<(String, Bytes)>,
    pub entries: Vec<(Bytes, Entry)>,
}

/// Encodes a script's state: `present` are the state keys that exist (cells and pools).
pub fn encode(
    script: &[u8],
    state: &[(String, Bytes)],
    present: &[(Bytes, Entry)],
    codec: Codec,
    created_ms: u64,
) -> std::io::Result<Vec<u8>> {
    let mut w = Writer::new(Vec::new(), STATE_MAGIC, codec)?;
    w.record(&StateHeader {
        script: serde_bytes::ByteBuf::from(script.to_vec()),
        created_ms,
        state: state
            .iter()
            .map(|(k, n)| (k.clone(), serde_bytes::ByteBuf::from(n.to_vec())))
            .collect(),
    })?;
    for (k, e) in present {
        w.record(&record_of(k, e))?;
    }
    w.finish()
}

/// Decodes a snapshot; any damage (bad magic, codec, checksum, record) is [`SnapError::Corrupt`].
pub fn decode(data: &[u8]) -> Result<Decoded, SnapError> {
    let corrupt = |_| SnapError::Corrupt;
    let mut r = Reader::open(data, STATE_MAGIC, "state snapshot").map_err(corrupt)?;
    let header: StateHeader = r
        .next_record()
        .map_err(corrupt)?
        .ok_or(SnapError::Corrupt)?;
    let mut entries = Vec::new();
    while let Some(frame) = r.next_frame().map_err(corrupt)? {
        let rec: Record<'_> = container::decode(&frame).map_err(corrupt)?;
        if !matches!(rec, Record::Cell { .. } | Record::Pool { .. }) {
            return Err(SnapError::Corrupt);
        }
        entries.push(
            entry_of(rec, &frame, crate::model::Threads { intra: 1, inter: 1 })
                .map_err(|_| SnapError::Corrupt)?,
        );
    }
    Ok(Decoded {
        state: header
            .state
            .into_iter()
            .map(|(k, n)| (k, Bytes::from(n.into_vec())))
            .collect(),
        entries,
    })
}

/// A fresh id: 8 characters of `[a-z0-9]`.
pub fn new_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..8)
        .map(|_| CHARS[fastrand::usize(..CHARS.len())] as char)
        .collect()
}

/// Where snapshots live (`snapshot-store`, `snapshot-dir`).
pub enum Store {
    Dir(PathBuf),
    Sqlite(PathBuf),
}

impl Store {
    /// The configured store: `snapshot-store sqlite:<path>`, else `snapshot-dir` (default `<dir>/snapshots`).
    pub fn configured(s: &crate::config::Settings) -> Store {
        if let Some(path) = s.snapshot_store.strip_prefix("sqlite:") {
            return Store::Sqlite(Path::new(&s.dir).join(path));
        }
        if s.snapshot_dir.is_empty() {
            Store::Dir(Path::new(&s.dir).join("snapshots"))
        } else {
            Store::Dir(PathBuf::from(&s.snapshot_dir))
        }
    }

    pub fn put(
        &self,
        workflow: &[u8],
        meta: &Meta,
        log_id: u64,
        data: &[u8],
    ) -> Result<(), SnapError> {
        let err = |e: String| SnapError::Store(e);
        match self {
            Store::Dir(root) => {
                let dir = root.join(hex(workflow));
                std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
                let path = dir.join(format!(
                    "{}-{}.{}",
                    meta.created,
                    meta.id,
                    meta.codec.name()
                ));
                crate::codec::file::write_atomically(&path, |w| std::io::Write::write_all(w, data))
                    .map_err(|e| err(e.to_string()))
            }
            Store::Sqlite(path) => {
                let db = open_sqlite(path)?;
                db.execute(
                    "INSERT INTO snapshots (timestamp, id, log_id, workflow, name, codec, data) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![
                        meta.created as i64,
                        meta.id,
                        log_id as i64,
                        workflow,
                        String::from_utf8_lossy(workflow),
                        meta.codec.name(),
                        data
                    ],
                )
                .map_err(|e| err(e.to_string()))?;
                Ok(())
            }
        }
    }

    /// Every snapshot of `workflow`, newest first.
    pub fn list(&self, workflow: &[u8]) -> Result<Vec<Meta>, SnapError> {
        let err = |e: String| SnapError::Store(e);
        let mut out = match self {
            Store::Dir(root) => {
                let dir = root.join(hex(workflow));
                let rd = match std::fs::read_dir(&dir) {
                    Ok(rd) => rd,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(err(e.to_string())),
                };
                let mut v = Vec::new();
                for entry in rd.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let Some(meta) = parse_file_name(&name) else {
                        continue;
                    };
                    let size = entry.metadata().map_or(0, |m| m.len());
                    v.push(Meta { size, ..meta });
                }
                v
            }
            Store::Sqlite(path) => {
                let db = open_sqlite(path)?;
                let mut st = db
                    .prepare(
                        "SELECT id, timestamp, codec, length(data) FROM snapshots WHERE workflow = ?1",
                    )
                    .map_err(|e| err(e.to_string()))?;
                let rows = st
                    .query_map([workflow], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    })
                    .map_err(|e| err(e.to_string()))?;
                let mut v = Vec::new();
                for row in rows {
                    let (id, ts, codec, size) = row.map_err(|e| err(e.to_string()))?;
                    let Some(codec) = Codec::parse(codec.as_bytes()) else {
                        continue;
                    };
                    v.push(Meta {
                        id,
                        created: ts as u64,
                        codec,
                        size: size as u64,
                    });
                }
                v
            }
        };
        out.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// The one snapshot whose id is `prefix` or starts with it (the newest when `prefix` is `None`).
    pub fn resolve(&self, workflow: &[u8], prefix: Option<&str>) -> Result<Meta, SnapError> {
        let all = self.list(workflow)?;
        let Some(prefix) = prefix else {
            return all.into_iter().next().ok_or(SnapError::NotFound);
        };
        if let Some(exact) = all.iter().find(|m| m.id == prefix) {
            return Ok(exact.clone());
        }
        let mut matching = all.into_iter().filter(|m| m.id.starts_with(prefix));
        match (matching.next(), matching.next()) {
            (Some(m), None) => Ok(m),
            (None, _) => Err(SnapError::NotFound),
            (Some(_), Some(_)) => Err(SnapError::Ambiguous),
        }
    }

    pub fn get(&self, workflow: &[u8], meta: &Meta) -> Result<Vec<u8>, SnapError> {
        let err = |e: String| SnapError::Store(e);
        match self {
            Store::Dir(root) => std::fs::read(root.join(hex(workflow)).join(file_name(meta)))
                .map_err(|e| err(e.to_string())),
            Store::Sqlite(path) => open_sqlite(path)?
                .query_row(
                    "SELECT data FROM snapshots WHERE workflow = ?1 AND id = ?2",
                    rusqlite::params![workflow, meta.id],
                    |r| r.get(0),
                )
                .map_err(|e| err(e.to_string())),
        }
    }

    pub fn delete(&self, workflow: &[u8], meta: &Meta) -> Result<(), SnapError> {
        let err = |e: String| SnapError::Store(e);
        match self {
            Store::Dir(root) => {
                std::fs::remove_file(root.join(hex(workflow)).join(file_name(meta)))
                    .map_err(|e| err(e.to_string()))
            }
            Store::Sqlite(path) => open_sqlite(path)?
                .execute(
                    "DELETE FROM snapshots WHERE workflow = ?1 AND id = ?2",
                    rusqlite::params![workflow, meta.id],
                )
                .map(|_| ())
                .map_err(|e| err(e.to_string())),
        }
    }
}

fn file_name(m: &Meta) -> String {
    format!("{}-{}.{}", m.created, m.id, m.codec.name())
}

/// `<created>-<id>.<codec>` back into its parts (other files in the directory are ignored).
fn parse_file_name(name: &str) -> Option<Meta> {
    let (stem, codec) = name.rsplit_once('.')?;
    let (created, id) = stem.split_once('-')?;
    Some(Meta {
        id: id.to_string(),
        created: created.parse().ok()?,
        codec: Codec::parse(codec.as_bytes())?,
        size: 0,
    })
}

/// Directory name of a script key: any bytes are allowed in keys, not in file names.
fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

fn open_sqlite(path: &Path) -> Result<rusqlite::Connection, SnapError> {
    let err = |e: rusqlite::Error| SnapError::Store(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SnapError::Store(e.to_string()))?;
    }
    let db = rusqlite::Connection::open(path).map_err(err)?;
    db.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS snapshots (timestamp INTEGER NOT NULL, id TEXT NOT NULL, \
         log_id INTEGER, workflow BLOB NOT NULL, name TEXT, codec TEXT NOT NULL, data BLOB NOT NULL); \
         CREATE INDEX IF NOT EXISTS snapshots_workflow ON snapshots (workflow, timestamp);",
    )
    .map_err(err)?;
    Ok(db)
}

/// Takes a snapshot of `script`'s state at `key` now (AI.SNAPSHOT SAVE, and AI.SCORE ... EOF for scripts
/// that say `fastscore.snapshots: eof`): the state is captured under the lock, encoded and stored off it.
pub fn save_state(
    shared: &crate::shared::Shared,
    key: &[u8],
    script: &crate::script::Script,
    codec: Codec,
) -> Result<Meta, SnapError> {
    let state: Vec<(String, Bytes)> = script
        .state
        .lock()
        .iter()
        .map(|(k, n)| (k.to_string(), n.clone()))
        .collect();
    let now = crate::util::now_ms();
    // Through the front end's keys (the engine's, or Redis's in the module), under its lock.
    let (mut present, mut offset) = (Vec::new(), 0);
    shared.node.read(shared, &mut |store| {
        offset = store.log_offset();
        present = state
            .iter()
            .filter_map(|(_, n)| {
                let value = store.get(n)?.clone();
                matches!(
                    value,
                    crate::keyspace::Value::Cell(_) | crate::keyspace::Value::Pool(_)
                )
                .then(|| {
                    let expire_at = store.expire_at(n);
                    (n.clone(), Entry { value, expire_at })
                })
            })
            .collect();
    });
    let data =
        encode(key, &state, &present, codec, now).map_err(|e| SnapError::Store(e.to_string()))?;
    let meta = Meta {
        id: new_id(),
        created: now,
        codec,
        size: data.len() as u64,
    };
    Store::configured(&shared.settings()).put(key, &meta, offset, &data)?;
    Ok(meta)
}

/// Writes a decoded snapshot back, all at once under the lock: each cell and pool of the state list gets its
/// saved value, and one that did not exist when the snapshot was taken is deleted. The writes propagate as
/// effects (`AI.CELLSET`, `DEL` + `AI.POOLSET`), so the AOF and replicas follow.
pub fn restore_state(shared: &crate::shared::Shared, d: Decoded) {
    use crate::commands::{Effects, Events};
    use crate::keyspace::Value;
    let word = |s: &'static str| Bytes::from_static(s.as_bytes());
    crate::commands::dispatch::commit(shared, Some(()), move |db| {
        let mut effects = Effects::new();
        let mut saved: std::collections::HashMap<Bytes, Entry> = d.entries.into_iter().collect();
        for (_, name) in d.state {
            match saved.remove(&name) {
                Some(e) => {
                    match &e.value {
                        Value::Cell(c) => effects.push(vec![
                            word("AI.CELLSET"),
                            name.clone(),
                            crate::state::text(&c.value),
                        ]),
                        Value::Pool(p) => {
                            effects.push(vec![word("DEL"), name.clone()]);
                            if !p.fields.is_empty() {
                                let mut argv = vec![word("AI.POOLSET"), name.clone()];
                                for (f, v) in &p.fields {
                                    argv.push(f.clone());
                                    argv.push(crate::state::text(v));
                                }
                                effects.push(argv);
                            }
                        }
                        _ => continue,
                    }
                    db.set(name, e.value);
                }
                None => {
                    if db.remove(&name) {
                        effects.push(vec![word("DEL"), name]);
                    }
                }
            }
        }
        ((), effects, Events::new())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_ids_are_lowercase_alphanumeric() {
        let m = Meta {
            id: new_id(),
            created: 1_700_000_000_123,
            codec: Codec::Xz,
            size: 0,
        };
        assert_eq!(m.id.len(), 8);
        assert!(m
            .id
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        assert_eq!(parse_file_name(&file_name(&m)), Some(m));
        assert_eq!(parse_file_name("temp-1-2-x"), None);
    }
}
