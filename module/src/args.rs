//! Load-time arguments: `--loadmodule libtensorcell_module.so [NAME value ...]`. RedisAI's names
//! (THREADS_PER_QUEUE, MODEL_EXECUTION_TIMEOUT, INTRA_OP_PARALLELISM, INTER_OP_PARALLELISM, BACKENDSPATH,
//! MODEL_CHUNK_SIZE) and the standalone server's AI directives (`script-time-limit 5000`, in either
//! spelling), checked by the core's directive table. Redis's own settings belong in redis.conf.

use tensorcell::config::{Config, ENGINE_DIRECTIVES};

/// What the arguments set.
pub struct Loaded {
    pub config: Config,
    pub backends_path: String,
}

/// Parses the arguments; an error names the argument and why.
pub fn parse(args: &[String]) -> Result<Loaded, String> {
    if args.len() % 2 == 1 {
        return Err(format!(
            "arguments come in NAME value pairs: '{}' has no value",
            args[args.len() - 1]
        ));
    }
    let mut config = Config::default();
    let mut backends_path = String::new();
    for pair in args.chunks(2) {
        let (name, value) = (&pair[0], &pair[1]);
        let canonical = name.to_ascii_lowercase().replace('_', "-");
        match canonical.as_str() {
            "backendspath" => backends_path = value.clone(),
            // RedisAI's `ONNX <path>`: the backend to load at start (here libonnxruntime.so itself).
            "onnx" => config
                .set_at_start("onnxruntime-library", value)
                .map_err(|e| format!("{name} {value}: {e}"))?,
            d if ENGINE_DIRECTIVES.contains(&d) => config
                .set_at_start(d, value)
                .map_err(|e| format!("{name} {value}: {e}"))?,
            _ => {
                return Err(format!(
                    "unknown argument '{name}' (Redis's own settings belong in redis.conf)"
                ))
            }
        }
    }
    Ok(Loaded {
        config,
        backends_path,
    })
}
