//! `google_secret_manager_secret` and `google_secret_manager_secret_version` (Secret Manager
//! v1), with the provider's arguments and ids: a secret's id is `projects/P/secrets/S`, a
//! version's `projects/P/secrets/S/versions/N` (known once it is added). A version's
//! `secret_data` is sensitive and forces a new version; `enabled` enables or disables it in
//! place; `deletion_policy` says what destroy does (`DELETE` destroys the version, `DISABLE`
//! disables it, `ABANDON` leaves it).

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

pub const SECRET: &str = "google_secret_manager_secret";
pub const VERSION: &str = "google_secret_manager_secret_version";

/// The google provider 7.x schema of `google_secret_manager_secret`.
pub const SECRET_SCHEMA_TEXT: &str = "
id                                       string      C
secret_id                                string      R FN tf
project                                  string      O C FN tf
replication                              list{}      R FN min=1 max=1
replication.auto                         list{}      O FN max=1
replication.auto.customer_managed_encryption list{}  O FN max=1
replication.auto.customer_managed_encryption.kms_key_name string R FN
replication.user_managed                 list{}      O FN max=1
replication.user_managed.replicas        list{}      R FN min=1
replication.user_managed.replicas.location string    R FN
replication.user_managed.replicas.customer_managed_encryption list{} O FN max=1
replication.user_managed.replicas.customer_managed_encryption.kms_key_name string R FN
labels                                   map(string) O
annotations                              map(string) O
version_aliases                          map(string) O
version_destroy_ttl                      string      O
ttl                                      string      O
expire_time                              string      O C
topics                                   list{}      O
topics.name                              string      R
rotation                                 list{}      O max=1
rotation.next_rotation_time              string      O
rotation.rotation_period                 string      O
deletion_protection                      bool        O tf default=false
name                                     string      C
create_time                              string      C
effective_labels                         map(string) C tf
terraform_labels                         map(string) C tf
effective_annotations                    map(string) C
";

/// The google provider 7.x schema of `google_secret_manager_secret_version`.
pub const VERSION_SCHEMA_TEXT: &str = "
id                    string C
secret                string R FN tf
secret_data           string O FN S tf
is_secret_data_base64 bool   O FN tf default=false
enabled               bool   O tf default=true
deletion_policy       string O tf default=DELETE
name                  string C
version               string C
create_time           string C
destroy_time          string C
";

static SECRET_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(SECRET_SCHEMA_TEXT));
static VERSION_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(VERSION_SCHEMA_TEXT));

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

pub struct SecretType;
pub struct Secrets;
pub struct VersionType;
pub struct Versions;

impl TypeInfo for SecretType {
    fn schema(&self) -> &'static Schema {
        &SECRET_SCHEMA
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        provider.fill_defaults(d, None);
        provider.fill_labels(d);
        for k in ["id", "name"] {
            d.set(k, &["project", "secret_id"], |d| {
                Value::String(format!(
                    "projects/{}/secrets/{}",
                    d.str("project"),
                    d.str("secret_id")
                ))
            });
        }
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let v = &rc.values;
        if !rc.is_unknown("secret_id") && !crate::api::common::secret_id_ok(s(v, "secret_id")) {
            diags.push(Diagnostic::error(
                format!(
                    "{}: secret_id {:?} must be 1 to 255 letters, digits, hyphens and underscores",
                    rc.addr,
                    s(v, "secret_id")
                ),
                Some(rc.span("secret_id")),
            ));
        }
        let r = &v["replication"];
        if !rc.is_unknown("replication")
            && (r.get("auto").is_some() == r.get("user_managed").is_some())
        {
            diags.push(Diagnostic::error(
                format!(
                    "{}: replication needs exactly one of `auto {{}}` and `user_managed {{}}`",
                    rc.addr
                ),
                Some(rc.span("replication")),
            ));
        }
        if rc.missing("project") {
            diags.push(
                Diagnostic::error(format!("{}: no project", rc.addr), Some(rc.range.clone()))
                    .with_hint("set `project` here or in the provider block"),
            );
        }
    }
}

fn cmek(v: &Value) -> Option<Value> {
    v.get("customer_managed_encryption")
        .map(|c| json!({"kmsKeyName": c["kms_key_name"]}))
}

/// The secret's request body (wire JSON) from its values.
fn secret_body(v: &Value) -> Value {
    let r = &v["replication"];
    let replication = match r.get("user_managed") {
        Some(um) => {
            json!({"userManaged": {"replicas": um["replicas"].as_array().into_iter().flatten()
            .map(|x| {
                let mut o = json!({"location": x["location"]});
                if let Some(c) = cmek(x) { o["customerManagedEncryption"] = c; }
                o
            }).collect::<Vec<_>>()}})
        }
        None => {
            let mut a = json!({});
            if let Some(c) = r.get("auto").and_then(cmek) {
                a["customerManagedEncryption"] = c;
            }
            json!({"automatic": a})
        }
    };
    let mut body = json!({
        "replication": replication,
        "labels": super::labels::to_send(v),
    });
    for (k, w) in [
        ("annotations", "annotations"),
        ("version_aliases", "versionAliases"),
        ("version_destroy_ttl", "versionDestroyTtl"),
        ("ttl", "ttl"),
        ("expire_time", "expireTime"),
    ] {
        if let Some(x) = v.get(k).filter(|x| !super::is_empty_json(x)) {
            body[w] = x.clone();
        }
    }
    if let Some(t) = v
        .get("topics")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
    {
        body["topics"] = json!(t
            .iter()
            .map(|x| json!({"name": x["name"]}))
            .collect::<Vec<_>>());
    }
    if let Some(r) = v.get("rotation") {
        body["rotation"] = json!({"nextRotationTime": r["next_rotation_time"], "rotationPeriod": r["rotation_period"]});
    }
    body
}

/// What the plan compares with the live secret (the updatable fields, in wire terms).
fn secret_view(wire: &Value) -> Value {
    let get = |k: &str| match wire.get(k) {
        Some(x) if !super::is_empty_json(x) => x.clone(),
        _ => Value::Null,
    };
    json!({
        "labels": match wire.get("labels") { Some(l) if l.is_object() => l.clone(), _ => json!({}) },
        "annotations": get("annotations"),
        "versionAliases": get("versionAliases"),
        "versionDestroyTtl": get("versionDestroyTtl"),
        "topics": get("topics"),
        "rotation": get("rotation"),
        "replication": get("replication"),
    })
}

impl ResourceType for Secrets {
    fn name(&self) -> &'static str {
        SECRET
    }
    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::Secrets)
    }
    fn family(&self, values: &Value) -> Option<(String, String)> {
        Some((s(values, "project").to_string(), String::new()))
    }
    fn family_of_id(&self, id: &str) -> Option<(String, String)> {
        Some((id.split('/').nth(1)?.to_string(), String::new()))
    }
    fn canonical_id(&self, id: &str, values: &Value) -> String {
        match id.split('/').collect::<Vec<_>>().as_slice() {
            [p, sid] => format!("projects/{p}/secrets/{sid}"),
            [sid] => format!("projects/{}/secrets/{sid}", s(values, "project")),
            _ => id.to_string(),
        }
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let (mut c, planned, live, id) = match super::plan_by_id(&input, SECRET, "secret")? {
            super::ById::Decided(c) => return Ok(c),
            super::ById::Compare {
                change,
                planned,
                live,
                id,
            } => (change, planned, live, id),
        };
        let (want, have) = (secret_view(&secret_body(&planned)), secret_view(&live));
        if super::replace_if_immutable_changed(&mut c, &id, &have, &want, &["replication"]) {
            return Ok(c);
        }
        c.attrs = super::diff_values(&have, &want);
        super::refuse_unmanaged(&input, &c, &id, "secret", "secret_id")?;
        let mask: Vec<&str> = [
            "labels",
            "annotations",
            "versionAliases",
            "versionDestroyTtl",
            "topics",
            "rotation",
        ]
        .into_iter()
        .filter(|k| want[*k] != have[*k])
        .collect();
        c.action = super::settled_action(!mask.is_empty(), input.state.is_some());
        c.extra = json!({ "mask": mask });
        Ok(c)
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let c = &ctx.client;
            let protected = change
                .before
                .as_ref()
                .and_then(|b| b.get("deletion_protection"))
                == Some(&Value::Bool(true));
            if protected && matches!(change.action, Action::Delete | Action::Replace) {
                return Err(
                    "the secret has deletion_protection = true: set it to false and apply first"
                        .into(),
                );
            }
            if super::remove_first(change, |old| async move {
                c.delete_secret(&old).await.map_err(|e| e.to_string())
            })
            .await?
            {
                return Ok(None);
            }
            let v = change.after.clone().ok_or("no desired values")?;
            let id = s(&v, "id").to_string();
            let body = secret_body(&v);
            let live = match change.action {
                Action::Create | Action::Replace => {
                    match c
                        .create_secret(s(&v, "project"), s(&v, "secret_id"), &body)
                        .await
                    {
                        Ok(x) => x,
                        Err(e) if e.status() == Some(409) => {
                            super::adopt_if_sent(e, &body, c.get_secret(&id)).await?
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Action::Update => {
                    let mask = super::mask_of(change).join(",");
                    c.patch_secret(&id, &body, &mask)
                        .await
                        .map_err(|e| e.to_string())?
                }
                _ => c
                    .get_secret(&id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("secret not found")?,
            };
            let mut values = v.clone();
            values["create_time"] = live["createTime"].clone();
            values["effective_annotations"] = live.get("annotations").cloned().unwrap_or(json!({}));
            Ok(Some(StateEntry {
                ty: SECRET.into(),
                id,
                values: (&values).into(),
                deps: vec![],
                extra: Value::Null,
                sensitive: Vec::new(),
            }))
        })
    }
}

// ---- google_secret_manager_secret_version ---------------------------------------------------

impl TypeInfo for VersionType {
    fn schema(&self) -> &'static Schema {
        &VERSION_SCHEMA
    }
    fn derive(&self, _d: &mut Derive, _provider: &Provider) {}
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let v = &rc.values;
        if !rc.is_unknown("secret") && s(v, "secret").split('/').nth(2) != Some("secrets") {
            diags.push(Diagnostic::error(
                format!("{}: secret must be the secret's id, projects/P/secrets/S (`google_secret_manager_secret.x.id`)", rc.addr),
                Some(rc.span("secret")),
            ));
        }
        let policy = s(v, "deletion_policy");
        if !["DELETE", "DISABLE", "ABANDON", ""].contains(&policy) {
            diags.push(Diagnostic::error(
                format!(
                    "{}: deletion_policy {policy:?} is not DELETE, DISABLE or ABANDON",
                    rc.addr
                ),
                Some(rc.span("deletion_policy")),
            ));
        }
        if v.get("secret_data").is_none() && !rc.is_unknown("secret_data") {
            diags.push(Diagnostic::error(
                format!("{}: secret_data is required", rc.addr),
                Some(rc.range.clone()),
            ));
        }
    }
}

impl ResourceType for Versions {
    fn name(&self) -> &'static str {
        VERSION
    }
    fn family(&self, _values: &Value) -> Option<(String, String)> {
        None
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let Some(rc) = input.config else {
            let st = input.state.ok_or("nothing to plan")?;
            let mut c = Change::new(input.addr, VERSION);
            c.prior_id = Some(st.id.clone());
            c.before = Some(st.values.to_value());
            c.sensitive = st.sensitive.clone();
            c.action = Action::Delete;
            c.reason = Some("it is no longer in the configuration".into());
            return Ok(c);
        };
        let mut c = super::change_for(input.addr, VERSION, rc, input.state);
        let Some(st) = input.state else {
            c.action = Action::Create;
            return Ok(c);
        };
        let before = st.values.to_value();
        let want = &rc.values;
        c.prior_id = Some(st.id.clone());
        for k in ["secret", "secret_data", "is_secret_data_base64"] {
            if before.get(k) != want.get(k) {
                c.action = Action::Replace;
                c.reason = Some(format!("{k} makes a new version"));
                let mut a = AttrChange::new(k, before.get(k).cloned(), want.get(k).cloned());
                a.sensitive = k == "secret_data";
                c.attrs.push(a);
                return Ok(c);
            }
        }
        // Computed values stay as the version has them.
        let mut after = want.clone();
        for k in ["id", "name", "version", "create_time", "destroy_time"] {
            if let Some(x) = before.get(k) {
                after[k] = x.clone();
            }
        }
        c.after = Some(after);
        let enabled = |v: &Value| v.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        if enabled(&before) != enabled(want) {
            c.action = Action::Update;
            c.attrs.push(AttrChange::new(
                "enabled",
                Some(json!(enabled(&before))),
                Some(json!(enabled(want))),
            ));
        } else if before.get("deletion_policy") != want.get("deletion_policy") {
            c.action = Action::StateOnly;
            c.attrs.push(AttrChange::new(
                "deletion_policy",
                before.get("deletion_policy").cloned(),
                want.get("deletion_policy").cloned(),
            ));
        } else {
            c.action = Action::NoOp;
        }
        Ok(c)
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let c = &ctx.client;
            let policy = change
                .before
                .as_ref()
                .map(|b| s(b, "deletion_policy").to_string())
                .unwrap_or_default();
            if super::remove_first(change, |old| async move {
                let verb = match policy.as_str() {
                    "ABANDON" => return Ok(()),
                    "DISABLE" => "disable",
                    _ => "destroy",
                };
                match c.secret_version_verb(&old, verb).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_not_found() => Ok(()),
                    // Destroying a destroyed version: it is gone already.
                    Err(e) if e.status() == Some(400) && verb == "destroy" => Ok(()),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await?
            {
                return Ok(None);
            }
            let v = change.after.clone().ok_or("no desired values")?;
            let enabled = v.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            let live = match change.action {
                Action::Create | Action::Replace => {
                    let data = s(&v, "secret_data");
                    let bytes = if v.get("is_secret_data_base64") == Some(&Value::Bool(true)) {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD
                            .decode(data)
                            .map_err(|_| {
                                "secret_data is not base64 (is_secret_data_base64 = true)"
                            })?
                    } else {
                        data.as_bytes().to_vec()
                    };
                    let mut added = c
                        .add_secret_version(s(&v, "secret"), &bytes)
                        .await
                        .map_err(|e| e.to_string())?;
                    if !enabled {
                        added = c
                            .secret_version_verb(s(&added, "name"), "disable")
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    added
                }
                Action::Update => c
                    .secret_version_verb(s(&v, "id"), if enabled { "enable" } else { "disable" })
                    .await
                    .map_err(|e| e.to_string())?,
                _ => {
                    json!({"name": s(&v, "id"), "createTime": v["create_time"], "destroyTime": v["destroy_time"]})
                }
            };
            let name = s(&live, "name").to_string();
            let mut values = v.clone();
            values["id"] = json!(name);
            values["name"] = json!(name);
            values["version"] = json!(name.rsplit('/').next().unwrap_or(""));
            values["create_time"] = live["createTime"].clone();
            values["destroy_time"] = live.get("destroyTime").cloned().unwrap_or(json!(""));
            Ok(Some(StateEntry {
                ty: VERSION.into(),
                id: name,
                values: (&values).into(),
                deps: vec![],
                extra: Value::Null,
                sensitive: change.sensitive.clone(),
            }))
        })
    }
}
