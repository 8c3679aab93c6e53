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
    assert!(refused < copies.len() / 4, "terraform refused {refused} files");
}
