//! Eventarc v1 triggers in the local runtime (create/get/list/patch/delete, long-running
//! operations done at once) and delivery: an event whose attributes match every filter of a
//! trigger (exact, or `match-path-pattern` on the subject) goes to the trigger's destination:
//! a `workflow` gets an execution with the structured CloudEvent as its argument, an
//! `httpEndpoint` (loopback only) gets the CloudEvent in HTTP binary mode. `cloudRun` (a
//! service) and `gke` destinations are stored and returned as Google does, but their events
//! are recorded as not delivered: the runtime runs jobs, not services. Every delivery is recorded
//! (`/runform/v1/eventarc/deliveries?trigger=NAME`).

use super::store::Kind;
use super::{now_rfc3339, ApiError, ApiResult, Runtime};
use crate::api::Code;
use serde_json::{json, Value};
use std::sync::Arc;

const TRIGGER_TYPE: &str = "type.googleapis.com/google.cloud.eventarc.v1.Trigger";
const META_TYPE: &str = "type.googleapis.com/google.cloud.eventarc.v1.OperationMetadata";

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidArgument, m)
}

/// `match-path-pattern`: `*` matches one path segment, `**` any number.
pub fn path_matches(pattern: &str, value: &str) -> bool {
    fn go(p: &[&str], v: &[&str]) -> bool {
        match (p.first(), v.first()) {
            (None, None) => true,
            (Some(&"**"), _) => go(&p[1..], v) || (!v.is_empty() && go(p, &v[1..])),
            (Some(seg), Some(val)) => seg_match(seg, val) && go(&p[1..], &v[1..]),
            _ => false,
        }
    }
    fn seg_match(p: &str, v: &str) -> bool {
        match p.split_once('*') {
            None => p == v,
            Some((pre, post)) => {
                v.len() >= pre.len() + post.len() && v.starts_with(pre) && v.ends_with(post)
            }
        }
    }
    let p: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let v: Vec<&str> = value.trim_start_matches('/').split('/').collect();
    go(&p, &v)
}

fn matches(trigger: &Value, event: &Value) -> bool {
    trigger["eventFilters"].as_array().is_some_and(|filters| {
        !filters.is_empty()
            && filters.iter().all(|f| {
                let attr = f["attribute"].as_str().unwrap_or("");
                let want = f["value"].as_str().unwrap_or("");
                let have = event.get(attr).and_then(Value::as_str).unwrap_or("");
                match f["operator"].as_str().unwrap_or("") {
                    "match-path-pattern" => path_matches(want, have),
                    _ => have == want,
                }
            })
    })
}

impl Runtime {
    fn eventarc_op(
        &self,
        name: &str,
        verb: &str,
        response: Value,
    ) -> ApiResult<crate::api::Operation> {
        let mut op = self.new_operation(
            name,
            json!({"@type": META_TYPE, "target": name, "verb": verb, "apiVersion": "v1",
                   "createTime": now_rfc3339(), "endTime": now_rfc3339()}),
        );
        op.done = true;
        op.response = Some(response);
        self.store().put(Kind::Operation, &op.name, &op)?;
        Ok(op)
    }

    fn check_trigger(t: &Value) -> ApiResult<()> {
        let filters = t["eventFilters"].as_array().cloned().unwrap_or_default();
        if !filters.iter().any(|f| f["attribute"] == "type") {
            return Err(invalid("eventFilters must include the attribute \"type\""));
        }
        let d = &t["destination"];
        let kinds: Vec<&str> = [
            "workflow",
            "httpEndpoint",
            "cloudRun",
            "gke",
            "cloudFunction",
        ]
        .into_iter()
        .filter(|k| {
            d.get(*k)
                .is_some_and(|v| !v.is_null() && v != "" && v != &json!({}))
        })
        .collect();
        match kinds.len() {
            0 => return Err(invalid("a destination is required")),
            1 => {}
            _ => {
                return Err(invalid(format!(
                    "a destination has one target, not {}",
                    kinds.join(" and ")
                )))
            }
        }
        if let Some(r) = t.get("retryPolicy").filter(|r| !r.is_null()) {
            if kinds[0] != "cloudRun" {
                return Err(invalid(
                    "retryPolicy can only be set with Cloud Run destinations",
                ));
            }
            if r["maxAttempts"].as_i64().unwrap_or(1) != 1 {
                return Err(invalid(
                    "retryPolicy.maxAttempts: the only valid value is 1",
                ));
            }
        }
        Ok(())
    }

    pub fn create_trigger(
        &self,
        parent: &str,
        id: &str,
        mut t: Value,
        validate_only: bool,
    ) -> ApiResult<crate::api::Operation> {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(format!(
                "triggerId {id:?} must be lowercase letters, digits and hyphens"
            )));
        }
        let name = format!("{parent}/triggers/{id}");
        if self.store().contains(Kind::Trigger, &name) {
            return Err(ApiError::new(
                Code::AlreadyExists,
                format!("Resource '{name}' already exists"),
            ));
        }
        Self::check_trigger(&t)?;
        let now = now_rfc3339();
        t["name"] = json!(name);
        t["uid"] = json!(uuid::Uuid::new_v4().to_string());
        t["createTime"] = json!(now);
        t["updateTime"] = json!(now);
        t["etag"] = json!(uuid::Uuid::new_v4().simple().to_string());
        if t.get("eventDataContentType").is_none() {
            t["eventDataContentType"] = json!("application/json");
        }
        // validateOnly: checked, answered, not stored.
        if !validate_only {
            self.store().put(Kind::Trigger, &name, &t)?;
        }
        let mut resp = t.clone();
        resp["@type"] = json!(TRIGGER_TYPE);
        self.eventarc_op(&name, "create", resp)
    }

    pub fn get_trigger(&self, name: &str) -> ApiResult<Value> {
        self.store().get(Kind::Trigger, name).ok_or_else(|| {
            ApiError::new(Code::NotFound, format!("Resource '{name}' was not found"))
        })
    }

    pub fn list_triggers(&self, parent: &str) -> ApiResult<Value> {
        let store = self.store();
        // `locations/-` lists every location's triggers, as Google does.
        let prefix = match parent.strip_suffix("/locations/-") {
            Some(project) => format!("{project}/locations/"),
            None => format!("{parent}/triggers/"),
        };
        let names: Vec<String> = store
            .names_with_prefix(Kind::Trigger, &prefix)
            .map(str::to_string)
            .collect();
        let triggers: Vec<Value> = names
            .iter()
            .filter_map(|n| store.get(Kind::Trigger, n))
            .collect();
        Ok(json!({"triggers": triggers}))
    }

    pub fn patch_trigger(
        &self,
        name: &str,
        patch: Value,
        mask: &str,
        allow_missing: bool,
        validate_only: bool,
    ) -> ApiResult<crate::api::Operation> {
        if allow_missing && self.get_trigger(name).is_err() {
            let (parent, id) = name.rsplit_once("/triggers/").unwrap_or((name, ""));
            return self.create_trigger(parent, id, patch, validate_only);
        }
        let mut t = self.get_trigger(name)?;
        let fields: Vec<String> = if mask.trim().is_empty() || mask == "*" {
            patch
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        } else {
            mask.split(',').map(|f| f.trim().to_string()).collect()
        };
        for f in fields {
            let key = crate::api::common::camel(&f);
            if ["name", "uid", "createTime", "updateTime", "etag"].contains(&key.as_str()) {
                continue;
            }
            match patch.get(&key) {
                Some(v) => t[key.as_str()] = v.clone(),
                None => {
                    if let Value::Object(m) = &mut t {
                        m.remove(&key);
                    }
                }
            }
        }
        Self::check_trigger(&t)?;
        t["updateTime"] = json!(now_rfc3339());
        t["etag"] = json!(uuid::Uuid::new_v4().simple().to_string());
        if !validate_only {
            self.store().put(Kind::Trigger, name, &t)?;
        }
        let mut resp = t.clone();
        resp["@type"] = json!(TRIGGER_TYPE);
        self.eventarc_op(name, "update", resp)
    }

    pub fn delete_trigger(
        &self,
        name: &str,
        allow_missing: bool,
        validate_only: bool,
    ) -> ApiResult<crate::api::Operation> {
        let t = match self.get_trigger(name) {
            Ok(t) => t,
            // allowMissing: deleting what is not there succeeds.
            Err(_) if allow_missing => json!({"name": name}),
            Err(e) => return Err(e),
        };
        if !validate_only {
            self.store().delete(Kind::Trigger, name)?;
        }
        let mut resp = t;
        resp["@type"] = json!(TRIGGER_TYPE);
        self.eventarc_op(name, "delete", resp)
    }

    /// Whether a trigger's account may start executions of `workflow`: it needs
    /// `workflows.executions.create` on the project (roles/workflows.invoker). Without an
    /// account Eventarc uses the project's default compute account, which Google gives the
    /// Editor role; the local runtime treats it the same.
    pub fn authorize_trigger(&self, trigger: &Value, workflow: &str) -> Result<(), String> {
        use crate::api::iam;
        let project = crate::api::iam::project_of(workflow);
        let p = project.strip_prefix("projects/").unwrap_or("");
        let default = super::projects::compute_default_service_account(p);
        let sa = trigger["serviceAccount"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or(&default);
        if sa == default {
            return Ok(());
        }
        let member = format!("serviceAccount:{sa}");
        let policy = self.get_policy(&project).unwrap_or_default();
        if iam::grants_at(&policy, &member, iam::WORKFLOWS_INVOKE, self.now()) {
            return Ok(());
        }
        Err(format!(
            "Permission '{}' denied on resource '{workflow}' for principal '{member}'; grant it roles/workflows.invoker on {project}",
            iam::WORKFLOWS_INVOKE
        ))
    }

    /// Hands an event to every matching trigger (asynchronously) and records each delivery.
    pub fn publish_event(self: &Arc<Self>, event: Value) {
        let triggers: Vec<Value> = {
            let store = self.store();
            let names: Vec<String> = store
                .names_with_prefix(Kind::Trigger, "")
                .map(str::to_string)
                .collect();
            names
                .iter()
                .filter_map(|n| store.get::<Value>(Kind::Trigger, n))
                .collect()
        };
        for t in triggers.into_iter().filter(|t| matches(t, &event)) {
            let rt = self.clone();
            let event = event.clone();
            // Recorded as pending before it runs, so that whoever caused the event can tell
            // how many deliveries it set off and wait for each one.
            let name = t["name"].as_str().unwrap_or("").to_string();
            let key = format!("{name}/{}", uuid::Uuid::new_v4());
            let _ = self
                .store()
                .put(Kind::Delivery, &key, &delivery_record(&name, &event, None));
            let deliver = async move {
                let d = &t["destination"];
                let outcome = if let Some(wf) = d["workflow"].as_str().filter(|w| !w.is_empty()) {
                    match rt.authorize_trigger(&t, wf) {
                        Err(e) => Err(e),
                        Ok(()) => {
                            let req = crate::api::workflows::WorkflowExecution {
                                argument: event.to_string(),
                                ..Default::default()
                            };
                            rt.create_workflow_execution(wf, req)
                                .map(|e| json!({"workflowExecution": e.name}))
                                .map_err(|e| e.body.error.message)
                        }
                    }
                } else if let Some(uri) = d.pointer("/httpEndpoint/uri").and_then(Value::as_str) {
                    deliver_http(uri, &event).await
                } else {
                    Err("not delivered: the local runtime runs Cloud Run jobs, not Cloud Run or GKE services".to_string())
                };
                let record = delivery_record(&name, &event, Some(&outcome));
                let _ = rt.store().put(Kind::Delivery, &key, &record);
                rt.changed.notify_waiters();
            };
            // Deliveries run on the runtime's async executor; without one (plain unit tests)
            // they run to completion here.
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    h.spawn(deliver);
                }
                Err(_) => {
                    let _ = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map(|r| r.block_on(deliver));
                }
            }
        }
    }

    /// Deliveries a trigger made (done, not pending), oldest first.
    pub fn deliveries(&self, trigger: &str) -> Vec<Value> {
        let store = self.store();
        let names: Vec<String> = store
            .names_with_prefix(Kind::Delivery, &format!("{trigger}/"))
            .map(str::to_string)
            .collect();
        let mut out: Vec<Value> = names
            .iter()
            .filter_map(|n| store.get::<Value>(Kind::Delivery, n))
            .filter(|d| d["pending"] != true)
            .collect();
        out.sort_by(|a, b| a["time"].as_str().cmp(&b["time"].as_str()));
        out
    }
}

/// A delivery of `event` by trigger `name`: pending (no outcome yet), or done.
fn delivery_record(name: &str, event: &Value, outcome: Option<&Result<Value, String>>) -> Value {
    let mut r = json!({
        "trigger": name, "eventId": event["id"], "type": event["type"], "subject": event["subject"],
        "bucket": event["bucket"], "generation": event["data"]["generation"],
        "time": now_rfc3339(),
        "pending": outcome.is_none(),
    });
    if let Some(o) = outcome {
        r["ok"] = json!(o.is_ok());
        r["result"] = json!(o.as_ref().ok());
        r["error"] = json!(o.as_ref().err());
    }
    r
}

impl Runtime {
    /// What an object's event (by bucket, object and generation) set off: each trigger's
    /// delivery (pending or done), the workflow executions they started and the job
    /// executions those started, each with its state.
    pub fn started_by_event(&self, bucket: &str, object: &str, generation: &str) -> Value {
        let subject = format!("objects/{object}");
        let deliveries: Vec<Value> = {
            let store = self.store();
            let names: Vec<String> = store
                .names_with_prefix(Kind::Delivery, "")
                .map(str::to_string)
                .collect();
            names
                .iter()
                .filter_map(|n| store.get::<Value>(Kind::Delivery, n))
                .filter(|d| {
                    d["bucket"] == bucket
                        && d["subject"] == subject.as_str()
                        && d["generation"].as_str().unwrap_or_default() == generation
                })
                .collect()
        };
        let workflow_names: Vec<String> = deliveries
            .iter()
            .filter_map(|d| d["result"]["workflowExecution"].as_str())
            .map(str::to_string)
            .collect();
        let workflows: Vec<Value> = workflow_names
            .iter()
            .filter_map(|w| self.get_workflow_execution(w).ok())
            .map(|e| json!({"name": e.name, "state": e.state, "error": e.error.map(|x| x.payload)}))
            .collect();
        let job_names: Vec<String> = {
            let started = self
                .started_by_workflow
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            workflow_names
                .iter()
                .flat_map(|w| started.get(w).cloned().unwrap_or_default())
                .collect()
        };
        let jobs: Vec<Value> = job_names
            .iter()
            .filter_map(|j| self.get_execution(j).ok())
            .map(|e| {
                let state = if !e.is_done() {
                    "RUNNING"
                } else if e.succeeded() {
                    "SUCCEEDED"
                } else if e.cancelled() {
                    "CANCELLED"
                } else {
                    "FAILED"
                };
                json!({"name": e.name, "state": state,
                       "message": e.completed().map(|c| c.message.clone()).unwrap_or_default()})
            })
            .collect();
        json!({"deliveries": deliveries, "workflowExecutions": workflows, "jobExecutions": jobs})
    }
}

/// CloudEvents HTTP binary mode: `ce-*` headers and the data as the body; loopback only.
async fn deliver_http(uri: &str, event: &Value) -> Result<Value, String> {
    let url = reqwest::Url::parse(uri).map_err(|e| format!("bad uri {uri:?}: {e}"))?;
    let host = url.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    if !loopback {
        return Err(format!(
            "the local runtime delivers events to loopback addresses only, not {uri}"
        ));
    }
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json");
    if let Some(m) = event.as_object() {
        for (k, v) in m {
            if k != "data" && k != "datacontenttype" {
                req = req.header(
                    format!("ce-{k}"),
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                );
            }
        }
    }
    let resp = req
        .json(&event["data"])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(json!({"status": resp.status().as_u16()}))
    } else {
        Err(format!(
            "the endpoint answered HTTP {}",
            resp.status().as_u16()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns() {
        assert!(path_matches("objects/in/*.csv", "objects/in/a.csv"));
        assert!(!path_matches("objects/in/*.csv", "objects/in/sub/a.csv"));
        assert!(path_matches("objects/in/**", "objects/in/sub/a.csv"));
        assert!(
            path_matches("/objects/**.jpg", "objects/a/b/c.jpg")
                || path_matches("/objects/**/*.jpg", "objects/a/b/c.jpg")
        );
        assert!(!path_matches("objects/out/*", "objects/in/a"));
    }
}
