//! Cloud Scheduler v1 in the local runtime: create/get/list/patch/delete/pause/resume/run, and
//! a cron engine that fires jobs on their tz-database wall clock (see [`crate::api::cron`]).
//!
//! An attempt whose HTTP target is a Cloud Run job's `:run` URL (v2, or the v1 form Google's
//! sample uses) is delivered to this runtime directly, as the target's service account; any
//! other target gets a real HTTP request, to loopback addresses only. Every attempt is recorded
//! (`/runform/v1/scheduler/attempts?job=NAME`); failed attempts are retried per `retryConfig`.
//! The clock is the system's, or a manual one that tests advance ([`Runtime::advance_clock`]).

use super::jobs::{page_token_decode, page_token_encode};
use super::store::Kind;
use super::{ApiError, ApiResult, Runtime};
use crate::api::common::{Code, Enum, Status};
use crate::api::cron::{parse_tz, Cron};
use crate::api::run::{parse_duration_secs, RunJobRequest};
use crate::api::scheduler::{
    run_job_target, validate_scheduler_job, ListSchedulerJobsResponse, SchedulerJob, DEFAULT_SCOPE,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Weak};
use std::time::Duration;

const PAGE_MAX: usize = 500;
const ATTEMPTS_KEPT: usize = 100;

/// Runtime-side bookkeeping for one scheduler job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedState {
    /// Retries made so far for the run being retried (0 when none is pending).
    pub retry: u32,
    /// The schedule time of the run being retried.
    pub retry_of: String,
    /// The newest attempts, oldest first.
    pub attempts: Vec<Attempt>,
}

/// One delivery attempt, as `runform` and tests read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Attempt {
    pub schedule_time: String,
    pub attempt_time: String,
    /// `:run` forced it (not the schedule).
    pub forced: bool,
    pub retry: u32,
    /// gRPC code of the outcome (0 = delivered).
    pub code: i32,
    pub message: String,
    /// The Cloud Run execution it started, when the target was a job.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub execution: String,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidArgument, msg)
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("Job not found: {name}"))
}

/// `projects/P/locations/L/jobs/ID` with ID in `[A-Za-z0-9_-]{1,500}`.
fn check_name(name: &str) -> ApiResult<()> {
    let segs: Vec<&str> = name.split('/').collect();
    let ok = segs.len() == 6
        && segs[0] == "projects"
        && segs[2] == "locations"
        && segs[4] == "jobs"
        && !segs[1].is_empty()
        && !segs[3].is_empty()
        && !segs[5].is_empty()
        && segs[5].len() <= 500
        && segs[5]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "job name {name:?} must be projects/PROJECT/locations/LOCATION/jobs/ID with ID of letters, digits, - and _ (at most 500)"
        )))
    }
}

impl Runtime {
    /// The scheduler's current time.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual_now {
            Some(m) => *m.lock().unwrap_or_else(|p| p.into_inner()),
            None => Utc::now(),
        }
    }

    /// Moves a manual clock forward (no effect on a system clock). Call
    /// [`Runtime::scheduler_tick`] afterwards to fire what became due.
    pub fn advance_clock(&self, by: Duration) {
        if let Some(m) = &self.manual_now {
            let mut t = m.lock().unwrap_or_else(|p| p.into_inner());
            *t += chrono::Duration::from_std(by).unwrap_or_default();
        }
    }

    /// Fills what the API fills and checks what it checks.
    fn normalize_scheduler_job(&self, j: &mut SchedulerJob) -> ApiResult<()> {
        if let Some(p) = validate_scheduler_job(j).into_iter().next() {
            return Err(invalid(format!("{}: {}", p.field, p.message)));
        }
        if j.attempt_deadline.is_empty() || parse_duration_secs(&j.attempt_deadline) == Some(0.0) {
            j.attempt_deadline = "180s".into();
        }
        if let Some(t) = &mut j.http_target {
            if t.http_method.is_default() {
                t.http_method = Enum::new("POST");
            }
            if let Some(o) = &mut t.oauth_token {
                if o.scope.is_empty() {
                    o.scope = DEFAULT_SCOPE.into();
                }
            }
            if let Some(o) = &mut t.oidc_token {
                if o.audience.is_empty() {
                    o.audience = t.uri.clone();
                }
            }
            // As on Google: the job's own User-Agent is recorded with the target's headers.
            t.headers
                .insert("User-Agent".into(), "Google-Cloud-Scheduler".into());
        }
        Ok(())
    }

    fn next_schedule_time(&self, j: &SchedulerJob, after: DateTime<Utc>) -> String {
        let (Ok(c), Ok(tz)) = (Cron::parse(&j.schedule), parse_tz(&j.time_zone)) else {
            return String::new();
        };
        c.next_after(after, tz).map(rfc3339).unwrap_or_default()
    }

    fn put_scheduler_job(&self, j: &SchedulerJob) -> ApiResult<()> {
        self.store().put(Kind::SchedulerJob, &j.name, j)?;
        self.schedule_changed.notify_one();
        Ok(())
    }

    pub fn create_scheduler_job(
        &self,
        parent: &str,
        mut j: SchedulerJob,
    ) -> ApiResult<SchedulerJob> {
        if j.name.is_empty() {
            j.name = format!("{parent}/jobs/{}", uuid::Uuid::new_v4().simple());
        }
        check_name(&j.name)?;
        if !j.name.starts_with(&format!("{parent}/jobs/")) {
            return Err(invalid(format!(
                "job name {:?} is not under {parent}",
                j.name
            )));
        }
        if self.store().contains(Kind::SchedulerJob, &j.name) {
            return Err(ApiError::new(
                Code::AlreadyExists,
                format!("Job {} already exists.", j.name),
            ));
        }
        self.normalize_scheduler_job(&mut j)?;
        let now = self.now();
        j.state = Enum::new("ENABLED");
        j.status = None;
        j.last_attempt_time.clear();
        j.user_update_time = rfc3339(now);
        j.schedule_time = self.next_schedule_time(&j, now);
        self.put_scheduler_job(&j)?;
        self.store()
            .put(Kind::SchedulerState, &j.name, &SchedState::default())?;
        Ok(j)
    }

    pub fn get_scheduler_job(&self, name: &str) -> ApiResult<SchedulerJob> {
        self.store()
            .get(Kind::SchedulerJob, name)
            .ok_or_else(|| not_found(name))
    }

    pub fn list_scheduler_jobs(
        &self,
        parent: &str,
        page_size: Option<&str>,
        token: Option<&str>,
    ) -> ApiResult<ListSchedulerJobsResponse> {
        let limit = match page_size.map(str::parse::<i64>) {
            None | Some(Ok(0)) => PAGE_MAX,
            Some(Ok(n)) if n > 0 => (n as usize).min(PAGE_MAX),
            _ => return Err(invalid("pageSize must be a positive number")),
        };
        let after = page_token_decode(token)?;
        let (jobs, more): (Vec<SchedulerJob>, bool) = self.store().page(
            Kind::SchedulerJob,
            &format!("{parent}/jobs/"),
            after.as_deref(),
            limit,
        );
        let next_page_token = match (more, jobs.last()) {
            (true, Some(last)) => page_token_encode(&last.name),
            _ => String::new(),
        };
        Ok(ListSchedulerJobsResponse {
            jobs,
            next_page_token,
        })
    }

    /// PATCH: the fields named by `update_mask` (camelCase or snake_case paths; all
    /// settable fields when empty) are taken from `patch`.
    pub fn patch_scheduler_job(
        &self,
        name: &str,
        patch: SchedulerJob,
        update_mask: &str,
    ) -> ApiResult<SchedulerJob> {
        let mut j = self.get_scheduler_job(name)?;
        let mut cur = serde_json::to_value(&j).map_err(|e| invalid(e.to_string()))?;
        let new = serde_json::to_value(&patch).map_err(|e| invalid(e.to_string()))?;
        let paths: Vec<String> = if update_mask.trim().is_empty() {
            [
                "description",
                "schedule",
                "timeZone",
                "httpTarget",
                "retryConfig",
                "attemptDeadline",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        } else {
            update_mask
                .split(',')
                .map(|p| {
                    p.trim()
                        .split('.')
                        .map(crate::api::common::camel)
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .collect()
        };
        for p in &paths {
            let ptr = format!("/{}", p.replace('.', "/"));
            if matches!(
                p.as_str(),
                "name" | "state" | "status" | "scheduleTime" | "userUpdateTime" | "lastAttemptTime"
            ) {
                return Err(invalid(format!("{p} cannot be updated")));
            }
            let v = new.pointer(&ptr).cloned();
            set_pointer(&mut cur, &ptr, v);
        }
        let mut updated: SchedulerJob =
            serde_json::from_value(cur).map_err(|e| invalid(e.to_string()))?;
        updated.name = name.to_string();
        if let Some(t) = &mut updated.http_target {
            t.headers.remove("User-Agent");
        }
        self.normalize_scheduler_job(&mut updated)?;
        let now = self.now();
        updated.user_update_time = rfc3339(now);
        if updated.state.as_str() == "ENABLED" {
            updated.schedule_time = self.next_schedule_time(&updated, now);
        }
        j = updated;
        self.put_scheduler_job(&j)?;
        Ok(j)
    }

    pub fn delete_scheduler_job(&self, name: &str) -> ApiResult<()> {
        self.get_scheduler_job(name)?;
        let mut store = self.store();
        store.delete(Kind::SchedulerJob, name)?;
        store.delete(Kind::SchedulerState, name)?;
        drop(store);
        self.schedule_changed.notify_one();
        Ok(())
    }

    pub fn pause_scheduler_job(&self, name: &str) -> ApiResult<SchedulerJob> {
        self.transition(name, "ENABLED", "PAUSED")
    }

    pub fn resume_scheduler_job(&self, name: &str) -> ApiResult<SchedulerJob> {
        self.transition(name, "PAUSED", "ENABLED")
    }

    /// `:pause` / `:resume`: only from the other state; an enabled job gets its next time.
    fn transition(&self, name: &str, from: &str, to: &str) -> ApiResult<SchedulerJob> {
        let mut j = self.get_scheduler_job(name)?;
        if j.state.as_str() != from {
            return Err(ApiError::new(
                Code::FailedPrecondition,
                format!(
                    "Job {name} is {}; only a {from} job can become {to}",
                    j.state.as_str()
                ),
            ));
        }
        j.state = Enum::new(to);
        j.schedule_time = if to == "ENABLED" {
            self.next_schedule_time(&j, self.now())
        } else {
            String::new()
        };
        self.put_scheduler_job(&j)?;
        Ok(j)
    }

    /// `:run`: one attempt now, whatever the state and schedule; returns the job as updated
    /// by the attempt.
    pub async fn run_scheduler_job(self: &Arc<Self>, name: &str) -> ApiResult<SchedulerJob> {
        let j = self.get_scheduler_job(name)?;
        let now = self.now();
        self.attempt(&j, rfc3339(now), true).await;
        self.get_scheduler_job(name)
    }

    /// A scheduler job's full name from a full name or a short one (`nightly`, unique
    /// across projects and locations).
    pub fn scheduler_job_name(&self, name: &str) -> ApiResult<String> {
        if name.starts_with("projects/") {
            return Ok(name.to_string());
        }
        let found: Vec<String> = self
            .store()
            .names_with_prefix(Kind::SchedulerJob, "")
            .filter(|n| n.rsplit('/').next() == Some(name))
            .map(str::to_string)
            .collect();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ApiError::new(
                Code::NotFound,
                format!("no scheduler job named {name:?}"),
            )),
            many => Err(ApiError::new(
                Code::InvalidArgument,
                format!(
                    "{name:?} names several scheduler jobs ({}); give the full name",
                    many.join(", ")
                ),
            )),
        }
    }

    /// The recorded attempts of a scheduler job (full or short name), oldest first.
    pub fn scheduler_attempts(&self, name: &str) -> ApiResult<Vec<Attempt>> {
        let name = &self.scheduler_job_name(name)?;
        self.get_scheduler_job(name)?;
        Ok(self
            .store()
            .get::<SchedState>(Kind::SchedulerState, name)
            .unwrap_or_default()
            .attempts)
    }

    /// Fires every enabled job whose schedule (or retry) time has come, and waits for those
    /// attempts. Returns how many attempts were made.
    pub async fn scheduler_tick(self: &Arc<Self>) -> usize {
        let now = self.now();
        let due: Vec<SchedulerJob> = {
            let store = self.store();
            let names: Vec<String> = store
                .names_with_prefix(Kind::SchedulerJob, "")
                .map(str::to_string)
                .collect();
            names
                .iter()
                .filter_map(|n| store.get::<SchedulerJob>(Kind::SchedulerJob, n))
                .filter(|j| {
                    j.state.as_str() == "ENABLED"
                        && parse_time(&j.schedule_time).is_some_and(|t| t <= now)
                })
                .collect()
        };
        let n = due.len();
        // Different jobs fire concurrently; one job's runs never overlap (one attempt each).
        futures::future::join_all(due.iter().map(|j| {
            let st: SchedState = self
                .store()
                .get(Kind::SchedulerState, &j.name)
                .unwrap_or_default();
            let when = if st.retry > 0 && !st.retry_of.is_empty() {
                st.retry_of
            } else {
                j.schedule_time.clone()
            };
            self.attempt(j, when, false)
        }))
        .await;
        n
    }

    /// Delivers one attempt and records it; schedules the retry or the next run.
    async fn attempt(self: &Arc<Self>, j: &SchedulerJob, schedule_time: String, forced: bool) {
        let now = self.now();
        let (status, execution) = self.deliver(j, &schedule_time, forced).await;
        let mut st: SchedState = self
            .store()
            .get(Kind::SchedulerState, &j.name)
            .unwrap_or_default();
        st.attempts.push(Attempt {
            schedule_time: schedule_time.clone(),
            attempt_time: rfc3339(now),
            forced,
            retry: if forced { 0 } else { st.retry },
            code: status.code,
            message: status.message.clone(),
            execution,
        });
        if st.attempts.len() > ATTEMPTS_KEPT {
            let extra = st.attempts.len() - ATTEMPTS_KEPT;
            st.attempts.drain(..extra);
        }
        // The job may have changed or gone while the attempt ran.
        let Ok(mut cur) = self.get_scheduler_job(&j.name) else {
            return;
        };
        cur.last_attempt_time = rfc3339(now);
        cur.status = (status.code != 0).then_some(status.clone());
        if !forced && cur.state.as_str() == "ENABLED" {
            let retries = cur
                .retry_config
                .as_ref()
                .map_or(0, |r| r.retry_count.max(0) as u32);
            if status.code != 0
                && st.retry < retries
                && !self.retry_window_over(&cur, &schedule_time, now)
            {
                st.retry += 1;
                st.retry_of = schedule_time.clone();
                cur.schedule_time = rfc3339(now + backoff(&cur, st.retry));
            } else {
                st.retry = 0;
                st.retry_of.clear();
                let base = parse_time(&schedule_time).map_or(now, |t| t.max(now));
                cur.schedule_time = self.next_schedule_time(&cur, base);
            }
        }
        let _ = self.store().put(Kind::SchedulerState, &j.name, &st);
        let _ = self.put_scheduler_job(&cur);
    }

    fn retry_window_over(&self, j: &SchedulerJob, schedule_time: &str, now: DateTime<Utc>) -> bool {
        let max = j
            .retry_config
            .as_ref()
            .and_then(|r| parse_duration_secs(&r.max_retry_duration))
            .unwrap_or(0.0);
        max > 0.0
            && parse_time(schedule_time)
                .is_some_and(|t| (now - t).num_milliseconds() as f64 / 1000.0 > max)
    }

    /// Sends the target its request. Returns the attempt's status and the execution it
    /// started (for Cloud Run job targets).
    async fn deliver(
        self: &Arc<Self>,
        j: &SchedulerJob,
        schedule_time: &str,
        forced: bool,
    ) -> (Status, String) {
        let status = |code: Code, message: String| Status {
            code: code as i32,
            message,
            details: vec![],
        };
        let Some(t) = &j.http_target else {
            return (
                status(
                    Code::Unimplemented,
                    "the local runtime delivers HTTP targets only (not Pub/Sub or App Engine)"
                        .into(),
                ),
                String::new(),
            );
        };
        let body = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(&t.body)
                .unwrap_or_default()
        };
        if let Some(job_name) = run_job_target(&t.uri).map(|n| self.canonical_job_name(&n)) {
            let req: RunJobRequest = if body.iter().all(u8::is_ascii_whitespace) {
                RunJobRequest::default()
            } else {
                match serde_json::from_slice(&body) {
                    Ok(r) => r,
                    Err(e) => {
                        return (
                            status(
                                Code::InvalidArgument,
                                format!("the request body is not a RunJobRequest: {e}"),
                            ),
                            String::new(),
                        )
                    }
                }
            };
            // Delivered as the target's service account: IAM on the job decides.
            let identity = t
                .oauth_token
                .as_ref()
                .map(|o| o.service_account_email.clone())
                .or_else(|| {
                    t.oidc_token
                        .as_ref()
                        .map(|o| o.service_account_email.clone())
                });
            let Some(email) = identity.filter(|e| !e.is_empty()) else {
                return (
                    status(Code::Unauthenticated, format!("the request to {} carried no credentials: add an oauth_token with a service account", t.uri)),
                    String::new(),
                );
            };
            if let Err(e) = self.authorize_run(&job_name, &format!("serviceAccount:{email}"), &req)
            {
                return (
                    status(Code::PermissionDenied, e.body.error.message),
                    String::new(),
                );
            }
            return match self.run_job(&job_name, req, None) {
                Ok((exec, _)) => (status(Code::Ok, String::new()), exec.name),
                Err(e) => {
                    let code = Code::from_name(&e.body.error.status).unwrap_or(Code::Unknown);
                    (status(code, e.body.error.message), String::new())
                }
            };
        }
        // Any other target: a real request, loopback only.
        let host_ok = reqwest::Url::parse(&t.uri).ok().is_some_and(|u| {
            let h = u.host_str().unwrap_or("");
            h == "localhost"
                || h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a.is_loopback())
        });
        if !host_ok {
            return (
                status(Code::Unavailable, format!("the local runtime delivers only to loopback addresses and Cloud Run job URLs, not {}", t.uri)),
                String::new(),
            );
        }
        let deadline = parse_duration_secs(&j.attempt_deadline)
            .filter(|s| *s > 0.0)
            .unwrap_or(180.0);
        let method = reqwest::Method::from_bytes(t.http_method.as_str().as_bytes())
            .unwrap_or(reqwest::Method::POST);
        let client = reqwest::Client::new();
        let mut req = client
            .request(method, &t.uri)
            .timeout(crate::api::common::clamp_secs(deadline))
            .header("User-Agent", "Google-Cloud-Scheduler")
            .header("X-CloudScheduler", "true")
            .header(
                "X-CloudScheduler-JobName",
                crate::api::run::last_segment(&j.name),
            );
        if !forced {
            req = req.header("X-CloudScheduler-ScheduleTime", schedule_time);
        }
        for (k, v) in &t.headers {
            if !k.eq_ignore_ascii_case("user-agent") {
                req = req.header(k, v);
            }
        }
        if !body.is_empty() {
            if !t
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                req = req.header("Content-Type", "application/octet-stream");
            }
            req = req.body(body);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => (status(Code::Ok, String::new()), String::new()),
            Ok(r) => (
                status(
                    Code::Unknown,
                    format!("the target answered HTTP {}", r.status().as_u16()),
                ),
                String::new(),
            ),
            Err(e) if e.is_timeout() => (
                status(
                    Code::DeadlineExceeded,
                    format!("no answer within {deadline}s"),
                ),
                String::new(),
            ),
            Err(e) => (
                status(Code::Unavailable, format!("cannot reach {}: {e}", t.uri)),
                String::new(),
            ),
        }
    }

    /// On start: schedule times that passed while no runtime ran are skipped, not caught up
    /// (a `plan --local` must not set off a night's worth of missed runs).
    pub(crate) fn skip_missed_schedules(&self) -> anyhow::Result<()> {
        let now = self.now();
        let jobs: Vec<SchedulerJob> = {
            let store = self.store();
            let names: Vec<String> = store
                .names_with_prefix(Kind::SchedulerJob, "")
                .map(str::to_string)
                .collect();
            names
                .iter()
                .filter_map(|n| store.get::<SchedulerJob>(Kind::SchedulerJob, n))
                .collect()
        };
        for mut j in jobs {
            if j.state.as_str() == "ENABLED"
                && parse_time(&j.schedule_time).is_some_and(|t| t < now)
            {
                j.schedule_time = self.next_schedule_time(&j, now);
                // A retry pending from before the stop is dropped too.
                let attempts = self.scheduler_attempts(&j.name).unwrap_or_default();
                let st = SchedState {
                    attempts,
                    ..Default::default()
                };
                let mut store = self.store();
                store.put(Kind::SchedulerJob, &j.name, &j)?;
                store.put(Kind::SchedulerState, &j.name, &st)?;
            }
        }
        Ok(())
    }

    /// Whether `member` may run `job` with this request: `run.jobs.run`, plus
    /// `run.jobs.runWithOverrides` when it carries overrides. The denial names the
    /// permission, the principal and the resource, as Google's does.
    pub fn authorize_run(&self, job: &str, member: &str, req: &RunJobRequest) -> ApiResult<()> {
        use crate::api::iam;
        // A missing job is reported as a denial, as Google does for callers without access.
        let policy = self.get_policy(job).unwrap_or_default();
        // Grants on the project apply to every job in it.
        let project = crate::api::iam::project_of(job);
        let project_policy = self.get_policy(&project).unwrap_or_default();
        let overrides = req.overrides.as_ref().is_some_and(|o| {
            serde_json::to_value(o).is_ok_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        });
        let mut needed = vec![iam::RUN];
        if overrides {
            needed.push(iam::RUN_WITH_OVERRIDES);
        }
        for perm in needed {
            let now = self.now();
            if !iam::grants_at(&policy, member, perm, now)
                && !iam::grants_at(&project_policy, member, perm, now)
            {
                return Err(ApiError::new(
                    Code::PermissionDenied,
                    format!(
                        "Permission '{perm}' denied on resource '{job}' for principal '{member}' (or it may not exist); grant it one of: {}",
                        iam::roles_granting(perm).join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The earliest schedule or retry time among enabled jobs.
    fn next_due(&self) -> Option<DateTime<Utc>> {
        let store = self.store();
        let names: Vec<String> = store
            .names_with_prefix(Kind::SchedulerJob, "")
            .map(str::to_string)
            .collect();
        names
            .iter()
            .filter_map(|n| store.get::<SchedulerJob>(Kind::SchedulerJob, n))
            .filter(|j| j.state.as_str() == "ENABLED")
            .filter_map(|j| parse_time(&j.schedule_time))
            .min()
    }
}

/// Backoff before retry `n` (1-based): min doubled per retry up to `maxDoublings`, then
/// linear, capped at max (defaults 5s, 3600s, 5 doublings).
fn backoff(j: &SchedulerJob, n: u32) -> chrono::Duration {
    let r = j.retry_config.clone().unwrap_or_default();
    let min = parse_duration_secs(&r.min_backoff_duration)
        .filter(|s| *s > 0.0)
        .unwrap_or(5.0);
    let max = parse_duration_secs(&r.max_backoff_duration)
        .filter(|s| *s > 0.0)
        .unwrap_or(3600.0);
    let doublings = if r.max_doublings > 0 {
        r.max_doublings as u32
    } else {
        5
    };
    let k = n.saturating_sub(1);
    let secs = if k <= doublings {
        min * 2f64.powi(k as i32)
    } else {
        min * 2f64.powi(doublings as i32) * f64::from(k - doublings + 1)
    };
    chrono::Duration::milliseconds((secs.min(max) * 1000.0) as i64)
}

fn set_pointer(root: &mut serde_json::Value, ptr: &str, v: Option<serde_json::Value>) {
    let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
    let mut cur = root;
    for (i, p) in parts.iter().enumerate() {
        let Some(m) = cur.as_object_mut() else { return };
        if i + 1 == parts.len() {
            match v {
                Some(v) => {
                    m.insert(p.to_string(), v);
                }
                None => {
                    m.remove(*p);
                }
            }
            return;
        }
        cur = m
            .entry(p.to_string())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
    }
}

/// Fires jobs as their times come, on the system clock, until the runtime is dropped.
pub async fn run_loop(rt: Weak<Runtime>) {
    loop {
        let Some(r) = rt.upgrade() else { return };
        r.scheduler_tick().await;
        // Buckets' lifecycle rules are applied on the same clock.
        r.apply_lifecycle();
        let wait = match r.next_due() {
            Some(t) => (t - r.now()).to_std().unwrap_or(Duration::ZERO),
            None => Duration::from_secs(60),
        }
        .min(Duration::from_secs(60));
        {
            let changed = r.schedule_changed.notified();
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = changed => {}
            }
        }
        drop(r);
    }
}
