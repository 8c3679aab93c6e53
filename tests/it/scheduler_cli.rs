//! `google_cloud_scheduler_job` through the CLI on the local runtime: apply then plan is clean,
//! changes are precise, `paused` works, the job exists before its trigger, validation is
//! located, destroy removes both.

use super::cli_support::{runform, text};
use super::write;

fn stack(schedule: &str, paused: bool, extra: &str) -> String {
    format!(
        r#"
provider "google" {{
  project = "proj"
  region  = "us-central1"
}}
resource "google_cloud_run_v2_job" "etl" {{
  name                = "etl"
  location            = "us-central1"
  deletion_protection = false
  template {{
    template {{
      containers {{
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo nightly"]
      }}
    }}
  }}
}}
resource "google_cloud_scheduler_job" "nightly" {{
  name        = "etl-nightly"
  description = "runs etl"
  schedule    = "{schedule}"
  time_zone   = "America/New_York"
  paused      = {paused}
  {extra}
  retry_config {{
    retry_count = 1
  }}
  http_target {{
    # A literal URL naming the job above: runform orders the job first.
    uri         = "https://run.googleapis.com/v2/projects/proj/locations/us-central1/jobs/etl:run"
    http_method = "POST"
    headers     = {{ "Content-Type" = "application/json" }}
    body        = base64encode(jsonencode({{ overrides = {{ taskCount = 1 }} }}))
    oauth_token {{
      service_account_email = "cron@proj.iam.gserviceaccount.com"
    }}
  }}
}}
"#
    )
}

#[test]
fn scheduler_job_apply_plan_update_pause_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.tf", &stack("0 2 * * *", false, ""));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // The job is created before the scheduler that runs it.
    let job_at = t
        .find("google_cloud_run_v2_job.etl: creating complete")
        .expect(&t);
    let sched_at = t
        .find("google_cloud_scheduler_job.nightly: creating...")
        .expect(&t);
    assert!(job_at < sched_at, "{t}");
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "apply then plan must be clean:\n{}",
        text(&o)
    );

    // One argument changed: one attribute in one in-place update.
    write(d, "main.tf", &stack("30 2 * * *", false, ""));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    let changed: Vec<&str> = t
        .lines()
        .filter(|l| l.trim_start().starts_with("~ ") && !l.contains("~ resource"))
        .collect();
    assert_eq!(changed.len(), 1, "{t}");
    assert!(
        changed[0].contains("schedule") && changed[0].contains("\"0 2 * * *\" -> \"30 2 * * *\""),
        "{t}"
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // paused = true goes through :pause, and is then clean.
    write(d, "main.tf", &stack("30 2 * * *", true, ""));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success() && t.contains("paused"), "{t}");
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A new name replaces it.
    write(
        d,
        "main.tf",
        &stack("30 2 * * *", true, "").replace("etl-nightly", "etl-nightly2"),
    );
    let o = runform(d, &["plan", "--local", "."]);
    assert!(text(&o).contains("must be replaced"), "{}", text(&o));

    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["plan", "--local", "."]);
    assert!(text(&o).contains("Plan: 2 to add"), "{}", text(&o));
}

#[test]
fn scheduler_validation_is_located_and_touches_nothing() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("cron", stack("0 25 * * *", false, ""), "hour field: 25 is outside 0-23"),
        ("tz", stack("0 2 * * *", false, "").replace("America/New_York", "America/Gotham"), "tz database"),
        ("deadline", stack("0 2 * * *", false, "attempt_deadline = \"5s\""), "between 15s and 1800s"),
        (
            "both-tokens",
            stack("0 2 * * *", false, "").replace(
                "    oauth_token {",
                "    oidc_token {\n      service_account_email = \"a@proj.iam.gserviceaccount.com\"\n    }\n    oauth_token {",
            ),
            "exclusive",
        ),
        (
            "header",
            stack("0 2 * * *", false, "").replace("\"Content-Type\" = \"application/json\"", "\"X-Goog-Secret\" = \"1\""),
            "cannot be overridden",
        ),
        ("retries", stack("0 2 * * *", false, "").replace("retry_count = 1", "retry_count = 9"), "between 0 and 5"),
    ];
    for (name, cfg, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "main.tf", &cfg);
        let o = runform(
            dir.path(),
            &["plan", "--endpoint", "http://127.0.0.1:9", "."],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(t.contains(want), "{name}: expected {want:?} in:\n{t}");
        assert!(t.contains("main.tf:"), "{name}: no location:\n{t}");
        assert!(!t.contains("could not reach"), "{name}: {t}");
    }
    // OIDC to a Google API is a warning, not an error.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.tf",
        &stack("0 2 * * *", false, "").replace("oauth_token {", "oidc_token {"),
    );
    let o = runform(dir.path(), &["validate", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("warning") && t.contains("OAuth"), "{t}");
}
