//! random_id, random_string, random_pet, time_sleep, null_resource and terraform_data: values
//! made once and stable in state, replaced only when their keepers/triggers change, and what
//! depends on a replaced value is planned in the same plan (apply then plan is clean).

use super::cli_support::{runform, text};
use super::write;

fn stack(generation: &str, input: &str) -> String {
    format!(
        r#"
provider "random" {{}}
resource "random_id" "suffix" {{
  byte_length = 4
  prefix      = "r"
  keepers     = {{ generation = "{generation}" }}
}}
resource "random_string" "token" {{
  length  = 16
  special = false
}}
resource "random_pet" "pet" {{}}
resource "time_sleep" "wait" {{
  create_duration = "30s"
  depends_on      = [resource.random_id.suffix]
}}
resource "null_resource" "n" {{
  triggers = {{ id = random_id.suffix.hex }}
}}
resource "terraform_data" "d" {{
  input = {input}
}}
resource "google_cloud_run_v2_job" "j" {{
  name                = "job-${{random_id.suffix.hex}}"
  location            = "us-central1"
  deletion_protection = false
  labels              = {{ pet = random_pet.pet.id }}
  template {{
    template {{
      containers {{
        image = "busybox"
      }}
    }}
  }}
  depends_on = [time_sleep.wait]
}}
output "job" {{ value = google_cloud_run_v2_job.j.name }}
output "token" {{ value = random_string.token.result }}
output "data" {{ value = terraform_data.d.output }}
"#
    )
}

fn outputs(d: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&runform(d, &["output", "--local", "--json"]).stdout).unwrap()
}

#[test]
fn utility_values_are_stable_and_replaced_by_their_keepers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.tf", &stack("1", "{ a = 1 }"));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let first = outputs(d);
    let job = first["job"]["value"].as_str().unwrap().to_string();
    assert!(
        job.starts_with("job-r") && job.len() == "job-r".len() + 8,
        "{job}"
    );
    assert_eq!(first["token"]["value"].as_str().unwrap().len(), 16);
    assert_eq!(first["data"]["value"], serde_json::json!({"a": 1}));
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success());
    assert_eq!(outputs(d), first, "values are stable across applies");

    // A new keeper: a new id, and everything built from it in the same plan.
    write(d, "main.tf", &stack("2", "{ a = 1 }"));
    let o = runform(d, &["plan", "--local", "."]);
    let t = text(&o);
    for a in [
        "random_id.suffix must be replaced",
        "null_resource.n must be replaced",
        "google_cloud_run_v2_job.j must be replaced",
    ] {
        assert!(t.contains(a), "{a}:\n{t}");
    }
    assert!(
        !t.contains("random_string.token") && !t.contains("random_pet.pet"),
        "{t}"
    );
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let second = outputs(d);
    assert_ne!(second["job"], first["job"]);
    assert_eq!(second["token"], first["token"]);
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // terraform_data: a new input updates in place, and output follows.
    write(d, "main.tf", &stack("2", "{ a = 2 }"));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(
        t.contains("terraform_data.d: updating") || t.contains("Resources: 0 added, 1 changed"),
        "{t}"
    );
    assert_eq!(outputs(d)["data"]["value"], serde_json::json!({"a": 2}));
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(
        o.status.success() && text(&o).contains("7 destroyed"),
        "{}",
        text(&o)
    );
}

#[test]
fn utility_validation_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.tf", "resource \"random_string\" \"s\" {\n  length = 4\n  min_numeric = 3\n  min_upper = 3\n}\nresource \"time_sleep\" \"w\" {\n  create_duration = \"30\"\n}\n");
    let o = runform(d, &["validate", "."]);
    let t = text(&o);
    assert!(
        !o.status.success()
            && t.contains("min_* counts add up to more than length")
            && t.contains("a number needs a unit")
            && t.contains("main.tf:7"),
        "{t}"
    );
}
