//! Saved plans on disk: written private (0600) and free of secrets, read back with the
//! secrets restored from where they came from (see [`crate::plan::redact`]).

use crate::config::LoadArgs;
use crate::plan::redact::{self, Redactor, Restorer};
use crate::plan::{Plan, PlanFile, PLANFILE_FORMAT};
use anyhow::{anyhow, bail};
use serde_json::Value;
use std::path::Path;

/// Top-level parts of a plan file that hold planned values (the rest is bookkeeping, and
/// `json` is already masked the way Terraform's plan JSON is).
const VALUE_PARTS: &[&str] = &["plan"];

/// Where planned values (which may be sensitive numbers) are inside a plan: a change's
/// values and request body, and an attribute change's two sides.
const NUMBER_ROOTS: &[&str] = &["after", "before", "body", "extra", "old", "new"];

/// Writes `pf` to `out`, 0600, atomically, with every sensitive value replaced by a token.
pub fn save(out: &Path, mut pf: PlanFile) -> anyhow::Result<()> {
    pf.salt = redact::new_salt();
    let redactor = Redactor::new(&pf.salt, secrets_of(&pf.plan), NUMBER_ROOTS);
    let mut v = serde_json::to_value(&pf)?;
    if !redactor.is_empty() {
        for part in VALUE_PARTS {
            if let Some(x) = v.get_mut(*part) {
                redactor.redact(x);
            }
        }
        hold_back_sensitive_vars(&redactor, &pf.args, &mut v);
    }
    // A plan holds planned values: the owner's only, as the state is.
    crate::state::write_private_atomic(out, &serde_json::to_vec(&v)?)?;
    Ok(())
}

/// Every value the plan must not write: the configuration's sensitive values, and what lies
/// under each change's sensitive paths (values last applied, read from the state).
fn secrets_of(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for c in &plan.changes {
        for side in [&c.after, &c.before].into_iter().flatten() {
            for p in &c.sensitive {
                if let Some(x) = crate::model::schema::json_get(side, p) {
                    sensitive_leaves(x, &mut out);
                }
            }
        }
        for a in c.attrs.iter().filter(|a| a.sensitive) {
            a.old
                .iter()
                .chain(&a.new)
                .for_each(|x| sensitive_leaves(x, &mut out));
        }
    }
    for d in &plan.drift {
        for a in d.attrs.iter().filter(|a| a.sensitive) {
            a.old
                .iter()
                .chain(&a.new)
                .for_each(|x| sensitive_leaves(x, &mut out));
        }
    }
    // A whole sensitive block (a set of `env` blocks) also holds the keys the plan shows in
    // its attribute paths (`env["URL"]`): names, not secrets.
    let shown = shown_keys(plan);
    out.retain(|s| !shown.contains(s.as_str()));
    out.extend(plan.sensitive_values.iter().cloned());
    out
}

/// The keys in the plan's attribute paths (`KEY` of `env["KEY"].value`), shown on screen.
fn shown_keys(plan: &Plan) -> std::collections::BTreeSet<&str> {
    let paths = plan
        .changes
        .iter()
        .flat_map(|c| &c.attrs)
        .chain(plan.drift.iter().flat_map(|d| &d.attrs))
        .map(|a| a.path.as_str());
    paths
        .flat_map(|p| p.split("[\"").skip(1))
        .filter_map(|rest| rest.split("\"]").next())
        .collect()
}

/// The strings and numbers inside a sensitive value (not its keys: names, not secrets).
fn sensitive_leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(xs) => xs.iter().for_each(|x| sensitive_leaves(x, out)),
        Value::Object(m) => m.values().for_each(|x| sensitive_leaves(x, out)),
        _ => {}
    }
}

/// A `--var` holding a secret is not kept at all: its whole text becomes one token, and
/// apply takes it again from `--var` or the environment.
fn hold_back_sensitive_vars(redactor: &Redactor, args: &LoadArgs, v: &mut Value) {
    let Some(vars) = v.pointer_mut("/args/vars").and_then(Value::as_array_mut) else {
        return;
    };
    for (pair, (_, raw)) in vars.iter_mut().zip(&args.vars) {
        if redactor.redact_str(raw) != *raw {
            pair[1] = Value::String(redactor.whole_token(raw));
        }
    }
}

/// A plan file as read, before its secrets are restored: enough to find its stack, target
/// and state, and to load the configuration its secrets come from.
pub struct Saved {
    raw: Value,
    pub target: String,
    pub dir: String,
    pub args: LoadArgs,
    salt: String,
    /// Whether the file holds tokens to restore.
    pub redacted: bool,
}

pub fn read(path: &Path) -> anyhow::Result<Saved> {
    let bytes = std::fs::read(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    let raw: Value = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow!("{} is not a runform plan file: {e}", path.display()))?;
    let format = raw.get("format").and_then(Value::as_str).unwrap_or("");
    if format != PLANFILE_FORMAT {
        bail!(
            "{} has format {format:?}; this runform reads {PLANFILE_FORMAT}: make a new plan",
            path.display()
        );
    }
    let field = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let args: LoadArgs = serde_json::from_value(raw.get("args").cloned().unwrap_or_default())
        .map_err(|e| anyhow!("{} is not a runform plan file: {e}", path.display()))?;
    Ok(Saved {
        target: field("target"),
        dir: field("dir"),
        salt: field("salt"),
        redacted: redact::has_tokens(&raw),
        args,
        raw,
    })
}

impl Saved {
    /// The plan as saved, tokens and all (for `show`: the tokens stand where secrets were,
    /// and are masked as sensitive values).
    pub fn as_saved(&self) -> anyhow::Result<PlanFile> {
        Ok(serde_json::from_value(self.raw.clone())?)
    }

    /// Puts back the `--var` values the plan held back, from this apply's `--var` flags or
    /// the environment (`RUNFORM_VAR_x`, `TF_VAR_x`), refusing one that is not the value
    /// planned. `--var` is only for those: everything else comes from the plan.
    pub fn restore_vars(&mut self, given: &[(String, String)]) -> anyhow::Result<()> {
        let held: Vec<usize> = (0..self.args.vars.len())
            .filter(|&i| redact::has_tokens(&Value::String(self.args.vars[i].1.clone())))
            .collect();
        for (name, _) in given {
            if !held.iter().any(|&i| self.args.vars[i].0 == *name) {
                bail!("--var {name}: a saved plan applies with the variables it was made with; --var with a saved plan only gives back a sensitive value the plan does not hold");
            }
        }
        for i in held {
            let name = self.args.vars[i].0.clone();
            let env = ["RUNFORM_VAR_", "TF_VAR_"]
                .iter()
                .filter_map(|p| std::env::var(format!("{p}{name}")).ok());
            let candidates: Vec<String> = given
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .chain(env)
                .collect();
            let restorer = Restorer::new(&self.salt, candidates.iter().map(String::as_str));
            let mut v = Value::String(self.args.vars[i].1.clone());
            if restorer.restore(&mut v, "").is_err() {
                if candidates.is_empty() {
                    bail!("var.{name} is sensitive and was given with --var when planning: a saved plan does not hold its value; give it again (--var {name}=... or RUNFORM_VAR_{name}) to apply");
                }
                bail!("var.{name}: the value given is not the one this plan was made with; give the same value, or make a new plan");
            }
            self.args.vars[i].1 = v.as_str().unwrap_or_default().to_string();
        }
        Ok(())
    }

    /// The plan with its secrets back, taken from `candidates` (the configuration's values
    /// and sensitive values, the state, the live objects). A secret no candidate matches has
    /// changed since the plan was made: refused, naming where it was.
    pub fn restore(mut self, candidates: &[String]) -> anyhow::Result<PlanFile> {
        let restorer = Restorer::new(&self.salt, candidates.iter().map(String::as_str));
        for part in VALUE_PARTS {
            let Some(mut x) = self.raw.get(*part).cloned() else {
                continue;
            };
            if let Err(redact::Unresolved(at)) = restorer.restore(&mut x, part) {
                let addr = change_at(&self.raw, &at).unwrap_or_else(|| at.clone());
                bail!("the saved plan is stale: the sensitive value of {addr} is not the one planned\nhint: a saved plan holds no secrets; apply reads them again from the variables (--var, .tfvars files, RUNFORM_VAR_* / TF_VAR_*), the state and the live objects: give the values given when planning, or make a new plan");
            }
            self.raw[*part] = x;
        }
        self.raw["args"] = serde_json::to_value(&self.args)?;
        Ok(serde_json::from_value(self.raw)?)
    }
}

/// The address of the change a JSON path (`plan.changes[3].attrs[1].new`) points into, and
/// the attribute (`template.template.containers[0].env[0].value`) when it names one.
fn change_at(raw: &Value, at: &str) -> Option<String> {
    let index = |s: &str| -> Option<usize> { s.split(']').next()?.parse().ok() };
    let rest = at.strip_prefix("plan.changes[")?;
    let change = &raw["plan"]["changes"][index(rest)?];
    let addr = change["addr"].as_str()?;
    let attr = rest
        .split_once("].attrs[")
        .and_then(|(_, a)| index(a))
        .and_then(|j| change["attrs"][j]["path"].as_str());
    Some(match attr {
        Some(path) => format!("{addr}.{path}"),
        None => addr.to_string(),
    })
}

/// Every value the configuration, state and live objects hold: what a saved plan's
/// secrets are restored from.
pub fn candidates(
    stack: &crate::config::Stack,
    state: &crate::state::State,
    live: &crate::plan::Live,
) -> Vec<String> {
    let mut out = stack.sensitive_values.clone();
    for rc in &stack.resources {
        redact::leaves(&rc.values, &mut out);
    }
    for e in state.resources.values() {
        redact::leaves(&e.values.to_value(), &mut out);
        out.push(e.id.clone());
    }
    for v in live.values() {
        if let Ok(j) = serde_json::from_str::<Value>(v.get()) {
            redact::leaves(&j, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}
