//! Workflows v1 (`projects/*/locations/*/workflows`, long-running operations that finish at
//! once) and Workflow Executions v1 (`.../workflows/*/executions`, synchronous create) in the
//! local runtime. An execution runs the interpreter ([`super::workflows`]) as the workflow's
//! service account: the Cloud Run connectors check IAM on the job and wait for it, `http.*`
//! reaches loopback addresses only.

use super::store::Kind;
use super::workflows::{Host, Program, WfError};
use super::{now_rfc3339, ApiError, ApiResult, Runtime};
use crate::api::run::{to_any, Execution, RunJobRequest};
use crate::api::workflows::*;
use crate::api::{Code, Operation};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

const WORKFLOW_TYPE: &str = "type.googleapis.com/google.cloud.workflows.v1.Workflow";
const META_TYPE: &str = "type.googleapis.com/google.cloud.workflows.v1.OperationMetadata";

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidArgument, m)
}

/// A stable synthetic project number for a project id (the local runtime has no real ones).
pub fn project_number(project: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(project.as_bytes());
    let n = u64::from_be_bytes(d[..8].try_into().unwrap_or([0; 8])) % 900_000_000_000;
    format!("{}", 100_000_000_000 + n)
}

impl Runtime {
    fn workflow_op(&self, name: &str, verb: &str, response: Value) -> ApiResult<Operation> {
        let mut op = self.new_operation(
            name,
            serde_json::json!({"@type": META_TYPE, "target": name, "verb": verb, "apiVersion": "v1",
                               "createTime": now_rfc3339(), "endTime": now_rfc3339()}),
        );
        op.done = true;
        op.response = Some(response);
        self.store().put(Kind::Operation, &op.name, &op)?;
        Ok(op)
    }

    fn check_workflow(w: &Workflow) -> ApiResult<()> {
        if w.source_contents.len() > 128 * 1024 {
            return Err(invalid("sourceContents is larger than 128 KB"));
        }
        Program::parse(&w.source_contents).map_err(|e| invalid(format!("sourceContents: {e}")))?;
        Ok(())
    }

    pub fn create_workflow(&self, parent: &str, id: &str, mut w: Workflow) -> ApiResult<Operation> {
        check_workflow_id(id).map_err(invalid)?;
        let name = format!("{parent}/workflows/{id}");
        if self.store().contains(Kind::Workflow, &name) {
            return Err(ApiError::new(
                Code::AlreadyExists,
                format!("Resource '{name}' already exists"),
            ));
        }
        Self::check_workflow(&w)?;
        let now = now_rfc3339();
        w.name = name.clone();
        w.state = "ACTIVE".into();
        w.revision_id = "000001-a00".into();
        w.create_time = now.clone();
        w.update_time = now.clone();
        w.revision_create_time = now;
        self.store().put(Kind::Workflow, &name, &w)?;
        self.workflow_op(&name, "create", to_any(WORKFLOW_TYPE, &w))
    }

    pub fn get_workflow(&self, name: &str) -> ApiResult<Workflow> {
        self.store().get(Kind::Workflow, name).ok_or_else(|| {
            ApiError::new(Code::NotFound, format!("Resource '{name}' was not found"))
        })
    }

    pub fn list_workflows(
        &self,
        parent: &str,
        page_size: Option<&str>,
        token: Option<&str>,
    ) -> ApiResult<Value> {
        let limit = super::jobs::page_size(page_size)?;
        let after = super::jobs::page_token_decode(token)?;
        let (workflows, more): (Vec<Workflow>, bool) = self.store().page(
            Kind::Workflow,
            &format!("{parent}/workflows/"),
            after.as_deref(),
            limit,
        );
        let next = match (more, workflows.last()) {
            (true, Some(l)) => super::jobs::page_token_encode(&l.name),
            _ => String::new(),
        };
        Ok(serde_json::json!({"workflows": workflows, "nextPageToken": next}))
    }

    pub fn patch_workflow(&self, name: &str, patch: Workflow, mask: &str) -> ApiResult<Operation> {
        let mut w = self.get_workflow(name)?;
        let fields: Vec<String> = if mask.trim().is_empty() {
            [
                "description",
                "sourceContents",
                "serviceAccount",
                "labels",
                "userEnvVars",
                "callLogLevel",
                "executionHistoryLevel",
                "cryptoKeyName",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        } else {
            mask.split(',').map(|s| s.trim().to_string()).collect()
        };
        let mut new_revision = false;
        for f in &fields {
            match f.as_str() {
                "description" => w.description = patch.description.clone(),
                "sourceContents" | "source_contents" => {
                    new_revision |= w.source_contents != patch.source_contents;
                    w.source_contents = patch.source_contents.clone();
                }
                "serviceAccount" | "service_account" => {
                    new_revision |= w.service_account != patch.service_account;
                    w.service_account = patch.service_account.clone();
                }
                "labels" => w.labels = patch.labels.clone(),
                "userEnvVars" | "user_env_vars" => w.user_env_vars = patch.user_env_vars.clone(),
                "callLogLevel" | "call_log_level" => {
                    w.call_log_level = patch.call_log_level.clone()
                }
                "executionHistoryLevel" | "execution_history_level" => {
                    w.execution_history_level = patch.execution_history_level.clone()
                }
                "cryptoKeyName" | "crypto_key_name" => {
                    new_revision |= w.crypto_key_name != patch.crypto_key_name;
                    w.crypto_key_name = patch.crypto_key_name.clone()
                }
                other => return Err(invalid(format!("{other} cannot be updated"))),
            }
        }
        Self::check_workflow(&w)?;
        w.update_time = now_rfc3339();
        if new_revision {
            let n: u32 = w
                .revision_id
                .split('-')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
                + 1;
            w.revision_id = format!("{n:06}-a00");
            w.revision_create_time = w.update_time.clone();
        }
        self.store().put(Kind::Workflow, name, &w)?;
        self.workflow_op(name, "update", to_any(WORKFLOW_TYPE, &w))
    }

    pub fn delete_workflow(&self, name: &str) -> ApiResult<Operation> {
        self.get_workflow(name)?;
        let mut store = self.store();
        store.delete(Kind::Workflow, name)?;
        store.delete_prefix(Kind::WorkflowExecution, &format!("{name}/executions/"))?;
        drop(store);
        self.workflow_op(
            name,
            "delete",
            serde_json::json!({"@type": "type.googleapis.com/google.protobuf.Empty"}),
        )
    }

    /// Starts an execution (argument: JSON text) and returns it at once, `ACTIVE`; it runs in
    /// the background. Use [`Runtime::get_workflow_execution`] to follow it.
    pub fn create_workflow_execution(
        self: &Arc<Self>,
        workflow: &str,
        req: WorkflowExecution,
    ) -> ApiResult<WorkflowExecution> {
        let w = self.get_workflow(workflow)?;
        let argument: Value = if req.argument.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&req.argument)
                .map_err(|e| invalid(format!("argument is not JSON: {e}")))?
        };
        let program = Program::parse(&w.source_contents).map_err(invalid)?;
        let e = WorkflowExecution {
            name: format!("{workflow}/executions/{}", uuid::Uuid::new_v4()),
            state: "ACTIVE".into(),
            argument: req.argument,
            start_time: now_rfc3339(),
            workflow_revision_id: w.revision_id.clone(),
            call_log_level: req.call_log_level,
            ..Default::default()
        };
        self.store().put(Kind::WorkflowExecution, &e.name, &e)?;
        let rt = self.clone();
        let exec_name = e.name.clone();
        tokio::spawn(async move {
            let host = RtHost {
                rt: rt.clone(),
                workflow: w,
                execution: exec_name.clone(),
            };
            let outcome = program.run(argument, &host).await;
            let Some(mut e) = rt
                .store()
                .get::<WorkflowExecution>(Kind::WorkflowExecution, &exec_name)
            else {
                return;
            };
            if e.state != "ACTIVE" {
                return; // cancelled meanwhile
            }
            e.end_time = now_rfc3339();
            match outcome {
                Ok(v) => {
                    e.state = "SUCCEEDED".into();
                    e.result = v.to_string();
                }
                Err(err) => {
                    e.state = "FAILED".into();
                    e.error = Some(ExecutionError {
                        payload: err.payload.to_string(),
                        context: format!(
                            "RuntimeError: {} (in step \"{}\")",
                            err.message(),
                            err.step
                        ),
                        stack_trace: Some(
                            serde_json::json!({"elements": [{"step": err.step, "routine": "main"}]}),
                        ),
                    });
                }
            }
            let _ = rt.store().put(Kind::WorkflowExecution, &exec_name, &e);
            rt.changed.notify_waiters();
        });
        Ok(e)
    }

    pub fn get_workflow_execution(&self, name: &str) -> ApiResult<WorkflowExecution> {
        self.store()
            .get(Kind::WorkflowExecution, name)
            .ok_or_else(|| {
                ApiError::new(Code::NotFound, format!("Resource '{name}' was not found"))
            })
    }

    pub fn list_workflow_executions(&self, workflow: &str) -> ApiResult<Value> {
        self.get_workflow(workflow)?;
        let store = self.store();
        let names: Vec<String> = store
            .names_with_prefix(Kind::WorkflowExecution, &format!("{workflow}/executions/"))
            .map(str::to_string)
            .collect();
        let mut execs: Vec<WorkflowExecution> = names
            .iter()
            .filter_map(|n| store.get(Kind::WorkflowExecution, n))
            .collect();
        execs.sort_by(|a, b| b.start_time.cmp(&a.start_time));
        Ok(serde_json::json!({"executions": execs}))
    }

    pub fn cancel_workflow_execution(&self, name: &str) -> ApiResult<WorkflowExecution> {
        let mut e = self.get_workflow_execution(name)?;
        if e.state == "ACTIVE" {
            e.state = "CANCELLED".into();
            e.end_time = now_rfc3339();
            self.store().put(Kind::WorkflowExecution, name, &e)?;
        }
        Ok(e)
    }
}

/// What a workflow execution reaches: the runtime itself, as the workflow's service account.
struct RtHost {
    rt: Arc<Runtime>,
    workflow: Workflow,
    execution: String,
}

impl RtHost {
    fn member(&self) -> String {
        let sa = service_account_email(&self.workflow.service_account);
        let email = if sa.is_empty() {
            // Google's default: the Compute Engine default service account.
            format!(
                "{}-compute@developer.gserviceaccount.com",
                project_number(self.project())
            )
        } else {
            sa.to_string()
        };
        format!("serviceAccount:{email}")
    }
    fn project(&self) -> &str {
        self.workflow.name.split('/').nth(1).unwrap_or("")
    }

    /// Runs a Cloud Run job as the workflow's identity and (unless told not to) waits for it.
    async fn run_job(
        &self,
        job: &str,
        req: RunJobRequest,
        connector: &Value,
    ) -> Result<Execution, WfError> {
        let err = |tag: &str, m: String| WfError {
            payload: serde_json::json!({"message": m, "tags": [tag]}),
            step: String::new(),
        };
        let job = &self.rt.canonical_job_name(job);
        self.rt
            .authorize_run(job, &self.member(), &req)
            .map_err(|e| err("HttpError", e.body.error.message))?;
        let (exec, _) = self
            .rt
            .run_job(job, req, None)
            .map_err(|e| err("HttpError", e.body.error.message))?;
        self.rt
            .started_by_workflow
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(self.execution.clone())
            .or_default()
            .push(exec.name.clone());
        if connector.get("skip_polling").and_then(Value::as_bool) == Some(true) {
            return Ok(exec);
        }
        let timeout = connector
            .get("timeout")
            .and_then(Value::as_f64)
            .unwrap_or(1800.0);
        let deadline = tokio::time::Instant::now() + crate::api::common::clamp_secs(timeout);
        loop {
            let e = self
                .rt
                .get_execution(&exec.name)
                .map_err(|e| err("HttpError", e.body.error.message))?;
            if e.is_done() {
                if e.succeeded() {
                    return Ok(e);
                }
                return Err(err(
                    "OperationError",
                    format!(
                        "Cloud Run execution {} failed: {} of {} task(s) failed",
                        e.name, e.failed_count, e.task_count
                    ),
                ));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(err(
                    "TimeoutError",
                    format!("the connector gave up on {} after {timeout}s", exec.name),
                ));
            }
            let changed = self.rt.changed.notified();
            let _ = tokio::time::timeout(Duration::from_millis(200), changed).await;
        }
    }
}

/// v1 `containerOverrides` may be a single map (Google's tutorial) or a list; `timeoutSeconds`
/// is an integer in v1 and a duration string in v2.
fn run_request(body: &Value, v1: bool) -> Result<RunJobRequest, String> {
    let mut body = body.clone();
    if let Some(o) = body.get_mut("overrides").and_then(Value::as_object_mut) {
        if let Some(c) = o.get_mut("containerOverrides") {
            if c.is_object() {
                *c = Value::Array(vec![c.clone()]);
            }
        }
        if v1 {
            if let Some(t) = o.remove("timeoutSeconds") {
                o.insert(
                    "timeout".into(),
                    Value::String(format!("{}s", t.as_f64().unwrap_or(0.0))),
                );
            }
        }
    }
    if body.is_null() {
        return Ok(RunJobRequest::default());
    }
    serde_json::from_value(body).map_err(|e| format!("the run request body is not valid: {e}"))
}

impl Host for RtHost {
    fn env(&self, key: &str) -> Option<String> {
        let wf = &self.workflow;
        Some(match key {
            "GOOGLE_CLOUD_PROJECT_ID" => self.project().to_string(),
            "GOOGLE_CLOUD_PROJECT_NUMBER" => project_number(self.project()),
            "GOOGLE_CLOUD_LOCATION" => wf.name.split('/').nth(3).unwrap_or("").to_string(),
            "GOOGLE_CLOUD_WORKFLOW_ID" => crate::api::run::last_segment(&wf.name).to_string(),
            "GOOGLE_CLOUD_WORKFLOW_REVISION_ID" => wf.revision_id.clone(),
            "GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID" => {
                crate::api::run::last_segment(&self.execution).to_string()
            }
            "GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME" => self
                .member()
                .trim_start_matches("serviceAccount:")
                .to_string(),
            other => return wf.user_env_vars.get(other).cloned(),
        })
    }

    fn call<'a>(
        &'a self,
        f: &'a str,
        args: Value,
    ) -> Pin<Box<dyn Future<Output = Result<Value, WfError>> + Send + 'a>> {
        Box::pin(async move {
            let bad = |m: String| WfError {
                payload: serde_json::json!({"message": m, "tags": ["TypeError"]}),
                step: String::new(),
            };
            let s = |k: &str| {
                args.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let connector = args.get("connector_params").cloned().unwrap_or(Value::Null);
            match f {
                "googleapis.run.v1.namespaces.jobs.run" => {
                    let name = s("name");
                    let (project, job) = name
                        .strip_prefix("namespaces/")
                        .and_then(|r| r.split_once("/jobs/"))
                        .ok_or_else(|| {
                            bad(format!("name {name:?} must be namespaces/PROJECT/jobs/JOB"))
                        })?;
                    let location = s("location");
                    if location.is_empty() {
                        return Err(bad(
                            "the v1 connector needs a location (the job's region)".into()
                        ));
                    }
                    let full = format!("projects/{project}/locations/{location}/jobs/{job}");
                    let req =
                        run_request(args.get("body").unwrap_or(&Value::Null), true).map_err(bad)?;
                    let e = self.run_job(&full, req, &connector).await?;
                    Ok(v1_execution(&e, project))
                }
                "googleapis.run.v2.projects.locations.jobs.run" => {
                    let req = run_request(args.get("body").unwrap_or(&Value::Null), false)
                        .map_err(bad)?;
                    let e = self.run_job(&s("name"), req, &connector).await?;
                    Ok(serde_json::to_value(e).unwrap_or_default())
                }
                "sys.log" => Ok(Value::Null),
                "sys.sleep" => {
                    let secs = args.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
                    tokio::time::sleep(crate::api::common::clamp_secs(secs.min(3600.0))).await;
                    Ok(Value::Null)
                }
                "http.get" | "http.post" | "http.put" | "http.delete" | "http.patch"
                | "http.request" => http_call(f, &args).await,
                other => Err(bad(format!(
                    "{other} is not supported by the local runtime"
                ))),
            }
        })
    }
}

/// The v1 (Knative-style) Execution the v1 connector returns.
fn v1_execution(e: &Execution, namespace: &str) -> Value {
    serde_json::json!({
        "apiVersion": "run.googleapis.com/v1",
        "kind": "Execution",
        "metadata": {"name": crate::api::run::last_segment(&e.name), "namespace": namespace},
        "status": {
            "startTime": e.start_time, "completionTime": e.completion_time,
            "succeededCount": e.succeeded_count, "failedCount": e.failed_count,
            "cancelledCount": e.cancelled_count, "retriedCount": e.retried_count,
            "runningCount": e.running_count,
            "conditions": [{"type": "Completed", "status": if e.succeeded() { "True" } else { "False" }}]
        }
    })
}

/// `http.*` to loopback only; the result is `{code, headers, body}`, and a status ≥ 400
/// raises HttpError as Workflows does.
async fn http_call(f: &str, args: &Value) -> Result<Value, WfError> {
    let fail = |tag: &str, m: String, extra: Value| {
        let mut p = serde_json::json!({"message": m, "tags": [tag]});
        if let (Value::Object(pm), Value::Object(em)) = (&mut p, extra) {
            pm.extend(em);
        }
        WfError {
            payload: p,
            step: String::new(),
        }
    };
    let url = args.get("url").and_then(Value::as_str).unwrap_or("");
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| fail("ValueError", format!("bad url {url:?}: {e}"), Value::Null))?;
    let host = parsed.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    if !loopback {
        return Err(fail(
            "ConnectionError",
            format!("the local runtime reaches loopback addresses only, not {url}"),
            Value::Null,
        ));
    }
    let method = match f {
        "http.request" => args
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_uppercase(),
        _ => f.trim_start_matches("http.").to_uppercase(),
    };
    let timeout = args.get("timeout").and_then(Value::as_f64).unwrap_or(300.0);
    let mut req = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET),
            parsed,
        )
        .timeout(crate::api::common::clamp_secs(timeout));
    for (k, v) in args
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        req = req.header(
            k,
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string()),
        );
    }
    if let Some(q) = args.get("query").and_then(Value::as_object) {
        let pairs: Vec<(String, String)> = q
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect();
        req = req.query(&pairs);
    }
    if let Some(b) = args.get("body") {
        req = match b {
            Value::String(s) => req.body(s.clone()),
            other => req.json(other),
        };
    }
    let resp = req.send().await.map_err(|e| {
        fail(
            "ConnectionError",
            format!("{method} {url}: {e}"),
            Value::Null,
        )
    })?;
    let code = resp.status().as_u16();
    let headers: serde_json::Map<String, Value> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                Value::String(v.to_str().unwrap_or("").to_string()),
            )
        })
        .collect();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if code >= 400 {
        return Err(fail(
            "HttpError",
            format!("HTTP server responded with error code {code}"),
            serde_json::json!({"code": code, "body": body}),
        ));
    }
    Ok(serde_json::json!({"code": code, "headers": headers, "body": body}))
}

impl Runtime {
    /// Whether work started here is still going: job executions or workflow executions.
    pub fn busy(&self) -> bool {
        if !self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            return true;
        }
        let store = self.store();
        let names: Vec<String> = store
            .names_with_prefix(Kind::WorkflowExecution, "")
            .map(str::to_string)
            .collect();
        names.iter().any(|n| {
            store
                .get::<WorkflowExecution>(Kind::WorkflowExecution, n)
                .is_some_and(|e| e.state == "ACTIVE")
        })
    }
}

/// Waits (up to `limit`) for an execution to leave ACTIVE; for tests and `runform`.
pub async fn wait_workflow_execution(
    rt: &Runtime,
    name: &str,
    limit: Duration,
) -> ApiResult<WorkflowExecution> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let changed = rt.changed.notified();
        let e = rt.get_workflow_execution(name)?;
        if e.state != "ACTIVE" || tokio::time::Instant::now() > deadline {
            return Ok(e);
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), changed).await;
    }
}
