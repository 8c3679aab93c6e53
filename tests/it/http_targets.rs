//! Scheduler HTTP targets and Eventarc HTTP endpoints really get requests (loopback only).

use runform::runtime::{RuntimeConfig, Server};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>;

/// A loopback HTTP server that records every request; returns its URL.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(vec![]));
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: String| {
        let s = s.clone();
        async move {
            s.lock().unwrap().push((headers, body));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

async fn wait_for(seen: &Seen, n: usize) {
    for _ in 0..300 {
        if seen.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_http_target_gets_the_request_with_schedulers_headers() {
    let (url, seen) = receiver().await;
    let rt = runform::runtime::Runtime::open(RuntimeConfig {
        manual_clock: Some("2026-06-01T10:00:00Z".parse().unwrap()),
        ..Default::default()
    })
    .unwrap();
    let parent = "projects/p/locations/us-central1";
    let j: runform::api::scheduler::SchedulerJob = serde_json::from_value(json!({
        "name": format!("{parent}/jobs/hook"),
        "schedule": "*/5 * * * *",
        "httpTarget": {"uri": format!("{url}/hook"), "httpMethod": "PUT", "body": "aGVsbG8=",
                       "headers": {"Content-Type": "text/plain", "X-Custom": "1"}}
    }))
    .unwrap();
    let j = rt.create_scheduler_job(parent, j).unwrap();
    rt.advance_clock(Duration::from_secs(300));
    assert_eq!(rt.scheduler_tick().await, 1);
    wait_for(&seen, 1).await;
    let (h, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(body, "hello");
    assert_eq!(h["user-agent"], "Google-Cloud-Scheduler");
    assert_eq!(h["x-cloudscheduler"], "true");
    assert_eq!(h["x-cloudscheduler-jobname"], "hook");
    assert_eq!(
        h["x-cloudscheduler-scheduletime"],
        "2026-06-01T10:05:00.000000Z"
    );
    assert_eq!(h["x-custom"], "1");
    assert_eq!(rt.scheduler_attempts(&j.name).unwrap()[0].code, 0);

    // Anything but loopback is refused and recorded.
    let far: runform::api::scheduler::SchedulerJob = serde_json::from_value(json!({
        "name": format!("{parent}/jobs/far"), "schedule": "*/5 * * * *",
        "httpTarget": {"uri": "https://example.com/hook"}
    }))
    .unwrap();
    rt.create_scheduler_job(parent, far).unwrap();
    let ran = rt
        .run_scheduler_job(&format!("{parent}/jobs/far"))
        .await
        .unwrap();
    let st = ran.status.unwrap();
    assert_eq!(st.code, 14, "{}", st.message);
    assert!(st.message.contains("loopback"), "{}", st.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventarc_http_endpoint_gets_the_cloudevent_in_binary_mode() {
    let (url, seen) = receiver().await;
    let server = Server::start(RuntimeConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let rt = server.runtime.clone();
    let parent = "projects/p/locations/us-central1";
    rt.insert_bucket("p", &json!({"name": "events-bucket"}))
        .unwrap();
    rt.create_trigger(
        parent,
        "to-hook",
        json!({
            "eventFilters": [{"attribute": "type", "value": "google.cloud.storage.object.v1.finalized"},
                             {"attribute": "subject", "value": "objects/in/*.csv", "operator": "match-path-pattern"}],
            "destination": {"httpEndpoint": {"uri": format!("{url}/events")}}
        }),
        false,
    )
    .unwrap();
    rt.put_object("events-bucket", "in/report.csv", "text/csv", b"a,b", None)
        .unwrap();
    rt.put_object("events-bucket", "out/ignored.csv", "text/csv", b"a,b", None)
        .unwrap();
    wait_for(&seen, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "only the matching path is delivered");
    let (h, body) = &got[0];
    assert_eq!(h["ce-type"], "google.cloud.storage.object.v1.finalized");
    assert_eq!(h["ce-subject"], "objects/in/report.csv");
    assert_eq!(h["ce-bucket"], "events-bucket");
    let data: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (data["name"].as_str(), data["size"].as_str()),
        (Some("in/report.csv"), Some("3"))
    );
    let deliveries = rt.deliveries(&format!("{parent}/triggers/to-hook"));
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["ok"], true);
    server.stop().await;
}
