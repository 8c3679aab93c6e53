//! `runform apply` and `destroy`: plan (or load a saved plan), confirm, apply in dependency
//! order, record state and outputs.

use super::args::{is_local, TargetArgs};
use super::outputs::{print_outputs, write_outputs};
use super::plan::plan_cmd;
use super::planfile;
use super::target::{self, target_key, target_words};
use crate::ops::{self, LoadArgs, Target};
use crate::plan::{Action, Plan};
use crate::resources::Ctx;
use crate::view::{self, json_ui, Style};
use anyhow::{anyhow, bail};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Asks before changing anything (as Terraform: only `yes` goes on); `destroy` asks about
/// destroying.
pub(super) fn confirm(auto_approve: bool, destroy: bool) -> anyhow::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    let (verb, alternative) = if destroy {
        ("destroy", "")
    } else {
        ("apply", ", or apply a saved plan file")
    };
    if !view::ui().input {
        bail!("refusing to {verb} without confirmation: -input=false forbids asking\nhint: pass --auto-approve (-auto-approve){alternative}");
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {verb} without confirmation: no terminal to ask on\nhint: pass --auto-approve (e.g. in CI){alternative}");
    }
    if destroy {
        eprint!("\nDo you really want to destroy these resources? Only 'yes' will be accepted: ");
    } else {
        eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// The state lock for `operation`, unless `-lock=false`.
fn lock(
    t: &Target,
    target: &TargetArgs,
    operation: &str,
) -> anyhow::Result<Option<crate::state::LockGuard>> {
    if !target.lock {
        return Ok(None);
    }
    Ok(Some(
        t.state_file.lock_wait(operation, target.lock_timeout)?,
    ))
}

pub(super) async fn apply_cmd(
    dir: &Path,
    args: &LoadArgs,
    target: &TargetArgs,
    auto_approve: bool,
    parallelism: usize,
    opts: &crate::plan::PlanOptions,
) -> anyhow::Result<i32> {
    let destroy = opts.destroy;
    let t = ops::target(dir, is_local(target), target.endpoint.as_deref()).await?;
    let r = async {
        let _lock = lock(&t, target, if destroy { "destroy" } else { "apply" })?;
        let Some((plan, stack, planned_args)) =
            plan_cmd(dir, args, &t, opts, target.verbose).await?
        else {
            return Ok(1);
        };
        if json_ui::enabled() {
            json_ui::planned_changes(&plan);
            json_ui::change_summary(&plan.summary(), "plan");
            let state = t.state_file.load()?;
            json_ui::outputs(super::plan::output_actions(&stack, &state, destroy));
        } else {
            print!("{}", view::render_plan(&plan, &Style::detect()));
        }
        if !plan.has_work() {
            // Nothing to change, but outputs may be new or different: record them.
            let mut state = t.state_file.load()?;
            let before = (state.outputs.clone(), state.output_types.clone());
            write_outputs(&mut state, &stack);
            if (state.outputs.clone(), state.output_types.clone()) != before {
                t.state_file.commit(&mut state)?;
            }
            if json_ui::enabled() {
                let done = crate::plan::Summary::default();
                json_ui::change_summary(&done, if destroy { "destroy" } else { "apply" });
                json_ui::applied_outputs(&state);
            } else if !destroy {
                print_outputs(&state);
            }
            return Ok(0);
        }
        if !plan.blocked.is_empty() {
            eprintln!("error: this plan cannot be applied (see above); nothing was changed");
            return Ok(1);
        }
        if plan.has_changes() && !confirm(auto_approve, destroy)? {
            eprintln!("{} cancelled.", if destroy { "Destroy" } else { "Apply" });
            return Ok(1);
        }
        let reread = Reread {
            dir,
            args: planned_args,
        };
        let code = execute(&t, &plan, Some(&reread), parallelism).await;
        target::remember(dir, target);
        let code = code?;
        if code != 0 || stack.deferred_conditions == 0 {
            return Ok(code);
        }
        // Conditions that needed apply-time values: read the configuration again against the
        // state apply wrote, where those values are now known.
        let state = t.state_file.load()?;
        let (_, diags, sources) = ops::load_stack(dir, args, Some(&state), Some(&t.client));
        let failed: Vec<&crate::diag::Diagnostic> = diags
            .0
            .iter()
            .filter(|d| d.summary.contains("condition failed"))
            .collect();
        if failed.is_empty() {
            return Ok(0);
        }
        let mut only = crate::diag::Diagnostics::default();
        for d in failed {
            only.push(d.clone());
        }
        super::report(&sources, &only);
        eprintln!(
            "error: apply completed, but {} condition(s) failed afterwards (see above)",
            only.error_count()
        );
        Ok(1)
    }
    .await;
    if target.verbose {
        eprintln!(
            "{} made {} API call(s) in total to {}",
            if destroy { "destroy" } else { "apply" },
            t.client.calls(),
            t.label
        );
    }
    t.stop().await;
    r
}

/// How apply reads the configuration again: to plan the changes that waited for values
/// learned during apply, and to compute the outputs from the state apply leaves.
pub(super) struct Reread<'a> {
    pub(super) dir: &'a Path,
    /// The arguments the plan was made with.
    pub(super) args: LoadArgs,
}

/// An error of the apply: `error: ...` on stderr, or a `diagnostic` of the `-json` stream.
fn say_error(text: &str) {
    if json_ui::enabled() {
        json_ui::error(text);
    } else {
        eprintln!("error: {text}");
    }
}

pub(super) async fn execute(
    t: &Target,
    plan: &Plan,
    reread: Option<&Reread<'_>>,
    parallelism: usize,
) -> anyhow::Result<i32> {
    let mut state = t.state_file.load()?;
    if state.serial == 0 && state.resources.is_empty() && !t.state_file.exists() {
        // Persist the lineage before the first action, so objects created by an interrupted
        // apply carry a lineage that the next run recognises.
        state.lineage = plan.lineage.clone();
        t.state_file.write(&state)?;
    }
    if !plan.moves.is_empty() {
        // Renames are made durable before any action, so an interrupted apply's journal
        // (keyed by the new addresses) folds into a state that has them.
        crate::plan::apply_moves(&mut state, &plan.moves).map_err(|e| anyhow!(e))?;
        state.serial += 1;
        t.state_file.write(&state)?;
        for (from, to) in &plan.moves {
            eprintln!("{from}: moved to {to}");
        }
    }
    let journal = t.state_file.journal(&state)?;
    let ctx = Ctx {
        client: t.client.clone(),
        lineage: state.lineage.clone(),
        observer: if json_ui::enabled() {
            Box::new(json_ui::JsonObserver::new())
        } else {
            Box::new(view::StderrObserver::new(false))
        },
    };
    let outcome = match reread {
        Some(r) => {
            let replanner = ops::ConfigReplanner {
                dir: r.dir.to_path_buf(),
                args: r.args.clone(),
                client: &t.client,
                replacing: plan
                    .changes
                    .iter()
                    .filter(|c| c.action == Action::Replace)
                    .map(|c| c.addr.clone())
                    .collect(),
            };
            crate::apply::apply(plan, &ctx, &mut state, &journal, parallelism, &replanner).await
        }
        None => {
            let replanner = crate::apply::NoReplan;
            crate::apply::apply(plan, &ctx, &mut state, &journal, parallelism, &replanner).await
        }
    };
    if plan.destroy && !plan.targeted {
        // As `terraform destroy`: nothing is left for outputs to describe.
        state.outputs.clear();
        state.output_types.clear();
        state.sensitive_outputs.clear();
    } else if let Some(r) = reread {
        // Outputs come from the configuration read against the state as applied, where
        // what was known only after apply is now known.
        let mut args = r.args.clone();
        args.fresh.clear();
        args.updated.clear();
        let (stack, diags, sources) = ops::load_stack(r.dir, &args, Some(&state), Some(&t.client));
        match stack {
            Some(stack) => write_outputs(&mut state, &stack),
            None => {
                super::report(&sources, &diags);
                eprintln!("warning: the outputs could not be computed; the state keeps their previous values");
            }
        }
    }
    t.state_file.commit(&mut state)?;
    let s = plan.summary();
    for (addr, e) in &outcome.failed {
        let mut e = e.to_string();
        for v in plan.sensitive_values.iter().filter(|v| v.len() >= 3) {
            e = e.replace(v.as_str(), "(sensitive value)");
        }
        say_error(&format!("{addr}: {e}"));
    }
    for addr in &outcome.skipped {
        let line = format!("skipped {addr}: a resource it depends on failed");
        if json_ui::enabled() {
            json_ui::log(&line);
        } else {
            eprintln!("{line}");
        }
    }
    if !outcome.not_started.is_empty() {
        say_error(&format!(
            "{} stopped answering: {} action(s) completed and are recorded in state; {} not started: {}\nhint: run apply again once it answers; it picks up where this one stopped",
            t.label,
            outcome.done.len(),
            outcome.not_started.len(),
            outcome.not_started.join(", ")
        ));
    }
    let failed = !outcome.failed.is_empty() || !outcome.not_started.is_empty();
    if json_ui::enabled() {
        if failed {
            return Ok(1);
        }
        json_ui::change_summary(&s, if plan.destroy { "destroy" } else { "apply" });
        if !plan.destroy {
            json_ui::applied_outputs(&state);
        }
        return Ok(0);
    }
    if !failed {
        if plan.destroy {
            println!("\nDestroy complete! Resources: {} destroyed.", s.destroy);
        } else {
            // Terraform names imports first, and only when there were some.
            let imported = if s.import > 0 {
                format!("{} imported, ", s.import)
            } else {
                String::new()
            };
            println!(
                "\nApply complete! Resources: {imported}{} added, {} changed, {} destroyed, {} executed.",
                s.add, s.change, s.destroy, s.execute
            );
            print_outputs(&state);
        }
        Ok(0)
    } else {
        eprintln!(
            "\n{} failed: {} action(s) failed; {} completed and are recorded in state.",
            if plan.destroy { "Destroy" } else { "Apply" },
            outcome.failed.len(),
            outcome.done.len()
        );
        Ok(1)
    }
}

pub(super) async fn apply_planfile(
    path: &Path,
    given: &LoadArgs,
    target: &TargetArgs,
    parallelism: usize,
) -> anyhow::Result<i32> {
    let mut saved = planfile::read(path)?;
    if !given.var_files.is_empty() {
        bail!("--var-file: a saved plan applies with the variables it was made with");
    }
    saved.restore_vars(&given.vars)?;
    // A plan made for one target (the local runtime) must not apply to another (Google).
    if !saved.target.is_empty() && saved.target != target_key(target) {
        bail!(
            "{} was planned for {}, not {}; apply it there, or make a new plan for this target",
            path.display(),
            target_words(&saved.target),
            target_words(&target_key(target))
        );
    }
    let dir = PathBuf::from(&saved.dir);
    let t = ops::target(&dir, is_local(target), target.endpoint.as_deref()).await?;
    let r = async {
        let _lock = lock(&t, target, "apply")?;
        let state = t.state_file.load()?;
        let saved_plan = saved.as_saved()?.plan;
        if state.lineage != saved_plan.lineage && (state.serial != 0 || !state.resources.is_empty()) {
            bail!("the saved plan was made for a different state (lineage {} vs {}); make a new plan", saved_plan.lineage, state.lineage);
        }
        if state.serial != saved_plan.serial {
            bail!("the saved plan is stale: the state changed since it was made (serial {} → {}); make a new plan", saved_plan.serial, state.serial);
        }
        if !saved_plan.blocked.is_empty() {
            bail!("the saved plan cannot be applied: {}", saved_plan.blocked.join("; "));
        }
        // Refuse if any live object the plan read is not as it was (Terraform checks only
        // the state): read again exactly those objects' families.
        let live = ops::refresh_objects(&t.client, &saved_plan.read_objects, 1000).await?;
        let now = crate::plan::fingerprints(&saved_plan.read_objects, &live);
        for (key, then) in &saved_plan.live_etags {
            let seen = now.get(key).map(String::as_str).unwrap_or_default();
            if seen != then {
                let what = match (then.is_empty(), seen.is_empty()) {
                    (true, _) => "was created",
                    (_, true) => "was deleted",
                    _ => "changed",
                };
                bail!("the saved plan is stale: {key} {what} outside this plan since it was made; make a new plan");
            }
        }
        // The configuration is read again when the plan has values known only during apply
        // (planned from it) or secrets (restored from it).
        let deferred = saved_plan.changes.iter().any(|c| !c.unknown.is_empty());
        let pf = if saved.redacted || deferred {
            let (stack, diags, sources) = ops::load_stack(&dir, &saved.args, Some(&state), Some(&t.client));
            let Some(stack) = stack else {
                super::report(&sources, &diags);
                bail!("the configuration in {} could not be read; the saved plan needs it for its secrets or for values known only during apply", dir.display());
            };
            if deferred && stack.digest != saved_plan.config_digest {
                bail!("the configuration in {} changed since the plan was saved, and the plan has values known only during apply, which are planned from it; make a new plan", dir.display());
            }
            let candidates = planfile::candidates(&stack, &state, &live);
            saved.restore(&candidates)?
        } else {
            saved.restore(&[])?
        };
        if json_ui::enabled() {
            json_ui::planned_changes(&pf.plan);
        } else {
            print!("{}", view::render_plan(&pf.plan, &Style::detect()));
        }
        let stack = crate::config::Stack {
            local_images: pf.local_images.clone(),
            ..Default::default()
        };
        ops::register_images(&t.client, &stack).await?;
        let reread = Reread {
            dir: &dir,
            args: pf.args.clone(),
        };
        let code = execute(&t, &pf.plan, Some(&reread), parallelism).await;
        target::remember(&dir, target);
        code
    }
    .await;
    t.stop().await;
    r
}
