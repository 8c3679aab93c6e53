//! Cloud Run's v1 (Knative-style) surface, which gcloud uses for `gcloud run jobs ...`:
//! `/apis/run.googleapis.com/v1/namespaces/NS/{jobs,executions,tasks}` on the same store as
//! v2 (one job, two representations, as on Google). The namespace is the project (id or
//! number); the location is the region of the regional host gcloud calls
//! (`REGION-127.0.0.1:PORT`, reached with the runtime as gcloud's HTTP proxy), `us-central1`
//! without one.

use super::http::{body_as, json};
use super::{ApiError, ApiResult, Runtime};
use crate::api::run::{Execution, Job, RunJobRequest, Task};
use crate::api::Code;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

const PREFIX: &str = "/apis/run.googleapis.com/v1/namespaces/";
const API_VERSION: &str = "run.googleapis.com/v1";
const DEFAULT_REGION: &str = "us-central1";

/// The region of a regional host (`us-central1-127.0.0.1:8790` → `us-central1`).
fn region_of(headers: &HeaderMap, uri: &Uri) -> String {
    let host = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    for plain in ["-127.0.0.1", "-localhost"] {
        if let Some(region) = name.strip_suffix(plain) {
            return region.to_string();
        }
    }
    DEFAULT_REGION.to_string()
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!("the local runtime does not serve {what}"),
    )
}

/// The v1 routes; `None` for any other path.
pub(super) fn route(
    rt: &Arc<Runtime>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    q: &HashMap<String, String>,
) -> Option<ApiResult<Response>> {
    let rest = uri.path().strip_prefix(PREFIX)?;
    let region = region_of(headers, uri);
    let rest = percent_encoding::percent_decode_str(rest)
        .decode_utf8_lossy()
        .to_string();
    let (path, verb) = match rest.rsplit_once(':') {
        Some((p, v)) if !v.contains('/') => (p.to_string(), Some(v.to_string())),
        _ => (rest.clone(), None),
    };
    let segs: Vec<&str> = path.split('/').collect();
    let ns = segs.first().copied().unwrap_or("");
    let parent = rt
        .canonical_job_name(&format!("projects/{ns}/locations/{region}"))
        .to_string();
    let project = parent.split('/').nth(1).unwrap_or(ns).to_string();
    let ctx = Ctx {
        rt,
        parent: &parent,
        project: &project,
        region: &region,
    };
    Some(ctx.dispatch(method.as_str(), &segs[1..], verb.as_deref(), body, q))
}

struct Ctx<'a> {
    rt: &'a Arc<Runtime>,
    parent: &'a str,
    project: &'a str,
    region: &'a str,
}

impl Ctx<'_> {
    fn dispatch(
        &self,
        method: &str,
        segs: &[&str],
        verb: Option<&str>,
        body: &Bytes,
        q: &HashMap<String, String>,
    ) -> ApiResult<Response> {
        let job_name = |j: &str| format!("{}/jobs/{j}", self.parent);
        match (method, segs, verb) {
            ("GET", ["jobs"], None) => {
                let mut items = Vec::new();
                let mut token: Option<String> = None;
                loop {
                    let page = self
                        .rt
                        .list_jobs(self.parent, Some("1000"), token.as_deref())?;
                    for raw in &page.jobs {
                        let j: Job = serde_json::from_str(raw.get())
                            .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
                        items.push(self.job_v1(&j));
                    }
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    token = Some(page.next_page_token);
                }
                Ok(json(&list("JobsList", items)))
            }
            ("GET", ["jobs", j], None) => Ok(json(&self.job_v1(&self.rt.get_job(&job_name(j))?))),
            ("POST", ["jobs"], None) => {
                let v1: Value = body_as(body)?;
                let id = v1["metadata"]["name"].as_str().unwrap_or("").to_string();
                let job = job_from_v1(&v1)?;
                self.rt.create_job(self.parent, &id, job, false)?;
                Ok(json(&self.job_v1(&self.rt.get_job(&job_name(&id))?)))
            }
            ("PUT", ["jobs", j], None) => {
                let v1: Value = body_as(body)?;
                let mut job = job_from_v1(&v1)?;
                job.name = job_name(j);
                self.rt.update_job(&job.name.clone(), job, false, false)?;
                Ok(json(&self.job_v1(&self.rt.get_job(&job_name(j))?)))
            }
            ("DELETE", ["jobs", j], None) => {
                self.rt.delete_job(&job_name(j), None, false)?;
                Ok(json(&status_ok(j, "jobs")))
            }
            ("POST", ["jobs", j], Some("run")) => {
                let req: Value = body_as(body)?;
                let (exec, _) = self.rt.run_job(&job_name(j), run_request(&req)?, None)?;
                Ok(json(&self.execution_v1(&exec)))
            }
            ("GET", ["executions"], None) => {
                let job = label_selector(q, "run.googleapis.com/job");
                let mut items = Vec::new();
                for j in self.job_names(job.as_deref())? {
                    for e in self.rt.list_executions(&j, Some("1000"), None)?.executions {
                        items.push(self.execution_v1(&e));
                    }
                }
                Ok(json(&list("ExecutionsList", items)))
            }
            ("GET", ["executions", e], None) => Ok(json(
                &self.execution_v1(&self.rt.get_execution(&self.execution_name(e)?)?),
            )),
            ("DELETE", ["executions", e], None) => {
                self.rt.delete_execution(&self.execution_name(e)?)?;
                Ok(json(&status_ok(e, "executions")))
            }
            ("POST", ["executions", e], Some("cancel")) => {
                let name = self.execution_name(e)?;
                self.rt.cancel_execution(&name)?;
                Ok(json(&self.execution_v1(&self.rt.get_execution(&name)?)))
            }
            ("GET", ["tasks"], None) => {
                let exec = label_selector(q, "run.googleapis.com/execution").ok_or_else(|| {
                    ApiError::new(
                        Code::InvalidArgument,
                        "list tasks with labelSelector=run.googleapis.com/execution=NAME",
                    )
                })?;
                let name = self.execution_name(&exec)?;
                let tasks = self.rt.list_tasks(&name, Some("1000"), None)?.tasks;
                Ok(json(&list(
                    "TasksList",
                    tasks.iter().map(|t| self.task_v1(t)).collect(),
                )))
            }
            ("GET", ["tasks", t], None) => {
                let (exec, _) = t
                    .rsplit_once("-task")
                    .or_else(|| t.rsplit_once('-'))
                    .ok_or_else(|| not_found(t))?;
                let exec = self.execution_name(exec)?;
                let found = self
                    .rt
                    .list_tasks(&exec, Some("1000"), None)?
                    .tasks
                    .into_iter()
                    .find(|x| x.name.rsplit('/').next() == Some(t))
                    .ok_or_else(|| not_found(t))?;
                Ok(json(&self.task_v1(&found)))
            }
            _ => Err(not_found(&format!(
                "{method} {PREFIX}.../{}",
                segs.join("/")
            ))),
        }
    }

    /// Jobs of the namespace and region: one, or all.
    fn job_names(&self, only: Option<&str>) -> ApiResult<Vec<String>> {
        if let Some(j) = only {
            return Ok(vec![format!("{}/jobs/{j}", self.parent)]);
        }
        let page = self.rt.list_jobs(self.parent, Some("1000"), None)?;
        Ok(page
            .jobs
            .iter()
            .filter_map(|raw| serde_json::from_str::<Job>(raw.get()).ok())
            .map(|j| j.name)
            .collect())
    }

    /// An execution's full name from its short one (`JOB-SUFFIX`).
    fn execution_name(&self, short: &str) -> ApiResult<String> {
        for j in self.job_names(None)? {
            let job = j.rsplit('/').next().unwrap_or("");
            if short.starts_with(&format!("{job}-")) {
                let name = format!("{j}/executions/{short}");
                if self.rt.get_execution(&name).is_ok() {
                    return Ok(name);
                }
            }
        }
        Err(ApiError::new(
            Code::NotFound,
            format!("execution {short} not found in {}", self.parent),
        ))
    }

    fn metadata(&self, name: &str, v2: &Value, labels: Map<String, Value>) -> Value {
        let mut labels = labels;
        labels.insert("cloud.googleapis.com/location".into(), json!(self.region));
        json!({
            "name": name,
            "namespace": super::workflows_api::project_number(self.project),
            "uid": v2["uid"],
            "resourceVersion": v2["etag"],
            "generation": v2["generation"].as_str().and_then(|g| g.parse::<i64>().ok()).unwrap_or(1),
            "creationTimestamp": v2["createTime"],
            "labels": labels,
            "annotations": v2["annotations"].as_object().cloned().unwrap_or_default(),
        })
    }

    fn job_v1(&self, j: &Job) -> Value {
        let v2 = serde_json::to_value(j).unwrap_or_default();
        let short = j.name.rsplit('/').next().unwrap_or("");
        let t = &v2["template"];
        let latest = &v2["latestCreatedExecution"];
        let mut status = json!({
            "observedGeneration": v2["generation"].as_str().and_then(|g| g.parse::<i64>().ok()).unwrap_or(1),
            "conditions": conditions_v1(&v2["conditions"], Some(&v2["terminalCondition"]), "Ready"),
            "executionCount": v2["executionCount"].as_i64().unwrap_or(0),
        });
        if latest.is_object() {
            status["latestCreatedExecution"] = json!({
                "name": latest["name"].as_str().and_then(|n| n.rsplit('/').next()),
                "createTimestamp": latest["createTime"],
                "completionTimestamp": latest["completionTime"],
                "completionStatus": latest["completionStatus"],
            });
        }
        pruned(json!({
            "apiVersion": API_VERSION, "kind": "Job",
            "metadata": self.metadata(short, &v2, v2["labels"].as_object().cloned().unwrap_or_default()),
            "spec": {"template": {
                "metadata": {"annotations": t["annotations"], "labels": t["labels"]},
                "spec": {
                    "parallelism": t["parallelism"], "taskCount": t["taskCount"],
                    "template": {"spec": task_spec_v1(&t["template"])},
                },
            }},
            "status": status,
        }))
    }

    fn execution_v1(&self, e: &Execution) -> Value {
        let v2 = serde_json::to_value(e).unwrap_or_default();
        let short = e.name.rsplit('/').next().unwrap_or("");
        let job = e
            .name
            .split("/jobs/")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        let mut labels = v2["labels"].as_object().cloned().unwrap_or_default();
        labels.insert("run.googleapis.com/job".into(), json!(job));
        pruned(json!({
            "apiVersion": API_VERSION, "kind": "Execution",
            "metadata": self.metadata(short, &v2, labels),
            "spec": {
                "parallelism": v2["parallelism"], "taskCount": v2["taskCount"],
                "template": {"spec": task_spec_v1(&v2["template"])},
            },
            "status": {
                "observedGeneration": 1,
                "conditions": conditions_v1(&v2["conditions"], None, "Completed"),
                "startTime": v2["startTime"], "completionTime": v2["completionTime"],
                "runningCount": v2["runningCount"], "succeededCount": v2["succeededCount"],
                "failedCount": v2["failedCount"], "cancelledCount": v2["cancelledCount"],
                "retriedCount": v2["retriedCount"], "logUri": v2["logUri"],
            },
        }))
    }

    fn task_v1(&self, t: &Task) -> Value {
        let v2 = serde_json::to_value(t).unwrap_or_default();
        let short = t.name.rsplit('/').next().unwrap_or("");
        let mut labels = v2["labels"].as_object().cloned().unwrap_or_default();
        labels.insert(
            "run.googleapis.com/execution".into(),
            v2["execution"].clone(),
        );
        labels.insert("run.googleapis.com/job".into(), v2["job"].clone());
        labels.insert(
            "run.googleapis.com/taskIndex".into(),
            json!(t.index.to_string()),
        );
        pruned(json!({
            "apiVersion": API_VERSION, "kind": "Task",
            "metadata": self.metadata(short, &v2, labels),
            "spec": task_spec_v1(&v2),
            "status": {
                "index": t.index,
                "conditions": conditions_v1(&v2["conditions"], None, "Completed"),
                "startTime": v2["startTime"], "completionTime": v2["completionTime"],
                "retried": v2["retried"], "logUri": v2["logUri"],
                "lastAttemptResult": v2["lastAttemptResult"],
            },
        }))
    }
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": API_VERSION, "kind": kind, "metadata": {}, "items": items})
}

fn status_ok(name: &str, kind: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "status": "Success",
           "details": {"name": name, "group": "run.googleapis.com", "kind": kind}})
}

/// `labelSelector=KEY=VALUE` (one equality, what gcloud sends).
fn label_selector(q: &HashMap<String, String>, key: &str) -> Option<String> {
    q.get("labelSelector")?
        .split(',')
        .find_map(|kv| kv.trim().strip_prefix(&format!("{key}=")))
        .map(str::to_string)
}

/// v2 conditions as Knative's: `status` `True`/`False`/`Unknown`; the terminal condition (a
/// job's) becomes `ready`.
fn conditions_v1(conds: &Value, terminal: Option<&Value>, ready: &str) -> Value {
    let one = |c: &Value, ty: &str| {
        let status = match c["state"].as_str().unwrap_or("") {
            "CONDITION_SUCCEEDED" => "True",
            "CONDITION_FAILED" => "False",
            _ => "Unknown",
        };
        json!({"type": ty, "status": status, "message": c["message"],
               "reason": c["reason"], "lastTransitionTime": c["lastTransitionTime"]})
    };
    let mut out: Vec<Value> = Vec::new();
    if let Some(t) = terminal.filter(|t| t.is_object()) {
        out.push(one(t, ready));
    }
    for c in conds.as_array().into_iter().flatten() {
        out.push(one(c, c["type"].as_str().unwrap_or("")));
    }
    Value::Array(out)
}

/// Env vars between the shapes (`to_v1`: from v2): a secret reference is v2's
/// `valueSource.secretKeyRef {secret, version}` and v1's `valueFrom.secretKeyRef {name, key}`.
fn convert_env(env: &Value, to_v1: bool) -> Vec<Value> {
    let (from, to, keys) = if to_v1 {
        (
            "/valueSource/secretKeyRef",
            "valueFrom",
            [("secret", "name"), ("version", "key")],
        )
    } else {
        (
            "/valueFrom/secretKeyRef",
            "valueSource",
            [("name", "secret"), ("key", "version")],
        )
    };
    env.as_array()
        .into_iter()
        .flatten()
        .map(|e| match e.pointer(from) {
            Some(r) => {
                let reference: Map<String, Value> = keys
                    .iter()
                    .map(|(a, b)| (b.to_string(), r[*a].clone()))
                    .collect();
                let mut out = json!({"name": e["name"]});
                out[to] = json!({ "secretKeyRef": reference });
                out
            }
            None => json!({"name": e["name"], "value": e["value"]}),
        })
        .collect()
}

/// A v2 TaskTemplate as a v1 TaskSpec.
fn task_spec_v1(t: &Value) -> Value {
    let containers: Vec<Value> = t["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let env = convert_env(&c["env"], true);
            let mut v = json!({
                "image": c["image"], "command": c["command"], "args": c["args"], "env": env,
                "resources": {"limits": c.pointer("/resources/limits").cloned().unwrap_or(json!({}))},
                "workingDir": c["workingDir"],
            });
            if let Some(n) = c["name"].as_str() {
                v["name"] = json!(n);
            }
            strip_nulls(&mut v);
            v
        })
        .collect();
    let timeout = t["timeout"]
        .as_str()
        .and_then(|s| s.strip_suffix('s'))
        .and_then(|s| s.parse::<f64>().ok())
        .map(|s| (s as i64).to_string());
    let mut v = json!({
        "containers": containers,
        "maxRetries": t["maxRetries"],
        "timeoutSeconds": timeout,
        "serviceAccountName": t["serviceAccount"],
    });
    strip_nulls(&mut v);
    v
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, x| !x.is_null());
    }
}

/// Leaves out every null field, at any depth (what v2 does not set, v1 does not show).
fn pruned(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, x| !x.is_null());
                m.values_mut().for_each(walk);
            }
            Value::Array(xs) => xs.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// A v1 Job (what `gcloud run jobs create`, `update` and `replace` send) as a v2 one.
fn job_from_v1(v1: &Value) -> ApiResult<Job> {
    let bad = |m: String| ApiError::new(Code::InvalidArgument, m);
    let meta = &v1["metadata"];
    let exec = &v1["spec"]["template"];
    let spec = &exec["spec"];
    let task = &spec["template"]["spec"];
    let containers: Vec<Value> = task["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let env = convert_env(&c["env"], false);
            let mut v = json!({
                "name": c["name"], "image": c["image"], "command": c["command"],
                "args": c["args"], "env": env, "workingDir": c["workingDir"],
                "resources": c["resources"],
            });
            strip_nulls(&mut v);
            v
        })
        .collect();
    let labels: Map<String, Value> = meta["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        // Labels the platform sets are not the user's.
        .filter(|(k, _)| {
            !k.starts_with("cloud.googleapis.com/") && !k.starts_with("run.googleapis.com/")
        })
        .collect();
    let annotations: Map<String, Value> = meta["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with("run.googleapis.com/") || k == "run.googleapis.com/launch-stage"
        })
        .collect();
    let timeout = match &task["timeoutSeconds"] {
        Value::String(s) => Some(format!("{s}s")),
        Value::Number(n) => Some(format!("{n}s")),
        _ => None,
    };
    let mut template = json!({
        "containers": containers,
        "maxRetries": task["maxRetries"],
        "timeout": timeout,
        "serviceAccount": task["serviceAccountName"],
    });
    strip_nulls(&mut template);
    let mut v2 = json!({
        "labels": labels,
        "annotations": annotations,
        "template": {
            "parallelism": spec["parallelism"],
            "taskCount": spec["taskCount"],
            "labels": exec["metadata"]["labels"],
            "annotations": exec["metadata"]["annotations"],
            "template": template,
        },
    });
    if let Some(t) = v2["template"].as_object_mut() {
        t.retain(|_, x| !x.is_null());
    }
    serde_json::from_value(v2)
        .map_err(|e| bad(format!("the job is not a valid Cloud Run job: {e}")))
}

/// A v1 `:run` body (`overrides.containerOverrides`, `taskCount`, `timeoutSeconds`) as v2's.
fn run_request(v1: &Value) -> ApiResult<RunJobRequest> {
    let o = &v1["overrides"];
    if !o.is_object() {
        return Ok(RunJobRequest::default());
    }
    let mut v2 = json!({
        "overrides": {
            "containerOverrides": o["containerOverrides"],
            "taskCount": o["taskCount"],
        }
    });
    if let Some(t) = o["timeoutSeconds"]
        .as_i64()
        .or_else(|| o["timeoutSeconds"].as_str().and_then(|s| s.parse().ok()))
    {
        v2["overrides"]["timeout"] = json!(format!("{t}s"));
    }
    if let Some(m) = v2["overrides"].as_object_mut() {
        m.retain(|_, x| !x.is_null());
    }
    serde_json::from_value(v2)
        .map_err(|e| ApiError::new(Code::InvalidArgument, format!("invalid run request: {e}")))
}
