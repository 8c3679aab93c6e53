//! What `runform local upload` reports after the upload: what the object's event set off on
//! the local runtime — each trigger's delivery, the workflow executions they started and the
//! job executions those started — and, when it waits, how each one ended.

use crate::api::run::last_segment;
use crate::cloud::Client;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Follows an upload's event; returns whether anything it set off failed.
pub(super) async fn follow(
    client: &Client,
    bucket: &str,
    object: &str,
    generation: &str,
    wait: bool,
) -> anyhow::Result<bool> {
    let mut f = Follower {
        client: client.clone(),
        wait,
        said: BTreeSet::new(),
        failed: false,
        watchers: BTreeMap::new(),
    };
    // Deliveries are recorded (pending) as the upload is answered; a short grace covers a
    // runtime that records them just after.
    let start = tokio::time::Instant::now();
    loop {
        let s = client.started_by_upload(bucket, object, generation).await?;
        let list = |k: &str| s[k].as_array().cloned().unwrap_or_default();
        let (deliveries, workflows, jobs) = (
            list("deliveries"),
            list("workflowExecutions"),
            list("jobExecutions"),
        );
        f.deliveries(&deliveries);
        f.started_jobs(&jobs);
        let mut running = deliveries.iter().any(|d| d["pending"] == true);
        if wait {
            // Jobs first: a workflow that ran a job ends after it.
            running |= f.ended_jobs(&jobs).await;
            running |= f.ended_workflows(&workflows);
        }
        let grace = deliveries.is_empty() && start.elapsed() < Duration::from_millis(500);
        if !running && !grace {
            if deliveries.is_empty() {
                println!("No trigger matched the upload's event.");
            } else if !wait && !workflows.is_empty() {
                println!("(not waiting for them: pass --wait to follow them to the end)");
            }
            return Ok(f.failed);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Follower {
    client: Client,
    wait: bool,
    /// What was already said (each thing once).
    said: BTreeSet<String>,
    failed: bool,
    /// Job executions being waited for: each shows its progress and streams its tasks' lines.
    watchers: BTreeMap<String, tokio::task::JoinHandle<()>>,
}

impl Follower {
    fn say(&mut self, key: String, line: String) {
        if self.said.insert(key) {
            println!("{line}");
        }
    }

    fn fail(&mut self, key: String, line: String) {
        self.failed = true;
        if self.said.insert(key) {
            eprintln!("{line}");
        }
    }

    fn deliveries(&mut self, deliveries: &[Value]) {
        for d in deliveries.iter().filter(|d| d["pending"] != true) {
            let trigger = last_segment(d["trigger"].as_str().unwrap_or(""));
            match d["result"]["workflowExecution"].as_str() {
                Some(w) if d["ok"] == true => self.say(
                    format!("d:{w}"),
                    format!(
                        "Trigger {trigger} started workflow execution {}.",
                        workflow_execution_words(w)
                    ),
                ),
                _ if d["ok"] == true => self.say(
                    format!("d:{trigger}"),
                    format!("Trigger {trigger} delivered the event."),
                ),
                _ => self.fail(
                    format!("d:{trigger}"),
                    format!(
                        "error: trigger {trigger} could not deliver the event: {}",
                        d["error"].as_str().unwrap_or("unknown error")
                    ),
                ),
            }
        }
    }

    fn started_jobs(&mut self, jobs: &[Value]) {
        for j in jobs {
            let name = j["name"].as_str().unwrap_or("").to_string();
            self.say(
                format!("j:{name}"),
                format!("Started job execution {}.", last_segment(&name)),
            );
            if self.wait
                && !self.watchers.contains_key(&name)
                && !self.said.contains(&format!("je:{name}"))
            {
                let watcher = tokio::spawn(watch(self.client.clone(), name.clone()));
                self.watchers.insert(name, watcher);
            }
        }
    }

    /// Says how each ended job execution ended; returns whether one still runs.
    async fn ended_jobs(&mut self, jobs: &[Value]) -> bool {
        let mut running = false;
        for j in jobs {
            let name = j["name"].as_str().unwrap_or("");
            let state = j["state"].as_str().unwrap_or("");
            if state == "RUNNING" {
                running = true;
                continue;
            }
            // Its progress and last lines come before its outcome.
            if let Some(w) = self.watchers.remove(name) {
                let _ = w.await;
            }
            let short = last_segment(name);
            if state == "SUCCEEDED" {
                self.say(
                    format!("je:{name}"),
                    format!("Job execution {short} succeeded."),
                );
            } else {
                self.fail(
                    format!("je:{name}"),
                    format!(
                        "error: job execution {short} {}: {}\nhint: `runform logs {short}`",
                        state.to_lowercase(),
                        j["message"].as_str().unwrap_or("")
                    ),
                );
            }
        }
        running
    }

    /// Says how each ended workflow execution ended; returns whether one still runs.
    fn ended_workflows(&mut self, workflows: &[Value]) -> bool {
        let mut running = false;
        for w in workflows {
            let name = w["name"].as_str().unwrap_or("");
            match w["state"].as_str().unwrap_or("") {
                "ACTIVE" | "QUEUED" | "" => running = true,
                "SUCCEEDED" => self.say(
                    format!("w:{name}"),
                    format!(
                        "Workflow execution {} succeeded.",
                        workflow_execution_words(name)
                    ),
                ),
                state => {
                    // The error payload is the raised value as JSON; its message says it.
                    let payload = w["error"].as_str().unwrap_or("");
                    let why = serde_json::from_str::<Value>(payload)
                        .ok()
                        .and_then(|v| v["message"].as_str().map(str::to_string))
                        .unwrap_or_else(|| payload.to_string());
                    self.fail(
                        format!("w:{name}"),
                        format!(
                            "error: workflow execution {} {}: {why}",
                            workflow_execution_words(name),
                            state.to_lowercase()
                        ),
                    );
                }
            }
        }
        running
    }
}

/// Shows a job execution's progress and streams its tasks' lines until it ends (its outcome
/// is said by the follower).
async fn watch(client: Client, execution: String) {
    let _ = super::jobs::wait_with_progress(&client, &execution).await;
}

/// `WORKFLOW/EXECUTION_ID` out of a workflow execution's full name.
fn workflow_execution_words(name: &str) -> String {
    match name.split_once("/workflows/") {
        Some((_, rest)) => rest.replacen("/executions/", "/", 1),
        None => name.to_string(),
    }
}
