//! The project's synthetic identity on the local runtime: a stable project number derived
//! from the project id, and the service agents Google derives from it. Served as Resource
//! Manager v1 `projects.get`, Compute v1 `projects.get` and Cloud Storage
//! `projects.serviceAccount.get`, for the data sources (`google_project`,
//! `google_compute_default_service_account`, `google_storage_project_service_account`).

use super::workflows_api::project_number;
use serde_json::{json, Value};

pub fn resource_manager_project(project: &str) -> Value {
    json!({
        "projectNumber": project_number(project),
        "projectId": project,
        "lifecycleState": "ACTIVE",
        "name": project,
        "createTime": "2024-01-01T00:00:00.000Z",
    })
}

pub fn compute_default_service_account(project: &str) -> String {
    format!(
        "{}-compute@developer.gserviceaccount.com",
        project_number(project)
    )
}

pub fn compute_project(project: &str) -> Value {
    json!({
        "kind": "compute#project",
        "id": project_number(project),
        "name": project,
        "defaultServiceAccount": compute_default_service_account(project),
        "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
    })
}

pub fn storage_service_account(project: &str) -> Value {
    json!({
        "kind": "storage#serviceAccount",
        "email_address": format!("service-{}@gs-project-accounts.iam.gserviceaccount.com", project_number(project)),
    })
}
