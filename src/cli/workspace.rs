//! `runform workspace ...`: several states for one configuration.

use super::args::{is_local, TargetArgs};
use super::state::open_state_for;
use crate::ops::{self, Target};
use anyhow::{anyhow, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(super) enum WorkspaceCmd {
    /// The workspaces, the selected one marked with `*`.
    List {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// The selected workspace.
    Show {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Create a workspace (an empty state) and select it.
    New {
        name: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Select a workspace for the commands that follow.
    Select {
        name: String,
        /// Create the workspace if it does not exist (Terraform's `-or-create=true`).
        #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "false", action = clap::ArgAction::Set)]
        or_create: bool,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Delete a workspace (its state must be empty unless --force).
    Delete {
        name: String,
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
}

/// The workspaces that exist for the stack's target and backend.
pub(super) async fn workspaces(dir: &Path, t: &TargetArgs) -> anyhow::Result<Vec<String>> {
    use crate::config::backend::{self, Backend};
    let mut names = vec!["default".to_string()];
    match backend::read(dir).map_err(|e| anyhow!(e))? {
        Some(Backend::Gcs { bucket, prefix }) => {
            let conn = ops::target(dir, is_local(t), t.endpoint.as_deref()).await?;
            let listed = if conn.client.get_bucket(&bucket).await?.is_some() {
                let under = if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                };
                conn.client
                    .list_object_names(&bucket, &under)
                    .await
                    .map(|v| {
                        v.into_iter()
                            .filter_map(|n| {
                                n.strip_prefix(&under)
                                    .and_then(|r| r.strip_suffix(".tfstate"))
                                    .filter(|r| !r.contains('/'))
                                    .map(str::to_string)
                            })
                            .collect::<Vec<_>>()
                    })
            } else {
                Ok(Vec::new())
            };
            conn.stop().await;
            names.extend(listed?);
        }
        other => {
            let base = ops::file_state_base(dir, t.local, t.endpoint.as_deref(), other.as_ref());
            if let Ok(rd) = std::fs::read_dir(ops::workspaces_dir(&base)) {
                for e in rd.flatten() {
                    if e.path().join("runform.tfstate").exists() {
                        names.push(e.file_name().to_string_lossy().to_string());
                    }
                }
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

pub(super) fn select_workspace(dir: &Path, name: &str) -> anyhow::Result<()> {
    let d = dir.join(".runform");
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join("environment"), format!("{name}\n"))?;
    Ok(())
}

pub(super) async fn workspace_cmd(cmd: WorkspaceCmd) -> anyhow::Result<i32> {
    use crate::config::backend::check_workspace_name;
    // Opens the state of workspace `ws` (by selecting it for the duration of the call).
    async fn state_of(
        dir: &Path,
        t: &TargetArgs,
        ws: &str,
    ) -> anyhow::Result<(crate::state::StateFile, Option<Target>)> {
        let before = ops::current_workspace(dir);
        select_workspace(dir, ws)?;
        let r = open_state_for(dir, t).await;
        select_workspace(dir, &before)?;
        r
    }
    match cmd {
        WorkspaceCmd::Show { dir } => {
            println!("{}", ops::current_workspace(&dir));
            Ok(0)
        }
        WorkspaceCmd::List { dir, target } => {
            let current = ops::current_workspace(&dir);
            for n in workspaces(&dir, &target).await? {
                println!("{} {n}", if n == current { "*" } else { " " });
            }
            Ok(0)
        }
        WorkspaceCmd::New { name, dir, target } => {
            check_workspace_name(&name).map_err(|e| anyhow!(e))?;
            if workspaces(&dir, &target).await?.contains(&name) {
                bail!("workspace {name:?} already exists\nhint: `runform workspace select {name}`");
            }
            let (sf, conn) = state_of(&dir, &target, &name).await?;
            let r = sf.write(&crate::state::State::new());
            if let Some(c) = conn {
                c.stop().await;
            }
            r?;
            select_workspace(&dir, &name)?;
            println!(
                "Created and selected workspace {name:?} (state at {}).",
                sf.describe()
            );
            Ok(0)
        }
        WorkspaceCmd::Select {
            name,
            or_create,
            dir,
            target,
        } => {
            if !workspaces(&dir, &target).await?.contains(&name) {
                if !or_create {
                    bail!("workspace {name:?} does not exist\nhint: `runform workspace new {name}`, or `runform workspace select -or-create=true {name}`");
                }
                check_workspace_name(&name).map_err(|e| anyhow!(e))?;
                let (sf, conn) = state_of(&dir, &target, &name).await?;
                let r = sf.write(&crate::state::State::new());
                if let Some(c) = conn {
                    c.stop().await;
                }
                r?;
                select_workspace(&dir, &name)?;
                println!("Created and selected workspace {name:?}.");
                return Ok(0);
            }
            select_workspace(&dir, &name)?;
            println!("Switched to workspace {name:?}.");
            Ok(0)
        }
        WorkspaceCmd::Delete {
            name,
            force,
            dir,
            target,
        } => {
            if name == "default" {
                bail!("the default workspace cannot be deleted");
            }
            if name == ops::current_workspace(&dir) {
                bail!("workspace {name:?} is selected\nhint: select another one first (`runform workspace select default`)");
            }
            if !workspaces(&dir, &target).await?.contains(&name) {
                bail!("workspace {name:?} does not exist");
            }
            let (sf, conn) = state_of(&dir, &target, &name).await?;
            let r = (|| -> anyhow::Result<()> {
                let _lock = sf.lock_wait("workspace delete", target.lock_timeout)?;
                let st = sf.load()?;
                if !st.resources.is_empty() && !force {
                    bail!("workspace {name:?} still manages {} resource(s): destroy them first, or pass --force to forget them", st.resources.len());
                }
                sf.delete()
            })();
            if let Some(c) = conn {
                c.stop().await;
            }
            r?;
            println!("Deleted workspace {name:?}.");
            Ok(0)
        }
    }
}
