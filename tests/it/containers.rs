//! The container executor against a real Docker Engine: images built offline here (a static
//! busybox in an otherwise empty image, `docker import --change ENTRYPOINT/CMD`), run under
//! Cloud Run's container contract.
//!
//! The engine is `RUNFORM_TEST_DOCKER_HOST`, else `DOCKER_HOST`, else Docker's default socket
//! (`.ci/run` starts one). Without an engine these tests fail, saying how to start one, unless
//! `RUNFORM_SKIP_DOCKER_TESTS=1` says to skip them.

use runform::api::run::*;
use runform::runtime::executor::ExecutorChoice;
use runform::runtime::{Runtime, RuntimeConfig, Server};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

const PARENT: &str = "projects/box-proj/locations/us-central1";

fn docker_host() -> String {
    std::env::var("RUNFORM_TEST_DOCKER_HOST")
        .or_else(|_| std::env::var("DOCKER_HOST"))
        .unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// False (and the test returns) only when skipping was asked for; otherwise an engine must
/// answer.
fn engine_ready() -> bool {
    let ok = docker(&["version", "--format", "{{.Server.Version}}"])
        .status
        .success();
    if !ok && std::env::var("RUNFORM_SKIP_DOCKER_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: no container engine at {}", docker_host());
        return false;
    }
    assert!(
        ok,
        "no Docker Engine answers at {}: start one (as .ci/run does: dockerd --iptables=false --bridge=none) \
         or set RUNFORM_SKIP_DOCKER_TESTS=1",
        docker_host()
    );
    true
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", docker_host())
        .output()
        .expect("the docker CLI")
}

/// An image holding only a static busybox (every applet linked in /bin), with `entrypoint`
/// and `cmd`. Built once per tag; `docker import` needs no registry.
fn busybox_image(tag: &str, entrypoint: &str, cmd: &str) -> String {
    let image = format!("runform-test/{tag}");
    if docker(&["image", "inspect", &image]).status.success() {
        return image;
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static installed (apt-get install busybox-static)");
    let root = tempfile::tempdir().unwrap();
    let bin = root.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(root.path().join("tmp")).unwrap();
    std::fs::create_dir_all(root.path().join("work")).unwrap();
    std::fs::copy(busybox, bin.join("busybox")).unwrap();
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
        }
    }
    let mut tar = Command::new("tar")
        .args(["-C", &root.path().display().to_string(), "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let tar_out = tar.stdout.take().unwrap();
    let imported = Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args([
            "import",
            "--change",
            &format!("ENTRYPOINT {entrypoint}"),
            "--change",
            &format!("CMD {cmd}"),
            "--change",
            "ENV PATH=/bin",
            "--change",
            "WORKDIR /work",
            "-",
            &image,
        ])
        .stdin(tar_out)
        .output()
        .unwrap();
    assert!(tar.wait().unwrap().success(), "tar of the image's root");
    assert!(
        imported.status.success(),
        "docker import: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    image
}

/// The plain test image: `sh -c` as ENTRYPOINT, a greeting as CMD.
fn shell_image() -> String {
    busybox_image(
        "shell:1",
        r#"["/bin/sh", "-c"]"#,
        r#"["echo image-cmd task=$CLOUD_RUN_TASK_INDEX of $CLOUD_RUN_TASK_COUNT"]"#,
    )
}

async fn docker_server(data: Option<&Path>, grace: Duration) -> Server {
    Server::start(
        RuntimeConfig {
            data_dir: data.map(Path::to_path_buf),
            kill_grace: grace,
            executor: ExecutorChoice::Docker,
            docker_host: Some(docker_host()),
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("a runtime with the docker executor")
}

fn job(image: &str, command: &[&str], args: &[&str]) -> Job {
    let mut j = Job::default();
    j.template.template.max_retries = Some(0);
    j.template.template.timeout = "120s".into();
    j.template.template.containers.push(Container {
        image: image.into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    });
    j
}

fn start(rt: &Arc<Runtime>, id: &str, j: Job) -> String {
    super::start_job(rt, PARENT, id, j)
}

async fn finish(rt: &Arc<Runtime>, exec: &str) -> Execution {
    super::wait_execution(rt, exec, Duration::from_millis(50)).await
}

async fn run(rt: &Arc<Runtime>, id: &str, j: Job) -> Execution {
    let name = start(rt, id, j);
    finish(rt, &name).await
}

fn logs(rt: &Arc<Runtime>, exec: &str) -> String {
    rt.logs(exec, None)
        .unwrap()
        .iter()
        .map(|l| format!("[{} {}] {}\n", l.task, l.stream, l.line))
        .collect()
}

fn last_result(rt: &Arc<Runtime>, exec: &str) -> TaskAttemptResult {
    rt.list_tasks(exec, None, None).unwrap().tasks[0]
        .last_attempt_result
        .clone()
        .unwrap()
}

/// A loopback HTTP server that answers nobody until `n` requests are waiting: tasks that all
/// get through ran at the same time. Returns its port and the paths it saw.
async fn gate(n: usize) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let h = tokio::spawn(async move {
        let mut held = Vec::new();
        let mut paths = Vec::new();
        while held.len() < n {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 2048];
            let k = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..k]).to_string();
            paths.push(req.split(' ').nth(1).unwrap_or("").to_string());
            held.push(s);
        }
        for mut s in held {
            let _ = s
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nall-three")
                .await;
        }
        paths
    });
    (port, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_with_only_entrypoint_and_cmd_runs_three_tasks_in_parallel() {
    if !engine_ready() {
        return;
    }
    let image = shell_image();
    let server = docker_server(None, Duration::from_secs(2)).await;
    let rt = &server.runtime;
    assert_eq!(rt.executor().name(), "docker");
    // No command, no args: the image's ENTRYPOINT and CMD run.
    let mut j = job(&image, &[], &[]);
    j.template.task_count = 3;
    let e = run(rt, "plain", j).await;
    assert!(e.succeeded(), "{:?}\n{}", e.completed(), logs(rt, &e.name));
    let out = logs(rt, &e.name);
    for i in 0..3 {
        assert!(out.contains(&format!("image-cmd task={i} of 3")), "{out}");
    }

    // Three tasks at once, each reaching a service on the host's loopback; every contract
    // variable is set.
    let (port, seen) = gate(3).await;
    let script = format!(
        "wget -q -O- http://127.0.0.1:{port}/$CLOUD_RUN_TASK_INDEX && echo; \
         echo job=$CLOUD_RUN_JOB exec=$CLOUD_RUN_EXECUTION idx=$CLOUD_RUN_TASK_INDEX attempt=$CLOUD_RUN_TASK_ATTEMPT count=$CLOUD_RUN_TASK_COUNT greeting=$GREETING"
    );
    let mut j = job(&image, &[], &[&script]);
    j.template.task_count = 3;
    j.template.parallelism = 3;
    j.template.template.containers[0].env.push(EnvVar {
        name: "GREETING".into(),
        value: Some("hi".into()),
        ..Default::default()
    });
    let e = run(rt, "par", j).await;
    let out = logs(rt, &e.name);
    assert!(e.succeeded(), "{:?}\n{out}", e.completed());
    let mut paths = seen.await.unwrap();
    paths.sort();
    assert_eq!(paths, ["/0", "/1", "/2"]);
    let exec_id = e.name.rsplit('/').next().unwrap();
    for i in 0..3 {
        assert!(out.contains("all-three"), "{out}");
        assert!(
            out.contains(&format!(
                "job=par exec={exec_id} idx={i} attempt=0 count=3 greeting=hi"
            )),
            "{out}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_and_args_replace_entrypoint_and_cmd() {
    if !engine_ready() {
        return;
    }
    let image = shell_image();
    let server = docker_server(None, Duration::from_secs(2)).await;
    let rt = &server.runtime;
    // command replaces ENTRYPOINT and drops the image's CMD.
    let e = run(rt, "cmd", job(&image, &["/bin/echo", "from-command"], &[])).await;
    let out = logs(rt, &e.name);
    assert!(out.contains("[0 stdout] from-command\n"), "{out}");
    assert!(!out.contains("image-cmd"), "{out}");
    // args replace CMD after the image's ENTRYPOINT (`sh -c`).
    let e = run(rt, "args", job(&image, &[], &["echo args-only in $(pwd)"])).await;
    assert!(logs(rt, &e.name).contains("args-only in /work"));
    // both: command then args; working_dir is where it runs.
    let mut j = job(&image, &["/bin/sh", "-c"], &["echo both in $(pwd)"]);
    j.template.template.containers[0].working_dir = "/tmp".into();
    let e = run(rt, "both", j).await;
    assert!(logs(rt, &e.name).contains("both in /tmp"));
    // A run's overrides replace the args.
    rt.create_job(PARENT, "over", job(&image, &[], &["echo declared"]), false)
        .unwrap();
    let (exec, _) = rt
        .run_job(
            &format!("{PARENT}/jobs/over"),
            RunJobRequest {
                overrides: Some(Overrides {
                    container_overrides: vec![ContainerOverride {
                        args: vec!["echo overridden $EXTRA".into()],
                        env: vec![EnvVar {
                            name: "EXTRA".into(),
                            value: Some("env-too".into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    let e = finish(rt, &exec.name).await;
    assert!(logs(rt, &e.name).contains("overridden env-too"));
    // A failing exit code fails the attempt with Cloud Run's wording.
    let e = run(rt, "exit", job(&image, &[], &["exit 7"])).await;
    assert!(!e.succeeded());
    let r = last_result(rt, &e.name);
    assert_eq!(r.exit_code, Some(7));
    assert!(r.status.unwrap().message.contains("exited with an error"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_fails_with_the_memory_limit_message() {
    if !engine_ready() {
        return;
    }
    let image = shell_image();
    let server = docker_server(None, Duration::from_secs(2)).await;
    let rt = &server.runtime;
    // No limits: Cloud Run's 512 MiB. A 700 MB buffer cannot fit.
    let hog = "dd if=/dev/zero of=/dev/null bs=700M count=1; echo survived";
    let e = run(rt, "hog", job(&image, &[], &[hog])).await;
    assert!(!e.succeeded());
    let r = last_result(rt, &e.name);
    assert_eq!(r.term_signal, Some(9), "{r:?}");
    let msg = r.status.unwrap().message;
    assert!(
        msg.contains("memory limit") && msg.contains("512 MiB exceeded"),
        "{msg}"
    );
    assert!(logs(rt, &e.name).contains("Container terminated on signal 9."));
    // With 1 GiB declared the same task fits.
    let mut j = job(&image, &[], &[hog]);
    j.template.template.containers[0].resources = Some(ResourceRequirements {
        limits: [
            ("memory".to_string(), "1Gi".to_string()),
            ("cpu".to_string(), "1".to_string()),
        ]
        .into(),
        ..Default::default()
    });
    let e = run(rt, "fits", j).await;
    assert!(e.succeeded(), "{}", logs(rt, &e.name));
    assert!(logs(rt, &e.name).contains("survived"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_cancel_send_sigterm_then_sigkill_after_the_grace_period() {
    if !engine_ready() {
        return;
    }
    let image = shell_image();
    let server = docker_server(None, Duration::from_secs(2)).await;
    let rt = &server.runtime;
    // Traps SIGTERM and cleans up within the grace period: ended by SIGTERM.
    let polite = "trap 'echo got-term; exit 3' TERM; echo started; while true; do sleep 0.1; done";
    let mut j = job(&image, &[], &[polite]);
    j.template.template.timeout = "1s".into();
    let e = run(rt, "polite", j).await;
    let out = logs(rt, &e.name);
    assert!(out.contains("got-term"), "{out}");
    let r = last_result(rt, &e.name);
    assert_eq!(r.term_signal, Some(15), "{r:?}");
    assert!(r.status.unwrap().message.contains("timeout"));
    // Ignores SIGTERM: killed by SIGKILL once the grace period is over.
    let stubborn = "trap 'echo ignoring-term' TERM; while true; do sleep 0.1; done";
    let mut j = job(&image, &[], &[stubborn]);
    j.template.template.timeout = "1s".into();
    let e = run(rt, "stubborn", j).await;
    assert!(logs(rt, &e.name).contains("ignoring-term"));
    assert_eq!(last_result(rt, &e.name).term_signal, Some(9));
    // Cancel: the running task gets SIGTERM and the execution ends cancelled.
    let name = start(rt, "cancelled", job(&image, &[], &[polite]));
    for _ in 0..200 {
        if logs(rt, &name).contains("started") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rt.cancel_execution(&name).unwrap();
    let e = finish(rt, &name).await;
    assert!(e.cancelled(), "{:?}", e.completed());
    assert!(logs(rt, &name).contains("got-term"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_reads_its_account_and_writes_a_bucket_through_storage_emulator_host() {
    if !engine_ready() {
        return;
    }
    let image = shell_image();
    let server = docker_server(None, Duration::from_secs(2)).await;
    let rt = &server.runtime;
    rt.insert_bucket("box-proj", &json!({"name": "box-out"}))
        .unwrap();
    let script = r#"
md() { wget -q -O- --header 'Metadata-Flavor: Google' "http://$GCE_METADATA_HOST/computeMetadata/v1/$1"; }
echo "account=$(md instance/service-accounts/default/email)"
echo "project=$(md project/project-id)"
echo "region=$(md instance/region)"
tok=$(md instance/service-accounts/default/token)
case "$tok" in *access_token*) echo got-token;; esac
echo "written by task $CLOUD_RUN_TASK_INDEX" > /tmp/body
wget -q -O- --post-file /tmp/body --header 'Content-Type: text/plain' \
  "$STORAGE_EMULATOR_HOST/upload/storage/v1/b/box-out/o?uploadType=media&name=from-task.txt" >/dev/null && echo uploaded
"#;
    let mut j = job(&image, &[], &[script]);
    j.template.template.service_account = "worker@box-proj.iam.gserviceaccount.com".into();
    let e = run(rt, "meta", j).await;
    let out = logs(rt, &e.name);
    assert!(e.succeeded(), "{out}");
    assert!(
        out.contains("account=worker@box-proj.iam.gserviceaccount.com"),
        "{out}"
    );
    assert!(out.contains("project=box-proj"), "{out}");
    assert!(out.contains("region=projects/"), "{out}");
    assert!(out.contains("got-token"), "{out}");
    assert!(out.contains("uploaded"), "{out}");
    let (_, data) = rt.object_bytes("box-out", "from-task.txt").unwrap();
    assert_eq!(String::from_utf8_lossy(&data), "written by task 0\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_gcs_secret_and_empty_dir_are_mounted() {
    if !engine_ready() {
        return;
    }
    let image = shell_image();
    let data = tempfile::tempdir().unwrap();
    let server = docker_server(Some(data.path()), Duration::from_secs(2)).await;
    let rt = &server.runtime;
    // Secret volumes read Secret Manager, as the job's account.
    super::secret_for_default_account(
        rt,
        "box-proj",
        "tls",
        &["cert-v1", "cert-v2", "cert-latest"],
    );
    rt.insert_bucket("box-proj", &json!({"name": "box-data"}))
        .unwrap();
    rt.put_object(
        "box-data",
        "in/hello.txt",
        "text/plain",
        b"hello from the bucket",
        None,
    )
    .unwrap();
    rt.put_object("box-data", "stale.txt", "text/plain", b"old", None)
        .unwrap();
    let script = r#"
cat /data/in/hello.txt; echo
mkdir -p /data/out && echo "result of $CLOUD_RUN_TASK_INDEX" > /data/out/result.txt
rm /data/stale.txt
cat /ro/in/hello.txt; echo
touch /ro/nope 2>/dev/null && echo ro-writable || echo ro-refused
echo "secret=$(cat /secrets/tls.crt) default=$(cat /plain/tls)"
echo scratch > /scratch/f && echo "scratch-fs=$(grep ' /scratch ' /proc/mounts | cut -d' ' -f3)"
"#;
    let mut j = job(&image, &[], &[script]);
    let c = &mut j.template.template.containers[0];
    for (name, path) in [
        ("rw", "/data"),
        ("ro", "/ro"),
        ("sec", "/secrets"),
        ("plain", "/plain"),
        ("scratch", "/scratch"),
    ] {
        c.volume_mounts.push(VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            ..Default::default()
        });
    }
    let volumes = &mut j.template.template.volumes;
    volumes.push(Volume {
        name: "rw".into(),
        gcs: Some(json!({"bucket": "box-data"})),
        ..Default::default()
    });
    volumes.push(Volume {
        name: "ro".into(),
        gcs: Some(json!({"bucket": "box-data", "readOnly": true})),
        ..Default::default()
    });
    volumes.push(Volume {
        name: "sec".into(),
        secret: Some(json!({"secret": "projects/box-proj/secrets/tls", "items": [{"path": "tls.crt", "version": "2"}]})),
        ..Default::default()
    });
    volumes.push(Volume {
        name: "plain".into(),
        secret: Some(json!({"secret": "tls"})),
        ..Default::default()
    });
    volumes.push(Volume {
        name: "scratch".into(),
        empty_dir: Some(EmptyDir {
            size_limit: "16Mi".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let e = run(rt, "vols", j).await;
    let out = logs(rt, &e.name);
    assert!(e.succeeded(), "{out}");
    assert_eq!(out.matches("hello from the bucket").count(), 2, "{out}");
    assert!(out.contains("ro-refused"), "{out}");
    assert!(out.contains("secret=cert-v2 default=cert-latest"), "{out}");
    assert!(out.contains("scratch-fs=tmpfs"), "{out}");
    // What the task wrote is an object (with its storage event); what it deleted is gone.
    let (_, written) = rt.object_bytes("box-data", "out/result.txt").unwrap();
    assert_eq!(String::from_utf8_lossy(&written), "result of 0\n");
    assert!(rt.get_object("box-data", "stale.txt").is_err());
    assert!(rt.get_object("box-data", "in/hello.txt").is_ok());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_fails_naming_it_and_how_to_load_it() {
    if !engine_ready() {
        return;
    }
    let server = docker_server(None, Duration::from_secs(2)).await;
    let rt = &server.runtime;
    let e = run(
        rt,
        "missing",
        job("registry.invalid/acme/etl/worker:1.4", &[], &[]),
    )
    .await;
    assert!(!e.succeeded());
    let msg = last_result(rt, &e.name).status.unwrap().message;
    assert!(
        msg.contains("registry.invalid/acme/etl/worker:1.4")
            && msg.contains("could not be pulled")
            && msg.contains("docker load"),
        "{msg}"
    );
    // Google's sample image, absent and unpullable here, runs its built-in stand-in.
    let e = run(
        rt,
        "sample",
        job("us-docker.pkg.dev/cloudrun/container/job:latest", &[], &[]),
    )
    .await;
    assert!(e.succeeded(), "{}", logs(rt, &e.name));
    assert!(logs(rt, &e.name).contains("Completed Task #0."));
    server.stop().await;
}

fn own_containers(owner: &str) -> Vec<String> {
    let o = docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=runform.runtime={owner}"),
    ]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftover_containers_are_removed_and_stop_removes_running_ones() {
    if !engine_ready() {
        return;
    }
    let image = shell_image();
    // A container left by a runtime that died (its owner process does not exist).
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let dead = format!("999999{}-1", std::process::id());
    let created = docker(&[
        "create",
        "--label",
        &format!("runform.runtime={dead}"),
        "--label",
        &format!("runform.host={}", host.trim()),
        &image,
        "sleep 1",
    ]);
    assert!(created.status.success(), "{:?}", created);
    assert_eq!(own_containers(&dead).len(), 1);
    let server = docker_server(None, Duration::from_secs(1)).await;
    assert!(
        own_containers(&dead).is_empty(),
        "the leftover was not removed"
    );
    assert!(
        server.runtime.executor().description.contains("removed"),
        "{}",
        server.runtime.executor().description
    );
    // A long task is running when the server stops: its container is stopped and removed.
    let rt = server.runtime.clone();
    let name = start(&rt, "long", job(&image, &[], &["sleep 600"]));
    let me = runform::runtime::executor::docker::owner_token(std::process::id()).unwrap();
    for _ in 0..200 {
        if !own_containers(&me).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(own_containers(&me).len(), 1, "the task's container");
    let labels = docker(&[
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        &own_containers(&me)[0],
    ]);
    let labels: serde_json::Value = serde_json::from_slice(&labels.stdout).unwrap();
    assert_eq!(labels["runform.job"], format!("{PARENT}/jobs/long"));
    assert_eq!(
        labels["runform.execution"],
        name.rsplit('/').next().unwrap()
    );
    assert_eq!(labels["runform.task"], "0");
    assert_eq!(labels["runform.attempt"], "0");
    server.stop().await;
    assert!(own_containers(&me).is_empty(), "stop left containers");
}

#[test]
fn auto_falls_back_to_processes_and_says_why() {
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_runform"))
        .args(["local", "serve", "--addr", "127.0.0.1:0", "--dir"])
        .arg(d.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("RUNFORM_EXECUTOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
        for _ in 0..2 {
            r.read_line(&mut out).unwrap();
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.contains("process executor: no container engine answered")
            && out.contains("unix:///nonexistent/docker.sock"),
        "{out}"
    );
    // `--executor docker` without an engine refuses to start.
    let o = Command::new(env!("CARGO_BIN_EXE_runform"))
        .args([
            "local",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--executor",
            "docker",
            "--dir",
        ])
        .arg(d.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no container engine answered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_warns_at_a_job_the_runtime_cannot_run() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("main.tf"),
        r#"
resource "google_cloud_run_v2_job" "etl" {
  name                = "etl"
  project             = "p"
  location            = "us-central1"
  deletion_protection = false
  template {
    template {
      containers {
        image = "us-central1-docker.pkg.dev/acme/etl/worker:1.4"
      }
    }
  }
}
resource "google_cloud_run_v2_job" "scripted" {
  name                = "scripted"
  project             = "p"
  location            = "us-central1"
  deletion_protection = false
  template {
    template {
      containers {
        image   = "us-central1-docker.pkg.dev/acme/etl/worker:1.4"
        command = ["/bin/true"]
      }
    }
  }
}
"#,
    )
    .unwrap();
    // The process executor (no engine): the job without a command cannot run.
    let server = super::local_server(None).await;
    let o = super::examples::cli(d.path(), &server.url(), &["plan", "."]).await;
    let out = super::cli_support::text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("Warning: google_cloud_run_v2_job.etl: the local runtime cannot run image \"us-central1-docker.pkg.dev/acme/etl/worker:1.4\""),
        "{out}"
    );
    assert!(
        !out.contains("google_cloud_run_v2_job.scripted: the local"),
        "{out}"
    );
    // A local_image mapping makes it runnable: no warning.
    std::fs::write(
        d.path().join("local.tf"),
        "local_image \"us-central1-docker.pkg.dev/acme/etl/worker\" {\n  command = [\"/bin/true\"]\n}\n",
    )
    .unwrap();
    let o = super::examples::cli(d.path(), &server.url(), &["plan", "."]).await;
    assert!(!super::cli_support::text(&o).contains("cannot run image"));
    server.stop().await;
}
