//! For each resource type: a configuration that sets every argument of the provider's 7.x
//! schema (`tests/fixtures/every-argument/TYPE.tf`) applies on the local runtime, re-plans
//! clean, and every exported attribute is there to read afterwards. The arguments a fixture
//! leaves out are listed with the reason (they conflict with one it sets).

use super::cli_support::text;
use super::examples::cli;
use runform::model::Schema;
use serde_json::Value;
use std::path::Path;

/// Every argument path (attributes that may be set, through nested blocks).
fn argument_paths(s: &Schema, prefix: &str, out: &mut Vec<String>) {
    for a in &s.attrs {
        if (a.optional || a.required) && a.name != "id" {
            out.push(format!("{prefix}{}", a.name));
        }
    }
    for b in &s.blocks {
        if b.optional || b.required() {
            argument_paths(&b.body, &format!("{prefix}{}.", b.name), out);
        }
    }
}

/// Whether any instance of `path` holds a value in internal-shape values.
fn is_set(v: &Value, path: &[&str]) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| is_set(i, path)),
        Value::Object(m) => match path.split_first() {
            None => true,
            Some((k, rest)) => m.get(*k).is_some_and(|x| !x.is_null() && is_set(x, rest)),
        },
        Value::Null => false,
        _ => path.is_empty(),
    }
}

/// Applies the fixture for `ty` (its resources at `addrs`, which together set every
/// argument but `skipped`), re-plans, and checks what is set and exported. Returns
/// (arguments set, arguments in the schema, attributes exported).
pub async fn check_type(
    ty: &str,
    addrs: &[&str],
    skipped: &[(&str, &str)],
) -> (usize, usize, usize) {
    let server = super::local_server(None).await;
    let url = server.url();
    let d = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/every-argument")
        .join(format!("{ty}.tf"));
    std::fs::copy(&fixture, d.path().join("main.tf")).unwrap();
    let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{ty}: {}", text(&o));
    let o = cli(d.path(), &url, &["plan", "--detailed-exitcode", "."]).await;
    assert_eq!(
        o.status.code(),
        Some(0),
        "{ty}: apply then plan must be clean:\n{}",
        text(&o)
    );

    let o = cli(d.path(), &url, &["state", "pull"]).await;
    let state: Value = serde_json::from_slice(&o.stdout).unwrap();
    let all: Vec<Value> = addrs
        .iter()
        .map(|a| state["resources"][*a]["values"].clone())
        .collect();
    assert!(
        all.iter().all(Value::is_object),
        "{ty}: no state for one of {addrs:?}: {state}"
    );
    let values = &Value::Array(all.clone());
    let schema = runform::resources::type_info(ty).unwrap().schema();

    let mut args = Vec::new();
    argument_paths(schema, "", &mut args);
    let unset: Vec<&String> = args
        .iter()
        .filter(|p| {
            !skipped
                .iter()
                .any(|(s, _)| p == s || p.starts_with(&format!("{s}.")))
        })
        .filter(|p| !is_set(values, &p.split('.').collect::<Vec<_>>()))
        .collect();
    assert!(
        unset.is_empty(),
        "{ty}: the fixture leaves unset: {unset:?}"
    );
    let set = args
        .iter()
        .filter(|p| is_set(values, &p.split('.').collect::<Vec<_>>()))
        .count();

    // Every exported (computed-only) attribute is in state after apply.
    let exported: Vec<&str> = schema
        .attrs
        .iter()
        .filter(|a| a.computed && !a.optional && !a.required)
        .map(|a| a.name.as_str())
        .collect();
    let missing: Vec<&&str> = exported
        .iter()
        .filter(|a| all.iter().any(|v| v.get(**a).is_none_or(Value::is_null)))
        .collect();
    assert!(
        missing.is_empty(),
        "{ty}: exported attributes missing after apply: {missing:?}\n{values}"
    );
    let o = cli(d.path(), &url, &["destroy", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{ty}: {}", text(&o));
    server.stop().await;
    eprintln!(
        "{ty}: {set} of {} arguments set, {} exported attributes read",
        args.len(),
        exported.len()
    );
    (set, args.len(), exported.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_run_v2_job_every_argument() {
    check_type(
        "google_cloud_run_v2_job",
        &["google_cloud_run_v2_job.job"],
        &[
            (
                "start_execution_token",
                "starts an execution; covered by the execution tests",
            ),
            (
                "run_execution_token",
                "conflicts with start_execution_token",
            ),
            ("binary_authorization.policy", "conflicts with use_default"),
            (
                "template.template.vpc_access.connector",
                "conflicts with network_interfaces",
            ),
            (
                "template.template.containers.startup_probe.grpc",
                "one probe kind per container; http_get and tcp_socket are set",
            ),
            (
                "template.template.volumes.nfs",
                "the local runtime refuses nfs volumes at create; see nfs_and_cloud_sql_volumes_are_refused_locally",
            ),
            (
                "template.template.volumes.cloud_sql_instance",
                "the local runtime refuses Cloud SQL volumes at create; see nfs_and_cloud_sql_volumes_are_refused_locally",
            ),
        ],
    )
    .await;
}

/// nfs and Cloud SQL volumes plan as written, and the local runtime refuses them at create
/// with a message that says why, before any task runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nfs_and_cloud_sql_volumes_are_refused_locally() {
    let server = super::local_server(None).await;
    let url = server.url();
    for (kind, block, said) in [
        (
            "nfs",
            "nfs {\n server = \"10.0.0.2\"\n path = \"/exports\"\n read_only = true\n }",
            "nfs volumes cannot be mounted on the local runtime",
        ),
        (
            "sql",
            "cloud_sql_instance {\n instances = [\"p:us-central1:db\"]\n }",
            "Cloud SQL volumes cannot be mounted on the local runtime",
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("main.tf"),
            format!(
                r#"resource "google_cloud_run_v2_job" "j" {{
  name                = "vol-{kind}"
  project             = "p"
  location            = "us-central1"
  deletion_protection = false
  template {{
    template {{
      containers {{
        image = "busybox"
        volume_mounts {{
          name       = "v"
          mount_path = "/mnt/v"
        }}
      }}
      volumes {{
        name = "v"
        {block}
      }}
    }}
  }}
}}
"#
            ),
        )
        .unwrap();
        let o = cli(d.path(), &url, &["plan", "."]).await;
        assert!(o.status.success(), "{kind}: {}", text(&o));
        let o = cli(d.path(), &url, &["apply", "--auto-approve", "."]).await;
        assert!(!o.status.success(), "{kind}: apply must fail");
        assert!(text(&o).contains(said), "{kind}: {}", text(&o));
        assert!(text(&o).contains("volumes[0]"), "{kind}: {}", text(&o));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_scheduler_job_every_argument() {
    check_type(
        "google_cloud_scheduler_job",
        &[
            "google_cloud_scheduler_job.pubsub",
            "google_cloud_scheduler_job.appengine",
            "google_cloud_scheduler_job.http",
            "google_cloud_scheduler_job.oauth",
        ],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventarc_trigger_every_argument() {
    check_type(
        "google_eventarc_trigger",
        &[
            "google_eventarc_trigger.cloud_run",
            "google_eventarc_trigger.workflow",
            "google_eventarc_trigger.http",
            "google_eventarc_trigger.gke",
        ],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_workflow_every_argument() {
    check_type(
        "google_workflows_workflow",
        &["google_workflows_workflow.wf"],
        &[(
            "name_prefix",
            "conflicts with name (the provider generates a name from it)",
        )],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_bucket_every_argument() {
    check_type(
        "google_storage_bucket",
        &[
            "google_storage_bucket.full",
            "google_storage_bucket.autoclass",
        ],
        &[],
    )
    .await;
}

/// The bucket fields reach the API as Google names them (what the runtime stores).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_bucket_fields_reach_the_api() {
    let server = super::local_server(None).await;
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/every-argument/google_storage_bucket.tf"),
        d.path().join("main.tf"),
    )
    .unwrap();
    let o = cli(d.path(), &server.url(), &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    let b = server.runtime.get_bucket("every-proj-full").unwrap();
    let cond = &b["lifecycle"]["rule"][0]["condition"];
    assert_eq!(cond["isLive"], true, "{b}");
    assert_eq!(cond["age"], 0, "send_age_if_zero sends the zero: {b}");
    assert_eq!(cond["sizeAboveBytes"], 1024, "{b}");
    assert_eq!(b["billing"]["requesterPays"], true);
    assert_eq!(b["iamConfiguration"]["publicAccessPrevention"], "enforced");
    assert_eq!(b["objectRetention"]["mode"], "Enabled");
    assert_eq!(b["retentionPolicy"]["retentionPeriod"], "3600");
    assert_eq!(b["cors"][0]["maxAgeSeconds"], 3600);
    assert_eq!(
        b["ipFilter"]["vpcNetworkSources"][0]["allowedIpCidrRanges"][0],
        "10.0.0.0/8"
    );
    assert_eq!(b["hierarchicalNamespace"]["enabled"], true);
    assert!(b["softDeletePolicy"]["effectiveTime"].is_string());

    // Removing a block removes the field (an explicit null in the PATCH), and re-plans clean.
    let text_now = std::fs::read_to_string(d.path().join("main.tf")).unwrap();
    let start = text_now.find("  cors {").unwrap();
    let end = start + text_now[start..].find("  }\n").unwrap() + 4;
    std::fs::write(
        d.path().join("main.tf"),
        format!("{}{}", &text_now[..start], &text_now[end..]),
    )
    .unwrap();
    let o = cli(d.path(), &server.url(), &["apply", "--auto-approve", "."]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(server
        .runtime
        .get_bucket("every-proj-full")
        .unwrap()
        .get("cors")
        .is_none());
    let o = cli(
        d.path(),
        &server.url(),
        &["plan", "--detailed-exitcode", "."],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_registry_repository_every_argument() {
    check_type(
        "google_artifact_registry_repository",
        &["google_artifact_registry_repository.repo"],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_service_every_argument() {
    check_type(
        "google_project_service",
        &["google_project_service.run"],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_every_argument() {
    check_type(
        "google_service_account",
        &["google_service_account.sa"],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_types_every_argument() {
    for (ty, addr) in [
        (
            "google_cloud_run_v2_job_iam_member",
            "google_cloud_run_v2_job_iam_member.m",
        ),
        (
            "google_cloud_run_v2_job_iam_binding",
            "google_cloud_run_v2_job_iam_binding.b",
        ),
        (
            "google_cloud_run_v2_job_iam_policy",
            "google_cloud_run_v2_job_iam_policy.p",
        ),
        ("google_project_iam_member", "google_project_iam_member.m"),
        ("google_project_iam_binding", "google_project_iam_binding.b"),
        ("google_project_iam_policy", "google_project_iam_policy.p"),
    ] {
        check_type(ty, &[addr], &[]).await;
    }
}
