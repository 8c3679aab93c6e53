//! Stacks shaped like Google's published samples apply unedited on the local runtime, plan
//! clean, behave (the schedule fires and runs the job), and destroy cleanly.

use super::cli_support::text;
use super::examples::cli;
use runform::runtime::{RuntimeConfig, Server};
use std::path::Path;
use std::time::Duration;

fn copy_fixture(name: &str, to: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/samples")
        .join(name);
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Runs `runform COMMAND --endpoint URL ARGS...` in `dir` with `env` (off the async runtime).
async fn runform_at(
    dir: &Path,
    url: &str,
    env: &'static [(&'static str, &'static str)],
    args: Vec<String>,
) -> std::process::Output {
    let mut a: Vec<String> = vec![args[0].clone(), "--endpoint".into(), url.to_string()];
    a.extend(args[1..].iter().cloned());
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_runform"));
        cmd.args(&a).current_dir(&dir).env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_job_sample_applies_fires_and_destroys() {
    let server = Server::start(
        RuntimeConfig {
            manual_clock: Some("2026-06-01T10:07:30Z".parse().unwrap()),
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
    copy_fixture("scheduled", d);
    // No provider block: the project comes from the environment, as with the google provider.
    const ENV: &[(&str, &str)] = &[
        ("GOOGLE_PROJECT", "sample-proj"),
        ("GOOGLE_REGION", "us-central1"),
    ];
    let run = |args: &'static [&'static str]| {
        runform_at(d, &url, ENV, args.iter().map(|s| s.to_string()).collect())
    };
    let o = run(&["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("Resources: 7 added"), "{t}");
    let o = run(&["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "apply then plan must be clean:\n{}",
        text(&o)
    );
    assert_eq!(
        rt.get_service("projects/sample-proj/services/run.googleapis.com")
            .unwrap()["state"],
        "ENABLED"
    );
    assert_eq!(
        rt.get_repository("projects/sample-proj/locations/us-central1/repositories/jobs")
            .unwrap()["format"],
        "DOCKER"
    );

    // 10:08 fires; the v1 URL names the project by number; the project-level grant lets it run.
    rt.advance_clock(Duration::from_secs(30));
    assert_eq!(rt.scheduler_tick().await, 1);
    let a = rt
        .scheduler_attempts("projects/sample-proj/locations/us-central1/jobs/schedule-job")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(a.code, 0, "{}", a.message);
    assert!(
        a.execution.starts_with(
            "projects/sample-proj/locations/us-central1/jobs/cloud-run-job-example/executions/"
        ),
        "{a:?}"
    );

    let o = run(&["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(rt
        .get_job("projects/sample-proj/locations/us-central1/jobs/cloud-run-job-example")
        .is_err());
    // disable_on_destroy = false: the APIs stay enabled.
    assert_eq!(
        rt.get_service("projects/sample-proj/services/run.googleapis.com")
            .unwrap()["state"],
        "ENABLED"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_service_and_repository_lifecycle() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let rt = server.runtime.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |desc: &str, fmt: &str, disable: &str| {
        format!(
            r#"
provider "google" {{
  project = "p1"
  region  = "europe-west1"
}}
resource "google_project_service" "wf" {{
  service            = "workflows.googleapis.com"
  disable_on_destroy = {disable}
}}
resource "google_artifact_registry_repository" "r" {{
  repository_id = "images"
  format        = "{fmt}"
  description   = "{desc}"
  labels        = {{ team = "data" }}
}}
"#
        )
    };
    super::write(d, "main.tf", &stack("one", "docker", "true"));
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "lower-case format is no diff:\n{}",
        text(&o)
    );
    // description: in place; format: replace.
    super::write(d, "main.tf", &stack("two", "docker", "true"));
    let o = cli(d, &url, &["plan", "."]).await;
    let t = text(&o);
    assert!(
        t.contains("will be updated in-place")
            && t.contains("description")
            && t.contains("\"one\" -> \"two\""),
        "{t}"
    );
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let name = "projects/p1/locations/europe-west1/repositories/images";
    assert_eq!(rt.get_repository(name).unwrap()["description"], "two");
    super::write(d, "main.tf", &stack("two", "PYTHON", "true"));
    let o = cli(d, &url, &["plan", "."]).await;
    assert!(
        text(&o).contains("must be replaced") && text(&o).contains("format cannot change in place"),
        "{}",
        text(&o)
    );
    // A service disabled outside runform is enabled again.
    rt.set_service("projects/p1/services/workflows.googleapis.com", false)
        .unwrap();
    super::write(d, "main.tf", &stack("two", "docker", "true"));
    let o = cli(d, &url, &["plan", "."]).await;
    assert!(
        text(&o).contains("disabled outside runform"),
        "{}",
        text(&o)
    );
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    // Destroy: disable_on_destroy = true disables it.
    let o = cli(d, &url, &["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        rt.get_service("projects/p1/services/workflows.googleapis.com")
            .unwrap()["state"],
        "DISABLED"
    );
    assert!(rt.get_repository(name).is_err());
    // Bad arguments are located errors before any call.
    super::write(
        d,
        "main.tf",
        &stack("x", "ZIP", "true").replace("workflows.googleapis.com", "workflows"),
    );
    let o = cli(d, &url, &["plan", "."]).await;
    let t = text(&o);
    assert!(
        t.contains("format \"ZIP\" is not a repository format")
            && t.contains("service \"workflows\" is not a service name"),
        "{t}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_event_sample_runs_the_job_with_the_file_name() {
    storage_event_sample("storage-event", "event-proj").await;
}

/// Google's Eventarc → Workflows → job sample grants project roles with
/// `project = data.google_project.project.id` (`projects/acme-data`); runform called
/// `projects/projects/acme-data` and the apply failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventarc_workflows_job_sample_takes_projects_slash_project() {
    storage_event_sample("eventarc-workflows-job", "acme-data").await;
}

/// Applies a storage-event fixture, checks the re-plan is clean, uploads a file and waits for
/// the job to log its name, then destroys.
async fn storage_event_sample(fixture: &str, project: &str) {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_fixture(fixture, d);
    let run = |args: Vec<String>| {
        let (d, url, project) = (d.to_path_buf(), url.clone(), project.to_string());
        async move {
            let mut a: Vec<String> = vec![args[0].clone(), "--endpoint".into(), url];
            a.extend(args[1..].iter().cloned());
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_runform"))
                    .args(&a)
                    .current_dir(&d)
                    .env("GOOGLE_CLOUD_PROJECT", project)
                    .env("NO_COLOR", "1")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let args = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let o = run(args("apply --auto-approve .")).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let o = run(args("plan --detailed-exitcode .")).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "apply then plan must be clean:\n{}",
        text(&o)
    );
    let o = run(args("output --raw bucket")).await;
    let bucket = String::from_utf8(o.stdout).unwrap().trim().to_string();
    assert!(
        bucket.starts_with("input-") && bucket.len() > "input-".len() + 8,
        "{bucket}"
    );
    let policy = server
        .runtime
        .get_policy(&format!("projects/{project}"))
        .expect("the project has a policy");
    let wf_sa = format!("serviceAccount:workflows-sa@{project}.iam.gserviceaccount.com");
    for role in ["roles/run.admin", "roles/workflows.invoker"] {
        assert!(
            policy
                .bindings
                .iter()
                .any(|b| b.role == role && b.members.contains(&wf_sa)),
            "{role} for {wf_sa} in {policy:?}"
        );
    }

    // An upload runs the job through trigger → workflow → connector, with the file's name.
    let r = reqwest::Client::new()
        .post(format!(
            "{url}/upload/storage/v1/b/{bucket}/o?uploadType=media&name=photos/cat.jpg"
        ))
        .header("content-type", "image/jpeg")
        .body("jpeg")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut logs = String::new();
    for _ in 0..500 {
        let o = run(args("executions file-processor")).await;
        let t = text(&o);
        if let Some(exec) = t
            .split_whitespace()
            .find(|w| w.starts_with("file-processor-"))
        {
            if t.contains("succeeded") {
                logs = text(&run(vec!["logs".into(), exec.to_string()]).await);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        logs.contains(&format!("processing photos/cat.jpg from {bucket}")),
        "{logs}\ndeliveries: {:?}",
        server.runtime.deliveries(&format!(
            "projects/{project}/locations/us-central1/triggers/storage-trigger"
        ))
    );

    let o = run(args("destroy --auto-approve .")).await;
    assert!(o.status.success(), "{}", text(&o));
    server.stop().await;
}

/// The google provider's job-with-a-secret example: a secret, its version, the default compute
/// account's access and a job reading it apply, re-plan clean, and the job's task sees the
/// secret's value (read as the job's account); destroy removes it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_secret_sample_applies_and_its_job_sees_the_secret() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let rt = server.runtime.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_fixture("job-secret", d);
    const ENV: &[(&str, &str)] = &[
        ("GOOGLE_PROJECT", "secret-proj"),
        ("GOOGLE_REGION", "us-central1"),
    ];
    let run = |args: &'static [&'static str]| {
        runform_at(d, &url, ENV, args.iter().map(|s| s.to_string()).collect())
    };
    let o = run(&["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("Resources: 4 added"), "{t}");
    assert!(
        !t.contains("secret-data"),
        "the secret is never printed: {t}"
    );
    let o = run(&["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(&["run", "--wait", "cloudrun-job"]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let execs = rt
        .list_executions(
            "projects/secret-proj/locations/us-central1/jobs/cloudrun-job",
            None,
            None,
        )
        .unwrap()
        .executions;
    let lines: Vec<String> = rt
        .logs(&execs[0].name, None)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    assert!(
        lines.iter().any(|l| l == "the job sees secret-data"),
        "{lines:?}"
    );
    // The data source reads the secret back (sensitive: shown only when asked for).
    std::fs::write(
        d.join("read_back.tf"),
        "data \"google_secret_manager_secret_version\" \"read_back\" {\n  secret = google_secret_manager_secret.secret.secret_id\n}\noutput \"read_back\" {\n  value     = data.google_secret_manager_secret_version.read_back.secret_data\n  sensitive = true\n}\n",
    )
    .unwrap();
    let o = run(&["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("secret-data"), "{}", text(&o));
    let o = run(&["output", "--raw", "read_back"]).await;
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "secret-data",
        "{}",
        text(&o)
    );
    let o = run(&["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(rt
        .get_secret("projects/secret-proj/secrets/secret")
        .is_err());
    server.stop().await;
}
