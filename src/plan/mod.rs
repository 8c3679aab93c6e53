//! The pure diff: desired (Stack) × state × live → [`Plan`]. No I/O here.

pub mod json;
pub mod redact;

use crate::config::Stack;
use crate::diag::{Diagnostic, Diagnostics};
use crate::resources::{registry, PlanInput};
use crate::state::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub use crate::model::change::{Action, AttrChange, Change, REMOVED_BLOCK};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub import: usize,
    /// Objects a `removed` block lets go of (state only).
    pub forget: usize,
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
    /// What the plan read of each live object it looked up, by live key: its etag, a
    /// digest of an object without one, or "" for one that did not exist. A saved plan is
    /// refused if any of them is different when it is applied.
    pub live_etags: BTreeMap<String, String>,
    /// The objects (type, id) the plan looked up: those in the state and those configured.
    #[serde(default)]
    pub read_objects: Vec<(String, String)>,
    pub sensitive_values: Vec<String>,
    pub api_calls: u64,
    pub destroy: bool,
    /// Problems that make this plan impossible to apply (shown with the plan; apply refuses
    /// before any API call).
    #[serde(default)]
    pub blocked: Vec<String>,
    /// Objects changed (or deleted) outside runform since the last apply.
    #[serde(default)]
    pub drift: Vec<Drift>,
    /// `--target` narrowed the plan (it may be incomplete).
    #[serde(default)]
    pub targeted: bool,
    /// `--refresh-only`: only state updates for what changed outside runform.
    #[serde(default)]
    pub refresh_only: bool,
    /// `moved` renames this plan makes in the state, instance by instance.
    #[serde(default)]
    pub moves: Vec<(String, String)>,
    /// Things a reviewer must see (an authoritative project binding and whom it removes).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// An object that changed outside runform: `attrs` go from what runform last applied (`old`)
/// to what is live now (`new`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub addr: String,
    pub ty: String,
    pub deleted: bool,
    pub attrs: Vec<AttrChange>,
}

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Plan the deletion of everything in state.
    pub destroy: bool,
    /// `--target`: only these addresses (and what they need).
    pub targets: Vec<String>,
    /// `--replace`: destroy and re-create these even if nothing changed.
    pub replace: Vec<String>,
    /// `--refresh-only`: record what changed outside runform, change nothing.
    pub refresh_only: bool,
    /// `runform import ADDR ID` (the configuration's `import` blocks are added to these).
    pub imports: Vec<(String, String)>,
}

/// Applies `moved` renames to a state: each `from` (a resource instance, a whole resource, or
/// a module) present in the state and not yet at `to` is renamed. Returns the renames done,
/// instance by instance.
pub fn apply_moves(
    state: &mut State,
    moves: &[(String, String)],
) -> Result<Vec<(String, String)>, String> {
    let mut done = Vec::new();
    for (from, to) in moves {
        let hits: Vec<String> = state
            .resources
            .keys()
            .filter(|a| addr_matches(a, from))
            .cloned()
            .collect();
        for old in hits {
            let new = format!("{to}{}", &old[from.len()..]);
            if state.resources.contains_key(&new) {
                return Err(format!(
                    "moved: cannot move {old} to {new}: the state already has {new}"
                ));
            }
            if let Some(e) = state.resources.remove(&old) {
                state.resources.insert(new.clone(), e);
            }
            for e in state.resources.values_mut() {
                for d in e.deps.iter_mut() {
                    if *d == old {
                        *d = new.clone();
                    }
                }
            }
            done.push((old, new));
        }
    }
    Ok(done)
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            if c.import_id.is_some() {
                s.import += 1;
            }
            if c.is_removed_block_forget() {
                s.forget += 1;
            }
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
        !self.moves.is_empty()
            || self.changes.iter().any(|c| {
                c.import_id.is_some()
                    || c.is_removed_block_forget()
                    || !matches!(c.action, Action::NoOp | Action::Adopt | Action::Forget)
            })
    }

    /// Whether apply has anything to write (changes, adoptions, forgets or moves).
    pub fn has_work(&self) -> bool {
        !self.moves.is_empty() || self.changes.iter().any(|c| c.action.is_change())
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

/// What a plan saw of a live object: its etag, or for an object without one a digest of
/// its (canonical) JSON.
pub fn fingerprint(v: &serde_json::value::RawValue) -> String {
    use sha2::Digest;
    etag_of(v).unwrap_or_else(|| {
        let canonical = serde_json::from_str::<Value>(v.get())
            .map(|j| j.to_string())
            .unwrap_or_else(|_| v.get().to_string());
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(canonical)))
    })
}

/// The objects (type, id) a plan looks up in the live objects: every state entry's, and
/// every configured instance's (its import id when it is imported).
fn objects_read(
    stack: &Stack,
    state: &State,
    imports: &BTreeMap<&str, &str>,
    destroy: bool,
) -> Vec<(String, String)> {
    let mut read: BTreeSet<(String, String)> = state
        .resources
        .values()
        .map(|e| (e.ty.clone(), e.id.clone()))
        .collect();
    for rc in stack.resources.iter().filter(|_| !destroy) {
        let Some(rt) = registry(&rc.ty) else { continue };
        let id = match imports.get(rc.addr.as_str()) {
            Some(iid) => rt.canonical_id(iid, &rc.values),
            None => match rc.values.get("id").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => continue,
            },
        };
        read.insert((rc.ty.clone(), id));
    }
    read.into_iter()
        .filter(|(ty, id)| !id.is_empty() && registry(ty).and_then(|rt| rt.live_api()).is_some())
        .collect()
}

/// What `live` holds for each object read (see [`Plan::live_etags`]).
pub fn fingerprints(objects: &[(String, String)], live: &Live) -> BTreeMap<String, String> {
    objects
        .iter()
        .filter_map(|(ty, id)| registry(ty)?.live_api().map(|a| a.key(id)))
        .map(|key| {
            let seen = live.get(&key).map(|v| fingerprint(v)).unwrap_or_default();
            (key, seen)
        })
        .collect()
}

/// Live objects as refreshed: wire JSON text by resource id.
pub type Live = BTreeMap<String, Box<serde_json::value::RawValue>>;

/// `a.b[0].c` / `a.0.b` → comparable form: `[0]`/`.0` steps dropped (single blocks are
/// objects here), case and underscores ignored (wire paths are camelCase).
fn norm_path(p: &str) -> String {
    p.replace("[0]", "")
        .split('.')
        .filter(|s| *s != "0")
        .collect::<Vec<_>>()
        .join(".")
        .replace('_', "")
        .to_lowercase()
}

/// Whether an attribute path lies under an `ignore_changes` path.
fn path_under(attr: &str, ignored: &str) -> bool {
    let (a, i) = (norm_path(attr), norm_path(ignored));
    a == i
        || a.strip_prefix(&i)
            .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
}

/// Sets (or, with `None`, removes) the value at a path of object keys and list indexes.
fn set_at(v: &mut Value, steps: &[(String, Option<usize>)], new: &Option<Value>) {
    let Some(((name, idx), rest)) = steps.split_first() else {
        return;
    };
    let Value::Object(m) = v else { return };
    if rest.is_empty() && idx.is_none() {
        match new {
            Some(x) => {
                m.insert(name.clone(), x.clone());
            }
            None => {
                m.remove(name);
            }
        }
        return;
    }
    let Some(child) = m.get_mut(name) else { return };
    let child = match (idx, child) {
        (Some(i), Value::Array(a)) => match a.get_mut(*i) {
            Some(c) => c,
            None => return,
        },
        (_, c) => c,
    };
    if rest.is_empty() {
        if let Some(x) = new {
            *child = x.clone();
        }
        return;
    }
    set_at(child, rest, new);
}

/// The configuration with `ignore_changes` attributes taken from the prior state.
fn with_ignored(
    rc: &crate::config::ResourceConfig,
    prior: &crate::state::StateEntry,
) -> crate::config::ResourceConfig {
    let mut out = rc.clone();
    let before = prior.values.to_value();
    if rc.lifecycle.ignore_all {
        if before.is_object() {
            out.values = before;
            // The prior values are known: nothing is left for apply to fill in.
            out.unknown.clear();
        }
        return out;
    }
    for p in &rc.lifecycle.ignore_changes {
        let steps: Vec<(String, Option<usize>)> = p
            .split('.')
            .filter(|s| *s != "0")
            .map(|seg| match seg.find('[') {
                Some(i) => (
                    seg[..i].to_string(),
                    seg[i + 1..].trim_end_matches(']').parse::<usize>().ok(),
                ),
                None => (seg.to_string(), None),
            })
            .collect();
        let get = |v: &Value| -> Option<Value> {
            let mut cur = v;
            for (name, idx) in &steps {
                cur = cur.get(name)?;
                if let (Some(i), Value::Array(a)) = (idx, cur) {
                    cur = a.get(*i)?;
                }
            }
            Some(cur.clone())
        };
        let old = get(&before);
        set_at(&mut out.values, &steps, &old);
        // The ignored value comes from state, which is known.
        let internal = steps.iter().fold(String::new(), |acc, (name, idx)| {
            let p = crate::model::schema::join(&acc, name);
            match idx {
                Some(i) => format!("{p}[{i}]"),
                None => p,
            }
        });
        out.unknown
            .retain(|u| !crate::config::path_within(u, &internal));
    }
    out
}

pub use crate::config::address::addr_matches;

/// Computes the plan.
pub fn plan(
    stack: &Stack,
    state: &State,
    live: &Live,
    opts: &PlanOptions,
) -> Result<Plan, Diagnostics> {
    let destroy = opts.destroy;
    let mut diags = Diagnostics::default();
    for r in &opts.replace {
        if !stack.resources.iter().any(|rc| rc.addr == *r) || !state.resources.contains_key(r) {
            diags.push(
                Diagnostic::error(format!("--replace {r}: no resource instance with this address is both in the configuration and in the state"), None)
                    .with_hint("give a full instance address, e.g. google_cloud_run_v2_job.etl or module.m.google_cloud_run_v2_job.this[\"a\"]"),
            );
        }
    }
    let mut changes = Vec::with_capacity(stack.resources.len());
    let stack_jobs = stack_jobs(stack);
    let imports: BTreeMap<&str, &str> = stack
        .imports
        .iter()
        .chain(opts.imports.iter())
        .map(|(a, i)| (a.as_str(), i.as_str()))
        .collect();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    if !destroy {
        let plan_one = |rc: &crate::config::ResourceConfig| {
            plan_configured(rc, state, live, opts, &imports, &stack_jobs)
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
        let policy = st.values.get_str("deletion_policy");
        if policy.as_deref() == Some("PREVENT") {
            diags.push(
                Diagnostic::error(
                    format!(
                        "{addr}: cannot delete {} while its deletion_policy is \"PREVENT\"",
                        st.id
                    ),
                    None,
                )
                .with_hint(
                    "set `deletion_policy = \"DELETE\"` (or \"ABANDON\") on it and apply first",
                ),
            );
            continue;
        }
        if policy.as_deref() == Some("ABANDON") {
            let mut c = Change::new(addr, &st.ty);
            c.action = Action::Forget;
            c.prior_id = Some(st.id.clone());
            c.reason = Some(
                "its deletion_policy is \"ABANDON\": it leaves the state and the object stays"
                    .into(),
            );
            c.depends_on = st.deps.clone();
            changes.push(c);
            continue;
        }
        if destroy && crate::resources::deletion_protected(&st.ty, &st.values) {
            diags.push(
                Diagnostic::error(format!("{addr}: cannot destroy {} while deletion_protection is true", st.id), None).with_hint(
                    "set `deletion_protection = false` on it, run `runform apply`, then destroy (as with the Terraform provider)",
                ),
            );
            continue;
        }
        if !destroy {
            if let Some((from, _)) = stack
                .removed
                .iter()
                .find(|(f, d)| !d && addr_matches(addr, f))
            {
                let mut c = Change::new(addr, &st.ty);
                c.action = Action::Forget;
                c.prior_id = Some(st.id.clone());
                c.reason = Some(format!(
                    "{REMOVED_BLOCK} {from} says destroy = false: the object stays, unmanaged"
                ));
                c.depends_on = st.deps.clone();
                changes.push(c);
                continue;
            }
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
                // A destroy still has the resource's configuration: its delete timeout.
                if let Some(rc) = stack.resource(addr) {
                    c.timeouts = rc.timeouts.clone();
                }
                changes.push(c);
            }
            Err(e) => diags.error(format!("{addr}: {e}"), None),
        }
    }
    // lifecycle.replace_triggered_by: replace a resource when one it names is created,
    // updated or replaced by this plan.
    // Resources that have any (usually none): looked up by address, not by scanning.
    let with_triggers: BTreeMap<&str, &crate::config::ResourceConfig> = stack
        .resources
        .iter()
        .filter(|r| !r.lifecycle.replace_triggered_by.is_empty())
        .map(|r| (r.addr.as_str(), r))
        .collect();
    if !destroy && !opts.refresh_only && !with_triggers.is_empty() {
        let changed: Vec<&str> = changes
            .iter()
            .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace))
            .map(|c| c.addr.as_str())
            .collect();
        let mut triggered: Vec<(usize, String)> = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            if !matches!(c.action, Action::NoOp | Action::Update | Action::StateOnly) {
                continue;
            }
            let Some(rc) = with_triggers.get(c.addr.as_str()) else {
                continue;
            };
            if let Some(t) = rc
                .lifecycle
                .replace_triggered_by
                .iter()
                .find(|t| changed.iter().any(|a| addr_matches(a, t)))
            {
                triggered.push((i, t.clone()));
            }
        }
        for (i, trigger) in triggered {
            let addr = changes[i].addr.clone();
            let (Some(rc), Some(st), Some(rt)) = (
                stack.resource(&addr),
                state.resources.get(&addr),
                registry(&changes[i].ty),
            ) else {
                continue;
            };
            let fresh = rt.plan(PlanInput {
                addr: &addr,
                config: Some(rc),
                state: None,
                live: None,
                lineage: &state.lineage,
                stack_jobs: &stack_jobs,
            });
            match fresh {
                Ok(mut c) if c.action == Action::Create => {
                    c.action = Action::Replace;
                    c.prior_id = Some(st.id.clone());
                    c.before = Some(st.values.to_value());
                    c.reason = Some(format!(
                        "replace_triggered_by: {trigger} changes in this plan"
                    ));
                    c.depends_on = rc.depends_on.clone();
                    if !c.depends_on.contains(&trigger) {
                        c.depends_on.push(trigger.clone());
                    }
                    changes[i] = c;
                }
                Ok(_) => {}
                Err(e) => diags.error(format!("{addr}: {e}"), Some(rc.range.clone())),
            }
        }
    }
    // What changed outside runform: for objects the plan touches (a no-op plan has nothing
    // drifted that matters), or for everything with --refresh-only.
    let mut drift = Vec::new();
    if !destroy {
        let touched: BTreeSet<&str> = changes
            .iter()
            .filter(|c| {
                opts.refresh_only
                    || matches!(
                        c.action,
                        Action::Update | Action::Replace | Action::Create | Action::Forget
                    )
            })
            .map(|c| c.addr.as_str())
            .collect();
        for (addr, st) in &state.resources {
            if !opts.refresh_only && !touched.contains(addr.as_str()) {
                continue;
            }
            if let Some(d) = drift_of(addr, st, live, &state.lineage, &stack_jobs) {
                drift.push(d);
            }
        }
    }
    if opts.refresh_only {
        // Only the state update: forget what is gone; nothing is created or changed.
        changes.retain(|c| c.action == Action::Forget);
        for d in drift.iter().filter(|d| d.deleted) {
            if !changes.iter().any(|c| c.addr == d.addr) {
                let mut c = Change::new(&d.addr, &d.ty);
                c.action = Action::Forget;
                c.prior_id = state.resources.get(&d.addr).map(|s| s.id.clone());
                c.reason = Some("it was deleted outside runform".into());
                changes.push(c);
            }
        }
    }
    let targeted = !opts.targets.is_empty();
    if targeted {
        match select_targets(changes, &opts.targets, stack, state) {
            Ok(c) => changes = c,
            Err(e) => {
                diags.error(e, None);
                changes = Vec::new();
            }
        }
    }
    let mut blocked = Vec::new();
    if !destroy {
        for c in &changes {
            let Some(st) = state.resources.get(&c.addr) else {
                continue;
            };
            let policy = st.values.get_str("deletion_policy");
            if c.action == Action::Replace
                && matches!(policy.as_deref(), Some("PREVENT") | Some("ABANDON"))
            {
                blocked.push(format!(
                    "{}: replacing {} needs deleting it, and its deletion_policy is {:?}: set it to \"DELETE\" and apply first",
                    c.addr,
                    st.id,
                    policy.unwrap_or_default()
                ));
                continue;
            }
            if !crate::resources::deletion_protected(&c.ty, &st.values) {
                continue;
            }
            if c.action == Action::Delete {
                blocked.push(format!(
                    "{}: deleting {} needs deletion_protection = false: put the resource back with `deletion_protection = false`, apply, then remove it",
                    c.addr,
                    c.prior_id.clone().unwrap_or_default()
                ));
            }
            if c.action == Action::Replace {
                blocked.push(format!(
                    "{}: replacing {} deletes it, and its deletion_protection is true: set `deletion_protection = false` and apply first (as with the Terraform provider)",
                    c.addr, st.id
                ));
            }
        }
    }
    if destroy {
        // A destroy deletes what is still configured: "no longer in the configuration" is not
        // why (Terraform gives no reason then).
        const GONE: &str = "it is no longer in the configuration";
        for c in &mut changes {
            if let Some(r) = c.reason.take() {
                c.reason = match r.strip_prefix(GONE) {
                    Some(rest) if stack.resource(&c.addr).is_some() => {
                        let rest = rest.trim_start_matches([';', ' ']);
                        let rest = rest.trim_start_matches('(').trim_end_matches(')');
                        (!rest.is_empty()).then(|| rest.to_string())
                    }
                    _ => Some(r),
                };
            }
        }
    }
    // lifecycle { prevent_destroy = true }: any plan that would delete the object fails, as
    // in Terraform (removing the block from the configuration lifts the protection).
    let protected: BTreeMap<&str, &crate::config::ResourceConfig> = stack
        .resources
        .iter()
        .filter(|r| r.lifecycle.prevent_destroy)
        .map(|r| (r.addr.as_str(), r))
        .collect();
    for c in &changes {
        if !matches!(c.action, Action::Delete | Action::Replace) {
            continue;
        }
        if let Some(rc) = protected.get(c.addr.as_str()) {
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
    let mut warnings = Vec::new();
    for c in &changes {
        let Some(a) = c.extra.get("authoritative") else {
            continue;
        };
        let role = a["role"].as_str().unwrap_or("");
        let project = a["project"].as_str().unwrap_or("");
        let removes: Vec<&str> = a["removes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        warnings.push(if removes.is_empty() {
            format!("{} is authoritative for {role} across the whole project {project}: anyone granted {role} on the project outside it loses the role on every apply", c.addr)
        } else {
            format!("{} is authoritative for {role} across the whole project {project}: this apply removes {} from {role} (granted outside this binding); use google_project_iam_member to add members without removing others", c.addr, removes.join(", "))
        });
    }
    let read_objects = objects_read(stack, state, &imports, destroy);
    let live_etags = fingerprints(&read_objects, live);
    Ok(Plan {
        changes,
        lineage: state.lineage.clone(),
        serial: state.serial,
        config_digest: stack.digest.clone(),
        target: String::new(),
        live_etags,
        read_objects,
        sensitive_values: stack.sensitive_values.clone(),
        api_calls: 0,
        destroy,
        blocked,
        drift,
        targeted,
        refresh_only: opts.refresh_only,
        moves: Vec::new(),
        warnings,
    })
}

/// The configuration's jobs by full name (what job-reading types, such as IAM on a job,
/// need to plan against).
fn stack_jobs(stack: &Stack) -> BTreeMap<String, &Value> {
    crate::resources::cloud_run_v2_job::jobs_in(&stack.resources)
        .map(|(id, r)| (id, &r.values))
        .collect()
}

/// Plans `addrs` again during apply, from a configuration read against the state as it is
/// now (what they waited for is applied, so their values are known). `replacing` are the ones
/// the original plan replaces: they stay replacements whatever the new values are.
pub fn replan(
    stack: &Stack,
    state: &State,
    live: &Live,
    addrs: &[String],
    replacing: &[String],
) -> BTreeMap<String, Result<Change, String>> {
    let stack_jobs = stack_jobs(stack);
    let opts = PlanOptions {
        replace: replacing.to_vec(),
        ..Default::default()
    };
    let imports: BTreeMap<&str, &str> = stack
        .imports
        .iter()
        .map(|(a, i)| (a.as_str(), i.as_str()))
        .collect();
    addrs
        .iter()
        .map(|addr| {
            let planned = match stack.resource(addr) {
                None => Err("it is no longer in the configuration".to_string()),
                Some(rc) => match plan_configured(rc, state, live, &opts, &imports, &stack_jobs) {
                    None => Err(format!("{} is not a type runform manages", rc.ty)),
                    Some(r) => r.map_err(|d| d.summary),
                },
            };
            (addr.clone(), planned)
        })
        .collect()
}

/// Plans one configured resource instance: imports, `ignore_changes`, `--replace`, and values
/// known only after apply (a deferred change, planned again during apply).
fn plan_configured(
    rc: &crate::config::ResourceConfig,
    state: &State,
    live: &Live,
    opts: &PlanOptions,
    imports: &BTreeMap<&str, &str>,
    stack_jobs: &BTreeMap<String, &Value>,
) -> Option<Result<Change, Diagnostic>> {
    let rt = registry(&rc.ty)?;
    let st = state.resources.get(&rc.addr);
    let id = rc.values.get("id").and_then(Value::as_str).unwrap_or("");
    let find = |id: &str| {
        rt.live_api()
            .and_then(|a| live.get(&a.key(id)))
            .map(|v| &**v)
    };
    // Import: plan against the existing object as if the state already held it with
    // the configured values; "no change" then means "adopt".
    let canonical_import;
    let import_id = if st.is_none() {
        canonical_import = imports
            .get(rc.addr.as_str())
            .map(|iid| rt.canonical_id(iid, &rc.values));
        canonical_import.as_deref()
    } else {
        None
    };
    let imported;
    let st = match import_id {
        Some(iid) => {
            if rt.live_api().is_none() {
                return Some(Err(Diagnostic::error(
                    format!("{}: {} cannot be imported", rc.addr, rc.ty),
                    Some(rc.range.clone()),
                )));
            }
            if find(iid).is_none() {
                return Some(Err(Diagnostic::error(
                    format!(
                        "{}: cannot import {iid:?}: no such object was found",
                        rc.addr
                    ),
                    Some(rc.range.clone()),
                )
                .with_hint(
                    "give the object's full resource name, e.g. projects/P/locations/L/jobs/NAME",
                )));
            }
            imported = crate::state::StateEntry {
                ty: rc.ty.clone(),
                id: iid.to_string(),
                values: crate::state::Values::new(&rc.values),
                deps: Vec::new(),
                extra: Value::Null,
                sensitive: Vec::new(),
            };
            Some(&imported)
        }
        None => st,
    };
    let prior_live = st.and_then(|s| find(&s.id));
    let live_obj = if st.is_some_and(|s| s.id != id) {
        prior_live
    } else {
        find(id)
    };
    // lifecycle.ignore_changes: the configuration's values of those attributes give way
    // to the last applied ones, and differences in them are not planned.
    let lc = &rc.lifecycle;
    let ignoring = st.is_some() && (lc.ignore_all || !lc.ignore_changes.is_empty());
    let adjusted;
    let rc = if let (true, Some(prior)) = (ignoring, st) {
        adjusted = with_ignored(rc, prior);
        &adjusted
    } else {
        rc
    };
    // --replace: planned as a fresh create, then turned into a replacement.
    let forced = st.filter(|_| opts.replace.contains(&rc.addr));
    if !rc.unknown.is_empty() {
        let c = plan_deferred(
            rt,
            rc,
            st,
            live_obj,
            &state.lineage,
            stack_jobs,
            forced.is_some(),
        )
        .map(|mut c| {
            mark_sensitive(&mut c, rc, st);
            if let Some(info) = crate::resources::type_info(&rc.ty) {
                computed_after(&mut c, info.schema(), &rc.values);
            }
            c
        });
        return Some(
            c.map_err(|e| Diagnostic::error(format!("{}: {e}", rc.addr), Some(rc.range.clone()))),
        );
    }
    let input = PlanInput {
        addr: &rc.addr,
        config: Some(rc),
        state: if forced.is_some() { None } else { st },
        live: if forced.is_some() { None } else { live_obj },
        lineage: &state.lineage,
        stack_jobs,
    };
    Some(match rt.plan(input) {
        Ok(mut c) => {
            terraform_only_changes(&mut c, rc, st);
            c.timeouts = rc.timeouts.clone();
            if let Some(st) = st.filter(|_| forced.is_none()) {
                if let Some(path) = changed_unread_force_new(rc, st) {
                    // Not read back from the API: only the state shows the change.
                    let fresh = rt.plan(PlanInput {
                        addr: &rc.addr,
                        config: Some(rc),
                        state: None,
                        live: None,
                        lineage: &state.lineage,
                        stack_jobs,
                    });
                    if let Ok(mut f) = fresh {
                        f.action = Action::Replace;
                        f.prior_id = Some(st.id.clone());
                        f.before = Some(st.values.to_value());
                        f.reason = Some(format!("{path} changed, and it cannot change in place"));
                        f.attrs = vec![AttrChange::new(
                            path,
                            st.values.get(path),
                            rc.values.get(path).cloned(),
                        )];
                        c = f;
                    }
                }
            }
            if let Some(iid) = import_id {
                if matches!(c.action, Action::NoOp | Action::StateOnly) {
                    // The object matches: adopt it. Apply reads what a create would
                    // send (no-op plans carry no request body).
                    let fresh = rt.plan(PlanInput {
                        addr: &rc.addr,
                        config: Some(rc),
                        state: None,
                        live: None,
                        lineage: &state.lineage,
                        stack_jobs,
                    });
                    if let Ok(f) = fresh {
                        c.body = f.body;
                        c.extra = f.extra;
                    }
                    c.action = Action::Adopt;
                    c.after = Some(rc.values.clone());
                    c.new_id = Some(iid.to_string());
                }
                c.adopt = true;
                c.import_id = Some(iid.to_string());
                c.reason = Some(match c.action {
                    Action::Adopt => format!("import {iid}"),
                    _ => format!("import {iid}; the object differs from the configuration"),
                });
            }
            if ignoring && forced.is_none() {
                c.attrs.retain(|a| {
                    !lc.ignore_all && !lc.ignore_changes.iter().any(|p| path_under(&a.path, p))
                });
                if matches!(c.action, Action::Update | Action::StateOnly) && c.attrs.is_empty() {
                    c.action = Action::NoOp;
                    c.body = None;
                }
            }
            if let (Some(st), Action::Create) = (forced, c.action) {
                c.action = Action::Replace;
                c.prior_id = Some(st.id.clone());
                c.before = Some(st.values.to_value());
                c.reason = Some("--replace asked for it".into());
            }
            c.depends_on = rc.depends_on.clone();
            mark_sensitive(&mut c, rc, st);
            if let Some(info) = crate::resources::type_info(&rc.ty) {
                computed_after(&mut c, info.schema(), &rc.values);
            }
            Ok(c)
        }
        Err(e) => Err(Diagnostic::error(
            format!("{}: {e}", rc.addr),
            Some(rc.range.clone()),
        )),
    })
}

/// What the server computes anew, known only after apply: every computed value of a new
/// object; the volatile ones (etags, update times, terraform_data's output) of an update.
fn computed_after(c: &mut Change, schema: &crate::model::Schema, values: &Value) {
    if !c.computed.is_empty() {
        return;
    }
    match c.action {
        Action::Create | Action::Replace => {
            // Labels the provider derives are known from the configuration.
            let mut v = values.clone();
            schema.derive_label_attrs(&mut v, &mut c.unknown.clone());
            schema.unset_computed(&v, &mut c.computed)
        }
        Action::Update => c.computed.extend(
            schema
                .attrs
                .iter()
                .filter(|a| a.volatile && a.supported)
                .map(|a| a.name.clone()),
        ),
        _ => {}
    }
}

/// Marks what the plan must not show: values sensitive in the configuration, or when last
/// applied (recorded in the state), and every attribute change at or around them.
fn mark_sensitive(
    c: &mut Change,
    rc: &crate::config::ResourceConfig,
    st: Option<&crate::state::StateEntry>,
) {
    let mut paths = rc.sensitive.clone();
    for p in st.into_iter().flat_map(|s| s.sensitive.iter()) {
        if !paths.contains(p) {
            paths.push(p.clone());
        }
    }
    for a in &mut c.attrs {
        a.sensitive |= crate::model::change::path_in(&a.path, &paths)
            || paths.iter().any(|p| crate::config::path_within(p, &a.path));
    }
    c.sensitive = paths;
}

/// The change for a resource some of whose values are known only after apply: created, or
/// updated (replaced when an unknown value forces replacement), with the known differences
/// planned by the type's own rules (the unknown values taken as they are now), and the
/// unknown ones shown as `(known after apply)`. It is planned again during apply, once
/// those values are known.
fn plan_deferred(
    rt: &dyn crate::resources::ResourceType,
    rc: &crate::config::ResourceConfig,
    st: Option<&crate::state::StateEntry>,
    live: Option<&serde_json::value::RawValue>,
    lineage: &str,
    stack_jobs: &BTreeMap<String, &Value>,
    forced: bool,
) -> Result<Change, String> {
    use crate::model::schema::{json_get, json_set};
    let schema = crate::resources::type_info(&rc.ty).map(|t| t.schema());
    let mut c = Change::new(&rc.addr, &rc.ty);
    c.after = Some(rc.values.clone());
    c.unknown = rc.unknown.clone();
    c.sensitive = rc.sensitive.clone();
    c.depends_on = rc.depends_on.clone();
    c.new_id = rc
        .values
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let computed = |c: &mut Change| {
        if let Some(s) = schema {
            s.unset_computed(&rc.values, &mut c.computed);
        }
    };
    let Some(st) = st else {
        c.action = Action::Create;
        computed(&mut c);
        return Ok(c);
    };
    c.prior_id = Some(st.id.clone());
    let prior = st.values.to_value();
    c.before = Some(prior.clone());
    // What can be judged now: the type's own plan with the unknown values as they are.
    let mut filled = rc.clone();
    for p in &rc.unknown {
        if let Some(v) = json_get(&prior, p) {
            json_set(&mut filled.values, p, v.clone());
        }
    }
    filled.unknown.clear();
    let known = rt.plan(PlanInput {
        addr: &rc.addr,
        config: Some(&filled),
        state: Some(st),
        live,
        lineage,
        stack_jobs,
    })?;
    // Whether a path is, or is inside, an argument or block that forces replacement
    // (`triggers.id` is inside the map `triggers`).
    let forces = |p: &str| {
        let Some(s) = schema else { return false };
        let names: Vec<&str> = p
            .split('.')
            .map(|seg| seg.split('[').next().unwrap_or(seg))
            .collect();
        (1..=names.len()).any(|n| {
            let prefix = names[..n].join(".");
            s.attr_at(&prefix).is_some_and(|a| a.force_new)
                || prefix
                    .rsplit_once('.')
                    .map_or(s.block(&prefix), |(parent, name)| {
                        s.at(parent).and_then(|ps| ps.block(name))
                    })
                    .is_some_and(|b| b.force_new)
        })
    };
    if matches!(
        known.action,
        Action::Update | Action::Replace | Action::StateOnly
    ) {
        c.attrs = known.attrs.clone();
    }
    for p in &rc.unknown {
        c.attrs.retain(|a| a.path != *p);
        let mut a = AttrChange::new(p.clone(), json_get(&prior, p).cloned(), None);
        a.unknown = true;
        c.attrs.push(a);
    }
    let replace = forced || known.action == Action::Replace || rc.unknown.iter().any(|p| forces(p));
    c.action = if replace {
        computed(&mut c);
        Action::Replace
    } else {
        Action::Update
    };
    c.reason = Some(if forced {
        "--replace asked for it".into()
    } else if replace {
        "a value that forces replacement is known only after apply".into()
    } else {
        "values it is given are known only after apply".into()
    });
    Ok(c)
}

/// How the live object differs from what runform last applied, planned by the resource's
/// own rules with the state's values as the desired ones (so provider defaults and
/// server-side normalisation are not mistaken for drift).
/// Arguments the provider sends on create and never reads back, whose change replaces the
/// object (Resource Manager `tags`).
const UNREAD_FORCE_NEW: &[(&str, &str)] = &[
    ("google_cloud_run_v2_job", "tags"),
    ("google_workflows_workflow", "tags"),
];

/// The first such argument whose configured value differs from the state's.
fn changed_unread_force_new(
    rc: &crate::config::ResourceConfig,
    st: &crate::state::StateEntry,
) -> Option<&'static str> {
    let empty = |v: Option<Value>| v.filter(|v| !v.is_null() && v != &serde_json::json!({}));
    UNREAD_FORCE_NEW
        .iter()
        .filter(|(ty, _)| *ty == rc.ty)
        .map(|(_, a)| *a)
        .find(|a| {
            let configured = empty(rc.values.get(*a).cloned());
            // Unset both in the configuration and (quick text check) in the state.
            (configured.is_some() || st.values.text().contains(&format!("\"{a}\"")))
                && configured != empty(st.values.get(a))
        })
}

/// Terraform-only arguments every type shares (`deletion_policy`): a change of them is
/// shown, and on its own changes only the state.
fn terraform_only_changes(
    c: &mut Change,
    rc: &crate::config::ResourceConfig,
    st: Option<&crate::state::StateEntry>,
) {
    let Some(st) = st else { return };
    let has =
        |k: &str| crate::resources::type_info(&rc.ty).is_some_and(|i| i.schema().attr(k).is_some());
    if !has("deletion_policy") || c.attrs.iter().any(|a| a.path == "deletion_policy") {
        return;
    }
    // The usual case, without parsing the state's text: the same value is recorded.
    let want = rc
        .values
        .get("deletion_policy")
        .and_then(Value::as_str)
        .unwrap_or("DELETE");
    if st
        .values
        .text()
        .contains(&format!("\"deletion_policy\":\"{want}\""))
    {
        return;
    }
    let Some(a) = crate::resources::state_only_change(
        &rc.values,
        Some(st),
        "deletion_policy",
        Value::String("DELETE".into()),
    ) else {
        return;
    };
    c.attrs.push(a);
    if c.action == Action::NoOp {
        c.action = Action::StateOnly;
        c.after = Some(rc.values.clone());
        c.before = Some(st.values.to_value());
    }
}

fn drift_of(
    addr: &str,
    st: &crate::state::StateEntry,
    live: &Live,
    lineage: &str,
    stack_jobs: &BTreeMap<String, &Value>,
) -> Option<Drift> {
    let rt = registry(&st.ty)?;
    let api = rt.live_api()?;
    let Some(obj) = live.get(&api.key(&st.id)) else {
        return Some(Drift {
            addr: addr.to_string(),
            ty: st.ty.clone(),
            deleted: true,
            attrs: Vec::new(),
        });
    };
    let values = st.values.to_value();
    if !values.is_object() {
        return None;
    }
    let name = crate::config::address::Address::parse(addr)
        .map(|a| a.name)
        .unwrap_or_default();
    let rc = crate::config::ResourceConfig {
        addr: addr.to_string(),
        ty: st.ty.clone(),
        name,
        values,
        unknown: Vec::new(),
        sensitive: Vec::new(),
        spans: BTreeMap::new(),
        range: crate::diag::Range {
            file: "state".into(),
            line: 0,
            col: 0,
            start: 0,
            end: 0,
        },
        depends_on: Vec::new(),
        attribution: Default::default(),
        timeouts: BTreeMap::new(),
        module: String::new(),
        index: None,
        lifecycle: Default::default(),
    };
    let c = rt
        .plan(PlanInput {
            addr,
            config: Some(&rc),
            state: Some(st),
            live: Some(obj),
            lineage,
            stack_jobs,
        })
        .ok()?;
    if c.action != Action::Update || c.attrs.is_empty() {
        return None;
    }
    Some(Drift {
        addr: addr.to_string(),
        ty: st.ty.clone(),
        deleted: false,
        attrs: c
            .attrs
            .into_iter()
            .map(|a| AttrChange::new(a.path, a.new, a.old))
            .collect(),
    })
}

/// Keeps the changes `--target` selects, plus what they need: the resources a selected
/// create or update depends on, and the dependents of a selected deletion.
fn select_targets(
    changes: Vec<Change>,
    targets: &[String],
    stack: &Stack,
    state: &State,
) -> Result<Vec<Change>, String> {
    for t in targets {
        let known = stack.resources.iter().any(|r| addr_matches(&r.addr, t))
            || state.resources.keys().any(|a| addr_matches(a, t));
        if !known {
            return Err(format!(
                "--target {t} matches nothing in the configuration or the state"
            ));
        }
    }
    let mut selected: BTreeSet<String> = changes
        .iter()
        .filter(|c| targets.iter().any(|t| addr_matches(&c.addr, t)))
        .map(|c| c.addr.clone())
        .collect();
    loop {
        let before = selected.len();
        for c in &changes {
            if selected.contains(&c.addr) && c.action != Action::Delete {
                selected.extend(c.depends_on.iter().cloned());
            }
        }
        // Dependents of a selected deletion or replacement go with it.
        for c in &changes {
            if matches!(c.action, Action::Delete | Action::Replace)
                && !selected.contains(&c.addr)
                && changes.iter().any(|d| {
                    selected.contains(&d.addr)
                        && matches!(d.action, Action::Delete | Action::Replace)
                        && c.depends_on.contains(&d.addr)
                })
            {
                selected.insert(c.addr.clone());
            }
        }
        if selected.len() == before {
            break;
        }
    }
    Ok(changes
        .into_iter()
        .filter(|c| selected.contains(&c.addr))
        .collect())
}

/// A saved plan: exactly what was shown, checked against state and live objects on apply.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanFile {
    pub format: String,
    /// The target the plan was made for (`google`, `local`, `endpoint URL`); applying it
    /// elsewhere is refused.
    #[serde(default)]
    pub target: String,
    pub dir: String,
    pub plan: Plan,
    /// What the configuration was read with (variables; what the plan replaces and updates):
    /// apply reads it again with these to plan deferred changes and compute outputs.
    pub args: crate::config::LoadArgs,
    pub local_images: Vec<crate::api::ext::ImageMapping>,
    /// The plan as Terraform's plan JSON, rendered when saved (`runform show --json`).
    #[serde(default)]
    pub json: String,
    /// The salt of the hashes that stand for the plan's sensitive values on disk.
    #[serde(default)]
    pub salt: String,
}

/// v3: sensitive values are tokens on disk (a v2 reader would apply the tokens).
pub const PLANFILE_FORMAT: &str = "runform-plan-v3";
