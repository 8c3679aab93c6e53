//! The `terraform { backend "..." { ... } }` block: where the state lives. Read on its own,
//! before the configuration (the state is needed to evaluate it).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// `backend "gcs" { bucket, prefix }`: Terraform's Cloud Storage layout.
    Gcs { bucket: String, prefix: String },
    /// `backend "local" { path }`.
    Local { path: PathBuf },
}

/// The backend the stack in `dir` declares, if any.
pub fn read(dir: &Path) -> Result<Option<Backend>, String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.ends_with(".tf") || (n.ends_with(".hcl") && !n.ends_with(".tfvars.hcl"))
        })
        .collect();
    files.sort();
    let mut found: Option<(Backend, String)> = None;
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        // Cheap test first: large stacks without a backend are not parsed twice.
        if !text.contains("backend") {
            continue;
        }
        let name = f.display().to_string();
        let body: hcl::Body = match hcl::from_str(&text) {
            Ok(b) => b,
            // Syntax errors are reported, located, by the configuration loader.
            Err(_) => continue,
        };
        for tf in body.blocks().filter(|b| b.identifier() == "terraform") {
            for be in tf.body().blocks().filter(|b| b.identifier() == "backend") {
                let kind = be
                    .labels()
                    .first()
                    .map(|l| l.as_str().to_string())
                    .unwrap_or_default();
                let attr = |k: &str| -> Result<Option<String>, String> {
                    match be.body().attributes().find(|a| a.key() == k).map(|a| a.expr()) {
                        None => Ok(None),
                        Some(hcl::Expression::String(s)) => Ok(Some(s.clone())),
                        Some(_) => Err(format!(
                            "{name}: backend \"{kind}\": `{k}` must be a literal string (backends are read before variables exist)"
                        )),
                    }
                };
                let b = match kind.as_str() {
                    "gcs" => {
                        let bucket = attr("bucket")?.filter(|b| !b.is_empty()).ok_or_else(|| {
                            format!("{name}: backend \"gcs\" needs `bucket`")
                        })?;
                        let prefix = attr("prefix")?.unwrap_or_default();
                        Backend::Gcs {
                            bucket,
                            prefix: prefix.trim_matches('/').to_string(),
                        }
                    }
                    "local" => Backend::Local {
                        path: PathBuf::from(attr("path")?.unwrap_or_else(|| "runform.tfstate".into())),
                    },
                    other => {
                        return Err(format!(
                            "{name}: backend {other:?} is not supported (runform keeps state in a local file, or in Cloud Storage with backend \"gcs\")"
                        ))
                    }
                };
                if let Some((_, first)) = &found {
                    return Err(format!(
                        "{name}: a second backend block (the first is in {first}); declare one"
                    ));
                }
                found = Some((b, name.clone()));
            }
        }
    }
    Ok(found.map(|(b, _)| b))
}

/// Terraform's gcs object names: `PREFIX/WORKSPACE.tfstate` and `.tflock`.
pub fn gcs_objects(prefix: &str, workspace: &str) -> (String, String) {
    let join = |suffix: &str| {
        if prefix.is_empty() {
            format!("{workspace}{suffix}")
        } else {
            format!("{prefix}/{workspace}{suffix}")
        }
    };
    (join(".tfstate"), join(".tflock"))
}

/// Workspace names must be usable in object names and paths.
pub fn check_workspace_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 90
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid workspace name {name:?}: use letters, digits, '-', '_' and '.' (not first), at most 90"
        ))
    }
}
