//! Durable file writes: a file is replaced through a fsynced temporary file and a rename, so a reader or a
//! crash sees the old file or the new one, never half of one. The snapshot file, the AOF manifest and the
//! model-state snapshot directory all write this way.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Writes through a temporary file in the same directory, fsyncs it, renames it over `path` and fsyncs the
/// directory: a reader (or a crash) sees the old file or the new one, never half of one.
pub fn write_atomically(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = write_temp(path, body)?;
    install(&tmp, path)
}

/// The first half of [`write_atomically`]: the fsynced temporary file beside `path`.
pub fn write_temp(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> std::io::Result<PathBuf> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = parent_of(path).join(format!(
        "temp-{}-{}-{name}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        body(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The second half: renames the temporary file over `path` and fsyncs the directory.
pub fn install(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let result = std::fs::rename(tmp, path).and_then(|_| File::open(parent_of(path))?.sync_all());
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}
