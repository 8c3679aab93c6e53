//! `runform schedule run NAME`: fire a Cloud Scheduler job now, as `gcloud scheduler jobs
//! run` does (its schedule is unchanged), and on the local runtime report the attempt.

use super::args::TargetArgs;
use super::jobs::{connect, Connected};
use crate::api::run::last_segment;
use crate::resources::Ctx;
use crate::view;
use anyhow::{anyhow, bail};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Subcommand)]
pub(super) enum ScheduleCmd {
    /// Fire a scheduler job now (a stack scheduler job's name or address, or its full name),
    /// as `gcloud scheduler jobs run`; its schedule is unchanged.
    Run {
        name: String,
        /// Wait for the Cloud Run execution the attempt started (local runtime), and exit
        /// non-zero if it fails.
        #[arg(long)]
        wait: bool,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
}

impl ScheduleCmd {
    pub(super) fn dir(&self) -> &Path {
        match self {
            ScheduleCmd::Run { dir, .. } => dir,
        }
    }
}

pub(super) async fn schedule_cmd(cmd: ScheduleCmd) -> anyhow::Result<i32> {
    match cmd {
        ScheduleCmd::Run {
            name,
            wait,
            dir,
            target,
        } => {
            let c = connect(&dir, &target).await?;
            let r = run_now(&c, &dir, &name, wait).await;
            c.stop().await;
            r
        }
    }
}

/// A scheduler job given as a stack name, an address, or a full name.
fn resolve(c: &Connected, dir: &Path, name: &str) -> anyhow::Result<String> {
    if name.starts_with("projects/") {
        return Ok(name.to_string());
    }
    let state = c.t.state_file.load()?;
    let found: Vec<&str> = state
        .resources
        .iter()
        .filter(|(addr, e)| {
            e.ty == crate::resources::cloud_scheduler_job::TYPE
                && (addr.as_str() == name
                    || last_segment(&e.id) == name
                    || addr.ends_with(&format!(".{name}")))
        })
        .map(|(_, e)| e.id.as_str())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.to_string()),
        [] => bail!(
            "no scheduler job {name:?} in the state of {} ({})\n{}",
            dir.display(),
            c.t.label,
            c.empty_hint.clone().unwrap_or_else(|| "hint: apply the stack first, or pass the full name projects/P/locations/L/jobs/J".into())
        ),
        _ => bail!("{name:?} matches several scheduler jobs: {}", found.join(", ")),
    }
}

async fn run_now(c: &Connected, dir: &Path, name: &str, wait: bool) -> anyhow::Result<i32> {
    let t = &c.t;
    let full = resolve(c, dir, name)?;
    t.client.scheduler_verb(&full, "run").await?;
    println!(
        "Ran scheduler job {} now (its schedule is unchanged).",
        last_segment(&full)
    );
    if !t.client.is_local() {
        return Ok(0);
    }
    // The local runtime answers `:run` once the attempt is made, and records it.
    let Ok(attempts) = t.client.scheduler_attempts(&full).await else {
        return Ok(0);
    };
    let Some(a) = attempts.iter().rev().find(|a| a["forced"] == true) else {
        return Ok(0);
    };
    let execution = a["execution"].as_str().unwrap_or("");
    if a["code"].as_i64().unwrap_or(0) != 0 {
        eprintln!(
            "error: the attempt failed: {}",
            a["message"].as_str().unwrap_or("")
        );
        return Ok(1);
    }
    if execution.is_empty() {
        println!("The attempt was delivered.");
        return Ok(0);
    }
    println!("The attempt started execution {}.", last_segment(execution));
    if !wait {
        return Ok(0);
    }
    let ctx = Ctx {
        client: t.client.clone(),
        lineage: String::new(),
        observer: Box::new(view::StderrObserver::new(false)),
    };
    let job = execution.split("/executions/").next().unwrap_or("");
    let exec = crate::resources::wait_execution(
        &ctx,
        last_segment(job),
        execution,
        Duration::from_secs(7 * 24 * 3600),
    )
    .await
    .map_err(|e| anyhow!(e))?;
    if exec.succeeded() {
        println!("Execution {} succeeded.", exec.short_name());
        Ok(0)
    } else {
        eprintln!("{}", crate::resources::execution_failure(&ctx, &exec).await);
        Ok(1)
    }
}
