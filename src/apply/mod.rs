//! Executes a [`Plan`]: changes in dependency order (deletes in reverse), at most
//! `parallelism` at once; every completed action is journaled (on disk) before it is reported,
//! so an interrupted apply loses nothing.

use crate::config::UNKNOWN_START;
use crate::plan::{Action, Change, Plan};
use crate::resources::{registry, Ctx};
use crate::state::{Journal, State};
use futures::stream::{self, StreamExt};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

/// Locks a mutex; a poisoned one (a panicked action) still holds usable data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<(String, Action)>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
}

/// Orders changes into waves: a change runs after the changes it depends on; a delete runs
/// after the deletes of what depended on it.
pub fn waves(plan: &Plan) -> Vec<Vec<usize>> {
    let idx: BTreeMap<&str, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.addr.as_str(), i))
        .collect();
    let mut before: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); plan.changes.len()];
    for (i, c) in plan.changes.iter().enumerate() {
        for d in &c.depends_on {
            let Some(&j) = idx.get(d.as_str()) else {
                continue;
            };
            if matches!(c.action, Action::Delete | Action::Forget)
                && matches!(plan.changes[j].action, Action::Delete | Action::Forget)
            {
                // c depended on d; both go: c first.
                before[j].insert(i);
            } else if !matches!(plan.changes[j].action, Action::Delete | Action::Forget) {
                before[i].insert(j);
            }
        }
    }
    let mut level = vec![usize::MAX; plan.changes.len()];
    fn depth(
        i: usize,
        before: &[BTreeSet<usize>],
        level: &mut [usize],
        stack: &mut Vec<usize>,
    ) -> usize {
        if level[i] != usize::MAX {
            return level[i];
        }
        if stack.contains(&i) {
            return 0;
        }
        stack.push(i);
        let d = before[i]
            .iter()
            .map(|&j| depth(j, before, level, stack) + 1)
            .max()
            .unwrap_or(0);
        stack.pop();
        level[i] = d;
        d
    }
    for i in 0..plan.changes.len() {
        depth(i, &before, &mut level, &mut Vec::new());
    }
    let max = level.iter().copied().max().unwrap_or(0);
    let mut out = vec![Vec::new(); if plan.changes.is_empty() { 0 } else { max + 1 }];
    for (i, l) in level.into_iter().enumerate() {
        out[l].push(i);
    }
    out
}

/// Replaces unknown-after-apply markers with values now in state.
pub fn resolve_unknowns(v: &mut Value, state: &State) {
    match v {
        Value::String(s) if s.contains(UNKNOWN_START) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            let mut whole: Option<Value> = None;
            while let Some(i) = rest.find(UNKNOWN_START) {
                out.push_str(&rest[..i]);
                let after = &rest[i + 1..];
                let Some(j) = after.find(UNKNOWN_START) else {
                    break;
                };
                let marker = &after[..j];
                let what = marker.strip_prefix("unknown:").unwrap_or(marker);
                let (addr, attr) = what.rsplit_once('.').unwrap_or((what, ""));
                let val = state
                    .resources
                    .get(addr)
                    .and_then(|e| e.values.get(attr))
                    .unwrap_or(Value::Null);
                if i == 0 && j + 2 == rest.len() && out.is_empty() {
                    whole = Some(val.clone());
                }
                out.push_str(&match val {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                });
                rest = &after[j + 1..];
            }
            out.push_str(rest);
            *v = whole.unwrap_or(Value::String(out));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| resolve_unknowns(x, state)),
        Value::Object(m) => m.values_mut().for_each(|x| resolve_unknowns(x, state)),
        _ => {}
    }
}

/// Applies `plan`, updating `state` and the journal as actions complete.
pub async fn apply(
    plan: &Plan,
    ctx: &Ctx,
    state: &mut State,
    journal: &Journal,
    parallelism: usize,
) -> Outcome {
    let shared = Mutex::new(std::mem::take(state));
    let outcome = Mutex::new(Outcome::default());
    let failed_addrs: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    for wave in waves(plan) {
        let work: Vec<&Change> = wave
            .iter()
            .map(|&i| &plan.changes[i])
            .filter(|c| c.action.is_change())
            .collect();
        stream::iter(work)
            .for_each_concurrent(parallelism.max(1), |c| {
                let shared = &shared;
                let outcome = &outcome;
                let failed_addrs = &failed_addrs;
                async move {
                    let blocked = {
                        let f = lock(failed_addrs);
                        c.depends_on.iter().any(|d| f.contains(d))
                    };
                    if blocked {
                        lock(failed_addrs).insert(c.addr.clone());
                        lock(outcome).skipped.push(c.addr.clone());
                        return;
                    }
                    let mut c = c.clone();
                    {
                        let st = lock(shared);
                        for v in [&mut c.after, &mut c.body].into_iter().flatten() {
                            resolve_unknowns(v, &st);
                        }
                    }
                    let Some(rt) = registry(&c.ty) else { return };
                    ctx.observer
                        .note(&format!("{}: {}...", c.addr, verb(c.action)));
                    let res = rt.apply(ctx, &c).await;
                    match res {
                        Ok(mut entry) => {
                            if let Some(e) = entry.as_mut() {
                                e.deps = c.depends_on.clone();
                            }
                            if let Err(e) = journal.record(&c.addr, entry.as_ref()) {
                                lock(outcome).failed.push((
                                    c.addr.clone(),
                                    format!("could not record the result durably: {e}"),
                                ));
                                return;
                            }
                            {
                                let mut st = lock(shared);
                                match entry {
                                    Some(e) => st.resources.insert(c.addr.clone(), e),
                                    None => st.resources.remove(&c.addr),
                                };
                            }
                            ctx.observer
                                .note(&format!("{}: {} complete", c.addr, verb(c.action)));
                            lock(outcome).done.push((c.addr.clone(), c.action));
                        }
                        Err(e) => {
                            lock(failed_addrs).insert(c.addr.clone());
                            lock(outcome).failed.push((c.addr.clone(), e));
                        }
                    }
                }
            })
            .await;
    }
    *state = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    outcome.into_inner().unwrap_or_else(|p| p.into_inner())
}

pub fn verb(a: Action) -> &'static str {
    match a {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "destroying",
        Action::Execute => "executing",
        Action::Forget => "forgetting",
        Action::Adopt => "adopting",
        Action::StateOnly => "updating state",
        Action::NoOp => "refreshing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_markers_resolve_from_state() {
        let mut st = State::new();
        st.resources.insert(
            "t.a".into(),
            crate::state::StateEntry {
                ty: "t".into(),
                id: "x".into(),
                values: (&serde_json::json!({"uid": "u-1"})).into(),
                ..Default::default()
            },
        );
        let mut v = serde_json::json!({"whole": crate::config::unknown("t.a.uid"), "inside": format!("pre-{}-post", crate::config::unknown("t.a.uid").as_str().unwrap())});
        resolve_unknowns(&mut v, &st);
        assert_eq!(
            v,
            serde_json::json!({"whole": "u-1", "inside": "pre-u-1-post"})
        );
    }

    #[test]
    fn deletes_run_after_their_dependents() {
        let mut plan = Plan::default();
        let mut a = Change::new("a", "t");
        a.action = Action::Delete;
        let mut b = Change::new("b", "t");
        b.action = Action::Delete;
        b.depends_on = vec!["a".into()];
        let mut c = Change::new("c", "t");
        c.action = Action::Create;
        let mut d = Change::new("d", "t");
        d.action = Action::Execute;
        d.depends_on = vec!["c".into()];
        plan.changes = vec![a, b, c, d];
        let w = waves(&plan);
        let pos = |i: usize| w.iter().position(|wave| wave.contains(&i)).unwrap();
        assert!(pos(1) < pos(0), "b (dependent) is deleted before a: {w:?}");
        assert!(pos(2) < pos(3), "c is created before d executes: {w:?}");
    }
}
