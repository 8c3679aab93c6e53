//! Executions: each task runs (through the runtime's executor: a container, or a local process)
//! at most `parallelism` at once, retried up to `maxRetries`, stopped (SIGTERM, then SIGKILL
//! after a grace period) past its timeout or on cancel. Status, counters and conditions are
//! kept the way the Cloud Run API reports them.

use super::executor::{self, wait_cancel, Attempt, LogSink, Outcome, Route};
use super::store::Kind;
use super::{now_rfc3339, ApiError, ApiResult, Runtime};
pub use crate::api::ext::{ImageMapping, LogEntry};
use crate::api::run::*;
use crate::api::{Code, Enum, Operation, Status};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Google's sample job image; the runtime has a built-in stand-in for it.
/// The store key of the set of cancel operations (their response is the execution).
const CANCEL_OPS: &str = "_cancels";

pub const SAMPLE_IMAGE: &str = "us-docker.pkg.dev/cloudrun/container/job";

struct ExecPlan {
    exec_name: String,
    job_short: String,
    task_count: i32,
    parallelism: i32,
    template: TaskTemplate,
    /// The execution's metadata server (`host:port`), when one could be started.
    metadata_host: Option<String>,
}

impl ExecPlan {
    /// The job's full name.
    fn job_name(&self) -> &str {
        self.exec_name.split("/executions/").next().unwrap_or("")
    }
}

impl Runtime {
    /// `jobs:run`: creates the execution and its tasks, starts them, and returns the execution
    /// and its (not yet done) operation.
    pub fn run_job(
        self: &Arc<Self>,
        job_name: &str,
        req: RunJobRequest,
        token: Option<&str>,
    ) -> ApiResult<(Execution, Operation)> {
        let job = self.get_job(job_name)?;
        if !req.etag.is_empty() && req.etag != job.etag {
            return Err(ApiError::new(
                Code::Aborted,
                "etag does not match the job's current etag",
            ));
        }
        let mut template = job.template.template.clone();
        let mut task_count = job.template.task_count.max(1);
        if let Some(o) = &req.overrides {
            apply_overrides(&mut template, &mut task_count, o)?;
        }
        let parallelism = match job.template.parallelism {
            0 => task_count,
            p => p.min(task_count),
        };
        if req.validate_only {
            let exec = Execution {
                name: format!("{job_name}/executions/validate-only"),
                ..Default::default()
            };
            let op = Operation {
                name: String::new(),
                done: true,
                response: Some(to_any(EXECUTION_TYPE, &exec)),
                ..Default::default()
            };
            return Ok((exec, op));
        }
        let id = self.new_execution_id(job_name, token)?;
        let exec_name = format!("{job_name}/executions/{id}");
        let now = now_rfc3339();
        let exec = Execution {
            name: exec_name.clone(),
            uid: uuid::Uuid::new_v4().to_string(),
            generation: 1,
            observed_generation: 1,
            job: last_segment(job_name).to_string(),
            labels: job.template.labels.clone(),
            annotations: job.template.annotations.clone(),
            creator: super::auth::caller_email(),
            create_time: now.clone(),
            update_time: now.clone(),
            launch_stage: job.launch_stage.clone(),
            parallelism,
            task_count,
            template: Some(template.clone()),
            reconciling: true,
            conditions: vec![
                cond(
                    "ResourcesAvailable",
                    "CONDITION_SUCCEEDED",
                    "Provisioned resources.",
                ),
                cond(
                    "Started",
                    "CONDITION_PENDING",
                    "Waiting for tasks to start.",
                ),
                cond("Completed", "CONDITION_PENDING", "Started deployment."),
            ],
            log_uri: String::new(),
            ..Default::default()
        };
        let meta = Execution {
            name: exec_name.clone(),
            job: exec.job.clone(),
            ..Default::default()
        };
        let op = Operation {
            name: {
                let (p, l) = project_location(job_name).unwrap_or(("local", "local"));
                format!(
                    "projects/{p}/locations/{l}/operations/{}",
                    uuid::Uuid::new_v4()
                )
            },
            metadata: Some(to_any(EXECUTION_TYPE, &meta)),
            ..Default::default()
        };
        {
            let mut store = self.store();
            store.put(Kind::Execution, &exec_name, &exec)?;
            for i in 0..task_count {
                let t = Task {
                    name: format!("{exec_name}/tasks/{id}-task{i}"),
                    uid: uuid::Uuid::new_v4().to_string(),
                    generation: 1,
                    job: exec.job.clone(),
                    execution: id.clone(),
                    index: i,
                    create_time: now.clone(),
                    containers: template.containers.clone(),
                    volumes: template.volumes.clone(),
                    max_retries: template.max_retries,
                    timeout: template.timeout.clone(),
                    service_account: template.service_account.clone(),
                    execution_environment: template.execution_environment.clone(),
                    conditions: vec![cond("Completed", "CONDITION_PENDING", "Waiting to start.")],
                    ..Default::default()
                };
                store.put(Kind::Task, &t.name, &t)?;
            }
            store.put(Kind::Operation, &op.name, &op)?;
            if let Some(mut j) = store.get::<Job>(Kind::Job, job_name) {
                j.execution_count += 1;
                j.latest_created_execution = Some(ExecutionReference {
                    name: exec_name.clone(),
                    create_time: now,
                    completion_status: Enum::new("EXECUTION_RUNNING"),
                    ..Default::default()
                });
                store.put(Kind::Job, job_name, &j)?;
            }
        }
        let (tx, rx) = watch::channel(false);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(exec_name.clone(), tx);
        self.link_operation(&exec_name, &op.name, false);
        let plan = ExecPlan {
            exec_name,
            job_short: exec.job.clone(),
            task_count,
            parallelism,
            template,
            metadata_host: None,
        };
        let rt = self.clone();
        tokio::spawn(async move { rt.drive(plan, rx).await });
        Ok((exec, op))
    }

    /// Remembers that operation `op` finishes with execution `exec` (persisted in the
    /// operation's own record through `pending_ops`).
    pub(crate) fn link_operation(&self, exec: &str, op: &str, job_response: bool) {
        let mut store = self.store();
        let mut links: BTreeMap<String, Vec<(String, bool)>> =
            store.get(Kind::Operation, "_links").unwrap_or_default();
        links
            .entry(exec.to_string())
            .or_default()
            .push((op.to_string(), job_response));
        let _ = store.put(Kind::Operation, "_links", &links);
    }

    fn complete_operations(&self, exec: &Execution) {
        let mut store = self.store();
        let mut links: BTreeMap<String, Vec<(String, bool)>> =
            store.get(Kind::Operation, "_links").unwrap_or_default();
        let Some(ops) = links.remove(&exec.name) else {
            return;
        };
        let mut cancels: BTreeSet<String> =
            store.get(Kind::Operation, CANCEL_OPS).unwrap_or_default();
        for (op_name, job_response) in ops {
            let Some(mut op) = store.get::<Operation>(Kind::Operation, &op_name) else {
                continue;
            };
            op.done = true;
            if cancels.remove(&op_name) {
                // A cancel succeeded when the execution ended, however it ended: its
                // response is the execution, as on Google.
                op.response = Some(to_any(EXECUTION_TYPE, exec));
            } else if exec.succeeded() {
                op.response = Some(if job_response {
                    let job_name = exec.name.split("/executions/").next().unwrap_or("");
                    match store.get::<Job>(Kind::Job, job_name) {
                        Some(j) => to_any(JOB_TYPE, &j),
                        None => to_any(
                            JOB_TYPE,
                            &Job {
                                name: job_name.into(),
                                ..Default::default()
                            },
                        ),
                    }
                } else {
                    to_any(EXECUTION_TYPE, exec)
                });
            } else {
                let message = exec
                    .completed()
                    .map(|c| c.message.clone())
                    .unwrap_or_else(|| "execution failed".into());
                op.error = Some(Status {
                    code: Code::FailedPrecondition as i32,
                    message,
                    details: vec![],
                });
            }
            let _ = store.put(Kind::Operation, &op_name, &op);
        }
        let _ = store.put(Kind::Operation, "_links", &links);
        let _ = store.put(Kind::Operation, CANCEL_OPS, &cancels);
    }

    async fn drive(self: Arc<Self>, mut plan: ExecPlan, cancel: watch::Receiver<bool>) {
        // The tasks' metadata server lives as long as the execution.
        let job_name = plan
            .exec_name
            .split("/executions/")
            .next()
            .unwrap_or("")
            .to_string();
        let identity = super::metadata::Identity::of(&job_name, &plan.template.service_account);
        let metadata = super::metadata::start(self.clone(), identity).await;
        plan.metadata_host = metadata.as_ref().map(|m| m.addr.to_string());
        let plan = Arc::new(plan);
        let sem = Arc::new(Semaphore::new(plan.parallelism.max(1) as usize));
        let images = self.images();
        let images = Arc::new(images);
        self.update_exec(&plan.exec_name, |e| {
            e.start_time = now_rfc3339();
            set_cond(
                &mut e.conditions,
                "Started",
                "CONDITION_SUCCEEDED",
                "Started.",
            );
        });
        let mut handles = Vec::new();
        for idx in 0..plan.task_count {
            let rt = self.clone();
            let plan = plan.clone();
            let sem = sem.clone();
            let images = images.clone();
            let cancel = cancel.clone();
            handles.push(tokio::spawn(async move {
                rt.run_task(&plan, idx, sem, &images, cancel).await
            }));
        }
        for h in handles {
            let _ = h.await;
        }
        drop(metadata);
        self.finish_execution(&plan.exec_name);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&plan.exec_name);
        self.changed.notify_waiters();
    }

    async fn run_task(
        self: &Arc<Self>,
        plan: &ExecPlan,
        idx: i32,
        sem: Arc<Semaphore>,
        images: &[ImageMapping],
        mut cancel: watch::Receiver<bool>,
    ) {
        let task_name = format!(
            "{}/tasks/{}-task{idx}",
            plan.exec_name,
            last_segment(&plan.exec_name)
        );
        let permit = tokio::select! {
            p = sem.acquire_owned() => p.ok(),
            _ = wait_cancel(&mut cancel) => None,
        };
        if permit.is_none() || *cancel.borrow() {
            self.update_task(&task_name, |t| {
                t.completion_time = now_rfc3339();
                set_cond(
                    &mut t.conditions,
                    "Completed",
                    "CONDITION_FAILED",
                    "The task was cancelled before it started.",
                );
            });
            self.update_exec(&plan.exec_name, |e| e.cancelled_count += 1);
            return;
        }
        let max_retries = plan.template.max_retries.unwrap_or(3).max(0);
        let timeout = parse_duration_secs(&plan.template.timeout).unwrap_or(600.0);
        let mut attempt = 0;
        loop {
            let start = now_rfc3339();
            self.update_task(&task_name, |t| {
                if t.start_time.is_empty() {
                    t.start_time = start.clone();
                    t.scheduled_time = start.clone();
                }
                set_cond(
                    &mut t.conditions,
                    "Completed",
                    "CONDITION_PENDING",
                    &format!("Attempt {attempt} is running."),
                );
            });
            self.update_exec(&plan.exec_name, |e| e.running_count += 1);
            let outcome = self
                .run_attempt(plan, idx, attempt, timeout, images, &mut cancel)
                .await;
            self.update_exec(&plan.exec_name, |e| e.running_count -= 1);
            let last = attempt >= max_retries;
            match &outcome {
                Outcome::Succeeded => {
                    self.update_task(&task_name, |t| {
                        t.completion_time = now_rfc3339();
                        t.last_attempt_result = Some(TaskAttemptResult {
                            status: Some(Status::default()),
                            exit_code: Some(0),
                            term_signal: None,
                        });
                        set_cond(
                            &mut t.conditions,
                            "Completed",
                            "CONDITION_SUCCEEDED",
                            "Completed successfully.",
                        );
                    });
                    self.update_exec(&plan.exec_name, |e| e.succeeded_count += 1);
                    return;
                }
                Outcome::Cancelled => {
                    self.update_task(&task_name, |t| {
                        t.completion_time = now_rfc3339();
                        t.last_attempt_result = Some(TaskAttemptResult {
                            status: Some(Status {
                                code: Code::Cancelled as i32,
                                message: "The task was cancelled.".into(),
                                details: vec![],
                            }),
                            exit_code: None,
                            term_signal: Some(15),
                        });
                        set_cond(
                            &mut t.conditions,
                            "Completed",
                            "CONDITION_FAILED",
                            "The task was cancelled.",
                        );
                    });
                    self.update_exec(&plan.exec_name, |e| e.cancelled_count += 1);
                    return;
                }
                Outcome::Failed {
                    exit_code,
                    signal,
                    message,
                    retryable,
                } => {
                    let result = TaskAttemptResult {
                        status: Some(Status {
                            code: if signal.is_some() {
                                Code::DeadlineExceeded as i32
                            } else {
                                Code::Unknown as i32
                            },
                            message: message.clone(),
                            details: vec![],
                        }),
                        exit_code: *exit_code,
                        term_signal: *signal,
                    };
                    if last || !retryable {
                        self.update_task(&task_name, |t| {
                            t.completion_time = now_rfc3339();
                            t.last_attempt_result = Some(result.clone());
                            set_cond(&mut t.conditions, "Completed", "CONDITION_FAILED", message);
                        });
                        self.update_exec(&plan.exec_name, |e| e.failed_count += 1);
                        return;
                    }
                    let first_retry = attempt == 0;
                    self.update_task(&task_name, |t| {
                        t.retried += 1;
                        t.last_attempt_result = Some(result.clone());
                    });
                    if first_retry {
                        self.update_exec(&plan.exec_name, |e| e.retried_count += 1);
                    }
                    attempt += 1;
                }
            }
        }
    }

    async fn run_attempt(
        self: &Arc<Self>,
        plan: &ExecPlan,
        idx: i32,
        attempt: i32,
        timeout_secs: f64,
        images: &[ImageMapping],
        cancel: &mut watch::Receiver<bool>,
    ) -> Outcome {
        let log = LogSink::open(&self.log_path(&plan.exec_name, idx, attempt)).await;
        let outcome = self
            .attempt_outcome(plan, idx, attempt, timeout_secs, images, cancel, &log)
            .await;
        if let Outcome::Failed { message, .. } = &outcome {
            log.write("runform", message).await;
        }
        log.flush().await;
        outcome
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt_outcome(
        self: &Arc<Self>,
        plan: &ExecPlan,
        idx: i32,
        attempt: i32,
        timeout_secs: f64,
        images: &[ImageMapping],
        cancel: &mut watch::Receiver<bool>,
        log: &LogSink,
    ) -> Outcome {
        let Some(container) = plan.template.containers.first() else {
            return Outcome::setup_failure("the job has no container");
        };
        let engine = self.executor().engine;
        let route = match (
            executor::route(container, images, engine.is_some()),
            engine.as_deref(),
        ) {
            (Route::Engine, Some(engine)) => self.engine_or_stand_in(engine, container, log).await,
            (other, _) => other,
        };
        if let Route::Missing(msg) = &route {
            log.write("stderr", msg).await;
            return Outcome::setup_failure(msg.clone());
        }
        let exec_id = last_segment(&plan.exec_name);
        let prepared = match &route {
            Route::Engine => {
                let root = self
                    .work_dir
                    .join("volumes")
                    .join(exec_id)
                    .join(format!("task{idx}-attempt{attempt}"));
                let identity = (plan.job_name(), plan.template.service_account.as_str());
                match self.prepare_volumes(container, &plan.template.volumes, &root, identity) {
                    Ok(p) => p,
                    Err(msg) => {
                        log.write("stderr", &msg).await;
                        return Outcome::setup_failure(msg);
                    }
                }
            }
            _ => Default::default(),
        };
        let env = match self.task_env(plan, idx, attempt, container).await {
            Ok(env) => env,
            Err(msg) => {
                log.write("stderr", &msg).await;
                return Outcome::setup_failure(msg);
            }
        };
        let a = Attempt {
            container,
            env,
            labels: vec![
                ("runform.job".into(), plan.job_name().to_string()),
                ("runform.execution".into(), exec_id.to_string()),
                ("runform.task".into(), idx.to_string()),
                ("runform.attempt".into(), attempt.to_string()),
            ],
            mounts: prepared.mounts.clone(),
            timeout: crate::api::common::clamp_secs(timeout_secs.max(0.001)),
            timeout_text: plan.template.timeout.clone(),
            grace: self.cfg.kill_grace,
            log: log.clone(),
            work_dir: self.work_dir.clone(),
        };
        let outcome = match (&route, engine) {
            (Route::Process { argv, cwd }, _) => {
                executor::process::run(&a, argv, cwd.clone(), cancel).await
            }
            (_, Some(engine)) => {
                let name = format!(
                    "runform-{exec_id}-task{idx}-{attempt}-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..6]
                );
                engine.run(&a, &name, cancel).await
            }
            // `route` gives the engine route only when there is an engine.
            (_, None) => Outcome::setup_failure("no container engine"),
        };
        for note in self.finish_volumes(prepared) {
            log.write("runform", &note).await;
        }
        outcome
    }

    /// The engine route when the engine has (or can pull) the image; otherwise, for Google's
    /// sample image only, its built-in stand-in (so the sample runs without a registry).
    async fn engine_or_stand_in(
        &self,
        engine: &executor::docker::Engine,
        container: &Container,
        log: &LogSink,
    ) -> Route {
        match engine.ensure_image(&container.image).await {
            Ok(()) => Route::Engine,
            Err(msg) => match executor::process_route(container)
                .filter(|_| executor::is_sample_image(&container.image))
            {
                Some(stand_in) => {
                    log.write(
                        "runform",
                        &format!("{msg}; running the built-in stand-in for Google's sample image as a local process"),
                    )
                    .await;
                    stand_in
                }
                None => Route::Missing(msg),
            },
        }
    }

    /// For each container, why this runtime cannot run it (`None` when it can): no engine,
    /// no mapping, no command, not the sample image.
    pub fn check_containers(&self, containers: &[Container]) -> Vec<Option<String>> {
        let images = self.images();
        let engine = self.executor().engine.is_some();
        containers
            .iter()
            .map(|c| executor::cannot_run(c, &images, engine))
            .collect()
    }

    /// The task's environment: Cloud Run's contract variables, the metadata server, the
    /// runtime's endpoints for Google's libraries and tools, then the container's own env.
    /// A secret the job's account may not read fails the attempt, naming the permission.
    async fn task_env(
        &self,
        plan: &ExecPlan,
        idx: i32,
        attempt: i32,
        container: &Container,
    ) -> Result<Vec<(String, String)>, String> {
        let mut env: Vec<(String, String)> = vec![
            ("CLOUD_RUN_JOB".into(), plan.job_short.clone()),
            (
                "CLOUD_RUN_EXECUTION".into(),
                last_segment(&plan.exec_name).into(),
            ),
            ("CLOUD_RUN_TASK_INDEX".into(), idx.to_string()),
            ("CLOUD_RUN_TASK_ATTEMPT".into(), attempt.to_string()),
            ("CLOUD_RUN_TASK_COUNT".into(), plan.task_count.to_string()),
        ];
        if let Some(h) = &plan.metadata_host {
            env.push(("GCE_METADATA_HOST".into(), h.clone()));
            env.push(("GCE_METADATA_IP".into(), h.clone()));
            env.push(("GCE_METADATA_ROOT".into(), h.clone()));
        }
        if let Some(base) = self.base_url.get() {
            env.extend(executor::endpoint_env(base));
        }
        for e in &container.env {
            let value = match (&e.value, &e.value_source) {
                (Some(v), _) => v.clone(),
                (None, Some(src)) => match &src.secret_key_ref {
                    Some(r) => self
                        .secret_for_task(
                            plan.job_name(),
                            &plan.template.service_account,
                            &r.secret,
                            &r.version,
                        )
                        .map_err(|why| format!("env {}: secret {:?}: {why}", e.name, r.secret))?,
                    None => String::new(),
                },
                (None, None) => String::new(),
            };
            env.push((e.name.clone(), value));
        }
        Ok(env)
    }

    /// `executions:cancel`.
    pub fn cancel_execution(&self, name: &str) -> ApiResult<Operation> {
        let exec = self.get_execution(name)?;
        let meta = Execution {
            name: name.into(),
            job: exec.job.clone(),
            ..Default::default()
        };
        let (p, l) = project_location(name).unwrap_or(("local", "local"));
        let mut op = Operation {
            name: format!(
                "projects/{p}/locations/{l}/operations/{}",
                uuid::Uuid::new_v4()
            ),
            metadata: Some(to_any(EXECUTION_TYPE, &meta)),
            ..Default::default()
        };
        if exec.is_done() {
            return Err(ApiError::new(
                Code::FailedPrecondition,
                format!("execution {} has already finished", exec.short_name()),
            ));
        }
        {
            let mut store = self.store();
            store.put(Kind::Operation, &op.name, &op)?;
            let mut cancels: BTreeSet<String> =
                store.get(Kind::Operation, CANCEL_OPS).unwrap_or_default();
            cancels.insert(op.name.clone());
            store.put(Kind::Operation, CANCEL_OPS, &cancels)?;
        }
        self.update_exec(name, |e| {
            set_cond(
                &mut e.conditions,
                "Completed",
                "CONDITION_PENDING",
                "Cancelling.",
            );
        });
        self.link_operation(name, &op.name, false);
        if !self.signal_cancel(name) {
            // Not driven by this process (e.g. left over from a restart): finish it now.
            self.finish_execution(name);
        }
        op.done = false;
        Ok(op)
    }

    pub(crate) fn signal_cancel(&self, name: &str) -> bool {
        match self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            Some(tx) => {
                let _ = tx.send(true);
                true
            }
            None => false,
        }
    }

    pub(crate) fn running_names(&self) -> Vec<String> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Cancels every running execution and waits (bounded) for them to finish.
    pub async fn cancel_all(&self) {
        for n in self.running_names() {
            self.signal_cancel(&n);
        }
        let deadline = tokio::time::Instant::now() + self.cfg.kill_grace + Duration::from_secs(2);
        while !self.running_names().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn finish_execution(&self, name: &str) {
        let Some(exec) = self.update_exec(name, |e| {
            let now = now_rfc3339();
            e.completion_time = now.clone();
            e.update_time = now;
            e.reconciling = false;
            e.running_count = 0;
            let failed = e.failed_count > 0;
            let cancelled = e.cancelled_count > 0;
            let (state, reason, msg) = if cancelled {
                (
                    "CONDITION_FAILED",
                    Some("CANCELLED"),
                    "The execution was cancelled.".to_string(),
                )
            } else if failed {
                (
                    "CONDITION_FAILED",
                    Some("NON_ZERO_EXIT_CODE"),
                    format!("{} of {} tasks failed.", e.failed_count, e.task_count),
                )
            } else if e.succeeded_count >= e.task_count {
                (
                    "CONDITION_SUCCEEDED",
                    None,
                    format!(
                        "Execution completed successfully: {} of {} tasks succeeded.",
                        e.succeeded_count, e.task_count
                    ),
                )
            } else {
                (
                    "CONDITION_FAILED",
                    Some("JOB_STATUS_SERVICE_POLLING_ERROR"),
                    "The execution was interrupted (the local runtime stopped).".to_string(),
                )
            };
            set_cond(&mut e.conditions, "Completed", state, &msg);
            if let Some(c) = e.conditions.iter_mut().find(|c| c.type_ == "Completed") {
                c.execution_reason = reason.map(Enum::new);
            }
        }) else {
            return;
        };
        let status = if exec.cancelled() {
            "EXECUTION_CANCELLED"
        } else if exec.succeeded() {
            "EXECUTION_SUCCEEDED"
        } else {
            "EXECUTION_FAILED"
        };
        let job_name = name.split("/executions/").next().unwrap_or("").to_string();
        {
            let mut store = self.store();
            if let Some(mut j) = store.get::<Job>(Kind::Job, &job_name) {
                if let Some(r) = j
                    .latest_created_execution
                    .as_mut()
                    .filter(|r| r.name == name)
                {
                    r.completion_time = exec.completion_time.clone();
                    r.completion_status = Enum::new(status);
                    let _ = store.put(Kind::Job, &job_name, &j);
                }
            }
        }
        self.complete_operations(&exec);
        self.changed.notify_waiters();
    }

    /// After a restart, executions that were running have no process any more: they are
    /// finished as interrupted, so nothing waits on them forever.
    pub(crate) fn recover_interrupted(&self) -> anyhow::Result<()> {
        let execs: Vec<Execution> = self.store().all(Kind::Execution);
        for e in execs.into_iter().filter(|e| !e.is_done()) {
            let tasks: Vec<String> = self
                .store()
                .names_with_prefix(Kind::Task, &format!("{}/tasks/", e.name))
                .map(str::to_string)
                .collect();
            for t in tasks {
                self.update_task(&t, |t| {
                    if t.completion_time.is_empty() {
                        t.completion_time = now_rfc3339();
                        set_cond(
                            &mut t.conditions,
                            "Completed",
                            "CONDITION_FAILED",
                            "The local runtime stopped while the task was running.",
                        );
                    }
                });
            }
            self.finish_execution(&e.name);
        }
        Ok(())
    }

    fn update_exec(&self, name: &str, f: impl FnOnce(&mut Execution)) -> Option<Execution> {
        let mut store = self.store();
        let mut e: Execution = store.get(Kind::Execution, name)?;
        f(&mut e);
        e.update_time = now_rfc3339();
        let _ = store.put(Kind::Execution, name, &e);
        Some(e)
    }

    fn update_task(&self, name: &str, f: impl FnOnce(&mut Task)) {
        let mut store = self.store();
        if let Some(mut t) = store.get::<Task>(Kind::Task, name) {
            f(&mut t);
            t.update_time = now_rfc3339();
            let _ = store.put(Kind::Task, name, &t);
        }
    }

    fn log_path(&self, exec: &str, task: i32, attempt: i32) -> PathBuf {
        let safe = exec.replace('/', "_");
        self.logs_dir
            .join(safe)
            .join(format!("task{task:05}-attempt{attempt:02}.log"))
    }

    /// The log lines of an execution (optionally one task), in task and attempt order.
    pub fn logs(&self, exec: &str, task: Option<i32>) -> ApiResult<Vec<LogEntry>> {
        self.get_execution(exec)?;
        let dir = self.logs_dir.join(exec.replace('/', "_"));
        let mut files: Vec<(i32, i32, PathBuf)> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().to_string();
                        let rest = n.strip_prefix("task")?.strip_suffix(".log")?;
                        let (t, a) = rest.split_once("-attempt")?;
                        Some((t.parse().ok()?, a.parse().ok()?, e.path()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let mut out = Vec::new();
        for (t, a, p) in files {
            if task.is_some_and(|want| want != t) {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for line in text.lines() {
                let (stream, at, l) = super::executor::parse_log_line(line);
                out.push(LogEntry {
                    task: t,
                    attempt: a,
                    stream: stream.to_string(),
                    line: l.to_string(),
                    timestamp: at.unwrap_or_default().to_string(),
                });
            }
        }
        Ok(out)
    }
}

fn cond(type_: &str, state: &str, msg: &str) -> Condition {
    Condition {
        type_: type_.into(),
        state: Enum::new(state),
        message: msg.into(),
        last_transition_time: now_rfc3339(),
        ..Default::default()
    }
}

fn set_cond(conds: &mut Vec<Condition>, type_: &str, state: &str, msg: &str) {
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.state.as_str() != state {
                c.last_transition_time = now_rfc3339();
            }
            c.state = Enum::new(state);
            c.message = msg.into();
        }
        None => conds.push(cond(type_, state, msg)),
    }
}

/// Applies `RunJobRequest.overrides`: args replace, env merges by name, taskCount and timeout
/// replace.
/// Cloud Run's longest task timeout (168 hours).
const MAX_TASK_TIMEOUT_SECS: f64 = 168.0 * 3600.0;

fn apply_overrides(t: &mut TaskTemplate, task_count: &mut i32, o: &Overrides) -> ApiResult<()> {
    for co in &o.container_overrides {
        let c = if co.name.is_empty() {
            t.containers.first_mut()
        } else {
            t.containers.iter_mut().find(|c| c.name == co.name)
        };
        let Some(c) = c else {
            return Err(ApiError::new(
                Code::InvalidArgument,
                format!("container override names unknown container {:?}", co.name),
            ));
        };
        if co.clear_args {
            c.args.clear();
        } else if !co.args.is_empty() {
            c.args = co.args.clone();
        }
        for e in &co.env {
            if is_reserved_env(&e.name) {
                return Err(ApiError::new(
                    Code::InvalidArgument,
                    format!("env name {:?} is reserved", e.name),
                ));
            }
            match c.env.iter_mut().find(|x| x.name == e.name) {
                Some(x) => *x = e.clone(),
                None => c.env.push(e.clone()),
            }
        }
    }
    if let Some(n) = o.task_count {
        if !(1..=10_000).contains(&n) {
            return Err(ApiError::new(
                Code::InvalidArgument,
                format!("taskCount override {n} must be between 1 and 10000"),
            ));
        }
        *task_count = n;
    }
    if let Some(tmo) = &o.timeout {
        if !parse_duration_secs(tmo).is_some_and(|s| s > 0.0 && s <= MAX_TASK_TIMEOUT_SECS) {
            return Err(ApiError::new(
                Code::InvalidArgument,
                format!("timeout override {tmo:?} is not a duration between 0s and 168h (604800s)"),
            ));
        }
        t.timeout = tmo.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_merge_env_and_replace_args() {
        let mut t = TaskTemplate {
            containers: vec![Container {
                image: "i".into(),
                args: vec!["a".into()],
                env: vec![EnvVar {
                    name: "A".into(),
                    value: Some("1".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut n = 1;
        let o = Overrides {
            container_overrides: vec![ContainerOverride {
                args: vec!["b".into()],
                env: vec![
                    EnvVar {
                        name: "A".into(),
                        value: Some("2".into()),
                        ..Default::default()
                    },
                    EnvVar {
                        name: "B".into(),
                        value: Some("3".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            task_count: Some(4),
            timeout: Some("5s".into()),
        };
        apply_overrides(&mut t, &mut n, &o).unwrap();
        assert_eq!(n, 4);
        assert_eq!(t.containers[0].args, vec!["b"]);
        assert_eq!(t.containers[0].env.len(), 2);
        assert_eq!(t.containers[0].env[0].value.as_deref(), Some("2"));
        assert_eq!(t.timeout, "5s");
    }
}
