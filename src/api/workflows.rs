//! Workflows v1 and Workflow Executions v1 wire types.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Workflow {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_contents: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub revision_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub create_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub update_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub revision_create_time: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_env_vars: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub call_log_level: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub execution_history_level: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub crypto_key_name: String,
    /// Resource Manager tags bound at creation (not read back by the provider).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkflowExecution {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// JSON text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub argument: String,
    /// JSON text, when SUCCEEDED.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ExecutionError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub end_time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub workflow_revision_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub call_log_level: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExecutionError {
    /// JSON text of the raised value.
    pub payload: String,
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<Value>,
}

/// Workflow ids: letters, digits, `_` and `-`, starting with a letter, ending with a letter or
/// digit, 1-64 characters.
pub fn check_workflow_id(id: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.ends_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "workflow id {id:?} must be 1-64 letters, digits, _ or -, start with a letter and end with a letter or digit"
        ))
    }
}

/// `projects/-/serviceAccounts/EMAIL`, `projects/P/serviceAccounts/EMAIL` or a bare email →
/// the email.
pub fn service_account_email(sa: &str) -> &str {
    sa.rsplit('/').next().unwrap_or(sa)
}
