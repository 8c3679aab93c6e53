//! Executes a [`Plan`]: changes in dependency order (deletes in reverse), at most
//! `parallelism` at once; every completed action is journaled (on disk) before it is reported,
//! so an interrupted apply loses nothing.

use crate::plan::{Action, Change, Plan};
use crate::resources::{registry, Ctx};
use crate::state::{Journal, State};
use futures::stream::{self, StreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
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
    /// Not started because the endpoint stopped answering.
    pub not_started: Vec<String>,
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

/// Plans changes again once the values they were waiting for are known: a change whose
/// values depended on what an earlier change computes (a new job's `uid`, an updated
/// `etag`) is re-planned from the configuration, against the state as it is when its turn
/// comes, before it is applied.
pub trait Replanner: Send + Sync {
    fn replan<'a>(
        &'a self,
        addrs: &'a [String],
        state: &'a State,
        applied: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Replanned> + Send + 'a>>;
}

/// Each re-planned address's new change, or why it could not be planned; `Err` when
/// nothing could be.
pub type Replanned = Result<BTreeMap<String, Result<Change, String>>, String>;

/// No re-planning: for plans whose changes have no unknown values.
pub struct NoReplan;

impl Replanner for NoReplan {
    fn replan<'a>(
        &'a self,
        addrs: &'a [String],
        _state: &'a State,
        _applied: &'a [String],
    ) -> Pin<Box<dyn Future<Output = Replanned> + Send + 'a>> {
        Box::pin(async move {
            match addrs.first() {
                Some(a) => Err(format!("{a}: its values are known only during apply, and this apply cannot plan it again")),
                None => Ok(BTreeMap::new()),
            }
        })
    }
}

/// The state entry after a state-only change: the prior one with the planned values, what
/// the provider computed kept from before.
fn state_only_entry(
    prior: Option<crate::state::StateEntry>,
    c: &Change,
) -> Result<Option<crate::state::StateEntry>, String> {
    let prior = prior.ok_or("a state-only change needs a state entry")?;
    let mut values = c.after.clone().ok_or("no planned values")?;
    if let (serde_json::Value::Object(v), serde_json::Value::Object(old)) =
        (&mut values, prior.values.to_value())
    {
        for (k, x) in old {
            v.entry(k).or_insert(x);
        }
    }
    Ok(Some(crate::state::StateEntry {
        values: (&values).into(),
        ..prior
    }))
}

/// Checks a change planned again during apply against what the plan showed: the action and
/// every value the plan showed as known must stay as they were (Terraform's "inconsistent
/// final plan" rule), so what was reviewed is what is applied.
fn consistent(planned: &Change, mut now: Change) -> Result<Change, String> {
    let allowed = match planned.action {
        Action::Update => matches!(
            now.action,
            Action::Update | Action::NoOp | Action::StateOnly
        ),
        a => now.action == a,
    };
    if !allowed {
        return Err(format!(
            "the plan showed {}, but with the values learned during apply it is {}; nothing was done to it: run plan again",
            verb(planned.action),
            verb(now.action)
        ));
    }
    if let (Some(old), Some(new)) = (&planned.after, &now.after) {
        let mut diffs = Vec::new();
        known_differences(old, new, "", planned, &mut diffs);
        if let Some(path) = diffs.first() {
            let shown = |v: Option<&serde_json::Value>| match v {
                _ if crate::model::change::path_in(path, &planned.sensitive) => {
                    "(sensitive value)".to_string()
                }
                Some(v) => v.to_string(),
                None => "null".to_string(),
            };
            return Err(format!(
                "the values learned during apply change {path}, which the plan showed as {} (now {}); nothing was done to it: run plan again",
                shown(crate::model::schema::json_get(old, path)),
                shown(crate::model::schema::json_get(new, path)),
            ));
        }
    }
    now.depends_on = planned.depends_on.clone();
    if planned.reason.is_some() {
        now.reason = planned.reason.clone();
    }
    Ok(now)
}

/// Paths known in `old` (not under the change's unknown paths) whose values differ in `new`.
fn known_differences(
    old: &serde_json::Value,
    new: &serde_json::Value,
    path: &str,
    planned: &Change,
    out: &mut Vec<String>,
) {
    use serde_json::Value as J;
    if !path.is_empty() && crate::model::change::path_in(path, &planned.unknown) {
        return;
    }
    match (old, new) {
        (J::Object(a), J::Object(b)) => {
            for (k, v) in a {
                let p = crate::model::schema::join(path, k);
                match b.get(k) {
                    Some(w) => known_differences(v, w, &p, planned, out),
                    None if v.is_null() => {}
                    None => out.push(p),
                }
            }
        }
        (J::Array(a), J::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                known_differences(v, w, &format!("{path}[{i}]"), planned, out);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(if path.is_empty() {
            "(the object)".into()
        } else {
            path.into()
        }),
    }
}

/// Applies `plan`, updating `state` and the journal as actions complete.
pub async fn apply(
    plan: &Plan,
    ctx: &Ctx,
    state: &mut State,
    journal: &Journal,
    parallelism: usize,
    replanner: &dyn Replanner,
) -> Outcome {
    let shared = Mutex::new(std::mem::take(state));
    let outcome = Mutex::new(Outcome::default());
    let failed_addrs: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    for wave in waves(plan) {
        let mut work: Vec<Change> = wave
            .iter()
            .map(|&i| &plan.changes[i])
            .filter(|c| c.action.is_change())
            .cloned()
            .collect();
        // Changes that waited for values computed by earlier waves: plan them again now
        // (unless what they wait for failed).
        let deferred: Vec<String> = work
            .iter()
            .filter(|c| !c.unknown.is_empty())
            .filter(|c| {
                let f = lock(&failed_addrs);
                !c.depends_on.iter().any(|d| f.contains(d))
            })
            .map(|c| c.addr.clone())
            .collect();
        if !deferred.is_empty() {
            let snapshot = lock(&shared).clone();
            let applied: Vec<String> = lock(&outcome).done.iter().map(|(a, _)| a.clone()).collect();
            match replanner.replan(&deferred, &snapshot, &applied).await {
                Ok(mut fresh) => {
                    let mut inconsistent = Vec::new();
                    for c in work.iter_mut() {
                        let Some(n) = fresh.remove(&c.addr) else {
                            continue;
                        };
                        match n.and_then(|n| consistent(c, n)) {
                            Ok(n) => *c = n,
                            Err(e) => inconsistent.push((c.addr.clone(), e)),
                        }
                    }
                    for (a, e) in inconsistent {
                        lock(&failed_addrs).insert(a.clone());
                        lock(&outcome).failed.push((a.clone(), e));
                        work.retain(|c| c.addr != a);
                    }
                }
                Err(e) => {
                    for a in &deferred {
                        lock(&failed_addrs).insert(a.clone());
                        lock(&outcome).failed.push((a.clone(), e.clone()));
                    }
                    work.retain(|c| !deferred.contains(&c.addr));
                }
            }
        }
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
                    // A dead endpoint: finish what is in flight, start nothing more.
                    if ctx.client.unreachable() && c.action != Action::StateOnly {
                        lock(failed_addrs).insert(c.addr.clone());
                        lock(outcome).not_started.push(c.addr.clone());
                        return;
                    }
                    if !c.unknown.is_empty() {
                        lock(failed_addrs).insert(c.addr.clone());
                        lock(outcome).failed.push((
                            c.addr.clone(),
                            format!("values still unknown after the resources it depends on were applied: {}", c.unknown.join(", ")),
                        ));
                        return;
                    }
                    if !c.action.is_change() {
                        lock(outcome).done.push((c.addr.clone(), c.action));
                        return;
                    }
                    let Some(rt) = registry(&c.ty) else { return };
                    let started = std::time::Instant::now();
                    ctx.observer
                        .action_start(&c.addr, c.action, c.prior_id.as_deref());
                    // Nothing to call for a state-only change (Terraform-only arguments).
                    let prior = lock(shared).resources.get(&c.addr).cloned();
                    let res = if c.action == Action::StateOnly && (prior.is_some() || !c.adopt) {
                        state_only_entry(prior, &c)
                    } else if c.action == Action::StateOnly {
                        // Found live with no state entry (an interrupted apply created it):
                        // adopting reads it, which makes the entry.
                        let mut adopt = c.clone();
                        adopt.action = Action::Adopt;
                        rt.apply(ctx, &adopt).await
                    } else {
                        // A long operation (a job's LRO, an execution) says it is still going,
                        // as Terraform does.
                        let act = crate::resources::within_timeouts(&c, rt.apply(ctx, &c));
                        with_progress(act, PROGRESS_EVERY, |secs| {
                            ctx.observer.action_progress(&c.addr, c.action, secs)
                        })
                        .await
                    };
                    match res {
                        Ok(mut entry) => {
                            if let Some(e) = entry.as_mut() {
                                e.deps = c.depends_on.clone();
                                e.sensitive = c.sensitive.clone();
                            }
                            if let Err(e) = journal.record(&c.addr, entry.as_ref()) {
                                lock(outcome).failed.push((
                                    c.addr.clone(),
                                    format!("could not record the result durably: {e}"),
                                ));
                                return;
                            }
                            let id = entry.as_ref().map(|e| e.id.clone());
                            {
                                let mut st = lock(shared);
                                match entry {
                                    Some(e) => st.resources.insert(c.addr.clone(), e),
                                    None => st.resources.remove(&c.addr),
                                };
                            }
                            ctx.observer.action_complete(
                                &c.addr,
                                c.action,
                                id.as_deref(),
                                started.elapsed().as_secs(),
                            );
                            lock(outcome).done.push((c.addr.clone(), c.action));
                        }
                        Err(e) => {
                            ctx.observer.action_errored(
                                &c.addr,
                                c.action,
                                started.elapsed().as_secs(),
                            );
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

/// How often a running action says it is still going.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `work`, calling `note(seconds elapsed)` every `every` while it runs.
async fn with_progress<T>(
    work: impl std::future::Future<Output = T>,
    every: std::time::Duration,
    mut note: impl FnMut(u64),
) -> T {
    let work = std::pin::pin!(work);
    let mut work = work;
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval_at(start + every, every);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => note(start.elapsed().as_secs()),
        }
    }
}

pub fn verb(a: Action) -> &'static str {
    a.progressive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn long_actions_say_they_are_still_going() {
        let mut notes = Vec::new();
        let out = with_progress(
            async {
                tokio::time::sleep(std::time::Duration::from_secs(25)).await;
                7
            },
            PROGRESS_EVERY,
            |s| notes.push(s),
        )
        .await;
        assert_eq!(out, 7);
        assert_eq!(notes, [10, 20]);
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
