//! `google_project_service` (Service Usage) and `google_artifact_registry_repository`
//! (Artifact Registry), with the provider's argument names and defaults.

use super::{Ctx, LiveApi, PlanInput, ResourceType, StateEntry};
use crate::config::{Derive, Provider, ResourceConfig, TypeInfo};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Schema;
use crate::model::{Action, AttrChange, Change};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

pub const SERVICE: &str = "google_project_service";
pub const REPOSITORY: &str = "google_artifact_registry_repository";

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn entry(ty: &str, values: &Value, extra: &[(&str, Value)]) -> StateEntry {
    let mut v = values.clone();
    if let Value::Object(m) = &mut v {
        for (k, x) in extra {
            m.insert(k.to_string(), x.clone());
        }
    }
    StateEntry {
        ty: ty.into(),
        id: s(values, "id").to_string(),
        values: (&v).into(),
        deps: vec![],
        extra: Value::Null,
        sensitive: Vec::new(),
    }
}

// ---- google_project_service ------------------------------------------------------------

/// The google provider 7.x schema of `google_project_service`.
pub const SERVICE_SCHEMA_TEXT: &str = "
id                                     string C
service                                string R FN tf
project                                string O C FN tf
disable_on_destroy                     bool   O tf default=true
disable_dependent_services             bool   O tf
check_if_service_has_usage_on_destroy  bool   O tf
";

static SERVICE_SCHEMA: LazyLock<Schema> = LazyLock::new(|| Schema::parse(SERVICE_SCHEMA_TEXT));

pub struct ServiceType;
pub struct Services;

impl TypeInfo for ServiceType {
    fn schema(&self) -> &'static Schema {
        &SERVICE_SCHEMA
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        provider.fill_defaults(d, None);
        d.set("id", &["project", "service"], |d| {
            Value::String(format!("{}/{}", d.str("project"), d.str("service")))
        });
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let svc = s(&rc.values, "service");
        if !svc.contains('.') || svc.contains('/') || svc.contains(' ') {
            diags.push(
                Diagnostic::error(
                    format!("{}: service {svc:?} is not a service name", rc.addr),
                    Some(rc.span("service")),
                )
                .with_hint("e.g. run.googleapis.com, cloudscheduler.googleapis.com"),
            );
        }
        if rc.missing("project") {
            diags.push(
                Diagnostic::error(format!("{}: no project", rc.addr), Some(rc.range.clone()))
                    .with_hint("set `project` here or in the provider block (or GOOGLE_PROJECT)"),
            );
        }
    }
}

/// `P/S` → `projects/P/services/S`.
fn service_name(id: &str) -> String {
    let (p, svc) = id.split_once('/').unwrap_or(("", id));
    format!("projects/{p}/services/{svc}")
}

impl ResourceType for Services {
    fn name(&self) -> &'static str {
        SERVICE
    }
    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::Services)
    }
    fn family(&self, values: &Value) -> Option<(String, String)> {
        Some((s(values, "id").to_string(), String::new()))
    }
    fn family_of_id(&self, id: &str) -> Option<(String, String)> {
        Some((id.to_string(), String::new()))
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let live: Option<Value> = super::read_live(input.live, "service")?;
        let enabled = live.as_ref().is_some_and(|l| s(l, "state") == "ENABLED");
        let Some(rc) = input.config else {
            let st = input.state.ok_or("nothing to plan")?;
            let mut c = Change::new(input.addr, SERVICE);
            c.prior_id = Some(st.id.clone());
            c.before = Some(st.values.to_value());
            let disable = st.values.get("disable_on_destroy") != Some(Value::Bool(false));
            (c.action, c.reason) = match (enabled, disable) {
                (true, true) => (Action::Delete, Some("it is no longer in the configuration (disable_on_destroy)".into())),
                _ => (Action::Forget, Some("it is no longer in the configuration; the service stays enabled (disable_on_destroy = false)".into())),
            };
            return Ok(c);
        };
        let mut c = super::change_for(input.addr, SERVICE, rc, input.state);
        let id = s(&rc.values, "id").to_string();
        if let Some(pid) = c.prior_id.clone().filter(|p| *p != id) {
            c.action = Action::Replace;
            c.reason = Some(format!("{pid} → {id}"));
            c.attrs.push(AttrChange::new(
                "service",
                Some(json!(pid)),
                Some(json!(id)),
            ));
            return Ok(c);
        }
        c.action = match (enabled, input.state.is_some()) {
            (false, true) => {
                c.reason = Some("it was disabled outside runform".into());
                Action::Create
            }
            // Enabling an enabled service changes nothing, and Terraform plans it as a
            // create (a project's default services, Cloud Run's here, are enabled already).
            (_, false) => Action::Create,
            (true, true) => {
                let before = c.before.clone().unwrap_or(Value::Null);
                let mut attrs = Vec::new();
                for k in ["disable_on_destroy", "disable_dependent_services"] {
                    let (o, n) = (before.get(k).cloned(), rc.values.get(k).cloned());
                    if o != n {
                        attrs.push(AttrChange::new(k, o, n));
                    }
                }
                c.attrs = attrs;
                if c.attrs.is_empty() {
                    Action::NoOp
                } else {
                    Action::StateOnly
                }
            }
        };
        Ok(c)
    }
    fn apply<'a>(
        &'a self,
        ctx: &'a Ctx,
        change: &'a Change,
    ) -> Pin<Box<dyn Future<Output = Result<Option<StateEntry>, String>> + Send + 'a>> {
        Box::pin(async move {
            let c = &ctx.client;
            let dependents = change
                .before
                .as_ref()
                .and_then(|b| b.get("disable_dependent_services"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if super::remove_first(change, |old| async move {
                c.set_service(
                    &service_name(&old),
                    false,
                    dependents,
                    super::timeout_for(change, "delete"),
                )
                .await
                .map_err(|e| e.to_string())
            })
            .await?
            {
                return Ok(None);
            }
            let v = change.after.clone().ok_or("no desired values")?;
            if matches!(change.action, Action::Create | Action::Replace) {
                c.set_service(
                    &service_name(s(&v, "id")),
                    true,
                    false,
                    super::timeout_for(change, "create"),
                )
                .await
                .map_err(|e| e.to_string())?;
            }
            Ok(Some(entry(SERVICE, &v, &[])))
        })
    }
}

// ---- google_artifact_registry_repository -----------------------------------------------

/// The google provider 7.x schema of `google_artifact_registry_repository` (`X`: not
/// implemented by runform yet).
pub const REPOSITORY_SCHEMA_TEXT: &str = "
id                string      C
repository_id     string      R FN tf
location          string      O C FN tf
project           string      O C FN tf
format            string      O FN
description       string      O
labels            map(string) O
mode              string      O FN
kms_key_name      string      O FN
cleanup_policy_dry_run bool   O
name              string      C tf
create_time       string      C
update_time       string      C V
effective_labels  map(string) C tf
terraform_labels  map(string) C tf
";

static REPOSITORY_SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| Schema::parse(REPOSITORY_SCHEMA_TEXT));

pub struct RepositoryType;
pub struct Repositories;

const FORMATS: &[&str] = &[
    "DOCKER", "MAVEN", "NPM", "PYTHON", "APT", "YUM", "GO", "KFP", "GENERIC",
];

impl TypeInfo for RepositoryType {
    fn schema(&self) -> &'static Schema {
        &REPOSITORY_SCHEMA
    }
    fn derive(&self, d: &mut Derive, provider: &Provider) {
        provider.fill_defaults(d, Some("location"));
        provider.fill_labels(d);
        d.set("id", &["project", "location", "repository_id"], |d| {
            Value::String(format!(
                "projects/{}/locations/{}/repositories/{}",
                d.str("project"),
                d.str("location"),
                d.str("repository_id")
            ))
        });
        d.set("name", &["repository_id"], |d| {
            Value::String(d.str("repository_id"))
        });
        if let Some(Value::String(f)) = d.values.get("format").cloned() {
            // The API answers in upper case; the provider accepts either.
            d.values
                .insert("format".into(), Value::String(f.to_uppercase()));
        }
    }
    fn validate(&self, rc: &ResourceConfig, diags: &mut Diagnostics) {
        let v = &rc.values;
        let id = s(v, "repository_id");
        let ok = !id.is_empty()
            && id.len() <= 63
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !id.ends_with('-');
        if !ok {
            diags.push(Diagnostic::error(
                format!("{}: repository_id {id:?} must be 1-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen", rc.addr),
                Some(rc.span("repository_id")),
            ));
        }
        let f = s(v, "format");
        if !FORMATS.contains(&f) {
            diags.push(
                Diagnostic::error(
                    format!("{}: format {f:?} is not a repository format", rc.addr),
                    Some(rc.span("format")),
                )
                .with_hint(format!("one of {}", FORMATS.join(", "))),
            );
        }
        if rc.missing("location") {
            diags.push(
                Diagnostic::error(format!("{}: no location", rc.addr), Some(rc.range.clone()))
                    .with_hint("set `location` here or the provider's region"),
            );
        }
    }
}

/// The arguments compared with the live repository, in the API's terms.
fn repo_view(v: &Value, wire: bool) -> Value {
    let get = |k: &str, w: &str| {
        v.get(if wire { w } else { k })
            .cloned()
            .unwrap_or(Value::Null)
    };
    let labels = if wire {
        match get("labels", "labels") {
            Value::Null => json!({}),
            other => other,
        }
    } else {
        super::labels::to_send(v)
    };
    json!({
        "format": get("format", "format"),
        "description": get("description", "description").as_str().unwrap_or("").to_string(),
        "labels": labels,
        "mode": get("mode", "mode").as_str().unwrap_or("STANDARD_REPOSITORY").to_string(),
        "kms_key_name": get("kms_key_name", "kmsKeyName").as_str().unwrap_or("").to_string(),
        "cleanup_policy_dry_run": get("cleanup_policy_dry_run", "cleanupPolicyDryRun").as_bool().unwrap_or(false),
    })
}

impl ResourceType for Repositories {
    fn name(&self) -> &'static str {
        REPOSITORY
    }
    fn live_api(&self) -> Option<LiveApi> {
        Some(LiveApi::Repositories)
    }
    fn family(&self, values: &Value) -> Option<(String, String)> {
        super::family_of_name(s(values, "id"))
    }
    fn canonical_id(&self, id: &str, values: &Value) -> String {
        super::located_id(id, "repositories", values)
    }
    fn plan(&self, input: PlanInput<'_>) -> Result<Change, String> {
        let (mut c, planned, live, id) = match super::plan_by_id(&input, REPOSITORY, "repository")?
        {
            super::ById::Decided(c) => return Ok(c),
            super::ById::Compare {
                change,
                planned,
                live,
                id,
            } => (change, planned, live, id),
        };
        let v = &planned;
        let (want, have) = (repo_view(v, false), repo_view(&live, true));
        let immutable = ["format", "mode", "kms_key_name"];
        if super::replace_if_immutable_changed(&mut c, &id, &have, &want, &immutable) {
            return Ok(c);
        }
        c.attrs = super::diff_values(&have, &want);
        super::refuse_unmanaged(&input, &c, &id, "repository", "repository_id")?;
        c.action = super::settled_action(!c.attrs.is_empty(), input.state.is_some());
        let mut mask: Vec<&str> = Vec::new();
        for (k, wire) in [
            ("description", "description"),
            ("labels", "labels"),
            ("cleanup_policy_dry_run", "cleanupPolicyDryRun"),
        ] {
            if want[k] != have[k] {
                mask.push(wire);
            }
        }
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
            if super::remove_first(change, |old| async move {
                c.delete_repository(&old, super::timeout_for(change, "delete"))
                    .await
                    .map_err(|e| e.to_string())
            })
            .await?
            {
                return Ok(None);
            }
            let v = change.after.clone().ok_or("no desired values")?;
            let id = s(&v, "id").to_string();
            let mut body = REPOSITORY_SCHEMA.to_wire(&v);
            body["labels"] = super::labels::to_send(&v);
            let live: Value = match change.action {
                Action::Create | Action::Replace => {
                    let (parent, rid) = id
                        .rsplit_once("/repositories/")
                        .ok_or("bad repository id")?;
                    match c
                        .create_repository(parent, rid, &body, super::timeout_for(change, "create"))
                        .await
                    {
                        Ok(r) => r,
                        Err(e) if e.status() == Some(409) => {
                            let found = async {
                                Ok(c.list_repositories(s(&v, "project"), s(&v, "location"))
                                    .await?
                                    .iter()
                                    .filter_map(|r| serde_json::from_str::<Value>(r.get()).ok())
                                    .find(|r| r["name"] == id.as_str()))
                            };
                            super::adopt_if_sent(e, &body, found).await?
                        }
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Action::Update => {
                    let mask = super::mask_of(change).join(",");
                    c.patch_repository(&id, &body, &mask)
                        .await
                        .map_err(|e| e.to_string())?
                }
                _ => json!({}),
            };
            let mut extra = Vec::new();
            for (k, w) in [("create_time", "createTime"), ("update_time", "updateTime")] {
                if let Some(x) = live.get(w) {
                    extra.push((k, x.clone()));
                }
            }
            Ok(Some(entry(REPOSITORY, &v, &extra)))
        })
    }
}
