//! Root module outputs: recorded by apply, printed by `runform output`.

use super::args::TargetArgs;
use anyhow::bail;
use std::path::Path;

/// Records the root module's outputs in the state. An output still unknown (what it depends on failed to apply) keeps its previous value; a
/// null one is not recorded, as in Terraform.
pub(super) fn write_outputs(state: &mut crate::state::State, stack: &crate::config::Stack) {
    for o in &stack.outputs {
        if !o.value.is_wholly_known() {
            continue;
        }
        let sensitive = o.sensitive || o.value.contains_marked();
        match o.value.to_json() {
            Some(serde_json::Value::Null) | None => {
                state.outputs.remove(&o.name);
                state.output_types.remove(&o.name);
                state.sensitive_outputs.remove(&o.name);
                continue;
            }
            Some(j) => {
                state.outputs.insert(o.name.clone(), j);
            }
        }
        state
            .output_types
            .insert(o.name.clone(), o.value.ty().to_json());
        if sensitive {
            state.sensitive_outputs.insert(o.name.clone());
        } else {
            state.sensitive_outputs.remove(&o.name);
        }
    }
    // Outputs no longer declared leave the state with the apply.
    let declared: std::collections::BTreeSet<&str> =
        stack.outputs.iter().map(|o| o.name.as_str()).collect();
    state.outputs.retain(|k, _| declared.contains(k.as_str()));
    state
        .output_types
        .retain(|k, _| declared.contains(k.as_str()));
    state
        .sensitive_outputs
        .retain(|k| declared.contains(k.as_str()));
}

/// The state's outputs as `terraform output` and `terraform apply` show them: sorted by
/// name, `name = value` in the console's syntax, sensitive ones as `<sensitive>`.
pub(super) fn outputs_text(state: &crate::state::State) -> String {
    state
        .outputs
        .keys()
        .map(|k| {
            if state.sensitive_outputs.contains(k) {
                format!("{k} = <sensitive>\n")
            } else {
                let v = state_output(state, k)
                    .map(|v| crate::lang::value::format_console(&v, 0))
                    .unwrap_or_default();
                format!("{k} = {v}\n")
            }
        })
        .collect()
}

/// After an apply: the outputs, under Terraform's heading.
pub(super) fn print_outputs(state: &crate::state::State) {
    let text = outputs_text(state);
    if !text.is_empty() {
        print!("\nOutputs:\n\n{text}");
    }
}

/// An output recorded in the state, as the value it was (typed).
pub(super) fn state_output(state: &crate::state::State, name: &str) -> Option<crate::lang::Value> {
    let j = state.outputs.get(name)?;
    let ty = state
        .output_types
        .get(name)
        .and_then(crate::lang::types::Type::from_json)
        .unwrap_or_else(|| crate::lang::Value::from_json(j).ty());
    crate::lang::Value::from_json_typed(j, &ty)
        .ok()
        .or_else(|| Some(crate::lang::Value::from_json(j)))
}

/// `runform output [NAME] [--json|--raw]`, read from the target's state.
pub(super) fn output_cmd(
    state: &crate::state::State,
    name: Option<&str>,
    json: bool,
    raw: bool,
) -> anyhow::Result<i32> {
    // As `terraform output` shows them: the console's syntax (`tolist([...])`, heredocs).
    let shown = |k: &str| {
        state_output(state, k)
            .map(|v| crate::lang::value::format_console(&v, 0))
            .unwrap_or_default()
    };
    match name {
        Some(n) => {
            let Some(v) = state.outputs.get(n) else {
                let mut msg = format!("no output {n:?} in the state");
                if let Some(c) = crate::diag::closest(n, state.outputs.keys().map(String::as_str)) {
                    msg.push_str(&format!("\nhint: did you mean {c:?}?"));
                } else if state.outputs.is_empty() {
                    msg.push_str(
                        "\nhint: the state has no outputs; declare `output` blocks and apply",
                    );
                }
                bail!(msg);
            };
            // Asked for by name: shown even when sensitive, as Terraform does.
            if json {
                println!("{}", serde_json::to_string(v)?);
            } else if raw {
                // As Terraform's: the value alone, without a newline, for piping.
                match v {
                    serde_json::Value::String(s) => print!("{s}"),
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => print!("{v}"),
                    _ => bail!("--raw prints only strings, numbers and bools; {n:?} is a collection (use --json)"),
                }
            } else {
                println!("{}", shown(n));
            }
        }
        None if json => {
            let all: serde_json::Map<String, serde_json::Value> = state
                .outputs
                .iter()
                .map(|(k, v)| {
                    let sensitive = state.sensitive_outputs.contains(k);
                    (
                        k.clone(),
                        serde_json::json!({
                            "sensitive": sensitive,
                            "type": state.output_types.get(k).cloned().unwrap_or_else(|| crate::plan::json::type_of(v)),
                            "value": v,
                        }),
                    )
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        None => {
            if raw {
                bail!("--raw needs an output name");
            }
            if state.outputs.is_empty() {
                eprintln!("No outputs in the state (declare `output` blocks and apply).");
            }
            print!("{}", outputs_text(state));
        }
    }
    Ok(0)
}

/// `runform output [NAME]` from the target's state.
pub(super) async fn output(
    dir: &Path,
    target: &TargetArgs,
    name: Option<&str>,
    json: bool,
    raw: bool,
) -> anyhow::Result<i32> {
    let target = &super::target::day2(dir, target);
    let (sf, conn) = super::state::open_state_for(dir, target).await?;
    let state = sf.load();
    let r = state
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .and_then(|s| output_cmd(s, name, json, raw));
    if r.is_ok() && state.is_ok_and(|s| s.outputs.is_empty()) {
        if let Some(hint) = super::target::elsewhere_hint(dir, target) {
            eprintln!("{hint}");
        }
    }
    if let Some(c) = conn {
        c.stop().await;
    }
    r
}
