//! Persistence: the snapshot file (tensorcell's RDB: `<dir>/<dbfilename>`), the append-only file
//! ([`aof`]) and model-state snapshots ([`snapshots`]). Everything here is plain threads and files: no tokio,
//! so the engine core stays usable by the Redis module (which persists through Redis instead, with the same
//! [`records`]).
//!
//! Saving never stops the world: a capture clones the keyspace's `Arc`s and `Bytes` under the lock (pointer
//! copies, no value data), and the values are written from the capture on a background thread. Values are
//! immutable (writes swap the `Arc`), so the capture is a consistent point-in-time view, like a fork's.

pub mod aof;
mod aof_load;
pub mod apply;
mod cron;
mod dbfile;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::codec::file::{install, write_temp};
pub use cron::start_cron;
pub use dbfile::{
    capture, load_snapshot, read_snapshot, read_snapshot_from, snapshot_body, write_snapshot,
    Capture, DB_MAGIC,
};

use self::aof::Aof;
use crate::codec::Codec;
use crate::keyspace::Db;
use crate::shared::{Engine, Shared, ShutdownMode};
use crate::stats::Stats;
use crate::{notice, warning};

/// The background job (one at a time, as Redis allows one fork child).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Save,
    Rewrite,
}

/// Persistence state shown by INFO persistence and used by the commands.
pub struct Persist {
    pub loading: AtomicBool,
    /// Unix seconds of the last successful save (server start before any).
    pub last_save: AtomicU64,
    /// The dirty counter (`Stats::changes`) the last successful save covered.
    pub dirty_saved: AtomicU64,
    pub job: Mutex<Option<(Job, Instant)>>,
    pub save_scheduled: AtomicBool,
    pub rewrite_scheduled: AtomicBool,
    pub last_bgsave_ok: AtomicBool,
    pub last_bgsave_secs: AtomicI64,
    /// When the last background save was tried (a failed one is retried after 5 seconds).
    pub last_bgsave_try: AtomicU64,
    pub saves: AtomicU64,
    pub last_rewrite_ok: AtomicBool,
    pub last_rewrite_secs: AtomicI64,
    pub rewrites: AtomicU64,
    pub loaded_keys: AtomicU64,
    pub aof: Mutex<Option<Arc<Aof>>>,
    /// Counts FLUSHALLs; held while a snapshot file is renamed into place, so a save captured before a
    /// flush never replaces the flush's empty snapshot file (Redis kills its BGSAVE child instead).
    pub dump_epoch: Mutex<u64>,
    /// The AOF is on with `appendfsync always`: replies wait for their writes to be fsynced. Read on every
    /// flush of replies, so it is an atomic rather than a look at `aof`.
    pub always: AtomicBool,
    /// Writing the AOF fails (set by its writer until a write succeeds).
    pub aof_failing: Arc<AtomicBool>,
}

impl Default for Persist {
    fn default() -> Self {
        Persist {
            loading: AtomicBool::new(false),
            last_save: AtomicU64::new(crate::util::now_ms() / 1000),
            dirty_saved: AtomicU64::new(0),
            job: Mutex::new(None),
            save_scheduled: AtomicBool::new(false),
            rewrite_scheduled: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_bgsave_try: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            last_rewrite_ok: AtomicBool::new(true),
            last_rewrite_secs: AtomicI64::new(-1),
            rewrites: AtomicU64::new(0),
            loaded_keys: AtomicU64::new(0),
            aof: Mutex::new(None),
            dump_epoch: Mutex::new(0),
            always: AtomicBool::new(false),
            aof_failing: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Persist {
    pub fn aof(&self) -> Option<Arc<Aof>> {
        self.aof.lock().clone()
    }

    /// Why writes are refused now, if they are (Redis's MISCONF): the AOF cannot be written, or the last
    /// background save failed while `stop-writes-on-bgsave-error` and save points are set.
    pub fn refuses_writes(&self, hot: &crate::shared::Hot) -> Option<crate::error::Misconf> {
        use crate::error::Misconf;
        if self.aof_failing.load(std::sync::atomic::Ordering::Relaxed) {
            return Some(Misconf::Aof);
        }
        (!self
            .last_bgsave_ok
            .load(std::sync::atomic::Ordering::Relaxed)
            && hot
                .stop_writes_on_bgsave_error
                .load(std::sync::atomic::Ordering::Relaxed))
        .then_some(Misconf::Snapshot)
    }

    /// A background job ended: records its status and time (INFO persistence) and frees the job slot.
    fn end_job(&self, job: Job, ok: bool, started: Instant) {
        let secs = started.elapsed().as_secs() as i64;
        let (status, time) = match job {
            Job::Save => (&self.last_bgsave_ok, &self.last_bgsave_secs),
            Job::Rewrite => (&self.last_rewrite_ok, &self.last_rewrite_secs),
        };
        status.store(ok, SeqCst);
        time.store(secs, SeqCst);
        *self.job.lock() = None;
    }

    /// Sets `appendfsync` on the running AOF (if any) and re-derives [`Persist::always`].
    pub fn set_fsync(&self, policy: &str) {
        let policy = aof::fsync_policy(policy);
        let slot = self.aof.lock();
        if let Some(a) = slot.as_ref() {
            a.policy.store(policy, SeqCst);
        }
        self.always
            .store(slot.is_some() && policy == aof::FSYNC_ALWAYS, SeqCst);
    }

    pub fn job(&self) -> Option<(Job, Instant)> {
        *self.job.lock()
    }
}

/// The standalone server's persistence state.
pub fn of(shared: &Shared) -> &Persist {
    shared
        .part::<Persist>()
        .expect("the standalone server's node has persistence")
}

/// `<dir>/<dbfilename>`.
pub fn dump_path(shared: &Shared) -> PathBuf {
    let s = shared.settings();
    Path::new(&s.dir).join(&s.dbfilename)
}

/// The codec of snapshot files and AOF bases (`rdbcompression`).
pub fn file_codec(shared: &Shared) -> Codec {
    if shared.settings().rdbcompression {
        Codec::Zstd
    } else {
        Codec::None
    }
}

/// Claims the background-job slot.
fn claim(shared: &Shared, job: Job) -> Result<(), Job> {
    let mut j = of(shared).job.lock();
    match *j {
        Some((running, _)) => Err(running),
        None => {
            *j = Some((job, Instant::now()));
            Ok(())
        }
    }
}

/// Records a finished save.
fn saved(shared: &Shared, dirty: u64) {
    let p = &of(shared);
    p.last_bgsave_ok.store(true, SeqCst);
    p.last_save.store(crate::util::now_ms() / 1000, SeqCst);
    p.dirty_saved.store(dirty, SeqCst);
    p.saves.fetch_add(1, SeqCst);
}

/// SAVE: writes the snapshot file now, on the caller's thread.
pub fn save(shared: &Shared) -> Result<(), String> {
    if let Some((Job::Save, _)) = of(shared).job() {
        return Err("ERR Background save already in progress".into());
    }
    save_now(shared)
}

/// Captures the keyspace and writes it as the snapshot file, on the caller's thread.
fn save_now(shared: &Shared) -> Result<(), String> {
    let (c, dirty) = {
        let g = shared.engine.lock();
        (capture(&g, shared), Stats::get(&shared.stats.changes))
    };
    save_capture(shared, &c, dirty)
}

/// Writes a capture as the snapshot file, unless a FLUSHALL came after the capture (then it is dropped:
/// the flush wrote the newer, empty, file).
pub fn save_capture(shared: &Shared, c: &Capture, dirty: u64) -> Result<(), String> {
    let path = dump_path(shared);
    let codec = file_codec(shared);
    let result = write_temp(&path, |w| snapshot_body(w, c, codec).map(|_| ())).and_then(|tmp| {
        let epoch = of(shared).dump_epoch.lock();
        if *epoch != c.epoch {
            let _ = std::fs::remove_file(&tmp);
            return Ok(false);
        }
        install(&tmp, &path).map(|_| true)
    });
    match result {
        Ok(true) => {
            notice!("DB saved on disk");
            saved(shared, dirty);
            Ok(())
        }
        Ok(false) => {
            notice!("A save was dropped: the keyspace was flushed after it was captured");
            Ok(())
        }
        Err(e) => {
            warning!("Failed saving the DB to {}: {e}", path.display());
            Err(format!("ERR saving the DB failed: {e}"))
        }
    }
}

/// FLUSHALL with save points (the caller holds the engine, the keyspace is empty): writes the empty
/// snapshot file at once, and makes any save captured before the flush drop its file.
pub fn save_after_flush(shared: &Shared, g: &Engine) {
    let epoch = {
        let mut e = of(shared).dump_epoch.lock();
        *e += 1;
        *e
    };
    let empty = Capture {
        entries: Vec::new(),
        replid: g.effects.ids.id.clone(),
        offset: g.effects.repl_offset(),
        epoch,
    };
    let _ = save_capture(shared, &empty, Stats::get(&shared.stats.changes) + 1);
}

/// BGSAVE: captures now and writes on a background thread. `Ok` carries the status reply. The caller holds
/// the engine (a command inside EXEC already does).
pub fn bgsave(shared: &Shared, g: &mut Engine, schedule: bool) -> Result<&'static str, String> {
    match claim(shared, Job::Save) {
        Err(Job::Save) => Err("ERR Background save already in progress".into()),
        Err(Job::Rewrite) if schedule => {
            of(shared).save_scheduled.store(true, SeqCst);
            Ok("Background saving scheduled")
        }
        Err(Job::Rewrite) => Err(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. \
             Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
                .into(),
        ),
        Ok(()) => {
            let c = capture(g, shared);
            let dirty = Stats::get(&shared.stats.changes);
            let shared = shared.arc();
            of(&shared).save_scheduled.store(false, SeqCst);
            of(&shared)
                .last_bgsave_try
                .store(crate::util::now_ms() / 1000, SeqCst);
            notice!("Background saving started");
            std::thread::Builder::new()
                .name("bgsave".into())
                .spawn(move || {
                    let started = Instant::now();
                    let ok = save_capture(&shared, &c, dirty).is_ok();
                    drop(c);
                    if ok {
                        notice!("Background saving terminated with success");
                    }
                    of(&shared).end_job(Job::Save, ok, started);
                })
                .map_err(|e| format!("ERR can't start a background save: {e}"))?;
            Ok("Background saving started")
        }
    }
}

/// BGREWRITEAOF: a new AOF base from a capture, written in the background. The caller holds the engine.
pub fn bgrewriteaof(shared: &Shared, g: &mut Engine) -> Result<&'static str, String> {
    let Some(aof) = of(shared).aof() else {
        return Err("ERR the AOF is off (appendonly no): nothing to rewrite".into());
    };
    match claim(shared, Job::Rewrite) {
        Err(Job::Rewrite) => {
            Err("ERR Background append only file rewriting already in progress".into())
        }
        Err(Job::Save) => {
            of(shared).rewrite_scheduled.store(true, SeqCst);
            Ok("Background append only file rewriting scheduled")
        }
        Ok(()) => {
            let c = capture(g, shared);
            aof.request_switch();
            of(shared).rewrite_scheduled.store(false, SeqCst);
            let shared = shared.arc();
            notice!("Background append only file rewriting started");
            std::thread::Builder::new()
                .name("aof-rewrite".into())
                .spawn(move || {
                    let started = Instant::now();
                    let result = aof.finish_rewrite(&c);
                    drop(c);
                    if let Err(e) = &result {
                        warning!("Background AOF rewrite failed: {e}");
                    } else {
                        notice!("Background AOF rewrite finished successfully");
                        of(&shared).rewrites.fetch_add(1, SeqCst);
                    }
                    of(&shared).end_job(Job::Rewrite, result.is_ok(), started);
                })
                .map_err(|e| format!("ERR can't start the AOF rewrite: {e}"))?;
            Ok("Background append only file rewriting started")
        }
    }
}

/// Start-up: loads the AOF (when `appendonly yes` and one exists) or else the snapshot file, opens the AOF
/// for appending, then runs the loaded scripts' `begin()`. An error means: refuse to start.
pub fn start(shared: &Arc<Shared>) -> Result<(), String> {
    let s = shared.settings();
    if !Path::new(&s.dir).is_dir() {
        return Err(format!(
            "Can't chdir to '{}': No such file or directory",
            s.dir
        ));
    }
    let p = &of(shared);
    p.loading.store(true, SeqCst);
    let started = Instant::now();
    let aof_dir = Path::new(&s.dir).join(&s.appenddirname);
    let mut aof_loaded = None;
    if s.appendonly {
        aof_loaded = aof_load::load(shared, &aof_dir, &s.appendfilename, s.aof_load_truncated)?;
    }
    match &aof_loaded {
        Some(l) => notice!(
            "DB loaded from append only file: {} effects after a base of {} bytes, {:.3} seconds",
            l.effects,
            l.base_size,
            started.elapsed().as_secs_f64()
        ),
        None => {
            let dump = dump_path(shared);
            if dump.exists() {
                let header = load_snapshot(shared, &dump)?;
                // The history the file belongs to: replicas that were in step with it can continue
                // partially after this restart (as Redis 7 restores its replication id from an RDB).
                if header.replid.len() == 40 {
                    let mut g = shared.engine.lock();
                    g.effects.ids.id = header.replid;
                    g.effects.rebase(header.offset);
                    crate::repl::of(shared).fresh.store(false, SeqCst);
                    if !crate::repl::of(shared).is_replica() {
                        // The file may be older than what this primary had sent before it stopped (a crash
                        // after the save): what it writes next is a new history, reachable from the old id
                        // only up to the file's offset.
                        g.effects.ids.shift(header.offset);
                    }
                }
            }
        }
    }
    // Replayed effects went through the command bodies: they are not calls clients made (Redis's loader
    // bypasses its stats too), and everything loaded is already on disk.
    shared.stats.reset();
    shared.slowlog.lock().reset();
    p.dirty_saved
        .store(Stats::get(&shared.stats.changes), SeqCst);
    if s.appendonly {
        let aof = match aof_loaded {
            Some(l) => Aof::reopen(
                shared,
                aof_dir,
                s.appendfilename.clone(),
                l.manifest,
                l.valid_len,
                (l.base_size, l.incr_size),
                file_codec(shared),
            )?,
            None => {
                let (aof, c) = Aof::begin(
                    shared,
                    &mut shared.engine.lock(),
                    aof_dir,
                    s.appendfilename.clone(),
                    file_codec(shared),
                )?;
                aof.complete(&c)?;
                aof
            }
        };
        *p.aof.lock() = Some(aof);
    }
    p.set_fsync(&s.appendfsync);
    p.loading.store(false, SeqCst);
    if !crate::repl::of(shared).is_replica() {
        // A replica never runs Python: its primary's effects carry what begin() wrote there.
        // Their state writes propagate as effects like any other.
        crate::commands::run_begins(shared);
    }
    Ok(())
}

/// Turns the AOF on (`CONFIG SET appendonly yes`: a new AOF from the current data, its base written in the
/// background like a rewrite) or off. The caller holds the engine.
pub fn set_appendonly(shared: &Shared, g: &mut Engine, on: bool) -> Result<(), String> {
    let mut slot = of(shared).aof.lock();
    match (on, slot.is_some()) {
        (true, false) => {
            claim(shared, Job::Rewrite).map_err(|_| {
                "ERR a background save or rewrite is running: try again when it ends".to_string()
            })?;
            let s = shared.settings();
            let dir = Path::new(&s.dir).join(&s.appenddirname);
            let (aof, c) =
                match Aof::begin(shared, g, dir, s.appendfilename.clone(), file_codec(shared)) {
                    Ok(x) => x,
                    Err(e) => {
                        *of(shared).job.lock() = None;
                        return Err(format!("ERR {e}"));
                    }
                };
            *slot = Some(aof.clone());
            let shared = shared.arc();
            std::thread::spawn(move || {
                let started = Instant::now();
                let result = aof.complete(&c);
                let p = &of(&shared);
                if let Err(e) = &result {
                    // No manifest lists the new files: turn the AOF back off rather than log to them.
                    warning!("Creating the AOF failed: {e}; appendonly is off again");
                    let _ = set_appendonly(&shared, &mut shared.engine.lock(), false);
                    // Only this directive changes: a CONFIG SET made meanwhile stays.
                    let _ = shared.config.write().set("appendonly", "no");
                    p.set_fsync(&shared.settings().appendfsync);
                } else {
                    notice!("Background AOF created: appendonly is on");
                }
                p.end_job(Job::Rewrite, result.is_ok(), started);
            });
        }
        (false, true) => {
            if let Some(aof) = slot.take() {
                g.effects.remove_sink(aof.sink_id.load(SeqCst));
                // Its writer finishes the buffer off the caller's thread: the caller holds the engine,
                // and a writer retrying on a full disk must not freeze every client.
                std::thread::spawn(move || aof.stop());
            }
        }
        _ => {}
    }
    Ok(())
}

fn stop_aof(shared: &Shared, aof: &Aof) {
    shared
        .engine
        .lock()
        .effects
        .remove_sink(aof.sink_id.load(SeqCst));
    aof.stop();
}

/// Whether `mode` asks for a final snapshot: SHUTDOWN SAVE, or a plain shutdown with save points set.
fn wants_save(shared: &Shared, mode: ShutdownMode) -> bool {
    match mode {
        ShutdownMode::Save => true,
        ShutdownMode::NoSave => false,
        ShutdownMode::Default => !shared.settings().save.is_empty(),
    }
}

/// SHUTDOWN's save, before the server agrees to stop (an error keeps it running, as in Redis).
pub fn prepare_shutdown(shared: &Shared, mode: ShutdownMode) -> Result<(), String> {
    if wants_save(shared, mode) {
        save_for_shutdown(shared)?;
    }
    Ok(())
}

/// The shutdown's save: waits (up to a minute) for a running BGSAVE or rewrite, then holds the job slot
/// while saving, so the timer cannot start a scheduled BGSAVE in between.
fn save_for_shutdown(shared: &Shared) -> Result<(), String> {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let mut logged = false;
    while let Err(job) = claim(shared, Job::Save) {
        if !logged {
            notice!("Waiting for the background {job:?} to finish before saving for shutdown");
            logged = true;
        }
        if Instant::now() > deadline {
            return Err(format!("ERR the background {job:?} did not finish in time"));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let result = save_now(shared);
    *of(shared).job.lock() = None;
    result
}

/// The last step of a shutdown, after every connection closed: flushes and fsyncs the AOF and, when the
/// mode wants a snapshot, writes one for writes made since SHUTDOWN's own save.
pub fn finish_shutdown(shared: &Shared, mode: ShutdownMode) {
    if wants_save(shared, mode)
        && Stats::get(&shared.stats.changes) != of(shared).dirty_saved.load(SeqCst)
    {
        if let Err(e) = save_for_shutdown(shared) {
            warning!("The shutdown save failed: {e}");
        }
    }
    let aof = of(shared).aof.lock().take();
    if let Some(aof) = aof {
        stop_aof(shared, &aof);
        notice!("Appendonly file synced on disk");
    }
    of(shared).always.store(false, SeqCst);
}

/// DEBUG RELOAD: save the snapshot file, empty the keyspace, load the file back.
pub fn debug_reload(shared: &Shared) -> Result<(), String> {
    save(shared)?;
    let mut fresh = Db::new();
    read_snapshot(
        &dump_path(shared),
        shared.pool.threads,
        crate::repl::of(shared).is_replica(),
        |k, e| fresh.set(k, e.value, e.expire_at),
    )?;
    let old = {
        let mut g = shared.engine.lock();
        let old = g.db.clear();
        for (k, e) in fresh.clear() {
            g.db.set(k, e.value, e.expire_at);
        }
        old
    };
    drop(old);
    Ok(())
}

/// INFO persistence, with Redis's field names (fork and copy-on-write fields are left out: nothing forks).
pub fn info(shared: &Shared, out: &mut String) {
    let p = &of(shared);
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("{k}:{v}\r\n"));
    let job = p.job();
    let running = |j: Job| job.is_some_and(|(r, _)| r == j);
    let elapsed = |j: Job| match job {
        Some((r, t)) if r == j => t.elapsed().as_secs() as i64,
        _ => -1,
    };
    let status = |ok: bool| if ok { "ok" } else { "err" }.to_string();
    let dirty = Stats::get(&shared.stats.changes).saturating_sub(p.dirty_saved.load(SeqCst));
    line(out, "loading", u8::from(p.loading.load(SeqCst)).to_string());
    line(out, "async_loading", "0".into());
    line(out, "rdb_changes_since_last_save", dirty.to_string());
    line(
        out,
        "rdb_bgsave_in_progress",
        u8::from(running(Job::Save)).to_string(),
    );
    line(
        out,
        "rdb_last_save_time",
        p.last_save.load(SeqCst).to_string(),
    );
    line(
        out,
        "rdb_last_bgsave_status",
        status(p.last_bgsave_ok.load(SeqCst)),
    );
    line(
        out,
        "rdb_last_bgsave_time_sec",
        p.last_bgsave_secs.load(SeqCst).to_string(),
    );
    line(
        out,
        "rdb_current_bgsave_time_sec",
        elapsed(Job::Save).to_string(),
    );
    line(out, "rdb_saves", p.saves.load(SeqCst).to_string());
    line(
        out,
        "rdb_last_load_keys_loaded",
        p.loaded_keys.load(SeqCst).to_string(),
    );
    let aof = p.aof();
    line(out, "aof_enabled", u8::from(aof.is_some()).to_string());
    line(
        out,
        "aof_rewrite_in_progress",
        u8::from(running(Job::Rewrite)).to_string(),
    );
    line(
        out,
        "aof_rewrite_scheduled",
        u8::from(p.rewrite_scheduled.load(SeqCst)).to_string(),
    );
    line(
        out,
        "aof_last_rewrite_time_sec",
        p.last_rewrite_secs.load(SeqCst).to_string(),
    );
    line(
        out,
        "aof_current_rewrite_time_sec",
        elapsed(Job::Rewrite).to_string(),
    );
    line(
        out,
        "aof_last_bgrewrite_status",
        status(p.last_rewrite_ok.load(SeqCst)),
    );
    line(out, "aof_rewrites", p.rewrites.load(SeqCst).to_string());
    let write_ok = aof.as_ref().is_none_or(|a| a.last_write_ok.load(SeqCst));
    line(out, "aof_last_write_status", status(write_ok));
    if let Some(a) = aof {
        line(
            out,
            "aof_current_size",
            a.current_size.load(SeqCst).to_string(),
        );
        line(out, "aof_base_size", a.base_size.load(SeqCst).to_string());
        line(
            out,
            "aof_pending_rewrite",
            u8::from(p.rewrite_scheduled.load(SeqCst)).to_string(),
        );
        line(out, "aof_buffer_length", a.buffered().to_string());
    }
}
