//! `google_workflows_workflow`: `name`, `region`, `project`, `description`, `service_account`,
//! `source_contents`, `labels`, `user_env_vars`, `call_log_level` → `revision_id`, `state`.
//! The source must be YAML or JSON (checked before any call). A workflow whose source names a
//! Cloud Run job of this configuration depends on that job; if its service account lacks the
//! grant to run it (as far as the configuration shows), the plan warns.

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::api::workflows::{check_workflow_id, service_account_email, Workflow};
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

pub const TYPE: &str = "google_workflows_workflow";

/// The google provider 7.x schema of `google_workflows_workflow` (`X`: not implemented by
/// runform yet). Without `name`, one is generated from `name_prefix` (or `terraform-`) when the
/// workflow is first planned, and kept from the state after.
pub const SCHEMA_TEXT: &str = r#"
id                       string      C
name                     string      O C FN tf
name_prefix              string      O C FN tf
region                   string      O FN tf
project                  string      O C FN tf
description              string      O C tf
service_account          string      O C tf
source_contents          string      O tf
labels                   map(string) O tf
user_env_vars            map(string) O tf
call_log_level           string      O tf
execution_history_level  string      O tf
crypto_key_name          string      O tf
tags                     map(string) O FN tf
deletion_protection      bool        O tf default=true
deletion_policy          string      O C tf
revision_id              string      C V
state                    string      C
create_time              string      C
update_time              string      C V
effective_labels         map(string) C tf
terraform_labels         map(string) C tf
"#;

pub static SCHEMA: std::sync::LazyLock<Schema> =
    std::sync::LazyLock::new(|| Schema::parse(SCHEMA_TEXT));

pub struct WorkflowType;

/// Without `name`: the name applied before when it still fits `name_prefix`, else a new one
/// shaped as the provider's `PrefixedUniqueId`: the prefix (default `terraform-`), a UTC
/// timestamp to 1/10000 s (this run's start, so every evaluation in one run agrees) and 8 hex
/// digits (from the address, so two workflows of one stack differ).
fn generated_name(d: &mut Derive) {
    if d.values.contains_key("name") || d.is_unknown("name") || d.is_unknown("name_prefix") {
        return;
    }
    let prefix = d.str("name_prefix");
    let kept = d
        .prior
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && (prefix.is_empty() || n.starts_with(&prefix)))
        .map(str::to_string);
    let name = kept.unwrap_or_else(|| {
        static RUN_START: std::sync::LazyLock<chrono::DateTime<chrono::Utc>> =
            std::sync::LazyLock::new(chrono::Utc::now);
        let now = *RUN_START;
        let n = crc32fast::hash(d.addr.as_bytes());
        format!(
            "{}{}{:04}{n:08x}",
            if prefix.is_empty() {
                "terraform-"
            } else {
                &prefix
            },
            now.format("%Y%m%d%H%M%S"),
            now.timestamp_subsec_micros() / 100
        )
    });
    d.values.insert("name".into(), Value::String(name));
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

impl TypeInfo for WorkflowType {
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn needs_prior(&self) -> bool {
        true
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        generated_name(d);
        provider.fill_defaults(d, Some("region"));
        provider.fill_labels(d);
        // Provider 7.0 added deletion_protection, default true; older workflows are not.
        d.default(
            "deletion_protection",
            Some(Value::Bool(provider.major >= 7)),
        );
        d.set("id", &["project", "region", "name"], |d| {
            Value::String(format!(
                "projects/{}/locations/{}/workflows/{}",
                d.str("project"),
                d.str("region"),
                d.str("name")
            ))
        });
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let v = &rc.values;
        let prefix = s(v, "name_prefix");
        if !prefix.is_empty() && rc.spans.contains_key("name") {
            diags.push(Diagnostic::error(
                format!(
                    "{}: name and name_prefix conflict: set one of them",
                    rc.addr
                ),
                Some(rc.span("name_prefix")),
            ));
        }
        if prefix.len() > 38 {
            diags.push(Diagnostic::error(
                format!("{}: name_prefix must be at most 38 characters (the generated suffix takes 26 of the 64)", rc.addr),
                Some(rc.span("name_prefix")),
            ));
        }
        if let Err(e) = check_workflow_id(s(v, "name")) {
            diags.push(Diagnostic::error(
                format!("{}: {e}", rc.addr),
                Some(rc.span("name")),
            ));
        }
        let level = s(v, "execution_history_level");
        if ![
            "",
            "EXECUTION_HISTORY_LEVEL_UNSPECIFIED",
            "EXECUTION_HISTORY_BASIC",
            "EXECUTION_HISTORY_DETAILED",
        ]
        .contains(&level)
        {
            diags.push(Diagnostic::error(
                format!("{}: execution_history_level {level:?} is not one of EXECUTION_HISTORY_BASIC, EXECUTION_HISTORY_DETAILED", rc.addr),
                Some(rc.span("execution_history_level")),
            ));
        }
        let src = s(v, "source_contents");
        if !rc.is_unknown("source_contents") {
            if src.trim().is_empty() {
                diags.push(Diagnostic::error(
                    format!("{}: source_contents is required", rc.addr),
                    Some(rc.range.clone()),
                ));
            } else if let Err(e) = yaml_rust2::YamlLoader::load_from_str(src) {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: source_contents is not valid YAML or JSON: {e}",
                        rc.addr
                    ),
                    Some(rc.span("source_contents")),
                ));
            } else if src.len() > 128 * 1024 {
                diags.push(Diagnostic::error(
                    format!("{}: source_contents is larger than 128 KB", rc.addr),
                    Some(rc.span("source_contents")),
                ));
            }
        }
        for k in v
            .get("user_env_vars")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            if k.starts_with("GOOGLE_") || k.starts_with("WORKFLOWS_") {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: user_env_vars may not start with GOOGLE_ or WORKFLOWS_ ({k})",
                        rc.addr
                    ),
                    Some(rc.span("user_env_vars")),
                ));
            }
        }
    }
}

/// The configuration as the API body.
fn expand(v: &Value) -> Workflow {
    let map = |k: &str| {
        v.get(k)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    Workflow {
        description: s(v, "description").into(),
        source_contents: s(v, "source_contents").into(),
        service_account: s(v, "service_account").into(),
        labels: super::labels::to_send(v)
            .as_object()
            .map(super::labels::string_map)
            .unwrap_or_default(),
        user_env_vars: map("user_env_vars"),
        call_log_level: s(v, "call_log_level").into(),
        execution_history_level: s(v, "execution_history_level").into(),
        crypto_key_name: s(v, "crypto_key_name").into(),
        tags: map("tags"),
        ..Default::default()
    }
}

/// What is compared: the account by email (the API may return `projects/P/serviceAccounts/E`
/// for a bare email), and the log level's default.
fn comparable(w: &Workflow) -> Value {
    let level = match w.call_log_level.as_str() {
        "" | "CALL_LOG_LEVEL_UNSPECIFIED" => "",
        other => other,
    };
    serde_json::json!({
        "description": w.description,
        "source_contents": w.source_contents,
        "service_account": service_account_email(&w.service_account),
        "labels": w.labels,
        "user_env_vars": w.user_env_vars,
        "call_log_level": level,
        "execution_history_level": match w.execution_history_level.as_str() {
            "" | "EXECUTION_HISTORY_LEVEL_UNSPECIFIED" => "",
            other => other,
        },
        "crypto_key_name": w.crypto_key_name,
    })
}

const FIELDS: &[(&str, &str)] = &[
    ("description", "description"),
    ("source_contents", "sourceContents"),
    ("service_account", "serviceAccount"),
    ("labels", "labels"),
    ("user_env_vars", "userEnvVars"),
    ("call_log_level", "callLogLevel"),
    ("execution_history_level", "executionHistoryLevel"),
    ("crypto_key_name", "cryptoKeyName"),
];

pub struct Workflows;

impl ResourceType for Workflows {
    fn name(&self) -> &'static str {
        TYPE
    }
    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::Workflows)
    }
    fn family(&self, values: &Value) -> Option<(String, String)> {
        super::family_of_name(s(values, "id"))
    }

    fn canonical_id(&self, id: &str, values: &Value) -> String {
        super::located_id(id, "workflows", values)
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
        let mut change = super::change_for(addr, TYPE, rc, state);
        let id = s(&rc.values, "id").to_string();
        let live: Option<Workflow> = super::read_live(live, "workflow")?;
        let live_labels: Option<serde_json::Map<String, Value>> = live
            .as_ref()
            .filter(|_| change.prior_id.as_deref().is_none_or(|p| p == id))
            .map(|w| super::labels::json_map(&w.labels));
        let planned =
            super::labels::planned(&rc.values, state, live_labels.as_ref(), rc.attribution);
        change.after = Some(planned.clone());
        let v = &planned;
        if let Some(pid) = change.prior_id.clone().filter(|p| *p != id) {
            change.action = Action::Replace;
            change.reason = Some(format!("{pid} → {id}"));
            change.attrs.push(AttrChange::new(
                "id",
                Some(Value::String(pid)),
                Some(Value::String(id)),
            ));
            return Ok(change);
        }
        let Some(live) = live else {
            change.action = Action::Create;
            return Ok(change);
        };
        let (want, have) = (comparable(&expand(v)), comparable(&live));
        change.attrs = super::diff_values(&have, &want);
        let api_changes = !change.attrs.is_empty();
        // Terraform-only: a flip of deletion_protection changes only state.
        change.attrs.extend(super::state_only_change(
            v,
            state,
            "deletion_protection",
            Value::Bool(true),
        ));
        if state.is_none() {
            if !change.attrs.is_empty() {
                return Err(format!(
                    "workflow {id} already exists, differs from this configuration and is not managed by this state; delete it or rename this one"
                ));
            }
            change.adopt = true;
        }
        change.action = match (change.attrs.is_empty(), change.adopt, api_changes) {
            (true, true, _) => Action::Adopt,
            (true, false, _) => Action::NoOp,
            (false, _, false) if state.is_some() => Action::StateOnly,
            _ => Action::Update,
        };
        if change.action == Action::Update {
            let mask: Vec<&str> = FIELDS
                .iter()
                .filter(|(tf, _)| want.get(*tf) != have.get(*tf))
                .map(|(_, wire)| *wire)
                .collect();
            change.extra = serde_json::json!({ "mask": mask });
        }
        if change.action == Action::NoOp {
            change.after = None;
            change.before = None;
        }
        Ok(change)
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let c = &ctx.client;
            let err = |e: crate::cloud::CloudError| e.to_string();
            if super::remove_first(change, |old| async move {
                c.delete_workflow(&old, super::timeout_for(change, "delete"))
                    .await
                    .map_err(err)
            })
            .await?
            {
                return Ok(None);
            }
            let v = change.after.clone().ok_or("no desired values")?;
            let id = s(&v, "id").to_string();
            let body = expand(&v);
            let live = match change.action {
                Action::Create | Action::Replace => {
                    let (parent, wf) = id.rsplit_once("/workflows/").ok_or("bad workflow id")?;
                    match c
                        .create_workflow(parent, wf, &body, super::timeout_for(change, "create"))
                        .await
                    {
                        Ok(w) => w,
                        // A create retried after it took effect (or an interrupted apply's).
                        Err(e) if e.status() == Some(409) => {
                            let sent = serde_json::to_value(&body).map_err(|e| e.to_string())?;
                            let found = async {
                                Ok(c.list_workflows(
                                    id.split('/').nth(1).unwrap_or(""),
                                    id.split('/').nth(3).unwrap_or(""),
                                )
                                .await?
                                .iter()
                                .filter_map(|r| serde_json::from_str::<Workflow>(r.get()).ok())
                                .find(|w| w.name == id))
                            };
                            super::adopt_if_sent(e, &sent, found).await?
                        }
                        Err(e) => return Err(err(e)),
                    }
                }
                Action::Update => {
                    let mask = super::mask_of(change);
                    c.patch_workflow(&id, &body, &mask, super::timeout_for(change, "update"))
                        .await
                        .map_err(err)?
                }
                _ => {
                    // Adopt: record what is there.
                    let raw = c
                        .list_workflows(
                            id.split('/').nth(1).unwrap_or(""),
                            id.split('/').nth(3).unwrap_or(""),
                        )
                        .await
                        .map_err(err)?;
                    raw.iter()
                        .filter_map(|r| serde_json::from_str::<Workflow>(r.get()).ok())
                        .find(|w| w.name == id)
                        .ok_or("workflow not found")?
                }
            };
            let server = serde_json::to_value(&live).unwrap_or(Value::Null);
            Ok(Some(super::applied_entry(TYPE, id, &v, &SCHEMA, &server)))
        })
    }
}

/// Cloud Run jobs of the configuration that a workflow's source names (`jobs/NAME` in a
/// connector name, or NAME as a whole value, e.g. `job_name: NAME`), by id.
pub fn jobs_named_in(
    source: &str,
    jobs: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    jobs.keys()
        .filter(|id| {
            let short = crate::api::run::last_segment(id);
            source.contains(&format!("jobs/{short}\""))
                || source.contains(&format!("jobs/{short}:"))
                || source.lines().any(|l| {
                    l.split_once(':')
                        .map(|(_, v)| v.trim().trim_matches('"') == short)
                        .unwrap_or(false)
                })
        })
        .cloned()
        .collect()
}
