//! Secret Manager v1 (REST): secrets (replication, labels, annotations), versions (add,
//! get and access by number or `latest`, enable/disable/destroy) and IAM policies on
//! secrets. Tasks' secret env vars and secret volumes are read from here at task start, as
//! the job's service account, which needs `secretmanager.versions.access`.

use super::store::Kind;
use super::{ApiError, ApiResult, Runtime};
use crate::api::Code;
use base64::Engine;
use serde_json::{json, Value};

fn b64() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::STANDARD
}

fn not_found(what: &str, name: &str) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!("{what} [{name}] not found or has no versions."),
    )
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidArgument, msg)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn etag() -> String {
    format!("\"{}\"", &uuid::Uuid::new_v4().simple().to_string()[..14])
}

/// A secret id: letters, digits, `-` and `_`, at most 255.
fn check_id(id: &str) -> ApiResult<()> {
    if super::volumes::secret_id_ok(id) {
        Ok(())
    } else {
        Err(bad(format!(
            "secret id {id:?} must be 1 to 255 letters, digits, hyphens and underscores"
        )))
    }
}

impl Runtime {
    pub fn create_secret(&self, parent: &str, id: &str, body: &Value) -> ApiResult<Value> {
        check_id(id)?;
        let name = format!("{parent}/secrets/{id}");
        if self.store().contains(Kind::Secret, &name) {
            return Err(ApiError::new(
                Code::AlreadyExists,
                format!("Secret [{name}] already exists."),
            ));
        }
        let replication = match body.get("replication") {
            Some(r) if r.get("automatic").is_some() || r.get("userManaged").is_some() => r.clone(),
            _ => {
                return Err(bad(
                    "replication is required: {\"automatic\": {}} or {\"userManaged\": {\"replicas\": [...]}}",
                ))
            }
        };
        let mut secret = body.clone();
        secret["name"] = json!(name);
        secret["replication"] = replication;
        secret["createTime"] = json!(now());
        secret["etag"] = json!(etag());
        self.store().put(Kind::Secret, &name, &secret)?;
        Ok(secret)
    }

    pub fn get_secret(&self, name: &str) -> ApiResult<Value> {
        self.store()
            .get(Kind::Secret, name)
            .ok_or_else(|| not_found("Secret", name))
    }

    pub fn list_secrets(&self, parent: &str) -> ApiResult<Value> {
        let store = self.store();
        let prefix = format!("{parent}/secrets/");
        let secrets: Vec<Value> = store
            .names_with_prefix(Kind::Secret, &prefix)
            .filter_map(|n| store.get::<Value>(Kind::Secret, n))
            .collect();
        let total = secrets.len();
        Ok(json!({"secrets": secrets, "totalSize": total}))
    }

    /// PATCH with an `updateMask` (labels, annotations, topics, rotation, ...).
    pub fn patch_secret(&self, name: &str, patch: &Value, mask: &str) -> ApiResult<Value> {
        let mut secret = self.get_secret(name)?;
        let fields: Vec<&str> = mask
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            return Err(bad("updateMask is required"));
        }
        for f in fields {
            if matches!(f, "name" | "createTime" | "replication") {
                return Err(bad(format!("{f} cannot be updated")));
            }
            match patch.get(f) {
                Some(v) if !v.is_null() => secret[f] = v.clone(),
                _ => {
                    if let Value::Object(m) = &mut secret {
                        m.remove(f);
                    }
                }
            }
        }
        secret["etag"] = json!(etag());
        self.store().put(Kind::Secret, name, &secret)?;
        Ok(secret)
    }

    pub fn delete_secret(&self, name: &str) -> ApiResult<()> {
        self.get_secret(name)?;
        let mut store = self.store();
        store.delete(Kind::Secret, name)?;
        store.delete_prefix(Kind::SecretVersion, &format!("{name}/versions/"))?;
        store.delete(Kind::Policy, name)?;
        Ok(())
    }

    /// `:addVersion`: the next version number, ENABLED.
    pub fn add_secret_version(&self, secret: &str, body: &Value) -> ApiResult<Value> {
        self.get_secret(secret)?;
        let data = body
            .pointer("/payload/data")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("payload.data (base64) is required"))?;
        let bytes = b64()
            .decode(data)
            .map_err(|_| bad("payload.data is not base64"))?;
        if bytes.len() > 64 * 1024 {
            return Err(bad("a secret payload is at most 64 KiB"));
        }
        if let Some(crc) = body.pointer("/payload/dataCrc32c") {
            let want = crc
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .or(crc.as_u64());
            if want != Some(super::storage::crc32c(&bytes) as u64) {
                return Err(bad("payload.dataCrc32c does not match the data"));
            }
        }
        let mut store = self.store();
        let n = store
            .names_with_prefix(Kind::SecretVersion, &format!("{secret}/versions/"))
            .filter_map(|k| k.rsplit('/').next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;
        let name = format!("{secret}/versions/{n}");
        let version = json!({
            "name": name, "createTime": now(), "state": "ENABLED", "etag": etag(),
            "replicationStatus": {"automatic": {}},
            "runformData": data,
        });
        store.put(Kind::SecretVersion, &name, &version)?;
        Ok(public_version(version))
    }

    /// The stored version `version` (a number or `latest`: the newest ENABLED one) of
    /// `secret`.
    fn find_version(&self, secret: &str, version: &str) -> ApiResult<Value> {
        self.get_secret(secret)?;
        let store = self.store();
        if version == "latest" || version.is_empty() {
            let mut all: Vec<(u64, Value)> = store
                .names_with_prefix(Kind::SecretVersion, &format!("{secret}/versions/"))
                .filter_map(|k| {
                    let n = k.rsplit('/').next()?.parse::<u64>().ok()?;
                    Some((n, store.get::<Value>(Kind::SecretVersion, k)?))
                })
                .filter(|(_, v)| v["state"] == "ENABLED")
                .collect();
            all.sort_by_key(|(n, _)| *n);
            return all
                .pop()
                .map(|(_, v)| v)
                .ok_or_else(|| not_found("Secret Version", &format!("{secret}/versions/latest")));
        }
        let name = format!("{secret}/versions/{version}");
        store
            .get(Kind::SecretVersion, &name)
            .ok_or_else(|| not_found("Secret Version", &name))
    }

    pub fn get_secret_version(&self, secret: &str, version: &str) -> ApiResult<Value> {
        self.find_version(secret, version).map(public_version)
    }

    pub fn list_secret_versions(&self, secret: &str) -> ApiResult<Value> {
        self.get_secret(secret)?;
        let store = self.store();
        let mut versions: Vec<(u64, Value)> = store
            .names_with_prefix(Kind::SecretVersion, &format!("{secret}/versions/"))
            .filter_map(|k| {
                let n = k.rsplit('/').next()?.parse::<u64>().ok()?;
                Some((
                    n,
                    public_version(store.get::<Value>(Kind::SecretVersion, k)?),
                ))
            })
            .collect();
        // Newest first, as Google lists them.
        versions.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        let total = versions.len();
        Ok(
            json!({"versions": versions.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), "totalSize": total}),
        )
    }

    /// `:access`: the payload of an ENABLED version.
    pub fn access_secret_version(&self, secret: &str, version: &str) -> ApiResult<Value> {
        let v = self.find_version(secret, version)?;
        if v["state"] != "ENABLED" {
            return Err(ApiError::new(
                Code::FailedPrecondition,
                format!(
                    "Secret Version [{}] is in {} state.",
                    v["name"].as_str().unwrap_or(""),
                    v["state"].as_str().unwrap_or("")
                ),
            ));
        }
        let data = v["runformData"].as_str().unwrap_or("");
        let bytes = b64().decode(data).unwrap_or_default();
        Ok(json!({"name": v["name"], "payload": {
            "data": data, "dataCrc32c": (super::storage::crc32c(&bytes) as u64).to_string(),
        }}))
    }

    /// `:enable`, `:disable`, `:destroy` (destroy drops the payload for good).
    pub fn set_secret_version_state(
        &self,
        secret: &str,
        version: &str,
        verb: &str,
    ) -> ApiResult<Value> {
        let mut v = self.find_version(secret, version)?;
        let name = v["name"].as_str().unwrap_or("").to_string();
        if v["state"] == "DESTROYED" {
            return Err(ApiError::new(
                Code::FailedPrecondition,
                format!("Secret Version [{name}] is destroyed."),
            ));
        }
        match verb {
            "enable" => v["state"] = json!("ENABLED"),
            "disable" => v["state"] = json!("DISABLED"),
            _ => {
                v["state"] = json!("DESTROYED");
                v["destroyTime"] = json!(now());
                if let Value::Object(m) = &mut v {
                    m.remove("runformData");
                }
            }
        }
        v["etag"] = json!(etag());
        self.store().put(Kind::SecretVersion, &name, &v)?;
        Ok(public_version(v))
    }

    /// A secret's value for a task of `job` running as `service_account`: the version's
    /// payload as text, if that account may access it (`secretmanager.versions.access` on
    /// the secret or its project). `secret` is `S` or `projects/P/secrets/S`.
    pub(crate) fn secret_for_task(
        &self,
        job: &str,
        service_account: &str,
        secret: &str,
        version: &str,
    ) -> Result<String, String> {
        let project = job.split('/').nth(1).unwrap_or("");
        let name = if secret.starts_with("projects/") {
            secret.to_string()
        } else {
            format!("projects/{project}/secrets/{secret}")
        };
        let version = if version.is_empty() {
            "latest"
        } else {
            version
        };
        let account = if service_account.is_empty() {
            super::projects::compute_default_service_account(project)
        } else {
            service_account.to_string()
        };
        self.authorize(
            &format!("serviceAccount:{account}"),
            "secretmanager.versions.access",
            &name,
        )
        .map_err(|e| format!("{} (the job runs as {account})", e.body.error.message))?;
        let payload = self
            .access_secret_version(&name, version)
            .map_err(|e| e.body.error.message)?;
        let bytes = b64()
            .decode(
                payload
                    .pointer("/payload/data")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            )
            .unwrap_or_default();
        Ok(String::from_utf8_lossy(&bytes).to_string())
    }
}

/// A version as clients see it (without its payload).
fn public_version(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("runformData");
    }
    v
}
