//! Data sources: read while planning, never stored as resources. `google_project`,
//! `google_compute_default_service_account`, `google_storage_project_service_account` and
//! `google_client_config`, with the attribute names of the Terraform google provider.

use crate::cloud::Client;
use crate::config::unknown;
use serde_json::{json, Map, Value};

fn arg<'a>(args: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    args.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn need_project<'a>(args: &'a Map<String, Value>, k: &str, ty: &str) -> Result<&'a str, String> {
    arg(args, k).ok_or_else(|| {
        format!("{ty} needs a project: set `{k}`, the provider's project, or GOOGLE_PROJECT")
    })
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Values as far as they are known without contacting an API (for `validate`): what comes
/// from the server is unknown.
pub fn offline(ty: &str, args: &Map<String, Value>) -> Map<String, Value> {
    let u = |attr: &str| unknown(&format!("data.{ty}.{attr}"));
    let p = |k: &str| arg(args, k).map(|s| json!(s)).unwrap_or_else(|| u(k));
    obj(match ty {
        "google_project" => json!({
            "project_id": p("project_id"), "number": u("number"), "name": u("name"),
            "id": arg(args, "project_id").map(|x| json!(format!("projects/{x}"))).unwrap_or_else(|| u("id")),
        }),
        "google_compute_default_service_account" => json!({
            "project": p("project"), "email": u("email"), "name": u("name"),
            "unique_id": u("unique_id"), "display_name": u("display_name"), "member": u("member"), "id": u("id"),
        }),
        "google_storage_project_service_account" => json!({
            "project": p("project"), "email_address": u("email_address"), "member": u("member"), "id": u("id"),
        }),
        "google_client_config" => json!({
            "project": p("project"), "region": p("region"), "zone": arg(args, "zone"),
            "access_token": u("access_token"), "id": u("id"),
        }),
        _ => json!({}),
    })
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
