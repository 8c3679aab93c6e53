//! Workflows v1 + Workflow Executions v1 on the local runtime, over HTTP: Google's published
//! "storage event → Cloud Run job" workflow runs the job as the workflow's service account,
//! with IAM enforced, and waits for it.

use runform::api::run::{Container, Job};
use runform::runtime::{RuntimeConfig, Server};
use serde_json::{json, Value};
use std::time::Duration;

/// Google's published sample workflow.
const SAMPLE: &str = include_str!("../fixtures/storage-event-sample.yaml");

/// The job the sample workflow runs: it prints the file it was given.
fn create_target_job(rt: &std::sync::Arc<runform::runtime::Runtime>, parent: &str) {
    let mut j = Job::default();
    j.template.template.max_retries = Some(0);
    j.template.template.containers.push(Container {
        image: "busybox".into(),
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo processing $INPUT_BUCKET/$INPUT_FILE".into(),
        ],
        ..Default::default()
    });
    rt.create_job(parent, "parallel-job", j, false).unwrap();
}

/// Lets the workflow's account run `job` with overrides.
fn grant_workflow(rt: &runform::runtime::Runtime, job: &str) {
    let mut p = rt.get_policy(job).unwrap();
    p.bindings.push(runform::api::Binding {
        role: "roles/run.jobsExecutorWithOverrides".into(),
        members: vec!["serviceAccount:wf@proj.iam.gserviceaccount.com".into()],
        condition: None,
    });
    rt.set_policy(job, p).unwrap();
}

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> (u16, Value) {
    let r = c.request(method, url).json(&body).send().await.unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn googles_sample_workflow_runs_the_job_as_its_service_account() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let rt = server.runtime.clone();
    let base = server.url();
    let parent = "projects/proj/locations/us-central1";
    create_target_job(&rt, parent);

    let c = reqwest::Client::new();
    let (code, op) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/v1/{parent}/workflows?workflowId=on-upload"),
        json!({"sourceContents": SAMPLE, "serviceAccount": "projects/-/serviceAccounts/wf@proj.iam.gserviceaccount.com"}),
    )
    .await;
    assert_eq!(code, 200, "{op}");
    assert_eq!(op["done"], true);
    assert_eq!(op["response"]["state"], "ACTIVE");
    let wf = format!("{parent}/workflows/on-upload");
    let event = |bucket: &str| json!({"argument": json!({"data": {"bucket": bucket, "name": "photo.jpg"}}).to_string()});

    // No grant yet: the connector's call is denied and the execution fails, naming it.
    let (_, e) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/v1/{wf}/executions"),
        event("input-proj"),
    )
    .await;
    assert_eq!(e["state"], "ACTIVE");
    let done = runform::runtime::workflows_api::wait_workflow_execution(
        &rt,
        e["name"].as_str().unwrap(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(done.state, "FAILED", "{done:?}");
    let err = done.error.unwrap();
    assert!(
        err.payload.contains("run.jobs.run")
            && err.payload.contains("wf@proj.iam.gserviceaccount.com"),
        "{}",
        err.payload
    );
    assert!(err.context.contains("run_job"), "{}", err.context);

    // Granted (with overrides): the job runs with the event's file and the workflow returns
    // the v1 Execution once it finished.
    grant_workflow(&rt, &format!("{parent}/jobs/parallel-job"));
    let (_, e) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/v1/{wf}/executions"),
        event("input-proj"),
    )
    .await;
    let done = runform::runtime::workflows_api::wait_workflow_execution(
        &rt,
        e["name"].as_str().unwrap(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(done.state, "SUCCEEDED", "{done:?}");
    let result: Value = serde_json::from_str(&done.result).unwrap();
    assert_eq!(result["kind"], "Execution");
    assert_eq!(result["status"]["succeededCount"], 1);
    let exec = format!(
        "{parent}/jobs/parallel-job/executions/{}",
        result["metadata"]["name"].as_str().unwrap()
    );
    let logs = rt.logs(&exec, None).unwrap();
    assert!(
        logs.iter()
            .any(|l| l.line.contains("processing input-proj/photo.jpg")),
        "{logs:?}"
    );

    // Another bucket: the switch ends the workflow; no job runs.
    let before = rt
        .list_executions(&format!("{parent}/jobs/parallel-job"), None, None)
        .unwrap()
        .executions
        .len();
    let (_, e) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/v1/{wf}/executions"),
        event("other"),
    )
    .await;
    let done = runform::runtime::workflows_api::wait_workflow_execution(
        &rt,
        e["name"].as_str().unwrap(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(
        (done.state.as_str(), done.result.as_str()),
        ("SUCCEEDED", "null")
    );
    assert_eq!(
        rt.list_executions(&format!("{parent}/jobs/parallel-job"), None, None)
            .unwrap()
            .executions
            .len(),
        before
    );

    // Listing and getting over HTTP.
    let (code, list) = call(
        &c,
        reqwest::Method::GET,
        format!("{base}/v1/{wf}/executions"),
        Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(list["executions"].as_array().unwrap().len(), 3);
    let (code, got) = call(
        &c,
        reqwest::Method::GET,
        format!("{base}/v1/{wf}"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (code, got["revisionId"].as_str()),
        (200, Some("000001-a00"))
    );

    // An unsupported construct is refused at create, naming the step.
    let (code, err) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/v1/{parent}/workflows?workflowId=loops"),
        json!({"sourceContents": "main:\n  steps:\n    - each:\n        goto: v\n"}),
    )
    .await;
    assert_eq!(code, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("step \"each\""),
        "{err}"
    );

    let (code, _) = call(
        &c,
        reqwest::Method::DELETE,
        format!("{base}/v1/{wf}"),
        Value::Null,
    )
    .await;
    assert_eq!(code, 200);
    server.stop().await;
}

/// An upload to a bucket runs the job through Eventarc → Workflows → the Cloud Run connector,
/// with the object's name in the job's environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_runs_the_job_through_eventarc_and_the_workflow() {
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let rt = server.runtime.clone();
    let base = server.url();
    let parent = "projects/proj/locations/us-central1";
    create_target_job(&rt, parent);
    let job = format!("{parent}/jobs/parallel-job");
    grant_workflow(&rt, &job);

    let c = reqwest::Client::new();
    let (code, _) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/v1/{parent}/workflows?workflowId=on-upload"),
        json!({"sourceContents": SAMPLE, "serviceAccount": "wf@proj.iam.gserviceaccount.com"}),
    )
    .await;
    assert_eq!(code, 200);
    let (code, b) = call(
        &c,
        reqwest::Method::POST,
        format!("{base}/storage/v1/b?project=proj"),
        json!({"name": "input-proj", "location": "us-central1"}),
    )
    .await;
    assert_eq!(
        (code, b["location"].as_str()),
        (200, Some("US-CENTRAL1")),
        "{b}"
    );
    // Eventarc starts the workflow as the trigger's account: it needs workflows.invoker.
    let mut pp = rt.get_policy("projects/proj").unwrap();
    pp.bindings.push(runform::api::Binding {
        role: "roles/workflows.invoker".into(),
        members: vec!["serviceAccount:trigger@proj.iam.gserviceaccount.com".into()],
        condition: None,
    });
    rt.set_policy("projects/proj", pp).unwrap();
    let (code, op) = call(&c, reqwest::Method::POST, format!("{base}/v1/{parent}/triggers?triggerId=uploads"), json!({
        "eventFilters": [{"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"},
                         {"attribute": "bucket", "value": "input-proj"}],
        "serviceAccount": "trigger@proj.iam.gserviceaccount.com",
        "destination": {"workflow": format!("{parent}/workflows/on-upload")}
    })).await;
    assert_eq!((code, op["done"].as_bool()), (200, Some(true)), "{op}");
    // A Cloud Run service destination is stored as Google does (its events are recorded as
    // not delivered); a retry policy on a workflow destination is refused, as Google does.
    let (code, t) = call(&c, reqwest::Method::POST, format!("{base}/v1/{parent}/triggers?triggerId=svc"), json!({
        "eventFilters": [{"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"}],
        "destination": {"cloudRun": {"service": "s"}},
        "retryPolicy": {"maxAttempts": 1}
    })).await;
    assert_eq!(code, 200, "{t}");
    assert_eq!(
        t["response"]["destination"]["cloudRun"]["service"], "s",
        "{t}"
    );
    let (code, err) = call(&c, reqwest::Method::POST, format!("{base}/v1/{parent}/triggers?triggerId=wfretry"), json!({
        "eventFilters": [{"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"}],
        "destination": {"workflow": format!("{parent}/workflows/on-upload")},
        "retryPolicy": {"maxAttempts": 1}
    })).await;
    assert_eq!(code, 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only be set with Cloud Run destinations"),
        "{err}"
    );

    // The upload, as Google's Python client frames a multipart upload.
    let body = "--BOUNDARY\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n{\"name\": \"photos/cat.jpg\"}\r\n--BOUNDARY\r\ncontent-type: image/jpeg\r\n\r\nnot really a jpeg\r\n--BOUNDARY--";
    let r = c
        .post(format!(
            "{base}/upload/storage/v1/b/input-proj/o?uploadType=multipart"
        ))
        .header("content-type", "multipart/related; boundary=\"BOUNDARY\"")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let obj: Value = r.json().await.unwrap();
    assert_eq!(
        (
            obj["name"].as_str(),
            obj["size"].as_str(),
            obj["contentType"].as_str()
        ),
        (Some("photos/cat.jpg"), Some("17"), Some("image/jpeg"))
    );
    let bytes = c
        .get(format!(
            "{base}/storage/v1/b/input-proj/o/photos%2Fcat.jpg?alt=media"
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"not really a jpeg");

    // Eventarc delivered it to the workflow, which ran the job with the file's name.
    let trigger = format!("{parent}/triggers/uploads");
    let mut delivered = vec![];
    for _ in 0..300 {
        delivered = rt.deliveries(&trigger);
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["ok"], true, "{delivered:?}");
    let wexec = delivered[0]["result"]["workflowExecution"]
        .as_str()
        .unwrap()
        .to_string();
    let done = runform::runtime::workflows_api::wait_workflow_execution(
        &rt,
        &wexec,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(done.state, "SUCCEEDED", "{done:?}");
    let arg: Value = serde_json::from_str(&done.argument).unwrap();
    assert_eq!(arg["type"], "google.cloud.storage.object.v1.finalized");
    assert_eq!(arg["subject"], "objects/photos/cat.jpg");
    let result: Value = serde_json::from_str(&done.result).unwrap();
    let exec = format!(
        "{job}/executions/{}",
        result["metadata"]["name"].as_str().unwrap()
    );
    let logs = rt.logs(&exec, None).unwrap();
    assert!(
        logs.iter()
            .any(|l| l.line.contains("processing input-proj/photos/cat.jpg")),
        "{logs:?}"
    );

    // Deleting the object is a "deleted" event, which this trigger does not match.
    let r = c
        .delete(format!("{base}/storage/v1/b/input-proj/o/photos%2Fcat.jpg"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(rt.deliveries(&trigger).len(), 1);
    server.stop().await;
}
