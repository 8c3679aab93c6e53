//! Issue 13, "Trust": nobody but the user reaches the local runtime (no web page, no other
//! local user when a token is set), its data is the user's only.

use super::cli_support::text;
use std::io::BufRead;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

const JOBS: &str = "/v2/projects/p/locations/us-central1/jobs";

fn job_body() -> String {
    serde_json::json!({"template": {"template": {"containers": [{
        "image": "busybox", "command": ["/bin/sh", "-c", "touch /tmp/pwned"]
    }]}}})
    .to_string()
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A cross-site "simple" request (text/plain, foreign Origin), a DNS-rebinding Host and a
/// non-JSON body are all refused before anything is created; same-origin JSON still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_cannot_reach_the_runtime() {
    let server = super::local_server(None).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let create = |ct: &str, origin: Option<&str>, id: &str| {
        let mut r = http
            .post(format!("{url}{JOBS}?jobId={id}"))
            .header("content-type", ct)
            .body(job_body());
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    let r = create("text/plain", Some("http://evil.example"), "xsite")
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("cross-origin"));
    // Without an Origin, a text/plain body still cannot reach a JSON method.
    let r = create("text/plain", None, "plain").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("application/json"));
    let r = create("application/x-www-form-urlencoded", None, "form")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // DNS rebinding: the page's own host name.
    let r = http
        .get(format!("{url}{JOBS}"))
        .header("host", "evil.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A preflight from a foreign origin is not granted.
    let r = http
        .request(reqwest::Method::OPTIONS, format!("{url}{JOBS}"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_ne!(r.status(), 200);
    for id in ["xsite", "plain", "form"] {
        assert!(server
            .runtime
            .get_job(&format!("projects/p/locations/us-central1/jobs/{id}"))
            .is_err());
    }
    // The runtime's own origin with JSON is fine, as are clients that send no Origin.
    let r = create("application/json; charset=utf-8", Some(&url), "mine")
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let localhost = url.replace("127.0.0.1", "localhost");
    let r = http.get(format!("{localhost}{JOBS}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

/// The tasks' metadata server answers only to its own names (a rebinding page would read the
/// job's tokens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_server_refuses_foreign_hosts() {
    let server = super::local_server(None).await;
    let id =
        runform::runtime::metadata::Identity::of("projects/p/locations/us-central1/jobs/j", "");
    let md = runform::runtime::metadata::start(server.runtime.clone(), id)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let get = |host: &str| {
        http.get(format!(
            "http://{}/computeMetadata/v1/instance/service-accounts/default/token",
            md.addr
        ))
        .header("metadata-flavor", "Google")
        .header("host", host)
        .send()
    };
    assert_eq!(get("evil.example").await.unwrap().status(), 403);
    assert_eq!(
        get(&md.addr.to_string()).await.unwrap().status(),
        200,
        "its own address"
    );
    assert_eq!(get("metadata.google.internal").await.unwrap().status(), 200);
    drop(md);
    server.stop().await;
}

/// `runform local serve --token`: every call needs the token; runform's commands find it in
/// .runform/local/token (0600) and send it; others get 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_runtime_can_require_a_token() {
    let d = tempfile::tempdir().unwrap();
    super::write(
        d.path(),
        "main.tf",
        r#"
resource "google_cloud_run_v2_job" "j" {
  name                = "tok"
  project             = "p"
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
"#,
    );
    let mut serve = Command::new(env!("CARGO_BIN_EXE_runform"))
        .args([
            "local",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--executor",
            "process",
            "--token",
            "--dir",
        ])
        .arg(d.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(serve.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let token_file = d.path().join(".runform/local/token");
    assert_eq!(mode(&token_file), 0o600);
    assert_eq!(mode(&d.path().join(".runform/local")), 0o700);
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(token.len() >= 32);

    let http = reqwest::Client::new();
    let r = http.get(format!("{url}{JOBS}")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("requires its token"));
    let r = http
        .get(format!("{url}{JOBS}"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for (k, v) in [
        ("x-runform-token", token.clone()),
        ("authorization", format!("Bearer {token}")),
    ] {
        let r = http
            .get(format!("{url}{JOBS}"))
            .header(k, v)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{k}");
    }
    // runform's own commands send it by themselves.
    let dir = d.path().to_path_buf();
    let o = tokio::task::spawn_blocking(move || {
        super::cli_support::runform(&dir, &["apply", "--local", "--auto-approve", "."])
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // It used the served runtime (not one of its own on the same data).
    let r = http
        .get(format!("{url}{JOBS}/tok"))
        .header("x-runform-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = serve.kill();
    let _ = serve.wait();
}

/// The runtime's data directory and the files it writes are the owner's only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_data_is_private() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let server = super::server_with_data(&dir).await;
    let rt = server.runtime.clone();
    rt.insert_bucket("p", &serde_json::json!({"name": "priv-bucket"}))
        .unwrap();
    rt.put_object("priv-bucket", "o", "text/plain", b"x", None)
        .unwrap();
    let mut j = runform::api::run::Job::default();
    j.template
        .template
        .containers
        .push(runform::api::run::Container {
            image: "busybox".into(),
            command: vec!["/bin/echo".into(), "hi".into()],
            ..Default::default()
        });
    let exec = super::start_job(&rt, super::PARENT, "priv", j);
    super::wait_execution(&rt, &exec, std::time::Duration::from_millis(20)).await;
    server.stop().await;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("runtime.sqlite3")), 0o600);
    let files: Vec<std::path::PathBuf> = walk(&dir);
    let logs: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(!logs.is_empty());
    for f in logs {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    let objects: Vec<_> = files
        .iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("objects")))
        .collect();
    assert!(!objects.is_empty());
    for f in objects {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `PATCH ...jobs/X?allowMissing=true` on a missing job creates it (it used to deadlock the
/// whole runtime: the store's lock was held across the create).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_allow_missing_creates_without_deadlock() {
    let server = super::local_server(None).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let patch = http
        .patch(format!("{url}{JOBS}/upsert?allowMissing=true"))
        .header("content-type", "application/json")
        .body(job_body())
        .send();
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), patch)
        .await
        .expect("the runtime answers (no deadlock)")
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let health = http.get(format!("{url}/runform/v1/health")).send();
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), health)
        .await
        .expect("still answering")
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(server
        .runtime
        .get_job("projects/p/locations/us-central1/jobs/upsert")
        .is_ok());
    server.stop().await;
}

/// A secret reference is an id, never a path: `../` or an absolute path in a version would
/// have read any file into a task's env. Refused at create, naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_versions_cannot_name_files() {
    let server = super::local_server(None).await;
    let url = server.url();
    let http = reqwest::Client::new();
    for (secret, version) in [
        ("projects/p/secrets/tls", "../../../../etc/passwd"),
        ("projects/p/secrets/tls", "/etc/passwd"),
        ("projects/p/secrets/..", "latest"),
    ] {
        let body = serde_json::json!({"template": {"template": {"containers": [{
            "image": "busybox", "command": ["/bin/true"],
            "env": [{"name": "X", "valueSource": {"secretKeyRef": {"secret": secret, "version": version}}}]
        }]}}});
        let r = http
            .post(format!("{url}{JOBS}?jobId=leak"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{secret} {version}");
        let t = r.text().await.unwrap();
        assert!(
            t.contains("secretKeyRef") && t.contains("Secret Manager id"),
            "{t}"
        );
    }
    server.stop().await;
}

/// Bodies up to Cloud Storage's single-request limit are read (a 3 MB state in a gcs backend
/// used to get 413 from axum's 2 MB default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_uploads_are_accepted() {
    let server = super::local_server(None).await;
    let url = server.url();
    server
        .runtime
        .insert_bucket("p", &serde_json::json!({"name": "big-state"}))
        .unwrap();
    let body = vec![b'x'; 3 * 1024 * 1024 + 17];
    let r = reqwest::Client::new()
        .post(format!(
            "{url}/upload/storage/v1/b/big-state/o?uploadType=media&name=default.tfstate"
        ))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, data) = server
        .runtime
        .object_bytes("big-state", "default.tfstate")
        .unwrap();
    assert_eq!(data.len(), body.len());
    server.stop().await;
}

fn no_panic(o: &std::process::Output, what: &str) {
    let t = text(o);
    assert_ne!(o.status.code(), Some(101), "{what} panicked: {t}");
    assert!(!t.contains("panicked"), "{what}: {t}");
}

/// Inputs fuzzing found panics on (issue 13, finding 9): each is now a located error.
#[test]
fn inputs_that_panicked_are_errors() {
    let d = tempfile::tempdir().unwrap();
    // A syntax error at a pasted smart quote (a multi-byte character).
    super::write(
        d.path(),
        "main.tf",
        "resource \"google_cloud_run_v2_job\" \"j\" {\n  name = \u{201c}x\u{201d}\n}\n",
    );
    let o = super::cli_support::runform(d.path(), &["validate", "."]);
    no_panic(&o, "smart quotes");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("main.tf:2:10"), "{}", text(&o));
    super::write(d.path(), "main.tf", "\u{e9}");
    no_panic(
        &super::cli_support::runform(d.path(), &["validate", "."]),
        "a lone é",
    );
    // A duration past any clock.
    super::write(
        d.path(),
        "main.tf",
        "resource \"time_sleep\" \"w\" {\n  create_duration = \"18446744073709551616s\"\n}\n",
    );
    let o = super::cli_support::runform(d.path(), &["plan", "--local", "."]);
    no_panic(&o, "create_duration");
    assert!(!o.status.success());
    assert!(text(&o).contains("too long"), "{}", text(&o));
    let o = super::cli_support::runform(
        d.path(),
        &[
            "plan",
            "--local",
            "--lock-timeout",
            "99999999999999999999s",
            ".",
        ],
    );
    no_panic(&o, "--lock-timeout");
    assert!(!o.status.success());
    assert!(text(&o).contains("too long"), "{}", text(&o));
}

/// A run override's absurd timeout is refused, and the runtime's workers live on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_override_timeout_is_refused() {
    let server = super::local_server(None).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{url}{JOBS}?jobId=t"))
        .json(&serde_json::json!({"template": {"template": {"containers": [{"image": "busybox", "command": ["/bin/true"]}]}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for timeout in ["1e300s", "-5s", "604801s"] {
        let r = http
            .post(format!("{url}{JOBS}/t:run"))
            .json(&serde_json::json!({"overrides": {"timeout": timeout}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{timeout}");
    }
    let r = http
        .post(format!("{url}{JOBS}/t:run"))
        .json(&serde_json::json!({"overrides": {"timeout": "30s"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

/// `runform ... | head`: the reader goes away; runform ends quietly (status 141, as SIGPIPE
/// would), without a panic.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    // A pipe smaller than the output (the schema is about 60 KB, under the default 64 KiB
    // pipe: the command could finish before the reader closed it, and exit 0).
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    nix::fcntl::fcntl(&write_end, nix::fcntl::FcntlArg::F_SETPIPE_SZ(4096)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_runform"))
        .args(["providers", "schema", "--json"])
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::fs::File::from(read_end);
    let mut first = [0u8; 16];
    reader.read_exact(&mut first).unwrap();
    drop(reader);
    let o = child.wait_with_output().unwrap();
    no_panic(&o, "closed pipe");
    assert_eq!(o.status.code(), Some(141));
}

/// One runtime per data dir (issue 13, finding 7): while a command's own runtime runs an
/// execution, a second `--local` command on the stack waits for it instead of starting a
/// runtime that would take the running execution for an interrupted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_local_command_waits_for_the_first_runtime() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join(".runform/local/data");
    // The first command's runtime (no server.json: it is inside a command).
    let first = super::server_with_data(&data).await;
    let rt = first.runtime.clone();
    let mut j = runform::api::run::Job::default();
    j.template
        .template
        .containers
        .push(runform::api::run::Container {
            image: "busybox".into(),
            command: vec!["/bin/sh".into(), "-c".into(), "sleep 2".into()],
            ..Default::default()
        });
    rt.create_job("projects/p/locations/us-central1", "long", j, false)
        .unwrap();
    let (exec, _) = rt
        .run_job(
            "projects/p/locations/us-central1/jobs/long",
            Default::default(),
            None,
        )
        .unwrap();
    // A second runtime on the same data is refused outright.
    let second = runform::runtime::Server::start(
        runform::runtime::RuntimeConfig {
            data_dir: Some(data.clone()),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await;
    let err = second
        .err()
        .expect("a second runtime on one data dir")
        .to_string();
    assert!(
        err.contains("another local runtime") && err.contains(&std::process::id().to_string()),
        "{err}"
    );
    // A second command waits, saying why, and goes on once the first runtime is gone.
    let dir = d.path().to_path_buf();
    let cmd = tokio::task::spawn_blocking(move || {
        super::cli_support::runform(
            &dir,
            &[
                "executions",
                "--local",
                "projects/p/locations/us-central1/jobs/long",
            ],
        )
    });
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(!cmd.is_finished(), "the second command waits");
    for _ in 0..200 {
        if rt.get_execution(&exec.name).unwrap().is_done() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let e = rt.get_execution(&exec.name).unwrap();
    assert!(
        e.succeeded(),
        "not marked interrupted by the waiting command: {:?}",
        e.completed()
    );
    first.stop().await;
    drop(rt);
    let o = cmd.await.unwrap();
    assert!(
        text(&o).contains("waiting: the local runtime of another runform command"),
        "{}",
        text(&o)
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// A saved plan is the owner's only (0600) and applies only to the target it was made for
/// (issue 13, finding 5: a plan made for the local runtime applied to Google).
#[test]
fn a_saved_plan_is_private_and_bound_to_its_target() {
    let d = tempfile::tempdir().unwrap();
    super::write(
        d.path(),
        "main.tf",
        "resource \"google_cloud_run_v2_job\" \"j\" {\n  name = \"pf\"\n  project = \"p\"\n  location = \"us-central1\"\n  deletion_protection = false\n  template {\n    template {\n      containers {\n        image = \"busybox\"\n        command = [\"/bin/true\"]\n      }\n    }\n  }\n}\n",
    );
    let o = super::cli_support::runform(d.path(), &["plan", "--local", "--out", "p.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(mode(&d.path().join("p.plan")), 0o600);
    assert!(
        text(&o).contains("runform apply --local p.plan"),
        "{}",
        text(&o)
    );
    for (args, said) in [
        (vec!["apply", "p.plan"], "not Google Cloud"),
        (
            vec!["apply", "--endpoint", "http://127.0.0.1:9", "p.plan"],
            "not the endpoint http://127.0.0.1:9",
        ),
    ] {
        let o = super::cli_support::runform(d.path(), &args);
        assert!(!o.status.success());
        let t = text(&o);
        assert!(
            t.contains("was planned for the local runtime") && t.contains(said),
            "{t}"
        );
    }
    let o = super::cli_support::runform(d.path(), &["apply", "--local", "p.plan"]);
    assert!(o.status.success(), "{}", text(&o));
}

/// A client that opens a connection and never finishes its headers (slowloris) is cut off
/// after the header timeout, and meanwhile 300 such connections do not stop the runtime from
/// answering (issue 13, finding 10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = runform::runtime::Server::start(
        runform::runtime::RuntimeConfig {
            header_timeout: std::time::Duration::from_millis(500),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut idle = Vec::new();
    for i in 0..300 {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET /runform/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .await
                .unwrap();
        }
        idle.push(s);
    }
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        reqwest::get(format!("{}/runform/v1/health", server.url())),
    )
    .await
    .expect("answers despite 300 idle connections")
    .unwrap();
    assert_eq!(r.status(), 200);
    // The half-sent requests are closed by the runtime once the timeout passes.
    let mut s = idle.swap_remove(0);
    let mut buf = [0u8; 512];
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("the runtime closes a connection that never finishes its headers");
    let n = closed.unwrap_or(0);
    assert!(
        n == 0 || String::from_utf8_lossy(&buf[..n]).contains(" 408 "),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    server.stop().await;
}

/// Eventarc's `validateOnly` checks without changing anything (it used to create the
/// trigger), and `allowMissing` on update and delete behaves as Google's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventarc_validate_only_changes_nothing() {
    let server = super::local_server(None).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let base = format!("{url}/v1/projects/p/locations/us-central1/triggers");
    let trigger = serde_json::json!({
        "eventFilters": [{"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"}],
        "destination": {"httpEndpoint": {"uri": "http://127.0.0.1:9/hook"}}
    });
    let exists = || {
        server
            .runtime
            .get_trigger("projects/p/locations/us-central1/triggers/t")
            .is_ok()
    };
    let r = http
        .post(format!("{base}?triggerId=t&validateOnly=true"))
        .json(&trigger)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!exists(), "validateOnly created the trigger");
    // An invalid trigger is still refused under validateOnly.
    let r = http
        .post(format!("{base}?triggerId=t&validateOnly=true"))
        .json(&serde_json::json!({"eventFilters": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // PATCH with allowMissing creates; DELETE with validateOnly keeps; allowMissing deletes
    // what is not there without an error.
    let r = http
        .patch(format!("{base}/t?allowMissing=true"))
        .json(&trigger)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert!(exists());
    let r = http
        .delete(format!("{base}/t?validateOnly=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(exists(), "validateOnly deleted the trigger");
    let r = http.delete(format!("{base}/t")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!exists());
    let r = http.delete(format!("{base}/t")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .delete(format!("{base}/t?allowMissing=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

/// A job an interrupted apply created but did not record (killed between the create and the
/// journal) is adopted by the next apply, even when its Terraform-only arguments
/// (`deletion_protection`) are all that differs: that used to be a "state-only change" with
/// no state entry, and the apply failed (found by the kill -9 figures).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrecorded_create_is_adopted() {
    let server = super::local_server(None).await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    let job = |name: &str| {
        format!("resource \"google_cloud_run_v2_job\" \"{name}\" {{\n  name = \"{name}\"\n  project = \"p\"\n  location = \"us-central1\"\n  deletion_protection = false\n  template {{\n    template {{\n      containers {{\n        image = \"busybox\"\n        command = [\"/bin/true\"]\n      }}\n    }}\n  }}\n}}\n")
    };
    super::write(d.path(), "main.tf", &job("first"));
    let o = super::examples::cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = super::examples::cli(d.path(), &url, &["state", "pull"]).await;
    let lineage = serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["lineage"]
        .as_str()
        .unwrap()
        .to_string();
    // What the killed apply had sent for `second`: created, never journaled.
    let mut j = runform::api::run::Job::default();
    j.annotations.insert("runform.dev/lineage".into(), lineage);
    j.annotations.insert(
        "runform.dev/address".into(),
        "google_cloud_run_v2_job.second".into(),
    );
    j.template
        .template
        .containers
        .push(runform::api::run::Container {
            image: "busybox".into(),
            command: vec!["/bin/true".into()],
            ..Default::default()
        });
    server
        .runtime
        .create_job("projects/p/locations/us-central1", "second", j, false)
        .unwrap();
    super::write(d.path(), "main.tf", &[job("first"), job("second")].concat());
    let o = super::examples::cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = super::examples::cli(d.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    server.stop().await;
}

/// Every REST method family of the runtime, with `allowMissing` and `validateOnly` where
/// Google has them, each under a timeout, followed by a health check: a lock held across a
/// re-entrant call (the `allowMissing` deadlock) or an await hangs here instead of in a
/// user's terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rest_method_answers() {
    use reqwest::Method;
    let server = super::local_server(None).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let loc = "projects/sweep/locations/us-central1";
    let job = serde_json::json!({"template": {"template": {"containers": [{"image": "busybox", "command": ["/bin/true"]}]}}});
    let sched = serde_json::json!({"schedule": "0 2 * * *", "timeZone": "UTC", "httpTarget": {"uri": "http://127.0.0.1:9/x", "httpMethod": "POST"}});
    let trigger = serde_json::json!({"eventFilters": [{"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"}], "destination": {"httpEndpoint": {"uri": "http://127.0.0.1:9/h"}}});
    let workflow =
        serde_json::json!({"sourceContents": "main:\n  steps:\n    - done:\n        return: 1\n"});
    let repo = serde_json::json!({"format": "DOCKER"});
    let sa = serde_json::json!({"accountId": "sweeper", "serviceAccount": {"displayName": "s"}});
    let e = serde_json::json!({});
    let calls: Vec<(Method, String, serde_json::Value)> = vec![
        // Cloud Run jobs, executions, tasks, operations.
        (
            Method::POST,
            format!("/v2/{loc}/jobs?jobId=j&validateOnly=true"),
            job.clone(),
        ),
        (
            Method::PATCH,
            format!("/v2/{loc}/jobs/j?allowMissing=true&validateOnly=true"),
            job.clone(),
        ),
        (
            Method::PATCH,
            format!("/v2/{loc}/jobs/j?allowMissing=true"),
            job.clone(),
        ),
        (Method::POST, format!("/v2/{loc}/jobs?jobId=j"), job.clone()),
        (Method::GET, format!("/v2/{loc}/jobs"), e.clone()),
        (Method::GET, format!("/v2/{loc}/jobs/j"), e.clone()),
        (
            Method::PATCH,
            format!("/v2/{loc}/jobs/j?validateOnly=true"),
            job.clone(),
        ),
        (Method::PATCH, format!("/v2/{loc}/jobs/j"), job.clone()),
        (
            Method::POST,
            format!("/v2/{loc}/jobs/j:run?validateOnly=true"),
            e.clone(),
        ),
        (Method::POST, format!("/v2/{loc}/jobs/j:run"), e.clone()),
        (
            Method::GET,
            format!("/v2/{loc}/jobs/j/executions"),
            e.clone(),
        ),
        (
            Method::GET,
            format!("/v2/{loc}/jobs/j:getIamPolicy"),
            e.clone(),
        ),
        (
            Method::POST,
            format!("/v2/{loc}/jobs/j:setIamPolicy"),
            serde_json::json!({"policy": {}}),
        ),
        (
            Method::POST,
            format!("/v2/{loc}/jobs/j:testIamPermissions"),
            serde_json::json!({"permissions": ["run.jobs.get"]}),
        ),
        (Method::GET, format!("/v2/{loc}/operations"), e.clone()),
        (
            Method::DELETE,
            format!("/v2/{loc}/jobs/j?validateOnly=true"),
            e.clone(),
        ),
        // Cloud Scheduler.
        (
            Method::POST,
            format!("/v1/{loc}/jobs"),
            serde_json::json!({"name": format!("{loc}/jobs/s"), "schedule": "0 2 * * *", "timeZone": "UTC", "httpTarget": {"uri": "http://127.0.0.1:9/x", "httpMethod": "POST"}}),
        ),
        (Method::GET, format!("/v1/{loc}/jobs"), e.clone()),
        (Method::GET, format!("/v1/{loc}/jobs/s"), e.clone()),
        (Method::PATCH, format!("/v1/{loc}/jobs/s"), sched.clone()),
        (Method::POST, format!("/v1/{loc}/jobs/s:pause"), e.clone()),
        (Method::POST, format!("/v1/{loc}/jobs/s:resume"), e.clone()),
        (Method::DELETE, format!("/v1/{loc}/jobs/s"), e.clone()),
        // Eventarc.
        (
            Method::POST,
            format!("/v1/{loc}/triggers?triggerId=t&validateOnly=true"),
            trigger.clone(),
        ),
        (
            Method::PATCH,
            format!("/v1/{loc}/triggers/t?allowMissing=true"),
            trigger.clone(),
        ),
        (Method::GET, format!("/v1/{loc}/triggers"), e.clone()),
        (
            Method::DELETE,
            format!("/v1/{loc}/triggers/t?validateOnly=true"),
            e.clone(),
        ),
        (Method::DELETE, format!("/v1/{loc}/triggers/t"), e.clone()),
        (
            Method::DELETE,
            format!("/v1/{loc}/triggers/t?allowMissing=true"),
            e.clone(),
        ),
        // Workflows and their executions.
        (
            Method::POST,
            format!("/v1/{loc}/workflows?workflowId=w"),
            workflow.clone(),
        ),
        (Method::GET, format!("/v1/{loc}/workflows/w"), e.clone()),
        (
            Method::PATCH,
            format!("/v1/{loc}/workflows/w"),
            workflow.clone(),
        ),
        (
            Method::POST,
            format!("/v1/{loc}/workflows/w/executions"),
            e.clone(),
        ),
        (
            Method::GET,
            format!("/v1/{loc}/workflows/w/executions"),
            e.clone(),
        ),
        (Method::DELETE, format!("/v1/{loc}/workflows/w"), e.clone()),
        // Artifact Registry.
        (
            Method::POST,
            format!("/v1/{loc}/repositories?repositoryId=r"),
            repo.clone(),
        ),
        (Method::GET, format!("/v1/{loc}/repositories/r"), e.clone()),
        (
            Method::PATCH,
            format!("/v1/{loc}/repositories/r"),
            repo.clone(),
        ),
        (
            Method::DELETE,
            format!("/v1/{loc}/repositories/r"),
            e.clone(),
        ),
        // IAM, projects, services.
        (
            Method::POST,
            "/v1/projects/sweep/serviceAccounts".into(),
            sa.clone(),
        ),
        (
            Method::GET,
            "/v1/projects/sweep/serviceAccounts".into(),
            e.clone(),
        ),
        (
            Method::POST,
            "/v1/projects/sweep/serviceAccounts/sweeper@sweep.iam.gserviceaccount.com:disable"
                .into(),
            e.clone(),
        ),
        (
            Method::DELETE,
            "/v1/projects/sweep/serviceAccounts/sweeper@sweep.iam.gserviceaccount.com".into(),
            e.clone(),
        ),
        (
            Method::POST,
            "/v1/projects/sweep:getIamPolicy".into(),
            e.clone(),
        ),
        (
            Method::POST,
            "/v1/projects/sweep/services/run.googleapis.com:enable".into(),
            e.clone(),
        ),
        (
            Method::GET,
            "/v1/projects/sweep/services/run.googleapis.com".into(),
            e.clone(),
        ),
        // Cloud Storage.
        (
            Method::POST,
            "/storage/v1/b?project=sweep".into(),
            serde_json::json!({"name": "sweep-bucket"}),
        ),
        (
            Method::GET,
            "/storage/v1/b/sweep-bucket/o".into(),
            e.clone(),
        ),
        (
            Method::PATCH,
            "/storage/v1/b/sweep-bucket".into(),
            serde_json::json!({"labels": {"a": "b"}}),
        ),
        (
            Method::DELETE,
            "/storage/v1/b/sweep-bucket".into(),
            e.clone(),
        ),
        // Finally the job itself.
        (
            Method::DELETE,
            format!("/v2/{loc}/jobs/j?allowMissing=true"),
            e.clone(),
        ),
        (Method::DELETE, format!("/v2/{loc}/jobs/j"), e.clone()),
    ];
    for (method, path, body) in calls {
        let mut req = http.request(method.clone(), format!("{url}{path}"));
        if !body.as_object().is_some_and(|o| o.is_empty()) || method != Method::GET {
            req = req.json(&body);
        }
        let answered = tokio::time::timeout(std::time::Duration::from_secs(10), req.send())
            .await
            .unwrap_or_else(|_| panic!("{method} {path} did not answer within 10 s"))
            .unwrap();
        assert!(
            answered.status().as_u16() < 500,
            "{method} {path}: {}",
            answered.status()
        );
        let health = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            http.get(format!("{url}/runform/v1/health")).send(),
        )
        .await
        .unwrap_or_else(|_| panic!("the runtime stopped answering after {method} {path}"))
        .unwrap();
        assert_eq!(health.status(), 200);
    }
    server.stop().await;
}

/// A stack whose job's env holds a sensitive variable, alone and inside a longer string.
const SECRET_STACK: &str = r#"
variable "pw" {
  type      = string
  sensitive = true
}
resource "google_cloud_run_v2_job" "j" {
  name                = "secretive"
  project             = "p"
  location            = "us-central1"
  deletion_protection = false
  template {
    template {
      containers {
        image   = "busybox"
        command = ["/bin/true"]
        env {
          name  = "PW"
          value = var.pw
        }
        env {
          name  = "URL"
          value = "postgres://u:${var.pw}@db:5432/app"
        }
      }
    }
  }
}
"#;

/// A saved plan holds no secret (neither the new value nor the one last applied); apply
/// takes them again from the variables, refuses a changed or missing one before any call,
/// and applies the planned value when it is given again (issue 13, finding 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_holds_no_secrets() {
    let server = super::local_server(None).await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    super::write(dir, "main.tf", SECRET_STACK);
    let run = |args: &[&str]| {
        let mut a = vec![args[0], "--endpoint", url.as_str()];
        a.extend(&args[1..]);
        super::cli_support::runform(dir, &a)
    };
    let env_of_job = || async {
        let job: serde_json::Value = reqwest::get(format!("{url}{JOBS}/secretive"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        job["template"]["template"]["containers"][0]["env"].clone()
    };

    // Created from a --var: the plan file does not keep it; apply needs it again.
    let o = run(&["plan", "--var", "pw=first-Secret-1", "--out", "p.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let saved = std::fs::read_to_string(dir.join("p.plan")).unwrap();
    assert!(!saved.contains("first-Secret-1"), "{saved}");
    let o = run(&["apply", "p.plan"]);
    assert!(
        !o.status.success() && text(&o).contains("give it again (--var pw="),
        "{}",
        text(&o)
    );
    let o = run(&["apply", "--var", "pw=other", "p.plan"]);
    assert!(
        !o.status.success() && text(&o).contains("not the one this plan was made with"),
        "{}",
        text(&o)
    );
    assert_eq!(
        env_of_job().await,
        serde_json::Value::Null,
        "nothing created yet"
    );
    let o = run(&["apply", "--var", "pw=first-Secret-1", "p.plan"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("first-Secret-1"), "{}", text(&o));
    assert_eq!(env_of_job().await[0]["value"], "first-Secret-1");

    // Rotated through a .tfvars file: neither the old value (from the state) nor the new
    // one is in the plan; a value changed since the plan is refused, naming where it was.
    super::write(dir, "terraform.tfvars", "pw = \"second-Secret-2\"\n");
    let o = run(&["plan", "--out", "p2.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let saved = std::fs::read_to_string(dir.join("p2.plan")).unwrap();
    for secret in ["first-Secret-1", "second-Secret-2"] {
        assert!(!saved.contains(secret), "{secret} in {saved}");
    }
    super::write(dir, "terraform.tfvars", "pw = \"third-Secret-3\"\n");
    let o = run(&["apply", "p2.plan"]);
    let t = text(&o);
    assert!(
        !o.status.success()
            && t.contains("the saved plan is stale: the sensitive value of google_cloud_run_v2_job.j.template.template.containers[0].env[\"PW\"].value is not the one planned"),
        "{t}"
    );
    assert!(!t.contains("Secret-"), "{t}");
    assert_eq!(env_of_job().await[0]["value"], "first-Secret-1");
    super::write(dir, "terraform.tfvars", "pw = \"second-Secret-2\"\n");
    let o = run(&["apply", "p2.plan"]);
    assert!(o.status.success(), "{}", text(&o));
    let env = env_of_job().await;
    assert_eq!(env[0]["value"], "second-Secret-2");
    assert_eq!(env[1]["value"], "postgres://u:second-Secret-2@db:5432/app");
    // `show` reads the file as saved: secrets masked, names shown.
    let o = super::cli_support::runform(dir, &["show", "p2.plan"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("env[\"URL\"].value"), "{}", text(&o));
    let o = run(&["plan", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn job_stack(names: &[&str], image: &str) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "resource \"google_cloud_run_v2_job\" \"{n}\" {{\n  name = \"{n}\"\n  project = \"p\"\n  location = \"us-central1\"\n  deletion_protection = false\n  template {{\n    template {{\n      containers {{\n        image = \"{image}\"\n      }}\n    }}\n  }}\n}}\n"
            )
        })
        .collect()
}

/// The staleness check of a saved plan covers the objects the plan read, no more: other jobs
/// in the same project and location may come and go; one the plan read that changed, or one
/// it would create that appeared meanwhile, makes it stale (issue 13, finding 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_stale_only_when_what_it_read_changed() {
    let server = super::local_server(None).await;
    let url = server.url();
    let http = reqwest::Client::new();
    let create = |id: &str| {
        http.post(format!("{url}{JOBS}?jobId={id}"))
            .header("content-type", "application/json")
            .body(job_body())
            .send()
    };
    assert!(create("someone-elses").await.unwrap().status().is_success());
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let run = |args: &[&str]| {
        let mut a = vec![args[0], "--endpoint", url.as_str()];
        a.extend(&args[1..]);
        super::cli_support::runform(dir, &a)
    };

    // A new stack beside another job; a third job appears before the apply.
    super::write(dir, "main.tf", &job_stack(&["a", "b"], "busybox"));
    let o = run(&["plan", "--out", "new.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(create("yet-another").await.unwrap().status().is_success());
    let o = run(&["apply", "new.plan"]);
    assert!(o.status.success(), "{}", text(&o));

    // An update planned for `a`, then `a` changed by someone else: stale.
    super::write(dir, "main.tf", &job_stack(&["a", "b"], "busybox:1"));
    let o = run(&["plan", "--out", "upd.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let mut job: serde_json::Value = http
        .get(format!("{url}{JOBS}/a"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    job["labels"] = serde_json::json!({"by": "hand"});
    let r = http
        .patch(format!("{url}{JOBS}/a"))
        .header("content-type", "application/json")
        .body(job.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let o = run(&["apply", "upd.plan"]);
    let t = text(&o);
    assert!(
        !o.status.success()
            && t.contains("the saved plan is stale: projects/p/locations/us-central1/jobs/a changed outside this plan"),
        "{t}"
    );

    // A create planned for `c`, and `c` created by someone else meanwhile: stale.
    super::write(dir, "main.tf", &job_stack(&["a", "b", "c"], "busybox"));
    let o = run(&["plan", "--out", "c.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(create("c").await.unwrap().status().is_success());
    let o = run(&["apply", "c.plan"]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("jobs/c was created outside this plan"),
        "{t}"
    );
}

/// A path the runtime does not serve is 404 under every API root, as Google answers it (it
/// was 501 under /v2 only, which clients read differently).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_everywhere() {
    let server = super::local_server(None).await;
    for path in [
        "/v2/projects/p/locations/l/nonsense",
        "/v1/projects/p/locations/l/nonsense",
        "/storage/v1/nonsense",
    ] {
        let r = reqwest::get(format!("{}{path}", server.url()))
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["status"], "NOT_FOUND", "{path}: {body}");
    }
    server.stop().await;
}
