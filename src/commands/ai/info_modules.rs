//! RedisAI's `INFO MODULES` sections, in RedisAI's order (its tests read them by position): `ai_versions`,
//! `ai_git`, `ai_load_time_configs`, `ai_backends_info`, `ai_cpu`. Built here, in the core, so the
//! standalone server's `INFO modules` and the Redis module's info callback report the same fields.

use nix::sys::resource::{getrusage, UsageWho};

use crate::shared::Shared;

/// One section: its name and its fields, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: &'static str,
    pub fields: Vec<(String, String)>,
}

fn field(name: impl Into<String>, value: impl ToString) -> (String, String) {
    (name.into(), value.to_string())
}

/// The runtime new ONNX models load on, with its version (or why none can).
fn onnx_runtime() -> String {
    use crate::model::onnx::{self, Runtime};
    match onnx::active() {
        Ok(Runtime::Tract) => format!("tract {}", crate::model::tract::TRACT_VERSION),
        Ok(Runtime::OnnxRuntime) => format!(
            "onnxruntime {}",
            onnx::onnxruntime_version().unwrap_or_default()
        ),
        Err(e) => format!("none ({e})"),
    }
}

/// The `ai` section (the standalone server's `INFO ai`; the module's section named after it, last): key
/// counts by kind (`counts`: tensors, models, scripts, which each front end counts its own way), settings,
/// script runners per script, and each device queue's workers, load and batching.
pub fn ai_section(shared: &Shared, counts: [usize; 3]) -> Section {
    let s = shared.settings();
    let [tensors, models, scripts] = counts;
    let mut fields = vec![
        field("ai_tensors", tensors),
        field("ai_models", models),
        field("ai_threads_per_queue", s.threads_per_queue),
        field("ai_intra_op_parallelism", s.intra_op_parallelism),
        field("ai_model_execution_timeout", s.model_execution_timeout),
        field("ai_onnx_backend", onnx_runtime()),
    ];
    let pools = crate::runner::all();
    fields.push(field("ai_scripts", scripts));
    fields.push(field(
        "ai_script_runners_alive",
        pools.iter().map(|p| p.alive).sum::<u64>(),
    ));
    for p in &pools {
        // One line per script, as Redis's keyspace lines: `ai_script_<key>:runners=2,alive=2,...`. A key is
        // client input: no line breaks or separators in INFO's field names.
        let name: String = p
            .name
            .chars()
            .map(|c| if c.is_control() || c == ':' { '_' } else { c })
            .collect();
        fields.push(field(
            format!("ai_script_{name}"),
            format!(
                "language={},runners={},alive={},busy={},restarts={},calls={},errors={},timeouts={},kills={},requests={},native={}",
                p.language.name(),
                p.runners,
                p.alive,
                p.busy,
                p.restarts,
                p.calls,
                p.errors,
                p.timeouts,
                p.kills,
                p.requests,
                u8::from(p.native)
            ),
        ));
    }
    let relaxed = std::sync::atomic::Ordering::Relaxed;
    for q in shared.pool.queues() {
        let name = &q.name;
        fields.push(field(format!("ai_queue_{name}_workers"), q.workers));
        fields.push(field(format!("ai_queue_{name}_busy"), q.busy.load(relaxed)));
        fields.push(field(format!("ai_queue_{name}_queued"), q.len()));
        fields.push(field(
            format!("ai_queue_{name}_processed"),
            q.processed.load(relaxed),
        ));
        fields.push(field(
            format!("ai_queue_{name}_batches"),
            q.batches.load(relaxed),
        ));
        fields.push(field(
            format!("ai_queue_{name}_batched_requests"),
            q.batched_requests.load(relaxed),
        ));
    }
    Section { name: "ai", fields }
}

/// The sections as they stand now.
pub fn sections(shared: &Shared) -> Vec<Section> {
    let s = shared.settings();
    vec![
        Section {
            name: "ai_versions",
            fields: vec![
                field("ai_RedisAI_version", env!("CARGO_PKG_VERSION")),
                // RedisAI's C API for other modules (RedisGears) is not offered.
                field("ai_low_level_API_version", "none"),
                field("ai_rdb_version", crate::codec::container::VERSION),
            ],
        },
        Section {
            name: "ai_git",
            fields: vec![field("ai_git_sha", env!("TENSORCELL_GIT_SHA"))],
        },
        Section {
            name: "ai_load_time_configs",
            fields: vec![
                field("ai_threads_per_queue", s.threads_per_queue),
                field("ai_inter_op_parallelism", s.inter_op_parallelism),
                field("ai_intra_op_parallelism", s.intra_op_parallelism),
                field("ai_model_execution_timeout", s.model_execution_timeout),
                // No limit on backend memory (0, as RedisAI prints when none is set).
                field("ai_backend_memory_limit", 0),
            ],
        },
        Section {
            name: "ai_backends_info",
            // tract is built in, so it is always loaded; ONNX Runtime once its library has loaded.
            fields: {
                let mut f = vec![field(
                    "ai_tract_version",
                    crate::model::tract::TRACT_VERSION,
                )];
                if let Some(v) = crate::model::onnx::onnxruntime_version() {
                    f.push(field("ai_onnxruntime_version", v));
                }
                f
            },
        },
        Section {
            name: "ai_cpu",
            fields: cpu(shared),
        },
    ]
}

/// Seconds as RedisAI prints them: `<s>.<us, 6 digits>`.
fn seconds(us: i64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn usage(who: UsageWho) -> (String, String) {
    match getrusage(who) {
        Ok(u) => {
            let us = |t: nix::sys::time::TimeVal| t.tv_sec() * 1_000_000 + t.tv_usec();
            (seconds(us(u.system_time())), seconds(us(u.user_time())))
        }
        Err(_) => (seconds(0), seconds(0)),
    }
}

/// The server's CPU time, its reaped children's (script runners that ended), the answering thread's (the
/// standalone server's I/O thread, or Redis's main thread in the module), and each model worker's.
fn cpu(shared: &Shared) -> Vec<(String, String)> {
    let (self_sys, self_user) = usage(UsageWho::RUSAGE_SELF);
    let (child_sys, child_user) = usage(UsageWho::RUSAGE_CHILDREN);
    let (main_sys, main_user) = usage(UsageWho::RUSAGE_THREAD);
    let mut fields = vec![
        field("ai_self_used_cpu_sys", self_sys),
        field("ai_self_used_cpu_user", self_user),
        field("ai_children_used_cpu_sys", child_sys),
        field("ai_children_used_cpu_user", child_user),
        field("ai_main_thread_used_cpu_sys", main_sys),
        field("ai_main_thread_used_cpu_user", main_user),
    ];
    for q in shared.pool.queues() {
        for (i, tid) in q.thread_ids.lock().iter().enumerate() {
            fields.push(field(
                format!("ai_queue_{}_bthread_n{}_used_cpu_total", q.name, i + 1),
                seconds(if *tid == 0 { 0 } else { thread_cpu_us(*tid) }),
            ));
        }
    }
    fields
}

/// A thread's user + system time in microseconds.
fn thread_cpu_us(tid: i32) -> i64 {
    let (user, sys) = crate::util::proc_cpu_us(&format!("/proc/self/task/{tid}/stat"));
    user + sys
}

#[cfg(test)]
mod tests {
    #[test]
    fn seconds_print_as_redisai_does() {
        assert_eq!(super::seconds(3_000_042), "3.000042");
        assert_eq!(super::seconds(0), "0.000000");
    }

    #[test]
    fn the_tract_version_is_the_one_cargo_pins() {
        let manifest = include_str!("../../../Cargo.toml");
        let pin = format!("tract-onnx = \"={}\"", crate::model::tract::TRACT_VERSION);
        assert!(manifest.contains(&pin), "Cargo.toml does not pin {pin}");
    }
}
