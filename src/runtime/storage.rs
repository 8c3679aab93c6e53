//! A Cloud Storage JSON API subset (`shared/reference/gcp-api-more.md` §1): buckets
//! (insert/get/list/delete), objects (media and multipart upload, get, `alt=media` download,
//! list with prefix, delete). Object bytes live in files under the runtime's data directory.
//! A new object emits `google.cloud.storage.object.v1.finalized`, a deletion (or an overwrite)
//! `...deleted`, as CloudEvents handed to Eventarc ([`Runtime::publish_event`]).

use super::store::Kind;
use super::{ApiError, ApiResult, Runtime};
use crate::api::storage::check_bucket_name;
use crate::api::Code;
use base64::Engine;
use serde_json::{json, Value};

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// CRC32C (Castagnoli), as GCS reports it (big-endian, base64).
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn millis() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn gcs_error(code: u16, message: impl Into<String>) -> ApiError {
    let c = match code {
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        412 => Code::FailedPrecondition,
        _ => Code::InvalidArgument,
    };
    let mut e = ApiError::new(c, message);
    // Cloud Storage answers a failed precondition with HTTP 412 (not gRPC's 400).
    if code == 412 {
        e.body.error.code = 412;
    }
    e
}

/// Object writes and deletions are serialised, so a precondition check and the change it
/// guards are one step (two lock-takers cannot both win).
fn object_mutations() -> std::sync::MutexGuard<'static, ()> {
    static M: std::sync::OnceLock<std::sync::Mutex<()>> = std::sync::OnceLock::new();
    M.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn int_field(o: Option<&Value>, k: &str) -> u64 {
    o.and_then(|o| o[k].as_str())
        .and_then(|g| g.parse::<u64>().ok())
        .unwrap_or(0)
}

/// The `if(Meta)Generation(Not)Match` preconditions of a request. A generation of 0 stands
/// for "no live object" (`ifGenerationMatch=0`: create only).
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preconditions {
    pub generation_match: Option<u64>,
    pub generation_not_match: Option<u64>,
    pub metageneration_match: Option<u64>,
    pub metageneration_not_match: Option<u64>,
}

impl Preconditions {
    pub fn generation(g: Option<u64>) -> Preconditions {
        Preconditions {
            generation_match: g,
            ..Default::default()
        }
    }

    /// Checks them against the live object (`None`: there is none). A failed one is HTTP 412;
    /// on a read (`read`), a failed "not match" is 304 Not Modified, as Google answers.
    pub fn check(&self, current: Option<&Value>, read: bool) -> ApiResult<()> {
        let generation = int_field(current, "generation");
        let metageneration = int_field(current, "metageneration");
        let failed = || {
            gcs_error(
                412,
                "At least one of the pre-conditions you specified did not hold.",
            )
        };
        let not_modified = || {
            if read {
                let mut e = ApiError::new(Code::FailedPrecondition, "Not Modified");
                e.body.error.code = 304;
                e
            } else {
                failed()
            }
        };
        if self.generation_match.is_some_and(|g| g != generation) {
            return Err(failed());
        }
        if self
            .metageneration_match
            .is_some_and(|m| current.is_none() || m != metageneration)
        {
            return Err(failed());
        }
        if self.generation_not_match.is_some_and(|g| g == generation) {
            return Err(not_modified());
        }
        if self
            .metageneration_not_match
            .is_some_and(|m| current.is_some() && m == metageneration)
        {
            return Err(not_modified());
        }
        Ok(())
    }
}

/// An object's etag: its generation and metageneration (as Google's, a protobuf of both).
fn object_etag(generation: u64, metageneration: u64) -> String {
    let mut etag = vec![0x08];
    varint(generation, &mut etag);
    etag.push(0x10);
    varint(metageneration, &mut etag);
    b64(&etag)
}

/// Object fields a client may set on upload, patch, copy and compose (besides `contentType`).
const WRITABLE: &[&str] = &[
    "metadata",
    "cacheControl",
    "contentEncoding",
    "contentDisposition",
    "contentLanguage",
    "customTime",
    "temporaryHold",
    "eventBasedHold",
];

/// What `list_objects` is asked for (the JSON API's list parameters).
#[derive(Debug, Default, Clone)]
pub struct ObjectQuery {
    pub prefix: String,
    pub delimiter: String,
    pub start_offset: String,
    pub end_offset: String,
    pub max_results: Option<usize>,
    pub page_token: String,
    pub include_trailing_delimiter: bool,
}

impl Runtime {
    fn objects_dir(&self) -> std::path::PathBuf {
        self.logs_dir
            .parent()
            .map(|p| p.join("objects"))
            .unwrap_or_else(|| self.logs_dir.join("objects"))
    }

    pub fn insert_bucket(&self, project: &str, body: &Value) -> ApiResult<Value> {
        let name = body.get("name").and_then(Value::as_str).unwrap_or("");
        check_bucket_name(name).map_err(|e| gcs_error(400, e))?;
        if self.store().contains(Kind::Bucket, name) {
            return Err(gcs_error(409, format!("Your previous request to create the named bucket succeeded and you already own it. ({name})")));
        }
        let location = body
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or("US")
            .to_uppercase();
        let now = millis();
        let mut b = json!({
            "kind": "storage#bucket", "id": name, "name": name, "selfLink": format!("https://www.googleapis.com/storage/v1/b/{name}"),
            "projectNumber": super::workflows_api::project_number(project), "metageneration": "1", "etag": "CAE=",
            "location": location, "locationType": if location.contains('-') { "region" } else { "multi-region" },
            "storageClass": body.get("storageClass").cloned().unwrap_or(json!("STANDARD")),
            "timeCreated": now, "updated": now,
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": body.pointer("/iamConfiguration/uniformBucketLevelAccess/enabled").cloned().unwrap_or(json!(false))},
                                 "publicAccessPrevention": "inherited"},
        });
        // Every other field the request sets is kept and returned, as Google does.
        const SERVER_SET: &[&str] = &[
            "kind",
            "id",
            "name",
            "selfLink",
            "projectNumber",
            "metageneration",
            "etag",
            "location",
            "locationType",
            "storageClass",
            "timeCreated",
            "updated",
            "iamConfiguration",
        ];
        if let Value::Object(m) = body {
            for (k, v) in m
                .iter()
                .filter(|(k, v)| !SERVER_SET.contains(&k.as_str()) && !v.is_null())
            {
                b[k.as_str()] = v.clone();
            }
        }
        if let Some(p) = body.pointer("/iamConfiguration/publicAccessPrevention") {
            b["iamConfiguration"]["publicAccessPrevention"] = p.clone();
        }
        // Google's defaults: a 7-day soft delete policy; every effective time is now.
        let now_rfc = super::now_rfc3339();
        if b.get("softDeletePolicy").is_none() {
            b["softDeletePolicy"] = json!({"retentionDurationSeconds": "604800"});
        }
        stamp_effective_times(&mut b, &now_rfc);
        b["runformProject"] = json!(project);
        self.store().put(Kind::Bucket, name, &b)?;
        Ok(b)
    }

    pub fn get_bucket(&self, name: &str) -> ApiResult<Value> {
        self.store().get(Kind::Bucket, name).ok_or_else(|| {
            gcs_error(
                404,
                format!("The specified bucket does not exist. ({name})"),
            )
        })
    }

    pub fn list_buckets(&self, project: &str) -> ApiResult<Value> {
        let store = self.store();
        let names: Vec<String> = store
            .names_with_prefix(Kind::Bucket, "")
            .map(str::to_string)
            .collect();
        let items: Vec<Value> = names
            .iter()
            .filter_map(|n| store.get::<Value>(Kind::Bucket, n))
            .filter(|b| project.is_empty() || b["runformProject"] == project)
            .collect();
        Ok(json!({"kind": "storage#buckets", "items": items}))
    }

    /// PATCH: every field the body names is replaced (null removes it); what only the server
    /// sets is kept.
    pub fn patch_bucket(&self, name: &str, patch: &Value) -> ApiResult<Value> {
        let mut b = self.get_bucket(name)?;
        const FIXED: &[&str] = &[
            "kind",
            "id",
            "name",
            "selfLink",
            "projectNumber",
            "metageneration",
            "etag",
            "location",
            "locationType",
            "timeCreated",
            "updated",
            "runformProject",
        ];
        if let (Value::Object(m), Value::Object(bm)) = (patch, &mut b) {
            for (k, v) in m.iter().filter(|(k, _)| !FIXED.contains(&k.as_str())) {
                if v.is_null() {
                    bm.remove(k);
                } else {
                    bm.insert(k.clone(), v.clone());
                }
            }
        }
        stamp_effective_times(&mut b, &super::now_rfc3339());
        let mg: u64 = b["metageneration"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
            + 1;
        b["metageneration"] = json!(mg.to_string());
        let mut etag = vec![0x08];
        varint(mg, &mut etag);
        b["etag"] = json!(b64(&etag));
        b["updated"] = json!(millis());
        self.store().put(Kind::Bucket, name, &b)?;
        Ok(b)
    }

    pub fn delete_bucket(&self, name: &str) -> ApiResult<()> {
        self.get_bucket(name)?;
        if self
            .store()
            .names_with_prefix(Kind::Object, &format!("{name}/"))
            .next()
            .is_some()
        {
            return Err(gcs_error(
                409,
                format!("The bucket you tried to delete is not empty. ({name})"),
            ));
        }
        self.store().delete(Kind::Bucket, name)?;
        Ok(())
    }

    /// Stores an object (a new generation) and emits its events.
    pub fn put_object(
        self: &std::sync::Arc<Self>,
        bucket: &str,
        name: &str,
        content_type: &str,
        data: &[u8],
        metadata: Option<&Value>,
    ) -> ApiResult<Value> {
        self.put_object_if(bucket, name, content_type, data, metadata, None)
    }

    /// An upload with an `ifGenerationMatch` precondition (0: only if the object does not
    /// exist), checked and applied atomically; a failed precondition is HTTP 412.
    pub fn put_object_if(
        self: &std::sync::Arc<Self>,
        bucket: &str,
        name: &str,
        content_type: &str,
        data: &[u8],
        metadata: Option<&Value>,
        if_generation_match: Option<u64>,
    ) -> ApiResult<Value> {
        let pre = Preconditions::generation(if_generation_match);
        self.put_object_with(bucket, name, content_type, data, metadata, &pre)
    }

    /// Stores a new generation of an object: `metadata` is the object resource the client
    /// sent (its writable fields are kept), `pre` checked against the live generation and
    /// applied in one step.
    pub fn put_object_with(
        self: &std::sync::Arc<Self>,
        bucket: &str,
        name: &str,
        content_type: &str,
        data: &[u8],
        metadata: Option<&Value>,
        pre: &Preconditions,
    ) -> ApiResult<Value> {
        self.get_bucket(bucket)?;
        if name.is_empty() || name.len() > 1024 || name.contains(['\r', '\n']) {
            return Err(gcs_error(400, format!("invalid object name {name:?}")));
        }
        let _guard = object_mutations();
        let key = format!("{bucket}/{name}");
        let previous: Option<Value> = self.store().get(Kind::Object, &key);
        pre.check(previous.as_ref(), false)?;
        let generation = (chrono::Utc::now().timestamp_micros() as u64).max(
            previous
                .as_ref()
                .and_then(|p| p["generation"].as_str())
                .and_then(|g| g.parse::<u64>().ok())
                .map_or(0, |g| g + 1),
        );
        let dir = self.objects_dir();
        std::fs::create_dir_all(&dir).map_err(|e| gcs_error(500, e.to_string()))?;
        let file = format!(
            "{:x}-{generation}",
            sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(
                key.as_bytes()
            ))
        );
        write_private(&dir.join(&file), data).map_err(|e| gcs_error(500, e.to_string()))?;
        // The runtime's clock (a test's manual one), which lifecycle ages are measured on.
        let now = self
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let enc = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        let mut obj = json!({
            "kind": "storage#object", "id": format!("{bucket}/{name}/{generation}"),
            "selfLink": format!("https://www.googleapis.com/storage/v1/b/{bucket}/o/{enc}"),
            "mediaLink": format!("/download/storage/v1/b/{bucket}/o/{enc}?generation={generation}&alt=media"),
            "name": name, "bucket": bucket, "generation": generation.to_string(), "metageneration": "1",
            "contentType": if content_type.is_empty() { "application/octet-stream" } else { content_type },
            "storageClass": "STANDARD", "size": data.len().to_string(),
            "md5Hash": b64(&md5(data)), "crc32c": b64(&crc32c(data).to_be_bytes()),
            "etag": object_etag(generation, 1), "timeCreated": now, "updated": now, "timeStorageClassUpdated": now, "timeFinalized": now,
            "runformFile": file,
        });
        for k in WRITABLE {
            if let Some(v) = metadata.and_then(|m| m.get(*k)).filter(|v| !v.is_null()) {
                obj[*k] = v.clone();
            }
        }
        self.store().put(Kind::Object, &key, &obj)?;
        if let Some(old) = previous {
            self.publish_event(storage_event(
                "google.cloud.storage.object.v1.deleted",
                bucket,
                name,
                &old,
            ));
        }
        self.publish_event(storage_event(
            "google.cloud.storage.object.v1.finalized",
            bucket,
            name,
            &obj,
        ));
        Ok(self.public(obj))
    }

    pub fn get_object(&self, bucket: &str, name: &str) -> ApiResult<Value> {
        self.store()
            .get::<Value>(Kind::Object, &format!("{bucket}/{name}"))
            .map(|o| self.public(o))
            .ok_or_else(|| gcs_error(404, format!("No such object: {bucket}/{name}")))
    }

    /// The object (with its `generation` when one is asked for), if `pre` holds.
    pub fn get_object_checked(
        &self,
        bucket: &str,
        name: &str,
        generation: Option<u64>,
        pre: &Preconditions,
    ) -> ApiResult<Value> {
        let obj = self.get_object(bucket, name)?;
        if generation.is_some_and(|g| g != int_field(Some(&obj), "generation")) {
            return Err(gcs_error(
                404,
                format!(
                    "No such object: {bucket}/{name} (generation {})",
                    generation.unwrap_or(0)
                ),
            ));
        }
        pre.check(Some(&obj), true)?;
        Ok(obj)
    }

    pub fn object_bytes(&self, bucket: &str, name: &str) -> ApiResult<(String, Vec<u8>)> {
        let obj: Value = self
            .store()
            .get(Kind::Object, &format!("{bucket}/{name}"))
            .ok_or_else(|| gcs_error(404, format!("No such object: {bucket}/{name}")))?;
        let data = self.object_data(&obj)?;
        Ok((
            obj["contentType"]
                .as_str()
                .unwrap_or("application/octet-stream")
                .to_string(),
            data,
        ))
    }

    fn object_data(&self, stored: &Value) -> ApiResult<Vec<u8>> {
        let file = stored["runformFile"].as_str().unwrap_or("");
        std::fs::read(self.objects_dir().join(file)).map_err(|e| gcs_error(500, e.to_string()))
    }

    pub fn list_objects(&self, bucket: &str, prefix: &str) -> ApiResult<Value> {
        self.query_objects(
            bucket,
            &ObjectQuery {
                prefix: prefix.to_string(),
                ..Default::default()
            },
        )
    }

    /// Lists objects as the JSON API does: by `prefix`, rolled up into `prefixes` at the
    /// `delimiter`, within `[startOffset, endOffset)`, `maxResults` (items and prefixes
    /// together) a page, in name order.
    pub fn query_objects(&self, bucket: &str, q: &ObjectQuery) -> ApiResult<Value> {
        self.get_bucket(bucket)?;
        let store = self.store();
        let skip = format!("{bucket}/").len();
        let after = decode_page_token(&q.page_token)?;
        let mut entries: Vec<(String, Option<Value>)> = Vec::new();
        let mut last_prefix: Option<String> = None;
        for key in store.names_with_prefix(Kind::Object, &format!("{bucket}/{}", q.prefix)) {
            let name = &key[skip..];
            if (!q.start_offset.is_empty() && name < q.start_offset.as_str())
                || (!q.end_offset.is_empty() && name >= q.end_offset.as_str())
            {
                continue;
            }
            let rolled = (!q.delimiter.is_empty())
                .then(|| {
                    let rest = &name[q.prefix.len()..];
                    rest.find(&q.delimiter)
                        .map(|i| name[..q.prefix.len() + i + q.delimiter.len()].to_string())
                })
                .flatten();
            match rolled {
                Some(p) => {
                    let is_marker = name == p;
                    if last_prefix.as_deref() != Some(&p) {
                        entries.push((p.clone(), None));
                        last_prefix = Some(p);
                    }
                    if is_marker && q.include_trailing_delimiter {
                        entries.push((name.to_string(), store.get::<Value>(Kind::Object, key)));
                    }
                }
                None => entries.push((name.to_string(), store.get::<Value>(Kind::Object, key))),
            }
        }
        let mut items = Vec::new();
        let mut prefixes = Vec::new();
        let mut next = None;
        let page = q.max_results.unwrap_or(1000).clamp(1, 1000);
        let mut taken = 0;
        for (name, obj) in entries {
            if after.as_deref().is_some_and(|a| name.as_str() <= a) {
                continue;
            }
            if taken == page {
                next = Some(encode_page_token(&prefixes, &items));
                break;
            }
            taken += 1;
            match obj {
                Some(o) => items.push(self.public(o)),
                None => prefixes.push(Value::String(name)),
            }
        }
        let mut out = json!({"kind": "storage#objects", "items": items});
        if !prefixes.is_empty() {
            out["prefixes"] = Value::Array(prefixes);
        }
        if let Some(t) = next {
            out["nextPageToken"] = json!(t);
        }
        Ok(out)
    }

    /// PATCH of an object's metadata: each writable field the body names is replaced (null
    /// removes it); a new metageneration and etag; a `metadataUpdated` event.
    pub fn patch_object(
        self: &std::sync::Arc<Self>,
        bucket: &str,
        name: &str,
        patch: &Value,
        pre: &Preconditions,
    ) -> ApiResult<Value> {
        let _guard = object_mutations();
        let key = format!("{bucket}/{name}");
        let mut obj: Value = self
            .store()
            .get(Kind::Object, &key)
            .ok_or_else(|| gcs_error(404, format!("No such object: {bucket}/{name}")))?;
        pre.check(Some(&obj), false)?;
        let Value::Object(fields) = patch else {
            return Err(gcs_error(400, "an object patch is a JSON object"));
        };
        for (k, v) in fields {
            if !WRITABLE.contains(&k.as_str()) && k != "contentType" {
                continue;
            }
            match (k.as_str(), v) {
                (_, Value::Null) => {
                    if let Value::Object(m) = &mut obj {
                        m.remove(k);
                    }
                }
                // Custom metadata merges key by key; a null value removes that key.
                ("metadata", Value::Object(new)) => {
                    let mut merged = obj["metadata"].as_object().cloned().unwrap_or_default();
                    for (mk, mv) in new {
                        if mv.is_null() {
                            merged.remove(mk);
                        } else {
                            merged.insert(mk.clone(), mv.clone());
                        }
                    }
                    obj["metadata"] = Value::Object(merged);
                }
                _ => obj[k.as_str()] = v.clone(),
            }
        }
        let generation = int_field(Some(&obj), "generation");
        let metageneration = int_field(Some(&obj), "metageneration") + 1;
        obj["metageneration"] = json!(metageneration.to_string());
        obj["etag"] = json!(object_etag(generation, metageneration));
        obj["updated"] = json!(self
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        self.store().put(Kind::Object, &key, &obj)?;
        self.publish_event(storage_event(
            "google.cloud.storage.object.v1.metadataUpdated",
            bucket,
            name,
            &obj,
        ));
        Ok(self.public(obj))
    }

    /// `copyTo` / `rewriteTo`: a new object with the source's bytes; its metadata is the
    /// source's writable fields, overlaid by what `overrides` (the request body) sets.
    #[allow(clippy::too_many_arguments)]
    pub fn copy_object(
        self: &std::sync::Arc<Self>,
        source: (&str, &str),
        source_generation: Option<u64>,
        source_pre: &Preconditions,
        dest: (&str, &str),
        overrides: &Value,
        pre: &Preconditions,
    ) -> ApiResult<Value> {
        let (sb, so) = source;
        let src = self.get_object_checked(sb, so, source_generation, source_pre)?;
        let stored: Value = self
            .store()
            .get(Kind::Object, &format!("{sb}/{so}"))
            .ok_or_else(|| gcs_error(404, format!("No such object: {sb}/{so}")))?;
        let data = self.object_data(&stored)?;
        let mut meta = json!({});
        for k in WRITABLE {
            if let Some(v) = src.get(*k) {
                meta[*k] = v.clone();
            }
        }
        let mut content_type = src["contentType"].as_str().unwrap_or("").to_string();
        if let Value::Object(m) = overrides {
            for (k, v) in m {
                if k == "contentType" {
                    content_type = v.as_str().unwrap_or("").to_string();
                } else if WRITABLE.contains(&k.as_str()) {
                    meta[k.as_str()] = v.clone();
                }
            }
        }
        self.put_object_with(dest.0, dest.1, &content_type, &data, Some(&meta), pre)
    }

    /// `compose`: the sources' bytes in order (at most 32, each checked against its own
    /// `objectPreconditions.ifGenerationMatch`) as one object; `componentCount` adds up and
    /// there is no `md5Hash`, as on Google.
    pub fn compose_objects(
        self: &std::sync::Arc<Self>,
        bucket: &str,
        name: &str,
        request: &Value,
        pre: &Preconditions,
    ) -> ApiResult<Value> {
        let sources = request["sourceObjects"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if sources.is_empty() || sources.len() > 32 {
            return Err(gcs_error(
                400,
                format!(
                    "compose takes 1 to 32 source objects, not {}",
                    sources.len()
                ),
            ));
        }
        let mut data = Vec::new();
        let mut components = 0u64;
        let mut first_type = String::new();
        for s in &sources {
            let sname = s["name"].as_str().unwrap_or("");
            let generation = s["generation"].as_str().and_then(|g| g.parse().ok());
            let spre = Preconditions::generation(
                s.pointer("/objectPreconditions/ifGenerationMatch")
                    .and_then(|g| g.as_str().and_then(|g| g.parse().ok()).or(g.as_u64())),
            );
            let obj = self.get_object_checked(bucket, sname, generation, &spre)?;
            let stored: Value = self
                .store()
                .get(Kind::Object, &format!("{bucket}/{sname}"))
                .unwrap_or_default();
            data.extend(self.object_data(&stored)?);
            components += obj["componentCount"].as_u64().unwrap_or(1);
            if first_type.is_empty() {
                first_type = obj["contentType"].as_str().unwrap_or("").to_string();
            }
        }
        let dest = &request["destination"];
        let content_type = dest["contentType"]
            .as_str()
            .map(str::to_string)
            .unwrap_or(first_type);
        let obj = self.put_object_with(bucket, name, &content_type, &data, Some(dest), pre)?;
        let key = format!("{bucket}/{name}");
        let _guard = object_mutations();
        let mut stored: Value = self.store().get(Kind::Object, &key).unwrap_or(obj);
        if let Value::Object(m) = &mut stored {
            m.remove("md5Hash");
        }
        stored["componentCount"] = json!(components);
        self.store().put(Kind::Object, &key, &stored)?;
        Ok(self.public(stored))
    }

    /// An object's bytes and stored resource, for a read (`generation` and `pre` checked).
    pub fn read_object(
        &self,
        bucket: &str,
        name: &str,
        generation: Option<u64>,
        pre: &Preconditions,
    ) -> ApiResult<(Value, Vec<u8>)> {
        let obj = self.get_object_checked(bucket, name, generation, pre)?;
        let stored: Value = self
            .store()
            .get(Kind::Object, &format!("{bucket}/{name}"))
            .ok_or_else(|| gcs_error(404, format!("No such object: {bucket}/{name}")))?;
        Ok((obj, self.object_data(&stored)?))
    }

    pub fn delete_object(self: &std::sync::Arc<Self>, bucket: &str, name: &str) -> ApiResult<()> {
        self.delete_object_if(bucket, name, None)
    }

    /// A deletion with an `ifGenerationMatch` precondition.
    pub fn delete_object_if(
        self: &std::sync::Arc<Self>,
        bucket: &str,
        name: &str,
        if_generation_match: Option<u64>,
    ) -> ApiResult<()> {
        self.delete_object_with(
            bucket,
            name,
            &Preconditions::generation(if_generation_match),
        )
    }

    /// A deletion, if `pre` holds.
    pub fn delete_object_with(
        self: &std::sync::Arc<Self>,
        bucket: &str,
        name: &str,
        pre: &Preconditions,
    ) -> ApiResult<()> {
        let _guard = object_mutations();
        let key = format!("{bucket}/{name}");
        let obj: Value = self
            .store()
            .get(Kind::Object, &key)
            .ok_or_else(|| gcs_error(404, format!("No such object: {bucket}/{name}")))?;
        pre.check(Some(&obj), false)?;
        self.store().delete(Kind::Object, &key)?;
        if let Some(f) = obj["runformFile"].as_str() {
            let _ = std::fs::remove_file(self.objects_dir().join(f));
        }
        self.publish_event(storage_event(
            "google.cloud.storage.object.v1.deleted",
            bucket,
            name,
            &obj,
        ));
        Ok(())
    }
}

impl Runtime {
    /// Applies the buckets' lifecycle rules at the runtime's clock: objects that meet every
    /// condition of a `Delete` rule are deleted (with their event), of a `SetStorageClass`
    /// rule change class. Conditions the runtime cannot judge (versions, custom times)
    /// never match, so nothing is deleted on a guess. Returns how many objects changed.
    pub fn apply_lifecycle(self: &std::sync::Arc<Self>) -> usize {
        let now = self.now();
        let buckets: Vec<Value> = {
            let store = self.store();
            let names: Vec<String> = store
                .names_with_prefix(Kind::Bucket, "")
                .map(str::to_string)
                .collect();
            names
                .iter()
                .filter_map(|n| store.get::<Value>(Kind::Bucket, n))
                .filter(|b| {
                    b.pointer("/lifecycle/rule")
                        .and_then(Value::as_array)
                        .is_some_and(|r| !r.is_empty())
                })
                .collect()
        };
        let mut changed = 0;
        for b in buckets {
            let bucket = b["name"].as_str().unwrap_or("").to_string();
            let objects: Vec<Value> = self
                .list_objects(&bucket, "")
                .ok()
                .and_then(|l| l["items"].as_array().cloned())
                .unwrap_or_default();
            for o in objects {
                let name = o["name"].as_str().unwrap_or("").to_string();
                for rule in b["lifecycle"]["rule"].as_array().into_iter().flatten() {
                    if !lifecycle_matches(&rule["condition"], &o, now) {
                        continue;
                    }
                    match rule.pointer("/action/type").and_then(Value::as_str) {
                        Some("Delete") => {
                            if self.delete_object(&bucket, &name).is_ok() {
                                changed += 1;
                            }
                            break;
                        }
                        Some("SetStorageClass") => {
                            let class = rule
                                .pointer("/action/storageClass")
                                .cloned()
                                .unwrap_or(Value::Null);
                            let key = format!("{bucket}/{name}");
                            let mut store = self.store();
                            if let Some(mut obj) = store.get::<Value>(Kind::Object, &key) {
                                if obj["storageClass"] != class && !class.is_null() {
                                    obj["storageClass"] = class;
                                    if store.put(Kind::Object, &key, &obj).is_ok() {
                                        changed += 1;
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        changed
    }
}

/// Whether an object meets every condition of a lifecycle rule at `now` (an empty condition
/// never matches; conditions on versions or custom times never do here).
fn lifecycle_matches(c: &Value, o: &Value, now: chrono::DateTime<chrono::Utc>) -> bool {
    let Some(c) = c.as_object().filter(|c| !c.is_empty()) else {
        return false;
    };
    let created = o["timeCreated"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let Some(created) = created else { return false };
    let num = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    let name = o["name"].as_str().unwrap_or("");
    let size: f64 = o["size"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    c.iter().all(|(k, v)| match k.as_str() {
        "age" => num(v).is_some_and(|days| (now - created).num_seconds() as f64 >= days * 86400.0),
        "createdBefore" => v
            .as_str()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .is_some_and(|d| created.date_naive() < d),
        "isLive" => v.as_bool() == Some(true),
        "matchesPrefix" => list(v).iter().any(|p| name.starts_with(p.as_str())),
        "matchesSuffix" => list(v).iter().any(|p| name.ends_with(p.as_str())),
        "matchesStorageClass" => list(v)
            .iter()
            .any(|s| Some(s.as_str()) == o["storageClass"].as_str()),
        "sizeAboveBytes" => num(v).is_some_and(|n| size > n),
        "sizeBelowBytes" => num(v).is_some_and(|n| size < n),
        _ => false,
    })
}

/// The CORS response headers for a request to `bucket` from `origin` (with `method`, or the
/// preflight's requested method): the first of the bucket's `cors` entries naming the origin
/// (or `*`) and the method, as Cloud Storage answers; none when nothing matches.
pub fn cors_headers(bucket: &Value, origin: &str, method: &str) -> Vec<(&'static str, String)> {
    let entry = bucket["cors"].as_array().into_iter().flatten().find(|e| {
        let has = |k: &str, x: &str| {
            e[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|v| v == "*" || v.eq_ignore_ascii_case(x))
        };
        has("origin", origin) && has("method", method)
    });
    let Some(e) = entry else { return Vec::new() };
    let mut out = vec![
        ("access-control-allow-origin", origin.to_string()),
        ("vary", "Origin".to_string()),
    ];
    let headers: Vec<&str> = e["responseHeader"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !headers.is_empty() {
        out.push(("access-control-expose-headers", headers.join(",")));
    }
    if let Some(age) = e["maxAgeSeconds"].as_i64() {
        out.push(("access-control-max-age", age.to_string()));
    }
    out
}

/// The object as clients see it (without runform's bookkeeping).
/// A page token: the last name a page returned (opaque to clients).
fn encode_page_token(prefixes: &[Value], items: &[Value]) -> String {
    let last_prefix = prefixes.last().and_then(Value::as_str).unwrap_or("");
    let last_item = items.last().and_then(|o| o["name"].as_str()).unwrap_or("");
    b64(last_prefix.max(last_item).as_bytes())
}

fn decode_page_token(t: &str) -> ApiResult<Option<String>> {
    if t.is_empty() {
        return Ok(None);
    }
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| gcs_error(400, format!("invalid pageToken {t:?}")))
}

impl Runtime {
    /// An object as clients see it: without runform's bookkeeping, and with links to this
    /// runtime (Python's client downloads from `mediaLink` verbatim, so it must not point at
    /// Google).
    fn public(&self, o: Value) -> Value {
        let mut o = without_bookkeeping(o);
        if let Some(base) = self.base_url.get() {
            let bucket = o["bucket"].as_str().unwrap_or("").to_string();
            let name = o["name"].as_str().unwrap_or("").to_string();
            let enc =
                percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            let generation = o["generation"].as_str().unwrap_or("").to_string();
            o["selfLink"] = json!(format!("{base}/storage/v1/b/{bucket}/o/{enc}"));
            o["mediaLink"] = json!(format!(
                "{base}/download/storage/v1/b/{bucket}/o/{enc}?generation={generation}&alt=media"
            ));
        }
        o
    }
}

fn without_bookkeeping(mut o: Value) -> Value {
    if let Value::Object(m) = &mut o {
        m.remove("runformFile");
    }
    o
}

/// The structured CloudEvent Eventarc delivers for a storage change.
fn storage_event(ty: &str, bucket: &str, name: &str, obj: &Value) -> Value {
    json!({
        "specversion": "1.0",
        "type": ty,
        "source": format!("//storage.googleapis.com/projects/_/buckets/{bucket}"),
        "subject": format!("objects/{name}"),
        "id": format!("{}", chrono::Utc::now().timestamp_micros()),
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "datacontenttype": "application/json",
        "bucket": bucket,
        "data": without_bookkeeping(obj.clone()),
    })
}

/// Writes an object's bytes readable by the owner only.
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}

/// MD5 (RFC 1321), for `md5Hash`.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend(bits.to_le_bytes());
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, v) in [a0, b0, c0, d0].iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    out
}

/// Splits a `multipart/related` upload into (metadata JSON, media content type, media bytes).
pub fn parse_multipart(
    content_type: &str,
    body: &[u8],
) -> Result<(Value, String, Vec<u8>), String> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .or_else(|| {
            // No header: the first line of the body is the delimiter.
            let first = body.split(|b| *b == b'\n').next()?;
            let line = String::from_utf8_lossy(first).trim().to_string();
            line.strip_prefix("--").map(str::to_string)
        })
        .ok_or("a multipart upload needs a boundary")?;
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = vec![];
    let mut rest = body;
    while let Some(i) = find(rest, &delim) {
        let after = &rest[i + delim.len()..];
        if after.starts_with(b"--") {
            break;
        }
        let after = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
            .unwrap_or(after);
        let end = find(after, &delim).ok_or("unterminated multipart body")?;
        let mut part = &after[..end];
        if part.ends_with(b"\r\n") {
            part = &part[..part.len() - 2];
        } else if part.ends_with(b"\n") {
            part = &part[..part.len() - 1];
        }
        parts.push(part);
        rest = &after[end..];
    }
    if parts.len() != 2 {
        return Err(format!(
            "a multipart upload has 2 parts (metadata, media), this one has {}",
            parts.len()
        ));
    }
    let split = |p: &[u8]| -> (String, Vec<u8>) {
        let (h, b) = match find(p, b"\r\n\r\n") {
            Some(i) => (&p[..i], &p[i + 4..]),
            None => match find(p, b"\n\n") {
                Some(i) => (&p[..i], &p[i + 2..]),
                None => (&p[..0], p),
            },
        };
        let ct = String::from_utf8_lossy(h)
            .lines()
            .find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_default();
        (ct, b.to_vec())
    };
    let (_, meta) = split(parts[0]);
    let (media_ct, media) = split(parts[1]);
    let meta: Value =
        serde_json::from_slice(&meta).map_err(|e| format!("the metadata part is not JSON: {e}"))?;
    Ok((meta, media_ct, media))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sets `effectiveTime` where Google does (soft delete, retention, encryption enforcement)
/// and it is not set yet.
fn stamp_effective_times(b: &mut Value, now: &str) {
    let mut targets: Vec<&str> = vec!["/softDeletePolicy", "/retentionPolicy"];
    targets.extend([
        "/encryption/googleManagedEncryptionEnforcementConfig",
        "/encryption/customerManagedEncryptionEnforcementConfig",
        "/encryption/customerSuppliedEncryptionEnforcementConfig",
    ]);
    for t in targets {
        if let Some(Value::Object(m)) = b.pointer_mut(t) {
            m.entry("effectiveTime").or_insert_with(|| json!(now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(b64(&md5(b"hello world\n")), "b1kCrCNwJL3QwXbLkwY9xA==");
        assert_eq!(b64(&md5(b"")), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }

    #[test]
    fn multipart_as_python_sends_it() {
        let body = b"--===============3971443301904751820==\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n{\"name\": \"dir/hello.txt\"}\r\n--===============3971443301904751820==\r\ncontent-type: text/plain\r\n\r\nhello world\r\n--===============3971443301904751820==--";
        let (meta, ct, media) = parse_multipart(
            "multipart/related; boundary=\"===============3971443301904751820==\"",
            body,
        )
        .unwrap();
        assert_eq!(meta["name"], "dir/hello.txt");
        assert_eq!(ct, "text/plain");
        assert_eq!(media, b"hello world");
    }
}
