//! Cloud Scheduler in the local runtime, on a manual clock (no sleeps): schedules fire at
//! their wall-clock instants, deliver to Cloud Run jobs, record attempts and retry.

use chrono::{DateTime, Utc};
use runform::api::run::{Container, Job};
use runform::api::scheduler::SchedulerJob;
use runform::runtime::{Runtime, RuntimeConfig};
use std::sync::Arc;
use std::time::Duration;

const PARENT: &str = "projects/p/locations/us-central1";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn runtime(start: &str) -> Arc<Runtime> {
    Runtime::open(RuntimeConfig {
        manual_clock: Some(at(start)),
        ..Default::default()
    })
    .unwrap()
}

fn run_job(rt: &Arc<Runtime>, id: &str) {
    let mut j = Job::default();
    j.template.task_count = 1;
    j.template.template.max_retries = Some(0);
    j.template.template.timeout = "60s".into();
    j.template.template.containers.push(Container {
        image: "example/none".into(),
        command: vec!["/bin/sh".into(), "-c".into(), "echo $GREETING".into()],
        ..Default::default()
    });
    rt.create_job(PARENT, id, j, false).unwrap();
}

const CRON_SA: &str = "serviceAccount:cron@p.iam.gserviceaccount.com";

/// Sets the job's IAM policy to exactly these (role, member) grants.
fn grant(rt: &Arc<Runtime>, job: &str, grants: &[(&str, &str)]) {
    let name = format!("{PARENT}/jobs/{job}");
    let mut p = rt.get_policy(&name).unwrap();
    p.bindings = grants
        .iter()
        .map(|(role, member)| runform::api::Binding {
            role: role.to_string(),
            members: vec![member.to_string()],
            condition: None,
        })
        .collect();
    rt.set_policy(&name, p).unwrap();
}

fn sched(rt: &Arc<Runtime>, id: &str, v: serde_json::Value) -> SchedulerJob {
    let mut j: SchedulerJob = serde_json::from_value(v).unwrap();
    j.name = format!("{PARENT}/jobs/{id}");
    rt.create_scheduler_job(PARENT, j).unwrap()
}

fn executions(rt: &Arc<Runtime>, job: &str) -> usize {
    rt.list_executions(&format!("{PARENT}/jobs/{job}"), Some("100"), None)
        .unwrap()
        .executions
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_minute_schedule_runs_the_job_with_the_body_overrides() {
    let rt = runtime("2026-06-01T10:00:30Z");
    run_job(&rt, "etl");
    // The body carries overrides: run.jobs.runWithOverrides is needed too.
    grant(
        &rt,
        "etl",
        &[("roles/run.jobsExecutorWithOverrides", CRON_SA)],
    );
    let body = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(
            r#"{"overrides":{"containerOverrides":[{"env":[{"name":"GREETING","value":"from-cron"}]}]}}"#,
        )
    };
    let j = sched(
        &rt,
        "every-minute",
        serde_json::json!({
            "schedule": "* * * * *",
            "timeZone": "Etc/UTC",
            "httpTarget": {
                "uri": "https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/etl:run",
                "body": body,
                "oauthToken": {"serviceAccountEmail": "cron@p.iam.gserviceaccount.com"}
            }
        }),
    );
    // What the API fills in.
    assert_eq!(j.schedule_time, "2026-06-01T10:01:00.000000Z");
    assert_eq!(j.attempt_deadline, "180s");
    assert_eq!(j.state.as_str(), "ENABLED");
    let t = j.http_target.as_ref().unwrap();
    assert_eq!(t.http_method.as_str(), "POST");
    assert_eq!(
        t.oauth_token.as_ref().unwrap().scope,
        "https://www.googleapis.com/auth/cloud-platform"
    );

    assert_eq!(rt.scheduler_tick().await, 0, "nothing is due yet");
    rt.advance_clock(Duration::from_secs(30));
    assert_eq!(rt.scheduler_tick().await, 1);
    assert_eq!(executions(&rt, "etl"), 1);
    rt.advance_clock(Duration::from_secs(30));
    assert_eq!(rt.scheduler_tick().await, 0, "the next minute has not come");
    rt.advance_clock(Duration::from_secs(30));
    assert_eq!(rt.scheduler_tick().await, 1);
    assert_eq!(executions(&rt, "etl"), 2);

    let attempts = rt.scheduler_attempts(&j.name).unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0].schedule_time, "2026-06-01T10:01:00.000000Z");
    assert_eq!(attempts[1].schedule_time, "2026-06-01T10:02:00.000000Z");
    assert!(attempts
        .iter()
        .all(|a| a.code == 0 && !a.execution.is_empty()));
    let now = rt.get_scheduler_job(&j.name).unwrap();
    assert_eq!(now.last_attempt_time, "2026-06-01T10:02:00.000000Z");
    assert_eq!(now.schedule_time, "2026-06-01T10:03:00.000000Z");
    assert!(
        now.status.is_none(),
        "a successful attempt leaves no error status"
    );

    // The execution got the override from the scheduler's body.
    let exec = &attempts[1].execution;
    for _ in 0..500 {
        if rt.get_execution(exec).unwrap().is_done() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let logs = rt.logs(exec, None).unwrap();
    assert!(
        logs.iter().any(|l| l.line.contains("from-cron")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn a_new_york_schedule_fires_at_the_right_instants_across_daylight_saving() {
    // 02:30 daily: skipped on 2026-03-08 (clocks jump 02:00 -> 03:00).
    let rt = runtime("2026-03-06T12:00:00Z");
    run_job(&rt, "etl");
    let j = sched(
        &rt,
        "nightly",
        serde_json::json!({
            "schedule": "30 2 * * *",
            "timeZone": "America/New_York",
            "httpTarget": {"uri": "https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/etl:run",
                           "oauthToken": {"serviceAccountEmail": "cron@p.iam.gserviceaccount.com"}}
        }),
    );
    let mut fired = vec![];
    for _ in 0..4 * 24 {
        rt.advance_clock(Duration::from_secs(3600));
        if rt.scheduler_tick().await > 0 {
            fired.push(rt.get_scheduler_job(&j.name).unwrap().last_attempt_time);
        }
    }
    // Attempts happen on the hourly ticks after each firing instant (07:30Z in EST, 06:30Z
    // in EDT); none on the 8th.
    let sched_times: Vec<String> = rt
        .scheduler_attempts(&j.name)
        .unwrap()
        .into_iter()
        .map(|a| a.schedule_time)
        .collect();
    assert_eq!(
        sched_times,
        [
            "2026-03-07T07:30:00.000000Z",
            "2026-03-09T06:30:00.000000Z",
            "2026-03-10T06:30:00.000000Z"
        ]
    );
    assert_eq!(fired.len(), 3);
}

#[tokio::test]
async fn failed_attempts_are_retried_with_backoff_then_wait_for_the_next_run() {
    let rt = runtime("2026-06-01T09:59:00Z");
    let j = sched(
        &rt,
        "broken",
        serde_json::json!({
            "schedule": "0 10 * * *",
            "httpTarget": {"uri": "https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/missing:run",
                           "oauthToken": {"serviceAccountEmail": "cron@p.iam.gserviceaccount.com"}},
            "retryConfig": {"retryCount": 2, "minBackoffDuration": "10s", "maxBackoffDuration": "60s"}
        }),
    );
    rt.advance_clock(Duration::from_secs(60));
    assert_eq!(rt.scheduler_tick().await, 1);
    let after1 = rt.get_scheduler_job(&j.name).unwrap();
    assert_eq!(
        after1.status.as_ref().unwrap().code,
        7,
        "PERMISSION_DENIED (or it may not exist) recorded"
    );
    assert_eq!(
        after1.schedule_time, "2026-06-01T10:00:10.000000Z",
        "first retry after 10s"
    );
    rt.advance_clock(Duration::from_secs(10));
    assert_eq!(rt.scheduler_tick().await, 1);
    assert_eq!(
        rt.get_scheduler_job(&j.name).unwrap().schedule_time,
        "2026-06-01T10:00:30.000000Z",
        "second retry after 20s (doubled)"
    );
    rt.advance_clock(Duration::from_secs(20));
    assert_eq!(rt.scheduler_tick().await, 1);
    let done = rt.get_scheduler_job(&j.name).unwrap();
    assert_eq!(
        done.schedule_time, "2026-06-02T10:00:00.000000Z",
        "retries used up: next day"
    );
    let attempts = rt.scheduler_attempts(&j.name).unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| (a.retry, a.code))
            .collect::<Vec<_>>(),
        [(0, 7), (1, 7), (2, 7)]
    );
    assert!(attempts
        .iter()
        .all(|a| a.schedule_time == "2026-06-01T10:00:00.000000Z"));
}

#[tokio::test]
async fn pause_resume_run_patch_and_the_v1_url_form() {
    let rt = runtime("2026-06-01T10:00:00Z");
    run_job(&rt, "etl");
    grant(&rt, "etl", &[("roles/run.invoker", CRON_SA)]);
    let j = sched(
        &rt,
        "console-style",
        serde_json::json!({
            "schedule": "0 * * * *",
            "timeZone": "UTC",
            "httpTarget": {"uri": "https://us-central1-run.googleapis.com/apis/run.googleapis.com/v1/namespaces/p/jobs/etl:run",
                           "oauthToken": {"serviceAccountEmail": "cron@p.iam.gserviceaccount.com"}}
        }),
    );
    let paused = rt.pause_scheduler_job(&j.name).unwrap();
    assert_eq!(paused.state.as_str(), "PAUSED");
    assert!(
        rt.pause_scheduler_job(&j.name).is_err(),
        "pausing twice is refused"
    );
    rt.advance_clock(Duration::from_secs(3600));
    assert_eq!(rt.scheduler_tick().await, 0, "a paused job does not fire");
    // :run forces an attempt even while paused.
    let ran = rt.run_scheduler_job(&j.name).await.unwrap();
    assert_eq!(ran.last_attempt_time, "2026-06-01T11:00:00.000000Z");
    assert_eq!(executions(&rt, "etl"), 1);
    assert!(rt.scheduler_attempts(&j.name).unwrap()[0].forced);
    let resumed = rt.resume_scheduler_job(&j.name).unwrap();
    assert_eq!(resumed.schedule_time, "2026-06-01T12:00:00.000000Z");
    // PATCH with a snake_case update mask changes only the named field.
    let p = SchedulerJob {
        schedule: "30 * * * *".into(),
        description: "ignored: not in the mask".into(),
        ..Default::default()
    };
    let patched = rt.patch_scheduler_job(&j.name, p, "schedule").unwrap();
    assert_eq!(patched.schedule, "30 * * * *");
    assert_eq!(patched.description, "");
    assert_eq!(patched.schedule_time, "2026-06-01T11:30:00.000000Z");
    assert!(rt
        .patch_scheduler_job(
            &j.name,
            SchedulerJob {
                schedule: "bad".into(),
                ..Default::default()
            },
            "schedule"
        )
        .is_err());
    rt.delete_scheduler_job(&j.name).unwrap();
    assert!(rt.get_scheduler_job(&j.name).is_err());
}

#[tokio::test]
async fn invalid_scheduler_jobs_are_refused_with_the_field() {
    let rt = runtime("2026-06-01T10:00:00Z");
    let mut j: SchedulerJob = serde_json::from_value(serde_json::json!({
        "name": format!("{PARENT}/jobs/bad"),
        "schedule": "0 25 * * *",
        "httpTarget": {"uri": "https://example.com"}
    }))
    .unwrap();
    let e = rt.create_scheduler_job(PARENT, j.clone()).unwrap_err();
    assert_eq!(e.code(), 400);
    assert!(
        e.body.error.message.contains("hour field"),
        "{}",
        e.body.error.message
    );
    j.schedule = "0 1 * * *".into();
    j.name = format!("{PARENT}/jobs/bad name");
    assert!(rt.create_scheduler_job(PARENT, j).is_err());
}

#[tokio::test]
async fn times_missed_while_no_runtime_ran_are_skipped_not_caught_up() {
    let data = tempfile::tempdir().unwrap();
    let open = |start: &str| {
        Runtime::open(RuntimeConfig {
            data_dir: Some(data.path().to_path_buf()),
            manual_clock: Some(at(start)),
            ..Default::default()
        })
        .unwrap()
    };
    let rt = open("2026-06-01T10:00:00Z");
    run_job(&rt, "etl");
    let j = sched(
        &rt,
        "hourly",
        serde_json::json!({
            "schedule": "0 * * * *",
            "httpTarget": {"uri": "https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/etl:run",
                           "oauthToken": {"serviceAccountEmail": "cron@p.iam.gserviceaccount.com"}}
        }),
    );
    drop(rt);
    // Reopened five and a half hours later: nothing fires for the missed hours.
    let rt = open("2026-06-01T15:30:00Z");
    assert_eq!(
        rt.get_scheduler_job(&j.name).unwrap().schedule_time,
        "2026-06-01T16:00:00.000000Z"
    );
    assert_eq!(rt.scheduler_tick().await, 0);
    assert_eq!(executions(&rt, "etl"), 0);
}

#[tokio::test]
async fn without_the_invoker_grant_an_attempt_is_denied_and_nothing_runs() {
    let rt = runtime("2026-06-01T10:00:00Z");
    run_job(&rt, "etl");
    let override_body = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(r#"{"overrides":{"taskCount":1}}"#)
    };
    let mk = |id: &str, body: &str| {
        sched(
            &rt,
            id,
            serde_json::json!({
                "schedule": "0 * * * *",
                "httpTarget": {"uri": "https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/etl:run",
                               "body": body,
                               "oauthToken": {"serviceAccountEmail": "cron@p.iam.gserviceaccount.com"}}
            }),
        )
    };
    let plain = mk("plain", "");
    let with_overrides = mk("overrides", &override_body);
    grant(&rt, "etl", &[("roles/run.invoker", CRON_SA)]);
    rt.run_scheduler_job(&plain.name).await.unwrap();
    assert_eq!(executions(&rt, "etl"), 1, "run.invoker may run the job");
    // Overrides need run.jobs.runWithOverrides, which run.invoker lacks.
    let denied = rt.run_scheduler_job(&with_overrides.name).await.unwrap();
    let st = denied.status.unwrap();
    assert_eq!(st.code, 7);
    assert!(
        st.message.contains("run.jobs.runWithOverrides")
            && st.message.contains(CRON_SA)
            && st.message.contains("jobs/etl"),
        "{}",
        st.message
    );
    // The grant removed: the next attempt is denied, recorded, and runs nothing.
    grant(&rt, "etl", &[]);
    let after = rt.run_scheduler_job(&plain.name).await.unwrap();
    assert_eq!(after.status.unwrap().code, 7);
    assert_eq!(executions(&rt, "etl"), 1, "no new execution");
    let attempts = rt.scheduler_attempts(&plain.name).unwrap();
    assert_eq!(attempts.iter().map(|a| a.code).collect::<Vec<_>>(), [0, 7]);
    // No credentials at all: UNAUTHENTICATED.
    let anon = sched(
        &rt,
        "anonymous",
        serde_json::json!({"schedule": "0 * * * *",
            "httpTarget": {"uri": "https://run.googleapis.com/v2/projects/p/locations/us-central1/jobs/etl:run"}}),
    );
    assert_eq!(
        rt.run_scheduler_job(&anon.name)
            .await
            .unwrap()
            .status
            .unwrap()
            .code,
        16
    );
}
