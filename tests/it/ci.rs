//! The CI set-ups the README documents, run as their tools run them: every `run` step of
//! examples/ci/atlantis.yaml (Atlantis's custom workflow) and examples/ci/github-actions.yml
//! (a GitHub Actions job), in order, with the variables those tools set, against a local
//! runtime (`RUNFORM_ENDPOINT`, so the command lines are the documented ones).

use super::cli::text;
use super::write;
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

/// A formatted stack: a job, its execution and an output, with a value known only after
/// apply (so the saved plan is applied from the configuration).
const STACK: &str = r#"provider "google" {
  project = "ci-proj"
  region  = "us-central1"
}

resource "google_cloud_run_v2_job" "report" {
  name                = "report"
  location            = "us-central1"
  deletion_protection = false
  template {
    template {
      containers {
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo report done"]
      }
    }
  }
}

resource "runform_job_execution" "report" {
  job      = google_cloud_run_v2_job.report.id
  triggers = { release = "r1" }
}

output "job" {
  value = google_cloud_run_v2_job.report.id
}
"#;

fn load(file: &str) -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/ci")
        .join(file);
    YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .remove(0)
}

/// A directory holding runform (first on the PATH the steps see).
fn path_with_runform() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_runform")).parent().unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs one step's script with `shell` in `cwd`; returns its output.
fn run_step(
    shell: &[&str],
    script: &str,
    cwd: &Path,
    env: &[(String, String)],
) -> std::process::Output {
    let mut cmd = Command::new(shell[0]);
    cmd.args(&shell[1..]).arg(script).current_dir(cwd);
    cmd.env("PATH", path_with_runform()).env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stack_dir(root: &Path) -> PathBuf {
    let d = root.join("stacks/jobs");
    std::fs::create_dir_all(&d).unwrap();
    write(&d, "main.tf", STACK);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_atlantis_workflow_plans_and_applies() {
    let server = super::local_server(None).await;
    let url = server.url();
    let repo = tempfile::tempdir().unwrap();
    let doc = load("atlantis.yaml");
    let project = &doc["projects"][0];
    let dir = repo.path().join(project["dir"].as_str().unwrap());
    assert_eq!(dir, stack_dir(repo.path()));
    let workflow = &doc["workflows"][project["workflow"].as_str().unwrap()];
    // What Atlantis sets for a project's steps.
    let data = repo.path().join(".atlantis");
    std::fs::create_dir_all(&data).unwrap();
    let env: Vec<(String, String)> = [
        ("WORKSPACE", "default".to_string()),
        (
            "PLANFILE",
            data.join("default.tfplan").display().to_string(),
        ),
        ("SHOWFILE", data.join("default.json").display().to_string()),
        ("DIR", dir.display().to_string()),
        ("RUNFORM_ENDPOINT", url.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut transcript = String::new();
    for stage in ["plan", "apply"] {
        let steps = workflow[stage]["steps"].as_vec().unwrap();
        assert!(!steps.is_empty());
        for step in steps {
            let script = step["run"].as_str().unwrap();
            let env = env.clone();
            let dir = dir.clone();
            let o = tokio::task::spawn_blocking({
                let script = script.to_string();
                move || run_step(&["sh", "-c"], &script, &dir, &env)
            })
            .await
            .unwrap();
            transcript.push_str(&format!("$ {script}\n{}", text(&o)));
            assert!(o.status.success(), "{transcript}");
        }
    }
    let show: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("default.json")).unwrap()).unwrap();
    assert_eq!(
        show["resource_changes"].as_array().unwrap().len(),
        2,
        "{show}"
    );
    assert!(
        transcript
            .contains("Apply complete! Resources: 1 added, 0 changed, 0 destroyed, 1 executed."),
        "{transcript}"
    );
    assert!(
        transcript.contains("job = \"projects/ci-proj/locations/us-central1/jobs/report\""),
        "{transcript}"
    );
    server.stop().await;
}

/// Evaluates the `if:` conditions the documented job uses: `&&` of `==` between contexts
/// (`github.ref`, `steps.ID.outputs.NAME`) and quoted strings. Anything else fails the test,
/// so the file cannot grow a condition this runner does not understand.
fn condition_holds(cond: &str, github_ref: &str, outputs: &[(String, String)]) -> bool {
    let value = |t: &str| -> String {
        let t = t.trim();
        if let Some(s) = t.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            return s.to_string();
        }
        if t == "github.ref" {
            return github_ref.to_string();
        }
        if let Some(rest) = t.strip_prefix("steps.") {
            let (id, name) = rest.split_once(".outputs.").expect("steps.ID.outputs.NAME");
            let key = format!("{id}.{name}");
            return outputs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
        }
        panic!("condition term not understood: {t}");
    };
    cond.split("&&").all(|term| {
        let (a, b) = term.split_once("==").expect("only == comparisons");
        value(a) == value(b)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_github_actions_job_plans_applies_and_converges() {
    let server = super::local_server(None).await;
    let url = server.url();
    let repo = tempfile::tempdir().unwrap();
    stack_dir(repo.path());
    let doc = load("github-actions.yml");
    let job = &doc["jobs"]["runform"];
    let default_dir = job["defaults"]["run"]["working-directory"]
        .as_str()
        .unwrap();
    let mut env: Vec<(String, String)> = job["env"]
        .as_hash()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect();
    let github_output = repo.path().join("github_output");
    let summary = repo.path().join("step_summary");
    env.push(("RUNFORM_ENDPOINT".into(), url.clone()));
    env.push(("GITHUB_STEP_SUMMARY".into(), summary.display().to_string()));
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut transcript = String::new();
    let mut ran = Vec::new();
    for step in job["steps"].as_vec().unwrap() {
        let Some(script) = step["run"].as_str() else {
            continue; // `uses:` steps (checkout, auth) do not apply here
        };
        let id = step["id"].as_str().unwrap_or("");
        if id == "install" {
            continue; // runform is the one just built
        }
        if let Some(cond) = step["if"].as_str() {
            if !condition_holds(cond, "refs/heads/main", &outputs) {
                transcript.push_str(&format!("(skipped: {cond})\n"));
                continue;
            }
        }
        let cwd = repo
            .path()
            .join(step["working-directory"].as_str().unwrap_or(default_dir));
        std::fs::write(&github_output, "").unwrap();
        let mut step_env = env.clone();
        step_env.push(("GITHUB_OUTPUT".into(), github_output.display().to_string()));
        let o = tokio::task::spawn_blocking({
            let script = script.to_string();
            move || {
                run_step(
                    &["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"],
                    &script,
                    &cwd,
                    &step_env,
                )
            }
        })
        .await
        .unwrap();
        transcript.push_str(&format!("$ {script}\n{}", text(&o)));
        assert!(o.status.success(), "{transcript}");
        for line in std::fs::read_to_string(&github_output).unwrap().lines() {
            if let Some((k, v)) = line.split_once('=') {
                outputs.push((format!("{id}.{k}"), v.to_string()));
            }
        }
        ran.push(step["name"].as_str().unwrap_or(id).to_string());
    }
    assert_eq!(
        ran,
        [
            "Format",
            "Init",
            "Validate",
            "Plan",
            "Plan summary",
            "Apply",
            "Converged"
        ],
        "{transcript}"
    );
    assert!(
        outputs.contains(&("plan.exitcode".into(), "2".into())),
        "{outputs:?}"
    );
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("Plan: 1 to add, 0 to change, 0 to destroy, 1 to execute."),
        "{transcript}"
    );
    assert!(transcript.contains("No changes."), "{transcript}");
    server.stop().await;
}
