//! Loading an AOF at start-up: the base (a snapshot file), then each increment replayed as effects through
//! [`super::apply::Replayer`], with torn-tail detection on the last one (`aof-load-truncated`) and refusal
//! of damage anywhere else.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;

use super::aof::{Aof, Manifest};
use super::apply::Replayer;
use crate::shared::Shared;
use crate::{notice, warning};

/// What loading an AOF found.
pub struct Loaded {
    pub manifest: Manifest,
    /// Valid length of the last increment (shorter than the file when a torn tail was skipped).
    pub valid_len: u64,
    pub base_size: u64,
    pub incr_size: u64,
    pub effects: u64,
}

/// Loads the AOF in `dir` into the (empty) keyspace; `None` when there is no manifest.
pub fn load(
    shared: &Arc<Shared>,
    dir: &Path,
    name: &str,
    truncated_ok: bool,
) -> Result<Option<Loaded>, String> {
    let mpath = Aof::manifest_path(dir, name);
    let text = match std::fs::read_to_string(&mpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest {}: {e}",
                mpath.display()
            ))
        }
    };
    let manifest = Manifest::parse(&text)?;
    let mut base_size = 0;
    if let Some((base, _)) = &manifest.base {
        let path = dir.join(base);
        base_size = std::fs::metadata(&path).map_or(0, |m| m.len());
        super::load_snapshot(shared, &path)?;
    }
    let mut replayer = Replayer::new();
    let mut valid_len = 0;
    let mut incr_size = 0;
    for (i, (incr, _)) in manifest.incrs.iter().enumerate() {
        let last = i + 1 == manifest.incrs.len();
        let path = dir.join(incr);
        valid_len = replay_file(shared, &mut replayer, &path, last && truncated_ok)?;
        incr_size += valid_len;
    }
    Ok(Some(Loaded {
        manifest,
        valid_len,
        base_size,
        incr_size,
        effects: replayer.applied,
    }))
}

/// Replays one increment; returns how many bytes of it are whole commands. A torn tail (the file ends
/// inside a command or an open MULTI) is skipped with a warning when `truncated_ok`, refused otherwise;
/// anything that is not RESP is refused.
fn replay_file(
    shared: &Arc<Shared>,
    replayer: &mut Replayer,
    path: &Path,
    truncated_ok: bool,
) -> Result<u64, String> {
    let shown = path.display();
    let mut file =
        File::open(path).map_err(|e| format!("Can't open the append-only file {shown}: {e}"))?;
    let mut parser = crate::resp::request::RequestParser::new(usize::MAX, usize::MAX);
    let mut buf = BytesMut::with_capacity(4 << 20);
    // Bytes handed to the parser so far, and the end of the last whole command: the parser keeps a
    // command it has only partly seen in its own state, so only `whole` marks a safe cut.
    let mut pos: u64 = 0;
    let mut whole: u64 = 0;
    let mut multi_at: u64 = 0;
    let mut eof = false;
    loop {
        if !eof {
            buf.reserve(4 << 20);
            let n = read_into(&mut file, &mut buf)
                .map_err(|e| format!("Reading the append-only file {shown}: {e}"))?;
            eof = n == 0;
        }
        loop {
            let before = buf.len();
            match parser.next(&mut buf) {
                Ok(Some(argv)) => {
                    let start = whole;
                    pos += (before - buf.len()) as u64;
                    whole = pos;
                    if argv[0].eq_ignore_ascii_case(b"MULTI") {
                        multi_at = start;
                    }
                    match replayer.apply(shared, argv) {
                        Ok(()) => {}
                        Err(super::apply::ApplyError::Failed(e)) => {
                            warning!("AOF {shown} at offset {start}: {e}")
                        }
                        Err(e @ super::apply::ApplyError::Stale)
                        | Err(e @ super::apply::ApplyError::Invalid(_)) => {
                            return Err(format!(
                                "Bad file format reading the append only file {shown} at offset \
                                 {start}: {e}. The AOF is corrupt: restore a backup or repair it by hand"
                            ))
                        }
                    }
                }
                Ok(None) => {
                    pos += (before - buf.len()) as u64;
                    break;
                }
                Err(e) => {
                    return Err(format!(
                        "Bad file format reading the append only file {shown} at offset {pos}: {}. \
                         The AOF is corrupt: restore a backup or repair it by hand",
                        e.0
                    ))
                }
            }
        }
        if eof {
            break;
        }
    }
    let size = std::fs::metadata(path).map_or(pos, |m| m.len());
    let torn = whole < size || replayer.in_multi();
    if !torn {
        return Ok(whole);
    }
    let valid = if replayer.in_multi() { multi_at } else { whole };
    if !truncated_ok {
        return Err(format!(
            "Unexpected end of file reading the append only file {shown} (valid up to offset {valid}). \
             You can: 1) make a backup of your AOF file, then truncate it to {valid} bytes; 2) set \
             'aof-load-truncated yes' and restart, which loads the valid part and discards the rest"
        ));
    }
    let dropped = replayer.discard_multi();
    warning!(
        "!!! Warning: short read while loading the AOF file {shown}!!! Discarding {} bytes after offset \
         {valid} ({dropped} commands of an unfinished MULTI)",
        size - valid
    );
    notice!("AOF loaded anyway because aof-load-truncated is enabled");
    Ok(valid)
}

fn read_into(file: &mut File, buf: &mut BytesMut) -> std::io::Result<usize> {
    let start = buf.len();
    buf.resize(buf.capacity(), 0);
    let n = loop {
        match file.read(&mut buf[start..]) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r,
        }
    };
    buf.truncate(start + *n.as_ref().unwrap_or(&0));
    n
}
