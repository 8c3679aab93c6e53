//! A task's volumes on the local runtime, prepared per attempt for the container executor:
//! - `empty_dir`: an in-memory tmpfs (`size_limit`, else half the memory limit, as Cloud Run);
//! - `secret`: a read-only directory of files holding the secret's versions, from the
//!   runtime's Secret Manager, read as the job's service account (README "Secrets on the local runtime");
//! - `gcs`: a directory holding the runtime bucket's objects as files (read-only when asked).
//!   When the attempt ends, files it wrote or changed become objects (with their storage
//!   events, so Eventarc triggers fire) and files it deleted are deleted.
//! - `nfs` and Cloud SQL volumes cannot be served locally; the runtime refuses them at create.

use super::Runtime;
use crate::api::run::{Container, Volume};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A mount as the container engine takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Mount {
    Tmpfs {
        path: String,
        size: Option<u64>,
    },
    Bind {
        source: PathBuf,
        path: String,
        read_only: bool,
    },
}

/// A writable bucket directory to copy back into its bucket when the attempt ends.
pub struct BucketSync {
    bucket: String,
    dir: PathBuf,
    /// Object name → the md5 of what was written into the directory.
    before: BTreeMap<String, [u8; 16]>,
}

/// The mounts of one attempt, and what to do when it ends.
#[derive(Default)]
pub struct Prepared {
    pub mounts: Vec<Mount>,
    syncs: Vec<BucketSync>,
    /// The attempt's directory of volume files (removed when it ends).
    root: Option<PathBuf>,
}

/// Why the local runtime refuses a volume (nfs and Cloud SQL), if it does.
pub fn unsupported(v: &Volume) -> Option<String> {
    if v.nfs.is_some() {
        return Some(format!(
            "volume {:?}: nfs volumes cannot be mounted on the local runtime (they need a VPC network); \
             the local runtime refuses them, Cloud Run accepts them",
            v.name
        ));
    }
    if v.cloud_sql_instance.is_some() {
        return Some(format!(
            "volume {:?}: Cloud SQL volumes cannot be mounted on the local runtime (there is no Cloud SQL \
             instance to connect to); the local runtime refuses them, Cloud Run accepts them",
            v.name
        ));
    }
    None
}

impl Runtime {
    /// Prepares `c`'s volume mounts for one attempt under `root`.
    /// Secret volumes are read as `service_account`, the account job `job` runs as.
    pub(crate) fn prepare_volumes(
        self: &Arc<Self>,
        c: &Container,
        volumes: &[Volume],
        root: &Path,
        (job, service_account): (&str, &str),
    ) -> Result<Prepared, String> {
        let mut out = Prepared::default();
        if c.volume_mounts.is_empty() {
            return Ok(out);
        }
        std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
        // The engine needs absolute paths for bind mounts.
        let root = root
            .canonicalize()
            .map_err(|e| format!("{}: {e}", root.display()))?;
        out.root = Some(root.clone());
        for vm in &c.volume_mounts {
            let Some(v) = volumes.iter().find(|v| v.name == vm.name) else {
                return Err(format!(
                    "volume mount {:?} names no volume of the job",
                    vm.name
                ));
            };
            if let Some(why) = unsupported(v) {
                return Err(why);
            }
            let dir = root.join(&v.name);
            let source = |d: &Path| {
                if vm.sub_path.is_empty() {
                    d.to_path_buf()
                } else {
                    d.join(&vm.sub_path)
                }
            };
            if let Some(ed) = &v.empty_dir {
                let size = (!ed.size_limit.is_empty())
                    .then(|| crate::api::run::parse_quantity(&ed.size_limit))
                    .flatten()
                    .map(|b| b as u64);
                out.mounts.push(Mount::Tmpfs {
                    path: vm.mount_path.clone(),
                    size,
                });
            } else if let Some(s) = &v.secret {
                self.write_secret_volume(s, &dir, (job, service_account))?;
                out.mounts.push(Mount::Bind {
                    source: source(&dir),
                    path: vm.mount_path.clone(),
                    read_only: true,
                });
            } else if let Some(g) = &v.gcs {
                let bucket = g["bucket"].as_str().unwrap_or_default().to_string();
                let read_only = g["readOnly"].as_bool().unwrap_or(false);
                let before = self.write_bucket_volume(&bucket, &dir)?;
                if !read_only {
                    out.syncs.push(BucketSync {
                        bucket,
                        dir: dir.clone(),
                        before,
                    });
                }
                out.mounts.push(Mount::Bind {
                    source: source(&dir),
                    path: vm.mount_path.clone(),
                    read_only,
                });
            }
        }
        Ok(out)
    }

    /// The files of a secret volume: one per item (`path` holding `version`), or, with no
    /// items, one named after the secret holding its latest version; modes as asked
    /// (`defaultMode`, else 0444).
    fn write_secret_volume(
        &self,
        s: &Value,
        dir: &Path,
        (job, service_account): (&str, &str),
    ) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let secret = s["secret"].as_str().unwrap_or_default();
        let short = secret.rsplit('/').next().unwrap_or(secret);
        let default_mode = s["defaultMode"].as_u64().unwrap_or(0o444) as u32;
        let items: Vec<(String, String, u32)> = match s["items"].as_array() {
            Some(items) if !items.is_empty() => items
                .iter()
                .map(|i| {
                    (
                        i["path"].as_str().unwrap_or(short).to_string(),
                        i["version"].as_str().unwrap_or("latest").to_string(),
                        i["mode"].as_u64().map_or(default_mode, |m| m as u32),
                    )
                })
                .collect(),
            _ => vec![(short.to_string(), "latest".to_string(), default_mode)],
        };
        for (path, version, mode) in items {
            if Path::new(&path).is_absolute() || path.split('/').any(|p| p == "..") {
                return Err(format!("secret volume item path {path:?} must be relative"));
            }
            let value = self
                .secret_for_task(job, service_account, secret, &version)
                .map_err(|e| format!("secret volume {secret:?} version {version:?}: {e}"))?;
            let file = dir.join(&path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(&file, value).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Writes the bucket's objects as files under `dir`; returns what it wrote.
    fn write_bucket_volume(
        &self,
        bucket: &str,
        dir: &Path,
    ) -> Result<BTreeMap<String, [u8; 16]>, String> {
        let listing = self
            .list_objects(bucket, "")
            .map_err(|e| format!("gcs volume: bucket {bucket:?}: {}", e.body.error.message))?;
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let mut before = BTreeMap::new();
        for o in listing["items"].as_array().into_iter().flatten() {
            let name = o["name"].as_str().unwrap_or_default();
            let Some(rel) = safe_relative(name) else {
                continue;
            };
            if name.ends_with('/') {
                let _ = std::fs::create_dir_all(dir.join(rel));
                continue;
            }
            let Ok((_, data)) = self.object_bytes(bucket, name) else {
                continue;
            };
            let file = dir.join(rel);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(&file, &data).map_err(|e| e.to_string())?;
            before.insert(name.to_string(), md5_of(&data));
        }
        Ok(before)
    }

    /// Ends an attempt's volumes: copies writable bucket directories back (new and changed
    /// files become objects, deleted files are deleted) and removes the attempt's files.
    /// Returns lines for the attempt's log.
    pub(crate) fn finish_volumes(self: &Arc<Self>, p: Prepared) -> Vec<String> {
        let mut notes = Vec::new();
        for s in &p.syncs {
            let mut seen = Vec::new();
            for (name, path) in files_under(&s.dir) {
                let Ok(data) = std::fs::read(&path) else {
                    continue;
                };
                if s.before.get(&name) != Some(&md5_of(&data)) {
                    if let Err(e) =
                        self.put_object(&s.bucket, &name, "application/octet-stream", &data, None)
                    {
                        notes.push(format!(
                            "gcs volume: could not write gs://{}/{name}: {}",
                            s.bucket, e.body.error.message
                        ));
                    }
                }
                seen.push(name);
            }
            for name in s.before.keys().filter(|n| !seen.contains(n)) {
                let _ = self.delete_object(&s.bucket, name);
            }
        }
        if let Some(root) = &p.root {
            let _ = std::fs::remove_dir_all(root);
        }
        notes
    }
}

pub use crate::api::common::secret_id_ok;

/// The problems with the secrets a job names (ids that are not Secret Manager ids).
pub fn secret_reference_problems(job: &crate::api::run::Job) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let t = &job.template.template;
    let bad = |what: &str, v: &str| {
        format!("{what} {v:?} is not a Secret Manager id (letters, digits, _ and -)")
    };
    for (ci, c) in t.containers.iter().enumerate() {
        for (ei, e) in c.env.iter().enumerate() {
            let Some(r) = e
                .value_source
                .as_ref()
                .and_then(|s| s.secret_key_ref.as_ref())
            else {
                continue;
            };
            let field = format!(
                "job.template.template.containers[{ci}].env[{ei}].valueSource.secretKeyRef"
            );
            let id = r.secret.rsplit('/').next().unwrap_or(&r.secret);
            if !secret_id_ok(id) {
                out.push((format!("{field}.secret"), bad("secret", &r.secret)));
            }
            if !r.version.is_empty() && !secret_id_ok(&r.version) {
                out.push((format!("{field}.version"), bad("version", &r.version)));
            }
        }
    }
    for (vi, v) in t.volumes.iter().enumerate() {
        let Some(sec) = &v.secret else { continue };
        let field = format!("job.template.template.volumes[{vi}].secret");
        let name = sec["secret"].as_str().unwrap_or_default();
        if !secret_id_ok(name.rsplit('/').next().unwrap_or(name)) {
            out.push((format!("{field}.secret"), bad("secret", name)));
        }
        for (ii, item) in sec["items"].as_array().into_iter().flatten().enumerate() {
            if let Some(version) = item["version"].as_str().filter(|v| !secret_id_ok(v)) {
                out.push((
                    format!("{field}.items[{ii}].version"),
                    bad("version", version),
                ));
            }
        }
    }
    out
}

/// An object name as a relative path under a directory, if it can be one.
fn safe_relative(name: &str) -> Option<&str> {
    let rel = name.trim_start_matches('/');
    let bad = rel.is_empty() || rel.split('/').any(|p| p == ".." || p == ".");
    (!bad).then_some(rel)
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

/// Every regular file under `dir`, as (object name, path), in name order.
fn files_under(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    if let Ok(rel) = path.strip_prefix(dir) {
                        out.push((rel.to_string_lossy().into_owned(), path));
                    }
                }
                _ => {}
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_stay_inside_the_volume() {
        assert_eq!(safe_relative("a/b.txt"), Some("a/b.txt"));
        assert_eq!(safe_relative("/abs"), Some("abs"));
        assert_eq!(safe_relative("../escape"), None);
        assert_eq!(safe_relative("a/../../x"), None);
        assert_eq!(safe_relative(""), None);
    }
}
