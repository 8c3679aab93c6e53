//! Terraform's value model end to end, one test per failure reported in issue 10: values
//! known only after apply flowing through functions into other resources, nested blocks as
//! lists, exported and server-filled attributes, fresh computed values after an update,
//! sensitivity through functions, validate without variable values, unknown outputs in plan
//! JSON, and strings that hold U+0001.

use super::cli_support::{runform, text};
use super::write;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `runform ARGS` with `input` on stdin.
fn runform_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runform"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUNFORM_ENDPOINT")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Each line's value from `runform console --local [--plan] .`.
fn console(dir: &Path, plan: bool, exprs: &[&str]) -> Vec<String> {
    let mut args = vec!["console", "--local"];
    if plan {
        args.push("--plan");
    }
    args.push(".");
    let o = runform_stdin(dir, &args, &(exprs.join("\n") + "\n"));
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    // Values may span lines; each expression here gives a one-line value.
    out.lines().map(str::to_string).collect()
}

fn apply(dir: &Path) -> String {
    let o = runform(dir, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

fn plan_is_clean(dir: &Path) {
    let o = runform(dir, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "the next plan is not clean:\n{}",
        text(&o)
    );
}

fn state(dir: &Path) -> Value {
    let o = runform(dir, &["state", "pull", "--local"]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

const PROVIDER: &str = r#"
provider "google" {
  project = "proj"
  region  = "us-central1"
}
"#;

fn job(name: &str, body: &str) -> String {
    format!(
        r#"
resource "google_cloud_run_v2_job" "{name}" {{
  name                = "{name}"
  location            = "us-central1"
  deletion_protection = false
  {body}
  template {{
    task_count = 2
    template {{
      containers {{
        image = "busybox"
      }}
    }}
  }}
}}
"#
    )
}

/// Job b reads job a's computed attributes through functions: applied with exactly the
/// values Terraform would compute, and the next plan is clean.
#[test]
fn functions_of_apply_time_values_are_applied_right() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = r#"
resource "google_cloud_run_v2_job" "b" {
  name                = "b-${split("-", google_cloud_run_v2_job.a.uid)[0]}"
  location            = "us-central1"
  deletion_protection = false
  labels = {
    tasks = tostring(google_cloud_run_v2_job.a.template[0].task_count + 1)
  }
  template {
    template {
      containers {
        image = "busybox"
        env {
          name  = "A_UID"
          value = upper(google_cloud_run_v2_job.a.uid)
        }
        env {
          name  = "A_ETAG"
          value = google_cloud_run_v2_job.a.etag
        }
        env {
          name  = "A_EXEC"
          value = google_cloud_run_v2_job.a.latest_created_execution[0].name
        }
        env {
          name  = "A_NEXT"
          value = google_cloud_run_v2_job.a.execution_count + 1
        }
      }
    }
  }
}
"#;
    let a = job("a", r#"start_execution_token = "first""#);
    write(d, "main.tf", &format!("{PROVIDER}{a}{b}"));
    let o = runform(d, &["plan", "--local", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("name") && t.contains("(known after apply)"),
        "{t}"
    );
    apply(d);
    let st = state(d);
    let va = &st["resources"]["google_cloud_run_v2_job.a"]["values"];
    let vb = &st["resources"]["google_cloud_run_v2_job.b"]["values"];
    let uid = va["uid"].as_str().unwrap();
    assert!(!uid.is_empty());
    assert_eq!(vb["name"], format!("b-{}", uid.split('-').next().unwrap()));
    assert_eq!(vb["labels"]["tasks"], "3");
    let env: Vec<(String, String)> = vb["template"]["template"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let get = |n: &str| env.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(get("A_UID"), uid.to_uppercase());
    assert_eq!(get("A_ETAG"), va["etag"].as_str().unwrap());
    let exec = va["latest_created_execution"]["name"].as_str().unwrap();
    assert!(exec.contains("/executions/"), "{va}");
    assert_eq!(get("A_EXEC"), exec);
    assert_eq!(
        get("A_NEXT"),
        (va["execution_count"].as_i64().unwrap() + 1).to_string()
    );
    plan_is_clean(d);
}

/// Nested blocks are lists: `[0]`, `[*]`, `one()` and `for` work, and reading an attribute
/// of the list itself is Terraform's error.
#[test]
fn nested_blocks_index_as_in_terraform() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bucket = r#"
resource "google_storage_bucket" "b" {
  name     = "bkt"
  location = "US"
  versioning {
    enabled = true
  }
}
"#;
    write(d, "main.tf", &format!("{PROVIDER}{}{bucket}", job("j", "")));
    let got = console(
        d,
        true,
        &[
            "google_cloud_run_v2_job.j.template[0].task_count",
            "one(google_cloud_run_v2_job.j.template).task_count",
            "google_cloud_run_v2_job.j.template[*].task_count",
            "[for t in google_cloud_run_v2_job.j.template : t.template[0].containers[0].image]",
            "google_storage_bucket.b.versioning[0].enabled",
        ],
    );
    assert_eq!(
        got.join("\n"),
        "2\n2\ntolist([\n  2,\n])\n[\n  \"busybox\",\n]\ntrue"
    );
    let o = runform_stdin(
        d,
        &["console", "--local", "--plan", "."],
        "google_cloud_run_v2_job.j.template.task_count\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("Can't access attributes on a list of objects"),
        "{}",
        text(&o)
    );
}

/// What the provider exports, and what defaults or the server fill in, is readable after
/// apply with the types the provider gives it.
#[test]
fn exported_and_server_filled_attributes_are_readable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sched = r#"
resource "google_cloud_scheduler_job" "s" {
  name     = "tick"
  region   = "us-central1"
  schedule = "0 * * * *"
  http_target {
    uri = "https://example.com/"
  }
}
"#;
    write(d, "main.tf", &format!("{PROVIDER}{}{sched}", job("a", "")));
    apply(d);
    let p = "google_cloud_run_v2_job.a";
    let got = console(
        d,
        false,
        &[
            &format!("{p}.launch_stage"),
            &format!("{p}.template[0].template[0].timeout"),
            &format!("{p}.template[0].template[0].max_retries"),
            &format!("{p}.observed_generation"),
            &format!("{p}.reconciling"),
            &format!("{p}.terminal_condition[0].state"),
            &format!("length({p}.conditions)"),
            &format!("{p}.effective_annotations"),
            &format!("length({p}.uid) > 0"),
            "google_cloud_scheduler_job.s.time_zone",
            "google_cloud_scheduler_job.s.paused",
            "google_cloud_scheduler_job.s.state",
        ],
    );
    assert_eq!(
        got,
        [
            "\"GA\"",
            "\"600s\"",
            "3",
            "\"1\"",
            "false",
            "\"CONDITION_SUCCEEDED\"",
            "0",
            "tomap({})",
            "true",
            "\"Etc/UTC\"",
            "false",
            "\"ENABLED\"",
        ]
    );
}

/// After an update, computed values (etag, generation) are the new ones in the same apply:
/// for dependents and outputs. A no-op apply records new outputs.
#[test]
fn computed_values_are_fresh_after_an_update_and_outputs_are_saved() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dependent = r#"
resource "google_cloud_run_v2_job" "dep" {
  name                = "dep"
  location            = "us-central1"
  deletion_protection = false
  labels = {
    generation = google_cloud_run_v2_job.a.generation
  }
  template {
    template {
      containers {
        image = "busybox"
        env {
          name  = "A_ETAG"
          value = google_cloud_run_v2_job.a.etag
        }
      }
    }
  }
}
output "etag" {
  value = google_cloud_run_v2_job.a.etag
}
"#;
    let stack = |team: &str, extra: &str| {
        format!(
            "{PROVIDER}{}{dependent}{extra}",
            job("a", &format!("labels = {{ team = \"{team}\" }}"))
        )
    };
    write(d, "main.tf", &stack("data", ""));
    apply(d);
    write(d, "main.tf", &stack("ops", ""));
    let o = runform(d, &["plan", "--local", "."]);
    assert!(
        text(&o).contains("google_cloud_run_v2_job.dep will be updated in-place"),
        "the dependent of an update is planned with it:\n{}",
        text(&o)
    );
    apply(d);
    let st = state(d);
    let a = &st["resources"]["google_cloud_run_v2_job.a"]["values"];
    let dep = &st["resources"]["google_cloud_run_v2_job.dep"]["values"];
    assert_eq!(a["generation"], "2", "{a}");
    assert_eq!(dep["labels"]["generation"], "2");
    assert_eq!(
        dep["template"]["template"]["containers"][0]["env"][0]["value"],
        a["etag"]
    );
    assert_eq!(st["outputs"]["etag"], a["etag"]);
    plan_is_clean(d);

    // Nothing to change, a new output: the apply records it.
    write(
        d,
        "main.tf",
        &stack("ops", "output \"added\" {\n  value = [1, \"x\"]\n}\n"),
    );
    apply(d);
    let o = runform(d, &["output", "--local", "added"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[\n  1,\n  \"x\",\n]\n");

    // Destroy leaves no outputs behind, as `terraform destroy`.
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(
        text(&o).contains("Destroy complete! Resources: 2 destroyed."),
        "{}",
        text(&o)
    );
    assert!(state(d)["outputs"].as_object().is_none_or(|m| m.is_empty()));
}

/// A sensitive value stays hidden through functions: in every plan rendering, `show`, apply
/// output and error messages.
#[test]
fn sensitivity_survives_functions_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = |cond: &str| {
        format!(
            r#"{PROVIDER}
variable "token" {{
  type      = string
  default   = "Hunter2-Secret"
  sensitive = true
}}
resource "google_cloud_run_v2_job" "a" {{
  name                = "a"
  location            = "us-central1"
  deletion_protection = false
  labels = {{
    up   = lower(var.token)
    tail = substr(var.token, 8, 6)
  }}
  annotations = {{
    shout = upper(var.token)
  }}
  lifecycle {{
    precondition {{
      condition     = {cond}
      error_message = "token ${{lower(var.token)}} is not allowed"
    }}
  }}
  template {{
    template {{
      containers {{
        image = "busybox"
      }}
    }}
  }}
}}
"#
        )
    };
    let leaks = |t: &str| {
        ["hunter2", "HUNTER2", "Hunter2", "secret", "SECRET"]
            .iter()
            .any(|s| t.contains(s))
    };
    write(d, "main.tf", &cfg("true"));
    for format in ["text", "markdown", "json"] {
        let o = runform(d, &["plan", "--local", "--format", format, "."]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            !leaks(&text(&o)),
            "{format} plan shows a secret:\n{}",
            text(&o)
        );
    }
    let o = runform(d, &["plan", "--local", "--out", "p.bin", "."]);
    assert!(o.status.success());
    for args in [&["show", "p.bin"][..], &["show", "--json", "p.bin"]] {
        let o = runform(d, args);
        assert!(o.status.success(), "{}", text(&o));
        assert!(!leaks(&text(&o)), "{args:?} shows a secret:\n{}", text(&o));
    }
    let out = apply(d);
    assert!(!leaks(&out), "apply shows a secret:\n{out}");
    // Changing a sensitive value shows neither side.
    write(
        d,
        "main.tf",
        &cfg("true").replace("Hunter2-Secret", "Hunter2-Secreu"),
    );
    let o = runform(d, &["plan", "--local", "."]);
    assert!(
        text(&o).contains("(sensitive value) -> (sensitive value)") && !leaks(&text(&o)),
        "{}",
        text(&o)
    );
    // An error message made from it.
    write(d, "main.tf", &cfg("false"));
    let o = runform(d, &["plan", "--local", "."]);
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("precondition failed"),
        "{t}"
    );
    // As Terraform: "the error message included a sensitive value".
    assert!(t.contains("sensitive value"), "{t}");
    assert!(!leaks(&t), "the error shows a secret:\n{t}");
}

/// `validate` checks a configuration whatever its variables will be: a module whose
/// variables have no value validates; a real mistake inside it is still found.
#[test]
fn validate_needs_no_variable_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("mod")).unwrap();
    let module = |task_count: &str| {
        format!(
            r#"
variable "project" {{ type = string }}
variable "name" {{ type = string }}
variable "tasks" {{ type = number }}
data "google_project" "p" {{
  project_id = var.project
}}
resource "google_cloud_run_v2_job" "j" {{
  name                = "${{var.name}}-${{data.google_project.p.number}}"
  project             = var.project
  location            = "us-central1"
  deletion_protection = false
  template {{
    task_count = {task_count}
    template {{
      containers {{
        image = "busybox"
      }}
    }}
  }}
}}
output "id" {{ value = google_cloud_run_v2_job.j.id }}
"#
        )
    };
    write(&d.join("mod"), "main.tf", &module("var.tasks * 2"));
    write(
        d,
        "main.tf",
        r#"
variable "project" { type = string }
variable "names" { type = set(string) }
module "jobs" {
  source   = "./mod"
  for_each = var.names
  project  = var.project
  name     = each.key
  tasks    = 3
}
output "ids" { value = [for m in module.jobs : m.id] }
"#,
    );
    let o = runform(d, &["validate", "."]);
    assert!(o.status.success(), "{}", text(&o));
    write(&d.join("mod"), "main.tf", &module("\"many\""));
    let o = runform(d, &["validate", "."]);
    assert!(
        !o.status.success() && text(&o).contains("task_count"),
        "{}",
        text(&o)
    );
}

/// An output known only after apply is unknown in plan JSON, not null.
#[test]
fn plan_json_shows_unknown_outputs_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "main.tf",
        &format!(
            "{PROVIDER}{}output \"uid\" {{\n  value = google_cloud_run_v2_job.a.uid\n}}\n",
            job("a", "")
        ),
    );
    let o = runform(d, &["plan", "--local", "--format", "json", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let uid = &j["output_changes"]["uid"];
    assert_eq!(uid["after_unknown"], true, "{uid}");
    assert!(uid.get("after").is_none(), "{uid}");
    assert_eq!(uid["actions"], serde_json::json!(["create"]));
}

/// U+0001 is an ordinary character: validation runs on it, and a value holding it applies
/// and plans clean.
#[test]
fn strings_holding_u0001_are_ordinary_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = |v: &str| {
        format!(
            r#"{PROVIDER}
variable "marker" {{
  type    = string
  default = "{v}"
  validation {{
    condition     = !strcontains(var.marker, "\u0002")
    error_message = "no U+0002 please"
  }}
}}
resource "google_cloud_run_v2_job" "a" {{
  name                = "a"
  location            = "us-central1"
  deletion_protection = false
  template {{
    template {{
      containers {{
        image = "busybox"
        env {{
          name  = "MARKER"
          value = var.marker
        }}
      }}
    }}
  }}
}}
"#
        )
    };
    write(d, "main.tf", &cfg("a\\u0001b"));
    let o = runform(d, &["plan", "--local", "."]);
    assert!(
        o.status.success()
            && text(&o)
                .lines()
                .any(|l| l.contains("env[0].value") && l.ends_with(r#"= "a\x01b""#)),
        "{}",
        text(&o)
    );
    apply(d);
    let st = state(d);
    assert_eq!(
        st["resources"]["google_cloud_run_v2_job.a"]["values"]["template"]["template"]
            ["containers"][0]["env"][0]["value"],
        "a\u{1}b"
    );
    plan_is_clean(d);
    write(d, "main.tf", &cfg("a\\u0001\\u0002"));
    let o = runform(d, &["plan", "--local", "."]);
    assert!(
        !o.status.success() && text(&o).contains("no U+0002 please"),
        "{}",
        text(&o)
    );
}
