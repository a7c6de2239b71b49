//! The append-only file, Redis 7's multi-part layout: in `<dir>/<appenddirname>`, a manifest
//! (`<appendfilename>.manifest`) lists one base file (a snapshot, `<name>.<seq>.base.tcs`) and the
//! incremental files after it (`<name>.<seq>.incr.aof`, effects as RESP commands). Start-up loads the base
//! and replays the increments; a rewrite writes a new base from a capture of the keyspace while new effects
//! already go to a new increment, then switches the manifest (written to a temporary file and renamed, so
//! the switch is atomic).
//!
//! Effects reach the file through [`AofSink`], which only copies bytes into a buffer (it runs under the
//! keyspace lock); a writer thread writes and fsyncs them, grouping whatever arrived meanwhile into one
//! write (group commit). Under `appendfsync always` a client's reply waits (asynchronously) until the
//! writer has fsynced past its last effect: see [`Aof::when_synced`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::codec::Codec;
use crate::effects::{Effect, EffectSink};
use crate::shared::{Engine, Shared};
use crate::warning;

/// Under everysec/no, the writer waits for up to a millisecond of effects unless this many bytes are
/// already buffered.
const GATHER_LIMIT: usize = 4 << 20;

/// Under `always`, effects no client waits for (expired keys' DELs) are written after at most this long.
const ALWAYS_IDLE: Duration = Duration::from_millis(2);

/// `appendfsync` policies.
pub const FSYNC_NO: u8 = 0;
pub const FSYNC_EVERYSEC: u8 = 1;
pub const FSYNC_ALWAYS: u8 = 2;

pub fn fsync_policy(name: &str) -> u8 {
    match name {
        "always" => FSYNC_ALWAYS,
        "no" => FSYNC_NO,
        _ => FSYNC_EVERYSEC,
    }
}

/// The manifest: the base file and the increments, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Manifest {
    pub base: Option<(String, u64)>,
    pub incrs: Vec<(String, u64)>,
}

impl Manifest {
    /// Redis's manifest lines: `file <name> seq <n> type <b|i>`.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let w: Vec<&str> = line.split_whitespace().collect();
            let (name, seq, kind) = match w.as_slice() {
                ["file", name, "seq", seq, "type", kind] => (*name, *seq, *kind),
                _ => return Err(format!("bad manifest line '{line}'")),
            };
            if name.contains('/') {
                return Err(format!("bad file name in manifest line '{line}'"));
            }
            let seq: u64 = seq
                .parse()
                .map_err(|_| format!("bad sequence in manifest line '{line}'"))?;
            match kind {
                "b" => m.base = Some((name.to_string(), seq)),
                "i" => m.incrs.push((name.to_string(), seq)),
                // History files (a Redis manifest mid-rewrite) are not needed to load.
                "h" => {}
                _ => return Err(format!("bad file type in manifest line '{line}'")),
            }
        }
        Ok(m)
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some((n, seq)) = &self.base {
            s.push_str(&format!("file {n} seq {seq} type b\n"));
        }
        for (n, seq) in &self.incrs {
            s.push_str(&format!("file {n} seq {seq} type i\n"));
        }
        s
    }

    fn next_incr_seq(&self) -> u64 {
        self.incrs.iter().map(|i| i.1).max().unwrap_or(0) + 1
    }
}

/// Bytes waiting for the writer.
#[derive(Default)]
struct Pending {
    data: Vec<u8>,
    /// Effect-stream offset just after the last byte in `data`.
    end: u64,
    /// A rewrite asked for a new increment starting at this position of `data`.
    switch_at: Option<usize>,
    /// A client waits for `data` to be fsynced (`always`).
    requested: bool,
    stop: bool,
}

type Waiter = Box<dyn FnOnce() + Send>;

/// An open AOF.
pub struct Aof {
    /// Codec of the base files it writes.
    codec: Codec,
    pub dir: PathBuf,
    pub name: String,
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Effect offset the file holds (written, and fsynced under `always`).
    synced: AtomicU64,
    /// Effect offset accepted into the buffer.
    pub appended: AtomicU64,
    pub policy: AtomicU8,
    waiters: Mutex<Vec<(u64, Waiter)>>,
    /// The manifest, and whether the increment a rewrite asked for is open.
    manifest: Mutex<(Manifest, bool)>,
    /// The files of an earlier AOF this one replaces once its manifest is written.
    replaced: Mutex<Manifest>,
    switched: Condvar,
    pub base_size: AtomicU64,
    pub current_size: AtomicU64,
    pub last_write_ok: AtomicBool,
    /// Its registration with the effect stream.
    pub sink_id: AtomicU64,
    /// Shared with [`super::Persist::aof_failing`]: write commands are refused while set.
    failing: Arc<AtomicBool>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The open increment, shared by the writer thread and (under `always`) the I/O threads. Lock order:
    /// `out`, then `pending`.
    out: Mutex<Option<Out>>,
    /// Written but not fsynced yet.
    unsynced: AtomicBool,
    /// Effect offset written to the file (fsynced or not).
    written: AtomicU64,
    /// `stop` was called: a writer retrying a failed write gives up instead of blocking the exit.
    stopping: AtomicBool,
}

/// The file being appended to, and its fsync state.
struct Out {
    file: File,
    last_fsync: Instant,
}

/// Writes `data`, returning how much was written when it fails.
fn write_counted(file: &mut File, data: &[u8]) -> Result<(), (usize, std::io::Error)> {
    let mut done = 0;
    while done < data.len() {
        match file.write(&data[done..]) {
            Ok(0) => return Err((done, std::io::ErrorKind::WriteZero.into())),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((done, e)),
        }
    }
    Ok(())
}

/// The effect-stream consumer that feeds an [`Aof`].
pub struct AofSink(pub Arc<Aof>);

impl EffectSink for AofSink {
    fn accept(&mut self, effect: Effect<'_>) {
        let mut p = self.0.pending.lock();
        let idle = p.data.is_empty();
        p.data.extend_from_slice(effect.resp);
        p.end = effect.offset;
        self.0.appended.store(effect.offset, SeqCst);
        drop(p);
        // Under `always` the writer is woken by the clients that wait (`when_synced`), not per effect.
        if idle && self.0.policy.load(SeqCst) != FSYNC_ALWAYS {
            self.0.wake.notify_one();
        }
    }
}

impl Aof {
    pub fn manifest_path(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("{name}.manifest"))
    }

    fn base_name(&self, seq: u64) -> String {
        format!("{}.{seq}.base.tcs", self.name)
    }

    fn incr_name(&self, seq: u64) -> String {
        format!("{}.{seq}.incr.aof", self.name)
    }

    /// Runs `then` once the file holds every effect up to `offset` (at once if it already does).
    /// Runs `then` once the file holds every effect up to `offset` (at once if it already does), and asks
    /// the writer to write now. The front end calls it after letting the other ready clients run their
    /// commands (a task yield), so their effects are in the same write and fsync: group commit, the way
    /// Redis's one fsync per event-loop iteration covers every client served in it.
    pub fn when_synced(&self, offset: u64, then: Waiter) {
        let mut w = self.waiters.lock();
        if self.synced.load(SeqCst) >= offset {
            drop(w);
            then();
            return;
        }
        w.push((offset, then));
        drop(w);
        // Always notify: a request left over from a batch that already covered its waiter must not
        // swallow this one.
        self.pending.lock().requested = true;
        self.wake.notify_one();
    }

    pub fn synced(&self) -> u64 {
        self.synced.load(SeqCst)
    }

    /// Effects accepted but not yet written (INFO aof_buffer_length).
    pub fn buffered(&self) -> usize {
        self.pending.lock().data.len()
    }

    fn write_manifest(&self, m: &Manifest) -> std::io::Result<()> {
        crate::codec::file::write_atomically(&Self::manifest_path(&self.dir, &self.name), |f| {
            f.write_all(m.render().as_bytes())
        })
    }

    /// Creates a new AOF in `dir`, first phase (the caller holds the engine): opens the first increment,
    /// captures the keyspace and starts feeding effects to the increment from exactly that point. The base
    /// and the manifest come in [`Aof::complete`], which may run on another thread; until the manifest is
    /// written a restart ignores the new files.
    pub fn begin(
        shared: &Shared,
        g: &mut Engine,
        dir: PathBuf,
        name: String,
        codec: Codec,
    ) -> Result<(Arc<Aof>, super::Capture), String> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
        let aof = Arc::new(Aof::new(dir, name, shared, codec));
        // Files of an earlier AOF in the same place stay valid (and listed) until the new manifest replaces
        // them, so the new files take the next sequence numbers.
        let old = std::fs::read_to_string(Self::manifest_path(&aof.dir, &aof.name))
            .ok()
            .and_then(|t| Manifest::parse(&t).ok())
            .unwrap_or_default();
        let seq = old
            .next_incr_seq()
            .max(old.base.as_ref().map_or(0, |b| b.1) + 1);
        let incr = aof.incr_name(seq);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(aof.dir.join(&incr))
            .map_err(|e| format!("Can't open the append-only file {incr}: {e}"))?;
        let capture = super::capture(g, shared);
        aof.synced.store(g.effects.offset(), SeqCst);
        aof.written.store(g.effects.offset(), SeqCst);
        aof.sink_id
            .store(g.effects.add_sink(Box::new(AofSink(aof.clone()))), SeqCst);
        *aof.manifest.lock() = (
            Manifest {
                base: None,
                incrs: vec![(incr, seq)],
            },
            false,
        );
        *aof.replaced.lock() = old;
        aof.start_writer(file, 0);
        Ok((aof, capture))
    }

    /// Second phase of creating an AOF: writes the base from the capture, then the manifest, then deletes
    /// the files of the AOF it replaces.
    pub fn complete(&self, capture: &super::Capture) -> Result<(), String> {
        let (incr, seq) = self.manifest.lock().0.incrs[0].clone();
        let base = self.base_name(seq);
        let size = super::write_snapshot(&self.dir.join(&base), capture, self.codec)
            .map_err(|e| format!("Writing the AOF base {base}: {e}"))?;
        let m = Manifest {
            base: Some((base, seq)),
            incrs: vec![(incr, seq)],
        };
        let mut g = self.manifest.lock();
        self.write_manifest(&m)
            .map_err(|e| format!("Writing the AOF manifest: {e}"))?;
        g.0 = m;
        drop(g);
        let old = std::mem::take(&mut *self.replaced.lock());
        for (n, _) in old.base.iter().chain(old.incrs.iter()) {
            let _ = std::fs::remove_file(self.dir.join(n));
        }
        self.base_size.store(size, SeqCst);
        self.current_size.fetch_add(size, SeqCst);
        Ok(())
    }

    fn new(dir: PathBuf, name: String, shared: &Shared, codec: Codec) -> Aof {
        Aof {
            codec,
            dir,
            name,
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            synced: AtomicU64::new(0),
            appended: AtomicU64::new(0),
            policy: AtomicU8::new(fsync_policy(&shared.settings().appendfsync)),
            waiters: Mutex::new(Vec::new()),
            manifest: Mutex::new((Manifest::default(), false)),
            replaced: Mutex::new(Manifest::default()),
            switched: Condvar::new(),
            base_size: AtomicU64::new(0),
            current_size: AtomicU64::new(0),
            last_write_ok: AtomicBool::new(true),
            sink_id: AtomicU64::new(0),
            failing: super::of(shared).aof_failing.clone(),
            writer: Mutex::new(None),
            out: Mutex::new(None),
            unsynced: AtomicBool::new(false),
            written: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    /// Opens the AOF loaded at start-up for appending: the last increment, cut to `valid_len` bytes (a torn
    /// tail that was skipped).
    pub fn reopen(
        shared: &Arc<Shared>,
        dir: PathBuf,
        name: String,
        m: Manifest,
        valid_len: u64,
        sizes: (u64, u64),
        codec: Codec,
    ) -> Result<Arc<Aof>, String> {
        let aof = Arc::new(Aof::new(dir, name, shared, codec));
        let (last, _) = m
            .incrs
            .last()
            .cloned()
            .ok_or("the AOF manifest lists no increment")?;
        let file = OpenOptions::new()
            .write(true)
            .open(aof.dir.join(&last))
            .map_err(|e| format!("Can't open the append-only file {last}: {e}"))?;
        file.set_len(valid_len)
            .map_err(|e| format!("Can't truncate {last}: {e}"))?;
        aof.base_size.store(sizes.0, SeqCst);
        aof.current_size.store(sizes.0 + sizes.1, SeqCst);
        aof.manifest.lock().0 = m;
        {
            let mut g = shared.engine.lock();
            aof.synced.store(g.effects.offset(), SeqCst);
            aof.written.store(g.effects.offset(), SeqCst);
            aof.sink_id
                .store(g.effects.add_sink(Box::new(AofSink(aof.clone()))), SeqCst);
        }
        aof.start_writer(file, valid_len);
        Ok(aof)
    }

    fn start_writer(self: &Arc<Self>, mut file: File, at: u64) {
        use std::io::Seek;
        let _ = file.seek(std::io::SeekFrom::Start(at));
        *self.out.lock() = Some(Out {
            file,
            last_fsync: Instant::now(),
        });
        let me = self.clone();
        let h = std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || me.writer_loop())
            .expect("spawn the AOF writer");
        *self.writer.lock() = Some(h);
    }

    /// The writer thread: waits until there is something to write (at once under everysec/no, after a
    /// millisecond's gathering; under `always` when a client asks or after ALWAYS_IDLE), then flushes.
    fn writer_loop(&self) {
        loop {
            {
                let mut p = self.pending.lock();
                loop {
                    let always = self.policy.load(SeqCst) == FSYNC_ALWAYS;
                    // Under `always`, data nobody waits for yet is left to gather: the clients that will
                    // wait for it are still running their commands (see `sync_inline`), and one fsync
                    // should cover them all. It is written within ALWAYS_IDLE anyway.
                    let ready = p.stop
                        || p.switch_at.is_some()
                        || (!p.data.is_empty() && (!always || p.requested))
                        || (always && self.synced() < self.written.load(SeqCst));
                    if ready {
                        break;
                    }
                    let unsynced = self.unsynced.load(SeqCst);
                    // Under `always` the sink does not wake the writer, so it looks every ALWAYS_IDLE even
                    // when it found nothing: effects no client waits for (a replica's stream, expired keys'
                    // DELs) may arrive while it sleeps.
                    let timeout = if !p.data.is_empty() || always {
                        ALWAYS_IDLE
                    } else if unsynced {
                        Duration::from_millis(100)
                    } else {
                        Duration::from_secs(3600)
                    };
                    if self.wake.wait_for(&mut p, timeout).timed_out() {
                        break;
                    }
                }
                let gather = !p.data.is_empty()
                    && !p.stop
                    && p.switch_at.is_none()
                    && p.data.len() < GATHER_LIMIT
                    && self.policy.load(SeqCst) != FSYNC_ALWAYS;
                if gather {
                    // Under everysec/no nobody waits for the write: let a millisecond of effects gather so
                    // there is one write(2) and one wake-up per batch, not per effect (the writer would
                    // otherwise take a core's worth of wake-ups from the I/O threads under load).
                    parking_lot::MutexGuard::unlocked(&mut p, || {
                        std::thread::sleep(Duration::from_millis(1))
                    });
                }
            }
            let mut out = self.out.lock();
            let Some(o) = out.as_mut() else { return };
            if self.flush(o, true) {
                *out = None;
                // Stopped: clients still waiting (only if the disk refused the last writes) are let go
                // rather than left hanging; the AOF is being turned off or the server is exiting.
                self.waiters.lock().clear();
                return;
            }
        }
    }

    /// Under `always`, called by a client's I/O thread before its replies go out: writes and fsyncs
    /// everything buffered (its own effects and those of every client served meanwhile) on the calling
    /// thread, as Redis fsyncs in its event loop; a client whose effects a previous call already covered
    /// returns at once. False when the writer thread must do it instead (a rewrite's switch is pending, or
    /// writing fails and is being retried): wait with [`Aof::when_synced`] then.
    pub fn sync_inline(&self, upto: u64) -> bool {
        if self.synced() >= upto {
            return true;
        }
        if !self.last_write_ok.load(SeqCst) {
            return false;
        }
        // Never wait for the writer thread here (it may be retrying a failed write): it will answer.
        let Some(mut out) = self.out.try_lock() else {
            return false;
        };
        if self.synced() >= upto {
            return true;
        }
        let Some(o) = out.as_mut() else { return false };
        let _ = self.flush(o, false);
        self.synced() >= upto
    }

    /// Takes what is buffered and writes it (switching increments where a rewrite asked), fsyncs as the
    /// policy says, then answers the clients it covered. `retry` (the writer thread): keep retrying a failed
    /// write or fsync. Otherwise (an I/O thread, which must not wait on a full disk) leave a pending switch
    /// to the writer thread, put unwritten bytes back and return, leaving the clients waiting for the
    /// writer. Returns whether the writer was told to stop.
    fn flush(&self, o: &mut Out, retry: bool) -> bool {
        let (data, end, switch_at, stop) = {
            let mut p = self.pending.lock();
            if !retry && p.switch_at.is_some() {
                // Decided under the same lock that takes the data, so a switch is never skipped.
                drop(p);
                self.wake.notify_one();
                return false;
            }
            p.requested = false;
            (
                std::mem::take(&mut p.data),
                p.end,
                p.switch_at.take(),
                p.stop,
            )
        };
        let head = switch_at.unwrap_or(data.len()).min(data.len());
        if retry {
            if !self.write_retrying(&mut o.file, &data[..head]) {
                return true;
            }
            if switch_at.is_some() {
                self.sync_data(o);
                let Some(next) = self.switch_increment() else {
                    return true;
                };
                o.file = next;
                if !self.write_retrying(&mut o.file, &data[head..]) {
                    return true;
                }
            }
        } else if let Err((written, e)) = write_counted(&mut o.file, &data) {
            warning!("Error writing to the AOF file: {e} (the writer thread retries)");
            self.mark_failing(true);
            self.current_size.fetch_add(written as u64, SeqCst);
            let mut p = self.pending.lock();
            let back = data.len() - written;
            let mut rest = data[written..].to_vec();
            rest.extend_from_slice(&p.data);
            p.data = rest;
            // A switch asked for meanwhile stays at the same effect boundary.
            if let Some(at) = p.switch_at.as_mut() {
                *at += back;
            }
            drop(p);
            self.wake.notify_one();
            return false;
        } else {
            self.current_size.fetch_add(data.len() as u64, SeqCst);
        }
        if !data.is_empty() {
            self.written.store(end, SeqCst);
        }
        let written = self.written.load(SeqCst);
        let policy = self.policy.load(SeqCst);
        let dirty = self.unsynced.load(SeqCst) || !data.is_empty() || self.synced() < written;
        let due = policy == FSYNC_ALWAYS
            || stop
            || (policy == FSYNC_EVERYSEC && o.last_fsync.elapsed() >= Duration::from_secs(1));
        if dirty && due {
            if !self.sync_data(o) {
                self.unsynced.store(true, SeqCst);
            }
        } else if dirty && policy == FSYNC_EVERYSEC {
            self.unsynced.store(true, SeqCst);
        }
        // Under `always` the fsync above succeeded (a failure ends the process); under everysec/no the
        // clients never wait, and `synced` means written.
        if self.synced() < written {
            self.synced.store(written, SeqCst);
            let ready: Vec<Waiter> = {
                let mut w = self.waiters.lock();
                let (done, wait): (Vec<_>, Vec<_>) = w.drain(..).partition(|(o, _)| *o <= written);
                *w = wait;
                done.into_iter().map(|(_, f)| f).collect()
            };
            for f in ready {
                f();
            }
        }
        stop
    }

    /// fsyncs the increment. An error under `always` ends the process, as in Redis: Linux reports a failed
    /// fsync once and may drop the unwritten pages, so a later fsync that succeeds proves nothing and no
    /// reply may claim the write is on disk. Under everysec/no the error is logged and marks the AOF failing
    /// (writes refused with MISCONF) until an fsync succeeds.
    fn sync_data(&self, o: &mut Out) -> bool {
        match o.file.sync_data() {
            Ok(()) => {
                o.last_fsync = Instant::now();
                self.unsynced.store(false, SeqCst);
                if !self.last_write_ok.load(SeqCst) {
                    self.mark_failing(false);
                }
                true
            }
            Err(e) if self.policy.load(SeqCst) == FSYNC_ALWAYS => {
                warning!(
                    "Can't persist the AOF for an fsync error when the AOF fsync policy is 'always': {e}. \
                     Exiting..."
                );
                std::process::exit(1);
            }
            Err(e) => {
                warning!("Error syncing the append-only file: {e}");
                o.last_fsync = Instant::now();
                self.mark_failing(true);
                false
            }
        }
    }

    fn mark_failing(&self, failing: bool) {
        self.last_write_ok.store(!failing, SeqCst);
        self.failing.store(failing, SeqCst);
    }

    /// Writes all of `data`; on an error (disk full) logs once and retries every second, never dropping an
    /// effect (clients under `always` keep waiting for their replies meanwhile).
    fn write_retrying(&self, file: &mut File, data: &[u8]) -> bool {
        let mut logged = false;
        let mut done = 0;
        // Resumes where a failed write stopped: a byte is never written twice.
        while let Err((n, e)) = write_counted(file, &data[done..]) {
            done += n;
            if !logged {
                warning!("Error writing to the AOF file: {e} (retrying every second)");
                logged = true;
            }
            self.mark_failing(true);
            if self.stopping.load(SeqCst) {
                warning!(
                    "Giving up on {} bytes of the AOF: the server is stopping and the file cannot be written",
                    data.len() - done
                );
                return false;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        if logged {
            crate::notice!("AOF write error looks solved, writes are accepted again");
        }
        self.mark_failing(false);
        self.current_size.fetch_add(data.len() as u64, SeqCst);
        true
    }

    /// Opens the next increment and lists it in the manifest before anything is written to it (so a crash
    /// mid-rewrite loads old base + old increments + this one).
    fn switch_increment(&self) -> Option<File> {
        let mut guard = self.manifest.lock();
        let mut m = guard.0.clone();
        let seq = m.next_incr_seq();
        let name = self.incr_name(seq);
        loop {
            let opened = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(self.dir.join(&name));
            match opened {
                Ok(f) => {
                    m.incrs.push((name.clone(), seq));
                    if let Err(e) = self.write_manifest(&m) {
                        warning!("Writing the AOF manifest: {e} (retrying)");
                        m.incrs.pop();
                        if self.stopping.load(SeqCst) {
                            return None;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                    guard.0 = m;
                    guard.1 = true;
                    self.switched.notify_all();
                    return Some(f);
                }
                Err(e) => {
                    warning!("Can't open the new AOF increment {name}: {e} (retrying)");
                    if self.stopping.load(SeqCst) {
                        return None;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    /// A rewrite, first phase (call under the keyspace lock, right after capturing it): new effects go to a
    /// new increment from this point.
    pub fn request_switch(&self) {
        self.manifest.lock().1 = false;
        let mut p = self.pending.lock();
        p.switch_at = Some(p.data.len());
        drop(p);
        self.wake.notify_one();
    }

    /// A rewrite, second phase (on a background thread): writes `capture` as the new base and switches the
    /// manifest to it and the increments since the switch; the old files are deleted.
    pub fn finish_rewrite(&self, capture: &super::Capture) -> Result<(), String> {
        let seq = {
            let mut g = self.manifest.lock();
            while !g.1 {
                self.switched.wait(&mut g);
            }
            g.0.next_incr_seq() - 1
        };
        let base = self.base_name(seq);
        let size = super::write_snapshot(&self.dir.join(&base), capture, self.codec)
            .map_err(|e| format!("Writing the AOF base {base}: {e}"))?;
        let mut g = self.manifest.lock();
        let old = g.0.clone();
        let m = Manifest {
            base: Some((base.clone(), seq)),
            incrs: old.incrs.iter().filter(|i| i.1 >= seq).cloned().collect(),
        };
        self.write_manifest(&m)
            .map_err(|e| format!("Writing the AOF manifest: {e}"))?;
        g.0 = m.clone();
        drop(g);
        let mut tail = 0;
        for (n, _) in &m.incrs {
            tail += std::fs::metadata(self.dir.join(n)).map_or(0, |md| md.len());
        }
        for (n, _) in old.base.iter().chain(old.incrs.iter()) {
            if !m.incrs.iter().any(|i| &i.0 == n) && *n != base {
                let _ = std::fs::remove_file(self.dir.join(n));
            }
        }
        self.base_size.store(size, SeqCst);
        self.current_size.store(size + tail, SeqCst);
        Ok(())
    }

    /// Writes and fsyncs what is buffered, then stops the writer (shutdown, `CONFIG SET appendonly no`).
    /// The caller has already removed the sink.
    pub fn stop(&self) {
        self.stopping.store(true, SeqCst);
        self.pending.lock().stop = true;
        self.wake.notify_one();
        if let Some(h) = self.writer.lock().take() {
            let _ = h.join();
        }
    }
}
