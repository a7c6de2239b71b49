//! `tensorcell-server [config-file] [--directive value ...]`: the standalone server.

use std::path::PathBuf;

use tensorcell::config::Config;
use tensorcell::shared::{Shared, ShutdownMode};
use tensorcell::{log, notice, server, warning};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("Usage: tensorcell-server [/path/to/tensorcell.conf] [--directive value ...]");
        println!("       tensorcell-server --port 6380 --requirepass secret");
        return;
    }
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!("tensorcell-server v={}", env!("CARGO_PKG_VERSION"));
        return;
    }
    let file = match args.first() {
        Some(f) if !f.starts_with("--") => Some(PathBuf::from(args.remove(0))),
        _ => None,
    };
    let config = match Config::load(file.as_deref(), &args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "\n*** FATAL CONFIG FILE ERROR (tensorcell {}) ***\n{e}",
                env!("CARGO_PKG_VERSION")
            );
            std::process::exit(1);
        }
    };
    log::set_level(config.settings.loglevel);
    if !config.settings.logfile.is_empty() {
        if let Err(e) = log::set_file(&config.settings.logfile) {
            eprintln!("Can't open the log file {}: {e}", config.settings.logfile);
            std::process::exit(1);
        }
    }
    // The standalone node: the core plus this server's Redis commands, persistence and replication.
    let node = Box::new(tensorcell::standalone::Standalone::new());
    let shared = Shared::new(config, node);
    tensorcell::runner::check_at_start();
    // Scripts loaded from disk or received from a primary call back into this server.
    tensorcell::commands::install_script_host(shared.clone());
    // A configured replica loads as one (no begin(), expired keys kept for its primary's DEL).
    if let Err(e) = tensorcell::repl::configure(&shared) {
        eprintln!("\n*** FATAL CONFIG FILE ERROR ***\n{e}");
        std::process::exit(1);
    }
    // Load before listening: a client never sees a half-loaded keyspace.
    if let Err(e) = tensorcell::persist::start(&shared) {
        warning!("Fatal error loading the DB: {e}. Exiting.");
        std::process::exit(1);
    }
    tensorcell::persist::start_cron(&shared);
    // This runtime accepts and runs timers; connections live on the I/O threads `server::run` starts.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Can't start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async move {
        notice!(
            "tensorcell {} starting, pid={}",
            env!("CARGO_PKG_VERSION"),
            std::process::id()
        );
        let listeners = match server::bind(&shared).await {
            Ok(l) => l,
            Err(e) => {
                warning!(
                    "Failed listening on port {} (tcp): {e}",
                    shared.settings().port
                );
                return 1;
            }
        };
        for l in &listeners {
            if let Ok(a) = l.local_addr() {
                notice!("Listening on {a}");
            }
        }
        notice!("Ready to accept connections tcp");
        // After binding: a replica tells its primary the port it listens on.
        tensorcell::repl::start(&shared);
        server::run(listeners, shared.clone(), shutdown_signal()).await;
        let mode = shared.shutdown_mode.lock().unwrap_or(ShutdownMode::Default);
        tensorcell::persist::finish_shutdown(&shared, mode);
        notice!("tensorcell is now ready to exit, bye bye...");
        0
    });
    std::process::exit(code);
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
