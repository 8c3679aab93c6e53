//! Day-2 command-line experience (issue 15): formatting that agrees with `terraform fmt`,
//! progress while executions run, commands that know their target, Terraform's CI flags and
//! `-json` stream, `graph`, `schedule run`.

use super::cli::{runform, text};
use super::write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn all_tf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && !name.starts_with("target-") {
                all_tf_files(&p, out);
            }
        } else if name.ends_with(".tf") || name.ends_with(".tfvars") {
            out.push(p);
        }
    }
}

/// Every .tf and .tfvars file in the repository (examples, fixtures, samples) and the tricky
/// corpus in tests/fixtures/fmt, formatted by runform and by Terraform: the same bytes, or
/// both refuse the file. The corpus holds the reported break (`"${a}${b}"` became
/// `"${a} ${b}"` inside a `for`), template directives, strip markers, escapes and heredocs.
#[test]
fn fmt_agrees_byte_for_byte_with_terraform_fmt() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    all_tf_files(root, &mut files);
    assert!(files.len() > 30, "found only {} files", files.len());
    assert!(files
        .iter()
        .any(|f| f.ends_with("tests/fixtures/fmt/templates.tf")));
    let tmp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (tmp.path().join("runform"), tmp.path().join("terraform"));
    std::fs::create_dir_all(&ours).unwrap();
    std::fs::create_dir_all(&theirs).unwrap();
    let mut copies = Vec::new();
    for (n, f) in files.iter().enumerate() {
        let name = format!("{n:04}-{}", f.file_name().unwrap().to_string_lossy());
        std::fs::copy(f, ours.join(&name)).unwrap();
        std::fs::copy(f, theirs.join(&name)).unwrap();
        copies.push((name, f.strip_prefix(root).unwrap().to_path_buf()));
    }
    runform(&ours, &["fmt", "."]);
    // One file at a time: Terraform stops at a file it cannot parse.
    let mut refused = 0;
    for (name, _) in &copies {
        let tf = Command::new("terraform")
            .args(["fmt", name])
            .current_dir(&theirs)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .output()
            .expect("terraform is on the PATH");
        if !tf.status.success() {
            refused += 1;
        }
    }
    let mut differ = Vec::new();
    for (name, original) in &copies {
        let a = std::fs::read(ours.join(name)).unwrap();
        let b = std::fs::read(theirs.join(name)).unwrap();
        if a != b {
            differ.push(format!(
                "{}:\n--- runform\n{}\n--- terraform\n{}",
                original.display(),
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} files differ:\n{}",
        differ.len(),
        copies.len(),
        differ.join("\n")
    );
    assert!(
        refused < copies.len() / 4,
        "terraform refused {refused} files"
    );
}

/// runform with `args` in `dir`, against the runtime at `url` (`--endpoint`), off the
/// blocking pool; `env` adds variables.
async fn runform_endpoint(
    dir: &Path,
    url: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.push(format!("--endpoint={url}"));
    let dir = dir.to_path_buf();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_runform"));
        cmd.args(&a)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env_remove("RUNFORM_ENDPOINT");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

/// Times, generated execution names and temporary paths, filtered out of command output.
fn filtered(s: &str, dir: &Path) -> String {
    let re_elapsed = regex::Regex::new(r"\[\d+s elapsed\]").unwrap();
    let re_exec = regex::Regex::new(r"\b([a-z][a-z0-9-]*?)-[a-z0-9]{5}\b").unwrap();
    let s = s.replace(&dir.display().to_string(), "DIR");
    let s = re_elapsed.replace_all(&s, "[Ns elapsed]");
    re_exec.replace_all(&s, "$1-XXXXX").to_string()
}

/// Three tasks whose lines interleave (each waits for the previous line's marker file
/// before writing): the CI-log progress of `run --wait` shows every line as written, in the
/// order written across tasks, between task-count lines with elapsed times. A line's time is
/// when the runtime read it from the task's pipe, so each task waits 0.3 s after the marker
/// before writing: a busy machine (the suite runs tests in parallel) may read a pipe late.
fn interleaving_job(sync: &Path) -> String {
    format!(
        r#"
provider "google" {{
  project = "p"
  region  = "us-central1"
}}
resource "google_cloud_run_v2_job" "interleave" {{
  name                = "interleave"
  location            = "us-central1"
  deletion_protection = false
  template {{
    task_count  = 3
    parallelism = 3
    template {{
      max_retries = 0
      containers {{
        image   = "busybox"
        command = ["/bin/sh", "-c"]
        args    = ["i=$CLOUD_RUN_TASK_INDEX; for k in $i $((i+3)); do while [ ! -e $SYNC/$k ]; do sleep 0.05; done; sleep 0.3; echo \"line $k from task $i\"; touch $SYNC/$((k+1)); done"]
        env {{
          name  = "SYNC"
          value = "{}"
        }}
      }}
    }}
  }}
}}
"#,
        sync.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wait_streams_interleaved_task_logs_between_progress_lines() {
    let server = super::local_server(None).await;
    let url = server.url();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sync = d.join("sync");
    std::fs::create_dir_all(&sync).unwrap();
    write(d, "main.tf", &interleaving_job(&sync));
    let o = runform_endpoint(d, &url, &["apply", "--auto-approve", "."], &[]).await;
    assert!(o.status.success(), "{}", text(&o));

    std::fs::write(sync.join("0"), "").unwrap();
    let o = runform_endpoint(d, &url, &["run", "--wait", "interleave"], &[]).await;
    assert!(o.status.success(), "{}", text(&o));
    let err = filtered(&String::from_utf8_lossy(&o.stderr), d);
    let status = regex::Regex::new(
        r"^interleave: execution interleave-XXXXX: \d running, \d succeeded, 0 failed of 3 tasks \[Ns elapsed\]$",
    )
    .unwrap();
    let (statuses, logs): (Vec<&str>, Vec<&str>) = err.lines().partition(|l| status.is_match(l));
    assert_eq!(
        logs.join("\n"),
        "interleave: [task 0] line 0 from task 0
interleave: [task 1] line 1 from task 1
interleave: [task 2] line 2 from task 2
interleave: [task 0] line 3 from task 0
interleave: [task 1] line 4 from task 1
interleave: [task 2] line 5 from task 2",
        "stderr:\n{err}"
    );
    assert_eq!(
        statuses.last().copied(),
        Some(
            "interleave: execution interleave-XXXXX: 0 running, 3 succeeded, 0 failed of 3 tasks [Ns elapsed]"
        ),
        "{err}"
    );
    assert_eq!(
        filtered(&String::from_utf8_lossy(&o.stdout), d),
        "Started execution interleave-XXXXX.
  task    0: succeeded after 1 attempt(s), exit 0
  task    1: succeeded after 1 attempt(s), exit 0
  task    2: succeeded after 1 attempt(s), exit 0
Execution interleave-XXXXX succeeded.
"
    );

    // --quiet: the counts and no log lines.
    for f in 1..=6 {
        std::fs::remove_file(sync.join(f.to_string())).unwrap();
    }
    let o = runform_endpoint(d, &url, &["run", "--wait", "--quiet", "interleave"], &[]).await;
    assert!(o.status.success(), "{}", text(&o));
    let err = filtered(&String::from_utf8_lossy(&o.stderr), d);
    assert!(err.lines().all(|l| status.is_match(l)), "{err}");
    assert!(!err.is_empty());
    server.stop().await;
}

/// After `apply` to a target, the day-2 commands use it without a flag and say so; naming
/// another target whose state is empty says which flag reaches the one that is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day2_commands_follow_the_target_last_applied_to() {
    let server = super::local_server(None).await;
    let url = server.url();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sync = d.join("sync");
    std::fs::create_dir_all(&sync).unwrap();
    write(d, "main.tf", &interleaving_job(&sync));
    write(
        d,
        "outputs.tf",
        "output \"job\" {\n  value = google_cloud_run_v2_job.interleave.name\n}\n",
    );
    let o = runform_endpoint(d, &url, &["apply", "--auto-approve", "."], &[]).await;
    assert!(o.status.success(), "{}", text(&o));

    let using = format!(
        "Using the endpoint {url}, where this stack was last applied (pass --google or --endpoint URL for another target).\n"
    );
    let o = runform(d, &["output"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "job = \"interleave\"\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), using);
    let o = runform(d, &["state", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "google_cloud_run_v2_job.interleave\n"
    );
    // `run` and `executions` reach the remembered endpoint too.
    std::fs::write(sync.join("0"), "").unwrap();
    let o = tokio::task::spawn_blocking({
        let d = d.to_path_buf();
        move || runform(&d, &["run", "--wait", "--quiet", "interleave"])
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["executions"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("succeeded"),
        "{}",
        text(&o)
    );

    // Another target, named: its state is empty, and the hint names the flag.
    let o = runform(d, &["state", "list", "--google"]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("hint: the state of Google Cloud is empty, but the state of the endpoint {url} holds 1 resource(s): pass --endpoint {url}\n")
    );
    // A plan for a target with an empty state says where the stack's state is.
    let o = runform(d, &["plan", "--local", "."]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("hint: the state of the local runtime (--local) is empty, but the state of the endpoint {url} holds 1 resource(s): pass --endpoint {url}\n")),
        "{}",
        text(&o)
    );
    let o = runform(d, &["logs", "--google", "interleave-abcde"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!(
            "error: no job in the state of Google Cloud owns execution \"interleave-abcde\"\nhint: the state of Google Cloud is empty, but the state of the endpoint {url} holds 1 resource(s)"
        )),
        "{}",
        text(&o)
    );
    let o = runform(d, &["run", "--google", "interleave"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!(
            "error: no job \"interleave\" in the state of . (Google Cloud)\nhint: the state of Google Cloud is empty, but the state of the endpoint {url} holds 1 resource(s)"
        )),
        "{}",
        text(&o)
    );
    server.stop().await;
}

/// `local upload` names the trigger, workflow execution and job execution it started and,
/// waiting for them (always, without a `local serve`), their outcomes; a failed job is a
/// non-zero exit with the hint to read its logs.
#[test]
fn local_upload_reports_what_it_started_and_fails_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "main.tf",
        &super::trigger_cli::stack(super::trigger_cli::TYPE_FIRST),
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "-q", "."]);
    assert!(o.status.success(), "{}", text(&o));
    write(d, "cat.jpg", "jpeg");
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let generation = regex::Regex::new(r"generation \d+").unwrap();
    let clean = |s: &[u8]| {
        let s = filtered(&String::from_utf8_lossy(s), d);
        let s = uuid.replace_all(&s, "ID").to_string();
        generation.replace_all(&s, "generation G").to_string()
    };
    let o = runform(
        d,
        &[
            "local",
            "upload",
            "--create-bucket",
            "cat.jpg",
            "gs://input-proj/photos/",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        clean(&o.stdout),
        "Uploaded gs://input-proj/photos/cat.jpg (4 bytes, generation G).
Trigger uploads started workflow execution on-upload/ID.
Started job execution resize-XXXXX.
Job execution resize-XXXXX succeeded.
Workflow execution on-upload/ID succeeded.
"
    );
    // While it waits, the job's progress and its task's lines, as `run --wait` shows them.
    let err = clean(&o.stderr);
    assert!(
        err.contains("resize: [task 0] resizing photos/cat.jpg\n")
            && err.contains("resize: execution resize-XXXXX: 0 running, 1 succeeded, 0 failed of 1 task [Ns elapsed]\n"),
        "{err}"
    );

    let o = runform(
        d,
        &["local", "upload", "cat.jpg", "gs://input-proj/bad.jpg"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = clean(&o.stdout);
    assert!(out.contains("Started job execution resize-XXXXX."), "{out}");
    let err = clean(&o.stderr);
    assert!(
        err.contains("error: job execution resize-XXXXX failed: ")
            && err.contains("hint: `runform logs resize-XXXXX`")
            && err.contains("error: workflow execution on-upload/ID failed: "),
        "{err}"
    );

    let o = runform(
        d,
        &[
            "local",
            "upload",
            "--create-bucket",
            "cat.jpg",
            "gs://elsewhere/x.jpg",
        ],
    );
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).ends_with("No trigger matched the upload's event.\n"),
        "{}",
        text(&o)
    );
}

/// Outputs after apply are the ones `output` prints, sorted and rendered alike; `destroy`
/// speaks destroy (its question, its summary, no outputs).
#[test]
fn outputs_render_alike_and_destroy_speaks_destroy() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "main.tf",
        r#"
resource "terraform_data" "t" {
  input = "x"
}
output "zeta" {
  value = { b = 2, a = [1, 2] }
}
output "alpha" {
  value = "first"
}
output "secret" {
  value     = "hidden"
  sensitive = true
}
"#,
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "-q", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let shown = "alpha = \"first\"\nsecret = <sensitive>\nzeta = {\n  \"a\" = [\n    1,\n    2,\n  ]\n  \"b\" = 2\n}\n";
    assert!(
        out.ends_with(&format!(
            "Apply complete! Resources: 1 added, 0 changed, 0 destroyed, 0 executed.\n\nOutputs:\n\n{shown}"
        )),
        "{out}"
    );
    let o = runform(d, &["output"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), shown);

    let o = runform(d, &["destroy", "--local", "."]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "error: refusing to destroy without confirmation: no terminal to ask on\nhint: pass --auto-approve (e.g. in CI)\n"
        ),
        "{}",
        text(&o)
    );
    // -input=false forbids asking even where a terminal would allow it.
    let o = runform(d, &["destroy", "--local", "-input=false", "."]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "error: refusing to destroy without confirmation: -input=false forbids asking\nhint: pass --auto-approve (-auto-approve)\n"
        ),
        "{}",
        text(&o)
    );
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        out.ends_with("\nDestroy complete! Resources: 1 destroyed.\n"),
        "{out}"
    );
    assert!(!out.contains("Outputs:") && !out.contains("Apply"), "{out}");
    assert!(
        !out.contains("no longer in the configuration"),
        "a destroy is not a removal from the configuration: {out}"
    );
}

/// A missing directory, a directory without a stack, and a command run from inside the stack
/// with the stack's path: each says what is wrong and the command to run instead.
#[test]
fn wrong_directories_say_what_to_run() {
    let tmp = tempfile::tempdir().unwrap();
    let stack = tmp.path().join("examples/quickstart");
    std::fs::create_dir_all(&stack).unwrap();
    write(&stack, "main.tf", "resource \"terraform_data\" \"t\" {}\n");
    let o = runform(&stack, &["plan", "--local", "examples/quickstart"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: examples/quickstart does not exist\nhint: you are in examples/quickstart already: run `runform plan --local .`\n"
    );
    let o = runform(tmp.path(), &["output", "--dir", "nowhere"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: nowhere does not exist\nhint: pass the directory that holds the stack's .tf files (default: the current directory)\n"
    );
    let o = runform(tmp.path(), &["validate", "examples"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "error: no configuration files (*.tf, *.hcl) in examples\nhint: pass the directory that holds the stack's .tf files (default: the current directory)\n"
    );
    assert!(
        !stack.join("examples").exists(),
        "nothing is created for a missing directory"
    );
    // Terraform's -chdir: run as if started there.
    let o = runform(tmp.path(), &["-chdir=examples/quickstart", "validate"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(tmp.path(), &["-chdir=nowhere", "validate"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).starts_with("error: -chdir=nowhere: "),
        "{}",
        text(&o)
    );
}

/// A second `local serve` on a taken address names it and what to do.
#[test]
fn a_taken_port_names_the_address_and_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let o = runform(
        tmp.path(),
        &[
            "local",
            "serve",
            "--addr",
            &addr.to_string(),
            "--executor",
            "process",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        err.starts_with(&format!(
            "error: cannot listen on {addr}: another program is using that address (another `runform local serve`?)\nhint: stop it, or serve on another port: `runform local serve --addr 127.0.0.1:"
        )) && err.contains("(or --addr 127.0.0.1:0 for any free port)"),
        "{err}"
    );
}

/// A run again of an execute action shows which trigger values changed, old → new; and
/// `executions` shows when each execution started and how long it ran.
#[test]
fn execute_actions_show_old_and_new_triggers_and_executions_show_times() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = |release: &str| {
        format!(
            r#"
resource "google_cloud_run_v2_job" "j" {{
  name                = "migrate"
  location            = "us-central1"
  project             = "p"
  deletion_protection = false
  template {{
    template {{
      containers {{
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo migrating"]
      }}
    }}
  }}
}}
resource "runform_job_execution" "migrate" {{
  job      = google_cloud_run_v2_job.j.id
  triggers = {{ release = "{release}", team = "data" }}
}}
"#
        )
    };
    write(d, "main.tf", &stack("v1"));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    // The execute action streams its task's lines and its progress.
    let err = filtered(&String::from_utf8_lossy(&o.stderr), d);
    assert!(
        err.contains("runform_job_execution.migrate: [task 0] migrating\n")
            && err.contains("runform_job_execution.migrate: execution migrate-XXXXX: 0 running, 1 succeeded, 0 failed of 1 task [Ns elapsed]\n"),
        "{err}"
    );
    write(d, "main.tf", &stack("v2"));
    let o = runform(d, &["plan", "--local", "."]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "runform will perform the following actions:

  # runform_job_execution.migrate will be executed
    (because its triggers changed)
  ! resource \"runform_job_execution\" \"migrate\" {
      ~ triggers.release = \"v1\" -> \"v2\"
    }

Plan: 0 to add, 0 to change, 0 to destroy, 1 to execute.
"
    );
    let o = runform(d, &["executions"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let row = regex::Regex::new(
        r"(?m)^migrate-[a-z0-9]{5} +migrate +succeeded +1 +1 +0  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+\.\ds$",
    )
    .unwrap();
    assert!(
        out.starts_with("EXECUTION                        JOB                      STATUS      TASKS     OK FAILED  STARTED (UTC)         DURATION\n")
            && row.is_match(&out),
        "{out}"
    );
}

/// `schedule run NAME` fires a scheduler job now (as `gcloud scheduler jobs run`), reports the
/// attempt and waits for the execution it started; the attempts endpoint takes the short
/// name the README shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_run_fires_a_scheduler_job_now() {
    let server = super::local_server(Some("2026-06-01T10:00:00Z")).await;
    let url = server.url();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "main.tf",
        r#"
provider "google" {
  project = "proj"
  region  = "us-central1"
}
resource "google_service_account" "cron" {
  account_id = "cron-runner"
}
resource "google_cloud_run_v2_job" "etl" {
  name                = "etl"
  location            = "us-central1"
  deletion_protection = false
  template {
    template {
      containers {
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo nightly run"]
      }
    }
  }
}
resource "google_cloud_run_v2_job_iam_member" "cron_runs_etl" {
  name   = google_cloud_run_v2_job.etl.name
  role   = "roles/run.invoker"
  member = google_service_account.cron.member
}
resource "google_cloud_scheduler_job" "nightly" {
  name       = "etl-nightly"
  schedule   = "0 3 * * *"
  depends_on = [google_cloud_run_v2_job_iam_member.cron_runs_etl]
  http_target {
    uri         = "https://run.googleapis.com/v2/projects/proj/locations/us-central1/jobs/etl:run"
    http_method = "POST"
    oauth_token {
      service_account_email = google_service_account.cron.email
    }
  }
}
"#,
    );
    let o = runform_endpoint(d, &url, &["apply", "--auto-approve", "-q", "."], &[]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = runform_endpoint(d, &url, &["schedule", "run", "nightly", "--wait"], &[]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        filtered(&String::from_utf8_lossy(&o.stdout), d),
        "Ran scheduler job etl-nightly now (its schedule is unchanged).
The attempt started execution etl-XXXXX.
Execution etl-XXXXX succeeded.
"
    );
    let err = filtered(&String::from_utf8_lossy(&o.stderr), d);
    assert!(err.contains("etl: [task 0] nightly run"), "{err}");

    let attempts: serde_json::Value = reqwest::get(format!(
        "{url}/runform/v1/scheduler/attempts?job=etl-nightly"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let a = &attempts["attempts"][0];
    assert_eq!(a["forced"], true, "{attempts}");
    assert!(
        a["execution"]
            .as_str()
            .unwrap()
            .starts_with("projects/proj/locations/us-central1/jobs/etl/executions/etl-"),
        "{attempts}"
    );
    let o = runform_endpoint(d, &url, &["schedule", "run", "nope"], &[]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with("error: no scheduler job \"nope\""),
        "{}",
        text(&o)
    );
    server.stop().await;
}

/// A `-json` stream line with what varies between runs and tools taken out: the timestamp,
/// object ids, and the version message's versions.
fn normalized_ui_line(line: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
    let m = v.as_object_mut().unwrap();
    for key in ["@level", "@message", "@module", "@timestamp", "type"] {
        assert!(m.contains_key(key), "{key} missing: {line}");
    }
    m.remove("@timestamp");
    let id = regex::Regex::new(r"\[id=[^\]]*\]").unwrap();
    let msg = m["@message"].as_str().unwrap().to_string();
    m.insert("@message".into(), id.replace_all(&msg, "[id=ID]").into());
    if let Some(hook) = m.get_mut("hook").and_then(|h| h.as_object_mut()) {
        if hook.contains_key("id_value") {
            hook.insert("id_value".into(), "ID".into());
        }
    }
    if m["type"] == "version" {
        assert_eq!(m["ui"], "1.2", "{line}");
        m.retain(|k, _| k == "type" || k == "ui");
    }
    v
}

/// The messages of a stream, without Terraform's refresh hooks (runform reads live objects
/// in bulk, not one resource at a time).
fn ui_stream(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(normalized_ui_line)
        .filter(|m| m["type"] != "refresh_start" && m["type"] != "refresh_complete")
        .collect()
}

/// `plan -json -out`, `apply -json PLAN` and `destroy -json` print the message stream
/// Terraform 1.11 prints for the same stack (run here, side by side): the same message
/// types in the same order, with the same fields and texts.
#[test]
fn the_json_ui_stream_is_terraforms() {
    let stack = r#"
resource "terraform_data" "a" {
  input = "x"
}
resource "terraform_data" "b" {
  input = terraform_data.a.output
}
output "o" {
  value = terraform_data.b.output
}
"#;
    let tmp = tempfile::tempdir().unwrap();
    let (tf, rf) = (tmp.path().join("tf"), tmp.path().join("rf"));
    for d in [&tf, &rf] {
        std::fs::create_dir_all(d).unwrap();
        write(d, "main.tf", stack);
    }
    let terraform = |args: &[&str]| {
        let o = Command::new("terraform")
            .args(args)
            .current_dir(&tf)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("TF_IN_AUTOMATION", "1")
            .output()
            .expect("terraform is on the PATH");
        assert!(o.status.success(), "terraform {args:?}: {}", text(&o));
        o
    };
    terraform(&["init", "-input=false"]);
    // (terraform's arguments, runform's, the stack's input for this step)
    let steps: [(&[&str], &[&str], &str); 5] = [
        (
            &["plan", "-json", "-input=false", "-out=p.plan"],
            &["plan", "--local", "-json", "-input=false", "-out=p.plan"],
            "x",
        ),
        (
            &["apply", "-json", "-input=false", "p.plan"],
            &["apply", "--local", "-json", "-input=false", "p.plan"],
            "x",
        ),
        (
            &["apply", "-json", "-auto-approve", "-input=false"],
            &["apply", "--local", "-json", "-auto-approve", "-input=false"],
            "x",
        ),
        (
            &["apply", "-json", "-auto-approve", "-input=false"],
            &["apply", "--local", "-json", "-auto-approve", "-input=false"],
            "y",
        ),
        (
            &["destroy", "-json", "-auto-approve", "-input=false"],
            &[
                "destroy",
                "--local",
                "-json",
                "-auto-approve",
                "-input=false",
            ],
            "y",
        ),
    ];
    for (tf_args, rf_args, input) in steps {
        for d in [&tf, &rf] {
            write(d, "main.tf", &stack.replace("\"x\"", &format!("{input:?}")));
        }
        let theirs = ui_stream(&terraform(tf_args).stdout);
        let o = runform(&rf, rf_args);
        assert!(o.status.success(), "runform {rf_args:?}: {}", text(&o));
        let ours = ui_stream(&o.stdout);
        let show = |s: &[serde_json::Value]| {
            s.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        };
        if tf_args[0] == "apply" && input == "y" {
            assert!(
                ours.iter()
                    .any(|m| m["type"] == "apply_start" && m["hook"]["action"] == "update"),
                "the input's change is an update: {ours:?}"
            );
        }
        assert!(
            ours == theirs,
            "{rf_args:?}: runform's stream differs from terraform's\n--- runform\n{}\n--- terraform\n{}",
            show(&ours),
            show(&theirs)
        );
    }

    // Errors are `diagnostic` messages with the range Terraform gives.
    write(
        &rf,
        "bad.tf",
        "resource \"terraform_data\" \"c\" { input = var.nope }\n",
    );
    let o = runform(&rf, &["plan", "--local", "-json"]);
    assert_eq!(o.status.code(), Some(1));
    let stream = ui_stream(&o.stdout);
    let d = stream
        .iter()
        .find(|m| m["type"] == "diagnostic")
        .unwrap_or_else(|| panic!("{}", text(&o)));
    assert_eq!(d["@level"], "error");
    assert_eq!(d["diagnostic"]["range"]["filename"], "bad.tf", "{d}");
    assert_eq!(d["diagnostic"]["range"]["start"]["line"], 1, "{d}");
    assert_eq!(
        d["diagnostic"]["snippet"]["code"],
        "resource \"terraform_data\" \"c\" { input = var.nope }",
        "{d}"
    );
}

/// A plan saved from inside the stack (`plan -out=p .`) with values known only after apply
/// applies: the configuration's digest names files by their real paths, not as `./main.tf`
/// at plan time and `/abs/dir/main.tf` when the saved plan is applied.
#[test]
fn a_saved_plan_made_with_dot_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "main.tf",
        "resource \"terraform_data\" \"a\" {\n  input = \"x\"\n}\nresource \"terraform_data\" \"b\" {\n  input = terraform_data.a.output\n}\n",
    );
    let o = runform(d, &["plan", "--local", "-out=p.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["apply", "--local", "p.plan"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Apply complete! Resources: 2 added"),
        "{}",
        text(&o)
    );
}

/// `graph` prints the bytes `terraform graph` prints for a stack with references through
/// locals, `for_each`, `depends_on` and nested modules (run here, side by side); Mermaid
/// draws the same nodes and edges; a saved plan's graph labels instances with their actions.
#[test]
fn graph_is_terraforms() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "main.tf",
        r#"
locals {
  l = terraform_data.a.id
}
resource "terraform_data" "a" {}
resource "terraform_data" "b" {
  input = terraform_data.a.id
}
resource "terraform_data" "c" {
  for_each = toset(["x", "y"])
  input    = [local.l, terraform_data.b.id]
}
resource "terraform_data" "d" {
  depends_on = [terraform_data.c]
}
module "m" {
  source = "./mod"
  in     = terraform_data.d.id
}
module "n" {
  source = "./mod"
  in     = "z"
}
resource "terraform_data" "e" {
  input = [module.m.o, module.n.o]
}
"#,
    );
    std::fs::create_dir_all(d.join("mod/inner")).unwrap();
    write(
        &d.join("mod"),
        "main.tf",
        "variable \"in\" {}\nresource \"terraform_data\" \"y\" {\n  input = var.in\n}\nmodule \"inner\" {\n  source = \"./inner\"\n}\noutput \"o\" {\n  value = [terraform_data.y.id, module.inner.o]\n}\n",
    );
    write(
        &d.join("mod/inner"),
        "main.tf",
        "resource \"terraform_data\" \"z\" {}\noutput \"o\" {\n  value = terraform_data.z.id\n}\n",
    );
    let tf = |args: &[&str]| {
        let o = Command::new("terraform")
            .args(args)
            .current_dir(d)
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .output()
            .expect("terraform is on the PATH");
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    tf(&["init", "-input=false"]);
    let theirs = tf(&["graph"]);
    let o = runform(d, &["graph"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), theirs);
    assert!(theirs.contains("\"terraform_data.d\" -> \"terraform_data.c\";"));

    let o = runform(d, &["graph", "-format=mermaid"]);
    let mermaid = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        mermaid.starts_with("flowchart RL\n  n0[\"terraform_data.a\"]\n"),
        "{mermaid}"
    );
    assert!(
        mermaid.contains("  subgraph module_m_module_inner[\"module.m.module.inner\"]\n    n6[\"terraform_data.z\"]\n  end\n"),
        "{mermaid}"
    );
    assert_eq!(mermaid.matches("-->").count(), theirs.matches("->").count());

    let o = runform(d, &["plan", "--local", "-out=g.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["graph", "g.plan"]);
    let planned = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        planned.contains(
            "  \"terraform_data.c[\\\"x\\\"]\" [label=\"terraform_data.c[\\\"x\\\"] (create)\"];\n"
        ) && planned.contains("  \"terraform_data.c[\\\"y\\\"]\" -> \"terraform_data.b\";\n"),
        "{planned}"
    );
}

/// A long wait is never silent: in a CI log the unchanged status is repeated every
/// RUNFORM_PROGRESS_EVERY; on a terminal it is one line redrawn in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_progress_repeats_in_logs_and_redraws_on_a_terminal() {
    let server = super::local_server(None).await;
    let url = server.url();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "main.tf",
        r#"
resource "google_cloud_run_v2_job" "slow" {
  name                = "slow"
  location            = "us-central1"
  project             = "p"
  deletion_protection = false
  template {
    template {
      containers {
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo begin; sleep 1; echo end"]
      }
    }
  }
}
"#,
    );
    let o = runform_endpoint(d, &url, &["apply", "--auto-approve", "."], &[]).await;
    assert!(o.status.success(), "{}", text(&o));

    let o = runform_endpoint(
        d,
        &url,
        &["run", "--wait", "slow"],
        &[("RUNFORM_PROGRESS_EVERY", "100ms")],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let err = filtered(&String::from_utf8_lossy(&o.stderr), d);
    let running =
        "slow: execution slow-XXXXX: 1 running, 0 succeeded, 0 failed of 1 task [Ns elapsed]";
    assert!(
        err.lines().filter(|l| *l == running).count() >= 3,
        "the status repeats while nothing changes:\n{err}"
    );
    assert!(!err.contains('\r'), "no redraws in a log: {err:?}");

    // On a terminal (util-linux `script` gives the command one): redrawn in place.
    let cmd = format!(
        "{} run --wait --endpoint={url} slow",
        env!("CARGO_BIN_EXE_runform")
    );
    let dir = d.to_path_buf();
    let o = tokio::task::spawn_blocking(move || {
        Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(&dir)
            .env("TERM", "xterm")
            .env("NO_COLOR", "1")
            .output()
            .expect("script (util-linux) is installed")
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let screen = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(screen.contains("\r\x1b[2K"), "redrawn in place: {screen:?}");
    assert!(screen.contains("slow: [task 0] end"), "{screen:?}");
    assert!(
        screen.contains("0 running, 1 succeeded, 0 failed of 1 task"),
        "{screen:?}"
    );
    server.stop().await;
}

/// runform's own action in the stream: an execute action's hooks, its tasks' lines as `log`
/// messages, and a failure as `apply_errored` plus a `diagnostic`; every message is of a
/// type Terraform documents.
#[test]
fn the_json_ui_stream_carries_executions_and_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(
        d,
        "main.tf",
        r#"
resource "google_cloud_run_v2_job" "j" {
  name                = "migrate"
  location            = "us-central1"
  project             = "p"
  deletion_protection = false
  template {
    template {
      max_retries = 0
      containers {
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo migrating; exit 4"]
      }
    }
  }
}
resource "runform_job_execution" "migrate" {
  job = google_cloud_run_v2_job.j.id
}
"#,
    );
    let o = runform(
        d,
        &[
            "apply",
            "--local",
            "-json",
            "-auto-approve",
            "-input=false",
            ".",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let stream = ui_stream(&o.stdout);
    const DOCUMENTED: &[&str] = &[
        "version",
        "log",
        "diagnostic",
        "planned_change",
        "change_summary",
        "outputs",
        "apply_start",
        "apply_progress",
        "apply_complete",
        "apply_errored",
        "resource_drift",
        "refresh_start",
        "refresh_complete",
    ];
    for m in &stream {
        assert!(
            DOCUMENTED.contains(&m["type"].as_str().unwrap()),
            "undocumented type: {m}"
        );
    }
    let find = |ty: &str, msg: &str| {
        stream
            .iter()
            .find(|m| m["type"] == ty && m["@message"].as_str().unwrap().contains(msg))
            .unwrap_or_else(|| panic!("no {ty} {msg:?} in {}", text(&o)))
    };
    assert_eq!(
        find("planned_change", "runform_job_execution.migrate")["change"]["action"],
        "execute"
    );
    let summary = find("change_summary", "Plan: 1 to add");
    assert_eq!(
        summary["@message"],
        "Plan: 1 to add, 0 to change, 0 to destroy, 1 to execute."
    );
    assert_eq!(summary["changes"]["execute"], 1);
    assert_eq!(
        find("apply_start", "runform_job_execution.migrate: Executing...")["hook"]["action"],
        "execute"
    );
    find("log", "runform_job_execution.migrate: [task 0] migrating");
    find(
        "apply_errored",
        "runform_job_execution.migrate: Execution errored after",
    );
    let diag = find("diagnostic", "runform_job_execution.migrate");
    assert_eq!(diag["@level"], "error");
    assert!(
        diag["diagnostic"]["summary"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "{diag}"
    );
    assert!(
        !stream
            .iter()
            .any(|m| m["type"] == "change_summary" && m["changes"]["operation"] == "apply"),
        "a failed apply has no completion summary"
    );
    // Without approval, -json refuses (it cannot ask), as a diagnostic.
    let o = runform(d, &["apply", "--local", "-json", "."]);
    assert_eq!(o.status.code(), Some(1));
    let stream = ui_stream(&o.stdout);
    assert_eq!(stream[0]["type"], "version");
    assert_eq!(
        stream[1]["diagnostic"]["summary"],
        "-json cannot ask for confirmation"
    );
}
