//! Service Usage v1 (enable/disable services) and Artifact Registry v1 (repositories) on the
//! local runtime: stored, so enabled services and repositories survive restarts. Enabling a
//! service changes nothing else locally (every API is served either way).

use super::store::Kind;
use super::{now_rfc3339, ApiError, ApiResult, Runtime};
use crate::api::{Code, Operation};
use serde_json::{json, Value};

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidArgument, m)
}

const FORMATS: &[&str] = &[
    "DOCKER", "MAVEN", "NPM", "PYTHON", "APT", "YUM", "GO", "KFP", "GENERIC",
];

impl Runtime {
    fn done_op(&self, parent: &str, response: Value) -> ApiResult<Operation> {
        let mut op = self.new_operation(
            parent,
            json!({"createTime": now_rfc3339(), "endTime": now_rfc3339()}),
        );
        op.done = true;
        op.response = Some(response);
        self.store().put(Kind::Operation, &op.name, &op)?;
        Ok(op)
    }

    /// `projects/P/services/S`.
    /// Whether a service is enabled: as last set, else enabled only for the services the
    /// runtime is (Cloud Run: gcloud checks it before `run jobs` commands).
    fn service_enabled(&self, project: &str, service: &str) -> bool {
        let key = format!("projects/{project}/services/{service}");
        match self.store().get::<Value>(Kind::Service, &key) {
            Some(v) => v["enabled"].as_bool().unwrap_or(true),
            None => ENABLED_BY_DEFAULT.contains(&service),
        }
    }

    pub fn get_service(&self, name: &str) -> ApiResult<Value> {
        let (project, service) = split_service(name)?;
        let enabled = self.service_enabled(project, service);
        Ok(service_json(project, service, enabled))
    }

    pub fn set_service(&self, name: &str, enable: bool) -> ApiResult<Value> {
        let (project, service) = split_service(name)?;
        let key = format!("projects/{project}/services/{service}");
        // Disabling is remembered (a service enabled by default stays off).
        self.store()
            .put(Kind::Service, &key, &json!({"enabled": enable}))?;
        let op = self.done_op(
            &format!("projects/{project}/locations/global"),
            json!({"service": service_json(project, service, enable)}),
        )?;
        Ok(serde_json::to_value(op).unwrap_or_default())
    }

    /// Enabled services of a project.
    pub fn list_services(&self, project: &str) -> ApiResult<Value> {
        let prefix = format!("projects/{project}/services/");
        let names: Vec<String> = self
            .store()
            .names_with_prefix(Kind::Service, &prefix)
            .map(str::to_string)
            .collect();
        let mut all: std::collections::BTreeSet<&str> = names
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix))
            .collect();
        all.extend(ENABLED_BY_DEFAULT);
        let services: Vec<Value> = all
            .into_iter()
            .filter(|s| self.service_enabled(project, s))
            .map(|s| service_json(project, s, true))
            .collect();
        Ok(json!({ "services": services }))
    }

    /// `services:batchEnable`: every service in `serviceIds` enabled, one operation.
    pub fn batch_enable_services(&self, project: &str, ids: &[String]) -> ApiResult<Value> {
        for id in ids {
            self.store().put(
                Kind::Service,
                &format!("projects/{project}/services/{id}"),
                &json!({"enabled": true}),
            )?;
        }
        let services: Vec<Value> = ids.iter().map(|s| service_json(project, s, true)).collect();
        let op = self.done_op(
            &format!("projects/{project}/locations/global"),
            json!({"services": services}),
        )?;
        Ok(serde_json::to_value(op).unwrap_or_default())
    }

    pub fn create_repository(
        &self,
        parent: &str,
        id: &str,
        mut body: Value,
    ) -> ApiResult<Operation> {
        let ok_id = !id.is_empty()
            && id.len() <= 63
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !id.ends_with('-');
        if !ok_id {
            return Err(invalid(format!("repository_id {id:?} must be 1-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen")));
        }
        let format = body["format"].as_str().unwrap_or("").to_string();
        if !FORMATS.contains(&format.as_str()) {
            return Err(invalid(format!(
                "format {format:?} is not one of {}",
                FORMATS.join(", ")
            )));
        }
        let name = format!("{parent}/repositories/{id}");
        if self.store().contains(Kind::Repository, &name) {
            return Err(ApiError::new(
                Code::AlreadyExists,
                format!("the repository already exists: {name}"),
            ));
        }
        let now = now_rfc3339();
        if let Value::Object(m) = &mut body {
            m.insert("name".into(), json!(name));
            m.insert("createTime".into(), json!(now));
            m.insert("updateTime".into(), json!(now));
            m.entry("mode").or_insert(json!("STANDARD_REPOSITORY"));
            m.insert("sizeBytes".into(), json!("0"));
        }
        self.store().put(Kind::Repository, &name, &body)?;
        let mut resp = body.clone();
        if let Value::Object(m) = &mut resp {
            m.insert(
                "@type".into(),
                json!("type.googleapis.com/google.devtools.artifactregistry.v1.Repository"),
            );
        }
        self.done_op(parent, resp)
    }

    pub fn get_repository(&self, name: &str) -> ApiResult<Value> {
        self.store()
            .get::<Value>(Kind::Repository, name)
            .ok_or_else(|| {
                ApiError::new(
                    Code::NotFound,
                    format!("Requested entity was not found: {name}"),
                )
            })
    }

    pub fn list_repositories(&self, parent: &str) -> ApiResult<Value> {
        let prefix = format!("{parent}/repositories/");
        let store = self.store();
        let names: Vec<String> = store
            .names_with_prefix(Kind::Repository, &prefix)
            .map(str::to_string)
            .collect();
        let repos: Vec<Value> = names
            .iter()
            .filter_map(|n| store.get::<Value>(Kind::Repository, n))
            .collect();
        Ok(json!({ "repositories": repos }))
    }

    /// PATCH with `updateMask` (description, labels, ...); format and mode cannot change.
    pub fn patch_repository(&self, name: &str, body: &Value, mask: &str) -> ApiResult<Value> {
        let mut repo = self.get_repository(name)?;
        for field in mask.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            if matches!(field, "format" | "mode" | "name") {
                return Err(invalid(format!("{field} cannot be updated")));
            }
            if let Value::Object(m) = &mut repo {
                match body.get(field) {
                    Some(v) => {
                        m.insert(field.to_string(), v.clone());
                    }
                    None => {
                        m.remove(field);
                    }
                }
            }
        }
        if let Value::Object(m) = &mut repo {
            m.insert("updateTime".into(), json!(now_rfc3339()));
        }
        self.store().put(Kind::Repository, name, &repo)?;
        Ok(repo)
    }

    pub fn delete_repository(&self, name: &str) -> ApiResult<Operation> {
        self.get_repository(name)?;
        self.store().delete(Kind::Repository, name)?;
        let parent = name
            .rsplit_once("/repositories/")
            .map(|x| x.0)
            .unwrap_or(name);
        self.done_op(parent, json!({}))
    }
}

fn split_service(name: &str) -> ApiResult<(&str, &str)> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["projects", p, "services", s] if !p.is_empty() && !s.is_empty() => Ok((p, s)),
        _ => Err(invalid(format!(
            "invalid service name {name:?} (expected projects/P/services/SERVICE)"
        ))),
    }
}

fn service_json(project: &str, service: &str, enabled: bool) -> Value {
    let number = super::workflows_api::project_number(project);
    json!({
        "name": format!("projects/{number}/services/{service}"),
        "parent": format!("projects/{number}"),
        "config": { "name": service, "title": service },
        "state": if enabled { "ENABLED" } else { "DISABLED" },
    })
}

/// Services a project of the runtime has enabled until someone disables them.
const ENABLED_BY_DEFAULT: &[&str] = &["run.googleapis.com"];
