//! `google_workflows_workflow` through the CLI on the local runtime.

use super::cli_support::{runform, text};
use super::write;

fn stack(extra_env: &str, grant: bool) -> String {
    let grant = if grant {
        r#"
resource "google_cloud_run_v2_job_iam_member" "wf_runs_job" {
  name   = google_cloud_run_v2_job.resize.name
  role   = "roles/run.jobsExecutorWithOverrides"
  member = google_service_account.wf.member
}"#
    } else {
        ""
    };
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
      containers {{
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo resizing $INPUT_FILE"]
      }}
    }}
  }}
}}
{grant}
resource "google_workflows_workflow" "on_upload" {{
  name            = "on-upload"
  service_account = google_service_account.wf.email
  user_env_vars   = {{ MODE = "fast"{extra_env} }}
  source_contents = <<-EOT
    main:
      params: [event]
      steps:
        - run_job:
            call: googleapis.run.v2.projects.locations.jobs.run
            args:
              name: $${{"projects/" + sys.get_env("GOOGLE_CLOUD_PROJECT_ID") + "/locations/us-central1/jobs/resize"}}
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
"#
    )
}

#[test]
fn workflow_apply_plan_update_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.tf", &stack("", true));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("warning"), "{t}");
    // The job (named in the source) is created before the workflow.
    let job = t
        .find("google_cloud_run_v2_job.resize: creating complete")
        .expect(&t);
    let wf = t
        .find("google_workflows_workflow.on_upload: creating...")
        .expect(&t);
    assert!(job < wf, "{t}");
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    write(d, "main.tf", &stack(", LEVEL = \"2\"", true));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("user_env_vars.LEVEL"), "{t}");
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Without the grant: a warning naming it.
    write(d, "main.tf", &stack("", false));
    let o = runform(d, &["validate", "."]);
    let t = text(&o);
    assert!(
        t.contains("warning")
            && t.contains("run.jobs.runWithOverrides")
            && t.contains("resize-workflow@proj"),
        "{t}"
    );

    // deletion_protection (default true since provider 6.0) refuses the destroy, before any call.
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("google_workflows_workflow.on_upload") && t.contains("deletion_protection"),
        "{t}"
    );
    let o = runform(d, &["state", "list", "--local"]);
    assert!(
        text(&o).contains("google_workflows_workflow.on_upload"),
        "{}",
        text(&o)
    );

    // Flipping it to false changes state only; then the destroy goes through.
    let applied = stack(", LEVEL = \"2\"", true);
    let unprotected = applied.replace(
        "name            = \"on-upload\"",
        "name            = \"on-upload\"\n  deletion_protection = false",
    );
    write(d, "main.tf", &unprotected);
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("updated in state only") && t.contains("deletion_protection"),
        "{t}"
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    // And back to true is planned too.
    write(d, "main.tf", &applied);
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("deletion_protection"), "{t}");
    write(d, "main.tf", &unprotected);
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn workflow_validation_is_located() {
    for (name, cfg, want) in [
        (
            "yaml",
            stack("", true).replace("    main:\n", "    main: [\n"),
            "not valid YAML",
        ),
        (
            "env",
            stack(", GOOGLE_X = \"1\"", true),
            "may not start with GOOGLE_",
        ),
        (
            "id",
            stack("", true).replace("\"on-upload\"", "\"9bad\""),
            "must be 1-64",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "main.tf", &cfg);
        let o = runform(
            dir.path(),
            &["plan", "--endpoint", "http://127.0.0.1:9", "."],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(t.contains(want) && t.contains("main.tf:"), "{name}: {t}");
    }
}
