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
requester_pays                       bool         O tf
default_event_based_hold             bool         O
enable_object_retention              bool         O FN tf
rpo                                  string       O C
public_access_prevention             string       O C tf
deletion_policy                      string       O C tf
versioning                           list{}       O C max=1
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
lifecycle_rule.condition.custom_time_before      string       O
lifecycle_rule.condition.days_since_custom_time  number       O
lifecycle_rule.condition.days_since_noncurrent_time number    O
lifecycle_rule.condition.noncurrent_time_before  string       O
lifecycle_rule.condition.send_age_if_zero        bool         O
lifecycle_rule.condition.send_days_since_noncurrent_time_if_zero bool O
lifecycle_rule.condition.send_days_since_custom_time_if_zero bool O
lifecycle_rule.condition.send_num_newer_versions_if_zero bool O
lifecycle_rule.condition.size_above_bytes        number       O
lifecycle_rule.condition.size_below_bytes        number       O
encryption                           list{}       O max=1
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
autoclass                            list{}       O max=1
autoclass.enabled                    bool         R
autoclass.terminal_storage_class     string       O C
website                              list{}       O C max=1
website.main_page_suffix             string       O
website.not_found_page               string       O
retention_policy                     list{}       O max=1
retention_policy.is_locked           bool         O default=false
retention_policy.retention_period    string       R
cors                                 list{}       O
cors.origin                          list(string) O
cors.method                          list(string) O
cors.response_header                 list(string) O
cors.max_age_seconds                 number       O
logging                              list{}       O max=1
logging.log_bucket                   string       R
logging.log_object_prefix            string       O C
custom_placement_config              list{}       O max=1
custom_placement_config.data_locations set(string) R FN
soft_delete_policy                   list{}       O C max=1
soft_delete_policy.retention_duration_seconds number O default=604800
soft_delete_policy.effective_time    string       C
hierarchical_namespace               list{}       O FN max=1
hierarchical_namespace.enabled       bool         R FN
ip_filter                            list{}       O max=1
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
        // The provider's enumerations (paths in the internal shape; `[]` any item).
        const ENUMS: &[(&str, &[&str])] = &[
            ("rpo", &["ASYNC_TURBO", "DEFAULT"]),
            ("public_access_prevention", &["enforced", "inherited"]),
            (
                "lifecycle_rule[].action[].type",
                &[
                    "Delete",
                    "SetStorageClass",
                    "AbortIncompleteMultipartUpload",
                ],
            ),
            (
                "lifecycle_rule[].condition[].with_state",
                &["LIVE", "ARCHIVED", "ANY", ""],
            ),
            ("ip_filter.mode", &["Enabled", "Disabled"]),
            ("autoclass.terminal_storage_class", &["NEARLINE", "ARCHIVE"]),
            (
                "encryption.google_managed_encryption_enforcement_config.restriction_mode",
                &["NotRestricted", "FullyRestricted"],
            ),
            (
                "encryption.customer_managed_encryption_enforcement_config.restriction_mode",
                &["NotRestricted", "FullyRestricted"],
            ),
            (
                "encryption.customer_supplied_encryption_enforcement_config.restriction_mode",
                &["NotRestricted", "FullyRestricted"],
            ),
        ];
        for (path, allowed) in ENUMS {
            let mut found = Vec::new();
            collect_strings(&rc.values, &path.split('.').collect::<Vec<_>>(), &mut found);
            for v in found.into_iter().filter(|v| !allowed.contains(&v.as_str())) {
                let attr = path.replace("[]", "");
                diags.push(Diagnostic::error(
                    format!(
                        "{}: {attr} {v:?} is not one of {}",
                        rc.addr,
                        allowed
                            .iter()
                            .filter(|a| !a.is_empty())
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Some(rc.span(&attr)),
                ));
            }
        }
        if let Some(p) = rc
            .values
            .pointer("/retention_policy/retention_period")
            .and_then(Value::as_str)
        {
            if p.parse::<u64>().is_err() {
                diags.push(Diagnostic::error(
                    format!(
                        "{}: retention_policy.retention_period {p:?} must be a number of seconds",
                        rc.addr
                    ),
                    Some(rc.span("retention_policy.retention_period")),
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

/// The strings at a path (`a[].b`: `b` of every item of the list `a`) of internal values.
fn collect_strings(v: &Value, path: &[&str], out: &mut Vec<String>) {
    let Some((first, rest)) = path.split_first() else {
        if let Some(s) = v.as_str() {
            out.push(s.to_string());
        }
        return;
    };
    let (key, each) = match first.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (*first, false),
    };
    match v.get(key) {
        Some(Value::Array(items)) if each => {
            items.iter().for_each(|i| collect_strings(i, rest, out))
        }
        Some(Value::Object(_)) if each => collect_strings(&v[key], rest, out),
        Some(x) => collect_strings(x, rest, out),
        None => {}
    }
}

/// Wire fields of a bucket that only the server sets.
const OUTPUT_ONLY: &[&str] = &[
    "kind",
    "id",
    "name",
    "selfLink",
    "projectNumber",
    "metageneration",
    "etag",
    "timeCreated",
    "updated",
    "locationType",
    "runformProject",
    "softDeleteTime",
    "hardDeleteTime",
    "generation",
    "owner",
    "acl",
    "defaultObjectAcl",
    "satisfiesPZS",
    "satisfiesPZI",
];

/// Wire fields the server fills when the configuration leaves them out (the provider's
/// Optional+Computed): not a difference then.
const SERVER_DEFAULTED: &[&str] = &["website", "softDeletePolicy", "rpo", "versioning"];

/// Fields inside blocks that only the server sets (`effectiveTime`), or fills when left out.
const SERVER_SUBFIELDS: &[&str] = &[
    "effectiveTime",
    "logObjectPrefix",
    "terminalStorageClass",
    "hardDeletePause",
    "publicAccessPrevention",
];

/// Fields inside blocks that only the server sets and nothing configures (autoclass's
/// toggle times): never compared.
const OUTPUT_SUBFIELDS: &[&str] = &["toggleTime", "terminalStorageClassUpdateTime"];

/// Wire fields whose change replaces the bucket (the provider's ForceNew).
const REPLACING: &[&str] = &[
    "location",
    "objectRetention",
    "hierarchicalNamespace",
    "customPlacementConfig",
];

/// A lifecycle rule's condition in the API's terms: `with_state` as `isLive`, and the zero
/// values the `send_*_if_zero` flags ask to send.
fn condition_to_wire(c: &Value) -> Value {
    let mut w = SCHEMA
        .at("lifecycle_rule.condition")
        .map(|s| s.to_wire(c))
        .unwrap_or_default();
    let Value::Object(m) = &mut w else { return w };
    for k in [
        "withState",
        "sendAgeIfZero",
        "sendDaysSinceNoncurrentTimeIfZero",
        "sendDaysSinceCustomTimeIfZero",
        "sendNumNewerVersionsIfZero",
    ] {
        m.remove(k);
    }
    match c.get("with_state").and_then(Value::as_str) {
        Some("LIVE") => {
            m.insert("isLive".into(), json!(true));
        }
        Some("ARCHIVED") => {
            m.insert("isLive".into(), json!(false));
        }
        _ => {}
    }
    let flag = |k: &str| c.get(k).and_then(Value::as_bool).unwrap_or(false);
    for (num, send) in [
        ("age", "send_age_if_zero"),
        (
            "daysSinceNoncurrentTime",
            "send_days_since_noncurrent_time_if_zero",
        ),
        ("daysSinceCustomTime", "send_days_since_custom_time_if_zero"),
        ("numNewerVersions", "send_num_newer_versions_if_zero"),
    ] {
        if m.get(num).and_then(Value::as_f64) == Some(0.0) && !flag(send) {
            m.remove(num);
        }
    }
    w
}

/// The API body for create and update.
fn expand(v: &Value) -> Value {
    let mut w = SCHEMA.to_wire(v);
    let rules: Vec<Value> = v
        .get("lifecycle_rule")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let one = |k: &str| match r.get(k) {
                Some(Value::Array(a)) => a.first().cloned().unwrap_or_default(),
                Some(x) => x.clone(),
                None => Value::Null,
            };
            let action = SCHEMA
                .at("lifecycle_rule.action")
                .map(|s| s.to_wire(&one("action")))
                .unwrap_or_default();
            json!({"action": action, "condition": condition_to_wire(&one("condition"))})
        })
        .collect();
    let flag = |k: &str| v.get(k).and_then(Value::as_bool);
    let mut iam = json!({"uniformBucketLevelAccess": {"enabled": flag("uniform_bucket_level_access").unwrap_or(false)}});
    if let Some(p) = v.get("public_access_prevention").and_then(Value::as_str) {
        iam["publicAccessPrevention"] = json!(p);
    }
    let Value::Object(m) = &mut w else { return w };
    m.insert("name".into(), json!(s(v, "name")));
    m.insert("location".into(), json!(s(v, "location").to_uppercase()));
    m.insert(
        "storageClass".into(),
        json!(if s(v, "storage_class").is_empty() {
            "STANDARD"
        } else {
            s(v, "storage_class")
        }),
    );
    m.insert("labels".into(), super::labels::to_send(v));
    m.insert("iamConfiguration".into(), iam);
    m.insert("lifecycle".into(), json!({ "rule": rules }));
    if let Some(rp) = flag("requester_pays") {
        m.insert("billing".into(), json!({ "requesterPays": rp }));
    }
    if flag("enable_object_retention") == Some(true) {
        m.insert("objectRetention".into(), json!({ "mode": "Enabled" }));
    }
    if let Some(r) = m.get_mut("retentionPolicy").and_then(Value::as_object_mut) {
        r.entry("isLocked").or_insert(json!(false));
    }
    w
}

/// A wire value made comparable: numbers as strings (the API sends int64 as strings), and
/// nulls, `false`, empty strings, lists and objects dropped (the API's defaults).
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.to_string()),
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !OUTPUT_SUBFIELDS.contains(&k.as_str()))
                .map(|(k, x)| (k.clone(), normalize(x)))
                .filter(|(_, x)| !super::is_empty_json(x))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        _ => v.clone(),
    }
}

/// Server-set fields `have` holds and `want` leaves out, copied into `want` (nested).
fn absorb_server_fields(want: &mut Value, have: &Value) {
    let (Value::Object(w), Value::Object(h)) = (want, have) else {
        return;
    };
    for (k, hv) in h {
        match w.get_mut(k) {
            Some(wv) => absorb_server_fields(wv, hv),
            None if SERVER_SUBFIELDS.contains(&k.as_str()) => {
                w.insert(k.clone(), hv.clone());
            }
            None => {}
        }
    }
}

/// The compared views of the desired body and the live bucket, in Terraform's names where
/// they differ from the API's (`uniform_bucket_level_access`, `lifecycle_rule`, ...).
fn comparable_pair(want: &Value, live: &Value) -> (Value, Value) {
    let mut raw = want.clone();
    absorb_server_fields(&mut raw, live);
    let mut w = normalize(&raw);
    let mut h = normalize(live);
    for k in OUTPUT_ONLY {
        if let (Value::Object(a), Value::Object(b)) = (&mut w, &mut h) {
            a.remove(*k);
            b.remove(*k);
        }
    }
    for k in SERVER_DEFAULTED {
        if w.get(*k).is_none() {
            if let Value::Object(b) = &mut h {
                b.remove(*k);
            }
        }
    }
    (tf_names(w), tf_names(h))
}

/// Renames the API's fields to the provider's arguments for plan output.
fn tf_names(v: Value) -> Value {
    let Value::Object(mut m) = v else { return v };
    let mut out = serde_json::Map::new();
    if let Some(iam) = m.remove("iamConfiguration") {
        if let Some(u) = iam.pointer("/uniformBucketLevelAccess/enabled") {
            out.insert("uniform_bucket_level_access".into(), u.clone());
        }
        if let Some(p) = iam.get("publicAccessPrevention") {
            out.insert("public_access_prevention".into(), p.clone());
        }
    }
    if let Some(b) = m
        .remove("billing")
        .and_then(|b| b.get("requesterPays").cloned())
    {
        out.insert("requester_pays".into(), b);
    }
    if let Some(rules) = m.remove("lifecycle").and_then(|l| l.get("rule").cloned()) {
        out.insert("lifecycle_rule".into(), rules);
    }
    if let Some(o) = m.remove("objectRetention") {
        out.insert(
            "enable_object_retention".into(),
            json!(o.get("mode") == Some(&json!("Enabled"))),
        );
    }
    for (k, x) in m {
        out.insert(crate::api::common::snake(&k), x);
    }
    Value::Object(out)
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
        let body = expand(v);
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
        let (want, have) = comparable_pair(&body, &live);
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
        let (nb, nl) = (normalize(&body), normalize(&live));
        let replacing = REPLACING.iter().find(|k| {
            // hierarchicalNamespace and objectRetention off equal their absence.
            nb.get(**k) != nl.get(**k) && !(nb.get(**k).is_none() && **k == "customPlacementConfig")
        });
        change.action = if let Some(k) = replacing {
            change.reason = Some(format!(
                "a bucket's {} cannot change",
                crate::api::common::snake(k)
            ));
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
        if change.action == Action::Update {
            // Fields the configuration no longer sets are removed with an explicit null.
            let removed: Vec<&String> = nl
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|k| nb.get(k.as_str()).is_none())
                .filter(|k| {
                    !OUTPUT_ONLY.contains(&k.as_str()) && !SERVER_DEFAULTED.contains(&k.as_str())
                })
                .collect();
            change.extra = json!({ "remove": removed });
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
                        // Bucket names are global: a 409 may be anyone's bucket.
                        Err(e) if e.status() == Some(409) => {
                            super::adopt_if_sent(e, &body, c.get_bucket(s(&v, "name"))).await?
                        }
                        Err(e) => return Err(err(e)),
                    }
                }
                Action::Update => {
                    let mut body = body;
                    for k in change.extra["remove"].as_array().into_iter().flatten() {
                        if let Some(k) = k.as_str() {
                            body[k] = Value::Null;
                        }
                    }
                    c.patch_bucket(s(&v, "name"), &body).await.map_err(err)?
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket as Cloud Storage returns it (output fields, legacy `bucketPolicyOnly`, lock
    /// times, the default soft delete policy, `rpo`, HNS off) is no difference from the
    /// configuration that made it.
    #[test]
    fn googles_answer_for_a_plain_bucket_is_no_difference() {
        let live = json!({
            "kind": "storage#bucket",
            "selfLink": "https://www.googleapis.com/storage/v1/b/my-bucket",
            "id": "my-bucket", "name": "my-bucket", "projectNumber": "123456789012",
            "generation": "1764547200000000", "metageneration": "1",
            "location": "US-CENTRAL1", "locationType": "region", "storageClass": "STANDARD",
            "etag": "CAE=", "timeCreated": "2026-12-01T00:00:00.000Z", "updated": "2026-12-01T00:00:00.000Z",
            "softDeletePolicy": {"retentionDurationSeconds": "604800", "effectiveTime": "2026-12-01T00:00:00.000Z"},
            "iamConfiguration": {
                "bucketPolicyOnly": {"enabled": true, "lockedTime": "2027-03-01T00:00:00.000Z"},
                "uniformBucketLevelAccess": {"enabled": true, "lockedTime": "2027-03-01T00:00:00.000Z"},
                "publicAccessPrevention": "inherited"
            },
            "autoclass": {"enabled": false, "toggleTime": "2026-12-01T00:00:00.000Z"},
            "hierarchicalNamespace": {"enabled": false},
            "rpo": "DEFAULT", "satisfiesPZI": true,
            "labels": {"goog-terraform-provisioned": "true"}
        });
        let values = json!({
            "name": "my-bucket", "location": "US-CENTRAL1", "storage_class": "STANDARD",
            "uniform_bucket_level_access": true,
            "effective_labels": {"goog-terraform-provisioned": "true"}
        });
        let (want, have) = comparable_pair(&expand(&values), &live);
        assert_eq!(want, have);
    }
}
