//! `validate`, `providers schema` and `show`: commands that read files and contact nothing.

use super::args::{parse_vars, VarArgs};
use super::planfile;
use crate::ops;
use crate::view::{self, Style};
use anyhow::bail;
use std::path::Path;

/// As `terraform validate`: variables are unknowns of their types, so what is checked holds
/// for any values they are given (-var and -var-file are accepted for compatibility and not
/// read).
pub(super) fn validate(dir: &Path, vars: &VarArgs, json: bool) -> anyhow::Result<i32> {
    let mut args = parse_vars(vars, true)?;
    args.validate_only = true;
    let (stack, diags, sources) = ops::load_stack(dir, &args, None, None);
    if json {
        // As `terraform validate -json`: one document, diagnostics in the UI's shape.
        let list: Vec<serde_json::Value> = diags
            .sorted()
            .into_iter()
            .map(|d| sources.to_json(d))
            .collect();
        let warnings = list.iter().filter(|d| d["severity"] == "warning").count();
        let doc = serde_json::json!({
            "format_version": "1.0",
            "valid": stack.is_some(),
            "error_count": diags.error_count(),
            "warning_count": warnings,
            "diagnostics": list,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(if stack.is_some() { 0 } else { 1 });
    }
    eprint!("{}", sources.render_all(&diags));
    match stack {
        Some(s) => {
            println!(
                "The configuration is valid: {} resource(s).",
                s.resources.len()
            );
            Ok(0)
        }
        None => {
            eprintln!("{} error(s); nothing was contacted.", diags.error_count());
            Ok(1)
        }
    }
}

pub(super) fn providers_schema(json: bool) -> anyhow::Result<i32> {
    if !json {
        bail!("providers schema prints JSON only: pass --json (or -json)");
    }
    println!("{}", crate::resources::provider_schema::document());
    Ok(0)
}

/// `show PLANFILE [--json]`: a saved plan as text, or as Terraform's plan JSON.
pub(super) fn show(path: &Path, json: bool) -> anyhow::Result<i32> {
    let pf = planfile::read(path)?.as_saved()?;
    if json {
        println!("{}", pf.json);
    } else {
        print!("{}", view::render_plan(&pf.plan, &Style::detect()));
    }
    Ok(0)
}

/// `runform init`: what `terraform init` is to CI wrappers, for a tool with no providers to
/// download: the directory holds a configuration and its backend block (if any) is one
/// runform reads.
pub(super) fn init(dir: &Path) -> anyhow::Result<i32> {
    let backend = crate::config::backend::read(dir).map_err(|e| anyhow::anyhow!(e))?;
    let kind = match backend {
        Some(crate::config::backend::Backend::Gcs { bucket, prefix }) => {
            format!("the gcs backend (gs://{bucket}/{prefix})")
        }
        Some(crate::config::backend::Backend::Local { path }) => {
            format!("the local backend ({})", path.display())
        }
        None => "local state files (no backend block)".into(),
    };
    println!(
        "Initializing runform in {}: state in {kind}.",
        dir.display()
    );
    println!("runform has been successfully initialized! (No providers to install: the google provider's types are built in.)");
    Ok(0)
}

/// `runform version [-json]`.
pub(super) fn version(json: bool) -> anyhow::Result<i32> {
    let ours = env!("CARGO_PKG_VERSION");
    let tf = crate::view::json_ui::TERRAFORM_VERSION;
    if json {
        let v = serde_json::json!({
            "runform_version": ours,
            "terraform_version": tf,
            "platform": format!("{}_{}", std::env::consts::OS, match std::env::consts::ARCH { "x86_64" => "amd64", "aarch64" => "arm64", a => a }),
            "provider_selections": {},
            "terraform_outdated": false,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("runform v{ours} (Terraform v{tf} language, google provider types built in)");
    }
    Ok(0)
}
