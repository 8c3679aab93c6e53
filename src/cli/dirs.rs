//! The stack directory a command is given: checked before anything is read or contacted,
//! with a hint that is the command to run instead.

use anyhow::bail;
use std::path::Path;

fn has_configuration(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            e.path().is_file()
                && (n.ends_with(".tf") || (n.ends_with(".hcl") && !n.ends_with(".tfvars.hcl")))
        })
    })
}

/// This command line with the directory argument `given` replaced by `instead`.
fn command_with(given: &Path, instead: &str) -> String {
    let given = given.display().to_string();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().position(|a| *a == given) {
        Some(i) => args[i] = instead.to_string(),
        None => args.push(instead.to_string()),
    }
    format!("runform {}", args.join(" "))
}

/// The hint for a directory that holds no stack: the current directory's stack, when there
/// is one (a command run from inside the stack with its path from the repository's root).
fn hint_for(dir: &Path) -> String {
    let here = Path::new(".");
    if dir != here && has_configuration(here) {
        let cwd = std::env::current_dir().unwrap_or_default();
        let inside = dir.is_relative() && cwd.ends_with(dir);
        return format!(
            "hint: {}: run `{}`",
            if inside {
                format!("you are in {} already", dir.display())
            } else {
                "the current directory holds a stack".into()
            },
            command_with(dir, ".")
        );
    }
    "hint: pass the directory that holds the stack's .tf files (default: the current directory)"
        .into()
}

/// A directory that must exist (commands that read the state, and maybe the configuration).
pub(super) fn existing(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        bail!("{} does not exist\n{}", dir.display(), hint_for(dir));
    }
    if !dir.is_dir() {
        bail!("{} is not a directory\n{}", dir.display(), hint_for(dir));
    }
    Ok(())
}

/// A directory that must hold a configuration (commands that plan or evaluate it).
pub(super) fn stack(dir: &Path) -> anyhow::Result<()> {
    existing(dir)?;
    if !has_configuration(dir) {
        bail!(
            "no configuration files (*.tf, *.hcl) in {}\n{}",
            dir.display(),
            hint_for(dir)
        );
    }
    Ok(())
}
