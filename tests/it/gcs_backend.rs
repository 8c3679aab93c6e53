//! `backend "gcs"` against the local runtime's Cloud Storage API: the state lives at
//! PREFIX/WORKSPACE.tfstate, the lock object is created with ifGenerationMatch=0 and deleted
//! by generation, racing applies serialise on it without losing anything, and workspaces are
//! separate states.

use super::cli_support::text;
use super::examples::cli;
use runform::runtime::{RuntimeConfig, Server};

fn stack() -> String {
    r#"
terraform {
  backend "gcs" {
    bucket = "team-state"
    prefix = "env/prod"
  }
}
provider "google" {
  project = "proj"
  region  = "us-central1"
}
resource "google_cloud_run_v2_job" "etl" {
  name                = "etl-${terraform.workspace}"
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
"#
    .to_string()
}

fn state_json(rt: &runform::runtime::Runtime, object: &str) -> serde_json::Value {
    let (_, bytes) = rt.object_bytes("team-state", object).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_state_locking_races_and_workspaces() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let rt = server.runtime.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    super::write(d, "main.tf", &stack());

    // Two applies race for the lock, held at first by a third party: both wait, take it in
    // turn, and the job is created exactly once.
    let holder = serde_json::json!({"ID": "11111111-2222-4333-8444-555555555555", "Operation": "OperationTypeApply",
        "Info": "", "Who": "bob@laptop", "Version": "1.9.0", "Created": "2026-11-22T09:00:00Z", "Path": "env/prod/default.tflock"});
    // (The bucket is created by the first command; create it here to plant the lock.)
    rt.insert_bucket("proj", &serde_json::json!({"name": "team-state"}))
        .unwrap();
    rt.put_object(
        "team-state",
        "env/prod/default.tflock",
        "application/json",
        holder.to_string().as_bytes(),
        None,
    )
    .unwrap();
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert!(
        !o.status.success()
            && t.contains("locked by bob@laptop")
            && t.contains("11111111-2222-4333-8444-555555555555"),
        "{t}"
    );
    let (a, b) = (d.to_path_buf(), d.to_path_buf());
    let (u1, u2) = (url.clone(), url.clone());
    let first = tokio::spawn(async move {
        cli(
            &a,
            &u1,
            &["apply", "--auto-approve", "--lock-timeout", "60s", "."],
        )
        .await
    });
    let second = tokio::spawn(async move {
        cli(
            &b,
            &u2,
            &["apply", "--auto-approve", "--lock-timeout", "60s", "."],
        )
        .await
    });
    // Both are now waiting (or about to); the holder goes away.
    let o = cli(
        d,
        &url,
        &["force-unlock", "11111111-2222-4333-8444-555555555555"],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let (o1, o2) = (first.await.unwrap(), second.await.unwrap());
    let (t1, t2) = (text(&o1), text(&o2));
    assert!(
        o1.status.success() && o2.status.success(),
        "{t1}\n----\n{t2}"
    );
    let created = [&t1, &t2]
        .iter()
        .filter(|t| t.contains("Resources: 1 added"))
        .count();
    let clean = [&t1, &t2]
        .iter()
        .filter(|t| t.contains("No changes"))
        .count();
    assert_eq!((created, clean), (1, 1), "{t1}\n----\n{t2}");
    assert!(rt
        .get_job("projects/proj/locations/us-central1/jobs/etl-default")
        .is_ok());
    assert!(
        rt.get_object("team-state", "env/prod/default.tflock")
            .is_err(),
        "lock released"
    );

    // The state is the object, in Terraform's layout; no local state file.
    let st = state_json(&rt, "env/prod/default.tfstate");
    assert!(
        st["resources"].get("google_cloud_run_v2_job.etl").is_some(),
        "{st}"
    );
    let serial = st["serial"].as_u64().unwrap();
    assert!(!runform::ops::state_path(d, false, Some(&url)).exists());
    let o = cli(d, &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = cli(d, &url, &["state", "list"]).await;
    assert_eq!(text(&o).trim(), "google_cloud_run_v2_job.etl");

    // Workspaces: a separate state object, and terraform.workspace in names.
    let o = cli(d, &url, &["workspace", "new", "staging"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d, &url, &["workspace", "list"]).await;
    assert_eq!(text(&o), "  default\n* staging\n");
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    assert!(
        o.status.success() && text(&o).contains("Resources: 1 added"),
        "{}",
        text(&o)
    );
    assert!(rt
        .get_job("projects/proj/locations/us-central1/jobs/etl-staging")
        .is_ok());
    assert!(state_json(&rt, "env/prod/staging.tfstate")["resources"]
        .get("google_cloud_run_v2_job.etl")
        .is_some());
    assert_eq!(
        state_json(&rt, "env/prod/default.tfstate")["serial"]
            .as_u64()
            .unwrap(),
        serial,
        "default untouched"
    );
    let o = cli(d, &url, &["workspace", "select", "default"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = cli(d, &url, &["workspace", "delete", "staging"]).await;
    assert!(
        !o.status.success() && text(&o).contains("still manages 1 resource"),
        "{}",
        text(&o)
    );
    let o = cli(d, &url, &["workspace", "select", "nope"]).await;
    assert!(
        !o.status.success() && text(&o).contains("does not exist"),
        "{}",
        text(&o)
    );
    let o = cli(d, &url, &["workspace", "select", "staging"]).await;
    assert!(o.status.success());
    let o = cli(d, &url, &["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    cli(d, &url, &["workspace", "select", "default"]).await;
    let o = cli(d, &url, &["workspace", "delete", "staging"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(rt
        .get_object("team-state", "env/prod/staging.tfstate")
        .is_err());
    let o = cli(d, &url, &["workspace", "list"]).await;
    assert_eq!(text(&o), "* default\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_preconditions_answer_412() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let c = runform::cloud::Client::new(runform::cloud::Endpoint::Custom(url.clone()))
        .await
        .unwrap();
    c.ensure_bucket("proj", "bkt").await.unwrap();
    let first = c
        .upload_object_if(
            "bkt",
            "p/x.tflock",
            "application/json",
            b"{}".to_vec(),
            Some(0),
        )
        .await
        .unwrap();
    let generation: u64 = first["generation"].as_str().unwrap().parse().unwrap();
    let again = c
        .upload_object_if(
            "bkt",
            "p/x.tflock",
            "application/json",
            b"{}".to_vec(),
            Some(0),
        )
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(412), "{again}");
    let wrong = c
        .delete_object_if("bkt", "p/x.tflock", Some(generation + 1))
        .await
        .unwrap_err();
    assert_eq!(wrong.status(), Some(412), "{wrong}");
    c.delete_object_if("bkt", "p/x.tflock", Some(generation))
        .await
        .unwrap();
    assert!(c
        .object_metadata("bkt", "p/x.tflock")
        .await
        .unwrap()
        .is_none());
    // Overwrite only at the generation read.
    let v1 = c
        .upload_object_if("bkt", "s", "text/plain", b"1".to_vec(), None)
        .await
        .unwrap();
    let g1: u64 = v1["generation"].as_str().unwrap().parse().unwrap();
    c.upload_object_if("bkt", "s", "text/plain", b"2".to_vec(), Some(g1))
        .await
        .unwrap();
    assert_eq!(
        c.upload_object_if("bkt", "s", "text/plain", b"3".to_vec(), Some(g1))
            .await
            .unwrap_err()
            .status(),
        Some(412)
    );
    assert_eq!(c.download_object("bkt", "s").await.unwrap().unwrap(), b"2");
    server.stop().await;
}

/// Runs the real `terraform` in `dir` with its gcs backend pointed at the runtime.
fn terraform(dir: &std::path::Path, storage_host: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new("terraform")
        .args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .env("STORAGE_EMULATOR_HOST", storage_host)
        .env("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent")
        .output()
        .expect("terraform must be on the PATH (Terraform 1.11 is the judge of the gcs backend)")
}

/// Terraform's own `gcs` backend (Go's storage client: XML-API reads, multipart writes,
/// create-only lock objects) keeps its state and lock in the local runtime: init, apply,
/// a clean re-plan, and a held lock refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraforms_gcs_backend_keeps_its_state_in_the_runtime() {
    let server = super::local_server(None).await;
    let rt = server.runtime.clone();
    rt.insert_bucket("tfproj", &serde_json::json!({"name": "tf-state"}))
        .unwrap();
    let host = server.url().trim_start_matches("http://").to_string();
    let d = tempfile::tempdir().unwrap();
    super::write(
        d.path(),
        "main.tf",
        r#"
terraform {
  backend "gcs" {
    bucket = "tf-state"
    prefix = "env/dev"
  }
}
resource "terraform_data" "x" {
  input = "kept in the runtime"
}
output "x" {
  value = terraform_data.x.output
}
"#,
    );
    let dir = d.path().to_path_buf();
    let tf = move |args: &'static [&'static str]| {
        let (dir, host) = (dir.clone(), host.clone());
        async move {
            tokio::task::spawn_blocking(move || terraform(&dir, &host, args))
                .await
                .unwrap()
        }
    };
    let o = tf(&["init", "-input=false", "-no-color"]).await;
    assert!(o.status.success(), "init: {}", text(&o));
    let o = tf(&["apply", "-auto-approve", "-input=false", "-no-color"]).await;
    assert!(o.status.success(), "apply: {}", text(&o));
    let (_, bytes) = rt
        .object_bytes("tf-state", "env/dev/default.tfstate")
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        state["outputs"]["x"]["value"], "kept in the runtime",
        "{state}"
    );
    assert!(
        rt.get_object("tf-state", "env/dev/default.tflock").is_err(),
        "the lock is released"
    );
    let o = tf(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]).await;
    assert_eq!(o.status.code(), Some(0), "re-plan: {}", text(&o));

    // Someone else holds the lock: Terraform is refused and names the holder.
    let lock = serde_json::json!({
        "ID": "held-by-test", "Operation": "OperationTypeApply", "Info": "",
        "Who": "someone@elsewhere", "Version": "1.11.4",
        "Created": "2026-12-01T00:00:00Z", "Path": "gs://tf-state/env/dev/default.tflock",
    });
    rt.put_object(
        "tf-state",
        "env/dev/default.tflock",
        "application/json",
        lock.to_string().as_bytes(),
        None,
    )
    .unwrap();
    let o = tf(&["plan", "-lock-timeout=0s", "-input=false", "-no-color"]).await;
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("Error acquiring the state lock"),
        "{t}"
    );
    assert!(t.contains("someone@elsewhere"), "{t}");
    server.stop().await;
}
