//! HTTP routing for the runtime. Routes by method and path segments (including `:verb`
//! suffixes) the way Google's REST transcoding does; query strings are split on `&` only,
//! because `$alt=json;enum-encoding=int` contains `;`.

use super::jobs::ImageMapping;
use super::{ApiError, ApiResult, Runtime};
use crate::api::run::*;
use crate::api::scheduler::SchedulerJob;
use crate::api::{Code, Policy};
use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The largest request body the runtime reads: Cloud Storage takes single-request uploads of
/// this size (larger ones are resumable, in chunks), and a large state in a gcs backend must
/// fit (axum's default of 2 MB did not).
pub const MAX_BODY: usize = 256 * 1024 * 1024;

pub fn router(rt: Arc<Runtime>) -> Router {
    Router::new()
        .fallback(
            move |method: Method, uri: Uri, headers: axum::http::HeaderMap, body: Bytes| {
                let rt = rt.clone();
                async move {
                    let cors = cors_for(&rt, &method, &uri, &headers);
                    if let Err(e) = rt.guard(&method, &uri, &headers, body.len(), !cors.is_empty())
                    {
                        return error(e);
                    }
                    rt.note_projects(uri.path());
                    if method == Method::POST && uri.path() == "/token" {
                        return oauth_token(&rt, &body);
                    }
                    let caller =
                        rt.caller_of(headers.get("authorization").and_then(|v| v.to_str().ok()));
                    if let super::auth::Caller::Principal(member) = &caller {
                        if let Some((perm, resource)) =
                            super::auth::permission_for(method.as_str(), uri.path(), uri.query())
                        {
                            let resource = rt.canonical_job_name(&resource);
                            if let Err(e) = rt.authorize(member, &perm, &resource) {
                                return error(e);
                            }
                        }
                    }
                    if method == Method::OPTIONS {
                        // A browser's preflight: the bucket's CORS configuration answers.
                        let mut r = StatusCode::OK.into_response();
                        add_headers(&mut r, &cors);
                        return r;
                    }
                    let mut r = super::auth::as_caller(caller, async move {
                        if let Some(r) =
                            super::storage_http::route(&rt, &method, &uri, &headers, &body)
                        {
                            return r.unwrap_or_else(error);
                        }
                        let q = parse_query(uri.query());
                        if let Some(r) =
                            super::run_v1::route(&rt, &method, &uri, &headers, &body, &q)
                        {
                            return r.unwrap_or_else(error);
                        }
                        handle(rt, method, uri, body).await
                    })
                    .await;
                    add_headers(&mut r, &cors);
                    r
                }
            },
        )
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// The CORS headers a request to a bucket's objects gets from the bucket's `cors`
/// configuration (an `Origin` header is needed; a preflight's method is the one it asks for).
fn cors_for(
    rt: &Runtime,
    method: &Method,
    uri: &Uri,
    headers: &axum::http::HeaderMap,
) -> Vec<(&'static str, String)> {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    let path = uri.path();
    let rest = [
        "/storage/v1/b/",
        "/download/storage/v1/b/",
        "/upload/storage/v1/b/",
    ]
    .iter()
    .find_map(|p| path.strip_prefix(p));
    let Some(bucket) = rest
        .and_then(|r| r.split('/').next())
        .filter(|b| !b.is_empty())
    else {
        return Vec::new();
    };
    let requested = if method == Method::OPTIONS {
        headers
            .get("access-control-request-method")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    } else {
        method.to_string()
    };
    let Ok(b) = rt.get_bucket(bucket) else {
        return Vec::new();
    };
    let mut out = super::storage::cors_headers(&b, origin, &requested);
    if method == Method::OPTIONS && !out.is_empty() {
        out.push(("access-control-allow-methods", requested));
    }
    out
}

fn add_headers(r: &mut Response, headers: &[(&'static str, String)]) {
    for (k, v) in headers {
        if let Ok(v) = axum::http::HeaderValue::from_str(v) {
            r.headers_mut().insert(*k, v);
        }
    }
}

/// The OAuth token endpoint (`token_uri` of a key that points at the runtime): the token
/// JSON, or OAuth's error JSON with 400.
fn oauth_token(rt: &Runtime, body: &Bytes) -> Response {
    let form = parse_query(Some(&String::from_utf8_lossy(body)));
    match rt.oauth_token(&form) {
        Ok(v) => json(&v),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json; charset=UTF-8")],
            serde_json::json!({"error": "invalid_grant", "error_description": e}).to_string(),
        )
            .into_response(),
    }
}

pub(super) fn json<T: Serialize>(v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(b) => (
            StatusCode::OK,
            [("content-type", "application/json; charset=UTF-8")],
            b,
        )
            .into_response(),
        Err(e) => error(ApiError::new(Code::Internal, e.to_string())),
    }
}

pub(super) fn error(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&e.body).unwrap_or_default();
    (
        status,
        [("content-type", "application/json; charset=UTF-8")],
        body,
    )
        .into_response()
}

pub(super) fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for part in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .to_string()
        };
        m.insert(dec(k), dec(v));
    }
    m
}

pub(super) fn body_as<T: DeserializeOwned + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            Code::InvalidArgument,
            format!("Invalid JSON payload received. {e}"),
        )
    })
}

fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

async fn handle(rt: Arc<Runtime>, method: Method, uri: Uri, body: Bytes) -> Response {
    let q = parse_query(uri.query());
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .to_string();
    match route(&rt, &method, &path, &q, &body).await {
        Ok(r) => r,
        Err(e) => error(e),
    }
}

async fn route(
    rt: &Arc<Runtime>,
    method: &Method,
    path: &str,
    q: &HashMap<String, String>,
    body: &Bytes,
) -> ApiResult<Response> {
    if let Some(rest) = path.strip_prefix("/runform/v1/") {
        return runform_ext(rt, method, rest, q, body).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/") {
        return v1(rt, method, rest, q, body).await;
    }
    if let (Some(p), "GET") = (path.strip_prefix("/compute/v1/projects/"), method.as_str()) {
        if !p.is_empty() && !p.contains('/') {
            return Ok(json(&super::projects::compute_project(p)));
        }
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Err(ApiError::new(
            Code::NotFound,
            format!("the local runtime does not serve {path}"),
        ));
    };
    // Cloud Logging v2 shares the /v2 prefix with Cloud Run.
    if (method.as_str(), rest) == ("POST", "entries:list") {
        return Ok(json(
            &rt.list_log_entries(&body_as::<serde_json::Value>(body)?)?,
        ));
    }
    // A project number works where a project id does.
    let canonical = rt.canonical_job_name(rest);
    let rest: &str = &canonical;
    let (resource, verb) = match rest.rsplit_once('/') {
        Some((_, last)) if last.contains(':') => {
            let i = rest.rfind(':').unwrap_or(rest.len());
            (&rest[..i], Some(&rest[i + 1..]))
        }
        _ => (rest, None),
    };
    let segs: Vec<&str> = resource.split('/').collect();
    let page = || {
        (
            q.get("pageSize").map(String::as_str),
            q.get("pageToken").map(String::as_str),
        )
    };
    let shape: Vec<&str> = segs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| *s)
        .collect();
    let odd = segs.len() % 2 == 1;
    if segs.len() < 4 || segs[0] != "projects" || segs[2] != "locations" {
        return Err(ApiError::new(
            Code::NotFound,
            format!("unknown resource {resource}"),
        ));
    }
    let m = method.as_str();
    match (shape.as_slice(), odd, m, verb) {
        // Collections (odd segment counts end in a collection name).
        (["projects", "locations", "jobs"], true, "POST", None) => {
            let parent = segs[..4].join("/");
            let job: Job = body_as(body)?;
            let id = q.get("jobId").cloned().unwrap_or_default();
            Ok(json(&rt.create_job(
                &parent,
                &id,
                job,
                flag(q, "validateOnly"),
            )?))
        }
        (["projects", "locations", "jobs"], true, "GET", None) => {
            let (ps, pt) = page();
            Ok(json(&rt.list_jobs(&segs[..4].join("/"), ps, pt)?))
        }
        (["projects", "locations", "jobs"], false, "GET", None) => Ok(json(&rt.get_job(resource)?)),
        (["projects", "locations", "jobs"], false, "PATCH", None) => {
            let job: Job = body_as(body)?;
            Ok(json(&rt.update_job(
                resource,
                job,
                flag(q, "allowMissing"),
                flag(q, "validateOnly"),
            )?))
        }
        (["projects", "locations", "jobs"], false, "DELETE", None) => Ok(json(&rt.delete_job(
            resource,
            q.get("etag").map(String::as_str),
            flag(q, "validateOnly"),
        )?)),
        (["projects", "locations", "jobs"], false, "POST", Some("run")) => {
            let req: RunJobRequest = body_as(body)?;
            let (_, op) = rt.run_job(resource, req, None)?;
            Ok(json(&op))
        }
        (
            ["projects", "locations", "jobs"],
            false,
            "GET" | "POST",
            Some(v @ ("getIamPolicy" | "setIamPolicy" | "testIamPermissions")),
        ) => job_iam(rt, resource, v, body),
        (["projects", "locations", "jobs", "executions"], true, "GET", None) => {
            let (ps, pt) = page();
            Ok(json(&rt.list_executions(&segs[..6].join("/"), ps, pt)?))
        }
        (["projects", "locations", "jobs", "executions"], false, "GET", None) => {
            Ok(json(&rt.get_execution(resource)?))
        }
        (["projects", "locations", "jobs", "executions"], false, "DELETE", None) => {
            Ok(json(&rt.delete_execution(resource)?))
        }
        (["projects", "locations", "jobs", "executions"], false, "POST", Some("cancel")) => {
            Ok(json(&rt.cancel_execution(resource)?))
        }
        (["projects", "locations", "jobs", "executions", "tasks"], true, "GET", None) => {
            let (ps, pt) = page();
            Ok(json(&rt.list_tasks(&segs[..8].join("/"), ps, pt)?))
        }
        (["projects", "locations", "jobs", "executions", "tasks"], false, "GET", None) => {
            Ok(json(&rt.get_task(resource)?))
        }
        (["projects", "locations", "operations"], true, "GET", None) => {
            let (ps, pt) = page();
            Ok(json(&rt.list_operations(&segs[..4].join("/"), ps, pt)?))
        }
        (["projects", "locations", "operations"], false, "GET", None) => {
            Ok(json(&rt.get_operation(resource)?))
        }
        (["projects", "locations", "operations"], false, "DELETE", None) => {
            rt.delete_operation(resource)?;
            Ok(json(&serde_json::json!({})))
        }
        (["projects", "locations", "operations"], false, "POST", Some("wait")) => {
            #[derive(serde::Deserialize, Default)]
            struct Req {
                #[serde(default)]
                timeout: String,
            }
            let req: Req = body_as(body)?;
            let secs = parse_duration_secs(&req.timeout)
                .unwrap_or(30.0)
                .clamp(0.0, 600.0);
            Ok(json(
                &rt.wait_operation(resource, crate::api::common::clamp_secs(secs))
                    .await?,
            ))
        }
        // As under /v1 and /storage, and as Google answers a path it does not have: 404.
        _ => Err(ApiError::new(
            Code::NotFound,
            format!("the local runtime does not serve {m} /v2/{rest}"),
        )),
    }
}

/// Secret Manager v1: `projects/P/secrets[/S[/versions[/V]]]` and their verbs; `None` for
/// any other path.
fn secret_manager(
    rt: &Arc<Runtime>,
    method: &str,
    segs: &[&str],
    resource: &str,
    verb: Option<&str>,
    q: &HashMap<String, String>,
    body: &Bytes,
) -> Option<ApiResult<Response>> {
    if segs.get(2) != Some(&"secrets") {
        return None;
    }
    let secret = segs.get(..4).map(|s| s.join("/")).unwrap_or_default();
    let value = || body_as::<serde_json::Value>(body);
    let r = (|| match (segs, method, verb) {
        (["projects", _, "secrets"], "GET", None) => {
            Ok(json(&rt.list_secrets(&segs[..2].join("/"))?))
        }
        (["projects", _, "secrets"], "POST", None) => {
            let id = q.get("secretId").map(String::as_str).unwrap_or("");
            Ok(json(&rt.create_secret(
                &segs[..2].join("/"),
                id,
                &value()?,
            )?))
        }
        (["projects", _, "secrets", _], "GET", None) => Ok(json(&rt.get_secret(resource)?)),
        (["projects", _, "secrets", _], "PATCH", None) => {
            let mask = q.get("updateMask").map(String::as_str).unwrap_or("");
            Ok(json(&rt.patch_secret(resource, &value()?, mask)?))
        }
        (["projects", _, "secrets", _], "DELETE", None) => {
            rt.delete_secret(resource)?;
            Ok(json(&serde_json::json!({})))
        }
        (["projects", _, "secrets", _], "POST", Some("addVersion")) => {
            Ok(json(&rt.add_secret_version(resource, &value()?)?))
        }
        (
            ["projects", _, "secrets", _],
            _,
            Some(v @ ("getIamPolicy" | "setIamPolicy" | "testIamPermissions")),
        ) => {
            rt.get_secret(resource)?;
            policy_verb(rt, resource, v, body)
        }
        (["projects", _, "secrets", _, "versions"], "GET", None) => {
            Ok(json(&rt.list_secret_versions(&secret)?))
        }
        (["projects", _, "secrets", _, "versions", v], "GET", None) => {
            Ok(json(&rt.get_secret_version(&secret, v)?))
        }
        (["projects", _, "secrets", _, "versions", v], "GET", Some("access")) => {
            Ok(json(&rt.access_secret_version(&secret, v)?))
        }
        (
            ["projects", _, "secrets", _, "versions", v],
            "POST",
            Some(s @ ("enable" | "disable" | "destroy")),
        ) => Ok(json(&rt.set_secret_version_state(&secret, v, s)?)),
        _ => Err(ApiError::new(
            Code::NotFound,
            format!(
                "the local runtime does not serve {method} /v1/{resource}{}",
                verb.map(|v| format!(":{v}")).unwrap_or_default()
            ),
        )),
    })();
    Some(r)
}

/// An IAM policy verb on any resource the runtime keeps policies for.
fn policy_verb(rt: &Arc<Runtime>, resource: &str, verb: &str, body: &Bytes) -> ApiResult<Response> {
    match verb {
        "getIamPolicy" => Ok(json(&rt.get_policy(resource)?)),
        "setIamPolicy" => {
            #[derive(serde::Deserialize, Default)]
            struct Req {
                #[serde(default)]
                policy: Policy,
            }
            let req: Req = body_as(body)?;
            Ok(json(&rt.set_policy(resource, req.policy)?))
        }
        _ => {
            #[derive(serde::Deserialize, serde::Serialize, Default)]
            struct Perms {
                #[serde(default, skip_serializing_if = "Vec::is_empty")]
                permissions: Vec<String>,
            }
            let req: Perms = body_as(body)?;
            // The local runtime's caller is the project owner: it holds every permission.
            Ok(json(&req))
        }
    }
}

/// A Cloud Run job's IAM policy (v2 and v1 alike).
fn job_iam(rt: &Arc<Runtime>, job: &str, verb: &str, body: &Bytes) -> ApiResult<Response> {
    if verb == "testIamPermissions" {
        rt.get_job(job)?;
    }
    policy_verb(rt, job, verb, body)
}

/// runform's own extensions (not part of any Google API): image mappings and task logs.
/// The v1 APIs: Cloud Scheduler (`projects/*/locations/*/jobs`).
async fn v1(
    rt: &Arc<Runtime>,
    method: &Method,
    rest: &str,
    q: &HashMap<String, String>,
    body: &Bytes,
) -> ApiResult<Response> {
    let (resource, verb) = match rest.rsplit_once('/') {
        Some((_, last)) if last.contains(':') => {
            let i = rest.rfind(':').unwrap_or(rest.len());
            (&rest[..i], Some(&rest[i + 1..]))
        }
        _ => (rest, None),
    };
    let segs: Vec<&str> = resource.split('/').collect();
    if let (["projects", p], "GET", None) = (segs.as_slice(), method.as_str(), verb) {
        return Ok(json(&super::projects::resource_manager_project(p)));
    }
    // Resource Manager v1 project IAM (both verbs are POST; GET accepted for reads).
    if let (["projects", _], Some("getIamPolicy")) = (segs.as_slice(), verb) {
        return Ok(json(&rt.get_policy(resource)?));
    }
    if let (["projects", _], "POST", Some("setIamPolicy")) =
        (segs.as_slice(), method.as_str(), verb)
    {
        #[derive(serde::Deserialize, Default)]
        struct Req {
            #[serde(default)]
            policy: crate::api::Policy,
        }
        let r: Req = body_as(body)?;
        return Ok(json(&rt.set_policy(resource, r.policy)?));
    }
    if let Some(r) = secret_manager(rt, method.as_str(), &segs, resource, verb, q, body) {
        return r;
    }
    // Cloud Run v1's job IAM (what gcloud calls; Cloud Scheduler's jobs have no IAM).
    if let (
        ["projects", _, "locations", _, "jobs", _],
        Some(v @ ("getIamPolicy" | "setIamPolicy" | "testIamPermissions")),
    ) = (segs.as_slice(), verb)
    {
        return job_iam(rt, resource, v, body);
    }
    // Service Usage v1.
    match (segs.as_slice(), method.as_str(), verb) {
        (["projects", _, "services", _], "GET", None) => {
            return Ok(json(&rt.get_service(resource)?))
        }
        (["projects", _, "services", _], "POST", Some("enable")) => {
            return Ok(json(&rt.set_service(resource, true)?))
        }
        (["projects", _, "services", _], "POST", Some("disable")) => {
            return Ok(json(&rt.set_service(resource, false)?))
        }
        (["projects", p, "services"], "GET", None) => return Ok(json(&rt.list_services(p)?)),
        (["projects", p, "services"], "POST", Some("batchEnable")) => {
            #[derive(serde::Deserialize, Default)]
            #[serde(rename_all = "camelCase")]
            struct Req {
                #[serde(default)]
                service_ids: Vec<String>,
            }
            let r: Req = body_as(body)?;
            return Ok(json(&rt.batch_enable_services(p, &r.service_ids)?));
        }
        _ => {}
    }
    if let (["projects", _, "serviceAccounts", target], "POST", Some("generateAccessToken")) =
        (segs.as_slice(), method.as_str(), verb)
    {
        #[derive(serde::Deserialize, Default)]
        struct Req {
            // Google's auth library sends `"delegates": null`.
            #[serde(default)]
            delegates: Option<Vec<String>>,
        }
        let r: Req = body_as(body)?;
        let delegates = r.delegates.unwrap_or_default();
        return Ok(json(&rt.generate_access_token(target, &delegates)?));
    }
    if segs.len() >= 3 && segs[0] == "projects" && segs[2] == "serviceAccounts" {
        return service_accounts(rt, method, &segs, verb, q, body);
    }
    let is_loc = segs.len() >= 4 && segs[0] == "projects" && segs[2] == "locations";
    if is_loc && segs.get(4) == Some(&"triggers") {
        let parent = segs[..4].join("/");
        return match (method.as_str(), segs.len()) {
            ("POST", 5) => {
                let id = q.get("triggerId").cloned().unwrap_or_default();
                Ok(json(&rt.create_trigger(
                    &parent,
                    &id,
                    body_as(body)?,
                    flag(q, "validateOnly"),
                )?))
            }
            ("GET", 5) => Ok(json(&rt.list_triggers(&parent)?)),
            ("GET", 6) => Ok(json(&rt.get_trigger(resource)?)),
            ("PATCH", 6) => Ok(json(&rt.patch_trigger(
                resource,
                body_as(body)?,
                q.get("updateMask").map(String::as_str).unwrap_or(""),
                flag(q, "allowMissing"),
                flag(q, "validateOnly"),
            )?)),
            ("DELETE", 6) => Ok(json(&rt.delete_trigger(
                resource,
                flag(q, "allowMissing"),
                flag(q, "validateOnly"),
            )?)),
            _ => Err(ApiError::new(
                Code::NotFound,
                format!("the local runtime does not serve {method} /v1/{resource}"),
            )),
        };
    }
    // Artifact Registry v1.
    if is_loc && segs.get(4) == Some(&"repositories") && segs.len() <= 6 {
        let parent = segs[..4].join("/");
        return match (method.as_str(), segs.len()) {
            ("POST", 5) => {
                let id = q.get("repositoryId").cloned().unwrap_or_default();
                Ok(json(&rt.create_repository(&parent, &id, body_as(body)?)?))
            }
            ("GET", 5) => Ok(json(&rt.list_repositories(&parent)?)),
            ("GET", 6) => Ok(json(&rt.get_repository(resource)?)),
            ("PATCH", 6) => {
                let v: serde_json::Value = body_as(body)?;
                Ok(json(&rt.patch_repository(
                    resource,
                    &v,
                    q.get("updateMask").map(String::as_str).unwrap_or(""),
                )?))
            }
            ("DELETE", 6) => Ok(json(&rt.delete_repository(resource)?)),
            _ => Err(ApiError::new(
                Code::NotFound,
                format!("the local runtime does not serve {method} /v1/{resource}"),
            )),
        };
    }
    if is_loc && segs.get(4) == Some(&"workflows") {
        return workflows(rt, method, resource, &segs, verb, q, body);
    }
    if is_loc && segs.len() == 6 && segs[4] == "operations" && method == Method::GET {
        return Ok(json(&rt.get_operation(resource)?));
    }
    match (method.as_str(), segs.len(), segs.get(4).copied(), verb) {
        ("POST", 5, Some("jobs"), None) if is_loc => {
            let j: SchedulerJob = body_as(body)?;
            Ok(json(&rt.create_scheduler_job(&segs[..4].join("/"), j)?))
        }
        ("GET", 5, Some("jobs"), None) if is_loc => Ok(json(&rt.list_scheduler_jobs(
            &segs[..4].join("/"),
            q.get("pageSize").map(String::as_str),
            q.get("pageToken").map(String::as_str),
        )?)),
        ("GET", 6, Some("jobs"), None) if is_loc => Ok(json(&rt.get_scheduler_job(resource)?)),
        ("PATCH", 6, Some("jobs"), None) if is_loc => {
            let j: SchedulerJob = body_as(body)?;
            let mask = q.get("updateMask").map(String::as_str).unwrap_or("");
            Ok(json(&rt.patch_scheduler_job(resource, j, mask)?))
        }
        ("DELETE", 6, Some("jobs"), None) if is_loc => {
            rt.delete_scheduler_job(resource)?;
            Ok(json(&serde_json::json!({})))
        }
        ("POST", 6, Some("jobs"), Some("pause")) if is_loc => {
            Ok(json(&rt.pause_scheduler_job(resource)?))
        }
        ("POST", 6, Some("jobs"), Some("resume")) if is_loc => {
            Ok(json(&rt.resume_scheduler_job(resource)?))
        }
        ("POST", 6, Some("jobs"), Some("run")) if is_loc => {
            Ok(json(&rt.run_scheduler_job(resource).await?))
        }
        _ => Err(ApiError::new(
            Code::NotFound,
            format!("the local runtime does not serve {method} /v1/{rest}"),
        )),
    }
}

/// Workflows v1 and Workflow Executions v1 under `projects/P/locations/L/workflows`.
fn workflows(
    rt: &Arc<Runtime>,
    method: &Method,
    resource: &str,
    segs: &[&str],
    verb: Option<&str>,
    q: &HashMap<String, String>,
    body: &Bytes,
) -> ApiResult<Response> {
    let parent = segs[..4].join("/");
    let page = (
        q.get("pageSize").map(String::as_str),
        q.get("pageToken").map(String::as_str),
    );
    match (method.as_str(), segs.len(), verb) {
        ("POST", 5, None) => {
            let id = q.get("workflowId").cloned().unwrap_or_default();
            Ok(json(&rt.create_workflow(&parent, &id, body_as(body)?)?))
        }
        ("GET", 5, None) => Ok(json(&rt.list_workflows(&parent, page.0, page.1)?)),
        ("GET", 6, None) => Ok(json(&rt.get_workflow(resource)?)),
        ("PATCH", 6, None) => Ok(json(&rt.patch_workflow(
            resource,
            body_as(body)?,
            q.get("updateMask").map(String::as_str).unwrap_or(""),
        )?)),
        ("DELETE", 6, None) => Ok(json(&rt.delete_workflow(resource)?)),
        ("POST", 7, None) if segs[6] == "executions" => Ok(json(
            &rt.create_workflow_execution(&segs[..6].join("/"), body_as(body)?)?,
        )),
        ("GET", 7, None) if segs[6] == "executions" => {
            Ok(json(&rt.list_workflow_executions(&segs[..6].join("/"))?))
        }
        ("GET", 8, None) if segs[6] == "executions" => {
            Ok(json(&rt.get_workflow_execution(resource)?))
        }
        ("POST", 8, Some("cancel")) if segs[6] == "executions" => {
            Ok(json(&rt.cancel_workflow_execution(resource)?))
        }
        _ => Err(ApiError::new(
            Code::NotFound,
            format!("the local runtime does not serve {method} /v1/{resource}"),
        )),
    }
}

/// IAM v1 `projects/P/serviceAccounts[/KEY][:verb]`.
fn service_accounts(
    rt: &Arc<Runtime>,
    method: &Method,
    segs: &[&str],
    verb: Option<&str>,
    q: &HashMap<String, String>,
    body: &Bytes,
) -> ApiResult<Response> {
    let project = segs[1];
    match (method.as_str(), segs.len(), verb) {
        ("POST", 3, None) => Ok(json(&rt.create_service_account(project, body_as(body)?)?)),
        ("GET", 3, None) => Ok(json(&rt.list_service_accounts(
            project,
            q.get("pageSize").map(String::as_str),
            q.get("pageToken").map(String::as_str),
        )?)),
        ("GET", 4, None) => Ok(json(&rt.get_service_account(project, segs[3])?)),
        ("PATCH", 4, None) => Ok(json(&rt.patch_service_account(
            project,
            segs[3],
            body_as(body)?,
        )?)),
        ("DELETE", 4, None) => {
            rt.delete_service_account(project, segs[3])?;
            Ok(json(&serde_json::json!({})))
        }
        ("POST", 4, Some(v @ ("disable" | "enable"))) => {
            rt.set_service_account_disabled(project, segs[3], v == "disable")?;
            Ok(json(&serde_json::json!({})))
        }
        _ => Err(ApiError::new(
            Code::NotFound,
            format!(
                "the local runtime does not serve {method} /v1/{}",
                segs.join("/")
            ),
        )),
    }
}

/// `POST /runform/v1/containers:check`: which of these containers this runtime cannot run.
#[derive(serde::Deserialize, Default)]
struct ContainersCheck {
    #[serde(default)]
    containers: Vec<crate::api::run::Container>,
}

async fn runform_ext(
    rt: &Arc<Runtime>,
    method: &Method,
    rest: &str,
    q: &HashMap<String, String>,
    body: &Bytes,
) -> ApiResult<Response> {
    match (method.as_str(), rest) {
        ("GET", "health") => Ok(json(
            &serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
        )),
        ("POST", "images") => {
            let m: ImageMapping = body_as(body)?;
            rt.register_image(m)?;
            Ok(json(&serde_json::json!({})))
        }
        ("GET", "images") => Ok(json(&serde_json::json!({"images": rt.images()}))),
        ("POST", "containers:check") => {
            let req: ContainersCheck = body_as(body)?;
            Ok(json(
                &serde_json::json!({"problems": rt.check_containers(&req.containers)}),
            ))
        }
        ("GET", "eventarc/deliveries") => {
            let trigger = q.get("trigger").cloned().unwrap_or_default();
            Ok(json(
                &serde_json::json!({"deliveries": rt.deliveries(&trigger)}),
            ))
        }
        ("GET", "events/started") => {
            let get = |k: &str| q.get(k).cloned().unwrap_or_default();
            Ok(json(&rt.started_by_event(
                &get("bucket"),
                &get("object"),
                &get("generation"),
            )))
        }
        ("GET", "scheduler/attempts") => {
            let job = q.get("job").cloned().unwrap_or_default();
            Ok(json(
                &serde_json::json!({"attempts": rt.scheduler_attempts(&job)?}),
            ))
        }
        ("GET", "logs") => {
            let exec = q.get("execution").cloned().unwrap_or_default();
            let task =
                match q.get("task") {
                    Some(t) => Some(t.parse::<i32>().map_err(|_| {
                        ApiError::new(Code::InvalidArgument, "task must be a number")
                    })?),
                    None => None,
                };
            let entries = rt.logs(&exec, task)?;
            Ok(json(&serde_json::json!({"entries": entries})))
        }
        _ => Err(ApiError::new(
            Code::NotFound,
            format!("unknown runform endpoint /runform/v1/{rest}"),
        )),
    }
}
