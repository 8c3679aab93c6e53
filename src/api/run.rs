//! Cloud Run Admin API v2: jobs, executions, tasks (see `shared/reference/gcp-api.md` §1).

use super::common::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

enum_table!(
    LaunchStage,
    [
        "LAUNCH_STAGE_UNSPECIFIED",
        "EARLY_ACCESS",
        "ALPHA",
        "BETA",
        "GA",
        "DEPRECATED",
        "UNIMPLEMENTED",
        "PRELAUNCH"
    ]
);
enum_table!(
    ExecutionEnvironment,
    [
        "EXECUTION_ENVIRONMENT_UNSPECIFIED",
        "EXECUTION_ENVIRONMENT_GEN1",
        "EXECUTION_ENVIRONMENT_GEN2"
    ]
);
enum_table!(
    VpcEgress,
    [
        "VPC_EGRESS_UNSPECIFIED",
        "ALL_TRAFFIC",
        "PRIVATE_RANGES_ONLY"
    ]
);
enum_table!(EmptyDirMedium, ["MEDIUM_UNSPECIFIED", "MEMORY"]);
enum_table!(
    ConditionState,
    [
        "STATE_UNSPECIFIED",
        "CONDITION_PENDING",
        "CONDITION_RECONCILING",
        "CONDITION_FAILED",
        "CONDITION_SUCCEEDED"
    ]
);
enum_table!(
    Severity,
    ["SEVERITY_UNSPECIFIED", "ERROR", "WARNING", "INFO"]
);
enum_table!(
    CommonReason,
    [
        "COMMON_REASON_UNDEFINED",
        "UNKNOWN",
        "",
        "REVISION_FAILED",
        "PROGRESS_DEADLINE_EXCEEDED",
        "",
        "CONTAINER_MISSING",
        "CONTAINER_PERMISSION_DENIED",
        "CONTAINER_IMAGE_UNAUTHORIZED",
        "CONTAINER_IMAGE_AUTHORIZATION_CHECK_FAILED",
        "ENCRYPTION_KEY_PERMISSION_DENIED",
        "ENCRYPTION_KEY_CHECK_FAILED",
        "SECRETS_ACCESS_CHECK_FAILED",
        "WAITING_FOR_OPERATION",
        "IMMEDIATE_RETRY",
        "POSTPONED_RETRY",
        "INTERNAL",
        "VPC_NETWORK_NOT_FOUND"
    ]
);
enum_table!(
    ExecutionReason,
    [
        "EXECUTION_REASON_UNDEFINED",
        "JOB_STATUS_SERVICE_POLLING_ERROR",
        "NON_ZERO_EXIT_CODE",
        "CANCELLED",
        "CANCELLING",
        "DELETED",
        "DELAYED_START_PENDING"
    ]
);
enum_table!(
    CompletionStatus,
    [
        "COMPLETION_STATUS_UNSPECIFIED",
        "EXECUTION_SUCCEEDED",
        "EXECUTION_FAILED",
        "EXECUTION_RUNNING",
        "EXECUTION_PENDING",
        "EXECUTION_CANCELLED"
    ]
);

fn enum_default<T: EnumTable>(e: &Enum<T>) -> bool {
    e.is_default()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Job {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(with = "i64str", skip_serializing_if = "is_zero_i64")]
    pub generation: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub create_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub update_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub delete_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expire_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub creator: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_modifier: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_version: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub launch_stage: Enum<LaunchStage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_authorization: Option<Value>,
    pub template: ExecutionTemplate,
    #[serde(with = "i64str", skip_serializing_if = "is_zero_i64")]
    pub observed_generation: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal_condition: Option<Condition>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub execution_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_created_execution: Option<ExecutionReference>,
    #[serde(skip_serializing_if = "is_false")]
    pub reconciling: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub satisfies_pzs: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub etag: String,
    /// Resource Manager tags bound at creation (`tagKeys/...` → `tagValues/...`); the
    /// provider never reads them back.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_execution_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_execution_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExecutionReference {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub create_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub completion_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub delete_time: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub completion_status: Enum<CompletionStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExecutionTemplate {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_version: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub parallelism: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub task_count: i32,
    pub template: TaskTemplate,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskTemplate {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// In oneof `retries`: an explicit 0 is sent; absent means the default (3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub execution_environment: Enum<ExecutionEnvironment>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub encryption_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_access: Option<VpcAccess>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_zonal_redundancy_disabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_source: Option<EnvVarSource>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvVarSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretKeySelector {
    pub secret: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceRequirements {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_idle: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_cpu_boost: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sub_path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_sql_instance: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDir>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nfs: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EmptyDir {
    #[serde(skip_serializing_if = "enum_default")]
    pub medium: Enum<EmptyDirMedium>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub size_limit: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VpcAccess {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub connector: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub egress: Enum<VpcEgress>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<NetworkInterface>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NetworkInterface {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnetwork: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub state: Enum<ConditionState>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_transition_time: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub severity: Enum<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Enum<CommonReason>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_reason: Option<Enum<ExecutionReason>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Execution {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(with = "i64str", skip_serializing_if = "is_zero_i64")]
    pub generation: i64,
    #[serde(with = "i64str", skip_serializing_if = "is_zero_i64")]
    pub observed_generation: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub job: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub creator: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub create_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub completion_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub update_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub delete_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expire_time: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub launch_stage: Enum<LaunchStage>,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub parallelism: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub task_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<TaskTemplate>,
    #[serde(skip_serializing_if = "is_false")]
    pub reconciling: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub running_count: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub succeeded_count: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub failed_count: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub cancelled_count: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub retried_count: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_uri: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

impl Execution {
    /// The `Completed` condition, which every terminal execution carries.
    pub fn completed(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == "Completed")
    }
    pub fn is_done(&self) -> bool {
        !self.completion_time.is_empty()
    }
    pub fn succeeded(&self) -> bool {
        self.completed()
            .is_some_and(|c| c.state.as_str() == "CONDITION_SUCCEEDED")
    }
    pub fn cancelled(&self) -> bool {
        self.cancelled_count > 0
            || self.completed().is_some_and(|c| {
                c.execution_reason
                    .as_ref()
                    .is_some_and(|r| r.as_str() == "CANCELLED")
            })
    }
    /// Short execution ID (last path segment).
    pub fn short_name(&self) -> &str {
        last_segment(&self.name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Task {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(with = "i64str", skip_serializing_if = "is_zero_i64")]
    pub generation: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub job: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub execution: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub index: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub retried: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt_result: Option<TaskAttemptResult>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub create_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scheduled_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub completion_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub update_time: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub timeout: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(skip_serializing_if = "enum_default")]
    pub execution_environment: Enum<ExecutionEnvironment>,
    #[serde(skip_serializing_if = "is_false")]
    pub reconciling: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub log_uri: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub etag: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TaskAttemptResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term_signal: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RunJobRequest {
    #[serde(skip_serializing_if = "is_false")]
    pub validate_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Overrides>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Overrides {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub container_overrides: Vec<ContainerOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerOverride {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub clear_args: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListJobsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<Job>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListExecutionsResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub executions: Vec<Execution>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListTasksResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_page_token: String,
}

pub const JOB_TYPE: &str = "type.googleapis.com/google.cloud.run.v2.Job";
pub const EXECUTION_TYPE: &str = "type.googleapis.com/google.cloud.run.v2.Execution";

/// Wraps a message as an `Any` (`{"@type": ..., ...fields}`) for operation payloads.
pub fn to_any<T: Serialize>(type_url: &str, msg: &T) -> Value {
    let mut map = Map::new();
    map.insert("@type".into(), Value::String(type_url.into()));
    if let Ok(Value::Object(fields)) = serde_json::to_value(msg) {
        map.extend(fields);
    }
    Value::Object(map)
}

/// Reads an `Any` payload back into a message (ignores `@type`).
pub fn from_any<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("@type");
    }
    serde_json::from_value(v)
}

pub fn last_segment(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// `projects/{p}/locations/{l}/jobs/{j}`.
pub fn job_name(project: &str, location: &str, job: &str) -> String {
    format!("projects/{project}/locations/{location}/jobs/{job}")
}

/// Splits `projects/{p}/locations/{l}/...` into (project, location).
pub fn project_location(name: &str) -> Option<(&str, &str)> {
    let mut it = name.split('/');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some("projects"), Some(p), Some("locations"), Some(l)) => Some((p, l)),
        _ => None,
    }
}

/// The environment variable names the platform reserves and a job may not set.
pub fn is_reserved_env(name: &str) -> bool {
    name.starts_with("CLOUD_RUN_") || name.starts_with("K_") || name == "PORT"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_client_job_body_parses() {
        let body = r#"{"labels":{"team":"x"},"template":{"parallelism":2,"taskCount":3,"template":{"containers":[{"image":"us-docker.pkg.dev/cloudrun/container/job:latest","command":["/bin/sh"],"args":["-c","echo hi"],"env":[{"name":"A","value":"1"},{"name":"S","valueSource":{"secretKeyRef":{"secret":"mysecret","version":"latest"}}}],"resources":{"limits":{"cpu":"2","memory":"1Gi"}}}],"maxRetries":0,"timeout":"3600s","serviceAccount":"sa@p.iam.gserviceaccount.com","executionEnvironment":2,"vpcAccess":{"egress":2,"networkInterfaces":[{"network":"default","subnetwork":"default"}]}}}}"#;
        let job: Job = serde_json::from_str(body).unwrap();
        assert_eq!(job.template.template.max_retries, Some(0));
        assert_eq!(
            job.template.template.execution_environment.as_str(),
            "EXECUTION_ENVIRONMENT_GEN2"
        );
        let out = serde_json::to_value(&job).unwrap();
        assert_eq!(out["template"]["template"]["maxRetries"], 0);
        assert_eq!(
            out["template"]["template"]["vpcAccess"]["egress"],
            "PRIVATE_RANGES_ONLY"
        );
        assert!(out.get("generation").is_none());
    }

    #[test]
    fn int64_fields_are_strings() {
        let job = Job {
            generation: 3,
            ..Default::default()
        };
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v["generation"], "3");
        let back: Job =
            serde_json::from_value(serde_json::json!({"generation": 4, "template": {}})).unwrap();
        assert_eq!(back.generation, 4);
    }
}

/// Parses a proto Duration string (`"600s"`, `"0.5s"`) into seconds.
pub fn parse_duration_secs(s: &str) -> Option<f64> {
    let n = s.strip_suffix('s')?;
    if n.is_empty() || n.starts_with('-') || n.starts_with('+') {
        return None;
    }
    let v: f64 = n.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Parses a Kubernetes quantity (`512Mi`, `1Gi`, `2G`, `1000m`, `1.5`) into base units.
pub fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("m", 1e-3),
    ];
    for (suf, mult) in suffixes {
        if let Some(n) = q.strip_suffix(suf) {
            let v: f64 = n.parse().ok()?;
            return (v.is_finite() && v >= 0.0).then_some(v * mult);
        }
    }
    let v: f64 = q.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

const MAX_TIMEOUT_SECS: f64 = 168.0 * 3600.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// Is `s` a DNS label as Cloud Run requires for job names (lowercase letters, digits and
/// hyphens, starting with a letter, not ending with a hyphen, at most `max` characters)?
pub fn dns_label_problem(s: &str, max: usize) -> Option<String> {
    if s.is_empty() {
        return Some("must not be empty".into());
    }
    if s.len() > max {
        return Some(format!(
            "is {} characters long; the limit is {max}",
            s.len()
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("must start with a lowercase letter".into());
    }
    if s.ends_with('-') {
        return Some("must not end with a hyphen".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "contains {c:?}; only lowercase letters, digits and hyphens are allowed"
        ));
    }
    None
}

/// Maximum length of a job ID. Execution IDs are `{job}-{suffix}` and must stay under 63.
pub const JOB_ID_MAX: usize = 63;

/// Checks a job the way Cloud Run does before accepting it. Returns `(field path, problem)`
/// pairs; field paths use the wire's camelCase names (`template.taskCount`). Shared by the
/// local runtime (which answers INVALID_ARGUMENT) and `runform validate` (which maps the
/// paths back to HCL source locations).
pub fn validate_job(job_id: &str, job: &Job) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    if let Some(p) = dns_label_problem(job_id, JOB_ID_MAX) {
        v.push(("name".into(), format!("job name {job_id:?} {p}")));
    }
    let t = &job.template;
    let task_count = if t.task_count == 0 { 1 } else { t.task_count };
    if !(1..=10_000).contains(&t.task_count) && t.task_count != 0 {
        v.push((
            "template.taskCount".into(),
            format!(
                "task_count is {}; it must be between 1 and 10000",
                t.task_count
            ),
        ));
    }
    if t.parallelism < 0 {
        v.push((
            "template.parallelism".into(),
            format!(
                "parallelism is {}; it must be 0 (as many as possible) or more",
                t.parallelism
            ),
        ));
    } else if t.parallelism > task_count && (1..=10_000).contains(&task_count) {
        v.push((
            "template.parallelism".into(),
            format!("parallelism is {} but task_count is {task_count}; parallelism must not exceed task_count", t.parallelism),
        ));
    }
    let tt = &t.template;
    if let Some(r) = tt.max_retries {
        if !(0..=10).contains(&r) {
            v.push((
                "template.template.maxRetries".into(),
                format!("max_retries is {r}; it must be between 0 and 10"),
            ));
        }
    }
    if !tt.timeout.is_empty() {
        match parse_duration_secs(&tt.timeout) {
            None => v.push((
                "template.template.timeout".into(),
                format!("timeout {:?} is not a duration; write seconds with an \"s\" suffix, e.g. \"600s\"", tt.timeout),
            )),
            Some(s) if s <= 0.0 || s > MAX_TIMEOUT_SECS => v.push((
                "template.template.timeout".into(),
                format!("timeout {:?} is out of range; it must be more than 0s and at most 604800s (168h)", tt.timeout),
            )),
            _ => {}
        }
    }
    if tt.containers.is_empty() {
        v.push((
            "template.template.containers".into(),
            "a job needs one container".into(),
        ));
    }
    for (ci, c) in tt.containers.iter().enumerate() {
        let base = format!("template.template.containers[{ci}]");
        if c.image.trim().is_empty() {
            v.push((format!("{base}.image"), "image is required".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (ei, e) in c.env.iter().enumerate() {
            if e.name.is_empty() {
                v.push((
                    format!("{base}.env[{ei}].name"),
                    "env name must not be empty".into(),
                ));
            } else if is_reserved_env(&e.name) {
                v.push((
                    format!("{base}.env[{ei}].name"),
                    format!("env name {:?} is reserved by Cloud Run (CLOUD_RUN_*, K_*, PORT are set by the platform)", e.name),
                ));
            } else if !seen.insert(e.name.as_str()) {
                v.push((
                    format!("{base}.env[{ei}].name"),
                    format!("env name {:?} is declared more than once", e.name),
                ));
            }
        }
        if let Some(res) = &c.resources {
            validate_limits(&base, &res.limits, &mut v);
        }
    }
    v
}

fn validate_limits(base: &str, limits: &BTreeMap<String, String>, v: &mut Vec<(String, String)>) {
    for k in limits.keys() {
        if !["cpu", "memory", "nvidia.com/gpu"].contains(&k.as_str()) {
            v.push((
                format!("{base}.resources.limits.{k}"),
                format!("unknown limit {k:?}; allowed: cpu, memory, nvidia.com/gpu"),
            ));
        }
    }
    let cpu = match limits.get("cpu") {
        None => Some(1.0),
        Some(s) => match parse_quantity(s) {
            Some(c) if (c - 1.0).abs() < 1e-9 || [2.0, 4.0, 6.0, 8.0].contains(&c) => Some(c),
            Some(c) if (0.08..1.0).contains(&c) => Some(c),
            _ => {
                v.push((
                    format!("{base}.resources.limits.cpu"),
                    format!("cpu {s:?} is not allowed for jobs; use one of \"1\", \"2\", \"4\", \"6\", \"8\" (or a fraction of one CPU from \"0.08\")"),
                ));
                None
            }
        },
    };
    let mem = match limits.get("memory") {
        None => Some(512.0 * MIB),
        Some(s) => match parse_quantity(s) {
            Some(m) if (128.0 * MIB..=32.0 * GIB).contains(&m) => Some(m),
            _ => {
                v.push((
                    format!("{base}.resources.limits.memory"),
                    format!("memory {s:?} is out of range; it must be between 128Mi and 32Gi"),
                ));
                None
            }
        },
    };
    if let (Some(cpu), Some(mem)) = (cpu, mem) {
        let need = if cpu >= 6.0 {
            Some((4.0 * GIB, "4Gi"))
        } else if cpu >= 4.0 {
            Some((2.0 * GIB, "2Gi"))
        } else {
            None
        };
        if let Some((min, label)) = need {
            if mem < min {
                v.push((
                    format!("{base}.resources.limits.memory"),
                    format!(
                        "{} CPU needs at least {label} of memory, but memory is {}",
                        fmt_num(cpu),
                        limits.get("memory").map(String::as_str).unwrap_or("512Mi")
                    ),
                ));
            }
        }
        let max_mem_for_cpu = if cpu >= 8.0 {
            32.0
        } else if cpu >= 6.0 {
            24.0
        } else if cpu >= 4.0 {
            16.0
        } else if cpu >= 2.0 {
            8.0
        } else {
            4.0
        };
        if mem > max_mem_for_cpu * GIB {
            v.push((
                format!("{base}.resources.limits.memory"),
                format!(
                    "memory {} needs more CPU: {} CPU allows at most {}Gi",
                    limits.get("memory").map(String::as_str).unwrap_or(""),
                    fmt_num(cpu),
                    max_mem_for_cpu
                ),
            ));
        }
    }
}

fn fmt_num(f: f64) -> String {
    if f.fract() == 0.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod validate_tests {
    use super::*;

    fn job_with(f: impl FnOnce(&mut Job)) -> Job {
        let mut j = Job::default();
        j.template.template.containers.push(Container {
            image: "img".into(),
            ..Default::default()
        });
        f(&mut j);
        j
    }

    #[test]
    fn valid_job_has_no_violations() {
        assert!(validate_job("etl", &job_with(|_| {})).is_empty());
    }

    #[test]
    fn each_rule_fires() {
        let cases: Vec<(Job, &str)> = vec![
            (
                job_with(|j| j.template.task_count = 10_001),
                "template.taskCount",
            ),
            (
                job_with(|j| j.template.parallelism = -1),
                "template.parallelism",
            ),
            (
                job_with(|j| {
                    j.template.task_count = 2;
                    j.template.parallelism = 3
                }),
                "template.parallelism",
            ),
            (
                job_with(|j| j.template.template.max_retries = Some(11)),
                "template.template.maxRetries",
            ),
            (
                job_with(|j| j.template.template.timeout = "10m".into()),
                "template.template.timeout",
            ),
            (
                job_with(|j| j.template.template.timeout = "700000s".into()),
                "template.template.timeout",
            ),
            (
                job_with(|j| j.template.template.containers[0].image.clear()),
                "template.template.containers[0].image",
            ),
        ];
        for (job, field) in cases {
            let v = validate_job("etl", &job);
            assert!(
                v.iter().any(|(f, _)| f == field),
                "expected {field}, got {v:?}"
            );
        }
        assert_eq!(validate_job("Bad_Name", &job_with(|_| {}))[0].0, "name");
    }

    #[test]
    fn cpu_memory_combinations() {
        let lim = |cpu: &str, mem: &str| {
            job_with(|j| {
                let mut limits = BTreeMap::new();
                limits.insert("cpu".to_string(), cpu.to_string());
                limits.insert("memory".to_string(), mem.to_string());
                j.template.template.containers[0].resources = Some(ResourceRequirements {
                    limits,
                    ..Default::default()
                });
            })
        };
        assert!(validate_job("a", &lim("4", "8Gi")).is_empty());
        assert!(validate_job("a", &lim("1000m", "512Mi")).is_empty());
        assert!(!validate_job("a", &lim("4", "1Gi")).is_empty());
        assert!(!validate_job("a", &lim("6", "2Gi")).is_empty());
        assert!(!validate_job("a", &lim("3", "2Gi")).is_empty());
        assert!(!validate_job("a", &lim("1", "64Mi")).is_empty());
        assert!(!validate_job("a", &lim("1", "33Gi")).is_empty());
        assert!(!validate_job("a", &lim("1", "8Gi")).is_empty());
    }

    #[test]
    fn env_rules() {
        let j = job_with(|j| {
            j.template.template.containers[0].env = vec![
                EnvVar {
                    name: "A".into(),
                    value: Some("1".into()),
                    ..Default::default()
                },
                EnvVar {
                    name: "A".into(),
                    value: Some("2".into()),
                    ..Default::default()
                },
                EnvVar {
                    name: "CLOUD_RUN_TASK_INDEX".into(),
                    value: Some("2".into()),
                    ..Default::default()
                },
            ]
        });
        let v = validate_job("a", &j);
        assert_eq!(v.len(), 2, "{v:?}");
    }
}
