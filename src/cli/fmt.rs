//! `runform fmt`: rewrite files in `terraform fmt`'s canonical format.

use anyhow::anyhow;
use std::path::{Path, PathBuf};

pub(super) fn fmt_cmd(
    paths: &[PathBuf],
    check: bool,
    diff: bool,
    recursive: bool,
) -> anyhow::Result<i32> {
    fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| anyhow!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                if recursive && !name.starts_with('.') {
                    collect(&p, recursive, out)?;
                }
            } else if name.ends_with(".tf") || name.ends_with(".hcl") || name.ends_with(".tfvars") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    let roots = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    for p in &roots {
        if p.is_dir() {
            collect(p, recursive, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut unformatted = 0;
    let mut errors = 0;
    for f in &files {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow!("cannot read {}: {e}", f.display()))?;
        let formatted = match crate::fmt::format(&text) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {}: {e}", f.display());
                errors += 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted += 1;
        println!("{}", f.display());
        if diff {
            let d = similar::TextDiff::from_lines(&text, &formatted);
            print!(
                "{}",
                d.unified_diff().header(
                    &format!("old/{}", f.display()),
                    &format!("new/{}", f.display())
                )
            );
        }
        if !check {
            let tmp = f.with_extension("fmt-tmp");
            std::fs::write(&tmp, &formatted)?;
            std::fs::rename(&tmp, f)?;
        }
    }
    Ok(if errors > 0 {
        2
    } else if check && unformatted > 0 {
        3
    } else {
        0
    })
}
