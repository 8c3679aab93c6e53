//! Applies through a proxy that fails calls (issue 13, finding 3): 429 and 503 answers, half of
//! them after the call reached the runtime and took effect. Every apply must still succeed,
//! end with a clean plan, and leave exactly the configured jobs (nothing duplicated, nothing
//! lost).

use super::cli_support::{runform, text};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the proxy did.
#[derive(Default)]
pub struct Faults {
    pub calls: AtomicUsize,
    pub before: AtomicUsize,
    pub after: AtomicUsize,
    /// Calls being answered right now, and the most at once since the last reset.
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// What the proxy does with one call.
pub enum Verdict {
    Forward,
    /// Answer 429 (`quota`) or 503 without forwarding.
    FailBefore {
        quota: bool,
    },
    /// Forward (the call takes effect), then answer 429 or 503 anyway.
    FailAfter {
        quota: bool,
    },
    /// Forward this call, then stop listening (connections refused from then on).
    ForwardThenShutDown,
}

/// Decides each call's fate from its method and URI.
pub type Rule = Box<dyn FnMut(&Method, &Uri) -> Verdict + Send>;

/// A proxy on 127.0.0.1 in front of `target` failing `rate` of the calls (seeded): half
/// answered 429/503 without forwarding, half forwarded first (so they take effect) and then
/// answered 429/503 anyway. Returns its URL.
pub async fn fault_proxy(target: String, rate: f64, seed: u64) -> (String, Arc<Faults>) {
    fault_proxy_at("127.0.0.1:0", target, rate, seed).await
}

/// [`fault_proxy`] on a given address.
pub async fn fault_proxy_at(
    addr: &str,
    target: String,
    rate: f64,
    seed: u64,
) -> (String, Arc<Faults>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let rule: Rule = Box::new(move |_, _| {
        let (fail, after, quota) = (
            rng.random_bool(rate),
            rng.random_bool(0.5),
            rng.random_bool(0.5),
        );
        match (fail, after) {
            (false, _) => Verdict::Forward,
            (true, false) => Verdict::FailBefore { quota },
            (true, true) => Verdict::FailAfter { quota },
        }
    });
    proxy_at(addr, target, rule).await
}

fn injected(quota: bool) -> Response {
    let (status, name) = if quota {
        (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
    };
    let body = serde_json::json!({"error": {"code": status.as_u16(), "status": name, "message": "injected fault"}});
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A proxy on `addr` in front of `target` that treats each call as `rule` says.
pub async fn proxy_at(addr: &str, target: String, rule: Rule) -> (String, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let rule = Arc::new(Mutex::new(rule));
    let http = reqwest::Client::new();
    let f = faults.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop_tx = Arc::new(Mutex::new(Some(stop_tx)));
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (http, target, f, rule, stop) = (
                http.clone(),
                target.clone(),
                f.clone(),
                rule.clone(),
                stop_tx.clone(),
            );
            async move {
                f.calls.fetch_add(1, Ordering::Relaxed);
                let now = f.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                f.max_in_flight.fetch_max(now, Ordering::SeqCst);
                let verdict = (rule.lock().unwrap())(&method, &uri);
                let r = answer(
                    &http, &target, &f, verdict, method, uri, headers, body, &stop,
                )
                .await;
                f.in_flight.fetch_sub(1, Ordering::SeqCst);
                r
            }
        },
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    (url, faults)
}

#[allow(clippy::too_many_arguments)]
async fn answer(
    http: &reqwest::Client,
    target: &str,
    f: &Faults,
    verdict: Verdict,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    stop: &Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
) -> Response {
    if let Verdict::FailBefore { quota } = verdict {
        f.before.fetch_add(1, Ordering::Relaxed);
        return injected(quota);
    }
    if let Verdict::ForwardThenShutDown = verdict {
        if let Some(tx) = stop.lock().unwrap().take() {
            let _ = tx.send(());
        }
    }
    let url = format!(
        "{target}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut req = http.request(method, url).body(body);
    for k in ["content-type", "authorization", "x-runform-token"] {
        if let Some(v) = headers.get(k) {
            req = req.header(k, v);
        }
    }
    let answer = match req.send().await {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    if let Verdict::FailAfter { quota } = verdict {
        f.after.fetch_add(1, Ordering::Relaxed);
        let _ = answer.bytes().await;
        return injected(quota);
    }
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let ct = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut r: Response = (status, bytes).into_response();
    r.headers_mut().insert("content-type", ct.parse().unwrap());
    r
}

/// `n` jobs; round `r` changes every job's env and label, and from round 3 on renames the
/// last ten (a replacement: delete and create).
pub fn jobs_stack(n: usize, round: usize) -> String {
    (0..n)
        .map(|i| {
            let name = if round >= 3 && i >= n - 10 {
                format!("job-{i}-b")
            } else {
                format!("job-{i}")
            };
            format!(
                r#"
resource "google_cloud_run_v2_job" "j{i}" {{
  name                = "{name}"
  project             = "faults"
  location            = "us-central1"
  deletion_protection = false
  labels = {{
    round = "r{round}"
  }}
  template {{
    template {{
      containers {{
        image   = "busybox"
        command = ["/bin/true"]
        env {{
          name  = "ROUND"
          value = "{round}"
        }}
      }}
    }}
  }}
}}
"#
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_converge_behind_a_proxy_failing_15_percent_of_calls() {
    let server = super::local_server(None).await;
    let (proxy, faults) = fault_proxy(server.url(), 0.15, 13).await;
    let d = tempfile::tempdir().unwrap();
    for round in 0..5 {
        super::write(d.path(), "main.tf", &jobs_stack(60, round));
        let dir = d.path().to_path_buf();
        let p = proxy.clone();
        let o = tokio::task::spawn_blocking(move || {
            runform(&dir, &["apply", "--endpoint", &p, "--auto-approve", "."])
        })
        .await
        .unwrap();
        assert!(o.status.success(), "round {round}: {}", text(&o));
        let dir = d.path().to_path_buf();
        let p = proxy.clone();
        let o = tokio::task::spawn_blocking(move || {
            runform(
                &dir,
                &["plan", "--endpoint", &p, "--detailed-exitcode", "."],
            )
        })
        .await
        .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "round {round}: the plan after apply must be clean: {}",
            text(&o)
        );
        let jobs = server
            .runtime
            .list_jobs("projects/faults/locations/us-central1", None, None)
            .unwrap()
            .jobs;
        assert_eq!(jobs.len(), 60, "round {round}: exactly 60 jobs");
        for j in &jobs {
            let j: serde_json::Value = serde_json::from_str(j.get()).unwrap();
            assert_eq!(j["labels"]["round"], format!("r{round}"), "{j}");
        }
    }
    let (calls, before, after) = (
        faults.calls.load(Ordering::Relaxed),
        faults.before.load(Ordering::Relaxed),
        faults.after.load(Ordering::Relaxed),
    );
    eprintln!("{calls} calls through the proxy: {before} failed before the runtime, {after} after it acted");
    assert!(
        before > 20 && after > 20,
        "faults were injected: {before} / {after}"
    );
    server.stop().await;
}

async fn spawn_blocking_runform(dir: &std::path::Path, args: Vec<String>) -> std::process::Output {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        runform(&dir, &refs)
    })
    .await
    .unwrap()
}

/// A server answering every call `200` with an empty body: read as `{}`, an empty job list
/// made every job look deleted, and `apply --refresh-only` dropped them all from the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_answer_is_an_error_not_an_empty_list() {
    let server = super::local_server(None).await;
    let d = tempfile::tempdir().unwrap();
    super::write(d.path(), "main.tf", &jobs_stack(3, 0));
    let apply = |url: String, extra: &[&str]| {
        let mut a = vec![
            "apply".to_string(),
            "--endpoint".into(),
            url,
            "--auto-approve".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push(".".into());
        a
    };
    let o = spawn_blocking_runform(d.path(), apply(server.url(), &[])).await;
    assert!(o.status.success(), "{}", text(&o));
    let empty = axum::Router::new().fallback(|| async { (StatusCode::OK, "") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, empty).await;
    });
    let o = spawn_blocking_runform(d.path(), apply(url, &["--refresh-only"])).await;
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("empty body"), "{}", text(&o));
    let o = spawn_blocking_runform(
        d.path(),
        vec![
            "state".into(),
            "list".into(),
            "--endpoint".into(),
            server.url(),
        ],
    )
    .await;
    assert_eq!(
        text(&o).matches("google_cloud_run_v2_job.").count(),
        3,
        "{}",
        text(&o)
    );
    server.stop().await;
}

/// The endpoint dies mid-apply: the apply finishes what is in flight, starts nothing more,
/// says what was applied and what was not, and the next apply completes the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_stops_the_apply_and_the_next_one_finishes() {
    let server = super::local_server(None).await;
    // A proxy that serves 15 calls, then shuts down (connections refused from then on).
    let mut served = 0;
    let rule: Rule = Box::new(move |_, _| {
        served += 1;
        if served >= 15 {
            Verdict::ForwardThenShutDown
        } else {
            Verdict::Forward
        }
    });
    let (proxy, faults) = proxy_at("127.0.0.1:0", server.url(), rule).await;
    let d = tempfile::tempdir().unwrap();
    super::write(d.path(), "main.tf", &jobs_stack(30, 0));
    let o = spawn_blocking_runform(
        d.path(),
        [
            "apply",
            "--endpoint",
            &proxy,
            "--auto-approve",
            "--parallelism",
            "1",
            ".",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("stopped answering") && t.contains("not started"),
        "{t}"
    );
    let created = server
        .runtime
        .list_jobs("projects/faults/locations/us-central1", None, None)
        .unwrap()
        .jobs
        .len();
    assert!(
        created > 0 && created < 30,
        "{created} created before the endpoint died ({} calls): {t}",
        faults.calls.load(Ordering::SeqCst)
    );
    // The next apply (the endpoint back at the same address) creates the rest, nothing twice.
    let addr = proxy.trim_start_matches("http://").to_string();
    let (back, _) = fault_proxy_at(&addr, server.url(), 0.0, 1).await;
    assert_eq!(back, proxy);
    let o = spawn_blocking_runform(
        d.path(),
        ["apply", "--endpoint", &proxy, "--auto-approve", "."]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert!(
        o.status.success(),
        "first apply: {t}\n\nsecond apply: {}",
        text(&o)
    );
    let jobs = server
        .runtime
        .list_jobs("projects/faults/locations/us-central1", None, None)
        .unwrap()
        .jobs;
    assert_eq!(jobs.len(), 30);
    server.stop().await;
}

/// Figures for the README (run by hand; they take about a minute each):
/// `cargo nextest run --run-ignored only figures --no-capture`.
/// 20 applies of 200 jobs, each through a proxy failing 10% of calls (half after they took
/// effect, a new seed each run): how many converge (apply succeeds, the next plan is clean,
/// exactly 200 jobs exist).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: prints figures for the README"]
async fn figures_200_resources_under_10_percent_faults() {
    let mut converged = 0;
    let t0 = std::time::Instant::now();
    for run in 0..20u64 {
        let server = super::local_server(None).await;
        let (proxy, faults) = fault_proxy(server.url(), 0.10, 1000 + run).await;
        let d = tempfile::tempdir().unwrap();
        let stack = jobs_stack(200, 0).replace("\"faults\"", &format!("\"faults{run}\""));
        super::write(d.path(), "main.tf", &stack);
        let apply = spawn_blocking_runform(
            d.path(),
            ["apply", "--endpoint", &proxy, "--auto-approve", "."]
                .map(String::from)
                .to_vec(),
        )
        .await;
        let plan = spawn_blocking_runform(
            d.path(),
            ["plan", "--endpoint", &proxy, "--detailed-exitcode", "."]
                .map(String::from)
                .to_vec(),
        )
        .await;
        let jobs = server
            .runtime
            .list_jobs(
                &format!("projects/faults{run}/locations/us-central1"),
                Some("1000"),
                None,
            )
            .unwrap()
            .jobs
            .len();
        let ok = apply.status.success() && plan.status.code() == Some(0) && jobs == 200;
        converged += usize::from(ok);
        eprintln!(
            "run {run}: {} ({} calls, {} failed before, {} after the runtime acted; {jobs} jobs)",
            if ok { "converged" } else { "DID NOT CONVERGE" },
            faults.calls.load(Ordering::Relaxed),
            faults.before.load(Ordering::Relaxed),
            faults.after.load(Ordering::Relaxed),
        );
        if !ok {
            eprintln!("{}\n{}", text(&apply), text(&plan));
        }
        server.stop().await;
    }
    eprintln!(
        "200 resources under 10% injected faults: {converged} of 20 runs converged in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(converged, 20);
}

/// 20 applies of 60 jobs killed with SIGKILL at a random point (after 0-59 completed
/// creates), each followed by a plain apply: how many recover (the apply succeeds, the plan is
/// clean, the state and the runtime both hold exactly the 60 jobs).
#[test]
#[ignore = "a benchmark: prints figures for the README"]
fn figures_kill_9_at_20_random_points() {
    use std::io::BufRead;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut recovered = 0;
    for run in 0..20 {
        let d = tempfile::tempdir().unwrap();
        super::write(d.path(), "main.tf", &jobs_stack(60, 0));
        let kill_after: usize = rng.random_range(0..60);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_runform"))
            .args([
                "apply",
                "--local",
                "--auto-approve",
                "--parallelism",
                "4",
                ".",
            ])
            .current_dir(d.path())
            .env("RUNFORM_EXECUTOR", "process")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut done = 0;
        if kill_after > 0 {
            for line in std::io::BufReader::new(stderr).lines() {
                if line
                    .map(|l| l.contains("creating complete"))
                    .unwrap_or(false)
                {
                    done += 1;
                    if done >= kill_after {
                        break;
                    }
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let apply = runform(d.path(), &["apply", "--local", "--auto-approve", "."]);
        let plan = runform(d.path(), &["plan", "--local", "--detailed-exitcode", "."]);
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.path().join(".runform/local/runform.tfstate")).unwrap(),
        )
        .unwrap();
        let in_state = state["resources"].as_object().map_or(0, |m| m.len());
        let rt = runform::runtime::Runtime::open(runform::runtime::RuntimeConfig {
            data_dir: Some(d.path().join(".runform/local/data")),
            ..Default::default()
        })
        .unwrap();
        let live = rt
            .list_jobs("projects/faults/locations/us-central1", None, None)
            .unwrap()
            .jobs
            .len();
        drop(rt);
        let ok =
            apply.status.success() && plan.status.code() == Some(0) && in_state == 60 && live == 60;
        recovered += usize::from(ok);
        eprintln!(
            "run {run}: killed after {done} creates: {} (state {in_state}, runtime {live})",
            if ok { "recovered" } else { "DID NOT RECOVER" }
        );
        if !ok {
            eprintln!("{}\n{}", text(&apply), text(&plan));
        }
    }
    eprintln!("kill -9 at 20 random points: {recovered} of 20 recovered");
    assert_eq!(recovered, 20);
}

/// One object of every type that is created with a POST.
const EVERY_TYPE: &str = r#"
provider "google" {
  project = "adopt"
  region  = "us-central1"
}
resource "google_storage_bucket" "b" {
  name          = "adopt-bucket"
  location      = "US"
  force_destroy = true
  labels        = { team = "data" }
}
resource "google_service_account" "sa" {
  account_id   = "adopt-sa"
  display_name = "Adopted"
}
resource "google_artifact_registry_repository" "r" {
  repository_id = "adopt-repo"
  location      = "us-central1"
  format        = "DOCKER"
}
resource "google_cloud_run_v2_job" "j" {
  name                = "adopt-job"
  location            = "us-central1"
  deletion_protection = false
  template {
    template {
      containers {
        image   = "busybox"
        command = ["/bin/true"]
      }
    }
  }
}
resource "google_workflows_workflow" "w" {
  name                = "adopt-workflow"
  region              = "us-central1"
  deletion_protection = false
  service_account     = google_service_account.sa.id
  source_contents     = "main:\n  steps:\n    - done:\n        return: 1\n"
  labels              = { team = "data" }
}
resource "google_eventarc_trigger" "t" {
  name     = "adopt-trigger"
  location = "us-central1"
  matching_criteria {
    attribute = "type"
    value     = "google.cloud.storage.object.v1.finalized"
  }
  matching_criteria {
    attribute = "bucket"
    value     = google_storage_bucket.b.name
  }
  destination {
    workflow = google_workflows_workflow.w.id
  }
  service_account = google_service_account.sa.email
}
resource "google_cloud_scheduler_job" "s" {
  name     = "adopt-schedule"
  region   = "us-central1"
  schedule = "0 * * * *"
  http_target {
    uri = "https://example.com/"
  }
}
"#;

/// Every create is answered 503 after it took effect: each retried create gets 409, and the
/// object found is adopted because it is the one sent (issue 13, finding 3): the apply
/// succeeds, the plan is clean, nothing is made twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_adopts_its_own_create_answered_with_an_error() {
    let server = super::local_server(None).await;
    let mut failed: std::collections::BTreeSet<String> = Default::default();
    let rule: Rule = Box::new(move |method, uri| {
        if *method == Method::POST && failed.insert(uri.path().to_string()) {
            Verdict::FailAfter { quota: false }
        } else {
            Verdict::Forward
        }
    });
    let (proxy, faults) = proxy_at("127.0.0.1:0", server.url(), rule).await;
    let d = tempfile::tempdir().unwrap();
    super::write(d.path(), "main.tf", EVERY_TYPE);
    let args = |cmd: &[&str]| {
        let mut a: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        a.extend(["--endpoint".into(), proxy.clone(), ".".into()]);
        a
    };
    let o = spawn_blocking_runform(d.path(), args(&["apply", "--auto-approve"])).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        faults.after.load(Ordering::Relaxed) >= 7,
        "every create was failed after it took effect"
    );
    let o = spawn_blocking_runform(d.path(), args(&["plan", "--detailed-exitcode"])).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    server.stop().await;
}

/// A create answered 409 for an object that is not the one sent (someone else's bucket of
/// that name) is an error, not a takeover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_object_of_the_same_name_is_not_adopted() {
    let server = super::local_server(None).await;
    // Someone else makes a bucket of that name between this apply's plan and its create.
    let runtime = server.runtime.clone();
    let rule: Rule = Box::new(move |method, uri| {
        if *method == Method::POST && uri.path() == "/storage/v1/b" {
            let theirs = serde_json::json!({"name": "adopt-bucket", "location": "EU"});
            let _ = runtime.insert_bucket("other", &theirs);
        }
        Verdict::Forward
    });
    let (proxy, _) = proxy_at("127.0.0.1:0", server.url(), rule).await;
    let d = tempfile::tempdir().unwrap();
    let stack = EVERY_TYPE
        .split("resource \"google_service_account\"")
        .next()
        .unwrap();
    super::write(d.path(), "main.tf", stack);
    let o = spawn_blocking_runform(
        d.path(),
        ["apply", "--endpoint", &proxy, "--auto-approve", "."]
            .map(String::from)
            .to_vec(),
    )
    .await;
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("is not the one this apply sent"),
        "{t}"
    );
    let o = spawn_blocking_runform(
        d.path(),
        ["state", "list", "--endpoint", &server.url()]
            .map(String::from)
            .to_vec(),
    )
    .await;
    assert!(
        !text(&o).contains("google_storage_bucket.b"),
        "{}",
        text(&o)
    );
    server.stop().await;
}

/// Quota errors slow the whole client down: after a burst of 429s, fewer calls are in
/// flight at once, not just the one call waiting (issue 13, finding 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_errors_leave_fewer_calls_in_flight() {
    #[derive(Default)]
    struct Seen {
        refused: AtomicUsize,
        in_flight: AtomicUsize,
        max_after_refusals: AtomicUsize,
    }
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let app = axum::Router::new().fallback(move || {
        let s = s.clone();
        async move {
            if s.refused.fetch_add(1, Ordering::SeqCst) < 10 {
                let body = serde_json::json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}});
                return (StatusCode::TOO_MANY_REQUESTS, [("content-type", "application/json")], body.to_string()).into_response();
            }
            let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            s.max_after_refusals.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            s.in_flight.fetch_sub(1, Ordering::SeqCst);
            let job = serde_json::json!({"name": "projects/p/locations/l/jobs/j"});
            ([("content-type", "application/json")], job.to_string()).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = runform::cloud::Client::new(runform::cloud::Endpoint::Custom(url))
        .await
        .unwrap();
    // Ten calls at once: each one's first try is refused, then they are retried.
    let calls = (0..10).map(|_| client.get_job("projects/p/locations/l/jobs/j"));
    for r in futures::future::join_all(calls).await {
        assert!(r.unwrap().is_some());
    }
    let most = seen.max_after_refusals.load(Ordering::SeqCst);
    assert!(
        most <= 4,
        "after ten 429s, {most} calls were in flight at once"
    );
}

/// A create that is never accepted (503 on every try) gives up when the resource's
/// `timeouts { create }` is spent, not after the provider's 20 minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_end_with_the_resources_timeouts() {
    let server = super::local_server(None).await;
    let rule: Rule = Box::new(|method, uri| {
        if *method == Method::POST && uri.path().starts_with("/v2/") {
            Verdict::FailBefore { quota: false }
        } else {
            Verdict::Forward
        }
    });
    let (proxy, faults) = proxy_at("127.0.0.1:0", server.url(), rule).await;
    let d = tempfile::tempdir().unwrap();
    let stack = jobs_stack(1, 0).replace(
        "  deletion_protection = false\n",
        "  deletion_protection = false\n  timeouts {\n    create = \"2s\"\n  }\n",
    );
    assert!(stack.contains("create = \"2s\""));
    super::write(d.path(), "main.tf", &stack);
    let started = std::time::Instant::now();
    let o = spawn_blocking_runform(
        d.path(),
        ["apply", "--endpoint", &proxy, "--auto-approve", "."]
            .map(String::from)
            .to_vec(),
    )
    .await;
    let t = text(&o);
    assert!(!o.status.success() && t.contains("503"), "{t}");
    assert!(faults.before.load(Ordering::Relaxed) >= 2, "it retried");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "gave up after {:?}",
        started.elapsed()
    );
    server.stop().await;
}
