//! How an R runner starts: `Rscript` (`script-rscript`) runs `r/runner.R`, which the server compiles in,
//! with the `fastscore` R library (`r/fastscore.R`) in front of it, over two pipes (R opens descriptors by
//! path, and Linux refuses that for sockets). R cannot cap its own address space or ask to die with its
//! parent, so `sh` (`ulimit -v`, for `script-memory-limit`) and util-linux's `setpriv --pdeathsig` do it
//! before R starts.

use super::process::{Launch, Transport};
use super::Settings;

/// The R runner's code.
pub const RUNNER: &str = include_str!("r/runner.R");
/// The `fastscore` R library models attach with `library(fastscore)`.
pub const FASTSCORE: &str = include_str!("r/fastscore.R");

/// Reads the runner (a `u32` length, then the code) from standard input and runs it.
const BOOT: &str = ".tc_in <- file('stdin', 'rb'); .tc_n <- readBin(.tc_in, 'integer', 1, size = 4, \
                    endian = 'little'); eval(parse(text = rawToChar(readBin(.tc_in, 'raw', .tc_n)), \
                    keep.source = FALSE), envir = globalenv())";

const SETPRIV: &str = "/usr/bin/setpriv";

pub fn launch(s: &Settings) -> Launch {
    let mut argv: Vec<String> = Vec::new();
    if std::path::Path::new(SETPRIV).exists() {
        argv.extend([
            SETPRIV.into(),
            "--pdeathsig".into(),
            "KILL".into(),
            "--".into(),
        ]);
    }
    argv.extend([
        s.rscript.clone(),
        "-e".into(),
        BOOT.into(),
        "tensorcell-runner".into(),
    ]);
    let (program, args) = if s.memory_limit > 0 {
        let kb = s.memory_limit.div_ceil(1024);
        let mut args = vec![
            "-c".to_string(),
            format!("ulimit -v {kb} || exit 70; exec \"$@\""),
            "tensorcell-runner".to_string(),
        ];
        args.extend(argv);
        ("/bin/sh".into(), args)
    } else {
        let program = argv.remove(0);
        (program.into(), argv)
    };
    // The library first, as a raw string the runner parses into package:fastscore.
    let code = format!(".tc_fastscore_src <- r\"---({FASTSCORE})---\"\n{RUNNER}");
    Launch {
        program,
        args,
        // UTF-8 whatever the server's locale: headers are UTF-8 JSON.
        env: vec![
            ("R_LIBS_USER".into(), String::new()),
            ("LC_ALL".into(), "C.UTF-8".into()),
        ],
        code,
        transport: Transport::Pipes,
        user: None,
    }
}
