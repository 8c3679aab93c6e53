//! `runform_job_execution`: "execute this job after it is created or its template changes, and
//! wait". Orderable with `depends_on` (run the migration, then update what depends on it).

use super::cloud_run_v2_job as job;
use super::{Ctx, PlanInput, ResourceType, StateEntry};
use crate::api::run::*;
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, Change};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

pub const TYPE: &str = "runform_job_execution";

/// The schema of `runform_job_execution` (runform's own type: an execution of a job, run when
/// its `triggers` change).
pub const SCHEMA_TEXT: &str = r#"
job                       string       R tf
location                  string       O tf
project                   string       O tf
triggers                  map(string)  O tf
wait                      bool         O tf default=true
timeout                   string       O tf
overrides                 list{}       O max=1 tf
overrides.args            list(string) O
overrides.task_count      number       O
overrides.timeout         string       O
overrides.env             list{}       O
overrides.env.name        string       R
overrides.env.value       string       O
execution                 string       C V tf
"#;

pub static SCHEMA: std::sync::LazyLock<Schema> =
    std::sync::LazyLock::new(|| Schema::parse(SCHEMA_TEXT));

pub struct JobExecution;

impl TypeInfo for JobExecution {
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        if let Some(t) = rc.values.get("timeout").and_then(Value::as_str) {
            if parse_duration_secs(t).is_none() {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: timeout {t:?} is not a duration like \"1800s\"",
                        rc.addr
                    ),
                    Some(rc.span("timeout")),
                ));
            }
        }
        if let Some(n) = rc
            .values
            .pointer("/overrides/task_count")
            .and_then(Value::as_f64)
        {
            if !(1.0..=10_000.0).contains(&n) {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: overrides.task_count is {n}; it must be between 1 and 10000",
                        rc.addr
                    ),
                    Some(rc.span("overrides.task_count")),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, e) in rc
            .values
            .pointer("/overrides/env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let n = e.get("name").and_then(Value::as_str).unwrap_or("");
            if is_reserved_env(n) || !seen.insert(n.to_string()) {
                diags.push(Diagnostic::error(
                    format!("{}: override env {n:?} is reserved or repeated", rc.addr),
                    Some(rc.span(&format!("overrides.env[{i}].name"))),
                ));
            }
        }
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        let job = d.str("job");
        if !job.contains('/') && !d.is_unknown("job") {
            let project = d
                .values
                .get("project")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or(provider.project.clone())
                .unwrap_or_default();
            let location = d
                .values
                .get("location")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or(provider.region.clone())
                .unwrap_or_default();
            let inputs = ["job", "project", "location"];
            d.set("job", &inputs, |_| {
                Value::String(job_name(&project, &location, &job))
            });
        }
        d.default("wait", Some(Value::Bool(true)));
    }
}

/// The overrides block as the API's RunJobRequest.
fn run_request(values: &Value) -> RunJobRequest {
    let Some(o) = values.get("overrides") else {
        return RunJobRequest::default();
    };
    let strs = |v: Option<&Value>| {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let env: Vec<EnvVar> = o
        .get("env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| EnvVar {
                    name: e.get("name").and_then(Value::as_str).unwrap_or("").into(),
                    value: Some(e.get("value").and_then(Value::as_str).unwrap_or("").into()),
                    value_source: None,
                })
                .collect()
        })
        .unwrap_or_default();
    let args: Vec<String> = strs(o.get("args"));
    let container_overrides = if args.is_empty() && env.is_empty() {
        vec![]
    } else {
        vec![ContainerOverride {
            args,
            env,
            ..Default::default()
        }]
    };
    RunJobRequest {
        overrides: Some(Overrides {
            container_overrides,
            task_count: o
                .get("task_count")
                .and_then(Value::as_f64)
                .map(|n| n as i32),
            timeout: o.get("timeout").and_then(Value::as_str).map(str::to_string),
        }),
        ..Default::default()
    }
}

/// The arguments that differ between the last run's and this one's, by dotted path
/// (`triggers.release`), as old → new.
fn changed_arguments(before: &Value, after: &Value) -> Vec<crate::model::change::AttrChange> {
    fn leaves(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    leaves(x, &p, out);
                }
            }
            Value::Null => {}
            _ => {
                out.insert(path.to_string(), v.clone());
            }
        }
    }
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    leaves(before, "", &mut old);
    leaves(after, "", &mut new);
    let paths: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths
        .into_iter()
        .filter(|p| old.get(*p) != new.get(*p))
        .map(|p| {
            crate::model::change::AttrChange::new(
                p.clone(),
                old.get(p).cloned(),
                new.get(p).cloned(),
            )
        })
        .collect()
}

fn digest(v: &Value) -> String {
    hex::encode(&Sha256::digest(serde_json::to_vec(v).unwrap_or_default())[..12])
}

impl ResourceType for JobExecution {
    fn name(&self) -> &'static str {
        TYPE
    }

    fn family(&self, _values: &Value) -> Option<(String, String)> {
        None
    }

    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let PlanInput {
            addr,
            config,
            state,
            stack_jobs,
            ..
        } = input;
        let mut change = Change::new(addr, TYPE);
        let Some(rc) = config else {
            change.action = Action::Forget;
            change.reason = Some(
                "it is no longer in the configuration (executions already run are kept)".into(),
            );
            change.prior_id = state.map(|s| s.id.clone());
            return Ok(change);
        };
        let job_id = rc
            .values
            .get("job")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        // The trigger: the job's desired spec (when the job is in this configuration), the
        // explicit triggers, and the overrides.
        let job_spec = stack_jobs
            .get(&job_id)
            .and_then(|v| job::expand(v).ok())
            .map(|j| {
                let mut c = job::canonical(&j);
                c.labels.clear();
                c.annotations.clear();
                serde_json::to_value(&c.template).unwrap_or_default()
            });
        let fp_job = job_spec.as_ref().map(digest).unwrap_or_default();
        let fp_triggers = digest(rc.values.get("triggers").unwrap_or(&Value::Null));
        let fp_overrides = digest(rc.values.get("overrides").unwrap_or(&Value::Null));
        let prior = state.map(|s| &s.extra);
        let old = |k: &str| {
            prior
                .and_then(|p| p.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let reason = if state.is_none() {
            Some("first run of this execution resource".to_string())
        } else if old("job") != job_id {
            Some(format!("the job changed ({} → {job_id})", old("job")))
        } else if old("fp_job") != fp_job {
            Some("the job's template changed".to_string())
        } else if old("fp_triggers") != fp_triggers {
            Some("its triggers changed".to_string())
        } else if old("fp_overrides") != fp_overrides {
            Some("its overrides changed".to_string())
        } else {
            None
        };
        change.new_id = Some(job_id.clone());
        change.after = Some(rc.values.clone());
        change.extra = serde_json::json!({"job": job_id, "fp_job": fp_job, "fp_triggers": fp_triggers, "fp_overrides": fp_overrides});
        match reason {
            Some(r) => {
                change.action = Action::Execute;
                change.reason = Some(r);
                // A run again: show what changed since the last run, old → new.
                if let Some(s) = state {
                    let mut before = s.values.to_value();
                    if let Value::Object(m) = &mut before {
                        m.remove("execution");
                    }
                    change.attrs = changed_arguments(&before, &rc.values);
                    change.before = Some(before);
                }
                change.body =
                    Some(serde_json::to_value(run_request(&rc.values)).map_err(|e| e.to_string())?);
            }
            None => change.action = Action::NoOp,
        }
        Ok(change)
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            if change.action == Action::Forget {
                return Ok(None);
            }
            let values = change.after.clone().ok_or("no values")?;
            let job_id = change.new_id.clone().unwrap_or_default();
            let mut entry = StateEntry {
                ty: TYPE.into(),
                id: job_id.clone(),
                values: (&values).into(),
                deps: vec![],
                extra: change.extra.clone(),
                sensitive: Vec::new(),
            };
            if change.action != Action::Execute {
                return Ok(Some(entry));
            }
            let req: RunJobRequest =
                serde_json::from_value(change.body.clone().unwrap_or_default())
                    .map_err(|e| e.to_string())?;
            let op = ctx
                .client
                .run_job(&job_id, &req)
                .await
                .map_err(|e| e.to_string())?;
            let exec_name = op
                .metadata
                .as_ref()
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .ok_or("the run operation did not name its execution")?
                .to_string();
            let mut recorded = values.clone();
            if let Value::Object(m) = &mut recorded {
                m.insert("execution".into(), Value::String(exec_name.clone()));
            }
            entry.values = (&recorded).into();
            let wait = values.get("wait").and_then(Value::as_bool).unwrap_or(true);
            if !wait {
                ctx.observer.note(&format!(
                    "{}: started {} (not waiting)",
                    change.addr,
                    last_segment(&exec_name)
                ));
                return Ok(Some(entry));
            }
            let timeout = values
                .get("timeout")
                .and_then(Value::as_str)
                .and_then(parse_duration_secs)
                .unwrap_or(3600.0);
            let exec = super::wait_execution(
                ctx,
                &change.addr,
                &exec_name,
                crate::api::common::clamp_secs(timeout),
            )
            .await?;
            if !exec.succeeded() {
                return Err(super::execution_failure(ctx, &exec).await);
            }
            Ok(Some(entry))
        })
    }
}
