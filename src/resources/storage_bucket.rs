//! `google_storage_bucket`: `name`, `location`, `project`, `storage_class` (default
//! `STANDARD`), `force_destroy` (delete objects first on destroy), `uniform_bucket_level_access`,
//! `labels`, `versioning { enabled }`, `lifecycle_rule { action { type, storage_class },
//! condition { age, ... } }` → `url` (`gs://NAME`), `self_link`. The location is compared
//! upper-case, as the API returns it; a new name, location or project replaces the bucket.

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

pub const TYPE: &str = "google_storage_bucket";

/// The google provider 7.x schema of `google_storage_bucket` (`X`: not implemented by runform
/// yet).
pub const SCHEMA_TEXT: &str = r#"
id                                   string       C
name                                 string       R FN tf
location                             string       R FN tf
project                              string       O C FN tf
storage_class                        string       O tf default="STANDARD"
force_destroy                        bool         O tf default=false
uniform_bucket_level_access          bool         O C tf
labels                               map(string)  O tf
requester_pays                       bool         O tf X
default_event_based_hold             bool         O tf X
enable_object_retention              bool         O FN tf X
rpo                                  string       O C tf X
public_access_prevention             string       O C tf X
deletion_policy                      string       O C tf
versioning                           list{}       O C max=1 tf
versioning.enabled                   bool         R
lifecycle_rule                       list{}       O max=100 tf
lifecycle_rule.action                set{}        R min=1 max=1
lifecycle_rule.action.type           string       R
lifecycle_rule.action.storage_class  string       O
lifecycle_rule.condition             set{}        R min=1 max=1
lifecycle_rule.condition.age                     number       O
lifecycle_rule.condition.created_before          string       O
lifecycle_rule.condition.with_state              string       O C
lifecycle_rule.condition.matches_storage_class   list(string) O
lifecycle_rule.condition.num_newer_versions      number       O
lifecycle_rule.condition.matches_prefix          list(string) O
lifecycle_rule.condition.matches_suffix          list(string) O
lifecycle_rule.condition.custom_time_before      string       O X
lifecycle_rule.condition.days_since_custom_time  number       O X
lifecycle_rule.condition.days_since_noncurrent_time number    O X
lifecycle_rule.condition.noncurrent_time_before  string       O X
lifecycle_rule.condition.send_age_if_zero        bool         O X
lifecycle_rule.condition.send_days_since_noncurrent_time_if_zero bool O X
lifecycle_rule.condition.send_days_since_custom_time_if_zero bool O X
lifecycle_rule.condition.send_num_newer_versions_if_zero bool O X
lifecycle_rule.condition.size_above_bytes        number       O X
lifecycle_rule.condition.size_below_bytes        number       O X
encryption                           list{}       O max=1 tf X
encryption.default_kms_key_name      string       O
encryption.google_managed_encryption_enforcement_config    list{} O max=1
encryption.google_managed_encryption_enforcement_config.restriction_mode   string O
encryption.google_managed_encryption_enforcement_config.effective_time     string C
encryption.customer_managed_encryption_enforcement_config  list{} O max=1
encryption.customer_managed_encryption_enforcement_config.restriction_mode string O
encryption.customer_managed_encryption_enforcement_config.effective_time   string C
encryption.customer_supplied_encryption_enforcement_config list{} O max=1
encryption.customer_supplied_encryption_enforcement_config.restriction_mode string O
encryption.customer_supplied_encryption_enforcement_config.effective_time  string C
autoclass                            list{}       O max=1 tf X
autoclass.enabled                    bool         R
autoclass.terminal_storage_class     string       O C
website                              list{}       O C max=1 tf X
website.main_page_suffix             string       O
website.not_found_page               string       O
retention_policy                     list{}       O max=1 tf X
retention_policy.is_locked           bool         O default=false
retention_policy.retention_period    string       R
cors                                 list{}       O tf X
cors.origin                          list(string) O
cors.method                          list(string) O
cors.response_header                 list(string) O
cors.max_age_seconds                 number       O
logging                              list{}       O max=1 tf X
logging.log_bucket                   string       R
logging.log_object_prefix            string       O C
custom_placement_config              list{}       O max=1 tf X
custom_placement_config.data_locations set(string) R FN
soft_delete_policy                   list{}       O C max=1 tf X
soft_delete_policy.retention_duration_seconds number O default=604800
soft_delete_policy.effective_time    string       C
hierarchical_namespace               list{}       O FN max=1 tf X
hierarchical_namespace.enabled       bool         R FN
ip_filter                            list{}       O max=1 tf X
ip_filter.mode                       string       R
ip_filter.allow_cross_org_vpcs       bool         O
ip_filter.allow_all_service_agent_access bool     O
ip_filter.public_network_source      list{}       O max=1
ip_filter.public_network_source.allowed_ip_cidr_ranges list(string) R
ip_filter.vpc_network_sources        list{}       O
ip_filter.vpc_network_sources.network string      R
ip_filter.vpc_network_sources.allowed_ip_cidr_ranges list(string) R
project_number                       number       C
self_link                            string       C
url                                  string       C tf
time_created                         string       C
updated                              string       C V
effective_labels                     map(string)  C tf
terraform_labels                     map(string)  C tf
"#;

pub static SCHEMA: std::sync::LazyLock<Schema> =
    std::sync::LazyLock::new(|| Schema::parse(SCHEMA_TEXT));

pub struct BucketType;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

impl TypeInfo for BucketType {
    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        provider.fill_defaults(d, None);
        provider.fill_labels(d);
        // The provider keeps the location upper-case (its StateFunc), as the API returns it.
        if let Some(Value::String(l)) = d.values.get_mut("location") {
            *l = l.to_uppercase();
        }
        d.set("id", &["name"], |d| Value::String(d.str("name")));
        d.set("url", &["name"], |d| {
            Value::String(format!("gs://{}", d.str("name")))
        });
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let name = s(&rc.values, "name");
        if !rc.is_unknown("name") {
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
        .map(|r| {
            SCHEMA
                .at("lifecycle_rule")
                .map(|s| s.to_wire(r))
                .unwrap_or_default()
        })
        .collect();
    json!({
        "name": s(v, "name"),
        "location": s(v, "location").to_uppercase(),
        "storageClass": if s(v, "storage_class").is_empty() { "STANDARD" } else { s(v, "storage_class") },
        "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": v.get("uniform_bucket_level_access").and_then(Value::as_bool).unwrap_or(false)}},
        "labels": super::labels::to_send(v),
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

    fn canonical_id(&self, id: &str, _values: &Value) -> String {
        // The provider imports `NAME` or `PROJECT/NAME`.
        id.rsplit('/').next().unwrap_or(id).to_string()
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
        let live: Option<Value> = super::read_live(live, "bucket")?;
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
        if let Some(pid) = change.prior_id.clone().filter(|p| *p != id) {
            change.action = Action::Replace;
            change.reason = Some(format!("its name changed ({pid} → {id})"));
            change
                .attrs
                .push(AttrChange::new("name", Some(json!(pid)), Some(json!(id))));
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
            change
                .attrs
                .push(AttrChange::new("force_destroy", Some(fd_old), Some(fd_new)));
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
            Ok(Some(super::applied_entry(
                TYPE,
                s(&v, "id").to_string(),
                &v,
                &SCHEMA,
                &live,
            )))
        })
    }
}
