//! Jobs, executions, tasks, operations and IAM policies: the resource side of the runtime.

use super::store::{Kind, Store};
use super::{now_rfc3339, ApiError, ApiResult, Runtime};
pub use crate::api::ext::ImageMapping;
use crate::api::run::*;
use crate::api::{Code, Enum, ErrorBody, Operation, Policy};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A `{jobs[], nextPageToken}` page whose jobs are stored JSON text.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawJobsPage {
    pub jobs: Vec<Box<serde_json::value::RawValue>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

pub(crate) const PAGE_DEFAULT: usize = 100;
pub(crate) const PAGE_MAX: usize = 1000;

pub(crate) fn page_size(q: Option<&str>) -> ApiResult<usize> {
    match q {
        None | Some("") => Ok(PAGE_DEFAULT),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 0 => Err(ApiError::new(
                Code::InvalidArgument,
                "pageSize must not be negative",
            )),
            Ok(0) => Ok(PAGE_DEFAULT),
            Ok(n) => Ok((n as usize).min(PAGE_MAX)),
            Err(_) => Err(ApiError::new(
                Code::InvalidArgument,
                format!("pageSize {s:?} is not a number"),
            )),
        },
    }
}

pub(crate) fn page_token_decode(tok: Option<&str>) -> ApiResult<Option<String>> {
    match tok {
        None | Some("") => Ok(None),
        Some(t) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::new(Code::InvalidArgument, "invalid pageToken")),
    }
}

pub(crate) fn page_token_encode(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

fn not_found(kind: &str, name: &str) -> ApiError {
    let (p, l) = project_location(name).unwrap_or(("?", "?"));
    ApiError::new(
        Code::NotFound,
        format!(
            "Resource '{}' of kind '{kind}' in region '{l}' in project '{p}' does not exist.",
            last_segment(name)
        ),
    )
}

fn etag_of<T: serde::Serialize>(v: &T) -> String {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    format!("\"{}\"", hex::encode(&digest[..8]))
}

fn random_suffix(n: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn ready_condition() -> Condition {
    Condition {
        type_: "Ready".into(),
        state: Enum::new("CONDITION_SUCCEEDED"),
        last_transition_time: now_rfc3339(),
        ..Default::default()
    }
}

impl Runtime {
    pub(crate) fn new_operation(&self, parent: &str, metadata: serde_json::Value) -> Operation {
        let (p, l) = project_location(parent).unwrap_or(("local", "local"));
        Operation {
            name: format!(
                "projects/{p}/locations/{l}/operations/{}",
                uuid::Uuid::new_v4()
            ),
            metadata: Some(metadata),
            ..Default::default()
        }
    }

    fn finished_op(
        &self,
        parent: &str,
        meta_type: &str,
        meta: &Job,
        response: serde_json::Value,
    ) -> ApiResult<Operation> {
        let mut op = self.new_operation(
            parent,
            to_any(
                meta_type,
                &Job {
                    name: meta.name.clone(),
                    ..Default::default()
                },
            ),
        );
        op.done = true;
        op.response = Some(response);
        self.store().put(Kind::Operation, &op.name, &op)?;
        Ok(op)
    }

    /// Defaults the server fills in and reports back, as Cloud Run does.
    fn apply_server_defaults(job: &mut Job) {
        // As on Google, a job without an account runs as its project's default compute
        // account (`NUMBER-compute@developer.gserviceaccount.com`).
        let default_account = super::projects::compute_default_service_account(
            job.name.split('/').nth(1).unwrap_or("local"),
        );
        if job.launch_stage.is_default() {
            job.launch_stage = Enum::new("GA");
        }
        let t = &mut job.template;
        if t.task_count == 0 {
            t.task_count = 1;
        }
        if t.parallelism == 0 {
            // 0 means "as many as possible"; Cloud Run reports the effective value.
        }
        let tt = &mut t.template;
        if tt.max_retries.is_none() {
            tt.max_retries = Some(3);
        }
        if tt.timeout.is_empty() {
            tt.timeout = "600s".into();
        }
        if tt.service_account.is_empty() {
            tt.service_account = default_account;
        }
        if tt.execution_environment.is_default() {
            tt.execution_environment = Enum::new("EXECUTION_ENVIRONMENT_GEN2");
        }
        for (i, c) in tt.containers.iter_mut().enumerate() {
            if c.name.is_empty() && i == 0 {
                c.name = String::new();
            }
            let res = c.resources.get_or_insert_with(Default::default);
            res.limits
                .entry("cpu".into())
                .or_insert_with(|| "1000m".into());
            res.limits
                .entry("memory".into())
                .or_insert_with(|| "512Mi".into());
        }
        if let Some(v) = &mut tt.vpc_access {
            if v.egress.is_default() {
                v.egress = Enum::new("PRIVATE_RANGES_ONLY");
            }
        }
    }

    fn check_job(job_id: &str, job: &Job) -> ApiResult<()> {
        let violations: Vec<(String, String)> = validate_job(job_id, job)
            .into_iter()
            .map(|(f, d)| (format!("job.{f}"), d))
            .chain(
                job.labels
                    .keys()
                    .chain(job.annotations.keys())
                    .filter(|k| reserved_label_key(k))
                    .map(|k| {
                        (
                            "job.labels".to_string(),
                            format!("key {k:?} uses a namespace reserved by Cloud Run"),
                        )
                    }),
            )
            .chain(local_volume_refusals(job))
            .chain(super::volumes::secret_reference_problems(job))
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError {
                body: ErrorBody::bad_request(&violations),
            })
        }
    }

    pub fn create_job(
        self: &Arc<Self>,
        parent: &str,
        job_id: &str,
        mut job: Job,
        validate_only: bool,
    ) -> ApiResult<Operation> {
        if project_location(parent).is_none() {
            return Err(ApiError::new(
                Code::InvalidArgument,
                format!("invalid parent {parent:?}"),
            ));
        }
        if job_id.is_empty() {
            return Err(ApiError::new(Code::InvalidArgument, "jobId is required"));
        }
        Self::check_job(job_id, &job)?;
        let name = format!("{parent}/jobs/{job_id}");
        if self.store().contains(Kind::Job, &name) {
            return Err(ApiError::new(
                Code::AlreadyExists,
                format!("Resource '{job_id}' already exists."),
            ));
        }
        job.name = name.clone();
        if validate_only {
            let mut op = self.new_operation(
                parent,
                to_any(
                    JOB_TYPE,
                    &Job {
                        name: name.clone(),
                        ..Default::default()
                    },
                ),
            );
            op.done = true;
            op.response = Some(to_any(JOB_TYPE, &job));
            return Ok(op);
        }
        let now = now_rfc3339();
        job.uid = uuid::Uuid::new_v4().to_string();
        job.generation = 1;
        job.observed_generation = 1;
        job.create_time = now.clone();
        job.update_time = now;
        job.creator = super::auth::caller_email();
        job.last_modifier = job.creator.clone();
        Self::apply_server_defaults(&mut job);
        job.terminal_condition = Some(ready_condition());
        job.conditions.clear();
        job.etag = etag_of(&job);
        self.store().put(Kind::Job, &name, &job)?;
        self.after_job_write(parent, job, true)
    }

    /// Starts the execution requested by a start/run execution token, and builds the operation.
    fn after_job_write(
        self: &Arc<Self>,
        parent: &str,
        job: Job,
        token_changed: bool,
    ) -> ApiResult<Operation> {
        let token = job
            .run_execution_token
            .clone()
            .or(job.start_execution_token.clone());
        if let (true, Some(tok)) = (token_changed, token) {
            let wait_for_completion = job.run_execution_token.is_some();
            let (exec, run_op) = self.run_job(&job.name, RunJobRequest::default(), Some(&tok))?;
            let job = self.get_job(&job.name)?;
            if wait_for_completion {
                // The job operation completes when the execution does.
                let mut op = self.new_operation(
                    parent,
                    to_any(
                        JOB_TYPE,
                        &Job {
                            name: job.name.clone(),
                            ..Default::default()
                        },
                    ),
                );
                op.done = false;
                self.store().put(Kind::Operation, &op.name, &op)?;
                self.link_operation(&exec.name, &op.name, true);
                let _ = run_op;
                return Ok(op);
            }
            return self.finished_op(parent, JOB_TYPE, &job, to_any(JOB_TYPE, &job));
        }
        self.finished_op(parent, JOB_TYPE, &job, to_any(JOB_TYPE, &job))
    }

    pub fn get_job(&self, name: &str) -> ApiResult<Job> {
        self.store()
            .get::<Job>(Kind::Job, name)
            .ok_or_else(|| not_found("JOB", name))
    }

    /// One page of jobs. The stored JSON text is passed through as it is (no parse and
    /// re-serialise per job): listing 10,000 jobs is the bulk of a large refresh.
    pub fn list_jobs(
        &self,
        parent: &str,
        page_size_q: Option<&str>,
        token: Option<&str>,
    ) -> ApiResult<RawJobsPage> {
        let limit = page_size(page_size_q)?;
        let after = page_token_decode(token)?;
        // `locations/-` lists every location's jobs, as Google does.
        let prefix = match parent.strip_suffix("/locations/-") {
            Some(project) => format!("{project}/locations/"),
            None => format!("{parent}/jobs/"),
        };
        let store = self.store();
        let (jobs, more): (Vec<Box<serde_json::value::RawValue>>, bool) =
            store.page(Kind::Job, &prefix, after.as_deref(), limit);
        let next_page_token = match (more, jobs.last()) {
            (true, Some(last)) => {
                #[derive(serde::Deserialize)]
                struct Named {
                    name: String,
                }
                let n: Named = serde_json::from_str(last.get())
                    .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
                page_token_encode(&n.name)
            }
            _ => String::new(),
        };
        Ok(RawJobsPage {
            jobs,
            next_page_token,
        })
    }

    pub fn update_job(
        self: &Arc<Self>,
        name: &str,
        mut job: Job,
        allow_missing: bool,
        validate_only: bool,
    ) -> ApiResult<Operation> {
        let (p, l) = project_location(name).ok_or_else(|| {
            ApiError::new(Code::InvalidArgument, format!("invalid job name {name:?}"))
        })?;
        let parent = format!("projects/{p}/locations/{l}");
        // Read, then release the store before a create (which takes it again): a guard in a
        // `match` scrutinee would live through the whole match.
        let found = self.store().get::<Job>(Kind::Job, name);
        let existing = match found {
            Some(j) => j,
            None if allow_missing => {
                return self.create_job(&parent, last_segment(name), job, validate_only)
            }
            None => return Err(not_found("JOB", name)),
        };
        // Google answers a stale etag with ABORTED (409): read again and retry.
        if !job.etag.is_empty() && job.etag != existing.etag {
            return Err(ApiError::new(
                Code::Aborted,
                format!(
                    "etag {} does not match the current etag {} of job {}; read it again and retry",
                    job.etag,
                    existing.etag,
                    last_segment(name)
                ),
            ));
        }
        Self::check_job(last_segment(name), &job)?;
        job.name = name.to_string();
        if validate_only {
            let mut op = self.new_operation(
                &parent,
                to_any(
                    JOB_TYPE,
                    &Job {
                        name: name.into(),
                        ..Default::default()
                    },
                ),
            );
            op.done = true;
            op.response = Some(to_any(JOB_TYPE, &job));
            return Ok(op);
        }
        Self::apply_server_defaults(&mut job);
        let token_changed = (job.run_execution_token.is_some()
            && job.run_execution_token != existing.run_execution_token)
            || (job.start_execution_token.is_some()
                && job.start_execution_token != existing.start_execution_token);
        job.uid = existing.uid.clone();
        job.create_time = existing.create_time.clone();
        job.creator = existing.creator.clone();
        job.last_modifier = super::auth::caller_email();
        job.execution_count = existing.execution_count;
        job.latest_created_execution = existing.latest_created_execution.clone();
        job.terminal_condition = Some(ready_condition());
        job.conditions.clear();
        let spec_changed = {
            let mut a = job.clone();
            let mut b = existing.clone();
            for j in [&mut a, &mut b] {
                strip_output(j);
            }
            a != b
        };
        job.generation = existing.generation + i64::from(spec_changed);
        job.observed_generation = job.generation;
        job.update_time = if spec_changed {
            now_rfc3339()
        } else {
            existing.update_time.clone()
        };
        job.etag = String::new();
        job.etag = etag_of(&job);
        self.store().put(Kind::Job, name, &job)?;
        self.after_job_write(&parent, job, token_changed)
    }

    pub fn delete_job(
        &self,
        name: &str,
        etag: Option<&str>,
        validate_only: bool,
    ) -> ApiResult<Operation> {
        let job = self.get_job(name)?;
        if let Some(e) = etag.filter(|e| !e.is_empty()) {
            if e != job.etag {
                return Err(ApiError::new(
                    Code::Aborted,
                    format!("etag {e} does not match the current etag {}", job.etag),
                ));
            }
        }
        let parent = name.rsplit_once("/jobs/").map(|x| x.0).unwrap_or("");
        if validate_only {
            return self.finished_op(parent, JOB_TYPE, &job, to_any(JOB_TYPE, &job));
        }
        // Deleting a job deletes its executions; running ones are cancelled first.
        let exec_prefix = format!("{name}/executions/");
        let running: Vec<String> = self
            .running_names()
            .into_iter()
            .filter(|n| n.starts_with(&exec_prefix))
            .collect();
        for r in running {
            self.signal_cancel(&r);
        }
        {
            let mut store = self.store();
            store.delete(Kind::Job, name)?;
            store.delete_prefix(Kind::Execution, &exec_prefix)?;
            store.delete_prefix(Kind::Task, &exec_prefix)?;
            store.delete(Kind::Policy, name)?;
        }
        let mut gone = job.clone();
        gone.delete_time = now_rfc3339();
        self.finished_op(parent, JOB_TYPE, &job, to_any(JOB_TYPE, &gone))
    }

    pub fn get_execution(&self, name: &str) -> ApiResult<Execution> {
        self.store()
            .get::<Execution>(Kind::Execution, name)
            .map(|e| self.presented_execution(e))
            .ok_or_else(|| not_found("EXECUTION", name))
    }

    /// Where an execution's (or a task's) logs can be read: the runtime's log endpoint.
    fn log_uri(&self, execution: &str, task: Option<i32>) -> String {
        let base = self.base_url.get().map(String::as_str).unwrap_or("");
        let task = task.map(|t| format!("&task={t}")).unwrap_or_default();
        format!("{base}/runform/v1/logs?execution={execution}{task}")
    }

    /// An execution as clients read it: with its `logUri` and an `etag` of its content.
    fn presented_execution(&self, mut e: Execution) -> Execution {
        e.log_uri = self.log_uri(&e.name, None);
        e.etag.clear();
        e.etag = etag_of(&e);
        e
    }

    fn presented_task(&self, mut t: Task) -> Task {
        let exec = t.name.split("/tasks/").next().unwrap_or("").to_string();
        t.log_uri = self.log_uri(&exec, Some(t.index));
        t.etag.clear();
        t.etag = etag_of(&t);
        t
    }

    /// Children of `parent` (which must exist as `parent_kind`) under `{parent}/{segment}/`,
    /// sorted by `order`, one page at a time (the token is the offset, opaque to clients).
    #[allow(clippy::too_many_arguments)]
    fn list_children<T: serde::de::DeserializeOwned>(
        &self,
        parent_kind: Kind,
        parent_label: &str,
        parent: &str,
        kind: Kind,
        segment: &str,
        order: impl FnMut(&T, &T) -> std::cmp::Ordering,
        page_size_q: Option<&str>,
        token: Option<&str>,
    ) -> ApiResult<(Vec<T>, String)> {
        let limit = page_size(page_size_q)?;
        let skip: usize = match page_token_decode(token)? {
            Some(s) => s
                .parse()
                .map_err(|_| ApiError::new(Code::InvalidArgument, "invalid pageToken"))?,
            None => 0,
        };
        if !self.store().contains(parent_kind, parent) {
            return Err(not_found(parent_label, parent));
        }
        let prefix = format!("{parent}/{segment}/");
        let mut all: Vec<T> = {
            let store = self.store();
            let names: Vec<String> = store
                .names_with_prefix(kind, &prefix)
                .map(str::to_string)
                .collect();
            names.iter().filter_map(|n| store.get(kind, n)).collect()
        };
        all.sort_by(order);
        let total = all.len();
        let page: Vec<T> = all.into_iter().skip(skip).take(limit).collect();
        let next = skip + page.len();
        let token = if next < total {
            page_token_encode(&next.to_string())
        } else {
            String::new()
        };
        Ok((page, token))
    }

    /// Executions of a job, newest first.
    pub fn list_executions(
        &self,
        job: &str,
        page_size_q: Option<&str>,
        token: Option<&str>,
    ) -> ApiResult<ListExecutionsResponse> {
        let (executions, next_page_token) = self.list_children(
            Kind::Job,
            "JOB",
            job,
            Kind::Execution,
            "executions",
            |a: &Execution, b: &Execution| {
                b.create_time
                    .cmp(&a.create_time)
                    .then_with(|| b.name.cmp(&a.name))
            },
            page_size_q,
            token,
        )?;
        Ok(ListExecutionsResponse {
            executions: executions
                .into_iter()
                .map(|e| self.presented_execution(e))
                .collect(),
            next_page_token,
        })
    }

    pub fn delete_execution(&self, name: &str) -> ApiResult<Operation> {
        let exec = self.get_execution(name)?;
        if !exec.is_done() {
            return Err(ApiError::new(
                Code::FailedPrecondition,
                "the execution is still running; cancel it first",
            ));
        }
        {
            let mut store = self.store();
            store.delete(Kind::Execution, name)?;
            store.delete_prefix(Kind::Task, &format!("{name}/tasks/"))?;
        }
        let mut op = self.new_operation(
            name,
            to_any(
                EXECUTION_TYPE,
                &Execution {
                    name: name.into(),
                    ..Default::default()
                },
            ),
        );
        op.done = true;
        op.response = Some(to_any(EXECUTION_TYPE, &exec));
        self.store().put(Kind::Operation, &op.name, &op)?;
        Ok(op)
    }

    pub fn get_task(&self, name: &str) -> ApiResult<Task> {
        self.store()
            .get::<Task>(Kind::Task, name)
            .map(|t| self.presented_task(t))
            .ok_or_else(|| not_found("TASK", name))
    }

    pub fn list_tasks(
        &self,
        exec: &str,
        page_size_q: Option<&str>,
        token: Option<&str>,
    ) -> ApiResult<ListTasksResponse> {
        let (tasks, next_page_token) = self.list_children(
            Kind::Execution,
            "EXECUTION",
            exec,
            Kind::Task,
            "tasks",
            |a: &Task, b: &Task| a.index.cmp(&b.index),
            page_size_q,
            token,
        )?;
        Ok(ListTasksResponse {
            tasks: tasks.into_iter().map(|t| self.presented_task(t)).collect(),
            next_page_token,
        })
    }

    pub fn get_operation(&self, name: &str) -> ApiResult<Operation> {
        self.store()
            .get::<Operation>(Kind::Operation, name)
            .ok_or_else(|| ApiError::new(Code::NotFound, format!("operation {name} not found")))
    }

    pub fn list_operations(
        &self,
        parent: &str,
        page_size_q: Option<&str>,
        token: Option<&str>,
    ) -> ApiResult<serde_json::Value> {
        let limit = page_size(page_size_q)?;
        let after = page_token_decode(token)?;
        let store = self.store();
        let (ops, more): (Vec<Operation>, bool) = store.page(
            Kind::Operation,
            &format!("{parent}/operations/"),
            after.as_deref(),
            limit,
        );
        let mut out = serde_json::json!({});
        if let (true, Some(last)) = (more, ops.last()) {
            out["nextPageToken"] = page_token_encode(&last.name).into();
        }
        if !ops.is_empty() {
            out["operations"] = serde_json::to_value(&ops).unwrap_or_default();
        }
        Ok(out)
    }

    pub fn delete_operation(&self, name: &str) -> ApiResult<()> {
        self.get_operation(name)?;
        self.store().delete(Kind::Operation, name)?;
        Ok(())
    }

    /// `operations:wait`: returns when the operation is done or `timeout` passes.
    pub async fn wait_operation(
        &self,
        name: &str,
        timeout: std::time::Duration,
    ) -> ApiResult<Operation> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            let op = self.get_operation(name)?;
            if op.done {
                return Ok(op);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.get_operation(name);
            }
        }
    }

    /// The IAM policy of a job, or of a project (`projects/P`, always there).
    /// The object a policy is on must exist: a project (always), a secret, or a job.
    fn policy_target_exists(&self, resource: &str) -> ApiResult<()> {
        if crate::api::iam::is_project(resource) {
            return Ok(());
        }
        if resource.split('/').nth(2) == Some("secrets") {
            return self.get_secret(resource).map(|_| ());
        }
        self.get_job(resource).map(|_| ())
    }

    pub fn get_policy(&self, resource: &str) -> ApiResult<Policy> {
        self.policy_target_exists(resource)?;
        Ok(Self::policy_in(&self.store(), resource))
    }

    fn policy_in(store: &Store, resource: &str) -> Policy {
        let mut p = store
            .get::<Policy>(Kind::Policy, resource)
            .unwrap_or_default();
        if p.etag.is_empty() {
            p.etag = base64::engine::general_purpose::STANDARD.encode([0u8, 0, 0, 0, 0, 0, 0, 0]);
        }
        p
    }

    pub fn set_policy(&self, resource: &str, mut policy: Policy) -> ApiResult<Policy> {
        self.policy_target_exists(resource)?;
        // Check the etag and write under one lock: two concurrent read-modify-writes must not
        // both pass the check (the second gets ABORTED and retries).
        let mut store = self.store();
        let current = Self::policy_in(&store, resource);
        if !policy.etag.is_empty() && policy.etag != current.etag {
            return Err(ApiError::new(Code::Aborted, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."));
        }
        for b in &mut policy.bindings {
            b.members.sort();
            b.members.dedup();
        }
        policy.bindings.retain(|b| !b.members.is_empty());
        policy.bindings.sort_by(|a, b| a.role.cmp(&b.role));
        if policy.version == 0 {
            policy.version = 1;
        }
        let seq = base64::engine::general_purpose::STANDARD
            .decode(&current.etag)
            .ok()
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        policy.etag = base64::engine::general_purpose::STANDARD.encode((seq + 1).to_be_bytes());
        store.put(Kind::Policy, resource, &policy)?;
        Ok(policy)
    }

    pub fn register_image(&self, m: ImageMapping) -> ApiResult<()> {
        if m.image.is_empty() || m.command.is_empty() {
            return Err(ApiError::new(
                Code::InvalidArgument,
                "an image mapping needs an image and a command",
            ));
        }
        self.store().put(Kind::Image, &m.image.clone(), &m)?;
        Ok(())
    }

    pub fn images(&self) -> Vec<ImageMapping> {
        self.store().all(Kind::Image)
    }

    pub(crate) fn new_execution_id(&self, job: &str, token: Option<&str>) -> ApiResult<String> {
        let short = last_segment(job);
        if let Some(t) = token {
            let id = format!("{short}-{t}");
            if id.len() >= 63 {
                return Err(ApiError::new(
                    Code::InvalidArgument,
                    format!(
                        "execution name {id:?} must be under 63 characters (job name plus token)"
                    ),
                ));
            }
            if self
                .store()
                .contains(Kind::Execution, &format!("{job}/executions/{id}"))
            {
                return Err(ApiError::new(
                    Code::AlreadyExists,
                    format!("execution {id} already exists; use a new token"),
                ));
            }
            return Ok(id);
        }
        loop {
            let id = format!("{short}-{}", random_suffix(5));
            if !self
                .store()
                .contains(Kind::Execution, &format!("{job}/executions/{id}"))
            {
                return Ok(id);
            }
        }
    }
}

/// Output-only fields, cleared to compare two job specs.
fn strip_output(j: &mut Job) {
    j.uid.clear();
    j.generation = 0;
    j.observed_generation = 0;
    j.create_time.clear();
    j.update_time.clear();
    j.delete_time.clear();
    j.expire_time.clear();
    j.creator.clear();
    j.last_modifier.clear();
    j.terminal_condition = None;
    j.conditions.clear();
    j.execution_count = 0;
    j.latest_created_execution = None;
    j.reconciling = false;
    j.etag.clear();
}

fn reserved_label_key(k: &str) -> bool {
    let ns = k.split_once('/').map(|x| x.0).unwrap_or("");
    [
        "run.googleapis.com",
        "cloud.googleapis.com",
        "serving.knative.dev",
        "autoscaling.knative.dev",
    ]
    .iter()
    .any(|r| ns == *r || ns.ends_with(&format!(".{r}")))
}

impl Runtime {
    /// Cloud Run accepts a project number where a project id goes (Google's scheduler sample
    /// calls `namespaces/NUMBER/jobs/J:run`): a name whose project is all digits is rewritten
    /// to the project whose (synthetic) number that is, if a job lives there.
    /// Remembers the project ids a request path names (`projects/ID/...`,
    /// `namespaces/ID/...`).
    pub(crate) fn note_projects(&self, path: &str) {
        let segs: Vec<&str> = path.split('/').collect();
        for w in segs.windows(2) {
            let (key, id) = (w[0], w[1]);
            let is_id = !id.is_empty()
                && id.len() <= 30
                && !id.chars().all(|c| c.is_ascii_digit())
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if matches!(key, "projects" | "namespaces") && is_id {
                self.projects_seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.to_string());
            }
        }
    }

    pub fn canonical_job_name(&self, name: &str) -> String {
        let segs: Vec<&str> = name.split('/').collect();
        let Some(number) = segs
            .get(1)
            .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        else {
            return name.to_string();
        };
        let seen: Vec<String> = self
            .projects_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let store = self.store();
        let found = store
            .names_with_prefix(Kind::Job, "projects/")
            .filter_map(|n| n.split('/').nth(1))
            .chain(seen.iter().map(String::as_str))
            .find(|p| super::workflows_api::project_number(p) == *number)
            .map(str::to_string);
        match found {
            Some(p) => {
                let mut out = segs.clone();
                out[1] = &p;
                out.join("/")
            }
            None => name.to_string(),
        }
    }
}

/// The volumes the local runtime cannot mount (nfs, Cloud SQL), refused at create and update
/// rather than failing every task later.
fn local_volume_refusals(job: &Job) -> Vec<(String, String)> {
    job.template
        .template
        .volumes
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            super::volumes::unsupported(v)
                .map(|why| (format!("job.template.template.volumes[{i}]"), why))
        })
        .collect()
}
