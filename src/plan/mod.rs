//! The pure diff: desired (Stack) × state × live → [`Plan`]. No I/O here.

use crate::config::Stack;
use crate::diag::{Diagnostic, Diagnostics};
use crate::resources::{registry, PlanInput};
use crate::state::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
    Execute,
    /// Drop from state only (the object is already gone, or is not a cloud object).
    Forget,
    /// Record an object an interrupted apply created (found by runform's markers).
    Adopt,
    /// Only Terraform-side arguments changed (e.g. deletion_protection): state write only.
    StateOnly,
}

impl Action {
    pub fn is_change(self) -> bool {
        !matches!(self, Action::NoOp)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrChange {
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub addr: String,
    pub ty: String,
    pub action: Action,
    pub reason: Option<String>,
    pub attrs: Vec<AttrChange>,
    pub prior_id: Option<String>,
    pub new_id: Option<String>,
    /// Desired Terraform values.
    pub after: Option<Value>,
    pub before: Option<Value>,
    /// The request body to send (wire JSON).
    pub body: Option<Value>,
    #[serde(default)]
    pub extra: Value,
    #[serde(default)]
    pub adopt: bool,
    pub live_etag: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
}

impl Change {
    pub fn new(addr: &str, ty: &str) -> Change {
        Change {
            addr: addr.into(),
            ty: ty.into(),
            action: Action::NoOp,
            reason: None,
            attrs: vec![],
            prior_id: None,
            new_id: None,
            after: None,
            before: None,
            body: None,
            extra: Value::Null,
            adopt: false,
            live_etag: None,
            depends_on: vec![],
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub execute: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub lineage: String,
    pub serial: u64,
    pub config_digest: String,
    pub target: String,
    /// Live objects read, by id → etag (a saved plan is refused if any changed).
    pub live_etags: BTreeMap<String, String>,
    pub sensitive_values: Vec<String>,
    pub api_calls: u64,
    pub destroy: bool,
    /// Problems that make this plan impossible to apply (shown with the plan; apply refuses
    /// before any API call).
    #[serde(default)]
    pub blocked: Vec<String>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update | Action::StateOnly => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1
                }
                Action::Delete => s.destroy += 1,
                Action::Execute => s.execute += 1,
                Action::Forget | Action::Adopt | Action::NoOp => {}
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::NoOp | Action::Adopt | Action::Forget))
    }

    /// Whether apply has anything to write (changes, adoptions or forgets).
    pub fn has_work(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_change())
    }
}

/// The `etag` of a live object, read without parsing the rest.
pub fn etag_of(v: &serde_json::value::RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Etag {
        etag: Option<String>,
    }
    serde_json::from_str::<Etag>(v.get()).ok()?.etag
}

/// Live objects as refreshed: wire JSON text by resource id.
pub type Live = BTreeMap<String, Box<serde_json::value::RawValue>>;

/// Computes the plan. `destroy` plans the deletion of everything in state.
pub fn plan(stack: &Stack, state: &State, live: &Live, destroy: bool) -> Result<Plan, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut changes = Vec::with_capacity(stack.resources.len());
    let stack_jobs: BTreeMap<String, &Value> = stack
        .resources
        .iter()
        .filter(|r| r.ty == crate::resources::cloud_run_v2_job::TYPE)
        .map(|r| {
            (
                crate::resources::cloud_run_v2_job::id_of(&r.values),
                &r.values,
            )
        })
        .collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    if !destroy {
        let plan_one = |rc: &crate::config::ResourceConfig| -> Option<Result<Change, Diagnostic>> {
            let rt = registry(&rc.ty)?;
            let st = state.resources.get(&rc.addr);
            let id = rc.values.get("id").and_then(Value::as_str).unwrap_or("");
            let find = |id: &str| {
                rt.live_api()
                    .and_then(|a| live.get(&a.key(id)))
                    .map(|v| &**v)
            };
            let prior_live = st.and_then(|s| find(&s.id));
            let live_obj = if st.is_some_and(|s| s.id != id) {
                prior_live
            } else {
                find(id)
            };
            let input = PlanInput {
                addr: &rc.addr,
                config: Some(rc),
                state: st,
                live: live_obj,
                lineage: &state.lineage,
                stack_jobs: &stack_jobs,
            };
            Some(match rt.plan(input) {
                Ok(mut c) => {
                    c.depends_on = rc.depends_on.clone();
                    Ok(c)
                }
                Err(e) => Err(Diagnostic::error(
                    format!("{}: {e}", rc.addr),
                    Some(rc.range.clone()),
                )),
            })
        };
        // Each resource is planned on its own (pure): large stacks use every core.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = stack.resources.len().div_ceil(threads).max(256);
        let parts: Vec<Vec<Option<Result<Change, Diagnostic>>>> = std::thread::scope(|s| {
            let handles: Vec<_> = stack
                .resources
                .chunks(per)
                .map(|part| s.spawn(move || part.iter().map(plan_one).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for rc in &stack.resources {
            seen.insert(&rc.addr);
        }
        for r in parts.into_iter().flatten().flatten() {
            match r {
                Ok(c) => changes.push(c),
                Err(d) => diags.push(d),
            }
        }
    }
    // In state but not in configuration (or destroying): delete, dependents first.
    for (addr, st) in state.resources.iter().rev() {
        if seen.contains(addr.as_str()) {
            continue;
        }
        let Some(rt) = registry(&st.ty) else {
            diags.error(
                format!("{addr}: state holds unknown resource type {:?}", st.ty),
                None,
            );
            continue;
        };
        if destroy
            && st.ty == crate::resources::cloud_run_v2_job::TYPE
            && st.values.get("deletion_protection") != Some(Value::Bool(false))
        {
            diags.push(
                Diagnostic::error(format!("{addr}: cannot destroy job {} while deletion_protection is true", st.id), None).with_hint(
                    "set `deletion_protection = false` on it, run `runform apply`, then destroy (as with the Terraform provider)",
                ),
            );
            continue;
        }
        let input = PlanInput {
            addr,
            config: None,
            state: Some(st),
            live: rt
                .live_api()
                .and_then(|a| live.get(&a.key(&st.id)))
                .map(|v| &**v),
            lineage: &state.lineage,
            stack_jobs: &stack_jobs,
        };
        match rt.plan(input) {
            Ok(mut c) => {
                c.depends_on = st.deps.clone();
                changes.push(c);
            }
            Err(e) => diags.error(format!("{addr}: {e}"), None),
        }
    }
    let mut blocked = Vec::new();
    if !destroy {
        for c in &changes {
            if c.action == Action::Delete && c.ty == crate::resources::cloud_run_v2_job::TYPE {
                let protected = state
                    .resources
                    .get(&c.addr)
                    .map(|s| s.values.get("deletion_protection") != Some(Value::Bool(false)))
                    .unwrap_or(false);
                if protected {
                    blocked.push(format!(
                        "{}: deleting job {} needs deletion_protection = false: put the resource back with `deletion_protection = false`, apply, then remove it",
                        c.addr,
                        c.prior_id.clone().unwrap_or_default()
                    ));
                }
            }
            if c.action == Action::Replace {
                if let Some(st) = state.resources.get(&c.addr) {
                    if st.values.get("deletion_protection") != Some(Value::Bool(false)) {
                        blocked.push(format!(
                            "{}: replacing job {} deletes it, and its deletion_protection is true: set `deletion_protection = false` and apply first (as with the Terraform provider)",
                            c.addr, st.id
                        ));
                    }
                }
            }
        }
    }
    // lifecycle { prevent_destroy = true }: any plan that would delete the object fails, as
    // in Terraform (removing the block from the configuration lifts the protection).
    for c in &changes {
        if !matches!(c.action, Action::Delete | Action::Replace) {
            continue;
        }
        if let Some(rc) = stack
            .resource(&c.addr)
            .filter(|r| r.lifecycle.prevent_destroy)
        {
            diags.push(
                Diagnostic::error(
                    format!(
                        "{}: lifecycle.prevent_destroy forbids this plan, which would {} it",
                        c.addr,
                        if c.action == Action::Delete { "destroy" } else { "replace (destroy and re-create)" }
                    ),
                    Some(rc.range.clone()),
                )
                .with_hint("set prevent_destroy = false (or remove the lifecycle block) if destroying it is intended"),
            );
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let live_etags = live
        .iter()
        .filter_map(|(k, v)| etag_of(v).map(|e| (k.clone(), e)))
        .collect();
    Ok(Plan {
        changes,
        lineage: state.lineage.clone(),
        serial: state.serial,
        config_digest: stack.digest.clone(),
        target: String::new(),
        live_etags,
        sensitive_values: stack.sensitive_values.clone(),
        api_calls: 0,
        destroy,
        blocked,
    })
}

/// A saved plan: exactly what was shown, checked against state and live objects on apply.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanFile {
    pub format: String,
    pub dir: String,
    pub plan: Plan,
    pub outputs: Vec<(String, Value, bool)>,
    pub local_images: Vec<crate::api::ext::ImageMapping>,
}

pub const PLANFILE_FORMAT: &str = "runform-plan-v1";
