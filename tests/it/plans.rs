//! Plans a reviewer can trust: drift shown in its own section, --refresh-only, --target,
//! --replace, the PR-comment (markdown) and Terraform-JSON renderings, and saved plans refused
//! after an out-of-band change to an object they read.

use super::cli_support::text;
use super::examples::cli;
use runform::runtime::{RuntimeConfig, Server};
use serde_json::Value;
use std::collections::BTreeSet;

const SECRET: &str = "pa55-word-xyz";

fn stack() -> String {
    let job = |name: &str, extra: &str| {
        format!(
            r#"
resource "google_cloud_run_v2_job" "{name}" {{
  name                = "{name}"
  location            = "us-central1"
  deletion_protection = false
  {extra}
  template {{
    template {{
      containers {{
        image = "busybox"
        env {{
          name  = "TOKEN"
          value = var.token
        }}
      }}
    }}
  }}
}}
"#
        )
    };
    [
        format!(
            r#"
provider "google" {{
  project = "proj"
  region  = "us-central1"
}}
variable "token" {{
  type      = string
  default   = "{SECRET}"
  sensitive = true
}}
output "a_id" {{ value = google_cloud_run_v2_job.a.id }}
"#
        ),
        job("a", r#"labels = { team = "data" }"#),
        job(
            "b",
            r#"labels = { after = google_cloud_run_v2_job.a.name }"#,
        ),
        job("c", ""),
    ]
    .concat()
}

const JOBS: &str = "projects/proj/locations/us-central1/jobs";

/// The keys of Terraform's plan JSON (format 1.2) that runform emits.
const PLAN_KEYS: &[&str] = &[
    "applyable",
    "complete",
    "configuration",
    "errored",
    "format_version",
    "output_changes",
    "planned_values",
    "prior_state",
    "relevant_attributes",
    "resource_changes",
    "resource_drift",
    "terraform_version",
    "variables",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_refresh_only_target_replace_and_renderings() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let rt = server.runtime.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    super::write(d, "main.tf", &stack());
    let o = cli(d, &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));

    // Someone relabels `a` and deletes `c` behind runform's back.
    let mut a = rt.get_job(&format!("{JOBS}/a")).unwrap();
    a.labels.insert("team".into(), "ops".into());
    rt.update_job(&format!("{JOBS}/a"), a, false, false)
        .unwrap();
    rt.delete_job(&format!("{JOBS}/c"), None, false).unwrap();

    let o = cli(d, &url, &["plan", "."]).await;
    let t = text(&o);
    let drift_at = t.find("Objects changed outside runform").expect(&t);
    let actions_at = t
        .find("runform will perform the following actions")
        .expect(&t);
    assert!(drift_at < actions_at, "drift comes first:\n{t}");
    assert!(
        t.contains("# google_cloud_run_v2_job.a has been changed"),
        "{t}"
    );
    assert!(t.contains("labels.team = \"data\" -> \"ops\""), "{t}");
    assert!(
        t.contains("# google_cloud_run_v2_job.c has been deleted"),
        "{t}"
    );
    assert!(
        t.contains("Plan: 1 to add, 1 to change, 0 to destroy"),
        "{t}"
    );
    assert!(!t.contains(SECRET), "{t}");

    // --refresh-only: shows the drift, and applying it only drops the deleted object.
    let o = cli(
        d,
        &url,
        &["plan", "--refresh-only", "--detailed-exitcode", "."],
    )
    .await;
    let t = text(&o);
    assert!(
        t.contains("refresh-only plan") && t.contains("1 object(s) changed and 1 deleted"),
        "{t}"
    );
    assert!(
        !t.contains("will be created") && !t.contains("updated in-place"),
        "{t}"
    );
    let o = cli(d, &url, &["apply", "--refresh-only", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        rt.get_job(&format!("{JOBS}/a")).unwrap().labels["team"],
        "ops",
        "nothing reverted"
    );
    let state: Value = serde_json::from_slice(
        &std::fs::read(runform::ops::state_path(d, false, Some(&url))).unwrap(),
    )
    .unwrap();
    assert!(
        state["resources"]
            .get("google_cloud_run_v2_job.c")
            .is_none(),
        "{state}"
    );

    // --target b: b and what it needs (a, drifted) — not c's re-creation.
    let o = cli(
        d,
        &url,
        &["plan", "--target", "google_cloud_run_v2_job.b", "."],
    )
    .await;
    let t = text(&o);
    assert!(t.contains("resource targeting is in effect"), "{t}");
    assert!(
        t.contains("Plan: 0 to add, 1 to change, 0 to destroy")
            && !t.contains("google_cloud_run_v2_job.c will"),
        "{t}"
    );
    let o = cli(
        d,
        &url,
        &["plan", "--target", "google_cloud_run_v2_job.nope", "."],
    )
    .await;
    assert!(
        !o.status.success() && text(&o).contains("matches nothing"),
        "{}",
        text(&o)
    );

    // --replace b: destroyed and re-created though unchanged.
    let o = cli(
        d,
        &url,
        &[
            "plan",
            "--replace",
            "google_cloud_run_v2_job.b",
            "--target",
            "google_cloud_run_v2_job.b",
            ".",
        ],
    )
    .await;
    let t = text(&o);
    assert!(
        t.contains("google_cloud_run_v2_job.b must be replaced")
            && t.contains("--replace asked for it"),
        "{t}"
    );

    // Markdown: Terraform's summary line, a warning for the replacement, deterministic.
    let args = [
        "plan",
        "--format",
        "markdown",
        "--replace",
        "google_cloud_run_v2_job.b",
        ".",
    ];
    let md = String::from_utf8(cli(d, &url, &args).await.stdout).unwrap();
    assert_eq!(
        md,
        String::from_utf8(cli(d, &url, &args).await.stdout).unwrap()
    );
    assert!(
        md.contains("\nPlan: 2 to add, 1 to change, 1 to destroy.\n"),
        "{md}"
    );
    assert!(
        md.contains("> [!WARNING]") && md.contains("`google_cloud_run_v2_job.b` is replaced"),
        "{md}"
    );
    assert!(
        md.contains("<details>") && md.contains("```diff") && !md.contains(SECRET),
        "{md}"
    );
    assert!(md.len() < 65_536);

    // JSON: Terraform's field set, deterministic, nothing sensitive.
    let args = [
        "plan",
        "--format",
        "json",
        "--replace",
        "google_cloud_run_v2_job.b",
        ".",
    ];
    let raw = String::from_utf8(cli(d, &url, &args).await.stdout).unwrap();
    assert_eq!(
        raw,
        String::from_utf8(cli(d, &url, &args).await.stdout).unwrap()
    );
    assert!(!raw.contains(SECRET));
    let j: Value = serde_json::from_str(&raw).unwrap();
    let keys: BTreeSet<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    for k in PLAN_KEYS {
        assert!(keys.contains(k), "missing {k}");
    }
    assert_eq!(j["format_version"], "1.2");
    let by_addr = |addr: &str| {
        j["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == addr)
            .cloned()
            .unwrap()
    };
    let b = by_addr("google_cloud_run_v2_job.b");
    assert_eq!(
        b["change"]["actions"],
        serde_json::json!(["delete", "create"])
    );
    assert_eq!(b["action_reason"], "replace_by_request");
    for k in ["mode", "type", "name", "provider_name"] {
        assert!(b.get(k).is_some(), "{k}");
    }
    // Blocks are lists in plan JSON. `env` is a set: the sensitive value marks all of it (as
    // in Terraform), and runform leaves sensitive values out of the JSON.
    let container = |k: &str| b["change"][k]["template"][0]["template"][0]["containers"][0].clone();
    assert_eq!(container("after")["image"], "busybox");
    assert_eq!(container("after")["env"], Value::Null);
    assert_eq!(container("after_sensitive")["env"], true);
    assert_eq!(
        by_addr("google_cloud_run_v2_job.c")["change"]["actions"],
        serde_json::json!(["create"])
    );
    assert_eq!(
        by_addr("google_cloud_run_v2_job.c")["change"]["after_unknown"]["etag"],
        true
    );
    let drift = j["resource_drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0]["change"]["after"]["labels"]["team"], "ops");
    assert_eq!(j["variables"]["token"]["value"], Value::Null);
    assert!(
        j["configuration"]["root_module"]["resources"]
            .as_array()
            .unwrap()
            .len()
            == 3
    );

    // A saved plan renders the same JSON, and is refused once an object it read changes.
    let o = cli(
        d,
        &url,
        &[
            "plan",
            "--out",
            "p.plan",
            "--replace",
            "google_cloud_run_v2_job.b",
            ".",
        ],
    )
    .await;
    assert!(o.status.success(), "{}", text(&o));
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_runform"))
        .args(["show", "--json", "p.plan"])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(shown.stdout).unwrap(), raw);
    let mut a = rt.get_job(&format!("{JOBS}/a")).unwrap();
    a.labels.insert("team".into(), "someone-else".into());
    rt.update_job(&format!("{JOBS}/a"), a, false, false)
        .unwrap();
    let o = cli(d, &url, &["apply", "p.plan"]).await;
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("changed outside this plan"),
        "{t}"
    );
    assert_eq!(
        rt.get_job(&format!("{JOBS}/a")).unwrap().labels["team"],
        "someone-else"
    );
    server.stop().await;
}
