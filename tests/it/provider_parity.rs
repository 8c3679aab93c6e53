//! What the google provider's users see: its ids and import formats, the bucket's
//! `self_link` and upper-case `location`, and its provider-defined functions.

use super::cli_support::text;
use super::examples::cli;
use super::write;

const STACK: &str = r#"
provider "google" {
  project = "par-proj"
  region  = "us-central1"
}
resource "google_cloud_run_v2_job" "job" {
  name                = "parity"
  location            = "us-central1"
  deletion_protection = false
  template {
    template {
      containers {
        image = "us-docker.pkg.dev/cloudrun/container/job:latest"
      }
    }
  }
}
resource "google_cloud_run_v2_job_iam_member" "m" {
  name   = google_cloud_run_v2_job.job.name
  role   = "roles/run.invoker"
  member = "user:jane@example.com"
}
resource "google_cloud_run_v2_job_iam_binding" "b" {
  name    = google_cloud_run_v2_job.job.name
  role    = "roles/run.jobsExecutor"
  members = ["user:jane@example.com"]
}
resource "google_project_iam_member" "pm" {
  project = "projects/par-proj"
  role    = "roles/run.viewer"
  member  = "user:jane@example.com"
}
resource "google_storage_bucket" "b" {
  name     = "par-proj-bucket"
  location = "us-central1"
}
output "ids" {
  value = {
    job_member     = google_cloud_run_v2_job_iam_member.m.id
    job_binding    = google_cloud_run_v2_job_iam_binding.b.id
    project_member = google_project_iam_member.pm.id
    bucket_link    = google_storage_bucket.b.self_link
    bucket_loc     = google_storage_bucket.b.location
  }
}
output "parts" {
  value = [
    provider::google::name_from_id(google_cloud_run_v2_job.job.id),
    provider::google::project_from_id(google_cloud_run_v2_job.job.id),
    provider::google::location_from_id(google_cloud_run_v2_job.job.id),
    provider::google::region_from_zone("europe-west1-b"),
    provider::google::zone_from_id("projects/p/zones/us-east1-c/instances/vm"),
    provider::google::region_from_id("https://www.googleapis.com/compute/v1/projects/p/regions/asia-east1/subnetworks/s"),
  ]
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_formats_and_provider_functions_are_the_providers() {
    let server = super::local_server(None).await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "main.tf", STACK);
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d.path(), &url, &["output", "-json"]).await;
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        out["ids"]["value"],
        serde_json::json!({
            "job_member": "projects/par-proj/locations/us-central1/jobs/parity/roles/run.invoker/user:jane@example.com",
            "job_binding": "projects/par-proj/locations/us-central1/jobs/parity/roles/run.jobsExecutor",
            "project_member": "par-proj/roles/run.viewer/user:jane@example.com",
            "bucket_link": "https://www.googleapis.com/storage/v1/b/par-proj-bucket",
            "bucket_loc": "US-CENTRAL1",
        }),
        "{}",
        text(&o)
    );
    assert_eq!(
        out["parts"]["value"],
        serde_json::json!([
            "parity",
            "par-proj",
            "us-central1",
            "europe-west1",
            "us-east1-c",
            "asia-east1"
        ])
    );
    let o = cli(d.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The provider's import formats: a fresh state adopts the same objects.
    let e = tempfile::tempdir().unwrap();
    let imports = r#"
import {
  to = google_cloud_run_v2_job.job
  id = "par-proj/us-central1/parity"
}
import {
  to = google_cloud_run_v2_job_iam_member.m
  id = "projects/par-proj/locations/us-central1/jobs/parity roles/run.invoker user:jane@example.com"
}
import {
  to = google_project_iam_member.pm
  id = "par-proj roles/run.viewer user:jane@example.com"
}
import {
  to = google_storage_bucket.b
  id = "par-proj/par-proj-bucket"
}
"#;
    let only: String = STACK
        .split("resource \"google_cloud_run_v2_job_iam_binding\"")
        .next()
        .unwrap()
        .to_string()
        + "resource \"google_project_iam_member\""
        + STACK
            .split("resource \"google_project_iam_member\"")
            .nth(1)
            .unwrap()
            .split("output \"ids\"")
            .next()
            .unwrap();
    write(e.path(), "main.tf", &format!("{only}{imports}"));
    let o = cli(e.path(), &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("Resources: 4 imported, 0 added"), "{t}");
    let o = cli(e.path(), &url, &["state", "list"]).await;
    assert_eq!(text(&o).lines().count(), 4, "{}", text(&o));
    let o = cli(e.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    server.stop().await;
}

#[test]
fn a_provider_function_error_is_located() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "main.tf",
        "output \"x\" {\n  value = provider::google::project_from_id(\"no-project-here\")\n}\n",
    );
    let o = super::cli_support::runform(d.path(), &["validate", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("project_from_id") && t.contains("main.tf:2"),
        "{t}"
    );
}

fn versioned_stack(constraint: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    google = {{
      source  = "hashicorp/google"
      version = "{constraint}"
    }}
  }}
}}
provider "google" {{
  project = "ver-proj"
  region  = "us-central1"
}}
resource "google_cloud_run_v2_job" "job" {{
  name     = "versioned"
  location = "us-central1"
  template {{
    template {{
      containers {{
        image = "us-docker.pkg.dev/cloudrun/container/job:latest"
      }}
    }}
  }}
}}
resource "google_workflows_workflow" "wf" {{
  name            = "versioned"
  source_contents = "main:\n  steps:\n    - done:\n        return: 1\n"
}}
"#
    )
}

/// Configurations written for provider 5.x or 6.x get that version's defaults: 5.x jobs and
/// workflows have no deletion protection and no attribution label, 6.x protects jobs only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_providers_versions_select_that_majors_defaults() {
    let server = super::local_server(None).await;
    let url = server.url();
    let job = "projects/ver-proj/locations/us-central1/jobs/versioned";

    let d = tempfile::tempdir().unwrap();
    write(d.path(), "main.tf", &versioned_stack("~> 5.40"));
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(server.runtime.get_job(job).unwrap().labels.is_empty());
    let o = cli(d.path(), &url, &["destroy", "--auto-approve", "."]).await;
    assert!(
        o.status.success(),
        "5.x has no deletion_protection: {}",
        text(&o)
    );

    write(d.path(), "main.tf", &versioned_stack(">= 6.0, < 7.0"));
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        server
            .runtime
            .get_job(job)
            .unwrap()
            .labels
            .get("goog-terraform-provisioned")
            .map(String::as_str),
        Some("true")
    );
    let o = cli(d.path(), &url, &["destroy", "--auto-approve", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("google_cloud_run_v2_job.job")
            && !t.contains("google_workflows_workflow.wf: cannot"),
        "6.x protects jobs, not workflows: {t}"
    );
    server.stop().await;
}

#[test]
fn a_version_constraint_excluding_every_implemented_version_is_located() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "main.tf", &versioned_stack("< 5.0"));
    let o = super::cli_support::runform(d.path(), &["validate", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("excludes every version runform implements") && t.contains("main.tf:"),
        "{t}"
    );
}

fn policy_stack(policy: &str) -> String {
    format!(
        r#"
provider "google" {{
  project = "pol-proj"
  region  = "us-central1"
}}
resource "google_service_account" "sa" {{
  account_id      = "kept-account"
  deletion_policy = "{policy}"
}}
"#
    )
}

/// `deletion_policy` (provider 7.x, Terraform-only): PREVENT refuses the delete before any
/// call, ABANDON removes the object from state and leaves it, a flip changes state only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_prevents_or_abandons() {
    let server = super::local_server(None).await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "main.tf", &policy_stack("PREVENT"));
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d.path(), &url, &["destroy", "--auto-approve", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("deletion_policy is \"PREVENT\""), "{t}");

    write(d.path(), "main.tf", &policy_stack("ABANDON"));
    let o = cli(d.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("updated in state only") && t.contains("deletion_policy"),
        "{t}"
    );
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d.path(), &url, &["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d.path(), &url, &["state", "list"]).await;
    assert_eq!(text(&o).trim(), "", "abandoned: out of state");
    assert!(server
        .runtime
        .get_service_account("pol-proj", "kept-account@pol-proj.iam.gserviceaccount.com")
        .is_ok());

    write(d.path(), "main.tf", &policy_stack("KEEP"));
    let o = super::cli_support::runform(d.path(), &["validate", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("not one of DELETE, ABANDON, PREVENT") && t.contains("main.tf:8"),
        "{t}"
    );
    server.stop().await;
}

/// `timeouts {}` takes the operations the provider's type has, as Go durations; a type
/// without one (IAM) refuses it.
#[test]
fn timeouts_blocks_are_checked() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "main.tf",
        r#"
resource "google_cloud_run_v2_job" "j" {
  name     = "j"
  location = "us-central1"
  template {
    template {
      containers {
        image = "x"
      }
    }
  }
  timeouts {
    create = "30m"
    read   = "5m"
    delete = "soon"
  }
}
resource "google_project_iam_member" "m" {
  project = "p"
  role    = "roles/run.invoker"
  member  = "user:a@b.c"
  timeouts {
    create = "1m"
  }
}
"#,
    );
    let o = super::cli_support::runform(d.path(), &["validate", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("take create, update, delete, not \"read\"") && t.contains("main.tf:14"),
        "{t}"
    );
    assert!(
        t.contains("\"soon\" is not a duration") && t.contains("main.tf:15"),
        "{t}"
    );
    assert!(
        t.contains("google_project_iam_member has no timeouts block"),
        "{t}"
    );
    assert!(!t.contains("main.tf:13:"), "create = \"30m\" is fine: {t}");
}

/// A workflow without `name` gets one from `name_prefix` (as the provider's PrefixedUniqueId)
/// that later plans keep; a new prefix replaces it; `name` with `name_prefix` conflicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_names_are_generated_from_name_prefix() {
    let server = super::local_server(None).await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    let stack = |prefix: &str| {
        format!(
            r#"
provider "google" {{
  project = "gen-proj"
  region  = "us-central1"
}}
resource "google_workflows_workflow" "wf" {{
  {prefix}
  deletion_protection = false
  source_contents     = "main:\n  steps:\n    - done:\n        return: 1\n"
}}
output "name" {{
  value = google_workflows_workflow.wf.name
}}
"#
        )
    };
    write(d.path(), "main.tf", &stack("name_prefix = \"nightly-\""));
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d.path(), &url, &["output", "-raw", "name"]).await;
    let name = String::from_utf8(o.stdout).unwrap();
    assert!(
        name.starts_with("nightly-") && name.len() == "nightly-".len() + 26,
        "{name}"
    );
    assert!(server
        .runtime
        .get_workflow(&format!(
            "projects/gen-proj/locations/us-central1/workflows/{name}"
        ))
        .is_ok());
    let o = cli(d.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "the generated name is kept: {}",
        text(&o)
    );

    write(d.path(), "main.tf", &stack("name_prefix = \"weekly-\""));
    let o = cli(d.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("must be replaced") || t.contains("replaced"),
        "{t}"
    );

    write(
        d.path(),
        "main.tf",
        &stack("name = \"fixed\"\n  name_prefix = \"x-\""),
    );
    let o = super::cli_support::runform(d.path(), &["validate", "."]);
    assert!(
        text(&o).contains("name and name_prefix conflict"),
        "{}",
        text(&o)
    );
    server.stop().await;
}

/// The local runtime acts on what matters locally of a bucket's configuration: CORS answers
/// browsers' preflights and requests; lifecycle rules delete and re-class objects by age on
/// the runtime's clock; conditions it cannot judge never delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_cors_and_lifecycle_act_on_the_local_runtime() {
    let server = super::local_server(Some("2026-06-01T00:00:00Z")).await;
    let url = server.url();
    let rt = server.runtime.clone();
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "main.tf",
        r#"
provider "google" {
  project = "life-proj"
}
resource "google_storage_bucket" "b" {
  name          = "life-proj-bucket"
  location      = "US"
  force_destroy = true
  cors {
    origin          = ["https://app.example.com"]
    method          = ["GET", "PUT"]
    response_header = ["Content-Type"]
    max_age_seconds = 600
  }
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age            = 30
      matches_prefix = ["tmp/"]
    }
  }
  lifecycle_rule {
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
    condition {
      age = 10
    }
  }
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      days_since_custom_time = 1
    }
  }
}
"#,
    );
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    for name in ["tmp/a.txt", "keep/b.txt"] {
        rt.put_object("life-proj-bucket", name, "text/plain", b"x", None)
            .unwrap();
    }

    let c = reqwest::Client::new();
    let obj = format!("{url}/storage/v1/b/life-proj-bucket/o/keep%2Fb.txt");
    let pre = c
        .request(reqwest::Method::OPTIONS, &obj)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status().as_u16(), 200);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(pre.headers()["access-control-max-age"], "600");
    let get = c
        .get(&obj)
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.headers()["access-control-expose-headers"],
        "Content-Type"
    );
    let other = c
        .get(&obj)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // Day 11: the class changes; day 31: tmp/ goes, keep/ stays.
    rt.advance_clock(std::time::Duration::from_secs(11 * 86400));
    assert_eq!(rt.apply_lifecycle(), 2);
    assert_eq!(
        rt.get_object("life-proj-bucket", "keep/b.txt").unwrap()["storageClass"],
        "COLDLINE"
    );
    rt.advance_clock(std::time::Duration::from_secs(20 * 86400));
    assert_eq!(rt.apply_lifecycle(), 1);
    assert!(rt.get_object("life-proj-bucket", "tmp/a.txt").is_err());
    assert!(rt.get_object("life-proj-bucket", "keep/b.txt").is_ok());
    server.stop().await;
}

/// `providers schema -json` describes the provider block as the provider does.
#[test]
fn the_provider_block_is_in_the_schema_document() {
    let d = tempfile::tempdir().unwrap();
    let o = super::cli_support::runform(d.path(), &["providers", "schema", "-json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &doc["provider_schemas"]["registry.terraform.io/hashicorp/google"]["provider"]["block"];
    assert_eq!(p["attributes"]["access_token"]["sensitive"], true, "{p}");
    assert_eq!(p["attributes"]["credentials"]["sensitive"], true);
    for a in [
        "impersonate_service_account",
        "default_labels",
        "cloud_run_v2_custom_endpoint",
        "user_project_override",
    ] {
        assert!(p["attributes"][a].is_object(), "{a} missing");
    }
    assert!(p["block_types"]["batching"].is_object());
}

/// A trigger's `timeouts { create }` bounds the wait for its create operation: against a
/// server whose operation never finishes, the apply gives up after that long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_bound_operation_waits() {
    // Lists are empty; a create answers an operation that stays running.
    let app = axum::Router::new().fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
        let body = if method == axum::http::Method::GET && uri.path().ends_with("/triggers") {
            serde_json::json!({})
        } else {
            serde_json::json!({"name": "projects/t-proj/locations/us-central1/operations/forever", "done": false})
        };
        axum::Json(body)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serve = tokio::spawn(async move { axum::serve(listener, app).await });
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "main.tf",
        r#"
provider "google" {
  project = "t-proj"
  region  = "us-central1"
}
resource "google_eventarc_trigger" "t" {
  name     = "slow"
  location = "us-central1"
  matching_criteria {
    attribute = "type"
    value     = "google.cloud.storage.object.v1.finalized"
  }
  destination {
    http_endpoint {
      uri = "http://10.0.0.1/hook"
    }
  }
  timeouts {
    create = "1s"
  }
}
"#,
    );
    let started = std::time::Instant::now();
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("timed out after 1s"), "{t}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the default is 20 minutes"
    );
    serve.abort();
}
