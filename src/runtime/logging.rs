//! Cloud Logging v2 `entries:list` over the task logs: every line a task wrote is a LogEntry
//! shaped as Cloud Run writes it (`shared/reference/cloud-run-container-contract.md` §5):
//! resource `cloud_run_job` with `job_name`, `location` and `project_id`, the labels
//! `run.googleapis.com/execution_name`, `task_index` and `task_attempt`, `logName`
//! `run.googleapis.com%2Fstdout` (or `stderr`, or `varlog%2Fsystem` for the platform's lines),
//! and a one-line JSON object as `jsonPayload` (with `severity` and `message` lifted out).

use super::store::Kind;
use super::{ApiError, ApiResult, Runtime};
use crate::api::run::Execution;
use crate::api::Code;
use serde_json::{json, Map, Value};

/// Where runform's own notes about a task (not the task's output) are logged.
pub const RUNFORM_LOG: &str = "runform.dev%2Fruntime";

fn log_name(project: &str, stream: &str) -> String {
    let log = match stream {
        "stdout" => "run.googleapis.com%2Fstdout",
        "stderr" => "run.googleapis.com%2Fstderr",
        "system" => "run.googleapis.com%2Fvarlog%2Fsystem",
        _ => RUNFORM_LOG,
    };
    format!("projects/{project}/logs/{log}")
}

/// A task's line as a LogEntry (`n`: its place in the attempt's log, for a stable order).
#[allow(clippy::too_many_arguments)]
fn entry(
    exec: &Execution,
    project: &str,
    location: &str,
    job: &str,
    line: &crate::api::ext::LogEntry,
    n: usize,
    fallback_time: &str,
) -> Value {
    let short = exec.short_name();
    let mut labels = json!({
        "run.googleapis.com/execution_name": short,
        "run.googleapis.com/task_index": line.task.to_string(),
        "run.googleapis.com/task_attempt": line.attempt.to_string(),
    });
    let timestamp = if line.timestamp.is_empty() {
        fallback_time.to_string()
    } else {
        line.timestamp.clone()
    };
    let mut e = json!({
        "insertId": format!("{}-{:04}-{:02}-{:08}", short, line.task, line.attempt, n),
        "logName": log_name(project, &line.stream),
        "resource": {"type": "cloud_run_job", "labels": {
            "job_name": job, "location": location, "project_id": project,
        }},
        "timestamp": timestamp,
        "receiveTimestamp": timestamp,
    });
    match serde_json::from_str::<Value>(&line.line) {
        Ok(Value::Object(mut payload)) if line.stream == "stdout" || line.stream == "stderr" => {
            if let Some(Value::String(sev)) = payload.remove("severity") {
                e["severity"] = json!(sev.to_uppercase());
            }
            if let Some(Value::Object(extra)) = payload.remove("logging.googleapis.com/labels") {
                for (k, v) in extra {
                    labels[k] = v;
                }
            }
            e["jsonPayload"] = Value::Object(payload);
        }
        _ => {
            e["textPayload"] = json!(line.line);
            match line.stream.as_str() {
                "system" => e["severity"] = json!("ERROR"),
                "runform" => e["severity"] = json!("NOTICE"),
                _ => {}
            }
        }
    }
    e["labels"] = labels;
    e
}

impl Runtime {
    /// Every entry of one execution, in the order its tasks wrote them.
    fn execution_entries(&self, exec: &Execution) -> Vec<Value> {
        let Some((project, location)) = crate::api::run::project_location(&exec.name) else {
            return Vec::new();
        };
        let job = exec
            .name
            .split("/jobs/")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        let fallback = if exec.start_time.is_empty() {
            exec.create_time.clone()
        } else {
            exec.start_time.clone()
        };
        let lines = self.logs(&exec.name, None).unwrap_or_default();
        let mut place: std::collections::BTreeMap<(i32, i32), usize> = Default::default();
        lines
            .iter()
            .map(|l| {
                let n = place.entry((l.task, l.attempt)).or_default();
                *n += 1;
                entry(exec, project, location, job, l, *n, &fallback)
            })
            .collect()
    }

    /// `POST /v2/entries:list`: entries of the projects in `resourceNames` that match
    /// `filter`, by `orderBy` (`timestamp asc`, the default, or `timestamp desc`), a page of
    /// `pageSize` (at most 1,000) at a time.
    pub fn list_log_entries(&self, req: &Value) -> ApiResult<Value> {
        let bad = |m: String| ApiError::new(Code::InvalidArgument, m);
        let projects: Vec<String> = req["resourceNames"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(req["projectIds"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .map(|r| r.strip_prefix("projects/").unwrap_or(r).to_string())
            .collect();
        if projects.is_empty() {
            return Err(bad(
                "resourceNames must name at least one project (projects/P)".into(),
            ));
        }
        // The projects are in the body, where the request guard does not look: a caller with
        // an identity (a task's token) needs `logging.logEntries.list` on each.
        if let super::auth::Caller::Principal(member) = super::auth::caller() {
            for p in &projects {
                self.authorize(&member, "logging.logEntries.list", &format!("projects/{p}"))?;
            }
        }
        let filter = super::log_filter::parse(req["filter"].as_str().unwrap_or(""))
            .map_err(|e| bad(format!("invalid filter: {e}")))?;
        let descending = match req["orderBy"].as_str().unwrap_or("timestamp asc").trim() {
            "" | "timestamp" | "timestamp asc" => false,
            "timestamp desc" => true,
            other => {
                return Err(bad(format!(
                    "orderBy {other:?}: only timestamp asc or desc"
                )))
            }
        };
        let page_size = req["pageSize"]
            .as_u64()
            .or_else(|| req["pageSize"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(1000)
            .clamp(1, 1000) as usize;
        let skip: usize = match req["pageToken"].as_str().filter(|t| !t.is_empty()) {
            Some(t) => t
                .parse()
                .map_err(|_| bad(format!("invalid pageToken {t:?}")))?,
            None => 0,
        };
        // Only the executions the filter can match are read (runform asks for one).
        let only_exec = filter.required(&["labels", "run.googleapis.com/execution_name"]);
        let only_job = filter.required(&["resource", "labels", "job_name"]);
        let executions: Vec<Execution> = self.store().all(Kind::Execution);
        let mut entries: Vec<Value> = executions
            .iter()
            .filter(|e| {
                crate::api::run::project_location(&e.name)
                    .is_some_and(|(p, _)| projects.iter().any(|want| want == p))
                    && only_exec.is_none_or(|x| e.name.rsplit('/').next() == Some(x))
                    && only_job.is_none_or(|j| e.name.contains(&format!("/jobs/{j}/")))
            })
            .flat_map(|e| self.execution_entries(e))
            .filter(|e| filter.matches(e))
            .collect();
        let key = |e: &Value| {
            (
                e["timestamp"].as_str().unwrap_or("").to_string(),
                e["insertId"].as_str().unwrap_or("").to_string(),
            )
        };
        entries.sort_by_key(key);
        if descending {
            entries.reverse();
        }
        let total = entries.len();
        let page: Vec<Value> = entries.into_iter().skip(skip).take(page_size).collect();
        let mut out = Map::new();
        let next = skip + page.len();
        out.insert("entries".into(), Value::Array(page));
        if next < total {
            out.insert("nextPageToken".into(), json!(next.to_string()));
        }
        Ok(Value::Object(out))
    }
}
