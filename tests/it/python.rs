//! Google's own Python client (google-cloud-run, REST transport, anonymous credentials) against
//! the local runtime on 127.0.0.1:0. CI installs it from tests/python/requirements.txt.

use std::process::Command;

/// Runs `tests/python/SCRIPT` against a fresh runtime; returns its stdout.
async fn run_script(script: &str, module: &str) -> String {
    run_script_env(script, module, false).await
}

/// With `storage_host`, STORAGE_EMULATOR_HOST points Google's storage client at the runtime.
async fn run_script_env(script: &str, module: &str, storage_host: bool) -> String {
    run_script_full(script, module, storage_host, &[]).await
}

/// With extra arguments after ENDPOINT PROJECT REGION.
async fn run_script_args(script: &str, module: &str, extra: &[&str]) -> String {
    run_script_full(script, module, false, extra).await
}

async fn run_script_full(script: &str, module: &str, storage_host: bool, extra: &[&str]) -> String {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .expect("python3 must be installed");
    assert!(
        probe.status.success(),
        "{module} is not installed for {python}: run `pip install -r tests/python/requirements.txt` ({})",
        String::from_utf8_lossy(&probe.stderr)
    );
    let data = tempfile::tempdir().unwrap();
    let server = super::server_with_data(data.path()).await;
    let script = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let url = server.url();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(python);
        cmd.args([&script, &url, "pyproj", "europe-west1"]);
        cmd.args(&extra);
        if storage_host {
            cmd.env("STORAGE_EMULATOR_HOST", &url);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    server.stop().await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "client script failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_cloud_run_python_client_works_against_the_runtime() {
    let stdout = run_script("client_check.py", "google.cloud.run_v2").await;
    for step in [
        "create ok",
        "list ok",
        "update ok",
        "run ok",
        "executions ok",
        "details ok",
        "errors ok",
        "delete ok",
    ] {
        assert!(stdout.contains(step), "missing step {step}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_cloud_scheduler_python_client_works_against_the_runtime() {
    let stdout = run_script("scheduler_check.py", "google.cloud.scheduler_v1").await;
    for step in [
        "create ok",
        "get ok",
        "list ok",
        "update ok",
        "pause/resume ok",
        "run ok",
        "errors ok",
        "delete ok",
    ] {
        assert!(stdout.contains(step), "missing step {step}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_cloud_eventarc_python_client_works_against_the_runtime() {
    let stdout = run_script("eventarc_check.py", "google.cloud.eventarc_v1").await;
    for step in [
        "create ok",
        "get ok",
        "list ok",
        "update ok",
        "errors ok",
        "delete ok",
    ] {
        assert!(stdout.contains(step), "missing step {step}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_cloud_storage_python_client_works_against_the_runtime() {
    let stdout = run_script_env("storage_check.py", "google.cloud.storage", true).await;
    for step in [
        "bucket ok",
        "upload ok",
        "download ok",
        "list ok",
        "errors ok",
        "resumable ok",
        "range ok",
        "delimiter ok",
        "patch ok",
        "copy compose ok",
        "preconditions ok",
        "delete ok",
    ] {
        assert!(stdout.contains(step), "missing step {step}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_cloud_secret_manager_python_client_works_against_the_runtime() {
    let stdout = run_script("secretmanager_check.py", "google.cloud.secretmanager_v1").await;
    for step in [
        "create ok",
        "versions ok",
        "states ok",
        "update ok",
        "iam ok",
        "errors ok",
        "delete ok",
    ] {
        assert!(stdout.contains(step), "missing step {step}: {stdout}");
    }
}

/// Google's auth library calls as service accounts: a key whose token_uri is the runtime
/// (the JWT-bearer grant) and impersonation through generateAccessToken; the runtime records
/// the caller as creator and refuses what its IAM policies do not allow with Google's 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_auth_service_account_keys_and_impersonation_work_against_the_runtime() {
    let key = format!(
        "{}/tests/fixtures/keys/test-only-rsa.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let stdout = run_script_args("auth_check.py", "google.cloud.run_v2", &[&key]).await;
    for step in [
        "setup ok",
        "key create ok: pydeployer@pyproj.iam.gserviceaccount.com",
        "reader denied ok: 403",
        "impersonated reader denied ok",
        "impersonation refused ok",
    ] {
        assert!(stdout.contains(step), "missing {step:?} in:\n{stdout}");
    }
}

/// A task finds the execution's metadata server with Google's own auth library: the project,
/// the job's service account, and a token that calls the runtime as that account (allowed by
/// a project grant, refused without one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_find_the_metadata_server_with_google_auth() {
    use runform::api::run::*;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let exe = Command::new(&python)
        .args(["-c", "import google.auth, sys; print(sys.executable)"])
        .output()
        .expect("python3 must be installed");
    assert!(
        exe.status.success(),
        "google-auth is not installed for {python}"
    );
    let exe = String::from_utf8(exe.stdout).unwrap().trim().to_string();
    let server = super::local_server(None).await;
    let rt = server.runtime.clone();
    let script = format!(
        "{}/tests/python/metadata_task.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let parent = "projects/md-proj/locations/us-central1";
    // The reader may list jobs; the stranger may not.
    let mut policy = rt.get_policy("projects/md-proj").unwrap();
    policy.bindings.push(runform::api::Binding {
        role: "roles/run.viewer".into(),
        members: vec!["serviceAccount:reader@md-proj.iam.gserviceaccount.com".into()],
        condition: None,
    });
    rt.set_policy("projects/md-proj", policy).unwrap();
    rt.insert_bucket("md-proj", &serde_json::json!({"name": "md-out"}))
        .unwrap();
    for (id, account) in [("as-reader", "reader"), ("as-stranger", "stranger")] {
        let job = Job {
            template: ExecutionTemplate {
                task_count: 1,
                template: TaskTemplate {
                    service_account: format!("{account}@md-proj.iam.gserviceaccount.com"),
                    max_retries: Some(0),
                    containers: vec![Container {
                        image: "python".into(),
                        command: vec![exe.clone(), script.clone()],
                        env: vec![
                            EnvVar {
                                name: "RUNTIME_URL".into(),
                                value: Some(server.url()),
                                ..Default::default()
                            },
                            EnvVar {
                                name: "REGION".into(),
                                value: Some("us-central1".into()),
                                ..Default::default()
                            },
                            EnvVar {
                                name: "OUT_BUCKET".into(),
                                value: Some("md-out".into()),
                                ..Default::default()
                            },
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        };
        let exec = super::start_job(&rt, parent, id, job);
        super::wait_execution(&rt, &exec, std::time::Duration::from_millis(50)).await;
        let logs: String = rt
            .logs(&exec, None)
            .unwrap()
            .iter()
            .map(|l| format!("{}\n", l.line))
            .collect();
        assert!(logs.contains("no-header: 403"), "{logs}");
        assert!(logs.contains("project: md-proj"), "{logs}");
        assert!(
            logs.contains(&format!(
                "email after refresh: {account}@md-proj.iam.gserviceaccount.com"
            )),
            "{logs}"
        );
        let want = if account == "reader" {
            "list jobs: 200"
        } else {
            "list jobs: 403"
        };
        assert!(logs.contains(want), "{account}: {logs}");
        // google-cloud-storage inside the task found the runtime through STORAGE_EMULATOR_HOST.
        assert!(
            logs.contains(&format!("storage read back: written by {id}")),
            "{logs}"
        );
        let (_, data) = rt
            .object_bytes("md-out", &format!("from-{id}.txt"))
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&data), format!("written by {id}"));
    }
    server.stop().await;
}
