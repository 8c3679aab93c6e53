//! The configuration language: modules (local and shipped), count/for_each, dynamic blocks,
//! typed variables with validation, data sources and functions; dependencies traced across
//! module boundaries; every mistake a located error.

use runform::config::Stack;
use runform::ops::{load_stack, LoadArgs};
use std::path::Path;

fn files(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn load(fs: &[(&str, &str)]) -> Result<Stack, String> {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path(), fs);
    let args = LoadArgs {
        vars: vec![],
        var_files: vec![],
        local: true,
        ..Default::default()
    };
    let (stack, diags, sources) = load_stack(dir.path(), &args, None, None);
    let rendered = sources.render_all(&diags);
    stack.ok_or(rendered)
}

fn job(name: &str, body: &str) -> String {
    format!(
        r#"resource "google_cloud_run_v2_job" "{name}" {{
  {body}
  location = "us-central1"
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
}

fn addrs(s: &Stack) -> Vec<&str> {
    s.resources.iter().map(|r| r.addr.as_str()).collect()
}

fn deps<'a>(s: &'a Stack, addr: &str) -> &'a [String] {
    &s.resource(addr)
        .unwrap_or_else(|| panic!("{addr} in {:?}", addrs(s)))
        .depends_on
}

#[test]
fn module_values_and_dependencies_cross_module_boundaries() {
    let s = load(&[
        (
            "main.tf",
            &[
                job("base", r#"name = "base""#),
                r#"
module "etl" {
  source = "./modules/etl"
  prefix = google_cloud_run_v2_job.base.name
}
"#
                .to_string(),
                job("after", r#"name = "after-${module.etl.inner_name}""#),
            ]
            .concat(),
        ),
        (
            "modules/etl/main.tf",
            &[r#"variable "prefix" { type = string }
module "inner" {
  source = "./inner"
  name   = "${var.prefix}-x"
}
output "inner_name" { value = module.inner.name }
"#
            .to_string()]
            .concat(),
        ),
        (
            "modules/etl/inner/main.tf",
            &[
                r#"variable "name" { type = string }
output "name" { value = google_cloud_run_v2_job.this.name }
"#
                .to_string(),
                job("this", "name = var.name"),
            ]
            .concat(),
        ),
    ])
    .unwrap();
    let inner = "module.etl.module.inner.google_cloud_run_v2_job.this";
    assert_eq!(
        addrs(&s),
        vec![
            "google_cloud_run_v2_job.base",
            inner,
            "google_cloud_run_v2_job.after"
        ]
    );
    let r = s.resource(inner).unwrap();
    assert_eq!(r.values["name"], "base-x");
    assert_eq!(r.module, "module.etl.module.inner");
    // The input came from `base`: the inner job depends on it, through two module calls.
    assert_eq!(deps(&s, inner), ["google_cloud_run_v2_job.base"]);
    // The output came from the inner job: `after` depends on it, not on everything.
    assert_eq!(deps(&s, "google_cloud_run_v2_job.after"), [inner]);
    assert_eq!(
        s.resource("google_cloud_run_v2_job.after").unwrap().values["name"],
        "after-base-x"
    );
}

#[test]
fn count_and_for_each_expand_into_addressed_instances() {
    let s = load(&[(
        "main.tf",
        &[
            job("c", r#"count = 2
  name = "c-${count.index}""#),
            job("m", r#"for_each = { a = "x", b = "y" }
  name = "m-${each.key}-${each.value}""#),
            job("set", r#"for_each = toset(["p", "q"])
  name = "s-${each.value}""#),
            job("refs", r#"name = join("-", concat(google_cloud_run_v2_job.c[*].name, [google_cloud_run_v2_job.m["b"].name]))"#),
            r#"
module "two" {
  source = "./mod"
  count  = 2
  n      = count.index
}
output "names" { value = module.two[*].name }
"#
            .to_string(),
        ]
        .concat(),
    ), ("mod/main.tf", &[
        r#"variable "n" { type = number }
output "name" { value = google_cloud_run_v2_job.j.name }
"#.to_string(),
        job("j", r#"name = "j${var.n}""#),
    ].concat())])
    .unwrap();
    let mut a = addrs(&s);
    a.sort();
    assert_eq!(
        a,
        vec![
            "google_cloud_run_v2_job.c[0]",
            "google_cloud_run_v2_job.c[1]",
            r#"google_cloud_run_v2_job.m["a"]"#,
            r#"google_cloud_run_v2_job.m["b"]"#,
            "google_cloud_run_v2_job.refs",
            r#"google_cloud_run_v2_job.set["p"]"#,
            r#"google_cloud_run_v2_job.set["q"]"#,
            "module.two[0].google_cloud_run_v2_job.j",
            "module.two[1].google_cloud_run_v2_job.j",
        ]
    );
    let refs = s.resource("google_cloud_run_v2_job.refs").unwrap();
    assert_eq!(refs.values["name"], "c-0-c-1-m-b-y");
    assert_eq!(
        refs.depends_on,
        [
            "google_cloud_run_v2_job.c[0]",
            "google_cloud_run_v2_job.c[1]",
            r#"google_cloud_run_v2_job.m["a"]"#,
            r#"google_cloud_run_v2_job.m["b"]"#,
        ]
    );
    assert_eq!(
        s.resource(r#"google_cloud_run_v2_job.m["a"]"#)
            .unwrap()
            .index,
        Some(serde_json::json!("a"))
    );
    let out = s.outputs.iter().find(|o| o.name == "names").unwrap();
    assert_eq!(out.value.to_json(), Some(serde_json::json!(["j0", "j1"])));
}

#[test]
fn dynamic_blocks_typed_variables_and_functions() {
    let s = load(&[(
        "main.tf",
        &[
            r#"
variable "cfg" {
  type = object({
    env   = map(string)
    tasks = optional(number, 3)
  })
  default = { env = { B = "2", A = "1" } }
}
"#
            .to_string(),
            r##"resource "google_cloud_run_v2_job" "d" {
  name     = lower(format("%s-%d", "JOB", var.cfg.tasks))
  location = "us-central1"
  labels = {
    sha   = substr(sha256("x"), 0, 8)
    ok    = tostring(can(regex("^[a-z]+$", "abc")))
    alt   = try(var.cfg.missing, "fallback")
    base  = basename("/a/b/c.txt")
    trim  = trimsuffix("name-", "-")
    repl  = replace("a1b22", "/[0-9]+/", "#")
    yaml  = base64encode(yamlencode({ a = [1, "x"] }))
  }
  template {
    task_count = var.cfg.tasks
    template {
      containers {
        image = "busybox"
        dynamic "env" {
          for_each = var.cfg.env
          content {
            name  = env.key
            value = env.value
          }
        }
        dynamic "volume_mounts" {
          for_each = []
          content {
            name       = volume_mounts.value
            mount_path = "/x"
          }
        }
      }
    }
  }
}
"##
            .to_string(),
        ]
        .concat(),
    )])
    .unwrap();
    let r = s.resource("google_cloud_run_v2_job.d").unwrap();
    assert_eq!(r.values["name"], "job-3");
    assert_eq!(r.values["template"]["task_count"], 3);
    let env = &r.values["template"]["template"]["containers"][0]["env"];
    assert_eq!(
        env,
        &serde_json::json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    );
    let l = &r.values["labels"];
    assert_eq!(l["sha"], "2d711642");
    assert_eq!(l["ok"], "true");
    assert_eq!(l["alt"], "fallback");
    assert_eq!(l["base"], "c.txt");
    assert_eq!(l["trim"], "name");
    assert_eq!(l["repl"], "a#b#");
    use base64::Engine;
    let yaml = base64::engine::general_purpose::STANDARD
        .decode(l["yaml"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(yaml).unwrap(), "\"a\":\n- 1\n- \"x\"\n");
}

#[test]
fn shipped_modules_load_with_their_defaults() {
    let s = load(&[(
        "main.tf",
        r#"
provider "google" {
  project = "p"
  region  = "europe-west1"
}
module "etl" {
  source   = "runform/scheduled-job"
  name     = "nightly-etl"
  image    = "busybox"
  schedule = "0 2 * * *"
}
"#,
    )])
    .unwrap();
    let mut a = addrs(&s);
    a.sort();
    assert_eq!(
        a,
        [
            "module.etl.google_cloud_run_v2_job.this",
            "module.etl.google_cloud_run_v2_job_iam_member.scheduler",
            "module.etl.google_cloud_scheduler_job.this",
            "module.etl.google_service_account.scheduler",
        ]
    );
    let sched = s
        .resource("module.etl.google_cloud_scheduler_job.this")
        .unwrap();
    assert_eq!(
        sched.values["http_target"]["uri"],
        "https://run.googleapis.com/v2/projects/p/locations/europe-west1/jobs/nightly-etl:run"
    );
    assert_eq!(
        sched.values["http_target"]["oauth_token"]["service_account_email"],
        "nightly-etl-sched@p.iam.gserviceaccount.com"
    );
    let job = s
        .resource("module.etl.google_cloud_run_v2_job.this")
        .unwrap();
    assert_eq!(job.values["deletion_protection"], true);
    assert!(sched
        .depends_on
        .contains(&"module.etl.google_cloud_run_v2_job_iam_member.scheduler".to_string()));
}

/// (files, what the error says, the line it points at)
fn fails(fs: &[(&str, &str)], says: &str, line: &str) {
    let e = load(fs)
        .err()
        .unwrap_or_else(|| panic!("expected an error saying {says:?}"));
    assert!(e.contains(says), "expected {says:?} in:\n{e}");
    assert!(e.contains(line), "expected the snippet {line:?} in:\n{e}");
}

#[test]
fn mistakes_are_located_errors() {
    let m = |body: &str| format!("module \"m\" {{\n{body}\n}}\n");
    fails(
        &[("main.tf", &m(r#"  source = "hashicorp/consul/aws""#))],
        "is not supported",
        "hashicorp/consul/aws",
    );
    fails(
        &[("main.tf", &m(r#"  source = "runform/scheduled-jbo""#))],
        "did you mean \"runform/scheduled-job\"",
        "scheduled-jbo",
    );
    fails(
        &[("main.tf", &m(r#"  source = "./nope""#))],
        "does not exist",
        "./nope",
    );
    let shipped = |extra: &str| {
        m(&format!("  source = \"runform/scheduled-job\"\n  image = \"i\"\n  schedule = \"* * * * *\"\n{extra}"))
    };
    fails(
        &[("main.tf", &shipped(""))],
        "missing required argument \"name\"",
        "module \"m\"",
    );
    fails(
        &[("main.tf", &shipped("  name = \"ok-name\"\n  scheduel = 1"))],
        "did you mean \"schedule\"",
        "scheduel = 1",
    );
    fails(
        &[("main.tf", &shipped("  name = \"Bad_Name\""))],
        "invalid value for module.m: variable \"name\": name must be 2-50 characters",
        "name = \"Bad_Name\"",
    );
    fails(
        &[(
            "main.tf",
            &shipped("  name = \"ok-name\"\n  task_count = \"many\""),
        )],
        "a number is required",
        "task_count = \"many\"",
    );
    fails(
        &[(
            "main.tf",
            &job("j", "name = \"j\"\n  count = 2\n  for_each = {}"),
        )],
        "cannot both be set",
        "count = 2",
    );
    fails(
        &[("main.tf", &job("j", "name = \"j\"\n  count = -1"))],
        "whole number",
        "count = -1",
    );
    fails(
        &[("main.tf", &job("j", "name = \"j\"\n  for_each = [1, 2]"))],
        "needs strings",
        "for_each = [1, 2]",
    );
    fails(
        &[(
            "main.tf",
            &[
                job("a", "name = \"a\""),
                job(
                    "b",
                    "name = \"b\"\n  for_each = toset([google_cloud_run_v2_job.a.etag])",
                ),
            ]
            .concat(),
        )],
        "known only after apply",
        "for_each = toset",
    );
    fails(
        &[("main.tf", &job("j", "name = uuid()"))],
        "uuid() is not supported by runform",
        "name = uuid()",
    );
    fails(
        &[("main.tf", "data \"google_projects\" \"p\" {}\n")],
        "did you mean \"google_project\"",
        "data \"google_projects\"",
    );
    fails(
        &[("main.tf", &job("j", "name = data.google_project.p.number"))],
        "undeclared data source data.google_project.p",
        "data.google_project.p.number",
    );
    fails(
        &[("main.tf", "variable \"v\" {\n  type = strng\n}\n")],
        "unknown type \"strng\"",
        "strng",
    );
    fails(
        &[("main.tf", "variable \"n\" {\n  type = number\n  default = 3\n  validation {\n    condition = var.n > 5\n    error_message = \"n must exceed 5.\"\n  }\n}\n")],
        "n must exceed 5.",
        "var.n > 5",
    );
    fails(
        &[
            ("main.tf", &m("  source = \"./a\"")),
            ("a/main.tf", &m("  source = \"../a\"")),
        ],
        "nest more than",
        "module \"m\"",
    );
}

#[test]
fn data_sources_are_unknown_offline_and_read_through_the_api() {
    let fs = [(
        "main.tf",
        &[
            r#"
provider "google" {
  project = "proj-1"
  region  = "us-central1"
}
data "google_project" "p" {}
data "google_compute_default_service_account" "d" {}
data "google_storage_project_service_account" "gcs" {}
"#
            .to_string(),
            job("j", r#"name = "j-${data.google_project.p.project_id}"
  labels = {
    number = data.google_project.p.number
    sa     = replace(replace(data.google_compute_default_service_account.d.email, "@", "_at_"), ".", "_")
    gcs    = substr(data.google_storage_project_service_account.gcs.email_address, 0, 8)
  }"#),
        ]
        .concat(),
    )];
    // Offline (validate): the project id is known, the number is not.
    let s = load(&fs.iter().map(|(a, b)| (*a, b.as_str())).collect::<Vec<_>>()).unwrap();
    let r = s.resource("google_cloud_run_v2_job.j").unwrap();
    assert_eq!(r.values["name"], "j-proj-1");
    assert!(r.is_unknown("labels.number"), "{:?}", r.unknown);

    // Through the local runtime's Resource Manager, Compute and Storage APIs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server =
            runform::runtime::Server::start(Default::default(), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
        let client = runform::cloud::Client::new(runform::cloud::Endpoint::Custom(server.url()))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        files(
            dir.path(),
            &fs.iter().map(|(a, b)| (*a, b.as_str())).collect::<Vec<_>>(),
        );
        let args = LoadArgs {
            vars: vec![],
            var_files: vec![],
            local: true,
            ..Default::default()
        };
        let (stack, diags, sources) = load_stack(dir.path(), &args, None, Some(&client));
        let s = stack.unwrap_or_else(|| panic!("{}", sources.render_all(&diags)));
        let l = &s.resource("google_cloud_run_v2_job.j").unwrap().values["labels"];
        let number = runform::runtime::workflows_api::project_number("proj-1");
        assert_eq!(l["number"], number.as_str());
        assert_eq!(
            l["sa"],
            format!("{number}-compute_at_developer_gserviceaccount_com").as_str()
        );
        assert_eq!(l["gcs"], "service-");
        server.stop().await;
    });
}

#[test]
fn fmt_check_diff_and_rewrite() {
    use super::cli_support::{runform, text};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("main.tf"),
        "locals {\nname=\"x\"\n  long_name = \"${var.y}\"\n}\n",
    )
    .unwrap();
    std::fs::write(d.join("ok.tf"), "locals {\n  a = 1\n}\n").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/x.tfvars"), "a=1\n").unwrap();
    let o = runform(d, &["fmt", "--check", "--diff"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.contains("main.tf") && !t.contains("ok.tf") && !t.contains("x.tfvars"),
        "{t}"
    );
    assert!(
        t.contains("-name=\"x\"")
            && t.contains("+  name      = \"x\"")
            && t.contains("+  long_name = var.y"),
        "{t}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("main.tf")).unwrap(),
        "locals {\nname=\"x\"\n  long_name = \"${var.y}\"\n}\n",
        "--check changes nothing"
    );
    let o = runform(d, &["fmt", "--recursive"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(d.join("main.tf")).unwrap(),
        "locals {\n  name      = \"x\"\n  long_name = var.y\n}\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("sub/x.tfvars")).unwrap(),
        "a = 1\n"
    );
    let o = runform(d, &["fmt", "--check", "--recursive"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    std::fs::write(d.join("bad.tf"), "a = \"open\n").unwrap();
    let o = runform(d, &["fmt", "--check"]);
    assert!(
        o.status.code() == Some(2) && text(&o).contains("bad.tf: line 1: unterminated string"),
        "{}",
        text(&o)
    );
}

#[test]
fn errors_never_show_sensitive_values() {
    let e = load(&[(
        "main.tf",
        &[
            "variable \"tok\" {\n  type      = string\n  default   = \"s3cr3t-xyz\"\n  sensitive = true\n}\n".to_string(),
            job("j", "name = \"Bad_${var.tok}\""),
        ]
        .concat(),
    )])
    .err()
    .unwrap();
    assert!(
        !e.contains("s3cr3t-xyz") && e.contains("(sensitive value)"),
        "{e}"
    );
}

#[test]
fn provider_aliases_select_project_and_region() {
    let s = load(&[
        (
            "main.tf",
            &[
                r#"
provider "google" {
  project = "main-proj"
  region  = "us-central1"
}
provider "google" {
  alias   = "eu"
  project = "eu-proj"
  region  = "europe-west1"
}
module "m" {
  source    = "./m"
  providers = { google = google.eu }
}
"#
                .to_string(),
                job("a", "name = \"a\""),
                job("b", "name = \"b\"\n  provider = google.eu"),
            ]
            .concat(),
        ),
        ("m/main.tf", &job("c", "name = \"c\"")),
    ])
    .unwrap();
    let project = |a: &str| s.resource(a).unwrap().values["project"].clone();
    assert_eq!(project("google_cloud_run_v2_job.a"), "main-proj");
    assert_eq!(project("google_cloud_run_v2_job.b"), "eu-proj");
    assert_eq!(project("module.m.google_cloud_run_v2_job.c"), "eu-proj");
    let e = load(&[("main.tf", &job("x", "name = \"x\"\n  provider = google.us"))])
        .err()
        .unwrap();
    assert!(e.contains("no provider configuration google.us"), "{e}");
}

#[test]
fn all_errors_are_reported_at_once_in_a_stable_order() {
    let fs = [
        ("a.tf", job("x", "name = upper2(\"x\")")),
        ("b.tf", "module \"m\" {\n  source = \"runform/scheduled-jbo\"\n}\nvariable \"n\" {\n  type    = number\n  default = \"abc\"\n}\n".to_string()),
    ];
    let fs: Vec<(&str, &str)> = fs.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let e = load(&fs).err().unwrap();
    let at = |s: &str| e.find(s).unwrap_or_else(|| panic!("{s} missing in\n{e}"));
    assert!(
        at("There is no function named \"upper2\"") < at("runform ships no module")
            && at("runform ships no module") < at("a number is required"),
        "{e}"
    );
    let strip = |t: &str| {
        t.lines()
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(&e),
        strip(&load(&fs).err().unwrap()),
        "same order every time"
    );
}

#[test]
fn provider_settings_fall_back_to_the_environment_as_the_google_provider_does() {
    use super::cli_support::text;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("main.tf"),
        "data \"google_client_config\" \"c\" {}\noutput \"where\" { value = \"${data.google_client_config.c.project}/${data.google_client_config.c.region}/${data.google_client_config.c.zone}\" }\n",
    )
    .unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_runform"))
        .args(["apply", "--local", "--auto-approve", "."])
        .current_dir(d)
        .env("GCLOUD_PROJECT", "from-env")
        .env("GOOGLE_ZONE", "europe-west4-b")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        text(&o).contains("where = \"from-env/europe-west4/europe-west4-b\""),
        "{}",
        text(&o)
    );
}

#[test]
fn provisioners_are_refused_with_a_reason() {
    let e = load(&[("main.tf", "resource \"null_resource\" \"n\" {\n  provisioner \"local-exec\" {\n    command = \"echo hi\"\n  }\n}\n")])
        .err()
        .unwrap();
    assert!(
        e.contains("`provisioner` blocks are not supported") && e.contains("main.tf:2"),
        "{e}"
    );
}

#[test]
fn check_blocks_warn_and_never_fail() {
    use super::cli_support::{runform, text};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("main.tf"),
        [
            job("j", "name = \"j\""),
            "check \"names\" {\n  assert {\n    condition     = startswith(google_cloud_run_v2_job.j.name, \"etl-\")\n    error_message = \"job names should start with etl-\"\n  }\n  assert {\n    condition     = google_cloud_run_v2_job.j.etag != \"\"\n    error_message = \"not judged before apply\"\n  }\n}\n".to_string(),
        ]
        .concat(),
    )
    .unwrap();
    let o = runform(d, &["validate", "."]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("warning: check \"names\" failed: job names should start with etl-")
            && !t.contains("not judged"),
        "{t}"
    );
}

#[test]
fn data_sources_take_count_and_for_each() {
    let s = load(&[(
        "main.tf",
        &[
            "data \"google_project\" \"p\" {\n  for_each   = toset([\"a-proj\", \"b-proj\"])\n  project_id = each.key\n}\n".to_string(),
            job("j", "name = \"j-${data.google_project.p[\"b-proj\"].project_id}\""),
        ]
        .concat(),
    )])
    .unwrap();
    assert_eq!(
        s.resource("google_cloud_run_v2_job.j").unwrap().values["name"],
        "j-b-proj"
    );
}
