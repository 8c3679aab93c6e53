//! `google_eventarc_trigger`: `name`, `location`, `project`, `matching_criteria` (a set of
//! `{attribute, value, operator}`; changing it replaces the trigger, as in the provider),
//! `service_account`, `destination { workflow | http_endpoint { uri } | cloud_run_service {...}
//! | gke {...} }`, `transport { pubsub { topic } }`, `labels`, `event_data_content_type`
//! (default `application/json`), `channel` → `uid`, `etag`. The set's order never shows as a
//! change. The local runtime delivers to `workflow` and `http_endpoint` destinations and
//! refuses the others when the trigger is created, saying so.

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

pub const TYPE: &str = "google_eventarc_trigger";

/// The google provider 7.x schema of `google_eventarc_trigger` (`X`: not implemented by runform
/// yet).
pub const SCHEMA_TEXT: &str = r#"
id                                    string      C
name                                  string      R FN tf
location                              string      R FN tf
project                               string      O C FN tf
deletion_policy                       string      O C tf
service_account                       string      O
labels                                map(string) O
event_data_content_type               string      O C
channel                               string      O FN
matching_criteria                     set{}       R min=1
matching_criteria.attribute           string      R FN
matching_criteria.value               string      R FN
matching_criteria.operator            string      O
destination                           list{}      R min=1 max=1
destination.workflow                  string      O
destination.cloud_function            string      C
destination.http_endpoint             list{}      O max=1
destination.http_endpoint.uri         string      R
destination.cloud_run_service         list{}      O max=1
destination.cloud_run_service.service string      R
destination.cloud_run_service.path    string      O
destination.cloud_run_service.region  string      O C
destination.gke                       list{}      O max=1
destination.gke.cluster               string      R
destination.gke.location              string      R
destination.gke.namespace             string      R
destination.gke.service               string      R
destination.gke.path                  string      O
destination.network_config            list{}      O max=1
destination.network_config.network_attachment string R
transport                             list{}      O C FN max=1
transport.pubsub                      list{}      O FN max=1
transport.pubsub.topic                string      O FN
transport.pubsub.subscription         string      C
retry_policy                          list{}      O max=1
retry_policy.max_attempts             number      O
conditions                            map(string) C V
uid                                   string      C
etag                                  string      C V
create_time                           string      C
update_time                           string      C V
effective_labels                      map(string) C tf
terraform_labels                      map(string) C tf
"#;

pub static SCHEMA: std::sync::LazyLock<Schema> =
    std::sync::LazyLock::new(|| Schema::parse(SCHEMA_TEXT));

pub struct TriggerType;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

impl TypeInfo for TriggerType {
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        provider.fill_defaults(d, Some("location"));
        provider.fill_labels(d);
        d.set("id", &["project", "location", "name"], |d| {
            Value::String(format!(
                "projects/{}/locations/{}/triggers/{}",
                d.str("project"),
                d.str("location"),
                d.str("name")
            ))
        });
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let v = &rc.values;
        let name = s(v, "name");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            diags.push(Diagnostic::error(
                format!(
                    "{}: name {name:?} must be lowercase letters, digits and hyphens",
                    rc.addr
                ),
                Some(rc.span("name")),
            ));
        }
        if let Some(r) = v.get("retry_policy").filter(|r| !r.is_null()) {
            if v.pointer("/destination/cloud_run_service")
                .is_none_or(Value::is_null)
            {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: retry_policy can only be set with a cloud_run_service destination",
                        rc.addr
                    ),
                    Some(rc.span("retry_policy")),
                ));
            }
            if r.get("max_attempts")
                .and_then(Value::as_i64)
                .is_some_and(|n| n != 1)
            {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: retry_policy.max_attempts: the only valid value is 1",
                        rc.addr
                    ),
                    Some(rc.span("retry_policy.max_attempts")),
                ));
            }
        }
        let criteria = v
            .get("matching_criteria")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !criteria.iter().any(|c| c["attribute"] == "type") {
            diags.push(
                Diagnostic::error(
                    format!("{}: matching_criteria needs one with attribute = \"type\"", rc.addr),
                    Some(rc.span("matching_criteria")),
                )
                .with_hint("e.g. matching_criteria { attribute = \"type\" value = \"google.cloud.storage.object.v1.finalized\" }"),
            );
        }
        for (i, c) in criteria.iter().enumerate() {
            let op = s(c, "operator");
            if !op.is_empty() && op != "match-path-pattern" {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: operator {op:?} is not supported (only \"match-path-pattern\")",
                        rc.addr
                    ),
                    Some(rc.span(&format!("matching_criteria[{i}].operator"))),
                ));
            }
        }
        let d = v.get("destination").cloned().unwrap_or_default();
        let set: Vec<&str> = [
            "workflow",
            "http_endpoint",
            "cloud_run_service",
            "gke",
            "cloud_function",
        ]
        .into_iter()
        .filter(|k| d.get(*k).is_some_and(|x| !x.is_null()))
        .collect();
        if set.len() != 1 {
            diags.push(Diagnostic::error(
                format!("{}: destination needs exactly one of workflow, http_endpoint, cloud_run_service, gke (found {})", rc.addr, set.len()),
                Some(rc.span("destination")),
            ));
        }
        if set == ["cloud_function"] {
            diags.push(Diagnostic::error(
                format!("{}: cloud_function destinations are created by Cloud Functions, not by a trigger", rc.addr),
                Some(rc.span("destination")),
            ));
        }
        if d.get("network_config").is_some() && set != ["http_endpoint"] {
            diags.push(Diagnostic::error(
                format!(
                    "{}: network_config goes with an http_endpoint destination only",
                    rc.addr
                ),
                Some(rc.span("destination.network_config")),
            ));
        }
    }
}

/// The API body: criteria become `eventFilters`, sorted so that the set's order is no change.
fn expand(v: &Value) -> Value {
    let mut w = SCHEMA.to_wire(v);
    if let Value::Object(m) = &mut w {
        let mut filters: Vec<Value> = m
            .remove("matchingCriteria")
            .and_then(|c| c.as_array().cloned())
            .unwrap_or_default();
        filters.sort_by_key(|f| f.to_string());
        m.insert("eventFilters".into(), Value::Array(filters));
        m.entry("eventDataContentType")
            .or_insert_with(|| json!("application/json"));
        m.insert("name".into(), json!(s(v, "id")));
        m.insert("labels".into(), super::labels::to_send(v));
        if let Some(d) = m.get_mut("destination").and_then(Value::as_object_mut) {
            if let Some(c) = d.remove("cloudRunService") {
                d.insert("cloudRun".into(), c);
            }
        }
    }
    w
}

/// What the plan compares (output fields and empty values dropped, filters sorted).
fn comparable(t: &Value) -> Value {
    let mut filters: Vec<Value> = t["eventFilters"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut f| {
            if f["operator"].as_str() == Some("") {
                if let Value::Object(m) = &mut f {
                    m.remove("operator");
                }
            }
            f
        })
        .collect();
    filters.sort_by_key(|f| f.to_string());
    let empty_map = |x: &Value| if x.is_null() { json!({}) } else { x.clone() };
    json!({
        "event_filters": filters,
        "service_account": t["serviceAccount"].as_str().unwrap_or(""),
        "destination": t["destination"],
        "labels": empty_map(&t["labels"]),
        "event_data_content_type": t["eventDataContentType"].as_str().unwrap_or("application/json"),
        "channel": t["channel"].as_str().unwrap_or(""),
        "transport_topic": t.pointer("/transport/pubsub/topic").and_then(Value::as_str).unwrap_or(""),
        "retry_policy": t.get("retryPolicy").filter(|r| !r.is_null() && *r != &json!({})).cloned().unwrap_or(Value::Null),
    })
}

pub struct Triggers;

impl ResourceType for Triggers {
    fn name(&self) -> &'static str {
        TYPE
    }
    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::Triggers)
    }
    fn family(&self, values: &Value) -> Option<(String, String)> {
        super::family_of_name(s(values, "id"))
    }

    fn canonical_id(&self, id: &str, values: &Value) -> String {
        super::located_id(id, "triggers", values)
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
        let live: Option<Value> = super::read_live(live, "trigger")?;
        let same = change.prior_id.as_deref().is_none_or(|p| p == id);
        let planned = super::labels::planned(
            &rc.values,
            state,
            super::labels::of_live(live.as_ref().filter(|_| same)).as_ref(),
            rc.attribution,
        );
        change.after = Some(planned.clone());
        let v = &planned;
        let want = comparable(&expand(v));
        let replace_for = |have: &Value| have["event_filters"] != want["event_filters"];
        if let Some(pid) = change.prior_id.clone().filter(|p| *p != id) {
            change.action = Action::Replace;
            change.reason = Some(format!("{pid} → {id}"));
            change
                .attrs
                .push(AttrChange::new("id", Some(json!(pid)), Some(json!(id))));
            return Ok(change);
        }
        let Some(live) = live else {
            change.action = Action::Create;
            return Ok(change);
        };
        let have = comparable(&live);
        change.attrs = super::diff_values(&have, &want);
        if state.is_none() {
            if !change.attrs.is_empty() {
                return Err(format!(
                    "trigger {id} already exists, differs from this configuration and is not managed by this state; delete it or rename this one"
                ));
            }
            change.adopt = true;
        }
        change.action = match (change.attrs.is_empty(), change.adopt) {
            (true, true) => Action::Adopt,
            (true, false) => Action::NoOp,
            _ if replace_for(&have) => {
                change.reason = Some("matching_criteria cannot be changed in place".into());
                change.prior_id = Some(id.clone());
                Action::Replace
            }
            _ => Action::Update,
        };
        if change.action == Action::Update {
            let mask: Vec<&str> = [
                ("service_account", "serviceAccount"),
                ("destination", "destination"),
                ("labels", "labels"),
                ("event_data_content_type", "eventDataContentType"),
                ("channel", "channel"),
                ("transport_topic", "transport"),
                ("retry_policy", "retryPolicy"),
            ]
            .into_iter()
            .filter(|(k, _)| have.get(*k) != want.get(*k))
            .map(|(_, w)| w)
            .collect();
            change.extra = json!({ "mask": mask });
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
                c.delete_trigger(&old, super::timeout_for(change, "delete"))
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
                    let (parent, tid) = id.rsplit_once("/triggers/").ok_or("bad trigger id")?;
                    match c
                        .create_trigger(parent, tid, &body, super::timeout_for(change, "create"))
                        .await
                    {
                        Ok(t) => t,
                        // A create retried after it took effect (or an interrupted apply's).
                        Err(e) if e.status() == Some(409) => {
                            super::adopt_if_sent(e, &body, c.get_trigger(&id)).await?
                        }
                        Err(e) => return Err(err(e)),
                    }
                }
                Action::Update => {
                    let mask = super::mask_of(change);
                    c.patch_trigger(&id, &body, &mask, super::timeout_for(change, "update"))
                        .await
                        .map_err(err)?
                }
                _ => c
                    .get_trigger(&id)
                    .await
                    .map_err(err)?
                    .ok_or("trigger not found")?,
            };
            Ok(Some(super::applied_entry(TYPE, id, &v, &SCHEMA, &live)))
        })
    }
}
