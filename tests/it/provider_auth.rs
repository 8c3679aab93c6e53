//! The provider block decides who runform calls as and where: impersonation through IAM
//! Credentials, a service account key's JWT-bearer grant, custom endpoints, the user project
//! and request reason headers; the local runtime knows the caller, records it as the job's
//! creator and enforces its IAM policies. And a bogus provider argument is a located error.

use super::cli_support::text;
use super::examples::cli;
use super::write;
use runform::runtime::Server;
use std::path::Path;

const PROJECT: &str = "auth-proj";

/// Two service accounts: `deployer` may administer Cloud Run, `reader` may only read it.
const ADMIN_STACK: &str = r#"
provider "google" {
  project = "auth-proj"
  region  = "us-central1"
}
resource "google_service_account" "deployer" {
  account_id = "deployer"
}
resource "google_service_account" "reader" {
  account_id = "reader"
}
resource "google_project_iam_member" "deployer_runs" {
  project = "auth-proj"
  role    = "roles/run.admin"
  member  = google_service_account.deployer.member
}
resource "google_project_iam_member" "reader_reads" {
  project = "auth-proj"
  role    = "roles/run.viewer"
  member  = google_service_account.reader.member
}
"#;

fn job_stack(provider_extra: &str, job: &str) -> String {
    format!(
        r#"
provider "google" {{
  project = "auth-proj"
  region  = "us-central1"
  {provider_extra}
}}
resource "google_cloud_run_v2_job" "job" {{
  name                = "{job}"
  location            = "us-central1"
  deletion_protection = false
  template {{
    template {{
      containers {{
        image = "us-docker.pkg.dev/cloudrun/container/job:latest"
      }}
    }}
  }}
}}
"#
    )
}

async fn server_with_accounts() -> (Server, tempfile::TempDir) {
    let server = super::local_server(None).await;
    let admin = tempfile::tempdir().unwrap();
    write(admin.path(), "main.tf", ADMIN_STACK);
    let o = cli(
        admin.path(),
        &server.url(),
        &["apply", "--auto-approve", "."],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    (server, admin)
}

fn job_name(job: &str) -> String {
    format!("projects/{PROJECT}/locations/us-central1/jobs/{job}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_creates_as_that_account_and_a_missing_role_is_a_403() {
    let (server, _admin) = server_with_accounts().await;
    let url = server.url();
    let rt = server.runtime.clone();

    let d = tempfile::tempdir().unwrap();
    let as_deployer = job_stack(
        "impersonate_service_account = \"deployer@auth-proj.iam.gserviceaccount.com\"",
        "as-deployer",
    );
    write(d.path(), "main.tf", &as_deployer);
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let job = rt.get_job(&job_name("as-deployer")).unwrap();
    assert_eq!(job.creator, "deployer@auth-proj.iam.gserviceaccount.com");
    assert_eq!(
        job.last_modifier,
        "deployer@auth-proj.iam.gserviceaccount.com"
    );
    let o = cli(d.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The attribute reads back what the runtime recorded.
    let o = cli(
        d.path(),
        &url,
        &["state", "show", "google_cloud_run_v2_job.job"],
    )
    .await;
    assert!(
        text(&o).contains("deployer@auth-proj.iam.gserviceaccount.com"),
        "{}",
        text(&o)
    );

    // The reader may look but not create: Google's 403 naming the permission, nothing made.
    let e = tempfile::tempdir().unwrap();
    write(
        e.path(),
        "main.tf",
        &job_stack(
            "impersonate_service_account = \"reader@auth-proj.iam.gserviceaccount.com\"",
            "as-reader",
        ),
    );
    let o = cli(e.path(), &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("403") && t.contains("run.jobs.create") && t.contains("PERMISSION_DENIED"),
        "{t}"
    );
    assert!(rt.get_job(&job_name("as-reader")).is_err());

    // Commands that call without planning (`run`) take the provider block too: the reader
    // may not run the job; the deployer may, and the execution records it.
    let full = job_name("as-deployer");
    let o = cli(e.path(), &url, &["run", &full]).await;
    let t = text(&o);
    assert_ne!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("run.jobs.run"), "{t}");
    let o = cli(d.path(), &url, &["run", "as-deployer"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let execs = rt
        .list_executions(&job_name("as-deployer"), None, None)
        .unwrap();
    let execs = serde_json::to_value(&execs).unwrap();
    assert_eq!(
        execs["executions"][0]["creator"], "deployer@auth-proj.iam.gserviceaccount.com",
        "{execs}"
    );

    // Impersonating an account the caller may not impersonate fails before anything is made:
    // the deployer (no token creator role) cannot mint the reader's tokens.
    let f = tempfile::tempdir().unwrap();
    write(
        f.path(),
        "main.tf",
        &job_stack(
            "impersonate_service_account = \"deployer@auth-proj.iam.gserviceaccount.com\"\n  impersonate_service_account_delegates = [\"reader@auth-proj.iam.gserviceaccount.com\"]",
            "via-delegate",
        ),
    );
    let o = cli(f.path(), &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("iam.serviceAccounts.getAccessToken"), "{t}");
    assert!(rt.get_job(&job_name("via-delegate")).is_err());

    write(d.path(), "main.tf", &as_deployer);
    let o = cli(d.path(), &url, &["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    server.stop().await;
}

/// A service account key whose `token_uri` is the runtime's token endpoint.
fn key_json(email: &str, token_uri: &str) -> String {
    let pem = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/test-only-rsa.pem"),
    )
    .unwrap();
    serde_json::json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": token_uri,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_in_credentials_calls_as_its_account() {
    let (server, _admin) = server_with_accounts().await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "key.json",
        &key_json(
            "deployer@auth-proj.iam.gserviceaccount.com",
            &format!("{url}/token"),
        ),
    );
    write(
        d.path(),
        "main.tf",
        &job_stack("credentials = \"key.json\"", "with-key"),
    );
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let job = server.runtime.get_job(&job_name("with-key")).unwrap();
    assert_eq!(job.creator, "deployer@auth-proj.iam.gserviceaccount.com");

    // The same key for the reader, through GOOGLE_CREDENTIALS (the provider's variable).
    let e = tempfile::tempdir().unwrap();
    write(e.path(), "main.tf", &job_stack("", "reader-key"));
    let key = key_json(
        "reader@auth-proj.iam.gserviceaccount.com",
        &format!("{url}/token"),
    );
    let dir = e.path().to_path_buf();
    let url2 = url.clone();
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_runform"))
            .args(["apply", "--endpoint", &url2, "--auto-approve", "."])
            .current_dir(&dir)
            .env("GOOGLE_CREDENTIALS", key)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("run.jobs.create"), "{t}");
    assert!(
        !t.contains("BEGIN PRIVATE KEY"),
        "the key must never be printed: {t}"
    );
    assert!(server.runtime.get_job(&job_name("reader-key")).is_err());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_endpoints_route_calls_as_terraform_users_point_at_emulators() {
    let server = super::local_server(None).await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    // No --endpoint or --local: only the provider block says where the API is.
    write(
        d.path(),
        "main.tf",
        &job_stack(
            &format!("access_token = \"emulator\"\n  cloud_run_v2_custom_endpoint = \"{url}/v2/\""),
            "via-endpoint",
        ),
    );
    let o = runform_no_target(d.path(), &["apply", "-auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    // A token the runtime did not issue is the local owner's, as before.
    let job = server.runtime.get_job(&job_name("via-endpoint")).unwrap();
    assert_eq!(job.creator, "local-user@runform.local");
    let o = runform_no_target(d.path(), &["plan", "-detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    server.stop().await;
}

async fn runform_no_target(dir: &Path, args: &[&str]) -> std::process::Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        super::cli_support::runform(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_project_and_request_reason_headers_are_sent() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let record = record.clone();
        async move {
            for (k, v) in &headers {
                record
                    .lock()
                    .unwrap()
                    .push((k.to_string(), v.to_str().unwrap_or("").to_string()));
            }
            (axum::http::StatusCode::NOT_FOUND, "{}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = tokio::spawn(async move { axum::serve(listener, app).await });
    let client =
        runform::cloud::Client::new(runform::cloud::Endpoint::Custom(format!("http://{addr}")))
            .await
            .unwrap();
    client
        .configure(&runform::cloud::Settings {
            user_project: Some("billing-proj".into()),
            request_reason: Some("ticket-42".into()),
            auth: runform::cloud::auth::AuthConfig {
                access_token: Some("tok".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
    assert!(client
        .get_job("projects/p/locations/l/jobs/j")
        .await
        .unwrap()
        .is_none());
    let seen = seen.lock().unwrap().clone();
    let has = |k: &str, v: &str| seen.iter().any(|(a, b)| a == k && b == v);
    assert!(has("x-goog-user-project", "billing-proj"), "{seen:?}");
    assert!(has("x-goog-request-reason", "ticket-42"), "{seen:?}");
    assert!(has("authorization", "Bearer tok"), "{seen:?}");
    serve.abort();
}

#[test]
fn provider_arguments_are_checked_and_located() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "main.tf",
        r#"
provider "google" {
  project                      = "p"
  totally_bogus_argument       = 1
  cloud_run_v2_custom_endpont  = "http://127.0.0.1:9/v2/"
  impersonate_serviceaccount   = "x@p.iam.gserviceaccount.com"
  credentials                  = "{}"
  access_token                 = "t"
}
"#,
    );
    let o = super::cli_support::runform(d.path(), &["validate", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("\"totally_bogus_argument\" is not expected here") && t.contains("main.tf:4"),
        "{t}"
    );
    assert!(
        t.contains("did you mean \"cloud_run_v2_custom_endpoint\""),
        "{t}"
    );
    assert!(
        t.contains("did you mean \"impersonate_service_account\""),
        "{t}"
    );
    assert!(t.contains("conflicts with \"access_token\""), "{t}");
}

/// A conditional grant (`condition { expression = "request.time < timestamp(...)" }`) is
/// applied as a version-3 binding of its own, re-plans clean, and the local runtime honours
/// it: the account may create jobs until the time, not after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_conditions_on_grants_are_enforced() {
    let server = super::local_server(Some("2026-06-01T00:00:00Z")).await;
    let url = server.url();
    let rt = server.runtime.clone();
    let admin = tempfile::tempdir().unwrap();
    write(
        admin.path(),
        "main.tf",
        r#"
provider "google" {
  project = "auth-proj"
  region  = "us-central1"
}
resource "google_service_account" "temp" {
  account_id = "temp-deployer"
}
resource "google_project_iam_member" "until_july" {
  project = "auth-proj"
  role    = "roles/run.admin"
  member  = google_service_account.temp.member
  condition {
    title       = "until-july"
    description = "expires with the migration"
    expression  = "request.time < timestamp(\"2026-07-01T00:00:00Z\")"
  }
}
output "id" {
  value = google_project_iam_member.until_july.id
}
"#,
    );
    let o = cli(admin.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(admin.path(), &url, &["output", "-raw", "id"]).await;
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "auth-proj/roles/run.admin/serviceAccount:temp-deployer@auth-proj.iam.gserviceaccount.com/until-july"
    );
    let o = cli(admin.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let policy = rt.get_policy("projects/auth-proj").unwrap();
    assert_eq!(policy.version, 3);
    assert!(policy.bindings.iter().any(|b| b
        .condition
        .as_ref()
        .is_some_and(|c| c["title"] == "until-july")));

    let d = tempfile::tempdir().unwrap();
    let stack = |job: &str| {
        job_stack(
            "impersonate_service_account = \"temp-deployer@auth-proj.iam.gserviceaccount.com\"",
            job,
        )
    };
    write(d.path(), "main.tf", &stack("in-june"));
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(
        o.status.success(),
        "before the condition's time: {}",
        text(&o)
    );

    rt.advance_clock(std::time::Duration::from_secs(40 * 24 * 3600));
    let e = tempfile::tempdir().unwrap();
    write(e.path(), "main.tf", &stack("in-july"));
    let o = cli(e.path(), &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "after the condition's time: {t}");
    // Every Cloud Run call is now refused (the refresh's list first).
    assert!(
        t.contains("403 PERMISSION_DENIED") && t.contains("run.jobs."),
        "{t}"
    );
    assert!(rt.get_job(&job_name("in-july")).is_err());
    server.stop().await;
}

/// `data "google_iam_policy"` builds the `policy_data` a `_policy` resource takes, conditions
/// included; the policy applies and re-plans clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_policy_data_source_feeds_a_policy() {
    let server = super::local_server(None).await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "main.tf",
        &(job_stack("", "with-policy")
            + r#"
data "google_iam_policy" "runners" {
  binding {
    role    = "roles/run.invoker"
    members = ["user:b@example.com", "user:a@example.com"]
  }
  binding {
    role    = "roles/run.invoker"
    members = ["group:oncall@example.com"]
    condition {
      title      = "office-hours"
      expression = "request.time < timestamp(\"2030-01-01T00:00:00Z\")"
    }
  }
}
resource "google_cloud_run_v2_job_iam_policy" "p" {
  name        = google_cloud_run_v2_job.job.name
  policy_data = data.google_iam_policy.runners.policy_data
}
output "policy_data" {
  value = data.google_iam_policy.runners.policy_data
}
"#),
    );
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d.path(), &url, &["output", "-raw", "policy_data"]).await;
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        r#"{"bindings":[{"members":["user:a@example.com","user:b@example.com"],"role":"roles/run.invoker"},{"condition":{"expression":"request.time < timestamp(\"2030-01-01T00:00:00Z\")","title":"office-hours"},"members":["group:oncall@example.com"],"role":"roles/run.invoker"}]}"#
    );
    let policy = server.runtime.get_policy(&job_name("with-policy")).unwrap();
    assert_eq!(policy.bindings.len(), 2, "{policy:?}");
    assert!(policy.bindings.iter().any(|b| b.condition.is_some()));
    let o = cli(d.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    server.stop().await;
}
