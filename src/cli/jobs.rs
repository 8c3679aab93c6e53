//! Job commands: `run`, `executions`, `logs`, `cancel`.

use super::args::{is_local, TargetArgs};
use crate::api::run::{last_segment, Execution, RunJobRequest};
use crate::api::run::{ContainerOverride, EnvVar, Overrides};
use crate::ops::{self, Target};
use crate::resources::Ctx;
use crate::view;
use anyhow::{anyhow, bail, Context as _};
use std::path::Path;
use std::time::Duration;

/// A job given as a stack job name, an address, or a full resource name.
pub(super) fn resolve_job(c: &Connected, dir: &Path, job: &str) -> anyhow::Result<String> {
    c.resolve(dir, job, crate::resources::cloud_run_v2_job::TYPE, "job")
}

/// An execution given by its name (`JOB-xxxxx`, of a job in the state) or its full name.
pub(super) fn resolve_execution(c: &Connected, execution: &str) -> anyhow::Result<String> {
    let t = &c.t;
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
    bail!(
        "no job in the state of {} owns execution {execution:?}\n{}",
        t.label,
        c.empty_hint.clone().unwrap_or_else(|| {
            "hint: pass the full name projects/P/locations/L/jobs/J/executions/E".into()
        })
    )
}

/// `runform run`'s overrides of the job's settings for one execution.
pub(super) struct RunOverrides {
    pub(super) tasks: Option<i32>,
    pub(super) env: Vec<String>,
    pub(super) args: Vec<String>,
    pub(super) task_timeout: Option<String>,
}

pub(super) async fn run_cmd(
    c: &Connected,
    dir: &Path,
    job: &str,
    wait: bool,
    given: RunOverrides,
) -> anyhow::Result<i32> {
    let t = &c.t;
    let RunOverrides {
        tasks,
        env,
        args,
        task_timeout,
    } = given;
    let name = resolve_job(c, dir, job)?;
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
    wait_and_report(t, &exec_name, true).await
}

/// Waits for an execution with progress and its tasks' lines on stderr; then (with
/// `per_task`) each task's result, and whether it succeeded: 0, or 1 with why it failed.
pub(super) async fn wait_and_report(
    t: &Target,
    execution: &str,
    per_task: bool,
) -> anyhow::Result<i32> {
    let (ctx, exec) = wait_with_progress(&t.client, execution).await?;
    if per_task {
        print_tasks(t, &exec).await?;
    }
    if exec.succeeded() {
        println!("Execution {} succeeded.", exec.short_name());
        Ok(0)
    } else {
        eprintln!("{}", crate::resources::execution_failure(&ctx, &exec).await);
        Ok(1)
    }
}

/// Waits for an execution to end, its progress and its tasks' lines on stderr.
pub(super) async fn wait_with_progress(
    client: &crate::cloud::Client,
    execution: &str,
) -> anyhow::Result<(Ctx, Execution)> {
    let ctx = Ctx {
        client: client.clone(),
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
    Ok((ctx, exec))
}

pub(super) async fn print_tasks(t: &Target, exec: &Execution) -> anyhow::Result<()> {
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

pub(super) async fn executions_cmd(c: &Connected, job: Option<&str>) -> anyhow::Result<i32> {
    let t = &c.t;
    let jobs: Vec<String> = match job {
        Some(j) => vec![resolve_job(c, Path::new("."), j)?],
        None => t
            .state_file
            .load()?
            .resources
            .values()
            .filter(|e| e.ty == crate::resources::cloud_run_v2_job::TYPE)
            .map(|e| e.id.clone())
            .collect(),
    };
    if let Some(hint) = &c.empty_hint {
        eprintln!("{hint}");
    }
    let mut all = Vec::new();
    for j in jobs {
        all.extend(t.client.list_executions(&j, 100).await?);
    }
    // Newest first across jobs (RFC 3339 times in one format sort as text).
    all.sort_by(|a, b| b.create_time.cmp(&a.create_time));
    println!(
        "{:<32} {:<24} {:<10} {:>6} {:>6} {:>6}  {:<20} {:>9}",
        "EXECUTION", "JOB", "STATUS", "TASKS", "OK", "FAILED", "STARTED (UTC)", "DURATION"
    );
    let now = chrono::Utc::now();
    for e in all {
        let status = if !e.is_done() {
            "running"
        } else if e.succeeded() {
            "succeeded"
        } else if e.cancelled() {
            "cancelled"
        } else {
            "failed"
        };
        let (started, duration) = started_and_duration(&e, now);
        println!(
            "{:<32} {:<24} {:<10} {:>6} {:>6} {:>6}  {:<20} {:>9}",
            e.short_name(),
            last_segment(&e.job),
            status,
            e.task_count,
            e.succeeded_count,
            e.failed_count,
            started,
            duration
        );
    }
    Ok(0)
}

pub(super) async fn logs_cmd(
    c: &Connected,
    execution: &str,
    task: Option<i32>,
    follow: bool,
) -> anyhow::Result<i32> {
    let t = &c.t;
    let name = resolve_execution(c, execution)?;
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

/// The target of a job command, with the stack's provider settings (project, region).
/// A job command's target, and when its state is empty, which other target's is not.
pub(super) struct Connected {
    pub(super) t: Target,
    pub(super) empty_hint: Option<String>,
}

impl Connected {
    pub(super) async fn stop(self) {
        self.t.stop().await;
    }

    /// The full name of a `ty` object (a `what`, for messages) given by its name or address
    /// in the stack's state, or by its full name.
    pub(super) fn resolve(
        &self,
        dir: &Path,
        name: &str,
        ty: &str,
        what: &str,
    ) -> anyhow::Result<String> {
        if name.starts_with("projects/") {
            return Ok(name.to_string());
        }
        let state = self.t.state_file.load()?;
        let found: Vec<&str> = state
            .resources
            .iter()
            .filter(|(addr, e)| {
                e.ty == ty
                    && (addr.as_str() == name
                        || last_segment(&e.id) == name
                        || addr.ends_with(&format!(".{name}")))
            })
            .map(|(_, e)| e.id.as_str())
            .collect();
        match found.as_slice() {
            [one] => Ok(one.to_string()),
            [] => bail!(
                "no {what} {name:?} in the state of {} ({})\n{}",
                dir.display(),
                self.t.label,
                self.empty_hint.clone().unwrap_or_else(|| "hint: apply the stack first, or pass the full name projects/P/locations/L/jobs/J".into())
            ),
            _ => bail!("{name:?} matches several {what}s: {}", found.join(", ")),
        }
    }
}

pub(super) async fn connect(dir: &Path, target: &TargetArgs) -> anyhow::Result<Connected> {
    let target = &super::target::day2(dir, target);
    let t = ops::target(dir, is_local(target), target.endpoint.as_deref()).await?;
    if let Err(e) = ops::configure_from_stack(&t.client, dir) {
        t.stop().await;
        return Err(e);
    }
    let empty_hint = t
        .state_file
        .load()
        .is_ok_and(|s| s.resources.is_empty())
        .then(|| super::target::elsewhere_hint(dir, target))
        .flatten();
    Ok(Connected { t, empty_hint })
}

/// When an execution started (`-` before it has) and how long it ran, or has been running.
fn started_and_duration(e: &Execution, now: chrono::DateTime<chrono::Utc>) -> (String, String) {
    let parse = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.to_utc())
    };
    let Some(start) = parse(&e.start_time).or_else(|| parse(&e.create_time)) else {
        return ("-".into(), "-".into());
    };
    let end = parse(&e.completion_time).unwrap_or(now);
    let secs = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
    let duration = if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        crate::api::common::format_duration_short(Duration::from_secs(secs as u64))
    };
    (start.format("%Y-%m-%d %H:%M:%S").to_string(), duration)
}

/// `runform cancel EXECUTION`.
pub(super) async fn cancel_cmd(c: &Connected, execution: &str) -> anyhow::Result<i32> {
    let t = &c.t;
    let name = resolve_execution(c, execution)?;
    t.client.cancel_execution(&name).await?;
    println!("Cancelling {}.", last_segment(&name));
    Ok(0)
}
