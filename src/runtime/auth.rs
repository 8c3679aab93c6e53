//! Who is calling the local runtime. A call without a token, or with a token the runtime did
//! not issue (the `access_token = "x"` emulator convention), is the local owner's and may do
//! anything, as before. The runtime issues tokens that name a service account through the
//! OAuth token endpoint (`POST /token`, the JWT-bearer grant a service account key makes when
//! its `token_uri` points here) and IAM Credentials `generateAccessToken`; a call with such a
//! token is checked against the IAM policies the runtime holds (the project's, and the job's
//! for a job) and refused with Google's 403 naming the permission. The principal is recorded
//! as a job's `creator` / `lastModifier`.
//!
//! A self-signed JWT as the bearer token (Google's client libraries send one for a service
//! account key) names its issuer the same way.
//!
//! Not checked: the assertion's signature (the runtime holds no keys: anyone on this machine
//! is the local owner anyway), `iam.serviceAccounts.actAs` on the account a job runs as.

use super::{ApiError, ApiResult, Runtime};
use crate::api::Code;
use std::collections::HashMap;

/// The local owner's identity (calls without a token of the runtime's own).
pub const OWNER_EMAIL: &str = "local-user@runform.local";

/// How long the runtime's tokens live.
const TOKEN_LIFETIME_SECS: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Owner,
    /// A member (`serviceAccount:EMAIL`).
    Principal(String),
}

tokio::task_local! {
    static CALLER: Caller;
}

/// Runs `f` as `caller` (what [`caller`] answers inside).
pub async fn as_caller<F: std::future::Future>(caller: Caller, f: F) -> F::Output {
    CALLER.scope(caller, f).await
}

/// Who makes the current request (the owner outside any request).
pub fn caller() -> Caller {
    CALLER.try_with(Clone::clone).unwrap_or(Caller::Owner)
}

/// The current caller's email, as `creator` / `lastModifier` show it.
pub fn caller_email() -> String {
    match caller() {
        Caller::Owner => OWNER_EMAIL.to_string(),
        Caller::Principal(m) => m.split_once(':').map(|(_, e)| e).unwrap_or(&m).to_string(),
    }
}

/// The tokens the runtime issued: token → member.
#[derive(Default)]
pub struct Tokens(std::sync::Mutex<HashMap<String, String>>);

impl Runtime {
    /// Who a request's `Authorization` header names.
    pub fn caller_of(&self, authorization: Option<&str>) -> Caller {
        let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Caller::Owner;
        };
        let issued = {
            let tokens = self.tokens.0.lock().unwrap_or_else(|e| e.into_inner());
            tokens.get(token.trim()).cloned()
        };
        if let Some(member) = issued {
            return Caller::Principal(member);
        }
        // A self-signed JWT (what Google's client libraries send for a service account key
        // instead of exchanging it at the token endpoint): its issuer, when that is an
        // enabled service account here.
        let sa = jwt_claims(token.trim())
            .and_then(|c| c["iss"].as_str().map(str::to_string))
            .and_then(|iss| self.find_service_account("-", &iss).ok())
            .filter(|sa| !sa.disabled);
        match sa {
            Some(sa) => Caller::Principal(format!("serviceAccount:{}", sa.email)),
            None => Caller::Owner,
        }
    }

    /// Did this runtime issue `token`?
    pub(crate) fn issued_token(&self, token: &str) -> bool {
        self.tokens
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(token)
    }

    pub(crate) fn issue_token(&self, member: &str) -> String {
        let token = format!("ya29.runform-{}", uuid::Uuid::new_v4().simple());
        self.tokens
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), member.to_string());
        token
    }

    /// The OAuth 2.0 token endpoint: the JWT-bearer grant of a service account key. Answers
    /// Google's token JSON, or its OAuth error (`invalid_grant`).
    pub fn oauth_token(&self, form: &HashMap<String, String>) -> Result<serde_json::Value, String> {
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Err("unsupported grant_type (the JWT-bearer grant is served)".into());
        }
        let assertion = form.get("assertion").ok_or("no assertion")?;
        let claims = jwt_claims(assertion).ok_or("the assertion is not a JWT")?;
        let iss = claims["iss"].as_str().ok_or("the assertion has no iss")?;
        let sa = self.find_service_account("-", iss).map_err(|_| {
            format!(
                "Invalid JWT Signature: service account {iss} does not exist on the local runtime"
            )
        })?;
        if sa.disabled {
            return Err(format!("service account {iss} is disabled"));
        }
        let token = self.issue_token(&format!("serviceAccount:{}", sa.email));
        Ok(serde_json::json!({
            "access_token": token,
            "expires_in": TOKEN_LIFETIME_SECS - 1,
            "token_type": "Bearer",
        }))
    }

    /// IAM Credentials `generateAccessToken`: a token of `target`, for a caller that holds
    /// `iam.serviceAccounts.getAccessToken` on it (through each delegate in turn).
    pub fn generate_access_token(
        &self,
        target: &str,
        delegates: &[String],
    ) -> ApiResult<serde_json::Value> {
        let mut chain: Vec<String> = delegates
            .iter()
            .map(|d| d.rsplit('/').next().unwrap_or(d).to_string())
            .collect();
        chain.push(target.to_string());
        let mut who = caller();
        for email in &chain {
            let sa = self.find_service_account("-", email).map_err(|_| {
                ApiError::new(
                    Code::NotFound,
                    format!("Not found; Gaia id not found for email {email}"),
                )
            })?;
            if let Caller::Principal(m) = &who {
                let resource = format!("projects/{}/serviceAccounts/{}", sa.project_id, sa.email);
                self.authorize(m, "iam.serviceAccounts.getAccessToken", &resource)?;
            }
            who = Caller::Principal(format!("serviceAccount:{}", sa.email));
        }
        let Caller::Principal(member) = who else {
            return Err(ApiError::new(Code::InvalidArgument, "no target"));
        };
        let expire = chrono::Utc::now() + chrono::Duration::seconds(TOKEN_LIFETIME_SECS);
        Ok(serde_json::json!({
            "accessToken": self.issue_token(&member),
            "expireTime": expire.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }))
    }

    /// Whether `member` holds `permission` on `resource` (through the project's policy, or
    /// the job's for a job and what is under it); Google's 403 if not.
    pub fn authorize(&self, member: &str, permission: &str, resource: &str) -> ApiResult<()> {
        let project = crate::api::iam::project_of(resource);
        let mut policies = vec![self.get_policy(&project).unwrap_or_default()];
        let segs: Vec<&str> = resource.split('/').collect();
        if segs.len() >= 6 && segs[4] == "jobs" && permission.starts_with("run.") {
            policies.push(self.get_policy(&segs[..6].join("/")).unwrap_or_default());
        }
        // A secret's own policy grants on it and its versions.
        if segs.len() >= 4 && segs[2] == "secrets" {
            policies.push(self.get_policy(&segs[..4].join("/")).unwrap_or_default());
        }
        if policies
            .iter()
            .any(|p| crate::api::iam::grants_at(p, member, permission, self.now()))
        {
            return Ok(());
        }
        Err(ApiError::new(
            Code::PermissionDenied,
            format!(
                "Permission '{permission}' denied on resource '{resource}' (or it may not exist)."
            ),
        ))
    }
}

/// The claims of a JWT (not verified).
fn jwt_claims(jwt: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The permission a request needs and the resource it is checked on, for the APIs the
/// runtime serves (`None`: not checked: runform's extensions, the token endpoints, health).
pub fn permission_for(method: &str, path: &str, query: Option<&str>) -> Option<(String, String)> {
    if let Some(rest) = path.strip_prefix("/storage/v1/") {
        return storage_permission(method, rest, query);
    }
    if let Some(rest) = path.strip_prefix("/upload/storage/v1/b/") {
        let bucket = rest.split('/').next()?;
        return Some((
            "storage.objects.create".into(),
            format!("projects/_/buckets/{bucket}"),
        ));
    }
    if let Some(rest) = path.strip_prefix("/download/storage/v1/b/") {
        let bucket = rest.split('/').next()?;
        return Some((
            "storage.objects.get".into(),
            format!("projects/_/buckets/{bucket}"),
        ));
    }
    if let Some(bucket) = super::storage_http::xml_bucket(method, path) {
        return Some((
            "storage.objects.get".into(),
            format!("projects/_/buckets/{bucket}"),
        ));
    }
    let rest = path
        .strip_prefix("/v2/")
        .or_else(|| path.strip_prefix("/v1/"))?;
    let (resource, verb) = match rest.rsplit_once('/') {
        Some((_, last)) if last.contains(':') => {
            let i = rest.rfind(':')?;
            (&rest[..i], Some(&rest[i + 1..]))
        }
        _ => match rest.split_once(':') {
            Some((r, v)) => (r, Some(v)),
            None => (rest, None),
        },
    };
    let segs: Vec<&str> = resource.split('/').collect();
    if segs.first() != Some(&"projects") || segs.len() < 2 {
        return None;
    }
    if verb == Some("generateAccessToken") {
        // Checked hop by hop by the handler.
        return None;
    }
    let is_collection = segs.len() % 2 == 1;
    let collection = if is_collection {
        segs[segs.len() - 1]
    } else {
        segs[segs.len() - 2]
    };
    let v2 = path.starts_with("/v2/");
    let service_collection = match (collection, v2) {
        ("projects", _) => "resourcemanager.projects",
        ("jobs", true) => "run.jobs",
        ("executions", true) => "run.executions",
        ("tasks", true) => "run.tasks",
        ("operations", true) => "run.operations",
        ("jobs", false) => "cloudscheduler.jobs",
        ("triggers", false) => "eventarc.triggers",
        ("workflows", false) => "workflows.workflows",
        ("executions", false) => "workflows.executions",
        ("serviceAccounts", false) => "iam.serviceAccounts",
        ("services", false) => "serviceusage.services",
        ("repositories", false) => "artifactregistry.repositories",
        ("secrets", false) => "secretmanager.secrets",
        ("versions", false) => "secretmanager.versions",
        _ => return None,
    };
    if verb == Some("addVersion") {
        return Some(("secretmanager.versions.add".into(), resource.to_string()));
    }
    let action = match (method, is_collection, verb) {
        (_, _, Some("testIamPermissions")) => return None,
        (_, _, Some("resume")) => "enable",
        (_, _, Some(v)) => v,
        ("GET", true, None) => "list",
        ("GET", false, None) => "get",
        ("POST", true, None) => "create",
        ("PATCH" | "PUT", _, None) => "update",
        ("DELETE", _, None) => "delete",
        _ => return None,
    };
    Some((
        format!("{service_collection}.{action}"),
        resource.to_string(),
    ))
}

fn storage_permission(method: &str, rest: &str, query: Option<&str>) -> Option<(String, String)> {
    let segs: Vec<&str> = rest.split('/').collect();
    let project = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("project="))
        .unwrap_or("_");
    let (perm, resource) = match (method, segs.as_slice()) {
        ("POST", ["b"]) => ("storage.buckets.create", format!("projects/{project}")),
        ("GET", ["b"]) => ("storage.buckets.list", format!("projects/{project}")),
        ("GET", ["b", b]) => ("storage.buckets.get", format!("projects/_/buckets/{b}")),
        ("PATCH", ["b", b]) => ("storage.buckets.update", format!("projects/_/buckets/{b}")),
        ("DELETE", ["b", b]) => ("storage.buckets.delete", format!("projects/_/buckets/{b}")),
        ("GET", ["b", b, "o"]) => ("storage.objects.list", format!("projects/_/buckets/{b}")),
        ("GET", ["b", b, "o", ..]) => ("storage.objects.get", format!("projects/_/buckets/{b}")),
        ("DELETE", ["b", b, "o", ..]) => {
            ("storage.objects.delete", format!("projects/_/buckets/{b}"))
        }
        ("PATCH" | "PUT", ["b", b, "o", _]) => {
            ("storage.objects.update", format!("projects/_/buckets/{b}"))
        }
        // Copies and rewrites create in the destination bucket; compose in its own.
        ("POST", ["b", _, "o", _, _, "b", b, "o", _]) | ("POST", ["b", b, "o", _, "compose"]) => {
            ("storage.objects.create", format!("projects/_/buckets/{b}"))
        }
        _ => return None,
    };
    Some((perm.to_string(), resource))
}

#[cfg(test)]
mod tests {
    use super::permission_for;

    #[test]
    fn permissions_of_requests() {
        let p = |m, path| permission_for(m, path, None).map(|(p, _)| p);
        assert_eq!(
            p("POST", "/v2/projects/p/locations/l/jobs").as_deref(),
            Some("run.jobs.create")
        );
        assert_eq!(
            p("GET", "/v2/projects/p/locations/l/jobs/j").as_deref(),
            Some("run.jobs.get")
        );
        assert_eq!(
            p("POST", "/v2/projects/p/locations/l/jobs/j:run").as_deref(),
            Some("run.jobs.run")
        );
        assert_eq!(
            p("POST", "/v1/projects/p/locations/l/jobs/j:pause").as_deref(),
            Some("cloudscheduler.jobs.pause")
        );
        assert_eq!(
            p("POST", "/v1/projects/p:setIamPolicy").as_deref(),
            Some("resourcemanager.projects.setIamPolicy")
        );
        assert_eq!(
            p(
                "POST",
                "/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:generateAccessToken"
            ),
            None
        );
        assert_eq!(p("GET", "/runform/v1/health"), None);
    }
}
