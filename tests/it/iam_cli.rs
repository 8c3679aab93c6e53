//! Job IAM resources through the CLI against a runtime on 127.0.0.1:0: member is
//! non-authoritative, binding authoritative for its role, conflicts and missing grants are
//! reported before anything is called.

use super::cli_support::{runform, text};
use super::write;
use runform::runtime::{RuntimeConfig, Server};

const JOB: &str = "projects/proj/locations/us-central1/jobs/etl";

fn stack(with_member: bool) -> String {
    let member = if with_member {
        r#"
resource "google_cloud_run_v2_job_iam_member" "cron_runs_etl" {
  name   = google_cloud_run_v2_job.etl.name
  role   = "roles/run.invoker"
  member = "serviceAccount:cron@proj.iam.gserviceaccount.com"
}"#
    } else {
        ""
    };
    format!(
        r#"
provider "google" {{
  project = "proj"
  region  = "us-central1"
}}
resource "google_cloud_run_v2_job" "etl" {{
  name                = "etl"
  location            = "us-central1"
  deletion_protection = false
  template {{
    template {{
      containers {{
        image   = "busybox"
        command = ["/bin/sh", "-c", "echo ok"]
      }}
    }}
  }}
}}
resource "google_cloud_run_v2_job_iam_binding" "developers" {{
  name    = google_cloud_run_v2_job.etl.name
  role    = "roles/run.developer"
  members = ["user:dev@example.com"]
}}
{member}
resource "google_cloud_scheduler_job" "nightly" {{
  name     = "etl-nightly"
  schedule = "0 2 * * *"
  http_target {{
    uri = "https://run.googleapis.com/v2/projects/proj/locations/us-central1/jobs/etl:run"
    oauth_token {{
      service_account_email = "cron@proj.iam.gserviceaccount.com"
    }}
  }}
}}
"#
    )
}

fn members(server: &Server, role: &str) -> Vec<String> {
    let p = server.runtime.get_policy(JOB).unwrap();
    p.bindings
        .iter()
        .filter(|b| b.role == role)
        .flat_map(|b| b.members.clone())
        .collect()
}

fn add_member(server: &Server, role: &str, member: &str) {
    let mut p = server.runtime.get_policy(JOB).unwrap();
    match p.bindings.iter_mut().find(|b| b.role == role) {
        Some(b) => b.members.push(member.into()),
        None => p.bindings.push(runform::api::Binding {
            role: role.into(),
            members: vec![member.into()],
            condition: None,
        }),
    }
    server.runtime.set_policy(JOB, p).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_and_binding_semantics_round_trip() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let cli = move |args: &[&str]| {
        let mut a = vec![args[0], "--endpoint", &url];
        a.extend_from_slice(&args[1..]);
        let d = d.clone();
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        std::thread::spawn(move || {
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            runform(&d, &refs)
        })
        .join()
        .unwrap()
    };
    write(dir.path(), "main.tf", &stack(true));
    let o = cli(&["apply", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        !t.contains("warning"),
        "the grant is configured: no warning\n{t}"
    );
    assert_eq!(
        members(&server, "roles/run.invoker"),
        ["serviceAccount:cron@proj.iam.gserviceaccount.com"]
    );
    assert_eq!(
        members(&server, "roles/run.developer"),
        ["user:dev@example.com"]
    );
    let o = cli(&["plan", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The scheduler may run the job as granted.
    let name = "projects/proj/locations/us-central1/jobs/etl-nightly";
    let ran = server.runtime.run_scheduler_job(name).await.unwrap();
    assert!(ran.status.is_none(), "{:?}", ran.status);

    // Someone else adds a member to each role.
    add_member(&server, "roles/run.invoker", "user:other@example.com");
    add_member(&server, "roles/run.developer", "user:intruder@example.com");
    let o = cli(&["plan", "--detailed-exitcode", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("google_cloud_run_v2_job_iam_binding.developers will be updated"),
        "{t}"
    );
    assert!(
        !t.contains("cron_runs_etl will"),
        "a member is not authoritative:\n{t}"
    );
    let o = cli(&["apply", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        members(&server, "roles/run.developer"),
        ["user:dev@example.com"],
        "the binding removed the intruder"
    );
    assert_eq!(
        members(&server, "roles/run.invoker"),
        [
            "serviceAccount:cron@proj.iam.gserviceaccount.com",
            "user:other@example.com"
        ],
        "the other member of the invoker role is untouched"
    );

    // Removing the member resource removes only that member, and the plan warns that the
    // scheduler's account can no longer run the job.
    write(dir.path(), "main.tf", &stack(false));
    let o = cli(&["plan", "."]);
    let t = text(&o);
    assert!(t.contains("cron_runs_etl will be destroyed"), "{t}");
    assert!(
        t.contains("warning") && t.contains("run.jobs.run") && t.contains("roles/run.invoker"),
        "{t}"
    );
    let o = cli(&["apply", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        members(&server, "roles/run.invoker"),
        ["user:other@example.com"]
    );
    let denied = server.runtime.run_scheduler_job(name).await.unwrap();
    assert_eq!(denied.status.unwrap().code, 7, "the next attempt is denied");

    let o = cli(&["destroy", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    server.stop().await;
}

#[test]
fn conflicting_iam_resources_are_errors_before_any_call() {
    let job = r#"
provider "google" {
  project = "proj"
  region  = "us-central1"
}
resource "google_cloud_run_v2_job" "etl" {
  name     = "etl"
  location = "us-central1"
  template {
    template {
      containers { image = "busybox" }
    }
  }
}
"#;
    let member = |n: &str, role: &str| {
        format!("resource \"google_cloud_run_v2_job_iam_member\" \"{n}\" {{\n  name = google_cloud_run_v2_job.etl.name\n  role = \"{role}\"\n  member = \"user:a@example.com\"\n}}\n")
    };
    let binding = |n: &str, role: &str| {
        format!("resource \"google_cloud_run_v2_job_iam_binding\" \"{n}\" {{\n  name = google_cloud_run_v2_job.etl.name\n  role = \"{role}\"\n  members = [\"user:b@example.com\"]\n}}\n")
    };
    let policy = "resource \"google_cloud_run_v2_job_iam_policy\" \"all\" {\n  name = google_cloud_run_v2_job.etl.name\n  policy_data = jsonencode({ bindings = [{ role = \"roles/run.invoker\", members = [\"user:c@example.com\"] }] })\n}\n";
    let cases = [
        (
            "policy+member",
            format!("{job}{policy}{}", member("m", "roles/run.viewer")),
            "both manage the IAM policy",
        ),
        (
            "two bindings",
            format!(
                "{job}{}{}",
                binding("b1", "roles/run.invoker"),
                binding("b2", "roles/run.invoker")
            ),
            "only one _binding may exist per role",
        ),
        (
            "binding+member",
            format!(
                "{job}{}{}",
                binding("b1", "roles/run.invoker"),
                member("m", "roles/run.invoker")
            ),
            "manages authoritatively",
        ),
        (
            "bad member",
            format!(
                "{job}{}",
                member("m", "roles/run.invoker").replace("user:a@example.com", "a@example.com")
            ),
            "is not an IAM member",
        ),
    ];
    for (name, cfg, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "main.tf", &cfg);
        let o = runform(
            dir.path(),
            &["plan", "--endpoint", "http://127.0.0.1:9", "."],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {t}");
        assert!(t.contains(want), "{name}: expected {want:?}:\n{t}");
        assert!(t.contains("main.tf:"), "{name}: no location:\n{t}");
        assert!(!t.contains("could not reach"), "{name}: {t}");
    }
    // A binding and a member for different roles are fine.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.tf",
        &format!(
            "{job}{}{}",
            binding("b1", "roles/run.developer"),
            member("m", "roles/run.invoker")
        ),
    );
    let o = runform(dir.path(), &["validate", "."]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn service_account_create_update_and_validation() {
    let cfg = |display: &str, account: &str| {
        format!(
            "provider \"google\" {{\n  project = \"proj\"\n}}\nresource \"google_service_account\" \"runner\" {{\n  account_id   = \"{account}\"\n  display_name = \"{display}\"\n}}\noutput \"email\" {{\n  value = google_service_account.runner.email\n}}\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    super::write(d, "main.tf", &cfg("Runner", "etl-runner"));
    // The email is known at plan time.
    let o = runform(d, &["plan", "--local", "."]);
    assert!(
        text(&o).contains("etl-runner@proj.iam.gserviceaccount.com"),
        "{}",
        text(&o)
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("email = \"etl-runner@proj.iam.gserviceaccount.com\""),
        "{t}"
    );
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    super::write(d, "main.tf", &cfg("Runs ETL", "etl-runner"));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("display_name") && t.contains("\"Runner\" -> \"Runs ETL\""),
        "{t}"
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));

    let dir = tempfile::tempdir().unwrap();
    super::write(dir.path(), "main.tf", &cfg("x", "Bad_Account"));
    let o = runform(
        dir.path(),
        &["plan", "--endpoint", "http://127.0.0.1:9", "."],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("account_id") && t.contains("main.tf:5:18"),
        "{t}"
    );
}

#[test]
fn storage_bucket_create_update_and_destroy_rules() {
    let cfg = |labels: &str, force: bool| {
        format!(
            "provider \"google\" {{\n  project = \"proj\"\n}}\nresource \"google_storage_bucket\" \"b\" {{\n  name = \"runform-test-bucket\"\n  location = \"us-central1\"\n  force_destroy = {force}\n  labels = {{ {labels} }}\n  versioning {{\n    enabled = true\n  }}\n}}\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    super::write(d, "main.tf", &cfg("team = \"a\"", false));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    super::write(d, "main.tf", &cfg("team = \"b\"", false));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    let t = text(&o);
    assert!(
        o.status.code() == Some(2) && t.contains("labels.team") && t.contains("updated in-place"),
        "{t}"
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // An object in it: destroy refuses without force_destroy, and says how.
    super::write(d, "f.txt", "x");
    let ds = d.to_str().unwrap();
    let o = runform(
        d,
        &[
            "local",
            "upload",
            "--dir",
            ds,
            "f.txt",
            "gs://runform-test-bucket/f.txt",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(!o.status.success() && t.contains("force_destroy"), "{t}");
    super::write(d, "main.tf", &cfg("team = \"b\"", true));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
}
