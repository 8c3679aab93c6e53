//! google_project_iam_member/_binding: Resource Manager IAM on the local runtime, grants on the
//! project inherited by every job (a scheduler runs its job on a project-level grant, and is
//! refused once it is gone), and the authoritative-binding warning that names whom it removes.

use super::cli_support::text;
use super::examples::cli;
use runform::runtime::{RuntimeConfig, Server};
use std::time::Duration;

fn stack(project_grant: &str) -> String {
    format!(
        r#"
provider "google" {{
  project = "proj"
  region  = "us-central1"
}}
resource "google_service_account" "cron" {{
  account_id = "cron-runner"
}}
resource "google_cloud_run_v2_job" "report" {{
  name                = "report"
  location            = "us-central1"
  deletion_protection = false
  template {{
    template {{
      containers {{
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo report"]
      }}
    }}
  }}
}}
resource "google_cloud_scheduler_job" "every_minute" {{
  name     = "report-every-minute"
  schedule = "* * * * *"
  http_target {{
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/${{google_cloud_run_v2_job.report.id}}:run"
    oauth_token {{
      service_account_email = google_service_account.cron.email
    }}
  }}
}}
{project_grant}
"#
    )
}

const GRANT: &str = r#"
resource "google_project_iam_member" "cron_runs_jobs" {
  role   = "roles/run.invoker"
  member = google_service_account.cron.member
}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_grants_are_inherited_and_their_removal_denies() {
    let server = Server::start(
        RuntimeConfig {
            manual_clock: Some("2026-06-01T10:00:30Z".parse().unwrap()),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let url = server.url();
    let rt = server.runtime.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    super::write(d, "main.tf", &stack(GRANT));
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        !t.contains("PERMISSION_DENIED"),
        "the project grant counts for the static check too:\n{t}"
    );
    let o = cli(d, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let policy = rt.get_policy("projects/proj").unwrap();
    assert!(
        policy.bindings.iter().any(|b| b.role == "roles/run.invoker"
            && b.members == ["serviceAccount:cron-runner@proj.iam.gserviceaccount.com"]),
        "{policy:?}"
    );

    let sched = "projects/proj/locations/us-central1/jobs/report-every-minute";
    rt.advance_clock(Duration::from_secs(30));
    assert_eq!(rt.scheduler_tick().await, 1);
    let a = rt.scheduler_attempts(sched).unwrap().pop().unwrap();
    assert_eq!(a.code, 0, "{}", a.message);

    // The grant goes: the next attempt is refused, naming permission, principal and job.
    super::write(d, "main.tf", &stack(""));
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("run.jobs.run"),
        "the static check warns now:\n{t}"
    );
    rt.advance_clock(Duration::from_secs(60));
    assert_eq!(rt.scheduler_tick().await, 1);
    let a = rt.scheduler_attempts(sched).unwrap().pop().unwrap();
    assert_eq!(a.code, 7, "{a:?}");
    assert!(
        a.message.contains("run.jobs.run")
            && a.message
                .contains("serviceAccount:cron-runner@proj.iam.gserviceaccount.com")
            && a.message
                .contains("projects/proj/locations/us-central1/jobs/report"),
        "{}",
        a.message
    );
    assert!(a.execution.is_empty());

    // An authoritative project binding: the warning names whom it removes.
    let mut p = rt.get_policy("projects/proj").unwrap();
    p.bindings.push(runform::api::Binding {
        role: "roles/run.developer".into(),
        members: vec!["user:alice@example.com".into()],
        condition: None,
    });
    rt.set_policy("projects/proj", p).unwrap();
    let binding = r#"
resource "google_project_iam_binding" "devs" {
  role    = "roles/run.developer"
  members = ["user:bob@example.com"]
}
"#;
    super::write(d, "main.tf", &stack(binding));
    let o = cli(d, &url, &["plan", "."]).await;
    let t = text(&o);
    assert!(t.contains("Warning: google_project_iam_binding.devs is authoritative for roles/run.developer across the whole project proj: this apply removes user:alice@example.com"), "{t}");
    let o = cli(d, &url, &["plan", "--format", "markdown", "."]).await;
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("> [!WARNING]\n> google_project_iam_binding.devs is authoritative"),
        "{}",
        text(&o)
    );
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let p = rt.get_policy("projects/proj").unwrap();
    let devs: Vec<_> = p
        .bindings
        .iter()
        .filter(|b| b.role == "roles/run.developer")
        .flat_map(|b| b.members.clone())
        .collect();
    assert_eq!(devs, ["user:bob@example.com"]);
    let o = cli(d, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A binding and a member for one role on the project fight: refused before any call.
    let both = format!("{binding}\nresource \"google_project_iam_member\" \"extra\" {{\n  role   = \"roles/run.developer\"\n  member = \"user:carol@example.com\"\n}}\n");
    super::write(d, "main.tf", &stack(&both));
    let o = cli(d, &url, &["plan", "."]).await;
    let t = text(&o);
    assert!(!o.status.success() && t.contains("google_project_iam_member.extra grants roles/run.developer on projects/proj, which google_project_iam_binding.devs manages authoritatively"), "{t}");
    super::write(d, "main.tf", &stack(binding));
    let o = cli(d, &url, &["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_account_without_workflows_invoker_is_refused() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let rt = server.runtime.clone();
    let parent = "projects/proj/locations/us-central1";
    let wf: runform::api::workflows::Workflow = serde_json::from_value(serde_json::json!({
        "sourceContents": "main:\n  params: [event]\n  steps:\n    - done:\n        return: ok\n"
    }))
    .unwrap();
    rt.create_workflow(parent, "w", wf).unwrap();
    rt.insert_bucket("proj", &serde_json::json!({"name": "in-proj"}))
        .unwrap();
    rt.create_trigger(parent, "t", serde_json::from_value(serde_json::json!({
        "eventFilters": [{"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"}, {"attribute": "bucket", "value": "in-proj"}],
        "serviceAccount": "events@proj.iam.gserviceaccount.com",
        "destination": {"workflow": format!("{parent}/workflows/w")}
    })).unwrap(), false).unwrap();
    let delivered = |n: usize| {
        let rt = rt.clone();
        async move {
            for _ in 0..500 {
                let d = rt.deliveries(&format!("{parent}/triggers/t"));
                if d.len() >= n {
                    return d;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("no delivery");
        }
    };
    rt.put_object("in-proj", "a.txt", "text/plain", b"a", None)
        .unwrap();
    let d = delivered(1).await;
    assert_eq!(d[0]["ok"], false, "{d:?}");
    let msg = d[0]["error"].as_str().unwrap();
    assert!(
        msg.contains("workflows.executions.create")
            && msg.contains("serviceAccount:events@proj.iam.gserviceaccount.com")
            && msg.contains("roles/workflows.invoker"),
        "{msg}"
    );
    // Granted on the project: the next event starts the workflow.
    let mut p = rt.get_policy("projects/proj").unwrap();
    p.bindings.push(runform::api::Binding {
        role: "roles/workflows.invoker".into(),
        members: vec!["serviceAccount:events@proj.iam.gserviceaccount.com".into()],
        condition: None,
    });
    rt.set_policy("projects/proj", p).unwrap();
    rt.put_object("in-proj", "b.txt", "text/plain", b"b", None)
        .unwrap();
    let d = delivered(2).await;
    assert_eq!(d[1]["ok"], true, "{d:?}");
    server.stop().await;
}
