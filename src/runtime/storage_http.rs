//! Cloud Storage over HTTP as Google's clients use it (`shared/reference/gcp-api-more.md` §1):
//! the JSON API (`/storage/v1`, `/upload/storage/v1`, `/download/storage/v1`), resumable
//! upload sessions, ranged reads, preconditions on every call, and the XML-API reads that Go
//! clients make (`GET /BUCKET/OBJECT`, how Terraform's `gcs` backend reads its state).

use super::http::{body_as, json, parse_query};
use super::storage::{ObjectQuery, Preconditions};
use super::uploads::{ContentRange, Upload};
use super::{ApiError, ApiResult, Runtime};
use crate::api::Code;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// First path segments that are APIs, not buckets (a bucket name has 3 to 63 characters, so
/// `v1` and `v2` cannot be one).
const API_ROOTS: &[&str] = &[
    "storage",
    "upload",
    "download",
    "batch",
    "resumable",
    "runform",
    "token",
    "apis",
    "computeMetadata",
];

type Query = HashMap<String, String>;

/// A query parameter, with an empty value counted as absent (Go sends `endOffset=`).
fn param<'a>(q: &'a Query, k: &str) -> Option<&'a str> {
    q.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

fn int_param(q: &Query, k: &str) -> ApiResult<Option<u64>> {
    param(q, k)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::new(Code::InvalidArgument, format!("invalid {k} {v:?}")))
        })
        .transpose()
}

/// The preconditions named `{prefix}GenerationMatch` etc. (`if` or `ifSource`).
fn preconditions(q: &Query, prefix: &str) -> ApiResult<Preconditions> {
    Ok(Preconditions {
        generation_match: int_param(q, &format!("{prefix}GenerationMatch"))?,
        generation_not_match: int_param(q, &format!("{prefix}GenerationNotMatch"))?,
        metageneration_match: int_param(q, &format!("{prefix}MetagenerationMatch"))?,
        metageneration_not_match: int_param(q, &format!("{prefix}MetagenerationNotMatch"))?,
    })
}

fn dec(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .to_string()
}

fn header<'a>(h: &'a HeaderMap, k: &str) -> Option<&'a str> {
    h.get(k).and_then(|v| v.to_str().ok())
}

/// The Cloud Storage routes; `None` for a path that is not Cloud Storage's.
pub(super) fn route(
    rt: &Arc<Runtime>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<ApiResult<Response>> {
    let raw = uri.path();
    let q = parse_query(uri.query());
    let (kind, rest) = if let Some(r) = raw.strip_prefix("/storage/v1/") {
        ("json", r)
    } else if let Some(r) = raw.strip_prefix("/upload/storage/v1/") {
        ("upload", r)
    } else if let Some(r) = raw.strip_prefix("/download/storage/v1/") {
        ("download", r)
    } else {
        return xml_read(rt, method, raw, &q, headers);
    };
    let segs: Vec<&str> = rest.split('/').collect();
    Some(match kind {
        "json" => json_api(rt, method, &segs, &q, body, headers),
        "upload" => upload_api(rt, method, &segs, &q, body, headers),
        _ => match (method.as_str(), segs.as_slice()) {
            ("GET", ["b", b, "o", o]) => download(rt, &dec(b), &dec(o), &q, headers, false),
            _ => not_served(method, raw),
        },
    })
}

fn not_served(method: &Method, path: &str) -> ApiResult<Response> {
    Err(ApiError::new(
        Code::NotFound,
        format!("the local runtime does not serve {method} {path}"),
    ))
}

fn no_content() -> Response {
    (StatusCode::NO_CONTENT, "").into_response()
}

fn json_api(
    rt: &Arc<Runtime>,
    method: &Method,
    segs: &[&str],
    q: &Query,
    body: &Bytes,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let project = param(q, "project").unwrap_or("");
    match (method.as_str(), segs) {
        ("POST", ["b"]) => Ok(json(&rt.insert_bucket(project, &body_as::<Value>(body)?)?)),
        ("GET", ["projects", p, "serviceAccount"]) => {
            Ok(json(&super::projects::storage_service_account(&dec(p))))
        }
        ("GET", ["b"]) => Ok(json(&rt.list_buckets(project)?)),
        ("GET", ["b", b]) => Ok(json(&rt.get_bucket(&dec(b))?)),
        ("PATCH", ["b", b]) => Ok(json(&rt.patch_bucket(&dec(b), &body_as::<Value>(body)?)?)),
        ("DELETE", ["b", b]) => {
            rt.delete_bucket(&dec(b))?;
            Ok(no_content())
        }
        ("GET", ["b", b, "o"]) => Ok(json(&rt.query_objects(&dec(b), &object_query(q)?)?)),
        ("GET", ["b", b, "o", o]) => {
            if param(q, "alt") == Some("media") {
                return download(rt, &dec(b), &dec(o), q, headers, false);
            }
            let generation = int_param(q, "generation")?;
            Ok(json(&rt.get_object_checked(
                &dec(b),
                &dec(o),
                generation,
                &preconditions(q, "if")?,
            )?))
        }
        ("PATCH" | "PUT", ["b", b, "o", o]) => Ok(json(&rt.patch_object(
            &dec(b),
            &dec(o),
            &body_as::<Value>(body)?,
            &preconditions(q, "if")?,
        )?)),
        ("DELETE", ["b", b, "o", o]) => {
            rt.delete_object_with(&dec(b), &dec(o), &preconditions(q, "if")?)?;
            Ok(no_content())
        }
        ("POST", ["b", sb, "o", so, verb @ ("copyTo" | "rewriteTo"), "b", db, "o", dobj]) => {
            let obj = rt.copy_object(
                (&dec(sb), &dec(so)),
                int_param(q, "sourceGeneration")?,
                &preconditions(q, "ifSource")?,
                (&dec(db), &dec(dobj)),
                &body_as::<Value>(body)?,
                &preconditions(q, "if")?,
            )?;
            if *verb == "copyTo" {
                return Ok(json(&obj));
            }
            let size = obj["size"].clone();
            Ok(json(&json!({
                "kind": "storage#rewriteResponse",
                "totalBytesRewritten": size, "objectSize": size,
                "done": true, "resource": obj,
            })))
        }
        ("POST", ["b", b, "o", o, "compose"]) => Ok(json(&rt.compose_objects(
            &dec(b),
            &dec(o),
            &body_as::<Value>(body)?,
            &preconditions(q, "if")?,
        )?)),
        _ => not_served(method, &format!("/storage/v1/{}", segs.join("/"))),
    }
}

fn object_query(q: &Query) -> ApiResult<ObjectQuery> {
    let text = |k: &str| param(q, k).unwrap_or("").to_string();
    Ok(ObjectQuery {
        prefix: text("prefix"),
        delimiter: text("delimiter"),
        start_offset: text("startOffset"),
        end_offset: text("endOffset"),
        max_results: int_param(q, "maxResults")?.map(|n| n as usize),
        page_token: text("pageToken"),
        include_trailing_delimiter: param(q, "includeTrailingDelimiter") == Some("true"),
    })
}

fn upload_api(
    rt: &Arc<Runtime>,
    method: &Method,
    segs: &[&str],
    q: &Query,
    body: &Bytes,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let ["b", b, "o"] = segs else {
        return not_served(method, &format!("/upload/storage/v1/{}", segs.join("/")));
    };
    let bucket = dec(b);
    let content_type = header(headers, "content-type").unwrap_or("");
    let pre = preconditions(q, "if")?;
    let session = param(q, "upload_id");
    match (
        method.as_str(),
        param(q, "uploadType").unwrap_or("media"),
        session,
    ) {
        ("POST", "multipart", _) => {
            let (meta, media_ct, data) = super::storage::parse_multipart(content_type, body)
                .map_err(|e| ApiError::new(Code::InvalidArgument, e))?;
            let name = meta["name"]
                .as_str()
                .or(param(q, "name"))
                .unwrap_or_default()
                .to_string();
            let ct = meta["contentType"]
                .as_str()
                .map(str::to_string)
                .unwrap_or(media_ct);
            Ok(json(&rt.put_object_with(
                &bucket,
                &name,
                &ct,
                &data,
                Some(&meta),
                &pre,
            )?))
        }
        ("POST", "media", _) => {
            let name = param(q, "name").unwrap_or_default();
            Ok(json(&rt.put_object_with(
                &bucket,
                name,
                content_type,
                body,
                None,
                &pre,
            )?))
        }
        ("POST", "resumable", None) => {
            let meta: Value = body_as(body)?;
            let name = meta["name"]
                .as_str()
                .or(param(q, "name"))
                .unwrap_or_default();
            let ct = meta["contentType"]
                .as_str()
                .or(header(headers, "x-upload-content-type"))
                .unwrap_or("application/octet-stream");
            let id = rt.start_upload(&bucket, name, ct, &meta, pre)?;
            let base = rt.base_url.get().cloned().unwrap_or_default();
            let enc =
                percent_encoding::utf8_percent_encode(&bucket, percent_encoding::NON_ALPHANUMERIC);
            let location =
                format!("{base}/upload/storage/v1/b/{enc}/o?uploadType=resumable&upload_id={id}");
            Ok((
                StatusCode::OK,
                [("location", location), ("x-guploader-uploadid", id)],
                "",
            )
                .into_response())
        }
        ("PUT" | "POST", "resumable", Some(id)) => {
            // No Content-Range: the whole object in one request.
            let range = match header(headers, "content-range") {
                Some(h) => ContentRange::parse(h).ok_or_else(|| {
                    ApiError::new(
                        Code::InvalidArgument,
                        format!("invalid Content-Range {h:?}"),
                    )
                })?,
                None if body.is_empty() => ContentRange {
                    bytes: None,
                    total: Some(0),
                },
                None => ContentRange {
                    bytes: Some((0, body.len() as u64 - 1)),
                    total: Some(body.len() as u64),
                },
            };
            match rt.upload_chunk(id, range, body)? {
                Upload::Done(obj) => Ok(json(&obj)),
                Upload::Incomplete(stored) => {
                    let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
                    if stored > 0 {
                        if let Ok(v) = format!("bytes=0-{}", stored - 1).parse() {
                            r.headers_mut().insert("range", v);
                        }
                    }
                    Ok(r)
                }
            }
        }
        ("DELETE", "resumable", Some(id)) => {
            rt.cancel_upload(id)?;
            // Google answers a cancelled session with 499 (client closed request).
            Ok(StatusCode::from_u16(499)
                .unwrap_or(StatusCode::NO_CONTENT)
                .into_response())
        }
        (_, other, _) => Err(ApiError::new(
            Code::InvalidArgument,
            format!("uploadType={other} with {method} is not something Cloud Storage takes"),
        )),
    }
}

/// A `Range: bytes=...` header against an object of `size` bytes: the inclusive byte span,
/// or `Err` when it cannot be satisfied (416).
fn byte_range(h: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    // One range only (clients ask for one); a list is answered whole.
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let span = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (n > 0 && size > 0).then(|| (size.saturating_sub(n), size - 1))
        }
        (a, "") => {
            let a: u64 = a.parse().ok()?;
            (a < size).then(|| (a, size - 1))
        }
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b && a < size).then(|| (a, b.min(size - 1)))
        }
    };
    Some(span.ok_or(()))
}

/// An object's bytes, whole (200, with its hashes) or the `Range` asked for (206);
/// `head` leaves the body out.
fn download(
    rt: &Arc<Runtime>,
    bucket: &str,
    name: &str,
    q: &Query,
    headers: &HeaderMap,
    head: bool,
) -> ApiResult<Response> {
    let (obj, data) = rt.read_object(
        bucket,
        name,
        int_param(q, "generation")?,
        &preconditions(q, "if")?,
    )?;
    let size = data.len() as u64;
    let text = |k: &str| obj[k].as_str().unwrap_or("").to_string();
    let mut out_headers: Vec<(&'static str, String)> = vec![
        ("content-type", text("contentType")),
        ("x-goog-generation", text("generation")),
        ("x-goog-metageneration", text("metageneration")),
        ("x-goog-stored-content-length", size.to_string()),
        ("x-goog-stored-content-encoding", "identity".into()),
        ("etag", text("etag")),
        ("accept-ranges", "bytes".into()),
    ];
    let (status, body) = match header(headers, "range").and_then(|h| byte_range(h, size)) {
        Some(Ok((a, b))) => {
            out_headers.push(("content-range", format!("bytes {a}-{b}/{size}")));
            (
                StatusCode::PARTIAL_CONTENT,
                data[a as usize..=b as usize].to_vec(),
            )
        }
        Some(Err(())) => {
            let mut e = ApiError::new(
                Code::OutOfRange,
                format!("The requested range cannot be satisfied (object size {size})"),
            );
            e.body.error.code = 416;
            return Err(e);
        }
        None => {
            let mut hash = format!("crc32c={}", text("crc32c"));
            if obj.get("md5Hash").is_some() {
                hash.push_str(&format!(",md5={}", text("md5Hash")));
            }
            out_headers.push(("x-goog-hash", hash));
            (StatusCode::OK, data)
        }
    };
    let length = body.len();
    let mut r = if head {
        let mut r = status.into_response();
        if let Ok(v) = length.to_string().parse() {
            r.headers_mut().insert("content-length", v);
        }
        r
    } else {
        (status, body).into_response()
    };
    for (k, v) in out_headers {
        if let Ok(v) = v.parse() {
            r.headers_mut().insert(k, v);
        }
    }
    Ok(r)
}

/// `GET`/`HEAD /BUCKET/OBJECT`: the XML API's object read, for a path whose first segment
/// is an existing bucket. The object name is the rest of the path, as sent.
fn xml_read(
    rt: &Arc<Runtime>,
    method: &Method,
    path: &str,
    q: &Query,
    headers: &HeaderMap,
) -> Option<ApiResult<Response>> {
    let bucket = xml_bucket(method.as_str(), path)?;
    let object = &path[bucket.len() + 2..];
    let bucket = dec(bucket);
    rt.get_bucket(&bucket).ok()?;
    Some(download(
        rt,
        &bucket,
        &dec(object),
        q,
        headers,
        *method == Method::HEAD,
    ))
}

/// The bucket of an XML-API read (`GET`/`HEAD /BUCKET/OBJECT`, the first segment not an API
/// root), as sent.
pub(crate) fn xml_bucket<'a>(method: &str, path: &'a str) -> Option<&'a str> {
    if !matches!(method, "GET" | "HEAD") {
        return None;
    }
    let (bucket, object) = path.strip_prefix('/')?.split_once('/')?;
    (bucket.len() >= 3 && !API_ROOTS.contains(&bucket) && !object.is_empty()).then_some(bucket)
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=1-2", 3), Some(Ok((1, 2))));
        assert_eq!(byte_range("bytes=1-", 3), Some(Ok((1, 2))));
        assert_eq!(byte_range("bytes=-2", 3), Some(Ok((1, 2))));
        assert_eq!(byte_range("bytes=0-99", 3), Some(Ok((0, 2))));
        assert_eq!(byte_range("bytes=5-9", 3), Some(Err(())));
        assert_eq!(byte_range("bytes=0-1,2-3", 3), None);
        assert_eq!(byte_range("lines=1-2", 3), None);
    }
}
