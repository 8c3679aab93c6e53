//! `google_eventarc_trigger` with a workflow destination, end to end through the CLI on the
//! local runtime: apply, plan clean, an upload runs the job with the file's name.

use super::cli_support::{runform, text};
use super::write;

/// Eventarc → Workflows → a Cloud Run job that "resizes" the uploaded file (and fails for
/// files named `bad*`), with the accounts and roles Google's pattern needs.
pub fn stack(criteria: &str) -> String {
    format!(
        r#"
provider "google" {{
  project = "proj"
  region  = "us-central1"
}}
resource "google_service_account" "wf" {{
  account_id = "resize-workflow"
}}
resource "google_cloud_run_v2_job" "resize" {{
  name                = "resize"
  location            = "us-central1"
  deletion_protection = false
  template {{
    template {{
      max_retries = 0
      containers {{
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo resizing $INPUT_FILE; case $INPUT_FILE in *bad*) exit 3;; esac"]
      }}
    }}
  }}
}}
resource "google_cloud_run_v2_job_iam_member" "wf_runs_resize" {{
  name   = google_cloud_run_v2_job.resize.name
  role   = "roles/run.jobsExecutorWithOverrides"
  member = google_service_account.wf.member
}}
resource "google_workflows_workflow" "on_upload" {{
  name            = "on-upload"
  deletion_protection = false
  service_account = google_service_account.wf.email
  source_contents = <<-EOT
    main:
      params: [event]
      steps:
        - run_job:
            call: googleapis.run.v2.projects.locations.jobs.run
            args:
              name: projects/proj/locations/us-central1/jobs/resize
              body:
                overrides:
                  containerOverrides:
                    - env:
                        - name: INPUT_FILE
                          value: $${{event.data.name}}
            result: execution
        - done:
            return: $${{execution.name}}
  EOT
}}
resource "google_project_iam_member" "wf_invokes_workflows" {{
  role   = "roles/workflows.invoker"
  member = google_service_account.wf.member
}}
resource "google_eventarc_trigger" "uploads" {{
  name            = "uploads"
  location        = "us-central1"
  service_account = google_service_account.wf.email
  depends_on      = [google_project_iam_member.wf_invokes_workflows]
  {criteria}
  destination {{
    workflow = google_workflows_workflow.on_upload.id
  }}
}}
"#
    )
}

pub const TYPE_FIRST: &str = r#"matching_criteria {
    attribute = "type"
    value     = "google.cloud.storage.object.v1.finalized"
  }
  matching_criteria {
    attribute = "bucket"
    value     = "input-proj"
  }"#;

#[test]
fn upload_runs_the_job_through_trigger_and_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.tf", &stack(TYPE_FIRST));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The criteria are a set: another order is no change.
    let swapped = {
        let (a, b) = TYPE_FIRST.split_at(
            TYPE_FIRST
                .find("  matching_criteria {\n    attribute = \"bucket\"")
                .unwrap(),
        );
        format!("{}\n{}", b.trim_start(), a.trim_end())
    };
    write(d, "main.tf", &stack(&swapped));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    write(d, "photo.jpg", "jpeg bytes");
    let ds = d.to_str().unwrap();
    let o = runform(
        d,
        &[
            "local",
            "upload",
            "--create-bucket",
            "--dir",
            ds,
            "photo.jpg",
            "gs://input-proj/photos/cat.jpg",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["executions", "--local", "resize"]);
    let t = text(&o);
    assert!(o.status.success() && t.contains("resize-"), "{t}");
    let exec = t
        .split_whitespace()
        .find(|w| w.starts_with("resize-"))
        .unwrap()
        .to_string();
    let o = runform(d, &["logs", "--local", &exec]);
    let t = text(&o);
    assert!(t.contains("resizing photos/cat.jpg"), "{t}");

    // A changed criterion cannot be updated in place: replace.
    write(
        d,
        "main.tf",
        &stack(&TYPE_FIRST.replace("input-proj", "other-bucket")),
    );
    let o = runform(d, &["plan", "--local", "."]);
    assert!(text(&o).contains("must be replaced"), "{}", text(&o));
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn trigger_validation() {
    for (name, criteria, want) in [
        (
            "no type",
            "matching_criteria {\n attribute = \"bucket\"\n value = \"b\"\n }",
            "attribute = \"type\"",
        ),
        (
            "operator",
            &*TYPE_FIRST.replace(
                "value     = \"input-proj\"",
                "value = \"x\"\n operator = \"prefix\"",
            ),
            "only \"match-path-pattern\"",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "main.tf", &stack(criteria));
        let o = runform(
            dir.path(),
            &["plan", "--endpoint", "http://127.0.0.1:9", "."],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(t.contains(want) && t.contains("main.tf:"), "{name}: {t}");
    }
}

#[test]
fn a_trigger_account_without_workflows_invoker_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let without = stack(TYPE_FIRST)
        .replace(
            "resource \"google_project_iam_member\" \"wf_invokes_workflows\"",
            "resource \"google_project_iam_member\" \"wf_reads_logs\"",
        )
        .replace("roles/workflows.invoker", "roles/logging.viewer")
        .replace(
            "google_project_iam_member.wf_invokes_workflows",
            "google_project_iam_member.wf_reads_logs",
        );
    write(d, "main.tf", &without);
    let o = runform(d, &["validate", "."]);
    let t = text(&o);
    assert!(o.status.success() && t.contains("google_eventarc_trigger.uploads starts its workflow as serviceAccount:resize-workflow@proj.iam.gserviceaccount.com, but nothing in this configuration grants it workflows.executions.create"), "{t}");
    write(d, "main.tf", &stack(TYPE_FIRST));
    let o = runform(d, &["validate", "."]);
    assert!(
        !text(&o).contains("workflows.executions.create"),
        "{}",
        text(&o)
    );
}
