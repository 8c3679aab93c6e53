//! The shipped examples apply unedited on the local runtime, plan clean afterwards, and do
//! what they promise.

use super::cli_support::{runform, text};
use runform::runtime::{RuntimeConfig, Server};
use std::path::Path;

pub fn copy_example(name: &str, to: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

pub async fn cli(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    // `--endpoint` goes after the (sub)command name: `state list --endpoint URL`.
    let at = if ["state", "workspace"].contains(&args[0]) {
        2
    } else {
        1
    };
    let mut a: Vec<String> = args[..at].iter().map(|s| s.to_string()).collect();
    a.extend(["--endpoint".to_string(), url.to_string()]);
    a.extend(args[at..].iter().map(|s| s.to_string()));
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        runform(&dir, &refs)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_etl_fires_at_two_new_york_time_and_runs_fifty_tasks() {
    // 01:59 in New York (EDT).
    let cfg = RuntimeConfig {
        manual_clock: Some("2026-06-01T05:59:00Z".parse().unwrap()),
        ..Default::default()
    };
    let server = Server::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    copy_example("nightly-etl", dir.path());
    let o = cli(dir.path(), &url, &["apply", "--auto-approve", "."]).await;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("warning"), "{t}");
    let o = cli(dir.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let rt = &server.runtime;
    let name = "projects/runform-local/locations/us-central1/jobs/nightly-etl";
    assert_eq!(
        rt.get_scheduler_job(name).unwrap().schedule_time,
        "2026-06-01T06:00:00.000000Z"
    );
    assert_eq!(rt.scheduler_tick().await, 0);
    rt.advance_clock(std::time::Duration::from_secs(60));
    assert_eq!(rt.scheduler_tick().await, 1);
    let attempt = rt.scheduler_attempts(name).unwrap().pop().unwrap();
    assert_eq!(attempt.code, 0, "{}", attempt.message);
    let mut exec = rt.get_execution(&attempt.execution).unwrap();
    for _ in 0..1000 {
        if exec.is_done() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        exec = rt.get_execution(&attempt.execution).unwrap();
    }
    assert_eq!(exec.succeeded_count, 50, "{exec:?}");

    let o = cli(dir.path(), &url, &["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(rt.get_scheduler_job(name).is_err());
    server.stop().await;
}

#[test]
fn quickstart_applies_then_plans_clean() {
    let dir = tempfile::tempdir().unwrap();
    copy_example("quickstart", dir.path());
    let o = runform(dir.path(), &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("hello from task 5 of 6"), "{t}");
    let o = runform(dir.path(), &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn db_migration_runs_before_its_dependents_and_a_failure_stops_them() {
    let dir = tempfile::tempdir().unwrap();
    copy_example("db-migration", dir.path());
    let o = runform(dir.path(), &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let migrated = t.find("schema at 2026.11.1").expect(&t);
    let etl = t
        .find("google_cloud_run_v2_job.etl: creating...")
        .expect(&t);
    assert!(migrated < etl, "the migration ran first:\n{t}");
    let o = runform(dir.path(), &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A new release whose migration fails: apply stops, names the task, shows its log, and
    // leaves the ETL job on the old release.
    let main = dir.path().join("main.tf");
    let cfg = std::fs::read_to_string(&main).unwrap().replace(
        "echo \\\"schema at $RELEASE\\\"",
        "echo \\\"cannot migrate\\\"; exit 3",
    );
    std::fs::write(&main, cfg).unwrap();
    let o = runform(
        dir.path(),
        &[
            "apply",
            "--local",
            "--auto-approve",
            "--var",
            "release=2026.11.2",
            ".",
        ],
    );
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("task 0") && t.contains("cannot migrate"), "{t}");
    assert!(!t.contains("google_cloud_run_v2_job.etl: updating"), "{t}");
    let o = runform(
        dir.path(),
        &["plan", "--local", "--var", "release=2026.11.2", "."],
    );
    let t = text(&o);
    assert!(
        t.contains("runform_job_execution.migrate will be executed"),
        "the failed run is retried next time:\n{t}"
    );
    assert!(
        t.contains("google_cloud_run_v2_job.etl will be updated"),
        "{t}"
    );
}

#[test]
fn image_resize_runs_four_shards_for_an_upload() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_example("image-resize", d);
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("warning"), "{t}");
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::write(d.join("photo.jpg"), "jpeg").unwrap();
    let ds = d.to_str().unwrap();
    let o = runform(
        d,
        &[
            "local",
            "upload",
            "--dir",
            ds,
            "photo.jpg",
            "gs://input-runform-local/photos/photo.jpg",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["executions", "--local", "resize"]);
    let t = text(&o);
    let exec = t
        .split_whitespace()
        .find(|w| w.starts_with("resize-"))
        .expect(&t)
        .to_string();
    let o = runform(d, &["logs", "--local", &exec]);
    let t = text(&o);
    for (i, size) in [(0, 64), (1, 128), (2, 256), (3, 512)] {
        assert!(
            t.contains(&format!(
                "task {i}: resizing gs://input-runform-local/photos/photo.jpg to {size}px"
            )),
            "{t}"
        );
    }
    // force_destroy: destroy removes the bucket with its object.
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
}
