//! examples/modules through the CLI: the shipped modules apply, plan clean, fire on schedule
//! and on upload, and a for_each key added or removed touches exactly that instance.

use super::cli_support::text;
use super::examples::{cli, copy_example};
use runform::runtime::{RuntimeConfig, Server};
use std::time::Duration;

fn planned(t: &str) -> Vec<String> {
    t.lines()
        .filter_map(|l| l.trim().strip_prefix("# "))
        .filter(|l| l.contains(" will be ") || l.contains(" must be "))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modules_example_fires_on_schedule_and_upload_and_for_each_is_exact() {
    // 03:59 UTC: one minute before 06:00 in Berlin (CEST) and before the hour.
    let cfg = RuntimeConfig {
        manual_clock: Some("2026-06-01T03:59:00Z".parse().unwrap()),
        ..Default::default()
    };
    let server = Server::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_example("modules", d);
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("Resources: 15 added"), "{t}");
    assert!(!t.contains("warning"), "{t}");
    let o = cli(d, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "apply then plan must be clean:\n{}",
        text(&o)
    );

    // Both schedules fire at 04:00 UTC and run their jobs as the module's account.
    let rt = &server.runtime;
    rt.advance_clock(Duration::from_secs(60));
    assert_eq!(rt.scheduler_tick().await, 2);
    let parent = "projects/runform-local/locations/us-central1";
    for (job, tasks) in [("report-hourly", 1), ("report-daily", 3)] {
        let attempt = rt
            .scheduler_attempts(&format!("{parent}/jobs/{job}"))
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(attempt.code, 0, "{job}: {}", attempt.message);
        let mut exec = rt.get_execution(&attempt.execution).unwrap();
        for _ in 0..1000 {
            if exec.is_done() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            exec = rt.get_execution(&attempt.execution).unwrap();
        }
        assert_eq!(exec.succeeded_count, tasks, "{exec:?}");
    }

    // An upload to the module's bucket runs the ingest job with the object's name.
    let r = reqwest::Client::new()
        .post(format!(
            "{url}/upload/storage/v1/b/ingest-runform-local/o?uploadType=media&name=in/data.csv"
        ))
        .header("content-type", "text/csv")
        .body("a,b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut logs = String::new();
    for _ in 0..500 {
        let o = cli(d, &url, &["executions", "ingest"]).await;
        let t = text(&o);
        if let Some(exec) = t.split_whitespace().find(|w| w.starts_with("ingest-")) {
            if t.contains("succeeded") {
                logs = text(&cli(d, &url, &["logs", exec]).await);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        logs.contains("ingesting gs://ingest-runform-local/in/data.csv"),
        "{logs}"
    );

    // One key fewer: exactly that module instance's four resources are destroyed.
    let only_hourly = "reports={hourly={schedule=\"0 * * * *\"}}";
    let o = cli(d, &url, &["plan", "--var", only_hourly, "."]).await;
    let t = text(&o);
    assert!(
        t.contains("Plan: 0 to add, 0 to change, 4 to destroy"),
        "{t}"
    );
    let p = planned(&t);
    assert_eq!(p.len(), 4, "{t}");
    assert!(p.iter().all(|l| l.starts_with("module.report[\"daily\"].") && l.ends_with("will be destroyed")), "{p:?}");
    let o = cli(
        d,
        &url,
        &["plan", "--format", "json", "--var", only_hourly, "."],
    )
    .await;
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let reasons: Vec<&str> = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["actions"] == serde_json::json!(["delete"]))
        .map(|c| c["action_reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["delete_because_no_module"; 4], "{j}");

    // One key more: exactly the new instance is created.
    let three = "reports={hourly={schedule=\"0 * * * *\"}, daily={schedule=\"0 6 * * *\", tasks=3, time_zone=\"Europe/Berlin\"}, weekly={schedule=\"0 0 * * 1\"}}";
    let o = cli(d, &url, &["apply", "--auto-approve", "--var", three, "."]).await;
    let t = text(&o);
    assert!(
        t.contains("Resources: 4 added, 0 changed, 0 destroyed"),
        "{t}"
    );
    assert!(rt
        .get_scheduler_job(&format!("{parent}/jobs/report-weekly"))
        .is_ok());
    let o = cli(
        d,
        &url,
        &["plan", "--detailed-exitcode", "--var", three, "."],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = cli(d, &url, &["destroy", "--auto-approve", "--var", three, "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("19 destroyed"), "{}", text(&o));
    server.stop().await;
}

#[test]
fn prevent_destroy_refuses_plans_that_would_destroy_or_replace() {
    use super::cli_support::runform;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |name: &str, protect: bool| {
        format!(
            r#"
resource "google_cloud_run_v2_job" "j" {{
  name                = "{name}"
  location            = "us-central1"
  deletion_protection = false
  lifecycle {{
    prevent_destroy = {protect}
  }}
  template {{
    template {{
      containers {{
        image = "busybox"
      }}
    }}
  }}
}}
"#
        )
    };
    super::write(d, "main.tf", &stack("a", true));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    // A new name replaces the job: refused, located at the resource.
    super::write(d, "main.tf", &stack("b", true));
    let o = runform(d, &["plan", "--local", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("google_cloud_run_v2_job.j: lifecycle.prevent_destroy forbids this plan, which would replace") && t.contains("main.tf:2"), "{t}");
    super::write(d, "main.tf", &stack("a", true));
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(
        !o.status.success() && text(&o).contains("would destroy"),
        "{}",
        text(&o)
    );
    // Lifting the protection lets it go.
    super::write(d, "main.tf", &stack("a", false));
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn output_prints_state_outputs_hiding_sensitive_ones() {
    use super::cli_support::runform;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    super::write(
        d,
        "main.tf",
        r#"
variable "token" {
  type      = string
  default   = "hunter2-secret"
  sensitive = true
}
resource "google_cloud_run_v2_job" "j" {
  name                = "out-job"
  location            = "us-central1"
  deletion_protection = false
  template {
    template {
      containers {
        image = "busybox"
      }
    }
  }
}
output "job" { value = google_cloud_run_v2_job.j.name }
output "ids" { value = { job = google_cloud_run_v2_job.j.id, n = 2 } }
output "token" {
  value     = var.token
  sensitive = true
}
"#,
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success() && !t.contains("hunter2"), "{t}");
    let o = runform(d, &["output", "--local"]);
    let t = text(&o);
    assert!(
        t.contains("job = \"out-job\"")
            && t.contains("token = <sensitive>")
            && !t.contains("hunter2"),
        "{t}"
    );
    let o = runform(d, &["output", "--local", "--raw", "job"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "out-job",
        "as Terraform: no newline after a raw value"
    );
    let o = runform(d, &["output", "--local", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["ids"]["type"],
        serde_json::json!(["object", {"job": "string", "n": "number"}])
    );
    assert_eq!(
        v["ids"]["value"]["job"],
        "projects/runform-local/locations/us-central1/jobs/out-job"
    );
    assert_eq!(
        (
            v["token"]["sensitive"].as_bool(),
            v["job"]["sensitive"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let o = runform(d, &["output", "--local", "jbo"]);
    assert!(
        !o.status.success() && text(&o).contains("did you mean \"job\""),
        "{}",
        text(&o)
    );
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn ignore_changes_replace_triggered_by_and_conditions() {
    use super::cli_support::runform;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |team: &str, image: &str, ignore: &str| {
        format!(
            r#"
variable "team" {{
  type    = string
  default = "{team}"
}}
resource "google_cloud_run_v2_job" "a" {{
  name                = "a"
  location            = "us-central1"
  deletion_protection = false
  labels              = {{ team = var.team }}
  lifecycle {{
    ignore_changes = {ignore}
    precondition {{
      condition     = length(var.team) > 2
      error_message = "team names have at least 3 letters."
    }}
  }}
  template {{
    template {{
      containers {{
        image = "{image}"
      }}
    }}
  }}
}}
resource "google_cloud_run_v2_job" "b" {{
  name                = "b"
  location            = "us-central1"
  deletion_protection = false
  lifecycle {{
    replace_triggered_by = [google_cloud_run_v2_job.a.id]
    postcondition {{
      condition     = self.etag != ""
      error_message = "b has an etag."
    }}
  }}
  template {{
    template {{
      containers {{
        image = "busybox"
      }}
    }}
  }}
}}
"#
        )
    };
    super::write(d, "main.tf", &stack("data", "busybox", "[labels]"));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // A condition on a value known only after apply is not checked, and says so.
    assert!(
        t.contains("postcondition depends on values known only after apply"),
        "{t}"
    );
    // An ignored attribute's change plans nothing.
    super::write(d, "main.tf", &stack("platform", "busybox", "[labels]"));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Any other change to a replaces b.
    super::write(d, "main.tf", &stack("platform", "alpine", "[labels]"));
    let o = runform(d, &["plan", "--local", "."]);
    let t = text(&o);
    assert!(
        t.contains("google_cloud_run_v2_job.b must be replaced")
            && t.contains("replace_triggered_by: google_cloud_run_v2_job.a changes"),
        "{t}"
    );
    assert!(
        t.contains("Plan: 1 to add, 1 to change, 1 to destroy") && !t.contains("labels.team"),
        "{t}"
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    // ignore_changes = all: nothing about a is planned.
    super::write(d, "main.tf", &stack("platform", "debian", "all"));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A failed precondition is a located error before anything is contacted.
    super::write(d, "main.tf", &stack("x", "busybox", "[labels]"));
    let o = runform(d, &["plan", "--local", "."]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("google_cloud_run_v2_job.a: resource precondition failed: team names have at least 3 letters.") && t.contains("length(var.team) > 2"), "{t}");
    // A postcondition on an apply-time value is checked when apply completes.
    let bad_post = r#"
resource "google_cloud_run_v2_job" "c" {
  name                = "c"
  location            = "us-central1"
  deletion_protection = false
  lifecycle {
    postcondition {
      condition     = self.etag == "never-this"
      error_message = "c's etag is not what was promised."
    }
  }
  template {
    template {
      containers {
        image = "busybox"
      }
    }
  }
}
"#;
    super::write(
        d,
        "main.tf",
        &(stack("data", "busybox", "[labels]") + bad_post),
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("google_cloud_run_v2_job.c: resource postcondition failed: c's etag is not what was promised.") && t.contains("condition(s) failed afterwards"), "{t}");
    super::write(d, "main.tf", &stack("data", "busybox", "[labels]"));
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
}
