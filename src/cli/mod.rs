//! The command line: clap arguments → settings → target and view → ops → exit code.
//!
//! One file per command group, named after it: `plan`, `apply` (and destroy), `outputs`,
//! `state` (and import, force-unlock), `workspace`, `jobs` (run, executions, logs, cancel),
//! `local` (serve, env, upload), `fmt`, `console`, `validate` (and providers schema, show);
//! `args` holds the flags they share.

mod apply;
mod args;
mod console;
mod dirs;
mod fmt;
mod graph;
mod jobs;
mod local;
mod outputs;
mod plan;
mod planfile;
mod schedule;
mod state;
mod target;
mod upload_events;
mod validate;
mod workspace;

pub use args::terraform_style_flags;
use args::{is_local, ApplyArgs, PlanArgs, TargetArgs, VarArgs};
use clap::{Parser, Subcommand};
use local::LocalCmd;
use plan::PlanFormat;
use schedule::ScheduleCmd;
use state::StateCmd;
use std::path::PathBuf;
use workspace::WorkspaceCmd;

#[derive(Parser)]
#[command(
    name = "runform",
    version,
    about = "Plan and apply Cloud Run jobs, schedulers, triggers and IAM from HCL — on Google Cloud or on the bundled local runtime"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Run as if started in DIR (Terraform's `-chdir=DIR`).
    #[arg(long, global = true, value_name = "DIR")]
    chdir: Option<PathBuf>,
    /// Accepted for Terraform's CI wrappers; runform's warnings are already one line each.
    #[arg(long, global = true, hide = true)]
    compact_warnings: bool,
    /// No colors in the output (as NO_COLOR=1).
    #[arg(long, global = true)]
    no_color: bool,
    /// Do not stream the tasks' log lines while executions run (progress lines stay).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Whether questions may be asked on a terminal (`-input=false`, as Terraform's: apply
    /// then needs --auto-approve or a saved plan).
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", default_value = "true", action = clap::ArgAction::Set)]
    input: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Prepare a stack directory, as `terraform init` (CI wrappers run it first): checks the
    /// configuration's files and backend block; runform needs no provider download.
    Init {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Accepted for Terraform's wrappers: -upgrade, -reconfigure, -backend=BOOL,
        /// -backend-config=..., -get=BOOL change nothing in runform.
        #[arg(long)]
        upgrade: bool,
        #[arg(long, hide = true)]
        reconfigure: bool,
        #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
        backend: Option<bool>,
        #[arg(long = "backend-config", hide = true, value_name = "KEY=VALUE|FILE")]
        backend_config: Vec<String>,
        #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
        get: Option<bool>,
    },
    /// The version of runform (and of Terraform's language it follows); `-json` as
    /// `terraform version -json`.
    Version {
        #[arg(long)]
        json: bool,
    },
    /// Load and check the configuration; no network.
    Validate {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The result as `terraform validate -json` prints it.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// The dependency graph of the configuration's resources, as `terraform graph` prints it
    /// (or of a saved plan's resource instances, labelled with their actions).
    Graph {
        /// A stack directory or a saved plan file.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// `dot` (Graphviz, as Terraform) or `mermaid`.
        #[arg(long, value_enum, default_value = "dot")]
        format: graph::GraphFormat,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Provider schemas (`providers schema --json`, Terraform's format).
    Providers {
        #[command(subcommand)]
        cmd: ProvidersCmd,
    },
    /// Evaluate expressions (one per line on stdin) against the configuration and state, as
    /// `terraform console` does.
    Console {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// As `terraform console -plan`: resources not applied yet show their planned values
        /// (arguments from the configuration, computed attributes known after apply).
        #[arg(long)]
        plan: bool,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Refresh, diff and print the plan.
    Plan {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
        /// Save the plan to FILE, to apply exactly it later.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 0 with no changes, 2 with changes, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Terraform's machine-readable UI on stdout, one JSON object per line (version,
        /// planned_change, change_summary, outputs, diagnostic).
        #[arg(long)]
        json: bool,
        /// Accepted as Terraform's plan takes it (planning reads with its own concurrency).
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
        /// Plan the destruction of everything in state.
        #[arg(long)]
        destroy: bool,
        #[command(flatten)]
        select: PlanArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Plan (or load a saved plan) and apply it.
    Apply {
        /// A stack directory or a saved plan file.
        #[arg(default_value = ".")]
        path: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        how: ApplyArgs,
        #[command(flatten)]
        select: PlanArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Delete everything the state holds, in reverse dependency order.
    Destroy {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        how: ApplyArgs,
        /// Destroy only these addresses (and what depends on them); repeatable.
        #[arg(long = "target", value_name = "ADDR")]
        targets: Vec<String>,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Start an execution of JOB (a job name from the stack, or a full job name).
    Run {
        job: String,
        /// Wait for the execution and report per-task results; non-zero exit if it fails.
        #[arg(long)]
        wait: bool,
        /// Override the task count.
        #[arg(long)]
        tasks: Option<i32>,
        /// Override or add an env var (repeatable).
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Replace the container args (repeatable).
        #[arg(long = "args", value_name = "ARG", allow_hyphen_values = true)]
        args: Vec<String>,
        /// Override the task timeout (e.g. 600s).
        #[arg(long)]
        task_timeout: Option<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// List executions (of JOB, or of every job in state), newest first.
    Executions {
        job: Option<String>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Print the logs of an execution's tasks.
    Logs {
        execution: String,
        #[arg(long)]
        task: Option<i32>,
        /// Keep printing until the execution finishes.
        #[arg(long)]
        follow: bool,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Cancel a running execution.
    Cancel {
        execution: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Adopt an existing object into a resource declared in the configuration (state only:
    /// nothing is changed in the cloud; `runform plan` then shows any difference).
    Import {
        /// The resource instance address, e.g. google_cloud_run_v2_job.etl or
        /// module.m.google_cloud_run_v2_job.this["a"].
        addr: String,
        /// The object's id, e.g. projects/P/locations/L/jobs/NAME.
        id: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Rewrite .tf, .hcl and .tfvars files in the canonical format (`terraform fmt`'s).
    Fmt {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Change nothing; exit 3 if any file is not formatted.
        #[arg(long)]
        check: bool,
        /// Print the changes as a unified diff.
        #[arg(long)]
        diff: bool,
        /// Also process subdirectories.
        #[arg(long)]
        recursive: bool,
    },
    /// Workspaces: several states for one configuration (list, show, new, select, delete).
    Workspace {
        #[command(subcommand)]
        cmd: WorkspaceCmd,
    },
    /// Inspect and edit the state (list, show, rm, mv, pull, push).
    State {
        #[command(subcommand)]
        cmd: StateCmd,
    },
    /// Remove a state lock left by a run that is gone (give the lock ID from the error).
    ForceUnlock {
        id: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Show a saved plan: as text, or with --json as Terraform's plan JSON.
    Show {
        planfile: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print outputs from the state: all (`name = value`, sensitive ones hidden), or one by name.
    Output {
        name: Option<String>,
        /// JSON: all outputs as {name: {sensitive, type, value}}, or one output's value.
        #[arg(long)]
        json: bool,
        /// One output's string value without quotes (for shell scripts).
        #[arg(long)]
        raw: bool,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Cloud Scheduler jobs: `schedule run NAME` fires one now.
    Schedule {
        #[command(subcommand)]
        cmd: ScheduleCmd,
    },
    /// The bundled local runtime.
    Local {
        #[command(subcommand)]
        cmd: LocalCmd,
    },
}

#[derive(Subcommand)]
enum ProvidersCmd {
    /// The schema of every resource type and data source runform accepts.
    Schema {
        /// Print it as JSON (Terraform's `providers schema -json` format; the only format).
        #[arg(long)]
        json: bool,
    },
}

/// `apply -json`/`destroy -json`: the stream starts, and (as Terraform's) needs no question.
fn start_json_ui(json: bool, approved: bool) -> anyhow::Result<()> {
    if !json {
        return Ok(());
    }
    crate::view::json_ui::enable();
    crate::view::json_ui::version();
    if !approved {
        anyhow::bail!("-json cannot ask for confirmation\nhint: pass -auto-approve, or apply a saved plan file");
    }
    Ok(())
}

/// Reports configuration diagnostics: as text on stderr, or as `diagnostic` messages of the
/// `-json` stream.
fn report(sources: &crate::diag::Sources, diags: &crate::diag::Diagnostics) {
    if crate::view::json_ui::enabled() {
        crate::view::json_ui::diagnostics(sources, diags);
    } else {
        eprint!("{}", sources.render_all(diags));
    }
}

/// Reports an error that ends the command (`error: ...` on stderr, or a `diagnostic`).
fn report_error(e: &anyhow::Error) {
    if crate::view::json_ui::enabled() {
        crate::view::json_ui::error(&format!("{e:#}"));
    } else {
        eprintln!("error: {e:#}");
    }
}

/// Runs the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    if let Some(dir) = &cli.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!("error: -chdir={}: {e}", dir.display());
            return 1;
        }
    }
    crate::view::set_ui(crate::view::Ui {
        color: !cli.no_color,
        quiet: cli.quiet,
        input: cli.input,
    });
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            1
        }
    }
}

/// The stack directory a command reads, checked first: (directory, whether it must hold a
/// configuration).
fn stack_dir(cmd: &Cmd) -> Option<(&std::path::Path, bool)> {
    match cmd {
        Cmd::Validate { dir, .. }
        | Cmd::Init { dir, .. }
        | Cmd::Plan { dir, .. }
        | Cmd::Destroy { dir, .. }
        | Cmd::Console { dir, .. }
        | Cmd::Import { dir, .. } => Some((dir, true)),
        Cmd::Apply { path, .. } if !path.is_file() => Some((path, true)),
        Cmd::Run { dir, .. }
        | Cmd::Executions { dir, .. }
        | Cmd::Logs { dir, .. }
        | Cmd::Cancel { dir, .. }
        | Cmd::Output { dir, .. }
        | Cmd::ForceUnlock { dir, .. } => Some((dir, false)),
        Cmd::State { cmd } => Some((cmd.location().0, false)),
        Cmd::Schedule { cmd } => Some((cmd.dir(), false)),
        _ => None,
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match stack_dir(&cli.cmd) {
        Some((dir, true)) => dirs::stack(dir)?,
        Some((dir, false)) => dirs::existing(dir)?,
        None => {}
    }
    match cli.cmd {
        Cmd::Validate { dir, vars, json } => validate::validate(&dir, &vars, json),
        Cmd::Init { dir, .. } => validate::init(&dir),
        Cmd::Graph { path, format, vars } => graph::graph(&path, &vars, format),
        Cmd::Version { json } => validate::version(json),
        Cmd::Providers {
            cmd: ProvidersCmd::Schema { json },
        } => validate::providers_schema(json),
        Cmd::Show { planfile, json } => validate::show(&planfile, json),
        Cmd::Console {
            dir,
            plan,
            vars,
            target,
        } => {
            let args = args::parse_vars(&vars, is_local(&target))?;
            console::console_cmd(&dir, args, &target, plan).await
        }
        Cmd::Plan {
            dir,
            vars,
            out,
            detailed_exitcode,
            json,
            parallelism: _,
            destroy,
            select,
            format,
            target,
        } => {
            select.check()?;
            if json {
                crate::view::json_ui::enable();
                crate::view::json_ui::version();
            }
            let how = plan::PlanHow {
                out,
                detailed_exitcode,
                format,
                opts: select.options(destroy),
            };
            plan::plan(&dir, &vars, &target, how).await
        }
        Cmd::Apply {
            path,
            vars,
            how:
                ApplyArgs {
                    auto_approve,
                    parallelism,
                    json,
                },
            select,
            target,
        } => {
            select.check()?;
            start_json_ui(json, auto_approve || path.is_file())?;
            let args = args::parse_vars(&vars, is_local(&target))?;
            if path.is_file() {
                return apply::apply_planfile(&path, &args, &target, parallelism).await;
            }
            let opts = select.options(false);
            apply::apply_cmd(&path, &args, &target, auto_approve, parallelism, &opts).await
        }
        Cmd::Destroy {
            dir,
            vars,
            how:
                ApplyArgs {
                    auto_approve,
                    parallelism,
                    json,
                },
            targets,
            target,
        } => {
            start_json_ui(json, auto_approve)?;
            let args = args::parse_vars(&vars, is_local(&target))?;
            let select = PlanArgs {
                targets,
                ..Default::default()
            };
            let opts = select.options(true);
            apply::apply_cmd(&dir, &args, &target, auto_approve, parallelism, &opts).await
        }
        Cmd::Import {
            addr,
            id,
            dir,
            vars,
            target,
        } => state::import(&dir, &vars, &target, &addr, &id).await,
        Cmd::State { cmd } => state::state(cmd).await,
        Cmd::ForceUnlock { id, dir, target } => state::force_unlock(&dir, &target, &id).await,
        Cmd::Workspace { cmd } => workspace::workspace_cmd(cmd).await,
        Cmd::Output {
            name,
            json,
            raw,
            dir,
            target,
        } => outputs::output(&dir, &target, name.as_deref(), json, raw).await,
        Cmd::Fmt {
            paths,
            check,
            diff,
            recursive,
        } => fmt::fmt_cmd(&paths, check, diff, recursive),
        Cmd::Run {
            job,
            wait,
            tasks,
            env,
            args,
            task_timeout,
            dir,
            target,
        } => {
            let overrides = jobs::RunOverrides {
                tasks,
                env,
                args,
                task_timeout,
            };
            let t = jobs::connect(&dir, &target).await?;
            let r = jobs::run_cmd(&t, &dir, &job, wait, overrides).await;
            t.stop().await;
            r
        }
        Cmd::Executions { job, dir, target } => {
            let t = jobs::connect(&dir, &target).await?;
            let r = jobs::executions_cmd(&t, job.as_deref()).await;
            t.stop().await;
            r
        }
        Cmd::Logs {
            execution,
            task,
            follow,
            dir,
            target,
        } => {
            let t = jobs::connect(&dir, &target).await?;
            let r = jobs::logs_cmd(&t, &execution, task, follow).await;
            t.stop().await;
            r
        }
        Cmd::Cancel {
            execution,
            dir,
            target,
        } => {
            let t = jobs::connect(&dir, &target).await?;
            let r = jobs::cancel_cmd(&t, &execution).await;
            t.stop().await;
            r
        }
        Cmd::Schedule { cmd } => schedule::schedule_cmd(cmd).await,
        Cmd::Local { cmd } => local::local_cmd(cmd).await,
    }
}
