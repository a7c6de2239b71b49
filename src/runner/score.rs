//! AI.SCORE requests, batched: when several AI.SCORE calls on one script wait for a runner, the driver that
//! frees up takes the compatible ones together and sends them as one `score` request with one record *set*
//! per call. The runner runs them in order and answers per set, so one call's bad record fails that call
//! only, while the round trip to the runner (and its wake-up) is paid once per batch instead of per call.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use super::{Failure, Runner, Scored};

/// Most calls, records and record bytes one batched request carries.
pub const MAX_JOBS: usize = 64;
const MAX_RECORDS: usize = 4096;
const MAX_BYTES: usize = 16 << 20;

/// What a job's completion gets: its values, or why it failed.
pub type ScoreResult = Result<Vec<Scored>, Failure>;

/// What runs when a call has its result (on the driver thread, with the runner).
pub type ScoreDone = Box<dyn FnOnce(&mut Runner, ScoreResult) + Send>;

/// One AI.SCORE call waiting for a runner.
pub struct ScoreJob {
    pub action: String,
    pub records: Vec<Bytes>,
    pub input: String,
    pub output: String,
    /// `end()` after the records (such a call is never batched with others).
    pub eof: bool,
    pub limit: Duration,
    /// The calling client's ACL user (the action's `redis.execute` runs as it): only calls of one user
    /// share a request.
    pub user: Option<Bytes>,
    /// Runs on the driver thread with the runner once the call has its result.
    pub done: ScoreDone,
}

impl ScoreJob {
    pub fn bytes(&self) -> usize {
        self.records.iter().map(|r| r.len()).sum()
    }

    /// Whether `other` can ride in the same request as `self` (which leads the batch).
    pub fn takes(&self, other: &ScoreJob, jobs: usize, records: usize, bytes: usize) -> bool {
        !self.eof
            && !other.eof
            && jobs < MAX_JOBS
            && records + other.records.len() <= MAX_RECORDS
            && bytes + other.bytes() <= MAX_BYTES
            && self.action == other.action
            && self.user == other.user
            && self.input == other.input
            && self.output == other.output
    }
}

/// Runs `jobs` (a batch the driver gathered) as one request and completes each. The batch's time limit is
/// the sum of its calls' (each call keeps its own allowance, one after the other).
pub fn run(runner: &mut Runner, jobs: Vec<ScoreJob>) {
    let limit = jobs.iter().map(|j| j.limit).sum();
    let user = jobs[0].user.clone();
    let outcome = super::host::as_caller(user, || request(runner, &jobs, limit));
    for (i, job) in jobs.into_iter().enumerate() {
        let result = match &outcome {
            Ok(results) => results
                .get(i)
                .cloned()
                .unwrap_or_else(|| Err(Failure::Script("runner message: missing result".into()))),
            Err(f) => Err(f.clone()),
        };
        // One call's completion failing (its commit) must not cost the others their answers.
        let done = job.done;
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| done(runner, result)));
        if ran.is_err() {
            crate::warning!("an AI.SCORE completion panicked; its client got an error");
        }
    }
}

fn request(
    runner: &mut Runner,
    jobs: &[ScoreJob],
    limit: Duration,
) -> Result<Vec<ScoreResult>, Failure> {
    let first = &jobs[0];
    let reply = runner.request(
        "score",
        |out| {
            let sets: Vec<usize> = jobs.iter().map(|j| j.records.len()).collect();
            out.set("action", Value::String(first.action.clone()))
                .set_bytes(
                    "records",
                    jobs.iter().flat_map(|j| j.records.iter().map(|r| &r[..])),
                )
                .set("sets", json!(sets))
                .set("input", Value::String(first.input.clone()))
                .set("output", Value::String(first.output.clone()))
                .set("eof", Value::Bool(first.eof));
            Ok(())
        },
        limit,
        jobs.len(),
    )?;
    let bad = || Failure::Script("runner message: bad score results".into());
    let results = reply.header["results"].as_array().ok_or_else(bad)?;
    if results.len() != jobs.len() {
        return Err(bad());
    }
    Ok(results
        .iter()
        .map(|r| {
            if let Some(e) = r.get("error") {
                return Err(Failure::Script(e.as_str().unwrap_or("").to_string()));
            }
            r["values"]
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|v| {
                    Ok(match v[0].as_str().ok_or_else(bad)? {
                        "int" => Scored::Int(v[1].as_i64().ok_or_else(bad)?),
                        // Non-finite doubles travel as text (`nan`, `inf`, `-inf`).
                        "double" => Scored::Double(
                            v[1].as_f64()
                                .or_else(|| v[1].as_str().and_then(|t| t.parse().ok()))
                                .ok_or_else(bad)?,
                        ),
                        _ => Scored::Text(v[1].as_str().ok_or_else(bad)?.to_string()),
                    })
                })
                .collect()
        })
        .collect())
}
