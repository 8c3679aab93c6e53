//! Refactoring and team state: `moved` (no destroy), `import` blocks and `runform import`
//! (adopted with no change when the configuration matches), `removed { destroy = false }`,
//! `runform state list|show|rm|mv|pull|push`, and the state lock (holder named,
//! --lock-timeout, force-unlock).

use super::cli_support::{runform, text};
use super::write;

fn job(name: &str, job: &str) -> String {
    format!(
        r#"
resource "google_cloud_run_v2_job" "{name}" {{
  name                = "{job}"
  location            = "us-central1"
  deletion_protection = false
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

const J2: &str = "projects/runform-local/locations/us-central1/jobs/j2";

#[test]
fn moved_import_removed_and_state_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str]| {
        let o = runform(d, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        text(&o)
    };
    write(d, "main.tf", &[job("old", "j1"), job("two", "j2")].concat());
    ok(&["apply", "--local", "--auto-approve", "."]);

    // moved: a rename, not a destroy and create.
    let moved =
        "moved {\n  from = google_cloud_run_v2_job.old\n  to   = google_cloud_run_v2_job.new\n}\n";
    write(
        d,
        "main.tf",
        &[job("new", "j1"), job("two", "j2"), moved.into()].concat(),
    );
    let t = ok(&["plan", "--local", "."]);
    assert!(
        t.contains("# google_cloud_run_v2_job.old has moved to google_cloud_run_v2_job.new"),
        "{t}"
    );
    assert!(t.contains("0 to add, 0 to change, 0 to destroy"), "{t}");
    let o = runform(d, &["plan", "--local", "--format", "json", "."]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rc = j["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "google_cloud_run_v2_job.new")
        .unwrap()
        .clone();
    assert_eq!(rc["previous_address"], "google_cloud_run_v2_job.old");
    ok(&["apply", "--local", "--auto-approve", "."]);
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A moved block naming a resource still declared is an error at the block.
    write(
        d,
        "main.tf",
        &[
            job("new", "j1"),
            job("old", "j9"),
            job("two", "j2"),
            moved.into(),
        ]
        .concat(),
    );
    let o = runform(d, &["validate", "."]);
    assert!(
        !o.status.success()
            && text(&o).contains("moved: google_cloud_run_v2_job.old is still declared"),
        "{}",
        text(&o)
    );

    // removed { destroy = false }: leaves state, the job stays.
    let removed = "removed {\n  from = google_cloud_run_v2_job.two\n  lifecycle {\n    destroy = false\n  }\n}\n";
    write(d, "main.tf", &[job("new", "j1"), removed.into()].concat());
    let t = ok(&["plan", "--local", "."]);
    assert!(
        t.contains("google_cloud_run_v2_job.two will be removed from state")
            && t.contains("1 to forget"),
        "{t}"
    );
    ok(&["apply", "--local", "--auto-approve", "."]);
    assert!(!ok(&["state", "list", "--local"]).contains("two"));

    // import block: the job is adopted with no change.
    let import = format!("import {{\n  to = google_cloud_run_v2_job.back\n  id = \"{J2}\"\n}}\n");
    write(
        d,
        "main.tf",
        &[job("new", "j1"), job("back", "j2"), import.clone()].concat(),
    );
    let t = ok(&["plan", "--local", "."]);
    assert!(
        t.contains("google_cloud_run_v2_job.back will be imported")
            && t.contains("Plan: 1 to import, 0 to add, 0 to change, 0 to destroy"),
        "{t}"
    );
    ok(&["apply", "--local", "--auto-approve", "."]);
    let o = runform(d, &["plan", "--local", "--detailed-exitcode", "."]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // state rm, then `runform import`: back in state, and a differing config shows its update.
    ok(&["state", "rm", "--local", "google_cloud_run_v2_job.back"]);
    write(
        d,
        "main.tf",
        &[
            job("new", "j1"),
            job("back", "j2").replace("busybox", "alpine"),
        ]
        .concat(),
    );
    let t = ok(&["import", "--local", "google_cloud_run_v2_job.back", J2]);
    assert!(
        t.contains("Import successful") && t.contains("differs from the configuration"),
        "{t}"
    );
    let t = ok(&["plan", "--local", "."]);
    assert!(
        t.contains("\"busybox\" -> \"alpine\"")
            && t.contains("0 to add, 1 to change, 0 to destroy"),
        "{t}"
    );
    let o = runform(
        d,
        &["import", "--local", "google_cloud_run_v2_job.back", J2],
    );
    assert!(
        !o.status.success() && text(&o).contains("already managed"),
        "{}",
        text(&o)
    );
    let o = runform(
        d,
        &["import", "--local", "google_cloud_run_v2_job.nope", J2],
    );
    assert!(
        !o.status.success() && text(&o).contains("matches nothing"),
        "{}",
        text(&o)
    );

    // state list/show/mv/pull/push.
    let t = ok(&["state", "list", "--local"]);
    assert_eq!(
        t.lines().collect::<Vec<_>>(),
        [
            "google_cloud_run_v2_job.back",
            "google_cloud_run_v2_job.new"
        ]
    );
    let t = ok(&["state", "show", "--local", "google_cloud_run_v2_job.back"]);
    assert!(t.contains(&format!("id   = \"{J2}\"")), "{t}");
    let o = runform(
        d,
        &["state", "show", "--local", "google_cloud_run_v2_job.bak"],
    );
    assert!(
        !o.status.success() && text(&o).contains("did you mean google_cloud_run_v2_job.back"),
        "{}",
        text(&o)
    );
    ok(&[
        "state",
        "mv",
        "--local",
        "google_cloud_run_v2_job.back",
        "google_cloud_run_v2_job.renamed",
    ]);
    assert!(ok(&["state", "list", "--local"]).contains("google_cloud_run_v2_job.renamed"));
    let pulled = runform(d, &["state", "pull", "--local"]).stdout;
    let mut st: serde_json::Value = serde_json::from_slice(&pulled).unwrap();
    let serial = st["serial"].as_u64().unwrap();
    // An older serial is refused; the pulled state pushes back.
    st["serial"] = (serial - 1).into();
    write(d, "old.json", &st.to_string());
    let o = runform(d, &["state", "push", "--local", "old.json"]);
    assert!(
        !o.status.success() && text(&o).contains("older than"),
        "{}",
        text(&o)
    );
    st["lineage"] = "someone-else".into();
    st["serial"] = serial.into();
    write(d, "other.json", &st.to_string());
    let o = runform(d, &["state", "push", "--local", "other.json"]);
    assert!(
        !o.status.success() && text(&o).contains("another state"),
        "{}",
        text(&o)
    );
    std::fs::write(d.join("same.json"), &pulled).unwrap();
    ok(&["state", "push", "--local", "same.json"]);
    let backup = d.join(".runform/local/runform.tfstate.backup");
    assert!(backup.exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join(".runform/local/runform.tfstate"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn the_state_lock_names_its_holder_waits_and_can_be_forced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.tf", &job("a", "lock-a"));
    // Another run (this test process: alive) holds the lock.
    let lock = d.join(".runform/local/runform.tfstate.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let holder = serde_json::json!({
        "id": "4d1c0ffe-0000-4000-8000-000000000001", "operation": "apply",
        "who": "alice@ci-runner-7", "pid": std::process::id(), "created": "2026-11-22T10:00:00Z",
    });
    std::fs::write(&lock, holder.to_string()).unwrap();
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("locked by alice@ci-runner-7 (operation apply, since 2026-11-22T10:00:00Z")
            && t.contains("lock ID 4d1c0ffe-0000-4000-8000-000000000001"),
        "{t}"
    );
    assert!(
        t.contains("runform force-unlock 4d1c0ffe-0000-4000-8000-000000000001"),
        "{t}"
    );
    let o = runform(
        d,
        &[
            "apply",
            "--local",
            "--auto-approve",
            "--lock-timeout",
            "300ms",
            ".",
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("waited"),
        "{}",
        text(&o)
    );
    // A wait is never silent: it names the lock it waits for.
    assert!(
        text(&o).contains("Waiting up to 300ms for the state lock held by alice@ci-runner-7 (operation apply, since 2026-11-22T10:00:00Z, lock ID 4d1c0ffe-0000-4000-8000-000000000001)..."),
        "{}",
        text(&o)
    );
    // Terraform's -lock=false: the apply goes ahead without the lock.
    let o = runform(
        d,
        &["apply", "--local", "-auto-approve", "-lock=false", "."],
    );
    assert!(o.status.success(), "{}", text(&o));
    // Every state-changing command takes it.
    for args in [
        &["destroy", "--local", "--auto-approve", "."][..],
        &["state", "rm", "--local", "x.y"],
        &["import", "--local", "google_cloud_run_v2_job.a", "x"],
    ] {
        let o = runform(d, args);
        assert!(
            !o.status.success() && text(&o).contains("locked by alice"),
            "{args:?}: {}",
            text(&o)
        );
    }
    let o = runform(d, &["force-unlock", "--local", "wrong-id"]);
    assert!(
        !o.status.success() && text(&o).contains("lock ID mismatch"),
        "{}",
        text(&o)
    );
    let o = runform(
        d,
        &[
            "force-unlock",
            "--local",
            "4d1c0ffe-0000-4000-8000-000000000001",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!lock.exists());
    let o = runform(d, &["destroy", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Read-only commands run while an apply holds the lock and journals its actions: they see
/// the journal's records and change neither the state nor the journal (issue 13: a reader
/// used to fold and delete a running apply's journal, and the apply then lost its records).
#[test]
fn readers_leave_a_running_applys_journal_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.tf", &[job("a", "ja"), job("b", "jb")].concat());
    let o = runform(d, &["apply", "--local", "--auto-approve", "."]);
    assert!(o.status.success(), "{}", text(&o));
    let path = d.join(".runform/local/runform.tfstate");
    let sf = runform::state::StateFile::new(path.clone());
    let state = sf.load().unwrap();
    // An apply in progress: it holds the lock and has journaled one action (b destroyed).
    let _lock = sf.lock("apply").unwrap();
    let journal = sf.journal(&state).unwrap();
    journal.record("google_cloud_run_v2_job.b", None).unwrap();
    let before = std::fs::read(&path).unwrap();
    let journal_path = d.join(".runform/local/runform.tfstate.journal");
    let journaled = std::fs::read(&journal_path).unwrap();
    for args in [
        &["state", "list", "--local"][..],
        &["plan", "--local", "."][..],
        &["output", "--local", "--json"][..],
        &["state", "show", "--local", "google_cloud_run_v2_job.a"][..],
    ] {
        let o = runform(d, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        if args[1] == "list" {
            let t = text(&o);
            assert!(t.contains("google_cloud_run_v2_job.a"), "{t}");
            assert!(
                !t.contains("google_cloud_run_v2_job.b"),
                "{args:?} ignored the journal: {t}"
            );
        }
        assert_eq!(
            std::fs::read(&journal_path).ok().as_deref(),
            Some(&journaled[..]),
            "{args:?} changed the journal: {}",
            text(&o)
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{args:?} wrote the state"
        );
    }
    // The lock holder folds its journal when it commits.
    drop(journal);
    let mut state = sf.load().unwrap();
    sf.commit(&mut state).unwrap();
    assert!(!journal_path.exists());
    assert!(!sf
        .load()
        .unwrap()
        .resources
        .contains_key("google_cloud_run_v2_job.b"));
}
