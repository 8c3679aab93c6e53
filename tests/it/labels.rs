//! Labels as the google provider ≥ 5 manages them: `labels` manages only the keys it names,
//! `terraform_labels` = provider `default_labels` + `labels` (+ the attribution label on
//! create), `effective_labels` = everything on the object; a label someone else set is not a
//! diff and is never removed.

use super::cli_support::text;
use super::examples::cli;
use super::write;

fn stack(team: Option<&str>, provider_extra: &str) -> String {
    let labels = match team {
        Some(t) => format!("labels = {{ team = \"{t}\" }}"),
        None => String::new(),
    };
    format!(
        r#"
provider "google" {{
  project        = "lab-proj"
  region         = "us-central1"
  default_labels = {{ env = "prod" }}
  {provider_extra}
}}
resource "google_cloud_run_v2_job" "job" {{
  name                = "labelled"
  location            = "us-central1"
  deletion_protection = false
  {labels}
  template {{
    template {{
      containers {{
        image = "us-docker.pkg.dev/cloudrun/container/job:latest"
      }}
    }}
  }}
}}
resource "google_storage_bucket" "b" {{
  name          = "lab-proj-labelled"
  location      = "US"
  force_destroy = true
  {labels}
}}
output "tf_labels" {{
  value = google_cloud_run_v2_job.job.terraform_labels
}}
"#
    )
}

const JOB: &str = "projects/lab-proj/locations/us-central1/jobs/labelled";

fn labels_of(v: &serde_json::Value) -> serde_json::Value {
    v["labels"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_not_authoritative_and_default_and_attribution_labels_apply() {
    let server = super::local_server(None).await;
    let url = server.url();
    let rt = server.runtime.clone();
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(p, "main.tf", &stack(Some("a"), ""));
    let o = cli(p, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let want =
        serde_json::json!({"env": "prod", "team": "a", "goog-terraform-provisioned": "true"});
    let job = serde_json::to_value(rt.get_job(JOB).unwrap()).unwrap();
    assert_eq!(labels_of(&job), want);
    assert_eq!(
        labels_of(&rt.get_bucket("lab-proj-labelled").unwrap()),
        want
    );
    let o = cli(p, &url, &["output", "-json", "tf_labels"]).await;
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out, want, "{}", text(&o));
    let o = cli(p, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Someone else labels both objects: not a diff.
    let mut job: runform::api::run::Job = rt.get_job(JOB).unwrap();
    job.labels.insert("owner".into(), "ops".into());
    // Annotations too (the provider treats them like labels).
    job.annotations
        .insert("other.example.com/ticket".into(), "T-1".into());
    rt.update_job(JOB, job, false, false).unwrap();
    rt.patch_bucket(
        "lab-proj-labelled",
        &serde_json::json!({"labels": {"env": "prod", "team": "a", "goog-terraform-provisioned": "true", "owner": "ops"}}),
    )
    .unwrap();
    let o = cli(p, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "a label someone else set is not a diff:\n{}",
        text(&o)
    );

    // Changing ours changes only ours; theirs stays.
    write(p, "main.tf", &stack(Some("b"), ""));
    let o = cli(p, &url, &["plan", "--detailed-exitcode", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("labels.team") && !t.contains("labels.owner"),
        "{t}"
    );
    let o = cli(p, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let job = serde_json::to_value(rt.get_job(JOB).unwrap()).unwrap();
    assert_eq!(job["labels"]["team"], "b");
    assert_eq!(job["labels"]["owner"], "ops");
    assert_eq!(job["annotations"]["other.example.com/ticket"], "T-1");
    assert_eq!(
        rt.get_bucket("lab-proj-labelled").unwrap()["labels"]["owner"],
        "ops"
    );

    // Dropping ours removes ours only.
    write(p, "main.tf", &stack(None, ""));
    let o = cli(p, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let job = serde_json::to_value(rt.get_job(JOB).unwrap()).unwrap();
    assert_eq!(
        labels_of(&job),
        serde_json::json!({"env": "prod", "goog-terraform-provisioned": "true", "owner": "ops"})
    );
    let o = cli(p, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = cli(p, &url, &["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attribution_label_follows_the_provider_settings() {
    let server = super::local_server(None).await;
    let url = server.url();
    let rt = server.runtime.clone();
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "main.tf",
        &stack(Some("a"), "add_terraform_attribution_label = false"),
    );
    let o = cli(p, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let job = serde_json::to_value(rt.get_job(JOB).unwrap()).unwrap();
    assert_eq!(
        labels_of(&job),
        serde_json::json!({"env": "prod", "team": "a"})
    );

    // CREATE_ONLY (the default): turning it on does not label what exists.
    write(p, "main.tf", &stack(Some("a"), ""));
    let o = cli(p, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // PROACTIVE labels existing objects too.
    write(
        p,
        "main.tf",
        &stack(
            Some("a"),
            "terraform_attribution_label_addition_strategy = \"PROACTIVE\"",
        ),
    );
    let o = cli(p, &url, &["plan", "--detailed-exitcode", "."]).await;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("goog-terraform-provisioned"), "{t}");
    let o = cli(p, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let job = serde_json::to_value(rt.get_job(JOB).unwrap()).unwrap();
    assert_eq!(job["labels"]["goog-terraform-provisioned"], "true");
    let o = cli(p, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    server.stop().await;
}
