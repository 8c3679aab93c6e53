//! `google_storage_bucket`: `name`, `location`, `project`, `storage_class` (default
//! `STANDARD`), `force_destroy` (delete objects first on destroy), `uniform_bucket_level_access`,
//! `labels`, `versioning { enabled }`, `lifecycle_rule { action { type, storage_class },
//! condition { age, ... } }` → `url` (`gs://NAME`), `self_link`. The location is compared
//! upper-case, as the API returns it; a new name, location or project replaces the bucket.

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::config::schema::*;
use crate::config::{Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::plan::{Action, AttrChange, Change};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::pin::Pin;

pub const TYPE: &str = "google_storage_bucket";

static VERSIONING: Schema = Schema {
    attrs: &[req("enabled", Ty::Bool)],
    blocks: &[],
};
static ACTION: Schema = Schema {
    attrs: &[req("type", Ty::String), opt("storage_class", Ty::String)],
    blocks: &[],
};
static CONDITION: Schema = Schema {
    attrs: &[
        opt("age", Ty::Number),
        opt("created_before", Ty::String),
        opt("with_state", Ty::String),
        opt("matches_storage_class", Ty::ListString),
        opt("num_newer_versions", Ty::Number),
        opt("matches_prefix", Ty::ListString),
        opt("matches_suffix", Ty::ListString),
    ],
    blocks: &[],
};
static LIFECYCLE_RULE: Schema = Schema {
    attrs: &[],
    blocks: &[
        single_req("action", &ACTION),
        single_req("condition", &CONDITION),
    ],
};
pub static SCHEMA: Schema = Schema {
    attrs: &[
        meta("name", Ty::String, true),
        meta("location", Ty::String, true),
        meta("project", Ty::String, false),
        meta("storage_class", Ty::String, false),
        meta("force_destroy", Ty::Bool, false),
        meta("uniform_bucket_level_access", Ty::Bool, false),
        meta("labels", Ty::MapString, false),
    ],
    blocks: &[
        single("versioning", &VERSIONING),
        list("lifecycle_rule", &LIFECYCLE_RULE),
    ],
};

pub struct BucketType;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

impl TypeInfo for BucketType {
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn derive(&self, v: &mut Map<String, Value>, provider: &Provider) {
        provider.fill_defaults(v, None);
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        v.insert("id".into(), Value::String(name.clone()));
        v.insert("url".into(), Value::String(format!("gs://{name}")));
    }
    fn computed(&self) -> &'static [&'static str] {
        &["self_link"]
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let name = s(&rc.values, "name");
        if !name.contains(crate::config::UNKNOWN_START) {
            if let Err(e) = crate::api::storage::check_bucket_name(name) {
                diags.push(Diagnostic::error(
                    format!("{}: {e}", rc.addr),
                    Some(rc.span("name")),
                ));
            }
        }
        let class = s(&rc.values, "storage_class");
        if !class.is_empty()
            && ![
                "STANDARD",
                "NEARLINE",
                "COLDLINE",
                "ARCHIVE",
                "MULTI_REGIONAL",
                "REGIONAL",
            ]
            .contains(&class)
        {
            diags.push(Diagnostic::error(
                format!("{}: storage_class {class:?} is not one of STANDARD, NEARLINE, COLDLINE, ARCHIVE", rc.addr),
                Some(rc.span("storage_class")),
            ));
        }
    }
}

/// The API body for create and update.
fn expand(v: &Value) -> Value {
    let rules: Vec<Value> = v
        .get("lifecycle_rule")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| to_wire(r, &LIFECYCLE_RULE))
        .collect();
    json!({
        "name": s(v, "name"),
        "location": s(v, "location").to_uppercase(),
        "storageClass": if s(v, "storage_class").is_empty() { "STANDARD" } else { s(v, "storage_class") },
        "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": v.get("uniform_bucket_level_access").and_then(Value::as_bool).unwrap_or(false)}},
        "labels": v.get("labels").cloned().unwrap_or(json!({})),
        "versioning": {"enabled": v.pointer("/versioning/enabled").and_then(Value::as_bool).unwrap_or(false)},
        "lifecycle": {"rule": rules},
    })
}

/// What the plan compares (from either side).
fn comparable(b: &Value) -> Value {
    let empty = |x: &Value, d: Value| if x.is_null() { d } else { x.clone() };
    json!({
        "location": b["location"].as_str().unwrap_or("").to_uppercase(),
        "storage_class": b["storageClass"].as_str().unwrap_or("STANDARD"),
        "uniform_bucket_level_access": b.pointer("/iamConfiguration/uniformBucketLevelAccess/enabled").and_then(Value::as_bool).unwrap_or(false),
        "labels": empty(&b["labels"], json!({})),
        "versioning": b.pointer("/versioning/enabled").and_then(Value::as_bool).unwrap_or(false),
        "lifecycle_rule": empty(&b.pointer("/lifecycle/rule").cloned().unwrap_or(Value::Null), json!([])),
    })
}

pub struct Buckets;

impl ResourceType for Buckets {
    fn name(&self) -> &'static str {
        TYPE
    }
    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::Buckets)
    }
    fn family(&self, values: &Value) -> Option<(String, String)> {
        self.family_of_id(s(values, "id"))
    }
    fn family_of_id(&self, id: &str) -> Option<(String, String)> {
        // Bucket names are global: each bucket is read by name.
        Some((id.to_string(), String::new()))
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
        let v = &rc.values;
        let mut change = super::change_for(addr, TYPE, rc, state);
        let id = s(v, "id").to_string();
        let live: Option<Value> = super::read_live(live, "bucket")?;
        let want = comparable(&expand(v));
        if let Some(pid) = change.prior_id.clone().filter(|p| *p != id) {
            change.action = Action::Replace;
            change.reason = Some(format!("its name changed ({pid} → {id})"));
            change.attrs.push(AttrChange {
                path: "name".into(),
                old: Some(json!(pid)),
                new: Some(json!(id)),
            });
            return Ok(change);
        }
        let Some(live) = live else {
            change.action = Action::Create;
            return Ok(change);
        };
        let have = comparable(&live);
        change.attrs = super::diff_values(&have, &want);
        let fd_new = v.get("force_destroy").cloned().unwrap_or(json!(false));
        let fd_old = state
            .and_then(|st| st.values.get("force_destroy"))
            .unwrap_or(json!(false));
        let state_only = change.attrs.is_empty() && fd_new != fd_old && state.is_some();
        if fd_new != fd_old && state.is_some() {
            change.attrs.push(AttrChange {
                path: "force_destroy".into(),
                old: Some(fd_old),
                new: Some(fd_new),
            });
        }
        if state.is_none() {
            if !change.attrs.is_empty() {
                return Err(format!(
                    "bucket {id} already exists, differs from this configuration and is not managed by this state; bucket names are global: choose another name"
                ));
            }
            change.adopt = true;
        }
        change.action = if have["location"] != want["location"] {
            change.reason = Some("a bucket's location cannot change".into());
            change.prior_id = Some(id.clone());
            Action::Replace
        } else {
            match (change.attrs.is_empty(), change.adopt, state_only) {
                (true, true, _) => Action::Adopt,
                (true, false, _) => Action::NoOp,
                (_, _, true) => Action::StateOnly,
                _ => Action::Update,
            }
        };
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
            let force = |v: &Option<Value>| {
                v.as_ref()
                    .and_then(|v| v.get("force_destroy"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            };
            if super::remove_first(change, |old| async move {
                c.delete_bucket(&old, force(&change.before))
                            .await
                            .map_err(|e| format!("{e}\nhint: a bucket with objects is deleted only with force_destroy = true"))
            })
            .await?
            {
                return Ok(None);
            }
            let v = change.after.clone().ok_or("no desired values")?;
            let body = expand(&v);
            let live = match change.action {
                Action::Create | Action::Replace => {
                    match c.insert_bucket(s(&v, "project"), &body).await {
                        Ok(b) => b,
                        Err(e) if e.status() == Some(409) => c
                            .get_bucket(s(&v, "name"))
                            .await
                            .map_err(err)?
                            .ok_or_else(|| e.to_string())?,
                        Err(e) => return Err(err(e)),
                    }
                }
                Action::Update => c.patch_bucket(s(&v, "name"), &body).await.map_err(err)?,
                _ => c
                    .get_bucket(s(&v, "name"))
                    .await
                    .map_err(err)?
                    .ok_or("bucket not found")?,
            };
            let mut values = v.clone();
            if let Value::Object(m) = &mut values {
                m.insert("self_link".into(), live["selfLink"].clone());
            }
            Ok(Some(StateEntry {
                ty: TYPE.into(),
                id: s(&v, "id").to_string(),
                values: (&values).into(),
                deps: vec![],
                extra: Value::Null,
            }))
        })
    }
}
