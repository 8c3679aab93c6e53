//! clap arguments → settings → target and view → ops → exit code.

use crate::api::run::{last_segment, Execution, RunJobRequest};
use crate::api::run::{ContainerOverride, EnvVar, Overrides};
use crate::ops::{self, LoadArgs, Target};
use crate::plan::{Action, Plan, PlanFile, PLANFILE_FORMAT};

mod planfile;
use crate::resources::Ctx;
use crate::view::{self, Style};
use anyhow::{anyhow, bail, Context as _};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "runform",
    version,
    about = "Plan and apply Cloud Run jobs, schedulers, triggers and IAM from HCL — on Google Cloud or on the bundled local runtime"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct TargetArgs {
    /// Use the bundled local runtime (a running `runform local serve` for this stack, or one started inside the command).
    #[arg(long, global = true)]
    local: bool,
    /// Send every API call to this base URL, without auth (any REST emulator).
    #[arg(long, env = "RUNFORM_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// Print API call counts and other details.
    #[arg(long, short, global = true)]
    verbose: bool,
    /// How long a state-changing command waits for another run's state lock (e.g. 30s, 5m).
    #[arg(long, global = true, default_value = "0s", value_parser = parse_duration)]
    lock_timeout: Duration,
}

/// `500ms`, `30s`, `5m`, `1h` (a bare number is seconds).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return crate::api::common::parse_go_duration(&format!("{s}s"));
    }
    crate::api::common::parse_go_duration(s)
}

#[derive(Args, Clone)]
struct VarArgs {
    /// Set a variable: --var name=value (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Read variables from a .tfvars file (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    var_files: Vec<PathBuf>,
}

#[derive(Args, Clone, Default)]
struct PlanArgs {
    /// Plan only this address (and what it needs); repeatable. `x` selects all of x's
    /// instances, `module.m` everything inside the module.
    #[arg(long = "target", value_name = "ADDR")]
    targets: Vec<String>,
    /// Destroy and re-create this resource instance even if nothing changed; repeatable.
    #[arg(long = "replace", value_name = "ADDR")]
    replace: Vec<String>,
    /// Only record what changed outside runform (objects deleted outside leave the state);
    /// change nothing.
    #[arg(long)]
    refresh_only: bool,
}

impl PlanArgs {
    fn options(&self, destroy: bool) -> crate::plan::PlanOptions {
        crate::plan::PlanOptions {
            destroy,
            targets: self.targets.clone(),
            replace: self.replace.clone(),
            refresh_only: self.refresh_only,
            imports: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum PlanFormat {
    /// The human plan.
    Text,
    /// A PR comment: Terraform's summary line, a warning block on destroy/replace, the detail in
    /// <details> when long, under 65,536 characters.
    Markdown,
    /// Terraform's plan JSON (format_version 1.2), with runform's execute actions in
    /// `runform_executions`.
    Json,
}

#[derive(Args, Clone)]
struct ApplyArgs {
    /// Apply without asking for confirmation.
    #[arg(long)]
    auto_approve: bool,
    /// At most this many actions at once.
    #[arg(long, default_value_t = 10)]
    parallelism: usize,
}

#[derive(Subcommand)]
enum Cmd {
    /// Load and check the configuration; no network.
    Validate {
        #[arg(default_value = ".")]
        dir: PathBuf,
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

#[derive(Subcommand)]
enum WorkspaceCmd {
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

#[derive(Subcommand)]
enum StateCmd {
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

#[derive(Subcommand)]
enum LocalCmd {
    /// Run the local runtime in the foreground.
    Serve {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:8790")]
        addr: String,
        /// Data directory (default: the stack's .runform/local/data, so `--local` commands use this server).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The stack directory this server serves.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// How tasks run: `docker` (containers of the job's image in Docker or Podman),
        /// `process` (local processes, through `local_image` mappings or the job's command),
        /// or `auto` (docker when an engine answers at DOCKER_HOST or the default sockets).
        #[arg(long, env = "RUNFORM_EXECUTOR", default_value = "auto")]
        executor: crate::runtime::executor::ExecutorChoice,
        /// Require this token on every call (`X-Runform-Token` or `Authorization: Bearer`);
        /// without a value, a random one. It is kept in .runform/local/token (0600), where
        /// runform's commands find it; a token file there is required even without the flag.
        #[arg(long, num_args = 0..=1, default_missing_value = "")]
        token: Option<String>,
    },
    /// Print `export` lines that point gcloud and Google's client libraries at a local
    /// runtime, with no credentials: `eval "$(runform local env)"`.
    Env {
        /// The runtime's URL (default: the stack's `runform local serve`, else
        /// http://127.0.0.1:8790).
        #[arg(long)]
        endpoint: Option<String>,
        /// The project gcloud and the clients use by default.
        #[arg(long, default_value = "runform-local")]
        project: String,
        /// The stack directory whose runtime to point at.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Upload a file to a bucket on the local runtime (emits the storage events Eventarc
    /// triggers listen to): `runform local upload photo.jpg gs://input-proj/photos/cat.jpg`.
    Upload {
        /// The file to upload.
        file: PathBuf,
        /// Where: gs://BUCKET/OBJECT (OBJECT defaults to the file's name).
        to: String,
        /// Create the bucket first if it does not exist.
        #[arg(long)]
        create_bucket: bool,
        /// Content type (default: from the file extension, else application/octet-stream).
        #[arg(long)]
        content_type: Option<String>,
        /// The stack directory whose local runtime to use.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

fn parse_vars(v: &VarArgs, local: bool) -> anyhow::Result<LoadArgs> {
    let vars = v
        .vars
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| anyhow!("--var {s:?}: expected NAME=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(LoadArgs {
        vars,
        var_files: v.var_files.clone(),
        local,
        ..Default::default()
    })
}

/// Terraform's single-dash long flags (`-json`, `-var=x`, `-out plan`) as runform's
/// double-dash ones, so CI scripts written for Terraform run unchanged. Only flag names
/// runform has are rewritten; everything after `--` is left alone.
pub fn terraform_style_flags(args: impl IntoIterator<Item = String>) -> Vec<String> {
    const LONG: &[&str] = &[
        "json",
        "plan",
        "var",
        "var-file",
        "out",
        "auto-approve",
        "target",
        "replace",
        "refresh-only",
        "detailed-exitcode",
        "lock-timeout",
        "parallelism",
        "raw",
        "destroy",
        "check",
        "diff",
        "recursive",
        "force",
    ];
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        if rest || a == "--" {
            rest = true;
            out.push(a);
            continue;
        }
        let name = a
            .strip_prefix('-')
            .filter(|n| !n.starts_with('-'))
            .map(|n| n.split_once('=').map_or(n, |(k, _)| k));
        match name {
            Some(n) if LONG.contains(&n) => out.push(format!("-{a}")),
            _ => out.push(a),
        }
    }
    out
}

/// Runs the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn is_local(t: &TargetArgs) -> bool {
    t.local && t.endpoint.is_none()
}

async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    match cli.cmd {
        Cmd::Import {
            addr,
            id,
            dir,
            vars,
            target,
        } => {
            let args = parse_vars(&vars, is_local(&target))?;
            let t = ops::target(&dir, is_local(&target), target.endpoint.as_deref()).await?;
            let r = import_cmd(
                &dir,
                &args,
                &t,
                &addr,
                &id,
                target.verbose,
                target.lock_timeout,
            )
            .await;
            t.stop().await;
            r
        }
        Cmd::State { cmd } => {
            let (dir, target) = cmd.location();
            let (sf, conn) = open_state_for(dir, target).await?;
            let r = state_cmd(cmd, &sf);
            if let Some(c) = conn {
                c.stop().await;
            }
            r
        }
        Cmd::Workspace { cmd } => workspace_cmd(cmd).await,
        Cmd::Fmt {
            paths,
            check,
            diff,
            recursive,
        } => fmt_cmd(&paths, check, diff, recursive),
        Cmd::ForceUnlock { id, dir, target } => {
            let (sf, conn) = open_state_for(&dir, &target).await?;
            let info = sf.force_unlock(&id);
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
        Cmd::Show { planfile, json } => {
            let pf = planfile::read(&planfile)?.as_saved()?;
            if json {
                println!("{}", pf.json);
            } else {
                print!("{}", view::render_plan(&pf.plan, &Style::detect()));
            }
            Ok(0)
        }
        Cmd::Output {
            name,
            json,
            raw,
            dir,
            target,
        } => {
            let (sf, conn) = open_state_for(&dir, &target).await?;
            let r = output_cmd(&sf, name.as_deref(), json, raw);
            if let Some(c) = conn {
                c.stop().await;
            }
            r
        }
        Cmd::Providers {
            cmd: ProvidersCmd::Schema { json },
        } => {
            if !json {
                bail!("providers schema prints JSON only: pass --json (or -json)");
            }
            println!("{}", crate::resources::provider_schema::document());
            Ok(0)
        }
        Cmd::Console {
            dir,
            plan,
            vars,
            target,
        } => {
            let args = parse_vars(&vars, is_local(&target))?;
            console_cmd(&dir, args, &target, plan).await
        }
        Cmd::Validate { dir, vars } => {
            // As `terraform validate`: variables are unknowns of their types, so what is
            // checked holds for any values they are given (-var and -var-file are accepted
            // for compatibility and not read).
            let mut args = parse_vars(&vars, true)?;
            args.validate_only = true;
            let (stack, diags, sources) = ops::load_stack(&dir, &args, None, None);
            eprint!("{}", sources.render_all(&diags));
            match stack {
                Some(s) => {
                    println!(
                        "The configuration is valid: {} resource(s).",
                        s.resources.len()
                    );
                    Ok(0)
                }
                None => {
                    eprintln!("{} error(s); nothing was contacted.", diags.error_count());
                    Ok(1)
                }
            }
        }
        Cmd::Plan {
            dir,
            vars,
            out,
            detailed_exitcode,
            destroy,
            select,
            format,
            target,
        } => {
            let args = parse_vars(&vars, is_local(&target))?;
            let t = ops::target(&dir, is_local(&target), target.endpoint.as_deref()).await?;
            let opts = select.options(destroy);
            let result = plan_cmd(&dir, &args, &t, &opts, target.verbose).await;
            let code = match result {
                Ok(Some((plan, stack, planned_args))) => {
                    match format {
                        PlanFormat::Text => {
                            print!("{}", view::render_plan(&plan, &Style::detect()))
                        }
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
                    if let Some(out) = out {
                        save_planfile(
                            &out,
                            &dir,
                            &plan,
                            &stack,
                            &planned_args,
                            &t.state_file.load()?,
                            &target_key(&target),
                        )?;
                        eprintln!(
                            "Saved the plan to {}; apply it with `runform apply {}{}`",
                            out.display(),
                            target_flags(&target),
                            out.display()
                        );
                    }
                    let code = if detailed_exitcode && plan.has_changes() {
                        2
                    } else {
                        0
                    };
                    drop_later((plan, stack));
                    code
                }
                Ok(None) => 1,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    1
                }
            };
            t.stop().await;
            Ok(code)
        }
        Cmd::Apply {
            path,
            vars,
            how:
                ApplyArgs {
                    auto_approve,
                    parallelism,
                },
            select,
            target,
        } => {
            let args = parse_vars(&vars, is_local(&target))?;
            if path.is_file() {
                return apply_planfile(&path, &args, &target, parallelism).await;
            }
            apply_cmd(
                &path,
                &args,
                &target,
                auto_approve,
                parallelism,
                &select.options(false),
            )
            .await
        }
        Cmd::Destroy {
            dir,
            vars,
            how:
                ApplyArgs {
                    auto_approve,
                    parallelism,
                },
            targets,
            target,
        } => {
            let args = parse_vars(&vars, is_local(&target))?;
            let select = PlanArgs {
                targets,
                ..Default::default()
            };
            apply_cmd(
                &dir,
                &args,
                &target,
                auto_approve,
                parallelism,
                &select.options(true),
            )
            .await
        }
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
            let t = ops::target(&dir, is_local(&target), target.endpoint.as_deref()).await?;
            if let Err(e) = ops::configure_from_stack(&t.client, &dir) {
                t.stop().await;
                return Err(e);
            }
            let r = run_cmd(&t, &dir, &job, wait, tasks, &env, &args, task_timeout).await;
            t.stop().await;
            r
        }
        Cmd::Executions { job, dir, target } => {
            let t = ops::target(&dir, is_local(&target), target.endpoint.as_deref()).await?;
            if let Err(e) = ops::configure_from_stack(&t.client, &dir) {
                t.stop().await;
                return Err(e);
            }
            let r = executions_cmd(&t, job.as_deref()).await;
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
            let t = ops::target(&dir, is_local(&target), target.endpoint.as_deref()).await?;
            if let Err(e) = ops::configure_from_stack(&t.client, &dir) {
                t.stop().await;
                return Err(e);
            }
            let r = logs_cmd(&t, &execution, task, follow).await;
            t.stop().await;
            r
        }
        Cmd::Cancel {
            execution,
            dir,
            target,
        } => {
            let t = ops::target(&dir, is_local(&target), target.endpoint.as_deref()).await?;
            if let Err(e) = ops::configure_from_stack(&t.client, &dir) {
                t.stop().await;
                return Err(e);
            }
            let r = async {
                let name = resolve_execution(&t, &execution).await?;
                t.client.cancel_execution(&name).await?;
                println!("Cancelling {}.", last_segment(&name));
                Ok(0)
            }
            .await;
            t.stop().await;
            r
        }
        Cmd::Local {
            cmd:
                LocalCmd::Serve {
                    addr,
                    data,
                    dir,
                    executor,
                    token,
                },
        } => serve(&addr, data, &dir, executor, token).await,
        Cmd::Local {
            cmd:
                LocalCmd::Upload {
                    file,
                    to,
                    create_bucket,
                    content_type,
                    dir,
                },
        } => upload(&file, &to, create_bucket, content_type, &dir).await,
        Cmd::Local {
            cmd:
                LocalCmd::Env {
                    endpoint,
                    project,
                    dir,
                },
        } => {
            let url = match endpoint {
                Some(u) => u,
                None => ops::recorded_runtime_url(&dir)
                    .unwrap_or_else(|| "http://127.0.0.1:8790".into()),
            };
            print!("{}", local_env(&url, &project)?);
            Ok(0)
        }
    }
}

/// The environment that points gcloud and Google's client libraries at the runtime at `url`:
/// every API endpoint overridden (plain HTTP), the runtime as gcloud's HTTP proxy (gcloud
/// turns an endpoint override into a regional host, `us-central1-127.0.0.1:PORT`, that only
/// the runtime knows; anything else sent through it, such as HTTPS to Google, is refused),
/// no credentials, and the project.
fn local_env(url: &str, project: &str) -> anyhow::Result<String> {
    let base = url.trim_end_matches('/');
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("--endpoint {url}: the local runtime speaks http://HOST:PORT"))?;
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("--endpoint {url}: give the port"))?;
    let mut vars = crate::runtime::executor::endpoint_env(base);
    vars.extend(
        [
            ("CLOUDSDK_PROXY_TYPE", "http"),
            ("CLOUDSDK_PROXY_ADDRESS", host),
            ("CLOUDSDK_PROXY_PORT", port),
            ("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true"),
            ("CLOUDSDK_CORE_PROJECT", project),
            ("GOOGLE_CLOUD_PROJECT", project),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Ok(vars
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
        .collect())
}

/// A value as one shell word.
fn shell_quote(v: &str) -> String {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

async fn plan_cmd(
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
    eprint!("{}", sources.render_all(&diags));
    let Some(stack) = stack else {
        eprintln!("{} error(s); nothing was contacted.", diags.error_count());
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
            eprint!("{}", s2.render_all(&d2));
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
            eprint!("{}", sources.render_all(&d));
            Ok(None)
        }
    }
}

/// `runform console`: reads expressions from stdin (an expression may span lines) and prints
/// each one's value. Without a terminal, the first error ends it with exit code 1.
async fn console_cmd(
    dir: &Path,
    mut args: LoadArgs,
    target: &TargetArgs,
    plan: bool,
) -> anyhow::Result<i32> {
    use std::io::BufRead;
    let t = ops::target(dir, is_local(target), target.endpoint.as_deref()).await?;
    let r = async {
        let state = t.state_file.load()?;
        args.console = Some(if plan {
            crate::config::ConsoleMode::Plan
        } else {
            crate::config::ConsoleMode::State
        });
        let (stack, diags, sources) = ops::load_stack(dir, &args, Some(&state), Some(&t.client));
        eprint!("{}", sources.render_all(&diags));
        let Some(stack) = stack else {
            return Ok(1);
        };
        let session = crate::console::Session::new(stack.console_scope.unwrap_or_default());
        let interactive = std::io::stdin().is_terminal();
        let prompt = |more: bool| {
            if interactive {
                eprint!("{}", if more { "  " } else { "> " });
            }
        };
        let mut buf = String::new();
        prompt(false);
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            if buf.is_empty() && line.trim() == "exit" {
                break;
            }
            buf.push_str(&line);
            buf.push('\n');
            if !crate::console::is_complete(&buf) {
                prompt(true);
                continue;
            }
            let src = std::mem::take(&mut buf);
            if !src.trim().is_empty() {
                match session.eval(&src) {
                    Ok(shown) => println!("{shown}"),
                    Err(e) => {
                        let mut text = e.to_string();
                        for v in stack.sensitive_values.iter().filter(|v| v.len() >= 3) {
                            text = text.replace(v.as_str(), "(sensitive value)");
                        }
                        eprintln!("{text}");
                        if !interactive {
                            return Ok(1);
                        }
                    }
                }
            }
            prompt(false);
        }
        if !buf.trim().is_empty() {
            eprintln!(
                "Error: Missing expression\n\nThe input ended inside an unfinished expression."
            );
            return Ok(1);
        }
        Ok(0)
    }
    .await;
    t.stop().await;
    r
}

/// Frees a large value on another thread: a 10,000-resource state or refresh takes tens of
/// milliseconds to free, and the command has more useful things to do meanwhile (the
/// process may even exit first, which frees everything at once).
fn drop_later<T: Send + 'static>(v: T) {
    std::thread::spawn(move || drop(v));
}

/// This process's peak resident memory in MiB (Linux; 0 elsewhere), for `--verbose`.
pub fn peak_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn confirm(auto_approve: bool) -> anyhow::Result<bool> {
    if auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to apply without confirmation: no terminal to ask on\nhint: pass --auto-approve (e.g. in CI), or apply a saved plan file");
    }
    eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

async fn apply_cmd(
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
        let _lock = t.state_file.lock_wait(
            if destroy { "destroy" } else { "apply" },
            target.lock_timeout,
        )?;
        let Some((plan, stack, planned_args)) =
            plan_cmd(dir, args, &t, opts, target.verbose).await?
        else {
            return Ok(1);
        };
        print!("{}", view::render_plan(&plan, &Style::detect()));
        if !plan.has_work() {
            // Nothing to change, but outputs may be new or different: record them.
            let mut state = t.state_file.load()?;
            let before = (state.outputs.clone(), state.output_types.clone());
            write_outputs(&mut state, &stack);
            if (state.outputs.clone(), state.output_types.clone()) != before {
                t.state_file.commit(&mut state)?;
            }
            return Ok(0);
        }
        if !plan.blocked.is_empty() {
            eprintln!("error: this plan cannot be applied (see above); nothing was changed");
            return Ok(1);
        }
        if plan.has_changes() && !confirm(auto_approve)? {
            eprintln!("Apply cancelled.");
            return Ok(1);
        }
        let reread = Reread {
            dir,
            args: planned_args,
        };
        let code = execute(&t, &plan, Some(&reread), parallelism).await?;
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
        eprint!("{}", sources.render_all(&only));
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

fn fmt_cmd(paths: &[PathBuf], check: bool, diff: bool, recursive: bool) -> anyhow::Result<i32> {
    fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| anyhow!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                if recursive && !name.starts_with('.') {
                    collect(&p, recursive, out)?;
                }
            } else if name.ends_with(".tf") || name.ends_with(".hcl") || name.ends_with(".tfvars") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    let roots = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    for p in &roots {
        if p.is_dir() {
            collect(p, recursive, &mut files)?;
        } else {
            files.push(p.clone());
        }
    }
    let mut unformatted = 0;
    let mut errors = 0;
    for f in &files {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow!("cannot read {}: {e}", f.display()))?;
        let formatted = match crate::fmt::format(&text) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {}: {e}", f.display());
                errors += 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted += 1;
        println!("{}", f.display());
        if diff {
            let d = similar::TextDiff::from_lines(&text, &formatted);
            print!(
                "{}",
                d.unified_diff().header(
                    &format!("old/{}", f.display()),
                    &format!("new/{}", f.display())
                )
            );
        }
        if !check {
            let tmp = f.with_extension("fmt-tmp");
            std::fs::write(&tmp, &formatted)?;
            std::fs::rename(&tmp, f)?;
        }
    }
    Ok(if errors > 0 {
        2
    } else if check && unformatted > 0 {
        3
    } else {
        0
    })
}

impl StateCmd {
    fn location(&self) -> (&Path, &TargetArgs) {
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
async fn open_state_for(
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

/// The workspaces that exist for the stack's target and backend.
async fn workspaces(dir: &Path, t: &TargetArgs) -> anyhow::Result<Vec<String>> {
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

fn select_workspace(dir: &Path, name: &str) -> anyhow::Result<()> {
    let d = dir.join(".runform");
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join("environment"), format!("{name}\n"))?;
    Ok(())
}

async fn workspace_cmd(cmd: WorkspaceCmd) -> anyhow::Result<i32> {
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
        WorkspaceCmd::Select { name, dir, target } => {
            if !workspaces(&dir, &target).await?.contains(&name) {
                bail!("workspace {name:?} does not exist\nhint: `runform workspace new {name}`");
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

fn state_cmd(cmd: StateCmd, sf: &crate::state::StateFile) -> anyhow::Result<i32> {
    use crate::plan::addr_matches;
    match cmd {
        StateCmd::List { addrs, .. } => {
            let state = sf.load()?;
            for a in state.resources.keys() {
                if addrs.is_empty() || addrs.iter().any(|f| addr_matches(a, f)) {
                    println!("{a}");
                }
            }
            Ok(0)
        }
        StateCmd::Show { addr, dir, target } => {
            let state = sf.load()?;
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
        StateCmd::Rm { addrs, target, .. } => {
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
        StateCmd::Mv {
            from, to, target, ..
        } => {
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
            let state = sf.load()?;
            println!("{}", serde_json::to_string_pretty(&state)?);
            Ok(0)
        }
        StateCmd::Push {
            file: f,
            force,
            target,
            ..
        } => {
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

async fn import_cmd(
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

/// Records the root module's outputs in the state and prints them as `terraform apply` does.
/// An output still unknown (what it depends on failed to apply) keeps its previous value; a
/// null one is not recorded, as in Terraform.
fn write_outputs(state: &mut crate::state::State, stack: &crate::config::Stack) {
    let mut shown = Vec::new();
    for o in &stack.outputs {
        if !o.value.is_wholly_known() {
            continue;
        }
        let sensitive = o.sensitive || o.value.contains_marked();
        match o.value.to_json() {
            Some(serde_json::Value::Null) | None => {
                state.outputs.remove(&o.name);
                state.output_types.remove(&o.name);
                state.sensitive_outputs.remove(&o.name);
                continue;
            }
            Some(j) => {
                state.outputs.insert(o.name.clone(), j);
            }
        }
        state
            .output_types
            .insert(o.name.clone(), o.value.ty().to_json());
        if sensitive {
            state.sensitive_outputs.insert(o.name.clone());
            shown.push(format!("{} = <sensitive>", o.name));
        } else {
            state.sensitive_outputs.remove(&o.name);
            shown.push(format!(
                "{} = {}",
                o.name,
                crate::lang::value::format_console(&o.value.clone().unmark_deep().0, 0)
            ));
        }
    }
    // Outputs no longer declared leave the state with the apply.
    let declared: std::collections::BTreeSet<&str> =
        stack.outputs.iter().map(|o| o.name.as_str()).collect();
    state.outputs.retain(|k, _| declared.contains(k.as_str()));
    state
        .output_types
        .retain(|k, _| declared.contains(k.as_str()));
    state
        .sensitive_outputs
        .retain(|k| declared.contains(k.as_str()));
    if !shown.is_empty() {
        println!("\nOutputs:\n");
        for line in shown {
            println!("{line}");
        }
    }
}

/// An output recorded in the state, as the value it was (typed).
fn state_output(state: &crate::state::State, name: &str) -> Option<crate::lang::Value> {
    let j = state.outputs.get(name)?;
    let ty = state
        .output_types
        .get(name)
        .and_then(crate::lang::types::Type::from_json)
        .unwrap_or_else(|| crate::lang::Value::from_json(j).ty());
    crate::lang::Value::from_json_typed(j, &ty)
        .ok()
        .or_else(|| Some(crate::lang::Value::from_json(j)))
}

/// `runform output [NAME] [--json|--raw]`, read from the target's state.
fn output_cmd(
    sf: &crate::state::StateFile,
    name: Option<&str>,
    json: bool,
    raw: bool,
) -> anyhow::Result<i32> {
    let state = sf.load()?;
    // As `terraform output` shows them: the console's syntax (`tolist([...])`, heredocs).
    let shown = |k: &str| {
        state_output(&state, k)
            .map(|v| crate::lang::value::format_console(&v, 0))
            .unwrap_or_default()
    };
    match name {
        Some(n) => {
            let Some(v) = state.outputs.get(n) else {
                let mut msg = format!("no output {n:?} in the state");
                if let Some(c) = crate::diag::closest(n, state.outputs.keys().map(String::as_str)) {
                    msg.push_str(&format!("\nhint: did you mean {c:?}?"));
                } else if state.outputs.is_empty() {
                    msg.push_str(
                        "\nhint: the state has no outputs; declare `output` blocks and apply",
                    );
                }
                bail!(msg);
            };
            // Asked for by name: shown even when sensitive, as Terraform does.
            if json {
                println!("{}", serde_json::to_string(v)?);
            } else if raw {
                // As Terraform's: the value alone, without a newline, for piping.
                match v {
                    serde_json::Value::String(s) => print!("{s}"),
                    serde_json::Value::Number(_) | serde_json::Value::Bool(_) => print!("{v}"),
                    _ => bail!("--raw prints only strings, numbers and bools; {n:?} is a collection (use --json)"),
                }
            } else {
                println!("{}", shown(n));
            }
        }
        None if json => {
            let all: serde_json::Map<String, serde_json::Value> = state
                .outputs
                .iter()
                .map(|(k, v)| {
                    let sensitive = state.sensitive_outputs.contains(k);
                    (
                        k.clone(),
                        serde_json::json!({
                            "sensitive": sensitive,
                            "type": state.output_types.get(k).cloned().unwrap_or_else(|| crate::plan::json::type_of(v)),
                            "value": v,
                        }),
                    )
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        None => {
            if raw {
                bail!("--raw needs an output name");
            }
            if state.outputs.is_empty() {
                eprintln!("No outputs in the state (declare `output` blocks and apply).");
            }
            for k in state.outputs.keys() {
                if state.sensitive_outputs.contains(k) {
                    println!("{k} = <sensitive>");
                } else {
                    println!("{k} = {}", shown(k));
                }
            }
        }
    }
    Ok(0)
}

/// How apply reads the configuration again: to plan the changes that waited for values
/// learned during apply, and to compute the outputs from the state apply leaves.
struct Reread<'a> {
    dir: &'a Path,
    /// The arguments the plan was made with.
    args: LoadArgs,
}

async fn execute(
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
        observer: Box::new(view::StderrObserver::new(false)),
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
                eprint!("{}", sources.render_all(&diags));
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
        eprintln!("error: {addr}: {e}");
    }
    for addr in &outcome.skipped {
        eprintln!("skipped {addr}: a resource it depends on failed");
    }
    if !outcome.not_started.is_empty() {
        eprintln!(
            "error: {} stopped answering: {} action(s) completed and are recorded in state; {} not started: {}\nhint: run apply again once it answers; it picks up where this one stopped",
            t.label,
            outcome.done.len(),
            outcome.not_started.len(),
            outcome.not_started.join(", ")
        );
    }
    if outcome.failed.is_empty() && outcome.not_started.is_empty() {
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
        }
        Ok(0)
    } else {
        eprintln!(
            "\nApply failed: {} action(s) failed; {} completed and are recorded in state.",
            outcome.failed.len(),
            outcome.done.len()
        );
        Ok(1)
    }
}

fn save_planfile(
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

/// Which target a command talks to, as a saved plan records it: `google`, `local`, or
/// `endpoint URL`.
fn target_key(t: &TargetArgs) -> String {
    match (&t.endpoint, t.local) {
        (Some(url), _) => format!("endpoint {}", url.trim_end_matches('/')),
        (None, true) => "local".into(),
        (None, false) => "google".into(),
    }
}

/// The flags that select a target key's target (for messages).
fn target_flags(t: &TargetArgs) -> String {
    match (&t.endpoint, t.local) {
        (Some(url), _) => format!("--endpoint {url} "),
        (None, true) => "--local ".into(),
        (None, false) => String::new(),
    }
}

/// What a target key means, in words.
fn target_words(key: &str) -> String {
    match key {
        "google" => "Google Cloud".into(),
        "local" => "the local runtime (--local)".into(),
        other => other.replacen("endpoint ", "the endpoint ", 1),
    }
}

async fn apply_planfile(
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
        let _lock = t.state_file.lock_wait("apply", target.lock_timeout)?;
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
                eprint!("{}", sources.render_all(&diags));
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
        print!("{}", view::render_plan(&pf.plan, &Style::detect()));
        let stack = crate::config::Stack {
            local_images: pf.local_images.clone(),
            ..Default::default()
        };
        ops::register_images(&t.client, &stack).await?;
        let reread = Reread {
            dir: &dir,
            args: pf.args.clone(),
        };
        execute(&t, &pf.plan, Some(&reread), parallelism).await
    }
    .await;
    t.stop().await;
    r
}

/// A job given as a stack job name, an address, or a full resource name.
fn resolve_job(t: &Target, dir: &Path, job: &str) -> anyhow::Result<String> {
    if job.starts_with("projects/") {
        return Ok(job.to_string());
    }
    let state = t.state_file.load()?;
    let found: Vec<&str> = state
        .resources
        .iter()
        .filter(|(addr, e)| {
            e.ty == crate::resources::cloud_run_v2_job::TYPE
                && (addr.as_str() == job
                    || last_segment(&e.id) == job
                    || addr.ends_with(&format!(".{job}")))
        })
        .map(|(_, e)| e.id.as_str())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.to_string()),
        [] => bail!("no job {job:?} in the state of {} ({})\nhint: apply the stack first, or pass the full name projects/P/locations/L/jobs/J", dir.display(), t.label),
        _ => bail!("{job:?} matches several jobs: {}", found.join(", ")),
    }
}

async fn resolve_execution(t: &Target, execution: &str) -> anyhow::Result<String> {
    if execution.starts_with("projects/") {
        return Ok(execution.to_string());
    }
    let state = t.state_file.load()?;
    for e in state
        .resources
        .values()
        .filter(|e| e.ty == crate::resources::cloud_run_v2_job::TYPE)
    {
        let short = last_segment(&e.id);
        if execution.starts_with(&format!("{short}-")) {
            return Ok(format!("{}/executions/{execution}", e.id));
        }
    }
    bail!("no job in state owns execution {execution:?}\nhint: pass the full name projects/P/locations/L/jobs/J/executions/E")
}

#[allow(clippy::too_many_arguments)]
async fn run_cmd(
    t: &Target,
    dir: &Path,
    job: &str,
    wait: bool,
    tasks: Option<i32>,
    env: &[String],
    args: &[String],
    task_timeout: Option<String>,
) -> anyhow::Result<i32> {
    let name = resolve_job(t, dir, job)?;
    let env: Vec<EnvVar> = env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| EnvVar {
                    name: k.into(),
                    value: Some(v.into()),
                    value_source: None,
                })
                .ok_or_else(|| anyhow!("--env {kv:?}: expected K=V"))
        })
        .collect::<anyhow::Result<_>>()?;
    let overrides =
        (tasks.is_some() || !env.is_empty() || !args.is_empty() || task_timeout.is_some()).then(
            || Overrides {
                container_overrides: if env.is_empty() && args.is_empty() {
                    vec![]
                } else {
                    vec![ContainerOverride {
                        args: args.to_vec(),
                        env,
                        ..Default::default()
                    }]
                },
                task_count: tasks,
                timeout: task_timeout,
            },
        );
    let op = t
        .client
        .run_job(
            &name,
            &RunJobRequest {
                overrides,
                ..Default::default()
            },
        )
        .await?;
    let exec_name = op
        .metadata
        .as_ref()
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| anyhow!("the run operation did not name its execution"))?
        .to_string();
    println!("Started execution {}.", last_segment(&exec_name));
    let wait = wait || t.embedded.is_some();
    if !wait {
        return Ok(0);
    }
    if t.embedded.is_some() {
        eprintln!("(no `runform local serve` is running for this stack, so the execution runs inside this command; waiting for it)");
    }
    let ctx = Ctx {
        client: t.client.clone(),
        lineage: String::new(),
        observer: Box::new(view::StderrObserver::new(false)),
    };
    let exec = crate::resources::wait_execution(
        &ctx,
        last_segment(&name),
        &exec_name,
        Duration::from_secs(7 * 24 * 3600),
    )
    .await
    .map_err(|e| anyhow!(e))?;
    print_tasks(t, &exec).await?;
    if exec.succeeded() {
        println!("Execution {} succeeded.", exec.short_name());
        Ok(0)
    } else {
        eprintln!("{}", crate::resources::execution_failure(&ctx, &exec).await);
        Ok(1)
    }
}

async fn print_tasks(t: &Target, exec: &Execution) -> anyhow::Result<()> {
    let tasks = t.client.list_tasks(&exec.name).await?;
    for task in tasks {
        let state = task
            .conditions
            .iter()
            .find(|c| c.type_ == "Completed")
            .map(|c| {
                c.state
                    .as_str()
                    .trim_start_matches("CONDITION_")
                    .to_lowercase()
            })
            .unwrap_or_default();
        let exit = task
            .last_attempt_result
            .as_ref()
            .and_then(|r| r.exit_code)
            .map(|c| format!(", exit {c}"))
            .unwrap_or_default();
        println!(
            "  task {:>4}: {state} after {} attempt(s){exit}",
            task.index,
            task.retried + 1
        );
    }
    Ok(())
}

async fn executions_cmd(t: &Target, job: Option<&str>) -> anyhow::Result<i32> {
    let jobs: Vec<String> = match job {
        Some(j) => vec![resolve_job(t, Path::new("."), j)?],
        None => t
            .state_file
            .load()?
            .resources
            .values()
            .filter(|e| e.ty == crate::resources::cloud_run_v2_job::TYPE)
            .map(|e| e.id.clone())
            .collect(),
    };
    println!(
        "{:<32} {:<24} {:<10} {:>6} {:>6} {:>6}",
        "EXECUTION", "JOB", "STATUS", "TASKS", "OK", "FAILED"
    );
    for j in jobs {
        for e in t.client.list_executions(&j, 100).await? {
            let status = if !e.is_done() {
                "running"
            } else if e.succeeded() {
                "succeeded"
            } else if e.cancelled() {
                "cancelled"
            } else {
                "failed"
            };
            println!(
                "{:<32} {:<24} {:<10} {:>6} {:>6} {:>6}",
                e.short_name(),
                last_segment(&j),
                status,
                e.task_count,
                e.succeeded_count,
                e.failed_count
            );
        }
    }
    Ok(0)
}

async fn logs_cmd(
    t: &Target,
    execution: &str,
    task: Option<i32>,
    follow: bool,
) -> anyhow::Result<i32> {
    let name = resolve_execution(t, execution).await?;
    let mut printed: std::collections::BTreeMap<(i32, i32), usize> = Default::default();
    loop {
        let exec = t.client.get_execution(&name).await?;
        let entries = t.client.logs(&name, task).await.context("reading logs (the local runtime serves task logs; on Google they are in Cloud Logging)")?;
        let mut count: std::collections::BTreeMap<(i32, i32), usize> = Default::default();
        for e in entries {
            let n = count.entry((e.task, e.attempt)).or_default();
            *n += 1;
            if *n > printed.get(&(e.task, e.attempt)).copied().unwrap_or(0) {
                use std::io::Write;
                // A closed pipe (`| head`) ends the command quietly.
                if writeln!(
                    std::io::stdout(),
                    "[task {} attempt {}] {}",
                    e.task,
                    e.attempt,
                    e.line
                )
                .is_err()
                {
                    return Ok(0);
                }
            }
        }
        printed = count;
        if !follow || exec.is_done() {
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn upload(
    file: &Path,
    to: &str,
    create_bucket: bool,
    content_type: Option<String>,
    dir: &Path,
) -> anyhow::Result<i32> {
    let Some((bucket, object)) = to
        .strip_prefix("gs://")
        .map(|r| r.split_once('/').unwrap_or((r, "")))
    else {
        bail!("{to:?} is not a gs://BUCKET/OBJECT address");
    };
    // Like gsutil cp: an empty object name or one ending in '/' takes the file's name.
    let object = if object.is_empty() || object.ends_with('/') {
        let base = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("upload");
        format!("{object}{base}")
    } else {
        object.to_string()
    };
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let ct = content_type.unwrap_or_else(|| {
        match file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str()
        {
            "jpg" | "jpeg" => "image/jpeg",
            "png" => "image/png",
            "txt" => "text/plain",
            "csv" => "text/csv",
            "json" => "application/json",
            _ => "application/octet-stream",
        }
        .to_string()
    });
    let t = ops::target(dir, true, None).await?;
    let r = async {
        if create_bucket {
            t.client
                .ensure_bucket(ops::LOCAL_DEFAULT_PROJECT, bucket)
                .await
                .with_context(|| format!("creating bucket {bucket}"))?;
        }
        let obj = t
            .client
            .upload_object(bucket, &object, &ct, data)
            .await
            .map_err(|e| anyhow::anyhow!("{e}\nhint: create the bucket (or pass --create-bucket)"))?;
        println!(
            "Uploaded gs://{bucket}/{object} ({} bytes, generation {}).",
            obj["size"].as_str().unwrap_or("?"),
            obj["generation"].as_str().unwrap_or("?")
        );
        if let Some(server) = &t.embedded {
            // No `runform local serve`: the events are delivered by the runtime inside this
            // command, so wait for what they started (workflows, jobs) before stopping it.
            eprintln!("(no `runform local serve` is running for this stack: delivering the events here and waiting for what they start)");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            while server.runtime.busy() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        Ok::<i32, anyhow::Error>(0)
    }
    .await;
    t.stop().await;
    r
}

/// The token `runform local serve` requires: `--token VALUE`, a random one for a bare
/// `--token` (or the one already in the token file), or the token file's when one exists.
/// Written to the token file, 0600, in a 0700 directory.
fn serve_token(local: &Path, flag: Option<String>) -> anyhow::Result<Option<String>> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = local.join("token");
    let existing = std::fs::read_to_string(&path)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let token = match flag {
        Some(v) if !v.is_empty() => Some(v),
        Some(_) => Some(existing.clone().unwrap_or_else(|| {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        })),
        None => existing.clone(),
    };
    let Some(token) = token else {
        return Ok(None);
    };
    std::fs::create_dir_all(local)?;
    std::fs::set_permissions(local, std::fs::Permissions::from_mode(0o700))?;
    if existing.as_deref() != Some(token.as_str()) {
        let _ = std::fs::remove_file(&path);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(token.as_bytes())?;
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(Some(token))
}

async fn serve(
    addr: &str,
    data: Option<PathBuf>,
    dir: &Path,
    executor: crate::runtime::executor::ExecutorChoice,
    token: Option<String>,
) -> anyhow::Result<i32> {
    let addr: std::net::SocketAddr = addr.parse().map_err(|e| anyhow!("--addr {addr:?}: {e}"))?;
    let local = ops::local_dir(dir);
    let data = data.unwrap_or_else(|| local.join("data"));
    let token = serve_token(&local, token)?;
    let server = crate::runtime::Server::start(
        crate::runtime::RuntimeConfig {
            data_dir: Some(data.clone()),
            executor,
            token: token.clone(),
            ..Default::default()
        },
        addr,
    )
    .await?;
    std::fs::create_dir_all(&local)?;
    let record = local.join("server.json");
    std::fs::write(
        &record,
        serde_json::to_vec(&ops::ServerRecord {
            url: server.url(),
            pid: std::process::id(),
        })?,
    )?;
    println!(
        "runform local runtime listening on {} (data in {})",
        server.url(),
        data.display()
    );
    println!("Tasks: {}", server.runtime.executor().description);
    if token.is_some() {
        println!(
            "Every call must carry the token in {} (X-Runform-Token, or Authorization: Bearer); runform's commands send it.",
            local.join("token").display()
        );
    }
    println!("Point Google's clients at it with api_endpoint={} and anonymous credentials; press Ctrl-C to stop.", server.url());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    eprintln!("stopping: cancelling running executions...");
    let _ = std::fs::remove_file(&record);
    server.stop().await;
    Ok(0)
}
