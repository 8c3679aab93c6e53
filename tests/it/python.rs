//! Google's own Python client (google-cloud-run, REST transport, anonymous credentials) against
//! the local runtime on 127.0.0.1:0. CI installs it from tests/python/requirements.txt.

use runform::runtime::{RuntimeConfig, Server};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_cloud_run_python_client_works_against_the_runtime() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import google.cloud.run_v2"])
        .output()
        .expect("python3 must be installed");
    assert!(
        probe.status.success(),
        "google-cloud-run is not installed for {python}: run `pip install -r tests/python/requirements.txt` ({})",
        String::from_utf8_lossy(&probe.stderr)
    );
    let data = tempfile::tempdir().unwrap();
    let cfg = RuntimeConfig {
        data_dir: Some(data.path().to_path_buf()),
        ..Default::default()
    };
    let server = Server::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_check.py");
    let url = server.url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args([script, &url, "pyproj", "europe-west1"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.stop().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "client script failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "create ok",
        "list ok",
        "update ok",
        "run ok",
        "executions ok",
        "errors ok",
        "delete ok",
    ] {
        assert!(stdout.contains(step), "missing step {step}: {stdout}");
    }
}
