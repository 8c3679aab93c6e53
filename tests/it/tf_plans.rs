//! runform's plan JSON against Terraform's, for stacks both can plan here (terraform_data,
//! variables, outputs): tests/plans/*/terraform.json was recorded from Terraform 1.11.4 by
//! tests/plans/record.py; the same steps are run with runform and `show --json` of its saved
//! plan is compared on resource_changes (actions, before, after, after_unknown, sensitivity)
//! and output_changes.
//!
//! One divergence is masked on both sides: runform leaves sensitive values out of plan JSON
//! (null), where Terraform writes them in clear.

use super::cli_support::{runform, text};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

fn plans_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/plans")
}

/// `true` in a sensitivity mirror: the value there becomes null.
fn mask(v: &Value, sensitive: &Value) -> Value {
    match (v, sensitive) {
        (_, Value::Bool(true)) => Value::Null,
        (Value::Object(m), Value::Object(s)) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), s.get(k).map_or(x.clone(), |sk| mask(x, sk))))
                .collect(),
        ),
        (Value::Array(a), Value::Array(s)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| s.get(i).map_or(x.clone(), |si| mask(x, si)))
                .collect(),
        ),
        (x, _) => x.clone(),
    }
}

fn scrub_ids(v: &Value, ids: &[String]) -> Value {
    match v {
        Value::String(s) if ids.contains(s) => Value::String("<id>".into()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), scrub_ids(x, ids)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| scrub_ids(x, ids)).collect()),
        x => x.clone(),
    }
}

/// A plan JSON document reduced as record.py reduces Terraform's: each resource change's
/// compared fields by address, and output_changes.
fn reduced(plan: &Value) -> Value {
    let keep = [
        "actions",
        "before",
        "after",
        "after_unknown",
        "before_sensitive",
        "after_sensitive",
    ];
    let mut changes = Map::new();
    for rc in plan["resource_changes"].as_array().into_iter().flatten() {
        let c = &rc["change"];
        let m: Map<String, Value> = keep
            .iter()
            .filter_map(|k| c.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        changes.insert(
            rc["address"].as_str().unwrap().to_string(),
            Value::Object(m),
        );
    }
    serde_json::json!({ "resource_changes": changes, "output_changes": plan["output_changes"] })
}

/// Sensitive values masked (runform leaves them out), ids replaced.
fn comparable(reduced: &Value, ids: &[String]) -> Value {
    let mut changes = Map::new();
    for (addr, c) in reduced["resource_changes"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let mut c = c.clone();
        c["before"] = mask(&c["before"], &c["before_sensitive"]);
        c["after"] = mask(&c["after"], &c["after_sensitive"]);
        changes.insert(addr.clone(), c);
    }
    let mut outputs = Map::new();
    for (name, c) in reduced["output_changes"].as_object().into_iter().flatten() {
        let mut c = c.clone();
        if c["after_sensitive"] == Value::Bool(true) {
            for k in ["before", "after"] {
                if c.get(k).is_some() {
                    c[k] = Value::Null;
                }
            }
        }
        outputs.insert(name.clone(), c);
    }
    scrub_ids(
        &serde_json::json!({ "resource_changes": changes, "output_changes": outputs }),
        ids,
    )
}

/// Runs a stack's steps with runform: every step but the last applied, the last planned and
/// saved; returns `show --json` of the saved plan and the ids in its prior state.
fn runform_plan(stack: &Path, work: &Path) -> (Value, Vec<String>) {
    let mut steps: Vec<PathBuf> = std::fs::read_dir(stack)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("step"))
        .collect();
    steps.sort();
    let (last, earlier) = steps.split_last().unwrap();
    for step in earlier {
        std::fs::copy(step, work.join("main.tf")).unwrap();
        let o = runform(work, &["apply", "--local", "--auto-approve", "."]);
        assert!(o.status.success(), "{}: {}", step.display(), text(&o));
    }
    std::fs::copy(last, work.join("main.tf")).unwrap();
    let o = runform(work, &["plan", "--local", "--out", "plan.bin", "."]);
    assert!(o.status.success(), "{}: {}", last.display(), text(&o));
    let o = runform(work, &["show", "--json", "plan.bin"]);
    assert!(o.status.success(), "{}", text(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut ids = Vec::new();
    for r in plan["prior_state"]["values"]["root_module"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(id) = r["values"]["id"].as_str() {
            ids.push(id.to_string());
        }
    }
    (plan, ids)
}

#[test]
fn plan_json_agrees_with_terraform_for_terraform_data_stacks() {
    let mut stacks: Vec<PathBuf> = std::fs::read_dir(plans_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("step1.tf").exists())
        .collect();
    stacks.sort();
    assert!(stacks.len() >= 3, "{stacks:?}");
    let mut failures = Vec::new();
    for stack in &stacks {
        let name = stack.file_name().unwrap().to_string_lossy().to_string();
        let recorded: Value =
            serde_json::from_str(&std::fs::read_to_string(stack.join("terraform.json")).unwrap())
                .unwrap();
        let want = comparable(&recorded, &[]);
        let work = tempfile::tempdir().unwrap();
        let (plan, ids) = runform_plan(stack, work.path());
        let got = comparable(&reduced(&plan), &ids);
        for section in ["resource_changes", "output_changes"] {
            let (w, g) = (&want[section], &got[section]);
            let keys: std::collections::BTreeSet<&String> = w
                .as_object()
                .unwrap()
                .keys()
                .chain(g.as_object().unwrap().keys())
                .collect();
            for k in keys {
                if w.get(k) != g.get(k) {
                    failures.push(format!(
                        "{name}: {section}[{k}]\n  terraform: {}\n  runform:   {}",
                        w.get(k).map_or("(none)".into(), Value::to_string),
                        g.get(k).map_or("(none)".into(), Value::to_string),
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
