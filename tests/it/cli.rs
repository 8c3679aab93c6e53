use super::write;
use std::path::Path;
use std::process::{Command, Output};

pub fn runform(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runform"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUNFORM_ENDPOINT")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A job that uses every supported argument.
fn full_job(name: &str, greeting: &str) -> String {
    format!(
        r#"
variable "secret_token" {{
  type      = string
  default   = "s3cr3t-value"
  sensitive = true
}}
locals {{ team = "data" }}
provider "google" {{
  project = "proj"
  region  = "us-central1"
}}
resource "google_cloud_run_v2_job" "etl" {{
  name                = "{name}"
  location            = "us-central1"
  deletion_protection = false
  labels              = {{ team = local.team }}
  annotations         = {{ "example.com/owner" = "infra" }}
  launch_stage        = "GA"
  template {{
    labels      = {{ kind = "batch" }}
    task_count  = 4
    parallelism = 2
    template {{
      max_retries           = 0
      timeout               = "120s"
      service_account       = "etl@proj.iam.gserviceaccount.com"
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
      containers {{
        name        = "main"
        image       = "us-docker.pkg.dev/cloudrun/container/job:latest"
        command     = ["/bin/sh", "-c"]
        args        = ["echo $GREETING"]
        working_dir = "/"
        env {{
          name  = "GREETING"
          value = "{greeting}"
        }}
        env {{
          name  = "TOKEN"
          value = var.secret_token
        }}
        env {{
          name = "DB_PASSWORD"
          value_source {{
            secret_key_ref {{
              secret  = "db-password"
              version = "latest"
            }}
          }}
        }}
        resources {{
          limits = {{ cpu = "2", memory = "1Gi" }}
        }}
        volume_mounts {{
          name       = "scratch"
          mount_path = "/scratch"
        }}
      }}
      volumes {{
        name = "scratch"
        empty_dir {{
          medium     = "MEMORY"
          size_limit = "256Mi"
        }}
      }}
      vpc_access {{
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {{
          network    = "default"
          subnetwork = "default"
        }}
      }}
    }}
  }}
}}
"#
    )
}

#[test]
fn apply_then_plan_is_clean_and_changes_are_precise() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.tf", &full_job("etl", "hello"));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !text(&o).contains("s3cr3t-value"),
        "sensitive value shown: {}",
        text(&o)
    );
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("No changes."));

    // One env value changed: one in-place update of that attribute only.
    write(d, "main.tf", &full_job("etl", "bonjour"));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("will be updated in-place"), "{t}");
    let changed: Vec<&str> = t
        .lines()
        .filter(|l| l.trim_start().starts_with("~ ") && !l.contains("~ resource"))
        .collect();
    assert_eq!(changed.len(), 1, "{t}");
    // `env` is a set of blocks (provider 5.x-7.x): the sensitive TOKEN value marks the whole
    // set, as in Terraform (a set cannot hold marked elements), so neither side is shown.
    assert!(
        changed[0].contains("env[\"GREETING\"].value")
            && changed[0].contains("(sensitive value) -> (sensitive value)"),
        "{t}"
    );
    assert!(!t.contains("hello") && !t.contains("bonjour"), "{t}");
    assert!(
        t.contains("Plan: 0 to add, 1 to change, 0 to destroy, 0 to execute."),
        "{t}"
    );

    // A new name: replace.
    write(d, "main.tf", &full_job("etl2", "hello"));
    let o = runform(d, &["plan", "--local", "."]);
    let t = text(&o);
    assert!(
        t.contains("must be replaced") && t.contains("Plan: 1 to add, 0 to change, 1 to destroy"),
        "{t}"
    );

    // Saved plan applies exactly what it showed, and only once.
    let o = runform(d, &["plan", "--local", "--out", "p.plan", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["apply", "--local", "p.plan"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["apply", "--local", "p.plan"]);
    assert!(
        !o.status.success() && text(&o).contains("stale"),
        "{}",
        text(&o)
    );
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn invalid_configurations_give_located_errors_and_touch_nothing() {
    let base = |body: &str| {
        format!(
            "resource \"google_cloud_run_v2_job\" \"j\" {{\n  name = \"j\"\n  location = \"us-central1\"\n  project = \"p\"\n  template {{\n{body}\n  }}\n}}\n"
        )
    };
    let container = |extra: &str| {
        format!("    template {{\n      containers {{\n        image = \"i\"\n{extra}\n      }}\n    }}")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("task_count", base(&format!("    task_count = 0\n{}", container(""))), "between 1 and 10000"),
        ("parallelism", base(&format!("    task_count = 2\n    parallelism = 5\n{}", container(""))), "must not exceed task_count"),
        ("max_retries", base("    template {\n      max_retries = 11\n      containers { image = \"i\" }\n    }"), "between 0 and 10"),
        ("timeout", base("    template {\n      timeout = \"10m\"\n      containers { image = \"i\" }\n    }"), "not a duration"),
        ("cpu", base(&container("        resources { limits = { cpu = \"3\" } }")), "cpu \"3\""),
        ("cpu-memory", base(&container("        resources { limits = { cpu = \"4\", memory = \"1Gi\" } }")), "at least 2Gi"),
        ("dup-env", base(&container("        env {\n name = \"A\"\n value = \"1\"\n }\n        env {\n name = \"A\"\n value = \"2\"\n }")), "more than once"),
        ("reserved-env", base(&container("        env {\n name = \"CLOUD_RUN_TASK_INDEX\"\n value = \"1\"\n }")), "reserved"),
        ("missing-image", base("    template {\n      containers { command = [\"x\"] }\n    }"), "missing required argument \"image\""),
        ("bad-name", base(&container("")).replace("name = \"j\"", "name = \"Bad_Name\""), "lowercase"),
        ("unknown-arg", base(&format!("    task_cont = 2\n{}", container(""))), "did you mean \"task_count\""),
        ("unknown-ref", base(&format!("    task_count = var.nope\n{}", container(""))), "undeclared variable"),
    ];
    for (name, cfg, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "main.tf", &cfg);
        // An endpoint nobody listens on: a validation error must come before any call.
        let o = runform(
            dir.path(),
            &["plan", "--endpoint", "http://127.0.0.1:9", "."],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(t.contains(want), "{name}: expected {want:?} in:\n{t}");
        assert!(t.contains("main.tf:"), "{name}: no location in:\n{t}");
        assert!(
            !t.contains("panicked") && !t.contains("could not reach"),
            "{name}: {t}"
        );
    }
    // A reference cycle names every member.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.tf",
        "locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\n",
    );
    let o = runform(dir.path(), &["validate", "."]);
    assert!(
        text(&o).contains("local.a, local.b, local.c"),
        "{}",
        text(&o)
    );
}

#[test]
fn failed_execution_fails_apply_with_task_logs() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.tf",
        r#"
resource "google_cloud_run_v2_job" "m" {
  name     = "migrate"
  location = "us-central1"
  deletion_protection = false
  template {
    template {
      max_retries = 0
      containers {
        image   = "migrations"
        command = ["/bin/sh", "-c", "echo applying 42; echo boom >&2; exit 4"]
      }
    }
  }
}
resource "runform_job_execution" "m" {
  job = google_cloud_run_v2_job.m.id
}
"#,
    );
    let o = runform(dir.path(), &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("task 0 failed") && t.contains("boom"), "{t}");
}

#[test]
fn apply_refuses_without_a_terminal_or_approval() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "main.tf", &full_job("etl", "x"));
    let o = Command::new(env!("CARGO_BIN_EXE_runform"))
        .args(["apply", "--local", "."])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("--auto-approve"), "{}", text(&o));
}

#[test]
fn killed_apply_converges_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = String::new();
    for i in 0..40 {
        cfg.push_str(&format!(
            "resource \"google_cloud_run_v2_job\" \"j{i}\" {{\n  name = \"j{i}\"\n  location = \"us-central1\"\n  deletion_protection = false\n  template {{\n    template {{\n      containers {{ image = \"i\" }}\n    }}\n  }}\n}}\n"
        ));
    }
    write(dir.path(), "main.tf", &cfg);
    let mut child = Command::new(env!("CARGO_BIN_EXE_runform"))
        .args([
            "apply",
            "--local",
            "--auto-approve",
            "--parallelism",
            "1",
            ".",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it once a few creates completed.
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let mut done = 0;
    for line in std::io::BufReader::new(stderr).lines() {
        if line.unwrap().contains("creating complete") {
            done += 1;
            if done == 5 {
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let o = runform(dir.path(), &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(dir.path(), &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".runform/local/runform.tfstate")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["resources"].as_object().unwrap().len(), 40);
}

#[test]
fn local_upload_puts_objects_into_the_stacks_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "photo.jpg", "not really a jpeg");
    let ds = d.to_str().unwrap();
    // A trailing slash is a folder: the object takes the file's name.
    let o = runform(
        d,
        &[
            "local",
            "upload",
            "--create-bucket",
            "--dir",
            ds,
            "photo.jpg",
            "gs://input-proj/in/",
        ],
    );
    assert!(
        text(&o).contains("Uploaded gs://input-proj/in/photo.jpg"),
        "{}",
        text(&o)
    );
    let o = runform(
        d,
        &[
            "local",
            "upload",
            "--dir",
            ds,
            "photo.jpg",
            "gs://input-proj/in/cat.jpg",
        ],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("Uploaded gs://input-proj/in/cat.jpg (17 bytes"),
        "{t}"
    );
    let o = runform(
        d,
        &[
            "local",
            "upload",
            "--dir",
            ds,
            "photo.jpg",
            "gs://missing-bucket/x.jpg",
        ],
    );
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("bucket does not exist") && t.contains("--create-bucket"),
        "{t}"
    );
    let o = runform(
        d,
        &["local", "upload", "--dir", ds, "photo.jpg", "s3://nope/x"],
    );
    assert!(
        !o.status.success() && text(&o).contains("gs://BUCKET/OBJECT"),
        "{}",
        text(&o)
    );
}
