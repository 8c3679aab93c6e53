//! The real gcloud against the local runtime, set up only by `runform local env`: `run jobs
//! create/list/update/describe/execute --wait/executions list/replace/add-iam-policy-binding/
//! get-iam-policy/delete` (Cloud Run's v1 surface, reached through the regional host gcloud
//! derives), `logging read`, `beta run jobs logs read`, `services enable/list` and `secrets create/versions access`.

/// Runs `tests/gcloud_jobs.sh` and returns what it printed, failing with all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_runs_jobs_on_the_runtime_set_up_by_local_env() {
    let server = super::local_server(None).await;
    let url = server.url();
    let script = format!("{}/tests/gcloud_jobs.sh", env!("CARGO_MANIFEST_DIR"));
    let o = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .args([&script, env!("CARGO_BIN_EXE_runform"), &url])
            .output()
            .expect("bash")
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    // The lines printed between `== NAME` and the next `== ` marker.
    let section = |name: &str| -> String {
        out.lines()
            .skip_while(|l| *l != format!("== {name}"))
            .skip(1)
            .take_while(|l| !l.starts_with("== "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Cloud Run is enabled by default; `services enable` (batchEnable) adds the others.
    assert_eq!(
        section("services").trim(),
        "eventarc.googleapis.com\nrun.googleapis.com\nworkflows.googleapis.com",
        "{out}\n{err}"
    );
    assert_eq!(section("secrets").trim(), "from-gcloud", "{out}\n{err}");
    assert_eq!(section("list").trim(), "hello", "{out}");
    assert_eq!(section("describe").trim(), "3", "{out}");
    let execs = section("executions");
    assert!(
        execs.trim().starts_with("hello-") && execs.trim().ends_with('3'),
        "{out}"
    );
    let logs = section("logging");
    assert!(
        logs.contains("hello from task 2 of 3 says updated"),
        "logging read:\n{logs}\n{err}"
    );
    let joblogs = section("joblogs");
    assert!(
        joblogs.contains("hello from task 0 of 3 says updated"),
        "run jobs logs read:\n{joblogs}\n{err}"
    );
    assert_eq!(section("replace").trim(), "1", "{out}");
    assert_eq!(
        section("iam").trim(),
        "user:ana@example.com",
        "{out}\n{err}"
    );
    assert_eq!(section("delete").trim(), "", "{out}");
    assert!(out.contains("== done"), "{out}");
    server.stop().await;
}
