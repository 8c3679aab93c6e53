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

static SCHEMAS: LazyLock<BTreeMap<&'static str, Schema>> = LazyLock::new(|| {
    [
        ("google_project", PROJECT),
        ("google_compute_default_service_account", DEFAULT_SA),
        ("google_storage_project_service_account", STORAGE_SA),
        ("google_client_config", CLIENT_CONFIG),
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
        other => return Err(format!("data source {other:?} is not supported")),
    }))
}
