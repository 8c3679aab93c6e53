//! Integration tests: the runtime in-process (behaviours of executions), and the CLI through
//! the built binary against runtimes on 127.0.0.1 port 0.

mod cli;
mod conformance;
mod containers;
use cli as cli_support;
mod every_argument;
mod examples;
mod faults;
mod fuzz;
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
