//! `runform schedule run NAME`: fire a Cloud Scheduler job now, as `gcloud scheduler jobs
//! run` does (its schedule is unchanged), and on the local runtime report the attempt.

use super::args::TargetArgs;
use super::jobs::{connect, Connected};
use crate::api::run::last_segment;
use clap::Subcommand;
use std::path::{Path, PathBuf};

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

async fn run_now(c: &Connected, dir: &Path, name: &str, wait: bool) -> anyhow::Result<i32> {
    let t = &c.t;
    let full = c.resolve(
        dir,
        name,
        crate::resources::cloud_scheduler_job::TYPE,
        "scheduler job",
    )?;
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
    super::jobs::wait_and_report(t, execution, false).await
}
