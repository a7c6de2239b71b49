//! How a Python runner starts: the configured interpreter (or a virtualenv's) runs `python/runner.py`,
//! which the server compiles in and hands over on standard input, so no file needs installing and the
//! runner always matches the server. Its native half (`python/native`, a Python extension built with the
//! workspace) is handed over by path: the runner loads it when it can and runs in pure Python when not.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::process::{Launch, Transport};
use super::Settings;

/// The Python runner's code.
pub const RUNNER: &str = include_str!("python/runner.py");

/// Reads the runner from standard input. The script's directory (Python puts `''`, the server's working
/// directory, first on `sys.path` for `-c`) is dropped so the server's files cannot shadow modules.
const BOOT: &str = "import sys\nif sys.path and sys.path[0] == '':\n    del sys.path[0]\n\
                    exec(compile(sys.stdin.read(), 'tensorcell_runner.py', 'exec'))";

/// The interpreter runners use: the venv's when `script-venv` is set, else `script-python`.
pub fn interpreter(s: &Settings) -> std::path::PathBuf {
    if !s.venv.is_empty() {
        return std::path::Path::new(&s.venv).join("bin").join("python");
    }
    std::path::PathBuf::from(&s.python)
}

/// The native half's file name, as cargo builds it.
pub const NATIVE_FILE: &str = "lib_tensorcell_native.so";

/// Directories searched for [`NATIVE_FILE`] when `script-python-native` is empty, besides the server
/// executable's own: a front end that is a library (the Redis module) adds its own directory.
static BESIDE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Makes runners look for the native half in `dir` too.
pub fn look_beside(dir: &Path) {
    let mut v = BESIDE.lock();
    if !v.iter().any(|d| d == dir) {
        v.push(dir.to_path_buf());
    }
}

/// The native half runners are given: `script-python-native`'s path, `no` for none, or when empty the
/// first [`NATIVE_FILE`] found beside the front end (cargo builds it there with `--workspace`).
pub fn native(s: &Settings) -> Option<PathBuf> {
    match s.native.as_str() {
        "no" => None,
        "" => {
            let exe_dir = std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf));
            BESIDE
                .lock()
                .iter()
                .cloned()
                .chain(exe_dir)
                .map(|d| d.join(NATIVE_FILE))
                .find(|p| p.is_file())
        }
        path => Some(PathBuf::from(path)),
    }
}

pub fn launch(s: &Settings) -> Launch {
    let mut env = vec![("PYTHONUNBUFFERED".to_string(), "1".to_string())];
    // One runner is one core's worth of work: scale with RUNNERS, not with BLAS threads (which also reserve
    // address space that `script-memory-limit` counts).
    for var in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] {
        if std::env::var_os(var).is_none() {
            env.push((var.to_string(), "1".to_string()));
        }
    }
    if !s.venv.is_empty() {
        env.push(("VIRTUAL_ENV".to_string(), s.venv.clone()));
    }
    if let Some(path) = native(s) {
        env.push(("TENSORCELL_NATIVE".to_string(), path.display().to_string()));
    }
    Launch {
        program: interpreter(s),
        args: vec!["-c".into(), BOOT.into(), "tensorcell-runner".into()],
        env,
        code: RUNNER.to_string(),
        transport: Transport::Socket,
        user: None,
    }
}
