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
pub(super) fn validate(dir: &Path, vars: &VarArgs) -> anyhow::Result<i32> {
    let mut args = parse_vars(vars, true)?;
    args.validate_only = true;
    let (stack, diags, sources) = ops::load_stack(dir, &args, None, None);
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
