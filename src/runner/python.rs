//! How a Python runner starts: the configured interpreter (or a virtualenv's) runs `python/runner.py`,
//! which the server compiles in and hands over on standard input, so no file needs installing and the
//! runner always matches the server.

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
    Launch {
        program: interpreter(s),
        args: vec!["-c".into(), BOOT.into(), "tensorcell-runner".into()],
        env,
        code: RUNNER.to_string(),
        transport: Transport::Socket,
        user: None,
    }
}
