//! The standalone front end: tokio listeners, one task per connection, signals, the active expiry timer
//! and graceful shutdown. Everything here is I/O; commands run through `commands::execute`.
//!
//! Threads: the runtime that calls [`run`] accepts connections and runs timers; connections are dealt
//! round-robin to `io-threads` I/O threads, each with a current-thread runtime of its own. Why not tokio's
//! work-stealing scheduler: a pipelined client's batch is short, CPU-bound work, and waking idle workers to
//! steal it cost more (futex wake-ups) than it saved, measured at -P 16 on two cores.

mod conn;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};

use crate::shared::Shared;
use crate::{notice, warning};

/// Binds every `bind` address on the configured port (`port 0`: the OS picks one, the same for all).
pub async fn bind(shared: &Shared) -> std::io::Result<Vec<TcpListener>> {
    let s = shared.settings();
    let mut port = s.port;
    let mut out = Vec::new();
    for addr in &s.bind {
        let addr = addr.trim_start_matches('-');
        let sock: SocketAddr = format!("{addr}:{port}")
            .parse()
            .or_else(|_| format!("[{addr}]:{port}").parse())
            .map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("bad bind address {addr}: {e}"),
                )
            })?;
        let socket = if sock.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(sock)?;
        let l = socket.listen(s.tcp_backlog)?;
        port = l.local_addr()?.port();
        out.push(l);
    }
    shared.port.store(port, Ordering::Relaxed);
    Ok(out)
}

/// Serves clients until `shutdown` completes or a client sends SHUTDOWN; returns once every connection has
/// finished its current command and closed.
///
/// # Cancel safety
/// Meant to be awaited to completion; dropping it early drops the listeners and leaves connection tasks to
/// end on their own.
pub async fn run(
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) {
    // Dropping `stop_tx` tells every connection to stop; the last `done_tx` clone dropping tells us they have.
    let (stop_tx, _) = broadcast::channel::<()>(1);
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let (cmd_stop_tx, mut cmd_stop_rx) = mpsc::unbounded_channel::<()>();
    shared.on_shutdown(Box::new(move |_mode| {
        let _ = cmd_stop_tx.send(());
    }));

    let expiry = tokio::spawn(active_expiry(shared.clone()));
    let workers = Arc::new(IoThreads::start(shared.settings().io_threads));
    let mut accepts = Vec::new();
    for l in listeners {
        let shared = shared.clone();
        let stop_tx = stop_tx.clone();
        let done_tx = done_tx.clone();
        let workers = workers.clone();
        accepts.push(tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let Ok(stream) = stream.into_std() else {
                            continue;
                        };
                        let shared = shared.clone();
                        let stop = stop_tx.subscribe();
                        let done = done_tx.clone();
                        workers.next().spawn(async move {
                            // Registers the socket with this I/O thread's reactor.
                            if let Ok(stream) = tokio::net::TcpStream::from_std(stream) {
                                conn::serve(stream, peer, shared, stop).await;
                            }
                            drop(done);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        warning!("Accepting client connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    drop(done_tx);

    tokio::select! {
        _ = shutdown => notice!("Received SIGTERM scheduling shutdown..."),
        _ = cmd_stop_rx.recv() => notice!("User requested shutdown..."),
    }
    for a in &accepts {
        a.abort();
    }
    expiry.abort();
    drop(stop_tx);
    // Connections end after their current command; do not wait forever on a stuck peer.
    let _ = tokio::time::timeout(Duration::from_secs(10), done_rx.recv()).await;
    drop(accepts);
    if let Ok(w) = Arc::try_unwrap(workers) {
        w.stop();
    }
}

/// The I/O threads: each runs a current-thread runtime until told to stop.
struct IoThreads {
    handles: Vec<tokio::runtime::Handle>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: std::sync::atomic::AtomicUsize,
}

impl IoThreads {
    fn start(n: usize) -> IoThreads {
        let mut t = IoThreads {
            handles: vec![],
            stops: vec![],
            threads: vec![],
            next: Default::default(),
        };
        for i in 0..n.max(1) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("I/O thread runtime");
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            t.handles.push(rt.handle().clone());
            t.stops.push(stop_tx);
            t.threads.push(
                std::thread::Builder::new()
                    .name(format!("io-{i}"))
                    .spawn(move || {
                        rt.block_on(async {
                            let _ = stop_rx.await;
                        });
                    })
                    .expect("spawn I/O thread"),
            );
        }
        t
    }

    /// The runtime of the next I/O thread, round-robin.
    fn next(&self) -> &tokio::runtime::Handle {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.handles[i % self.handles.len()]
    }

    fn stop(self) {
        for s in self.stops {
            let _ = s.send(());
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The active expiry cycle: `hz` times a second, delete keys whose time has passed, in bounded batches so the
/// lock is never held long.
async fn active_expiry(shared: Arc<Shared>) {
    loop {
        let hz = shared.settings().hz.max(1);
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        if !shared.active_expire.load(Ordering::Relaxed) {
            continue;
        }
        loop {
            let done = crate::commands::dispatch::expire_cycle(&shared, 200);
            if done < 200 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
