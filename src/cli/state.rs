//! `runform state ...`, `import` and `force-unlock`: the state of the stack's target.

use super::apply::execute;
use super::args::{is_local, parse_vars, TargetArgs, VarArgs};
use super::plan::plan_cmd;
use crate::ops::{self, LoadArgs, Target};
use crate::plan::Action;
use anyhow::{anyhow, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand)]
pub(super) enum StateCmd {
    /// Addresses in the state (all, or those under the given addresses).
    List {
        addrs: Vec<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// One resource's id and values.
    Show {
        addr: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Forget resources (the objects stay in the cloud, unmanaged).
    Rm {
        #[arg(required = true)]
        addrs: Vec<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Rename a resource instance, a resource, or a module in the state.
    Mv {
        from: String,
        to: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Print the state as JSON.
    Pull {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Replace the state with FILE (same lineage and no older serial, unless --force).
    Push {
        file: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
}

impl StateCmd {
    pub(super) fn location(&self) -> (&Path, &TargetArgs) {
        match self {
            StateCmd::List { dir, target, .. }
            | StateCmd::Show { dir, target, .. }
            | StateCmd::Rm { dir, target, .. }
            | StateCmd::Mv { dir, target, .. }
            | StateCmd::Pull { dir, target }
            | StateCmd::Push { dir, target, .. } => (dir, target),
        }
    }
}

/// The state of the stack's target and workspace, per its backend; a remote (gcs) state
/// needs a connection, returned to be stopped after use.
pub(super) async fn open_state_for(
    dir: &Path,
    t: &TargetArgs,
) -> anyhow::Result<(crate::state::StateFile, Option<Target>)> {
    if ops::uses_remote_state(dir)? {
        let target = ops::target(dir, is_local(t), t.endpoint.as_deref()).await?;
        let sf = ops::open_state(
            dir,
            is_local(t),
            t.endpoint.as_deref(),
            Some(&target.client),
        )
        .await?;
        return Ok((sf, Some(target)));
    }
    let sf = ops::open_state(dir, t.local, t.endpoint.as_deref(), None).await?;
    Ok((sf, None))
}

pub(super) fn state_cmd(
    cmd: StateCmd,
    sf: &crate::state::StateFile,
    loaded: &crate::state::State,
    target: &TargetArgs,
) -> anyhow::Result<i32> {
    use crate::plan::addr_matches;
    match cmd {
        StateCmd::List { addrs, .. } => {
            let state = loaded;
            for a in state.resources.keys() {
                if addrs.is_empty() || addrs.iter().any(|f| addr_matches(a, f)) {
                    println!("{a}");
                }
            }
            Ok(0)
        }
        StateCmd::Show { addr, dir, .. } => {
            let state = loaded;
            let Some(e) = state.resources.get(&addr) else {
                let mut msg = format!("no resource {addr} in the state");
                if let Some(c) =
                    crate::diag::closest(&addr, state.resources.keys().map(String::as_str))
                {
                    msg.push_str(&format!("\nhint: did you mean {c}?"));
                }
                bail!(msg);
            };
            // Values of sensitive variables are masked when the configuration can be read.
            let args = LoadArgs {
                vars: vec![],
                var_files: vec![],
                local: target.local,
                ..Default::default()
            };
            let (stack, _, _) = ops::load_stack(&dir, &args, None, None);
            let sens = stack.map(|s| s.sensitive_values).unwrap_or_default();
            let mut text = serde_json::to_string_pretty(&e.values.to_value())?;
            for v in sens.iter().filter(|v| v.len() >= 3) {
                text = text.replace(v.as_str(), "(sensitive value)");
            }
            println!(
                "# {addr}\ntype = {:?}\nid   = {:?}\nvalues = {text}",
                e.ty, e.id
            );
            Ok(0)
        }
        StateCmd::Rm { addrs, .. } => {
            let _lock = sf.lock_wait("state rm", target.lock_timeout)?;
            let mut state = sf.load()?;
            let hits: Vec<String> = state
                .resources
                .keys()
                .filter(|a| addrs.iter().any(|f| addr_matches(a, f)))
                .cloned()
                .collect();
            for f in &addrs {
                if !hits.iter().any(|a| addr_matches(a, f)) {
                    bail!("no resource matching {f} in the state; nothing was removed");
                }
            }
            for a in &hits {
                state.resources.remove(a);
                println!("Removed {a} (the object is left as it is, unmanaged)");
            }
            state.serial += 1;
            sf.write(&state)?;
            Ok(0)
        }
        StateCmd::Mv { from, to, .. } => {
            let _lock = sf.lock_wait("state mv", target.lock_timeout)?;
            let mut state = sf.load()?;
            let moved = crate::plan::apply_moves(&mut state, &[(from.clone(), to.clone())])
                .map_err(|e| anyhow!(e))?;
            if moved.is_empty() {
                bail!("no resource matching {from} in the state; nothing was moved");
            }
            for (a, b) in &moved {
                println!("Moved {a} to {b}");
            }
            state.serial += 1;
            sf.write(&state)?;
            Ok(0)
        }
        StateCmd::Pull { .. } => {
            let state = loaded;
            println!("{}", serde_json::to_string_pretty(&state)?);
            Ok(0)
        }
        StateCmd::Push { file: f, force, .. } => {
            let _lock = sf.lock_wait("state push", target.lock_timeout)?;
            let text =
                std::fs::read(&f).map_err(|e| anyhow!("cannot read {}: {e}", f.display()))?;
            let mut pushed: crate::state::State = serde_json::from_slice(&text)
                .map_err(|e| anyhow!("{} is not a runform state file: {e}", f.display()))?;
            pushed
                .check_version()
                .map_err(|e| anyhow!("{}: {e}", f.display()))?;
            let current = sf.load()?;
            let fresh = current.serial == 0 && current.resources.is_empty();
            if !force && !fresh {
                if pushed.lineage != current.lineage {
                    bail!("{} has lineage {}, the state has {}: it is another state\nhint: pass --force to replace it anyway", f.display(), pushed.lineage, current.lineage);
                }
                if pushed.serial < current.serial {
                    bail!("{} has serial {}, older than the state's {}: pushing it would undo later changes\nhint: pull, merge, and push again, or pass --force", f.display(), pushed.serial, current.serial);
                }
            }
            pushed.serial = pushed.serial.max(current.serial + 1);
            sf.write(&pushed)?;
            println!("Pushed {} (serial {}).", f.display(), pushed.serial);
            Ok(0)
        }
    }
}

pub(super) async fn import_cmd(
    dir: &Path,
    args: &LoadArgs,
    t: &Target,
    addr: &str,
    id: &str,
    verbose: bool,
    lock_timeout: Duration,
) -> anyhow::Result<i32> {
    let _lock = t.state_file.lock_wait("import", lock_timeout)?;
    if t.state_file.load()?.resources.contains_key(addr) {
        bail!("{addr} is already managed by this state\nhint: `runform state rm {addr}` first to import another object into it");
    }
    let opts = crate::plan::PlanOptions {
        imports: vec![(addr.to_string(), id.to_string())],
        targets: vec![addr.to_string()],
        ..Default::default()
    };
    let Some((mut plan, _, _)) = plan_cmd(dir, args, t, &opts, verbose).await? else {
        return Ok(1);
    };
    let Some(mut c) = plan.changes.iter().find(|c| c.addr == addr).cloned() else {
        bail!("{addr} is not a resource instance declared in the configuration\nhint: declare the resource block first; import adopts an existing object into it");
    };
    match c.action {
        Action::Adopt | Action::Update | Action::StateOnly => {}
        _ => bail!("cannot import {id:?} into {addr}: the configuration describes a different object ({})\nhint: make the configuration name the object being imported", c.new_id.clone().unwrap_or_default()),
    }
    // Import records the object in state; changing it is a later plan's business.
    let differs = c.action != Action::Adopt;
    c.action = Action::Adopt;
    plan.changes = vec![c];
    plan.moves.clear();
    let code = execute(t, &plan, None, 1).await?;
    if code == 0 {
        println!("Import successful: {addr} is {id}.");
        if differs {
            println!("The object differs from the configuration: `runform plan` shows the update.");
        }
    }
    Ok(code)
}

/// `runform state ...` on the stack's target and workspace.
pub(super) async fn state(cmd: StateCmd) -> anyhow::Result<i32> {
    let (dir, target) = cmd.location();
    let (dir, target) = (dir.to_path_buf(), super::target::day2(dir, target));
    let (sf, conn) = open_state_for(&dir, &target).await?;
    // Read once for the reading subcommands and the hint; the changing ones read it again
    // under the lock.
    let loaded = sf.load();
    let empty = loaded.as_ref().is_ok_and(|s| s.resources.is_empty());
    let r = loaded
        .map_err(|e| anyhow!("{e:#}"))
        .and_then(|state| state_cmd(cmd, &sf, &state, &target));
    if empty {
        if let Some(hint) = super::target::elsewhere_hint(&dir, &target) {
            eprintln!("{hint}");
        }
    }
    if let Some(c) = conn {
        c.stop().await;
    }
    r
}

/// `runform import ADDR ID`.
pub(super) async fn import(
    dir: &Path,
    vars: &VarArgs,
    target: &TargetArgs,
    addr: &str,
    id: &str,
) -> anyhow::Result<i32> {
    let args = parse_vars(vars, is_local(target))?;
    let t = ops::target(dir, is_local(target), target.endpoint.as_deref()).await?;
    let r = import_cmd(
        dir,
        &args,
        &t,
        addr,
        id,
        target.verbose,
        target.lock_timeout,
    )
    .await;
    t.stop().await;
    r
}

/// `runform force-unlock ID`.
pub(super) async fn force_unlock(dir: &Path, target: &TargetArgs, id: &str) -> anyhow::Result<i32> {
    let (sf, conn) = open_state_for(dir, target).await?;
    let info = sf.force_unlock(id);
    if let Some(c) = conn {
        c.stop().await;
    }
    let info = info?;
    println!(
        "Unlocked the state (lock {} held by {} for {} since {}).",
        info.id, info.who, info.operation, info.created
    );
    Ok(0)
}
