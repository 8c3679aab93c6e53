//! Integration tests: the runtime in-process (behaviours of executions), and the CLI through
//! the built binary against runtimes on 127.0.0.1 port 0.

mod ci;
mod cli;
mod conformance;
mod containers;
mod day2;
use cli as cli_support;
mod every_argument;
mod examples;
mod faults;
mod fuzz;
mod gcloud;
mod gcs_backend;
mod http_targets;
mod iam_cli;
mod labels;
mod language;
mod layering;
mod modules_cli;
mod plans;
mod project_iam;
mod provider_auth;
mod provider_parity;
mod python;
mod runtime;
mod samples;
mod scheduler;
mod scheduler_cli;
mod schemas;
mod state_cli;
mod tf_plans;
mod trigger_cli;
mod trust;
mod utility_cli;
mod values;
mod workflow_cli;
mod workflows;

use std::path::Path;

pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// A runtime on 127.0.0.1:0, in memory, on the system clock or a manual one starting at
/// `clock` (RFC 3339).
pub async fn local_server(clock: Option<&str>) -> runform::runtime::Server {
    runform::runtime::Server::start(
        runform::runtime::RuntimeConfig {
            manual_clock: clock.map(|c| c.parse().expect("an RFC 3339 time")),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// A runtime on 127.0.0.1:0 keeping its data in `data` (SQLite, logs, objects).
pub async fn server_with_data(data: &Path) -> runform::runtime::Server {
    runform::runtime::Server::start(
        runform::runtime::RuntimeConfig {
            data_dir: Some(data.to_path_buf()),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// The project and location the in-process runtime tests use.
pub const PARENT: &str = "projects/p/locations/us-central1";

/// Creates job `id` under `parent` in an in-process runtime and runs it; returns the
/// execution's name.
pub fn start_job(
    rt: &std::sync::Arc<runform::runtime::Runtime>,
    parent: &str,
    id: &str,
    job: runform::api::run::Job,
) -> String {
    rt.create_job(parent, id, job, false).unwrap();
    let (exec, _) = rt
        .run_job(&format!("{parent}/jobs/{id}"), Default::default(), None)
        .unwrap();
    exec.name
}

/// Waits (polling every `step`, up to 2,000 times) for an execution to end.
pub async fn wait_execution(
    rt: &std::sync::Arc<runform::runtime::Runtime>,
    exec: &str,
    step: std::time::Duration,
) -> runform::api::run::Execution {
    for _ in 0..2000 {
        let e = rt.get_execution(exec).unwrap();
        if e.is_done() {
            return e;
        }
        tokio::time::sleep(step).await;
    }
    panic!("execution {exec} did not finish");
}

/// Creates secret `projects/PROJECT/secrets/ID` with a version per value (1, 2, ...) and lets
/// the account a job without one runs as read it.
pub fn secret_for_default_account(
    rt: &runform::runtime::Runtime,
    project: &str,
    id: &str,
    values: &[&str],
) {
    use base64::Engine;
    let secret = rt
        .create_secret(
            &format!("projects/{project}"),
            id,
            &serde_json::json!({"replication": {"automatic": {}}}),
        )
        .unwrap();
    let name = secret["name"].as_str().unwrap().to_string();
    for v in values {
        let data = base64::engine::general_purpose::STANDARD.encode(v);
        rt.add_secret_version(&name, &serde_json::json!({"payload": {"data": data}}))
            .unwrap();
    }
    let account = runform::runtime::projects::compute_default_service_account(project);
    let policy: runform::api::Policy = serde_json::from_value(serde_json::json!({
        "bindings": [{"role": "roles/secretmanager.secretAccessor",
                      "members": [format!("serviceAccount:{account}")]}]
    }))
    .unwrap();
    rt.set_policy(&name, policy).unwrap();
}
