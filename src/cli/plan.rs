//! `runform plan`: load the configuration, refresh, diff, print (text, Markdown, JSON), save.

use super::args::{is_local, parse_vars, TargetArgs, VarArgs};
use super::planfile;
use super::target::{target_flags, target_key};
use crate::ops::{self, LoadArgs, Target};
use crate::plan::{Action, Plan, PlanFile, PLANFILE_FORMAT};
use crate::view::{self, Style};
use anyhow::anyhow;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
pub(super) enum PlanFormat {
    /// The human plan.
    Text,
    /// A PR comment: Terraform's summary line, a warning block on destroy/replace, the detail in
    /// <details> when long, under 65,536 characters.
    Markdown,
    /// Terraform's plan JSON (format_version 1.2), with runform's execute actions in
    /// `runform_executions`.
    Json,
}

pub(super) async fn plan_cmd(
    dir: &Path,
    args: &LoadArgs,
    t: &Target,
    opts: &crate::plan::PlanOptions,
    verbose: bool,
) -> anyhow::Result<Option<(Plan, crate::config::Stack, LoadArgs)>> {
    let t0 = std::time::Instant::now();
    let state = t.state_file.load()?;
    let t_state = t0.elapsed();
    let m_state = peak_mib();
    let (mut stack, mut diags, mut sources) =
        ops::load_stack(dir, args, Some(&state), Some(&t.client));
    // `moved` blocks rename state entries first; the configuration is then read against the
    // renamed state (so values known from state stay known).
    let mut state = state;
    let mut moves = Vec::new();
    if let Some(s) = stack.as_ref().filter(|s| !s.moves.is_empty()) {
        moves = crate::plan::apply_moves(&mut state, &s.moves).map_err(|e| anyhow!(e))?;
        if !moves.is_empty() {
            (stack, diags, sources) = ops::load_stack(dir, args, Some(&state), Some(&t.client));
        }
    }
    let t_load = t0.elapsed();
    let m_load = peak_mib();
    super::report(&sources, &diags);
    let Some(stack) = stack else {
        if !crate::view::json_ui::enabled() {
            eprintln!("{} error(s); nothing was contacted.", diags.error_count());
        }
        return Ok(None);
    };
    ops::register_images(&t.client, &stack).await?;
    let before = t.client.calls();
    let live = ops::refresh(&t.client, Some(&stack), &state, 1000).await?;
    let t_refresh = t0.elapsed();
    let m_refresh = peak_mib();
    if verbose {
        eprintln!(
            "refreshed {} live object(s) with {} read call(s)",
            live.len(),
            t.client.calls() - before
        );
    }
    let mut stack = stack;
    let mut planned = ops::make_plan(&stack, &state, &live, opts, &t.client, &t.label);
    // What the plan replaces gets new computed values (a new random id, a new job's etag):
    // read the configuration again with those unknown, so that what depends on them is
    // planned too (and a plan after the apply is clean). Replacements can cascade.
    let mut fresh_args = args.clone();
    for _ in 0..8 {
        let Ok(p) = &planned else { break };
        let fresh: std::collections::BTreeSet<String> = p
            .changes
            .iter()
            .filter(|c| {
                c.action == Action::Replace
                    || (c.action == Action::Create && state.resources.contains_key(&c.addr))
            })
            .map(|c| c.addr.clone())
            .collect();
        // An in-place update of a resource others refer to changes its volatile computed
        // values (etag, update_time): read those as unknown too.
        let updated: std::collections::BTreeSet<String> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Update && stack.referenced.contains(&c.addr))
            .map(|c| c.addr.clone())
            .collect();
        if fresh.is_subset(&fresh_args.fresh) && updated.is_subset(&fresh_args.updated) {
            break;
        }
        fresh_args.fresh.extend(fresh);
        fresh_args.updated.extend(updated);
        let (again, d2, s2) = ops::load_stack(dir, &fresh_args, Some(&state), Some(&t.client));
        let Some(again) = again else {
            super::report(&s2, &d2);
            return Ok(None);
        };
        stack = again;
        planned = ops::make_plan(&stack, &state, &live, opts, &t.client, &t.label);
    }
    let mut planned = planned.map(|mut p| {
        p.moves = moves;
        p
    });
    if let Ok(p) = &mut planned {
        let warnings = ops::local_run_warnings(&t.client, p).await;
        p.warnings.extend(warnings);
    }
    if verbose {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        eprintln!(
            "timing: state {:.0} ms, configuration {:.0} ms, refresh {:.0} ms, diff {:.0} ms; peak memory after each: {m_state} / {m_load} / {m_refresh} / {} MiB",
            ms(t_state),
            ms(t_load - t_state),
            ms(t_refresh - t_load),
            ms(t0.elapsed() - t_refresh),
            peak_mib(),
        );
    }
    drop_later((state, live));
    match planned {
        Ok(p) => Ok(Some((p, stack, fresh_args))),
        Err(d) => {
            super::report(&sources, &d);
            Ok(None)
        }
    }
}

/// Frees a large value on another thread: a 10,000-resource state or refresh takes tens of
/// milliseconds to free, and the command has more useful things to do meanwhile (the
/// process may even exit first, which frees everything at once).
pub(super) fn drop_later<T: Send + 'static>(v: T) {
    std::thread::spawn(move || drop(v));
}

/// This process's peak resident memory in MiB (Linux; 0 elsewhere), for `--verbose`.
pub(super) fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

pub(super) fn save_planfile(
    out: &Path,
    dir: &Path,
    plan: &Plan,
    stack: &crate::config::Stack,
    args: &LoadArgs,
    state: &crate::state::State,
    target: &str,
) -> anyhow::Result<()> {
    let pf = PlanFile {
        target: target.to_string(),
        json: crate::plan::json::plan_json(plan, stack, state),
        format: PLANFILE_FORMAT.into(),
        dir: std::fs::canonicalize(dir)?.display().to_string(),
        plan: plan.clone(),
        args: args.clone(),
        local_images: stack.local_images.clone(),
        salt: String::new(),
    };
    planfile::save(out, pf)
}

/// Each output's planned action, as the `-json` stream's plan `outputs` message gives it.
pub(super) fn output_actions(
    stack: &crate::config::Stack,
    state: &crate::state::State,
    destroy: bool,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for o in stack.outputs.iter().filter(|_| !destroy) {
        let now = o
            .value
            .is_wholly_known()
            .then(|| o.value.to_json())
            .flatten();
        let action = match (state.outputs.get(&o.name), &now) {
            (None, _) => "create",
            (Some(old), Some(new)) if old == new => "noop",
            _ => "update",
        };
        let sensitive = o.sensitive || o.value.contains_marked();
        out.insert(
            o.name.clone(),
            serde_json::json!({"sensitive": sensitive, "action": action}),
        );
    }
    for name in state.outputs.keys() {
        if !out.contains_key(name) {
            out.insert(
                name.clone(),
                serde_json::json!({"sensitive": state.sensitive_outputs.contains(name), "action": "delete"}),
            );
        }
    }
    out
}

/// What `plan` does with the plan it makes.
pub(super) struct PlanHow {
    pub(super) out: Option<PathBuf>,
    pub(super) detailed_exitcode: bool,
    pub(super) format: PlanFormat,
    pub(super) opts: crate::plan::PlanOptions,
}

/// `runform plan`: refresh, diff, print; save it with `--out`.
pub(super) async fn plan(
    dir: &Path,
    vars: &VarArgs,
    target: &TargetArgs,
    how: PlanHow,
) -> anyhow::Result<i32> {
    let args = parse_vars(vars, is_local(target))?;
    let t = ops::target(dir, is_local(target), target.endpoint.as_deref()).await?;
    let result = plan_cmd(dir, &args, &t, &how.opts, target.verbose).await;
    let code = match result {
        Ok(Some((plan, stack, planned_args))) => {
            match how.format {
                _ if view::json_ui::enabled() => {
                    view::json_ui::planned_changes(&plan);
                    view::json_ui::change_summary(&plan.summary(), "plan");
                    let state = t.state_file.load()?;
                    view::json_ui::outputs(output_actions(&stack, &state, how.opts.destroy));
                }
                PlanFormat::Text => print!("{}", view::render_plan(&plan, &Style::detect())),
                PlanFormat::Markdown => print!("{}", view::render_markdown(&plan)),
                PlanFormat::Json => {
                    let state = t.state_file.load()?;
                    println!("{}", crate::plan::json::plan_json(&plan, &stack, &state));
                }
            }
            if target.verbose {
                eprintln!(
                    "refresh and plan made {} API call(s) to {}",
                    plan.api_calls, t.label
                );
            }
            // Nothing in the plan was in the state (no change names a prior object): the
            // chosen target's state is empty; say so if another target's is not.
            if plan.has_changes() && plan.changes.iter().all(|c| c.prior_id.is_none()) {
                if let Some(hint) = super::target::elsewhere_hint(dir, target) {
                    eprintln!("{hint}");
                }
            }
            if let Some(out) = how.out {
                save_planfile(
                    &out,
                    dir,
                    &plan,
                    &stack,
                    &planned_args,
                    &t.state_file.load()?,
                    &target_key(target),
                )?;
                eprintln!(
                    "Saved the plan to {}; apply it with `runform apply {}{}`",
                    out.display(),
                    target_flags(target),
                    out.display()
                );
            }
            let code = if how.detailed_exitcode && plan.has_changes() {
                2
            } else {
                0
            };
            drop_later((plan, stack));
            code
        }
        Ok(None) => 1,
        Err(e) => {
            super::report_error(&e);
            1
        }
    };
    t.stop().await;
    Ok(code)
}
