use runform::api::run::*;
use runform::runtime::{Runtime, RuntimeConfig, Server};
use std::sync::Arc;
use std::time::Duration;

fn job(cmd: &str, task_count: i32, parallelism: i32, max_retries: i32, timeout: &str) -> Job {
    let mut j = Job::default();
    j.template.task_count = task_count;
    j.template.parallelism = parallelism;
    j.template.template.max_retries = Some(max_retries);
    j.template.template.timeout = timeout.into();
    j.template.template.containers.push(Container {
        image: "example/none".into(),
        command: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        ..Default::default()
    });
    j
}

use super::PARENT;

async fn run_to_end(rt: &Arc<Runtime>, id: &str, j: Job) -> Execution {
    run_to_end_step(rt, id, j, Duration::from_millis(10)).await
}

async fn run_to_end_step(rt: &Arc<Runtime>, id: &str, j: Job, step: Duration) -> Execution {
    let exec = super::start_job(rt, PARENT, id, j);
    super::wait_execution(rt, &exec, step).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_tasks_distinct_indexes_and_parallelism_bound() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::create_dir_all(dir.path().join("running")).unwrap();
    let cmd = format!(
        "mkdir {d}/running/$CLOUD_RUN_TASK_INDEX; ls {d}/running | wc -l >> {d}/concurrency; \
         echo $CLOUD_RUN_TASK_INDEX $CLOUD_RUN_TASK_COUNT > {d}/task-$CLOUD_RUN_TASK_INDEX; sleep 0.3; rmdir {d}/running/$CLOUD_RUN_TASK_INDEX"
    );
    let rt = Runtime::open(RuntimeConfig::default()).unwrap();
    let e = run_to_end(&rt, "par", job(&cmd, 10, 3, 0, "60s")).await;
    assert!(e.succeeded(), "{e:?}");
    assert_eq!(e.succeeded_count, 10);
    for i in 0..10 {
        let t = std::fs::read_to_string(dir.path().join(format!("task-{i}"))).unwrap();
        assert_eq!(t.trim(), format!("{i} 10"));
    }
    let conc: Vec<usize> = std::fs::read_to_string(dir.path().join("concurrency"))
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(conc.len(), 10);
    assert!(
        conc.iter().all(|&c| c <= 3),
        "more than 3 at once: {conc:?}"
    );
    assert!(
        conc.iter().any(|&c| c >= 2),
        "tasks never overlapped: {conc:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempt_is_retried_and_env_is_clean() {
    let rt = Runtime::open(RuntimeConfig::default()).unwrap();
    std::env::set_var("RUNFORM_TEST_LEAK", "leaked");
    let cmd = "[ -z \"$RUNFORM_TEST_LEAK\" ] || exit 3; [ \"$CLOUD_RUN_TASK_ATTEMPT\" = 0 ] && exit 1; exit 0";
    let e = run_to_end(&rt, "retry", job(cmd, 1, 0, 1, "60s")).await;
    assert!(e.succeeded(), "{:?}", e.completed());
    assert_eq!(e.retried_count, 1);
    let tasks = rt.list_tasks(&e.name, None, None).unwrap().tasks;
    assert_eq!(tasks[0].retried, 1);
    // Without retries the same task fails the execution.
    let e = run_to_end(&rt, "noretry", job(cmd, 1, 0, 0, "60s")).await;
    assert!(!e.succeeded());
    assert_eq!(e.failed_count, 1);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn task_past_its_timeout_is_killed_and_execution_fails() {
    // The clock is paused: the 600s timeout elapses as soon as the runtime is idle.
    let rt = Runtime::open(RuntimeConfig {
        data_dir: None,
        kill_grace: Duration::from_secs(5),
        ..Default::default()
    })
    .unwrap();
    let e = run_to_end_step(
        &rt,
        "slow",
        job("sleep 1000", 1, 0, 0, "600s"),
        Duration::from_secs(1),
    )
    .await;
    assert!(!e.succeeded());
    let t = &rt.list_tasks(&e.name, None, None).unwrap().tasks[0];
    let r = t.last_attempt_result.as_ref().unwrap();
    assert!(r.term_signal.is_some(), "{r:?}");
    assert!(r.status.as_ref().unwrap().message.contains("timeout"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_running_tasks_over_http() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = runform::cloud::Client::new(runform::cloud::Endpoint::Custom(server.url()))
        .await
        .unwrap();
    let j = job("sleep 30", 2, 0, 0, "600s");
    client
        .create_job(PARENT, "c", &j, Duration::from_secs(10))
        .await
        .unwrap();
    let op = client
        .run_job(&format!("{PARENT}/jobs/c"), &RunJobRequest::default())
        .await
        .unwrap();
    let name = op.metadata.unwrap()["name"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.cancel_execution(&name).await.unwrap();
    let mut e = client.get_execution(&name).await.unwrap();
    for _ in 0..500 {
        if e.is_done() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        e = client.get_execution(&name).await.unwrap();
    }
    assert!(e.is_done() && e.cancelled(), "{e:?}");
    assert_eq!(e.cancelled_count, 2);
    // Pagination: one list call per page.
    for i in 0..5 {
        client
            .create_job(
                PARENT,
                &format!("p{i}"),
                &job("true", 1, 0, 0, "10s"),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let before = client.calls();
    let jobs = client.list_jobs("p", "us-central1", 2).await.unwrap();
    assert_eq!(jobs.len(), 6);
    assert_eq!(client.calls() - before, 3);
    server.stop().await;
}

#[test]
fn concurrent_policy_read_modify_writes_lose_nothing() {
    let rt = Runtime::open(RuntimeConfig::default()).unwrap();
    rt.create_job(PARENT, "iam", job("true", 1, 0, 0, "10s"), false)
        .unwrap();
    let name = format!("{PARENT}/jobs/iam");
    std::thread::scope(|s| {
        for t in 0..4 {
            let (rt, name) = (&rt, &name);
            s.spawn(move || {
                for i in 0..25 {
                    loop {
                        let mut p = rt.get_policy(name).unwrap();
                        let member = format!("user:u{t}-{i}@example.com");
                        match p
                            .bindings
                            .iter_mut()
                            .find(|b| b.role == "roles/run.invoker")
                        {
                            Some(b) => b.members.push(member),
                            None => p.bindings.push(runform::api::Binding {
                                role: "roles/run.invoker".into(),
                                members: vec![member],
                                condition: None,
                            }),
                        }
                        match rt.set_policy(name, p) {
                            Ok(_) => break,
                            Err(e) if e.code() == 409 => continue,
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                }
            });
        }
    });
    let p = rt.get_policy(&name).unwrap();
    assert_eq!(p.bindings[0].members.len(), 100, "an update was lost");
}

/// Runs the real `gcloud` with its endpoints pointed at the runtime and no credentials.
fn gcloud(url: &str, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("gcloud")
        .args(args)
        .env("CLOUDSDK_CONFIG", config)
        .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
        .env("CLOUDSDK_CORE_PROJECT", "p")
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING", format!("{url}/"))
        .output()
        .expect("gcloud must be on the PATH (it is the judge of the runtime's APIs)")
}

/// Task output is in Cloud Logging as Cloud Run writes it: `gcloud logging read` finds an
/// execution's lines by the labels and resource Cloud Run uses, a JSON line as
/// `jsonPayload` with its severity, and `runform logs`' own client code reads the same API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcloud_logging_read_finds_task_output() {
    let server = super::local_server(None).await;
    let rt = server.runtime.clone();
    let e = run_to_end(
        &rt,
        "logjob",
        job(
            r#"echo "plain line $CLOUD_RUN_TASK_INDEX"; echo '{"severity":"WARNING","message":"structured","n":1}'; echo oops >&2"#,
            2,
            2,
            0,
            "30s",
        ),
    )
    .await;
    assert!(e.succeeded(), "{e:?}");
    let short = e.name.rsplit('/').next().unwrap().to_string();
    let config = tempfile::tempdir().unwrap();
    let url = server.url();
    let filter = format!(
        "resource.type=\"cloud_run_job\" AND resource.labels.job_name=\"logjob\" AND labels.\"run.googleapis.com/execution_name\"=\"{short}\""
    );
    let (u, c, f) = (url.clone(), config.path().to_path_buf(), filter.clone());
    let o = tokio::task::spawn_blocking(move || {
        gcloud(
            &u,
            &c,
            &["logging", "read", &f, "--format=json", "--limit=50"],
        )
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(entries.len(), 6, "{entries:#?}");
    let texts: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["textPayload"].as_str())
        .collect();
    for want in ["plain line 0", "plain line 1", "oops"] {
        assert!(texts.contains(&want), "{want} in {texts:?}");
    }
    let structured: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["jsonPayload"]["message"] == "structured")
        .collect();
    assert_eq!(structured.len(), 2, "{entries:#?}");
    assert!(structured.iter().all(|e| e["severity"] == "WARNING"));
    let first = &entries[0];
    assert_eq!(first["resource"]["labels"]["project_id"], "p");
    assert_eq!(first["resource"]["labels"]["location"], "us-central1");
    assert!(first["logName"]
        .as_str()
        .unwrap()
        .starts_with("projects/p/logs/run.googleapis.com%2Fstd"));
    // gcloud's default order is newest first.
    let times: Vec<&str> = entries
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    // A severity filter, as the console sends it.
    let (u, c) = (url.clone(), config.path().to_path_buf());
    let f = format!("{filter} AND severity>=WARNING");
    let o = tokio::task::spawn_blocking(move || {
        gcloud(&u, &c, &["logging", "read", &f, "--format=json"])
    })
    .await
    .unwrap();
    let warned: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(warned.len(), 2, "{warned:#?}");

    // runform's client reads the same API (as it reads Google's Cloud Logging).
    let client = runform::cloud::Client::new(runform::cloud::Endpoint::Custom(url))
        .await
        .unwrap();
    let lines = client.logs(&e.name, Some(1)).await.unwrap();
    // stdout and stderr are two pipes: their lines may interleave either way.
    let mut shown: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
    shown.sort();
    assert_eq!(shown, ["oops", "plain line 1", "structured"], "{lines:?}");
    assert!(lines.iter().all(|l| l.task == 1 && !l.timestamp.is_empty()));
    server.stop().await;
}

/// A task's secret env var is read from Secret Manager as the job's service account: without
/// `secretmanager.versions.access` the attempt fails naming the permission and the account;
/// with a grant on the secret the task sees the value (`latest`, or a pinned version).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_env_vars_need_access_as_the_jobs_account() {
    let server = super::local_server(None).await;
    let rt = server.runtime.clone();
    let with_secret = |version: &str| {
        let mut j = job("echo \"token=$TOKEN\"", 1, 1, 0, "30s");
        j.template.template.service_account = "app@p.iam.gserviceaccount.com".into();
        j.template.template.containers[0].env.push(EnvVar {
            name: "TOKEN".into(),
            value: None,
            value_source: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    secret: "api-token".into(),
                    version: version.into(),
                }),
            }),
        });
        j
    };
    use base64::Engine;
    let secret = "projects/p/secrets/api-token";
    rt.create_secret(
        "projects/p",
        "api-token",
        &serde_json::json!({"replication": {"automatic": {}}}),
    )
    .unwrap();
    for v in ["one", "two"] {
        let data = base64::engine::general_purpose::STANDARD.encode(v);
        rt.add_secret_version(secret, &serde_json::json!({"payload": {"data": data}}))
            .unwrap();
    }
    let denied = run_to_end(&rt, "denied", with_secret("latest")).await;
    assert!(!denied.succeeded(), "{denied:?}");
    let logs = rt.logs(&denied.name, None).unwrap();
    let text: String = logs.iter().map(|l| format!("{}\n", l.line)).collect();
    assert!(
        text.contains("secretmanager.versions.access")
            && text.contains("app@p.iam.gserviceaccount.com"),
        "{text}"
    );
    let policy: runform::api::Policy = serde_json::from_value(serde_json::json!({
        "bindings": [{"role": "roles/secretmanager.secretAccessor",
                      "members": ["serviceAccount:app@p.iam.gserviceaccount.com"]}]
    }))
    .unwrap();
    rt.set_policy(secret, policy).unwrap();
    for (id, version, want) in [
        ("latest", "latest", "token=two"),
        ("pinned", "1", "token=one"),
    ] {
        let e = run_to_end(&rt, id, with_secret(version)).await;
        assert!(e.succeeded(), "{e:?}");
        let out: Vec<String> = rt
            .logs(&e.name, None)
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert!(out.iter().any(|l| l == want), "{out:?}");
    }
    server.stop().await;
}

/// Reading logs as an identity (a task's token, a service account's self-signed JWT) needs
/// `logging.logEntries.list` on the project named in the body (`roles/logging.viewer`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_logs_as_an_account_needs_logging_viewer() {
    use base64::Engine;
    let server = super::local_server(None).await;
    let rt = server.runtime.clone();
    let sa = rt
        .create_service_account(
            "p",
            runform::api::iam_admin::CreateServiceAccountRequest {
                account_id: "reader".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let claims = serde_json::json!({"iss": sa.email, "sub": sa.email});
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let jwt = format!(
        "{}.{}.c2ln",
        b64(&serde_json::json!({"alg": "RS256"})),
        b64(&claims)
    );
    let list = || {
        reqwest::Client::new()
            .post(format!("{}/v2/entries:list", server.url()))
            .header("authorization", format!("Bearer {jwt}"))
            .header("content-type", "application/json")
            .body(serde_json::json!({"resourceNames": ["projects/p"]}).to_string())
            .send()
    };
    let r = list().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("logging.logEntries.list"));
    let policy: runform::api::Policy = serde_json::from_value(serde_json::json!({
        "bindings": [{"role": "roles/logging.viewer", "members": [format!("serviceAccount:{}", sa.email)]}]
    }))
    .unwrap();
    rt.set_policy("projects/p", policy).unwrap();
    assert_eq!(list().await.unwrap().status(), 200);
    server.stop().await;
}
