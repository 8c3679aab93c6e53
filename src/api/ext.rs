//! runform's own REST extensions on the local runtime (under `/runform/v1/`): image mappings
//! and task logs. Not part of any Google API.

use serde::{Deserialize, Serialize};

/// The header that carries a local runtime's own token (`runform local serve --token`), so
/// that `Authorization` stays free for the credentials a provider block configures.
pub const TOKEN_HEADER: &str = "x-runform-token";

/// A command registered for an image that has none of its own (see README "Local images").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageMapping {
    pub image: String,
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

/// One log line of a task attempt, as served to `runform logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub task: i32,
    pub attempt: i32,
    pub stream: String,
    pub line: String,
    /// When it was written (RFC 3339), where known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timestamp: String,
}
