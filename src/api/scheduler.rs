//! Cloud Scheduler v1 wire types (`cloudscheduler.v1` discovery document) and the rules the
//! API enforces, shared by the planner's validation and the local runtime.

use super::common::{enum_table, is_zero_i32, Enum, EnumTable, Status};
use super::cron::{parse_tz, Cron};
use super::run::parse_duration_secs;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

enum_table!(
    JobState,
    [
        "STATE_UNSPECIFIED",
        "ENABLED",
        "PAUSED",
        "DISABLED",
        "UPDATE_FAILED"
    ]
);
enum_table!(
    HttpMethod,
    [
        "HTTP_METHOD_UNSPECIFIED",
        "POST",
        "GET",
        "HEAD",
        "PUT",
        "DELETE",
        "PATCH",
        "OPTIONS"
    ]
);

fn enum_default<T: EnumTable>(e: &Enum<T>) -> bool {
    e.is_default()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SchedulerJob {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub schedule: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub time_zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_target: Option<HttpTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pubsub_target: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_engine_http_target: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_config: Option<RetryConfig>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub attempt_deadline: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub state: Enum<JobState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user_update_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub schedule_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_attempt_time: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub satisfies_pzs: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HttpTarget {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uri: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub http_method: Enum<HttpMethod>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Base64 bytes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_token: Option<OAuthToken>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_token: Option<OidcToken>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OAuthToken {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_account_email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OidcToken {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_account_email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub audience: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RetryConfig {
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub retry_count: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_retry_duration: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub min_backoff_duration: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub max_backoff_duration: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub max_doublings: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListSchedulerJobsResponse {
    pub jobs: Vec<SchedulerJob>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

/// The default OAuth scope Cloud Scheduler uses when none is given.
pub const DEFAULT_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Headers Cloud Scheduler computes, replaces or reserves (API reference for
/// `HttpTarget.headers`): setting them would not do what the configuration says.
pub const RESERVED_HEADERS: &[&str] = &["host", "content-length", "user-agent", "authorization"];
pub const RESERVED_HEADER_PREFIXES: &[&str] =
    &["x-google-", "x-goog-", "x-appengine-", "x-cloudscheduler"];

pub fn is_reserved_header(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    RESERVED_HEADERS.contains(&l.as_str())
        || RESERVED_HEADER_PREFIXES.iter().any(|p| l.starts_with(p))
}

/// Where a rule broke: the wire field path (camelCase, dotted) and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

/// The API's rules for a scheduler job. `Err` entries are refusals; the caller maps fields to
/// source locations.
pub fn validate_scheduler_job(j: &SchedulerJob) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut p = |field: &'static str, message: String| out.push(Problem { field, message });
    match j.schedule.as_str() {
        "" => p("schedule", "a schedule is required".into()),
        s => {
            if let Err(e) = Cron::parse(s) {
                p("schedule", format!("schedule {s:?}: {e}"));
            }
        }
    }
    if let Err(e) = parse_tz(&j.time_zone) {
        p("timeZone", e);
    }
    if j.description.chars().count() > 500 {
        p(
            "description",
            "description is longer than 500 characters".into(),
        );
    }
    if !j.attempt_deadline.is_empty() {
        match parse_duration_secs(&j.attempt_deadline) {
            None => p(
                "attemptDeadline",
                format!(
                    "attempt_deadline {:?} is not a duration like \"180s\"",
                    j.attempt_deadline
                ),
            ),
            // 0 means "the default" on the wire; otherwise 15s..30m for HTTP targets.
            Some(s) if s != 0.0 && !(15.0..=1800.0).contains(&s) => p(
                "attemptDeadline",
                format!(
                    "attempt_deadline {:?} must be between 15s and 1800s",
                    j.attempt_deadline
                ),
            ),
            _ => {}
        }
    }
    let targets = [
        j.http_target.is_some(),
        j.pubsub_target.is_some(),
        j.app_engine_http_target.is_some(),
    ];
    match targets.iter().filter(|t| **t).count() {
        0 => p("httpTarget", "a target is required (http_target)".into()),
        1 => {}
        _ => p("httpTarget", "only one target may be set".into()),
    }
    if let Some(t) = &j.http_target {
        if !(t.uri.starts_with("http://") || t.uri.starts_with("https://")) {
            p(
                "httpTarget.uri",
                format!("uri {:?} must start with http:// or https://", t.uri),
            );
        } else if t.uri.len() > 2083 {
            p(
                "httpTarget.uri",
                "uri is longer than 2083 characters".into(),
            );
        }
        if t.oauth_token.is_some() && t.oidc_token.is_some() {
            p(
                "httpTarget.oauthToken",
                "oauth_token and oidc_token are exclusive: use oauth_token for *.googleapis.com, oidc_token for other endpoints".into(),
            );
        }
        for h in t.headers.keys() {
            if is_reserved_header(h) {
                p(
                    "httpTarget.headers",
                    format!("header {h:?} is set by Cloud Scheduler and cannot be overridden"),
                );
            }
        }
        let method = t.http_method.as_str();
        if !t.body.is_empty()
            && !matches!(
                method,
                "" | "POST" | "PUT" | "PATCH" | "HTTP_METHOD_UNSPECIFIED"
            )
        {
            p(
                "httpTarget.body",
                format!("a body is only sent with POST, PUT or PATCH, not {method}"),
            );
        }
        if !t.body.is_empty() {
            use base64::Engine;
            if base64::engine::general_purpose::STANDARD
                .decode(&t.body)
                .is_err()
            {
                p("httpTarget.body", "body must be base64".into());
            }
        }
    }
    if let Some(t) = &j.pubsub_target {
        let topic = t["topicName"].as_str().unwrap_or("");
        let segs: Vec<&str> = topic.split('/').collect();
        if !(segs.len() == 4
            && segs[0] == "projects"
            && segs[2] == "topics"
            && !segs[1].is_empty()
            && !segs[3].is_empty())
        {
            p(
                "pubsubTarget.topicName",
                format!("topic_name {topic:?} must be projects/PROJECT/topics/TOPIC"),
            );
        }
        let data = t["data"].as_str().unwrap_or("");
        let has_attributes = t["attributes"].as_object().is_some_and(|a| !a.is_empty());
        if data.is_empty() && !has_attributes {
            p(
                "pubsubTarget.data",
                "a Pub/Sub message needs non-empty data or at least one attribute".into(),
            );
        }
        use base64::Engine;
        if !data.is_empty()
            && base64::engine::general_purpose::STANDARD
                .decode(data)
                .is_err()
        {
            p(
                "pubsubTarget.data",
                "data must be base64 (use base64encode())".into(),
            );
        }
    }
    if let Some(t) = &j.app_engine_http_target {
        let uri = t["relativeUri"].as_str().unwrap_or("");
        if !uri.starts_with('/') {
            p(
                "appEngineHttpTarget.relativeUri",
                format!("relative_uri {uri:?} must start with \"/\""),
            );
        }
        let method = t["httpMethod"].as_str().unwrap_or("");
        if ![
            "", "POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS",
        ]
        .contains(&method)
        {
            p(
                "appEngineHttpTarget.httpMethod",
                format!("http_method {method:?} is not one of POST, GET, HEAD, PUT, DELETE, PATCH, OPTIONS"),
            );
        }
        let body = t["body"].as_str().unwrap_or("");
        use base64::Engine;
        if !body.is_empty()
            && base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_err()
        {
            p(
                "appEngineHttpTarget.body",
                "body must be base64 (use base64encode())".into(),
            );
        }
    }
    if let Some(r) = &j.retry_config {
        if !(0..=5).contains(&r.retry_count) {
            p(
                "retryConfig.retryCount",
                format!("retry_count {} must be between 0 and 5", r.retry_count),
            );
        }
        for (f, v) in [
            ("retryConfig.maxRetryDuration", &r.max_retry_duration),
            ("retryConfig.minBackoffDuration", &r.min_backoff_duration),
            ("retryConfig.maxBackoffDuration", &r.max_backoff_duration),
        ] {
            if !v.is_empty() && parse_duration_secs(v).is_none() {
                p(f, format!("{v:?} is not a duration like \"5s\""));
            }
        }
    }
    out
}

/// Whether a URL is a Google API (which needs an OAuth token, not OIDC).
pub fn is_google_api(uri: &str) -> bool {
    let host = uri
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host.ends_with(".googleapis.com")
}

/// If `uri` is a Cloud Run job's `:run` URL, the job's full name: the v2 form
/// `.../v2/projects/P/locations/L/jobs/J:run`, or the v1 form Google's sample uses,
/// `https://L-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/P/jobs/J:run`.
pub fn run_job_target(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once("://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.split('?').next().unwrap_or("");
    if let Some(p) = path.strip_prefix("v2/") {
        let name = p.strip_suffix(":run")?;
        let segs: Vec<&str> = name.split('/').collect();
        if segs.len() == 6 && segs[0] == "projects" && segs[2] == "locations" && segs[4] == "jobs" {
            return Some(name.to_string());
        }
        return None;
    }
    if let Some(p) = path.strip_prefix("apis/run.googleapis.com/v1/namespaces/") {
        let (project, job) = p.strip_suffix(":run")?.split_once("/jobs/")?;
        let host = host.split(':').next().unwrap_or(host);
        let region = host.strip_suffix("-run.googleapis.com")?;
        if project.is_empty() || job.is_empty() || job.contains('/') {
            return None;
        }
        return Some(format!("projects/{project}/locations/{region}/jobs/{job}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(v: serde_json::Value) -> SchedulerJob {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn python_client_body_parses_with_int_enums() {
        let j = job(
            serde_json::json!({"name":"projects/p/locations/us-central1/jobs/nightly","description":"d","httpTarget":{"uri":"https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/myjob:run","httpMethod":1,"headers":{"Content-Type":"application/json"},"body":"eyJvdmVycmlkZXMiOnt9fQ==","oauthToken":{"serviceAccountEmail":"sa@p.iam.gserviceaccount.com","scope":"https://www.googleapis.com/auth/cloud-platform"}},"retryConfig":{"retryCount":2,"maxRetryDuration":"0s","minBackoffDuration":"5s","maxBackoffDuration":"3600s","maxDoublings":5},"schedule":"0 3 * * *","timeZone":"America/New_York","attemptDeadline":"180s"}),
        );
        assert_eq!(j.http_target.as_ref().unwrap().http_method.as_str(), "POST");
        assert!(
            validate_scheduler_job(&j).is_empty(),
            "{:?}",
            validate_scheduler_job(&j)
        );
    }

    #[test]
    fn rules() {
        let j = job(serde_json::json!({
            "schedule": "61 * * * *", "timeZone": "Nowhere/Land", "attemptDeadline": "5s",
            "httpTarget": {"uri": "ftp://x", "httpMethod": "GET", "body": "e30=",
                "headers": {"User-Agent": "me", "X-Goog-Foo": "1", "X-Ok": "1"},
                "oauthToken": {"serviceAccountEmail": "a@b"}, "oidcToken": {"serviceAccountEmail": "a@b"}},
            "retryConfig": {"retryCount": 6}
        }));
        let fields: Vec<&str> = validate_scheduler_job(&j).iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "schedule",
                "timeZone",
                "attemptDeadline",
                "httpTarget.uri",
                "httpTarget.oauthToken",
                "httpTarget.headers",
                "httpTarget.headers",
                "httpTarget.body",
                "retryConfig.retryCount"
            ]
        );
    }

    #[test]
    fn run_urls() {
        assert_eq!(
            run_job_target(
                "https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/etl:run"
            )
            .as_deref(),
            Some("projects/p/locations/us-central1/jobs/etl")
        );
        assert_eq!(
            run_job_target("https://europe-west1-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/p/jobs/etl:run").as_deref(),
            Some("projects/p/locations/europe-west1/jobs/etl")
        );
        assert_eq!(run_job_target("https://example.com/run"), None);
        assert_eq!(
            run_job_target("https://run.googleapis.com/v2/projects/p/locations/l/jobs/etl"),
            None
        );
        assert!(is_google_api("https://run.googleapis.com/v2/x"));
        assert!(!is_google_api("https://my-svc.a.run.app/"));
    }
}
