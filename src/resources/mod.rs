//! Resource types, one file each. Adding a type means one file here (plus its runtime handler)
//! and one line in [`registry`].

pub mod cloud_run_v2_job;
pub mod cloud_scheduler_job;
pub mod data_sources;
pub mod eventarc_trigger;
pub mod job_execution;
pub mod job_iam;
pub mod labels;
pub mod platform;
pub mod provider_schema;
pub mod secret_manager;
pub mod service_account;
pub mod storage_bucket;
pub mod utility;
pub mod workflow;

use crate::api::run::{last_segment, Execution};
use crate::cloud::Client;
use crate::config::{ResourceConfig, TypeInfo};
use crate::model::{Action, AttrChange, Change};
pub use crate::state::StateEntry;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Everything a resource type needs to plan one address.
pub struct PlanInput<'a> {
    pub addr: &'a str,
    pub config: Option<&'a ResourceConfig>,
    pub state: Option<&'a StateEntry>,
    /// The live object (wire JSON) as refreshed, if it exists.
    pub live: Option<&'a serde_json::value::RawValue>,
    pub lineage: &'a str,
    /// Desired values of every job in the configuration, by id.
    pub stack_jobs: &'a BTreeMap<String, &'a Value>,
}

/// Progress reporting during apply (implemented by the view).
pub trait Observer: Send + Sync {
    fn note(&self, msg: &str);
    /// An execution being waited on, each time it is read; `elapsed` since the wait began.
    fn execution_progress(&self, addr: &str, exec: &Execution, elapsed: Duration);
    /// Whether the tasks' log lines should be read and passed to [`Observer::task_log`]
    /// while an execution is waited on.
    fn wants_task_logs(&self) -> bool {
        false
    }
    /// A line a task wrote, in the order written across tasks.
    fn task_log(&self, _addr: &str, _entry: &crate::api::ext::LogEntry) {}
    /// Apply begins an action on `addr` (`prior_id`: the object it acts on, if any).
    fn action_start(&self, addr: &str, action: Action, _prior_id: Option<&str>) {
        self.note(&format!("{addr}: {}...", action.progressive()));
    }
    /// An action still running after `secs` seconds.
    fn action_progress(&self, addr: &str, action: Action, secs: u64) {
        self.note(&format!(
            "{addr}: still {}... [{secs}s elapsed]",
            action.progressive()
        ));
    }
    /// An action done (`id`: the object it left, if any).
    fn action_complete(&self, addr: &str, action: Action, _id: Option<&str>, _secs: u64) {
        self.note(&format!("{addr}: {} complete", action.progressive()));
    }
    /// An action failed (the error itself is reported with the apply's outcome).
    fn action_errored(&self, _addr: &str, _action: Action, _secs: u64) {}
}

pub struct Ctx {
    pub client: Client,
    pub lineage: String,
    pub observer: Box<dyn Observer>,
}

/// The API whose list calls refresh a resource type's live objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LiveApi {
    RunJobs,
    SchedulerJobs,
    /// A job's IAM policy (one getIamPolicy per job).
    JobIam,
    ServiceAccounts,
    Workflows,
    Triggers,
    /// One bucket, read by its (global) name.
    Buckets,
    /// One service of a project (`P/S`), read on its own.
    Services,
    /// Artifact Registry repositories, listed per project and location.
    Repositories,
    /// Secret Manager secrets, listed per project.
    Secrets,
}

impl LiveApi {
    /// The key of a live object in the planner's map of live objects (names are only unique per API: a
    /// Cloud Run job and a Scheduler job may share `projects/p/locations/l/jobs/x`).
    pub fn key(self, id: &str) -> String {
        match self {
            LiveApi::RunJobs => id.to_string(),
            LiveApi::SchedulerJobs => format!("cloudscheduler:{id}"),
            // IAM resource ids start with the job's name (`JOB ROLE MEMBER`).
            LiveApi::JobIam => format!("iam:{}", job_iam::resource_of_id(id)),
            LiveApi::ServiceAccounts => format!("iam.serviceAccounts:{id}"),
            LiveApi::Workflows => format!("workflows:{id}"),
            LiveApi::Triggers => format!("eventarc:{id}"),
            LiveApi::Buckets => format!("gcs:{id}"),
            LiveApi::Services => format!("serviceusage:{id}"),
            LiveApi::Repositories => format!("artifactregistry:{id}"),
            LiveApi::Secrets => format!("secretmanager:{id}"),
        }
    }
}

pub trait ResourceType: Sync {
    fn name(&self) -> &'static str;
    /// The API that lists this type's live objects, if it has any.
    fn live_api(&self) -> Option<LiveApi> {
        None
    }
    /// (project, location) whose list call refreshes this resource, if it has live objects.
    fn family(&self, values: &Value) -> Option<(String, String)>;
    /// The same, from a state id (for resources no longer in the configuration).
    fn family_of_id(&self, id: &str) -> Option<(String, String)> {
        family_of_name(id)
    }
    /// The id an import names, in this type's id format (the provider's import formats,
    /// e.g. `P/L/NAME` or `L/NAME` for `projects/P/locations/L/jobs/NAME`); `values` are the
    /// configured ones (for the project and location an import id leaves out).
    fn canonical_id(&self, id: &str, values: &Value) -> String {
        let _ = values;
        id.to_string()
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String>;
    /// Carries out a change; returns the new state entry (`None` when it is gone).
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>>;
}

static JOB: cloud_run_v2_job::Job = cloud_run_v2_job::Job;
static EXEC: job_execution::JobExecution = job_execution::JobExecution;

pub const TYPE_NAMES: &[&str] = &[
    cloud_run_v2_job::TYPE,
    cloud_scheduler_job::TYPE,
    job_iam::MEMBER,
    job_iam::BINDING,
    job_iam::POLICY,
    job_iam::PROJECT_MEMBER,
    job_iam::PROJECT_BINDING,
    job_iam::PROJECT_POLICY,
    service_account::TYPE,
    workflow::TYPE,
    eventarc_trigger::TYPE,
    storage_bucket::TYPE,
    job_execution::TYPE,
    platform::SERVICE,
    platform::REPOSITORY,
    secret_manager::SECRET,
    secret_manager::VERSION,
    "random_id",
    "random_string",
    "random_pet",
    "time_sleep",
    "null_resource",
    "terraform_data",
];

pub fn registry(ty: &str) -> Option<&'static dyn ResourceType> {
    match ty {
        cloud_run_v2_job::TYPE => Some(&JOB),
        job_execution::TYPE => Some(&EXEC),
        cloud_scheduler_job::TYPE => Some(&cloud_scheduler_job::Scheduler),
        t if job_iam::TYPES.contains(&t) => job_iam::iam_type(t).map(|x| x as &dyn ResourceType),
        service_account::TYPE => Some(&service_account::ServiceAccounts),
        workflow::TYPE => Some(&workflow::Workflows),
        eventarc_trigger::TYPE => Some(&eventarc_trigger::Triggers),
        storage_bucket::TYPE => Some(&storage_bucket::Buckets),
        platform::SERVICE => Some(&platform::Services),
        platform::REPOSITORY => Some(&platform::Repositories),
        secret_manager::SECRET => Some(&secret_manager::Secrets),
        secret_manager::VERSION => Some(&secret_manager::Versions),
        other => utility::by_name(other).map(|u| u as &dyn ResourceType),
    }
}

/// The state entry for an applied object: its planned values with what the server computed
/// (see [`crate::model::Schema::fill_computed`]). `server` is the API's JSON of the object.
pub fn applied_entry(
    ty: &str,
    id: String,
    values: &Value,
    schema: &crate::model::Schema,
    server: &Value,
) -> StateEntry {
    let mut v = values.clone();
    schema.derive_label_attrs(&mut v, &mut Vec::new());
    schema.fill_computed(&mut v, &schema.from_wire(server));
    StateEntry {
        ty: ty.into(),
        id,
        values: (&v).into(),
        deps: Vec::new(),
        extra: Value::Null,
        sensitive: Vec::new(),
    }
}

pub fn type_info(ty: &str) -> Option<&'static dyn TypeInfo> {
    match ty {
        cloud_run_v2_job::TYPE => Some(&JOB),
        job_execution::TYPE => Some(&EXEC),
        cloud_scheduler_job::TYPE => Some(&cloud_scheduler_job::SchedulerJobType),
        t if job_iam::TYPES.contains(&t) => job_iam::iam_type(t).map(|x| x as &dyn TypeInfo),
        service_account::TYPE => Some(&service_account::ServiceAccountType),
        workflow::TYPE => Some(&workflow::WorkflowType),
        eventarc_trigger::TYPE => Some(&eventarc_trigger::TriggerType),
        storage_bucket::TYPE => Some(&storage_bucket::BucketType),
        platform::SERVICE => Some(&platform::ServiceType),
        platform::REPOSITORY => Some(&platform::RepositoryType),
        secret_manager::SECRET => Some(&secret_manager::SecretType),
        secret_manager::VERSION => Some(&secret_manager::VersionType),
        other => utility::by_name(other).map(|u| u as &dyn TypeInfo),
    }
}

/// `projects/P/locations/L/COLLECTION/NAME` from the provider's import formats for a
/// located resource: the full name, `P/L/NAME` or `L/NAME` (the project from `values`).
pub fn located_id(id: &str, collection: &str, values: &Value) -> String {
    if id.starts_with("projects/") {
        return id.to_string();
    }
    let project = values.get("project").and_then(Value::as_str).unwrap_or("");
    match id.split('/').collect::<Vec<_>>().as_slice() {
        [p, l, n] => format!("projects/{p}/locations/{l}/{collection}/{n}"),
        [l, n] => format!("projects/{project}/locations/{l}/{collection}/{n}"),
        _ => id.to_string(),
    }
}

/// Whether a JSON value is one the APIs treat as unset: null, `false`, or an empty string,
/// list or object.
pub fn is_empty_json(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Number(_) => false,
    }
}

/// The provider's default wait for create, update and delete.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// The wait for an operation: the resource's `timeouts {}`, else the provider's default.
pub fn timeout_for(change: &crate::model::Change, op: &str) -> std::time::Duration {
    change
        .timeouts
        .get(op)
        .map(|s| std::time::Duration::from_secs(*s))
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// Runs an apply action with the retries of its calls bounded by the resource's `timeouts`
/// for it (the provider's 20 minutes by default), as the provider bounds its retries. An
/// execution is bounded by its own task timeouts instead.
pub async fn within_timeouts<F: std::future::Future>(
    change: &crate::model::Change,
    f: F,
) -> F::Output {
    let budget = match change.action {
        Action::Create | Action::Adopt => timeout_for(change, "create"),
        Action::Update | Action::StateOnly => timeout_for(change, "update"),
        Action::Delete | Action::Forget => timeout_for(change, "delete"),
        Action::Replace => timeout_for(change, "delete") + timeout_for(change, "create"),
        Action::Execute | Action::NoOp => return f.await,
    };
    crate::cloud::retry::within(tokio::time::Instant::now() + budget, f).await
}

/// Types with the provider's `deletion_protection` (default true since provider 6.0).
pub const DELETION_PROTECTED_TYPES: &[&str] = &[cloud_run_v2_job::TYPE, workflow::TYPE];

/// Whether the object recorded by a state entry's values may not be deleted: its type has
/// `deletion_protection` and it is not false (missing counts as true, as the provider sets it
/// on the first refresh after upgrading to 6.0).
pub fn deletion_protected(ty: &str, values: &crate::state::Values) -> bool {
    DELETION_PROTECTED_TYPES.contains(&ty)
        && values.get("deletion_protection") != Some(serde_json::Value::Bool(false))
}

/// The change of a Terraform-only argument (kept in state, never sent to the API) between
/// the applied state and the configuration, if it changed; `default` stands for unset.
pub fn state_only_change(
    config: &serde_json::Value,
    state: Option<&StateEntry>,
    key: &str,
    default: serde_json::Value,
) -> Option<crate::model::AttrChange> {
    let new = config.get(key).cloned().unwrap_or(default.clone());
    let old = state.and_then(|s| s.values.get(key)).unwrap_or(default);
    (new != old).then(|| crate::model::AttrChange::new(key, Some(old), Some(new)))
}

/// The plan for an address in state but no longer in the configuration: delete it, or only
/// forget it when its live object is already gone.
pub fn plan_removal(
    addr: &str,
    ty: &str,
    state: Option<&StateEntry>,
    live_exists: bool,
) -> Result<crate::model::Change, String> {
    use crate::model::Action;
    let st = state.ok_or("nothing to plan")?;
    let mut change = crate::model::Change::new(addr, ty);
    change.prior_id = Some(st.id.clone());
    if live_exists {
        change.action = Action::Delete;
        change.reason = Some("it is no longer in the configuration".into());
        change.before = Some(st.values.to_value());
    } else {
        change.action = Action::Forget;
        change.reason = Some("it no longer exists".into());
    }
    Ok(change)
}

/// The common first step of apply: forget, delete, or delete before re-creating (replace).
/// Returns `true` when the change is complete and nothing is to be created.
pub async fn remove_first<Fut>(
    change: &crate::model::Change,
    delete: impl FnOnce(String) -> Fut,
) -> Result<bool, String>
where
    Fut: Future<Output = Result<(), String>>,
{
    use crate::model::Action;
    match change.action {
        Action::Forget => Ok(true),
        Action::Delete | Action::Replace => {
            if let Some(old) = change.prior_id.clone() {
                delete(old).await?;
            }
            Ok(change.action == Action::Delete)
        }
        _ => Ok(false),
    }
}

/// Reads the refreshed live object (JSON text) as `T`; the error names `what`.
pub fn read_live<T: serde::de::DeserializeOwned>(
    live: Option<&serde_json::value::RawValue>,
    what: &str,
) -> Result<Option<T>, String> {
    live.map(|v| serde_json::from_str(v.get()))
        .transpose()
        .map_err(|e| format!("the live {what} returned by the API cannot be read: {e}"))
}

/// The update mask a plan recorded in `extra.mask` (wire field names).
pub fn mask_of(change: &crate::model::Change) -> Vec<&str> {
    change
        .extra
        .get("mask")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A change for a configured address with its ids and values filled in (the common start of
/// every type's plan).
pub fn change_for(
    addr: &str,
    ty: &str,
    rc: &crate::config::ResourceConfig,
    state: Option<&StateEntry>,
) -> crate::model::Change {
    let mut change = crate::model::Change::new(addr, ty);
    change.new_id = rc
        .values
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string);
    change.prior_id = state.map(|st| st.id.clone());
    change.after = Some(rc.values.clone());
    change.before = state.map(|st| st.values.to_value());
    change
}

/// `(project, location)` of a `projects/P/locations/L/...` name, as a refresh family.
pub fn family_of_name(name: &str) -> Option<(String, String)> {
    crate::api::run::project_location(name).map(|(p, l)| (p.to_string(), l.to_string()))
}

/// Attribute-level differences between two wire objects, flattened to Terraform paths
/// (`http_target.headers.X-Key`, env entries keyed by name).
pub fn diff_values(old: &Value, new: &Value) -> Vec<crate::model::AttrChange> {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    cloud_run_v2_job::flatten(old, "", &mut a);
    cloud_run_v2_job::flatten(new, "", &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| crate::model::AttrChange::new(k.clone(), a.get(k).cloned(), b.get(k).cloned()))
        .collect()
}

/// Polls an execution until it finishes, reporting progress; gives up after `timeout`.
pub async fn wait_execution(
    ctx: &Ctx,
    addr: &str,
    name: &str,
    timeout: Duration,
) -> Result<Execution, String> {
    let start = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(if ctx.client.is_local() { 50 } else { 2000 });
    let mut logs = ctx.observer.wants_task_logs().then(LogCursor::default);
    loop {
        let e = ctx
            .client
            .get_execution(name)
            .await
            .map_err(|e| e.to_string())?;
        // Read after the execution, so that once it is done every line has been seen.
        if let Some(cursor) = &mut logs {
            if let Err(why) = cursor.stream(ctx, addr, name).await {
                ctx.observer.note(&format!(
                    "{addr}: cannot read the task logs ({why}); waiting without them"
                ));
                logs = None;
            }
        }
        ctx.observer.execution_progress(addr, &e, start.elapsed());
        if e.is_done() {
            return Ok(e);
        }
        if start.elapsed() > timeout {
            return Err(format!("{addr}: execution {} still running after {}s; it keeps running (see `runform executions`)", last_segment(name), timeout.as_secs()));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(if ctx.client.is_local() {
            1
        } else {
            10
        }));
    }
}

/// Which of an execution's log lines were already passed on: per task attempt, how many.
#[derive(Default)]
struct LogCursor {
    seen: std::collections::BTreeMap<(i32, i32), usize>,
}

impl LogCursor {
    /// Passes the lines written since the last call to the observer, oldest first (lines
    /// the runtime itself wrote about the tasks are left to `runform logs`).
    async fn stream(&mut self, ctx: &Ctx, addr: &str, name: &str) -> Result<(), String> {
        let entries = ctx
            .client
            .logs(name, None)
            .await
            .map_err(|e| e.to_string())?;
        let mut count: std::collections::BTreeMap<(i32, i32), usize> = Default::default();
        let mut new = Vec::new();
        for e in entries {
            let n = count.entry((e.task, e.attempt)).or_default();
            *n += 1;
            if *n > self.seen.get(&(e.task, e.attempt)).copied().unwrap_or(0) {
                new.push(e);
            }
        }
        self.seen = count;
        new.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
        for e in new.iter().filter(|e| e.stream != "runform") {
            ctx.observer.task_log(addr, e);
        }
        Ok(())
    }
}

/// A failed execution as an error message: the failed tasks and the tail of their logs.
pub async fn execution_failure(ctx: &Ctx, e: &Execution) -> String {
    let mut msg = format!(
        "execution {} {}: {}",
        e.short_name(),
        if e.cancelled() {
            "was cancelled"
        } else {
            "failed"
        },
        e.completed().map(|c| c.message.as_str()).unwrap_or("")
    );
    let tasks = ctx.client.list_tasks(&e.name).await.unwrap_or_default();
    let failed: Vec<_> = tasks
        .iter()
        .filter(|t| {
            t.conditions
                .iter()
                .any(|c| c.type_ == "Completed" && c.state.as_str() == "CONDITION_FAILED")
        })
        .collect();
    for t in failed.iter().take(5) {
        let why = t
            .last_attempt_result
            .as_ref()
            .and_then(|r| r.status.as_ref())
            .map(|s| s.message.clone())
            .unwrap_or_default();
        msg.push_str(&format!(
            "\n  task {} failed after {} attempt(s): {why}",
            t.index,
            t.retried + 1
        ));
        if let Ok(lines) = ctx.client.logs(&e.name, Some(t.index)).await {
            let tail: Vec<_> = lines.iter().rev().take(10).collect();
            for l in tail.into_iter().rev() {
                msg.push_str(&format!("\n    | [attempt {}] {}", l.attempt, l.line));
            }
        }
    }
    if failed.len() > 5 {
        msg.push_str(&format!(
            "\n  ... and {} more failed tasks (runform logs {})",
            failed.len() - 5,
            e.short_name()
        ));
    }
    msg
}

/// The part of planning shared by objects named by their `id` whose labels merge with the
/// provider's defaults (secrets, repositories): what the id alone decides, or what the
/// live object must be compared with.
pub enum ById {
    /// Removed from the configuration, moved to another id (replace), or not live (create).
    Decided(Change),
    /// Configured and live under the same id: compare `live` with `planned`.
    Compare {
        change: Change,
        planned: Value,
        live: Value,
        id: String,
    },
}

/// See [`ById`]; `what` names the live object in read errors.
pub fn plan_by_id(input: &PlanInput<'_>, ty: &str, what: &str) -> Result<ById, String> {
    let live: Option<Value> = read_live(input.live, what)?;
    let Some(rc) = input.config else {
        return plan_removal(input.addr, ty, input.state, live.is_some()).map(ById::Decided);
    };
    let mut c = change_for(input.addr, ty, rc, input.state);
    let id = rc
        .values
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let same = c.prior_id.as_deref().is_none_or(|p| p == id);
    let planned = labels::planned(
        &rc.values,
        input.state,
        labels::of_live(live.as_ref().filter(|_| same)).as_ref(),
        rc.attribution,
    );
    c.after = Some(planned.clone());
    if let Some(pid) = c.prior_id.clone().filter(|p| *p != id) {
        c.action = Action::Replace;
        c.reason = Some(format!("{pid} → {id}"));
        c.attrs
            .push(AttrChange::new("id", Some(json!(pid)), Some(json!(id))));
        return Ok(ById::Decided(c));
    }
    let Some(live) = live else {
        c.action = Action::Create;
        if input.state.is_some() {
            c.reason = Some("it was deleted outside runform".into());
        }
        return Ok(ById::Decided(c));
    };
    Ok(ById::Compare {
        change: c,
        planned,
        live,
        id,
    })
}

/// Turns `c` into a replace when one of the `immutable` fields differs between `have` and
/// `want` (views of the live and the planned object); returns whether it did.
pub fn replace_if_immutable_changed(
    c: &mut Change,
    id: &str,
    have: &Value,
    want: &Value,
    immutable: &[&str],
) -> bool {
    let Some(k) = immutable.iter().find(|k| want[**k] != have[**k]) else {
        return false;
    };
    c.action = Action::Replace;
    c.reason = Some(format!("{k} cannot change in place"));
    c.prior_id = Some(id.to_string());
    c.attrs.push(AttrChange::new(
        *k,
        Some(have[*k].clone()),
        Some(want[*k].clone()),
    ));
    true
}

/// A live object the state does not hold is adopted only when it is what the configuration
/// describes (an interrupted apply's); anyone else's is an error naming `runform import`.
/// `what` names it and `id_argument` the argument that chose its id.
pub fn refuse_unmanaged(
    input: &PlanInput<'_>,
    c: &Change,
    id: &str,
    what: &str,
    id_argument: &str,
) -> Result<(), String> {
    if input.state.is_none() && !c.attrs.is_empty() {
        return Err(format!("{what} {id} already exists and is not managed by this state; import it (`runform import {} {id}`) or choose another {id_argument}", input.addr));
    }
    Ok(())
}

/// No change, adoption of an unrecorded object, or an update.
pub fn settled_action(changed: bool, in_state: bool) -> Action {
    match (changed, in_state) {
        (false, true) => Action::NoOp,
        (false, false) => Action::Adopt,
        _ => Action::Update,
    }
}

/// Whether `live` holds every field of `sent` as it was sent: the object this create made
/// (a create retried after it had taken effect, or an interrupted apply's), not someone
/// else's object of the same name. Fields sent empty or null are not compared (the server
/// leaves them out); numbers sent as strings (int64) compare by their text; lists compare
/// item by item.
pub fn holds_what_was_sent(sent: &Value, live: &Value) -> bool {
    match (sent, live) {
        (Value::Object(s), Value::Object(l)) => s
            .iter()
            .filter(|(_, x)| !is_empty_json(x))
            .all(|(k, x)| l.get(k).is_some_and(|y| holds_what_was_sent(x, y))),
        (Value::Array(s), Value::Array(l)) => {
            s.len() == l.len() && s.iter().zip(l).all(|(x, y)| holds_what_was_sent(x, y))
        }
        (Value::Number(n), Value::String(t)) | (Value::String(t), Value::Number(n)) => {
            n.to_string() == *t
        }
        (s, l) => s == l,
    }
}

/// A create answered 409 (already exists): the live object, when it is what was sent (see
/// [`holds_what_was_sent`]); otherwise the 409 stands, with a hint.
pub async fn adopt_if_sent<T, F>(
    conflict: crate::cloud::CloudError,
    sent: &Value,
    live: F,
) -> Result<T, String>
where
    T: serde::Serialize,
    F: std::future::Future<Output = crate::cloud::CloudResult<Option<T>>>,
{
    let Some(found) = live.await.map_err(|e| e.to_string())? else {
        return Err(conflict.to_string());
    };
    let found_json = serde_json::to_value(&found).map_err(|e| e.to_string())?;
    if holds_what_was_sent(sent, &found_json) {
        Ok(found)
    } else {
        Err(format!("{conflict}\nhint: an object of this name exists and is not the one this apply sent; import it (an `import` block or `runform import`), or choose another name"))
    }
}

#[cfg(test)]
mod adopt_tests {
    use super::holds_what_was_sent;
    use serde_json::json;

    #[test]
    fn only_the_object_sent_is_adopted() {
        let sent =
            json!({"location": "US", "labels": {"a": "1"}, "versioning": null, "cors": [], "n": 3});
        let live = json!({"location": "US", "labels": {"a": "1", "x": "y"}, "n": "3", "etag": "e"});
        assert!(holds_what_was_sent(&sent, &live));
        let theirs = json!({"location": "EU", "labels": {"a": "1"}, "n": "3"});
        assert!(!holds_what_was_sent(&sent, &theirs));
        assert!(!holds_what_was_sent(
            &json!({"l": [1, 2]}),
            &json!({"l": [1]})
        ));
    }
}
