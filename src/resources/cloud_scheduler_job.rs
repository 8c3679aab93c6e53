//! `google_cloud_scheduler_job`: the Terraform google provider's arguments and defaults
//! (`time_zone = "Etc/UTC"`, `attempt_deadline = "180s"`, `paused` through `:pause`/`:resume`),
//! validation before any call, and normalisation of what the API fills in or injects (the
//! `User-Agent`/`Authorization` headers, the default OAuth scope, an OIDC audience equal to the
//! URI, `0s` deadlines, `UTC`, a trailing slash on the URI, retry defaults) so that apply
//! followed by plan shows no changes.

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::api::run::parse_duration_secs;
use crate::api::scheduler::{
    is_google_api, run_job_target, validate_scheduler_job, SchedulerJob, DEFAULT_SCOPE,
};
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

pub const TYPE: &str = "google_cloud_scheduler_job";

/// The google provider 7.x schema of `google_cloud_scheduler_job` (`X`: not implemented by
/// runform yet).
pub const SCHEMA_TEXT: &str = r#"
id                                     string      C
name                                   string      R FN tf
region                                 string      O C FN tf
project                                string      O C FN tf
paused                                 bool        O C tf
deletion_policy                        string      O C tf
description                            string      O
schedule                               string      O
time_zone                              string      O default="Etc/UTC"
attempt_deadline                       string      O default="180s"
state                                  string      C V
retry_config                           list{}      O max=1
retry_config.retry_count               number      O C
retry_config.max_retry_duration        string      O C
retry_config.min_backoff_duration      string      O C
retry_config.max_backoff_duration      string      O C
retry_config.max_doublings             number      O C
http_target                            list{}      O max=1
http_target.uri                        string      R
http_target.http_method                string      O
http_target.body                       string      O
http_target.headers                    map(string) O
http_target.oauth_token                list{}      O max=1
http_target.oauth_token.service_account_email string R
http_target.oauth_token.scope          string      O
http_target.oidc_token                 list{}      O max=1
http_target.oidc_token.service_account_email  string R
http_target.oidc_token.audience        string      O
pubsub_target                          list{}      O max=1
pubsub_target.topic_name               string      R
pubsub_target.data                     string      O
pubsub_target.attributes               map(string) O
app_engine_http_target                 list{}      O max=1
app_engine_http_target.relative_uri    string      R
app_engine_http_target.http_method     string      O
app_engine_http_target.body            string      O
app_engine_http_target.headers         map(string) O
app_engine_http_target.app_engine_routing          list{} O max=1
app_engine_http_target.app_engine_routing.service  string O
app_engine_http_target.app_engine_routing.version  string O
app_engine_http_target.app_engine_routing.instance string O
"#;

pub static SCHEMA: std::sync::LazyLock<Schema> =
    std::sync::LazyLock::new(|| Schema::parse(SCHEMA_TEXT));

pub struct SchedulerJobType;

impl TypeInfo for SchedulerJobType {
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        provider.fill_defaults(d, Some("region"));
        d.set("id", &["project", "region", "name"], |d| {
            Value::String(format!(
                "projects/{}/locations/{}/jobs/{}",
                d.str("project"),
                d.str("region"),
                d.str("name")
            ))
        });
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        validate(rc, diags)
    }
}

fn id_of(values: &Value) -> String {
    values
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Terraform values → the API body (defaults of the provider applied).
pub fn expand(values: &Value) -> Result<SchedulerJob, String> {
    let mut wire = SCHEMA.to_wire(values);
    if let Value::Object(m) = &mut wire {
        m.entry("timeZone")
            .or_insert_with(|| Value::String("Etc/UTC".into()));
        m.entry("attemptDeadline")
            .or_insert_with(|| Value::String("180s".into()));
        m.insert("name".into(), Value::String(id_of(values)));
    }
    serde_json::from_value(wire).map_err(|e| e.to_string())
}

/// Makes equivalent jobs equal: output fields cleared, API defaults filled, injected headers
/// dropped (TPG #12998, #7286, #24894).
pub fn canonical(j: &SchedulerJob) -> SchedulerJob {
    let mut j = j.clone();
    j.state = Default::default();
    j.status = None;
    j.user_update_time.clear();
    j.schedule_time.clear();
    j.last_attempt_time.clear();
    j.satisfies_pzs = false;
    j.name.clear();
    if j.time_zone.is_empty() || j.time_zone == "UTC" {
        j.time_zone = "Etc/UTC".into();
    }
    j.attempt_deadline = match parse_duration_secs(&j.attempt_deadline) {
        None | Some(0.0) => "180s".into(),
        Some(s) => format!("{s}s"),
    };
    if let Some(t) = &mut j.http_target {
        if t.http_method.is_default() {
            t.http_method = crate::api::Enum::new("POST");
        }
        t.headers.retain(|k, _| {
            !k.eq_ignore_ascii_case("user-agent") && !k.eq_ignore_ascii_case("authorization")
        });
        if let Some(o) = &mut t.oauth_token {
            if o.scope.is_empty() {
                o.scope = DEFAULT_SCOPE.into();
            }
        }
        if let Some(o) = &mut t.oidc_token {
            if o.audience.is_empty()
                || o.audience.trim_end_matches('/') == t.uri.trim_end_matches('/')
            {
                o.audience = String::new();
            }
        }
        if t.uri.ends_with('/') {
            t.uri.pop();
        }
    }
    let r = j.retry_config.get_or_insert_with(Default::default);
    let dur = |v: &mut String, default: &str| {
        *v = match parse_duration_secs(v) {
            None => default.to_string(),
            Some(s) => format!("{s}s"),
        };
    };
    dur(&mut r.max_retry_duration, "0s");
    dur(&mut r.min_backoff_duration, "5s");
    dur(&mut r.max_backoff_duration, "3600s");
    if r.max_doublings == 0 {
        r.max_doublings = 5;
    }
    j
}

/// Flattened `path → value` differences between two canonical jobs, in Terraform names.
fn diff(old: &SchedulerJob, new: &SchedulerJob) -> Vec<AttrChange> {
    super::diff_values(
        &serde_json::to_value(old).unwrap_or_default(),
        &serde_json::to_value(new).unwrap_or_default(),
    )
}

/// The wire fields (update mask paths) that differ.
fn changed_fields(old: &SchedulerJob, new: &SchedulerJob) -> Vec<&'static str> {
    let (a, b) = (
        serde_json::to_value(old).unwrap_or_default(),
        serde_json::to_value(new).unwrap_or_default(),
    );
    [
        "description",
        "schedule",
        "timeZone",
        "httpTarget",
        "pubsubTarget",
        "appEngineHttpTarget",
        "retryConfig",
        "attemptDeadline",
    ]
    .into_iter()
    .filter(|f| a.get(*f) != b.get(*f))
    .collect()
}

pub fn validate(rc: &ResourceConfig, diags: &mut Diagnostics) {
    let job = match expand(&rc.values) {
        Ok(j) => j,
        Err(e) => {
            diags.push(Diagnostic::error(
                format!("{}: {e}", rc.addr),
                Some(rc.range.clone()),
            ));
            return;
        }
    };
    let name = rc.values.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty()
        || name.len() > 500
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        diags.push(Diagnostic::error(
            format!(
                "{}: name {name:?} may only hold letters, digits, - and _ (at most 500)",
                rc.addr
            ),
            Some(rc.span("name")),
        ));
    }
    if rc.missing("region") {
        diags.push(
            Diagnostic::error(format!("{}: no region", rc.addr), Some(rc.range.clone()))
                .with_hint("set `region` here or in the provider block"),
        );
    }
    for p in validate_scheduler_job(&job) {
        let path: Vec<String> = p.field.split('.').map(crate::api::common::snake).collect();
        diags.push(Diagnostic::error(
            format!("{}: {}", rc.addr, p.message),
            Some(rc.span(&path.join("."))),
        ));
    }
    if let Some(t) = &job.http_target {
        if t.oidc_token.is_some() && is_google_api(&t.uri) {
            diags.push(
                Diagnostic::warning(
                    format!(
                        "{}: {} is a Google API, which accepts OAuth access tokens, not OIDC identity tokens",
                        rc.addr, t.uri
                    ),
                    Some(rc.span("http_target.oidc_token")),
                )
                .with_hint("use `oauth_token { service_account_email = ... }` instead of `oidc_token`"),
            );
        }
        if t.oauth_token.is_none() && t.oidc_token.is_none() && run_job_target(&t.uri).is_some() {
            diags.push(
                Diagnostic::warning(
                    format!("{}: calling a Cloud Run job's :run URL needs credentials", rc.addr),
                    Some(rc.span("http_target")),
                )
                .with_hint("add `oauth_token { service_account_email = ... }` with an account that may run the job"),
            );
        }
    }
}

pub struct Scheduler;

/// The state entry: configuration values plus what the server reports.
fn entry_from(values: &Value, live: &SchedulerJob) -> StateEntry {
    let server = serde_json::to_value(live).unwrap_or(Value::Null);
    // The API has no `paused`: the provider reads it from `state`.
    let mut values = values.clone();
    if let Value::Object(m) = &mut values {
        m.entry("paused")
            .or_insert(Value::Bool(live.state.as_str() == "PAUSED"));
    }
    super::applied_entry(TYPE, id_of(&values), &values, &SCHEMA, &server)
}

fn wants_paused(values: &Value) -> bool {
    values
        .get("paused")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

impl ResourceType for Scheduler {
    fn name(&self) -> &'static str {
        TYPE
    }

    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::SchedulerJobs)
    }

    fn family(&self, values: &Value) -> Option<(String, String)> {
        super::family_of_name(&id_of(values))
    }

    fn canonical_id(&self, id: &str, values: &Value) -> String {
        super::located_id(id, "jobs", values)
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let PlanInput {
            addr,
            config,
            state,
            live,
            ..
        } = input;
        let Some(rc) = config else {
            return super::plan_removal(addr, TYPE, state, live.is_some());
        };
        let mut change = Change::new(addr, TYPE);
        let new_id = id_of(&rc.values);
        change.new_id = Some(new_id.clone());
        let desired = expand(&rc.values)?;
        let prior_id = state.map(|s| s.id.clone());
        change.prior_id = prior_id.clone();
        let live_job: Option<SchedulerJob> = super::read_live(live, "scheduler job")?;
        let body = || serde_json::to_value(&desired).map_err(|e| e.to_string());
        if let Some(pid) = prior_id.as_ref().filter(|p| **p != new_id) {
            change.action = Action::Replace;
            change.reason = Some(format!("its name changed ({pid} → {new_id})"));
            change.before = state.map(|s| s.values.to_value());
            change.after = Some(rc.values.clone());
            change.attrs.push(AttrChange::new(
                "id",
                Some(Value::String(pid.clone())),
                Some(Value::String(new_id.clone())),
            ));
            change.body = Some(body()?);
            return Ok(change);
        }
        let Some(live_job) = live_job else {
            change.action = Action::Create;
            if state.is_some() {
                change.reason = Some("it was deleted outside runform".into());
            }
            change.after = Some(rc.values.clone());
            change.body = Some(body()?);
            return Ok(change);
        };
        let (cd, cl) = (canonical(&desired), canonical(&live_job));
        if cd != cl {
            change.attrs = diff(&cl, &cd);
        }
        let live_paused = live_job.state.as_str() == "PAUSED";
        if wants_paused(&rc.values) != live_paused {
            change.attrs.push(AttrChange::new(
                "paused",
                Some(Value::Bool(live_paused)),
                Some(Value::Bool(wants_paused(&rc.values))),
            ));
        }
        if state.is_none() {
            // Scheduler jobs carry no labels to mark ownership: one that already exists is
            // adopted only when it is exactly what this configuration describes (an interrupted
            // apply created it); anything else is someone else's.
            if !change.attrs.is_empty() {
                return Err(format!(
                    "scheduler job {new_id} already exists, differs from this configuration and is not managed by this state; delete it or rename this one"
                ));
            }
            change.adopt = true;
        }
        change.action = match (change.attrs.is_empty(), change.adopt) {
            (true, true) => Action::Adopt,
            (true, false) => Action::NoOp,
            _ => Action::Update,
        };
        if change.action != Action::NoOp {
            change.after = Some(rc.values.clone());
            change.before = state.map(|s| s.values.to_value());
            change.body = Some(body()?);
            change.extra = serde_json::json!({ "mask": changed_fields(&cl, &cd) });
        }
        Ok(change)
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let client = &ctx.client;
            let err = |e: crate::cloud::CloudError| format!("{e}");
            match change.action {
                Action::Delete | Action::Forget => {
                    if change.action == Action::Delete {
                        let id = change.prior_id.clone().unwrap_or_default();
                        client.delete_scheduler_job(&id).await.map_err(err)?;
                    }
                    Ok(None)
                }
                Action::Execute => Err("execute is not an action for scheduler jobs".into()),
                _ => {
                    if change.action == Action::Replace {
                        if let Some(old) = &change.prior_id {
                            client.delete_scheduler_job(old).await.map_err(err)?;
                        }
                    }
                    let values = change.after.clone().ok_or("no desired values")?;
                    let id = id_of(&values);
                    let body: SchedulerJob =
                        serde_json::from_value(change.body.clone().unwrap_or_default())
                            .map_err(|e| e.to_string())?;
                    let mut job = match change.action {
                        Action::Create | Action::Replace => {
                            let parent = id.rsplit_once("/jobs/").ok_or("bad job id")?.0;
                            match client.create_scheduler_job(parent, &body).await {
                                Ok(j) => j,
                                // Created by an interrupted apply: adopt it if it is ours in
                                // every field, else report the conflict.
                                Err(e) if e.status() == Some(409) => {
                                    let live = client
                                        .get_scheduler_job(&id)
                                        .await
                                        .map_err(err)?
                                        .ok_or("scheduler job vanished")?;
                                    if canonical(&live) != canonical(&body) {
                                        return Err(format!("{e}"));
                                    }
                                    live
                                }
                                Err(e) => return Err(err(e)),
                            }
                        }
                        Action::Update => {
                            let mask = super::mask_of(change);
                            if mask.is_empty() {
                                client
                                    .get_scheduler_job(&id)
                                    .await
                                    .map_err(err)?
                                    .ok_or("scheduler job not found")?
                            } else {
                                client
                                    .patch_scheduler_job(&id, &body, &mask)
                                    .await
                                    .map_err(err)?
                            }
                        }
                        _ => client
                            .get_scheduler_job(&id)
                            .await
                            .map_err(err)?
                            .ok_or("scheduler job not found")?,
                    };
                    // `paused` is not an API field: the provider applies it with :pause/:resume.
                    let paused = job.state.as_str() == "PAUSED";
                    if wants_paused(&values) && !paused {
                        job = client.scheduler_verb(&id, "pause").await.map_err(err)?;
                    } else if !wants_paused(&values) && paused {
                        job = client.scheduler_verb(&id, "resume").await.map_err(err)?;
                    }
                    Ok(Some(entry_from(&values, &job)))
                }
            }
        })
    }
}

/// Jobs in this configuration that a scheduler target's URI names (`.../jobs/J:run`), by the
/// scheduler's address: these become dependencies, so the job exists before its trigger.
pub fn targets_in(stack_ids: &BTreeMap<String, String>, values: &Value) -> Option<String> {
    let uri = values.pointer("/http_target/uri").and_then(Value::as_str)?;
    let job = run_job_target(uri)?;
    let id = resolve_job(stack_ids.keys().map(String::as_str), &job)?;
    stack_ids.get(&id).cloned()
}

/// The configuration's job a target names: by its full name, or, when the target names the
/// project by number (as Google's scheduler sample does), the one job with that location and
/// name.
pub fn resolve_job<'a>(ids: impl Iterator<Item = &'a str>, job: &str) -> Option<String> {
    let ids: Vec<&str> = ids.collect();
    if ids.contains(&job) {
        return Some(job.to_string());
    }
    let segs: Vec<&str> = job.split('/').collect();
    if segs.len() != 6 || !segs[1].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let tail = format!("/locations/{}/jobs/{}", segs[3], segs[5]);
    let mut hits = ids.into_iter().filter(|i| i.ends_with(&tail));
    match (hits.next(), hits.next()) {
        (Some(one), None) => Some(one.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_naming_the_project_by_number_resolves_to_the_configured_job() {
        let ids = [
            "projects/p/locations/us-central1/jobs/a",
            "projects/p/locations/europe-west1/jobs/b",
        ];
        let r = |j: &str| resolve_job(ids.iter().copied(), j);
        assert_eq!(
            r("projects/p/locations/us-central1/jobs/a").as_deref(),
            Some(ids[0])
        );
        assert_eq!(
            r("projects/123456789012/locations/us-central1/jobs/a").as_deref(),
            Some(ids[0])
        );
        assert_eq!(
            r("projects/123456789012/locations/us-central1/jobs/b"),
            None
        );
        assert_eq!(r("projects/other/locations/us-central1/jobs/a"), None);
    }

    fn job(v: Value) -> SchedulerJob {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn what_the_api_fills_in_is_not_a_change() {
        let desired = job(serde_json::json!({
            "schedule": "0 2 * * *", "timeZone": "UTC",
            "httpTarget": {"uri": "https://example.com/hook/", "oidcToken": {"serviceAccountEmail": "a@p.iam.gserviceaccount.com"}}
        }));
        let live = job(serde_json::json!({
            "name": "projects/p/locations/l/jobs/j", "schedule": "0 2 * * *", "timeZone": "Etc/UTC",
            "attemptDeadline": "0s", "state": "ENABLED", "scheduleTime": "2026-01-01T00:00:00Z",
            "httpTarget": {"uri": "https://example.com/hook", "httpMethod": "POST",
                "headers": {"User-Agent": "Google-Cloud-Scheduler", "Authorization": "Bearer x"},
                "oidcToken": {"serviceAccountEmail": "a@p.iam.gserviceaccount.com", "audience": "https://example.com/hook"}},
            "retryConfig": {"maxRetryDuration": "0s", "minBackoffDuration": "5s", "maxBackoffDuration": "3600s", "maxDoublings": 5}
        }));
        assert_eq!(canonical(&desired), canonical(&live));
        let other = job(
            serde_json::json!({"schedule": "0 3 * * *", "httpTarget": {"uri": "https://example.com/hook"}}),
        );
        let changes = diff(&canonical(&live), &canonical(&other));
        assert!(changes.iter().any(|c| c.path == "schedule"), "{changes:?}");
        assert_eq!(
            changed_fields(&canonical(&live), &canonical(&other)),
            ["schedule", "httpTarget"]
        );
    }
}
