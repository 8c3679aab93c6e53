//! Data sources: read while planning, never stored as resources. `google_project`,
//! `google_compute_default_service_account`, `google_storage_project_service_account` and
//! `google_client_config`, with the attribute names of the Terraform google provider.

use crate::cloud::Client;
use crate::model::Schema;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::LazyLock;

fn arg<'a>(args: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    args.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn need_project<'a>(args: &'a Map<String, Value>, k: &str, ty: &str) -> Result<&'a str, String> {
    arg(args, k).map(crate::config::project_id).ok_or_else(|| {
        format!("{ty} needs a project: set `{k}`, the provider's project, or GOOGLE_PROJECT")
    })
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The google provider 7.x schemas of the data sources runform reads (the attributes it
/// fills; others are null).
const PROJECT: &str = "
id              string      C
project_id      string      O C
number          string      C
name            string      C
org_id          string      C
folder_id       string      C
billing_account string      C
labels          map(string) C
effective_labels map(string) C
terraform_labels map(string) C
";
const DEFAULT_SA: &str = "
id           string O C
project      string O C
email        string C
name         string C
unique_id    string C
display_name string C
member       string C
";
const STORAGE_SA: &str = "
id            string O C
project       string O C
user_project  string O
email_address string C
member        string C
";
const CLIENT_CONFIG: &str = "
id             string      C
project        string      C
region         string      C
zone           string      C
access_token   string      C S
default_labels map(string) C
";

const SECRET_VERSION: &str = "
id                    string C
secret                string R
project               string O C
version               string O C
is_secret_data_base64 bool   O
secret_data           string C S
name                  string C
create_time           string C
destroy_time          string C
enabled               bool   C
";

const IAM_POLICY: &str = "
id                                string      C
policy_data                       string      C
binding                           set{}       O
binding.role                      string      R
binding.members                   set(string) R
binding.condition                 list{}      O max=1
binding.condition.expression      string      R
binding.condition.title           string      R
binding.condition.description     string      O
audit_config                      set{}       O
audit_config.service              string      R
audit_config.audit_log_configs    set{}       R min=1
audit_config.audit_log_configs.log_type         string      R
audit_config.audit_log_configs.exempted_members set(string) O
";

/// `data "google_iam_policy"`: the policy its `binding` and `audit_config` blocks describe, as
/// the JSON the provider writes (Resource Manager's field order, compact), and its id (the
/// CRC-32 of that text, as the provider's hashcode).
pub fn iam_policy(args: &Map<String, Value>) -> Map<String, Value> {
    let strs = |v: &Value| -> Vec<String> {
        let mut xs: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        xs.sort();
        xs
    };
    let mut bindings: Vec<Value> = args
        .get("binding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|b| {
            let mut o = Map::new();
            if let Some(c) = b.get("condition").filter(|c| c.is_object()) {
                let mut cond = Map::new();
                for k in ["description", "expression", "title"] {
                    if let Some(x) = c.get(k).and_then(Value::as_str).filter(|x| !x.is_empty()) {
                        cond.insert(k.into(), json!(x));
                    }
                }
                o.insert("condition".into(), Value::Object(cond));
            }
            o.insert("members".into(), json!(strs(&b["members"])));
            o.insert("role".into(), b["role"].clone());
            Value::Object(o)
        })
        .collect();
    bindings.sort_by_key(|b| (b["role"].to_string(), b["condition"].to_string()));
    let mut audit: Vec<Value> = args
        .get("audit_config")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|a| {
            let mut logs: Vec<Value> = a["audit_log_configs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    let mut o = Map::new();
                    let ex = strs(&l["exempted_members"]);
                    if !ex.is_empty() {
                        o.insert("exemptedMembers".into(), json!(ex));
                    }
                    o.insert("logType".into(), l["log_type"].clone());
                    Value::Object(o)
                })
                .collect();
            logs.sort_by_key(|l| l["logType"].to_string());
            json!({"auditLogConfigs": logs, "service": a["service"]})
        })
        .collect();
    audit.sort_by_key(|a| a["service"].to_string());
    let mut policy = Map::new();
    if !audit.is_empty() {
        policy.insert("auditConfigs".into(), Value::Array(audit));
    }
    if !bindings.is_empty() {
        policy.insert("bindings".into(), Value::Array(bindings));
    }
    let text = Value::Object(policy).to_string();
    let mut m = args.clone();
    m.insert(
        "id".into(),
        json!(crc32fast::hash(text.as_bytes()).to_string()),
    );
    m.insert("policy_data".into(), json!(text));
    m
}

static SCHEMAS: LazyLock<BTreeMap<&'static str, Schema>> = LazyLock::new(|| {
    [
        ("google_iam_policy", IAM_POLICY),
        ("google_project", PROJECT),
        ("google_compute_default_service_account", DEFAULT_SA),
        ("google_storage_project_service_account", STORAGE_SA),
        ("google_client_config", CLIENT_CONFIG),
        ("google_secret_manager_secret_version", SECRET_VERSION),
    ]
    .into_iter()
    .map(|(n, t)| (n, Schema::parse(t)))
    .collect()
});

/// The schema of a data source type.
pub fn schema(ty: &str) -> Option<&'static Schema> {
    SCHEMAS.get(ty)
}

/// The data source types runform reads.
pub fn names() -> impl Iterator<Item = &'static str> {
    SCHEMAS.keys().copied()
}

/// Values as far as they are known without contacting an API (for `validate`): the
/// arguments and what follows from them; the rest is unknown.
pub fn offline(ty: &str, args: &Map<String, Value>) -> Map<String, Value> {
    if ty == "google_iam_policy" {
        return iam_policy(args);
    }
    let mut m = args.clone();
    if let ("google_project", Some(p)) = (ty, arg(args, "project_id")) {
        m.insert("id".into(), json!(format!("projects/{p}")));
    }
    m
}

/// Reads a data source through the API.
pub async fn read(
    client: &Client,
    ty: &str,
    args: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let not_found = |p: &str| format!("project {p:?} was not found, or the caller may not read it");
    Ok(obj(match ty {
        "google_iam_policy" => Value::Object(iam_policy(args)),
        "google_project" => {
            let p = need_project(args, "project_id", ty)?;
            let v = client
                .get_project(p)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| not_found(p))?;
            json!({
                "project_id": p,
                "number": v["projectNumber"].as_str().unwrap_or_default(),
                "name": v["name"].as_str().unwrap_or(p),
                "id": format!("projects/{p}"),
            })
        }
        "google_compute_default_service_account" => {
            let p = need_project(args, "project", ty)?;
            let v = client
                .get_compute_project(p)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| not_found(p))?;
            let email = v["defaultServiceAccount"].as_str().unwrap_or_default();
            if email.is_empty() {
                return Err(format!("project {p:?} has no default compute service account (is the Compute Engine API enabled?)"));
            }
            json!({
                "project": p,
                "email": email,
                "name": format!("projects/{p}/serviceAccounts/{email}"),
                "unique_id": v["id"].as_str().unwrap_or_default(),
                "display_name": "Compute Engine default service account",
                "member": format!("serviceAccount:{email}"),
                "id": format!("projects/{p}/serviceAccounts/{email}"),
            })
        }
        "google_storage_project_service_account" => {
            let p = need_project(args, "project", ty)?;
            let v = client
                .get_storage_service_account(p)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| not_found(p))?;
            let email = v["email_address"].as_str().unwrap_or_default();
            json!({
                "project": p,
                "email_address": email,
                "member": format!("serviceAccount:{email}"),
                "id": email,
            })
        }
        "google_client_config" => {
            let p = arg(args, "project").unwrap_or_default();
            json!({
                "project": p,
                "region": arg(args, "region"),
                "zone": arg(args, "zone"),
                "access_token": client.access_token().await,
                "id": format!("projects/{p}/regions/{}/zones/", arg(args, "region").unwrap_or_default()),
            })
        }
        "google_secret_manager_secret_version" => {
            let secret = arg(args, "secret").ok_or("secret is required")?;
            let name = if secret.starts_with("projects/") {
                secret.to_string()
            } else {
                format!(
                    "projects/{}/secrets/{secret}",
                    need_project(args, "project", ty)?
                )
            };
            let version = arg(args, "version").unwrap_or("latest");
            let path = format!("{name}/versions/{version}");
            let v = client
                .get_secret_version(&path)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("secret version {path} was not found"))?;
            let bytes = client
                .access_secret_version(&path)
                .await
                .map_err(|e| e.to_string())?;
            let data = if args.get("is_secret_data_base64") == Some(&Value::Bool(true)) {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            } else {
                String::from_utf8(bytes).map_err(|_| {
                    format!("secret version {path} is not text: set is_secret_data_base64 = true")
                })?
            };
            let full = v["name"].as_str().unwrap_or(&path).to_string();
            json!({
                "secret": secret,
                "project": name.split('/').nth(1),
                "version": full.rsplit('/').next(),
                "secret_data": data,
                "name": full,
                "id": full,
                "create_time": v["createTime"],
                "destroy_time": v.get("destroyTime").cloned().unwrap_or(json!("")),
                "enabled": v["state"] == "ENABLED",
            })
        }
        other => return Err(format!("data source {other:?} is not supported")),
    }))
}
