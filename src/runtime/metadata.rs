//! A metadata server for an execution's tasks, as Cloud Run gives every instance one: each
//! execution gets its own on 127.0.0.1 (a fresh port), announced to its tasks through
//! `GCE_METADATA_HOST` and `GCE_METADATA_IP`. It answers the paths Google's client libraries
//! read (project id and number, region, instance id, and the job's service account: email,
//! scopes, access token, identity token), requires `Metadata-Flavor: Google` as Google's does,
//! and marks every answer with it. The access tokens it issues name the job's account, so a
//! task's calls back to the runtime are made as that account and checked against the IAM
//! policies the runtime holds.

use super::Runtime;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// Who an execution's tasks are.
#[derive(Debug, Clone)]
pub struct Identity {
    pub project: String,
    pub number: String,
    pub region: String,
    /// The job's service account (the project's default compute account when unset).
    pub email: String,
    pub instance_id: String,
}

impl Identity {
    /// The identity of an execution of `job_name` running as `service_account` (may be empty).
    pub fn of(job_name: &str, service_account: &str) -> Identity {
        let (project, region) =
            crate::api::run::project_location(job_name).unwrap_or(("local", "local"));
        let number = super::workflows_api::project_number(project);
        let email = if service_account.is_empty() {
            format!("{number}-compute@developer.gserviceaccount.com")
        } else {
            service_account
                .rsplit('/')
                .next()
                .unwrap_or(service_account)
                .to_string()
        };
        Identity {
            project: project.to_string(),
            number,
            region: region.to_string(),
            email,
            instance_id: format!("{:032x}", uuid::Uuid::new_v4().as_u128()),
        }
    }
}

/// A running metadata server; stops when dropped.
pub struct MetadataServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MetadataServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a metadata server for `id` on 127.0.0.1 (None if no port could be bound: tasks
/// then run without one, as before).
pub async fn start(rt: Arc<Runtime>, id: Identity) -> Option<MetadataServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
    let addr = listener.local_addr().ok()?;
    let id = Arc::new(id);
    let port = addr.port();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let (rt, id) = (rt.clone(), id.clone());
        async move {
            if !metadata_host(&headers, port) {
                // A DNS-rebinding page names its own host: it must not read the tokens.
                return reply(
                    StatusCode::FORBIDDEN,
                    "text/plain",
                    "Host is not the metadata server's\n".into(),
                );
            }
            answer(&rt, &id, &uri, &headers)
        }
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Some(MetadataServer { addr, task })
}

/// Is the request's `Host` the metadata server's own (its loopback address and port, or the
/// names Google's metadata server answers to)?
fn metadata_host(headers: &HeaderMap, port: u16) -> bool {
    let Some(host) = headers.get("host").and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let name = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    matches!(
        name.as_str(),
        "metadata.google.internal" | "metadata.google.internal." | "metadata" | "169.254.169.254"
    ) || super::guard::own_authority(host, Some(port))
}

const SCOPES: &[&str] = &["https://www.googleapis.com/auth/cloud-platform"];

fn reply(status: StatusCode, content_type: &str, body: String) -> Response {
    let etag = format!("{:016x}", crc32fast::hash(body.as_bytes()));
    (
        status,
        [
            ("metadata-flavor", "Google".to_string()),
            ("content-type", content_type.to_string()),
            ("etag", etag),
        ],
        body,
    )
        .into_response()
}

fn text(body: impl Into<String>) -> Response {
    reply(StatusCode::OK, "application/text", body.into())
}

fn json(v: serde_json::Value) -> Response {
    reply(StatusCode::OK, "application/json", v.to_string())
}

fn not_found() -> Response {
    reply(StatusCode::NOT_FOUND, "text/html", "Not Found".into())
}

fn answer(rt: &Runtime, id: &Identity, uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path();
    if path == "/" {
        // The libraries' probe: a 200 with the header is "on Google Cloud".
        return text("computeMetadata/\n");
    }
    if headers.contains_key("x-forwarded-for") {
        return reply(
            StatusCode::FORBIDDEN,
            "text/html",
            "X-Forwarded-For is not allowed".into(),
        );
    }
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return reply(
            StatusCode::FORBIDDEN,
            "text/html",
            "Missing required header \"Metadata-Flavor\": \"Google\"".into(),
        );
    }
    let Some(rest) = path.strip_prefix("/computeMetadata/v1/") else {
        return not_found();
    };
    let query = uri.query().unwrap_or("");
    let recursive = query.split('&').any(|kv| kv == "recursive=true");
    let account = |r: &str| -> Option<String> {
        let r = r.strip_prefix("instance/service-accounts/")?;
        let (who, what) = r.split_once('/').unwrap_or((r, ""));
        (who == "default" || who == id.email).then(|| what.to_string())
    };
    match rest {
        "project/project-id" => text(id.project.clone()),
        "project/numeric-project-id" => text(id.number.clone()),
        "instance/region" => text(format!("projects/{}/regions/{}", id.number, id.region)),
        "instance/zone" => text(format!("projects/{}/zones/{}-1", id.number, id.region)),
        "instance/id" => text(id.instance_id.clone()),
        "universe/universe-domain" => text("googleapis.com"),
        "instance/service-accounts/" if !recursive => text(format!("default/\n{}/\n", id.email)),
        r => match account(r).as_deref() {
            Some("") if recursive => json(serde_json::json!({
                "aliases": ["default"], "email": id.email, "scopes": SCOPES,
            })),
            Some("email") => text(id.email.clone()),
            Some("scopes") => text(format!("{}\n", SCOPES.join("\n"))),
            Some("aliases") => text("default\n"),
            Some("token") => json(serde_json::json!({
                "access_token": rt.issue_token(&format!("serviceAccount:{}", id.email)),
                "expires_in": 3599,
                "token_type": "Bearer",
            })),
            Some("identity") => {
                let audience = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("audience="))
                    .map(|a| {
                        percent_encoding::percent_decode_str(a)
                            .decode_utf8_lossy()
                            .to_string()
                    });
                match audience {
                    Some(a) if !a.is_empty() => text(identity_token(id, &a)),
                    _ => reply(
                        StatusCode::BAD_REQUEST,
                        "text/html",
                        "non-empty audience parameter required".into(),
                    ),
                }
            }
            _ => not_found(),
        },
    }
}

/// An identity token for the account (its payload decodes as Google's do; it is not signed
/// by Google, and the runtime does not check it).
fn identity_token(id: &Identity, audience: &str) -> String {
    use base64::Engine;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = chrono::Utc::now().timestamp();
    let header = b64(serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "runform-local"}));
    let payload = b64(serde_json::json!({
        "aud": audience, "azp": id.email, "email": id.email, "email_verified": true,
        "exp": now + 3600, "iat": now, "iss": "https://accounts.google.com", "sub": id.email,
    }));
    format!("{header}.{payload}.runform-local-unsigned")
}
